"""How long would the devices last? An endurance projection from a training run's write counts.

A 784-128-10 perceptron whose weights live in simulated 8-level HfO2 crossbars trains on MNIST
with the multi-level metaplastic rule; every programming pulse of every device is counted. From
the counts of one epoch the report projects how many epochs of such training it takes until 1 %
of the devices have passed their endurance limit (log-normal, median 1e6 writes, sigma 1; an
option), and plots the histogram of writes per device and the failed fraction against epochs.

    python examples/endurance_projection.py [--quick] [--out DIR] [--limit-median 1e6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crossbar.data import load_dataset
from crossbar.nn import CrossbarLinear
from crossbar.optim import MetaplasticAdam
from crossbar.reports import endurance_report
from devices import TruncatedDistribution, WearOutParams


def main(argv: list[str] | None = None) -> object:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images instead of 60,000")
    parser.add_argument("--out", default=".", help="folder of device_writes.npz and the PNG")
    parser.add_argument("--limit-median", type=float, default=1e6, help="median endurance, writes")
    args = parser.parse_args(argv)
    n = 2000 if args.quick else 60000
    x, y = load_dataset("mnist", "train")
    x = torch.tensor(x[:n].reshape(n, -1), dtype=torch.float32) / 255.0
    y = torch.tensor(y[:n], dtype=torch.long)

    layers = [
        CrossbarLinear(784, 128, bias=False, rng=0),
        CrossbarLinear(128, 10, bias=False, rng=1),
    ]
    model = nn.Sequential(layers[0], nn.ReLU(), layers[1])
    opt = MetaplasticAdam([{"params": [lay.weight], "meta": 2.0, "levels": lay.weight_levels()}
                           for lay in layers], lr=0.005)  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    for idx in torch.randperm(n, generator=gen).split(100):  # one epoch
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model(x[:1])  # the last step's writes reach the devices at the next read

    out = Path(args.out)
    writes = np.concatenate([lay.device_writes() for lay in layers])
    np.savez(out / "device_writes.npz", writes=writes, periods=1, period=np.array("epoch"))
    wear = WearOutParams(TruncatedDistribution("lognorm", 0.0, args.limit_median, 1.0, 1.0))
    report = endurance_report(out, wear, out / "endurance.png")
    print(
        f"{report.devices:,} devices, one epoch of {n:,} images: max {report.max_writes:,}, "
        f"mean {report.mean_writes:.1f} writes per device"
    )
    print(
        f"projected lifetime: {report.lifetime_periods:.3g} epochs until 1 % of the devices "
        f"fail (median endurance {args.limit_median:.3g} writes)"
    )
    print(f"wrote {out / 'endurance.png'}")
    return report


if __name__ == "__main__":
    main()
