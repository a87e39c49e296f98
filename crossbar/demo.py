"""``crossbar demo``: metaplastic training on a simulated 130 nm HfO2 crossbar, MNIST then FMNIST.

A 2-layer perceptron (784-H-10, the network of ``crossbar run qnn-multilevel``) whose two weight
matrices live in 8-level HfO2 crossbars (the default :class:`~crossbar.config.CrossbarConfig`:
program-and-verify, relaxation, read noise, 8-bit converters) learns MNIST, then Fashion-MNIST,
once with plain Adam on the hidden weights (``meta = 0``) and once with the multi-level
metaplastic rule (D'Agostino et al. 2023, as reconstructed in
:func:`crossbar.optim.multilevel_meta_factor`; ``m*`` = 2, in the robust range 2-4 the paper
reports), with the experiment's protocol (each task evaluated with its own batch-norm
parameters). It prints the accuracy on both tasks after each, the device writes, and the memory
footprint. A subsample keeps it to about a minute on two cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from devices.support import check_int, check_real

from .data import load_dataset
from .experiments._bnn import train_with_task_batch_norm
from .experiments._data import Task
from .experiments.qnn import qnn_model, qnn_optimizer
from .nn import CrossbarLinear
from .reports import BNN_BASELINE_WEIGHTS

__all__ = ["BNN_BASELINE_WEIGHTS", "DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """Accuracies (fractions), device writes and footprint of one run."""

    meta: float
    mnist_after_mnist: float
    mnist_after_fmnist: float
    fmnist_after_fmnist: float
    max_writes_per_device: int
    mean_writes_per_device: float
    hidden_weight_bytes: int
    devices: int
    seconds: float


def _data(
    name: str, n_train: int, n_test: int, seed: int, root: str | None
) -> tuple[torch.Tensor, ...]:
    gen = np.random.default_rng(seed)
    x, y = load_dataset(name, "train", root)
    idx = gen.choice(len(y), min(n_train, len(y)), replace=False)
    xt, yt = load_dataset(name, "test", root)
    idt = gen.choice(len(yt), min(n_test, len(yt)), replace=False)

    def prep(images: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)

    return (prep(x[idx]), torch.from_numpy(y[idx].astype(np.int64)),
            prep(xt[idt]), torch.from_numpy(yt[idt].astype(np.int64)))  # fmt: skip


class _InMemoryRun:
    """What the experiments' training needs of a run folder, without one: the demo keeps
    nothing (no checkpoints) and reports progress to ``progress``."""

    device = "cpu"

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self._progress = progress

    def load_state(self, key: str) -> None:
        return None

    def save_state(self, key: str, state: dict[str, Any]) -> None:
        pass

    def progress(self, steps: int) -> None:
        if self._progress is not None and steps:
            self._progress(steps)


def run_demo(
    n_train: int = 6000,
    n_test: int = 2000,
    epochs: int = 2,
    hidden: int = 128,
    meta: float = 2.0,
    batch: int = 100,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    root: str | None = None,
    lr: float = 0.05,
) -> list[DemoResult]:
    """Train MNIST then Fashion-MNIST with ``meta = 0`` and with ``meta``; one result each.

    ``root`` is the data folder (see :mod:`crossbar.data` for where it is looked for otherwise).
    ``lr`` is in units of the weight range (the normalized multi-level rule): the default 0.05,
    ten times the full experiment's, lets the hidden weights of the demo's 120 steps per task
    travel about as far as those of the experiment's 6,000, so that consolidation, which sets
    in at ``|W_h| ~ Q_max / m*``, happens at all (as the experiments' quick modes).
    """
    n_train = check_int("n_train", n_train, "run_demo", 2, 60000)  # the datasets' sizes
    n_test = check_int("n_test", n_test, "run_demo", 2, 10000)
    epochs = check_int("epochs", epochs, "run_demo", 1)
    hidden = check_int("hidden", hidden, "run_demo", 1)
    batch = check_int("batch", batch, "run_demo", 2)  # batch norm needs two samples
    seed = check_int("seed", seed, "run_demo", 0, 2**63 - 1)
    meta = check_real("meta", meta, "run_demo", 0.0)
    lr = check_real("lr", lr, "run_demo", 0.0, low_open=True)
    tasks = [Task(name, *_data(name, n_train, n_test, seed, root))
             for name in ("mnist", "fashion-mnist")]  # fmt: skip
    run = _InMemoryRun(progress)
    results = []
    for m in (0.0, meta):
        start = time.perf_counter()
        model = qnn_model("hw", hidden, seed)
        layers = [mod for mod in model if isinstance(mod, CrossbarLinear)]
        # the qnn-multilevel experiment's protocol, run for run: a fresh optimizer per task
        # (the multi-level rule on the hidden weights, plain Adam on batch norm), each task
        # evaluated with its own batch-norm parameters
        res = train_with_task_batch_norm(run, f"meta{m}", model,
                                         lambda net, m=m: qnn_optimizer(net, m, lr=lr), tasks,
                                         epochs, seed, batch)  # fmt: skip
        (mnist_first, _), (mnist_after, fmnist_after) = res["final"]
        writes = np.concatenate([lay.device_writes() for lay in layers])
        n_weights = sum(lay.weight.numel() for lay in layers)
        results.append(DemoResult(
            meta=m,
            mnist_after_mnist=mnist_first,
            mnist_after_fmnist=mnist_after,
            fmnist_after_fmnist=fmnist_after,
            max_writes_per_device=int(writes.max()),
            mean_writes_per_device=float(writes.mean()),
            hidden_weight_bytes=4 * n_weights,
            devices=int(writes.size),
            seconds=time.perf_counter() - start,
        ))  # fmt: skip
    return results
