"""Benchmark: one training step of the full-size BNN of Laborieux et al. (784-4096-4096-10).

Batch 100, ``MetaplasticAdam`` with m = 1.5 on the hidden weights (plain Adam on the batch-norm
parameters), as in ``crossbar run bnn-metaplastic``. Three arithmetics of the binarized layers
(``crossbar.experiments._binary_ops``) run in the same process, advancing in turns of a few
steps so that drifts of this shared machine's speed reach all alike:

- ``float32``: the reference, float32 products;
- ``int8``: the forward products exact in int8 (``torch._int_mm``), backward float32;
- ``auto``: int8 forward, bfloat16 backward products (where the CPU has native bfloat16).

Prints the median step time of each, its forward / backward / optimizer split, and the ratio
to the float32 step. One thread for torch and numba unless ``--threads``.

    python benchmarks/bench_bnn_step.py [--steps 20] [--threads 1] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# as the crossbar command does: huge pages for large tensors (fewer page faults); set
# THP_MEM_ALLOC_ENABLE=0 to measure without
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

import argparse
import json
import time

import numba
import numpy as np
import torch
from torch import nn

from crossbar.array import native_bfloat16
from crossbar.experiments._bnn import BinaryLinear, _optimizer, make_bnn

DIMS = [784, 4096, 4096, 10]
_BLOCK = 3


def build(arithmetic: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = make_bnn(DIMS, seed=0)
    for m in model.modules():
        if isinstance(m, BinaryLinear):
            m.arithmetic = arithmetic
    return model, _optimizer(model, meta=1.5, lr=0.005, decay=1e-7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per arithmetic")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (100, 784), generator=gen).float() / 255.0  # 8-bit pixels
    y = torch.randint(0, 10, (100,), generator=gen)
    kinds = ("float32", "int8", "auto")
    runs = {kind: build(kind) for kind in kinds}
    warm = 2
    total = warm + args.steps
    times = {kind: np.zeros((total, 3)) for kind in kinds}
    for block in range(0, total, _BLOCK):
        for kind in kinds:
            model, opt = runs[kind]
            for step in range(block, min(block + _BLOCK, total)):
                t0 = time.perf_counter()
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                t1 = time.perf_counter()
                loss.backward()
                t2 = time.perf_counter()
                opt.step()
                t3 = time.perf_counter()
                times[kind][step] = (t1 - t0, t2 - t1, t3 - t2)
    rows = {}
    for kind in kinds:
        part = times[kind][warm:]
        split = np.median(part, axis=0)
        rows[kind] = {"step_s": float(np.median(part.sum(axis=1))), "forward_s": float(split[0]),
                      "backward_s": float(split[1]), "optimizer_s": float(split[2])}  # fmt: skip
    for r in rows.values():
        r["ratio_to_float32"] = r["step_s"] / rows["float32"]["step_s"]
    summary = {"dims": DIMS, "batch": 100, "threads": args.threads,
               "native_bfloat16": native_bfloat16(), "results": rows}  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"one training step, BNN {'-'.join(map(str, DIMS))}, batch 100, "
          f"{args.threads} thread(s), medians of {args.steps} steps "
          f"(native bfloat16: {native_bfloat16()})")  # fmt: skip
    for kind, r in rows.items():
        print(f"  {kind:<8} {r['step_s'] * 1e3:8.1f} ms  ratio to float32 "
              f"{r['ratio_to_float32']:5.2f}   (forward {r['forward_s'] * 1e3:.1f}, backward "
              f"{r['backward_s'] * 1e3:.1f}, optimizer {r['optimizer_s'] * 1e3:.1f} ms)")  # fmt: skip
    full = 120_000 * rows["auto"]["step_s"] / 3600
    print(f"bnn-metaplastic full protocol (120,000 steps) at this speed: {full:.1f} h of steps")


if __name__ == "__main__":
    main()
