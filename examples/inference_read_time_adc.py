"""Inference of a trained network through simulated HfO2 crossbars, at several read times and
ADC resolutions.

A 784-256-10 perceptron is trained in plain torch on MNIST, then its layers are converted to
crossbar layers (8-level 130 nm HfO2 1T1R cells in differential pairs, program-and-verify, read
noise, 8-bit DAC) and evaluated with the conductances read 1 s to 1 day after programming
(relaxation widens the levels) and with 4- to 8-bit ADCs. Writes a PNG of accuracy against
read time, one line per ADC resolution.

    python examples/inference_read_time_adc.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import nn

from crossbar import ADCConfig, CrossbarConfig
from crossbar.data import load_dataset
from crossbar.nn import convert_to_crossbar

READ_TIMES_S = (1.0, 60.0, 3600.0, 86400.0)
ADC_BITS = (4, 6, 8)


def mnist(split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_dataset("mnist", split)
    return (torch.tensor(x[:n].reshape(n, -1), dtype=torch.float32) / 255.0,
            torch.tensor(y[:n], dtype=torch.long))  # fmt: skip


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, two settings each")
    parser.add_argument("--out", default=".", help="folder of the PNG")
    args = parser.parse_args(argv)
    n_train, n_test = (2000, 500) if args.quick else (60000, 10000)
    times = READ_TIMES_S[::3] if args.quick else READ_TIMES_S
    bits = ADC_BITS[1:] if args.quick else ADC_BITS

    gen = torch.Generator().manual_seed(0)
    x, y = mnist("train", n_train)
    xt, yt = mnist("test", n_test)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(3):
        for idx in torch.randperm(n_train, generator=gen).split(100):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    results: dict[str, object] = {"software": accuracy(model, xt, yt), "crossbar": {}}
    print(f"software: {results['software']:.2%}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for b in bits:
        accs = []
        for t in times:
            config = CrossbarConfig(read_time_s=t, adc=ADCConfig(bits=b))
            hw = convert_to_crossbar(copy.deepcopy(model), config, rng=1)
            accs.append(accuracy(hw, xt, yt))
            print(f"ADC {b} bits, read {t:>7g} s after programming: {accs[-1]:.2%}")
        results["crossbar"][b] = accs  # type: ignore[index]
        ax.plot(times, [100 * a for a in accs], "o-", label=f"{b}-bit ADC")
    ax.axhline(100 * results["software"], color="gray", ls="--", label="software")  # type: ignore[operator]
    ax.set(xscale="log", xlabel="read time after programming (s)", ylabel="test accuracy (%)",
           title="784-256-10 on 8-level HfO2 crossbars")  # fmt: skip
    ax.legend()
    fig.tight_layout()
    path = Path(args.out) / "inference_read_time_adc.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
