"""Branch-free elementary functions that LLVM can vectorize inside numba loops.

``math.exp`` compiles to a call into the C library, which keeps a loop scalar; :func:`exp` below
is straight-line code (Cody-Waite range reduction, a degree-13 Taylor polynomial on
``|r| <= ln(2)/2`` whose truncation error is below 4e-18, evaluated by Estrin's scheme (a short
chain of dependent operations, so several SIMD vectors are in flight at once), and ``2**k`` built
from its IEEE-754 bits by an LLVM bitcast: no table, whose lookups would be gathers), so a loop
over devices that calls it becomes SIMD code. Its error is within 1 ulp of ``numpy.exp`` over the
whole double range (tested).
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from ._jit import jit

__all__ = ["bits_to_float32", "bits_to_float64", "exp", "float32_bits"]

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2**21
_LN2_LO = 1.90821492927058770002e-10
_X_MAX = 709.782712893384  # exp overflows above
_X_MIN = -708.3964185322641  # below: subnormal results, flushed to 0

_BIAS = np.int64(1023)
_MANTISSA_BITS = np.int64(52)


def _bitcast(source: types.Type, target: types.Type, doc: str):
    """An intrinsic that reinterprets a ``source`` value as the ``target`` with the same bits
    (an LLVM bitcast: no conversion, no memory; both types of the same width)."""

    def bitcast(typingctx, value):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    bitcast.__doc__ = doc
    return intrinsic(bitcast)


bits_to_float64 = _bitcast(types.int64, types.float64, "The float64 with the bits of an int64.")
float32_bits = _bitcast(types.float32, types.int32, "The IEEE-754 bits of a float32, as an int32.")
bits_to_float32 = _bitcast(types.int32, types.float32, "The float32 with the bits of an int32.")


@jit
def exp(x):
    """``e**x`` without a library call or a table."""
    xc = min(max(x, _X_MIN), _X_MAX)
    k = np.floor(xc * _LOG2E + 0.5)
    r = xc - k * _LN2_HI - k * _LN2_LO
    # Estrin's scheme: the same degree-13 Taylor polynomial in 4 levels of dependent operations
    # instead of Horner's 13, so several SIMD vectors of it are in flight at once
    r2 = r * r
    r4 = r2 * r2
    q1 = (1.0 / 24.0 + r * (1.0 / 120.0)) + r2 * (1.0 / 720.0 + r * (1.0 / 5040.0))
    q2 = (1.0 / 40320.0 + r * (1.0 / 362880.0)) + r2 * (1.0 / 3628800.0 + r * (1.0 / 39916800.0))
    q3 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    high = r4 * (q1 + r4 * (q2 + r4 * q3))
    p = 1.0 + (r + (r2 * (0.5 + r * (1.0 / 6.0)) + high))  # the 1 last: no bits of r lost
    ki = np.int64(k)
    big = ki > 1023  # only k = 1024 (x just below _X_MAX): use 2**1023 * 2
    two_k = bits_to_float64((min(ki, np.int64(1023)) + _BIAS) << _MANTISSA_BITS)  # 2**k, k >= -1022
    y = p * two_k * (2.0 if big else 1.0)
    if x > _X_MAX:
        y = np.inf
    elif x < _X_MIN:
        y = 0.0
    if x != x:
        y = x
    return y
