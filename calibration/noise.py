"""RTN and 1/f noise of the weak-RESET model, estimated from the residuals of the mean-model fits.

The estimator is a pooled **variogram** of the residuals at lags measured in pulses,

.. math:: \\hat V(L) = \\frac{\\sum_{\\text{pairs}} (r_j - r_i)^2}{2\\,\\#\\text{pairs}},
          \\qquad t_j - t_i = L,

so it works on any read schedule (every pulse, every 5th pulse, irregular). Increments over a
few pulses are blind to what the piecewise-linear mean fit absorbs (slow drifts, the slow part
of the RTN), which biased the earlier lag-autocovariance estimator (1/f amplitude +36 %, RTN
amplitude -63 % on a synthetic population). With the model of Majumdar et al. (IEEE TED 2021;
docs/devices.md): ``w_pink = alpha sum_k b_k h_k`` (h ~ U[0, 1), a fresh sample per pulse) and
``w_RTN = s a U1 U2`` (s the trap state, re-drawn factor U1 U2 at every read), the variogram of a
device with RTN amplitude ``a`` is linear in ``alpha^2`` and ``a^2``:

.. math::

    V(L) = \\frac{\\alpha^2}{12} \\Big(\\sum_k b_k^2 - \\sum_k b_k b_{k+L}\\Big)
         + a^2 \\Big(\\frac{\\pi \\bar q_{ij}}{9}
         - \\frac{\\pi \\bar q_i\\,(\\pi + (1 - \\pi)\\lambda^L)}{16}\\Big)

with ``pi = p_up / (p_up + p_down)``, ``lam = 1 - p_up - p_down``, ``P(s_t = 1) = pi q_t``,
``q_t = 1 - lam^t`` (the trap starts empty after SET), and, over the pairs of reads at lag L,
``bar q_ij`` the mean of ``(q_i + q_j) / 2`` and ``bar q_i`` that of ``q_i`` (the trap still
filling makes the variogram rise faster than a stationary telegraph's). Pooled over
devices the second term carries ``E[a^2]``; a non-negative least-squares fit over the lags
1..:data:`MAX_LAG` gives ``alpha^2`` and ``E[a^2]``, and ``a ~ U(0, a_max)`` (the model's
family) gives ``a_max = sqrt(3 E[a^2])``. The switching probabilities are not identifiable from
a variogram at the lengths of measured trains (their correlation time, ~360 pulses, is the scale
the mean fit absorbs): they are kept from the base parameters.

The noise also has a mean, ``alpha/2 sum_{k < min(t, taps)} b_k + E[a]/4 pi (1 - lam^t)``, which
the mean fit would otherwise take into ``c1`` and ``m1`` (the RTN part rises over ~360 pulses):
:func:`noise_mean` gives it, and the weak-RESET fit subtracts it from every train
(calibration.fit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from devices.weak_reset import kasdin_coefficients

__all__ = ["MAX_LAG", "NoiseEstimate", "Variogram", "estimate_noise", "model_variogram",
           "noise_mean"]  # fmt: skip

#: Largest lag of the variogram, in pulses: well past the 1/f filter (15 taps), well short of the
#: RTN correlation time.
MAX_LAG = 40


@dataclass(frozen=True)
class NoiseEstimate:
    """The fitted noise: 1/f amplitude, RTN amplitude bound and mean, and what they rest on."""

    pink_alpha: float
    rtn_amplitude_max: float
    rtn_amplitude_mean: float
    lags: int  # lags of the variogram with data
    pairs: int  # pairs of reads behind it


class Variogram:
    """Per-device sums of squared residual increments by lag (pulses), for pooling and the
    bootstrap over devices."""

    def __init__(self, n_devices: int, max_lag: int = MAX_LAG) -> None:
        shape = (n_devices, max_lag + 1)
        self.sums = np.zeros(shape)
        self.counts = np.zeros(shape)
        # per lag, sums over the pairs (i, j) of q = 1 - lam^t (the trap's filling since SET):
        # (q_i + q_j) / 2 and q_i, for the RTN term's exact weights on this schedule
        self.q_mean = np.zeros(shape)
        self.q_first = np.zeros(shape)
        self.max_lag = max_lag

    def add(self, k: int, t: np.ndarray, r: np.ndarray, lam: float) -> None:
        """Device ``k``: reads at pulses ``t`` (sorted, >= 1) with residuals ``r``."""
        size = self.max_lag + 1
        q = 1.0 - lam ** t.astype(np.float64)
        for j in range(1, min(self.max_lag, t.size - 1) + 1):
            dt = t[j:] - t[:-j]
            keep = dt <= self.max_lag
            if not keep.any():
                break  # sorted reads: larger index offsets only reach larger lags
            d = r[j:][keep] - r[:-j][keep]
            lag = dt[keep].astype(np.int64)
            qi, qj = q[:-j][keep], q[j:][keep]
            self.sums[k] += np.bincount(lag, weights=d * d, minlength=size)
            self.counts[k] += np.bincount(lag, minlength=size)
            self.q_mean[k] += np.bincount(lag, weights=0.5 * (qi + qj), minlength=size)
            self.q_first[k] += np.bincount(lag, weights=qi, minlength=size)


def _basis(gram: Variogram, taps: int, p_up: float, p_down: float,
           rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                               np.ndarray]:  # fmt: skip
    """Lags with data, the pooled variogram there, its pair counts and the two model terms."""
    sums = gram.sums[rows].sum(axis=0)
    counts = gram.counts[rows].sum(axis=0)
    lags = np.flatnonzero(counts[1:] > 0) + 1
    v = sums[lags] / (2.0 * np.maximum(counts[lags], 1))
    b = kasdin_coefficients(taps)
    pad = np.concatenate([b, np.zeros(gram.max_lag + 1)])
    cross = np.array([float(np.dot(b, pad[lag : lag + taps])) for lag in lags])
    g_pink = (float(b @ b) - cross) / 12.0
    total = p_up + p_down
    pi = p_up / total if total > 0 else 0.0
    lam = 1.0 - total
    n = np.maximum(counts[lags], 1)
    q_mean = gram.q_mean[rows].sum(axis=0)[lags] / n
    q_first = gram.q_first[rows].sum(axis=0)[lags] / n
    persist = pi + (1.0 - pi) * lam ** lags.astype(np.float64)  # P(s_j = 1 | s_i = 1)
    g_rtn = pi * q_mean / 9.0 - pi * q_first * persist / 16.0
    return lags, v, counts[lags], g_pink, g_rtn


def model_variogram(gram: Variogram, params: object) -> tuple[np.ndarray, ...]:
    """Lags, the pooled variogram, and the model's total, 1/f and RTN variograms for the
    fitted ``params`` (a :class:`devices.WeakResetParams`), for plots."""
    lags, v, _, g_pink, g_rtn = _basis(gram, params.pink_taps, params.rtn_p_up_per_pulse,
                                       params.rtn_p_down_per_pulse, slice(None))  # fmt: skip
    a_max = params.rtn_amplitude.loc + params.rtn_amplitude.scale
    pink = params.pink_alpha**2 * g_pink
    rtn = a_max**2 / 3.0 * g_rtn
    return lags, v, pink + rtn, pink, rtn


def estimate_noise(
    gram: Variogram,
    taps: int,
    p_up: float,
    p_down: float,
    devices: np.ndarray | None = None,
) -> NoiseEstimate:
    """Non-negative least squares of the pooled variogram (module docstring); ``devices``
    selects (with repeats, for a bootstrap) the devices pooled."""
    rows = slice(None) if devices is None else devices
    lags, v, counts, g_pink, g_rtn = _basis(gram, taps, p_up, p_down, rows)
    if lags.size == 0:
        return NoiseEstimate(0.0, 0.0, 0.0, 0, 0)
    w = np.sqrt(counts)  # each lag weighted by its number of pairs
    design = np.column_stack([g_pink, g_rtn]) * w[:, None]
    (alpha2, a2), _ = nnls(design, v * w)
    a_max = math.sqrt(3.0 * a2)
    return NoiseEstimate(math.sqrt(alpha2), a_max, a_max / 2.0, int(lags.size), int(counts.sum()))


def noise_mean(
    t: np.ndarray, pink_alpha: float, rtn_amplitude_mean: float, taps: int, p_up: float,
    p_down: float,
) -> np.ndarray:  # fmt: skip
    """Mean of the model's noise in ln(R/R0) after ``t`` pulses (module docstring)."""
    t = np.asarray(t, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(kasdin_coefficients(taps))])
    pink = 0.5 * pink_alpha * csum[np.clip(t, 0, taps).astype(np.int64)]
    total = p_up + p_down
    rtn = 0.0
    if total > 0:
        rtn = 0.25 * rtn_amplitude_mean * p_up / total * (1.0 - (1.0 - total) ** t)
    return pink + rtn
