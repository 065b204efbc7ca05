"""``python -m tests.compat``: run the compatibility corpus and print ``N of M pass``."""

from __future__ import annotations

import sys

from tests.compat.runner import main

sys.exit(main(sys.argv[1:]))
