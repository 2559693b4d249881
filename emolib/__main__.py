"""``python -m emolib``: the emolib command line (see :mod:`emolib.cli`)."""

import sys

from .cli import main

__all__ = []

sys.exit(main())
