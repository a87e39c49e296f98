"""Numba kernel of the crossbar read-out: read noise, column ADCs and digital accumulation."""

from __future__ import annotations

import math

import numpy as np

from devices.support import (
    bits_to_float32,
    bits_to_float64,
    fill_normals,
    fill_normals32,
    jit,
    jit_parallel,
    prange,
)


@jit
def _digitize(current, s, qmax):
    """The ADC: round half away from zero to a multiple of ``s``, saturate at ``qmax`` codes
    (``s = 0``: an ideal ADC). Straight-line code, so the column loop stays SIMD."""
    code = min(math.floor(abs(current) / s + 0.5), qmax) if s > 0.0 else 0.0
    return math.copysign(code * s, current) if s > 0.0 else current


@jit_parallel
def read_out(mean, var, ref_mean, ref_var, col_tile, step, qmax, key, out_scale, out):
    """Digitize every tile's column currents and sum the row tiles.

    mean, var : (R, B, C) noiseless column currents and their read-noise variances (var may be
        empty: no noise); ref_mean, ref_var : (R, B, T) reference-column currents (T = 0: no
        reference column), subtracted from every column ``c`` of column tile ``col_tile[c]``
        with one shared noise draw; step : (R, C) ADC step (0: ideal ADC); qmax : largest code.
    out : (B, C) sum over row tiles of the digitized currents, times ``out_scale[b]``.
    The normals of row tile r and input b come from :func:`devices.support.fill_normals` at
    counter ``(r * B + b) * P`` with ``P = ceil((C + T) / 2)`` pairs: column c uses normal c,
    reference t normal ``C + t``.
    """
    _, n_b, n_c = mean.shape
    pairs = (n_c + ref_mean.shape[2] + 1) // 2
    for b in prange(n_b):
        _read_one(mean, var, ref_mean, ref_var, b, col_tile, step, qmax, key, b * pairs,
                  n_b * pairs, out_scale[b], out[b])  # fmt: skip


@jit
def _read_one(mean, var, ref_mean, ref_var, b, col_tile, step, qmax, key, first, stride, scale,
              acc):  # fmt: skip
    """Input vector b of :func:`read_out` (the normals of row tile r start at counter ``first +
    r * stride``). A function of its own: loops in the body of a ``prange`` loop are not
    compiled to SIMD code by numba."""
    n_r, _, n_c = mean.shape
    n_t = ref_mean.shape[2]
    noisy = var.size > 0
    z = np.zeros(2 * ((n_c + n_t + 1) // 2))  # this read's normals, drawn in a SIMD loop
    ref = np.zeros(max(n_t, 1))
    acc[:] = 0.0
    for r in range(n_r):
        if noisy:
            fill_normals(key, np.uint64(first + r * stride), z)
        for t in range(n_t):
            ref[t] = ref_mean[r, b, t]
            if noisy:
                ref[t] += math.sqrt(ref_var[r, b, t]) * z[n_c + t]
        m, s = mean[r, b], step[r]
        # separate loops per case: a branch inside would keep the column loop scalar
        if noisy and n_t == 0:
            v = var[r, b]
            for c in range(n_c):
                current = m[c] + math.sqrt(v[c]) * z[c]
                acc[c] += _digitize(current, s[c], qmax)
        elif noisy:
            v = var[r, b]
            for c in range(n_c):
                current = m[c] + math.sqrt(v[c]) * z[c] - ref[col_tile[c]]
                acc[c] += _digitize(current, s[c], qmax)
        elif n_t == 0:
            for c in range(n_c):
                acc[c] += _digitize(np.float64(m[c]), s[c], qmax)
        else:
            for c in range(n_c):
                acc[c] += _digitize(m[c] - ref[col_tile[c]], s[c], qmax)
    for c in range(n_c):
        acc[c] *= scale


@jit
def read_out32(terms, weights, var_bf16, step, inv_step, qmax, key, out_scale, out):
    """:func:`read_out` of the default read, in float32, from partial products.

    terms : (R, B, T * C) the T = 1 or 2 partial products of every row tile's columns (int32
        products of a fixed-point expansion, or float32 currents); weights : (R, T * C) float32,
        the column current is ``sum_t terms[r, b, t * C + c] * weights[r, t * C + c]`` (each
        product rounded to float32, then the float32 sum);
    var_bf16 : (R, B, C) the read-noise variances as bfloat16 bits (uint16); step : (R, C)
        float32 ADC steps (0: ideal ADC) and ``inv_step`` their float32 reciprocals; no
        reference column; out : (B, C) as in :func:`read_out`.
    The normals of input b are the pairs of :func:`devices.support.fill_normals32` from counter
    ``b * R * P`` (``P = ceil(C / 2)``): row tile r, column c uses normal ``r * 2P + c``. The ADC
    rounds ``|current| * inv_step`` in float32 (a multiplication: a division per column costs
    as much as the rest of the loop); the sum over row tiles is float64, in row-tile order
    (:func:`read_out32_tile` for each row tile in turn).
    """
    for r in range(var_bf16.shape[0]):  # row tile by row tile: the float64 sums in the same order
        read_out32_tile(r, var_bf16.shape[0], terms[r], weights[r], var_bf16[r], step[r],
                        inv_step[r], qmax, key, out_scale, out)  # fmt: skip


@jit_parallel
def read_out32_tile(r, n_r, terms, weights, var_bf16, step, inv_step, qmax, key, out_scale,
                    out):  # fmt: skip
    """Row tile ``r`` (of ``n_r``) of :func:`read_out32`, added to ``out``: ``terms`` (B, T * C),
    ``weights`` (T * C,), ``var_bf16`` (B, C), ``step``, ``inv_step`` (C,) are the tile's. Called
    for r = 0, 1, ..., n_r - 1 in turn (r = 0 clears ``out``, the last scales it), as
    :func:`read_out32` does; the integer read calls it right after each tile's product, while
    the partial products are still in cache, instead of reading all tiles' back at the end."""
    n_b, n_c = var_bf16.shape
    half = (n_c + 1) // 2
    pairs = n_r * half
    second = n_c if terms.shape[1] == 2 * n_c else 0
    no_weight = np.zeros(n_c, dtype=np.float32)
    for b in prange(n_b):
        high = np.empty(half, dtype=np.uint32)
        low = np.empty(half, dtype=np.uint32)
        z = np.empty(2 * half, dtype=np.float32)
        fill_normals32(key, np.uint64(b * pairs + r * half), high, low, z)
        acc = out[b]
        if r == 0:
            acc[:] = 0.0
        row = terms[b]
        w2 = weights[n_c : 2 * n_c] if second else no_weight
        _digitize_row32(row[:n_c], row[second : second + n_c], weights[:n_c], w2, var_bf16[b],
                        step, inv_step, np.float32(qmax), z[:n_c], acc)  # fmt: skip
        if r == n_r - 1:
            scale = out_scale[b]
            for c in range(n_c):
                acc[c] *= scale


@jit
def _digitize_row32(p1, p2, w1, w2, v, s, inv_s, qmax, z, acc):
    """One row tile's columns of :func:`read_out32`, added to ``acc`` (a loop of its own, on
    arrays indexed from 0: the form numba compiles to SIMD code). One term (``p2`` is ``p1``):
    the second product is skipped (its weight is 0: the same sum)."""
    two = p2.ctypes.data != p1.ctypes.data  # a loop invariant: LLVM takes it out of the loop
    for c in range(v.size):
        mean = np.float32(p1[c]) * w1[c]
        if two:
            mean += np.float32(p2[c]) * w2[c]
        # a bfloat16 is the upper half of the float32 of the same value
        sd = math.sqrt(bits_to_float32(np.int32(np.int32(v[c]) << np.int32(16))))
        current = mean + sd * z[c]
        code = min(np.floor(abs(current) * inv_s[c] + np.float32(0.5)), qmax)
        level = math.copysign(code * s[c], current) if s[c] > np.float32(0.0) else current
        acc[c] += np.float64(level)


@jit_parallel
def fixed_point_terms(dg, n_terms, codes, weights):
    """Each column of ``dg`` (rows, C) as ``n_terms`` int8 digits in base 254.

    ``dg[:, c] = a_c * sum_t codes[:, t * C + c] / 254**t + e`` with ``a_c = max |dg[:, c]| /
    127``, digits in [-127, 127] and ``|e| <= a_c / (2 * 254**(T - 1))`` (T = 3: 6.1e-8 of the
    column's largest entry, as float32 rounding); ``weights[t * C + c] = a_c / 254**t``.
    """
    rows, n_c = dg.shape
    for c in prange(n_c):
        top = 0.0
        for i in range(rows):
            top = max(top, abs(np.float64(dg[i, c])))
        a = top / 127.0 if top > 0.0 else 1.0
        for t in range(n_terms):
            weights[t * n_c + c] = a / 254.0**t
        for i in range(rows):
            rest = np.float64(dg[i, c]) / a
            for t in range(n_terms):
                digit = min(max(np.rint(rest), -127.0), 127.0)
                codes[i, t * n_c + c] = np.int8(digit)
                rest = (rest - digit) * 254.0


@jit
def input_scale(bits, wide, scale):
    """``scale[b] = max_i |x[b, i]|`` (the DAC's input range per vector) for ``x`` given as its
    integer bits ``bits`` (float32 as int32, or float64 as int64 with ``wide``); returns the
    number of rows with a non-finite entry (their ``scale`` is then meaningless). For IEEE
    numbers of one sign the order of the bits is the order of the values, and NaN and infinity
    lie above every finite number: an integer max, which compiles to SIMD code where a float max
    does not, finds both in one pass (numpy took two)."""
    mask = np.int64(0x7FFFFFFFFFFFFFFF) if wide else np.int64(0x7FFFFFFF)
    n_bad = 0
    for b in range(bits.shape[0]):
        top = _abs_bits_max(bits[b], mask)
        value = bits_to_float64(top) if wide else np.float64(bits_to_float32(np.int32(top)))
        scale[b] = value
        n_bad += np.int64(not (value < np.inf))
    return n_bad


@jit
def _abs_bits_max(row, mask):
    top = np.int64(0)
    for i in range(row.size):
        top = max(top, np.int64(row[i]) & mask)
    return top


@jit
def squares_over_batch(v, out):
    """``out[r, k] = sum_b v[r, b, k]**2`` summed in float64 in batch order (the energy
    estimate's input; ``np.square(v).sum(axis=1, dtype=np.float64)`` without the temporary)."""
    n_r, n_b, rows = v.shape
    for r in range(n_r):
        acc = out[r]
        acc[:] = 0.0
        for b in range(n_b):
            vb = v[r, b]
            for k in range(rows):
                acc[k] += np.float64(vb[k] * vb[k])  # squared in v's precision, as numpy


@jit_parallel
def dac_tiles(x, scale, levels, v_read, sigma2, v_out, v2_out, codes_out):
    """The input DAC, writing each row tile's voltages contiguously.

    ``x`` (B, in); ``scale`` (B,) the input magnitude mapped to ``v_read``; ``levels`` the
    largest code (0: an ideal DAC); ``v_out`` (R, B, tile_rows) the word-line voltages of row
    tile r (zero past the last input); ``v2_out`` the same shape holding ``sigma2 * v**2``, the
    factor of the read-noise variance (empty: no noise); ``codes_out`` the same shape (int8,
    ``levels <= 127``) holding the DAC codes (empty: not wanted). With ``u = clip(x / scale,
    -1, 1)`` (computed as ``x * (1 / scale)``), the code is ``rint(u * levels)`` (half to even)
    and ``v = code * (v_read / levels)``; an ideal DAC gives ``v = u * v_read``. No division per
    input: two per input made this the costliest step of a small layer's read.
    """
    n_b, n_in = x.shape
    n_r, _, rows = v_out.shape
    noisy = v2_out.size > 0
    codes = codes_out.size > 0
    volts_per_code = v_read / levels if levels > 0 else v_read
    for b in prange(n_b):  # each row tile's stretch by a function of its own: SIMD
        inv = 1.0 / scale[b]
        for r in range(n_r):
            stop = min((r + 1) * rows, n_in)
            _dac_row(x[b, r * rows : stop], inv, levels, volts_per_code, sigma2, v_out[r, b],
                     v2_out[r, b] if noisy else v2_out.ravel(),
                     codes_out[r, b] if codes else codes_out.ravel())  # fmt: skip


@jit
def _dac_row(x, inv_scale, levels, volts_per_code, sigma2, v, v2, codes):
    """One row tile's stretch of :func:`dac_tiles` (``v2``, ``codes`` empty: not wanted; the
    flags are loop invariants, which LLVM takes out of the loop)."""
    n = x.size
    noisy = v2.size > 0
    with_codes = codes.size > 0
    for k in range(n):
        u = min(max(np.float64(x[k]) * inv_scale, -1.0), 1.0)
        code = np.rint(u * levels) if levels > 0 else u
        vk = code * volts_per_code
        v[k] = vk
        if noisy:
            v2[k] = sigma2 * vk * vk
        if with_codes:
            codes[k] = np.int8(code)
    v[n:] = 0.0
    if noisy:
        v2[n:] = 0.0
    if with_codes:
        codes[n:] = 0


@jit
def adc_steps(dg3, sigmas, v_read, qmax, step):
    """ADC steps of differential tiles calibrated on the stored ``ΔG`` of row tile r's columns,
    written into ``step`` (R, C).

    Full scale ``sigmas * v_read * sqrt(sum_i dg3[r, i, j]**2 / 3)`` (``sigmas > 0``, the
    "sigma" range mode) or ``1.1 * v_read * sum_i |dg3[r, i, j]|`` (``sigmas = 0``, "max"), sums
    in row order in float64; step = full scale / ``qmax``, or 1e-30 for a column of zeros. The
    numpy expressions of ``TiledMatrix`` before this kernel, operation for operation."""
    n_r, rows, n_c = dg3.shape
    col_abs = np.empty(n_c)
    col_sq = np.empty(n_c)
    scale = sigmas * v_read if sigmas > 0.0 else 1.1 * v_read
    for r in range(n_r):
        col_abs[:] = 0.0
        col_sq[:] = 0.0
        for i in range(rows):
            row = dg3[r, i]
            for j in range(n_c):
                d = np.float64(row[j])
                col_abs[j] += abs(d)
                col_sq[j] += d * d
        for j in range(n_c):
            fs = scale * math.sqrt(col_sq[j] / 3.0) if sigmas > 0.0 else scale * col_abs[j]
            step[r, j] = fs / qmax if fs > 0.0 else 1e-30
