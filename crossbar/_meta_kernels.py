"""Numba kernels of the metaplastic rules on CPU tensors (see crossbar.optim): the multi-level
attenuation factor, and the whole MetaplasticAdam step fused into one pass."""

from __future__ import annotations

import math

import numpy as np

from devices.support import bits_to_float32, exp, jit, jit_parallel, prange

_CHUNK = 4096  # elements per parallel task: the scratch row stays in L1


@jit
def _sech2(a):
    """``1 - tanh^2(x) = 4 e / (1 + e)^2`` for the exponent ``a = -2x`` (``e = exp(a)``): one exp,
    no tanh; ``a = 0`` gives exactly 1. Straight-line code (:func:`devices.support.exp`)."""
    e = exp(a)
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


_F_LOG2E = np.float32(1.4426950408889634)
_F_LN2_HI = np.float32(0.693145751953125)  # ln 2 split: k * _F_LN2_HI is exact for |k| < 2**9
_F_LN2_LO = np.float32(1.4286068203094173e-06)
_F_A_MIN = np.float32(-87.0)  # exp(-87) is still a normal float32
_F1 = np.float32(1.0)
_F4 = np.float32(4.0)
_FHALF = np.float32(0.5)


@jit
def _sech2_32(a):
    """:func:`_sech2` in float32 for ``a <= 0`` (16 SIMD lanes): ``e = exp(a)`` by Cody-Waite
    reduction to ``|r| <= ln(2)/2`` and the degree-7 Taylor polynomial (truncation < 1e-8),
    ``2**k`` from its bits; within 4e-7 of the float64 factor (tested). Below ``a = -87`` the
    factor is below 1e-37 and taken at -87."""
    x = max(a, _F_A_MIN)
    k = np.floor(x * _F_LOG2E + _FHALF)
    r = (x - k * _F_LN2_HI) - k * _F_LN2_LO
    p = np.float32(1.0 / 5040.0)
    p = p * r + np.float32(1.0 / 720.0)
    p = p * r + np.float32(1.0 / 120.0)
    p = p * r + np.float32(1.0 / 24.0)
    p = p * r + np.float32(1.0 / 6.0)
    p = p * r + _FHALF
    p = p * r + _F1
    p = p * r + _F1
    e = p * bits_to_float32(np.int32((np.int32(k) + np.int32(127)) << np.int32(23)))
    return _F4 * e / ((_F1 + e) * (_F1 + e))


@jit
def _exponents(w, delta, sign, q, edges, shape, meta, any_crossing, arg):
    """``arg[i] = -2 meta d / I`` for weight ``w[i]`` and update ``sign * delta[i]`` (0 where the
    update is not attenuated). ``shape`` (from ``crossbar.optim._level_edges``): ``shape[0] = 1``
    when the levels are evenly spaced, ``shape[1]``, ``shape[2]``: the first interval from which
    a step up, and the last from which a step down, does not decrease ``|W_Q|``; ``shape[3]``:
    the margin (in spacings) around an edge where arithmetic may pick the wrong interval.

    Evenly spaced levels take a SIMD loop that finds the interval by arithmetic and counts the
    weights within the margin of an edge; only if there are any, a second pass does those again
    by :func:`_exponent_exact` (the tables), so every interval is the tables' one (distances
    agree to rounding). (A per-weight flag array instead of the count kept the loop scalar:
    2.5x slower.)"""
    if shape[0] == 0:
        for i in range(arg.size):
            arg[i] = _exponent_exact(np.float64(w[i]), sign * delta[i] > 0, q, edges, meta,
                                     any_crossing)  # fmt: skip
        return
    k = q.size
    e0 = edges[0]
    inv_width = k / (edges[k] - e0)
    top = np.float64(k - 1)
    # steps that do not decrease |W_Q| start at these intervals (outer steps have no level)
    free_up = top if any_crossing else np.float64(shape[1])
    free_down = 0.0 if any_crossing else np.float64(shape[2])
    margin = shape[3]
    n_near = 0
    for i in range(arg.size):
        t = (np.float64(w[i]) - e0) * inv_width
        j = min(max(np.floor(t), 0.0), top)
        frac = t - j  # beyond the outer edges: < 0 or > 1, the distance to the last threshold
        up = sign * delta[i] > 0
        ahead = 1.0 - frac if up else frac
        free = (j >= free_up) if up else (j <= free_down)
        arg[i] = 0.0 if free else -2.0 * meta * ahead
        n_near += np.int64(min(abs(frac), abs(1.0 - frac)) < margin)
    if n_near == 0:
        return
    for i in range(arg.size):
        t = (np.float64(w[i]) - e0) * inv_width
        frac = t - min(max(np.floor(t), 0.0), top)
        if min(abs(frac), abs(1.0 - frac)) < margin:
            arg[i] = _exponent_exact(np.float64(w[i]), sign * delta[i] > 0, q, edges, meta,
                                     any_crossing)  # fmt: skip


@jit
def _exponent_exact(x, up, q, edges, meta, any_crossing):
    """One exponent of :func:`_exponents` from the tables: the interval by comparisons with the
    edges themselves (exact for any levels)."""
    k = q.size
    e0 = edges[0]
    j = min(max(np.int64((x - e0) * (k / (edges[k] - e0))), 0), k - 1)
    while j < k - 1 and x >= edges[j + 1]:
        j += 1
    while j > 0 and x < edges[j]:
        j -= 1
    lower = edges[j]
    width = edges[j + 1] - lower
    d = abs(lower + width - x) if up else abs(lower - x)  # to the threshold ahead
    new = min(j + 1, k - 1) if up else max(j - 1, 0)
    # not attenuated: no level beyond in that direction, or (toward_zero) the crossing would not
    # decrease |W_Q|
    if new == j or (not any_crossing and abs(q[new]) >= abs(q[j])):
        return 0.0
    return -2.0 * meta * d / width


@jit_parallel
def multilevel_factor(w, delta, q, edges, shape, meta, any_crossing, out):
    """``out[i]`` = the multi-level attenuation (docs/training.md) of update ``delta[i]`` of hidden weight ``w[i]``.

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
        _factor_chunk(w[start:stop], delta[start:stop], q, edges, shape, meta, any_crossing,
                      out[start:stop])  # fmt: skip


@jit
def _factor_chunk(w, delta, q, edges, shape, meta, any_crossing, out):
    """One chunk of :func:`multilevel_factor` (a function of its own: see :func:`_adam_chunk`)."""
    arg = np.empty(w.size)
    _exponents(w, delta, 1.0, q, edges, shape, meta, any_crossing, arg)
    for i in range(w.size):
        out[i] = _sech2(arg[i])


#: ``mode`` of :func:`metaplastic_adam_step`.
PLAIN, BINARY, MULTILEVEL, NORMALIZED = 0, 1, 2, 3


@jit_parallel
def metaplastic_adam_step(p, grad, m, v, beta1, beta2, eps, step_size, weight_decay, meta, mode,
                          q, edges, shape, any_crossing, single):  # fmt: skip
    """One metaplastic Adam step in place, fused (CPU, contiguous 1-D views of one tensor each).

    ``g = grad + weight_decay p``; Adam's moments ``m``, ``v``; ``u = m / (sqrt(v) + eps)``;
    ``p -= step_size * u * f`` with ``f`` the metaplastic attenuation: 1 (``mode`` PLAIN),
    ``1 - tanh^2(meta |p|)`` where ``sign(p) m > 0`` (BINARY, Laborieux et al. 2021), the
    interval factor of :func:`multilevel_factor` for the update ``-u`` (MULTILEVEL), or the
    normalized multi-level factor ``1 - tanh^2(meta |p| / Q_max)`` (NORMALIZED; ``shape`` then
    holds ``[1 / Q_max, lowest threshold, highest threshold, 0]``: with ``any_crossing`` only
    the steps outward from the outer intervals are free, else only the steps that do not
    decrease ``|p|``; the caller multiplies ``step_size`` by ``Q_max``). The same operations
    as ``MetaplasticAdam``'s tensor path, in one pass over memory instead of about a dozen.
    ``single``: the weights are float32, and ``f`` is evaluated in float32 (:func:`_sech2_32`).
    """
    n = p.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        start = c * _CHUNK
        stop = min(start + _CHUNK, n)
        _adam_chunk(p[start:stop], grad[start:stop], m[start:stop], v[start:stop], beta1, beta2,
                    eps, step_size, weight_decay, meta, mode, q, edges, shape,
                    any_crossing, single)  # fmt: skip


@jit
def _adam_chunk(p, grad, m, v, beta1, beta2, eps, step_size, weight_decay, meta, mode, q, edges,
                shape, any_crossing, single):  # fmt: skip
    """One chunk of :func:`metaplastic_adam_step`, on views of the chunk indexed from 0. Loops
    over ``start + i`` or inside a ``prange`` body stay scalar in numba (the index might be
    negative, and the wrap-around check it then needs blocks SIMD code)."""
    if single:  # float32 tensors: Adam in float32, as torch's own (16 SIMD lanes, not 8)
        u32 = np.empty(p.size, dtype=np.float32)
        _moments32(p, grad, m, v, beta1, beta2, eps, weight_decay, u32)
        _apply_update(p, m, u32, step_size, meta, mode, q, edges, shape, any_crossing, single)
    else:
        u64 = np.empty(p.size)
        _moments64(p, grad, m, v, beta1, beta2, eps, weight_decay, u64)
        _apply_update(p, m, u64, step_size, meta, mode, q, edges, shape, any_crossing, single)


@jit
def _apply_update(p, m, u, step_size, meta, mode, q, edges, shape, any_crossing, single):
    """``p -= step_size * u * f`` with the attenuation ``f`` of ``mode``."""
    n = p.size
    if mode == PLAIN:
        for i in range(n):
            p[i] -= step_size * u[i]
        return
    if single and mode != MULTILEVEL:  # float32 weights: exponents and factor in float32
        a32 = np.empty(n, dtype=np.float32)
        _exponents32(p, m, meta, mode, shape, any_crossing, a32)
        _update32(p, u, step_size, a32)
        return
    arg = np.zeros(n)
    if mode == BINARY:
        for i in range(n):
            x = np.float64(p[i])
            toward_zero = x * np.float64(m[i]) > 0.0
            arg[i] = -2.0 * meta * abs(x) if toward_zero else 0.0
    elif mode == MULTILEVEL:  # the update is -u
        _exponents(p, u, -1.0, q, edges, shape, meta, any_crossing, arg)
    else:
        _normalized_exponents(p, m, shape[0], shape[1], shape[2], meta, any_crossing, arg)
    # separate straight loops per stage and mode: a branch inside keeps a loop scalar
    if single:
        a32 = np.empty(n, dtype=np.float32)
        for i in range(n):
            a32[i] = np.float32(arg[i])
        _update32(p, u, step_size, a32)
    else:
        for i in range(n):
            p[i] -= step_size * (u[i] * _sech2(arg[i]))


@jit
def _exponents32(p, m, meta, mode, shape, any_crossing, a32):
    """The BINARY and NORMALIZED exponents of :func:`_apply_update`, computed in float64 and
    stored rounded to float32 (as the float64 exponents are before :func:`_sech2_32`), without a
    float64 array between (loops over float32 arrays take twice the SIMD lanes)."""
    if mode == BINARY:
        for i in range(p.size):
            x = np.float64(p[i])
            toward_zero = x * np.float64(m[i]) > 0.0
            a32[i] = np.float32(-2.0 * meta * abs(x)) if toward_zero else np.float32(0.0)
        return
    arg = np.zeros(p.size)
    _normalized_exponents(p, m, shape[0], shape[1], shape[2], meta, any_crossing, arg)
    for i in range(p.size):
        a32[i] = np.float32(arg[i])


@jit
def _update32(p, u, step_size, a32):
    """``p -= step_size * u * (1 - tanh^2)`` with the factor from the float32 exponents ``a32``
    (overwritten): the factor in its own SIMD loop, then the update."""
    for i in range(p.size):
        a32[i] = _sech2_32(a32[i])
    for i in range(p.size):
        p[i] -= step_size * (u[i] * a32[i])


@jit
def _normalized_exponents(p, m, inv_qmax, lowest, highest, meta, any_crossing, arg):
    """``arg[i] = -2 meta |p[i]| / Q_max`` where the update ``-u`` (the sign of ``-m``) is
    attenuated, else 0 (see :func:`metaplastic_adam_step`)."""
    scale = -2.0 * meta * inv_qmax
    if any_crossing:  # free: outward from the outer intervals
        for i in range(p.size):
            x = np.float64(p[i])
            mi = np.float64(m[i])
            free = (x >= highest and mi < 0.0) or (x < lowest and mi > 0.0)
            arg[i] = 0.0 if free else scale * abs(x)
    else:  # attenuated: the update decreases |p|
        for i in range(p.size):
            x = np.float64(p[i])
            arg[i] = scale * abs(x) if x * np.float64(m[i]) > 0.0 else 0.0


@jit
def _moments64(p, grad, m, v, beta1, beta2, eps, weight_decay, u):
    """Adam's moments in place and ``u = m / (sqrt(v) + eps)``, in float64."""
    c1, c2 = 1.0 - beta1, 1.0 - beta2
    for i in range(p.size):
        g = grad[i] + weight_decay * p[i]
        m[i] = beta1 * m[i] + c1 * g
        v[i] = beta2 * v[i] + c2 * g * g
    for i in range(p.size):  # from the moments as stored
        u[i] = m[i] / (math.sqrt(v[i]) + eps)


@jit
def _moments32(p, grad, m, v, beta1, beta2, eps, weight_decay, u):
    """:func:`_moments64` in float32 arithmetic (float32 tensors; 0.5 -> 0.18 ms per 400k
    weights here)."""
    b1, b2 = np.float32(beta1), np.float32(beta2)
    c1, c2 = np.float32(1.0 - beta1), np.float32(1.0 - beta2)
    e, wd = np.float32(eps), np.float32(weight_decay)
    for i in range(p.size):
        g = grad[i] + wd * p[i]
        m[i] = b1 * m[i] + c1 * g
        v[i] = b2 * v[i] + c2 * g * g
    for i in range(p.size):
        u[i] = m[i] / (np.sqrt(v[i]) + e)
