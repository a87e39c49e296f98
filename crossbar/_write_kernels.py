"""Numba kernels of writing for tiled matrices of multi-level cells: the level each weight maps
to (``weight_levels``), write-on-change — which cells a new weight matrix changes, their programming in chunks across arrays
(``devices.support.program_segment``), and for differential pairs the in-place update of the
read maps at the written cells; and the write of ideal devices."""

from __future__ import annotations

import numpy as np

from devices.support import PROGRAM_CHUNK as _CHUNK  # cells per parallel task
from devices.support import float32_bits, jit, jit_parallel, prange, program_segment

#: ``side`` of an array in a tiled matrix's geometry: G+ of a pair, G- of a pair, or single
#: devices with the reference column last.
POSITIVE, NEGATIVE, WITH_REFERENCE = 0, 1, 2


@jit_parallel
def write_on_change(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, geometry, offsets,
                    ref_level, target, scan, scan_levels, counts, bounds, cells, levels, pops,
                    iterations, converged, state, scratch):  # fmt: skip
    """Write-on-change of a tiled matrix of single devices with a reference column, in one
    call (differential pairs: :func:`write_pairs_on_change`): the cells whose level for ``w``
    differs from ``target`` (the cells' target levels as int16, updated here), found array by
    array (:func:`_changed_in_array`, into ``scan``/``scan_levels``, ``counts``), gathered into
    ``cells``, ``levels``, ``pops`` (array ``a``'s at ``bounds[a]:bounds[a + 1]``), then their
    program-and-verify and refresh in chunks across arrays (``devices.support.program_segment``
    with the pool's ``state``; ``iterations``, ``converged`` alongside ``cells``). ``scratch``:
    int16 (arrays, columns, rows + padding), kept by the caller. Returns the number of cells
    written."""
    n_arrays = geometry.shape[0]
    for a in prange(n_arrays):
        r0, c0, rows, n_out, _ = geometry[a]
        start, stop = offsets[a], offsets[a + 1]
        counts[a] = _changed_in_array(w, r0, c0, rows, n_out, w_range, g_zero, g_per_weight, l0,
                                      inv_step, k_max, ref_level, target[start:stop],
                                      scan[start:stop], scan_levels[start:stop], start,
                                      scratch[a])  # fmt: skip
    bounds[0] = 0
    for a in range(n_arrays):
        bounds[a + 1] = bounds[a] + counts[a]
    for a in prange(n_arrays):
        first, n = bounds[a], counts[a]
        cells[first : first + n] = scan[offsets[a] : offsets[a] + n]
        levels[first : first + n] = scan_levels[offsets[a] : offsets[a] + n]
        pops[first : first + n] = a
    total = bounds[n_arrays]
    for chunk in prange((total + _CHUNK - 1) // _CHUNK):
        first = chunk * _CHUNK
        program_segment(first, min(first + _CHUNK, total), cells, levels, iterations, converged,
                        pops, state)  # fmt: skip
        for k in range(first, min(first + _CHUNK, total)):
            target[cells[k]] = levels[k]
    return total


@jit
def _changed_in_array(w, r0, c0, rows, n_out, w_range, g_zero, g_per_weight, l0, inv_step, k_max,
                      ref_level, target, cells, levels, start, by_column):  # fmt: skip
    """One array of :func:`write_on_change` (its own cells as views indexed from 0): every
    cell's level first, along the rows of ``w`` into the column-major scratch ``by_column``
    (int16, kept by the caller: fresh 100-kB allocations are page faults every call; contiguous
    1-D views: SIMD), the reference column at ``ref_level``; then the comparison in cell order
    (with a branch: 3x faster here than branch-free stores, even with half the cells
    changing)."""
    cols = n_out + 1
    for c in range(n_out):
        _levels_of_column(w[c0 + c][r0 : r0 + rows], w_range, g_zero, g_per_weight, l0, inv_step,
                          k_max, by_column[c, :rows])  # fmt: skip
    by_column[n_out, :] = ref_level
    n = 0
    for r in range(rows):
        base = r * cols
        for c in range(cols):
            lv = by_column[c, r]
            if lv != target[base + c]:
                cells[n] = start + base + c
                levels[n] = np.int64(lv)
                n += 1
    return n


@jit
def _levels_of_column(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, out):
    for r in range(w.size):
        x = min(max(w[r], -w_range), w_range)
        out[r] = np.int16(_level(g_zero + x * g_per_weight, l0, inv_step, k_max))


@jit_parallel
def write_pairs_on_change(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, tile_rows,
                          per_tile, n_col_tiles, geometry, offsets, targets, wanted, row_counts,
                          row_bounds, cells, levels, pops, dg_index, iterations, converged,
                          state, g, dg3, sq3, sq_bits, update):  # fmt: skip
    """:func:`write_on_change` for differential pairs, scanning in the weights' own layout.

    ``targets`` (2, out, in) int16 holds the levels the pair of weight (o, i) was last written
    to (G+, G-; updated here), ``wanted`` the same shape as scratch: every weight's two levels
    are computed and compared in one SIMD pass over contiguous rows (a scan array by array reads
    each weight twice and the targets in another order), and a row with a change is walked again
    right away, while in L1, to list its cells (pooled index, level, array, and the position
    ``i * out + o`` of its entry in the read maps) in its own segment of the lists (``2 in``
    entries from ``2 in o``: ``cells`` and the others hold ``2 out in``, every cell of the
    pool); the segments are then moved into one list. (Walking the rows after the scan read 3 MB
    of levels again: 0.3 ms at 784 x 512.) Then program-and-verify and refresh in chunks, and
    with ``update`` the read maps at those entries. Returns the number of cells written."""
    n_out, n_in = w.shape
    for o in prange(n_out):
        count = _scan_row(w[o], w_range, g_zero, g_per_weight, l0, inv_step, k_max,
                          targets[0, o], targets[1, o], wanted[0, o], wanted[1, o])  # fmt: skip
        row_counts[o] = count
        if count > 0:  # listed at once, while the row is in L1, in the row's own segment
            ci = o // per_tile
            _list_row(o, ci, o - ci * per_tile, n_out, tile_rows, n_col_tiles, geometry, offsets,
                      targets[0, o], targets[1, o], wanted[0, o], wanted[1, o], o * 2 * n_in,
                      cells, levels, pops, dg_index)  # fmt: skip
    # the rows' segments moved down into one list, in row order (a move never overtakes)
    row_bounds[0] = 0
    for o in range(n_out):
        first, count = row_bounds[o], row_counts[o]
        src = o * 2 * n_in
        if first != src:
            for k in range(count):
                cells[first + k] = cells[src + k]
                levels[first + k] = levels[src + k]
                pops[first + k] = pops[src + k]
                dg_index[first + k] = dg_index[src + k]
        row_bounds[o + 1] = first + count
    total = row_bounds[n_out]
    for chunk in prange((total + _CHUNK - 1) // _CHUNK):
        first = chunk * _CHUNK
        program_segment(first, min(first + _CHUNK, total), cells, levels, iterations, converged,
                        pops, state)  # fmt: skip
    if update:
        dg = dg3.reshape(-1, n_out).ravel()
        sq = sq3.reshape(-1, n_out).ravel()
        bits = sq_bits.size > 0
        sb = sq_bits.reshape(-1, n_out).ravel() if bits else sq_bits.ravel()
        for chunk in prange((total + _CHUNK - 1) // _CHUNK):
            for k in range(chunk * _CHUNK, min((chunk + 1) * _CHUNK, total)):
                a = pops[k]
                pos = a - (a & 1)  # a pair's arrays are consecutive, G+ first
                local = cells[k] - offsets[a]
                gp = g[offsets[pos] + local]
                gn = g[offsets[pos + 1] + local]
                e = dg_index[k]  # both cells of a pair may write it: the same values
                dg[e] = gp - gn
                sq[e] = gp * gp + gn * gn
                if bits:
                    sb[e] = _bfloat16_bits(sq[e])
    return total


@jit
def _list_row(o, ci, c, n_out, tile_rows, n_col_tiles, geometry, offsets, held_p, held_n,
              wanted_p, wanted_n, k, cells, levels, pops, dg_index):  # fmt: skip
    """The cells of weight row ``o`` whose level changed, listed from position ``k`` (pooled
    index, level, array, entry of the read maps); their held levels updated."""
    n_in = wanted_p.size
    n4 = n_in - n_in % 4
    for side in range(2):
        held = held_p if side == 0 else held_n
        new = wanted_p if side == 0 else wanted_n
        # four levels per 64-bit word compared at once: few of them change
        held4 = held[:n4].view(np.int64)
        new4 = new[:n4].view(np.int64)
        for q in range(n4 // 4):
            if new4[q] != held4[q]:
                k = _list_changed(o, ci, c, side, n_out, tile_rows, n_col_tiles, geometry,
                                  offsets, held, new, 4 * q, 4 * q + 4, k, cells, levels, pops,
                                  dg_index)  # fmt: skip
        k = _list_changed(o, ci, c, side, n_out, tile_rows, n_col_tiles, geometry, offsets,
                          held, new, n4, n_in, k, cells, levels, pops, dg_index)  # fmt: skip


@jit
def _list_changed(o, ci, c, side, n_out, tile_rows, n_col_tiles, geometry, offsets, held, new,
                  start, stop, k, cells, levels, pops, dg_index):  # fmt: skip
    """The entries ``start:stop`` of one side of :func:`_list_row`; returns the next ``k``."""
    for i in range(start, stop):
        lv = new[i]
        if lv != held[i]:
            ri = i // tile_rows
            a = (ri * n_col_tiles + ci) * 2 + side
            cells[k] = offsets[a] + (i - ri * tile_rows) * geometry[a, 3] + c
            levels[k] = np.int64(lv)
            pops[k] = a
            dg_index[k] = i * n_out + o
            held[i] = lv
            k += 1
    return k


@jit
def _scan_row(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, held_p, held_n, wanted_p,
              wanted_n):  # fmt: skip
    """Both levels of every weight of one row into ``wanted_p``, ``wanted_n``; the number of
    levels that differ from ``held_p``, ``held_n`` (one straight loop over contiguous arrays:
    SIMD; with the two levels interleaved in one array it ran 4x slower)."""
    n = 0
    for i in range(w.size):
        x = min(max(np.float64(w[i]), -w_range), w_range)
        p = np.int16(_level(g_zero + max(x, 0.0) * g_per_weight, l0, inv_step, k_max))
        q = np.int16(_level(g_zero + max(-x, 0.0) * g_per_weight, l0, inv_step, k_max))
        wanted_p[i] = p
        wanted_n[i] = q
        n += np.int64(p != held_p[i]) + np.int64(q != held_n[i])
    return n


@jit
def _bfloat16_bits(x):
    """The bfloat16 bits of ``x`` rounded to float32 then to nearest even, as torch converts."""
    u = np.uint32(float32_bits(np.float32(x)))
    rounding = np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))
    return np.uint16((u + rounding) >> np.uint32(16))


@jit_parallel
def write_ideal(w, w_range, lo, hi, g_ref, g_per_weight, geometry, offsets, out):
    """Ideal devices set to the conductances of weights ``w`` (out, in; float32 or float64,
    clipped to ``±w_range`` in float64), every array at once: array ``a`` (``geometry`` as in
    :func:`write_on_change`) writes ``out[offsets[a]:offsets[a + 1]]``, row-major; G+ =
    ``lo + max(w, 0) g``, G- = ``lo + max(-w, 0) g``, single devices ``g_ref + w g`` with the
    reference column at ``g_ref``; all clipped to ``[lo, hi]`` (the arithmetic of the numpy
    path it replaces)."""
    for a in prange(geometry.shape[0]):
        r0, c0, rows, n_out, side = geometry[a]
        cols = n_out + (side == WITH_REFERENCE)
        part = out[offsets[a] : offsets[a + 1]]
        for c in range(n_out):
            wc = w[c0 + c]
            for r in range(rows):
                x = min(max(np.float64(wc[r0 + r]), -w_range), w_range)
                if side == POSITIVE:
                    g = lo + max(x, 0.0) * g_per_weight
                elif side == NEGATIVE:
                    g = lo + max(-x, 0.0) * g_per_weight
                else:
                    g = g_ref + x * g_per_weight
                part[r * cols + c] = min(max(g, lo), hi)
        if side == WITH_REFERENCE:
            for r in range(rows):
                part[r * cols + n_out] = min(max(g_ref, lo), hi)


# -- level mapping: weights to the conductance levels their cells are programmed to ----------
@jit_parallel
def weight_levels(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, differential, first,
                  second):  # fmt: skip
    """Level indices of the devices that store ``w`` (out, in), in the same layout.

    Differential pairs: ``first`` holds G+'s level for ``g_zero + max(w, 0) * g_per_weight``,
    ``second`` G-'s for ``max(-w, 0)``; single devices: ``first`` the level of ``g_zero + w *
    g_per_weight`` (``second`` unused). Weights are clipped to ``±w_range``; the nearest of evenly
    spaced levels ``l0 + k / inv_step`` is ``rint((g - l0) * inv_step)`` clipped to ``[0, k_max]``,
    the same arithmetic as ``MultiLevelRRAM.nearest_level``.
    """
    for o in prange(w.shape[0]):
        _levels_row(w[o], w_range, g_zero, g_per_weight, l0, inv_step, k_max, differential,
                    first[o], second[o] if differential else second[0])  # fmt: skip


@jit
def _levels_row(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, differential, first,
                second):  # fmt: skip
    """One row of :func:`weight_levels` (a function of its own: loops in a ``prange`` body are
    not compiled to SIMD code by numba)."""
    for i in range(w.size):
        x = min(max(w[i], -w_range), w_range)
        if differential:
            first[i] = _level(g_zero + max(x, 0.0) * g_per_weight, l0, inv_step, k_max)
            second[i] = _level(g_zero + max(-x, 0.0) * g_per_weight, l0, inv_step, k_max)
        else:
            first[i] = _level(g_zero + x * g_per_weight, l0, inv_step, k_max)


@jit
def _level(g, l0, inv_step, k_max):
    """Nearest of the evenly spaced levels ``l0 + k / inv_step``, ``k`` in ``[0, k_max]``."""
    return np.int64(min(max(np.rint((g - l0) * inv_step), 0.0), k_max))
