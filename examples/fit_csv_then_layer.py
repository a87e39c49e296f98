"""Fit the weak-RESET model to a measured CSV, save the parameters, and train a layer on them.

Give it your measurements (long layout: ``device_id, pulse_index, resistance_ohm``; see
docs/calibration.md) with ``--csv``; without one, a synthetic measurement is simulated first
from the published parameters, so the example runs anywhere. The fit (per-device knee and
slopes, then each parameter's population distribution) is written as a parameter file, loaded
back, and used as the device model of a ``WeakResetLinear`` layer, whose devices then carry the
fitted device-to-device variability.

    python examples/fit_csv_then_layer.py [--csv DATA.csv] [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from calibration.fit import fit_weak_reset
from calibration.io import load_pulse_trains
from calibration.synthetic import write_weak_reset_csv
from crossbar.nn import WeakResetLinear
from devices import presets


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=None, help="measured pulse trains (long layout)")
    parser.add_argument("--out", default=".", help="folder of the parameter file")
    parser.add_argument("--quick", action="store_true", help="a small synthetic measurement")
    args = parser.parse_args(argv)
    out = Path(args.out)
    csv = Path(args.csv) if args.csv else out / "synthetic_weak_reset.csv"
    if args.csv is None:
        n, pulses = (60, 600) if args.quick else (200, 2000)
        write_weak_reset_csv(csv, n_devices=n, pulses=pulses, rng=0)
        print(f"simulated {n} devices x {pulses} pulses into {csv}")

    result = fit_weak_reset(load_pulse_trains(csv), name="my-devices")
    print(result.report())
    path = out / "my_devices.json"
    presets.to_json(result.params, path)
    params = presets.from_json(path)
    print(f"wrote {path}")

    layer = WeakResetLinear(64, 8, params=params, rng=np.random.default_rng(1))
    y = layer(torch.rand(4, 64))
    r0 = layer.devices.d2d_parameters["r0_ohm"]
    print(
        f"a 64x8 layer on the fitted devices: R0 median {np.median(r0):.4g} ohm, "
        f"output {tuple(y.shape)}"
    )
    return {"params": params, "layer_r0_median": float(np.median(r0)), "output": y}


if __name__ == "__main__":
    main()
