"""``crossbar run``, ``crossbar endurance`` and ``crossbar footprint``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ._args import positive_int, seed_int


def add_parsers(commands: Any) -> None:
    """Register the three commands on the ``crossbar`` sub-parsers."""
    from ..experiments import EXPERIMENTS

    run = commands.add_parser(
        "run",
        help="run one of the papers' experiments",
        description="Run one of the papers' experiments and write DIR/results.json (metrics "
        "beside the paper's numbers), DIR/results.md and PNG plots. Experiments: "
        + "; ".join(f"{e.name}: {e.summary}" for e in EXPERIMENTS.values()),
    )
    run.add_argument("experiment", choices=list(EXPERIMENTS), metavar="EXPERIMENT",
                     help=f"one of {', '.join(EXPERIMENTS)}")  # fmt: skip
    run.add_argument("--quick", action="store_true",
                     help="small network and data subsample (under 2 minutes on 2 cores)")  # fmt: skip
    run.add_argument("--out", metavar="DIR", default=None,
                     help="output folder (default results/EXPERIMENT[-quick])")  # fmt: skip
    run.add_argument("--seed", type=seed_int, default=0)
    run.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from DIR/checkpoint.json")  # fmt: skip
    run.add_argument("--data", metavar="DIR", default=None,
                     help="the folder holding mnist/ and fashion-mnist/, the only one searched "
                          "(default: $CROSSBAR_DATA if set, else "
                          "../shared/data, then ~/.cache/crossbar-sim/data)")  # fmt: skip
    run.add_argument("--device", default="cpu",
                     help="torch device of the binarized-network experiments (cpu, cuda); "
                          "bnn-metaplastic and bnn-pmnist need a GPU in full mode")  # fmt: skip
    run.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], type=_setting,
                     dest="overrides",
                     help="replace a field of the experiment's configuration (VALUE as JSON, "
                          "else a string), e.g. --set arithmetic=float32 or --set meta=3; "
                          "repeatable")  # fmt: skip
    run.add_argument("--force", action="store_true",
                     help="replace a run already in --out (finished or not; its results, "
                          "checkpoint and listed files are removed first)")  # fmt: skip
    run.add_argument("--no-download", action="store_true",
                     help="do not download a missing dataset (also: CROSSBAR_OFFLINE=1)")  # fmt: skip
    run.add_argument("--json", action="store_true", help="print results.json on stdout")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(handler=run_command)

    end = commands.add_parser(
        "endurance",
        help="endurance report of an experiment's device writes",
        description="Writes per device (histogram, max, mean), the fraction of devices past "
        "their endurance limit, and the projected lifetime (training epochs until 1 % of the "
        "devices fail) from DIR/device_writes.npz.",
    )
    end.add_argument("dir", metavar="DIR", help="results folder of crossbar run")
    end.add_argument("--limit-median", type=float, default=1e6,
                     help="median endurance limit, writes (default 1e6; docs/validation.md)")  # fmt: skip
    end.add_argument("--limit-sigma", type=float, default=1.0,
                     help="log-normal sigma of the limit (default 1)")  # fmt: skip
    end.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --plot file "
        "(the default DIR/endurance.png is this command's own and is replaced)",
    )
    end.add_argument("--plot", metavar="PNG", default=None, help="write the plot here "
                     "(default DIR/endurance.png)")  # fmt: skip
    end.add_argument("--json", action="store_true", help="print the report as JSON")
    end.set_defaults(handler=endurance_command)

    foot = commands.add_parser(
        "footprint",
        help="memory footprint of a multi-level network against a binarized one",
        description="Hidden-weight bits plus device storage of a multi-level network against "
        "the metaplastic BNN of Laborieux et al. (784-4096-4096-10), every assumption an option.",
    )
    foot.add_argument("--dims", type=_dims, default=[784, 1024, 10],
                      help="layer widths of the multi-level network (default 784,1024,10: the "
                           "qnn-multilevel experiment)")  # fmt: skip
    foot.add_argument("--levels", type=positive_int, default=8, help="levels per device (8)")
    foot.add_argument("--hidden-bits", type=positive_int, default=32,
                      help="bits per digital hidden weight (32: float32)")  # fmt: skip
    foot.add_argument("--devices-per-weight", type=positive_int, default=2,
                      help="2: differential pairs")  # fmt: skip
    foot.add_argument("--bnn-dims", type=_dims, default=[784, 4096, 4096, 10])
    foot.add_argument("--bnn-hidden-bits", type=positive_int, default=32)
    foot.add_argument("--bnn-devices-per-weight", type=positive_int, default=2,
                      help="2: 2T2R pairs holding one bit")  # fmt: skip
    foot.add_argument("--json", action="store_true", help="print the report as JSON")
    foot.set_defaults(handler=footprint_command)


def _dims(text: str) -> list[int]:
    out = []
    for i, token in enumerate(text.split(","), start=1):
        try:
            value = int(token)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"item {i} must be a positive integer; got {token.strip()!r} in {text!r}"
            )
        out.append(value)
    if len(out) < 2:
        raise argparse.ArgumentTypeError(f"needs at least two layer widths; got {text!r}")
    return out


def _setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE; got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise argparse.ArgumentTypeError(f"{key.strip()} must be finite; got {value!r}")
    return key.strip(), parsed


#: The datasets each experiment reads (the others read both).
DATASETS_OF = {"bnn-pmnist": ("mnist",), "mram-ber": ("mnist",), "mesu-pmnist": ("mnist",),
               "weak-reset-ablation": ("mnist",)}  # fmt: skip


def run_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..experiments import apply_overrides, get_experiment, run_experiment
    from .data import ensure_datasets

    exp = get_experiment(args.experiment)
    overrides = dict(args.overrides)
    total = exp.steps(apply_overrides(args.experiment, exp.config(args.quick, args.seed),
                                      overrides))  # fmt: skip

    def fetch_data() -> None:  # after the arguments and the run folder are checked
        ensure_datasets(DATASETS_OF.get(args.experiment, ("mnist", "fashion-mnist")), args)

    with tqdm(total=total, unit="step", desc=args.experiment, leave=False, file=sys.stderr,
              disable=True if args.no_progress else None) as bar:  # fmt: skip
        doc = run_experiment(args.experiment, args.quick, args.out, args.seed, args.resume,
                             args.data, progress=bar.update, device=args.device,
                             overrides=overrides, force=args.force, prepare=fetch_data)  # fmt: skip
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{args.experiment} ({'quick' if args.quick else 'full'}, seed {args.seed}): "
          f"{doc['seconds']:.0f} s")  # fmt: skip
    width = max(len(k) for k in doc["metrics"])
    print(f"{'metric':<{width}}  {'ours':>10}  {'paper':>10}")
    for name, value in doc["metrics"].items():
        ref = doc["paper"].get(name)
        print(f"{name:<{width}}  {value:>10.4g}  {'' if ref is None else f'{ref:.4g}':>10}")
    out = args.out or f"results/{args.experiment}{'-quick' if args.quick else ''}"
    print(f"wrote {out}/results.json, results.md and plots")
    return 0


def endurance_command(args: argparse.Namespace) -> int:
    from devices import InvalidParameterError, TruncatedDistribution, WearOutParams

    from ..reports import endurance_report

    if not (args.limit_median > 0 and math.isfinite(args.limit_median)):
        raise InvalidParameterError(f"--limit-median must be > 0; got {args.limit_median!r}")
    if not (args.limit_sigma > 0 and math.isfinite(args.limit_sigma)):
        raise InvalidParameterError(f"--limit-sigma must be > 0; got {args.limit_sigma!r}")
    wear = WearOutParams(
        TruncatedDistribution("lognorm", 0.0, args.limit_median, args.limit_sigma, 1.0)
    )
    plot = args.plot or f"{args.dir}/endurance.png"
    r = endurance_report(args.dir, wear, plot)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    print(f"{r.devices:,} devices written over {r.periods:g} {r.period}s: max {r.max_writes:,}, "
          f"mean {r.mean_writes:.1f} writes per device")  # fmt: skip
    print(f"endurance limit: log-normal, median {r.limit_median:.3g} writes, sigma "
          f"{args.limit_sigma:g}: {r.fraction_past_limit:.3g} of the devices past it now")  # fmt: skip
    print(f"projected lifetime: {r.lifetime_periods:.3g} {r.period}s until 1 % of the devices "
          "fail (at this run's write rate)")  # fmt: skip
    print(f"wrote {plot}")
    return 0


def footprint_command(args: argparse.Namespace) -> int:
    from ..reports import footprint_report

    r = footprint_report(args.dims, args.levels, args.hidden_bits, args.devices_per_weight,
                         args.bnn_dims, args.bnn_hidden_bits, args.bnn_devices_per_weight)  # fmt: skip
    if args.json:
        print(json.dumps(r.to_dict(), indent=2))
        return 0
    net = "-".join(map(str, args.dims))
    bnn = "-".join(map(str, args.bnn_dims))
    mb = 8e6
    print(f"multi-level network {net}: {r.weights:,} hidden weights x {args.hidden_bits} bits = "
          f"{r.hidden_bits / mb:.2f} MB digital + {r.devices:,} devices x "
          f"log2({args.levels}) bits = {r.device_bits / mb:.2f} MB")  # fmt: skip
    print(f"binarized baseline {bnn}: {r.bnn_weights:,} hidden weights x {args.bnn_hidden_bits} "
          f"bits = {r.bnn_hidden_bits / mb:.2f} MB digital + {r.bnn_devices:,} devices "
          f"({args.bnn_devices_per_weight} per 1-bit weight) = {r.bnn_device_bits / mb:.2f} MB")  # fmt: skip
    print(f"footprint ratio: {r.ratio_total:.1f}x in total, {r.ratio_hidden:.1f}x in hidden-weight "
          "memory (the paper: 15x)")  # fmt: skip
    print(f"with these assumptions, 15x is a {args.dims[0]}-H-{args.dims[-1]} perceptron with "
          f"H = {r.hidden_units_for_15x:.0f}")  # fmt: skip
    return 0
