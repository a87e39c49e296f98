"""``crossbar device simulate --model multilevel | mram | pulse-response``: the handlers and their plots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from ._files import save_png

#: Times after programming at which multi-level cells are read (s).
READ_TIMES_S = {"verify": 0.0, "1 s": 1.0, "60 s": 60.0, "1 day": 86400.0}


def _preset(name: str, kind: type) -> Any:
    from devices import InvalidParameterError, presets

    if name.lower().endswith(".json") or os.path.sep in name:  # a parameter file, as --help says
        if not os.path.isfile(name):
            raise InvalidParameterError(f"--params: no such file: {name}")
        params = presets.from_json(name)
    else:
        params = presets.get_preset(name)
    if not isinstance(params, kind):
        raise InvalidParameterError(
            f"--params {name!r} is a {type(params).__name__}, not a {kind.__name__}."
        )
    return params


def simulate_multilevel(args: argparse.Namespace) -> int:
    """Program cells equally to every level, then read them at several times."""
    from devices import MultiLevelParams, MultiLevelRRAM

    params = _preset(args.params, MultiLevelParams)
    cells = MultiLevelRRAM(
        args.devices, levels=args.levels, params=params, allocation=args.allocation, rng=args.seed
    )
    k = cells.levels
    targets = np.arange(args.devices) % k
    start = time.perf_counter()
    result = cells.program(targets)
    elapsed = time.perf_counter() - start
    reads = {name: cells.read(t) for name, t in READ_TIMES_S.items()}
    ok = result.converged
    per_level = []
    for level in range(k):
        sel = (targets == level) & ok
        row: dict[str, Any] = {
            "level": level,
            "target_us": cells.level_conductances[level] * 1e6,
            "mean_iterations": float(result.iterations[targets == level].mean()),
        }
        for name, g in reads.items():
            row[f"mean_us@{name}"] = float(g[sel].mean() * 1e6)
            row[f"sigma_us@{name}"] = float(g[sel].std() * 1e6)
        per_level.append(row)
    ber = {name: float((cells.nearest_level(g) != targets).mean()) for name, g in reads.items()}
    doc = {
        "model": "multilevel",
        "params": params.name,
        "cells": args.devices,
        "levels": k,
        "allocation": args.allocation,
        "seed": args.seed,
        "level_conductances_us": (cells.level_conductances * 1e6).tolist(),
        "mean_iterations": result.mean_iterations,
        "not_converged": result.n_not_converged,
        "writes_per_cell": {
            "mean": float(cells.pulse_count.mean()),
            "max": int(cells.pulse_count.max()),
        },
        "failed_cells": int(cells.failed.sum()),
        "ber": ber,
        "per_level": per_level,
        "program_s": elapsed,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"multi-level cells: {args.devices} cells, {k} levels ({args.allocation}), params "
            f"{params.name}, seed={args.seed}"
        )
        print(
            f"program-and-verify: {result.mean_iterations:.2f} iterations per cell on average, "
            f"{result.n_not_converged} cells did not converge in {params.max_iterations}, "
            f"{elapsed:.2f} s"
        )
        head = "  ".join(f"{'sigma@' + n:>12}" for n in READ_TIMES_S)
        print(f"{'level':>5} {'target uS':>10} {'iters':>6} {'mean@verify':>12}  {head}")
        for row in per_level:
            sig = "  ".join(f"{row[f'sigma_us@{n}']:>12.3f}" for n in READ_TIMES_S)
            print(
                f"{row['level']:>5} {row['target_us']:>10.2f} {row['mean_iterations']:>6.2f} "
                f"{row['mean_us@verify']:>12.3f}  {sig}"
            )
        print("BER (fraction of cells read nearer another level): " + ", ".join(
            f"{n} {v:.2e}" for n, v in ber.items()))  # fmt: skip
    sys.stdout.flush()
    if args.plot:
        _plot_multilevel(cells, reads, targets, ok, doc, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _plot_multilevel(cells: Any, reads: dict, targets: np.ndarray, ok: np.ndarray, doc: dict,
                     path: str) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(reads), 1, figsize=(9, 2.1 * len(reads)), sharex=True,
                             constrained_layout=True)  # fmt: skip
    lo = cells.params.prog_low_fraction * cells.params.g_min_s * 1e6
    hi = cells.params.prog_high_fraction * cells.params.g_max_s * 1e6
    bins = np.linspace(lo, hi, 400)
    for ax, (name, g) in zip(axes, reads.items(), strict=True):
        for level in range(cells.levels):
            ax.hist(g[(targets == level) & ok] * 1e6, bins=bins, alpha=0.7, log=True)
        for x in cells.level_conductances * 1e6:
            ax.axvline(x, color="k", lw=0.4, alpha=0.5)
        ax.set_ylabel("cells")
        ax.set_title(f"read at {name}: BER {doc['ber'][name]:.1e}", fontsize=9, loc="left")
    axes[-1].set_xlabel("conductance (µS)")
    fig.suptitle(
        f"{doc['params']}: {doc['cells']} cells, {doc['levels']} levels ({doc['allocation']}), "
        f"{doc['mean_iterations']:.2f} iterations/cell"
    )
    save_png(fig, path, dpi=110)
    plt.close(fig)


def simulate_mram(args: argparse.Namespace) -> int:
    """WER and energy per bit vs pulse width; a Monte-Carlo check on an ST-MRAM array."""
    from devices import STTMRAM, STTMRAMParams, pulse_for_wer, write_energy_j, write_error_rate

    params = _preset(args.params, STTMRAMParams)
    widths = np.asarray(args.pulse_widths_ns, dtype=np.float64)
    wer = write_error_rate(args.current_ua, widths, params)
    energy = write_energy_j(args.current_ua, widths, params)
    bits = STTMRAM(args.devices, params=params, rng=args.seed)
    ones = np.ones(args.devices, dtype=np.uint8)
    measured = []
    for t in widths:
        bits.write(ones, args.current_ua, float(t))
        measured.append(float(1.0 - bits.bits.mean()))
    targets = {}
    for w in args.target_wer:
        i, t, e = pulse_for_wer(w, duration_ns=widths, params=params)
        targets[f"{w:g}"] = {"current_ua": i.tolist(), "energy_j": e.tolist()}
    doc = {
        "model": "mram",
        "params": params.name,
        "bits": args.devices,
        "seed": args.seed,
        "current_ua": args.current_ua,
        "pulse_widths_ns": widths.tolist(),
        "wer": wer.tolist(),
        "wer_measured": measured,
        "energy_per_bit_j": energy.tolist(),
        "for_target_wer": targets,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(
            f"ST-MRAM: {params.name}, I_c0 {params.critical_current_ua:g} uA, Delta "
            f"{params.thermal_stability:g}, write at {args.current_ua:g} uA, "
            f"{args.devices} simulated bits"
        )
        head = "".join(f"  I/E for WER {k:>6}" for k in targets)
        print(f"{'t_p ns':>7} {'WER':>10} {'measured':>10} {'E pJ':>7}{head}")
        for j, t in enumerate(widths):
            cols = "".join(
                f"  {v['current_ua'][j]:6.1f}uA {v['energy_j'][j] * 1e12:6.3f}pJ"
                for v in targets.values()
            )
            print(f"{t:>7g} {wer[j]:>10.3e} {measured[j]:>10.3e} {energy[j] * 1e12:>7.3f}{cols}")
    sys.stdout.flush()
    if args.plot:
        _plot_mram(params, widths, doc, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _plot_mram(params: Any, widths: np.ndarray, doc: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from devices import write_error_rate

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    grid = np.geomspace(widths.min(), widths.max(), 200)
    for current in (60.0, 80.0, 100.0, 150.0, 200.0):
        a.semilogy(grid, write_error_rate(current, grid, params), label=f"{current:g} µA")
    a.semilogy(widths, np.maximum(doc["wer_measured"], 1e-12), "ko", ms=3,
               label=f"simulated, {doc['current_ua']:g} µA")  # fmt: skip
    a.set_ylim(1e-12, 1.5)
    a.set_xscale("log")
    a.set_xlabel("pulse width (ns)")
    a.set_ylabel("write error rate")
    a.legend(fontsize=8)
    a.grid(alpha=0.3, which="both")
    for key, v in doc["for_target_wer"].items():
        b.loglog(widths, np.asarray(v["energy_j"]) * 1e12, "o-", label=f"WER {key}")
    b.set_xlabel("pulse width (ns)")
    b.set_ylabel("energy per bit (pJ)")
    b.legend(fontsize=8)
    b.grid(alpha=0.3, which="both")
    fig.suptitle(f"{params.name}: Δ = {params.thermal_stability:g}, I_c0 = "
                 f"{params.critical_current_ua:g} µA, V = {params.write_voltage_v:g} V")  # fmt: skip
    save_png(fig, path, dpi=110)
    plt.close(fig)


def simulate_pulse_response(args: argparse.Namespace, params: Any) -> int:
    """Potentiation then depression ramps on a population of fitted pulse-response devices."""
    from devices import InvalidParameterError, PulseResponseDevice, PulseResponseParams

    if not isinstance(params, PulseResponseParams):
        raise InvalidParameterError(
            f"--params for --model pulse-response must hold PulseResponseParams (the JSON of "
            f"`crossbar fit pulse-response`); got {type(params).__name__}."
        )
    n = args.ramp_pulses
    dev = PulseResponseDevice(args.devices, params, g_init_s=params.g_min_s or None, rng=args.seed)
    q = (5, 25, 50, 75, 95)
    trace = np.empty((2 * n + 1, len(q)))
    trace[0] = np.percentile(dev.conductance(), q)
    start = time.perf_counter()
    for step in range(2 * n):
        dev.apply_pulses(1 if step < n else -1)
        trace[step + 1] = np.percentile(dev.conductance(), q)
    elapsed = time.perf_counter() - start
    doc = {
        "model": "pulse-response",
        "params": params.name,
        "devices": args.devices,
        "seed": args.seed,
        "ramp_pulses": n,
        "quantiles": list(q),
        "conductance_us": (trace * 1e6).tolist(),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(f"pulse-response devices: {params.name}, {args.devices} devices, {n} potentiation "
              f"then {n} depression pulses, one at a time ({elapsed:.2f} s)")  # fmt: skip
        print(f"{'pulse':>6} {'phase':>12} " + " ".join(f"{f'G q{k} uS':>10}" for k in q))
        marks = sorted({0, n // 4, n // 2, n, n + n // 4, n + n // 2, 2 * n})
        for m in marks:
            phase = "start" if m == 0 else ("potentiation" if m <= n else "depression")
            print(f"{m:>6} {phase:>12} " + " ".join(f"{v * 1e6:>10.3f}" for v in trace[m]))
    sys.stdout.flush()
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
        x = np.arange(2 * n + 1)
        ax.fill_between(x, trace[:, 0] * 1e6, trace[:, 4] * 1e6, alpha=0.25, label="5–95 %")
        ax.fill_between(x, trace[:, 1] * 1e6, trace[:, 3] * 1e6, alpha=0.4, label="25–75 %")
        ax.plot(x, trace[:, 2] * 1e6, "k-", lw=1, label="median")
        ax.axvline(n, color="grey", ls=":", lw=1)
        ax.set_xlabel("pulse number (potentiation, then depression)")
        ax.set_ylabel("conductance (µS)")
        ax.set_title(f"{params.name}: {args.devices} simulated devices")
        ax.legend(fontsize=8)
        save_png(fig, args.plot, dpi=110)
        plt.close(fig)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
