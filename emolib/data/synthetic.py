"""The procedural face-expression generator, as emolib data sets.

The generator is its own package, :mod:`facegen` (NumPy, SciPy and Pillow only; a module
per part of the picture). This module is emolib's side of it: it re-exports facegen's
public names, so ``from emolib.data.synthetic import render`` keeps working, and turns
facegen's arrays and dicts into emolib's types: :func:`generate` returns an
:class:`~emolib.data.base.EmotionDataset`, :func:`sample_action_units` and
:func:`params_to_meta` return :class:`pandas.DataFrame` tables.
"""

from __future__ import annotations

import pandas as pd

import facegen
from facegen import (ACTION_UNITS, AU_COLUMNS, BALANCES, EMOTIONS, FER2013_COUNTS, PROTOTYPES,  # noqa: F401
                     class_counts, render, sample_identities, sample_params)

from .base import EmotionDataset, Split

__all__ = [
    "ACTION_UNITS", "AU_COLUMNS", "EMOTIONS", "PROTOTYPES", "class_counts", "generate", "params_to_meta", "render",
    "sample_action_units", "sample_identities", "sample_params"
]


def generate(*args, **kwargs) -> EmotionDataset:
    """:func:`facegen.generate` as an :class:`EmotionDataset` named ``"synthetic"``.

    Parameters
    ----------
    *args, **kwargs
        :func:`facegen.generate`'s arguments (classes, counts, image size, channels, seed, ...).

    Returns
    -------
    EmotionDataset
        Splits ``train``, ``val`` and ``test`` (images ``(n, image_size, image_size, channels)``
        uint8) whose ``meta`` is facegen's per-image metadata as a DataFrame; ``info`` holds the
        generation parameters and the people per split.
    """
    drawn = facegen.generate(*args, **kwargs)
    splits = {name: Split(split["images"], split["labels"], pd.DataFrame(split["meta"]))
              for name, split in drawn["splits"].items()}
    info = {"generator": "emolib.data.synthetic", **drawn["info"]}
    return EmotionDataset(splits, drawn["classes"], "synthetic", info)


def sample_action_units(*args, **kwargs) -> pd.DataFrame:
    """:func:`facegen.sample_action_units` as a DataFrame.

    Parameters
    ----------
    *args, **kwargs
        Its arguments.

    Returns
    -------
    pandas.DataFrame
        One row per label, a column per action unit.
    """
    return pd.DataFrame(facegen.sample_action_units(*args, **kwargs))


def params_to_meta(*args, **kwargs) -> pd.DataFrame:
    """:func:`facegen.params_to_meta` as a DataFrame.

    Parameters
    ----------
    *args, **kwargs
        Its arguments.

    Returns
    -------
    pandas.DataFrame
        One row per image.
    """
    return pd.DataFrame(facegen.params_to_meta(*args, **kwargs))

