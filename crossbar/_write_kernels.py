"""Numba kernels of write-on-change for tiled matrices of multi-level cells: which cells a new
weight matrix changes, their programming array by array (``devices._kernels.program_segment``),
and the in-place update of the read maps at the written cells."""

from __future__ import annotations

import numpy as np

from devices._jit import jit, jit_parallel, prange
from devices._kernels import program_segment
from devices._math import float32_bits

from ._mvm_kernels import _level

#: ``side`` of an array in :func:`_changed_in_array`: G+ of a pair, G- of a pair, or single devices
#: with the reference column last.
POSITIVE, NEGATIVE, WITH_REFERENCE = 0, 1, 2


#: Cells per parallel task when programming (the scratch of ``program_segment`` stays in cache).
_CHUNK = 512


@jit_parallel
def write_on_change(w, w_range, g_zero, g_per_weight, l0, inv_step, k_max, geometry, offsets,
                    groups, ref_level, target, scan, scan_levels, counts, bounds, cells, levels,
                    pops, iterations, converged, state, g, dg3, sq3, tile_rows, sq_bits,
                    update, scratch):  # fmt: skip
    """Write-on-change of a tiled matrix in one call: the cells whose level for ``w`` differs
    from ``target`` (the cells' target levels as int16, updated here; :func:`_changed_in_array`,
    into ``scan``/``scan_levels``, ``counts``), gathered into ``cells``,
    ``levels``, ``pops`` (array ``a``'s at ``bounds[a]:bounds[a + 1]``), their program-and-verify
    and refresh in chunks across arrays (``devices._kernels.program_segment`` with the pool's
    ``state``, conductances into ``g``; ``iterations``, ``converged`` alongside ``cells``), then,
    with ``update``, the read maps at those cells (:func:`update_pair_terms`), one group of
    arrays (``groups[k] = (a, b)``, ``b = -1``: none; a differential pair) per task.
    ``scratch``: int16 (arrays, columns, rows + padding), kept by the caller. Returns the number
    of cells written."""
    n_arrays = geometry.shape[0]
    for a in prange(n_arrays):
        r0, c0, rows, n_out, side = geometry[a]
        start, stop = offsets[a], offsets[a + 1]
        counts[a] = _changed_in_array(w, r0, c0, rows, n_out, w_range, g_zero, g_per_weight, l0,
                                      inv_step, k_max, side, ref_level, target[start:stop],
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
    if update:
        for k in prange(groups.shape[0]):
            for a in (groups[k, 0], groups[k, 1]):
                if a >= 0:
                    first, last = bounds[a], bounds[a + 1]
                    update_pair_terms(cells[first:last], pops[first:last], geometry, offsets, g,
                                      dg3, sq3, tile_rows, sq_bits)  # fmt: skip
    return total


@jit
def _changed_in_array(w, r0, c0, rows, n_out, w_range, g_zero, g_per_weight, l0, inv_step, k_max,
                      side, ref_level, target, cells, levels, start, by_column):  # fmt: skip
    """One array of :func:`_changed_in_array` (its own cells as views indexed from 0): every cell's
    level first, along the rows of ``w`` into the column-major scratch ``by_column`` (int16,
    kept by the caller: fresh 100-kB allocations are page faults every call; contiguous 1-D
    views: SIMD),
    then the comparison in cell order (with a branch: 3x faster here than branch-free stores,
    even with half the cells changing)."""
    cols = n_out + (side == WITH_REFERENCE)
    sign = -1.0 if side == NEGATIVE else 1.0
    floor = -np.inf if side == WITH_REFERENCE else 0.0
    for c in range(n_out):
        _levels_of_column(w[c0 + c][r0 : r0 + rows], sign, floor, w_range, g_zero, g_per_weight,
                          l0, inv_step, k_max, by_column[c, :rows])  # fmt: skip
    if side == WITH_REFERENCE:
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
def _levels_of_column(w, sign, floor, w_range, g_zero, g_per_weight, l0, inv_step, k_max, out):
    for r in range(w.size):
        x = sign * min(max(w[r], -w_range), w_range)
        out[r] = np.int16(_level(g_zero + max(x, floor) * g_per_weight, l0, inv_step, k_max))


@jit
def update_pair_terms(cells, pops, geometry, offsets, g, dg3, sq3, tile_rows, sq_bits):
    """:func:`pair_terms` at single cells after reprogramming: for pooled cell ``cells[k]`` of
    array ``pops[k]`` (``geometry`` and ``offsets`` as in :func:`_changed_in_array`; a pair's arrays
    are consecutive, G+ first; cells sorted), its pair's ``ΔG`` and squares from the
    conductances ``g``; ``sq_bits`` (uint16, same layout; empty: none) gets the squares' bfloat16
    bits, rounded to nearest even as torch converts them."""
    bits = sq_bits.size > 0
    last = -1
    row_start = r = ri = c0 = n_out = start = p_start = n_start = 0
    for k in range(cells.size):
        a = pops[k]
        if a != last:  # cells are sorted by array, then row: no division per cell
            last, row_start, r = a, 0, 0
            ri = geometry[a, 0] // tile_rows
            c0 = geometry[a, 1]
            n_out = geometry[a, 3]
            pos = a if geometry[a, 4] == POSITIVE else a - 1
            start, p_start, n_start = offsets[a], offsets[pos], offsets[pos + 1]
        local = cells[k] - start
        while local >= row_start + n_out:
            row_start += n_out
            r += 1
        col = c0 + local - row_start
        gp = g[p_start + local]
        gn = g[n_start + local]
        dg3[ri, r, col] = gp - gn
        s = gp * gp + gn * gn
        sq3[ri, r, col] = s
        if bits:
            u = np.uint32(float32_bits(np.float32(sq3[ri, r, col])))
            sq_bits[ri, r, col] = np.uint16(
                (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
            )


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
