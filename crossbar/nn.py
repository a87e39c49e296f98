"""Torch layers whose weights live in simulated crossbars, with digital hidden weights.

``CrossbarLinear`` keeps a high-precision hidden weight (an ``nn.Parameter``, the digital
storage of the metaplastic unit) and stores its quantized version in a :class:`TiledMatrix`:
multi-level devices programmed by program-and-verify, rewritten only where a device's level
changes (write-on-change, every write counted). The forward pass is the crossbar's physical read
(DAC, read noise, relaxation, ADC); the backward pass is straight-through: gradients flow as if
the layer were ``F.linear`` with the weight the conductances represent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from devices import InvalidParameterError

from .array import TiledMatrix
from .config import CrossbarConfig

__all__ = ["CrossbarLinear"]


class _CrossbarLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, layer: CrossbarLinear
    ) -> torch.Tensor:
        w_read = layer.read_weight()
        y = layer.matrix.matvec(x.detach().to("cpu", torch.float64).numpy())
        ctx.save_for_backward(x, w_read.to(x.device, x.dtype))
        return torch.from_numpy(y).to(x.device, x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w_read = ctx.saved_tensors
        return grad @ w_read, grad.t() @ x, None


class CrossbarLinear(nn.Module):
    """``y = x W^T + b`` computed by a simulated crossbar.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        A digital bias added after the crossbar read.
    config : CrossbarConfig, optional
        The crossbar (default: 128 x 128 tiles of 8-level 130 nm HfO2 devices, differential
        pairs, 8-bit converters, read noise, relaxation at 60 s).
    weight_range : float, optional
        Hidden-weight magnitude mapped to the full conductance window; fixed for the life of the
        layer so that a device is rewritten only when its own level must change. Default: the
        largest initial |weight| (uniform init in ±1/sqrt(in_features)).
    rng : int, numpy.random.Generator or None
        Seed of the devices and read noise.

    Notes
    -----
    The hidden weight ``weight`` is what optimizers update; the devices follow it lazily, at the
    next forward pass after a change (or :meth:`sync`). Inputs and outputs may be CUDA tensors:
    they are copied to the CPU for the simulated read and the result is moved back.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 config: CrossbarConfig | None = None, weight_range: float | None = None,
                 rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameterError(
                    f"The {name!r} parameter of CrossbarLinear must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        gen = torch.Generator().manual_seed(int(np.random.default_rng(rng).integers(2**62)))
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features).uniform_(-bound, bound, generator=gen)
        )
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        config = config if config is not None else CrossbarConfig()
        if not isinstance(config, CrossbarConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of CrossbarLinear must be a CrossbarConfig. "
                f"Got {type(config).__name__} instead."
            )
        if weight_range is None:
            weight_range = config.weight_range or float(self.weight.detach().abs().max())
        if not (
            isinstance(weight_range, (int, float))
            and math.isfinite(weight_range)
            and weight_range > 0
        ):
            raise InvalidParameterError(
                f"The 'weight_range' parameter of CrossbarLinear must be a finite number > 0. "
                f"Got {weight_range!r} instead."
            )
        self.config = config.__class__(**{**config.__dict__, "weight_range": float(weight_range)})
        self.matrix = TiledMatrix(self.weight.detach().double().numpy(), self.config, rng=rng)
        self._synced = self.weight._version
        self._read_weight: torch.Tensor | None = None

    def sync(self) -> None:
        """Program the devices whose level changed since the last sync (write-on-change)."""
        self.matrix.program(self.weight.detach().to("cpu", torch.float64).numpy())
        self._synced = self.weight._version
        self._read_weight = None

    def read_weight(self) -> torch.Tensor:
        """The weight the conductances represent at the read time (what the forward pass uses)."""
        if self.weight._version != self._synced:
            self.sync()
        if self._read_weight is None:
            w = self.matrix.effective_weight(self.config.read_time_s)
            self._read_weight = torch.from_numpy(w).float()
        return self._read_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise InvalidParameterError(
                f"CrossbarLinear expects inputs with {self.in_features} features. "
                f"Got shape {tuple(x.shape)} instead."
            )
        lead = x.shape[:-1]
        y = _CrossbarLinearFunction.apply(x.reshape(-1, self.in_features), self.weight, self)
        y = y.reshape(*lead, self.out_features)
        return y + self.bias if self.bias is not None else y

    def device_writes(self) -> np.ndarray:
        """Programming pulses (SET + RESET) received by every device of the layer."""
        return np.concatenate([a.cells.pulse_count for a in self.matrix.arrays if a.cells is not None]
                              or [np.zeros(0, dtype=np.int64)])  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, levels={self.config.levels}, "
            f"mapping={self.config.mapping!r}"
        )
