"""Fit the weak-RESET model to measured pulse trains: per device, then the population.

Per device (Majumdar et al., IEEE TED 2021): with ``y_t = ln(R_t / R_0)`` (``R_0`` the post-SET
read at ``pulse_index`` 0) the mean model is continuous and piecewise linear,
``y = c1 + m1 t + (m2 - m1) (t - t*)_+``. For a fixed knee ``t*`` it is linear in
``(c1, m1, m2)``; the knee is found by profile least squares (a grid over the observed pulses,
then golden-section refinement of the real-valued ``t*``), the other three by ordinary least
squares with their standard errors, and R^2 reports the goodness of fit.

Population: each parameter's per-device estimates get the family (normal, log-normal or
exponential) with the lowest AIC, fitted by maximum likelihood of the distribution *truncated*
to the range of the estimates (scipy.stats densities, Nelder-Mead from the untruncated MLE) — the
form ``devices.presets.from_json`` loads. Devices whose knee is not seen — in the last 5 % of their
train, or no significant change of slope (a straight train fits any knee) — are left out of the
``t*`` and ``m2`` populations (``details["knee_seen"]``): the data say nothing about them; measure
long enough trains.

Noise: the residuals of every device carry RTN (independent from read to read) and 1/f noise
(correlated over the 15-pulse Kasdin window). A method-of-moments estimate uses autocovariances of the residuals,
averaged over devices. Beyond the 15-pulse window the 1/f term is uncorrelated, so
``gamma(20) = E[a^2] pi (1 - pi) lam^20 / 16`` is RTN only (``pi = p_up/(p_up + p_down)``,
``lam = 1 - p_up - p_down``; ``p_up``, ``p_down`` kept from the preset), and
``gamma(1) = alpha^2/12 sum_k b_k b_{k+1} + E[a^2] pi (1 - pi) lam / 16`` then gives ``alpha``;
amplitudes are taken uniform in ``[0, a_max]`` (``E[a^2] = a_max^2/3``). Both noises have a positive mean that the fitted
``c1`` absorbs; it is subtracted (``alpha/2 sum b + pi E[a]/4``). This estimate is rough: the knee
fit itself absorbs part of the slow RTN excursions (see docs/calibration.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.stats as st

from devices import InvalidParameterError, TruncatedDistribution, presets
from devices.params import WeakResetParams
from devices.weak_reset import kasdin_coefficients

from .io import Measurements

__all__ = ["DeviceFit", "WeakResetFit", "fit_device", "fit_weak_reset"]

_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class DeviceFit:
    """Weak-RESET fit of one pulse train.

    ``stderr`` holds the standard errors of ``c1``, ``m1``, ``m2`` (and ``t_star``, from the
    curvature of the profile; NaN when the knee sits at the edge of the data).
    """

    name: str
    r0_ohm: float
    m1_per_pulse: float
    t_star_pulses: float
    c1: float
    m2_per_pulse: float
    r2: float
    residual_sd: float
    lag1_autocov: float
    lag20_autocov: float
    residual_var: float
    n_pulses: int
    stderr: dict[str, float] = field(default_factory=dict)


def _design(t: np.ndarray, t_star: float) -> np.ndarray:
    return np.column_stack([np.ones_like(t), t, np.maximum(t - t_star, 0.0)])


def _rss(t: np.ndarray, y: np.ndarray, t_star: float) -> tuple[float, np.ndarray]:
    x = _design(t, t_star)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return float(r @ r), coef


def fit_device(name: str, pulses: np.ndarray, resistance_ohm: np.ndarray) -> DeviceFit:
    """Fit one device's train; ``pulses`` must include 0 (the post-SET read) and >= 5 more."""
    pulses = np.asarray(pulses, dtype=np.float64)
    r = np.asarray(resistance_ohm, dtype=np.float64)
    if not (pulses == 0).any():
        raise InvalidParameterError(f"device {name!r}: no read at pulse_index 0 (the post-SET R0).")
    r0 = float(r[pulses == 0][0])
    sel = pulses >= 1
    t, y = pulses[sel], np.log(r[sel] / r0)
    if t.size < 5:
        raise InvalidParameterError(
            f"device {name!r}: needs at least 5 reads after pulse 0, got {t.size}."
        )
    lo, hi = float(t.min()), float(t.max())
    grid = np.unique(t)
    grid = grid[(grid > lo) & (grid < hi)]
    if grid.size > 400:
        grid = grid[np.linspace(0, grid.size - 1, 400).astype(int)]
    profile = np.array([_rss(t, y, g)[0] for g in grid]) if grid.size else np.array([])
    if profile.size:
        k = int(np.argmin(profile))
        a = float(grid[max(k - 1, 0)])
        b = float(grid[min(k + 1, grid.size - 1)])
        c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        fc, fd = _rss(t, y, c)[0], _rss(t, y, d)[0]
        for _ in range(40):
            if fc < fd:
                b, d, fd = d, c, fc
                c = b - _GOLDEN * (b - a)
                fc = _rss(t, y, c)[0]
            else:
                a, c, fc = c, d, fd
                d = a + _GOLDEN * (b - a)
                fd = _rss(t, y, d)[0]
        t_star = 0.5 * (a + b)
    else:
        t_star = hi
    rss, coef = _rss(t, y, t_star)
    c1, m1, dm = (float(v) for v in coef)
    n, p = t.size, 4
    sigma2 = rss / max(n - p, 1)
    x = _design(t, t_star)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    se = {"c1": math.sqrt(cov[0, 0]), "m1_per_pulse": math.sqrt(cov[1, 1]),
          "m2_per_pulse": math.sqrt(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2])}  # fmt: skip
    h = max(1.0, 0.02 * t_star)
    if lo + h < t_star < hi - h:
        curv = (_rss(t, y, t_star + h)[0] - 2 * rss + _rss(t, y, t_star - h)[0]) / h**2
        se["t_star_pulses"] = math.sqrt(2 * sigma2 / curv) if curv > 0 else math.nan
    else:
        se["t_star_pulses"] = math.nan
    resid = y - x @ coef
    order = np.argsort(t)
    rs = resid[order]
    centred = rs - rs.mean()
    lag1 = float(np.mean(centred[1:] * centred[:-1])) if rs.size > 2 else 0.0
    lag20 = float(np.mean(centred[20:] * centred[:-20])) if rs.size > 21 else 0.0
    total = float(np.sum((y - y.mean()) ** 2))
    return DeviceFit(
        name=name, r0_ohm=r0, m1_per_pulse=m1, t_star_pulses=float(t_star), c1=c1,
        m2_per_pulse=m1 + dm, r2=1.0 - rss / total if total > 0 else 1.0,
        residual_sd=math.sqrt(sigma2), lag1_autocov=lag1, lag20_autocov=lag20,
        residual_var=float(np.var(rs)),
        n_pulses=int(t.size), stderr=se,
    )  # fmt: skip


_FAMILIES = {
    "norm": lambda x: st.norm.fit(x),
    "lognorm": lambda x: st.lognorm.fit(x, floc=0),
    "expon": lambda x: st.expon.fit(x),
}


def _frozen(family: str, theta: np.ndarray) -> Any:
    """scipy distribution of ``family`` from unconstrained parameters ``theta``."""
    if family == "norm":
        return st.norm(theta[0], math.exp(theta[1]))
    if family == "lognorm":
        return st.lognorm(math.exp(theta[0]), 0.0, math.exp(theta[1]))
    return st.expon(theta[0], math.exp(theta[1]))


def _truncated_mle(family: str, x: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, float]:
    """Maximum likelihood of ``family`` truncated to ``[lo, hi]``; returns (theta, log-likelihood).

    Starts from scipy's untruncated MLE and maximizes
    ``sum log f(x) - n log(F(hi) - F(lo))`` with Nelder-Mead.
    """
    from scipy.optimize import minimize

    start = _FAMILIES[family](x)
    if family == "norm":
        theta0 = np.array([start[0], math.log(start[1])])
    elif family == "lognorm":
        theta0 = np.array([math.log(start[0]), math.log(start[2])])
    else:
        theta0 = np.array([start[0], math.log(start[1])])

    def nll(theta: np.ndarray) -> float:
        if family == "expon" and theta[0] > lo:
            return math.inf  # the exponential's start must not cut the data
        dist = _frozen(family, theta)
        mass = dist.cdf(hi) - dist.cdf(lo)
        if not mass > 0:
            return math.inf
        value = -(float(np.sum(dist.logpdf(x))) - x.size * math.log(mass))
        return value if math.isfinite(value) else math.inf

    best = minimize(nll, theta0, method="Nelder-Mead",
                    options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})  # fmt: skip
    theta = best.x if math.isfinite(best.fun) and best.fun <= nll(theta0) else theta0
    return theta, -nll(theta)


def _population(values: np.ndarray, name: str) -> tuple[TruncatedDistribution, dict[str, Any]]:
    """The AIC-best family for ``values`` by truncated MLE on the range of the values."""
    x = np.asarray(values, dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    best = None
    for family in _FAMILIES:
        if family != "norm" and (x <= 0).any():
            continue
        try:
            theta, loglik = _truncated_mle(family, x, lo, hi)
        except (ValueError, FloatingPointError, OverflowError):
            continue  # scipy cannot fit this family to these values
        if not math.isfinite(loglik):
            continue
        aic = 4 - 2 * loglik  # two free parameters in every family
        if best is None or aic < best[0]:
            best = (aic, family, theta)
    if best is None:
        raise InvalidParameterError(f"no distribution could be fitted to the {name} estimates")
    aic, family, theta = best
    if family == "norm":
        td = TruncatedDistribution("norm", float(theta[0]), math.exp(theta[1]), None, lo, hi)
    elif family == "lognorm":
        td = TruncatedDistribution("lognorm", 0.0, math.exp(theta[1]), math.exp(theta[0]), lo, hi)
    else:
        td = TruncatedDistribution("expon", float(theta[0]), math.exp(theta[1]), None, lo, hi)
    return td, {"family": family, "aic": aic, "n": int(x.size)}


def _slope_changes(fit: DeviceFit) -> bool:
    change = abs(fit.m2_per_pulse - fit.m1_per_pulse)
    se = fit.stderr.get("m2_per_pulse", 0.0) + fit.stderr.get("m1_per_pulse", 0.0)
    return bool(change > max(3 * se, 1e-6 * abs(fit.m1_per_pulse)))


@dataclass
class WeakResetFit:
    """Per-device fits, the population parameters and a report."""

    devices: list[DeviceFit]
    params: WeakResetParams
    details: dict[str, Any]

    def report(self) -> str:
        r2 = np.array([d.r2 for d in self.devices])
        lines = [f"weak-RESET fit of {len(self.devices)} devices: R^2 median {np.median(r2):.4f}, "
                 f"min {r2.min():.4f}"]  # fmt: skip
        for name, info in self.details["populations"].items():
            dist = getattr(self.params, name)
            lines.append(f"  {name:<15} {info['family']:<8} median {dist.median():.4g}  "
                         f"mean {dist.mean():.4g}  range [{dist.lower:.4g}, {dist.upper:.4g}]")  # fmt: skip
        noise = self.details["noise"]
        lines.append(f"  1/f alpha {noise['pink_alpha']:.4g}, mean RTN amplitude "
                     f"{noise['rtn_amplitude_mean']:.4g}")  # fmt: skip
        return "\n".join(lines)


def fit_weak_reset(data: Measurements, name: str = "fitted") -> WeakResetFit:
    """Fit every pulse train of ``data`` and the population (see the module docstring)."""
    if not isinstance(data, Measurements):
        raise InvalidParameterError(
            f"The 'data' parameter of fit_weak_reset must be Measurements (calibration.io). "
            f"Got {type(data).__name__} instead."
        )
    fits = [fit_device(f"{dev}" + (f"/cycle{cyc}" if cyc else ""), p, r)
            for dev, cyc, p, r in data.trains()]  # fmt: skip
    if len(fits) < 3:
        raise InvalidParameterError(
            f"need at least 3 pulse trains to fit a population, got {len(fits)}"
        )
    base = presets.MAJUMDAR2021
    taps = base.pink_taps
    b = kasdin_coefficients(taps)
    lag1 = float(np.mean([f.lag1_autocov for f in fits]))
    lag20 = float(np.mean([f.lag20_autocov for f in fits]))
    # method of moments on the residuals. Beyond 15 pulses the 1/f term is uncorrelated, so the
    # lag-20 autocovariance is RTN only (its state persists, lam = 1 - p_up - p_down per pulse);
    # the lag-1 autocovariance then gives the 1/f amplitude
    p_up, p_down = base.rtn_p_up_per_pulse, base.rtn_p_down_per_pulse
    pi = p_up / (p_up + p_down)
    lam = 1 - p_up - p_down
    a2 = max(16 * lag20 / (pi * (1 - pi) * lam**20), 0.0)  # E[a^2]
    alpha2 = (lag1 - a2 * pi * (1 - pi) * lam / 16) * 12 / float(np.sum(b[:-1] * b[1:]))
    alpha = math.sqrt(max(alpha2, 0.0))
    a_max = math.sqrt(3 * a2)  # amplitudes uniform in [0, a_max]: E[a^2] = a_max^2 / 3
    a_mean = a_max / 2
    offset = alpha / 2 * float(b.sum()) + pi * a_mean / 4
    # a knee is seen when it lies before the last 5 % of the train and the slope really changes
    # there (a straight train fits any knee with m2 = m1): otherwise the device says nothing
    # about t* and m2
    seen = np.array([f.t_star_pulses < 0.95 * f.n_pulses and _slope_changes(f) for f in fits])
    if seen.sum() < 3:
        seen[:] = True
    values = {
        "m1_per_pulse": np.array([f.m1_per_pulse for f in fits]),
        "t_star_pulses": np.array([f.t_star_pulses for f in fits])[seen],
        "c1": np.array([f.c1 for f in fits]) - offset,
        "m2_per_pulse": np.array([f.m2_per_pulse for f in fits])[seen],
        "r0_ohm": np.array([f.r0_ohm for f in fits]),
    }
    populations = {}
    dists = {}
    for key, vals in values.items():
        dists[key], populations[key] = _population(vals, key)
    amp = (
        TruncatedDistribution("uniform", 0.0, 2 * a_mean)
        if a_mean > 0
        else TruncatedDistribution("uniform", 0.0, 1e-12)
    )
    params = WeakResetParams(
        **dists, rtn_amplitude=amp, rtn_p_up_per_pulse=base.rtn_p_up_per_pulse,
        rtn_p_down_per_pulse=base.rtn_p_down_per_pulse, pink_alpha=alpha, pink_taps=taps,
        fit_max_pulses=int(max(f.n_pulses for f in fits)), name=name,
        citation="fitted with calibration.fit_weak_reset",
    )  # fmt: skip
    details = {"populations": populations, "knee_seen": seen.tolist(),
               "noise": {"pink_alpha": alpha, "rtn_amplitude_mean": a_mean, "c1_offset": offset},
               "r2": [f.r2 for f in fits]}  # fmt: skip
    return WeakResetFit(fits, params, details)
