"""Distributions of device-to-device parameters: truncated maximum likelihood, AIC family
choice, and the bootstrap over devices behind every interval of a fit.

A parameter's per-device estimates get the family — normal, log-normal or exponential — with the
lowest AIC, fitted by maximum likelihood of the distribution *truncated to the range of the
estimates* (the form :class:`devices.TruncatedDistribution` samples), by Nelder-Mead from the
moment estimates. The log-likelihoods are written out in numpy with log-space normalizers
(``ln(Phi(b) - Phi(a))`` through ``log_ndtr``), so a window far in a tail neither underflows nor
loses digits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr

from devices import InvalidParameterError, TruncatedDistribution

__all__ = ["CONFIDENCE", "FAMILIES", "fit_truncated", "interval"]

#: Confidence of every bootstrap interval of the fits.
CONFIDENCE = 0.9

#: Candidate families, in the order ties are broken.
FAMILIES = ("norm", "lognorm", "expon")
_LOG_2PI = math.log(2.0 * math.pi)


def _log_window(a: float, b: float) -> float:
    """ln(Phi(b) - Phi(a)) for a < b, stable in either tail."""
    if a > 0.0:
        la, lb = float(log_ndtr(-a)), float(log_ndtr(-b))
        return la + math.log1p(-math.exp(lb - la)) if lb < la else -math.inf
    la, lb = float(log_ndtr(a)), float(log_ndtr(b))
    return lb + math.log1p(-math.exp(la - lb)) if la < lb else -math.inf


#: The likelihood of a truncated family can keep rising as its parameters run off (a flat or
#: rising density on the window is the limit of a far-away normal): the search is held to
#: centres within this many window widths of the window and scales within [1/1000, 100] of it,
#: where every limit shape is already matched to well within the sampling noise.
_REACH = 100.0
#: ... and to windows within 30 standard deviations of the base median (the distributions are
#: exact there; beyond it the window holds no representable probability).
_MAX_Z = 30.0


def _nll(family: str, x: np.ndarray, lo: float, hi: float) -> Callable[[np.ndarray], float]:
    """Negative log-likelihood of ``family`` truncated to [lo, hi] as a function of the
    parameters (norm: mu, ln sigma; lognorm: ln s, mu of ln x; expon: loc, ln scale), +inf
    outside the search region (:data:`_REACH`)."""
    n = x.size
    width = hi - lo
    if family == "norm":
        centre = (lo - _REACH * width, hi + _REACH * width)
        scales = (math.log(width / 1000.0), math.log(width * _REACH))

        def nll(theta: np.ndarray) -> float:
            if not (centre[0] < theta[0] < centre[1] and scales[0] < theta[1] < scales[1]):
                return math.inf
            mu, sigma = theta[0], math.exp(theta[1])
            a, b = (lo - mu) / sigma, (hi - mu) / sigma
            if a > _MAX_Z or b < -_MAX_Z:
                return math.inf
            z = (x - mu) / sigma
            mass = _log_window(a, b)
            return 0.5 * float(z @ z) + n * (theta[1] + 0.5 * _LOG_2PI + mass)

        return nll
    if family == "lognorm":
        y = np.log(x)
        sum_y = float(y.sum())
        log_lo, log_hi = math.log(lo), math.log(hi)
        log_width = log_hi - log_lo
        # (and a scale exp(mu) a float holds)
        centre = (max(log_lo - _REACH * log_width, -700.0), min(log_hi + _REACH * log_width, 700.0))
        scales = (math.log(log_width / 1000.0), math.log(log_width * _REACH))

        def nll(theta: np.ndarray) -> float:
            if not (scales[0] < theta[0] < scales[1] and centre[0] < theta[1] < centre[1]):
                return math.inf
            s, mu = math.exp(theta[0]), theta[1]
            a, b = (log_lo - mu) / s, (log_hi - mu) / s
            if a > _MAX_Z or b < -_MAX_Z:
                return math.inf
            z = (y - mu) / s
            mass = _log_window(a, b)
            return sum_y + 0.5 * float(z @ z) + n * (theta[0] + 0.5 * _LOG_2PI + mass)

        return nll
    total = float(x.sum())
    scales = (math.log(width / 1000.0), math.log(width * _REACH))

    def nll(theta: np.ndarray) -> float:
        if not (lo - _REACH * width < theta[0] <= lo and scales[0] < theta[1] < scales[1]):
            return math.inf  # (the exponential's start must not cut the data)
        loc, scale = theta[0], math.exp(theta[1])
        log_mass = -(lo - loc) / scale + math.log(-math.expm1(-(hi - lo) / scale))
        return n * theta[1] + (total - n * loc) / scale + n * log_mass

    return nll


def _start(family: str, x: np.ndarray) -> np.ndarray:
    """Moment estimates, inside the search region (the std is at least 1/200 of the range)."""
    if family == "norm":
        return np.array([x.mean(), math.log(max(x.std(), np.ptp(x) / 200.0))])
    if family == "lognorm":
        y = np.log(x)
        return np.array([math.log(max(y.std(), np.ptp(y) / 200.0)), y.mean()])
    spread = max(float(x.mean() - x.min()), np.ptp(x) / 200.0)
    return np.array([float(x.min()) - 1e-9 * spread, math.log(spread)])


def _distribution(family: str, theta: np.ndarray, lo: float, hi: float) -> TruncatedDistribution:
    if family == "norm":
        return TruncatedDistribution("norm", float(theta[0]), math.exp(theta[1]), None, lo, hi)
    if family == "lognorm":
        return TruncatedDistribution("lognorm", 0.0, math.exp(theta[1]), math.exp(theta[0]), lo, hi)
    return TruncatedDistribution("expon", float(theta[0]), math.exp(theta[1]), None, lo, hi)


def _mle(family: str, x: np.ndarray, lo: float, hi: float,
         start: np.ndarray | None = None) -> tuple[np.ndarray, float]:  # fmt: skip
    nll = _nll(family, x, lo, hi)
    theta0 = _start(family, x) if start is None else start
    f0 = nll(theta0)
    with np.errstate(invalid="ignore"):  # inf - inf while the simplex straddles the region
        best = minimize(nll, theta0, method="Nelder-Mead",
                        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    if math.isfinite(best.fun) and (not math.isfinite(f0) or best.fun <= f0):
        return best.x, -float(best.fun)
    return theta0, -f0


def fit_truncated(
    values: np.ndarray, name: str, family: str | None = None, start: np.ndarray | None = None
) -> tuple[TruncatedDistribution, dict[str, Any]]:
    """The AIC-best family (or ``family``) for ``values``, truncated to their range.

    Returns the distribution and ``{"family", "aic", "n", "theta"}``. Raises
    :class:`InvalidParameterError` when no family can be fitted (fewer than two distinct
    values, say).
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 2 or not x.max() > x.min():
        raise InvalidParameterError(
            f"the {name} estimates of {x.size} device(s) hold fewer than two distinct values: "
            "no distribution can be fitted"
        )
    lo, hi = float(x.min()), float(x.max())
    best: tuple[float, str, np.ndarray] | None = None
    for fam in (family,) if family else FAMILIES:
        if fam != "norm" and lo <= 0:
            continue
        theta, loglik = _mle(fam, x, lo, hi, start if family else None)
        if not math.isfinite(loglik):
            continue
        aic = 4 - 2 * loglik  # two free parameters in every family
        if best is None or aic < best[0]:
            best = (aic, fam, theta)
    if best is None:
        raise InvalidParameterError(f"no distribution could be fitted to the {name} estimates")
    aic, fam, theta = best
    dist = _distribution(fam, theta, lo, hi)
    return dist, {"family": fam, "aic": aic, "n": int(x.size), "theta": theta}


def interval(samples: Any, confidence: float = CONFIDENCE) -> list[float]:
    """Percentile interval of bootstrap ``samples`` (NaNs dropped)."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return [math.nan, math.nan]
    tail = 50.0 * (1.0 - confidence)
    lo, hi = np.percentile(s, [tail, 100.0 - tail])
    return [float(lo), float(hi)]
