"""In-situ training of a binarized network on pairs of HfOx weak-RESET devices.

Each binary weight is the sign of the resistance difference of two weak-RESET devices
(Majumdar et al., IEEE TED 2021). Training applies pulses, not weight updates: an Adam step
becomes a number of weak-RESET pulses on one device of the pair (``WeakResetAdam``), with
device-to-device variability, random telegraph noise and 1/f noise on every read. Prints the
test accuracy per epoch and the pulses each device received.

    python examples/weak_reset_in_situ.py [--quick] [--noise paper|none] [--no-d2d]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from crossbar.data import load_dataset
from crossbar.nn import DeterministicBatchNorm1d, WeakResetLinear
from crossbar.optim import WeakResetAdam


class Sign(torch.autograd.Function):
    """sign(x) forward, hardtanh's gradient backward (the straight-through estimator)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() <= 1).to(g.dtype)


def mnist(split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_dataset("mnist", split)
    return (torch.tensor(x[:n].reshape(n, -1), dtype=torch.float32) / 255.0,
            torch.tensor(y[:n], dtype=torch.long))  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 images, 2 epochs")
    parser.add_argument("--noise", default="paper", help="paper (RTN + 1/f), rtn, pink or none")
    parser.add_argument("--no-d2d", action="store_true", help="every device at the median")
    args = parser.parse_args(argv)
    n_train, n_test, epochs, hidden = (
        (3000, 1000, 2, 256) if args.quick else (60000, 10000, 10, 1000)
    )
    x, y = mnist("train", n_train)
    xt, yt = mnist("test", n_test)

    seeds = np.random.SeedSequence(0).spawn(3)
    first = WeakResetLinear(784, hidden, noise=args.noise, d2d=not args.no_d2d,
                            rng=np.random.default_rng(seeds[0]))  # fmt: skip
    second = WeakResetLinear(hidden, 10, noise=args.noise, d2d=not args.no_d2d,
                             rng=np.random.default_rng(seeds[1]))  # fmt: skip
    init = np.random.default_rng(seeds[2])
    for layer in (first, second):  # a random +-1 start: one pulse on either device of each pair
        on_first = init.random(layer.in_features * layer.out_features) < 0.5
        pulses = np.concatenate([on_first, ~on_first]).astype(np.int64)
        layer.refresh(layer.devices.pulse_and_read(pulses))
    bn1, bn2 = DeterministicBatchNorm1d(hidden), DeterministicBatchNorm1d(10)

    def model(inputs: torch.Tensor) -> torch.Tensor:
        return bn2(second(Sign.apply(bn1(first(inputs)))))

    devices = WeakResetAdam([first, second], lr=100.0, max_pulses=14)  # pulses per Adam step
    norms = torch.optim.Adam([*bn1.parameters(), *bn2.parameters()], lr=8e-3)
    gen = torch.Generator().manual_seed(0)
    curve = []
    for epoch in range(epochs):
        for mod in (bn1, bn2):
            mod.train()
        for idx in torch.randperm(n_train, generator=gen).split(100):
            devices.zero_grad()
            norms.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            devices.step()
            norms.step()
        for mod in (bn1, bn2):
            mod.eval()
        with torch.no_grad():
            curve.append(float((model(xt).argmax(1) == yt).float().mean()))
        print(f"epoch {epoch + 1}: test accuracy {curve[-1]:.2%}")
    pulses = np.concatenate([first.devices.pulse_count, second.devices.pulse_count])
    print(f"weak-RESET pulses per device: mean {pulses.mean():.1f}, max {pulses.max():,}")
    return {"curve": curve, "pulses": pulses}


if __name__ == "__main__":
    main()
