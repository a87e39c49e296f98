"""Numba kernel of the multi-level metaplastic factor (CPU tensors; see crossbar.optim)."""

from __future__ import annotations

import math

import numpy as np

from devices._jit import jit_parallel, prange


@jit_parallel
def multilevel_factor(w, delta, q, meta, any_crossing, out):
    """``out[i]`` = the SPEC §4 attenuation of update ``delta[i]`` of hidden weight ``w[i]``."""
    k = q.size
    for i in prange(w.size):
        x = np.float64(w[i])
        # j = number of thresholds (q[a] + q[a+1]) / 2 that are <= x: the nearest level
        lo, hi = 0, k - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if x >= 0.5 * (q[mid] + q[mid + 1]):
                lo = mid + 1
            else:
                hi = mid
        j = lo
        up = delta[i] > 0
        if (up and j == k - 1) or (not up and j == 0):
            out[i] = 1.0
            continue
        new = j + 1 if up else j - 1
        if not any_crossing and not abs(q[new]) < abs(q[j]):
            out[i] = 1.0
            continue
        nxt = 0.5 * (q[j] + q[j + 1]) if up else 0.5 * (q[j - 1] + q[j])
        lower = 0.5 * (q[j - 1] + q[j]) if j > 0 else 0.5 * (q[0] + q[1]) - (q[1] - q[0])
        upper = (
            0.5 * (q[j] + q[j + 1])
            if j < k - 1
            else 0.5 * (q[k - 2] + q[k - 1]) + (q[k - 1] - q[k - 2])
        )
        # 1 - tanh^2(a) = sech^2(a) = 4 e / (1 + e)^2 with e = exp(-2a): one exp, no tanh
        e = math.exp(-2.0 * meta * abs(nxt - x) / (upper - lower))
        out[i] = 4.0 * e / ((1.0 + e) * (1.0 + e))
