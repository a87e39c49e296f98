"""Numba kernel of the multi-level metaplastic factor (CPU tensors; see crossbar.optim)."""

from __future__ import annotations

import math

import numpy as np

from devices._jit import jit_parallel, prange


@jit_parallel
def multilevel_factor(w, delta, q, edges, meta, any_crossing, out):
    """``out[i]`` = the SPEC §4 attenuation of update ``delta[i]`` of hidden weight ``w[i]``.

    ``edges`` (K + 1 values) are the K - 1 thresholds ``(q[a] + q[a+1]) / 2`` with one level
    spacing added below the first and above the last: level j owns ``[edges[j], edges[j + 1])``.
    The level index is first estimated as if the edges were evenly spaced, then corrected by
    comparisons with the edges themselves, so it is exact for any levels and takes no search
    when they are evenly spaced (the usual linear allocation).
    """
    k = q.size
    e0 = edges[0]
    inv_step = k / (edges[k] - e0)
    for i in prange(w.size):
        x = np.float64(w[i])
        j = min(max(np.int64((x - e0) * inv_step), 0), k - 1)
        while j < k - 1 and x >= edges[j + 1]:
            j += 1
        while j > 0 and x < edges[j]:
            j -= 1
        up = delta[i] > 0
        lower = edges[j]
        upper = edges[j + 1]
        nxt = upper if up else lower
        new = min(j + 1, k - 1) if up else max(j - 1, 0)
        # blocked: no level beyond in that direction, or (toward_zero) the crossing would not
        # decrease |W_Q|
        blocked = new == j or (not any_crossing and not abs(q[new]) < abs(q[j]))
        # 1 - tanh^2(a) = sech^2(a) = 4 e / (1 + e)^2 with e = exp(-2a): one exp, no tanh
        e = math.exp(-2.0 * meta * abs(nxt - x) / (upper - lower))
        out[i] = 1.0 if blocked else 4.0 * e / ((1.0 + e) * (1.0 + e))
