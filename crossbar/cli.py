"""The ``crossbar`` command-line tool.

Bad arguments and bad data print one line starting with ``error:`` on stderr and exit with
status 2 (never a traceback); ``--json`` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from ._files import OutputError, check_outputs, save_png

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2


class CliError(Exception):
    """A user error to be reported as one ``error:`` line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise CliError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _pulse_list(text: str) -> list[int]:
    out = []
    for i, token in enumerate(text.split(","), start=1):
        token = token.strip()
        try:
            value = int(token)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"item {i} of --pulses must be a non-negative integer; got {token!r} in {text!r}"
            ) from None
        if value < 0:
            raise argparse.ArgumentTypeError(
                f"item {i} of --pulses must be a non-negative integer; got {value} in {text!r}"
            )
        out.append(value)
    return out


def _int_at_least(low: int, what: str, high: int | None = None):
    """An argparse type: an integer in ``[low, high]`` (``what`` names it in the message)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
#: numpy's and torch's generators take seeds below 2**64; torch's manual_seed below 2**63 here
_seed = _int_at_least(0, "an integer from 0 to 2**63 - 1", 2**63 - 1)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}")
    return value


def _float_list(text: str) -> list[float]:
    out = []
    for i, token in enumerate(text.split(","), start=1):
        try:
            out.append(_positive_float(token.strip()))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"item {i} must be a positive number; got {token.strip()!r} in {text!r}"
            ) from None
    return out


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


def _add_pulse_data_options(parser: argparse.ArgumentParser) -> None:
    """How to read a pulse-train CSV (calibration.io.load_pulse_trains)."""
    parser.add_argument("--layout", default="long", choices=["long", "wide"])
    parser.add_argument("--columns", default=None, help="rename columns: old=new,...")
    parser.add_argument("--quantity", default=None,
                        help="wide layout: resistance_ohm, conductance_s or current_a")  # fmt: skip
    parser.add_argument("--read-voltage", type=_positive_float, default=None,
                        help="read voltage (V) for current_a data")  # fmt: skip
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="drop malformed rows (reported) instead of rejecting the file")  # fmt: skip
    _add_strict_option(parser)


def _add_bootstrap_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", type=_int_at_least(0, "an integer from 0 to 100000", 100_000),
                        default=200,
                        help="bootstrap resamples behind the 90%% intervals (0: none)")  # fmt: skip
    parser.add_argument("--seed", type=_seed, default=0,
                        help="seed of the bootstrap (and of --validate's simulation)")  # fmt: skip


def _add_strict_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true",
                        help="reject columns the loader does not know (default: ignore them, "
                        "with a note)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crossbar`` command."""
    parser = _Parser(
        prog="crossbar",
        description="crossbar-sim: memristor (HfO2 RRAM) crossbar simulator.",
    )
    parser.add_argument("--version", action="version", version=f"crossbar-sim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="metaplastic training on a simulated HfO2 crossbar (MNIST then Fashion-MNIST)",
        description=(
            "Train a 784-H-10 perceptron whose weights live in simulated 8-level 130 nm HfO2 "
            "crossbars on MNIST then Fashion-MNIST, with and without metaplasticity; print the "
            "accuracies, device writes and memory footprint."
        ),
    )
    demo.add_argument("--train", type=_int_at_least(2, "an integer from 2 to 60000", 60000),
                      default=6000, help="training images per task (2-60000)")  # fmt: skip
    demo.add_argument("--test", type=_int_at_least(2, "an integer from 2 to 10000", 10000),
                      default=2000, help="test images per task (2-10000)")  # fmt: skip
    demo.add_argument("--epochs", type=_int_at_least(1, "an integer from 1 to 1000", 1000),
                      default=2, help="epochs per task (1-1000)")  # fmt: skip
    demo.add_argument("--hidden", type=_int_at_least(1, "an integer from 1 to 8192", 8192),
                      default=128, help="hidden units (1-8192)")  # fmt: skip
    demo.add_argument("--meta", type=_non_negative_float, default=2.0,
                      help="metaplasticity m* of the multi-level rule (default 2)")  # fmt: skip
    demo.add_argument("--lr", type=_positive_float, default=0.05,
                      help="learning rate, in units of the weight range (default 0.05: ten "
                           "times the full runs' 0.005, for the demo's few steps per task)")  # fmt: skip
    demo.add_argument("--seed", type=_seed, default=0)
    demo.add_argument("--data", metavar="DIR", default=None,
                      help="the folder holding mnist/ and fashion-mnist/, the only one searched "
                           "(default: $CROSSBAR_DATA if set, else "
                           "../shared/data, then ~/.cache/crossbar-sim/data)")  # fmt: skip
    demo.add_argument("--no-download", action="store_true",
                      help="do not download a missing dataset (also: CROSSBAR_OFFLINE=1)")  # fmt: skip
    demo.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(handler=_cmd_demo)

    data_cmd = commands.add_parser("data", help="datasets: download MNIST / Fashion-MNIST")
    data_actions = data_cmd.add_subparsers(dest="data_command", metavar="ACTION",
                                           parser_class=_Parser)  # fmt: skip
    data_actions.required = True
    dl = data_actions.add_parser(
        "download",
        help="fetch the official IDX files (MD5-checked) into the data folder",
        description="Download the four official IDX .gz files of each dataset from its official "
        "mirrors (tried in turn), check every file's MD5 before moving it into place, and skip "
        "files already present and valid. Default folder: ~/.cache/crossbar-sim/data, which "
        "the loaders search.",
    )
    dl.add_argument("datasets", nargs="*", metavar="DATASET", default=[],
                    help="mnist and/or fashion-mnist (default: both)")  # fmt: skip
    dl.add_argument("--dir", default=None,
                    help="data folder (default: ~/.cache/crossbar-sim/data)")  # fmt: skip
    dl.add_argument("--mirror", default=None, metavar="URL",
                    help="one base URL laid out like the data folder (URL/mnist/...), replacing "
                         "the official mirrors (default: $CROSSBAR_DATA_MIRROR if set)")  # fmt: skip
    dl.add_argument("--force", action="store_true", help="download files already present too")
    dl.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    dl.set_defaults(handler=_cmd_data_download)

    from ._cli_run import add_parsers

    add_parsers(commands, _positive_int, _seed)

    fit = commands.add_parser("fit", help="fit device models to measured data")
    fit_models = fit.add_subparsers(dest="fit_model", metavar="MODEL", parser_class=_Parser)
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
    wr.set_defaults(handler=_cmd_fit)
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
    pr.set_defaults(handler=_cmd_fit_pulse_response)
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
    ml.set_defaults(handler=_cmd_fit_multilevel)

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
        "--devices", type=_positive_int, default=None,
        help="population size (default 10000 weak-reset, 16384 multilevel, 100000 mram bits, "
             "1000 pulse-response)",
    )  # fmt: skip
    sim.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    sim.add_argument("--params", default=None, help="preset name or JSON parameter file")
    sim.add_argument("--plot", metavar="PNG", help="write a PNG of the results")
    sim.add_argument("--force", action="store_true", help="replace an existing --plot file")
    sim.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    sim.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    wr = sim.add_argument_group("weak-reset")
    wr.add_argument(
        "--pulses", type=_pulse_list, default=None,
        help="comma-separated pulse counts at which to report (default 0,10,100,500,1000,2000)",
    )  # fmt: skip
    wr.add_argument("--noise", default=None, help="none, paper, rtn, pink or code (default paper)")
    wr.add_argument("--no-d2d", action="store_true", help="every device at the median parameters")
    ml = sim.add_argument_group("multilevel")
    ml.add_argument("--levels", type=_int_at_least(2, "an integer >= 2"), default=None,
                    help="number of conductance levels (default 8)")  # fmt: skip
    ml.add_argument("--allocation", default=None, help="linear or statistics (default linear)")
    mr = sim.add_argument_group("mram")
    mr.add_argument("--current-ua", type=_positive_float, default=None,
                    help="write current for the WER curve (default 100 uA)")  # fmt: skip
    mr.add_argument("--pulse-widths-ns", type=_float_list, default=None,
                    help="pulse widths (default 1,2,3,5,10,20,50 ns)")  # fmt: skip
    mr.add_argument("--target-wer", type=_float_list, default=None,
                    help="target write error rates for the energy table (default 1e-3,1e-6,1e-9)")  # fmt: skip
    pr = sim.add_argument_group(
        "pulse-response (a measured device, after `crossbar fit pulse-response`)"
    )
    pr.add_argument("--ramp-pulses", type=_positive_int, default=None,
                    help="potentiation pulses, then as many depression pulses (default 100)")  # fmt: skip
    sim.set_defaults(handler=_cmd_device_simulate)
    return parser


def _load_params(spec: str) -> Any:
    from devices import presets

    if spec.lower().endswith(".json") or os.path.sep in spec:
        if not os.path.exists(spec):
            raise CliError(f"--params: no such file: {spec}")
        return presets.from_json(spec)
    return presets.get_preset(spec)


def _cmd_fit(args: argparse.Namespace) -> int:
    from ._cli_fit import fit_command

    return fit_command(args)


def _cmd_fit_pulse_response(args: argparse.Namespace) -> int:
    from ._cli_fit import pulse_response_command

    return pulse_response_command(args)


def _cmd_fit_multilevel(args: argparse.Namespace) -> int:
    from ._cli_fit import multilevel_command

    return multilevel_command(args)


def _cmd_data_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .data import DATASETS
    from .download import default_dir, download

    names = args.datasets or list(DATASETS)
    for name in names:
        if name not in DATASETS:
            raise CliError(f"DATASET must be one of {', '.join(DATASETS)}; got {name!r}")
    directory = args.dir or default_dir()
    for name in dict.fromkeys(names):
        with tqdm(unit="B", unit_scale=True, desc=name, leave=False, file=sys.stderr,
                  disable=True if args.no_progress else None) as bar:  # fmt: skip
            folder = download(name, directory, mirror=args.mirror, force=args.force,
                              progress=bar.update,
                              on_file=lambda f, url: bar.set_postfix_str(f))  # fmt: skip
        print(f"{name}: {folder} (4 files, MD5 checked)")
    return 0


def ensure_datasets(names: Sequence[str], args: argparse.Namespace) -> None:
    """Before demo / run: download the datasets they need and nobody has (to $CROSSBAR_DATA if
    set, else the user cache), saying so on stderr; an explicit --data is used as it is."""
    from tqdm import tqdm

    from .data import DatasetNotFoundError, _find
    from .download import default_dir, download

    if args.data is not None:
        return
    for name in names:
        try:
            _find(name, None)
            continue
        except DatasetNotFoundError:
            pass
        target = os.environ.get("CROSSBAR_DATA") or str(default_dir())
        if args.no_download or os.environ.get("CROSSBAR_OFFLINE", "") not in ("", "0"):
            raise CliError(f"{name} not found, and downloads are off (--no-download or "
                           f"CROSSBAR_OFFLINE): fetch it with `crossbar data download {name}` "
                           f"(to {target}), or pass --data DIR")  # fmt: skip
        print(f"{name} not found: downloading it to {target} (the same as `crossbar data "
              f"download {name}`; --no-download to refuse)", file=sys.stderr)  # fmt: skip
        with tqdm(unit="B", unit_scale=True, desc=name, leave=False, file=sys.stderr,
                  disable=True if args.no_progress else None) as bar:  # fmt: skip
            download(name, target, progress=bar.update)


def _cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    ensure_datasets(("mnist", "fashion-mnist"), args)

    from .demo import BNN_BASELINE_WEIGHTS, run_demo
    from .experiments._data import n_batches

    steps = 2 * 2 * args.epochs * n_batches(args.train, 100)
    with tqdm(total=steps, unit="step", desc="training", leave=False, file=sys.stderr,
              disable=True if args.no_progress else None) as bar:  # fmt: skip
        results = run_demo(args.train, args.test, args.epochs, args.hidden, args.meta,
                           seed=args.seed, progress=bar.update, root=args.data,
                           lr=args.lr)  # fmt: skip
    n_weights = results[0].hidden_weight_bytes // 4
    ratio = BNN_BASELINE_WEIGHTS / n_weights
    if args.json:
        print(json.dumps({"config": vars(args) | {"handler": None},
                          "results": [r.__dict__ for r in results],
                          "footprint_ratio_vs_bnn": ratio}, indent=2, default=str))  # fmt: skip
        return 0
    print(
        f"2-layer perceptron 784-{args.hidden}-10 on simulated 130 nm HfO2 crossbars (8 levels, "
        f"program-and-verify, read noise, 8-bit DAC/ADC); {args.train} training and {args.test} "
        f"test images per task, {args.epochs} epochs each, lr {args.lr:g}, seed {args.seed}"
    )
    print(f"{'rule':<22} {'MNIST':>7} {'MNIST':>7} {'FMNIST':>7} {'writes/device':>14}")
    print(f"{'':<22} {'after 1':>7} {'after 2':>7} {'after 2':>7} {'max':>6} {'mean':>7}")
    for r in results:
        name = "Adam (m* = 0)" if r.meta == 0 else f"metaplastic (m* = {r.meta:g})"
        print(
            f"{name:<22} {r.mnist_after_mnist:>7.1%} {r.mnist_after_fmnist:>7.1%} "
            f"{r.fmnist_after_fmnist:>7.1%} {r.max_writes_per_device:>6} "
            f"{r.mean_writes_per_device:>7.1f}"
        )
    print(
        f"memory: {n_weights:,} hidden weights (float32, {results[0].hidden_weight_bytes / 1e3:.0f} "
        f"kB digital) + {results[0].devices:,} devices; the metaplastic BNN of Laborieux et al. "
        f"(784-4096-4096-10) holds {BNN_BASELINE_WEIGHTS:,}: {ratio:.0f}x more"
    )
    print(f"time: {sum(r.seconds for r in results):.0f} s")
    return 0


def _cmd_device_simulate(args: argparse.Namespace) -> int:
    _apply_model_defaults(args)
    if args.model == "multilevel":
        from ._cli_devices import simulate_multilevel

        return simulate_multilevel(args)
    if args.model == "mram":
        from ._cli_devices import simulate_mram

        return simulate_mram(args)
    if args.model == "pulse-response":
        if args.params is None:
            raise CliError(
                "--model pulse-response needs --params FILE.json (written by "
                "`crossbar fit pulse-response DATA.csv --out FILE.json`)"
            )
        from ._cli_devices import simulate_pulse_response

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``crossbar`` command; return its exit status."""
    # torch backs large CPU tensors with transparent huge pages when this is set before its
    # first allocation: a fresh 64 MB gradient then costs ~500 page faults instead of ~16,000
    # (the full-size BNN's step: docs/validation.md). Results are unchanged.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    # MKL's products independent of the thread count (crossbar._threads), before MKL starts
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    from devices import InvalidParameterError

    try:
        args = build_parser().parse_args(argv)
        check_outputs(args)
        return int(args.handler(args))
    except (CliError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InvalidParameterError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("error: not enough memory for this simulation; use fewer --devices", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
