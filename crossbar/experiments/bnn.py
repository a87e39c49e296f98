"""Experiments on binarized networks: metaplasticity (Laborieux 2021) and ST-MRAM bit errors
(Hirtzlin 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from devices import STTMRAM
from devices.mram import pulse_for_wer

from ._bnn import BinaryLinear, accuracy, make_bnn, train_continual
from ._config import ExperimentConfig
from ._data import load_task, n_batches
from ._run import RunContext

__all__ = ["bnn_metaplastic", "bnn_pmnist", "mram_ber"]


def _steps(n_train: int | None, batch: int) -> int:
    return n_batches(n_train or 60000, batch)


def _arm(
    ctx: RunContext,
    c: BnnMetaplasticConfig | BnnPmnistConfig,
    arm: str,
    meta: float,
    tasks: list[Any],
) -> Any:
    """The result of one metaplasticity arm: stored if finished, else trained now."""
    res = ctx.done(arm)
    if res is None:
        res, _ = train_continual(ctx, arm, c.dims, meta, tasks, c.epochs, c.seed,
                                 c.batch, c.lr, c.decay,
                                 arithmetic=c.arithmetic)  # fmt: skip
        return ctx.finish(arm, res)
    ctx.progress(len(tasks) * c.epochs * _steps(c.n_train, c.batch))
    return res


@dataclass(frozen=True)
class _BnnConfig(ExperimentConfig):
    """The fields the two metaplastic-BNN experiments share."""

    #: layer widths of the binarized network
    dims: list[int]
    #: epochs per task
    epochs: int
    #: training and test images per task (None: all of them)
    n_train: int | None
    n_test: int | None
    #: learning rate of the hidden weights (Adam)
    lr: float
    #: metaplasticity m of each arm
    metas: list[float]
    #: weight decay
    decay: float
    batch: int
    #: products of the binarized layers: "auto", "int8" or "float32" (BinaryLinear)
    arithmetic: str
    seed: int
    quick: bool


@dataclass(frozen=True)
class BnnMetaplasticConfig(_BnnConfig):
    """``crossbar run bnn-metaplastic``: Laborieux et al. 2021, Fig. 1a."""


@dataclass(frozen=True)
class BnnPmnistConfig(_BnnConfig):
    """``crossbar run bnn-pmnist``: Laborieux et al. 2021, Fig. 2."""

    #: permuted-MNIST tasks
    tasks: int


@dataclass(frozen=True)
class MramBerConfig(ExperimentConfig):
    """``crossbar run mram-ber``: Hirtzlin et al. 2019."""

    #: layer widths of the binarized network
    dims: list[int]
    #: training epochs (MNIST)
    epochs: int
    n_train: int | None
    n_test: int | None
    #: bit-error draws per rate
    draws: int
    lr: float
    decay: float
    batch: int
    #: write current of the energy estimate (uA)
    write_current_ua: float
    #: raw write error rate and storage overhead of the error-correcting code
    ecc_raw_wer: float
    ecc_overhead: float
    arithmetic: str
    seed: int
    quick: bool


# -- bnn-metaplastic ---------------------------------------------------------------------------------
def bnn_metaplastic_config(quick: bool, seed: int) -> BnnMetaplasticConfig:
    """Fig. 1a of Laborieux et al.: MNIST then Fashion-MNIST, m = 0 against m = 1.5."""
    full = {"dims": [784, 4096, 4096, 10], "epochs": 50, "n_train": None, "n_test": None}
    # 400 steps per task instead of the paper's 30,000: a larger step lets the hidden weights
    # grow to |W_h| ~ 1/m, where metaplasticity consolidates them (docs/validation.md)
    small = {"dims": [784, 512, 512, 10], "epochs": 4, "n_train": 10000, "n_test": 2000,
             "lr": 0.1}  # fmt: skip
    return BnnMetaplasticConfig(**{"lr": 0.005, **(small if quick else full), "metas": [0.0, 1.5], "decay": 1e-7,
            "batch": 100, "arithmetic": "auto", "seed": seed, "quick": quick})  # fmt: skip


def bnn_metaplastic_steps(c: BnnMetaplasticConfig) -> int:
    return len(c.metas) * 2 * c.epochs * _steps(c.n_train, c.batch)


def bnn_metaplastic(ctx: RunContext, c: BnnMetaplasticConfig, root: str | None) -> dict[str, Any]:
    tasks = [load_task(name, c.n_train, c.n_test, c.seed, root)
             for name in ("mnist", "fashion-mnist")]  # fmt: skip
    metrics: dict[str, float] = {}
    curves = {}
    for m in c.metas:
        arm = "m0" if m == 0 else "meta"
        res = _arm(ctx, c, arm, m, tasks)
        final = res["final"]
        metrics[f"{arm}.mnist_after_mnist"] = final[0][0]
        metrics[f"{arm}.mnist_after_fmnist"] = final[1][0]
        metrics[f"{arm}.fmnist_after_fmnist"] = final[1][1]
        curves[m] = np.array(res["curve"])
    with ctx.figure("accuracy.png", 1, 1, figsize=(6, 4)) as ax:
        for m, curve in curves.items():
            style = "-" if m else "--"
            x = np.arange(1, len(curve) + 1)
            ax.plot(x, curve[:, 0], style, color="C0", label=f"MNIST, m = {m:g}")
            ax.plot(x, curve[:, 1], style, color="C1", label=f"Fashion-MNIST, m = {m:g}")
        ax.axvline(c.epochs + 0.5, color="gray", lw=0.8)
        ax.set(xlabel="epoch (MNIST, then Fashion-MNIST)", ylabel="test accuracy", ylim=(0, 1),
               title=f"BNN {'-'.join(map(str, c.dims))}")  # fmt: skip
        ax.legend(fontsize=8)
    paper = {"m0.mnist_after_mnist": 0.97, "m0.fmnist_after_fmnist": 0.85,
             "m0.mnist_after_fmnist": 0.20}  # fmt: skip
    return ctx.write_results(
        metrics,
        paper,
        "Paper: Laborieux et al., Nat. Commun. 12:2549 "
        "(2021), Fig. 1a (non-metaplastic network; MNIST collapses to ~20 %).",
    )


# -- bnn-pmnist --------------------------------------------------------------------------------------
def bnn_pmnist_config(quick: bool, seed: int) -> BnnPmnistConfig:
    """Fig. 2 of Laborieux et al.: 6 permuted-MNIST tasks, m in {0, 0.5, 1, 1.35}."""
    full = {"dims": [784, 4096, 4096, 10], "tasks": 6, "epochs": 40, "n_train": None,
            "n_test": None}  # fmt: skip
    small = {
        "dims": [784, 512, 512, 10],
        "tasks": 3,
        "epochs": 2,
        "n_train": 6000,
        "n_test": 2000,
        "lr": 0.1,
    }  # fmt: skip  (as bnn-metaplastic's quick mode)
    return BnnPmnistConfig(**{"lr": 0.005, **(small if quick else full), "metas": [0.0, 0.5, 1.0, 1.35],
            "decay": 1e-7, "batch": 100, "arithmetic": "auto", "seed": seed,
            "quick": quick})  # fmt: skip


def bnn_pmnist_steps(c: BnnPmnistConfig) -> int:
    return len(c.metas) * c.tasks * c.epochs * _steps(c.n_train, c.batch)


def bnn_pmnist(ctx: RunContext, c: BnnPmnistConfig, root: str | None) -> dict[str, Any]:
    # every task is permuted, the first one too (as in the authors' code)
    tasks = [load_task("mnist", c.n_train, c.n_test, c.seed, root,
                       permutation=c.seed * 1000 + t) for t in range(c.tasks)]  # fmt: skip
    metrics: dict[str, float] = {}
    finals = {}
    for m in c.metas:
        arm = f"m{m:g}"
        res = _arm(ctx, c, arm, m, tasks)
        last = res["final"][-1]
        finals[m] = last
        metrics[f"{arm}.mean_acc_all_tasks"] = float(np.mean(last))
        for j, a in enumerate(last):
            metrics[f"{arm}.task{j + 1}_at_end"] = a
    with ctx.figure("tasks.png", 1, 1, figsize=(6, 4)) as ax:
        for m, last in finals.items():
            ax.plot(np.arange(1, len(last) + 1), last, "o-", label=f"m = {m:g}")
        ax.set(xlabel="task", ylabel="test accuracy after the last task", ylim=(0, 1),
               title=f"permuted MNIST, BNN {'-'.join(map(str, c.dims))}")  # fmt: skip
        ax.legend()
    return ctx.write_results(
        metrics,
        {},
        "Paper: Laborieux et al., Nat. Commun. 12:2549 (2021), Fig. 2 (the per-task numbers are "
        "in a figure we did not digitize: the trend with m is compared).",
    )


# -- mram-ber ----------------------------------------------------------------------------------------
#: Bit error rates of the sweep (docs/devices.md) and their metric labels.
BERS = {"0": 0.0, "1e-6": 1e-6, "1e-5": 1e-5, "1e-4": 1e-4, "1e-3": 1e-3, "1e-2": 1e-2,
        "5e-2": 5e-2, "1e-1": 1e-1}  # fmt: skip


def mram_ber_config(quick: bool, seed: int) -> MramBerConfig:
    """Hirtzlin et al. 2019: a trained BNN stored in ST-MRAM written at a bit error rate."""
    full = {"dims": [784, 1024, 1024, 10], "epochs": 20, "n_train": None, "n_test": None,
            "draws": 20}  # fmt: skip
    small = {"dims": [784, 256, 256, 10], "epochs": 2, "n_train": 6000, "n_test": 2000,
             "draws": 10}  # fmt: skip
    return MramBerConfig(**{**(small if quick else full), "lr": 0.005, "decay": 1e-7, "batch": 100,
            "write_current_ua": 100.0, "ecc_raw_wer": 1e-6, "ecc_overhead": 0.125,
            "arithmetic": "auto", "seed": seed, "quick": quick})  # fmt: skip


def mram_ber_steps(c: MramBerConfig) -> int:
    return c.epochs * _steps(c.n_train, c.batch) + len(BERS)


def mram_ber(ctx: RunContext, c: MramBerConfig, root: str | None) -> dict[str, Any]:
    task = load_task("mnist", c.n_train, c.n_test, c.seed, root).to(ctx.device)
    weights_path = ctx.output("bnn_weights.pt")
    model = make_bnn(c.dims, c.seed, c.arithmetic).to(ctx.device)
    if ctx.done("train") is None or not weights_path.exists():
        _, model = train_continual(ctx, "train", c.dims, 0.0, [task], c.epochs, c.seed,
                                   c.batch, c.lr, c.decay,
                                   arithmetic=c.arithmetic)  # fmt: skip
        ctx.save_tensors("bnn_weights.pt", {k: v.cpu() for k, v in model.state_dict().items()})
        ctx.finish("train", {"accuracy": accuracy(model, task)})
    else:
        model.load_state_dict(torch.load(weights_path, weights_only=True, map_location="cpu"))
        ctx.progress(c.epochs * _steps(c.n_train, c.batch))
    layers = [m for m in model.modules() if isinstance(m, BinaryLinear)]
    sizes = [lay.weight.numel() for lay in layers]
    bits = np.concatenate([(lay.weight.detach().reshape(-1) > 0).cpu().numpy() for lay in layers])
    metrics: dict[str, float] = {}
    sweep = {}
    for label, ber in BERS.items():
        res = ctx.done(f"ber_{label}")
        if res is None:
            accs = []
            for draw in range(c.draws if ber > 0 else 1):
                flips = np.zeros(bits.size, dtype=bool)
                if ber > 0:
                    mram = STTMRAM(bits.size, rng=np.random.default_rng([c.seed, draw]))
                    _, duration, _ = pulse_for_wer(ber, current_ua=c.write_current_ua)
                    mram.write(bits.astype(np.uint8), c.write_current_ua, float(duration))
                    flips = mram.read() != bits
                for lay, part in zip(layers, np.split(flips, np.cumsum(sizes)[:-1]), strict=True):
                    flip = torch.from_numpy(1.0 - 2.0 * part.reshape(lay.weight.shape)).float()
                    lay.flip = flip.to(ctx.device)
                accs.append(accuracy(model, task))
            for lay in layers:
                lay.flip = None
            res = ctx.finish(f"ber_{label}", {"mean": float(np.mean(accs)),
                                              "std": float(np.std(accs)), "n": len(accs)})  # fmt: skip
        ctx.progress(1)
        sweep[ber] = res
        metrics[f"acc.ber_{label}"] = res["mean"]
        metrics[f"acc_std.ber_{label}"] = res["std"]
    # energy: a write pulse of fixed current whose duration reaches the target WER (docs/devices.md)
    i = c.write_current_ua
    e_ecc = float(pulse_for_wer(c.ecc_raw_wer, current_ua=i)[2]) * (1 + c.ecc_overhead)
    e_weak = float(pulse_for_wer(1e-3, current_ua=i)[2])
    metrics["energy_per_bit_j.ber_1e-3"] = e_weak
    metrics["energy_per_bit_j.ecc"] = e_ecc
    metrics["energy_ratio"] = e_ecc / e_weak
    wers = np.logspace(-9, -1, 60)
    with ctx.figure("ber.png", 1, 2, figsize=(10, 4)) as (ax, ax2):
        pos = [b for b in sweep if b > 0]
        ax.errorbar(pos, [sweep[b]["mean"] for b in pos], [sweep[b]["std"] for b in pos],
                    fmt="o-", capsize=3, label="weights stored in ST-MRAM")  # fmt: skip
        ax.axhline(sweep[0.0]["mean"], color="gray", ls="--", label="no errors")
        ax.set(xscale="log", xlabel="bit error rate", ylabel="MNIST test accuracy",
               title=f"BNN {'-'.join(map(str, c.dims))}")  # fmt: skip
        ax.legend()
        ax2.plot(wers, pulse_for_wer(wers, current_ua=i)[2] * 1e12)
        ax2.axvline(1e-3, color="C1", ls="--", label="BER 1e-3, no ECC")
        ax2.axvline(c.ecc_raw_wer, color="C2", ls="--", label="raw WER with ECC")
        ax2.set(xscale="log", xlabel="write error rate", ylabel="write energy per bit (pJ)",
                title=f"ST-MRAM write at {i:g} uA")  # fmt: skip
        ax2.legend()
    paper = {"energy_ratio": 2.0}
    return ctx.write_results(
        metrics,
        paper,
        (
            "Paper: Hirtzlin et al., NANOARCH 2019 (abstract: BER <= 1e-3 has little impact; up to 2x "
            "energy saving). energy_ratio = E(raw WER of the ECC design) x (1 + ECC overhead) / "
            "E(WER 1e-3), at a fixed write current, the pulse duration solved for the WER."
        ),
    )
