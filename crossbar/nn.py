"""Torch layers whose weights live in simulated crossbars, with digital hidden weights.

``CrossbarLinear`` keeps a high-precision hidden weight (an ``nn.Parameter``, the digital
storage of the metaplastic unit) and stores its quantized version in a :class:`TiledMatrix`:
multi-level devices programmed by program-and-verify, rewritten only where a device's level
changes (write-on-change, every write counted). The forward pass is the crossbar's physical read
(DAC, read noise, relaxation, ADC); the backward pass is straight-through: gradients flow as if
the layer were ``F.linear`` with the weight the conductances represent.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from devices import InvalidParameterError
from devices.support import check_choice, check_int, digest

from ._bn_kernels import batch_norm_backward, batch_norm_forward
from ._threads import keep_torch_threads
from .array import TiledMatrix
from .config import CrossbarConfig

keep_torch_threads()

__all__ = [
    "BayesianLinear",
    "CrossbarConv2d",
    "CrossbarLinear",
    "DeterministicBatchNorm1d",
    "WeakResetLinear",
    "convert_to_crossbar",
]


class _CrossbarLinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, layer: CrossbarLinear
    ) -> torch.Tensor:
        exact = layer.matrix.is_exact_product
        if exact or ctx.needs_input_grad[0]:
            w_read = layer.read_weight().to(x.device, x.dtype)
        else:  # the backward pass will not need it (e.g. a first layer): not made
            layer._follow()
            w_read = None
        ctx.save_for_backward(x, w_read)
        if exact:
            # ideal devices and converters, no noise, no wire resistance: the read *is* x W^T;
            # compute it where x lives and count the reads
            layer.matrix.count_reads(x.reshape(-1, x.shape[-1]).shape[0])
            return x @ w_read.t()
        xc = x.detach().to("cpu")
        if xc.dtype not in (torch.float32, torch.float64):
            xc = xc.double()
        y = layer.matrix.matvec(xc.numpy())  # float32 inputs are read exactly as they are
        return torch.from_numpy(y).to(x.device, x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w_read = ctx.saved_tensors
        # only the products asked for: a first layer's input needs no gradient
        grad_x = grad @ w_read if ctx.needs_input_grad[0] else None
        grad_w = grad.t() @ x if ctx.needs_input_grad[1] else None
        return grad_x, grad_w, None


def _state_digest(meta_text: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of a layer's device state: its JSON header, then every array."""
    return digest(arrays, header=meta_text)


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
        largest initial ``|weight|`` (uniform init in ±1/sqrt(in_features)).
    rng : int, numpy.random.Generator or None
        Seed of the devices and read noise.

    Notes
    -----
    The hidden weight ``weight`` is what optimizers update; the devices follow it lazily, at the
    next forward pass after a change (or :meth:`sync`). Changes are detected through the tensor's
    version counter, which in-place edits of ``weight.data`` do not bump: call :meth:`sync` after
    such edits. Inputs and outputs may be CUDA tensors:
    they are copied to the CPU for the simulated read and the result is moved back.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 config: CrossbarConfig | None = None, weight_range: float | None = None,
                 rng: int | np.random.Generator | None = None,
                 weight: torch.Tensor | None = None) -> None:  # fmt: skip
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            check_int(name, value, "CrossbarLinear", 1)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        gen = torch.Generator().manual_seed(int(np.random.default_rng(rng).integers(2**62)))
        if weight is None:
            weight = torch.empty(out_features, in_features).uniform_(-bound, bound, generator=gen)
        elif tuple(weight.shape) != (out_features, in_features) or not torch.isfinite(weight).all():
            raise InvalidParameterError(
                f"The 'weight' parameter of CrossbarLinear must be finite with shape "
                f"({out_features}, {in_features}). Got shape {tuple(weight.shape)} instead."
            )
        self.weight = nn.Parameter(weight.detach().to(torch.float32).clone())
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        config = config if config is not None else CrossbarConfig()
        if not isinstance(config, CrossbarConfig):
            raise InvalidParameterError(
                f"The 'config' parameter of CrossbarLinear must be a CrossbarConfig. "
                f"Got {type(config).__name__} instead."
            )
        if weight_range is None:
            weight_range = config.weight_range or float(self.weight.detach().abs().max()) or 1.0
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
        self.matrix.program(self.weight.detach().cpu().numpy(), report=False)  # float32: exact
        self._synced = self.weight._version
        self._read_weight = None

    def _follow(self) -> None:
        """Sync the devices if the hidden weight changed since the last sync."""
        if self.weight._version != self._synced:
            self.sync()

    def read_weight(self) -> torch.Tensor:
        """The weight the conductances represent at the read time (what the forward pass uses)."""
        self._follow()
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

    @classmethod
    def from_linear(cls, linear: nn.Linear, config: CrossbarConfig | None = None,
                    weight_range: float | None = None,
                    rng: int | np.random.Generator | None = None) -> CrossbarLinear:  # fmt: skip
        """A crossbar layer holding ``linear``'s weights (programmed once) and bias."""
        if not isinstance(linear, nn.Linear):
            raise InvalidParameterError(
                f"from_linear needs an nn.Linear. Got {type(linear).__name__} instead."
            )
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, config,
                    weight_range, rng, weight=linear.weight.detach().cpu())  # fmt: skip
        if linear.bias is not None:
            with torch.no_grad():
                layer.bias.copy_(linear.bias.detach().cpu())
        return layer

    def to_linear(self, stored: bool = False) -> nn.Linear:
        """An ``nn.Linear`` with the hidden weights (``stored=True``: the weights the devices hold)."""
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            linear.weight.copy_(self.read_weight() if stored else self.weight.detach())
            if self.bias is not None:
                linear.bias.copy_(self.bias.detach())
        return linear

    # -- state_dict: the devices travel with the hidden weights -------------------------------------
    _STATE_FORMAT = "crossbar-sim/crossbar-linear"

    def get_extra_state(self) -> dict[str, Any]:
        """Device states, counters and random streams, as tensors and a JSON string."""
        meta, arrays = self.matrix.state()
        text = json.dumps(meta)
        return {
            "format": self._STATE_FORMAT,
            "version": 1,
            "meta": text,
            "arrays": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()},
            "sha256": _state_digest(text, arrays),
        }

    def set_extra_state(self, state: Any) -> None:
        """Restore :meth:`get_extra_state`: later reads continue bit-identically."""
        if not isinstance(state, dict) or state.get("format") != self._STATE_FORMAT:
            raise InvalidParameterError(
                f"CrossbarLinear state must have format {self._STATE_FORMAT!r}. "
                f"Got {state.get('format') if isinstance(state, dict) else type(state).__name__!r}."
            )
        if state.get("version") != 1:
            raise InvalidParameterError(
                f"CrossbarLinear state version {state.get('version')!r} is not supported "
                "(this version reads 1)."
            )
        try:
            arrays = {k: v.numpy() for k, v in state["arrays"].items()}
            text = state["meta"]
            if "sha256" in state and state["sha256"] != _state_digest(text, arrays):
                raise InvalidParameterError(
                    "CrossbarLinear state: the device arrays and header do not match their "
                    "SHA-256: the saved state is damaged."
                )  # states saved before the hash carry none
            self.matrix.load_state(json.loads(text), arrays)
        except InvalidParameterError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise InvalidParameterError(
                f"CrossbarLinear state is damaged ({type(exc).__name__}: {exc})."[:400]
            ) from None
        self.config = self.matrix.config
        self._synced = self.weight._version
        self._read_weight = None

    def _load_from_state_dict(
        self, state_dict: Any, prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + "_extra_state" in state_dict:
            self._synced = self.weight._version  # the devices arrived with the weights
        else:  # weights without device state: program them at the next forward pass
            self._synced = -1

    def weight_levels(self) -> torch.Tensor | None:
        """The values a stored weight can take (increasing), for the multi-level metaplastic rule;
        None with ideal (continuous) devices."""
        values = self.matrix.weight_values()
        if values.size == 0:
            return None
        return torch.from_numpy(values)

    def device_count(self) -> int:
        """Devices of the layer's arrays (including reference columns and unused tile cells)."""
        return sum(a.rows * a.cols for a in self.matrix.arrays)

    def device_writes(self) -> np.ndarray:
        """Programming pulses (SET + RESET, or potentiation + depression) received by every device
        of the layer."""
        return np.concatenate([a.cells.pulse_count for a in self.matrix.arrays if a.cells is not None]
                              or [np.zeros(0, dtype=np.int64)])  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, levels={self.config.levels}, "
            f"mapping={self.config.mapping!r}"
        )


class CrossbarConv2d(nn.Module):
    """2-D convolution computed by a crossbar: im2col (``F.unfold``) then a :class:`CrossbarLinear`
    whose rows are the ``in_channels * kh * kw`` inputs of a receptive field.

    Parameters follow :class:`torch.nn.Conv2d` (``groups=1`` only), plus ``config``,
    ``weight_range`` and ``rng`` of :class:`CrossbarLinear`. ``weight`` has the Conv2d shape
    ``(out_channels, in_channels, kh, kw)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, bias: bool = True,
                 config: CrossbarConfig | None = None, weight_range: float | None = None,
                 rng: int | np.random.Generator | None = None,
                 weight: torch.Tensor | None = None) -> None:  # fmt: skip
        super().__init__()
        pair = nn.modules.utils._pair
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = pair(kernel_size), pair(stride)
        self.padding, self.dilation = pair(padding), pair(dilation)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        flat = None if weight is None else weight.reshape(out_channels, -1)
        self.core = CrossbarLinear(fan_in, out_channels, bias, config, weight_range, rng, flat)

    @property
    def weight(self) -> torch.Tensor:
        """Hidden weights in the Conv2d shape (a view of the core layer's parameter)."""
        return self.core.weight.view(self.out_channels, self.in_channels, *self.kernel_size)

    @property
    def bias(self) -> torch.Tensor | None:
        return self.core.bias

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, config: CrossbarConfig | None = None,
                    weight_range: float | None = None,
                    rng: int | np.random.Generator | None = None) -> CrossbarConv2d:  # fmt: skip
        """A crossbar convolution holding ``conv``'s weights and bias."""
        if not isinstance(conv, nn.Conv2d) or conv.groups != 1 or conv.padding_mode != "zeros":
            raise InvalidParameterError(
                "from_conv2d needs an nn.Conv2d with groups=1 and zero padding. "
                f"Got {conv!r} instead."
            )
        padding = conv.padding
        if isinstance(padding, str):  # "valid" or "same" (stride 1, as torch allows)
            total = [d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size, strict=True)]
            if padding == "valid":
                padding = (0, 0)
            elif all(t % 2 == 0 for t in total):
                padding = (total[0] // 2, total[1] // 2)
            else:
                raise InvalidParameterError(
                    "from_conv2d supports padding='same' only when dilation * (kernel - 1) is even "
                    f"(symmetric padding). Got {conv!r}."
                )
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    padding, conv.dilation, conv.bias is not None, config, weight_range, rng,
                    weight=conv.weight.detach().cpu())  # fmt: skip
        if conv.bias is not None:
            with torch.no_grad():
                layer.core.bias.copy_(conv.bias.detach().cpu())
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InvalidParameterError(
                f"CrossbarConv2d expects (N, {self.in_channels}, H, W) inputs. "
                f"Got shape {tuple(x.shape)} instead."
            )
        n, _, h, w = x.shape
        cols = nn.functional.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        out = self.core(cols.transpose(1, 2))  # (N, L, out)
        kh, kw = self.kernel_size
        h_out = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        w_out = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return out.transpose(1, 2).reshape(n, self.out_channels, h_out, w_out)


def convert_to_crossbar(model: nn.Module, config: CrossbarConfig | None = None,
                        filter_fn: Any = None, rng: int | None = 0) -> nn.Module:  # fmt: skip
    """Replace every ``nn.Linear`` and ``nn.Conv2d`` (groups=1, zero padding) of ``model`` for which
    ``filter_fn(module, qualified_name)`` is true (all by default) by its crossbar version.

    Works in place and returns the model — or the converted layer when ``model`` itself is one.
    A module used at several places is converted once and the copy used everywhere. Each converted
    layer gets its own device seed derived from ``rng``.
    """
    seeds = np.random.default_rng(rng)

    def convertible(mod: nn.Module, name: str) -> bool:
        if isinstance(mod, nn.Linear):
            ok = True
        elif isinstance(mod, nn.Conv2d):
            ok = mod.groups == 1 and mod.padding_mode == "zeros"
        else:
            return False
        return ok and (filter_fn is None or bool(filter_fn(mod, name)))

    def convert(mod: nn.Module) -> nn.Module:
        seed = int(seeds.integers(2**62))
        if isinstance(mod, nn.Linear):
            return CrossbarLinear.from_linear(mod, config, rng=seed)
        return CrossbarConv2d.from_conv2d(mod, config, rng=seed)

    if convertible(model, ""):
        return convert(model)
    done: dict[int, nn.Module] = {}
    for name, mod in list(model.named_modules(remove_duplicate=False)):
        if not name or not convertible(mod, name):
            continue
        if id(mod) not in done:
            done[id(mod)] = convert(mod)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, done[id(mod)])
    return model


class BayesianLinear(nn.Module):
    """A linear layer with a Gaussian posterior per synapse, trained by :class:`~crossbar.optim.MESU`.

    ``weight_mu`` and ``weight_sigma`` are held digitally (docs/training.md); every forward pass draws
    ``samples`` weight samples ``w = mu + sigma * eps`` (``eps`` from the layer's generator) and
    returns their outputs stacked, shape ``(samples, *batch, out_features)``. Choice documented in
    ``docs/training.md``: the samples are drawn digitally; drawing them from the devices'
    programming noise (Bonnet et al. 2023 use two devices per weight) would need a device write per
    sample. No bias, as in the MESU reference network.

    Parameters
    ----------
    in_features, out_features : int
    samples : int
        Monte-Carlo samples per forward pass (the paper uses 10).
    seed : int
        Seed of the initialization and of the sampling generator.
    sampling : {"weights", "local"}
        ``"weights"`` (default): every Monte-Carlo sample draws a whole weight matrix, shared by
        the batch (the MESU reference code). ``"local"``: the local reparameterization (Kingma
        et al. 2015) draws the outputs ``x mu^T + sqrt(x^2 (sigma^2)^T) * eps`` directly — for
        one input (batch 1) exactly the same distribution of outputs, with ``out`` normals per
        sample instead of ``out x in``; for larger batches the examples of one sample no longer
        share their weights. Its gradient with respect to sigma is a different unbiased
        estimator (of lower variance).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        samples: int = 10,
        seed: int = 0,
        sampling: str = "weights",
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("samples", samples)):  # fmt: skip
            check_int(name, value, "BayesianLinear", 1)
        self.in_features, self.out_features, self.samples = in_features, out_features, samples
        check_choice("sampling", sampling, ("weights", "local"), "BayesianLinear")
        self.sampling = sampling
        self.generator = torch.Generator().manual_seed(seed)
        bound = 4.0 / math.sqrt(in_features)  # docs/training.md initialization
        self.weight_mu = nn.Parameter(
            torch.empty(out_features, in_features).uniform_(-bound, bound, generator=self.generator)
        )
        self.weight_sigma = nn.Parameter(
            torch.full((out_features, in_features), 2.0 / math.sqrt(in_features))
        )

    def mesu_parameters(self) -> list[nn.Parameter]:
        """The (mu, sigma) pair, in the order :class:`~crossbar.optim.MESU` expects."""
        return [self.weight_mu, self.weight_sigma]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape (batch, in) feeds every sample; (samples, batch, in) feeds sample s
        with weight sample s (so layers chain); returns (samples, batch, out). A 3-D input is
        always read as one input per sample, never as extra batch dimensions."""
        if x.dim() == 2:
            x = x.unsqueeze(0)
        elif x.dim() != 3 or x.shape[0] != self.samples:
            x = x.new_empty(0, 0, 0)  # rejected below
        if x.dim() != 3 or x.shape[2] != self.in_features:
            raise InvalidParameterError(
                f"BayesianLinear expects inputs of shape (batch, {self.in_features}) or "
                f"({self.samples}, batch, {self.in_features}). Got {tuple(x.shape)} instead."
            )
        if self.sampling == "local":
            mean = nn.functional.linear(x, self.weight_mu)
            var = nn.functional.linear(x * x, self.weight_sigma * self.weight_sigma)
            shape = (self.samples, x.shape[1], self.out_features)
            eps = torch.randn(shape, generator=self.generator).to(mean.device)
            return mean + torch.sqrt(var + 1e-30) * eps
        eps = torch.randn((self.samples, *self.weight_mu.shape), generator=self.generator)
        w = self.weight_mu + self.weight_sigma * eps.to(self.weight_mu.device)
        return torch.einsum("sbi,soi->sbo", x.expand(self.samples, -1, -1), w)


class WeakResetLinear(nn.Module):
    """A binarized linear layer trained in situ on HfOx weak-RESET device pairs (docs/devices.md).

    Each synapse is two :class:`devices.WeakResetRRAM` devices (BL and BLb, a differential pair);
    the binary weight is ``W_b = sign(R_BL - R_BLb)`` and there is no digital hidden weight: the
    resistance difference is the hidden weight (Majumdar et al., IEEE TED 2021). ``weight`` holds
    ``W_b`` (an ``nn.Parameter`` whose gradient :class:`~crossbar.optim.WeakResetAdam` turns into
    weak-RESET pulses); the forward pass is ``F.linear(x, W_b)``.

    Parameters
    ----------
    in_features, out_features : int
    noise, d2d, params : see :class:`devices.WeakResetRRAM`
    rng : int, numpy.random.Generator or None
    """

    def __init__(self, in_features: int, out_features: int, noise: str = "paper", d2d: bool = True,
                 params: Any = None, rng: int | np.random.Generator | None = None) -> None:  # fmt: skip
        from devices import WeakResetRRAM, presets

        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            check_int(name, value, "WeakResetLinear", 1)
        self.in_features, self.out_features = in_features, out_features
        n = in_features * out_features
        self.devices = WeakResetRRAM(2 * n, params=params or presets.MAJUMDAR2021, noise=noise,
                                     d2d=d2d, rng=rng)  # fmt: skip
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.refresh(self.devices.resistance())

    def refresh(self, resistance: np.ndarray) -> None:
        """Set ``weight`` to ``sign(R_BL - R_BLb)`` from the devices' resistances (ohm)."""
        n = self.in_features * self.out_features
        diff = resistance[:n] - resistance[n:]
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(np.sign(diff)).float().view_as(self.weight))

    def resistance_difference(self) -> np.ndarray:
        """``R_BL - R_BLb`` (ohm) per synapse, shape (out, in): the analog hidden weight."""
        r = self.devices.resistance()
        n = self.in_features * self.out_features
        return (r[:n] - r[n:]).reshape(self.out_features, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight)


class _BatchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                eps: float, stats: list[np.ndarray]) -> torch.Tensor:  # fmt: skip
        xs = x.detach().contiguous().numpy()
        gamma = weight.detach().numpy()
        y, xhat = np.empty_like(xs), np.empty_like(xs)
        invstd, mean, var = (np.empty(xs.shape[1]) for _ in range(3))
        batch_norm_forward(xs, gamma, bias.detach().numpy(), float(eps), y, xhat, invstd, mean,
                           var)  # fmt: skip
        stats += [mean, var]
        ctx.save_for_backward(weight)
        ctx.xhat, ctx.invstd = xhat, invstd
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (weight,) = ctx.saved_tensors
        g = grad.detach().contiguous().to(torch.float32).numpy()
        dx = np.empty_like(g)
        dgamma, dbeta = np.empty(g.shape[1]), np.empty(g.shape[1])
        batch_norm_backward(g, ctx.xhat, ctx.invstd, weight.detach().numpy(), dx, dgamma, dbeta)
        return (torch.from_numpy(dx), torch.from_numpy(dgamma).to(weight.dtype),
                torch.from_numpy(dbeta).to(weight.dtype), None, None)  # fmt: skip


class DeterministicBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` whose batch statistics do not depend on the number of threads.

    torch's CPU kernel splits the sums over the batch between threads, so its outputs and
    gradients change in the last bits with ``torch.set_num_threads``; a training run amplifies
    that into different accuracies. Here, for float32 CPU inputs of shape (N, C) normalized by
    their batch statistics (training mode, or ``track_running_stats=False``), each channel's
    mean, biased variance and gradient sums are taken over the batch in order, in float64
    (:mod:`crossbar._bn_kernels`); every other case (running statistics, other devices, dtypes
    or shapes) is ``nn.BatchNorm1d`` itself. Running statistics, when kept, are updated from the
    same batch statistics as torch does (momentum or cumulative average, unbiased variance).
    Same parameters, buffers and ``state_dict``.

    .. math::

        y = \\gamma \\frac{x - \\mu_B}{\\sqrt{\\sigma_B^2 + \\epsilon}} + \\beta
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_stats = self.training or self.running_mean is None
        if (not batch_stats or x.dim() != 2 or x.device.type != "cpu"
                or x.dtype != torch.float32 or x.shape[0] < 2):  # fmt: skip
            return super().forward(x)
        if x.shape[1] != self.num_features:
            raise InvalidParameterError(
                f"DeterministicBatchNorm1d expects {self.num_features} features; got input of "
                f"shape {tuple(x.shape)}."
            )
        weight = self.weight if self.weight is not None else torch.ones(self.num_features)
        bias = self.bias if self.bias is not None else torch.zeros(self.num_features)
        stats: list[np.ndarray] = []
        y = _BatchNormFunction.apply(x, weight, bias, self.eps, stats)
        if self.training and self.running_mean is not None:
            self._update_running_stats(*stats, x.shape[0])
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked += 1
        if self.momentum is None:  # cumulative moving average, as nn.BatchNorm1d
            factor = 1.0 / float(self.num_batches_tracked)
        else:
            factor = self.momentum
        rm, rv = self.running_mean, self.running_var
        rm.mul_(1 - factor).add_(torch.from_numpy(mean).to(rm.dtype), alpha=factor)
        rv.mul_(1 - factor).add_(torch.from_numpy(var * n / (n - 1)).to(rv.dtype), alpha=factor)
