"""Sequential training on a list of tasks, checkpointed per epoch, shared by the experiments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._data import Task, batch_bounds, n_batches
from ._run import RunContext

__all__ = ["train_tasks"]


def _steps(task: Task, batch: int) -> int:
    return n_batches(len(task.y), batch)


def train_tasks(ctx: RunContext, key: str, model: nn.Module,
                make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
                tasks: Sequence[Task], epochs: int, batch: int, seed: int,
                evaluate: Callable[[nn.Module, int, int], float],
                on_task_end: Callable[[nn.Module, int], None] | None = None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Train ``tasks`` one after the other, a fresh optimizer per task (cross-entropy, batches of
    ``batch`` in an order drawn from ``(seed, task, epoch)``: the same in every arm).

    ``evaluate(model, t, j)`` is the accuracy on task j while (or after) training task t;
    ``on_task_end(model, t)`` runs after the last epoch of task t, before its final evaluation;
    ``extra`` (tensors, numbers, lists, dicts) is saved and restored with the checkpoints.
    Checkpoints after every epoch under ``key``: a resumed run continues exactly where it
    stopped. Returns ``{"final": [[acc on j after task i]], "curve": [[acc on j after each
    epoch]]}``.
    """
    extra = extra if extra is not None else {}
    result: dict[str, Any] = {"final": [], "curve": []}
    start_task, start_epoch, opt_state = 0, 0, None
    saved = ctx.load_state(key)
    if saved is not None:
        model.load_state_dict(saved["model"])
        result, start_task, start_epoch = saved["result"], saved["task"], saved["epoch"]
        opt_state = saved["opt"]
        extra.update(saved["extra"])
        done = sum(epochs * _steps(tasks[t], batch) for t in range(start_task))
        if start_task < len(tasks):
            done += start_epoch * _steps(tasks[start_task], batch)
        ctx.progress(done)

    def save(t: int, epoch: int, opt: Any) -> None:
        ctx.save_state(key, {"model": model.state_dict(), "opt": opt, "task": t, "epoch": epoch,
                             "result": result, "extra": extra})  # fmt: skip

    for t in range(start_task, len(tasks)):
        opt = make_optimizer(model)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
            opt_state = None
        task = tasks[t]
        for epoch in range(start_epoch if t == start_task else 0, epochs):
            words = np.random.SeedSequence([seed, t, epoch]).generate_state(2)
            gen = torch.Generator().manual_seed(int(words[0]) << 32 | int(words[1]))
            order = torch.randperm(len(task.y), generator=gen).to(task.y.device)
            model.train()
            for lo, hi in batch_bounds(len(order), batch):
                sel = order[lo:hi]
                opt.zero_grad()
                nn.functional.cross_entropy(model(task.x[sel]), task.y[sel]).backward()
                opt.step()
                ctx.progress(1)
            result["curve"].append([evaluate(model, t, j) for j in range(len(tasks))])
            if epoch + 1 < epochs:
                save(t, epoch + 1, opt.state_dict())
        if on_task_end is not None:
            on_task_end(model, t)
        result["final"].append([evaluate(model, t, j) for j in range(len(tasks))])
        save(t + 1, 0, None)
    return result
