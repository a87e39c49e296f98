"""Numba kernel of the multi-level metaplastic factor (CPU tensors; see crossbar.optim)."""

from __future__ import annotations

import numpy as np

from devices._jit import jit, jit_parallel, prange
from devices._math import exp

_CHUNK = 4096  # elements per parallel task: the scratch row stays in L1


@jit
def _exponents(w, delta, q, edges, meta, any_crossing, start, stop, arg):
    """``arg[i - start] = -2 meta d / I`` (0 where the update is not attenuated), for i in
    [start, stop): the part with per-element table lookups, kept apart from the SIMD part."""
    k = q.size
    e0 = edges[0]
    inv_step = k / (edges[k] - e0)
    for i in range(start, stop):
        x = np.float64(w[i])
        j = min(max(np.int64((x - e0) * inv_step), 0), k - 1)
        while j < k - 1 and x >= edges[j + 1]:
            j += 1
        while j > 0 and x < edges[j]:
            j -= 1
        up = np.int64(delta[i] > 0)
        lower = edges[j]
        width = edges[j + 1] - lower
        d = abs(lower + up * width - x)  # to the threshold ahead
        new = min(max(j + 2 * up - 1, 0), k - 1)
        # not attenuated: no level beyond in that direction, or (toward_zero) the crossing would
        # not decrease |W_Q|; bitwise operators, not and/or: no branch on random data
        free = (new == j) | ((not any_crossing) & (abs(q[new]) >= abs(q[j])))
        arg[i - start] = 0.0 if free else -2.0 * meta * d / width


@jit_parallel
def multilevel_factor(w, delta, q, edges, meta, any_crossing, out):
    """``out[i]`` = the SPEC §4 attenuation of update ``delta[i]`` of hidden weight ``w[i]``.

    ``edges`` (K + 1 values) are the K - 1 thresholds ``(q[a] + q[a+1]) / 2`` with one level
    spacing added below the first and above the last: level j owns ``[edges[j], edges[j + 1])``.
    The level index is first estimated as if the edges were evenly spaced, then corrected by
    comparisons with the edges themselves, so it is exact for any levels and takes no search
    when they are evenly spaced (the usual linear allocation). ``1 - tanh^2(a) = 4 e / (1 + e)^2``
    with ``e = exp(-2a)`` is evaluated in a second, SIMD loop (:func:`devices._math.exp`); an
    update that is not attenuated gets ``a = 0``, i.e. exactly 1.
    """
    n = w.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        start = c * _CHUNK
        stop = min(start + _CHUNK, n)
        arg = np.empty(stop - start)
        _exponents(w, delta, q, edges, meta, any_crossing, start, stop, arg)
        for i in range(stop - start):
            e = exp(arg[i])
            out[start + i] = 4.0 * e / ((1.0 + e) * (1.0 + e))
