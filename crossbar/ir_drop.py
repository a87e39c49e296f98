"""IR drop in a crossbar: the exact resistive-network solve (docs/crossbar.md).

Circuit: word line ``i`` is driven at its left end by ``v[i]`` through a segment ``r_wl``; a
segment ``r_wl`` joins neighbouring cells along the word line. Bit line ``j`` is held at 0 V by a
sense amplifier below the last row; a segment ``r_bl`` joins neighbouring cells along the bit line
and the last cell to the amplifier. Cell ``(i, j)`` is ``G[i, j]`` between word-line node
``(i, j)`` and bit-line node ``(i, j)``. The outputs are the currents into the amplifiers.

Kirchhoff's current law at the ``2 M N`` nodes gives ``A x = b`` with ``A`` the symmetric
positive-definite conductance Laplacian of the network. Two solvers:

- direct (:func:`transfer_matrix`): nested dissection reduces the network to its ``M + N``
  driver and amplifier ports (dense Schur complements of boxes of sites, merged pairwise), exact
  to rounding, in ``O((M N)^{3/2})`` operations whatever the wire resistance; input vectors then
  cost one dense ``(M + N)`` triangular solve each.
- iterative: conjugate gradients preconditioned with a symmetric block Gauss-Seidel sweep by
  lines (every word line, then every bit line, then every word line again, each an exact
  tridiagonal solve whose factorization depends only on ``G`` and the wire resistances and is
  computed once per call). About 4-13 iterations reach the ``"exact"`` tolerance for 256 x 256
  arrays with 0.1-10 ohm segments, where a plain line relaxation (CrossSim's approach) needs
  hundreds of sweeps. Cheaper than the direct solver for a few input vectors.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np

from devices import InvalidParameterError
from devices.support import check_choice

from ._ir_kernels import pcg_solve

__all__ = ["MODES", "TOLERANCES", "IRDropResult", "solve", "transfer_matrix"]

#: Stopping tolerances (relative change of the output currents in the last iteration) of the two
#: modes. ``"exact"``: 1e-7, measured errors <= 1e-8 against a sparse direct solve (the target is
#: 1e-6); ``"fast"``: 1e-3, measured errors up to ~1e-4 (``docs/crossbar.md``).
TOLERANCES = {"exact": 1e-7, "fast": 1e-3}

#: Solver modes: conjugate gradients to a tolerance (``"exact"``, ``"fast"``), the direct
#: nested dissection (``"direct"``, exact to rounding; its cost does not depend on the wire
#: resistance and grows slowly with the number of input vectors), or ``"auto"``: direct from
#: :data:`AUTO_DIRECT_MIN_VECTORS` input vectors on, ``"exact"`` below.
MODES = ("auto", "exact", "fast", "direct")

#: ``"auto"`` takes the direct solver from this many input vectors on. Measured at one thread on
#: 256 x 256 arrays (``python benchmarks/bench_ir_drop.py``): the direct solve costs about as
#: much as 25 conjugate-gradient solves at 0.1 ohm per segment (4 iterations each) and 8 at
#: 10 ohm (13 iterations); 16 is in between (decision, docs/crossbar.md).
AUTO_DIRECT_MIN_VECTORS = 16

#: ... and only while its work buffer stays within this many bytes (40 MB for 256 x 256, 160 MB
#: for 512 x 512, 630 MB for 1024 x 1024: it grows as (M + N)^2; conjugate gradients need
#: O(M N) per thread).
AUTO_DIRECT_MAX_BYTES = 2**28


class IRDropResult(np.ndarray):
    """Output currents (amperes) with the solver's diagnostics as attributes.

    Attributes
    ----------
    iterations : ndarray of int
        CG iterations per input vector.
    estimated_error : ndarray of float
        Relative change of the output currents in the last iteration, per input vector: an
        estimate of the remaining relative error.
    """

    iterations: np.ndarray
    estimated_error: np.ndarray


def _factor(g: np.ndarray, gw: float, gb: float) -> tuple[np.ndarray, ...]:
    """Diagonals of the word-line ([j, i]) and bit-line ([i, j]) tridiagonals, Thomas factors."""
    m, n = g.shape
    dw = np.ascontiguousarray(gw * np.where(np.arange(n) < n - 1, 2.0, 1.0)[:, None] + g.T)
    db = np.ascontiguousarray(gb * np.where(np.arange(m) > 0, 2.0, 1.0)[:, None] + g)
    cw, iw = _thomas(dw, gw)
    cb, ib = _thomas(db, gb)
    return dw, db, cw, iw, cb, ib


def _thomas(diag: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray]:
    """Thomas factors of tridiagonals with diagonal ``diag[k, :]`` and off-diagonals ``-g``
    (recursion over the first axis): ``x_k = y_k + c_k x_{k+1}``, ``y_k = (f_k + g y_{k-1}) inv_k``."""
    inv = np.empty_like(diag)
    c = np.zeros_like(diag)
    prev = np.zeros(diag.shape[1])
    for k in range(diag.shape[0]):
        den = diag[k] - g * prev
        inv[k] = 1.0 / den
        prev = g / den if k < diag.shape[0] - 1 else np.zeros_like(den)
        c[k] = prev
    return np.ascontiguousarray(c), np.ascontiguousarray(inv)


def solve(
    G: Any,
    v: Any,
    r_wl: float,
    r_bl: float,
    mode: str = "auto",
    tol: float | None = None,
    max_iter: int = 500,
) -> IRDropResult:
    """Currents into the sense amplifiers of a crossbar with wire resistance.

    Parameters
    ----------
    G : array (M, N)
        Cell conductances (siemens), >= 0.
    v : array (M,) or (B, M)
        Word-line driver voltages (volts).
    r_wl, r_bl : float
        Resistance of one word-line / bit-line segment (ohm), > 0.
    mode : {"auto", "exact", "fast", "direct"}
        Conjugate gradients to the stopping tolerance 1e-7 (``"exact"``) or 1e-3 (``"fast"``), see
        :data:`TOLERANCES`; the direct nested dissection (``"direct"``, see
        :func:`transfer_matrix`; ``iterations`` and ``estimated_error`` are then 0); or
        ``"auto"``: direct for :data:`AUTO_DIRECT_MIN_VECTORS` input vectors or more while its
        buffer fits :data:`AUTO_DIRECT_MAX_BYTES`, else ``"exact"``.
    tol : float, optional
        Overrides the mode's tolerance.
    max_iter : int
        Iteration limit per input vector.

    Returns
    -------
    IRDropResult
        ``(N,)`` or ``(B, N)`` currents (amperes), with ``iterations`` and ``estimated_error``.
    """
    g = np.asarray(G, dtype=np.float64)
    if g.ndim != 2 or g.size == 0:
        raise InvalidParameterError(
            f"The 'G' parameter of solve must be a non-empty 2-D array. Got shape {g.shape} instead."
        )
    if not np.all(np.isfinite(g)) or (g < 0).any():
        raise InvalidParameterError("The 'G' parameter of solve must be finite and >= 0.")
    vv = np.asarray(v, dtype=np.float64)
    single = vv.ndim == 1
    vv = np.atleast_2d(vv)
    if vv.ndim != 2 or vv.shape[1] != g.shape[0]:
        raise InvalidParameterError(
            f"The 'v' parameter of solve must have shape ({g.shape[0]},) or (B, {g.shape[0]}) to "
            f"match G {g.shape}. Got shape {np.shape(v)} instead."
        )
    if not np.all(np.isfinite(vv)):
        raise InvalidParameterError("The 'v' parameter of solve must be finite.")
    for name, value in (("r_wl", r_wl), ("r_bl", r_bl)):
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value > 0):
            raise InvalidParameterError(
                f"The {name!r} parameter of solve must be a finite resistance > 0 (ohm). "
                f"Got {value!r} instead."
            )
    check_choice("mode", mode, MODES, "solve")
    gw, gb = 1.0 / float(r_wl), 1.0 / float(r_bl)
    g = np.ascontiguousarray(g)
    if mode == "auto":
        direct = (vv.shape[0] >= AUTO_DIRECT_MIN_VECTORS
                  and 8 * _nd_plan(*g.shape)[2] <= AUTO_DIRECT_MAX_BYTES)  # fmt: skip
        mode = "direct" if direct else "exact"
    if mode == "direct":
        currents = _dissect(g, gw, gb, vv)
        result = (currents[0] if single else currents).view(IRDropResult)
        result.iterations = np.zeros(vv.shape[0], dtype=np.int64)
        result.estimated_error = np.zeros(vv.shape[0])
        return result
    tol = TOLERANCES[mode] if tol is None else float(tol)
    dw, db, cw, iw, cb, ib = _factor(g, gw, gb)
    out = np.empty((vv.shape[0], g.shape[1]))
    iters = np.empty(vv.shape[0], dtype=np.int64)
    est = np.empty(vv.shape[0])
    pcg_solve(
        np.ascontiguousarray(vv), g, np.ascontiguousarray(g.T), dw, db, cw, iw, cb, ib, gw, gb,
        tol, int(max_iter), max(1, min(vv.shape[0], numba.get_num_threads())), out, iters, est,
    )  # fmt: skip
    result = (out[0] if single else out).view(IRDropResult)
    result.iterations = iters
    result.estimated_error = est
    return result


def transfer_matrix(G: Any, r_wl: float, r_bl: float) -> np.ndarray:
    r"""The exact linear map of a crossbar with wire resistance: ``currents = v @ T``.

    The circuit is linear, so its output currents are ``v @ T`` for an (M, N) matrix ``T`` that
    depends only on the conductances and the wire resistances (``T = G`` for ideal wires). Once
    ``T`` is known, every read of the programmed array is a plain matrix product, with the IR
    drop exact; ``CrossbarArray``/``TiledMatrix`` cache it per programmed state when
    ``config.ir_drop`` is on.

    Parameters
    ----------
    G : array (M, N)
        Cell conductances (siemens), >= 0.
    r_wl, r_bl : float
        Resistance of one word-line / bit-line segment (ohm), > 0.

    Returns
    -------
    ndarray (M, N)
        ``T[i, j]``: the current into amplifier j per volt on driver i.

    Notes
    -----
    Nested dissection of the grid of sites. A box of sites with ports ``P`` (its nodes with a
    wire leaving the box: word-line nodes of its first and last column, bit-line nodes of its
    first and last row) and inner nodes ``I`` is reduced to the Schur complement of its own
    nodal matrix ``K``,

    .. math::

        S = K_{PP} - K_{PI} K_{II}^{-1} K_{IP},

    directly for boxes of at most 4 x 4 sites. Two neighbouring boxes ``A`` and ``B`` merge
    through the wire segments that join their facing ports ``F`` (word-line nodes across a
    column cut, ``g_wl``; bit-line nodes across a row cut, ``g_bl``): with ``X`` the matrix
    ``diag(S_A, S_B)`` plus those segments, the merged box is
    ``S = X_{EE} - Y^T Y``, ``Y = C^{-1} X_{FE}``, ``X_{FF} = C C^T`` (Cholesky), ``E`` the other
    ports. Boxes are halved across their longer side. At the top, the whole array is reduced to
    its M driver-side word-line nodes and N amplifier-side bit-line nodes; with the driver and
    amplifier segments on the diagonal, ``(S + D) x = g_{wl} [v; 0]`` and the currents are
    ``g_{bl} x_B``. Every ``X_{FF}`` is positive definite: the facing nodes keep a wire path to
    a driver or an amplifier through the ports that remain.

    The cost is dominated by the largest merges, about ``e^2 f`` operations for ``e`` remaining
    ports and ``f`` facing nodes: 1.5e9 for 256 x 256 (``O((M N)^{3/2})``, against ``M N^3``
    for an elimination line by line), about 0.14 s at one thread (0.03 s for 128 x 128), with
    LAPACK / BLAS (``potrf``, ``trsm``, ``syrk``) called from the numba kernel on two reused
    buffers per tree level (40 MB in all for 256 x 256, growing as ``(M + N)^2``: 630 MB for
    1024 x 1024). Agrees with the sparse direct solve to ~1e-12 (tested).
    """
    g = np.asarray(G, dtype=np.float64)
    if g.ndim != 2 or g.size == 0 or not np.all(np.isfinite(g)) or (g < 0).any():
        raise InvalidParameterError(
            "The 'G' parameter of transfer_matrix must be a finite, non-negative, non-empty 2-D "
            f"array. Got shape {g.shape} instead."
        )
    for name, value in (("r_wl", r_wl), ("r_bl", r_bl)):
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value) and value > 0):
            raise InvalidParameterError(
                f"The {name!r} parameter of transfer_matrix must be a finite resistance > 0 (ohm). "
                f"Got {value!r} instead."
            )
    return _dissect(np.ascontiguousarray(g), 1.0 / float(r_wl), 1.0 / float(r_bl),
                    np.eye(g.shape[0]))  # fmt: skip


_LEAF_SIZE = 4  # boxes of at most 4 x 4 sites are reduced directly


@functools.lru_cache(maxsize=16)
def _nd_plan(m: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The boxes of the nested dissection of an (m, n) array in post-order, the buffer offset of
    each (depth, slot) and the buffer size. Boxes are halved across their longer side down to
    leaves of at most ``_LEAF_SIZE`` x ``_LEAF_SIZE`` sites."""
    from . import _ir_kernels as K

    rows: list[list[int]] = []

    def ports(i0: int, i1: int, j0: int, j1: int) -> int:
        h, w = i1 - i0, j1 - j0
        return h + (h if j1 < n else 0) + (w if i0 > 0 else 0) + w

    def build(i0: int, i1: int, j0: int, j1: int, depth: int, slot: int) -> int:
        h, w = i1 - i0, j1 - j0
        a = b = -1
        if h <= _LEAF_SIZE and w <= _LEAF_SIZE:
            kind, size = K.LEAF, 2 * h * w
        elif w >= h:
            c = j0 + w // 2
            a = build(i0, i1, j0, c, depth + 1, 0)
            b = build(i0, i1, c, j1, depth + 1, 1)
            kind, size = K.MERGE_COLUMNS, ports(i0, i1, j0, j1) + 2 * h
        else:
            r = i0 + h // 2
            a = build(i0, r, j0, j1, depth + 1, 0)
            b = build(r, i1, j0, j1, depth + 1, 1)
            kind, size = K.MERGE_ROWS, ports(i0, i1, j0, j1) + 2 * w
        rows.append([kind, i0, i1, j0, j1, depth, slot, a, b, size, ports(i0, i1, j0, j1)])
        return len(rows) - 1

    build(0, m, 0, n, 0, 0)
    plan = np.array(rows, dtype=np.int64)
    depths = int(plan[:, K.PLAN_DEPTH].max()) + 1
    largest = np.zeros(depths, dtype=np.int64)
    np.maximum.at(largest, plan[:, K.PLAN_DEPTH], plan[:, K.PLAN_N] ** 2)
    # two slots per depth (a box's two children), one for the whole array
    sizes = np.repeat(largest, 2)
    sizes[1] = 0
    offsets = np.zeros((depths, 2), dtype=np.int64)
    offsets.ravel()[1:] = np.cumsum(sizes)[:-1]
    return plan, offsets, int(sizes.sum())


def _port_matrix(g: np.ndarray, gw: float, gb: float) -> np.ndarray:
    """The nodal matrix of the whole array reduced to its ports by nested dissection: the M
    driver-side word-line nodes, then the N amplifier-side bit-line nodes, with the driver and
    amplifier segments included (symmetric positive definite, (M + N, M + N))."""
    from . import _ir_kernels as K

    m, n = g.shape
    plan, offsets, size = _nd_plan(m, n)
    buf = np.empty(size)
    pos = np.empty((_LEAF_SIZE, _LEAF_SIZE), dtype=np.int64)
    port_map = np.empty(2 * (m + n), dtype=np.int64)
    info = K.nd_schur(g, gw, gb, plan, offsets, buf, pos, pos.copy(), port_map)
    if info != 0:  # cannot happen for G >= 0 and finite wires: every block is a Schur complement
        raise np.linalg.LinAlgError(f"IR-drop elimination failed (LAPACK info {info})")
    root = plan[-1]
    full = root[K.PLAN_N]
    # the buffer is column-major: the lower triangle it holds is the upper one of this C view
    s = np.triu(
        buf[offsets[0, 0] : offsets[0, 0] + full * full].reshape(full, full)[: m + n, : m + n]
    )
    s += np.triu(s, 1).T
    s[np.arange(m), np.arange(m)] += gw
    s[np.arange(m, m + n), np.arange(m, m + n)] += gb
    return s


def _dissect(g: np.ndarray, gw: float, gb: float, v: np.ndarray) -> np.ndarray:
    """Amplifier currents (B, N) for driver voltages ``v`` (B, M) by nested dissection."""
    from scipy.linalg import cho_factor, cho_solve

    m, n = g.shape
    s = _port_matrix(g, gw, gb)
    rhs = np.zeros((m + n, v.shape[0]))
    rhs[:m] = gw * v.T
    x = cho_solve(cho_factor(s, lower=False, overwrite_a=True, check_finite=False), rhs,
                  overwrite_b=True, check_finite=False)  # fmt: skip
    return (gb * x[m:]).T
