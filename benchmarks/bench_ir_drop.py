"""Benchmark: IR-drop solve of a 256 x 256 array for 64 input vectors vs scipy's sparse LU.

The baseline assembles the nodal matrix, factorizes it once with ``scipy.sparse.linalg.splu`` and
solves the 64 right-hand sides (the same reference the tests use). Ours is
``crossbar.ir_drop.solve`` in ``"exact"`` and ``"fast"`` modes (conjugate gradients) and
``"direct"`` (nested dissection, what the default ``"auto"`` mode takes for 64 vectors). One thread on our side (scipy's
SuperLU is single-threaded); two threads reported separately. Prints the speed-up and the
relative error of each mode against the direct solve.

Goal (issue 5): >= 10x faster than the direct solve at <= 1e-6 relative error.

    python benchmarks/bench_ir_drop.py [--size 256] [--vectors 64] [--r 0.1,1,10] [--json]
"""

from __future__ import annotations

import os

# LAPACK at one thread for the direct mode (scipy's SuperLU is single-threaded)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import pathlib
import sys
import time

import numba
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from crossbar.ir_drop import solve
from tests.reference import ir_drop_direct


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--vectors", type=int, default=64)
    parser.add_argument("--r", default="0.1,1,10", help="segment resistances (ohm)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    gen = np.random.default_rng(0)
    G = gen.uniform(20e-6, 120e-6, (args.size, args.size))
    v = gen.uniform(0.0, 0.2, (args.vectors, args.size))
    solve(G[:4, :4], v[:2, :4], 1.0, 1.0)  # compile outside the timing
    rows = []
    for r in (float(x) for x in args.r.split(",")):
        ref, t_ref = timed(lambda r=r: ir_drop_direct(G, v, r, r))
        row = {"r_ohm": r, "scipy_s": t_ref}
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            for mode in ("exact", "fast", "direct") if threads == 1 else ("exact", "fast"):
                out, t = timed(lambda r=r, mode=mode: solve(G, v, r, r, mode=mode))
                err = float(np.abs(out - ref).max() / np.abs(ref).max())
                row[f"{mode}_{threads}t_s"] = t
                row[f"{mode}_{threads}t_speedup"] = t_ref / t
                row[f"{mode}_{threads}t_rel_error"] = err
                row[f"{mode}_{threads}t_iterations_max"] = int(out.iterations.max())
        rows.append(row)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    summary = {"size": args.size, "vectors": args.vectors, "results": rows,
               "goal": {"speedup_min_1thread": 10.0, "rel_error_max": 1e-6}}  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"IR drop, {args.size} x {args.size}, {args.vectors} vectors; speed-up vs scipy splu")
    print(f"{'r ohm':>6} {'scipy s':>8} {'exact 1t':>9} {'err':>8} {'its':>4} {'fast 1t':>8} "
          f"{'err':>8} {'direct 1t':>10} {'err':>8} {'exact 2t':>9}")  # fmt: skip
    for row in rows:
        print(
            f"{row['r_ohm']:>6g} {row['scipy_s']:>8.3f} {row['exact_1t_speedup']:>8.1f}x "
            f"{row['exact_1t_rel_error']:>8.1e} {row['exact_1t_iterations_max']:>4} "
            f"{row['fast_1t_speedup']:>7.1f}x {row['fast_1t_rel_error']:>8.1e} "
            f"{row['direct_1t_speedup']:>9.1f}x {row['direct_1t_rel_error']:>8.1e} "
            f"{row.get('exact_2t_speedup', float('nan')):>8.1f}x"
        )


if __name__ == "__main__":
    main()
