"""Numba kernels that assemble a tile's read maps from its cells' conductances (private; used
by :class:`crossbar.array.TiledMatrix` when its maps are rebuilt after programming)."""

from __future__ import annotations

from devices.support import jit

__all__ = ["pair_terms"]


@jit
def pair_terms(read_p, read_n, g_p, g_n, dg, sq, c0, row_g):
    """One differential tile's contribution to its row tile, in one pass.

    ``dg[:, c0 + j] = read_p - read_n`` (the read maps: conductances, or transfer matrices with IR
    drop), ``sq[:, c0 + j] = g_p**2 + g_n**2`` (the read-noise variance factors), into the row
    tile's arrays (any float dtype); ``row_g`` accumulates the conductance on each word line (the
    energy estimate). Rows are taken as contiguous slices indexed from 0, so the column loop
    compiles to SIMD code.
    """
    rows, cols = g_p.shape
    for i in range(rows):
        rp, rn, gp, gn = read_p[i], read_n[i], g_p[i], g_n[i]
        d_row = dg[i][c0 : c0 + cols]
        s_row = sq[i][c0 : c0 + cols]
        row = 0.0
        for j in range(cols):
            d_row[j] = rp[j] - rn[j]
            s_row[j] = gp[j] * gp[j] + gn[j] * gn[j]
            row += gp[j] + gn[j]
        row_g[i] += row
