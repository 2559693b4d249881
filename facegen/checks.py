"""Argument checks shared by the generator's public functions (clear errors naming the argument)."""

from __future__ import annotations

import numpy as np


def check_int(value, name: str, minimum: int = 0) -> int:
    """``value`` as an ``int`` if it is an integer >= ``minimum``, else a ``ValueError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_channels(value) -> int:
    if isinstance(value, (bool, np.bool_)) or value not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {value!r}")
    return int(value)
