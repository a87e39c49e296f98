"""Numba kernels of the device models. Private: call them through the public classes.

Every kernel loops over devices with ``prange``; a device's random numbers come from the
counter-based generator of :mod:`devices._rng` keyed by (call key, device index, sample index),
so the result is the same for any number of threads.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit, jit_inline, jit_parallel, prange
from ._math import exp
from ._rng import (
    _ALT,
    _G,
    _M32,
    _ONE,
    mix64,
    normal,
    normal_pair,
    normal_pair32,
    uniform,
    uniform_u16,
)

__all__ = [
    "PINK_BLOCK",
    "multilevel_program",
    "multilevel_read",
    "multilevel_reset",
    "multilevel_set",
    "weak_reset_code_layout_step",
    "weak_reset_step",
]


@jit
def _mean_log_r(t, m1, t_star, c1, m2):
    """Mean model ``ln(R/R0)`` after ``t >= 1`` pulses (docs/devices.md), in float64."""
    a1 = np.float64(m1)
    if t < t_star:
        return a1 * t + np.float64(c1)
    a2 = np.float64(m2)
    return a2 * t + np.float64(t_star) * (a1 - a2) + np.float64(c1)


#: Devices per block of the 1/f buffer (``h`` is stored block by block, see
#: :func:`weak_reset_step`); one block's state stays in L2 while it is worked on.
PINK_BLOCK = 16384


@jit_parallel
def weak_reset_step(
    apply, n_scalar, n_arr, read, out,
    m1, t_star, c1, m2, r0, rtn_amp,
    t, s, h, phase, wr_count,
    key_flip, key_pink, key_mag,
    p01_scalar, p10_scalar, p_up, p_down,
    use_rtn, use_pink, pink_w, pink_scale, all_filled,
):  # fmt: skip
    """Apply weak-RESET pulses and/or read resistances, in one pass over the population.

    apply : apply ``n_arr[i]`` pulses to device i (``n_scalar`` to all when ``n_arr`` is empty)
    read  : write R (ohm) to ``out``
    State updated in place: ``t`` (pulses since SET, int32), ``s`` (RTN state, uint8), ``h`` (the
    1/f buffer, uint16, shape ``(blocks, taps, PINK_BLOCK)``: device ``b * PINK_BLOCK + j`` keeps
    the sample of age a (0 = newest) in ``h[b, (phase[b] + a) % taps, j]``, 0 where no pulse has
    filled it), ``phase`` (int64, one per block), ``wr_count`` (int64 counter). ``all_filled``:
    the caller knows that every device has ``t >= taps`` (no per-block check needed).

    The layout is "structure of arrays" by blocks: the samples of one age are contiguous over the
    devices of a block, so every loop below runs over devices with the same operation in each
    lane (SIMD code). Each block's rows form a ring: a pulse to every device of a block moves
    the block's phase and overwrites one row, instead of shifting the whole buffer.

    The 1/f sum is exact: the sample stored as ``q`` has value ``(q + 1/2) / 65536`` and Kasdin's
    ``b_k = C(2k, k) / 4**k``, so with ``pink_w[a] = b_a * 4**(taps - 1)`` (an integer, held as
    float64) the sum over the filled ages is ``pink_scale * sum_a pink_w[a] * (q_a + 1/2)``, a sum
    of multiples of 1/2 below 2**52: exact in float64, in any order.
    """
    n_dev = t.size
    for b in prange(h.shape[0]):
        lo = b * PINK_BLOCK
        hi = min(lo + PINK_BLOCK, n_dev)
        _weak_reset_block(
            lo, apply, n_scalar, n_arr if n_arr.size == 0 else n_arr[lo:hi], read,
            out[lo:hi] if read else out, m1[lo:hi], t_star[lo:hi], c1[lo:hi], m2[lo:hi],
            r0[lo:hi], rtn_amp[lo:hi], t[lo:hi], s[lo:hi], h[b], phase[b:b + 1], wr_count[lo:hi],
            key_flip, key_pink, key_mag, p01_scalar, p10_scalar, p_up, p_down,
            use_rtn, use_pink, pink_w, pink_scale, all_filled,
        )  # fmt: skip


@jit
def _weak_reset_block(
    first, apply, n_scalar, n_arr, read, out,
    m1, t_star, c1, m2, r0, rtn_amp,
    t, s, h, phase, wr_count,
    key_flip, key_pink, key_mag,
    p01_scalar, p10_scalar, p_up, p_down,
    use_rtn, use_pink, pink_w, pink_scale, all_filled,
):  # fmt: skip
    """Devices ``first + i`` of :func:`weak_reset_step` (``phase``: the block's, a 1-element
    view). Views indexed from 0: in a ``prange`` body, or over an index that might be negative,
    numba loops stay scalar."""
    n = t.size
    taps = h.shape[0]
    if apply and n_arr.size == 0:
        if n_scalar > 0:
            _apply_same(first, n_scalar, t, s, h, phase, wr_count, key_flip, key_pink,
                        p01_scalar, p10_scalar, use_rtn, use_pink)  # fmt: skip
    elif apply:
        _apply_each(first, n_arr, t, s, h, phase, wr_count, key_flip, key_pink, p_up, p_down,
                    use_rtn, use_pink)  # fmt: skip
    if not read:
        return
    # multiples of 1/2 below 2**52 in float64: every product and partial sum is exact, so the
    # float multiply-adds (faster than 64-bit integer ones in SIMD) give the exact sum
    acc = np.empty(n)
    if use_pink:
        t_min = taps
        if not all_filled:  # the caller's bound does not say: look
            for i in range(n):
                t_min = min(t_min, np.int64(t[i]))
        if all_filled or t_min >= taps:  # every age filled (usual): no select, 5 rows a pass
            _pink_sum_filled(h, phase[0], pink_w, acc)
        else:
            acc[:] = 0.0
            for r in range(taps):  # row by row: every lane the same age, weight and operation
                a = (r - phase[0]) % taps
                w = pink_w[a]
                row = h[r]
                for i in range(n):
                    acc[i] += w * (np.float64(row[i]) + 0.5) if np.int64(t[i]) > a else 0.0
    else:
        acc[:] = 0.0
    ufirst = np.uint64(first)
    for i in range(n):  # the mean model (docs/devices.md) by selects, the noise terms, R
        rtn = 0.0
        if use_rtn:  # drawn for every device, used where the trap is occupied (no branch)
            ui = ufirst + np.uint64(i)
            u1 = uniform(key_mag, np.uint64(2) * ui)
            u2 = uniform(key_mag, np.uint64(2) * ui + np.uint64(1))
            rtn = np.float64(rtn_amp[i]) * u1 * u2 if s[i] == 1 else 0.0
        a1 = np.float64(m1[i])
        a2 = np.float64(m2[i])
        ts = np.float64(t_star[i])
        tf = np.float64(t[i])
        c = np.float64(c1[i])
        x = a1 * tf + c if tf < ts else a2 * tf + ts * (a1 - a2) + c
        x = (x + rtn) + acc[i] * pink_scale
        out[i] = np.float64(r0[i]) * exp(x if tf > 0.0 else 0.0)  # t = 0: R = R0 exactly


@jit
def _pink_sum_filled(h, phase, pink_w, acc):
    """``acc[i] = sum_a pink_w[a] (q_a + 1/2)`` when every age of every device is filled: ``acc``
    starts at ``sum_a pink_w[a] / 2``, then five rows are added per pass over it (fewer loads
    and stores of it). All terms are multiples of 1/2 below 2**52: the float sums are exact."""
    taps = h.shape[0]
    n = acc.size  # the last block's rows are longer than its devices
    half_total = 0.0
    for a in range(taps):
        half_total += 0.5 * pink_w[a]
    for i in range(n):
        acc[i] = half_total
    r = 0
    while r + 5 <= taps:
        w0, w1, w2 = (
            pink_w[(r - phase) % taps],
            pink_w[(r + 1 - phase) % taps],
            pink_w[(r + 2 - phase) % taps],
        )
        w3, w4 = pink_w[(r + 3 - phase) % taps], pink_w[(r + 4 - phase) % taps]
        h0, h1, h2, h3, h4 = h[r], h[r + 1], h[r + 2], h[r + 3], h[r + 4]
        for i in range(n):
            acc[i] += ((w0 * np.float64(h0[i]) + w1 * np.float64(h1[i]))
                       + (w2 * np.float64(h2[i]) + w3 * np.float64(h3[i]))
                       + w4 * np.float64(h4[i]))  # fmt: skip
        r += 5
    while r < taps:
        w = pink_w[(r - phase) % taps]
        row = h[r]
        for i in range(n):
            acc[i] += w * np.float64(row[i])
        r += 1


@jit
def _apply_same(first, n_pulses, t, s, h, phase, wr_count, key_flip, key_pink, p01, p10, use_rtn,
                use_pink):  # fmt: skip
    """``n_pulses`` pulses to every device of a block: loops over devices, no branch in them."""
    n = t.size
    taps = h.shape[0]
    ufirst = np.uint64(first)
    for i in range(n):
        if use_rtn:
            u = uniform(key_flip, ufirst + np.uint64(i))
            occupied = s[i] == 1
            flip = (u < p10) if occupied else (u < p01)
            s[i] = s[i] ^ np.uint8(flip)
        t[i] += n_pulses
        wr_count[i] += n_pulses
    if use_pink:
        m = min(n_pulses, taps)
        phase[0] = (phase[0] - m) % taps  # the ring turns by m: the m oldest rows are reused
        utaps = np.uint64(taps)
        for k in range(m):  # pulse k of the last m is the (m - 1 - k)-th newest
            dst = h[(phase[0] + m - 1 - k) % taps]
            for i in range(n):
                dst[i] = uniform_u16(key_pink, (ufirst + np.uint64(i)) * utaps + np.uint64(k))


@jit
def _apply_each(first, n_arr, t, s, h, phase, wr_count, key_flip, key_pink, p_up, p_down, use_rtn,
                use_pink):  # fmt: skip
    """Per-device pulse counts: one device at a time (the buffer shifts by a different amount
    for each), after turning the block's ring back to phase 0."""
    n = t.size
    taps = h.shape[0]
    if use_pink and phase[0] != 0:
        rows = h.copy()
        for a in range(taps):
            h[a] = rows[(phase[0] + a) % taps]
        phase[0] = 0
    utaps = np.uint64(taps)
    lam = 1.0 - p_up - p_down
    total = p_up + p_down
    pi_up = p_up / total if total > 0.0 else 0.0
    pi_down = p_down / total if total > 0.0 else 0.0
    for i in range(n):
        k_pulses = n_arr[i]
        if k_pulses <= 0:
            continue
        ui = np.uint64(first + i)
        if use_rtn:
            decay = 1.0 - lam**k_pulses
            u = uniform(key_flip, ui)
            if s[i] == 0:
                if u < pi_up * decay:
                    s[i] = 1
            elif u < pi_down * decay:
                s[i] = 0
        t[i] += k_pulses
        wr_count[i] += k_pulses
        if use_pink:
            m = min(k_pulses, taps)
            for a in range(taps - 1, m - 1, -1):
                h[a, i] = h[a - m, i]
            for k in range(m):
                h[m - 1 - k, i] = uniform_u16(key_pink, ui * utaps + np.uint64(k))


@jit_parallel
def weak_reset_code_layout_step(
    apply, n_scalar, n_arr, read, out,
    m1, t_star, c1, m2, r0, rtn_amp,
    t, line, wr_count,
    key_flip, key_pink, key_mag,
    p_up, p_down, pink_coef,
):  # fmt: skip
    """The released code's state layout (docs/devices.md): one delay line ``[r, P_0..P_14]`` per device.

    Every call steps every device, also those with 0 pulses: the RTN state is read as
    ``ceil(line[15])`` (the oldest pink sample), a new RTN value ``s' U_1 U_2 a`` is drawn, and the
    line shifts by ``n + 1`` (n fresh samples, then the previous RTN value, then the old samples).
    ``pink_coef[k] = alpha * b_k``. R is a function of the line, so reads draw nothing.
    """
    taps = line.shape[1] - 1
    utaps1 = np.uint64(taps + 1)
    per_device = n_arr.size == 0
    lam = 1.0 - p_up - p_down
    total = p_up + p_down
    pi_up = p_up / total if total > 0.0 else 0.0
    pi_down = p_down / total if total > 0.0 else 0.0
    for i in prange(t.size):
        ui = np.uint64(i)
        ti = np.int64(t[i])
        if apply:
            n = n_scalar if per_device else n_arr[i]
            decay = 1.0 - lam**n
            s = 1 if line[i, taps] > 0.0 else 0
            u = uniform(key_flip, ui)
            if s == 0:
                s = 1 if u < pi_up * decay else 0
            else:
                s = 0 if u < pi_down * decay else 1
            r_new = 0.0
            if s == 1:
                u1 = uniform(key_mag, np.uint64(2) * ui)
                u2 = uniform(key_mag, np.uint64(2) * ui + np.uint64(1))
                r_new = u1 * (u2 * np.float64(rtn_amp[i]))
            shift = min(n + 1, taps + 1)
            for j in range(taps, shift - 1, -1):
                line[i, j] = line[i, j - shift]
            for k in range(shift - 1):
                line[i, 1 + k] = uniform(key_pink, ui * utaps1 + np.uint64(k))
            line[i, 0] = r_new
            ti += n
            t[i] = ti
            wr_count[i] += n
        if read:
            if ti == 0:
                out[i] = r0[i]
            else:
                w = _mean_log_r(ti, m1[i], t_star[i], c1[i], m2[i])
                acc = 0.0
                for k in range(taps):
                    acc += pink_coef[k] * np.float64(line[i, 1 + k])
                w += np.float64(line[i, 0]) + acc
                out[i] = np.float64(r0[i]) * math.exp(w)


# -- multi-level 1T1R cells ---------------------------------------------------------------------
#
# Cell state: g_prog (conductance right after the last write, S), relaxes (1 after a SET, 0 after
# a RESET), stuck (0 none, 1 HRS, 2 LRS), the wear-out arrays and int64 counters. Counters of the
# random streams: (cell << 16 | iteration) << 6 | redraw. The standard normal that scales a
# programming's relaxation is keyed by (SET count, cell), so it is fixed from one programming to
# the next without being stored, and costs nothing when cells are only programmed.

_STUCK_NONE, _STUCK_HRS, _STUCK_LRS = 0, 1, 2
_U6 = np.uint64(6)
_U16 = np.uint64(16)
_U32 = np.uint64(32)


@jit
def _count_write(i, counter, set_count, reset_count, limit, failed, stuck, stuck_lrs):
    """Count one SET or RESET; the write that takes the cell past its limit wears it out."""
    counter[i] += 1
    if not failed[i] and set_count[i] + reset_count[i] > limit[i]:
        failed[i] = True
        stuck[i] = _STUCK_LRS if stuck_lrs[i] else _STUCK_HRS


@jit
def _set_draw(key, ctr, mu, sigma, lo, hi):
    """One SET's conductance: N(mu, sigma) truncated to [lo, hi] by rejection (exact), from
    the first normal of the pairs of draws ``(key ^ ALT, ctr * 64 + r)``."""
    base = ctr << _U6
    x = mu
    alt = key ^ _ALT
    for r in range(64):
        z, _ = normal_pair(mix64(alt + ((base | np.uint64(r)) + _ONE) * _G))
        x = mu + sigma * z
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)  # after 64 rejections (never seen in practice): clip


@jit
def _stuck_value(state, g, g_low, g_high):
    if state == _STUCK_HRS:
        return g_low
    if state == _STUCK_LRS:
        return g_high
    return g


#: Cells per parallel task of :func:`multilevel_program` (its scratch arrays stay in L1/L2).
PROGRAM_CHUNK = 512


@jit_parallel
def multilevel_program(cells, levels, iterations, converged, pops, state):
    """Program-and-verify: per iteration RESET, SET, verify read; accept ``|G_read - target| <= tol``.

    ``state``: the cells' arrays, keys and parameters, in the order of
    :func:`devices.multilevel.kernel_state` (level targets ``level_g`` and mean SET conductances
    ``level_means`` per level, then per cell ``d2d``, ``target_level``, ``g_prog``, ``relaxes``,
    ``stuck``, ``failed``, ``stuck_lrs``, ``limit``, the ``set``/``reset``/``verify`` counters,
    then ``offsets``, ``keys_set``, the parameters, ``refreshed``, ``growth``, ``keys_relax``,
    ``sigma_relax_s``); ``iterations`` (int32) and ``converged`` receive each cell's outcome.

    Cell ``cells[j]`` (``j`` itself when ``cells`` is empty) goes to level ``levels[j]``, whose
    target is ``level_g[level]``; its mean SET conductance is ``level_means[level] * d2d[cell]``
    (the compliance current chosen for the level, and the cell's D2D factor). Iteration ``it`` of
    cell number ``c`` takes one draw, ``(key, (c << 16) | it)``, whose float32 Box-Muller pair
    (:func:`devices._rng.normal_pair32`, within 2e-6 of the float64 pair) gives the SET's
    deviation and the verify read's noise; a
    SET outside ``[lo, hi]`` is drawn again by rejection (:func:`_set_draw`).

    The per-cell arrays may hold several populations back to back (a pool, see
    :class:`devices.multilevel.CellPool`): cell ``cells[j]`` then belongs to population
    ``pops[j]``, which starts at ``offsets[pops[j]]`` and draws with its own key ``keys_set[p]``
    and its own cell numbering, exactly as it would alone. ``pops`` empty: one population
    (``offsets = [0]``, one key).

    ``refreshed`` (float64, one entry per cell; empty: none) receives each programmed cell's
    conductance after relaxation with spread ``growth`` (:func:`multilevel_read` without read
    noise, keys ``keys_relax``), computed while the cell's state is still in cache.

    Cells run in rounds, one iteration of every cell still unverified per round: the draws and
    the acceptance test of a round are one SIMD loop over the cells (the per-cell loop, with its
    data-dependent exit, stays scalar and takes about 4x longer). Cells that could wear out
    during this programming, or are stuck, take the per-cell loop (:func:`_program_cell`), with
    the same draws.
    """
    n = levels.size
    for chunk in prange((n + PROGRAM_CHUNK - 1) // PROGRAM_CHUNK):
        start = chunk * PROGRAM_CHUNK
        program_segment(start, min(start + PROGRAM_CHUNK, n), cells, levels, iterations,
                        converged, pops, state)  # fmt: skip


@jit
def program_segment(start, stop, cells, levels, iterations, converged, pops, state):
    """:func:`multilevel_program` of entries ``start:stop`` of ``cells``, ``levels``,
    ``iterations``, ``converged`` and ``pops``, serially, for kernels of other modules that
    program the cells of a pool piece by piece (e.g. chunks of cells across crossbar arrays).
    ``state``: as for :func:`multilevel_program` (:meth:`devices.CellPool.program_state`)."""
    (level_g, level_means, d2d, target_level, g_prog, relaxes, stuck, failed, stuck_lrs, limit,
     set_count, reset_count, verify_count, offsets, keys_set, sigma_prog_s, g_max_s, lo, hi,
     tolerance, read_rel, max_iterations, g_stuck_low, g_stuck_high, refreshed, growth,
     keys_relax, sigma_relax_s) = state  # fmt: skip
    for first in range(start, stop, PROGRAM_CHUNK):
        _program_chunk(
            first, min(first + PROGRAM_CHUNK, stop), cells, levels, level_g, level_means, d2d,
            target_level, g_prog, relaxes, stuck, failed, stuck_lrs, limit, set_count,
            reset_count, verify_count, iterations, converged, pops, offsets, keys_set,
            sigma_prog_s, g_max_s, lo, hi, tolerance, read_rel, max_iterations, g_stuck_low,
            g_stuck_high, refreshed, growth, keys_relax, sigma_relax_s,
        )  # fmt: skip


@jit
def _program_chunk(
    start, stop, cells, levels, level_g, level_means, d2d, target_level, g_prog, relaxes, stuck,
    failed, stuck_lrs, limit, set_count, reset_count, verify_count, iterations, converged, pops,
    offsets, keys_set, sigma_prog_s, g_max_s, lo, hi, tolerance, read_rel, max_iterations,
    g_stuck_low, g_stuck_high, refreshed, growth, keys_relax, sigma_relax_s,
):  # fmt: skip
    """Cells ``start:stop`` of :func:`multilevel_program`."""
    refresh = refreshed.size > 0
    all_cells = cells.size == 0
    pooled = pops.size > 0
    m = stop - start
    # the cells still being programmed, compacted after every round
    where = np.empty(m, dtype=np.int64)
    keys = np.empty(m, dtype=np.uint64)
    numbers = np.empty(m, dtype=np.uint64)
    mus = np.empty(m)
    sigmas = np.empty(m)
    targets = np.empty(m)
    g_set = np.empty(m)
    z_read = np.empty(m)
    accept = np.empty(m, dtype=np.uint8)
    high = np.empty(m, dtype=np.uint32)
    low = np.empty(m, dtype=np.uint32)
    n_act = 0
    if not all_cells:
        _touch(cells[start:stop], d2d, target_level, g_prog, relaxes, stuck, failed, limit,
               set_count, reset_count, verify_count, refreshed, mus)  # fmt: skip
    for j in range(start, stop):
        i = np.int64(j) if all_cells else cells[j]
        p = pops[j] if pooled else 0
        level = levels[j]
        target_level[i] = level
        mu = level_means[level] * d2d[i]
        sigma = sigma_prog_s * math.sqrt(g_max_s / mu)
        number = np.uint64(i - offsets[p]) << _U16
        # writes this cell can still take before wearing out
        margin = limit[i] - set_count[i] - reset_count[i] if not failed[i] else np.int64(2**62)
        if stuck[i] != _STUCK_NONE or 2 * max_iterations > margin:
            it, ok, g = _program_cell(i, keys_set[p], number, mu, sigma, level_g[level], margin,
                                      g_prog[i], stuck, failed, stuck_lrs, lo, hi, tolerance,
                                      read_rel, max_iterations, g_stuck_low, g_stuck_high)  # fmt: skip
            _finish(i, j, it, ok, g, g_prog, relaxes, set_count, reset_count, verify_count,
                    iterations, converged)  # fmt: skip
            continue
        where[n_act] = j
        keys[n_act] = keys_set[p]
        numbers[n_act] = number
        mus[n_act] = mu
        sigmas[n_act] = sigma
        targets[n_act] = level_g[level]
        n_act += 1
    it = 0
    while n_act > 0:
        it += 1
        _round(keys[:n_act], numbers[:n_act], np.uint64(it), mus[:n_act], sigmas[:n_act],
               targets[:n_act], lo, hi, tolerance, read_rel, g_set[:n_act], z_read[:n_act],
               accept[:n_act], high[:n_act], low[:n_act])  # fmt: skip
        kept = 0
        for a in range(n_act):
            g = g_set[a]
            ok = accept[a] == 1
            if not (lo <= g <= hi):  # rare: the SET left the window; drawn again
                g = _set_draw(keys[a], numbers[a] | np.uint64(it), mus[a], sigmas[a], lo, hi)
                ok = abs(g * (1.0 + read_rel * z_read[a]) - targets[a]) <= tolerance
            j = where[a]
            if ok or it >= max_iterations:
                i = np.int64(j) if all_cells else cells[j]
                _finish(i, j, it, ok, g, g_prog, relaxes, set_count, reset_count, verify_count,
                        iterations, converged)  # fmt: skip
            else:
                where[kept] = j
                keys[kept] = keys[a]
                numbers[kept] = numbers[a]
                mus[kept] = mus[a]
                sigmas[kept] = sigmas[a]
                targets[kept] = targets[a]
                kept += 1
        n_act = kept
    if refresh:  # the chunk's cells are in cache now; the relaxation in a SIMD pass
        for k in range(m):
            j = start + k
            i = np.int64(j) if all_cells else cells[j]
            p = pops[j] if pooled else 0
            where[k] = i
            keys[k] = keys_relax[p]
            numbers[k] = _relax_counter(set_count[i], i - offsets[p])
            mus[k] = g_prog[i]
        # every cell of the chunk was just programmed (it relaxes); stuck cells get their stuck
        # value below
        _relax_many(keys[:m], numbers[:m], mus[:m], growth, sigma_relax_s, g_max_s, targets[:m])
        for k in range(m):
            i = where[k]
            state = stuck[i]
            refreshed[i] = (targets[k] if state == _STUCK_NONE
                            else _stuck_value(state, 0.0, g_stuck_low, g_stuck_high))  # fmt: skip


@jit
def _relax_many(keys, numbers, g, growth, sigma_relax_s, g_max_s, out):
    """:func:`_relax_one` of many cells in one SIMD loop."""
    for k in range(g.size):
        out[k] = _relax_one(keys[k], numbers[k], g[k], growth, sigma_relax_s, g_max_s)


@jit_inline
def _relax_one(key, number, g, growth, sigma_relax_s, g_max_s):
    """Conductance ``g`` after relaxation with spread factor ``growth`` (0: none), from the
    first normal of draw ``(key, number)``; straight-line code (SIMD in loops)."""
    z, _ = normal_pair(mix64(key + (number + _ONE) * _G))
    on = (growth > 0.0) & (g > 0.0)
    step = z * sigma_relax_s * math.sqrt(g_max_s / (g if on else 1.0)) * growth
    return max(g + step if on else g, 0.0)


@jit
def _relax_counter(set_count, local):
    """Counter of a cell's relaxation draw: its SET count (one draw per programming) and its
    number in its population."""
    return (np.uint64(set_count) << _U32) | np.uint64(local)


@jit
def _touch(cells, d2d, target_level, g_prog, relaxes, stuck, failed, limit, set_count,
           reset_count, verify_count, refreshed, scratch):  # fmt: skip
    """Load the state of scattered cells into cache ahead of use: a loop of independent loads
    keeps many cache misses in flight at once, where the programming loop, with its long body
    per cell, waits for them a few at a time (1.3x faster for sparse writes to large pools).
    The loaded values are summed into ``scratch`` (overwritten later) so that none is dropped."""
    refresh = refreshed.size > 0
    for k in range(cells.size):
        i = cells[k]
        x = (d2d[i] + g_prog[i] + np.float64(target_level[i] + relaxes[i] + stuck[i] + failed[i]
             + limit[i] + set_count[i] + reset_count[i] + verify_count[i]))  # fmt: skip
        scratch[k] = x + refreshed[i] if refresh else x


@jit
def _round(keys, numbers, it, mus, sigmas, targets, lo, hi, tolerance, read_rel, g_set, z_read,
           accept, high, low):  # fmt: skip
    """One program-and-verify iteration of every listed cell: SET draw, verify read, test (SIMD;
    ``high``, ``low``: uint32 scratch)."""
    for a in range(keys.size):  # the hash in 64-bit lanes, the pairs in 32-bit ones
        h = mix64(keys[a] + ((numbers[a] | it) + _ONE) * _G)
        high[a] = np.uint32(h >> _U32)
        low[a] = np.uint32(h & _M32)
    for a in range(keys.size):
        z_set, z = _draw_pair(high[a], low[a])
        g = mus[a] + sigmas[a] * z_set
        g_set[a] = g
        z_read[a] = z
        inside = (abs(g * (1.0 + read_rel * z) - targets[a]) <= tolerance) & (lo <= g) & (g <= hi)
        accept[a] = np.uint8(inside)


@jit_inline
def _draw_pair(high, low):
    """SET deviation and verify-read noise of one program-and-verify iteration: the float32
    Box-Muller pair of the draw's halves (:func:`devices._rng.normal_pair32`), as float64."""
    z_set, z = normal_pair32(high, low)
    return np.float64(z_set), np.float64(z)


@jit
def _program_cell(i, key, number, mu, sigma, target, margin, g, stuck, failed, stuck_lrs, lo, hi,
                  tolerance, read_rel, max_iterations, g_stuck_low, g_stuck_high):  # fmt: skip
    """Program-and-verify of one cell that is stuck or may wear out meanwhile (the same draws as
    the rounds of :func:`_program_chunk`); returns (iterations, converged, conductance)."""
    state = stuck[i]
    it = 0
    ok = False
    while it < max_iterations:
        it += 1
        if 2 * it > margin:  # this iteration's RESET or SET wears the cell out
            failed[i] = True
            state = _STUCK_LRS if stuck_lrs[i] else _STUCK_HRS
            margin = np.int64(2**62)
        ctr = number | np.uint64(it)
        h = mix64(key + (ctr + _ONE) * _G)
        z_set, z = _draw_pair(np.uint32(h >> _U32), np.uint32(h & _M32))
        if state == _STUCK_NONE:
            g = mu + sigma * z_set
            if not (lo <= g <= hi):
                g = _set_draw(key, ctr, mu, sigma, lo, hi)
        else:
            g = _stuck_value(state, g, g_stuck_low, g_stuck_high)
        if abs(g * (1.0 + read_rel * z) - target) <= tolerance:
            ok = True
            break
    stuck[i] = state
    return it, ok, g


@jit
def _finish(i, j, it, ok, g, g_prog, relaxes, set_count, reset_count, verify_count, iterations,
            converged):  # fmt: skip
    """Write the outcome of programming cell ``i`` (entry ``j`` of the call)."""
    set_count[i] += it
    reset_count[i] += it
    verify_count[i] += it
    g_prog[i] = g
    relaxes[i] = 1
    iterations[j] = it
    converged[j] = ok


@jit_parallel
def multilevel_set(
    cells, means, g_prog, relaxes, stuck, failed, stuck_lrs, limit, set_count, reset_count,
    key_set, sigma_prog_s, g_max_s, lo, hi, g_stuck_low, g_stuck_high,
):  # fmt: skip
    """One SET per selected cell at mean conductance ``means[j]``."""
    for j in prange(cells.size):
        i = cells[j]
        _count_write(i, set_count, set_count, reset_count, limit, failed, stuck, stuck_lrs)
        if stuck[i] == _STUCK_NONE:
            sigma = sigma_prog_s * math.sqrt(g_max_s / means[j])
            g_prog[i] = _set_draw(key_set, np.uint64(i) << _U16, means[j], sigma, lo, hi)
        else:
            g_prog[i] = _stuck_value(stuck[i], g_prog[i], g_stuck_low, g_stuck_high)
        relaxes[i] = 1


@jit_parallel
def multilevel_reset(cells, g_prog, relaxes, stuck, failed, stuck_lrs, limit, set_count,
                     reset_count, g_hrs, g_stuck_low, g_stuck_high):  # fmt: skip
    """One RESET per selected cell: back to the HRS conductance."""
    for j in prange(cells.size):
        i = cells[j]
        _count_write(i, reset_count, set_count, reset_count, limit, failed, stuck, stuck_lrs)
        g_prog[i] = _stuck_value(stuck[i], g_hrs, g_stuck_low, g_stuck_high)
        relaxes[i] = 0


@jit
def _growth(t, relax_reference_s, relax_log_growth):
    """Relaxation spread at ``t`` s after programming, relative to the reference time."""
    return 1.0 + relax_log_growth * math.log10(t / relax_reference_s) if t > 0 else 0.0


@jit
def _relaxed(i, local, growth, g_prog, relaxes, stuck, set_count, key_relax, sigma_relax_s,
             g_max_s, g_stuck_low, g_stuck_high):  # fmt: skip
    """Conductance of cell ``i`` (number ``local`` in its population) after relaxation with
    spread factor ``growth``; the draw is keyed by the cell's SET count, i.e. its programming
    (:func:`_relax_one`, the same arithmetic as the SIMD pass of :func:`multilevel_program`)."""
    state = stuck[i]
    if state != _STUCK_NONE:
        return _stuck_value(state, 0.0, g_stuck_low, g_stuck_high)
    return _relax_one(key_relax, _relax_counter(set_count[i], local), g_prog[i],
                      growth if relaxes[i] == 1 else 0.0, sigma_relax_s, g_max_s)  # fmt: skip


@jit_parallel
def multilevel_read(
    out, t_scalar, t_arr, g_prog, relaxes, stuck, set_count, read_count, keys_read, keys_relax,
    sigma_relax_s, g_max_s, relax_reference_s, relax_log_growth, read_rel,
    g_stuck_low, g_stuck_high, cells, count, pops, offsets,
):  # fmt: skip
    """Read cells ``t`` seconds after their programming: relaxation, then read noise.

    ``cells`` lists the cells to read (empty: all); ``out[i]`` is written for each read cell ``i``;
    ``count``: add one to ``read_count`` of each read cell. Pools of populations as in
    :func:`multilevel_program` (``pops[k]``: population of ``cells[k]``; empty: one population).
    """
    per_cell = t_arr.size > 0
    subset = cells.size > 0
    pooled = pops.size > 0
    n = cells.size if subset else out.size
    for k in prange(n):
        i = cells[k] if subset else np.int64(k)
        p = pops[k] if pooled else 0
        local = i - offsets[p]
        growth = _growth(t_arr[i] if per_cell else t_scalar, relax_reference_s, relax_log_growth)
        g = _relaxed(i, local, growth, g_prog, relaxes, stuck, set_count, keys_relax[p],
                     sigma_relax_s, g_max_s, g_stuck_low, g_stuck_high)  # fmt: skip
        if count:
            read_count[i] += 1
        # no noise (the engine's noiseless conductances): no draw either
        out[i] = (g * (1.0 + read_rel * normal(keys_read[p], np.uint64(local))) if read_rel != 0.0
                  else g)  # fmt: skip
