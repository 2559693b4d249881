"""FER2013 from its CSV (``emotion,pixels[,Usage]``, 48x48 grayscale), as in Kaggle's
``fer2013.csv`` (also ``icml_face_data.csv`` and the challenge's ``train.csv``/``test.csv``).
Conventions as in :mod:`emolib.data.real`.

emolib does not download it (:func:`_fer2013_instructions`), except in Colab, where
:func:`_find_or_fetch_fer2013` offers ``kagglehub`` (Colab ships it), only after
:func:`emolib.net._reachable` saw Kaggle answer within a few seconds: offline it fails
fast with the manual steps.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .. import net
from .base import EMOTIONS, EmotionDataset, _convert_images
from .images import _for_each
from .real import (_build_dataset, _check_args, _check_path, _class_order, _csv_splits, _labels_for, _order_meta,
                   _read_csv, _row)
from .splits import _stratified_splits

__all__ = []

#: Where the curriculum expects FER2013 (relative to the project root).
_FER2013_DIR = Path("data") / "fer2013"
_FER_SIZE = 48
_FER_CSV_CANDIDATES = ("fer2013.csv", "icml_face_data.csv", "fer2013/fer2013.csv", "train.csv")
#: The image-folder mirror of FER2013 on Kaggle (train/<class>/, test/<class>/).
_KAGGLE_DATASET = "msambare/fer2013"
_KAGGLE_URL = "https://www.kaggle.com"


def _fer2013_instructions() -> str:
    """How to get FER2013 and where to put it (emolib never downloads it)."""
    return (
        "emolib does not download FER2013 (Kaggle distributes it to signed-in users who accept\n"
        "the competition's rules).\n"
        "Get it yourself, in either of two forms:\n"
        "  1. the original CSV: Kaggle competition\n"
        "     'challenges-in-representation-learning-facial-expression-recognition-challenge'\n"
        "     -> fer2013.csv (columns emotion,pixels,Usage; 35,887 rows), or icml_face_data.csv;\n"
        "  2. the common image-folder mirror (e.g. Kaggle data set 'msambare/fer2013'):\n"
        "     train/<emotion>/*.jpg and test/<emotion>/*.jpg.\n"
        f"Put it in '{_FER2013_DIR.as_posix()}/' under the project root (data/fer2013/fer2013.csv or\n"
        "data/fer2013/train/..., data/fer2013/test/...), then load it with\n"
        "  emolib.data.load_dataset('fer2013')  or  load_dataset('data/fer2013/fer2013.csv')."
    )


def _find_fer2013(start=None) -> Path:
    """Find ``data/fer2013`` in ``start`` (default: the working directory) or one of its
    parents, so notebooks find it from ``notebooks/`` too. ``FileNotFoundError`` with
    :func:`_fer2013_instructions` when it is not there."""
    start = Path.cwd() if start is None else Path(start)
    for base in (start, *start.resolve().parents):
        candidate = base / _FER2013_DIR
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    raise FileNotFoundError(
        f"FER2013 not found: no non-empty '{_FER2013_DIR.as_posix()}' in '{start}' or its parents.\n\n"
        + _fer2013_instructions()
    )


def _fetch_fer2013(timeout=5.0) -> Path:
    """Download FER2013's folder mirror with ``kagglehub``; returns its folder (``train/`` and
    ``test/`` of class folders). ``FileNotFoundError`` with the manual steps when ``kagglehub``
    is missing, Kaggle does not answer within ``timeout`` seconds, or the download fails."""
    if importlib.util.find_spec("kagglehub") is None:
        raise FileNotFoundError("kagglehub is not installed (pip install kagglehub).\n\n" + _fer2013_instructions())
    if not net._reachable(_KAGGLE_URL, timeout=timeout):
        raise FileNotFoundError(f"{_KAGGLE_URL} did not answer within {timeout:g} s (offline?).\n\n"
                                + _fer2013_instructions())
    import kagglehub

    try:
        return Path(kagglehub.dataset_download(_KAGGLE_DATASET))
    except Exception as exc:  # noqa: BLE001 - kagglehub raises many kinds; all mean "not downloaded"
        raise FileNotFoundError(f"kagglehub could not download {_KAGGLE_DATASET}: {exc}\n\n"
                                + _fer2013_instructions()) from None


def _find_or_fetch_fer2013(download=None) -> Path:
    """``data/fer2013`` when present (:func:`_find_fer2013`); else, when ``download`` is true
    (default: only in Colab with ``kagglehub`` importable), :func:`_fetch_fer2013`; else
    ``FileNotFoundError`` with the manual steps."""
    try:
        return _find_fer2013()
    except FileNotFoundError:
        if download is None:
            in_colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
            download = in_colab and importlib.util.find_spec("kagglehub") is not None
        if not download:
            raise
        print(f"FER2013 not found locally: downloading {_KAGGLE_DATASET} with kagglehub", file=sys.stderr)
        return _fetch_fer2013()


def _parse_pixel_chunk(part, path, row0, expected):
    """``(len(part), expected)`` uint8 values of the pixel strings ``part`` (data rows ``row0``
    on), decoded from their bytes at once; ``ValueError`` naming the first bad row."""
    buf = np.frombuffer(("\n".join(part) + "\n").encode("ascii", errors="replace"), dtype=np.uint8)
    digit = (buf - np.uint8(48)) < 10
    nl_pos = np.flatnonzero(buf == 10)
    _check_pixel_text(part, buf, digit, nl_pos, path, row0)
    starts = np.flatnonzero(digit & np.concatenate(([True], ~digit[:-1])))
    ends = np.flatnonzero(digit & np.concatenate((~digit[1:], [True])))
    counts = np.diff(np.searchsorted(starts, nl_pos), prepend=0)
    wrong = np.flatnonzero(counts != expected)
    if len(wrong):
        j = int(wrong[0])
        side = int(round(np.sqrt(expected)))
        raise ValueError(
            f"{_row(path, row0 + j)}: pixels has {counts[j]} values, expected {expected} "
            f"({side}x{side} grayscale)"
        )
    values = _number_values(buf, starts, ends)
    too_big = values > 255
    if too_big.any():
        t = int(np.argmax(too_big))
        j = int(np.searchsorted(nl_pos, starts[t]))
        text = buf[starts[t]:ends[t] + 1].tobytes().decode()
        raise ValueError(f"{_row(path, row0 + j)}: pixel value {text} is outside 0-255")
    return values.astype(np.uint8).reshape(len(part), expected)


def _check_pixel_text(part, buf, digit, nl_pos, path, row0):
    """``ValueError`` naming the row of a line break or of a character that is neither a
    digit nor white space."""
    if len(nl_pos) != len(part):  # a newline inside a pixel string
        j = next((j for j, s in enumerate(part) if "\n" in s), None)
        if j is not None:
            raise ValueError(f"{_row(path, row0 + j)}: pixels contains a line break")
    valid = digit | (buf == 10) | (buf == 32)
    if not valid.all():
        valid |= (buf == 9) | (buf == 13)
        if not valid.all():
            j = int(np.searchsorted(nl_pos, int(np.argmax(~valid))))
            token = next((t for t in re.split(r"\s+", part[j].strip()) if not t.isdigit()), "?")
            raise ValueError(
                f"{_row(path, row0 + j)}: pixels must be integers 0-255 separated by spaces, "
                f"found {token!r}"
            )


def _number_values(buf, starts, ends) -> np.ndarray:
    """The numbers written in ``buf[starts[k]:ends[k] + 1]``: vectorised for 1-3 digits (the
    usual case), else one by one (capped at 256: beyond 255 only "too big" matters)."""
    lengths = ends - starts + 1
    if lengths.max(initial=0) > 3:
        return np.array([min(int(buf[a:b + 1].tobytes()), 256) for a, b in zip(starts, ends)], dtype=np.int64)
    digits = buf - np.uint8(48)
    values = digits[ends].astype(np.int16)
    values += 10 * digits[ends - 1].astype(np.int16) * (lengths >= 2)
    values += 100 * digits[ends - 2].astype(np.int16) * (lengths >= 3)
    return values


def _parse_pixels(strings, path, expected=_FER_SIZE * _FER_SIZE, chunk=1024) -> np.ndarray:
    """Parse FER2013 pixel strings ("70 80 82 ...") into ``(n, expected)`` uint8,
    vectorised over the bytes of ``chunk`` rows at a time (in threads; numpy runs
    without the GIL). Errors name the row (0-based data row)."""
    # Kept rather than a library parser: faster, and it names the bad row (docs/library.md, design notes).
    n = len(strings)
    out = np.empty((n, expected), dtype=np.uint8)
    strings = ["" if not isinstance(s, str) else s for s in strings]

    def work(lo):
        out[lo:lo + chunk] = _parse_pixel_chunk(strings[lo:lo + chunk], path, lo, expected)

    _for_each(work, range(0, n, chunk), min(4, os.cpu_count() or 1) if n > chunk else 1)
    return out


def _parse_fer_emotions(values, path) -> np.ndarray:
    num = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(num) | (num != np.round(num))  # inf, -inf: int() of them raises OverflowError
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{_row(path, i)}: emotion {values[i]!r} is not an integer 0-6")
    out_of_range = (num < 0) | (num > len(EMOTIONS) - 1)
    if out_of_range.any():
        i = int(np.argmax(out_of_range))
        raise ValueError(
            f"{_row(path, i)}: emotion {int(num[i])} is outside 0-6 "
            f"(FER2013 order: {', '.join(f'{k}={e}' for k, e in enumerate(EMOTIONS))})"
        )
    return num.astype(np.int64)


def _read_fer_file(path, require_emotion=True):
    """``(emotion int array or None, images (n,48,48) uint8, (usage, split names) or None)``."""
    try:
        df = _read_csv(path, "FER2013 CSV", ["emotion", "pixels"] if require_emotion else ["pixels"],
                       dtype=str, keep_default_na=False)
    except ValueError as exc:
        if "'emotion'" in str(exc) and Path(path).name == "test.csv":
            raise ValueError(f"{exc}; Kaggle's challenge test.csv is unlabelled: use train.csv, "
                             "fer2013.csv or icml_face_data.csv") from None
        raise
    if len(df) == 0:
        raise ValueError(f"FER2013 CSV '{path}' has no rows (only a header)")
    emotion_col = next((c for c in df.columns if c.lower() == "emotion"), None)
    usage_col = next((c for c in df.columns if c.lower() == "usage"), None)
    emotions = None if emotion_col is None else _parse_fer_emotions(df[emotion_col].to_numpy(), path)
    pixels = _parse_pixels(df["pixels"].tolist(), path).reshape(-1, _FER_SIZE, _FER_SIZE)
    usage = None
    if usage_col is not None:
        usage = df[usage_col].to_numpy(dtype=object)
        usage = (usage, _csv_splits(usage, path, "Usage", expected="Training, PublicTest or PrivateTest"))
    return emotions, pixels, usage


def _resolve_fer_path(path):
    """``(CSV, labelled test.csv beside a train.csv or None)`` for a CSV or a folder holding one."""
    if path.is_file():
        return path, None
    for name in _FER_CSV_CANDIDATES:
        candidate = path / name
        if candidate.is_file():
            test = candidate.parent / "test.csv" if name == "train.csv" else None
            return candidate, test if test is not None and test.is_file() else None
    raise FileNotFoundError(
        f"no FER2013 CSV in '{path}' (looked for {', '.join(_FER_CSV_CANDIDATES)}); for the "
        "train/ and test/ image-folder mirror use load_class_folders() or load_dataset().\n\n"
        + _fer2013_instructions()
    )


def _load_fer2013_csv(path, classes=None, image_size=48, channels=1,
                     val_fraction=0.1, test_fraction=0.1, seed=0) -> EmotionDataset:
    """Load FER2013 from its CSV (``emotion,pixels[,Usage]``; 48x48 grayscale).

    ``path`` is the CSV or a directory holding ``fer2013.csv``, ``icml_face_data.csv``
    or the challenge's ``train.csv`` (+ a labelled ``test.csv``, if any). Splits come
    from ``Usage`` (``Training`` -> train, ``PublicTest`` -> val, ``PrivateTest`` ->
    test); without it, stratified random splits of ``val_fraction``/``test_fraction``
    (with a labelled ``test.csv``, that is the test split and val is carved from train).
    ``classes=None`` keeps all seven FER2013 classes (labels = FER2013 indices).
    """
    _check_args(image_size, channels, val_fraction, test_fraction)
    path = _check_path(path, "FER2013 CSV", _fer2013_instructions())
    csv_path, test_path = _resolve_fer_path(path)
    emotions, images, usage = _read_fer_file(csv_path)
    sources = [f"{csv_path.name}:row {i}" for i in range(len(emotions))]
    test = None if usage is not None or test_path is None else _read_fer_file(test_path, require_emotion=False)
    if test is not None and test[0] is None:  # Kaggle's unlabelled test.csv: ignore it
        test = test_path = None
    if usage is not None:
        split_names, method = usage[1], "usage column"
    elif test is not None:  # a labelled test.csv is the test split; val is carved from train
        split_names = np.concatenate([_stratified_splits(emotions, val_fraction, 0.0, seed),
                                      np.full(len(test[0]), "test", dtype=object)])
        emotions, images = np.concatenate([emotions, test[0]]), np.concatenate([images, test[1]])
        sources += [f"{test_path.name}:row {i}" for i in range(len(test[0]))]
        method = "test.csv + stratified val"
    else:
        split_names, method = _stratified_splits(emotions, val_fraction, test_fraction, seed), "stratified random"

    all_names = np.array(EMOTIONS, dtype=object)[emotions]
    class_names = EMOTIONS if classes is None else _class_order(set(all_names), classes, csv_path)
    labels = _labels_for(all_names, class_names)
    meta = pd.DataFrame({"label": labels, "emotion": all_names, "source": sources, "orig_label": emotions,
                         "orig_width": _FER_SIZE, "orig_height": _FER_SIZE, "orig_mode": "L"})
    if usage is not None:
        meta["usage"] = usage[0]
    idx = np.flatnonzero(labels >= 0)
    images = images[idx][..., None]
    if image_size != _FER_SIZE or channels != 1:
        images = _convert_images(images, image_size, channels)
    info = {"format": "fer2013_csv", "path": str(csv_path) if test_path is None else [str(csv_path), str(test_path)],
            "split_method": method, "image_size": image_size, "channels": channels, "seed": seed,
            "dropped": int(len(labels) - len(idx))}
    if usage is None:
        info.update(val_fraction=val_fraction, test_fraction=test_fraction)
    return _build_dataset(images, labels[idx], _order_meta(meta.iloc[idx]), split_names[idx],
                          class_names, "fer2013", info)
