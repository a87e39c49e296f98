"""Parameter sets of the device models: frozen dataclasses with units in their field names."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, fields
from typing import Any

from ._validation import InvalidParameterError, check_int, check_real
from .distributions import TruncatedDistribution

__all__ = [
    "D2D_FIELDS",
    "MultiLevelParams",
    "PulseResponseParams",
    "STTMRAMParams",
    "WeakResetParams",
    "WearOutParams",
]

#: Per-device (D2D) parameters of the weak-RESET model, in the order they are drawn.
D2D_FIELDS = ("m1_per_pulse", "t_star_pulses", "c1", "m2_per_pulse", "r0_ohm", "rtn_amplitude")


def _check_distribution(owner: str, name: str, value: object, non_negative: bool) -> None:
    if not isinstance(value, TruncatedDistribution):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be a TruncatedDistribution. "
            f"Got {value!r} instead."
        )
    if non_negative and not value.ppf(0.0) >= 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must only take non-negative values. "
            f"Got a distribution reaching {float(value.ppf(0.0))!r} instead."
        )


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
    hrs_ohm : float
        Resistance of a device worn out stuck at its HRS (ohm) [INFERRED; used only with
        wear-out].
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
    hrs_ohm: float = 1e5
    name: str = "custom"
    citation: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        owner = "WeakResetParams"
        check_real("hrs_ohm", self.hrs_ohm, owner, 0.0, low_open=True)
        for name in D2D_FIELDS:
            _check_distribution(owner, name, getattr(self, name), name == "r0_ohm")
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


def _check_positive(owner: str, **values: float) -> None:
    for name, value in values.items():
        check_real(name, value, owner, 0.0, low_open=True)


def _check_probability(owner: str, **values: float) -> None:
    for name, value in values.items():
        check_real(name, value, owner, 0.0, 1.0)


def _check_increasing(owner: str, name: str, points: tuple[float, ...]) -> None:
    arr = tuple(points)
    if (
        len(arr) < 2
        or any(not math.isfinite(x) or x < 0 for x in arr)
        or any(b <= a for a, b in itertools.pairwise(arr))
    ):
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be at least two finite, non-negative, "
            f"strictly increasing values. Got {points!r} instead."
        )


@dataclass(frozen=True)
class WearOutParams:
    """Endurance wear-out shared by the device models (docs/devices.md, an inferred model).

    Every device draws an endurance limit ``N_end`` (writes) once; the write that takes its write
    counter past ``N_end`` leaves it stuck: at its LRS with probability ``stuck_lrs_probability``,
    else at its HRS. Default: log-normal with median 1e6 writes and ``sigma_ln = 1`` — an
    assumption consistent with 1e6 cycles reported for CEA-Leti HfOx 1T1R OxRAM (Frontiers
    Nanotechnol. 2025, doi 10.3389/fnano.2025.1549547) and the typical 1e5-1e9 of HfO2 RRAM.

    Parameters
    ----------
    limit_writes : TruncatedDistribution
        Distribution of the per-device endurance limit (writes).
    stuck_lrs_probability : float
        Probability that a worn-out device is stuck at its LRS (else at its HRS).
    """

    limit_writes: TruncatedDistribution = field(
        default_factory=lambda: TruncatedDistribution("lognorm", 0.0, 1e6, 1.0, 1.0)
    )
    stuck_lrs_probability: float = 0.5

    def __post_init__(self) -> None:
        owner = "WearOutParams"
        _check_distribution(owner, "limit_writes", self.limit_writes, non_negative=True)
        _check_probability(owner, stuck_lrs_probability=self.stuck_lrs_probability)


@dataclass(frozen=True)
class MultiLevelParams:
    """Multi-level programming of 130 nm HfO2 1T1R cells (CEA-Leti; docs/devices.md).

    One SET draws ``G ~ N(mu, sigma_prog(mu))`` truncated to
    ``[prog_low_fraction * g_min, prog_high_fraction * g_max]``, where ``mu`` is the mean
    conductance at the SET's compliance current (``icc_points_ua`` -> ``g_points_s``, linear
    interpolation) times the device's D2D factor, and
    ``sigma_prog(G) = sigma_prog_s * (G / g_max)^(-1/2)`` (relative spread falling with G,
    Poisson-like defect count; Bonnet et al., Nat. Commun. 14:7530, 2023). The compliance current
    is set by the word-line voltage (``wl_points_v`` -> ``icc_for_wl_points_ua``). After
    programming the conductance relaxes: ``G(t) = G_prog + z * sigma_rel(G_prog, t)`` with a
    per-programming ``z ~ N(0, 1)``, ``sigma_rel(G, t) = sigma_relax_s * (G / g_max)^(-1/2) *
    max(0, 1 + relax_log_growth * log10(t / relax_reference_s))`` (spread grows with log time, low
    levels relax most; Esmanhotto et al., IEDM 2020). Every read multiplies by
    ``1 + N(0, read_noise_rel)``.

    Values marked [INFERRED] in docs/devices.md are calibrated so that 8 linear levels in 20-120 uS
    reach BER < 1e-3 after 60 s, as the CEA-Leti multi-level chips do.

    Parameters
    ----------
    g_min_s, g_max_s : float
        Programming window: lowest and highest level (siemens).
    g_hrs_s : float
        Conductance after a RESET (siemens) [INFERRED].
    g_stuck_low_s, g_stuck_high_s : float
        Conductance of a cell stuck at its HRS / LRS (siemens) [INFERRED].
    sigma_prog_s : float
        Programming spread at ``g_max`` (siemens), ``sigma_0`` of docs/devices.md.
    prog_low_fraction, prog_high_fraction : float
        Truncation of one SET's conductance, as fractions of ``g_min`` and ``g_max``.
    d2d_window_rel : float
        Relative D2D spread of each device's conductance for a given compliance current
        (the device's factor is ``1 + N(0, d2d_window_rel)``) [INFERRED].
    verify_tolerance_s : float
        Program-and-verify accepts a verify read within ``± verify_tolerance_s`` of the target.
    max_iterations : int
        Maximum RESET + SET + verify iterations per programming.
    sigma_relax_s, relax_reference_s, relax_log_growth : float
        Relaxation spread at ``g_max`` after ``relax_reference_s`` seconds, and its growth per
        decade of time.
    read_noise_rel : float
        Relative standard deviation of a read.
    stuck_fraction, stuck_low_probability : float
        Fraction of cells with a stuck-at fault from fabrication, and the share stuck at HRS.
    icc_points_ua, g_points_s : tuple of float
        Compliance current (uA) -> mean conductance (S) after SET [INFERRED: G = I_cc / 0.45 V].
    wl_points_v, icc_for_wl_points_ua : tuple of float
        Word-line voltage (V) -> compliance current (uA); SET uses V_WL in [1.4, 2.2] V (Bonnet
        2023 Methods); the currents are [INFERRED].
    """

    g_min_s: float = 20e-6
    g_max_s: float = 120e-6
    g_hrs_s: float = 2e-6
    g_stuck_low_s: float = 1e-6
    g_stuck_high_s: float = 150e-6
    sigma_prog_s: float = 4e-6
    prog_low_fraction: float = 0.5
    prog_high_fraction: float = 1.2
    d2d_window_rel: float = 0.02
    verify_tolerance_s: float = 2e-6
    max_iterations: int = 50
    sigma_relax_s: float = 0.6e-6
    relax_reference_s: float = 60.0
    relax_log_growth: float = 0.1
    read_noise_rel: float = 0.01
    stuck_fraction: float = 0.0
    stuck_low_probability: float = 0.5
    icc_points_ua: tuple[float, ...] = (9.0, 54.0)
    g_points_s: tuple[float, ...] = (20e-6, 120e-6)
    wl_points_v: tuple[float, ...] = (1.4, 2.2)
    icc_for_wl_points_ua: tuple[float, ...] = (9.0, 54.0)
    name: str = "custom"
    citation: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        owner = "MultiLevelParams"
        _check_positive(
            owner,
            g_min_s=self.g_min_s,
            g_max_s=self.g_max_s,
            g_hrs_s=self.g_hrs_s,
            g_stuck_low_s=self.g_stuck_low_s,
            g_stuck_high_s=self.g_stuck_high_s,
            verify_tolerance_s=self.verify_tolerance_s,
            relax_reference_s=self.relax_reference_s,
            prog_low_fraction=self.prog_low_fraction,
            prog_high_fraction=self.prog_high_fraction,
        )
        if not self.g_min_s < self.g_max_s:
            raise InvalidParameterError(
                f"The 'g_min_s' and 'g_max_s' parameters of {owner} must satisfy g_min_s < "
                f"g_max_s. Got g_min_s={self.g_min_s!r}, g_max_s={self.g_max_s!r} instead."
            )
        if not self.prog_low_fraction * self.g_min_s < self.prog_high_fraction * self.g_max_s:
            raise InvalidParameterError(
                f"The truncation of {owner} must be a non-empty interval; got "
                f"[{self.prog_low_fraction * self.g_min_s!r}, "
                f"{self.prog_high_fraction * self.g_max_s!r}]."
            )
        for name in ("sigma_prog_s", "sigma_relax_s", "read_noise_rel", "d2d_window_rel",
                     "relax_log_growth"):  # fmt: skip
            check_real(name, getattr(self, name), owner, 0.0)
        check_real("read_noise_rel", self.read_noise_rel, owner, 0.0, 0.5)
        check_real("d2d_window_rel", self.d2d_window_rel, owner, 0.0, 0.5)
        _check_probability(
            owner,
            stuck_fraction=self.stuck_fraction,
            stuck_low_probability=self.stuck_low_probability,
        )
        check_int("max_iterations", self.max_iterations, owner, 1, 65535)
        for name in ("icc_points_ua", "g_points_s", "wl_points_v", "icc_for_wl_points_ua"):
            _check_increasing(owner, name, getattr(self, name))
            object.__setattr__(self, name, tuple(float(x) for x in getattr(self, name)))
        for a, b in (("icc_points_ua", "g_points_s"), ("wl_points_v", "icc_for_wl_points_ua")):
            if len(getattr(self, a)) != len(getattr(self, b)):
                raise InvalidParameterError(
                    f"The {a!r} and {b!r} parameters of {owner} must have the same length. Got "
                    f"{len(getattr(self, a))} and {len(getattr(self, b))} instead."
                )


@dataclass(frozen=True)
class STTMRAMParams:
    """Binary spin-transfer-torque MRAM write errors (docs/devices.md; standard macrospin model).

    Write error rate of a pulse of current ``I`` and duration ``t_p``:

    .. math::

        \\mathrm{WER} = 1 - \\exp\\Big(-\\frac{\\pi^2\\Delta}{4}
            \\exp\\big(-2 (I/I_{c0} - 1)\\, t_p/\\tau_D\\big)\\Big)   \\quad (I > I_{c0},
            \\text{ precessional})

        \\mathrm{WER} = \\exp(-t_p/\\tau), \\quad \\tau = \\tau_0 \\exp\\big(\\Delta (1 - I/I_{c0})\\big)
            \\quad (I \\le I_{c0}, \\text{ thermal})

    and energy per write ``E = V I t_p``. The model is the textbook one [unverified: not read from
    Hirtzlin et al. 2019], with the defaults of docs/devices.md.

    Parameters
    ----------
    thermal_stability : float
        Thermal stability factor Delta.
    critical_current_ua : float
        Critical switching current I_c0 (uA).
    precession_time_ns : float
        Characteristic precession time tau_D (ns).
    attempt_time_ns : float
        Thermal attempt time tau_0 (ns).
    write_voltage_v : float
        Voltage across the cell during a write (V).
    """

    thermal_stability: float = 60.0
    critical_current_ua: float = 50.0
    precession_time_ns: float = 1.0
    attempt_time_ns: float = 1.0
    write_voltage_v: float = 0.5
    name: str = "custom"
    citation: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_positive(
            "STTMRAMParams",
            thermal_stability=self.thermal_stability,
            critical_current_ua=self.critical_current_ua,
            precession_time_ns=self.precession_time_ns,
            attempt_time_ns=self.attempt_time_ns,
            write_voltage_v=self.write_voltage_v,
        )


@dataclass(frozen=True)
class PulseResponseParams:
    """A device driven by identical pulses, from a pulse-response fit (``calibration``).

    Each potentiation pulse changes the conductance by
    ``dG = (g_inf_pot_s - G) (1 - exp(-1 / n0_pot_pulses)) + N(0, sd_pot(G))`` and each depression
    pulse likewise with the ``dep`` parameters; ``sd(G) = max(intercept + slope G, 0)``. The
    conductance stays in ``[g_min_s, g_max_s]``. ``n0 < 0`` describes accelerating ramps.

    Parameters
    ----------
    g_inf_pot_s, n0_pot_pulses, g_inf_dep_s, n0_dep_pulses : float
        Asymptotes (S) and pulse constants of the two directions (``n0`` non-zero).
    noise_intercept_pot_s, noise_slope_pot, noise_intercept_dep_s, noise_slope_dep : float
        Cycle-to-cycle noise law of each direction.
    g_min_s, g_max_s : float
        Conductance range (S) the device stays in (the measured range).
    """

    g_inf_pot_s: float
    n0_pot_pulses: float
    g_inf_dep_s: float
    n0_dep_pulses: float
    noise_intercept_pot_s: float = 0.0
    noise_slope_pot: float = 0.0
    noise_intercept_dep_s: float = 0.0
    noise_slope_dep: float = 0.0
    g_min_s: float = 0.0
    g_max_s: float = 1.0
    name: str = "custom"
    citation: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        owner = "PulseResponseParams"
        for name in ("g_inf_pot_s", "n0_pot_pulses", "g_inf_dep_s", "n0_dep_pulses",
                     "noise_intercept_pot_s", "noise_slope_pot", "noise_intercept_dep_s",
                     "noise_slope_dep", "g_min_s", "g_max_s"):  # fmt: skip
            check_real(name, getattr(self, name), owner)
        for name in ("n0_pot_pulses", "n0_dep_pulses"):
            if getattr(self, name) == 0:
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be non-zero. Got 0 instead."
                )
        if not 0 <= self.g_min_s < self.g_max_s:
            raise InvalidParameterError(
                f"The 'g_min_s' and 'g_max_s' parameters of {owner} must satisfy "
                f"0 <= g_min_s < g_max_s. Got {self.g_min_s!r}, {self.g_max_s!r} instead."
            )

    @classmethod
    def from_fit_dict(
        cls, doc: dict[str, Any], where: str = "parameter file"
    ) -> PulseResponseParams:
        """From the JSON of ``crossbar fit pulse-response`` (``"model": "pulse-response"``)."""
        try:
            pot, dep = doc["directions"]["potentiation"], doc["directions"]["depression"]
            # the ramps start at the two ends of the measured range
            lo, hi = sorted((pot["g0_s"], dep["g0_s"]))
            return cls(
                g_inf_pot_s=pot["g_inf_s"], n0_pot_pulses=pot["n0_pulses"],
                g_inf_dep_s=dep["g_inf_s"], n0_dep_pulses=dep["n0_pulses"],
                noise_intercept_pot_s=pot["noise_intercept_s"], noise_slope_pot=pot["noise_slope"],
                noise_intercept_dep_s=dep["noise_intercept_s"], noise_slope_dep=dep["noise_slope"],
                g_min_s=max(lo, 0.0), g_max_s=hi,
                name=str(doc.get("name", "pulse-response fit")),
                citation=str(doc.get("source", "")),
            )  # fmt: skip
        except KeyError as exc:
            raise InvalidParameterError(
                f"{where}: a pulse-response file needs both directions; missing {exc}."
            ) from None
