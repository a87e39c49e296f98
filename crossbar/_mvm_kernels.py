"""Numba kernel of the crossbar read-out: read noise, column ADCs and digital accumulation."""

from __future__ import annotations

import math

import numpy as np

from devices._jit import jit_parallel, prange
from devices._rng import normal


@jit_parallel
def read_out(mean, var, ref_mean, ref_var, col_tile, step, qmax, key, out):
    """Digitize every tile's column currents and sum the row tiles.

    mean, var : (R, B, C) noiseless column currents and their read-noise variances (var may be
        empty: no noise); ref_mean, ref_var : (R, B, T) reference-column currents (T = 0: no
        reference column), subtracted from every column ``c`` of column tile ``col_tile[c]``
        with one shared noise draw; step : (R, C) ADC step (0: ideal ADC); qmax : largest code.
    out : (B, C) sum over row tiles of the digitized currents.
    Normal ``(r, b, c)`` uses counter ``(r * B + b) * (C + T) + c`` (reference: ``C + t``).
    """
    n_r, n_b, n_c = mean.shape
    n_t = ref_mean.shape[2]
    noisy = var.size > 0
    width = np.uint64(n_c + n_t)
    for b in prange(n_b):
        z = np.zeros(n_c + n_t)  # this row's normals, drawn in a tight loop of their own
        for c in range(n_c):
            out[b, c] = 0.0
        for r in range(n_r):
            if noisy:
                base = (np.uint64(r) * np.uint64(n_b) + np.uint64(b)) * width
                for c in range(n_c + n_t):
                    z[c] = normal(key, base + np.uint64(c))
            for c in range(n_c):
                current = mean[r, b, c]
                if noisy:
                    current += math.sqrt(var[r, b, c]) * z[c]
                if n_t > 0:
                    t = col_tile[c]
                    ref = ref_mean[r, b, t]
                    if noisy:
                        ref += math.sqrt(ref_var[r, b, t]) * z[n_c + t]
                    current -= ref
                s = step[r, c]
                if s > 0.0:  # round half away from zero, then saturate
                    code = math.floor(abs(current) / s + 0.5)
                    code = min(code, qmax)
                    current = math.copysign(code * s, current)
                out[b, c] += current
