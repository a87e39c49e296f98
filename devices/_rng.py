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
