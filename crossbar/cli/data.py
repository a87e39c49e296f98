"""``crossbar data download``, and the download ``demo`` and ``run`` make before they start."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._args import CliError, Parser

__all__ = ["add_parsers", "ensure_datasets"]


def add_parsers(commands: Any) -> None:
    """Register ``crossbar data`` on the ``crossbar`` sub-parsers."""
    data_cmd = commands.add_parser("data", help="datasets: download MNIST / Fashion-MNIST")
    data_actions = data_cmd.add_subparsers(dest="data_command", metavar="ACTION",
                                           parser_class=Parser)  # fmt: skip
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


def _cmd_data_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..data import DATASETS
    from ..download import default_dir, download

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

    from ..data import DatasetNotFoundError, _find
    from ..download import default_dir, download

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
