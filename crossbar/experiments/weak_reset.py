"""Majumdar et al. (IEEE TED 2021): a BNN trained in situ on HfOx weak-RESET device pairs, with
the device imperfections switched on one at a time.

Network and rule of the authors' ``MLP/main.py`` (docs/devices.md, docs/validation.md): 784 -> 3000 ->
10, each layer a :class:`~crossbar.nn.WeakResetLinear` (a pair of weak-RESET devices per
synapse, ``W_b = sign(R_BL - R_BLb)``, no digital hidden weight) followed by batch norm, with a
sign activation (hardtanh straight-through gradient) between them; the first layer sees real
pixels. :class:`~crossbar.optim.WeakResetAdam` turns the Adam step into pulse counts (gain 100,
clipped to +-14); batch norm takes Adam at 8e-3; both step sizes halve every 7 epochs; batch
1000, 20 epochs.

Before training, every pair gets one pulse on BL or on BLb at random: a random +-1 start (our
choice: without D2D variability both devices of a pair are identical, ``W_b = 0`` everywhere and
nothing would train). Variants: ``ideal`` (every device at the median parameters, no noise), ``d2d`` (device-to-device
variability only), ``rtn`` (random telegraph noise only), ``pink`` (1/f noise only), ``all``.
Switching D2D off puts every device at the distributions' medians (``d2d=False``; the paper's
exact ablation is not in the released code — docs/validation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn import DeterministicBatchNorm1d, WeakResetLinear
from ..optim import WeakResetAdam
from ._bnn import SignActivation
from ._config import ExperimentConfig
from ._data import batch_bounds, load_task, n_batches
from ._run import RunContext

__all__ = ["VARIANTS", "ablation"]

#: Variant -> (noise mode, D2D variability).
VARIANTS = {"ideal": ("none", False), "d2d": ("none", True), "rtn": ("rtn", False),
            "pink": ("pink", False), "all": ("paper", True)}  # fmt: skip


@dataclass(frozen=True)
class AblationConfig(ExperimentConfig):
    """``crossbar run weak-reset-ablation``: Majumdar et al. 2021."""

    #: hidden units of the 784-H-10 binarized network on weak-RESET pairs
    hidden: int
    epochs: int
    n_train: int | None
    n_test: int | None
    batch: int
    #: pulses per unit of Adam step (WeakResetAdam's lr) and the most pulses per step
    pulse_gain: float
    max_pulses: int
    #: batch norm's learning rate, and its step schedule
    bn_lr: float
    lr_step_epochs: int
    lr_gamma: float
    seed: int
    quick: bool


def ablation_config(quick: bool, seed: int) -> AblationConfig:
    full = {"hidden": 3000, "epochs": 20, "n_train": None, "n_test": None, "batch": 1000}
    small = {"hidden": 512, "epochs": 3, "n_train": 10000, "n_test": 2000, "batch": 100}
    return AblationConfig(**{**(small if quick else full), "pulse_gain": 100.0, "max_pulses": 14,
            "bn_lr": 8e-3, "lr_step_epochs": 7, "lr_gamma": 0.5, "seed": seed,
            "quick": quick})  # fmt: skip


def ablation_steps(c: AblationConfig) -> int:
    return len(VARIANTS) * c.epochs * n_batches(c.n_train or 60000, c.batch)


def _train_variant(ctx: RunContext, c: AblationConfig, noise: str, d2d: bool,
                   task: Any) -> tuple[float, list[float], np.ndarray]:  # fmt: skip
    h = c.hidden  # (nothing here draws from torch's global generator: devices use numpy's)
    first = WeakResetLinear(784, h, noise=noise, d2d=d2d, rng=np.random.default_rng([c.seed, 1]))
    second = WeakResetLinear(h, 10, noise=noise, d2d=d2d, rng=np.random.default_rng([c.seed, 2]))
    model = nn.Sequential(
        first, DeterministicBatchNorm1d(h), SignActivation(), second, DeterministicBatchNorm1d(10)
    )
    init = np.random.default_rng([c.seed, 3])
    for layer in (first, second):  # random +-1 start: one pulse on BL or on BLb of every pair
        n = layer.in_features * layer.out_features
        on_bl = init.random(n) < 0.5
        layer.refresh(
            layer.devices.pulse_and_read(np.concatenate([on_bl, ~on_bl]).astype(np.int64))
        )
    bn = [p for m in model if isinstance(m, nn.BatchNorm1d) for p in m.parameters()]
    dev_opt = WeakResetAdam([first, second], lr=c.pulse_gain, max_pulses=c.max_pulses)
    bn_opt = torch.optim.Adam(bn, lr=c.bn_lr)
    scheds = [torch.optim.lr_scheduler.StepLR(o, c.lr_step_epochs, c.lr_gamma)
              for o in (dev_opt, bn_opt)]  # fmt: skip
    curve = []
    for epoch in range(c.epochs):
        gen = torch.Generator().manual_seed(c.seed * 1000 + epoch)
        order = torch.randperm(len(task.y), generator=gen)
        model.train()
        for lo, hi in batch_bounds(len(order), c.batch):
            sel = order[lo:hi]
            dev_opt.zero_grad()
            bn_opt.zero_grad()
            nn.functional.cross_entropy(model(task.x[sel]), task.y[sel]).backward()
            dev_opt.step()
            bn_opt.step()
            ctx.progress(1)
        for s in scheds:
            s.step()
        model.eval()
        with torch.no_grad():
            curve.append(float((model(task.x_test).argmax(1) == task.y_test).float().mean()))
    writes = np.concatenate([first.devices.pulse_count, second.devices.pulse_count])
    return curve[-1], curve, writes


def ablation(ctx: RunContext, c: AblationConfig, root: str | None) -> dict[str, Any]:
    task = load_task("mnist", c.n_train, c.n_test, c.seed, root)
    per_variant = c.epochs * n_batches(c.n_train or 60000, c.batch)
    metrics: dict[str, float] = {}
    curves = {}
    for name, (noise, d2d) in VARIANTS.items():
        res = ctx.done(name)
        if res is None:
            acc, curve, writes = _train_variant(ctx, c, noise, d2d, task)
            res = {"accuracy": acc, "curve": curve, "max_pulses": int(writes.max()),
                   "mean_pulses": float(writes.mean())}  # fmt: skip
            if name == "all":
                ctx.save_npz("device_writes.npz", writes=writes, periods=c.epochs,
                             period=np.array("epoch"))  # fmt: skip
            res = ctx.finish(name, res)
        else:
            ctx.progress(per_variant)
        metrics[f"acc.{name}"] = res["accuracy"]
        curves[name] = res["curve"]
    metrics["max_pulses_per_device"] = ctx.done("all")["max_pulses"]
    metrics["mean_pulses_per_device"] = ctx.done("all")["mean_pulses"]
    with ctx.figure("ablation.png", 1, 2, figsize=(10, 4)) as (ax, ax2):
        names = list(VARIANTS)
        ax.bar(names, [metrics[f"acc.{n}"] for n in names], color="C0")
        low = min(metrics[f"acc.{n}"] for n in names)
        ax.set(ylabel="MNIST test accuracy", ylim=(max(0.0, low - 0.05), 1.0),
               title=f"in-situ BNN 784-{c.hidden}-10 on weak-RESET pairs")  # fmt: skip
        for n in names:
            ax2.plot(np.arange(1, len(curves[n]) + 1), curves[n], "o-", label=n)
        ax2.set(xlabel="epoch", ylabel="test accuracy")
        ax2.legend()
    return ctx.write_results(
        metrics,
        {},
        (
            "Paper: Majumdar et al., IEEE TED 2021 (abstract: D2D variability is the most "
            "detrimental imperfection; its accuracy numbers are not in the abstract: the "
            "ranking is compared)."
        ),
    )
