"""D'Agostino et al. (AICAS 2023): multi-level metaplasticity on the simulated 130 nm HfO2 crossbar.

A 2-layer perceptron 784-H-10 (``Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm``, no
biases; batch norm without running statistics) learns MNIST then Fashion-MNIST with the
multi-level metaplastic rule (``MetaplasticAdam`` with ``levels``, normalized rule; a
reconstruction, docs/training.md) on

- ``hw``: weights in :class:`~crossbar.nn.CrossbarLinear` layers on the default
  :class:`~crossbar.config.CrossbarConfig` — 8-level HfO2 1T1R cells in differential pairs,
  program-and-verify with its statistics, relaxation read 60 s after programming, read noise,
  8-bit DAC and ADC, write-on-change (a device is programmed only when its level changes);
- ``sw``: the same network in software: the hidden weights rounded to the same 15 weight values
  (straight-through gradient), no device, no converter;

and sweeps ``m*`` over 0-6 in software (the paper: robust for m* in [2, 4]).

The protocol is that of the binarized experiments (Laborieux et al. 2021, ``main.py``): a fresh
optimizer per task; the rule protects the hidden weights; the batch-norm affine parameters are
trained with plain Adam and saved at the end of each task, and an older task is evaluated with
its own (test batches normalized by their own statistics), so the new task's batch-norm
parameters do not leak into the old task's evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import CrossbarConfig
from ..nn import CrossbarLinear, DeterministicBatchNorm1d
from ..optim import MetaplasticAdam
from ..reports import BNN_BASELINE_WEIGHTS
from ._bnn import train_with_task_batch_norm
from ._config import ExperimentConfig
from ._data import Task, load_task, n_batches
from ._run import RunContext

__all__ = ["QuantizedLinear", "qnn_model", "qnn_multilevel", "qnn_optimizer"]


@dataclass(frozen=True)
class QnnMultilevelConfig(ExperimentConfig):
    """``crossbar run qnn-multilevel``: D'Agostino et al. 2023."""

    #: learning rate, in units of the weight range (the normalized multi-level rule)
    lr: float
    #: hidden units of the 784-H-10 perceptron
    hidden: int
    #: epochs per task
    epochs: int
    n_train: int | None
    n_test: int | None
    #: m* of the software sweep
    sweep: list[float]
    #: conductance levels per device
    levels: int
    #: m* of the crossbar arm
    meta: float
    batch: int
    seed: int
    quick: bool


class QuantizedLinear(nn.Module):
    """``x W_q^T (+ b)`` with ``W_q`` the value of ``values`` nearest to the hidden weight
    (straight-through gradient to the hidden weight)."""

    def __init__(self, in_features: int, out_features: int, values: torch.Tensor,
                 bias: bool = True, generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        w = torch.empty(out_features, in_features).uniform_(-bound, bound, generator=generator)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("values", values.float())

    def weight_levels(self) -> torch.Tensor:
        return self.values.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        idx = torch.bucketize(w.detach(), (self.values[1:] + self.values[:-1]) / 2)
        wq = w + (self.values[idx] - w).detach()
        return nn.functional.linear(x, wq, self.bias)


def weight_values(in_features: int, levels: int) -> torch.Tensor:
    """The ``2K - 1`` weights a differential pair of K linear levels stores, at the layer's
    default weight range ``1/sqrt(in)`` (what ``CrossbarLinear.weight_levels`` returns)."""
    return torch.linspace(-1.0, 1.0, 2 * levels - 1, dtype=torch.float64) / math.sqrt(in_features)


def qnn_model(kind: str, hidden: int, seed: int, levels: int = 8) -> nn.Sequential:
    """784-``hidden``-10 on the default crossbar (``kind="hw"``) or in software (``"sw"``: the
    weights rounded to the ``2 levels - 1`` values of a differential pair), no biases, each layer
    followed by batch norm without running statistics. Both arms draw the same initial weights
    (uniform in ±1/sqrt(fan-in)) from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    first = QuantizedLinear(784, hidden, weight_values(784, levels), bias=False, generator=gen)
    second = QuantizedLinear(hidden, 10, weight_values(hidden, levels), bias=False, generator=gen)
    if kind == "hw":
        first = CrossbarLinear(784, hidden, bias=False, rng=seed, weight=first.weight.detach())
        second = CrossbarLinear(hidden, 10, bias=False, rng=seed + 1,
                                weight=second.weight.detach())  # fmt: skip
    return nn.Sequential(first, _batch_norm(hidden), nn.ReLU(), second, _batch_norm(10))


def _batch_norm(n: int) -> nn.BatchNorm1d:
    return DeterministicBatchNorm1d(n, affine=True, track_running_stats=False)


def qnn_optimizer(model: nn.Module, meta: float, lr: float) -> MetaplasticAdam:
    layers = [m for m in model if isinstance(m, (CrossbarLinear, QuantizedLinear))]
    hidden = [lay.weight for lay in layers]
    others = [p for p in model.parameters() if all(p is not w for w in hidden)]
    groups = [{"params": [lay.weight], "meta": meta, "levels": lay.weight_levels()}
              for lay in layers]  # fmt: skip
    return MetaplasticAdam([*groups, {"params": others, "meta": 0.0}], lr=lr)


def _train(ctx: RunContext, key: str, kind: str, meta: float, tasks: list[Task],
           c: QnnMultilevelConfig) -> tuple[dict[str, Any], nn.Sequential]:  # fmt: skip
    """MNIST then Fashion-MNIST (a fresh optimizer per task; each task evaluated with its own
    batch-norm parameters), checkpointed per epoch."""
    model = qnn_model(kind, c.hidden, c.seed, c.levels)
    result = train_with_task_batch_norm(ctx, key, model,
                                        lambda net: qnn_optimizer(net, meta, c.lr), tasks,
                                        c.epochs, c.seed, c.batch)  # fmt: skip
    return result, model


def qnn_multilevel_config(quick: bool, seed: int) -> QnnMultilevelConfig:
    full = {"hidden": 1024, "epochs": 10, "n_train": None, "n_test": None,
            "sweep": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}  # fmt: skip
    # 60 steps per task instead of 6,000: a 10x larger step lets the hidden weights travel about
    # as far (in units of the weight range) as in the full run, so that consolidation, which
    # sets in at |W_h| ~ Q_max / m*, happens at all (docs/validation.md; as bnn-metaplastic)
    small = {"hidden": 64, "epochs": 2, "n_train": 3000, "n_test": 1000,
             "sweep": [0.0, 2.0, 4.0, 6.0], "lr": 0.05}  # fmt: skip
    return QnnMultilevelConfig(**{"lr": 0.005, **(small if quick else full), "levels": 8, "meta": 2.5, "batch": 100,
            "seed": seed, "quick": quick})  # fmt: skip


def qnn_multilevel_steps(c: QnnMultilevelConfig) -> int:
    per_arm = 2 * c.epochs * n_batches(c.n_train or 60000, c.batch)
    return per_arm * (1 + len(c.sweep) + (c.meta not in c.sweep))


def qnn_multilevel(ctx: RunContext, c: QnnMultilevelConfig, root: str | None) -> dict[str, Any]:
    if CrossbarConfig().levels != c.levels:  # the hardware arm runs the default crossbar
        raise ValueError("qnn-multilevel expects the default 8-level crossbar")
    tasks = [load_task(name, c.n_train, c.n_test, c.seed, root)
             for name in ("mnist", "fashion-mnist")]  # fmt: skip
    per_arm = 2 * c.epochs * n_batches(c.n_train or 60000, c.batch)
    metrics: dict[str, float] = {}
    res = ctx.done("hw")
    if res is None:
        res, model = _train(ctx, "hw", "hw", c.meta, tasks, c)
        layers = [m for m in model if isinstance(m, CrossbarLinear)]
        writes = np.concatenate([lay.device_writes() for lay in layers])
        ctx.save_npz("device_writes.npz", writes=writes, periods=2 * c.epochs,
                     period=np.array("epoch"))  # fmt: skip
        res["max_writes"], res["mean_writes"] = int(writes.max()), float(writes.mean())
        res["devices"] = int(writes.size)
        res["weights"] = sum(lay.weight.numel() for lay in layers)
        res = ctx.finish("hw", res)
    else:
        ctx.progress(per_arm)
    metrics["hw.mnist_after_mnist"] = res["final"][0][0]
    metrics["hw.mnist_after_fmnist"] = res["final"][1][0]
    metrics["hw.fmnist_after_fmnist"] = res["final"][1][1]
    hw_curve = np.array(res["curve"])
    metrics["max_writes_per_device"] = res["max_writes"]
    metrics["mean_writes_per_device"] = res["mean_writes"]
    n_weights = res["weights"]
    sweep = {}
    for m in sorted(set(c.sweep) | {c.meta}):
        key = f"sw_m{m:g}"
        r = ctx.done(key)
        if r is None:
            r = ctx.finish(key, _train(ctx, key, "sw", m, tasks, c)[0])
        else:
            ctx.progress(per_arm)
        sweep[m] = r
        if m in c.sweep:
            metrics[f"sweep.m{m:g}.mnist_after_fmnist"] = r["final"][1][0]
            metrics[f"sweep.m{m:g}.fmnist_after_fmnist"] = r["final"][1][1]
    sw = sweep[c.meta]
    metrics["sw.mnist_after_mnist"] = sw["final"][0][0]
    metrics["sw.mnist_after_fmnist"] = sw["final"][1][0]
    metrics["sw.fmnist_after_fmnist"] = sw["final"][1][1]
    # equal bits per hidden weight in both networks: the ratio of hidden-weight counts
    # (docs/validation.md, crossbar footprint for the full accounting)
    metrics["footprint_ratio_vs_bnn"] = BNN_BASELINE_WEIGHTS / n_weights
    with ctx.figure("qnn.png", 1, 2, figsize=(11, 4)) as (ax, ax2):
        x = np.arange(1, len(hw_curve) + 1)
        sw_curve = np.array(sw["curve"])
        for j, name in enumerate(("MNIST", "Fashion-MNIST")):
            ax.plot(x, hw_curve[:, j], "-", color=f"C{j}", label=f"{name}, crossbar")
            ax.plot(x, sw_curve[:, j], "--", color=f"C{j}", label=f"{name}, software")
        ax.axvline(c.epochs + 0.5, color="gray", lw=0.8)
        ax.set(xlabel="epoch (MNIST, then Fashion-MNIST)", ylabel="test accuracy", ylim=(0, 1),
               title=f"784-{c.hidden}-10, m* = {c.meta:g}")  # fmt: skip
        ax.legend(fontsize=8)
        ms = sorted(sweep)
        ax2.plot(ms, [sweep[m]["final"][1][0] for m in ms], "o-", label="MNIST after both")
        ax2.plot(ms, [sweep[m]["final"][1][1] for m in ms], "s-", label="Fashion-MNIST")
        ax2.axvline(c.meta, color="C3", lw=0.8, ls=":", label=f"m* = {c.meta:g} (crossbar)")
        ax2.axvspan(2, 4, color="gray", alpha=0.15, label="paper's robust range")
        ax2.set(xlabel="m*", ylabel="test accuracy (software)", ylim=(0, 1))
        ax2.legend(fontsize=8)
    paper = {"hw.mnist_after_fmnist": 0.97, "hw.fmnist_after_fmnist": 0.86,
             "sw.mnist_after_fmnist": 0.97, "sw.fmnist_after_fmnist": 0.86,
             "footprint_ratio_vs_bnn": 15.0}  # fmt: skip
    return ctx.write_results(
        metrics,
        paper,
        (
            "Paper: D'Agostino et al., IEEE AICAS 2023 (abstract: 97 % and 86 % on consecutive "
            "MNIST -> Fashion-MNIST, equal to software; m* robust in [2, 4]; 15x less memory than "
            "the BNN). The paper's network size, number of levels and rule body are not in its "
            "abstract: ours are reconstructions (docs/training.md, docs/validation.md)."
        ),
    )
