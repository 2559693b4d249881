"""Loaders for real face-expression data, and :func:`write_class_folders`, which exports
any data set as a class-folder tree that :func:`load_class_folders` reads back. Nothing
here downloads. The FER2013 CSV loader is in :mod:`emolib.data.fer2013`, image reading in
:mod:`emolib.data.images`, the splitters in :mod:`emolib.data.splits`.

Every loader returns an :class:`~emolib.data.base.EmotionDataset` with the splits
``train``, ``val`` and ``test``, and follows these conventions:

* labels are normalised (:func:`~emolib.data.base.normalize_label`: ``happiness`` ->
  ``happy``); an unknown label is a ``ValueError`` naming it and its row, file or folder;
* ``classes`` (a preset such as ``"seed003"`` or a list) selects and orders the classes
  (label ``i`` is ``classes[i]``; ``info["dropped"]`` counts the images of other
  classes). With ``classes=None``: FER2013's seven classes for its CSV, the saved order
  for a folder written by :func:`write_class_folders`, else the emotions present in
  FER2013 order (:data:`~emolib.data.base.EMOTIONS`);
* every image (any size and mode: L, RGB, RGBA, P, I;16, CMYK, ...) becomes
  ``image_size x image_size`` with ``channels`` 1 (ITU-R 601 luma) or 3 (RGB):
  stretched like Keras' directory loader, alpha dropped, 16 bits scaled to 8, EXIF
  orientation applied;
* ``meta`` has the columns ``label``, ``emotion``, ``source`` (file path or
  ``file.csv:row N``), ``split``, ``orig_label`` (as written in the source),
  ``orig_width``, ``orig_height``, ``orig_mode`` and, where known, ``identity``. Row
  ``N`` counts data rows from 0; errors give it with the physical line it starts on
  (``N + 2`` after a one-line header, more after blank lines or quoted line breaks);
* random splits are stratified by class, and group-disjoint when persons are known
  (:mod:`emolib.data.splits`).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..fileio import _jsonable, _temp_dir_beside
from .base import EMOTIONS, SPLITS, EmotionDataset, Split, normalize_label, resolve_classes
from .images import ImageReadError, _read_images  # noqa: F401 (ImageReadError: raised through here)
from .splits import _group_splits, _stratified_splits

__all__ = ["load_class_folders", "load_labels_csv", "write_class_folders"]

#: File extensions read as images in class folders (case-insensitive).
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm")

#: Image files that class folders skip, as Keras' directory loader does (emolib does not
#: decode them), counted in ``info["dropped"]``; convert them to PNG or JPEG to use them.
_SKIPPED_EXTENSIONS = (".jfif", ".heic", ".heif", ".avif")

#: FER2013's ``Usage`` values (and other split spellings) -> emolib split names.
_SPLIT_SYNONYMS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "publictest": "val", "test": "test", "testing": "test", "privatetest": "test"}

_METADATA_FILE = "metadata.csv"
_DATASET_JSON = "dataset.json"
_README = "README.txt"


# --------------------------------------------------------------------------- shared by the loaders


def _check_path(path, what="file or directory", hint="") -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: '{path}'" + (f"\n\n{hint}" if hint else ""))
    return path


def _check_args(image_size, channels, val_fraction, test_fraction):
    """``ValueError`` naming the argument: a bad ``channels``, ``image_size`` or split fraction."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {image_size!r}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}")


def _file_key(path) -> str:
    """What identifies a file whatever it is called: device and inode when it exists (an
    absolute path, ``./a.png``, a symbolic or hard link to it: one key), else its path."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # missing (reported by read_images, naming it) or an impossible name
        return os.path.normpath(path)
    return f"{st.st_dev}:{st.st_ino}"


def _row(where, i) -> str:
    return f"'{where}' row {i} (line {_line(where, i)})"


def _line(path, i) -> int:
    """The physical line (from 1) on which data row ``i`` (from 0) of CSV ``path`` starts:
    ``i + 2`` unless blank lines or quoted cells with line breaks come before it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return i + 2
    starts = _row_starts(str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    return starts[i] if i < len(starts) else i + 2


@functools.lru_cache(maxsize=4)
def _row_starts(path, inode, mtime_ns, size) -> tuple:
    """The line each data row of a CSV starts on, skipping blank lines as ``pd.read_csv``
    does (read once per file version: errors and ``read_images`` contexts ask row by row)."""
    starts, line = [], 0
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            for record in reader:
                if record and not (len(record) == 1 and not record[0].strip()):
                    starts.append(line + 1)
                line = reader.line_num
    except (OSError, csv.Error):  # what was read still counts; later rows fall back to i + 2
        pass
    return tuple(starts[1:])  # starts[0] is the header


def _emotion(label, where, detail="", also="") -> str:
    """:func:`normalize_label`, or a ``ValueError`` that says ``where`` the label is."""
    try:
        return normalize_label(label)
    except ValueError:
        raise ValueError(
            f"{where}: unknown emotion label {label!r}{detail} "
            f"(known: {', '.join(EMOTIONS)}{also} and synonyms such as happiness, sadness, anger)"
        ) from None


def _class_order(present, classes, where, saved_order=None) -> tuple:
    """``classes`` when given (each must have images in ``where``), else ``saved_order`` when
    it covers everything present, else the present emotions in FER2013 order."""
    present = set(present)
    if classes is not None:
        names = resolve_classes(classes)
        absent = [c for c in names if c not in present]
        if absent:
            raise ValueError(
                f"requested classes {absent} have no images in '{where}' (it has: "
                f"{', '.join(e for e in EMOTIONS if e in present) or 'none'})"
            )
        return names
    if saved_order is not None and present <= {normalize_label(c) for c in saved_order}:
        return tuple(normalize_label(c) for c in saved_order)
    return tuple(e for e in EMOTIONS if e in present)


def _labels_for(emotions, class_names):
    """Integer labels for canonical ``emotions`` (-1 where not in ``class_names``)."""
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index.get(e, -1) for e in emotions], dtype=np.int64)


def _build_dataset(images, labels, meta, split_names, class_names, name, info) -> EmotionDataset:
    split_names = np.asarray(split_names, dtype=object)
    meta = meta.reset_index(drop=True).assign(split=split_names)
    index = {key: np.flatnonzero(split_names == key) for key in SPLITS}
    return EmotionDataset({key: Split(images[i], labels[i], meta.iloc[i]) for key, i in index.items()},
                          class_names, name, info)


def _order_meta(meta: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in ("label", "emotion", "source", "split", "identity") if c in meta.columns]
    return meta[first + [c for c in meta.columns if c not in first]]


def _read_csv(path, what, required=(), nonempty=(), **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` with stripped column names, the ``required`` ones (matched ignoring
    case, renamed to their spelling) and no blank cell in the ``nonempty`` ones; errors
    name the file and the column or row."""
    try:
        df = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{what} '{path}' is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} '{path}' is not a readable CSV: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    lower = {c.lower(): c for c in df.columns}
    missing = [col for col in required if col.lower() not in lower and col not in df.columns]
    if missing:
        raise ValueError(f"{what} '{path}' has no column {missing[0]!r} (columns found: {list(df.columns)})")
    df = df.rename(columns={lower[c.lower()]: c for c in required if c not in df.columns})
    for col in nonempty:
        blank = np.flatnonzero(df[col].str.strip().to_numpy() == "")
        if len(blank):
            raise ValueError(f"{what} {_row(path, int(blank[0]))}: empty {col!r}")
    return df


def _csv_splits(values, csv_path, what, detail="", expected="train/val/test or Training/PublicTest/PrivateTest"):
    """emolib split name per row of a split column (:data:`_SPLIT_SYNONYMS`); ``ValueError``
    naming the first row with an unknown one."""
    out = np.array([_SPLIT_SYNONYMS.get(str(value).strip().lower()) for value in values], dtype=object)
    unknown = [i for i, key in enumerate(out) if key is None]
    if unknown:
        i = unknown[0]
        raise ValueError(f"{_row(csv_path, i)}: unknown {what} {values[i]!r}{detail} (expected {expected})")
    return out


# --------------------------------------------------------------------------- class folders


def _image_files(folder: Path):
    """``(image files, how many were skipped)`` in ``folder`` and its subfolders (as Keras'
    directory loader reads a class folder), sorted by relative path, hidden ones skipped;
    the skipped count is of :data:`_SKIPPED_EXTENSIONS` files. Not ``is_file()``: a named
    pipe with an image's name is reported by ``read_image`` (it would block), not skipped."""
    found, skipped = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            suffix = Path(f).suffix.lower()
            if f.startswith(".") or suffix not in _IMAGE_EXTENSIONS + _SKIPPED_EXTENSIONS \
                    or (Path(dirpath) / f).is_dir():
                continue
            if suffix in _SKIPPED_EXTENSIONS:
                skipped += 1
            else:
                found.append(Path(dirpath) / f)
    return sorted(found, key=lambda f: f.relative_to(folder).parts), skipped


def _subdirs(path: Path):
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _scan_class_dirs(split_dir: Path, classes_wanted):
    """``[(file path, canonical emotion, folder name)]`` for the class folders in ``split_dir``."""
    entries = []
    class_dirs = _subdirs(split_dir)
    if not class_dirs:
        raise ValueError(f"no class folders in '{split_dir}' (expected {split_dir}/<emotion>/<images>)")
    for d in class_dirs:
        emotion = _emotion(d.name, f"class folder '{d}'")
        files, skipped = _image_files(d)
        if classes_wanted is not None and emotion not in classes_wanted:
            skipped, files = skipped + len(files), []
        elif not files:
            raise ValueError(f"class folder '{d}' contains no images (extensions: {', '.join(_IMAGE_EXTENSIONS)})"
                             + (f"; it has {skipped} {'/'.join(_SKIPPED_EXTENSIONS)} files, skipped as Keras "
                                "skips them: convert them to PNG or JPEG" if skipped else ""))
        entries.extend((None, emotion, d.name) for _ in range(skipped))  # counted as dropped, never decoded
        entries.extend((f, emotion, d.name) for f in files)
    return entries


def _read_saved_metadata(root: Path):
    """``(metadata.csv or None, dataset.json as a dict)`` written by :func:`write_class_folders`."""
    saved = {}
    if (root / _DATASET_JSON).is_file():
        try:
            saved = json.loads((root / _DATASET_JSON).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"could not read '{root / _DATASET_JSON}': {exc}") from None
        _check_saved(saved, root / _DATASET_JSON)
    if not (root / _METADATA_FILE).is_file():
        return None, saved
    dtypes = saved.get("meta_dtypes", {})
    text = [c for c, t in dtypes.items() if t in ("object", "str", "string")]
    df = _read_csv(root / _METADATA_FILE, "metadata CSV", dtype=dict.fromkeys([*text, "file"], str))
    if "file" not in df.columns:  # someone else's metadata.csv: not ours to merge
        warnings.warn(f"ignoring '{root / _METADATA_FILE}': it has no 'file' column (not written by "
                      "write_class_folders)", stacklevel=3)
        return None, saved
    for col, t in dtypes.items():
        if col in df.columns and col not in text:
            try:
                df[col] = df[col].astype(t)
            except (TypeError, ValueError):
                pass
    return df, saved


_SAVED_FIELDS = {"name": (str, "a string"), "class_names": (list, "a list of emotion names"),
                 "info": (dict, "a JSON object"), "meta_dtypes": (dict, "a JSON object of column: dtype")}


def _check_saved(saved, path):
    """``ValueError`` naming ``path`` (a ``dataset.json``) and the field, when ``saved`` lacks
    the structure :func:`write_class_folders` writes (someone else's file, or a damaged one)."""
    if not isinstance(saved, dict):
        raise ValueError(f"'{path}' is not a JSON object (it holds a {type(saved).__name__}): not a "
                         "dataset.json written by write_class_folders; fix or remove it")
    for field, (kind, what) in _SAVED_FIELDS.items():
        value = saved.get(field, kind())
        if not isinstance(value, kind) or (field == "meta_dtypes" and not all(isinstance(v, str)
                                                                               for v in value.values())):
            raise ValueError(f"'{path}': field {field!r} must be {what}, got {type(value).__name__} "
                             f"{json.dumps(value)[:60]}")
    for label in saved.get("class_names", ()):
        _emotion(label, f"'{path}' field 'class_names'")


def load_class_folders(root, classes=None, image_size=48, channels=1,
                       val_fraction=0.1, test_fraction=0.1, seed=0) -> EmotionDataset:
    """Load images from class folders, in one of two layouts.

    * ``root/train/<class>/*``, ``root/test/<class>/*`` and optionally ``root/val/<class>/*``
      (also ``training``, ``validation``, ``valid``, ``testing``, ``PublicTest``,
      ``PrivateTest``): the FER2013 folder mirror. A missing val (or test) split is
      carved from train, stratified: ``val_fraction`` (``test_fraction``) of it.
    * ``root/<class>/*``: a plain tree (as ``keras.utils.image_dataset_from_directory``
      reads it), split stratified by ``val_fraction`` and ``test_fraction``.

    Folder names are normalised (``Happiness`` -> ``happy``); an unknown name or an empty
    class folder is a ``ValueError`` naming the folder. Images in subfolders of a class
    folder belong to that class, as Keras reads them; hidden files and folders are
    skipped, and so, by design as in Keras, are ``.jfif``, ``.heic``, ``.heif`` and
    ``.avif`` files (:data:`_SKIPPED_EXTENSIONS`), counted in ``info["dropped"]``; two
    paths that are one file (a symbolic or hard link) are a ``ValueError`` naming both.
    A ``metadata.csv`` from :func:`write_class_folders` is merged into ``meta`` by file
    (``source`` is then the saved source, ``file`` the path relative to ``root``) and rows
    keep their saved order; a ``dataset.json`` that is not the one it writes (not a JSON
    object, or a field ``name``, ``class_names``, ``info`` or ``meta_dtypes`` of another
    kind) is a ``ValueError`` naming the file and the field.

    Parameters
    ----------
    root : str or pathlib.Path
        The top folder.
    classes : str or list of str, optional
        Keep these classes (a preset such as ``"seed003"``, or names); default all found.
    image_size : int, default 48
        Images are resized to ``(image_size, image_size)``.
    channels : {1, 3}, default 1
        Grayscale or RGB.
    val_fraction, test_fraction : float, default 0.1
        Shares carved from train when a split is missing (or of a plain tree).
    seed : int, default 0
        Seed of the random splits.

    Returns
    -------
    EmotionDataset
        Splits ``train``, ``val``, ``test`` with images ``(n, image_size, image_size, channels)``
        uint8.
    """
    _check_args(image_size, channels, val_fraction, test_fraction)
    root = _check_path(root, "class-folder directory")
    if not root.is_dir():
        raise NotADirectoryError(f"not a directory: '{root}' (expected a class-folder tree)")
    entries, split_dirs = _scan_tree(root, None if classes is None else set(resolve_classes(classes)))
    saved_meta, saved = _read_saved_metadata(root)
    class_names = _class_order({e[1] for e in entries}, classes, root, saved.get("class_names"))
    dropped = sum(1 for e in entries if e[0] is None or e[1] not in class_names)
    entries = [e for e in entries if e[0] is not None and e[1] in class_names]
    if not entries:
        raise ValueError(f"no images of classes {list(class_names)} in '{root}'")

    files, emotions, folders, split_names = (list(column) for column in zip(*entries))
    _check_linked_files(files, root)
    images, orig = _read_images(files, image_size, channels)
    labels = _labels_for(emotions, class_names)
    meta = pd.concat([pd.DataFrame({"label": labels, "emotion": emotions, "source": [str(f) for f in files],
                                    "orig_label": folders,
                                    "file": [f.relative_to(root).as_posix() for f in files]}), orig], axis=1)
    split_names, method = _folder_splits(labels, np.array(split_names, dtype=object), split_dirs, saved,
                                         val_fraction, test_fraction, seed)
    meta, order = _merge_saved_meta(meta, saved_meta, split_names)
    info = {**saved.get("info", {}), "format": "class_folders", "path": str(root),
            "layout": "split folders" if split_dirs else "class folders", "split_method": method,
            "image_size": image_size, "channels": channels, "seed": seed, "dropped": dropped}
    return _build_dataset(images[order], labels[order], _order_meta(meta.iloc[order]),
                          split_names[order], class_names, saved.get("name", root.name), info)


def _check_linked_files(files, root):
    """``ValueError`` naming two paths in the tree that are one file (a symbolic or hard link):
    read twice, it could land in train and test, or in two classes."""
    seen = {}
    for f in files:
        first = seen.setdefault(_file_key(f), f)
        if first is not f:
            raise ValueError(f"class-folder tree '{root}': '{f}' is the same file as '{first}' (a symbolic or "
                             "hard link); one image could land in train and test, or in two classes: remove one")


def _scan_tree(root: Path, wanted):
    """``([(file, emotion, folder name, split or None)], {split: [split folders]})`` of a
    tree of split folders (``train/<class>/``, ...) or of class folders (``<class>/``)."""
    top = _subdirs(root)
    split_dirs = {}
    for d in top:
        if d.name.lower() in _SPLIT_SYNONYMS:
            split_dirs.setdefault(_SPLIT_SYNONYMS[d.name.lower()], []).append(d)
    if not split_dirs:
        if not top:
            raise ValueError(
                f"no class folders in '{root}' (expected {root}/<emotion>/<images> or "
                f"{root}/train/<emotion>/<images>)"
            )
        return [(*e, None) for e in _scan_class_dirs(root, wanted)], split_dirs
    others = [d.name for d in top if d.name.lower() not in _SPLIT_SYNONYMS]
    if others:
        warnings.warn(f"'{root}': ignoring folders {others} next to the split folders", stacklevel=3)
    if "train" not in split_dirs:
        raise ValueError(f"'{root}' has split folders {sorted(split_dirs)} but no 'train' folder")
    entries = [(*e, key) for key in SPLITS for d in split_dirs.get(key, []) for e in _scan_class_dirs(d, wanted)]
    return entries, split_dirs


def _folder_splits(labels, split_names, split_dirs, saved, val_fraction, test_fraction, seed):
    """Split name per image and how it was made: stratified random for a plain tree; the split
    folders otherwise, a missing val or test split carved from train (stratified), except in
    a :func:`write_class_folders` export (``saved``), where a split without a folder was empty."""
    if not split_dirs:
        return _stratified_splits(labels, val_fraction, test_fraction, seed), "stratified random"
    missing = [s for s in ("val", "test") if s not in split_dirs]
    if not missing:
        return split_names, "folders"
    if saved:
        return split_names, f"folders (written by write_class_folders; {' and '.join(missing)} empty)"
    train = np.flatnonzero(split_names == "train")
    split_names[train] = _stratified_splits(labels[train], val_fraction if "val" in missing else 0.0,
                                           test_fraction if "test" in missing else 0.0, seed)
    return split_names, f"folders; {' and '.join(missing)} carved from train (stratified)"


def _merge_saved_meta(meta, saved_meta, split_names):
    """``meta`` with the columns of a saved ``metadata.csv`` merged in by ``file`` (saved
    values win), and the row order: the saved order within each split when it is known."""
    order = np.arange(len(meta))
    if saved_meta is None:
        return meta, order
    extra = saved_meta.drop(columns=[c for c in ("label", "emotion", "split") if c in saved_meta.columns])
    merged = meta[["file"]].merge(extra.drop_duplicates("file"), on="file", how="left")
    for col in merged.columns.drop("file"):
        if col in meta.columns:  # source, orig_label, orig_*: the saved (original) value wins
            meta[col] = merged[col].where(merged[col].notna(), meta[col]).to_numpy()
        else:
            meta[col] = merged[col].to_numpy()
    if "order" in meta.columns:
        key = pd.to_numeric(meta.pop("order"), errors="coerce")
        if key.notna().all():
            split_rank = pd.Series(split_names).map({s: i for i, s in enumerate(SPLITS)})
            order = np.lexsort((key.to_numpy(), split_rank.to_numpy()))
    return meta, order


# --------------------------------------------------------------------------- labels CSV


def load_labels_csv(csv_path, image_dir=None, image_col="image", label_col="emotion",
                    split_col=None, identity_col=None, identity_pattern=None, classes=None,
                    image_size=48, channels=1, val_fraction=0.15, test_fraction=0.15,
                    seed=0, duplicates="error") -> EmotionDataset:
    """Load images named in a CSV, e.g. ``image,emotion`` rows with the files in ``images/``.

    Splits come from ``split_col`` if given; otherwise they are random and stratified by
    class, and **identity-disjoint** (every person in one split, classes approximately
    stratified) when an identity is known (``identity_col`` or ``identity_pattern``). Other
    CSV columns are kept in ``meta``.

    Parameters
    ----------
    csv_path : str or pathlib.Path
        The CSV file.
    image_dir : str or pathlib.Path, optional
        Where the file names are relative to (default: the CSV's folder, or its ``images/``
        subfolder when the files are there). By design, a name that leads outside it (an
        absolute path, ``../x.png``) is read as given: the CSV is trusted as a list of files,
        like the paths given to ``emolib predict``.
    image_col, label_col : str, default "image", "emotion"
        The columns of file names and labels.
    split_col : str, optional
        A column of split names (train/val/test, Training/PublicTest/PrivateTest).
    identity_col : str, optional
        A column naming the person in each image.
    identity_pattern : str, optional
        A regex whose group 1, applied to the file stem, gives the person (``r"^(.*)_\d+$"``
        for ``First_Last_0003.jpg``; stems that do not match are their own person).
    classes : str or list of str, optional
        Keep these classes (a preset or names); default all found.
    image_size : int, default 48
        Images are resized to ``(image_size, image_size)``.
    channels : {1, 3}, default 1
        Grayscale or RGB.
    val_fraction, test_fraction : float, default 0.15
        Shares of the random splits.
    seed : int, default 0
        Seed of the random splits.
    duplicates : {"error", "first", "keep"}, default "error"
        What to do when several rows name the same file (with the same label, or conflicting
        ones; the same file whatever its name: ``a.png``, its absolute path, a symbolic or
        hard link to it). ``"error"``: a ``ValueError`` naming the rows, since such a file would
        otherwise land in two splits or teach two answers; ``"first"``: keep each file's first
        row (``info["duplicates_dropped"]`` counts the others); ``"keep"``: keep every row as an
        image of its own, the rows of one file in the same split when splits are random (a
        ``split_col`` is followed as written).

    Returns
    -------
    EmotionDataset
        Splits ``train``, ``val``, ``test`` with images ``(n, image_size, image_size, channels)``
        uint8.
    """
    _check_args(image_size, channels, val_fraction, test_fraction)
    if duplicates not in ("error", "first", "keep"):
        raise ValueError(f"duplicates must be 'error', 'first' or 'keep', got {duplicates!r}")
    csv_path = _check_path(csv_path, "labels CSV")
    used_columns = (image_col, label_col, split_col, identity_col)
    df = _read_csv(csv_path, "labels CSV", [c for c in used_columns if c is not None],
                   [c for c in (image_col, label_col, identity_col) if c is not None], dtype=str,
                   keep_default_na=False)
    if len(df) == 0:
        raise ValueError(f"labels CSV '{csv_path}' has no rows")
    if identity_col is not None and identity_pattern is not None:
        raise ValueError("give identity_col or identity_pattern, not both")
    names = df[image_col].str.strip().tolist()
    image_dir = _find_image_dir(csv_path, names) if image_dir is None else _check_path(image_dir, "image directory")
    emotions = [_emotion(label, _row(csv_path, i), f" for image {names[i]!r}")
                for i, label in enumerate(df[label_col])]
    split_names = None
    if split_col is not None:
        split_names = _csv_splits(df[split_col].tolist(), csv_path, "split", f" in column {split_col!r}")
    if identity_col is not None:
        identity, unmatched = df[identity_col].str.strip().to_numpy(dtype=object), 0
    else:
        identity, unmatched = _identity_from_names(names, identity_pattern)

    files = [_file_key(Path(image_dir) / n) for n in names]
    first = _check_duplicates(files, names, emotions, csv_path, duplicates)
    class_names = _class_order(set(emotions), classes, csv_path)
    labels = _labels_for(emotions, class_names)
    keep = np.flatnonzero((labels >= 0) & (first if duplicates == "first" else True))
    if not len(keep):
        raise ValueError(f"no images of classes {list(class_names)} in '{csv_path}'")
    paths = [Path(image_dir) / names[i] for i in keep]
    images, orig = _read_images(paths, image_size, channels, [_row(csv_path, i) for i in keep])
    labels = labels[keep]
    meta = _csv_meta(df, keep, labels, emotions, paths, identity, orig, used_columns)

    if split_names is not None:
        split_names, method = split_names[keep], f"column {split_col!r}"
    else:
        split_names, method = _random_splits(labels, identity, np.asarray(files, dtype=object), first, keep,
                                             val_fraction, test_fraction, seed)
    info = {"format": "labels_csv", "path": str(csv_path), "image_dir": str(image_dir), "split_method": method,
            "image_size": image_size, "channels": channels, "seed": seed, "dropped": int(len(df) - len(keep))}
    if not first.all():
        info["duplicates"] = duplicates
        info["duplicates_dropped" if duplicates == "first" else "duplicate_rows"] = int((~first).sum())
    if split_col is None:
        info.update(val_fraction=val_fraction, test_fraction=test_fraction)
    if identity is not None:
        info["identities"] = int(len(set(identity[keep])))
        if identity_pattern is not None:
            info.update(identity_pattern=identity_pattern, identity_unmatched=unmatched)
    return _build_dataset(images, labels, _order_meta(meta), split_names, class_names,
                          csv_path.stem if csv_path.stem != "labels" else csv_path.parent.name, info)


def _find_image_dir(csv_path: Path, names):
    """The CSV's folder or its images/, Images/ or img/ subfolder: the first that holds most
    of the first 20 files named."""
    base, sample = csv_path.parent, names[:20]
    folders = [d for d in (base, base / "images", base / "Images", base / "img") if d.is_dir()]
    return max(folders, key=lambda d: sum((d / n).is_file() for n in sample), default=base)


def _check_duplicates(files, names, emotions, csv_path, duplicates) -> np.ndarray:
    """Mask of each file's first row; with ``duplicates="error"`` a ``ValueError`` naming
    the rows that repeat a file (conflicting labels first)."""
    seen = {}
    first_row = np.array([seen.setdefault(f, i) for i, f in enumerate(files)], dtype=np.int64)
    first = first_row == np.arange(len(files))
    repeats = [(int(i), int(first_row[i])) for i in np.flatnonzero(~first)]
    if repeats and duplicates == "error":
        conflicts = [(i, j) for i, j in repeats if emotions[i] != emotions[j]]
        shown = (conflicts + [r for r in repeats if r not in conflicts])[:5]
        lines = "\n".join(
            f"  row {i} (line {_line(csv_path, i)}) names {names[i]!r} again, first named in row {j} "
            f"(line {_line(csv_path, j)})"
            + (f", labelled {emotions[i]!r} here and {emotions[j]!r} there" if emotions[i] != emotions[j] else "")
            for i, j in shown
        )
        raise ValueError(
            f"labels CSV '{csv_path}': {len(repeats)} row{'s name' if len(repeats) > 1 else ' names'} a file "
            f"already listed ({len(conflicts)} of them with a different label):\n{lines}\n"
            "Such a file could land in train and test, or teach two answers. Fix the CSV, or pass "
            "duplicates='first' (keep each file's first row) or duplicates='keep' (keep every row; "
            "one file's rows stay in one split)."
        )
    return first


def _identity_from_names(names, identity_pattern):
    """``(person per row or None, how many stems did not match)``: group 1 of the regular
    expression ``identity_pattern`` on each file stem (a stem that does not match is its own
    person); ``ValueError`` when it is not a regular expression or has no group."""
    if identity_pattern is None:
        return None, 0
    try:
        regex = re.compile(identity_pattern)
    except (re.error, TypeError) as exc:
        raise ValueError(f"identity_pattern {identity_pattern!r} is not a valid regular expression: {exc}") from None
    if regex.groups < 1:
        raise ValueError(
            f"identity_pattern {identity_pattern!r} has no group: its group 1 must capture the person "
            r"in the file stem, e.g. r'^(.*)_\d+$'"
        )
    stems = [Path(n).stem for n in names]
    matches = [regex.search(stem) for stem in stems]
    persons = [m.group(1) if m and m.group(1) else stem for m, stem in zip(matches, stems)]
    return np.array(persons, dtype=object), sum(1 for m in matches if not (m and m.group(1)))


def _csv_meta(df, keep, labels, emotions, paths, identity, orig, used_columns) -> pd.DataFrame:
    """``meta`` of the kept rows: label, emotion, source, orig_label, row, identity, the
    ``orig_*`` columns and every other CSV column (``csv_<name>`` where a name is taken)."""
    meta = pd.DataFrame({
        "label": labels,
        "emotion": [emotions[i] for i in keep],
        "source": [str(p) for p in paths],
        "orig_label": df[used_columns[1]].to_numpy()[keep],
        "row": keep.astype(np.int64),
    })
    if identity is not None:
        meta["identity"] = identity[keep]
    meta = pd.concat([meta, orig], axis=1)
    reserved = set(meta.columns) | {"split"}
    for col in df.columns:
        if col not in used_columns:
            meta[col if col not in reserved else f"csv_{col}"] = df[col].to_numpy()[keep]
    return meta


def _random_splits(labels, identity, files, first, keep, val_fraction, test_fraction, seed):
    """Split name per kept row and how it was made: person-disjoint when ``identity`` is known,
    file-disjoint when files repeat (``duplicates="keep"``), else stratified random."""
    if identity is not None:
        return (_group_splits(labels, identity[keep], val_fraction, test_fraction, seed),
                "identity-disjoint (StratifiedGroupKFold)")
    if not first[keep].all():  # the rows of one file stay together
        return (_group_splits(labels, files[keep], val_fraction, test_fraction, seed),
                "file-disjoint (StratifiedGroupKFold; files listed more than once)")
    return _stratified_splits(labels, val_fraction, test_fraction, seed), "stratified random"


# --------------------------------------------------------------------------- writing


_SAVE_FORMATS = {"png": ("PNG", ".png"), "jpg": ("JPEG", ".jpg"), "jpeg": ("JPEG", ".jpg"), "bmp": ("BMP", ".bmp")}


def _safe_name(source, max_len=60) -> str:
    text = str(source)
    if "/" in text or "\\" in text or re.search(r"\.[A-Za-z0-9]{2,5}$", text):
        text = re.split(r"[\\/]", text)[-1]
        text = re.sub(r"\.[A-Za-z0-9]{2,5}$", "", text)
    text = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
    return text[:max_len] or "img"


def write_class_folders(dataset: EmotionDataset, root, image_format="png", overwrite=False) -> Path:
    """Write a data set as class folders that :func:`load_class_folders` reads back.

    Images go to ``root/<split>/<class>/<NNNNNN>_<name>.<ext>`` (PNG round-trips exactly),
    with ``metadata.csv`` (``split``, ``file``, ``order``, every meta column),
    ``dataset.json`` (name, class names, info) and ``README.txt``. Atomic: it writes into a
    temporary folder beside ``root``, renamed at the end and removed on any error.

    Parameters
    ----------
    dataset : EmotionDataset
        The data set.
    root : str or pathlib.Path
        The folder to write.
    image_format : str, default "png"
        The images' format (a Pillow format name).
    overwrite : bool, default False
        Replace a non-empty ``root``; only a previous export is replaced, so a typo cannot wipe
        an unrelated folder.

    Returns
    -------
    pathlib.Path
        ``Path(root)``.
    """
    key = str(image_format).lower().lstrip(".")
    if key not in _SAVE_FORMATS:
        raise ValueError(f"image_format must be one of {sorted(_SAVE_FORMATS)}, got {image_format!r}")
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"'{root}' exists and is not a directory")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"'{root}' exists and is not empty; pass overwrite=True to replace it")
        if not ((root / _DATASET_JSON).is_file() or (root / _METADATA_FILE).is_file()):
            raise FileExistsError(
                f"refusing to overwrite '{root}': it is not a folder written by write_class_folders "
                "(no dataset.json or metadata.csv); delete it yourself if you mean it"
            )
    tmp, backup = _temp_dir_beside(root), None
    try:
        _write_export(dataset, tmp, root.name, *_SAVE_FORMATS[key])
        if root.exists():  # the old export moves aside only once the new one is complete
            backup = _temp_dir_beside(root, "old")
            os.replace(root, backup / "old")
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if backup is not None and (backup / "old").exists() and not root.exists():
            os.replace(backup / "old", root)
        raise
    finally:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    return root


def _write_export(dataset, folder: Path, root_name, pil_format, ext):
    """Write the images, ``metadata.csv``, ``dataset.json`` and ``README.txt`` into ``folder``."""
    from PIL import Image

    rows = []
    for split_key, split in dataset.splits.items():
        sources = split.meta["source"] if "source" in split.meta.columns else pd.Series(range(len(split)))
        for i, (image, label) in enumerate(zip(split.images, split.labels)):
            emotion = dataset.class_names[int(label)]
            (folder / split_key / emotion).mkdir(parents=True, exist_ok=True)
            rel = f"{split_key}/{emotion}/{i:06d}_{_safe_name(sources.iloc[i])}{ext}"
            Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
                folder / rel, format=pil_format, **({"quality": 95} if pil_format == "JPEG" else {}))
            rows.append((split_key, rel, i))
    frames = [split.meta.drop(columns=[c for c in ("split", "file", "order") if c in split.meta.columns])
              .reset_index(drop=True) for split in dataset.splits.values()]
    meta_all = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    pd.concat([pd.DataFrame(rows, columns=["split", "file", "order"]), meta_all], axis=1).to_csv(
        folder / _METADATA_FILE, index=False)
    shape = list(dataset.image_shape) if dataset.splits else None
    counts = {key: {dataset.class_names[k]: int(n) for k, n in enumerate(np.bincount(split.labels)) if n}
              for key, split in dataset.splits.items()}
    description = {"name": dataset.name, "class_names": list(dataset.class_names), "image_shape": shape,
                   "image_format": pil_format.lower(), "counts": counts,
                   "meta_dtypes": {c: str(t) for c, t in meta_all.dtypes.items()}, "info": dataset.info,
                   "written_by": "emolib.data.real.write_class_folders"}
    (folder / _DATASET_JSON).write_text(json.dumps(_jsonable(description), indent=2, default=str))
    (folder / _README).write_text(
        f"{dataset.name}: face-expression images written by emolib.data.real.write_class_folders.\n\n"
        f"Layout: <split>/<class>/<image>{ext}; metadata.csv has one row per image (split, file,\n"
        f"order, then the data set's metadata columns); dataset.json has the class order and info.\n"
        f"Read it back with emolib.data.load_class_folders('{root_name}') or load_dataset(path).\n\n"
        f"Classes (label order): {', '.join(dataset.class_names)}\n"
        f"Image shape: {tuple(shape) if shape else None}\n\n"
        f"Images per class and split:\n{dataset.counts().to_string() if dataset.splits else '(no splits)'}\n"
    )
