"""BLAS / LAPACK routines callable from numba kernels (private).

Numba's own ``np.linalg`` covers whole-matrix calls only; the IR-drop elimination
(:mod:`crossbar._ir_kernels`) needs a Cholesky factor, a triangular solve and a symmetric
rank-k update on sub-blocks of one buffer, thousands of times per solve, too many for calls
from Python. The routines are scipy's own (``scipy.linalg.cython_blas`` / ``cython_lapack``,
the library scipy itself links), registered with LLVM under fixed symbol names so that kernels
that call them can be cached on disk: the symbols are resolved by name when a cached kernel is
loaded, after this module has registered them in the new process.

Every argument of the Fortran routines is a pointer; they are declared as ``intp`` (pointers and
64-bit integers are passed alike on the 64-bit ABIs numba supports) and given as
``array.ctypes.data`` addresses. Matrices are column-major with a leading dimension, so a
C-ordered ``(n, n)`` buffer is seen as the transpose of what it holds.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.extending import get_cython_function_address

from devices.support import jit

__all__ = ["potrf_lower", "syrk_lower_t", "trsm_left_lower"]


def _external(module: str, name: str, n_args: int) -> types.ExternalFunction:
    symbol = f"crossbar_sim_{name}"
    llvm.add_symbol(symbol, get_cython_function_address(f"scipy.linalg.{module}", name))
    return types.ExternalFunction(symbol, types.void(*([types.intp] * n_args)))


_dpotrf = _external("cython_lapack", "dpotrf", 5)
_dtrsm = _external("cython_blas", "dtrsm", 11)
_dsyrk = _external("cython_blas", "dsyrk", 10)

_L, _T, _N = ord("L"), ord("T"), ord("N")


@jit
def potrf_lower(a: int, n: int, lda: int) -> int:
    """Cholesky factor ``A = C C^T`` in place of the lower triangle of the column-major ``n x n``
    matrix at address ``a``; returns LAPACK's ``info`` (0: success, > 0: not positive definite)."""
    chars = np.array([_L], dtype=np.uint8)
    ints = np.array([n, lda, 0], dtype=np.int32)
    _dpotrf(chars.ctypes.data, ints.ctypes.data, a, ints.ctypes.data + 4, ints.ctypes.data + 8)
    return ints[2]


@jit
def trsm_left_lower(m: int, n: int, a: int, lda: int, b: int, ldb: int) -> None:
    """``B <- C^{-1} B`` for the lower-triangular ``m x m`` factor ``C`` at ``a`` and the
    ``m x n`` matrix ``B`` at ``b`` (column-major)."""
    chars = np.array([_L, _L, _N, _N], dtype=np.uint8)
    ints = np.array([m, n, lda, ldb], dtype=np.int32)
    one = np.ones(1)
    p, q = chars.ctypes.data, ints.ctypes.data
    _dtrsm(p, p + 1, p + 2, p + 3, q, q + 4, one.ctypes.data, a, q + 8, b, q + 12)


@jit
def syrk_lower_t(n: int, k: int, a: int, lda: int, c: int, ldc: int) -> None:
    """``C <- C - A^T A`` on the lower triangle of the ``n x n`` matrix ``C`` at ``c``, for the
    ``k x n`` matrix ``A`` at ``a`` (column-major)."""
    chars = np.array([_L, _T], dtype=np.uint8)
    ints = np.array([n, k, lda, ldc], dtype=np.int32)
    scalars = np.array([-1.0, 1.0])
    p, q, s = chars.ctypes.data, ints.ctypes.data, scalars.ctypes.data
    _dsyrk(p, p + 1, q, q + 4, s, a, q + 8, s + 8, c, q + 12)
