"""Standard normal CDF, quantile, log-CDF and the scaled complementary error function in numba
(``devices`` depends on numpy + numba only).

The quantile uses Acklam's rational approximation (relative error 1.15e-9) followed by one
Halley step on :math:`\\Phi(x) - p`, which brings it to double precision. ``erfcx`` is
:math:`e^{x^2}\\mathrm{erfc}(x)`: computed as written below x = 2 (where :math:`e^{x^2}` is exact
to a few ulps) and by the continued fraction of Laplace above (80 terms: converged to the last
ulp from x = 2 on), so that tail quantities — Mills ratios, log-CDFs — keep full relative
precision where :math:`e^{-x^2}` underflows. The tests compare every function with
:mod:`scipy.special`.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

__all__ = ["erfcx", "log_ndtr", "ndtr", "ndtri"]

_A = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_B = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_C = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_P_LOW = 0.02425
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@jit
def _ndtr_scalar(x):
    return 0.5 * math.erfc(-x / _SQRT2)


@jit
def _ndtri_scalar(p):
    if not (p > 0.0):
        return -np.inf if p == 0.0 else np.nan
    if not (p < 1.0):
        return np.inf if p == 1.0 else np.nan
    if p < _P_LOW:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    elif p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        x = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
        )
    else:
        q = math.sqrt(-2.0 * math.log1p(-p))
        x = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0
        )
    # One Halley step; in the upper tail work with the complement to keep precision.
    if p > 0.5:
        e = 0.5 * math.erfc(x / _SQRT2) - (1.0 - p)
        e = -e
    else:
        e = 0.5 * math.erfc(-x / _SQRT2) - p
    u = e * _SQRT2PI * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@jit
def _erfcx_scalar(x):
    if x < 0.0:
        if x < -26.6:  # 2 exp(x^2) overflows
            return np.inf
        return 2.0 * math.exp(x * x) - _erfcx_scalar(-x)
    if x < 2.0:
        return math.exp(x * x) * math.erfc(x)
    # Laplace's continued fraction: erfcx(x) = 1/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/...)))
    t = x
    for k in range(80, 0, -1):
        t = x + 0.5 * k / t
    return 1.0 / (math.sqrt(math.pi) * t)


@jit
def _log_ndtr_scalar(z):
    if z > 0.0:
        return math.log1p(-0.5 * math.erfc(z / _SQRT2))
    # Phi(z) = erfcx(-z/sqrt2) exp(-z^2/2) / 2: no underflow however far in the lower tail
    return math.log(0.5 * _erfcx_scalar(-z / _SQRT2)) - 0.5 * z * z


@jit
def _erfcx_array(x, out):
    for i in range(x.size):
        out[i] = _erfcx_scalar(x[i])


@jit
def _log_ndtr_array(x, out):
    for i in range(x.size):
        out[i] = _log_ndtr_scalar(x[i])


@jit
def _ndtr_array(x, out):
    for i in range(x.size):
        out[i] = _ndtr_scalar(x[i])


@jit
def _ndtri_array(p, out):
    for i in range(p.size):
        out[i] = _ndtri_scalar(p[i])


def _elementwise(kernel, x):
    """``kernel`` (an ``(in, out)`` numba loop) over any array or scalar ``x``: an array of the
    same shape, or a float."""
    arr = np.asarray(x, dtype=np.float64)
    out = np.empty(arr.size)
    kernel(np.ascontiguousarray(arr.ravel()), out)
    return out.reshape(arr.shape) if arr.ndim else float(out[0])


def ndtr(x):
    """Standard normal CDF :math:`\\Phi(x) = \\tfrac12\\,\\mathrm{erfc}(-x/\\sqrt2)`, elementwise."""
    return _elementwise(_ndtr_array, x)


def ndtri(p):
    """Standard normal quantile :math:`\\Phi^{-1}(p)`, elementwise; ±inf at 0 and 1, NaN outside."""
    return _elementwise(_ndtri_array, p)


def erfcx(x):
    """Scaled complementary error function :math:`e^{x^2}\\,\\mathrm{erfc}(x)`, elementwise."""
    return _elementwise(_erfcx_array, x)


def log_ndtr(x):
    """:math:`\\ln\\Phi(x)`, elementwise, accurate in both tails (no underflow for x < -38)."""
    return _elementwise(_log_ndtr_array, x)
