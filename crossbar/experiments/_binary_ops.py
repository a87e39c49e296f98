"""The products of a binarized layer in the arithmetic they need, not float32.

A binarized layer computes ``y = x W_b^T`` with ``W_b = sign(W_h)`` in {-1, 0, +1}. Its inputs
are either sign activations (again in {-1, 0, +1}) or 8-bit pixels ``k / 255``; both are exact
8-bit integer codes, so the forward product is exact in integer arithmetic (``torch._int_mm``:
int8 x int8 -> int32), which this project's CPU runs ~6x faster than a float32 product of the
same shape. The backward products (``dL/dx = g W_b``, ``dL/dW_b = g^T x``) involve the real
gradient ``g``; arithmetic ``"auto"`` takes them in bfloat16 on CPUs with native bfloat16
(AVX512-BF16 / AMX), ~2-3x faster: ``g`` and the pixels are rounded to 8 significant bits, the
products accumulated in float32 by oneDNN and rounded to bfloat16 (each gradient within 2**-7 of
the sum of its terms' magnitudes, tested), at one thread (oneDNN's split of the sums between
threads would make the result depend on the thread count). ``"float32"`` is the reference: ordinary float32
products of the same operands. Where torch has no CPU ``_int_mm``, the forward takes float32
products too (exact as well for sign inputs).

docs/validation.md (bnn-metaplastic) gives the speed and the measured effect on accuracy.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from devices.support import jit, jit_parallel, prange

__all__ = ["ARITHMETICS", "SignCodes", "binary_linear", "int8_codes"]

#: ``arithmetic`` of :func:`binary_linear`: "auto" (int8 forward where the inputs are 8-bit codes,
#: bfloat16 backward where the CPU multiplies bfloat16 natively), "int8" (int8 forward, float32
#: backward), "float32" (the reference).
ARITHMETICS = ("auto", "int8", "float32")

_CHUNK = 1 << 16
_BF16_ONE = np.uint16(0x3F80)  # bfloat16 bits of +1.0; -1.0 is 0xBF80
_BF16_MINUS_ONE = np.uint16(0xBF80)


@jit
def _sign_chunk(w, codes, bf16):
    # arithmetic selects instead of branches: one SIMD loop
    for i in range(w.size):
        pos = np.int8(w[i] > 0)
        neg = np.int8(w[i] < 0)
        codes[i] = pos - neg
        bf16[i] = np.uint16(pos) * _BF16_ONE + np.uint16(neg) * _BF16_MINUS_ONE


@jit_parallel
def sign_codes(w, codes, bf16):
    """``codes = sign(w)`` as int8 and ``bf16`` = its bfloat16 bits, in one pass over ``w``
    (float32, 1-D; NaN gives 0)."""
    n = w.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        start = c * _CHUNK
        stop = min(start + _CHUNK, n)
        _sign_chunk(w[start:stop], codes[start:stop], bf16[start:stop])


def int8_codes(x: torch.Tensor) -> tuple[torch.Tensor, int, int] | None:
    """``x`` as int8 codes ``c`` with ``x = (c + offset) / scale`` exactly, or None.

    Recognized: sign activations (``x`` in {-1, 0, 1}: offset 0, scale 1) and 8-bit pixels
    (``x`` the float32 nearest to ``k / 255``, k in 0..255: ``c = k - 128``, offset 128, scale
    255). Anything else (standardized inputs, other dtypes) returns None.
    """
    if x.dtype != torch.float32 or x.device.type != "cpu" or x.numel() == 0:
        return None
    codes = x.to(torch.int8)  # truncation toward zero; checked below
    if torch.equal(codes.to(torch.float32), x):
        if int(codes.abs().max()) <= 1:
            return codes, 0, 1
    k = torch.round(x * 255.0)
    if bool(((k >= 0) & (k <= 255)).all()) and torch.equal(k / 255.0, x):
        return (k.to(torch.int16) - 128).to(torch.int8), 128, 255
    return None


@functools.cache
def _int_mm_works() -> bool:
    """Whether this torch multiplies int8 matrices on the CPU (``torch._int_mm``, private)."""
    try:
        a = torch.ones(17, 8, dtype=torch.int8)
        return bool(torch._int_mm(a, a.t().contiguous()).eq(8).all())
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


class SignCodes:
    """``sign(W_h)`` of one layer as int8 codes and bfloat16, remade when ``W_h`` changes.

    The buffers are kept from step to step: fresh multi-megabyte tensors cost a page fault per
    4 KiB on first touch, as much as the int8 product itself."""

    def __init__(self) -> None:
        self.codes = torch.empty(0, dtype=torch.int8)
        self.bits = torch.empty(0, dtype=torch.int16)
        self.version: tuple[int, int] | None = None

    def update(self, w: torch.Tensor) -> None:
        """Make the codes of ``w`` (float32, CPU) unless they are those of this very tensor
        state (same storage, same version counter)."""
        key = (w.data_ptr(), w._version)
        if key == self.version and self.codes.shape == w.shape:
            return
        if self.codes.shape != w.shape:
            self.codes = torch.empty(w.shape, dtype=torch.int8)
            self.bits = torch.empty(w.shape, dtype=torch.int16)
        sign_codes(w.detach().contiguous().view(-1).numpy(), self.codes.view(-1).numpy(),
                   self.bits.view(-1).numpy().view(np.uint16))  # fmt: skip
        self.version = key

    @property
    def bf16(self) -> torch.Tensor:
        return self.bits.view(torch.bfloat16)


class _BinaryLinearFunction(torch.autograd.Function):
    """``x W_b^T`` with the straight-through gradient ``dL/dW_b`` delivered to ``W_h``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, signs: SignCodes, bf16: bool,
                inputs: tuple[torch.Tensor, int, int] | None) -> torch.Tensor:  # fmt: skip
        codes = signs.codes
        if inputs is not None:
            c, offset, scale = inputs
            acc = torch._int_mm(c, codes.t())
            if offset:
                acc += offset * codes.sum(dim=1, dtype=torch.int32)
            y = acc.to(torch.float32)
            if scale != 1:
                y /= scale  # one rounding of the exact integer sum
        else:
            y = x @ codes.to(x.dtype).t()
        ctx.save_for_backward(x)
        ctx.signs, ctx.version, ctx.bf16 = signs, signs.version, bf16
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        signs = ctx.signs
        if signs.version != ctx.version:  # as autograd does for a tensor saved, then changed
            raise RuntimeError(
                "The hidden weight of a BinaryLinear layer was changed between its forward and "
                "backward passes (an optimizer step in between?)."
            )
        grad_x = grad_w = None
        if ctx.bf16:
            g16 = grad.to(torch.bfloat16)
            with _one_thread():
                if ctx.needs_input_grad[0]:
                    grad_x = (g16 @ signs.bf16).to(torch.float32)
                if ctx.needs_input_grad[1]:
                    grad_w = (g16.t() @ x.to(torch.bfloat16)).to(torch.float32)
        else:
            if ctx.needs_input_grad[0]:
                grad_x = grad @ signs.codes.to(grad.dtype)
            if ctx.needs_input_grad[1]:
                grad_w = grad.t() @ x
        return grad_x, grad_w, None, None, None


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch at one thread inside: its bfloat16 products split their sums between threads for
    some shapes (e.g. (100, 512) @ (512, 512)), rounding differently with the thread count, and
    a result must not depend on it. float32 products need not: MKL's strict reproducibility
    mode makes them thread-independent (crossbar._threads). On many cores the float32 backward
    (``arithmetic="int8"``) is therefore the faster one."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def binary_linear(x: torch.Tensor, w: torch.Tensor, signs: SignCodes, arithmetic: str,
                  native_bf16: bool) -> torch.Tensor:  # fmt: skip
    """``x sign(w)^T`` (float32 CPU tensors), gradient to ``w`` straight through the sign, in
    ``arithmetic`` (:data:`ARITHMETICS`; "auto" takes bfloat16 backward products only where
    ``native_bf16``); ``signs`` holds the layer's sign codes between calls."""
    signs.update(w)
    inputs = int8_codes(x.detach()) if arithmetic != "float32" and _int_mm_works() else None
    return _BinaryLinearFunction.apply(x, w, signs, arithmetic == "auto" and native_bf16, inputs)
