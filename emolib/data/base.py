"""The one data structure every emolib data source returns.

Both the procedural generator (:mod:`emolib.data.synthetic`) and the real-data
loaders (:mod:`emolib.data.real`) return an :class:`EmotionDataset`: a set of
named splits, each holding

* ``images``: ``uint8`` array of shape ``(n, height, width, channels)``,
  channels 1 (grayscale) or 3 (RGB);
* ``labels``: ``int64`` array of shape ``(n,)``, indices into ``class_names``;
* ``meta``: a :class:`pandas.DataFrame` with ``n`` rows (one per image) and at
  least the columns ``label`` (int), ``emotion`` (class name) and ``source``
  (file path, CSV row or generator id).

Class names follow FER2013's label order (:data:`EMOTIONS`) and can be subset
with :meth:`EmotionDataset.subset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# The label vocabulary is the generator's (facegen draws these emotions); emolib uses the same one.
from facegen.labels import EMOTIONS, LABEL_SYNONYMS, PRESETS, SPLITS, normalize_label, resolve_classes  # noqa: F401

__all__ = ["EmotionDataset", "Split", "normalize_label", "resolve_classes"]


@dataclass
class Split:
    """One split of a data set: images, integer labels and per-image metadata.

    Parameters
    ----------
    images : uint8 array, shape (n, h, w, c)
        The images, ``c`` 1 (gray) or 3 (RGB).
    labels : int array, shape (n,)
        Class indices into the data set's ``class_names``.
    meta : pandas.DataFrame, n rows
        Per-image metadata (source file, person, ...); its index is reset.
    """

    images: np.ndarray
    labels: np.ndarray
    meta: pd.DataFrame

    def __post_init__(self):
        self.images = np.asarray(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise ValueError(
                f"images must have shape (n, h, w, 1|3), got {self.images.shape}"
            )
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {self.images.dtype}")
        n = len(self.images)
        if self.labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {self.labels.shape}")
        if len(self.meta) != n:
            raise ValueError(f"meta must have {n} rows, got {len(self.meta)}")
        self.meta = self.meta.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index) -> "Split":
        """A new split with the rows selected by an index array or boolean mask."""
        index = np.asarray(index)
        return Split(self.images[index], self.labels[index], self.meta.iloc[index].copy())


@dataclass
class EmotionDataset:
    """Named splits plus the class names their labels index into.

    Parameters
    ----------
    splits : dict of str to Split
        The splits by name (``"train"``, ``"val"``, ``"test"``): each holds ``images``
        ``(n, height, width, channels)`` uint8, ``labels`` ``(n,)`` int and ``meta`` (a DataFrame,
        one row per image).
    class_names : tuple of str
        The name of each label index.
    name : str, default "dataset"
        Where it came from (``"synthetic"``, ``"fer2013"``, ...).
    info : dict, optional
        How it was made (loader arguments, counts of dropped files, ...).

    Attributes
    ----------
    train, val, test : Split
        The splits of those names.
    num_classes : int
        ``len(class_names)``.
    image_shape : tuple of int
        ``(height, width, channels)`` of the images.
    """

    splits: dict
    class_names: tuple
    name: str = "dataset"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.class_names = tuple(self.class_names)
        for key, split in self.splits.items():
            if len(split) and (split.labels.min() < 0 or split.labels.max() >= len(self.class_names)):
                raise ValueError(f"split {key!r} has labels outside 0..{len(self.class_names) - 1}")

    def __getitem__(self, key) -> Split:
        try:
            return self.splits[key]
        except KeyError:
            raise KeyError(f"no split {key!r}; splits: {list(self.splits)}") from None

    @property
    def train(self) -> Split:
        return self["train"]

    @property
    def val(self) -> Split:
        return self["val"]

    @property
    def test(self) -> Split:
        return self["test"]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple:
        """``(height, width, channels)`` of every image."""
        first = next(iter(self.splits.values()))
        return tuple(first.images.shape[1:])

    def counts(self) -> pd.DataFrame:
        """Images per class (rows) and split (columns)."""
        table = {
            key: np.bincount(split.labels, minlength=self.num_classes)
            for key, split in self.splits.items()
        }
        return pd.DataFrame(table, index=pd.Index(self.class_names, name="emotion"))

    def subset(self, classes) -> "EmotionDataset":
        """Keep only ``classes`` (a preset name or list), relabelled 0..k-1 in that order.
        A class that is not in the data set, or has no images in it, is a ``ValueError``."""
        keep = resolve_classes(classes)
        missing = [c for c in keep if c not in self.class_names]
        if missing:
            raise ValueError(f"classes {missing} are not in this data set {self.class_names}")
        old_to_new = np.full(self.num_classes, -1, dtype=np.int64)
        old_to_new[[self.class_names.index(name) for name in keep]] = np.arange(len(keep))
        splits = {}
        for key, split in self.splits.items():
            mask = old_to_new[split.labels] >= 0
            part = split.take(mask)
            part.labels = old_to_new[part.labels]
            part.meta["label"] = part.labels
            splits[key] = part
        out = EmotionDataset(splits, keep, self.name, dict(self.info))
        counts = out.counts().sum(axis=1)
        empty = [c for c in keep if counts[c] == 0]
        if empty:
            raise ValueError(f"{_describe(self)}: classes {empty} have no images; subset to classes it has")
        return out

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return (
            f"EmotionDataset({self.name!r}, classes={list(self.class_names)}, "
            f"image_shape={self.image_shape}, {sizes})"
        )


def _describe(dataset) -> str:
    path = dataset.info.get("path") if isinstance(dataset.info, dict) else None
    if isinstance(path, (list, tuple)):
        path = ", ".join(str(p) for p in path)
    return f"data set {dataset.name!r}" + (f" ('{path}')" if path else "")


def _validate_splits(dataset, splits=SPLITS) -> "EmotionDataset":
    """Check that ``dataset`` can be trained on and evaluated; returns it unchanged.

    :func:`emolib.data.load_dataset` and :func:`emolib.experiment.run_experiment` call it
    (a loader of your own should too). Each of ``splits`` must exist and hold images (an
    empty val or test split gives NaN scores, an empty train split no model), and every
    class must have images, training images among them (a model could never learn it).

    Raises
    ------
    ValueError
        Naming the data set (and its file), the split or the classes, with the
        images per class and split and, for an empty split, how it was made.
    """
    what = _describe(dataset)
    missing = [s for s in splits if s not in dataset.splits]
    if missing:
        raise ValueError(f"{what} has no {' or '.join(missing)} split (its splits: {list(dataset.splits)})")
    sizes = {s: len(dataset.splits[s]) for s in splits}
    empty = [s for s in splits if sizes[s] == 0]
    if empty:
        method = dataset.info.get("split_method") if isinstance(dataset.info, dict) else None
        hint = {
            "usage column": "its Usage column has no rows for it (PublicTest is val, PrivateTest is test)",
            "stratified random": "too few images for val_fraction/test_fraction: a split gets "
                                 "round(n * fraction) of the n images",
        }.get(method, f"split method: {method}" if method else "")
        raise ValueError(
            f"{what}: the {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty "
            f"(images per split: {sizes}){'; ' + hint if hint else ''}"
        )
    counts = dataset.counts()
    absent = [c for c in dataset.class_names if counts.loc[c].sum() == 0]
    if absent:
        raise ValueError(
            f"{what}: classes {absent} have no images; choose classes the data has "
            f"(images per class:\n{counts.to_string()})"
        )
    if "train" in splits:
        untrained = [c for c in dataset.class_names if counts.loc[c, "train"] == 0]
        if untrained:
            raise ValueError(
                f"{what}: classes {untrained} have no training images, so no model can learn them "
                f"(images per class and split:\n{counts.to_string()})"
            )
    return dataset


def _convert_images(images, size, channels) -> np.ndarray:
    """Resize and convert ``uint8`` images ``(n, h, w[, 1|3|4])`` (alpha is dropped) to
    ``uint8`` ``(n, size, size, channels)`` with :func:`emolib.pipeline.prepare_images`
    (ITU-R 601 luma, bilinear resizing with antialiasing), rounded back to ``uint8``."""
    from ..pipeline import prepare_images

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected images of shape (n, h, w[, 1|3|4]), got {images.shape}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    converted = prepare_images(images[..., :3].astype(np.uint8), size, channels)
    return np.rint(np.asarray(converted) * 255.0).astype(np.uint8)
