"""Bias, spread and interval coverage of the weak-RESET fit over synthetic populations.

Each seed draws a population from the model itself (``presets.MAJUMDAR2021``, the paper's RTN
and 1/f noise), writes it as a CSV, fits it with ``calibration.fit_weak_reset`` and compares the
estimates with the population's own values. Prints, per quantity, the mean error (bias), its
spread over seeds and how often the 90 % bootstrap interval holds the truth; ``--json`` writes
the record docs/calibration.md quotes.

    python benchmarks/calibration_round_trips.py --seeds 20 [--devices 80 --pulses 1500]
    python benchmarks/calibration_round_trips.py --messy   # every 5th pulse, spikes, odd devices
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from calibration.fit import fit_weak_reset
from calibration.io import load_pulse_trains
from calibration.synthetic import write_weak_reset_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--devices", type=int, default=80)
    parser.add_argument("--pulses", type=int, default=1500)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--messy", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    relative = {"pink_alpha": [], "rtn_amplitude_mean": [], "m1_per_pulse": [],
                "t_star_pulses": [], "r0_ohm": []}  # fmt: skip
    absolute = {"c1": []}
    covered: dict[str, list[bool]] = {k: [] for k in ("pink_alpha", "rtn_amplitude_mean",
                                                      "c1", "r0_ohm", "m1_per_pulse")}  # fmt: skip
    excluded, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            path = Path(tmp) / f"s{seed}.csv"
            extra = {"every": 5, "spikes": 1, "odd_devices": True} if args.messy else {}
            pop = write_weak_reset_csv(path, args.devices, args.pulses, noise="paper", rng=seed,
                                       **extra)  # fmt: skip
            truth = pop.d2d_parameters
            start = time.perf_counter()
            fit = fit_weak_reset(load_pulse_trains(path), bootstrap=args.bootstrap, rng=seed)
            seconds.append(time.perf_counter() - start)
            true = {"pink_alpha": 0.025, "rtn_amplitude_mean": float(np.mean(truth["rtn_amplitude"])),
                    **{k: float(np.median(truth[k])) for k in ("m1_per_pulse", "t_star_pulses",
                                                                "r0_ohm", "c1")}}  # fmt: skip
            est = {"pink_alpha": fit.params.pink_alpha,
                   "rtn_amplitude_mean": fit.details["noise"]["rtn_amplitude_mean"],
                   **{k: getattr(fit.params, k).median() for k in ("m1_per_pulse", "t_star_pulses",
                                                                   "r0_ohm", "c1")}}  # fmt: skip
            for k in relative:
                relative[k].append(est[k] / true[k] - 1)
            absolute["c1"].append(est["c1"] - true["c1"])
            for k in covered:
                iv = fit.intervals[k] if k in ("pink_alpha", "rtn_amplitude_mean") else (
                    fit.intervals[k]["median"])  # fmt: skip
                covered[k].append(bool(iv[0] <= true[k] <= iv[1]))
            excluded.append(len(fit.excluded))
            print(
                f"seed {seed}: {seconds[-1]:.1f} s, excluded {len(fit.excluded)}", file=sys.stderr
            )
    record = {
        "devices": args.devices, "pulses": args.pulses, "seeds": args.seeds,
        "messy": args.messy, "bootstrap": args.bootstrap,
        "relative_error": {k: {"bias": float(np.mean(v)), "sd": float(np.std(v, ddof=1)),
                               "max_abs": float(np.max(np.abs(v)))} for k, v in relative.items()},
        "absolute_error": {k: {"bias": float(np.mean(v)), "sd": float(np.std(v, ddof=1)),
                               "max_abs": float(np.max(np.abs(v)))} for k, v in absolute.items()},
        "coverage_90": {k: float(np.mean(v)) for k, v in covered.items()},
        "excluded_devices_mean": float(np.mean(excluded)),
        "fit_seconds_mean": float(np.mean(seconds)),
    }  # fmt: skip
    print(f"{'quantity':<20} {'bias':>9} {'sd':>8} {'max |err|':>10} {'90% coverage':>13}")
    for k, v in {**record["relative_error"], **record["absolute_error"]}.items():
        unit = "" if k == "c1" else " (rel)"
        cov = record["coverage_90"].get(k)
        print(
            f"{k + unit:<20} {v['bias']:>+9.4f} {v['sd']:>8.4f} {v['max_abs']:>10.4f} "
            f"{'' if cov is None else format(cov, '.2f'):>13}"
        )
    print(
        f"excluded devices per file: {record['excluded_devices_mean']:.2f}; fit "
        f"{record['fit_seconds_mean']:.1f} s per file"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
