"""The one place where numba options are set.

Every kernel in :mod:`devices` (and the crossbar engine) is compiled through :func:`jit`, so
caching, the error model and parallelism are decided here and nowhere else.
"""

from __future__ import annotations

import functools

import numba

__all__ = ["jit", "jit_contract", "jit_inline", "jit_parallel", "prange"]

prange = numba.prange

#: ``cache=True`` keeps compiled kernels on disk between runs (checked to work together with
#: ``parallel=True`` on numba 0.68); ``error_model="numpy"`` lets division follow IEEE rules
#: instead of raising, which avoids a branch per division in the hot loops; ``fastmath`` stays off
#: so that kernels and their numpy reference twins agree to the last bits.
_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": False}

#: Serial kernels and helpers called from inside other kernels.
jit = functools.partial(numba.njit, **_OPTIONS)

#: Kernels whose outer loop is a ``prange`` over devices. Each iteration only touches its own
#: device and draws its random numbers from a counter-based generator keyed by the device index,
#: so results do not depend on the number of threads.
jit_parallel = functools.partial(numba.njit, parallel=True, **_OPTIONS)

#: Float32 kernels compared with their reference twins at a float32 tolerance (not bit for bit):
#: LLVM may fuse ``a * b + c`` into one FMA instruction (one rounding instead of two), which
#: makes polynomial evaluations about 1.3x faster. Still deterministic and independent of the
#: number of threads; on CPUs without FMA the last bits differ.
jit_contract = functools.partial(numba.njit, **{**_OPTIONS, "fastmath": {"contract"}})

#: Small helpers that return several values (a tuple) from inside SIMD loops: inlined by numba
#: itself, before LLVM sees the loop; called as ordinary functions, the tuple keeps the caller's
#: loop scalar.
jit_inline = functools.partial(numba.njit, inline="always", **_OPTIONS)
