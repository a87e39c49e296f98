"""Benchmark: batch-256 MVM of a 1024 x 1024 weight over 128 x 128 tiles vs torch.matmul.

Ours: ``crossbar.TiledMatrix`` with the default configuration (8-level 130 nm HfO2 devices,
differential pairs, 8-bit DAC and ADC, read noise drawn on the outputs, relaxation at 60 s,
``read_precision="auto"``: the fast read arithmetic of docs/crossbar.md where the CPU has native
bfloat16; ``--precision float32`` for the float32 one).
Baseline: a plain float32 ``torch.matmul`` of the same shape. Both at one thread (torch and
numba); two threads reported separately.

Goal (issue 5): ratio <= 2.

    python benchmarks/bench_mvm.py [--batch 256] [--size 1024] [--ir-drop] [--precision P] [--json]

``--ir-drop`` turns on wire resistance (1 ohm per segment): the first read computes every
array's exact transfer matrix (reported separately), later reads cost what reads without wire
resistance cost.
"""

from __future__ import annotations

import os

# BLAS at one thread on both sides (numpy's OpenBLAS reads this at import)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import time

import numba
import numpy as np
import torch
from _timing import best_time

from crossbar import CrossbarConfig, TiledMatrix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--ir-drop", action="store_true", help="1 ohm wire segments")
    parser.add_argument("--precision", choices=("auto", "fast", "float32"), default="auto",
                        help="CrossbarConfig.read_precision")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    gen = np.random.default_rng(0)
    w = gen.normal(size=(args.size, args.size)).astype(np.float32)
    x = gen.normal(size=(args.batch, args.size)).astype(np.float32)
    config = CrossbarConfig(ir_drop=args.ir_drop, read_precision=args.precision)
    start = time.perf_counter()
    matrix = TiledMatrix(w, config, rng=0)
    program_s = time.perf_counter() - start
    start = time.perf_counter()
    matrix.matvec(x)  # the first read builds what reads reuse (transfer matrices with IR drop)
    first_read_s = time.perf_counter() - start
    rows = []
    for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w.T.copy())
        t_torch = best_time(lambda xt=xt, wt=wt: torch.matmul(xt, wt))
        t_ours = best_time(lambda: matrix.matvec(x))
        rows.append({"threads": threads, "torch_matmul_s": t_torch, "crossbar_s": t_ours,
                     "ratio": t_ours / t_torch})  # fmt: skip
    y = matrix.matvec(x)
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    summary = {
        "batch": args.batch, "size": args.size, "ir_drop": args.ir_drop,
        "read_precision": args.precision, "program_s": program_s,
        "first_read_s": first_read_s, "results": rows,
        "relative_rms_error_vs_float": float(np.sqrt(np.mean((y - ref) ** 2) / np.mean(ref**2))),
        "energy_per_mvm_j": matrix.last_stats.energy_j if matrix.last_stats else None,
        "latency_per_mvm_s": matrix.last_stats.latency_s if matrix.last_stats else None,
        "goal": {"ratio_max_1thread": 2.0, "met": rows[0]["ratio"] <= 2.0},
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"batch-{args.batch} MVM, {args.size} x {args.size} weight, 128 x 128 tiles, "
          f"8-bit DAC/ADC, read noise{', IR drop (1 ohm)' if args.ir_drop else ''}; "
          "vs float32 torch.matmul")  # fmt: skip
    for r in rows:
        print(f"  {r['threads']} thread(s): torch {r['torch_matmul_s'] * 1e3:.2f} ms, crossbar "
              f"{r['crossbar_s'] * 1e3:.2f} ms, ratio {r['ratio']:.2f}")  # fmt: skip
    print(f"  programming (program-and-verify of {2 * args.size**2} devices): {program_s:.2f} s")
    print(f"  first read (builds the cached read maps): {first_read_s:.2f} s")
    print(f"  relative RMS error vs float W @ x: {summary['relative_rms_error_vs_float']:.3f}")
    print(f"  estimate per batch: {summary['energy_per_mvm_j'] * 1e9:.1f} nJ, "
          f"{summary['latency_per_mvm_s'] * 1e6:.1f} us")  # fmt: skip
    print(f"goal (ratio <= 2 at one thread) met: {summary['goal']['met']}")


if __name__ == "__main__":
    main()
