"""Synthetic measurements from known parameters (round-trip tests, documentation)."""

from __future__ import annotations

import os

import numpy as np

from devices import MultiLevelRRAM, WeakResetRRAM, presets
from devices.params import WeakResetParams

__all__ = ["ODD_DEVICES", "write_multilevel_csv", "write_weak_reset_csv"]


#: Names of the devices ``odd_devices=True`` appends, and what each is.
ODD_DEVICES = {
    "odd-flat": "constant resistance (no weak-RESET response)",
    "odd-short": "six rows only",
    "odd-decreasing": "resistance decreasing with the pulses",
    "odd-open": "an open device at 1 Mohm",
}


def write_weak_reset_csv(
    path: str | os.PathLike[str],
    n_devices: int = 200,
    pulses: int = 2000,
    params: WeakResetParams | None = None,
    noise: str = "none",
    rng: int | np.random.Generator | None = 0,
    every: int = 1,
    spikes: int = 0,
    odd_devices: bool = False,
) -> WeakResetRRAM:
    """Simulate weak-RESET pulse trains and write them in the long CSV layout.

    Every device is read right after SET (``pulse_index`` 0, R = R0) and after every ``every``-th
    of ``pulses`` single weak-RESET pulses. Returns the simulated population (its
    ``d2d_parameters`` are the truth a fit should recover).

    The messy-file options model what measured files hold: ``spikes`` reads per device
    multiplied by a factor drawn log-uniformly in [2, 10] (a contact glitch), and
    ``odd_devices`` appends the four devices of :data:`ODD_DEVICES`, which a fit must exclude.
    """
    gen = np.random.default_rng(rng)
    pop = WeakResetRRAM(n_devices, params=params or presets.MAJUMDAR2021, noise=noise, rng=gen)
    r = np.empty((pulses + 1, n_devices))
    r[0] = pop.resistance()
    for k in range(1, pulses + 1):
        r[k] = pop.pulse_and_read(1)
    rows = np.arange(0, pulses + 1, every)
    for d in range(n_devices):
        for k in gen.choice(rows[1:], size=min(spikes, rows.size - 1), replace=False):
            r[k, d] *= float(np.exp(gen.uniform(np.log(2.0), np.log(10.0))))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("device_id,pulse_index,resistance_ohm\n")
        for d in range(n_devices):
            fh.write("".join(f"dev{d:05d},{k},{r[k, d]:.10g}\n" for k in rows))
        if odd_devices:
            r0 = float(np.median(r[0]))
            odd = {
                "odd-flat": np.full(rows.size, r0),
                "odd-short": r0 * np.exp(5e-4 * rows[:6]),
                "odd-decreasing": r0 * np.exp(-5e-4 * rows),
                "odd-open": np.full(rows.size, 1e6) * np.exp(gen.normal(0, 1e-3, rows.size)),
            }
            for name, values in odd.items():
                fh.write(
                    "".join(f"{name},{k},{v:.10g}\n" for k, v in zip(rows, values, strict=False))
                )
    return pop


def write_multilevel_csv(
    path: str | os.PathLike[str],
    n_cells: int = 16384,
    levels: int = 8,
    times_s: tuple[float, ...] = (0.0, 1.0, 60.0, 3600.0, 86400.0),
    rng: int | np.random.Generator | None = 0,
) -> MultiLevelRRAM:
    """Program ``n_cells`` 130 nm HfO2 cells (``presets.CEA_LETI_130NM``) to ``levels`` levels
    (cell i to level i mod K), read them at ``times_s`` after programming, and write
    ``device_id, level, time_s, conductance_s`` rows (the layout ``crossbar fit multilevel``
    reads). Returns the programmed cells."""
    cells = MultiLevelRRAM(n_cells, levels=levels, rng=rng)
    target = np.arange(n_cells) % levels
    cells.program(target)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("device_id,level,time_s,conductance_s\n")
        for t in times_s:
            g = cells.read(t)
            fh.write("".join(f"c{i},{target[i]},{t:g},{g[i]:.9g}\n" for i in range(n_cells)))
    return cells
