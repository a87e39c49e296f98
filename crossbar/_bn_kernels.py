"""Batch-norm statistics whose rounding does not depend on the number of threads.

torch's CPU batch norm splits its sums over the batch between threads, so its outputs change in
the last bits with ``torch.set_num_threads`` (and with anything that changes it). Here each
channel's sums run over the batch in order, in float64, inside one thread; threads take whole
blocks of channels.
"""

from __future__ import annotations

import math

import numpy as np

from devices.support import jit_parallel, prange

__all__ = ["batch_norm_backward", "batch_norm_forward"]

_BLOCK = 64  # channels per parallel task: rows of the block are contiguous in memory


@jit_parallel
def batch_norm_forward(
    x, gamma, beta, eps, y, xhat, invstd, batch_mean, batch_var
):  # pragma: no cover - numba
    """``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per column of ``x`` (N, C), biased
    batch variance; also writes ``xhat`` (N, C), ``invstd``, ``batch_mean`` and the biased
    ``batch_var`` (C,)."""
    n, c = x.shape
    for b in prange((c + _BLOCK - 1) // _BLOCK):
        c0 = b * _BLOCK
        c1 = min(c0 + _BLOCK, c)
        mean = np.zeros(c1 - c0)
        var = np.zeros(c1 - c0)
        for i in range(n):
            for j in range(c0, c1):
                mean[j - c0] += x[i, j]
        for j in range(c1 - c0):
            mean[j] /= n
        for i in range(n):
            for j in range(c0, c1):
                d = x[i, j] - mean[j - c0]
                var[j - c0] += d * d
        for j in range(c1 - c0):
            batch_mean[c0 + j] = mean[j]
            batch_var[c0 + j] = var[j] / n
            invstd[c0 + j] = 1.0 / math.sqrt(var[j] / n + eps)
        for i in range(n):
            for j in range(c0, c1):
                h = (x[i, j] - mean[j - c0]) * invstd[j]
                xhat[i, j] = h
                y[i, j] = h * gamma[j] + beta[j]


@jit_parallel
def batch_norm_backward(g, xhat, invstd, gamma, dx, dgamma, dbeta):  # pragma: no cover - numba
    """Gradients of :func:`batch_norm_forward`: ``dbeta = sum_i g``, ``dgamma = sum_i g xhat``,
    ``dx = gamma invstd (g - dbeta / N - xhat dgamma / N)``."""
    n, c = g.shape
    for b in prange((c + _BLOCK - 1) // _BLOCK):
        c0 = b * _BLOCK
        c1 = min(c0 + _BLOCK, c)
        sg = np.zeros(c1 - c0)
        sgx = np.zeros(c1 - c0)
        for i in range(n):
            for j in range(c0, c1):
                sg[j - c0] += g[i, j]
                sgx[j - c0] += g[i, j] * np.float64(xhat[i, j])
        for j in range(c0, c1):
            dbeta[j] = sg[j - c0]
            dgamma[j] = sgx[j - c0]
        for i in range(n):
            for j in range(c0, c1):
                k = gamma[j] * invstd[j]
                dx[i, j] = k * (g[i, j] - sg[j - c0] / n - xhat[i, j] * (sgx[j - c0] / n))
