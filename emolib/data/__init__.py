"""Data sources: a procedural face-expression generator and real-data loaders,
all returning :class:`emolib.data.base.EmotionDataset`."""

from pathlib import Path

from .base import (EMOTIONS, LABEL_SYNONYMS, PRESETS, EmotionDataset, _validate_splits, normalize_label,  # noqa: F401
                   resolve_classes)
from .fer2013 import _FER_CSV_CANDIDATES, _fer2013_instructions, _find_or_fetch_fer2013, _load_fer2013_csv
from .images import ImageReadError
from .real import _SPLIT_SYNONYMS, _subdirs, load_class_folders, load_labels_csv, write_class_folders
from .facial_expressions import is_facial_expressions_dir, _load_facial_expressions


#: Arguments only :func:`load_labels_csv` takes: with any of them a CSV is a labels CSV.
_LABELS_CSV_ARGS = {"image_dir", "image_col", "label_col", "split_col", "identity_col", "identity_pattern",
                    "duplicates"}


def _is_fer_csv(path: Path, kwargs=None) -> bool:
    """A FER2013 CSV has a ``pixels`` column of pixel values; a labels CSV may have a
    ``pixels`` column too (of something else), next to its ``image`` column."""
    import pandas as pd

    if _LABELS_CSV_ARGS & set(kwargs or ()):
        return False
    try:
        head = pd.read_csv(path, nrows=1, dtype=str, keep_default_na=False)
    except Exception:  # unreadable: let the labels-CSV loader report it properly
        return False
    columns = {str(c).strip().lower(): c for c in head.columns}
    if "pixels" not in columns:
        return False
    if "image" not in columns or head.empty:
        return True
    values = str(head[columns["pixels"]].iloc[0]).split()
    return len(values) >= 64 and all(v.isdigit() for v in values)  # pixel values, not a note


def _looks_like_class_folders(path: Path) -> bool:
    return any(d.name.lower() in _SPLIT_SYNONYMS or d.name.strip().lower() in LABEL_SYNONYMS for d in _subdirs(path))


def load_dataset(source="synthetic", **kwargs) -> EmotionDataset:
    """One entry point for every data source.

    * ``"synthetic"``: :func:`emolib.data.synthetic.generate` (procedural faces);
    * ``"facial_expressions"``: the real photos of ``muxspace/facial_expressions``
      (:func:`~emolib.data.facial_expressions._load_facial_expressions`), as does a
      directory with that layout (``images/`` and ``data/legend.csv``);
    * ``"fer2013"``: FER2013 from ``data/fer2013/`` (searched from the working directory
      upwards; CSV or train/test folders), see :func:`~emolib.data.fer2013._fer2013_instructions`;
    * a ``.csv`` file with a ``pixels`` column of pixel values: the FER2013 CSV loader;
      any other ``.csv`` file (or when ``kwargs`` hold :func:`load_labels_csv`'s own
      arguments): :func:`load_labels_csv`;
    * a directory: :func:`load_class_folders` when it holds class or split folders,
      else the FER2013 CSV loader when it holds ``fer2013.csv``/``icml_face_data.csv``/
      ``train.csv``, else :func:`load_labels_csv` on its ``labels.csv``.

    Parameters
    ----------
    source : str or pathlib.Path, default "synthetic"
        A source name or a path, as above.
    **kwargs
        Passed to the loader (``classes``, ``image_size``, ``channels``, ``seed``, ...).

    Returns
    -------
    EmotionDataset
        Splits ``train``, ``val``, ``test`` of images ``(n, height, width, channels)`` uint8,
        checked by :func:`~emolib.data.base._validate_splits`.

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    ValueError
        For anything else it cannot read or use.
    """
    name = source.strip().lower() if isinstance(source, str) else None
    if name == "synthetic":
        from . import synthetic

        return _validate_splits(synthetic.generate(**kwargs))
    if name in ("facial_expressions", "facial-expressions"):
        return _validate_splits(_load_facial_expressions(**kwargs))
    if name == "fer2013":
        source = _find_or_fetch_fer2013()
    if not isinstance(source, (str, Path)):
        raise ValueError(
            f"source must be 'synthetic', 'fer2013' or a path, got {type(source).__name__} {source!r}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        hint = "\n\n" + _fer2013_instructions() if "fer" in str(path).lower() else ""
        raise FileNotFoundError(
            f"data source not found: '{path}' (source must be 'synthetic', 'fer2013', a .csv file "
            f"or a directory of class folders){hint}"
        )
    return _validate_splits(_load_path(path, **kwargs))


def _load_path(path: Path, **kwargs) -> EmotionDataset:
    """Load an existing file or directory with the loader its contents call for."""
    if path.is_file():
        suffixes = "".join(path.suffixes[-2:]).lower()
        if path.suffix.lower() != ".csv" and not suffixes.startswith(".csv"):
            raise ValueError(
                f"cannot load '{path}': expected a .csv file (FER2013 pixels CSV or a labels CSV) "
                "or a directory of class folders"
            )
        if _is_fer_csv(path, kwargs):
            return _load_fer2013_csv(path, **kwargs)
        return load_labels_csv(path, **kwargs)
    if path.is_dir():
        if is_facial_expressions_dir(path):
            return _load_facial_expressions(path, **kwargs)
        if _looks_like_class_folders(path):
            return load_class_folders(path, **kwargs)
        for name in _FER_CSV_CANDIDATES:
            if (path / name).is_file() and _is_fer_csv(path / name):
                return _load_fer2013_csv(path, **kwargs)
        if (path / "labels.csv").is_file():
            return load_labels_csv(path / "labels.csv", **kwargs)
        raise ValueError(
            f"cannot load '{path}': it has no class folders (<emotion>/ or train/<emotion>/), "
            "no FER2013 CSV and no labels.csv"
        )
    raise ValueError(f"cannot load '{path}': not a regular file or directory")


__all__ = [
    "EmotionDataset", "load_class_folders", "load_dataset", "resolve_classes",
    "write_class_folders"
]
