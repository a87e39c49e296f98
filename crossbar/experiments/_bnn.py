"""Binarized networks of Laborieux et al. (Nat. Commun. 2021) and their continual training.

The model follows the authors' ``models_utils.py`` (docs/validation.md): fully connected layers
whose forward pass uses ``W_b = sign(W_h)`` of the hidden weights ``W_h`` (no bias), each followed
by ``BatchNorm1d(affine=True, track_running_stats=False)`` (batch statistics at test time too) and
a sign activation with the straight-through estimator clipped at |x| <= 1 (not after the last
layer). The first layer sees real pixels. ``W_h ~ U(-0.05, 0.05)``.

Continual training (``main.py``): one ``MetaplasticAdam`` per task (state re-created at each task;
hidden weights with ``meta = m``, batch-norm parameters plain Adam), lr 0.005, L2 1e-7, batch 100;
an older task is evaluated with the batch-norm parameters saved at the end of its training.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from devices.support import check_choice

from ..array import native_bfloat16
from ..nn import DeterministicBatchNorm1d
from ..optim import MetaplasticAdam
from ._binary_ops import ARITHMETICS, SignCodes, binary_linear
from ._data import Task, batch_bounds
from ._run import RunContext
from ._train import train_tasks

__all__ = [
    "BinaryLinear",
    "accuracy",
    "bn_state",
    "make_bnn",
    "train_continual",
    "train_with_task_batch_norm",
]


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class SignActivation(nn.Module):
    """``sign(x)`` forward, hardtanh straight-through gradient backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _SignSTE.apply(x)


class BinaryLinear(nn.Module):
    """``x @ sign(W_h)^T``; the gradient with respect to ``sign(W_h)`` lands in ``W_h.grad``.

    ``arithmetic`` (:data:`~crossbar.experiments._binary_ops.ARITHMETICS`): on the CPU, "auto"
    multiplies 8-bit inputs (sign activations, pixels) by the sign weights exactly in int8 and
    takes the backward products in bfloat16 where the CPU has native bfloat16; "int8" keeps the
    backward in float32; "float32" is the reference. CUDA tensors and a bit-error mask take
    float32 products.
    """

    def __init__(self, in_features: int, out_features: int, init_width: float = 0.1,
                 arithmetic: str = "auto",
                 generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        check_choice("arithmetic", arithmetic, ARITHMETICS, "BinaryLinear")
        self.in_features, self.out_features = in_features, out_features
        self.arithmetic = arithmetic
        w = torch.empty(out_features, in_features).uniform_(-init_width / 2, init_width / 2,
                                                            generator=generator)  # fmt: skip
        self.weight = nn.Parameter(w)
        self.flip: torch.Tensor | None = None  # a stored-bit error mask (mram-ber)
        self._signs = SignCodes()

    def binary_weight(self) -> torch.Tensor:
        wb = torch.sign(self.weight)
        return wb if self.flip is None else wb * self.flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        if (self.flip is None and w.device.type == "cpu" and x.device.type == "cpu"
                and w.dtype == x.dtype == torch.float32):  # fmt: skip
            return binary_linear(x, w, self._signs, self.arithmetic, native_bfloat16())
        w_b = w + (self.binary_weight() - w).detach()  # straight through to the hidden weight
        return nn.functional.linear(x, w_b)


def make_bnn(dims: Sequence[int], seed: int, arithmetic: str = "auto") -> nn.Sequential:
    """BNN ``dims[0]-...-dims[-1]`` (Laborieux et al.'s ``BNN``), initialized from ``seed``;
    ``arithmetic`` of its binarized layers (:class:`BinaryLinear`)."""
    gen = torch.Generator().manual_seed(seed)  # the stream torch.manual_seed(seed) would give
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(itertools.pairwise(dims)):
        layers += [BinaryLinear(a, b, arithmetic=arithmetic, generator=gen),
                   DeterministicBatchNorm1d(b, affine=True, track_running_stats=False)]  # fmt: skip
        if k < len(dims) - 2:
            layers.append(SignActivation())
    return nn.Sequential(*layers)


def bn_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The affine parameters of every batch-norm layer (their only state here)."""
    return {f"{name}.{p}": getattr(mod, p).detach().clone()
            for name, mod in model.named_modules() if isinstance(mod, nn.BatchNorm1d)
            for p in ("weight", "bias")}  # fmt: skip


@torch.no_grad()
def accuracy(model: nn.Module, task: Task, batch: int = 1000,
             bn: dict[str, torch.Tensor] | None = None) -> float:  # fmt: skip
    """Test accuracy (fraction), in test batches of ``batch`` (batch statistics), optionally with
    the batch-norm parameters ``bn`` of an older task."""
    saved = bn_state(model) if bn is not None else None
    if bn is not None:
        model.load_state_dict(bn, strict=False)
    model.train()  # no running statistics: test batches are normalized by their own statistics
    correct = 0
    for lo, hi in batch_bounds(len(task.y_test), batch):
        out = model(task.x_test[lo:hi])
        correct += int((out.argmax(dim=1) == task.y_test[lo:hi]).sum())
    if saved is not None:
        model.load_state_dict(saved, strict=False)
    return correct / len(task.y_test)


def _optimizer(model: nn.Module, meta: float, lr: float, decay: float) -> MetaplasticAdam:
    hidden = [m.weight for m in model.modules() if isinstance(m, BinaryLinear)]
    others = [p for p in model.parameters() if all(p is not w for w in hidden)]
    return MetaplasticAdam([{"params": hidden, "meta": meta}, {"params": others, "meta": 0.0}],
                           lr=lr, weight_decay=decay)  # fmt: skip


def train_continual(ctx: RunContext, key: str, dims: Sequence[int], meta: float,
                    tasks: Sequence[Task], epochs: int, seed: int, batch: int = 100,
                    lr: float = 0.005, decay: float = 1e-7, test_batch: int = 1000,
                    arithmetic: str = "auto") -> tuple[dict[str, Any], nn.Sequential]:  # fmt: skip
    """Train ``tasks`` one after the other (checkpointed per epoch under ``key``).

    Returns the unit's result — ``final[i][j]``: accuracy on task j after training task i;
    ``curve``: accuracy on every task after every epoch — and the trained model. An older task
    is evaluated with the batch-norm parameters saved at the end of its training.
    """
    model = make_bnn(dims, seed, arithmetic).to(ctx.device)
    result = train_with_task_batch_norm(ctx, key, model,
                                        lambda net: _optimizer(net, meta, lr, decay), tasks,
                                        epochs, seed, batch, test_batch)  # fmt: skip
    return result, model


def train_with_task_batch_norm(ctx: RunContext, key: str, model: nn.Module,
                               make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
                               tasks: Sequence[Task], epochs: int, seed: int, batch: int = 100,
                               test_batch: int = 1000) -> dict[str, Any]:  # fmt: skip
    """The continual-learning protocol of Laborieux et al. (``main.py``) for any ``model`` whose
    batch-norm layers keep no running statistics: train ``tasks`` one after the other (a fresh
    optimizer per task, checkpointed per epoch under ``key``); the batch-norm affine parameters
    at the end of each task are saved, and an older task is evaluated with its own, so that the
    new task's batch-norm parameters do not leak into the old task's evaluation (test batches
    of ``test_batch`` normalized by their own statistics)."""
    tasks = [task.to(ctx.device) for task in tasks]
    extra: dict[str, Any] = {"bn_states": []}

    def evaluate(net: nn.Module, t: int, j: int) -> float:
        bn = extra["bn_states"][j] if j < t else None
        return accuracy(net, tasks[j], test_batch, bn)

    def on_task_end(net: nn.Module, t: int) -> None:
        extra["bn_states"].append(bn_state(net))

    return train_tasks(ctx, key, model, make_optimizer, tasks, epochs, batch, seed, evaluate,
                       on_task_end, extra)  # fmt: skip
