"""``python -m crossbar`` is the ``crossbar`` command."""

import sys

from .cli import main

sys.exit(main())
