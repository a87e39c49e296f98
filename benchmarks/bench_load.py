"""Benchmark: loading a long-layout pulse CSV with ``calibration.io.load_pulse_trains``.

Writes a synthetic file (``device_id,cycle,pulse_index,resistance_ohm``; 200 devices x 2 cycles)
in two arrangements — *grouped* (each device's rows together, devices not in name order, the
usual measured file) and *shuffled* (rows in random order) — and reports for each:

- peak memory while loading, from ``tracemalloc``, as a ratio to the numeric data returned
  (device, pulse, cycle: int32; resistance: float64 — 20 bytes a row);
- load time, as a ratio to a same-run baseline that only iterates the file with ``csv.reader``
  (the parser this loader is built on), and rows/s.

Goal (issue 7): files of 10 million rows load in one streaming pass with memory <= 2x the numeric
data. Peak memory is measured in a second, traced load (``tracemalloc`` slows Python ~10x).

    python benchmarks/bench_load.py [--rows 2e6] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
import tracemalloc

import numpy as np

from calibration.io import load_pulse_trains


def write_file(path: str, n_rows: int, shuffled: bool) -> None:
    n_devices, n_cycles = 200, 2
    per_train = max(1, n_rows // (n_devices * n_cycles))
    rng = np.random.default_rng(0)
    dev = np.repeat(rng.permutation(n_devices), n_cycles * per_train)
    cyc = np.tile(np.repeat(np.arange(n_cycles), per_train), n_devices)
    pul = np.tile(np.arange(per_train), n_devices * n_cycles)
    res = np.round(rng.uniform(5e3, 2e4, dev.size), 1)
    if shuffled:
        order = rng.permutation(dev.size)
        dev, cyc, pul, res = dev[order], cyc[order], pul[order], res[order]
    with open(path, "w") as fh:
        fh.write("device_id,cycle,pulse_index,resistance_ohm\n")
        for s in range(0, dev.size, 1 << 18):
            e = s + (1 << 18)
            fh.writelines(
                f"d{d},{c},{p},{r}\n"
                for d, c, p, r in zip(
                    dev[s:e].tolist(), cyc[s:e].tolist(), pul[s:e].tolist(), res[s:e].tolist(),
                    strict=True,
                )
            )  # fmt: skip


def measure(path: str) -> dict:
    start = time.perf_counter()
    with open(path, newline="") as fh:
        n = sum(1 for _ in csv.reader(fh)) - 1
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    m = load_pulse_trains(path)
    load = time.perf_counter() - start
    numeric = m.device.nbytes + m.pulse.nbytes + m.cycle.nbytes + m.resistance_ohm.nbytes
    del m
    tracemalloc.start()
    load_pulse_trains(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rows": n,
        "load_s": load,
        "csv_reader_s": baseline,
        "time_ratio": load / baseline,
        "rows_per_s": n / load,
        "peak_mb": peak / 1e6,
        "numeric_mb": numeric / 1e6,
        "memory_ratio": peak / numeric,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=2e6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arrangement in ("grouped", "shuffled"):
            path = os.path.join(tmp, f"{arrangement}.csv")
            write_file(path, int(args.rows), arrangement == "shuffled")
            results[arrangement] = measure(path)
            os.remove(path)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for arrangement, r in results.items():
        print(
            f"{arrangement:9s} {r['rows']:>10,d} rows  load {r['load_s']:6.2f} s "
            f"({r['rows_per_s'] / 1e6:.2f} M rows/s, {r['time_ratio']:.1f}x csv.reader alone)  "
            f"peak {r['peak_mb']:7.1f} MB = {r['memory_ratio']:.2f}x the numeric data "
            f"(goal <= 2)"
        )


if __name__ == "__main__":
    main()
