"""``crossbar demo``: metaplastic training on simulated HfO2 crossbars, MNIST then
Fashion-MNIST (:mod:`crossbar.demo`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._args import int_at_least, non_negative_float, positive_float, seed_int
from .data import ensure_datasets

__all__ = ["add_parsers"]


def add_parsers(commands: Any) -> None:
    """Register ``crossbar demo`` on the ``crossbar`` sub-parsers."""
    demo = commands.add_parser(
        "demo",
        help="metaplastic training on a simulated HfO2 crossbar (MNIST then Fashion-MNIST)",
        description=(
            "Train a 784-H-10 perceptron whose weights live in simulated 8-level 130 nm HfO2 "
            "crossbars on MNIST then Fashion-MNIST, with and without metaplasticity; print the "
            "accuracies, device writes and memory footprint."
        ),
    )
    demo.add_argument("--train", type=int_at_least(2, "an integer from 2 to 60000", 60000),
                      default=6000, help="training images per task (2-60000)")  # fmt: skip
    demo.add_argument("--test", type=int_at_least(2, "an integer from 2 to 10000", 10000),
                      default=2000, help="test images per task (2-10000)")  # fmt: skip
    demo.add_argument("--epochs", type=int_at_least(1, "an integer from 1 to 1000", 1000),
                      default=2, help="epochs per task (1-1000)")  # fmt: skip
    demo.add_argument("--hidden", type=int_at_least(1, "an integer from 1 to 8192", 8192),
                      default=128, help="hidden units (1-8192)")  # fmt: skip
    demo.add_argument("--meta", type=non_negative_float, default=2.0,
                      help="metaplasticity m* of the multi-level rule (default 2)")  # fmt: skip
    demo.add_argument("--lr", type=positive_float, default=0.05,
                      help="learning rate, in units of the weight range (default 0.05: ten "
                           "times the full runs' 0.005, for the demo's few steps per task)")  # fmt: skip
    demo.add_argument("--seed", type=seed_int, default=0)
    demo.add_argument("--data", metavar="DIR", default=None,
                      help="the folder holding mnist/ and fashion-mnist/, the only one searched "
                           "(default: $CROSSBAR_DATA if set, else "
                           "../shared/data, then ~/.cache/crossbar-sim/data)")  # fmt: skip
    demo.add_argument("--no-download", action="store_true",
                      help="do not download a missing dataset (also: CROSSBAR_OFFLINE=1)")  # fmt: skip
    demo.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    ensure_datasets(("mnist", "fashion-mnist"), args)

    from ..demo import BNN_BASELINE_WEIGHTS, run_demo
    from ..experiments._data import n_batches

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
