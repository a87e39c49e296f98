"""``crossbar device simulate --model weak-reset | multilevel | mram | pulse-response``: the parser, the handlers and their plots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from .._files import save_png
from ._args import (
    CliError,
    float_list,
    int_at_least,
    positive_float,
    positive_int,
    pulse_list,
    seed_int,
)

#: Options that belong to one model only, with the model's default.
_MODEL_OPTIONS = {
    "weak-reset": {"pulses": [0, 10, 100, 500, 1000, 2000], "noise": "paper", "devices": 10000,
                   "params": "MAJUMDAR2021"},
    "multilevel": {"levels": 8, "allocation": "linear", "devices": 16384, "params": "CEA_LETI_130NM"},
    "mram": {"current_ua": 100.0, "pulse_widths_ns": [1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0],
             "target_wer": [1e-3, 1e-6, 1e-9], "devices": 100000, "params": "HIRTZLIN2019_STTMRAM"},
    "pulse-response": {"ramp_pulses": 100, "devices": 1000, "params": None},
}  # fmt: skip

_MODELS = tuple(_MODEL_OPTIONS)


def add_parsers(commands: Any) -> None:
    """Register ``crossbar device`` on the ``crossbar`` sub-parsers."""
    device = commands.add_parser("device", help="device-level simulations")
    device_commands = device.add_subparsers(dest="device_command", metavar="ACTION")
    device_commands.required = True
    sim = device_commands.add_parser(
        "simulate",
        help="Monte-Carlo statistics of a device population",
        description=(
            "Simulate a population of devices and print quantiles (5, 25, 50, 75, 95 %%) of R and "
            "ln(R/R0) per pulse count. Pulses are applied one at a time."
        ),
    )
    sim.add_argument(
        "--model", required=True, choices=list(_MODELS), help="device model: " + ", ".join(_MODELS)
    )
    sim.add_argument(
        "--devices", type=positive_int, default=None,
        help="population size (default 10000 weak-reset, 16384 multilevel, 100000 mram bits, "
             "1000 pulse-response)",
    )  # fmt: skip
    sim.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    sim.add_argument("--params", default=None, help="preset name or JSON parameter file")
    sim.add_argument("--plot", metavar="PNG", help="write a PNG of the results")
    sim.add_argument("--force", action="store_true", help="replace an existing --plot file")
    sim.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    wr = sim.add_argument_group("weak-reset")
    wr.add_argument(
        "--pulses", type=pulse_list, default=None,
        help="comma-separated pulse counts at which to report (default 0,10,100,500,1000,2000)",
    )  # fmt: skip
    wr.add_argument("--noise", default=None, help="none, paper, rtn, pink or code (default paper)")
    wr.add_argument("--no-d2d", action="store_true", help="every device at the median parameters")
    ml = sim.add_argument_group("multilevel")
    ml.add_argument("--levels", type=int_at_least(2, "an integer >= 2"), default=None,
                    help="number of conductance levels (default 8)")  # fmt: skip
    ml.add_argument("--allocation", default=None, help="linear or statistics (default linear)")
    mr = sim.add_argument_group("mram")
    mr.add_argument("--current-ua", type=positive_float, default=None,
                    help="write current for the WER curve (default 100 uA)")  # fmt: skip
    mr.add_argument("--pulse-widths-ns", type=float_list, default=None,
                    help="pulse widths (default 1,2,3,5,10,20,50 ns)")  # fmt: skip
    mr.add_argument("--target-wer", type=float_list, default=None,
                    help="target write error rates for the energy table (default 1e-3,1e-6,1e-9)")  # fmt: skip
    pr = sim.add_argument_group(
        "pulse-response (a measured device, after `crossbar fit pulse-response`)"
    )
    pr.add_argument("--ramp-pulses", type=positive_int, default=None,
                    help="potentiation pulses, then as many depression pulses (default 100)")  # fmt: skip
    sim.set_defaults(handler=_cmd_device_simulate)


def _apply_model_defaults(args: argparse.Namespace) -> None:
    """Fill each model's defaults; refuse options that belong to another model."""
    mine = _MODEL_OPTIONS[args.model]
    for model, options in _MODEL_OPTIONS.items():
        for name in options:
            if name in ("devices", "params"):
                continue
            if model != args.model and getattr(args, name) is not None and name not in mine:
                flag = "--" + name.replace("_", "-")
                raise CliError(f"{flag} applies to --model {model} only (got --model {args.model})")
    if args.no_d2d and args.model != "weak-reset":
        raise CliError(f"--no-d2d applies to --model weak-reset only (got --model {args.model})")
    for name, default in mine.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def _load_params(spec: str) -> Any:
    from devices import presets

    if spec.lower().endswith(".json") or os.path.sep in spec:
        if not os.path.exists(spec):
            raise CliError(f"--params: no such file: {spec}")
        return presets.from_json(spec)
    return presets.get_preset(spec)


def _cmd_device_simulate(args: argparse.Namespace) -> int:
    _apply_model_defaults(args)
    if args.model == "multilevel":
        return simulate_multilevel(args)
    if args.model == "mram":
        return simulate_mram(args)
    if args.model == "pulse-response":
        if args.params is None:
            raise CliError(
                "--model pulse-response needs --params FILE.json (written by "
                "`crossbar fit pulse-response DATA.csv --out FILE.json`)"
            )
        return simulate_pulse_response(args, _load_params(args.params))
    return _simulate_weak_reset(args)


def _simulate_weak_reset(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from devices import WeakResetRRAM
    from devices.montecarlo import pulse_train_statistics

    params = _load_params(args.params)
    pop = WeakResetRRAM(
        args.devices, params=params, noise=args.noise, d2d=not args.no_d2d, rng=args.seed
    )
    report = sorted(set(args.pulses))
    grid = set(report)
    if args.plot:
        top = max(report)
        grid |= {round(x) for x in np.linspace(0, top, min(top, 200) + 1)}
    start = time.perf_counter()
    with tqdm(
        total=max(grid), unit="pulse", desc="weak-RESET pulses", leave=False,
        disable=True if args.no_progress else None, file=sys.stderr,
    ) as bar:  # fmt: skip
        stats = pulse_train_statistics(pop, sorted(grid), callback=bar.update)
    elapsed = time.perf_counter() - start
    rows = [int(np.searchsorted(stats.pulses, p)) for p in report]
    extrapolated = bool(stats.extrapolated_fraction.max() > 0)
    if args.json:
        doc = {
            "model": "weak-reset",
            "params": params.name,
            "noise": pop.noise,
            "d2d": not args.no_d2d,
            "n_devices": args.devices,
            "seed": args.seed,
            "quantiles_percent": stats.quantiles_percent.tolist(),
            "results": [
                {
                    "pulses": int(stats.pulses[r]),
                    "resistance_ohm": stats.resistance_ohm[r].tolist(),
                    "ln_r_over_r0": stats.log_ratio[r].tolist(),
                    "mean_ln_r_over_r0": float(stats.mean_log_ratio[r]),
                    "extrapolated_fraction": float(stats.extrapolated_fraction[r]),
                }
                for r in rows
            ],
            "elapsed_s": elapsed,
        }
        print(json.dumps(doc, indent=2))
    else:
        qs = "  ".join(f"{q:>6g}%" for q in stats.quantiles_percent)
        print(
            f"weak-RESET population: {args.devices} devices, params {params.name}, "
            f"noise={pop.noise}, d2d={'off' if args.no_d2d else 'on'}, seed={args.seed}"
        )
        print(f"{'pulses':>7} | R (kOhm) {qs} | ln(R/R0) {qs}")
        for r in rows:
            rq = "  ".join(f"{x / 1e3:7.3f}" for x in stats.resistance_ohm[r])
            wq = "  ".join(f"{x:7.4f}" for x in stats.log_ratio[r])
            print(f"{int(stats.pulses[r]):>7} |          {rq} |          {wq}")
        print(f"simulated {max(grid)} single pulses on {args.devices} devices in {elapsed:.2f} s")
    sys.stdout.flush()
    if extrapolated:
        print(
            f"note: some devices went past {params.fit_max_pulses} pulses, the end of the fitted "
            "range; the model extrapolates there with slope m2",
            file=sys.stderr,
        )
    if args.plot:
        _plot_quantiles(stats, args, params.name, pop.noise)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _plot_quantiles(stats: Any, args: argparse.Namespace, name: str, noise: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    x = stats.pulses
    for ax, data, label in (
        (axes[0], stats.resistance_ohm / 1e3, "R (kΩ)"),
        (axes[1], stats.log_ratio, "ln(R / R0)"),
    ):
        ax.fill_between(x, data[:, 0], data[:, -1], alpha=0.2, color="C0", label="5–95 %")
        ax.fill_between(x, data[:, 1], data[:, -2], alpha=0.4, color="C0", label="25–75 %")
        ax.plot(x, data[:, data.shape[1] // 2], color="C0", label="median")
        ax.set_xlabel("weak-RESET pulses")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].plot(x, stats.mean_log_ratio, "--", color="C1", label="mean")
    axes[1].legend(loc="upper left")
    fig.suptitle(
        f"{name}: {args.devices} devices, noise={noise}, "
        f"d2d={'off' if args.no_d2d else 'on'}, seed={args.seed}"
    )
    save_png(fig, args.plot, dpi=120)
    plt.close(fig)


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
