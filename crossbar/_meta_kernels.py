"""Numba kernels of the metaplastic rules on CPU tensors (see crossbar.optim): the multi-level
attenuation factor, and the whole MetaplasticAdam step fused into one pass."""

from __future__ import annotations

import math

import numpy as np

from devices._jit import jit, jit_parallel, prange
from devices._math import exp

_CHUNK = 4096  # elements per parallel task: the scratch row stays in L1


@jit
def _sech2(a):
    """``1 - tanh^2(x) = 4 e / (1 + e)^2`` for the exponent ``a = -2x`` (``e = exp(a)``): one exp,
    no tanh; ``a = 0`` gives exactly 1. Straight-line code (:func:`devices._math.exp`)."""
    e = exp(a)
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


@jit
def _exponents(w, delta, q, edges, meta, any_crossing, arg):
    """``arg[i] = -2 meta d / I`` for weight ``w[i]`` and update ``delta[i]`` (0 where the update
    is not attenuated): the part with per-element table lookups, kept apart from the SIMD part."""
    k = q.size
    e0 = edges[0]
    inv_step = k / (edges[k] - e0)
    for i in range(arg.size):
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
        arg[i] = 0.0 if free else -2.0 * meta * d / width


@jit_parallel
def multilevel_factor(w, delta, q, edges, meta, any_crossing, out):
    """``out[i]`` = the SPEC §4 attenuation of update ``delta[i]`` of hidden weight ``w[i]``.

    ``edges`` (K + 1 values) are the K - 1 thresholds ``(q[a] + q[a+1]) / 2`` with one level
    spacing added below the first and above the last: level j owns ``[edges[j], edges[j + 1])``.
    The level index is first estimated as if the edges were evenly spaced, then corrected by
    comparisons with the edges themselves, so it is exact for any levels and takes no search
    when they are evenly spaced (the usual linear allocation). ``1 - tanh^2`` is evaluated in a
    second, SIMD loop (:func:`_sech2`); an update that is not attenuated gets exponent 0, i.e.
    exactly 1.
    """
    n = w.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        start = c * _CHUNK
        stop = min(start + _CHUNK, n)
        _factor_chunk(w[start:stop], delta[start:stop], q, edges, meta, any_crossing,
                      out[start:stop])  # fmt: skip


@jit
def _factor_chunk(w, delta, q, edges, meta, any_crossing, out):
    """One chunk of :func:`multilevel_factor` (a function of its own: see :func:`_adam_chunk`)."""
    arg = np.empty(w.size)
    _exponents(w, delta, q, edges, meta, any_crossing, arg)
    for i in range(w.size):
        out[i] = _sech2(arg[i])


#: ``mode`` of :func:`metaplastic_adam_step`.
PLAIN, BINARY, MULTILEVEL = 0, 1, 2


@jit_parallel
def metaplastic_adam_step(p, grad, m, v, beta1, beta2, eps, step_size, weight_decay, meta, mode,
                          q, edges, any_crossing):  # fmt: skip
    """One metaplastic Adam step in place, fused (CPU, contiguous 1-D views of one tensor each).

    ``g = grad + weight_decay p``; Adam's moments ``m``, ``v``; ``u = m / (sqrt(v) + eps)``;
    ``p -= step_size * u * f`` with ``f`` the metaplastic attenuation: 1 (``mode`` PLAIN),
    ``1 - tanh^2(meta |p|)`` where ``sign(p) m > 0`` (BINARY, SPEC §3), or the multi-level factor
    of :func:`multilevel_factor` for the update ``-u`` (MULTILEVEL, SPEC §4). The same operations
    as ``MetaplasticAdam``'s tensor path, in one pass over memory instead of about a dozen.
    """
    n = p.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        start = c * _CHUNK
        stop = min(start + _CHUNK, n)
        _adam_chunk(p[start:stop], grad[start:stop], m[start:stop], v[start:stop], beta1, beta2,
                    eps, step_size, weight_decay, meta, mode, q, edges, any_crossing)  # fmt: skip


@jit
def _adam_chunk(p, grad, m, v, beta1, beta2, eps, step_size, weight_decay, meta, mode, q, edges,
                any_crossing):  # fmt: skip
    """One chunk of :func:`metaplastic_adam_step`, on views of the chunk indexed from 0. Loops
    over ``start + i`` or inside a ``prange`` body stay scalar in numba (the index might be
    negative, and the wrap-around check it then needs blocks SIMD code)."""
    n = p.size
    c1, c2 = 1.0 - beta1, 1.0 - beta2
    u = np.empty(n)
    arg = np.zeros(n)
    # separate straight loops per stage and mode: a branch inside keeps a loop scalar
    for i in range(n):
        g = grad[i] + weight_decay * p[i]
        m[i] = beta1 * m[i] + c1 * g
        v[i] = beta2 * v[i] + c2 * g * g
    for i in range(n):  # from the moments as stored (float32 rounds there)
        u[i] = m[i] / (math.sqrt(v[i]) + eps)
    if mode == BINARY:
        for i in range(n):
            x = np.float64(p[i])
            toward_zero = x * np.float64(m[i]) > 0.0
            arg[i] = -2.0 * meta * abs(x) if toward_zero else 0.0
    elif mode == MULTILEVEL:
        _exponents(p, -u, q, edges, meta, any_crossing, arg)
    if mode == PLAIN:
        for i in range(n):
            p[i] -= step_size * u[i]
    else:
        for i in range(n):
            p[i] -= step_size * (u[i] * _sech2(arg[i]))
