"""Ensembles of trained classifiers, their diversity, and knowledge distillation.

Ensembles here combine models that are *already trained*: what they need is each
member's class probabilities on the same images, stacked into one array

    probas : float array ``(m, n, k)``: ``m`` members, ``n`` images, ``k`` classes;
             ``probas[i]`` is member ``i``'s softmax output (rows sum to 1).

Combiners (plain functions, scikit-learn style; :func:`combine` runs any of them
the way a fair comparison needs: fitted on validation, scored on test):

* :func:`soft_vote`: the (weighted) mean of the members' probabilities;
* :func:`hard_vote`: the (weighted) majority of the members' predicted classes;
* :func:`fit_weights`: non-negative weights summing to 1 that minimise the
  log-loss of the weighted mean on labelled (validation) images;
* :func:`fit_stacking`: a scikit-learn ``LogisticRegression`` on the members'
  probabilities (:func:`stacking_features`);
* :func:`cross_val_proba`: out-of-fold probabilities of the two fitted combiners,
  an honest validation score for them (fitting and scoring on the same validation
  images would flatter them).

Diversity (why an ensemble does or does not help): :func:`disagreement`,
:func:`error_correlation`, and :func:`pair_table` (every pair of members: their
accuracies, the accuracy of their soft vote and its gain over the better one).

Deployment and distillation: :func:`ensemble_model` turns the members into one
Keras model (an average of their outputs, built from standard layers only, so it
saves, loads and exports like any model; :func:`save_model` writes it
atomically); :class:`Distiller` and
:func:`distillation_dataset` train a small student on the ensemble's soft
probabilities (Hinton et al., 2015; keras-io's "Knowledge Distillation" example).

:func:`find_runs` finds the saved runs (:mod:`emolib.runs`) of an
experiment that can be reused as members: complete, and trained on the wanted data.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, is_dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from . import runs
from .evaluation import EPS  # probabilities are clipped to [EPS, 1] (Keras' epsilon) before logarithms
from .fileio import jsonable


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def as_probas(probas, name="probas") -> np.ndarray:
    """``probas`` as a float64 array ``(m, n, k)``, checked.

    Accepts an array ``(m, n, k)`` or a list of ``m`` arrays ``(n, k)``. Raises
    ``ValueError`` (naming ``name``) unless every value is finite, in [0, 1], and
    every row sums to 1 within 1e-3 (softmax outputs in float32 do).
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


# --------------------------------------------------------------------------
# Combiners
# --------------------------------------------------------------------------


def soft_vote(probas, weights=None) -> np.ndarray:
    """Soft voting: the weighted mean of the members' probabilities.

    ``probas`` ``(m, n, k)``; ``weights`` ``(m,)`` non-negative (normalised to sum
    to 1; ``None``: equal). Returns ``(n, k)`` probabilities.
    """
    p = as_probas(probas)
    w = _weights(weights, len(p))
    return np.tensordot(w, p, axes=1)


def hard_vote(probas, weights=None) -> np.ndarray:
    """Hard (majority) voting: each member votes for its most probable class.

    ``probas`` ``(m, n, k)``; ``weights`` ``(m,)`` weigh the votes (``None``: one
    vote each). Returns int predictions ``(n,)``.

    Tie-break: among the classes with the most votes, the one with the highest
    soft-vote probability (:func:`soft_vote` with the same weights) wins, and if
    that ties too, the lowest class index. With two members that disagree the
    vote is always tied, so hard voting then follows the soft vote.
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


def log_loss(proba, labels) -> float:
    """Mean negative log-probability of the true class (natural log, ``proba``
    clipped to ``[EPS, 1]``): the cross-entropy Keras reports as ``loss``
    (:func:`emolib.evaluation.log_loss`, i.e. ``sklearn.metrics.log_loss``, after
    checking the labels)."""
    from . import evaluation

    proba = np.asarray(proba, dtype=np.float64)
    return evaluation.log_loss(proba, _labels(labels, len(proba), proba.shape[1]))


def fit_weights(probas, labels) -> np.ndarray:
    """Weights for :func:`soft_vote` fitted on labelled images (use the validation
    split, never the test split).

    Minimises the log-loss of the weighted mean ``sum_i w_i probas[i]`` over the
    simplex (``w_i >= 0``, ``sum w_i = 1``) with SciPy's SLSQP and the analytic
    gradient, starting from equal weights. The problem is convex, so the minimum
    is global (though not always unique: two identical members can share their
    weight in any proportion). Members that only add noise get weights near 0.

    Returns ``(m,)`` weights summing to 1 (values below 1e-6 set to 0).
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
    """The stacking model's input: every member's probabilities side by side,
    ``(n, m * k)`` (member 0's ``k`` columns first)."""
    p = as_probas(probas)
    m, n, k = p.shape
    return p.transpose(1, 0, 2).reshape(n, m * k)


def fit_stacking(probas, labels, C=1.0):
    """Stacking: a scikit-learn ``LogisticRegression`` (multinomial, L2 penalty of
    strength ``1 / C``) that learns how to combine the members from their
    probabilities on labelled images (the validation split: the members never
    trained on it, so their probabilities there look like those on new images).

    Returns the fitted estimator; ``estimator.predict_proba(stacking_features(P))``
    gives ``(n, k)`` probabilities for new member probabilities ``P``.
    """
    from sklearn.linear_model import LogisticRegression

    p = as_probas(probas)
    y = _labels(labels, p.shape[1], p.shape[2])
    if len(np.unique(y)) < 2:
        raise ValueError("fit_stacking needs labels of at least two classes")
    return LogisticRegression(C=C, max_iter=2000).fit(stacking_features(p), y)


def _stacking_proba(model, probas, k):
    """``predict_proba`` with one column per class, also for classes the
    stacker never saw (probability 0)."""
    out = np.zeros((probas.shape[1], k))
    out[:, model.classes_] = model.predict_proba(stacking_features(probas))
    return out


def cross_val_proba(method, probas, labels, folds=5, seed=0, C=1.0) -> np.ndarray:
    """Out-of-fold probabilities ``(n, k)`` of a fitted combiner.

    ``method``: ``"weighted"`` (:func:`fit_weights` then :func:`soft_vote`) or
    ``"stacking"`` (:func:`fit_stacking`). The images are split into ``folds``
    stratified folds (scikit-learn's ``StratifiedKFold``, shuffled with ``seed``);
    each fold is predicted by the combiner fitted on the other folds. Scores of
    these probabilities are honest estimates of how the combiner fitted on all the
    images does on new ones; scores of the combiner on the images it was fitted
    on are optimistic.
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
    """Fit a combiner on the validation split and apply it to the test split.

    ``method``: ``"soft"`` (:func:`soft_vote`), ``"weighted"`` (:func:`soft_vote`
    with :func:`fit_weights`), ``"hard"`` (:func:`hard_vote`) or ``"stacking"``
    (:func:`fit_stacking`). ``val_probas`` ``(m, n_val, k)`` with ``val_labels``
    ``(n_val,)``, ``test_probas`` ``(m, n_test, k)``.

    Returns a dict:

    * ``val_pred`` ``(n_val,)``: validation predictions that are fair to compare
      between methods: out-of-fold (:func:`cross_val_proba`) for the two fitted
      combiners, plain for the two that fit nothing;
    * ``test_pred`` ``(n_test,)`` and ``test_proba`` ``(n_test, k)`` (``None`` for
      hard voting, which gives no probabilities), from the combiner fitted on the
      whole validation split;
    * ``weights``: the fitted weights (``"weighted"``), equal weights (``"soft"``,
      ``"hard"``) or ``None`` (``"stacking"``); ``stacker``: the fitted
      ``LogisticRegression`` (``"stacking"``) or ``None``.
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
        out["val_pred"] = cross_val_proba("weighted", pv, y, folds, seed).argmax(axis=1)
        out["test_proba"] = soft_vote(pt, out["weights"])
    else:
        out["weights"] = None
        out["stacker"] = fit_stacking(pv, y)
        out["val_pred"] = cross_val_proba("stacking", pv, y, folds, seed).argmax(axis=1)
        out["test_proba"] = _stacking_proba(out["stacker"], pt, k)
    if out["test_proba"] is not None:
        out["test_pred"] = out["test_proba"].argmax(axis=1)
    return out


# --------------------------------------------------------------------------
# Diversity
# --------------------------------------------------------------------------


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
    """Pairwise disagreement ``(m, m)``: the fraction of images on which members
    ``i`` and ``j`` predict different classes (0 on the diagonal).

    ``preds``: int predictions ``(m, n)`` or probabilities ``(m, n, k)``.
    Members that never disagree add nothing to a vote.
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

    ``preds``: int predictions ``(m, n)`` or probabilities ``(m, n, k)``;
    ``labels``: ``(n,)``.
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
    """Every pair of members and what averaging the two gains (a DataFrame).

    Columns: ``a``, ``b`` (member names), ``accuracy a``, ``accuracy b``,
    ``soft vote`` (accuracy of the pair's soft vote), ``gain`` (``soft vote``
    minus the better of the two accuracies: positive when the pair beats both of
    its members on these images), ``disagreement`` and ``error correlation``.
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
    columns = ["a", "b", "accuracy a", "accuracy b", "soft vote", "gain", "disagreement", "error correlation"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------
# Reusing saved runs as members
# --------------------------------------------------------------------------

def find_runs(runs_dir, experiment, data):
    """The saved runs of ``experiment`` that can serve as ensemble members.

    A run (``runs_dir/experiment/<run>/``, see :mod:`emolib.runs`) is reusable
    when it is complete (has ``best.keras``, ``config.json`` and ``metrics.json``)
    and its config's ``data`` section equals ``data`` (a
    :class:`~emolib.experiment.DataConfig` or its dict): same source, classes,
    image size, channels, split sizes and seed, hence the same images.

    Returns ``(runs, skipped)``: the reusable run folders (``Path``, sorted by
    name), and ``{run name: reason}`` for the others. A missing experiment folder
    gives ``([], {})``. Hidden (unfinished) run folders are ignored.
    """
    wanted = jsonable(asdict(data) if is_dataclass(data) else dict(data))
    found_runs, skipped = [], {}
    for run in runs.run_folders(runs_dir, experiment):
        try:
            found = runs.read_run(run)[0].get("data")
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


# --------------------------------------------------------------------------
# One Keras model for the ensemble
# --------------------------------------------------------------------------


def ensemble_model(members, weights=None, names=None, name="ensemble"):
    """One Keras model that outputs the (weighted) mean of ``members``' outputs.

    ``members``: Keras models with the same input shape and the same number of
    classes (softmax outputs). ``weights``: ``(m,)`` non-negative (normalised;
    ``None``: a plain ``Average``); members with weight 0 are left out, so they cost
    nothing at inference. ``names``: the members' names inside the ensemble
    (default: their own names, numbered where they repeat).

    Built from standard layers only (the members, ``Rescaling`` by each weight,
    ``Add`` / ``Average``), so it saves to ``.keras``, loads and exports like a
    single model. Its output equals :func:`soft_vote` of the members' outputs.
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
    seen = {}
    unique = []
    for base in names:
        seen[base] = seen.get(base, 0) + 1
        unique.append(base if names.count(base) == 1 else f"{base}_{seen[base]}")

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
    if len(outs) == 1:
        output = outs[0]
    elif weights is None:
        output = layers.Average(name="mean")(outs)
    else:
        output = layers.Add(name="weighted_mean")(outs)
    return keras.Model(inputs, output, name=name)


def save_model(model, path):
    """``model.save(path)`` atomically: Keras writes a hidden temporary ``.keras``
    file beside ``path``, renamed into place when complete
    (:func:`emolib.fileio.atomic_path`). Returns ``Path(path)``."""
    from .fileio import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_model writes Keras' .keras format; '{path}' must end in .keras")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


# --------------------------------------------------------------------------
# Knowledge distillation
# --------------------------------------------------------------------------


def distillation_dataset(images, labels, teacher_proba, num_classes, batch_size=32, training=False,
                         image_size=None, channels=None, seed=0):
    """A ``tf.data.Dataset`` of ``(images, (one_hot_labels, teacher_proba))`` batches.

    The teacher's probabilities are computed beforehand, once per image, and travel
    with their image: shuffling (``training=True``, a new order every epoch,
    reproducible from ``seed``) draws whole rows, so an image is never paired with
    another image's teacher output. There is no augmentation: an augmented image
    would deserve its own teacher output.

    ``images``: ``(n, h, w, c)`` uint8 (or float in [0, 1]), converted to
    ``image_size`` and ``channels`` as :func:`emolib.pipeline.make_dataset` does;
    ``labels``: ``(n,)`` ints; ``teacher_proba``: ``(n, num_classes)``.
    """
    import tensorflow as tf

    from .pipeline import AUTOTUNE, prepare_images

    images = np.asarray(images)
    n = len(images)
    y = _labels(labels, n, num_classes)
    t = as_probas(np.asarray(teacher_proba)[None], "teacher_proba")[0]
    if t.shape != (n, num_classes):
        raise ValueError(f"teacher_proba must have shape ({n}, {num_classes}), got {t.shape}")
    x = prepare_images(images, image_size, channels)
    y = tf.one_hot(y, num_classes, dtype=tf.float32)
    t = tf.constant(t, tf.float32)
    ds = tf.data.Dataset.range(n)
    if training:
        ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda idx: (tf.gather(x, idx), (tf.gather(y, idx), tf.gather(t, idx))), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def soften(proba, temperature):
    """``softmax(log(proba) / temperature)`` along the last axis: a distribution
    made flatter (``temperature > 1``) or sharper (``< 1``), keeping its order.
    ``log(proba)`` (clipped at :data:`EPS`) stands in for logits, which differ from
    it by a constant per row that softmax ignores."""
    return ops.softmax(ops.log(ops.clip(proba, EPS, 1.0)) / temperature, axis=-1)


def distillation_loss(labels, teacher_proba, student_proba, temperature=3.0, alpha=0.1):
    """Hinton et al.'s (2015) distillation loss for one batch.

    ``labels``: one-hot ``(b, k)``; ``teacher_proba``, ``student_proba``: ``(b, k)``
    probabilities. Returns ``(loss, student_loss, soft_loss)``, scalars:

    * ``student_loss``: cross-entropy of the student on the hard labels;
    * ``soft_loss``: ``T**2 * KL(soften(teacher, T) || soften(student, T))``, the
      mean over the batch (``T**2`` keeps its gradients on the scale of the hard
      term's as ``T`` grows);
    * ``loss = alpha * student_loss + (1 - alpha) * soft_loss``.
    """
    student_loss = ops.mean(keras.losses.categorical_crossentropy(labels, student_proba))
    soft = keras.losses.kl_divergence(soften(teacher_proba, temperature), soften(student_proba, temperature))
    soft_loss = ops.mean(soft) * temperature**2
    return alpha * student_loss + (1.0 - alpha) * soft_loss, student_loss, soft_loss


class Distiller(keras.Model):
    """Trains ``student`` on hard labels and a teacher's soft probabilities
    (Hinton et al., 2015), after keras-io's "Knowledge Distillation" example.

    The loss of a batch is :func:`distillation_loss`: ``alpha * CE(labels,
    student) + (1 - alpha) * T**2 * KL(teacher_T || student_T)``, where
    ``p_T = softmax(log(p) / T)`` (:func:`soften`) flattens a distribution with
    temperature ``T > 1``: it raises the small probabilities, which carry what
    the teacher "knows" about similar classes (a sad face that looks a little
    neutral). ``alpha=1`` is plain training on the hard labels, with the same
    data, order and optimiser.

    Unlike keras-io's version the teacher is not a model called during
    training: its probabilities come with the data
    (:func:`distillation_dataset`: batches of ``(images, (labels,
    teacher_proba))``), so an ensemble of many models is evaluated once per
    image instead of once per image and epoch. Models here end in a softmax,
    so ``log(p)`` stands in for logits (see :func:`soften`).

    Compile with an optimizer and metrics (computed against the hard labels);
    the loss is built in. ``distiller.student`` is the trained model to save
    and deploy; the distiller itself is a training wrapper.
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
