"""Numba kernels of the IR-drop solver (private; see :mod:`crossbar.ir_drop`).

Layouts: word-line quantities are stored transposed, ``[j, i]``, so the recurrence along a word
line (over j) runs over the outer index while the inner loop over the rows i is contiguous and
vectorizes; bit-line quantities are ``[i, j]`` for the same reason. The couplings between the two
layers go through cache-blocked transposes.
"""

from __future__ import annotations

import numpy as np

from devices.support import jit, jit_parallel, prange

from ._blas import potrf_lower, syrk_lower_t, trsm_left_lower

_TILE = 32  # transpose tile: two 32 x 32 float64 tiles stay in L1


@jit
def _row_solve(f, cw, iw, gw, out):
    """Solve every word line's tridiagonal system at once; ``f``, ``out``: [j, i]."""
    n, m = f.shape
    for i in range(m):
        out[0, i] = f[0, i] * iw[0, i]
    for j in range(1, n):
        for i in range(m):
            out[j, i] = (f[j, i] + gw * out[j - 1, i]) * iw[j, i]
    for j in range(n - 2, -1, -1):
        for i in range(m):
            out[j, i] += cw[j, i] * out[j + 1, i]


@jit
def _col_solve(f, cb, ib, gb, out):
    """Solve every bit line's tridiagonal system at once; ``f``, ``out``: [i, j]."""
    m, n = f.shape
    for j in range(n):
        out[0, j] = f[0, j] * ib[0, j]
    for i in range(1, m):
        for j in range(n):
            out[i, j] = (f[i, j] + gb * out[i - 1, j]) * ib[i, j]
    for i in range(m - 2, -1, -1):
        for j in range(n):
            out[i, j] += cb[i, j] * out[i + 1, j]


@jit
def _add_coupled(base, coef, other, out):
    """``out[a, b] = base[a, b] + coef[a, b] * other[b, a]`` with a cache-blocked transpose."""
    na, nb = base.shape
    for a0 in range(0, na, _TILE):
        for b0 in range(0, nb, _TILE):
            for a in range(a0, min(a0 + _TILE, na)):
                for b in range(b0, min(b0 + _TILE, nb)):
                    out[a, b] = base[a, b] + coef[a, b] * other[b, a]


@jit
def _precondition(rw, rb, g, gt, cw, iw, cb, ib, gw, gb, zw, zb, tw, tb):
    """Symmetric block Gauss-Seidel by lines: word lines, bit lines, word lines again."""
    _row_solve(rw, cw, iw, gw, zw)
    _add_coupled(rb, g, zw, tb)
    _col_solve(tb, cb, ib, gb, zb)
    _add_coupled(rw, gt, zb, tw)
    _row_solve(tw, cw, iw, gw, zw)


@jit
def _apply(pw, pb, g, gt, dw, db, gw, gb, qw, qb):
    """``q = A p`` for the nodal matrix (conductance Laplacian of the two wire layers)."""
    n, m = pw.shape
    for j0 in range(0, n, _TILE):  # the cell terms, through blocked transposes
        for i0 in range(0, m, _TILE):
            for j in range(j0, min(j0 + _TILE, n)):
                for i in range(i0, min(i0 + _TILE, m)):
                    qw[j, i] = dw[j, i] * pw[j, i] - gt[j, i] * pb[i, j]
            for i in range(i0, min(i0 + _TILE, m)):
                for j in range(j0, min(j0 + _TILE, n)):
                    qb[i, j] = db[i, j] * pb[i, j] - g[i, j] * pw[j, i]
    for j in range(n):  # the wire terms, contiguous
        for i in range(m):
            s = qw[j, i]
            if j > 0:
                s -= gw * pw[j - 1, i]
            if j < n - 1:
                s -= gw * pw[j + 1, i]
            qw[j, i] = s
    for i in range(m):
        for j in range(n):
            s = qb[i, j]
            if i > 0:
                s -= gb * pb[i - 1, j]
            if i < m - 1:
                s -= gb * pb[i + 1, j]
            qb[i, j] = s


@jit
def _dot(aw, ab, bw, bb):
    """Sum of both layers' elementwise products, with four partial sums (shorter add chains)."""
    s0 = s1 = s2 = s3 = 0.0
    xa, xb, ya, yb = aw.ravel(), ab.ravel(), bw.ravel(), bb.ravel()
    n = xa.size
    k = 0
    while k + 4 <= n:
        s0 += xa[k] * ya[k] + xb[k] * yb[k]
        s1 += xa[k + 1] * ya[k + 1] + xb[k + 1] * yb[k + 1]
        s2 += xa[k + 2] * ya[k + 2] + xb[k + 2] * yb[k + 2]
        s3 += xa[k + 3] * ya[k + 3] + xb[k + 3] * yb[k + 3]
        k += 4
    while k < n:
        s0 += xa[k] * ya[k] + xb[k] * yb[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


@jit
def _update(alpha, pw, pb, qw, qb, xw, xb, rw, rb):
    """``x += alpha p``, ``r -= alpha q`` over both layers in one pass."""
    a1, a2, a3, a4 = pw.ravel(), pb.ravel(), qw.ravel(), qb.ravel()
    b1, b2, b3, b4 = xw.ravel(), xb.ravel(), rw.ravel(), rb.ravel()
    for k in range(a1.size):
        b1[k] += alpha * a1[k]
        b2[k] += alpha * a2[k]
        b3[k] -= alpha * a3[k]
        b4[k] -= alpha * a4[k]


@jit
def _direction(beta, zw, zb, pw, pb):
    """``p = z + beta p`` over both layers."""
    a1, a2, b1, b2 = zw.ravel(), zb.ravel(), pw.ravel(), pb.ravel()
    for k in range(a1.size):
        b1[k] = a1[k] + beta * b1[k]
        b2[k] = a2[k] + beta * b2[k]


@jit
def _solve_one(vk, g, gt, dw, db, cw, iw, cb, ib, gw, gb, tol, max_iter, work, out):
    """PCG for one input vector ``vk``; ``work`` holds ten (n, m)/(m, n) scratch arrays."""
    xw, xb, rw, rb, qw, qb, zw, zb, tw, tb, pw, pb = work
    n, m = xw.shape
    for j in range(n):
        for i in range(m):
            xw[j, i] = vk[i]  # ideal wires: every word-line node at its driver voltage
    xb[:, :] = 0.0
    _apply(xw, xb, g, gt, dw, db, gw, gb, qw, qb)
    for j in range(n):
        for i in range(m):
            rw[j, i] = -qw[j, i]
    for i in range(m):
        rw[0, i] += gw * vk[i]
        for j in range(n):
            rb[i, j] = -qb[i, j]
    _precondition(rw, rb, g, gt, cw, iw, cb, ib, gw, gb, zw, zb, tw, tb)
    pw[:, :] = zw
    pb[:, :] = zb
    rz = _dot(rw, rb, zw, zb)
    change = np.inf
    it = 0
    while it < max_iter:
        it += 1
        _apply(pw, pb, g, gt, dw, db, gw, gb, qw, qb)
        pq = _dot(pw, pb, qw, qb)
        if not pq > 0.0:
            change = 0.0
            break
        alpha = rz / pq
        _update(alpha, pw, pb, qw, qb, xw, xb, rw, rb)
        top = 0.0
        step = 0.0
        for j in range(n):
            top = max(top, abs(xb[m - 1, j]))
            step = max(step, abs(alpha * pb[m - 1, j]))
        change = step / top if top > 0.0 else 0.0
        if change <= tol:
            break
        _precondition(rw, rb, g, gt, cw, iw, cb, ib, gw, gb, zw, zb, tw, tb)
        rz_new = _dot(rw, rb, zw, zb)
        _direction(rz_new / rz, zw, zb, pw, pb)
        rz = rz_new
    for j in range(n):
        out[j] = gb * xb[m - 1, j]
    return it, change


@jit_parallel
def pcg_solve(v, g, gt, dw, db, cw, iw, cb, ib, gw, gb, tol, max_iter, n_chunks, out, iters,
              estimate):  # fmt: skip
    """Preconditioned conjugate gradients for every input vector ``v[k]``.

    Vectors are split into ``n_chunks`` contiguous chunks run in parallel; each chunk allocates
    its scratch arrays once (fresh large allocations cost page faults). A vector's result does
    not depend on the chunking, so results are the same for any thread count. Stops when the
    last update changed no output current by more than ``tol`` times the largest output current
    (``estimate`` holds that last relative change per vector).
    """
    n_vec, m = v.shape
    n = g.shape[1]
    per_chunk = (n_vec + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        w_shape = (n, m)
        b_shape = (m, n)
        work = (
            np.empty(w_shape), np.empty(b_shape), np.empty(w_shape), np.empty(b_shape),
            np.empty(w_shape), np.empty(b_shape), np.empty(w_shape), np.empty(b_shape),
            np.empty(w_shape), np.empty(b_shape), np.empty(w_shape), np.empty(b_shape),
        )  # fmt: skip
        for k in range(c * per_chunk, min((c + 1) * per_chunk, n_vec)):
            it, change = _solve_one(v[k], g, gt, dw, db, cw, iw, cb, ib, gw, gb, tol, max_iter,
                                    work, out[k])  # fmt: skip
            iters[k] = it
            estimate[k] = change


# --- nested dissection (:func:`crossbar.ir_drop.transfer_matrix`) ------------------------------
#
# A box of sites [i0, i1) x [j0, j1) is reduced to its ports, the nodes with a wire leaving the
# box, in the order L (word-line nodes of its first column), R (of its last column; absent at the
# array's right edge), T (bit-line nodes of its first row; absent at the array's top edge), B (of
# its last row). Each node's full matrix is an (n, n) column-major buffer holding the ports first
# and the nodes to eliminate last; only its lower triangle is used and, after the elimination, its
# leading (e, e) block holds the box's Schur complement.

LEAF, MERGE_COLUMNS, MERGE_ROWS = 0, 1, 2
PLAN_KIND, PLAN_I0, PLAN_I1, PLAN_J0, PLAN_J1, PLAN_DEPTH, PLAN_SLOT = 0, 1, 2, 3, 4, 5, 6
PLAN_A, PLAN_B, PLAN_N, PLAN_E = 7, 8, 9, 10  # children (-1 for a leaf), full size, ports


@jit
def _port_sizes(i0, i1, j0, j1, m, n):
    """Sizes of a box's L, R, T and B port groups."""
    h = i1 - i0
    w = j1 - j0
    return h, (h if j1 < n else 0), (w if i0 > 0 else 0), w


@jit
def _link(buf, base, n, p, q, c):
    """Add a conductance ``c`` between positions ``p`` and ``q`` (lower triangle only)."""
    lo, hi = min(p, q), max(p, q)
    buf[base + p * n + p] += c
    buf[base + q * n + q] += c
    buf[base + lo * n + hi] -= c


@jit
def _fill_leaf(g, gw, gb, row, buf, base, n, pos_w, pos_b):
    """The nodal matrix of a leaf box (its own wires and cells only), ports first."""
    m_all, n_all = g.shape
    i0, i1, j0, j1 = row[PLAN_I0], row[PLAN_I1], row[PLAN_J0], row[PLAN_J1]
    h, w = i1 - i0, j1 - j0
    sl, sr, st, sb = _port_sizes(i0, i1, j0, j1, m_all, n_all)
    nxt = sl + sr + st + sb  # interior nodes follow the ports
    for i in range(h):
        for j in range(w):
            if j == 0:
                pos_w[i, j] = i
            elif j == w - 1 and sr > 0:
                pos_w[i, j] = sl + i
            else:
                pos_w[i, j] = nxt
                nxt += 1
            if i == h - 1:
                pos_b[i, j] = sl + sr + st + j
            elif i == 0 and st > 0:
                pos_b[i, j] = sl + sr + j
            else:
                pos_b[i, j] = nxt
                nxt += 1
    for i in range(h):
        for j in range(w):
            if j + 1 < w:
                _link(buf, base, n, pos_w[i, j], pos_w[i, j + 1], gw)
            if i + 1 < h:
                _link(buf, base, n, pos_b[i, j], pos_b[i + 1, j], gb)
            _link(buf, base, n, pos_w[i, j], pos_b[i, j], g[i0 + i, j0 + j])


@jit
def _child_map(plan, k, parent, first, m_all, n_all, out):
    """Where each port of child ``k`` goes in its parent's matrix (``first``: the left / upper
    child)."""
    ci0, ci1, cj0, cj1 = plan[k, PLAN_I0], plan[k, PLAN_I1], plan[k, PLAN_J0], plan[k, PLAN_J1]
    cl, cr, ct, cb = _port_sizes(ci0, ci1, cj0, cj1, m_all, n_all)
    pi0, pi1, pj0, pj1 = parent[PLAN_I0], parent[PLAN_I1], parent[PLAN_J0], parent[PLAN_J1]
    pl, pr, pt, pb = _port_sizes(pi0, pi1, pj0, pj1, m_all, n_all)
    e = pl + pr + pt + pb
    off_r, off_t, off_b = pl, pl + pr, pl + pr + pt
    columns = parent[PLAN_KIND] == MERGE_COLUMNS
    # the first position of the run each of the child's L, R, T, B groups goes to (empty groups
    # have size 0)
    if columns:
        shift = 0 if first else cj0 - pj0  # the right child's T / B follow the left child's
        dst_l = 0 if first else e + cl
        dst_r = e if first else off_r
        dst_t, dst_b = off_t + shift, off_b + shift
    else:
        shift = 0 if first else ci0 - pi0
        dst_l, dst_r = shift, off_r + shift
        dst_t = off_t if first else e + cb
        dst_b = e if first else off_b
    k0 = 0
    for size, dst in ((cl, dst_l), (cr, dst_r), (ct, dst_t), (cb, dst_b)):
        for t in range(size):
            out[k0 + t] = dst + t
        k0 += size
    return k0


@jit
def nd_schur(g, gw, gb, plan, offsets, buf, pos_w, pos_b, port_map):
    """Reduce the whole array to its driver and amplifier ports by nested dissection.

    ``plan`` lists the boxes in post-order (children before their parent); a box at depth d is
    kept in slot ``plan[k, PLAN_SLOT]`` of depth d (``offsets[d, slot]`` into ``buf``) until its
    parent, one level up, has read it, so buffers are reused level by level. Returns LAPACK's
    ``info`` of a failed factorization (index of the box in ``info // 2**32``) or 0.
    """
    m_all, n_all = g.shape
    for k in range(plan.shape[0]):
        row = plan[k]
        n = row[PLAN_N]
        e = row[PLAN_E]
        base = offsets[row[PLAN_DEPTH], row[PLAN_SLOT]]
        buf[base : base + n * n] = 0.0
        if row[PLAN_KIND] == LEAF:
            _fill_leaf(g, gw, gb, row, buf, base, n, pos_w, pos_b)
        else:
            for first in (True, False):
                child = row[PLAN_A] if first else row[PLAN_B]
                c_base = offsets[plan[child, PLAN_DEPTH], plan[child, PLAN_SLOT]]
                c_n = plan[child, PLAN_N]
                c_e = _child_map(plan, child, row, first, m_all, n_all, port_map)
                for c in range(c_e):
                    pc = port_map[c]
                    src = c_base + c * c_n
                    for r in range(c, c_e):
                        pr = port_map[r]
                        if pr >= pc:
                            buf[base + pc * n + pr] = buf[src + r]
                        else:
                            buf[base + pr * n + pc] = buf[src + r]
            s = (n - e) // 2  # the two children's facing ports, joined pairwise by wires
            wire = gw if row[PLAN_KIND] == MERGE_COLUMNS else gb
            for t in range(s):
                _link(buf, base, n, e + t, e + s + t, wire)
        s = n - e
        if s > 0:
            addr = buf.ctypes.data + 8 * base
            info = potrf_lower(addr + 8 * (e * n + e), s, n)
            if info != 0:
                return k * 2**32 + info
            trsm_left_lower(s, e, addr + 8 * (e * n + e), n, addr + 8 * e, n)
            syrk_lower_t(e, s, addr + 8 * e, n, addr, n)
    return 0
