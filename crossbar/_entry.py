"""The ``crossbar`` command's entry point: a Ctrl-C at any moment, even while the libraries are
still being imported, is one line and exit status 130, never a traceback."""

from __future__ import annotations

import os
import sys


def main() -> int:
    try:
        from .cli import main as run

        code = run()
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    if code == 130:
        # a Ctrl-C during an import can leave a half-initialized extension (torch) whose
        # shutdown dies of the signal again; every file is written atomically, so leave now
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(130)
    return code
