"""``crossbar fit weak-reset | multilevel | pulse-response``: parsers, handlers, reports and plots."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from .._files import replace_atomically, save_png
from ._args import Parser, int_at_least, positive_float, seed_int


def add_parsers(commands: Any) -> None:
    """Register ``crossbar fit`` on the ``crossbar`` sub-parsers."""
    fit = commands.add_parser("fit", help="fit device models to measured data")
    fit_models = fit.add_subparsers(dest="fit_model", metavar="MODEL", parser_class=Parser)
    fit_models.required = True
    wr = fit_models.add_parser(
        "weak-reset",
        help="fit the weak-RESET model and its D2D distributions to pulse trains",
        description=(
            "Fit the weak-RESET model per device (knee by profile least squares) and each "
            "parameter's population distribution; write a parameter file that "
            "devices.presets.from_json loads and the simulator runs on."
        ),
    )
    wr.add_argument("data", metavar="DATA.csv", help="measured pulse trains (CSV)")
    wr.add_argument("--out", required=True, metavar="params.json", help="parameter file to write")
    wr.add_argument("--plot", metavar="PNG", help="data vs fit and distributions vs densities")
    wr.add_argument("--force", action="store_true", help="replace existing --out / --plot files")
    _add_pulse_data_options(wr)
    wr.add_argument("--name", default="fitted", help="name stored in the parameter file")
    _add_bootstrap_options(wr)
    wr.add_argument("--json", action="store_true",
                    help="print the whole result (the parameter file with its fit record) as "
                    "JSON instead of the report")  # fmt: skip
    wr.set_defaults(handler=fit_command)
    pr = fit_models.add_parser(
        "pulse-response",
        help="fit exponential-saturation pulse responses (potentiation/depression ramps)",
        description=(
            "Fit G(n) = G_inf - (G_inf - G0) exp(-n/n0) to every ramp, and the cycle-to-cycle "
            "noise sd(dG) = s0 + s1 G; one or more files (e.g. SET and RESET ramps)."
        ),
    )
    pr.add_argument("data", nargs="+", metavar="DATA.csv", help="measured ramps (CSV)")
    pr.add_argument("--out", required=True, metavar="params.json", help="fit to write (JSON)")
    pr.add_argument("--plot", metavar="PNG", help="ramps vs fits and the noise law")
    pr.add_argument("--force", action="store_true", help="replace existing --out / --plot files")
    pr.add_argument("--validate", action="store_true",
                    help="simulate devices from the fit and compare them with the measured ramps "
                    "(quantiles of ln(G/G_start) per pulse count, KS distance)")  # fmt: skip
    _add_bootstrap_options(pr)
    _add_pulse_data_options(pr)
    pr.set_defaults(handler=pulse_response_command)
    ml = fit_models.add_parser(
        "multilevel",
        help="fit multi-level programming statistics (per-level spread, relaxation)",
        description=(
            "Per-level mean and spread per read time, the sigma(G) law and the relaxation "
            "parameters of devices.MultiLevelParams, from device_id, level, conductance_s "
            "[, time_s, iteration] rows."
        ),
    )
    ml.add_argument("data", metavar="DATA.csv", help="multi-level reads (CSV)")
    ml.add_argument("--out", required=True, metavar="params.json", help="parameter file to write")
    ml.add_argument("--plot", metavar="PNG", help="spread per level vs read time, data and fit")
    ml.add_argument("--force", action="store_true", help="replace existing --out / --plot files")
    ml.add_argument("--columns", default=None, help="rename columns: old=new,...")
    _add_strict_option(ml)
    _add_bootstrap_options(ml)
    ml.set_defaults(handler=multilevel_command)


def _add_pulse_data_options(parser: argparse.ArgumentParser) -> None:
    """How to read a pulse-train CSV (calibration.io.load_pulse_trains)."""
    parser.add_argument("--layout", default="long", choices=["long", "wide"])
    parser.add_argument("--columns", default=None, help="rename columns: old=new,...")
    parser.add_argument("--quantity", default=None,
                        help="wide layout: resistance_ohm, conductance_s or current_a")  # fmt: skip
    parser.add_argument("--read-voltage", type=positive_float, default=None,
                        help="read voltage (V) for current_a data")  # fmt: skip
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="drop malformed rows (reported) instead of rejecting the file")  # fmt: skip
    _add_strict_option(parser)


def _add_bootstrap_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", type=int_at_least(0, "an integer from 0 to 100000", 100_000),
                        default=200,
                        help="bootstrap resamples behind the 90%% intervals (0: none)")  # fmt: skip
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seed of the bootstrap (and of --validate's simulation)")  # fmt: skip


def _add_strict_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="reject columns the loader does not know (default: ignore them, "
                        "with a note)")  # fmt: skip


def fit_command(args: argparse.Namespace) -> int:
    from calibration.fit import fit_weak_reset
    from calibration.io import load_pulse_trains
    from devices import presets

    data = load_pulse_trains(args.data, layout=args.layout, columns=args.columns,
                             quantity=args.quantity, read_voltage_v=args.read_voltage,
                             skip_bad_rows=args.skip_bad_rows, strict=args.strict)  # fmt: skip
    _notes(data)
    result = fit_weak_reset(data, name=args.name, bootstrap=args.bootstrap, rng=args.seed)
    text = presets.to_json(result.params, args.out, fit=result.summary())
    if args.json:
        print(text)
    else:
        print(result.report())
        print(f"wrote {args.out}")
    if args.plot:
        _plot(result, data, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _notes(data: Any) -> None:
    """What the loader let through, on stderr: skipped rows, ignored columns."""
    if getattr(data, "skipped", None):
        print(f"{data.source}: skipped {sum(data.skipped.values())} bad rows: "
              + "; ".join(f"{n} x {why}" for why, n in data.skipped.items()), file=sys.stderr)  # fmt: skip
    if data.ignored_columns:
        print(f"{data.source}: ignored column(s) {', '.join(data.ignored_columns)} (not used by "
              "the fit; --strict rejects them)", file=sys.stderr)  # fmt: skip


def _plot(result: Any, data: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calibration.noise import noise_mean
    from devices.weak_reset import mean_log_resistance

    fig, axes = plt.subplots(2, 4, figsize=(17, 7.5), constrained_layout=True)
    trains = {(f"{d}" + (f"/cycle{c}" if c else "")): (p, r) for d, c, p, r in data.trains()}
    noise = result.details["noise"]
    p_ = result.params
    ax = axes[0, 0]
    for fit in result.devices[:6]:
        p, r = trains[fit.name]
        line = ax.plot(p, np.log(r / fit.r0_ohm), ".", ms=2, alpha=0.4)[0]
        t = np.linspace(1, p.max(), 300)
        mean = mean_log_resistance(t, fit.m1_per_pulse, fit.t_star_pulses, fit.c1,
                                   fit.m2_per_pulse) + noise_mean(
            t, noise["pink_alpha"], noise["rtn_amplitude_mean"], p_.pink_taps,
            p_.rtn_p_up_per_pulse, p_.rtn_p_down_per_pulse)  # fmt: skip
        ax.plot(t, mean, color=line.get_color(), lw=1.5)
    ax.set_xlabel("pulse")
    ax.set_ylabel("ln(R / R0)")
    ax.set_title("six devices: data and fit (mean model + noise mean)", fontsize=9)
    ax = axes[0, 1]
    for item in result.excluded[:6]:
        if item["device"] in trains:
            p, r = trains[item["device"]]
            ax.plot(p, np.log(r / r[0]), ".", ms=2, alpha=0.6, label=item["device"])
    ax.set_title(f"excluded: {len(result.excluded)} device(s)"
                 + (" (first six)" if len(result.excluded) > 6 else ""), fontsize=9)  # fmt: skip
    ax.set_xlabel("pulse")
    if result.excluded:
        ax.legend(fontsize=7)
    names = ["m1_per_pulse", "t_star_pulses", "c1", "m2_per_pulse", "r0_ohm"]
    for ax, name in zip(axes.ravel()[2:7], names, strict=True):
        values = np.array([getattr(f, name) for f in result.devices])
        values = values[np.asarray(result.details["used"][name])]
        ax.hist(values, bins=30, density=True, alpha=0.6)
        dist = getattr(result.params, name)
        x = np.linspace(values.min(), values.max(), 300)
        cdf = dist.cdf(x)
        ax.plot(x[1:], np.diff(cdf) / np.diff(x), "k", lw=1.2)
        ci = result.intervals.get(name, {}).get("median")
        if ci:
            ax.axvspan(ci[0], ci[1], color="C3", alpha=0.2, label="90 % interval of the median")
            ax.legend(fontsize=7)
        ax.set_title(f"{name}: {result.details['populations'][name]['family']}", fontsize=9)
    _plot_variogram(axes[1, 3], result)
    fig.suptitle(f"weak-RESET fit of {len(result.devices)} devices ({data.source})")
    save_png(fig, path, dpi=110)
    plt.close(fig)


def _plot_variogram(ax: Any, result: Any) -> None:
    """The residuals' variogram by lag against the fitted 1/f + RTN model."""
    from calibration.noise import model_variogram

    gram = result.details.get("variogram")
    if gram is None:
        ax.set_axis_off()
        return
    lags, v, model, pink, rtn = model_variogram(gram, result.params)
    ax.plot(lags, v * 1e4, "o", ms=3, label="residuals")
    ax.plot(lags, model * 1e4, "k", lw=1.2, label="1/f + RTN model")
    ax.plot(lags, pink * 1e4, "--", lw=1, label="1/f part")
    ax.plot(lags, rtn * 1e4, ":", lw=1, label="RTN part")
    ax.set_xlabel("lag (pulses)")
    ax.set_ylabel("variogram of ln R (1e-4)")
    ax.set_title("residual variogram vs the noise model", fontsize=9)
    ax.legend(fontsize=7)


def pulse_response_command(args: argparse.Namespace) -> int:
    import json

    from calibration.io import load_pulse_trains
    from calibration.pulse_response import fit_pulse_response

    data = [load_pulse_trains(p, layout=args.layout, columns=args.columns, quantity=args.quantity,
                              read_voltage_v=args.read_voltage, skip_bad_rows=args.skip_bad_rows,
                              strict=args.strict)
            for p in args.data]  # fmt: skip
    for d in data:
        _notes(d)
    result = fit_pulse_response(*data, bootstrap=args.bootstrap, rng=args.seed)
    doc = result.to_dict()
    validation = None
    if args.validate:
        from calibration.pulse_response import compare_with_simulation

        validation = compare_with_simulation(result, rng=args.seed)
        doc["validation"] = validation
    text = json.dumps(doc, indent=2)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    replace_atomically(args.out, write)
    print(result.report())
    if validation:
        print("measured vs simulated from the fit: ln(G/G_start) quantiles 5/50/95 % and KS "
              "distance")  # fmt: skip
        for direction, rows in validation.items():
            for r in rows:
                m, sim = r["measured"], r["simulated"]
                print(f"  {direction:<12} {r['pulses']:>4} pulses ({r['ramps']} ramps): measured "
                      f"{m[0]:+.4f} {m[1]:+.4f} {m[2]:+.4f}  simulated {sim[0]:+.4f} {sim[1]:+.4f} "
                      f"{sim[2]:+.4f}  KS {r['ks']:.2f}")  # fmt: skip
    print(f"wrote {args.out}")
    if args.plot:
        _plot_pulse_response(result, data, args.plot, validation)
        print(f"wrote {args.plot}")
    return 0


def _plot_pulse_response(result: Any, data: list[Any], path: str, validation: Any = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calibration.pulse_response import _model

    panels = 3 if validation else 2
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), constrained_layout=True)
    a, b = axes[0], axes[1]
    if validation:
        c = axes[2]
        for k, (direction, rows) in enumerate(validation.items()):
            n = [r["pulses"] for r in rows]
            m = np.array([r["measured"] for r in rows])
            sim = np.array([r["simulated"] for r in rows])
            c.fill_between(n, m[:, 0], m[:, 2], color=f"C{k}", alpha=0.3,
                           label=f"{direction}: measured 5-95 %")  # fmt: skip
            c.plot(n, m[:, 1], color=f"C{k}", lw=2)
            c.plot(n, sim[:, 1], "--", color=f"C{k}", lw=1.5,
                   label=f"{direction}: simulated median")  # fmt: skip
            c.plot(n, sim[:, 0], ":", color=f"C{k}", lw=1)
            c.plot(n, sim[:, 2], ":", color=f"C{k}", lw=1)
        c.set_xscale("log")
        c.set_xlabel("pulses from the ramp's start")
        c.set_ylabel("ln(G / G_start)")
        c.set_title("measured ramps vs devices simulated from the fit", fontsize=9)
        c.legend(fontsize=7)
    for d in data:
        for _, _, p, r in d.trains():
            g = 1e6 / r
            key = "potentiation" if g[-1] > g[0] else "depression"
            a.plot(p - p[0], g, color="C0" if key == "potentiation" else "C1", lw=0.5, alpha=0.4)
    for key, fit in result.directions.items():
        n = np.linspace(0, 200, 300)
        a.plot(n, 1e6 * _model(n, fit.g0_s, fit.g_inf_s, fit.n0_pulses), "k", lw=2)
        g = np.linspace(min(fit.g0_s, fit.g_inf_s), max(fit.g0_s, fit.g_inf_s), 100)
        g = g[(g >= 0.5e-3) & (g <= 3e-3)] if g.size else g
        b.plot(g * 1e6, fit.noise_sd_s(g) * 1e6, label=f"{key}: {fit.noise_intercept_s * 1e6:.2f} uS "
               f"+ {fit.noise_slope:.1e} G")  # fmt: skip
    a.set_xlabel("pulse in ramp")
    a.set_ylabel("G (µS)")
    a.set_title("ramps (thin) and fitted median model (black)", fontsize=9)
    b.set_xlabel("G (µS)")
    b.set_ylabel("sd of a pulse's dG (µS)")
    b.legend(fontsize=8)
    save_png(fig, path, dpi=110)
    plt.close(fig)


def multilevel_command(args: argparse.Namespace) -> int:
    from calibration.multilevel import fit_multilevel, load_multilevel
    from devices import presets

    data = load_multilevel(args.data, columns=args.columns, strict=args.strict)
    _notes(data)
    result = fit_multilevel(data, bootstrap=args.bootstrap, rng=args.seed)
    presets.to_json(result.params, args.out, fit=result.summary())
    print(result.report())
    print(f"wrote {args.out}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
        p = result.params
        t = result.times_s
        tt = np.geomspace(max(t[t > 0].min() if (t > 0).any() else 1.0, 1e-3), t.max() * 1.2, 100)
        for k, lv in enumerate(result.levels):
            line = ax.plot(np.where(t > 0, t, np.nan), result.sd_s[k] * 1e6, "o", ms=4)[0]
            g = result.mean_s[k][np.isfinite(result.mean_s[k])][0]
            rel = (
                p.sigma_relax_s
                * np.sqrt(p.g_max_s / g)
                * np.maximum(0, 1 + p.relax_log_growth * np.log10(tt / p.relax_reference_s))
            )
            ax.plot(tt, np.sqrt(result.sd_s[k, 0] ** 2 + rel**2) * 1e6, color=line.get_color(),
                    lw=1, label=f"level {lv} ({g * 1e6:.0f} uS)")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("time since programming (s)")
        ax.set_ylabel("spread of the level (uS)")
        ax.legend(fontsize=7, ncol=2)
        save_png(fig, args.plot, dpi=110)
        plt.close(fig)
        print(f"wrote {args.plot}")
    return 0
