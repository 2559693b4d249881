"""Argument checks shared by the generator's public functions (clear errors naming the argument)."""

from __future__ import annotations

import numpy as np


def _is_int(value) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def check_size(value, name) -> int:
    """``value`` as an ``int`` if it is a non-negative integer, else a ``ValueError`` naming ``name``."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_image_size(value) -> int:
    if not _is_int(value) or value < 16:
        raise ValueError(f"image_size must be an integer >= 16, got {value!r}")
    return int(value)


def check_channels(value) -> int:
    if isinstance(value, (bool, np.bool_)) or value not in (1, 3):
        raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {value!r}")
    return int(value)


def check_batch_size(value) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"batch_size must be a positive integer, got {value!r}")
    return int(value)
