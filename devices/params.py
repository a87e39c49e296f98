"""Parameter sets of the device models: frozen dataclasses with units in their field names."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from ._validation import InvalidParameterError, check_int, check_real
from .distributions import TruncatedDistribution

__all__ = ["D2D_FIELDS", "WeakResetParams"]

#: Per-device (D2D) parameters of the weak-RESET model, in the order they are drawn.
D2D_FIELDS = ("m1_per_pulse", "t_star_pulses", "c1", "m2_per_pulse", "r0_ohm", "rtn_amplitude")


@dataclass(frozen=True)
class WeakResetParams:
    """Parameters of the HfOx weak-RESET model (Majumdar et al., IEEE TED 2021).

    The mean resistance after ``t`` weak-RESET pulses is
    :math:`R = R_0 \\exp(w)` with the piecewise-linear

    .. math::

        w(t) = \\begin{cases} m_1 t + c_1 & t < t^* \\\\
                              m_2 t + t^*(m_1 - m_2) + c_1 & t \\ge t^* \\end{cases}

    plus random telegraph noise (RTN) and 1/f (pink) noise. The six device-to-device parameters
    are distributions (:class:`~devices.distributions.TruncatedDistribution`) from which every
    device draws once; the noise constants are shared by all devices. ``ln R`` quantities are
    dimensionless (natural log of a resistance ratio).

    Parameters
    ----------
    m1_per_pulse : TruncatedDistribution
        Slope of ln R per pulse before the knee ``t*`` (1/pulse).
    t_star_pulses : TruncatedDistribution
        Knee position ``t*`` (pulses; real-valued, not rounded).
    c1 : TruncatedDistribution
        Offset of ln(R/R0) of the first segment (dimensionless).
    m2_per_pulse : TruncatedDistribution
        Slope of ln R per pulse after the knee (1/pulse).
    r0_ohm : TruncatedDistribution
        Low-resistance state right after a full SET (ohm).
    rtn_amplitude : TruncatedDistribution
        RTN amplitude ``a`` in ln R; an RTN-high device adds ``U(0, U(0, 1) * a)``.
    rtn_p_up_per_pulse, rtn_p_down_per_pulse : float
        Per-pulse probability that the RTN trap switches 0 -> 1 and 1 -> 0.
    pink_alpha : float
        Amplitude ``alpha`` of the 1/f term ``alpha * sum_k b_k h_k`` (ln R).
    pink_taps : int
        Length of the 1/f sample buffer (Kasdin filter taps), at most 16.
    fit_max_pulses : int
        Largest pulse count covered by the fit; beyond it the model extrapolates with slope m2.
    name, citation : str
        Where the values come from.
    """

    m1_per_pulse: TruncatedDistribution
    t_star_pulses: TruncatedDistribution
    c1: TruncatedDistribution
    m2_per_pulse: TruncatedDistribution
    r0_ohm: TruncatedDistribution
    rtn_amplitude: TruncatedDistribution
    rtn_p_up_per_pulse: float = 8e-4
    rtn_p_down_per_pulse: float = 2e-3
    pink_alpha: float = 0.025
    pink_taps: int = 15
    fit_max_pulses: int = 2000
    name: str = "custom"
    citation: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        owner = "WeakResetParams"
        for name in D2D_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, TruncatedDistribution):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a TruncatedDistribution. "
                    f"Got {value!r} instead."
                )
        if self.r0_ohm.lower < 0 or (self.r0_ohm.lower == -math.inf):
            raise InvalidParameterError(
                f"The 'r0_ohm' parameter of {owner} must be truncated to non-negative values "
                f"(lower >= 0). Got lower={self.r0_ohm.lower!r} instead."
            )
        p_up = check_real("rtn_p_up_per_pulse", self.rtn_p_up_per_pulse, owner, 0.0, 1.0)
        p_down = check_real("rtn_p_down_per_pulse", self.rtn_p_down_per_pulse, owner, 0.0, 1.0)
        if p_up + p_down > 1.0:
            raise InvalidParameterError(
                f"The 'rtn_p_up_per_pulse' and 'rtn_p_down_per_pulse' parameters of {owner} must "
                f"sum to at most 1. Got {p_up!r} + {p_down!r} instead."
            )
        check_real("pink_alpha", self.pink_alpha, owner, 0.0)
        check_int("pink_taps", self.pink_taps, owner, 1, 16)
        check_int("fit_max_pulses", self.fit_max_pulses, owner, 1)

    def medians(self) -> dict[str, float]:
        """Median of every D2D distribution: the parameters of the "no D2D" population."""
        return {name: getattr(self, name).median() for name in D2D_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see :func:`devices.presets.to_json`)."""
        out: dict[str, Any] = {"parameters": {}, "constants": {}}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in D2D_FIELDS:
                out["parameters"][f.name] = value.to_dict()
            elif f.name in ("name", "citation"):
                out[f.name] = value
            else:
                out["constants"][f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "parameters") -> WeakResetParams:
        """Inverse of :meth:`to_dict`."""
        params = data.get("parameters")
        if not isinstance(params, dict):
            raise InvalidParameterError(f"{where}: missing the 'parameters' object.")
        missing = [n for n in D2D_FIELDS if n not in params]
        if missing:
            raise InvalidParameterError(f"{where}: missing parameters {missing}.")
        kwargs: dict[str, Any] = {
            n: TruncatedDistribution.from_dict(params[n], f"{where}.parameters.{n}")
            for n in D2D_FIELDS
        }
        constants = dict(data.get("constants", {}))
        known = {f.name for f in fields(cls)} - set(D2D_FIELDS) - {"name", "citation"}
        unknown = set(constants) - known
        if unknown:
            raise InvalidParameterError(
                f"{where}.constants has unknown keys {sorted(unknown)}; allowed: {sorted(known)}."
            )
        kwargs.update(constants)
        for key in ("name", "citation"):
            if key in data:
                kwargs[key] = str(data[key])
        return cls(**kwargs)
