"""Datasets of the experiments: MNIST, Fashion-MNIST and permuted MNIST as float tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import load_dataset

__all__ = ["Task", "batch_bounds", "load_task", "n_batches"]


def batch_bounds(n: int, batch: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the mini-batches of ``n`` samples: batches of ``batch``, a lone last
    sample joined to the batch before it when ``batch > 1`` (batch norm cannot normalize a batch
    of one)."""
    bounds = [(k, min(k + batch, n)) for k in range(0, n, batch)]
    if batch > 1 and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def n_batches(n: int, batch: int) -> int:
    """``len(batch_bounds(n, batch))``."""
    steps = -(-n // batch)
    return steps - 1 if steps > 1 and n % batch == 1 else steps


@dataclass
class Task:
    """Training and test images (N, 784) in [0, 1] (or standardized) and labels."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device: torch.device | str) -> Task:
        """The same task with its tensors on ``device``."""
        return Task(self.name, self.x.to(device), self.y.to(device), self.x_test.to(device),
                    self.y_test.to(device))  # fmt: skip


def load_task(name: str, n_train: int | None, n_test: int | None, seed: int,
              root: str | None = None, permutation: int | None = None,
              standardize: bool = False) -> Task:  # fmt: skip
    """One task: ``name`` in {"mnist", "fashion-mnist"}, subsampled (None: all images).

    ``permutation``: the seed of a fixed pixel permutation (permuted MNIST); ``standardize``:
    subtract the training set's mean and divide by its standard deviation (the MESU protocol).
    The subsample is drawn from ``seed`` and does not depend on the permutation.
    """
    gen = np.random.default_rng(seed)
    x, y = load_dataset(name, "train", root)
    xt, yt = load_dataset(name, "test", root)
    idx = np.sort(gen.choice(len(y), n_train, replace=False)) if n_train else np.arange(len(y))
    idt = np.sort(gen.choice(len(yt), n_test, replace=False)) if n_test else np.arange(len(yt))
    x = x.reshape(len(x), -1)[idx].astype(np.float32) / 255.0
    xt = xt.reshape(len(xt), -1)[idt].astype(np.float32) / 255.0
    if standardize:
        mean, std = float(x.mean()), float(x.std())
        x, xt = (x - mean) / std, (xt - mean) / std
    label = name
    if permutation is not None:
        perm = np.random.default_rng(permutation).permutation(784)
        x, xt = x[:, perm], xt[:, perm]
        label = f"{name}-perm{permutation}"
    return Task(label, torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y[idx].astype(np.int64)),
                torch.from_numpy(np.ascontiguousarray(xt)), torch.from_numpy(yt[idt].astype(np.int64)))  # fmt: skip
