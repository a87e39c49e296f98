"""Numba kernels of the IR-drop solver (private; see :mod:`crossbar.ir_drop`).

Layouts: word-line quantities are stored transposed, ``[j, i]``, so the recurrence along a word
line (over j) runs over the outer index while the inner loop over the rows i is contiguous and
vectorizes; bit-line quantities are ``[i, j]`` for the same reason. The couplings between the two
layers go through cache-blocked transposes.
"""

from __future__ import annotations

import numpy as np

from devices._jit import jit, jit_parallel, prange

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


@jit
def row_schur(gi, gw, gb, first, p_prev, s, x0):
    """One word line of the direct elimination (:func:`crossbar.ir_drop.transfer_matrix`).

    With ``A`` the word line's tridiagonal nodal matrix (diagonal ``gw (2, ..., 2, 1) + gi``,
    off-diagonals ``-gw``): ``x0 = A^{-1} e_0``, and the upper triangle of
    ``s = diag(gi) - diag(gi) A^{-1} diag(gi) + gb (1 if first else 2) I - gb^2 p_prev`` (only
    ``p_prev``'s upper triangle is read; ``first``: no previous row). ``A^{-1} diag(gi)`` is one
    LDL^T factorization of ``A`` and forward/back substitutions run with the right-hand sides in
    the inner loop (SIMD), where LAPACK's ``dpttrs`` takes them one by one."""
    n = gi.size
    d = np.empty(n)  # LDL^T: d the pivots, mult the subdiagonal multipliers
    mult = np.empty(n)
    d[0] = (2.0 * gw if n > 1 else gw) + gi[0]
    for k in range(1, n):
        mult[k] = -gw / d[k - 1]
        d[k] = (2.0 * gw if k < n - 1 else gw) + gi[k] + mult[k] * gw
    # x = A^{-1} [diag(gi) | e_0], columns in the inner loop; y = L^{-1} rhs, x = L^{-T} D^{-1} y
    y = np.zeros((n, n + 1))
    for k in range(n):
        if k > 0:
            prev = y[k - 1]
            row = y[k]
            lk = mult[k]
            for c in range(n + 1):  # prev[k] is 0: column k's right-hand side starts at row k
                row[c] = -lk * prev[c]
        y[k, k] += gi[k]
        if k == 0:
            y[0, n] = 1.0
    for k in range(n - 1, -1, -1):
        row = y[k]
        inv = 1.0 / d[k]
        if k < n - 1:
            nxt = y[k + 1]
            lk = mult[k + 1]
            for c in range(n + 1):
                row[c] = row[c] * inv - lk * nxt[c]
        else:
            for c in range(n + 1):
                row[c] *= inv
    for k in range(n):
        x0[k] = y[k, n]
    base = gb if first else 2.0 * gb
    for i in range(n):
        si = s[i]
        yi = y[i]
        pi = p_prev[i]
        g = gi[i]
        for j in range(i, n):
            si[j] = -g * yi[j] - (0.0 if first else gb * gb * pi[j])
        si[i] += g + base
