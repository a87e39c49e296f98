"""Fit the weak-RESET model to measured pulse trains: per device, then the population.

Per device (Majumdar et al., IEEE TED 2021): with ``y_t = ln(R_t / R_0)`` (``R_0`` the post-SET
read at ``pulse_index`` 0) the mean model is continuous and piecewise linear,
``y = c1 + m1 t + (m2 - m1) (t - t*)_+``. For a fixed knee ``t*`` it is linear in
``(c1, m1, m2)``; the knee is found by profile least squares (a grid over the observed pulses,
then golden-section refinement of the real-valued ``t*``), the other three by ordinary least
squares with their standard errors, and R^2 reports the goodness of fit. Any read schedule works
(every pulse, every 5th, irregular): only the pulse indices enter.

Robust residuals: after a first fit, reads more than :data:`OUTLIER_SDS` robust standard
deviations (1.4826 x the median absolute deviation) from the fit are set aside and the train is
fitted again, so a spike does not move a device's parameters.

Devices that cannot be fitted, or fit poorly, are excluded from the population and listed with
the reason (``WeakResetFit.excluded``): no read at pulse 0; fewer than :data:`MIN_READS` reads
after it; more than :data:`MAX_OUTLIER_FRACTION` of the reads outliers; no significant change of
resistance over the train (a fitted change below :data:`RISE_Z` standard errors and :data:`FLAT_RISE`: a flat device); a
significant *decrease* (not a weak-RESET response); R^2 below :data:`MIN_R2`; an R0 more than
:data:`R0_OUTLIER_SDS` robust standard deviations and a factor :data:`R0_OUTLIER_RATIO` from the
population's median (an open or unformed device).

Noise and mean are estimated together (calibration.noise): the residual variogram gives the 1/f
and RTN amplitudes; their mean in ln R (which rises over the first pulses) is subtracted from
every train and the trains fitted again, so ``c1`` and ``m1`` are not biased by it.

Population: each parameter's per-device estimates get a truncated distribution
(calibration.population). Devices whose knee is not seen — in the last 5 % of their train, or
no significant change of slope — are left out of the ``t*`` and ``m2`` populations
(``details["knee_seen"]``). Every population parameter (median and mean of each distribution,
the noise amplitudes) carries a 90 % bootstrap interval over devices (``WeakResetFit.intervals``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from devices import InvalidParameterError, TruncatedDistribution, presets
from devices.params import WeakResetParams
from devices.support import check_int
from devices.weak_reset import kasdin_coefficients

from .io import Measurements
from .noise import Variogram, estimate_noise, noise_mean
from .population import CONFIDENCE, fit_truncated, interval

__all__ = [
    "DECREASE_RISE", "FLAT_RISE", "MAX_OUTLIER_FRACTION", "MIN_R2", "MIN_READS",
    "OUTLIER_NOISE_MARGIN", "OUTLIER_SDS", "R0_OUTLIER_RATIO", "R0_OUTLIER_SDS", "RISE_Z",
    "DeviceFit", "WeakResetFit", "fit_device", "fit_weak_reset",
]  # fmt: skip

#: Exclusion criteria (module docstring).
MIN_READS = 8
OUTLIER_SDS = 8.0
#: A read is an outlier only beyond the largest excursion the model's noise can make
#: (RTN <= a_max, 1/f <= alpha sum b): this many times that bound, or 1.0 in ln R (a factor
#: e) before the noise is known. The robust SD alone would flag the RTN's "on" periods.
OUTLIER_NOISE_MARGIN = 1.25
MAX_OUTLIER_FRACTION = 0.05
RISE_Z = 3.0
#: Absolute fitted change of ln R below which a device without a significant change is flat: 0.5 %
#: of R over the whole train. The model's weakest devices (m1 = 3.7e-5, an early knee, no m2)
#: change by ~1 %, so a weak device with strong noise is kept.
FLAT_RISE = 0.005
#: A significant decrease of ln R by more than this (10 % of R) is not a weak-RESET response;
#: a late RTN release alone drops ln R by up to a_max / 4 (0.125 with the paper's noise).
DECREASE_RISE = 0.2
MIN_R2 = 0.02
R0_OUTLIER_SDS = 8.0
R0_OUTLIER_RATIO = 1.5

_GOLDEN = (math.sqrt(5) - 1) / 2
_D2D = ("m1_per_pulse", "t_star_pulses", "c1", "m2_per_pulse", "r0_ohm")


@dataclass(frozen=True)
class DeviceFit:
    """Weak-RESET fit of one pulse train.

    ``stderr`` holds the standard errors of ``c1``, ``m1``, ``m2`` (and ``t_star``, from the
    curvature of the profile; NaN when the knee sits at the edge of the data). ``rise`` is the
    fitted change of ln R over the train and ``rise_z`` its ratio to its standard error;
    ``outliers`` the reads set aside, ``last_pulse`` the last pulse index read.
    """

    name: str
    r0_ohm: float
    m1_per_pulse: float
    t_star_pulses: float
    c1: float
    m2_per_pulse: float
    r2: float
    residual_sd: float
    n_pulses: int
    stderr: dict[str, float] = field(default_factory=dict)
    last_pulse: int = 0
    outliers: int = 0
    rise: float = 0.0
    rise_z: float = 0.0


def _design(t: np.ndarray, t_star: float) -> np.ndarray:
    return np.column_stack([np.ones_like(t), t, np.maximum(t - t_star, 0.0)])


def _rss(t: np.ndarray, y: np.ndarray, t_star: float) -> tuple[float, np.ndarray]:
    x = _design(t, t_star)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return float(r @ r), coef


def _knee(t: np.ndarray, y: np.ndarray) -> float:
    """Profile least squares over the knee: a grid over the read pulses, then golden section."""
    hi = float(t.max())
    # at least three reads on each side of a knee: a knee after the first read or two would
    # fit a single spiking read exactly (a slope through it) instead of calling it an outlier
    grid = np.unique(t)[3:-3]
    if grid.size > 400:
        grid = grid[np.linspace(0, grid.size - 1, 400).astype(int)]
    if grid.size == 0:
        return hi
    profile = np.array([_rss(t, y, g)[0] for g in grid])
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
    return 0.5 * (a + b)


def _robust_sd(r: np.ndarray) -> float:
    return 1.4826 * float(np.median(np.abs(r - np.median(r))))


def _spikes(y: np.ndarray, floor: float) -> np.ndarray:
    """Reads that stand out from their neighbours (a running median over 7 reads) by more than
    ``floor`` and 8 robust SDs: found before any model is fitted, so a spike cannot bend the
    first fit towards itself (a spike on the first read after SET would)."""
    if y.size < 7:
        return np.zeros(y.size, dtype=bool)
    padded = np.pad(y, 3, mode="reflect")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    d = y - local
    return np.abs(d) > max(OUTLIER_SDS * _robust_sd(d), floor)


def _fit_train(
    name: str, pulses: np.ndarray, resistance_ohm: np.ndarray, offset: Any = None,
    floor: float = 1.0,
) -> tuple[DeviceFit, np.ndarray, np.ndarray]:  # fmt: skip
    """Fit one train; returns the fit, the read pulses (>= 1) and the residuals (NaN at the
    outliers). ``offset(t)``: the noise mean to subtract from ln(R/R0); ``floor``: the smallest
    |residual| that can be an outlier."""
    pulses = np.asarray(pulses, dtype=np.float64)
    r = np.asarray(resistance_ohm, dtype=np.float64)
    if not (pulses == 0).any():
        raise InvalidParameterError(f"device {name!r}: no read at pulse_index 0 (the post-SET R0).")
    r0 = float(r[pulses == 0][0])
    sel = pulses >= 1
    t, y = pulses[sel], np.log(r[sel]) - math.log(r0)  # no overflow of the ratio
    if t.size < MIN_READS:
        raise InvalidParameterError(
            f"device {name!r}: needs at least {MIN_READS} reads after pulse 0, got {t.size}."
        )
    if offset is not None:
        y = y - offset(t)
    keep = ~_spikes(y, floor)
    if keep.sum() < MIN_READS:
        keep[:] = True
    t_star = _knee(t[keep], y[keep])
    for _ in range(2):  # set the outliers aside and fit again (once more if that uncovers more)
        resid = y - _design(t, t_star) @ _rss(t[keep], y[keep], t_star)[1]
        scale = _robust_sd(resid[keep])
        new = keep & ~(np.abs(resid) > max(OUTLIER_SDS * scale, floor))
        if new.sum() == keep.sum() or new.sum() < MIN_READS:
            break
        keep = new
        t_star = _knee(t[keep], y[keep])
    tk, yk = t[keep], y[keep]
    rss, coef = _rss(tk, yk, t_star)
    c1, m1, dm = (float(v) for v in coef)
    n, p = tk.size, 4
    sigma2 = rss / max(n - p, 1)
    x = _design(tk, t_star)
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    se = {"c1": math.sqrt(cov[0, 0]), "m1_per_pulse": math.sqrt(cov[1, 1]),
          "m2_per_pulse": math.sqrt(max(cov[1, 1] + cov[2, 2] + 2 * cov[1, 2], 0.0))}  # fmt: skip
    lo, hi = float(tk.min()), float(tk.max())
    h = max(1.0, 0.02 * t_star)
    if lo + h < t_star < hi - h:
        curv = (_rss(tk, yk, t_star + h)[0] - 2 * rss + _rss(tk, yk, t_star - h)[0]) / h**2
        se["t_star_pulses"] = math.sqrt(2 * sigma2 / curv) if curv > 0 else math.nan
    else:
        se["t_star_pulses"] = math.nan
    # the fitted change of ln R from the first to the last read, and its standard error
    ends = _design(np.array([lo, hi]), t_star)
    change = ends[1] - ends[0]
    rise = float(change @ coef)
    rise_se = math.sqrt(max(float(change @ cov @ change), 0.0))
    total = float(np.sum((yk - yk.mean()) ** 2))
    resid = np.where(keep, y - _design(t, t_star) @ coef, np.nan)
    fit = DeviceFit(
        name=name, r0_ohm=r0, m1_per_pulse=m1, t_star_pulses=float(t_star), c1=c1,
        m2_per_pulse=m1 + dm, r2=1.0 - rss / total if total > 0 else 1.0,
        residual_sd=math.sqrt(sigma2), n_pulses=int(t.size), stderr=se,
        last_pulse=int(t.max()), outliers=int((~keep).sum()), rise=rise,
        rise_z=rise / rise_se if rise_se > 0 else math.copysign(math.inf, rise) if rise else 0.0,
    )  # fmt: skip
    return fit, t, resid


def fit_device(
    name: str, pulses: np.ndarray, resistance_ohm: np.ndarray, offset: Any = None,
    floor: float = 1.0,
) -> DeviceFit:  # fmt: skip
    """Fit one device's train (module docstring); ``pulses`` must include 0 (the post-SET read)
    and at least :data:`MIN_READS` more. ``offset(t)``, if given, is subtracted from
    ln(R/R0) first (the noise mean); reads further than ``floor`` (ln R) and
    :data:`OUTLIER_SDS` robust SDs from the fit are set aside as outliers."""
    return _fit_train(name, pulses, resistance_ohm, offset, floor)[0]


def _screen(fit: DeviceFit) -> str | None:
    """Why a fitted device is left out of the population, or None."""
    n = fit.n_pulses
    if fit.outliers > MAX_OUTLIER_FRACTION * n:
        return (f"{fit.outliers} of {n} reads are outliers (> {OUTLIER_SDS:g} robust SDs from "
                "the fit)")  # fmt: skip
    if fit.rise_z <= -RISE_Z and fit.rise < -DECREASE_RISE:
        return (f"resistance decreases over the train (ln R changes by {fit.rise:.3g}): not a "
                "weak-RESET response")  # fmt: skip
    if abs(fit.rise_z) < RISE_Z and abs(fit.rise) < FLAT_RISE:
        return (f"no significant resistance change over the train (ln R changes by "
                f"{fit.rise:.3g} +- {abs(fit.rise / fit.rise_z) if fit.rise_z else 0:.2g}): a "
                "flat device")  # fmt: skip
    if fit.r2 < MIN_R2:
        return f"poor fit: R^2 = {fit.r2:.3f} < {MIN_R2:g}"
    return None


def _r0_outliers(fits: list[DeviceFit]) -> dict[str, str]:
    log_r0 = np.log([f.r0_ohm for f in fits])
    centre = float(np.median(log_r0))
    scale = _robust_sd(log_r0)
    out = {}
    for f, v in zip(fits, log_r0, strict=True):
        far = abs(v - centre) > math.log(R0_OUTLIER_RATIO)
        if far and (scale == 0 or abs(v - centre) > R0_OUTLIER_SDS * scale):
            out[f.name] = (f"R0 = {f.r0_ohm:.4g} ohm, far from the population's median "
                           f"{math.exp(centre):.4g} ohm (an open or unformed device?)")  # fmt: skip
    return out


def _slope_changes(fit: DeviceFit) -> bool:
    """The slope drops significantly at the knee (the window's saturation) and the slope after
    it is not significantly negative: a knee followed by a falling or steeper resistance is a
    random-telegraph step the piecewise-linear fit took for a knee, not the weak-RESET knee."""
    se1 = fit.stderr.get("m1_per_pulse", 0.0)
    se2 = fit.stderr.get("m2_per_pulse", 0.0)
    drop = fit.m1_per_pulse - fit.m2_per_pulse
    return bool(drop > max(3 * (se1 + se2), 1e-6 * abs(fit.m1_per_pulse))
                and fit.m2_per_pulse > -3 * se2)  # fmt: skip


def _knee_seen(fit: DeviceFit) -> bool:
    return fit.t_star_pulses < 0.95 * fit.last_pulse and _slope_changes(fit)


@dataclass
class WeakResetFit:
    """Per-device fits, the devices left out, the population parameters, their intervals and a
    report."""

    devices: list[DeviceFit]
    params: WeakResetParams
    details: dict[str, Any]
    excluded: list[dict[str, str]] = field(default_factory=list)
    intervals: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        r2 = np.array([d.r2 for d in self.devices])
        total = len(self.devices) + len(self.excluded)
        lines = [f"weak-RESET fit of {len(self.devices)} of {total} devices: R^2 median "
                 f"{np.median(r2):.4f}, min {r2.min():.4f}; "
                 f"{sum(d.outliers for d in self.devices)} outlier reads set aside"]  # fmt: skip
        conf = f"{100 * CONFIDENCE:.0f} %"
        for name, info in self.details["populations"].items():
            dist = getattr(self.params, name)
            ci = self.intervals.get(name, {}).get("median", [math.nan, math.nan])
            lines.append(f"  {name:<15} {info['family']:<8} median {dist.median():.4g} "
                         f"[{ci[0]:.4g}, {ci[1]:.4g}]  mean {dist.mean():.4g}  "
                         f"range [{dist.lower:.4g}, {dist.upper:.4g}]")  # fmt: skip
        noise = self.details["noise"]
        ca = self.intervals.get("pink_alpha", [math.nan] * 2)
        cr = self.intervals.get("rtn_amplitude_mean", [math.nan] * 2)
        lines.append(f"  1/f alpha {noise['pink_alpha']:.4g} [{ca[0]:.4g}, {ca[1]:.4g}], mean RTN "
                     f"amplitude {noise['rtn_amplitude_mean']:.4g} [{cr[0]:.4g}, {cr[1]:.4g}]"
                     f"  ({conf} bootstrap intervals over devices)")  # fmt: skip
        if self.excluded:
            lines.append(f"  excluded {len(self.excluded)} device(s):")
            for item in self.excluded[:20]:
                lines.append(f"    {item['device']}: {item['reason']}")
            if len(self.excluded) > 20:
                lines.append(f"    ... and {len(self.excluded) - 20} more (all in the JSON)")
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record of the fit (stored under ``"fit"`` in the parameter file); values
        that could not be estimated are ``null``."""
        return _json_ready(
            {
                "devices": len(self.devices),
                "excluded": list(self.excluded),
                "confidence": CONFIDENCE,
                "intervals": self.intervals,
                "noise": {k: v for k, v in self.details["noise"].items()},
                "families": {k: v["family"] for k, v in self.details["populations"].items()},
                "outlier_reads": int(sum(d.outliers for d in self.devices)),
                "r2": {
                    "median": float(np.median(self.details["r2"])),
                    "min": float(np.min(self.details["r2"])),
                },
            }
        )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fit_all(
    trains: list[tuple[str, np.ndarray, np.ndarray]], offset: Any, floor: float
) -> tuple[list[tuple[DeviceFit, np.ndarray, np.ndarray]], list[dict[str, str]]]:
    done, excluded = [], []
    for name, p, r in trains:
        try:
            fit, t, resid = _fit_train(name, p, r, offset, floor)
        except (InvalidParameterError, np.linalg.LinAlgError, FloatingPointError) as exc:
            reason = str(exc).split(": ", 1)[-1]
            excluded.append({"device": name, "reason": reason})
            continue
        why = _screen(fit)
        if why is not None:
            excluded.append({"device": name, "reason": why})
            continue
        done.append((fit, t, resid))
    return done, excluded


def _variogram(done: list[tuple[DeviceFit, np.ndarray, np.ndarray]], lam: float) -> Variogram:
    gram = Variogram(len(done))
    for k, (_, t, resid) in enumerate(done):
        ok = np.isfinite(resid)
        gram.add(k, t[ok], resid[ok], lam)
    return gram


def fit_weak_reset(
    data: Measurements,
    name: str = "fitted",
    bootstrap: int = 200,
    rng: int | np.random.Generator | None = 0,
) -> WeakResetFit:
    """Fit every pulse train of ``data`` and the population (see the module docstring).

    Parameters
    ----------
    data : calibration.io.Measurements
        Measured trains (``load_pulse_trains``).
    name : str
        Name stored in the parameters.
    bootstrap : int
        Bootstrap resamples over devices behind the intervals (0: no intervals).
    rng : int, numpy.random.Generator or None
        Seed of the bootstrap.

    Raises
    ------
    InvalidParameterError
        Fewer than 3 devices can be fitted (the message lists why the others were excluded).
    """
    if not isinstance(data, Measurements):
        raise InvalidParameterError(
            f"The 'data' parameter of fit_weak_reset must be Measurements (calibration.io). "
            f"Got {type(data).__name__} instead."
        )
    bootstrap = check_int("bootstrap", bootstrap, "fit_weak_reset", 0, 100_000)
    trains = [(f"{dev}" + (f"/cycle{cyc}" if cyc else ""), p, r)
              for dev, cyc, p, r in data.trains()]  # fmt: skip
    base = presets.MAJUMDAR2021
    taps, p_up, p_down = base.pink_taps, base.rtn_p_up_per_pulse, base.rtn_p_down_per_pulse
    lam = 1.0 - p_up - p_down
    done, excluded = _fit_all(trains, None, 1.0)
    odd = _r0_outliers([d[0] for d in done]) if len(done) >= 3 else {}
    excluded += [{"device": n, "reason": why} for n, why in odd.items()]
    keep_names = {d[0].name for d in done} - set(odd)
    if len(keep_names) < 3:
        why = "; ".join(f"{e['device']}: {e['reason']}" for e in excluded[:5])
        raise InvalidParameterError(
            f"need at least 3 fittable pulse trains to fit a population, got {len(keep_names)} of "
            f"{len(trains)}"
            + (f" (excluded: {why}{' ...' if len(excluded) > 5 else ''})" if why else "")
        )
    # noise from the first fits' residuals, then every train again without the noise mean
    noise = estimate_noise(_variogram([d for d in done if d[0].name in keep_names], lam), taps,
                           p_up, p_down)  # fmt: skip

    def offset(t: np.ndarray) -> np.ndarray:
        return noise_mean(t, noise.pink_alpha, noise.rtn_amplitude_mean, taps, p_up, p_down)

    kept = [tr for tr in trains if tr[0] in keep_names]
    b_sum = float(kasdin_coefficients(taps).sum())
    floor = OUTLIER_NOISE_MARGIN * (noise.rtn_amplitude_max + noise.pink_alpha * b_sum)
    done, late = _fit_all(kept, offset, max(floor, 0.05))
    excluded += late
    if len(done) < 3:
        raise InvalidParameterError(
            f"need at least 3 fittable pulse trains to fit a population, got {len(done)}"
        )
    gram = _variogram(done, lam)
    noise = estimate_noise(gram, taps, p_up, p_down)
    fits = [d[0] for d in done]
    seen = np.array([_knee_seen(f) for f in fits])
    if seen.sum() < 3:
        seen[:] = True
    values = {
        "m1_per_pulse": np.array([f.m1_per_pulse for f in fits]),
        "t_star_pulses": np.array([f.t_star_pulses for f in fits]),
        "c1": np.array([f.c1 for f in fits]),
        "m2_per_pulse": np.array([f.m2_per_pulse for f in fits]),
        "r0_ohm": np.array([f.r0_ohm for f in fits]),
    }
    # slopes are physically positive: an estimate <= 0 is a device whose slope the noise hides,
    # and one such value would force a normal family on the whole population
    subsets = {k: (seen if k in ("t_star_pulses", "m2_per_pulse") else np.ones(len(fits), bool))
               for k in values}  # fmt: skip
    for k in ("m1_per_pulse", "m2_per_pulse"):
        positive = subsets[k] & (values[k] > 0)
        if positive.sum() >= 3:
            subsets[k] = positive
    populations, dists = {}, {}
    for key, vals in values.items():
        dists[key], populations[key] = fit_truncated(vals[subsets[key]], key)
    amp = TruncatedDistribution("uniform", 0.0, max(noise.rtn_amplitude_max, 1e-12))
    params = WeakResetParams(
        **dists, rtn_amplitude=amp, rtn_p_up_per_pulse=p_up, rtn_p_down_per_pulse=p_down,
        pink_alpha=noise.pink_alpha, pink_taps=taps,
        fit_max_pulses=int(max(f.last_pulse for f in fits)), name=name,
        citation="fitted with calibration.fit_weak_reset",
    )  # fmt: skip
    intervals = _bootstrap(values, subsets, populations, gram, (taps, p_up, p_down), bootstrap, rng)
    details = {"populations": {k: {kk: vv for kk, vv in v.items() if kk != "theta"}
                               for k, v in populations.items()},
               "knee_seen": seen.tolist(),
               "used": {k: v.tolist() for k, v in subsets.items()},
               "noise": {"pink_alpha": noise.pink_alpha,
                         "rtn_amplitude_mean": noise.rtn_amplitude_mean,
                         "rtn_amplitude_max": noise.rtn_amplitude_max,
                         "variogram_lags": noise.lags, "variogram_pairs": noise.pairs},
               "r2": [f.r2 for f in fits], "variogram": gram}  # fmt: skip
    return WeakResetFit(fits, params, details, excluded, intervals)


def _bootstrap(values: dict[str, np.ndarray], subsets: dict[str, np.ndarray],
               populations: dict[str, dict[str, Any]], gram: Variogram,
               constants: tuple[int, float, float], n: int, rng: Any) -> dict[str, Any]:  # fmt: skip
    """Percentile intervals over ``n`` resamples of the devices (each parameter refitted with
    its family; the noise re-estimated from the resampled devices' variograms)."""
    if n == 0:
        return {}
    gen = np.random.default_rng(rng)
    count = gram.sums.shape[0]
    draws: dict[str, dict[str, list[float]]] = {k: {"median": [], "mean": []} for k in values}
    alpha, rtn = [], []
    for _ in range(n):
        idx = gen.integers(0, count, count)
        for key, vals in values.items():
            pick = idx[subsets[key][idx]]
            info = populations[key]
            try:
                dist, _ = fit_truncated(vals[pick], key, info["family"], info["theta"])
            except InvalidParameterError:
                continue  # a resample without two distinct values
            draws[key]["median"].append(dist.median())
            draws[key]["mean"].append(dist.mean())
        est = estimate_noise(gram, *constants, devices=idx)
        alpha.append(est.pink_alpha)
        rtn.append(est.rtn_amplitude_mean)
    out: dict[str, Any] = {k: {s: interval(v, CONFIDENCE) for s, v in d.items()}
                           for k, d in draws.items()}  # fmt: skip
    out["pink_alpha"] = interval(alpha, CONFIDENCE)
    out["rtn_amplitude_mean"] = interval(rtn, CONFIDENCE)
    out["resamples"] = n
    return out
