"""Train/val/test splits with scikit-learn's splitters, for every real-data loader: one
split name (``"train"``, ``"val"``, ``"test"``) per row, the same for the same ``seed``.
:func:`_stratified_splits` is random and stratified by class; :func:`_group_splits` keeps every
group (a person, a file) in one split."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = []


def _stratified_splits(labels, val_fraction=0.15, test_fraction=0.15, seed=0) -> np.ndarray:
    """Split name per row, stratified by class: ``round(n * test_fraction)`` rows go to test and
    ``round(n * val_fraction)`` to val (:func:`sklearn.model_selection.train_test_split`).

    Parameters
    ----------
    labels : array of int, shape (n,)
    val_fraction, test_fraction : float
        Fractions of all ``n`` rows; 0 leaves that split empty.
    seed : int

    Returns
    -------
    array of str, shape (n,)
        ``"train"``, ``"val"`` or ``"test"``. A ``ValueError`` names the fraction where
        classes are too small for it (each needs two rows and a held-out row).
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    out = np.full(len(labels), "train", dtype=object)
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        size = int(np.floor(len(labels) * fraction + 0.5))
        if size == 0:
            continue
        rest = np.flatnonzero(out == "train")
        try:
            _, held = train_test_split(rest, test_size=size, stratify=labels[rest], random_state=seed)
        except ValueError as exc:
            counts = {int(k): int(v) for k, v in zip(*np.unique(labels[rest], return_counts=True))}
            raise ValueError(
                f"too few images per class for {name}_fraction={fraction:g} ({size} of {len(labels)} "
                f"images, stratified; images per label index: {counts}): {exc}. Use more images per "
                "class, fewer classes, or other fractions (0 leaves a split empty)") from None
        out[held] = name
    return out


def _group_splits(labels, groups, val_fraction=0.15, test_fraction=0.15, seed=0) -> np.ndarray:
    """Split name per row: every group (person) in exactly one split, classes stratified as
    far as the groups allow. :class:`sklearn.model_selection.StratifiedGroupKFold` twice: one
    fold of ``round(1 / test_fraction)`` is test, then one fold of
    ``round((1 - test_fraction) / val_fraction)`` of the rest is val (0.15 -> 1 in 7, 14.3%).
    ``labels`` (int) and ``groups`` (str) have shape ``(n,)``, as has the result.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.asarray(labels)
    groups = np.asarray(groups, dtype=str)
    out = np.full(len(labels), "train", dtype=object)

    def one_fold(idx, fraction, rng_seed):
        k = max(2, int(round(1.0 / fraction)))
        if len(np.unique(groups[idx])) < k:
            raise ValueError(f"only {len(np.unique(groups[idx]))} persons: too few for a split of {fraction:g}")
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=rng_seed)
        with warnings.catch_warnings():  # "least populated class has fewer members than n_splits"
            warnings.simplefilter("ignore", UserWarning)
            _, held = next(cv.split(np.zeros(len(idx)), labels[idx], groups[idx]))
        return idx[held]

    if test_fraction > 0:
        out[one_fold(np.arange(len(labels)), test_fraction, seed)] = "test"
    if val_fraction > 0:
        rest = np.flatnonzero(out == "train")
        out[one_fold(rest, val_fraction / (1.0 - test_fraction), seed + 1)] = "val"
    return out
