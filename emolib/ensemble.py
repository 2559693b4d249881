"""Ensembles of trained classifiers, their diversity, and knowledge distillation.

Every function takes the members' class probabilities on the same images,
``probas`` ``(m, n, k)`` (``m`` members, ``n`` images, ``k`` classes; rows sum to 1).

* combiners: :func:`soft_vote`, :func:`hard_vote`, :func:`fit_weights` (weights that
  minimise the validation log-loss), :func:`fit_stacking` (a ``LogisticRegression``),
  and :func:`combine`, which fits one on validation and scores it on test;
* diversity: :func:`disagreement`, :func:`error_correlation`, :func:`pair_table`;
* deployment: :func:`ensemble_model` (one Keras model of standard layers), :func:`save_model`;
* distillation (Hinton et al., 2015; keras-io's "Knowledge Distillation"):
  :class:`Distiller`, :func:`distillation_dataset`;
* :func:`find_runs`: saved runs (:mod:`emolib.runs`) reusable as members.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, is_dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from . import runs
# Probabilities are clipped to [EPS, 1] (Keras' epsilon) before logarithms; log_loss (one
# implementation, re-exported here) is the cross-entropy Keras reports as "loss".
from .evaluation import EPS, log_loss  # noqa: F401
from .fileio import _jsonable

__all__ = [
    "Distiller", "METHODS", "as_probas", "combine", "disagreement", "distillation_dataset", "distillation_loss",
    "ensemble_model", "error_correlation", "find_runs", "fit_stacking", "fit_weights", "hard_vote", "log_loss",
    "pair_table", "save_model", "soft_vote", "soften", "stacking_features"
]


def as_probas(probas, name="probas") -> np.ndarray:
    """Members' probabilities as one checked array.

    Parameters
    ----------
    probas : array of shape (m, n, k) or list of m arrays of shape (n, k)
        Each member's probabilities.
    name : str, default "probas"
        The argument's name in error messages.

    Returns
    -------
    array of float64, shape (m, n, k)
        The probabilities; ``ValueError`` naming ``name`` unless finite, in [0, 1] and rows
        summing to 1 +- 1e-3.
    """
    try:
        p = np.asarray(probas, dtype=np.float64)
    except ValueError as err:  # ragged list
        raise ValueError(f"{name}: the members' probability arrays must all have shape (n, k): {err}") from None
    if p.ndim != 3 or p.shape[0] < 1 or p.shape[2] < 2:
        raise ValueError(f"{name} must have shape (members, images, classes) with classes >= 2, got {p.shape}")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1 + 1e-6):
        raise ValueError(f"{name} must hold finite probabilities in [0, 1]")
    sums = p.sum(axis=2)
    if p.shape[1] and np.max(np.abs(sums - 1)) > 1e-3:
        raise ValueError(f"{name}: every member's rows must sum to 1 (max deviation {np.max(np.abs(sums - 1)):.3g})")
    return p


def _labels(labels, n, k, name="labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the probabilities, got {y.shape}")
    if n and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= k):
        raise ValueError(f"{name} must be integers in 0..{k - 1}")
    return y.astype(np.int64)


def _weights(weights, m, name="weights") -> np.ndarray:
    if weights is None:
        return np.full(m, 1.0 / m)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"{name} must have one value per member, shape ({m},), got {w.shape}")
    if not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero, got {w.tolist()}")
    return w / w.sum()


def soft_vote(probas, weights=None) -> np.ndarray:
    """Soft voting: the weighted mean ``(n, k)`` of ``probas`` ``(m, n, k)``; ``weights``
    ``(m,)`` non-negative, normalised to sum to 1 (``None``: equal)."""
    p = as_probas(probas)
    w = _weights(weights, len(p))
    return np.tensordot(w, p, axes=1)


def hard_vote(probas, weights=None) -> np.ndarray:
    """Hard (majority) voting: int predictions ``(n,)``, each member voting for its most
    probable class (``weights`` ``(m,)`` weigh the votes; ``None``: one each).

    Ties go to the class with the highest soft-vote probability, then the lowest index:
    with two members that disagree, hard voting follows the soft vote.
    """
    p = as_probas(probas)
    w = _weights(weights, len(p))
    m, n, k = p.shape
    votes = np.zeros((n, k))
    members_pred = p.argmax(axis=2)
    for i in range(m):
        votes[np.arange(n), members_pred[i]] += w[i]
    top = votes >= votes.max(axis=1, keepdims=True) - 1e-12
    soft = np.tensordot(w, p, axes=1)
    return np.where(top, soft, -np.inf).argmax(axis=1)


def fit_weights(probas, labels) -> np.ndarray:
    """Weights ``(m,)`` for :func:`soft_vote` fitted on labelled (validation) images.

    Minimises the log-loss of ``sum_i w_i probas[i]`` over the simplex with SciPy's
    SLSQP and the analytic gradient, from equal weights. The problem is convex, so the
    minimum is global (not always unique: identical members share their weight).
    Members that only add noise get weights near 0 (below 1e-6: set to 0).
    """
    from scipy.optimize import minimize

    p = as_probas(probas)
    m, n, k = p.shape
    y = _labels(labels, n, k)
    if n == 0:
        raise ValueError("fit_weights needs at least one labelled image")
    if m == 1:
        return np.ones(1)
    true = p[:, np.arange(n), y]  # (m, n): each member's probability of the true class

    def loss(w):
        mix = np.clip(w @ true, EPS, None)
        return -np.mean(np.log(mix)), -(true / mix).mean(axis=1)

    result = minimize(
        loss, np.full(m, 1.0 / m), jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        options={"maxiter": 500, "ftol": 1e-10},
    )
    w = np.clip(result.x, 0.0, None)
    w[w < 1e-6] = 0.0
    return w / w.sum()


def stacking_features(probas) -> np.ndarray:
    """Every member's probabilities side by side: the stacker's input.

    Parameters
    ----------
    probas : array of shape (m, n, k)
        The members' probabilities.

    Returns
    -------
    array of shape (n, m * k)
        One row per image.
    """
    p = as_probas(probas)
    m, n, k = p.shape
    return p.transpose(1, 0, 2).reshape(n, m * k)


def fit_stacking(probas, labels, C=1.0):
    """Stacking: a scikit-learn ``LogisticRegression`` (L2 strength ``1 / C``) fitted on
    the members' probabilities on labelled images (the validation split: the members
    never trained on it, so their outputs there look like those on new images).

    Returns the estimator; ``predict_proba(stacking_features(P))`` gives ``(n, k)``.
    """
    from sklearn.linear_model import LogisticRegression

    p = as_probas(probas)
    y = _labels(labels, p.shape[1], p.shape[2])
    if len(np.unique(y)) < 2:
        raise ValueError("fit_stacking needs labels of at least two classes")
    return LogisticRegression(C=C, max_iter=2000).fit(stacking_features(p), y)


def _stacking_proba(model, probas, k):
    """``predict_proba`` with one column per class (0 for classes the stacker never saw)."""
    out = np.zeros((probas.shape[1], k))
    out[:, model.classes_] = model.predict_proba(stacking_features(probas))
    return out


def _cross_val_proba(method, probas, labels, folds=5, seed=0, C=1.0) -> np.ndarray:
    """Out-of-fold probabilities ``(n, k)`` of ``method`` ``"weighted"`` or ``"stacking"``.

    Each of ``folds`` ``StratifiedKFold`` folds (shuffled with ``seed``) is predicted by
    the combiner fitted on the others: an honest score, where scoring the combiner on
    the images it was fitted on would flatter it.
    """
    from sklearn.model_selection import StratifiedKFold

    if method not in ("weighted", "stacking"):
        raise ValueError(f"method must be 'weighted' or 'stacking', got {method!r}")
    p = as_probas(probas)
    m, n, k = p.shape
    y = _labels(labels, n, k)
    counts = np.bincount(y, minlength=k)
    if folds < 2 or counts[counts > 0].min() < folds:
        raise ValueError(f"need folds >= 2 and at least {folds} images of every present class, got {counts.tolist()}")
    out = np.zeros((n, k))
    for fit_idx, pred_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), y):
        if method == "weighted":
            out[pred_idx] = soft_vote(p[:, pred_idx], fit_weights(p[:, fit_idx], y[fit_idx]))
        else:
            out[pred_idx] = _stacking_proba(fit_stacking(p[:, fit_idx], y[fit_idx], C=C), p[:, pred_idx], k)
    return out


#: The combiners :func:`combine` knows.
METHODS = ("soft", "weighted", "hard", "stacking")


def combine(method, val_probas, val_labels, test_probas, folds=5, seed=0):
    """Fit a combiner on validation and apply it to test.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    val_probas : array of shape (m, n_val, k)
        The members' validation probabilities.
    val_labels : array of int, shape (n_val,)
        Validation labels.
    test_probas : array of shape (m, n_test, k)
        The members' test probabilities.
    folds : int, default 5
        Folds of the out-of-fold validation predictions.
    seed : int, default 0
        Seed of the folds and of the stacker.

    Returns
    -------
    dict
        ``val_pred`` ``(n_val,)`` (out-of-fold, :func:`_cross_val_proba`, for the fitted
        combiners, so methods compare fairly), ``test_pred`` ``(n_test,)``, ``test_proba``
        ``(n_test, k)`` (``None`` for hard voting), ``weights`` (``None`` for stacking) and
        ``stacker`` (stacking's estimator).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    pv, pt = as_probas(val_probas, "val_probas"), as_probas(test_probas, "test_probas")
    if pv.shape[0] != pt.shape[0] or pv.shape[2] != pt.shape[2]:
        raise ValueError(f"val_probas {pv.shape} and test_probas {pt.shape} need the same members and classes")
    y = _labels(val_labels, pv.shape[1], pv.shape[2], "val_labels")
    m, k = pv.shape[0], pv.shape[2]
    out = {"weights": np.full(m, 1.0 / m), "stacker": None, "test_proba": None}
    if method == "soft":
        out["val_pred"] = soft_vote(pv).argmax(axis=1)
        out["test_proba"] = soft_vote(pt)
    elif method == "hard":
        out["val_pred"] = hard_vote(pv)
        out["test_pred"] = hard_vote(pt)
    elif method == "weighted":
        out["weights"] = fit_weights(pv, y)
        out["val_pred"] = _cross_val_proba("weighted", pv, y, folds, seed).argmax(axis=1)
        out["test_proba"] = soft_vote(pt, out["weights"])
    else:
        out["weights"] = None
        out["stacker"] = fit_stacking(pv, y)
        out["val_pred"] = _cross_val_proba("stacking", pv, y, folds, seed).argmax(axis=1)
        out["test_proba"] = _stacking_proba(out["stacker"], pt, k)
    if out["test_proba"] is not None:
        out["test_pred"] = out["test_proba"].argmax(axis=1)
    return out


def _predictions(preds, name="preds") -> np.ndarray:
    """``(m, n)`` int predictions from predictions or from ``(m, n, k)`` probabilities."""
    a = np.asarray(preds)
    if a.ndim == 3:
        return as_probas(a, name).argmax(axis=2)
    if a.ndim != 2:
        raise ValueError(f"{name} must be predictions (members, images) or probabilities "
                         f"(members, images, classes), got shape {a.shape}")
    return a.astype(np.int64)


def disagreement(preds) -> np.ndarray:
    """Pairwise disagreement of ensemble members.

    Members that never disagree add nothing to a vote.

    Parameters
    ----------
    preds : array of shape (m, n) or (m, n, k)
        Predicted classes, or probabilities.

    Returns
    -------
    array of float, shape (m, m)
        The fraction of images on which members ``i`` and ``j`` predict different classes.
    """
    a = _predictions(preds)
    return (a[:, None, :] != a[None, :, :]).mean(axis=2)


def error_correlation(preds, labels) -> np.ndarray:
    """Pairwise correlation ``(m, m)`` of the members' errors.

    Each member's errors are a 0/1 vector over the images (1 = wrong); entry
    ``(i, j)`` is the Pearson correlation of vectors ``i`` and ``j`` (the phi
    coefficient). 1: they fail on exactly the same images, 0: independently,
    negative: one tends to be right where the other is wrong, the best case for
    voting. NaN for a member that is right on every image or wrong on every one
    (its error vector has no variance); 1 on the rest of the diagonal.

    ``preds``: predictions ``(m, n)`` or probabilities ``(m, n, k)``; ``labels``: ``(n,)``.
    """
    a = _predictions(preds)
    y = np.asarray(labels)
    if y.shape != (a.shape[1],):
        raise ValueError(f"labels must have shape ({a.shape[1]},), got {y.shape}")
    errors = (a != y[None, :]).astype(np.float64)
    centred = errors - errors.mean(axis=1, keepdims=True)
    norms = np.sqrt((centred**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (centred @ centred.T) / np.outer(norms, norms)


def pair_table(probas, labels, names=None):
    """Every pair of members: their accuracies, their soft vote's, and how differently they err.

    Parameters
    ----------
    probas : array of shape (m, n, k)
        The members' probabilities.
    labels : array of int, shape (n,)
        True classes.
    names : list of str, optional
        The members' names (default their indices).

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``a``, ``b``, ``accuracy a``, ``accuracy b``, ``soft vote`` (the pair's
        accuracy), ``gain`` (over the better member), ``disagreement`` and ``error correlation``.
    """
    import pandas as pd

    p = as_probas(probas)
    m, n, k = p.shape
    y = _labels(labels, n, k)
    names = [f"member{i}" for i in range(m)] if names is None else [str(s) for s in names]
    if len(names) != m:
        raise ValueError(f"{len(names)} names for {m} members")
    preds = p.argmax(axis=2)
    acc = (preds == y).mean(axis=1)
    dis, corr = disagreement(preds), error_correlation(preds, y)
    rows = []
    for i, j in itertools.combinations(range(m), 2):
        pair = float((soft_vote(p[[i, j]]).argmax(axis=1) == y).mean())
        rows.append({"a": names[i], "b": names[j], "accuracy a": acc[i], "accuracy b": acc[j],
                     "soft vote": pair, "gain": pair - max(acc[i], acc[j]),
                     "disagreement": dis[i, j], "error correlation": corr[i, j]})
    return pd.DataFrame(rows, columns=["a", "b", "accuracy a", "accuracy b", "soft vote", "gain",
                                       "disagreement", "error correlation"])


def find_runs(runs_dir, experiment, data):
    """The saved runs of ``experiment`` that can serve as ensemble members: complete
    (:func:`emolib.runs._read_run`), with a config whose ``data`` section equals ``data``
    (a :class:`~emolib.experiment.DataConfig` or its dict), hence the same images.

    Parameters
    ----------
    runs_dir : str or pathlib.Path
        The runs folder (``runs/``), holding one folder per experiment.
    experiment : str
        The experiment whose run folders are searched.
    data : emolib.experiment.DataConfig or dict
        The data configuration the members must have been trained and evaluated on.

    Returns
    -------
    runs : list of pathlib.Path
        The reusable run folders, sorted.
    skipped : dict
        ``{run name: reason}`` for each run folder that cannot serve.
    """
    wanted = _jsonable(asdict(data) if is_dataclass(data) else dict(data))
    found_runs, skipped = [], {}
    for run in runs._run_folders(runs_dir, experiment):
        try:
            found = runs._read_run(run)[0].get("data")
        except runs.RunFolderError as err:
            skipped[run.name] = err.reason
            continue
        if found != wanted:
            differ = sorted(key for key in set(wanted) | set(found or {})
                            if (found or {}).get(key) != wanted.get(key))
            skipped[run.name] = f"other data (differs in {', '.join(differ)})"
            continue
        found_runs.append(run)
    return found_runs, skipped


def ensemble_model(members, weights=None, names=None, name="ensemble"):
    """One Keras model that outputs :func:`soft_vote` of ``members``' outputs.

    ``members``: models with one input shape and number of classes; ``weights``: ``(m,)``
    (``None``: a plain ``Average``; members with weight 0 are left out); ``names``: the
    members' names inside (default: their own, numbered where they repeat). Standard
    layers only (``Rescaling`` by each weight, ``Add`` / ``Average``), so it saves,
    loads and exports like a single model.
    """
    from keras import layers

    members = list(members)
    if not members:
        raise ValueError("ensemble_model needs at least one member")
    w = _weights(weights, len(members))
    shapes = {tuple(mdl.input_shape[1:]) for mdl in members}
    outputs = {mdl.output_shape[-1] for mdl in members}
    if len(shapes) != 1 or len(outputs) != 1:
        raise ValueError(f"members must share one input shape and number of classes, "
                         f"got input shapes {sorted(shapes)} and outputs {sorted(outputs)}")
    names = [mdl.name for mdl in members] if names is None else [str(s) for s in names]
    if len(names) != len(members):
        raise ValueError(f"{len(names)} names for {len(members)} members")
    unique = [base if names.count(base) == 1 else f"{base}_{names[:i + 1].count(base)}"
              for i, base in enumerate(names)]

    inputs = keras.Input(shape=shapes.pop(), name="image")
    kept = [i for i in range(len(members)) if w[i] > 0]
    outs = []
    for i in kept:
        # A functional view of the member under a unique name (the weights are shared).
        member = keras.Model(members[i].input, members[i].output, name=unique[i])
        out = member(inputs)
        if weights is not None and len(kept) > 1:
            out = layers.Rescaling(float(w[i]), name=f"{unique[i]}_weight")(out)
        outs.append(out)
    if len(outs) > 1:
        outs = [layers.Average(name="mean")(outs) if weights is None else layers.Add(name="weighted_mean")(outs)]
    return keras.Model(inputs, outs[0], name=name)


def save_model(model, path):
    """``model.save(path)`` atomically (:func:`emolib.fileio.atomic_path`).

    Parameters
    ----------
    model : keras.Model
        The model.
    path : str or pathlib.Path
        A ``.keras`` file.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.
    """
    from .fileio import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_model writes Keras' .keras format; '{path}' must end in .keras")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


def distillation_dataset(images, labels, teacher_proba, num_classes, batch_size=32, training=False,
                         image_size=None, channels=None, seed=0):
    """Batches of images with their labels and a teacher's probabilities, for distillation.

    :func:`emolib.pipeline.make_dataset` with the teacher's probabilities as
    ``soft_targets``. Shuffling draws whole rows, so an image keeps its teacher output; no
    augmentation.

    Parameters
    ----------
    images : array of shape (n, height, width, channels)
        The images.
    labels : array of int, shape (n,)
        True classes.
    teacher_proba : array of shape (n, num_classes)
        The teacher's probabilities, computed once per image.
    num_classes : int
        Classes.
    batch_size : int, default 32
        Images per batch.
    training : bool, default False
        Shuffle (reproducibly from ``seed``).
    image_size, channels : int, optional
        Resize and convert the images (default: as they are).
    seed : int, default 0
        Seed of the shuffle.

    Returns
    -------
    tf.data.Dataset
        ``(images, (one_hot_labels, teacher_proba))`` batches.
    """
    from .pipeline import make_dataset

    n = len(images)
    y = _labels(labels, n, num_classes)
    t = as_probas(np.asarray(teacher_proba)[None], "teacher_proba")[0]
    if t.shape != (n, num_classes):
        raise ValueError(f"teacher_proba must have shape ({n}, {num_classes}), got {t.shape}")
    return make_dataset(images, y, num_classes, batch_size, training, image_size, channels, soft_targets=t, seed=seed)


def soften(proba, temperature):
    """Probabilities at a temperature: ``softmax(log(proba) / temperature)``.

    ``log(proba)`` (clipped at :data:`EPS`) stands in for logits (they differ by a constant per
    row).

    Parameters
    ----------
    proba : array of shape (..., k)
        Probabilities.
    temperature : float
        Above 1: flatter.

    Returns
    -------
    array of shape (..., k)
        The softened probabilities.
    """
    return ops.softmax(ops.log(ops.clip(proba, EPS, 1.0)) / temperature, axis=-1)


def distillation_loss(labels, teacher_proba, student_proba, temperature=3.0, alpha=0.1):
    """Hinton et al.'s (2015) distillation loss of one batch: ``(loss, student_loss, soft_loss)``.

    ``labels`` one-hot ``(b, k)``; ``teacher_proba``, ``student_proba`` ``(b, k)``.
    ``student_loss``: the student's cross-entropy on the hard labels; ``soft_loss``:
    ``T**2 * KL(soften(teacher, T) || soften(student, T))`` (``T**2`` keeps its gradients
    on the hard term's scale); ``loss = alpha * student_loss + (1 - alpha) * soft_loss``.
    """
    student_loss = ops.mean(keras.losses.categorical_crossentropy(labels, student_proba))
    soft = keras.losses.kl_divergence(soften(teacher_proba, temperature), soften(student_proba, temperature))
    soft_loss = ops.mean(soft) * temperature**2
    return alpha * student_loss + (1.0 - alpha) * soft_loss, student_loss, soft_loss


class Distiller(keras.Model):
    """Trains ``student`` on hard labels and a teacher's soft probabilities (Hinton et
    al., 2015), after keras-io's "Knowledge Distillation" example.

    The loss is :func:`distillation_loss`. The temperature ``T > 1`` flattens the
    teacher's distribution (:func:`soften`), raising the small probabilities that carry
    what it "knows" about similar classes (a sad face that looks a little neutral).
    ``alpha=1`` is plain training on the hard labels, with the same data and order.

    Unlike keras-io's version the teacher is not called during training: its
    probabilities come with the data (:func:`distillation_dataset`), so an ensemble is
    evaluated once per image, not once per image and epoch. Compile with an optimizer
    and metrics (against the hard labels); save and deploy ``distiller.student``.
    """

    def __init__(self, student, temperature=3.0, alpha=0.1, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.student = student
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")

    def call(self, x, training=False):
        return self.student(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels, teacher_proba = y
        loss, student_loss, soft_loss = distillation_loss(labels, teacher_proba, y_pred, self.temperature, self.alpha)
        self.student_loss_tracker.update_state(student_loss)
        self.distillation_loss_tracker.update_state(soft_loss)
        for extra in self.losses:  # e.g. the student's weight penalties
            loss = loss + extra
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y[0], y_pred, sample_weight)
