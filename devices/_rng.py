"""Counter-based random numbers for numba kernels.

A uniform variate is a pure function of a 64-bit *key* and a 64-bit *counter*:

.. math:: u(k, c) = 2^{-53}\\,\\lfloor \\mathrm{mix}(k + (c + 1)\\,\\gamma) / 2^{11} \\rfloor

where :math:`\\mathrm{mix}` is the SplitMix64 finaliser and :math:`\\gamma` the golden-ratio
increment (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
For a fixed key the sequence over counters *is* the SplitMix64 stream seeded with that key, which
passes BigCrush. Keys are themselves derived by mixing a population seed with a stream id and a
call counter (:func:`derive_key`), so every (seed, call, stream, device, sample) tuple reaches its own
number without any generator state. Kernels can therefore run their device loop in parallel in any
order, on any number of threads, and give bit-identical results, and a simulation saved to disk
resumes bit-identically from the seed and two counters.
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros  # llvm.ctlz: vectorizes (AVX-512 CD)

from ._jit import jit, jit_contract, jit_inline
from ._math import bits_to_float32, float32_bits

__all__ = [
    "GOLDEN_GAMMA", "derive_key", "derive_keys", "fill_normals", "fill_normals32", "mix64", "mix64_py", "normal", "normal_pair", "normal_pair32",
    "uniform", "uniform_u16",
]  # fmt: skip

_MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB

_G = np.uint64(GOLDEN_GAMMA)
_C1 = np.uint64(_M1)
_C2 = np.uint64(_M2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_S48 = np.uint64(48)
_ONE = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@jit
def mix64(z):
    """SplitMix64 finaliser of a ``uint64`` (wrapping arithmetic)."""
    z = (z ^ (z >> _S30)) * _C1
    z = (z ^ (z >> _S27)) * _C2
    return z ^ (z >> _S31)


@jit
def uniform(key, counter):
    """Uniform float64 in [0, 1) with 53 random bits, for ``(key, counter)`` (both ``uint64``)."""
    return np.float64(mix64(key + (counter + _ONE) * _G) >> _S11) * _INV53


@jit
def uniform_u16(key, counter):
    """The top 16 bits of the same draw as :func:`uniform`, as an integer in [0, 65535]."""
    return mix64(key + (counter + _ONE) * _G) >> _S48


def mix64_py(z: int) -> int:
    """Pure-Python :func:`mix64` (used to derive keys outside kernels)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return z ^ (z >> 31)


def derive_key(seed: int, stream: int, call: int) -> np.uint64:
    """Key of one random stream (``stream``) at one call (``call``) of a population seeded ``seed``."""
    k = mix64_py((seed + (stream + 1) * GOLDEN_GAMMA) & _MASK64)
    return np.uint64(mix64_py((k + (call + 1) * GOLDEN_GAMMA) & _MASK64))


def derive_keys(seeds: np.ndarray, stream: int, calls: np.ndarray) -> np.ndarray:
    """:func:`derive_key` for many populations at once (``uint64`` seeds and call counters)."""
    k = mix64(seeds.astype(np.uint64) + np.uint64((stream + 1) * GOLDEN_GAMMA & _MASK64))
    return mix64(k + (calls.astype(np.uint64) + _ONE) * _G)


# -- standard normal variates: Marsaglia & Tsang's ziggurat on counter-based bits ----------------
#
# G. Marsaglia, W. W. Tsang, "The Ziggurat Method for Generating Random Variables", J. Stat.
# Softw. 5(8), 2000. 128 layers; the layer index and the 32-bit signed magnitude come from disjoint
# bits of one 64-bit draw (the original reuses the low bits for both, a known weakness). About
# 99 % of draws take the fast path: one hash, one table lookup, one multiply.


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m1 = 2147483648.0  # 2**31
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128, dtype=np.int64)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / np.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = np.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = np.sqrt(-2.0 * np.log(vn / dn + np.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = np.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


ZIG_K, ZIG_W, ZIG_F = _ziggurat_tables()
_ZIG_R = 3.442619855899
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_M7 = np.uint64(127)
_ALT = np.uint64(0x5851F42D4C957F2D)  # key of a normal's extra draws: key ^ _ALT
_S8 = np.uint64(8)


@jit
def normal(key, counter):
    """Standard normal variate for ``(key, counter)``.

    The first draw uses ``(key, counter)``; the rare extra draws of the wedge and tail paths use
    ``(key ^ ALT, counter * 256 + k)``, so normals of distinct counters never share bits.
    """
    z = mix64(key + (counter + _ONE) * _G)
    hz = np.int64(np.int32(np.uint32(z & _M32)))
    iz = np.int64((z >> _S32) & _M7)
    if abs(hz) < ZIG_K[iz]:
        return hz * ZIG_W[iz]
    alt = key ^ _ALT
    base = counter << _S8
    k = np.uint64(0)
    while True:
        x = hz * ZIG_W[iz]
        if iz == 0:  # tail beyond r: Marsaglia's exponential rejection
            while True:
                u1 = uniform(alt, base + k)
                u2 = uniform(alt, base + k + _ONE)
                k += np.uint64(2)
                xt = -np.log1p(-u1) / _ZIG_R
                yt = -np.log1p(-u2)
                if yt + yt >= xt * xt:
                    return _ZIG_R + xt if hz > 0 else -_ZIG_R - xt
        u = uniform(alt, base + k)
        k += _ONE
        if ZIG_F[iz] + u * (ZIG_F[iz - 1] - ZIG_F[iz]) < np.exp(-0.5 * x * x):
            return x
        z = mix64(alt + (base + k + _ONE) * _G)
        k += _ONE
        hz = np.int64(np.int32(np.uint32(z & _M32)))
        iz = np.int64((z >> _S32) & _M7)
        if abs(hz) < ZIG_K[iz]:
            return hz * ZIG_W[iz]


# -- standard normal pairs for bulk use: Box-Muller in straight-line code ------------------------
#
# G. E. P. Box, M. E. Muller, "A Note on the Generation of Random Normal Deviates", Ann. Math.
# Statist. 29(2), 1958. The ziggurat above needs table lookups and rare slow paths, which keep a
# loop over many draws scalar (on AVX-512 CPUs a gather costs more than the whole hash). Box-Muller
# written with polynomials instead of library calls has no table and no branch, so a loop that
# fills an array with it (:func:`fill_normals`) compiles to SIMD code: about 4x faster per normal here. One 64-bit draw
# gives a pair: the high 32 bits the radius, the low 32 the angle,
#
#   u1 = (2 k1 + 1) / 2^33,  phi = 2 pi (2 k2 + 1) / 2^33,
#   (z0, z1) = sqrt(-2 ln u1) (cos phi, sin phi).
#
# ln is evaluated as ln f + e ln 2 with u1 = f 2^e, f in [sqrt(1/2), sqrt(2)) (the exponent from a
# leading-zero count, no frexp call), ln f = 2 atanh(s), s = (f - 1) / (f + 1), by its series to
# s^21 (|s| <= 0.172: truncation < 1e-17); cos and sin by their Taylor series on the octant-centred
# angle |x| <= pi/4 (truncation < 2e-16). Both are exact to a few ulp. The 32-bit uniforms bound
# |z| by sqrt(2 * 33 ln 2) = 6.77, i.e. the distribution is N(0, 1) truncated at a probability of
# 1.3e-11, and phi resolves 2^-33 of a turn.

_SQRT_HALF = 0.7071067811865476
_LN2 = 0.6931471805599453
_M31 = np.uint64((1 << 31) - 1)
_I64 = 2.0**-64
_I31 = 2.0**-31
_HALF_PI = 1.5707963267948966


@jit
def fill_normals(key, base, out):
    """Fill ``out`` (even size) with standard normals: ``out[2q], out[2q + 1]`` is the Box-Muller
    pair of draw ``(key, base + q)``; compiles to SIMD code (:func:`normal_pair` is inlined)."""
    for q in range(out.size // 2):
        z0, z1 = normal_pair(mix64(key + (base + np.uint64(q) + _ONE) * _G))
        out[2 * q] = z0
        out[2 * q + 1] = z1


@jit_inline
def normal_pair(h):
    """The Box-Muller pair of the 64-bit draw ``h`` (straight-line code: SIMD in loops)."""
    m = ((h >> _S32) << _ONE) | _ONE  # odd, < 2^33: u1 = m / 2^33 in (0, 1)
    lz = leading_zeros(m)
    f = np.float64(m << lz) * _I64  # in [1/2, 1); u1 = f * 2^(31 - lz)
    e = np.float64(31 - np.int64(lz))
    small = f < _SQRT_HALF
    f = f * 2.0 if small else f
    e = e - 1.0 if small else e
    s = (f - 1.0) / (f + 1.0)
    s2 = s * s
    p = 1.0 / 21.0
    p = p * s2 + 1.0 / 19.0
    p = p * s2 + 1.0 / 17.0
    p = p * s2 + 1.0 / 15.0
    p = p * s2 + 1.0 / 13.0
    p = p * s2 + 1.0 / 11.0
    p = p * s2 + 1.0 / 9.0
    p = p * s2 + 1.0 / 7.0
    p = p * s2 + 1.0 / 5.0
    p = p * s2 + 1.0 / 3.0
    p = p * s2 + 1.0
    radius = math.sqrt(-2.0 * (2.0 * s * p + e * _LN2))
    t = ((h & _M32) << _ONE) | _ONE  # odd, < 2^33: phi = 2 pi t / 2^33
    quad = np.int64(t >> _S31)  # the quarter turn; the rest is pi/4 + x with |x| <= pi/4
    x = (np.float64(t & _M31) * _I31 - 0.5) * _HALF_PI
    x2 = x * x
    sp = -1.0 / 1307674368000.0
    sp = sp * x2 + 1.0 / 6227020800.0
    sp = sp * x2 - 1.0 / 39916800.0
    sp = sp * x2 + 1.0 / 362880.0
    sp = sp * x2 - 1.0 / 5040.0
    sp = sp * x2 + 1.0 / 120.0
    sp = sp * x2 - 1.0 / 6.0
    sin_x = x + x * x2 * sp
    cp = 1.0 / 20922789888000.0
    cp = cp * x2 - 1.0 / 87178291200.0
    cp = cp * x2 + 1.0 / 479001600.0
    cp = cp * x2 - 1.0 / 3628800.0
    cp = cp * x2 + 1.0 / 40320.0
    cp = cp * x2 - 1.0 / 720.0
    cp = cp * x2 + 1.0 / 24.0
    cp = cp * x2 - 0.5
    cos_x = 1.0 + x2 * cp
    c = _SQRT_HALF * (cos_x - sin_x)  # cos(pi/4 + x)
    sn = _SQRT_HALF * (cos_x + sin_x)  # sin(pi/4 + x)
    # rotate by quad quarter turns with multipliers in {-1, 0, 1}: selects would keep it scalar
    sign = np.float64(1 - (quad & 2))
    cq = sign * np.float64(1 - (quad & 1))
    sq = sign * np.float64(quad & 1)
    return radius * (c * cq - sn * sq), radius * (sn * cq + c * sq)


# -- the same pairs in float32, for the read noise of crossbar reads -----------------------------
#
# The same bits and the same formulas as :func:`fill_normals`, evaluated in float32 (16 SIMD lanes
# instead of 8, shorter polynomials): the hash runs in its own loop (64-bit lanes) and writes the
# two 32-bit halves of each draw, so the loop that turns them into normals holds 32-bit values
# only. There u1 = (k1 + 1/2) / 2^32 (the same value as (2 k1 + 1) / 2^33); ln u1 = ln f + e ln 2
# with the exponent and mantissa read from the float32 bits, f in [sqrt(1/2), sqrt(2)); for u1 >=
# sqrt(1/2), f - 1 = -(~k1 + 1/2) / 2^32 is taken from the integer so that small radii keep their
# relative precision; ln f = 2 atanh(s) by its series to s^9 and sin, cos by theirs to x^9, x^10
# (truncation < 3e-9). The result agrees with the float64 pairs to ~1e-6 absolute (float32
# rounding of the factors) and has the same truncation at |z| = 6.77.

_F1 = np.float32(1.0)
_F2 = np.float32(2.0)
_FHALF = np.float32(0.5)
_F_SQRT_HALF = np.float32(_SQRT_HALF)
_F_SQRT_TWO = np.float32(1.4142135623730951)
_F_LN2 = np.float32(_LN2)
_F_HALF_PI = np.float32(_HALF_PI)
_F_I32 = np.float32(2.0**-32)
_F_I30 = np.float32(2.0**-30)
_MANTISSA32 = np.int32(0x7FFFFF)
_ONE_BITS32 = np.int32(0x3F800000)
_LOW30 = np.uint32(0x3FFFFFFF)


@jit
def hash_halves(key, base, high, low):
    """``high[q]``, ``low[q]``: the two 32-bit halves of draw ``(key, base + q)``."""
    for q in range(high.size):
        h = mix64(key + (base + np.uint64(q) + _ONE) * _G)
        high[q] = np.uint32(h >> _S32)
        low[q] = np.uint32(h & _M32)


@jit_contract
def _pairs_from_halves(high, low, out):
    """Box-Muller pairs in float32 from the halves written by :func:`hash_halves`
    (:func:`normal_pair32`, inlined: SIMD code)."""
    for q in range(high.size):
        z0, z1 = normal_pair32(high[q], low[q])
        out[2 * q] = z0
        out[2 * q + 1] = z1


@jit_inline
def normal_pair32(k1, k2):
    """The float32 Box-Muller pair of the 32-bit halves ``k1`` (radius) and ``k2`` (angle) of a
    draw; straight-line code.

    Integer results are narrowed to 32 bits before every conversion (numba widens integer
    arithmetic to 64 bits, which would halve the SIMD width), and the quarter-turn rotation is two
    selects (one of cos, sin is kept, its sign set). Inlined into a ``jit_contract`` loop, its
    products may fuse into FMA instructions (the last bits then differ from a plain loop's)."""
    u = (np.float32(k1) + _FHALF) * _F_I32
    bits = float32_bits(u)
    e = np.float32(np.int32(bits >> np.int32(23))) - np.float32(127.0)
    f = bits_to_float32(np.int32((bits & _MANTISSA32) | _ONE_BITS32))  # [1, 2)
    big = f > _F_SQRT_TWO
    f = f * _FHALF if big else f
    e = e + _F1 if big else e
    d_top = -(np.float32(~k1) + _FHALF) * _F_I32  # u - 1, exact to float32 rounding
    d = d_top if u >= _F_SQRT_HALF else f - _F1
    s = d / (d + _F2)
    s2 = s * s
    p = np.float32(1.0 / 9.0)
    p = p * s2 + np.float32(1.0 / 7.0)
    p = p * s2 + np.float32(1.0 / 5.0)
    p = p * s2 + np.float32(1.0 / 3.0)
    p = p * s2 + _F1
    radius = math.sqrt(np.float32(-2.0) * (_F2 * s * p + e * _F_LN2))
    quad = np.float32(np.int32(k2 >> np.uint32(30)))
    x = ((np.float32(np.int32(k2 & _LOW30)) + _FHALF) * _F_I30 - _FHALF) * _F_HALF_PI
    x2 = x * x
    sp = np.float32(1.0 / 362880.0)
    sp = sp * x2 - np.float32(1.0 / 5040.0)
    sp = sp * x2 + np.float32(1.0 / 120.0)
    sp = sp * x2 - np.float32(1.0 / 6.0)
    sin_x = x + x * x2 * sp
    cp = np.float32(-1.0 / 3628800.0)
    cp = cp * x2 + np.float32(1.0 / 40320.0)
    cp = cp * x2 - np.float32(1.0 / 720.0)
    cp = cp * x2 + np.float32(1.0 / 24.0)
    cp = cp * x2 - _FHALF
    cos_x = _F1 + x2 * cp
    # (cos, sin)(pi/4 + x) = sqrt(1/2) (cos x - sin x, cos x + sin x), then quad quarter turns
    a = cos_x - sin_x
    b = cos_x + sin_x
    rs = radius * (-_F_SQRT_HALF if quad >= _F2 else _F_SQRT_HALF)
    odd = (quad == _F1) or (quad == np.float32(3.0))
    return rs * (-b if odd else a), rs * (a if odd else b)


@jit
def fill_normals32(key, base, high, low, out):
    """Fill the float32 array ``out`` (size ``2 * high.size``) with the pairs of
    :func:`fill_normals` for draws ``(key, base + q)``, computed in float32; ``high`` and ``low``
    (uint32) are scratch space."""
    hash_halves(key, base, high, low)
    _pairs_from_halves(high, low, out)
