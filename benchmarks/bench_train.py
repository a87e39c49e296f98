"""Benchmark: one training step of a 784-512-10 network at batch 100.

Plain torch (``nn.Linear``) vs ``CrossbarLinear`` with ideal devices vs all non-idealities on
(8-level devices with program-and-verify on every level change, relaxation, read noise, 8-bit
DAC/ADC), Adam / multi-level metaplastic Adam, with device writes per step. One thread for
torch, numba and BLAS.

Goal (issue 6): the full path <= 3x the plain torch step.

    python benchmarks/bench_train.py [--steps 20] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(100, 784, generator=gen)
    y = torch.randint(0, 10, (100,), generator=gen)
    # the three runs advance step by step in turn, so that drifts of this shared machine's speed
    # reach all of them alike (the ratio is of medians over the same stretch of time)
    kinds = ("torch", "ideal", "full")
    runs = {kind: build(kind) for kind in kinds}
    w0 = {kind: writes(runs[kind][0]) for kind in kinds}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    phases: dict[str, list[tuple[float, ...]]] = {kind: [] for kind in kinds}
    for step in range(args.steps + 2):
        for kind in kinds:
            model, opt = runs[kind]
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
            if step >= 2:
                times[kind].append(t4 - t0)
                phases[kind].append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
    rows = {}
    for kind in kinds:
        split = np.median(np.array(phases[kind]), axis=0)
        rows[kind] = {"step_s": float(np.median(times[kind])),
                      "writes_per_step": (writes(runs[kind][0]) - w0[kind]) / (args.steps + 2),
                      "forward_s": float(split[0]), "backward_s": float(split[1]),
                      "optimizer_s": float(split[2]), "sync_s": float(split[3])}  # fmt: skip
    base = rows["torch"]["step_s"]
    for r in rows.values():
        r["ratio"] = r["step_s"] / base
    summary = {"results": rows, "goal": {"full_ratio_max": 3.0, "met": rows["full"]["ratio"] <= 3}}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print("one training step, 784-512-10, batch 100, one thread")
    for kind, r in rows.items():
        print(f"  {kind:<6} {r['step_s'] * 1e3:8.2f} ms  ratio {r['ratio']:6.2f}  "
              f"device writes/step {r['writes_per_step']:10.0f}   (forward "
              f"{r['forward_s'] * 1e3:.1f}, backward {r['backward_s'] * 1e3:.1f}, optimizer "
              f"{r['optimizer_s'] * 1e3:.1f}, device sync {r['sync_s'] * 1e3:.1f} ms)")  # fmt: skip
    print(f"goal (full path <= 3x plain torch) met: {summary['goal']['met']}")


if __name__ == "__main__":
    main()
