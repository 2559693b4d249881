"""Figures for the curriculum (matplotlib + seaborn).

Every function returns the :class:`matplotlib.figure.Figure` it drew on; ``ax`` /
``axes`` draw into an existing figure, ``save_path`` also writes it (atomically; the
format from the suffix).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .fileio import atomic_path

__all__ = [
    "class_distribution", "comparison", "confusion_matrix", "learning_curves", "misclassified_grid", "sample_grid",
    "save_figure"
]


def save_figure(fig, save_path, dpi=120):
    """Write a figure to a file atomically (temporary file, then rename).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    save_path : str or pathlib.Path
        The file; its suffix picks the format (``.png`` when there is none).
    dpi : int, default 120
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(save_path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def _axes(ax, *args, **kwargs):
    """``(figure, ax)``: a new figure's axes (``plt.subplots(*args, **kwargs)``) when ``ax`` is None."""
    return plt.subplots(*args, **kwargs) if ax is None else (np.ravel(ax)[0].figure, ax)


def _finish(fig, save_path):
    fig.tight_layout()
    if save_path is not None:
        save_figure(fig, save_path)
    return fig


def _show_image(ax, image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 1)
    if image.ndim == 3 and image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else 1)
    else:
        ax.imshow(image)
    ax.set(xticks=[], yticks=[])


def sample_grid(images, labels, class_names, per_class=8, seed=0, save_path=None):
    """Random example images: one row per class, ``per_class`` columns.

    Parameters
    ----------
    images : array of shape (n, height, width, channels)
        The images (uint8 or floats in [0, 1]).
    labels : array of int, shape (n,)
        Their class indices.
    class_names : list of str
        The name of each class index (the rows' labels).
    per_class : int, default 8
        Images per row; a class with fewer leaves blank cells.
    seed : int, default 0
        Seed of the random choice.
    save_path : str or pathlib.Path, optional
        Where to save the figure too.

    Returns
    -------
    matplotlib.figure.Figure
        The grid.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, axes = plt.subplots(k, per_class, figsize=(per_class * 1.1, k * 1.15), squeeze=False)
    for c, name in enumerate(class_names):
        members = np.flatnonzero(labels == c)
        chosen = rng.choice(members, min(per_class, len(members)), replace=False)
        for j, ax in enumerate(axes[c]):
            if j < len(chosen):
                _show_image(ax, images[chosen[j]])
            else:  # blank cell; keep the axes so the row label still shows
                ax.set(xticks=[], yticks=[])
                ax.spines[:].set_visible(False)
        axes[c, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle("Sample images per class")
    return _finish(fig, save_path)


def class_distribution(dataset_or_counts_df, axes=None, save_path=None):
    """Images per class and split: counts (left) and proportions within each split (right).

    Parameters
    ----------
    dataset_or_counts_df : EmotionDataset or pandas.DataFrame
        A data set, or a table with classes as rows and splits as columns
        (``EmotionDataset.counts()``).
    axes : sequence of two matplotlib.axes.Axes, optional
        Where to draw (a new figure when omitted).
    save_path : str or pathlib.Path, optional
        Where to save the figure too.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    counts = dataset_or_counts_df
    if hasattr(counts, "counts") and not isinstance(counts, pd.DataFrame):
        counts = counts.counts()
    counts = pd.DataFrame(counts)
    props = counts / counts.sum(axis=0).replace(0, np.nan)
    fig, axes = _axes(axes, 1, 2, figsize=(11, 3.8))
    counts.plot.bar(ax=axes[0], rot=30)
    axes[0].set(title="Images per class", ylabel="images", xlabel="")
    props.plot.bar(ax=axes[1], rot=30, legend=False)
    axes[1].axhline(1 / len(counts), color="gray", ls="--", lw=1, label="balanced")
    axes[1].set(title="Proportion within each split", ylabel="fraction of split", xlabel="")
    return _finish(fig, save_path)


def learning_curves(history_df, axes=None, save_path=None):
    """Loss and accuracy per epoch (from 1), training vs validation.

    Parameters
    ----------
    history_df : keras.callbacks.History, dict or pandas.DataFrame
        A Keras ``History``, its ``history`` dict, or a DataFrame of it (``history.csv``,
        ``RunResult.history``): columns ``loss``, ``accuracy`` and their ``val_`` versions.
    axes : sequence of two matplotlib.axes.Axes, optional
        Where to draw (a new figure when omitted).
    save_path : str or pathlib.Path, optional
        Where to save the figure too.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    if hasattr(history_df, "history") and isinstance(history_df.history, dict):
        history_df = history_df.history
    df = pd.DataFrame(history_df)
    epochs = df["epoch"] + 1 if "epoch" in df else np.arange(1, len(df) + 1)
    fig, axes = _axes(axes, 1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, label, style in (("", "train", "-o"), ("val_", "validation", "-s")):
            if prefix + metric in df:
                ax.plot(epochs, df[prefix + metric], style, ms=3, label=label)
        ax.set(xlabel="epoch", ylabel=metric, title=metric.capitalize())
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, save_path)


def confusion_matrix(cm, class_names, normalize=True, ax=None, cmap="Blues", save_path=None):
    """scikit-learn's ``ConfusionMatrixDisplay`` of a confusion matrix.

    Parameters
    ----------
    cm : array of shape (k, k)
        Counts, rows the true class, columns the predicted one.
    class_names : list of str
        The k class names.
    normalize : bool, default True
        Divide each row by its total: the diagonal shows each class's recall, in %.
    ax : matplotlib.axes.Axes, optional
        Where to draw (a new figure when omitted).
    cmap : str, default "Blues"
        The colour map.
    save_path : str or pathlib.Path, optional
        Where to save the figure too.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    cm = np.asarray(cm, dtype=float)
    if normalize:
        from .evaluation import _row_rates

        values, fmt, vmax = _row_rates(cm), ".0%", 1.0
    else:
        values, fmt, vmax = cm, ".0f", None
    size = 1.0 + 0.75 * len(class_names)
    fig, ax = _axes(ax, figsize=(size + 1, size))
    ConfusionMatrixDisplay(values, display_labels=[str(c) for c in class_names]).plot(
        ax=ax, cmap=cmap, values_format=fmt, colorbar=True, xticks_rotation=45,
        im_kw={"vmin": 0, "vmax": vmax},
    )
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix" + (" (row-normalised)" if normalize else ""))
    return _finish(fig, save_path)


def misclassified_grid(images, y_true, y_pred, class_names, proba=None, n=16, seed=0, ncols=8, save_path=None):
    """At most ``n`` misclassified images, titled ``"true -> predicted (p)"``.

    Parameters
    ----------
    images : array of shape (N, height, width, channels)
        The images.
    y_true, y_pred : array of int, shape (N,)
        True and predicted class indices.
    class_names : list of str
        The class names.
    proba : array of shape (N, k), optional
        Predicted probabilities; adds the probability of each wrong prediction to its title.
    n : int, default 16
        At most this many images.
    seed : int, default 0
        Seed of the random choice among the mistakes.
    ncols : int, default 8
        Images per row.
    save_path : str or pathlib.Path, optional
        Where to save the figure too.

    Returns
    -------
    matplotlib.figure.Figure
        The grid; ``fig.indices`` holds the positions shown (``data.test.meta.iloc[fig.indices]``).
    """
    images = np.asarray(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(images) != len(y_true):
        raise ValueError(
            f"images ({len(images)}), y_true {y_true.shape} and y_pred {y_pred.shape} must describe the same images"
        )
    if proba is not None:
        proba = np.asarray(proba)
        if proba.shape != (len(y_true), len(class_names)):
            raise ValueError(f"proba must have shape ({len(y_true)}, {len(class_names)}), got {proba.shape}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    wrong = np.flatnonzero(y_true != y_pred)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(wrong, min(int(n), len(wrong)), replace=False))
    if not len(chosen):
        fig, ax = plt.subplots(figsize=(4, 1.5))
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.axis("off")
        fig.indices = chosen
        return _finish(fig, save_path)
    cols = min(ncols, len(chosen))
    rows = -(-len(chosen) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.45, rows * 1.6), squeeze=False)
    for ax in axes.flat[len(chosen):]:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen):
        _show_image(ax, images[i])
        title = f"{class_names[y_true[i]]} ->\n{class_names[y_pred[i]]}"
        if proba is not None:
            title += f" ({proba[i, y_pred[i]]:.2f})"
        ax.set_title(title, fontsize=8)
    fig.suptitle(f"{len(chosen)} of {len(wrong)} misclassified images (true -> predicted)", fontsize=10)
    fig.indices = chosen
    return _finish(fig, save_path)


def comparison(result, ax=None, save_path=None):
    """The picture of :func:`emolib.evaluation.compare`'s rule: where the bootstrap puts the
    difference in macro-F1 (B minus A), its interval (shaded), zero (the dashed line) and each
    seed's own difference (the ticks under the histogram). The verdict is the title.

    Parameters
    ----------
    result : emolib.evaluation._Comparison
    ax : matplotlib Axes, optional
    save_path : path, optional
        Where to write the figure as well.

    Returns
    -------
    matplotlib Figure
    """
    fig, ax = _axes(ax, figsize=(7, 3))
    low, high = result.interval
    ax.hist(result.bootstrap, bins=40, color="#9ecae1", edgecolor="white")
    ax.axvspan(low, high, color="#3182bd", alpha=0.15, label=f"{result.confidence:.0%} interval")
    ax.axvline(0, color="black", ls="--", lw=1, label="no difference")
    ax.plot(result.per_seed, np.zeros_like(result.per_seed), "|", color="#d62728", ms=18, mew=2, label="one seed")
    ax.set(xlabel=f"macro-F1 of {result.names[1]} minus {result.names[0]}", ylabel="resamples",
           title=f"{result.names[1]} vs {result.names[0]}: {result.outcome}")
    ax.legend(loc="upper left", fontsize="small")
    return _finish(fig, save_path)
