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

import numpy as np

from ._jit import jit

__all__ = ["GOLDEN_GAMMA", "derive_key", "mix64", "mix64_py", "uniform", "uniform_u16"]

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
