"""``python -m crossbar`` is the ``crossbar`` command."""

import sys

from ._entry import main

sys.exit(main())
