"""The ``crossbar`` command-line tool: one module per command group, each with its parser and
handler — :mod:`~crossbar.cli.demo`, :mod:`~crossbar.cli.data`, :mod:`~crossbar.cli.run`
(``run``, ``endurance``, ``footprint``), :mod:`~crossbar.cli.fit` and
:mod:`~crossbar.cli.device`.

Bad arguments and bad data print one line starting with ``error:`` on stderr and exit with
status 2 (never a traceback); ``--json`` prints machine-readable results on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from .._files import OutputError, check_outputs
from . import data, demo, device, fit, run
from ._args import EXIT_USAGE, CliError, Parser
from .data import ensure_datasets

__all__ = ["EXIT_USAGE", "CliError", "build_parser", "ensure_datasets", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crossbar`` command."""
    parser = Parser(
        prog="crossbar",
        description="crossbar-sim: memristor (HfO2 RRAM) crossbar simulator.",
    )
    parser.add_argument("--version", action="version", version=f"crossbar-sim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for group in (demo, data, run, fit, device):  # the order of `crossbar --help`
        group.add_parsers(commands)
    return parser


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
