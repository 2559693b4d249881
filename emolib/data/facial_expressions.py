"""Real photographs in the layout of the public GitHub repository
``muxspace/facial_expressions``: ``images/*.jpg`` plus ``data/legend.csv`` (columns
``user.id,image,emotion``, labels in mixed case such as ``happiness`` and ``HAPPINESS``),
read by :func:`_load_facial_expressions` from a local copy, or downloaded once
(:func:`_download_facial_expressions`).

No real photo and no person's name is ever printed by this module (errors name the
legend row and the file, which the user has on disk anyway).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .. import net
from ..fileio import _temp_dir_beside
from .base import EMOTIONS, EmotionDataset, resolve_classes
from .images import _read_images
from .real import (_build_dataset, _check_args, _check_path, _emotion, _identity_from_names, _labels_for, _line,
                   _read_csv, _row)
from .splits import _group_splits

__all__ = ["is_facial_expressions_dir", "manual_steps"]

_REPOSITORY = "https://github.com/muxspace/facial_expressions"
#: The repository's archive (the default branch, as GitHub zips it).
_ARCHIVE_URL = f"{_REPOSITORY}/archive/refs/heads/master.zip"
#: Where a downloaded copy goes, and where one is looked for (relative to the working
#: directory or one of its parents).
_LOCAL_DIR = Path("data") / "facial_expressions"
_LEGEND = Path("data") / "legend.csv"
#: An environment variable naming a local copy (CI: ``../shared/facial-expressions``).
_ENV_VAR = "EMOLIB_FACIAL_EXPRESSIONS"
_IMAGES = "images"
_CONTEMPT_POLICIES = ("drop", "disgust")
#: The person in a file stem (``Person_A_0003`` -> ``Person_A``); a stem without it is its own person.
_PERSON = re.compile(r"^(.+)_\d+$")


def manual_steps(target=None) -> str:
    """What to do by hand when the download is not possible.

    Parameters
    ----------
    target : str or pathlib.Path, optional
        Where the photos should go (default: the project's ``data/facial_expressions``).

    Returns
    -------
    str
        The steps, one per line.
    """
    target = Path(target) if target is not None else _LOCAL_DIR
    return (
        "Get the facial_expressions photos by hand (about 13,700 labelled images), either\n"
        f"  git clone --depth 1 {_REPOSITORY}.git {target.as_posix()}\n"
        "or download and unpack the archive\n"
        f"  {_ARCHIVE_URL}\n"
        f"so that '{(target / _LEGEND).as_posix()}' and '{(target / _IMAGES).as_posix()}/' exist\n"
        "(in the project root or the folder you run from), then load it with\n"
        "  emolib.data.load_dataset('facial_expressions')  or  load_dataset('path/to/facial_expressions')."
    )


def is_facial_expressions_dir(path) -> bool:
    """Whether a folder has the layout of muxspace/facial_expressions.

    Parameters
    ----------
    path : str or pathlib.Path
        A folder.

    Returns
    -------
    bool
        True when it holds ``data/legend.csv`` and ``images/``.
    """
    path = Path(path)
    return (path / _LEGEND).is_file() and (path / _IMAGES).is_dir()


def _find_facial_expressions(start=None):
    """A local copy: the folder named by the environment variable :data:`_ENV_VAR` (when set),
    else ``data/facial_expressions`` in ``start`` (default: the working directory) or one of
    its parents, when it has the layout; else ``None``."""
    named = os.environ.get(_ENV_VAR, "").strip()
    if named:
        if not is_facial_expressions_dir(Path(named).expanduser()):
            raise FileNotFoundError(f"${_ENV_VAR} is '{named}', which has no data/legend.csv and images/")
        return Path(named).expanduser()
    start = Path.cwd() if start is None else Path(start)
    for base in (start, *start.resolve().parents):
        if is_facial_expressions_dir(base / _LOCAL_DIR):
            return base / _LOCAL_DIR
    return None


def _read_legend(root) -> pd.DataFrame:
    """``data/legend.csv`` of a copy at ``root`` as a DataFrame with the columns
    ``image``, ``orig_label``, ``annotator`` and ``row`` (data rows from 0; errors give
    the physical line too: ``N + 2`` unless blank lines come before). ``ValueError``
    naming the file for a missing column or empty cell."""
    path = Path(root) / _LEGEND
    if not path.is_file():
        raise FileNotFoundError(f"legend not found: '{path}'\n\n{manual_steps(root)}")
    df = _read_csv(path, "legend", ["image", "emotion"], ["image", "emotion"], dtype=str, keep_default_na=False)
    annotator = next((c for c in df.columns if c.lower() == "user.id"), None)
    return pd.DataFrame({
        "image": df["image"].str.strip(),
        "orig_label": df["emotion"].str.strip(),
        "annotator": df[annotator].str.strip() if annotator else "",
        "row": np.arange(len(df), dtype=np.int64),
    })


def _normalise(legend, path, contempt):
    """Canonical emotion per row (``None`` for a dropped contempt row)."""
    contempt_as = None if contempt == "drop" else "disgust"
    return np.array([contempt_as if label.lower() == "contempt" else
                     _emotion(label, f"legend {_row(path, i)}", also=", contempt")
                     for i, label in zip(legend["row"], legend["orig_label"])], dtype=object)


def _balance_test(labels, split_names, balanced_test, num_classes, seed):
    """Rows of the test split to drop so that the classes are balanced (or capped)."""
    test = np.flatnonzero(split_names == "test")
    counts = np.bincount(labels[test], minlength=num_classes)
    if balanced_test is True:
        present = counts[counts > 0]
        cap = int(present.min()) if len(present) else 0
    else:
        cap = int(balanced_test)
        if cap < 1:
            raise ValueError(f"balanced_test must be True, False or a positive count, got {balanced_test!r}")
    rng = np.random.default_rng(seed)
    drop = []
    for c in range(num_classes):
        idx = test[labels[test] == c]
        if len(idx) > cap:
            drop.extend(rng.choice(idx, len(idx) - cap, replace=False))
    return np.sort(np.array(drop, dtype=np.int64)), cap


def _load_facial_expressions(path=None, classes=None, image_size=48, channels=1, val_fraction=0.15,
                            test_fraction=0.15, balanced_test=False, contempt="drop", seed=0,
                            download=True) -> EmotionDataset:
    """Load the ``muxspace/facial_expressions`` photos, labels normalised, in splits that keep
    every person (the file stem without its trailing ``_<digits>``, ``meta["identity"]``) in
    one split, classes stratified (:func:`~emolib.data.splits._group_splits`).

    Parameters
    ----------
    path : str or Path, optional
        A folder with ``data/legend.csv`` and ``images/``. Default: ``$EMOLIB_FACIAL_EXPRESSIONS``,
        else ``data/facial_expressions`` in the working directory or a parent, else (when
        ``download``) :func:`_download_facial_expressions` there.
    classes : str or list, optional
        A preset (``"seed003"``) or labels: which classes, in which order (default: the
        FER2013 emotions present). Rows of other classes are dropped (``info["dropped"]``).
    image_size, channels : int
        Every image becomes ``(image_size, image_size, channels)`` ``uint8`` (1 gray, 3 RGB).
    val_fraction, test_fraction : float
        Approximate fractions of the images (whole persons) in val and test.
    balanced_test : bool or int
        The set is ~97% happy/neutral, which makes plain test accuracy meaningless. ``True``
        keeps, per class, as many test images as the rarest class has; ``k`` caps every class
        at ``k``. The test images left out are dropped, not moved to train (their persons must
        stay out of it): ``info["test_dropped_for_balance"]``.
    contempt : {"drop", "disgust"}
        Contempt is not one of FER2013's emotions: its rows are left out, or relabelled as
        disgust (as some FER2013-style mappings do). ``info["contempt_rows"]`` counts them
        (4 of 7,617 in the shared copy).
    seed : int
        Seed of the split (and of the test balancing).

    Returns
    -------
    EmotionDataset
        ``meta`` columns ``label``, ``emotion``, ``source``, ``split``, ``identity``,
        ``orig_label``, ``annotator``, ``row``, ``orig_width``, ``orig_height``, ``orig_mode``.
    """
    if contempt not in _CONTEMPT_POLICIES:
        raise ValueError(f"contempt must be one of {_CONTEMPT_POLICIES}, got {contempt!r}")
    _check_args(image_size, channels, val_fraction, test_fraction)
    root = _locate(path, download)
    legend_path = root / _LEGEND
    legend = _read_legend(root)
    emotions = _normalise(legend, legend_path, contempt)
    n_contempt = int((legend["orig_label"].str.lower() == "contempt").sum())
    present = {e for e in emotions if e is not None}
    class_names = resolve_classes(classes) if classes is not None else tuple(e for e in EMOTIONS if e in present)
    labels_all = _labels_for(emotions, class_names)
    keep = np.flatnonzero(labels_all >= 0)
    if not len(keep):
        raise ValueError(f"no images of classes {list(class_names)} in '{legend_path}'")
    legend, labels = legend.iloc[keep].reset_index(drop=True), labels_all[keep]
    identity = _identity_from_names(legend["image"], _PERSON.pattern)[0]

    split_names = _group_splits(labels, identity, val_fraction, test_fraction, seed)
    test_dropped, cap = np.array([], dtype=np.int64), None
    if balanced_test:
        test_dropped, cap = _balance_test(labels, split_names, balanced_test, len(class_names), seed)
    kept = np.setdiff1d(np.arange(len(labels)), test_dropped)
    legend, labels, identity, split_names = legend.iloc[kept], labels[kept], identity[kept], split_names[kept]

    paths = [root / _IMAGES / name for name in legend["image"]]
    rows = legend["row"].to_numpy()
    where = [f"legend '{legend_path}' row {r}, line {_line(legend_path, r)}" for r in rows]
    images, orig = _read_images(paths, image_size, channels, where)
    meta = pd.DataFrame({"label": labels, "emotion": [class_names[i] for i in labels],
                         "source": [str(p) for p in paths], "split": split_names, "identity": identity,
                         "orig_label": legend["orig_label"].to_numpy(), "annotator": legend["annotator"].to_numpy(),
                         "row": rows})
    info = {"format": "facial_expressions", "path": str(root), "rows": int(len(labels_all)),
            "contempt_policy": contempt, "contempt_rows": n_contempt, "dropped": int(len(labels_all) - len(keep)),
            "identities": int(len(set(identity))),
            "split_method": "person-disjoint (StratifiedGroupKFold on the person from the file name)",
            "val_fraction": val_fraction, "test_fraction": test_fraction, "balanced_test": balanced_test,
            "test_per_class_cap": cap, "test_dropped_for_balance": int(len(test_dropped)),
            "image_size": int(image_size), "channels": channels, "seed": seed}
    return _build_dataset(images, labels, pd.concat([meta, orig], axis=1), split_names, class_names,
                          "facial_expressions", info)


def _locate(path, download) -> Path:
    """The copy to read: ``path`` (checked), else a local copy, else a download (when allowed)."""
    if path is not None:
        root = _check_path(path, "facial_expressions copy", manual_steps(Path(path).expanduser()))
        if not is_facial_expressions_dir(root):
            raise ValueError(f"'{root}' is not a facial_expressions copy: it needs data/legend.csv and images/")
        return root
    root = _find_facial_expressions()
    if root is not None:
        return root
    if not download:
        raise FileNotFoundError(
            f"no '{_LOCAL_DIR.as_posix()}' with data/legend.csv and images/ in '{Path.cwd()}' "
            f"or its parents.\n\n{manual_steps()}")
    return _download_facial_expressions()


# --------------------------------------------------------------------------- download


def _verify_archive(zip_path):
    """``ValueError`` unless the archive holds a legend and every image it names, readable."""
    from PIL import Image

    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"the downloaded file is not a zip archive: {exc}") from None
    with archive:
        names = archive.namelist()
        legends = [n for n in names if n.endswith("data/legend.csv")]
        if not legends:
            raise ValueError("the downloaded archive has no data/legend.csv")
        prefix = legends[0][: -len("data/legend.csv")]
        with archive.open(legends[0]) as f:
            rows = list(csv.DictReader(line.decode("utf-8", "replace") for line in f))
        members = set(names)
        for i, row in enumerate(rows):
            image = (row.get("image") or "").strip()
            member = f"{prefix}{_IMAGES}/{image}"
            if member not in members:
                raise ValueError(f"the downloaded archive lacks {member!r}, named in legend row {i}")
            try:
                with archive.open(member) as f, Image.open(f) as im:
                    im.load()
            except Exception as exc:  # noqa: BLE001 - any decoder failure means a bad archive
                raise ValueError(f"the downloaded archive's {member!r} (legend row {i}) is not readable: {exc}") from None
    return prefix


def _download_facial_expressions(target=None, url=_ARCHIVE_URL, connect_timeout=5.0, read_timeout=30.0,
                                progress=True) -> Path:
    """Download the repository's archive once and unpack it to ``target``
    (default: ``data/facial_expressions`` in the working directory).

    The archive is written under a temporary name, verified (a legend, and every image
    it names present and readable), renamed, unpacked into a hidden folder beside
    ``target`` and only then renamed to ``target``; the archive is deleted afterwards.
    Offline this fails within ``connect_timeout`` seconds with :func:`manual_steps`.
    Returns ``target``.
    """
    target = Path(target) if target is not None else Path.cwd() / _LOCAL_DIR
    if is_facial_expressions_dir(target):
        return target
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"'{target}' exists but is not a facial_expressions copy; move it away first")
    steps = manual_steps(target)
    zip_path = target.with_name(target.name + ".zip")
    prefix = {}

    def verify(tmp):
        try:
            prefix["value"] = _verify_archive(tmp)
        except ValueError as exc:
            raise net.NetworkError(f"download of {url} is not a usable archive: {exc}\n\n{steps}") from None

    net._download(url, zip_path, connect_timeout=connect_timeout, read_timeout=read_timeout,
                  verify=verify, manual_steps=steps, progress=progress)
    tmp_dir = _temp_dir_beside(target, "unpack")
    try:
        if progress:
            print(f"Unpacking {zip_path.name} to {target}", file=sys.stderr)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp_dir)
        inner = tmp_dir / prefix["value"] if prefix["value"] else tmp_dir
        if target.exists():
            target.rmdir()  # empty (checked above)
        os.replace(inner, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    zip_path.unlink(missing_ok=True)
    return target
