"""Benchmark: one training step of a 784-512-10 network at batch 100.

Plain torch (``nn.Linear``) vs ``CrossbarLinear`` with ideal devices vs all non-idealities on
(8-level devices with program-and-verify on every level change, relaxation, read noise, 8-bit
DAC/ADC), Adam / multi-level metaplastic Adam, with device writes per step. One thread for
torch, numba and BLAS.

Goal (issue 6): the full path <= 3x the plain torch step. Two windows are timed: Adam's start
(steps 3-22: its first steps move every weight by about the learning rate, so that a third of
the devices are rewritten per step) and the steady state (steps 51-80 by default), which is what
a training run of many epochs consists of; the goal is read on the steady state, both are
reported.

    python benchmarks/bench_train.py [--start-steps 20] [--steady-after 50] [--steps 30] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import time
from typing import Any

import numba
import numpy as np
import torch
from torch import nn

from crossbar import CrossbarConfig
from crossbar.nn import CrossbarLinear
from crossbar.optim import MetaplasticAdam


def build(kind: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    if kind == "torch":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
        return model, torch.optim.Adam(model.parameters(), lr=0.005)
    config = CrossbarConfig.ideal() if kind == "ideal" else CrossbarConfig()
    l1, l2 = (
        CrossbarLinear(784, 512, config=config, rng=0),
        CrossbarLinear(512, 10, config=config, rng=1),
    )
    model = nn.Sequential(l1, nn.ReLU(), l2)
    groups = [{"params": [lay.weight], "meta": 2.0, "levels": lay.weight_levels()}
              for lay in (l1, l2)]  # fmt: skip
    others = [l1.bias, l2.bias]
    return model, MetaplasticAdam([*groups, {"params": others, "meta": 0.0}], lr=0.005)


def writes(model: nn.Module) -> int:
    return int(sum(m.device_writes().sum() for m in model if isinstance(m, CrossbarLinear)))


#: Steps each run takes in a row before the next run's turn.
_BLOCK = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-steps", type=int, default=20,
                        help="steps timed from the first (Adam's start)")  # fmt: skip
    parser.add_argument("--steady-after", type=int, default=50,
                        help="steps run before the steady-state window")  # fmt: skip
    parser.add_argument("--steps", type=int, default=30, help="steps in the steady-state window")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(100, 784, generator=gen)
    y = torch.randint(0, 10, (100,), generator=gen)
    # the three runs advance in turn, a few steps at a time, so that drifts of this shared
    # machine's speed reach all of them alike (the ratio is of medians over the same stretch of
    # time), while each run's steps follow each other as in training (its data stay in cache)
    kinds = ("torch", "ideal", "full")
    runs = {kind: build(kind) for kind in kinds}
    windows = {"start": range(2, 2 + args.start_steps),  # two steps to compile and warm up
               "steady": range(args.steady_after, args.steady_after + args.steps)}  # fmt: skip
    last = max(w.stop for w in windows.values())
    times = {kind: np.zeros((last, 5)) for kind in kinds}  # per step: phases, writes
    for block in range(0, last, _BLOCK):
        for kind, step in ((k, s) for k in kinds for s in range(block, min(block + _BLOCK, last))):
            model, opt = runs[kind]
            w0 = writes(model)
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            t3 = time.perf_counter()
            if kind != "torch":
                for m in model:
                    if isinstance(m, CrossbarLinear):
                        m.sync()  # the devices follow the hidden weights within the step
            t4 = time.perf_counter()
            times[kind][step] = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, writes(model) - w0)
    summary: dict[str, Any] = {}
    for name, window in windows.items():
        rows = {}
        for kind in kinds:
            part = times[kind][window.start : window.stop]
            split = np.median(part[:, :4], axis=0)
            rows[kind] = {"step_s": float(np.median(part[:, :4].sum(axis=1))),
                          "writes_per_step": float(part[:, 4].mean()),
                          "forward_s": float(split[0]), "backward_s": float(split[1]),
                          "optimizer_s": float(split[2]), "sync_s": float(split[3])}  # fmt: skip
        for r in rows.values():
            r["ratio"] = r["step_s"] / rows["torch"]["step_s"]
        summary[name] = {"steps": [window.start + 1, window.stop], "results": rows}
    ratio = summary["steady"]["results"]["full"]["ratio"]
    summary["goal"] = {"full_ratio_max": 3.0, "window": "steady", "met": ratio <= 3.0}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print("one training step, 784-512-10, batch 100, one thread (medians)")
    for name, part in summary.items():
        if name == "goal":
            continue
        first, stop = part["steps"]
        label = "Adam's start" if name == "start" else "steady state"
        print(f" {label}, steps {first}-{stop}:")
        for kind, r in part["results"].items():
            print(f"  {kind:<6} {r['step_s'] * 1e3:8.2f} ms  ratio {r['ratio']:6.2f}  "
                  f"device writes/step {r['writes_per_step']:10.0f}   (forward "
                  f"{r['forward_s'] * 1e3:.1f}, backward {r['backward_s'] * 1e3:.1f}, optimizer "
                  f"{r['optimizer_s'] * 1e3:.1f}, device sync {r['sync_s'] * 1e3:.1f} ms)")  # fmt: skip
    print(f"goal (full path <= 3x plain torch, steady state) met: {summary['goal']['met']}")


if __name__ == "__main__":
    main()
