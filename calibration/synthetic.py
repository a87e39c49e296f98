"""Synthetic measurements from known parameters (round-trip tests, documentation)."""

from __future__ import annotations

import os

import numpy as np

from devices import WeakResetRRAM, presets
from devices.params import WeakResetParams

__all__ = ["write_weak_reset_csv"]


def write_weak_reset_csv(
    path: str | os.PathLike[str],
    n_devices: int = 200,
    pulses: int = 2000,
    params: WeakResetParams | None = None,
    noise: str = "none",
    rng: int | np.random.Generator | None = 0,
) -> WeakResetRRAM:
    """Simulate weak-RESET pulse trains and write them in the long CSV layout.

    Every device is read right after SET (``pulse_index`` 0, R = R0) and after each of ``pulses``
    single weak-RESET pulses. Returns the simulated population (its ``d2d_parameters`` are the
    truth a fit should recover).
    """
    pop = WeakResetRRAM(n_devices, params=params or presets.MAJUMDAR2021, noise=noise, rng=rng)
    r = np.empty((pulses + 1, n_devices))
    r[0] = pop.resistance()
    for k in range(1, pulses + 1):
        r[k] = pop.pulse_and_read(1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("device_id,pulse_index,resistance_ohm\n")
        for d in range(n_devices):
            fh.write("".join(f"dev{d:05d},{k},{r[k, d]:.10g}\n" for k in range(pulses + 1)))
    return pop
