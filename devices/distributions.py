"""Truncated one-dimensional distributions, sampled by inverse CDF.

Device-to-device (D2D) parameters of the device models are drawn once per device from a base
distribution (scipy's parametrisation: ``loc``, ``scale`` and, for the log-normal, the shape ``s``)
truncated to ``[lower, upper]``:

.. math:: u \\sim \\mathcal U\\big(F(\\mathrm{lower}), F(\\mathrm{upper})\\big), \\qquad x = F^{-1}(u)

which is exact for any truncation and costs one uniform per draw (Majumdar et al., IEEE TED 2021,
released code ``MLP/utils.py``). Only numpy and numba are used (see :mod:`devices._special`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._special import ndtr, ndtri
from ._validation import InvalidParameterError, check_choice

__all__ = ["FAMILIES", "TruncatedDistribution"]

#: Supported base families, with scipy.stats names and parametrisations.
FAMILIES = ("expon", "lognorm", "norm", "uniform")


@dataclass(frozen=True)
class TruncatedDistribution:
    """A scipy-parametrised distribution truncated to ``[lower, upper]``.

    Parameters
    ----------
    family : {"expon", "lognorm", "norm", "uniform"}
        Base family, parametrised as in :mod:`scipy.stats`.
    loc : float
        Location (``expon``: start; ``lognorm``: shift; ``norm``: mean; ``uniform``: left end).
    scale : float
        Scale, > 0 (``expon``: mean excess; ``lognorm``: ``exp(mu)``; ``norm``: sigma;
        ``uniform``: width).
    shape : float, optional
        Log-normal shape ``s`` (sigma of the logarithm); required for ``lognorm`` only.
    lower, upper : float
        Truncation bounds; ``-inf``/``inf`` mean no truncation.
    """

    family: str
    loc: float
    scale: float
    shape: float | None = None
    lower: float = -math.inf
    upper: float = math.inf

    def __post_init__(self) -> None:
        owner = "TruncatedDistribution"
        check_choice("family", self.family, FAMILIES, owner)
        for name in ("loc", "scale", "lower", "upper"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.floating, np.integer)
            ):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {owner} must be a real number. Got {value!r} instead."
                )
            object.__setattr__(self, name, float(value))
        if not (math.isfinite(self.loc) and math.isfinite(self.scale) and self.scale > 0):
            raise InvalidParameterError(
                f"The 'loc' and 'scale' parameters of {owner} must be finite with scale > 0. "
                f"Got loc={self.loc!r}, scale={self.scale!r} instead."
            )
        if self.family == "lognorm":
            if self.shape is None or not (math.isfinite(self.shape) and self.shape > 0):
                raise InvalidParameterError(
                    f"The 'shape' parameter of {owner} must be a finite real > 0 for family "
                    f"'lognorm'. Got {self.shape!r} instead."
                )
            object.__setattr__(self, "shape", float(self.shape))
        elif self.shape is not None:
            raise InvalidParameterError(
                f"The 'shape' parameter of {owner} must be None for family {self.family!r}. "
                f"Got {self.shape!r} instead."
            )
        if math.isnan(self.lower) or math.isnan(self.upper) or not self.lower < self.upper:
            raise InvalidParameterError(
                f"The 'lower' and 'upper' parameters of {owner} must satisfy lower < upper. "
                f"Got lower={self.lower!r}, upper={self.upper!r} instead."
            )
        if not self._mass() > 0:
            raise InvalidParameterError(
                f"The truncation [{self.lower!r}, {self.upper!r}] of {owner} holds no probability "
                f"mass of the {self.family} base distribution."
            )

    # -- base (untruncated) distribution -----------------------------------------------------
    def base_cdf(self, x: Any) -> np.ndarray:
        """CDF of the untruncated base distribution."""
        x = np.asarray(x, dtype=np.float64)
        z = (x - self.loc) / self.scale
        if self.family == "expon":
            return np.where(z > 0, -np.expm1(-np.maximum(z, 0.0)), 0.0)
        if self.family == "uniform":
            return np.clip(z, 0.0, 1.0)
        if self.family == "norm":
            return ndtr(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            logz = np.log(np.where(z > 0, z, 1.0)) / self.shape
        return np.where(z > 0, ndtr(logz), 0.0)

    def base_ppf(self, u: Any) -> np.ndarray:
        """Quantile function (inverse CDF) of the untruncated base distribution."""
        u = np.asarray(u, dtype=np.float64)
        if self.family == "expon":
            with np.errstate(divide="ignore"):  # u = 1 maps to +inf, as it should
                return self.loc - self.scale * np.log1p(-u)
        if self.family == "uniform":
            return self.loc + self.scale * u
        if self.family == "norm":
            return self.loc + self.scale * ndtri(u)
        return self.loc + self.scale * np.exp(self.shape * ndtri(u))

    # -- truncated distribution ----------------------------------------------------------------
    def _bounds_cdf(self) -> tuple[float, float]:
        return float(self.base_cdf(self.lower)), float(self.base_cdf(self.upper))

    def _mass(self) -> float:
        lo, hi = self._bounds_cdf()
        return hi - lo

    def cdf(self, x: Any) -> np.ndarray:
        """CDF of the truncated distribution."""
        lo, hi = self._bounds_cdf()
        return np.clip((self.base_cdf(x) - lo) / (hi - lo), 0.0, 1.0)

    def ppf(self, q: Any) -> np.ndarray:
        """Quantile function of the truncated distribution, ``q`` in [0, 1]."""
        lo, hi = self._bounds_cdf()
        x = self.base_ppf(lo + np.asarray(q, dtype=np.float64) * (hi - lo))
        return np.clip(x, self.lower, self.upper)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``size`` values by inverse-CDF sampling with one uniform from ``rng`` per value."""
        return self.ppf(rng.random(size))

    def median(self) -> float:
        """Median of the truncated distribution."""
        return float(self.ppf(0.5))

    def mean(self) -> float:
        """Mean of the truncated distribution (closed forms)."""
        lo, hi = self._bounds_cdf()
        mass = hi - lo
        if self.family == "uniform":
            a = max(self.lower, self.loc)
            b = min(self.upper, self.loc + self.scale)
            return 0.5 * (a + b)
        if self.family == "norm":
            a = (self.lower - self.loc) / self.scale
            b = (self.upper - self.loc) / self.scale

            def pdf(z: float) -> float:
                return 0.0 if math.isinf(z) else math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

            return self.loc + self.scale * (pdf(a) - pdf(b)) / mass
        if self.family == "expon":
            a = max(self.lower - self.loc, 0.0) / self.scale
            b = (self.upper - self.loc) / self.scale
            ea = math.exp(-a)
            eb = 0.0 if math.isinf(b) else math.exp(-b)
            tail = a * ea - (0.0 if math.isinf(b) else b * eb)
            return self.loc + self.scale * (1.0 + tail / (ea - eb))
        s = float(self.shape)  # type: ignore[arg-type]  # set for lognorm by __post_init__
        za = (
            -math.inf
            if self.lower <= self.loc
            else math.log((self.lower - self.loc) / self.scale) / s
        )
        zb = (
            math.inf
            if math.isinf(self.upper)
            else math.log((self.upper - self.loc) / self.scale) / s
        )
        num = float(ndtr(zb - s)) - float(ndtr(za - s))
        return self.loc + self.scale * math.exp(0.5 * s * s) * num / mass

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: family, scipy parameters, truncation, median and mean."""
        params: dict[str, float] = {"loc": self.loc, "scale": self.scale}
        if self.shape is not None:
            params = {"s": self.shape, **params}
        return {
            "family": self.family,
            "params": params,
            "lower": _json_float(self.lower),
            "upper": _json_float(self.upper),
            "median": self.median(),
            "mean": self.mean(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "distribution") -> TruncatedDistribution:
        """Inverse of :meth:`to_dict` (``median`` and ``mean`` are derived, not read)."""
        if not isinstance(data, dict) or "family" not in data or "params" not in data:
            raise InvalidParameterError(
                f"{where} must be an object with 'family' and 'params'. Got {data!r} instead."
            )
        params = dict(data["params"])
        allowed = {"loc", "scale", "s"}
        unknown = set(params) - allowed
        if unknown:
            raise InvalidParameterError(
                f"{where}.params has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}."
            )
        try:
            return cls(
                family=data["family"],
                loc=params.get("loc", 0.0),
                scale=params.get("scale", 1.0),
                shape=params.get("s"),
                lower=_from_json_float(data.get("lower", "-inf")),
                upper=_from_json_float(data.get("upper", "inf")),
            )
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{where}: {exc}") from None


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _from_json_float(x: Any) -> float:
    if isinstance(x, str) and x in ("inf", "-inf"):
        return float(x)
    return x
