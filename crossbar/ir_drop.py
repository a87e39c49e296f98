"""IR drop in a crossbar: the exact resistive-network solve of INTERFACE.md.

Circuit: word line ``i`` is driven at its left end by ``v[i]`` through a segment ``r_wl``; a
segment ``r_wl`` joins neighbouring cells along the word line. Bit line ``j`` is held at 0 V by a
sense amplifier below the last row; a segment ``r_bl`` joins neighbouring cells along the bit line
and the last cell to the amplifier. Cell ``(i, j)`` is ``G[i, j]`` between word-line node
``(i, j)`` and bit-line node ``(i, j)``. The outputs are the currents into the amplifiers.

Kirchhoff's current law at the ``2 M N`` nodes gives ``A x = b`` with ``A`` the symmetric
positive-definite conductance Laplacian of the network. It is solved by conjugate gradients
preconditioned with a symmetric block Gauss-Seidel sweep by lines (every word line, then every bit
line, then every word line again, each an exact tridiagonal solve whose factorization depends
only on ``G`` and the wire resistances and is computed once per call). About 4-12 iterations
reach the ``"exact"`` tolerance for 256 x 256 arrays with 0.1-10 ohm segments, where a plain line
relaxation (CrossSim's approach) needs hundreds of sweeps.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from devices import InvalidParameterError

from ._ir_kernels import pcg_solve

__all__ = ["TOLERANCES", "IRDropResult", "solve"]

#: Stopping tolerances (relative change of the output currents in the last iteration) of the two
#: modes. ``"exact"``: 1e-7, measured errors <= 1e-8 against a sparse direct solve (the target is
#: 1e-6); ``"fast"``: 1e-3, measured errors up to ~1e-4 (``docs/crossbar.md``).
TOLERANCES = {"exact": 1e-7, "fast": 1e-3}


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
    mode: str = "exact",
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
    mode : {"exact", "fast"}
        Stopping tolerance 1e-7 (``"exact"``) or 1e-3 (``"fast"``), see :data:`TOLERANCES`.
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
    if mode not in TOLERANCES:
        raise InvalidParameterError(
            f"The 'mode' parameter of solve must be one of {sorted(TOLERANCES)}. Got {mode!r} instead."
        )
    tol = TOLERANCES[mode] if tol is None else float(tol)
    gw, gb = 1.0 / float(r_wl), 1.0 / float(r_bl)
    g = np.ascontiguousarray(g)
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
