"""Evaluate a trained classifier: accuracy, top-k accuracy, per-class precision,
recall and F1, macro/weighted averages and the confusion matrix (scikit-learn's
definitions)."""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf

__all__ = [
    "EPS", "accuracy_interval", "chance_ceiling", "compare", "confused_pairs", "error_rates_by", "evaluate",
    "f1_scores", "input_batches", "log_loss", "macro_f1", "predict_proba"
]


def input_batches(model, x, batch_size=256):
    """Batches of images ready for a model.

    Parameters
    ----------
    model : keras.Model
        The model (its input dtype and scaling decide the conversion).
    x : array of shape (n, height, width[, channels]) or tf.data.Dataset
        Images, or a data set of image or ``(images, labels)`` batches.
    batch_size : int, default 256
        Images per batch (for an array).

    Yields
    ------
    array or tf.Tensor of shape (batch, height, width, channels)
        ``uint8`` images converted to the model's input as :func:`emolib.pipeline.make_dataset`
        does; floats as they are.
    """
    from .pipeline import convert_batch

    if isinstance(x, tf.data.Dataset):
        batches = (b[0] if isinstance(b, (tuple, list)) else b for b in x)
    else:
        x = np.asarray(x)
        x = x[..., None] if x.ndim == 3 else x
        batches = (x[i : i + batch_size] for i in range(0, len(x), batch_size))
    try:
        shape = tuple(model.input_shape)  # (None, height, width, channels) for an image model
    except (AttributeError, ValueError):
        shape = ()
    size = shape[1:3] if len(shape) == 4 and None not in shape[1:3] else None
    channels = shape[3] if len(shape) == 4 else None
    for batch in batches:
        if batch.dtype == np.uint8 or batch.dtype == tf.uint8:
            batch = convert_batch(batch, size, channels)
        yield batch


def predict_proba(model, x, batch_size=256):
    """Class probabilities of a model, calling it on batches.

    Calling the model directly on batches avoids ``model.predict``'s cost per call (it builds
    a ``tf.data`` pipeline each time).

    Parameters
    ----------
    model : keras.Model
        A classifier with a softmax output.
    x : array of shape (n, height, width[, channels]) or tf.data.Dataset
        Images, or batches of them (as :func:`input_batches` takes them).
    batch_size : int, default 256
        Images per call.

    Returns
    -------
    array of float32, shape (n, num_classes)
        The probabilities.
    """
    out = [np.asarray(model(batch, training=False), dtype=np.float32)
           for batch in input_batches(model, x, batch_size)]
    if not out:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate(out)


def _labels_from_dataset(ds):
    labels = []
    for batch in ds:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("the dataset yields no labels; pass `labels`")
        y = np.asarray(batch[1])
        labels.append(y.argmax(axis=-1) if y.ndim == 2 else y)
    return np.concatenate(labels).astype(np.int64)


def _top_k_accuracy(labels, proba, k):
    """scikit-learn's ``top_k_accuracy_score``, 1.0 when ``k >= num_classes``."""
    from sklearn.metrics import top_k_accuracy_score

    if k >= proba.shape[1]:
        return 1.0
    return float(top_k_accuracy_score(labels, proba, k=k, labels=np.arange(proba.shape[1])))


#: Keras' ``backend.epsilon()``: probabilities are clipped to ``[EPS, 1]`` before their logarithm.
EPS = 1e-7


def log_loss(proba, labels) -> float:
    """The cross-entropy Keras reports as ``loss``.

    :func:`sklearn.metrics.log_loss` of the probabilities clipped to ``[EPS, 1]``, as Keras
    clips (scikit-learn alone clips at 2.2e-16, so one confidently wrong image would cost 36
    instead of Keras' 16).

    Parameters
    ----------
    proba : array of shape (n, k)
        Predicted probabilities.
    labels : array of int, shape (n,)
        True class indices.

    Returns
    -------
    float
        The mean cross-entropy; NaN for no images.
    """
    from sklearn import metrics

    proba = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0)
    labels = np.asarray(labels)
    if labels.shape != (len(proba),):
        raise ValueError(f"labels must have shape ({len(proba)},) to match the probabilities, got {labels.shape}")
    if not len(labels):
        return float("nan")
    with warnings.catch_warnings():  # positional: scikit-learn 1.9 renamed y_pred to y_proba
        # float32 softmax rows and the clipping move row sums by ~1e-7 (older scikit-learn says "y_pred")
        warnings.filterwarnings("ignore", "The y_(pred|prob) values do not sum to one")
        return float(metrics.log_loss(labels, proba, labels=np.arange(proba.shape[1])))


def _empty_result(class_names, y_true, y_pred, proba):
    nan, k = float("nan"), len(class_names)
    empty = {"precision": nan, "recall": nan, "f1": nan}
    return {
        "accuracy": nan, "top_2_accuracy": nan, "top_3_accuracy": nan, "loss": nan,
        "per_class": {name: {**empty, "support": 0} for name in class_names},
        "macro_avg": dict(empty), "weighted_avg": dict(empty), "num_samples": 0,
        "class_names": class_names, "confusion_matrix": np.zeros((k, k), np.int64),
        "report": "no images to evaluate\n", "y_true": y_true, "y_pred": y_pred, "proba": proba,
    }


def evaluate(model, images_or_dataset, labels=None, class_names=None, batch_size=256):
    """Scores of a model on labelled images.

    Parameters
    ----------
    model : keras.Model
        A classifier with a softmax output.
    images_or_dataset : array of shape (n, height, width, channels) or tf.data.Dataset
        Images, or a data set of ``(images, labels)`` batches (labels one-hot or int).
    labels : array of int, shape (n,), optional
        The true classes of an array of images.
    class_names : list of str, optional
        The class names (default ``"0"``, ``"1"``, ...).
    batch_size : int, default 256
        Images per call of the model.

    Returns
    -------
    dict
        ``accuracy``, ``top_2_accuracy``, ``top_3_accuracy``, ``loss`` (:func:`log_loss`),
        ``per_class`` (``{name: {"precision", "recall", "f1", "support"}}``), ``macro_avg`` and
        ``weighted_avg`` (``{"precision", "recall", "f1"}``), ``num_samples``, ``class_names``,
        ``confusion_matrix`` ``(k, k)`` (rows true), ``report`` (scikit-learn's text report),
        ``y_true``, ``y_pred`` ``(n,)`` and ``proba`` ``(n, k)``.
    """
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    proba = predict_proba(model, images_or_dataset, batch_size)
    if labels is None:
        if not isinstance(images_or_dataset, tf.data.Dataset):
            raise ValueError("labels are required when evaluating on arrays")
        labels = _labels_from_dataset(images_or_dataset)
    y_true = np.asarray(labels).astype(np.int64)
    if y_true.shape != (len(proba),):
        raise ValueError(f"labels must have shape ({len(proba)},), got {y_true.shape}")
    num_classes = proba.shape[1]
    class_names = [str(c) for c in (range(num_classes) if class_names is None else class_names)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} outputs")
    y_pred = proba.argmax(axis=1)
    ids = np.arange(num_classes)
    if not len(y_true):  # an empty split: nothing to measure (scikit-learn refuses empty input)
        return _empty_result(class_names, y_true, y_pred, proba)

    report = classification_report(y_true, y_pred, labels=ids, target_names=class_names, output_dict=True,
                                   zero_division=0)

    def prf(entry):
        return {"precision": float(entry["precision"]), "recall": float(entry["recall"]),
                "f1": float(entry["f1-score"])}

    per_class = {name: {**prf(report[name]), "support": int(report[name]["support"])} for name in class_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on classes absent from y_true
        return {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            **{f"top_{k}_accuracy": _top_k_accuracy(y_true, proba, k) for k in (2, 3)},
            "loss": log_loss(proba, y_true), "per_class": per_class,
            "macro_avg": prf(report["macro avg"]), "weighted_avg": prf(report["weighted avg"]),
            "num_samples": int(len(y_true)), "class_names": class_names,
            "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids),
            "report": classification_report(y_true, y_pred, labels=ids, target_names=class_names, digits=3,
                                            zero_division=0),
            "y_true": y_true, "y_pred": y_pred, "proba": proba,
        }


def _metrics_for_json(result) -> dict:
    """The JSON-friendly part of an :func:`evaluate` result (no arrays, no text)."""
    skip = {"confusion_matrix", "report", "y_true", "y_pred", "proba"}
    return {k: v for k, v in result.items() if k not in skip}


def accuracy_interval(correct, n, confidence=0.95):
    """Wilson score interval of an accuracy of ``correct`` out of ``n`` (scipy's ``binomtest``).

    Parameters
    ----------
    correct : int
        Images classified right.
    n : int
        Test images (positive).
    confidence : float, default 0.95
        The interval's coverage.

    Returns
    -------
    tuple of float
        ``(low, high)``: with 128 test images a 50% accuracy is only known to about +-8.5 points.
    """
    from scipy.stats import binomtest

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    interval = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def macro_f1(y_true, y_pred, num_classes) -> float:
    """emolib's one macro-F1: the mean F1 over **all** ``num_classes`` classes.

    scikit-learn's ``f1_score(y_true, y_pred, labels=range(num_classes), average="macro",
    zero_division=0)``. Every class counts, also one absent from ``y_true`` (its F1 is then 0),
    so the same predictions get the same score in every notebook, benchmark and table.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted class indices in ``[0, num_classes)``.
    num_classes : int
        The number of classes ``k``.

    Returns
    -------
    float
        Macro-F1 in ``[0, 1]``.

    Examples
    --------
    >>> round(macro_f1([0, 0, 1, 1], [0, 0, 1, 0], 3), 4)  # F1 0.8, 0.667 and 0 (class 2 never occurs)
    0.4889
    """
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=np.arange(num_classes), average="macro", zero_division=0))


def f1_scores(y_true, proba, num_classes) -> dict:
    """Accuracy, macro-F1 (:func:`macro_f1`), worst-class F1 and per-class F1, rounded to 4 digits.

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        True class indices.
    proba : array-like, shape (n, num_classes)
        Predicted probabilities (or scores); the arg-max of each row is the prediction.
    num_classes : int
        The number of classes ``k``: every one of them counts in the macro and worst-class F1.

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``worst_class_f1`` (floats) and ``per_class_f1`` (list of ``k``).
    """
    from sklearn.metrics import accuracy_score, f1_score

    y_true = np.asarray(y_true)
    pred = np.asarray(proba).argmax(1)
    per_class = f1_score(y_true, pred, labels=np.arange(num_classes), average=None, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y_true, pred)), 4),
        "macro_f1": round(macro_f1(y_true, pred, num_classes), 4),
        "worst_class_f1": round(float(per_class.min()), 4),
        "per_class_f1": [round(float(v), 4) for v in per_class],
    }


#: A model "learned" when its test accuracy is above this many times chance (1 / k); nothing is
#: compared with a model that did not.
_LEARNED = 1.3
#: The fewest training seeds a verdict rests on.
_MIN_SEEDS = 3


def _macro_f1_weighted(codes, weights, k):
    """Macro-F1 over all ``k`` classes from ``codes = y_true * k + y_pred`` ``(n,)`` where image
    ``i`` counts ``weights[i]`` times (a bootstrap resample): :func:`macro_f1`'s definition."""
    cm = np.bincount(codes, weights=weights, minlength=k * k).reshape(k, k)
    tp = np.diag(cm)
    denominator = cm.sum(0) + cm.sum(1)  # 2 tp + fp + fn
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)))


class _Comparison:
    """The verdict of :func:`compare` and what it rests on (attributes below; ``str()`` is the
    verdict line ``verdict: B vs A: <outcome> (...)``).

    Attributes
    ----------
    names : tuple of str
        ``(A, B)``.
    difference : float
        Macro-F1 of B minus macro-F1 of A, averaged over the seeds.
    interval : tuple of float
        Its ``confidence`` bootstrap interval ``(low, high)``.
    per_seed : ndarray, shape (s,)
        The difference of each seed.
    bootstrap : ndarray, shape (n_boot,)
        The resampled differences behind the interval (for a histogram: :func:`emolib.plots.comparison`).
    accuracy : dict
        ``{name: mean test accuracy}``; ``learned``: ``{name: bool}``.
    seeds, images : int
        How many paired seeds and test images.
    outcome : str
        ``"B is better"``, ``"B is worse"``, ``"cannot tell: ..."`` or ``"cannot compare: ..."``.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __str__(self):
        low, high = self.interval
        return (f"verdict: {self.names[1]} vs {self.names[0]}: {self.outcome} (macro-F1 {self.difference:+.3f}, "
                f"{self.confidence:.0%} interval [{low:+.3f}, {high:+.3f}], {self.seeds} seed{'s' if self.seeds != 1 else ''} x "
                f"{self.images} test images)")

    __repr__ = __str__


def compare(y_true, preds_a, preds_b, num_classes, names=("A", "B"), confidence=0.95, n_boot=2000, seed=0):
    """Is B better than A? emolib's one rule for "is the difference real?".

    Both models are trained with the same ``s`` seeds and predict the same test images. The
    difference is the macro-F1 (:func:`macro_f1`) of B minus that of A, averaged over the seeds.
    Two kinds of luck move it: which seeds trained the models and which images happen to be in
    the test split. The bootstrap repeats the comparison ``n_boot`` times on redrawn seeds and
    redrawn test images (both with replacement, the same images for A and B) and takes the
    middle ``confidence`` of the differences as the interval. The verdict:

    * ``cannot compare`` when a model did not learn (mean test accuracy at most :data:`_LEARNED`
      times chance): a difference with a model that guesses says nothing about the other;
    * ``cannot tell`` with fewer than :data:`_MIN_SEEDS` seeds, or when the interval holds 0;
    * otherwise ``B is better`` (interval above 0) or ``B is worse`` (below 0).

    Parameters
    ----------
    y_true : array-like of int, shape (n,)
        The test labels.
    preds_a, preds_b : array-like of int, shape (s, n)
        Predicted labels of A and B, one row per seed; row ``j`` of both comes from seed ``j``.
    num_classes : int
        ``k``.
    names : tuple of str
        ``(A, B)`` for the verdict line.
    confidence : float
        The interval's coverage.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling, so the verdict is repeatable.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> y = np.tile([0, 1, 2], 100)
    >>> a = np.stack([np.where(np.arange(300) % 4 == 0, (y + 1) % 3, y)] * 3)  # 75% right
    >>> b = np.stack([y] * 3)                                                # all right
    >>> compare(y, a, b, 3, names=("weak", "strong")).outcome
    'strong is better'
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    preds = [np.atleast_2d(np.asarray(p, dtype=np.int64)) for p in (preds_a, preds_b)]
    if preds[0].shape != preds[1].shape or preds[0].shape[1] != len(y_true):
        raise ValueError(f"preds_a {preds[0].shape} and preds_b {preds[1].shape} must both have shape "
                         f"(seeds, {len(y_true)}), the test labels' length")
    if not len(y_true):
        raise ValueError("no test images to compare on")
    k, (s, n) = int(num_classes), preds[0].shape
    codes = [y_true * k + p for p in preds]  # (s, n) each: the confusion-matrix cell of every prediction
    ones = np.ones(n)
    f1 = np.array([[_macro_f1_weighted(c[j], ones, k) for j in range(s)] for c in codes])  # (2, s)
    per_seed = f1[1] - f1[0]
    rng = np.random.default_rng(seed)
    boot = np.empty(n_boot)
    for r in range(n_boot):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        seeds = rng.integers(0, s, s)
        diffs = {j: _macro_f1_weighted(codes[1][j], weights, k) - _macro_f1_weighted(codes[0][j], weights, k)
                 for j in set(seeds.tolist())}
        boot[r] = np.mean([diffs[j] for j in seeds])
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    accuracy = {name: float(np.mean(p == y_true)) for name, p in zip(names, preds)}
    learned = {name: acc > _LEARNED / k for name, acc in accuracy.items()}
    if not all(learned.values()):
        outcome = "cannot compare: " + ", ".join(
            f"{name} did not learn (accuracy {accuracy[name]:.3f}, chance {1 / k:.3f})" for name in names
            if not learned[name])
    elif s < _MIN_SEEDS:
        outcome = f"cannot tell: {s} seed(s), the rule needs {_MIN_SEEDS}"
    elif low > 0 or high < 0:
        outcome = f"{names[1]} is {'better' if low > 0 else 'worse'}"
    else:
        outcome = "cannot tell: the interval holds 0"
    return _Comparison(names=tuple(names), difference=float(per_seed.mean()), interval=(float(low), float(high)),
                      per_seed=per_seed, bootstrap=boot, accuracy=accuracy, learned=learned, seeds=s, images=n,
                      confidence=confidence, outcome=outcome)


def _row_rates(cm) -> np.ndarray:
    """A confusion matrix with each row divided by its total.

    Parameters
    ----------
    cm : array of shape (k, k)
        Counts, rows the true class.

    Returns
    -------
    array of float, shape (k, k)
        ``rate[i, j]``: the fraction of class ``i`` predicted as ``j``; empty rows stay 0.
    """
    cm = np.asarray(cm, dtype=float)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def confused_pairs(cm, class_names, top=5):
    """The pairs of classes a classifier confuses most, from its confusion matrix.

    A pair's confusion is ``rate[i, j] + rate[j, i]`` (:func:`_row_rates`, both
    directions: 0.5 could be a quarter of each class going to the other, or half of one
    and none of the other).

    Parameters
    ----------
    cm : array-like, shape (k, k)
        Counts, rows the true class, columns the predicted one (sums of matrices work too).
    class_names : sequence of str, length k
        The classes, in the order of ``cm``'s rows.
    top : int or None, default 5
        How many pairs to return (``None``: all ``k * (k - 1) / 2``).

    Returns
    -------
    pandas.DataFrame
        One row per pair, most confused first, with columns ``"class a"``, ``"class b"``
        and ``"confusion"`` (in [0, 2]).
    """
    import pandas as pd

    cm = np.asarray(cm, dtype=float)
    names = [str(c) for c in class_names]
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (k, k) matrix, got shape {cm.shape}")
    if len(names) != cm.shape[0]:
        raise ValueError(f"{len(names)} class names for a {cm.shape[0]}x{cm.shape[1]} confusion matrix")
    if np.any(cm < 0) or not np.all(np.isfinite(cm)):
        raise ValueError("cm must hold non-negative, finite counts")
    if top is not None and (isinstance(top, bool) or int(top) != top or top < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    rates = _row_rates(cm)
    k = len(names)
    pairs = [(names[i], names[j], rates[i, j] + rates[j, i]) for i in range(k) for j in range(i + 1, k)]
    table = pd.DataFrame(pairs, columns=["class a", "class b", "confusion"])
    table = table.sort_values("confusion", ascending=False, kind="stable")
    if top is not None:
        table = table.head(int(top))
    return table.reset_index(drop=True)


def _check_bins(bins, what="bins"):
    if bins is None:
        return
    if np.isscalar(bins):
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"{what} must be a positive integer, a sequence of edges or None, got {bins!r}")
        return
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{what}: bin edges must be an increasing sequence of at least 2 numbers, got {bins!r}")


def _slice_values(values, bins, max_levels):
    """The grouping values of one metadata column: as they are for booleans,
    strings and numbers with at most ``max_levels`` distinct values, else
    ``pandas.Interval`` bins (``bins`` an int: quantile bins; a sequence: bin
    edges). Values outside the bins become NaN (left out)."""
    import pandas as pd

    if values.dtype == bool or values.dtype == object or isinstance(values.dtype, pd.CategoricalDtype):
        return values
    if not pd.api.types.is_numeric_dtype(values):
        return values.astype(str)
    if bins is None or (np.isscalar(bins) and values.nunique() <= max_levels):
        return values
    if np.isscalar(bins):  # (an all-NaN column has no distinct values: returned above)
        edges = np.unique(np.quantile(values.dropna(), np.linspace(0, 1, int(bins) + 1)))
        if len(edges) < 2:  # a constant column: one group
            return values
    else:
        edges = np.asarray(bins, dtype=float)

    def intervals(rounded):  # [low, high] for the first bin, (low, high] for the others
        r = (lambda v: float(f"{v:.3g}")) if rounded else (lambda v: v)
        return [pd.Interval(r(edges[i]), r(edges[i + 1]), closed="both" if i == 0 else "right")
                for i in range(len(edges) - 1)]

    labels = intervals(rounded=True)  # 3 significant digits for display,
    if len(set(labels)) < len(labels):  # unless edges are too close for that
        labels = intervals(rounded=False)
    return pd.cut(values, edges, include_lowest=True, labels=labels, ordered=False)


def _independence_p_value(table):
    """p-value of "the error rate does not depend on the group", from a table
    ``(groups, 2)`` of (errors, right) counts: Fisher's exact test for two groups,
    chi-square for more, NaN for one group."""
    from scipy.stats import chi2_contingency, fisher_exact

    if len(table) < 2:
        return float("nan")
    if len(table) == 2:
        return float(fisher_exact(table).pvalue)
    if table[:, 0].sum() == 0 or table[:, 1].sum() == 0:
        return 1.0  # no errors at all, or nothing right: the rate cannot differ
    return float(chi2_contingency(table).pvalue)


def error_rates_by(meta, y_true, y_pred, columns, bins=4, max_levels=10, confidence=0.95):
    """Error rate of a classifier for each value of some per-image attributes ("are faces
    with sunglasses misclassified more often?").

    Parameters
    ----------
    meta : DataFrame, one row per image in the order of ``y_true`` (e.g. a generated
        set's ``data.test.meta``: ``glasses``, ``sunglasses``, ``yaw``, ...).
    y_true, y_pred : int arrays ``(n,)``.
    columns : a column name or a list of them.
    bins : for numeric columns: an int ``b`` cuts those with more than ``max_levels``
        distinct values into ``b`` quantile bins; a sequence gives bin edges (values
        outside are left out); a dict maps column names to either (others: 4);
        ``None`` groups by raw values. Booleans and strings are used as they are.
    confidence : level of the Wilson intervals (:func:`accuracy_interval`).

    Returns
    -------
    DataFrame, one row per (attribute, value): ``attribute``, ``value`` (or a
    ``pandas.Interval`` bin), ``images``, ``errors``, ``error_rate``, ``ci_low``,
    ``ci_high``, and ``p_value`` of "the error rate does not depend on this attribute"
    (Fisher's exact test for two values, chi-square for more; NaN for one value).
    Images with a missing value are left out. Testing many attributes makes some
    small p-values likely by chance (at 0.05, one in twenty attributes that do not matter).
    """
    import pandas as pd

    if not isinstance(meta, pd.DataFrame):
        raise TypeError(f"meta must be a pandas DataFrame, got {type(meta).__name__}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or len(y_true) != len(meta):
        raise ValueError(
            f"meta ({len(meta)} rows), y_true {y_true.shape} and y_pred {y_pred.shape} must describe "
            "the same images, as 1-D label arrays"
        )
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in meta.columns]
    if missing:
        raise KeyError(f"no column(s) {missing} in meta; columns: {list(meta.columns)}")
    if isinstance(bins, dict):
        for column, value in bins.items():
            _check_bins(value, f"bins[{column!r}]")
    else:
        _check_bins(bins)
    wrong = pd.Series(y_true != y_pred, index=meta.index)
    rows = []
    for column in columns:
        col_bins = bins.get(column, 4) if isinstance(bins, dict) else bins
        values = _slice_values(meta[column], col_bins, max_levels)
        counts = wrong.groupby(values, observed=True, sort=True).agg(["size", "sum"])
        p = _independence_p_value(np.stack([counts["sum"], counts["size"] - counts["sum"]], axis=1))
        for value, (n, errors) in counts.iterrows():
            low, high = accuracy_interval(int(errors), int(n), confidence)
            rows.append({
                "attribute": column, "value": value, "images": int(n), "errors": int(errors),
                "error_rate": errors / n, "ci_low": low, "ci_high": high, "p_value": p,
            })
    out_columns = ["attribute", "value", "images", "errors", "error_rate", "ci_low", "ci_high", "p_value"]
    return pd.DataFrame(rows, columns=out_columns)


def chance_ceiling(num_classes, n, confidence=0.95) -> float:
    """The highest accuracy a guessing model plausibly reaches.

    Parameters
    ----------
    num_classes : int
        Classes (a guess is right with probability ``1 / num_classes``).
    n : int
        Test images.
    confidence : float, default 0.95
        The interval's confidence.

    Returns
    -------
    float
        The top of the Wilson interval (:func:`accuracy_interval`) of an accuracy of
        ``1 / num_classes`` on ``n`` images: a model at or below it may be guessing.
    """
    return accuracy_interval(round(n / num_classes), n, confidence)[1]
