"""FER2013 in Colab: offer the download through ``kagglehub`` (Colab ships it),
with :func:`emolib.data.fer2013.fer2013_instructions` as the fallback.

Nothing here hangs: the download is attempted only when ``kagglehub`` is importable
and (by default) only in Colab, and only after :func:`emolib.net.reachable` saw
Kaggle answer within a few seconds; offline it fails fast with the manual steps.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .. import net
from .fer2013 import fer2013_instructions, find_fer2013

__all__ = ["KAGGLE_DATASET", "in_colab", "fetch_fer2013", "find_or_fetch_fer2013"]

#: The image-folder mirror of FER2013 on Kaggle (train/<class>/, test/<class>/).
KAGGLE_DATASET = "msambare/fer2013"
KAGGLE_URL = "https://www.kaggle.com"


def in_colab() -> bool:
    """Whether this Python runs in Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def fetch_fer2013(timeout=5.0) -> Path:
    """Download FER2013's folder mirror with ``kagglehub``; returns its folder
    (``train/`` and ``test/`` of class folders, which ``load_dataset`` reads).

    ``FileNotFoundError`` with the manual steps when ``kagglehub`` is missing, Kaggle
    does not answer within ``timeout`` seconds, or the download fails.
    """
    if importlib.util.find_spec("kagglehub") is None:
        raise FileNotFoundError("kagglehub is not installed (pip install kagglehub).\n\n" + fer2013_instructions())
    if not net.reachable(KAGGLE_URL, timeout=timeout):
        raise FileNotFoundError(f"{KAGGLE_URL} did not answer within {timeout:g} s (offline?).\n\n"
                                + fer2013_instructions())
    import kagglehub

    try:
        path = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    except Exception as exc:  # noqa: BLE001 - kagglehub raises many kinds; all mean "not downloaded"
        raise FileNotFoundError(f"kagglehub could not download {KAGGLE_DATASET}: {exc}\n\n"
                                + fer2013_instructions()) from None
    return path


def find_or_fetch_fer2013(download=None) -> Path:
    """``data/fer2013`` when present (:func:`~emolib.data.fer2013.find_fer2013`); else, when
    ``download`` is true (default: only in Colab with ``kagglehub`` importable), the
    ``kagglehub`` download; else ``FileNotFoundError`` with the manual steps."""
    try:
        return find_fer2013()
    except FileNotFoundError:
        if download is None:
            download = in_colab() and importlib.util.find_spec("kagglehub") is not None
        if not download:
            raise
        print(f"FER2013 not found locally: downloading {KAGGLE_DATASET} with kagglehub", file=sys.stderr)
        return fetch_fer2013()
