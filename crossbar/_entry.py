"""The ``crossbar`` command's entry point: a Ctrl-C at any moment, even while the libraries are
still being imported, is one line and exit status 130, never a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from .cli import main as run

        return run()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
