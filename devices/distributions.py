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

from ._special import erfcx, log_ndtr, ndtr, ndtri
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
    # The normal and log-normal work on the standard normal variable z of the window [za, zb]; a
    # window above the median is handled with survival functions (S(z) = Phi(-z)), so that a
    # window deep in the upper tail keeps full relative precision — with CDFs, Phi(7) = 1 - 1e-12
    # leaves ~1e4 distinct doubles for the whole window. The exponential is memoryless: its
    # window is shifted to start at 0.
    def _z(self, x: Any) -> np.ndarray:
        """Standard variable of the base family (normal / log-normal: N(0, 1); expon: Exp(1))."""
        x = np.asarray(x, dtype=np.float64)
        z = (x - self.loc) / self.scale
        if self.family == "lognorm":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(z > 0, np.log(np.where(z > 0, z, 1.0)) / self.shape, -np.inf)
        if self.family == "expon":
            return np.maximum(z, 0.0)
        return z

    def _from_z(self, z: np.ndarray) -> np.ndarray:
        if self.family == "lognorm":
            return self.loc + self.scale * np.exp(self.shape * z)
        return self.loc + self.scale * z

    def _window(self) -> tuple[float, float]:
        za, zb = (float(v) for v in self._z([self.lower, self.upper]))
        return za, zb

    def _uniform_window(self) -> tuple[float, float]:
        return max(self.lower, self.loc), min(self.upper, self.loc + self.scale)

    def _mass(self) -> float:
        if self.family == "uniform":
            a, b = self._uniform_window()
            return max(b - a, 0.0) / self.scale
        za, zb = self._window()
        if self.family == "expon":
            return 1.0 if zb > za else 0.0  # any positive width holds mass (it may underflow)
        if za >= 0.0:
            return float(ndtr(-za)) - float(ndtr(-zb))
        return float(ndtr(zb)) - float(ndtr(za))

    def cdf(self, x: Any) -> np.ndarray:
        """CDF of the truncated distribution."""
        if self.family == "uniform":
            a, b = self._uniform_window()
            return np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)
        za, zb = self._window()
        z = np.clip(self._z(x), za, zb)
        if self.family == "expon":
            with np.errstate(invalid="ignore"):
                out = np.expm1(-(z - za)) / np.expm1(-(zb - za))
        elif za >= 0.0:
            sa, sb = float(ndtr(-za)), float(ndtr(-zb))
            out = (sa - ndtr(-z)) / (sa - sb)
        else:
            ca, cb = float(ndtr(za)), float(ndtr(zb))
            out = (ndtr(z) - ca) / (cb - ca)
        return np.clip(out, 0.0, 1.0)

    def ppf(self, q: Any) -> np.ndarray:
        """Quantile function of the truncated distribution, ``q`` in [0, 1].

        Exact to rounding anywhere in the support: deep-tail windows are inverted through
        survival functions (normal, log-normal) or the memoryless form (exponential).
        """
        q = np.asarray(q, dtype=np.float64)
        if self.family == "uniform":
            a, b = self._uniform_window()
            return np.clip(a + q * (b - a), self.lower, self.upper)
        za, zb = self._window()
        if self.family == "expon":
            # z = za - log(1 - q (1 - e^-(zb - za))): no cancellation, any za
            with np.errstate(divide="ignore"):  # q = 1 on an infinite window: z = inf
                z = za - np.log1p(q * np.expm1(-(zb - za)))
        elif za >= 0.0:
            sa, sb = float(ndtr(-za)), float(ndtr(-zb))
            z = -ndtri(sa - q * (sa - sb))
        else:
            ca, cb = float(ndtr(za)), float(ndtr(zb))
            z = ndtri(ca + q * (cb - ca))
        return np.clip(self._from_z(np.clip(z, za, zb)), self.lower, self.upper)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``size`` values by inverse-CDF sampling with one uniform from ``rng`` per value."""
        return self.ppf(rng.random(size))

    def median(self) -> float:
        """Median of the truncated distribution."""
        return float(self.ppf(0.5))

    def mean(self) -> float:
        """Mean of the truncated distribution: closed forms, evaluated so that they neither lose
        precision nor overflow in the tails (Mills ratios through ``erfcx``, logarithms of
        probability differences for the log-normal); always inside ``[lower, upper]``."""
        if self.family == "uniform":
            a, b = self._uniform_window()
            return 0.5 * (a + b)
        za, zb = self._window()
        if self.family == "expon":
            w = zb - za  # E[z] = za + 1 - w / (e^w - 1) for Exp(1) on [za, zb]
            tail = 0.0 if math.isinf(w) else (w / math.expm1(w) if w < 700 else 0.0)
            z_mean = za + 1.0 - tail
            value = self.loc + self.scale * z_mean
        elif self.family == "norm":
            if _narrow(za, zb):
                value = self.loc + self.scale * (za + _narrow_moment(za, zb, 0.0))
            else:
                value = self.loc + self.scale * _normal_window_mean(za, zb)
        else:
            value = self._lognormal_mean(za, zb)
        return float(min(max(value, self.lower), self.upper))

    def _lognormal_mean(self, za: float, zb: float) -> float:
        # E[e^{s z}] on [za, zb] = e^{s^2/2} (Phi(zb - s) - Phi(za - s)) / (Phi(zb) - Phi(za)).
        # In a tail, both differences are written with Mills ratios R (S(z) = phi(z) R(z)) and
        # e^{s^2/2} phi(za - s) / phi(za) = e^{s za} = (lower - loc) / scale: no logarithms or
        # exponentials of large arguments, so the mean keeps its last digits (log form: ~1e-13).
        s = float(self.shape)  # type: ignore[arg-type]  # set for lognorm by __post_init__
        if _narrow(za, zb) and s * (zb - za) <= 10.0:
            return self.loc + (self.lower - self.loc) * _narrow_moment(za, zb, s)
        if za >= 0.0 and za - s > -5.0:
            ratio = _mills_window(za - s, zb - s) / _mills_window(za, zb)
            return self.lower + (self.lower - self.loc) * (ratio - 1.0)
        if zb <= 0.0 and zb - s <= 0.0:  # mirror: Phi(b) - Phi(a) = S(-b) - S(-a)
            ratio = _mills_window(s - zb, s - za) / _mills_window(-zb, -za)
            return self.upper + (self.upper - self.loc) * (ratio - 1.0)
        log_m = 0.5 * s * s + _log_window(za - s, zb - s) - _log_window(za, zb)
        return self.loc + self.scale * math.exp(log_m) if log_m < 709.0 else math.inf

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


_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def _mills(z: float) -> float:
    """Mills ratio S(z) / phi(z) of the standard normal, to full precision for any z >= 0."""
    return _SQRT_HALF_PI * float(erfcx(z / math.sqrt(2.0)))


# 32-point Gauss-Legendre rule on [0, 1]: exact to rounding for the smooth integrands of a narrow
# window (where the closed forms cancel: their two terms agree to many digits)
_GL_T, _GL_W = np.polynomial.legendre.leggauss(32)
_GL_T, _GL_W = 0.5 * (_GL_T + 1.0), 0.5 * _GL_W


def _narrow(za: float, zb: float) -> bool:
    """The normal density varies by less than a factor e^1.5 over the window."""
    width = zb - za
    return math.isfinite(width) and width * (abs(za) + width) <= 1.0


def _narrow_moment(za: float, zb: float, s: float) -> float:
    """For z ~ N(0, 1) on a narrow [za, zb] and t = z - za: E[t] (s = 0) or E[e^{s t}] (s > 0).

    The density of t is proportional to phi(za + t) / phi(za) = exp(-za t - t^2 / 2).
    """
    t = (zb - za) * _GL_T
    weight = _GL_W * np.exp(-za * t - 0.5 * t * t)
    moment = t if s == 0.0 else np.exp(s * t)
    return float(np.dot(weight, moment) / weight.sum())


def _mills_window(za: float, zb: float) -> float:
    """(S(za) - S(zb)) / phi(za) = R(za) - R(zb) phi(zb) / phi(za), R the Mills ratio."""
    if math.isinf(zb):
        return _mills(za)
    return _mills(za) - math.exp(-0.5 * (zb - za) * (zb + za)) * _mills(zb)


def _normal_window_mean(za: float, zb: float) -> float:
    """E[z | za <= z <= zb] for z ~ N(0, 1)."""
    if zb <= 0.0:  # the lower tail is the mirror of the upper
        return -_normal_window_mean(-zb, -za)
    if za >= 0.0:
        # (phi(a) - phi(b)) / (S(a) - S(b)) divided through by phi(a): no underflow
        if math.isinf(zb):
            return 1.0 / _mills(za)
        return -math.expm1(-0.5 * (zb - za) * (zb + za)) / _mills_window(za, zb)

    def pdf(z: float) -> float:
        return 0.0 if math.isinf(z) else math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    return (pdf(za) - pdf(zb)) / (float(ndtr(zb)) - float(ndtr(za)))


def _log_window(za: float, zb: float) -> float:
    """ln(Phi(zb) - Phi(za)), stable in either tail."""
    if za >= 0.0:  # ln(S(a) - S(b)) = ln S(a) + ln(1 - S(b)/S(a))
        la, lb = float(log_ndtr(-za)), float(log_ndtr(-zb))
        return la + math.log1p(-math.exp(lb - la)) if lb < la else -math.inf
    if zb <= 0.0:
        la, lb = float(log_ndtr(za)), float(log_ndtr(zb))
        return lb + math.log1p(-math.exp(la - lb)) if la < lb else -math.inf
    return math.log(float(ndtr(zb)) - float(ndtr(za)))
