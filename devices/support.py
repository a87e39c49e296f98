"""The internal API that the other packages of crossbar-sim build on.

:mod:`devices` keeps its helpers in private modules; the crossbar engine, the calibration
package and the benchmarks import them from here, and only from here, so that what they rely
on is named, documented and kept stable:

numba options (one place, :mod:`devices._jit`)
    ``jit`` (cached, no Python fall-back), ``jit_parallel`` (with ``prange`` loops), ``prange``.
counter-based random streams (:mod:`devices._rng`; results independent of threads)
    ``derive_key(seed, stream, call)`` gives the 64-bit key of one call's stream;
    ``fill_normals`` / ``fill_normals32`` fill arrays with standard normals indexed by a counter.
bit-exact arithmetic in kernels (:mod:`devices._math`)
    ``exp`` (straight-line, within one ulp of numpy's), ``bits_to_float32``, ``bits_to_float64``,
    ``float32_bits``.
validation at public boundaries (:mod:`devices._validation`)
    ``check_int``, ``check_real``, ``check_choice``, ``as_generator`` (each error names the
    parameter, its owner, what is allowed and what was given), ``closest`` (the "Did you mean"
    hint) and :class:`~devices.InvalidParameterError`.
state files (:mod:`devices._state`)
    ``digest`` (SHA-256 of named arrays), ``replace_atomically`` (write beside, then rename).
program-and-verify (:mod:`devices._kernels`)
    ``program_segment`` and ``PROGRAM_CHUNK``, the kernel the crossbar tiles program through.
"""

from __future__ import annotations

from ._jit import jit, jit_parallel, prange
from ._kernels import PROGRAM_CHUNK, program_segment
from ._math import bits_to_float32, bits_to_float64, exp, float32_bits
from ._rng import derive_key, fill_normals, fill_normals32
from ._state import digest, replace_atomically
from ._validation import (
    InvalidParameterError,
    as_generator,
    check_choice,
    check_int,
    check_real,
    closest,
)

__all__ = [
    "PROGRAM_CHUNK", "InvalidParameterError", "as_generator", "bits_to_float32",
    "bits_to_float64", "check_choice", "check_int", "check_real", "closest", "derive_key",
    "digest", "exp", "fill_normals", "fill_normals32", "float32_bits", "jit", "jit_parallel",
    "prange", "program_segment", "replace_atomically",
]  # fmt: skip
