"""Generic pulse-response fit: exponential saturation of G with the pulse number, and its noise.

For devices programmed by trains of identical pulses (potentiation ramps that raise the
conductance, depression ramps that lower it) the soft-bounds / exponential-saturation model is

.. math:: G(n) = G_\\infty - (G_\\infty - G_0)\\, e^{-n / n_0}

equivalently, per pulse, ``dG = (G_inf - G) (1 - exp(-1/n0))``: the step shrinks as G approaches
its bound. A negative ``n0`` describes accelerating ramps with the same per-pulse law (the step
grows as G moves away from ``G_inf``); both signs are tried and the better fit kept. Each ramp is
fitted by nonlinear least squares (scipy ``curve_fit``); a direction's parameters are the medians
over its ramps.

Ramps left out, and listed with the reason (``PulseResponseFit.excluded``): fewer than
:data:`MIN_PULSES` reads; no significant change of conductance (a change below :data:`FLAT_Z`
standard errors of a straight line's change over the ramp — a flat ramp belongs to neither
direction); no convergence; R^2 below :data:`MIN_RAMP_R2`; conductances spanning more than a factor
:data:`MAX_SPAN`. Cycle-to-cycle noise is what the deterministic step does
not explain: the residuals ``dG - (G_inf - G)(1 - exp(-1/n0))`` binned by G give the law
``sigma(dG) = s0 + s1 G`` (least squares over the bins).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

from devices import InvalidParameterError
from devices.support import check_int

from .io import Measurements
from .population import CONFIDENCE, interval

__all__ = ["COMPARE_AT", "FLAT_Z", "MAX_SPAN", "MIN_PULSES", "MIN_RAMP_R2", "DirectionFit", "PulseResponseFit",
           "compare_with_simulation", "fit_pulse_response"]  # fmt: skip

#: Exclusion criteria of a ramp (module docstring).
MIN_PULSES = 5
FLAT_Z = 3.0
MIN_RAMP_R2 = 0.2
#: Largest ratio of a ramp's conductances: one device's ramp stays well inside it (the CrossSim
#: ramps span a factor 45); beyond, the column mixes devices, units or read errors.
MAX_SPAN = 1e6


def _model(n: np.ndarray, g0: float, g_inf: float, n0: float) -> np.ndarray:
    return g_inf - (g_inf - g0) * np.exp(-n / n0)


@dataclass(frozen=True)
class DirectionFit:
    """Fit of the ramps of one direction ("potentiation" or "depression")."""

    direction: str
    g0_s: float
    g_inf_s: float
    n0_pulses: float
    noise_intercept_s: float
    noise_slope: float
    r2: float
    n_ramps: int
    ramp_r2: list[float] = field(default_factory=list)
    #: 90 % percentile-bootstrap intervals over the ramps of every parameter
    intervals: dict[str, list[float]] = field(default_factory=dict)

    def noise_sd_s(self, g: np.ndarray | float) -> np.ndarray:
        """Standard deviation of a pulse's conductance change at conductance ``g`` (S)."""
        return np.maximum(
            self.noise_intercept_s + self.noise_slope * np.asarray(g, dtype=np.float64), 0.0
        )


@dataclass
class PulseResponseFit:
    """Both directions' fits and a report."""

    directions: dict[str, DirectionFit]
    source: str
    excluded: list[dict[str, str]] = field(default_factory=list)
    #: the fitted ramps per direction, (pulses from the ramp's start, G): what
    #: :func:`compare_with_simulation` measures the simulation against
    ramps: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict, repr=False)

    def report(self) -> str:
        lines = [f"pulse-response fit of {self.source}"]
        for d in self.directions.values():
            lines.append(
                f"  {d.direction:<12} {d.n_ramps} ramps: G0 {d.g0_s * 1e6:.1f} uS -> G_inf "
                f"{d.g_inf_s * 1e6:.1f} uS, n0 {d.n0_pulses:.1f} pulses, R^2 {d.r2:.4f} "
                f"(ramps {min(d.ramp_r2):.3f}-{max(d.ramp_r2):.3f}); noise sd(dG) = "
                f"{d.noise_intercept_s * 1e6:.3f} uS + {d.noise_slope:.2e} G"
            )
            if d.intervals:
                iv = d.intervals
                lines.append(
                    f"  {'':<12} 90 % intervals over ramps: G0 [{iv['g0_s'][0] * 1e6:.1f}, "
                    f"{iv['g0_s'][1] * 1e6:.1f}] uS, G_inf [{iv['g_inf_s'][0] * 1e6:.1f}, "
                    f"{iv['g_inf_s'][1] * 1e6:.1f}] uS, n0 [{iv['n0_pulses'][0]:.1f}, "
                    f"{iv['n0_pulses'][1]:.1f}]"
                )
        if self.excluded:
            lines.append(f"  excluded {len(self.excluded)} ramp(s):")
            lines += [f"    {e['device']}: {e['reason']}" for e in self.excluded[:20]]
            if len(self.excluded) > 20:
                lines.append(f"    ... and {len(self.excluded) - 20} more (all in the JSON)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "model": "pulse-response",
            "source": self.source,
            "directions": {
                k: {
                    "g0_s": d.g0_s,
                    "g_inf_s": d.g_inf_s,
                    "n0_pulses": d.n0_pulses,
                    "noise_intercept_s": d.noise_intercept_s,
                    "noise_slope": d.noise_slope,
                    "r2": d.r2,
                    "n_ramps": d.n_ramps,
                    "intervals": d.intervals,
                }
                for k, d in self.directions.items()
            },
            "excluded": list(self.excluded),
        }


def _fit_ramp(n: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Parameters and R^2 of one ramp, or None without convergence."""
    # decelerating ramps (n0 > 0, soft bounds) and accelerating ones (n0 < 0, the same law
    # read backwards): fit both and keep the better; bounds keep the asymptote within 10x
    # the measured conductance and |n0| below 100x the ramp
    best = None
    top = 10 * g.max()
    for lower, upper, n0 in (((0, 0, 1e-3), (top, top, 100.0 * len(g)), len(g) / 3.0),
                             ((0, 0, -100.0 * len(g)), (top, top, -1e-3), -len(g) / 3.0)):  # fmt: skip
        guess = np.clip([g[0], g[-1] if n0 > 0 else g[0] / 2, n0], lower, upper)
        try:
            with np.errstate(all="ignore"):
                p, _ = curve_fit(_model, n, g, p0=guess, bounds=(lower, upper), maxfev=20000)
        except (RuntimeError, ValueError, FloatingPointError):
            continue
        rss = float(np.sum((g - _model(n, *p)) ** 2))
        if math.isfinite(rss) and (best is None or rss < best[0]):
            best = (rss, p)
    if best is None:
        return None
    total = float(np.sum((g - g.mean()) ** 2))
    return best[1], (1.0 - best[0] / total if total > 0 else 1.0)


def _change_z(n: np.ndarray, g: np.ndarray) -> float:
    """A straight line's change of G over the ramp, in units of its standard error."""
    g = g / np.median(g)  # units of the ramp's median: no overflow of squares
    x = np.column_stack([np.ones_like(n), n])
    coef, *_ = np.linalg.lstsq(x, g, rcond=None)
    resid = g - x @ coef
    dof = max(n.size - 2, 1)
    var = float(resid @ resid) / dof
    span = float(n.max() - n.min())
    sxx = float(np.sum((n - n.mean()) ** 2))
    change = float(coef[1]) * span
    se = math.sqrt(var / sxx) * span if sxx > 0 else math.inf
    return change / se if se > 0 else (math.copysign(math.inf, change) if change else 0.0)


def _estimates(ramps: list[tuple[np.ndarray, np.ndarray]], params: np.ndarray
               ) -> tuple[float, float, float, float, float]:  # fmt: skip
    """A direction's (G0, G_inf, n0) — the medians over its ramps — and the noise law
    (intercept, slope) of the residual steps, binned by G."""
    g0, g_inf, n0 = (float(v) for v in np.median(params, axis=0))
    step = 1.0 - math.exp(-1.0 / n0)
    gs, ds = [], []
    for _, g in ramps:
        gs.append(g[:-1])
        ds.append(np.diff(g) - (g_inf - g[:-1]) * step)
    gcat, dcat = np.concatenate(gs), np.concatenate(ds)
    edges = np.quantile(gcat, np.linspace(0, 1, 11))
    centres, sds = [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (gcat >= lo) & (gcat <= hi)
        if sel.sum() > 5:
            centres.append(gcat[sel].mean())
            sds.append(dcat[sel].std())
    with warnings.catch_warnings():  # a degenerate spread of G: the line is still the answer
        warnings.simplefilter("ignore")
        slope, intercept = (
            np.polyfit(centres, sds, 1) if len(centres) > 1 else (0.0, float(np.std(dcat)))
        )
    return g0, g_inf, n0, float(intercept), float(slope)


_NAMES = ("g0_s", "g_inf_s", "n0_pulses", "noise_intercept_s", "noise_slope")


def _fit_direction(direction: str, fitted: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]],
                   bootstrap: int, gen: np.random.Generator) -> DirectionFit:  # fmt: skip
    """Medians of the ramps' parameters (each ramp: pulses, G, its parameters, its R^2), the
    noise law, and percentile-bootstrap intervals over the ramps."""
    ramps = [(n, g) for n, g, _, _ in fitted]
    params = np.array([p for _, _, p, _ in fitted])
    r2s = [r2 for _, _, _, r2 in fitted]
    if not len(params):
        raise InvalidParameterError(f"no {direction} ramp could be fitted")
    g0, g_inf, n0, intercept, slope = _estimates(ramps, params)
    # pooled R^2 of the median model over every ramp
    res = sum(float(np.sum((g - _model(n, g0, g_inf, n0)) ** 2)) for n, g in ramps)
    allg = np.concatenate([g for _, g in ramps])
    spread = float(np.sum((allg - allg.mean()) ** 2))
    r2 = 1.0 - res / spread if spread > 0 else (1.0 if res == 0 else -math.inf)
    draws = []
    for _ in range(bootstrap if len(ramps) >= 2 else 0):
        idx = gen.integers(0, len(ramps), len(ramps))
        draws.append(_estimates([ramps[i] for i in idx], params[idx]))
    arr = np.array(draws)
    intervals = (
        {name: interval(arr[:, k], CONFIDENCE) for k, name in enumerate(_NAMES)} if draws else {}
    )
    return DirectionFit(direction, g0, g_inf, n0, intercept, slope, float(r2), len(ramps), r2s,
                        intervals)  # fmt: skip


def fit_pulse_response(
    *data: Measurements, bootstrap: int = 200, rng: int | np.random.Generator | None = 0
) -> PulseResponseFit:
    """Fit every ramp of ``data`` (one or more files); each ramp's direction is the sign of its
    overall change of conductance. ``bootstrap`` resamples over the ramps (seeded by ``rng``)
    give the 90 % intervals of every parameter (0: none)."""
    if not data or not all(isinstance(d, Measurements) for d in data):
        raise InvalidParameterError("fit_pulse_response needs Measurements from calibration.io.")
    groups: dict[str, list[Any]] = {"potentiation": [], "depression": []}
    excluded: list[dict[str, str]] = []
    for d in data:
        for name, cycle, pulses, resistance in d.trains():
            ramp = f"{name}" + (f"/cycle{cycle}" if cycle else "")
            if len(data) > 1:
                ramp = f"{d.source}:{ramp}"
            if pulses.size < MIN_PULSES:
                excluded.append({"device": ramp, "reason": f"only {pulses.size} read(s); at least "
                                 f"{MIN_PULSES} needed"})  # fmt: skip
                continue
            g = 1.0 / resistance
            n = (pulses - pulses[0]).astype(np.float64)
            if not g.max() <= MAX_SPAN * g.min():
                excluded.append({"device": ramp, "reason": f"conductance spans more than a factor "
                                 f"{MAX_SPAN:g} within the ramp"})  # fmt: skip
                continue
            z = _change_z(n, g)
            if abs(z) < FLAT_Z:
                excluded.append({"device": ramp, "reason": f"flat: no significant change of "
                                 f"conductance ({z:+.1f} standard errors)"})  # fmt: skip
                continue
            fitted = _fit_ramp(n, g)
            if fitted is None:
                excluded.append({"device": ramp, "reason": "the fit did not converge"})
                continue
            if fitted[1] < MIN_RAMP_R2:
                excluded.append({"device": ramp,
                                 "reason": f"poor fit: R^2 = {fitted[1]:.3f} < {MIN_RAMP_R2:g}"})  # fmt: skip
                continue
            groups["potentiation" if z > 0 else "depression"].append((n, g, *fitted))
    bootstrap = check_int("bootstrap", bootstrap, "fit_pulse_response", 0, 100_000)
    gen = np.random.default_rng(rng)
    fits = {k: _fit_direction(k, v, bootstrap, gen) for k, v in groups.items() if v}
    if not fits:
        why = "; ".join(f"{e['device']}: {e['reason']}" for e in excluded[:3])
        raise InvalidParameterError(
            "no ramp could be fitted" + (f" ({len(excluded)} excluded: {why}"
                                         f"{' ...' if len(excluded) > 3 else ''})" if why else "")
        )  # fmt: skip
    ramps = {k: [(n, g) for n, g, _, _ in v] for k, v in groups.items() if v}
    return PulseResponseFit(fits, ", ".join(d.source for d in data), excluded, ramps)


#: Pulse counts at which :func:`compare_with_simulation` compares measured and simulated ramps.
COMPARE_AT = (1, 5, 20, 50, 100, 200, 400)


def compare_with_simulation(
    fit: PulseResponseFit, devices: int = 2000, rng: int | np.random.Generator | None = 0,
    at: tuple[int, ...] = COMPARE_AT,
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """Measured ramps against a population simulated from the fit.

    ``devices`` cells of :class:`devices.PulseResponseDevice` driven by the fit start at the
    median first conductance of a direction's measured ramps and take single pulses of that
    direction; at each pulse count of ``at`` that measured ramps reach, the 5/50/95 %
    quantiles of ``ln(G / G_start)`` of both, and the two-sample Kolmogorov-Smirnov distance
    between them (scipy ``ks_2samp``) with its p-value. Needs both directions (the device
    model does).
    """
    from scipy.stats import ks_2samp

    from devices import PulseResponseDevice
    from devices.params import PulseResponseParams

    if set(fit.directions) != {"potentiation", "depression"}:
        raise InvalidParameterError(
            "compare_with_simulation needs fitted potentiation and depression ramps; got "
            + ", ".join(sorted(fit.directions) or ["none"])
        )
    params = PulseResponseParams.from_fit_dict(fit.to_dict())
    gen = np.random.default_rng(rng)
    out: dict[str, list[dict[str, Any]]] = {}
    for direction, ramps in fit.ramps.items():
        start = float(np.median([g[0] for _, g in ramps]))
        start = min(max(start, params.g_min_s), params.g_max_s)
        cells = PulseResponseDevice(devices, params, g_init_s=start, rng=gen)
        sign = 1 if direction == "potentiation" else -1
        rows, done = [], 0
        for k in sorted(at):
            measured = np.array([math.log(g[np.searchsorted(n, k)] / g[0]) for n, g in ramps
                                 if n[-1] >= k and n[np.searchsorted(n, k)] == k])  # fmt: skip
            if measured.size < 5:
                break
            cells.apply_pulses(sign * (k - done))
            done = k
            simulated = np.log(cells.conductance() / start)
            q = [5, 50, 95]
            test = ks_2samp(measured, simulated)
            rows.append({"pulses": k, "ramps": int(measured.size),
                         "measured": np.percentile(measured, q).tolist(),
                         "simulated": np.percentile(simulated, q).tolist(),
                         "ks": float(test.statistic), "p": float(test.pvalue)})  # fmt: skip
        out[direction] = rows
    return out
