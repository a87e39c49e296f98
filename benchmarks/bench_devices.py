"""Benchmark: one full-noise weak-RESET step (one pulse to every device, then read every R).

Prints devices/s, the bytes of state the kernel touches per device, effective GB/s, and the ratio
to a memory-bandwidth triad ``a = b + s * c`` run by numba in the same process on arrays holding
the same number of bytes. Both sides run at one thread; two threads are reported separately.

Goal (issue 3): >= 50 % of the triad's bandwidth, linear scaling from 1e6 to 1e7 devices,
<= 96 bytes of state per device.

    python benchmarks/bench_devices.py [--sizes 1e6,1e7] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform

import numba
import numpy as np
from _timing import best_time

from devices import WeakResetRRAM
from devices.support import jit_parallel, prange


@jit_parallel
def triad(a, b, c, scalar):
    for i in prange(a.size):
        a[i] = b[i] + scalar * c[i]


def state_bytes(pop):
    """Bytes stored per device, and bytes the fused step reads and writes per device."""
    d2d = sum(a.itemsize for a in pop.d2d_parameters.values())
    t, s = pop._t.itemsize, pop._s.itemsize
    h = pop._h.itemsize * pop._h.shape[1]
    wr = pop.counters.array("weak_reset").itemsize
    stored = d2d + t + s + h + sum(pop.counters.array(k).itemsize for k in pop.counters.kinds)
    touched = d2d + t + s + h + wr  # every state array the step reads
    written = t + s + pop._h.itemsize + wr + 8  # t, s, one new 1/f sample, counter, R (float64)
    return stored, touched, touched + written


def run(n, threads, repeat):
    numba.set_num_threads(threads)
    pop = WeakResetRRAM(n, noise="paper", rng=0)
    pop.apply_pulses(20)  # fill the 1/f buffer: every read sums all 15 taps
    out = np.empty(n)
    t_step = best_time(lambda: pop.pulse_and_read(1, out=out), repeat)
    t_two = best_time(lambda: (pop.apply_pulses(1), pop.resistance(out=out)), repeat)
    stored, touched, traffic = state_bytes(pop)
    m = -(-traffic * n // 24)  # triad arrays holding the same bytes as the step moves
    a, b, c = np.empty(m), np.ones(m), np.ones(m)
    t_triad = best_time(lambda: triad(a, b, c, 3.0), repeat)
    step_gbs = traffic * n / t_step / 1e9
    triad_gbs = 24 * m / t_triad / 1e9
    return {
        "devices": n,
        "threads": threads,
        "step_s": t_step,
        "devices_per_s": n / t_step,
        "ns_per_device": t_step / n * 1e9,
        "apply_then_read_s": t_two,
        "state_bytes_per_device": stored,
        "state_bytes_touched_per_device": touched,
        "bytes_moved_per_device": traffic,
        "step_GBps": step_gbs,
        "triad_GBps": triad_gbs,
        "ratio_to_triad": step_gbs / triad_gbs,
    }


def breakdown(n, repeat):
    """ns/device of the fused step per noise mode, one thread: where the time goes."""
    numba.set_num_threads(1)
    out = np.empty(n)
    result = {}
    for noise in ("none", "rtn", "pink", "paper"):
        pop = WeakResetRRAM(n, noise=noise, rng=0)
        pop.apply_pulses(20)
        result[noise] = best_time(lambda p=pop: p.pulse_and_read(1, out=out), repeat) / n * 1e9
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7", help="comma-separated device counts")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    max_threads = numba.config.NUMBA_NUM_THREADS
    results = []
    for threads in sorted({1, min(2, max_threads)}):
        for n in sizes:
            results.append(run(n, threads, args.repeat))
    modes = breakdown(sizes[0], args.repeat)
    one = [r for r in results if r["threads"] == 1]
    scaling = one[-1]["ns_per_device"] / one[0]["ns_per_device"] if len(one) > 1 else 1.0
    summary = {
        "machine": platform.processor() or platform.machine(),
        "numba": numba.__version__,
        "results": results,
        "scaling_ns_per_device_largest_over_smallest_1thread": scaling,
        "ns_per_device_by_noise_mode_1thread": modes,
        "goals": {
            "ratio_to_triad_min": 0.5,
            "state_bytes_per_device_max": 96,
            "met": bool(
                all(r["ratio_to_triad"] >= 0.5 for r in one)
                and all(r["state_bytes_per_device"] <= 96 for r in results)
                and scaling <= 1.25
            ),
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print("weak-RESET full-noise step (pulse_and_read(1)) vs numba triad, same process")
    print(f"{'devices':>10} {'thr':>3} {'Mdev/s':>8} {'ns/dev':>7} {'2-pass':>7} {'B/dev':>12} "
          f"{'GB/s':>6} {'triad':>6} {'ratio':>6}")  # fmt: skip
    for r in results:
        b = f"{r['state_bytes_per_device']}/{r['state_bytes_touched_per_device']}/{r['bytes_moved_per_device']}"
        print(
            f"{r['devices']:>10.0e} {r['threads']:>3} {r['devices_per_s'] / 1e6:>8.1f} "
            f"{r['ns_per_device']:>7.2f} {r['apply_then_read_s'] / r['step_s']:>6.2f}x {b:>12} "
            f"{r['step_GBps']:>6.2f} {r['triad_GBps']:>6.2f} {r['ratio_to_triad']:>6.2f}"
        )
    print("B/dev = bytes stored / state bytes the step touches / bytes read+written (incl. R out)")
    print("2-pass = time of apply_pulses(1) then resistance(), relative to the fused step")
    print(f"scaling (1 thread): ns/device at {sizes[-1]:.0e} / at {sizes[0]:.0e} = {scaling:.2f}")
    print(
        f"ns/device by noise mode at {sizes[0]:.0e}, 1 thread: "
        + ", ".join(f"{k} {v:.1f}" for k, v in modes.items())
    )
    print(f"goals met: {summary['goals']['met']}")


if __name__ == "__main__":
    main()
