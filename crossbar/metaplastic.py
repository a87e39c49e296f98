"""The digital metaplastic-storage unit: hidden-weight precision and memory footprint.

Hidden weights live in digital memory beside the crossbar. Their precision sets the unit's
memory: float32 (32 bits per weight) or a ``b``-bit fixed-point code (``2**b`` codes over
``[-range, range)``), written after every optimizer step with nearest or stochastic rounding
(stochastic rounding keeps small updates alive on average, the usual way to train with few bits).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from devices import InvalidParameterError
from devices.support import check_choice, check_int, check_real

__all__ = ["ROUNDINGS", "HiddenPrecision", "footprint"]

ROUNDINGS = ("nearest", "stochastic")


@dataclass(frozen=True)
class HiddenPrecision:
    """Storage format of the hidden weights.

    Parameters
    ----------
    bits : int or None
        ``None``: float32 (32 bits). Otherwise a signed fixed-point code of 1-32 bits: the
        hidden weight is stored as ``range * k / 2**(bits-1)``, ``k`` an integer in
        ``[-2**(bits-1), 2**(bits-1) - 1]``.
    range : float
        Largest stored magnitude (values beyond saturate).
    rounding : {"nearest", "stochastic"}
        How a new value is rounded to the code: to the nearest code, or up with probability equal
        to the distance from the code below (unbiased).
    """

    bits: int | None = None
    range: float = 1.0
    rounding: str = "nearest"

    def __post_init__(self) -> None:
        if self.bits is not None:
            check_int("bits", self.bits, "HiddenPrecision", 1, 32)
        check_real("range", self.range, "HiddenPrecision", 0.0, low_open=True)
        check_choice("rounding", self.rounding, ROUNDINGS, "HiddenPrecision")

    @property
    def bits_per_weight(self) -> int:
        """Bits of digital memory per hidden weight."""
        return 32 if self.bits is None else self.bits

    def quantize_(self, w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Round ``w`` in place to the storage format (no-op for float32); returns ``w``."""
        if self.bits is None:
            return w
        half = 2 ** (self.bits - 1)
        step = self.range / half
        with torch.no_grad():
            scaled = w / step
            if self.rounding == "nearest":
                codes = torch.round(scaled)
            else:
                low = torch.floor(scaled)
                u = torch.rand(w.shape, generator=generator, dtype=w.dtype, device=w.device)
                codes = low + (u < scaled - low).to(w.dtype)
            w.copy_(codes.clamp_(-half, half - 1) * step)
        return w


def footprint(model: nn.Module, precision: HiddenPrecision | None = None) -> dict[str, float]:
    """Memory of the crossbar layers of ``model``: hidden-weight bits and devices.

    Returns ``hidden_weights``, ``hidden_bits``, ``hidden_bytes``, ``devices`` and
    ``bytes_per_weight`` (digital memory per hidden weight).
    """
    precision = precision or HiddenPrecision()
    if not isinstance(precision, HiddenPrecision):
        raise InvalidParameterError(
            f"The 'precision' parameter of footprint must be a HiddenPrecision. "
            f"Got {type(precision).__name__} instead."
        )
    # the layers that hold weights in devices say so with device_count() (crossbar.nn's
    # CrossbarLinear; a CrossbarConv2d holds one): the digital unit needs no torch layer type
    layers = [m for m in model.modules() if callable(getattr(m, "device_count", None))]
    n_weights = sum(lay.weight.numel() for lay in layers)
    devices = sum(lay.device_count() for lay in layers)
    bits = n_weights * precision.bits_per_weight
    return {
        "hidden_weights": n_weights,
        "hidden_bits": bits,
        "hidden_bytes": bits / 8,
        "devices": devices,
        "bytes_per_weight": precision.bits_per_weight / 8,
    }
