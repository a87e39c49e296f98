"""Output files of the command-line tool: nothing is lost, nothing is half-written.

One rule for every command: a file named with ``--out`` or ``--plot`` that already exists is
replaced only with ``--force``; an output that is also an input of the same command is refused
even then; every file is written under a temporary name in its folder and renamed into place,
so an interrupted command leaves the old file or the new one, never a part.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from devices.support import replace_atomically

__all__ = ["OutputError", "check_outputs", "replace_atomically", "save_png"]


class OutputError(ValueError):
    """An output path the command will not write."""


def _inputs(args: argparse.Namespace) -> list[Path]:
    found = []
    for name in ("data", "params", "dir"):
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and os.path.isfile(item):
                found.append(Path(item))
    return found


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before anything runs, the ``--out`` / ``--plot`` files of ``args`` that would
    replace an input, an existing file (without ``--force``) or a folder, or that cannot be
    written (a missing folder; a plot that is not ``.png``)."""
    outputs = []
    if getattr(args, "command", None) == "fit" and getattr(args, "out", None):
        outputs.append(("--out", Path(args.out)))
    if getattr(args, "plot", None):
        plot = Path(args.plot)
        if plot.suffix.lower() != ".png":
            raise OutputError(f"--plot must name a .png file; got {args.plot!r}")
        outputs.append(("--plot", plot))
    if len(outputs) == 2 and _same(outputs[0][1], outputs[1][1]):
        raise OutputError(f"--out and --plot name the same file ({args.out}); choose two paths")
    for option, path in outputs:
        for source in _inputs(args):
            if _same(path, source):
                raise OutputError(f"{option} {path} is an input of this command; writing it "
                                  "would destroy the input. Choose another path.")  # fmt: skip
        if path.is_dir():
            raise OutputError(f"{option} {path} is a folder; give a file name")
        if not path.parent.is_dir():
            raise OutputError(f"{option} {path}: the folder {path.parent} does not exist")
        if path.exists() and not getattr(args, "force", False):
            raise OutputError(f"{option} {path} exists; pass --force to replace it (nothing "
                              "was written)")  # fmt: skip


def save_png(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """``fig.savefig(path)`` as a PNG, written under a temporary name and renamed into place."""
    replace_atomically(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
