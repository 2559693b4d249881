"""Evaluate a trained classifier: accuracy, top-k accuracy, per-class precision,
recall and F1, macro/weighted averages and the confusion matrix (scikit-learn's
definitions)."""

from __future__ import annotations

import warnings

import numpy as np
import tensorflow as tf


def _model_image_spec(model):
    """``(image_size, channels)`` the model expects, ``None`` where unknown."""
    try:
        shape = tuple(model.input_shape)
    except (AttributeError, ValueError):
        return None, None
    if len(shape) != 4:
        return None, None
    size = shape[1:3] if None not in shape[1:3] else None
    return size, shape[3]


def predict_proba(model, x, batch_size=256):
    """Class probabilities ``(n, num_classes)`` (``float32`` numpy) for ``x``.

    ``x`` is an array of images ``(n, h, w, c)`` or a ``tf.data.Dataset`` yielding
    image batches or ``(images, labels)`` batches. ``uint8`` images are scaled to
    [0, 1] and converted to the model's input size and channels (as
    :func:`emolib.pipeline.make_dataset` does); float images are used as they are.

    Calls the model directly on batches of ``batch_size`` instead of
    ``model.predict``, which costs tens of milliseconds per call on small inputs.
    """
    from .pipeline import convert_batch

    if isinstance(x, tf.data.Dataset):
        batches = (b[0] if isinstance(b, (tuple, list)) else b for b in x)
    else:
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        batches = (x[i : i + batch_size] for i in range(0, len(x), batch_size))
    size, channels = _model_image_spec(model)
    out = []
    for batch in batches:
        if batch.dtype == np.uint8 or batch.dtype == tf.uint8:
            batch = convert_batch(batch, size, channels)
        out.append(np.asarray(model(batch, training=False), dtype=np.float32))
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


def top_k_accuracy(labels, proba, k):
    """Fraction of samples whose true class is among the ``k`` most probable
    (scikit-learn's ``top_k_accuracy_score``; 1.0 when ``k >= num_classes``)."""
    from sklearn.metrics import top_k_accuracy_score

    num_classes = proba.shape[1]
    if k >= num_classes:
        return 1.0
    if num_classes == 2:  # sklearn wants the positive-class score for binary data
        return float(top_k_accuracy_score(labels, proba[:, 1], k=k, labels=[0, 1]))
    return float(top_k_accuracy_score(labels, proba, k=k, labels=np.arange(num_classes)))


def evaluate(model, images_or_dataset, labels=None, class_names=None, batch_size=256, top_k=(2, 3)):
    """Evaluate ``model`` on images (or a dataset) and return a dict of metrics.

    Parameters
    ----------
    model : Keras model returning class probabilities ``(n, num_classes)``.
    images_or_dataset : images ``(n, h, w, c)`` or a ``tf.data.Dataset`` of
        ``(images, labels)`` batches (labels one-hot or integer).
    labels : int array ``(n,)``; required with images, taken from the dataset
        when ``None``.
    class_names : names of the ``num_classes`` classes (default ``"0"``, ``"1"``, ...).
    batch_size : images per model call (arrays only).
    top_k : the ``k`` of the top-k accuracies.

    Returns
    -------
    dict with

    * ``accuracy``, ``top_2_accuracy``, ``top_3_accuracy`` (fractions in [0, 1]);
    * ``loss``: mean cross-entropy (natural log) of the true class;
    * ``per_class``: ``{name: {"precision", "recall", "f1", "support"}}``;
    * ``macro_avg`` and ``weighted_avg``: ``{"precision", "recall", "f1"}``
      (unweighted mean over classes / mean weighted by support);
    * ``num_samples``; ``class_names``;
    * ``confusion_matrix``: ``int64`` array ``(k, k)``, rows true, columns predicted;
    * ``report``: scikit-learn's text classification report;
    * ``y_true``, ``y_pred`` (int arrays ``(n,)``) and ``proba`` ``(n, k)``.
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
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    class_names = [str(c) for c in class_names]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model with {num_classes} outputs")
    y_pred = proba.argmax(axis=1)
    ids = np.arange(num_classes)
    if not len(y_true):  # an empty split: nothing to measure (scikit-learn refuses empty input)
        nan = float("nan")
        empty = {"precision": nan, "recall": nan, "f1": nan}
        return {
            "accuracy": nan, **{f"top_{k}_accuracy": nan for k in top_k}, "loss": nan,
            "per_class": {name: {**empty, "support": 0} for name in class_names},
            "macro_avg": dict(empty), "weighted_avg": dict(empty), "num_samples": 0,
            "class_names": class_names, "confusion_matrix": np.zeros((num_classes, num_classes), np.int64),
            "report": "no images to evaluate\n", "y_true": y_true, "y_pred": y_pred, "proba": proba,
        }

    report = classification_report(
        y_true, y_pred, labels=ids, target_names=class_names, output_dict=True, zero_division=0
    )

    def prf(entry):
        return {
            "precision": float(entry["precision"]),
            "recall": float(entry["recall"]),
            "f1": float(entry["f1-score"]),
        }

    per_class = {
        name: {**prf(report[name]), "support": int(report[name]["support"])} for name in class_names
    }
    true_proba = np.clip(proba[np.arange(len(y_true)), y_true], 1e-7, 1.0) if len(y_true) else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on classes absent from y_true
        result = {
            "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
            **{f"top_{k}_accuracy": top_k_accuracy(y_true, proba, k) for k in top_k},
            "loss": float(-np.mean(np.log(true_proba))) if len(y_true) else float("nan"),
            "per_class": per_class,
            "macro_avg": prf(report["macro avg"]),
            "weighted_avg": prf(report["weighted avg"]),
            "num_samples": int(len(y_true)),
            "class_names": class_names,
            "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids),
            "report": classification_report(
                y_true, y_pred, labels=ids, target_names=class_names, digits=3, zero_division=0
            ),
            "y_true": y_true,
            "y_pred": y_pred,
            "proba": proba,
        }
    return result


def metrics_for_json(result) -> dict:
    """The JSON-friendly part of an :func:`evaluate` result (no arrays, no text)."""
    skip = {"confusion_matrix", "report", "y_true", "y_pred", "proba"}
    return {k: v for k, v in result.items() if k not in skip}


def accuracy_interval(correct, n, confidence=0.95):
    """Wilson score interval for an accuracy of ``correct`` out of ``n`` test images.

    Returns ``(low, high)`` as fractions. With 128 test images (seed 003's test
    split) a 50% accuracy is only known to about +-8.5 points.
    """
    from scipy.stats import norm

    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    z = norm.ppf(0.5 + confidence / 2)
    p = correct / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)


def mcnemar_test(y_true, pred_a, pred_b):
    """Paired comparison of two classifiers on the same test images (exact McNemar test).

    Only images where exactly one model is right carry information: ``b`` = A right
    and B wrong, ``c`` = A wrong and B right. Under "equally accurate", each such
    image is a fair coin flip, so the p-value is a two-sided binomial test of ``b``
    out of ``b + c``. Returns ``{"a_only": b, "b_only": c, "p_value": p}``.
    """
    from scipy.stats import binomtest

    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    a_right, b_right = pred_a == y_true, pred_b == y_true
    b = int(np.sum(a_right & ~b_right))
    c = int(np.sum(~a_right & b_right))
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"a_only": b, "b_only": c, "p_value": p}
