"""A lesson measured twice: on generated faces and on real photographs.

The notebooks' "On real photos" sections: :func:`load_real_photos` (seed 003's 4 classes
of ``muxspace/facial_expressions``, person-disjoint splits), :func:`train_on_photos`
(class-balanced sampling, best validation macro-F1 kept), :func:`evidence` ("B vs A" on
one data set), :func:`verdict` (``agrees``, ``reverses`` or ``cannot tell``) and
:func:`benchmark` (the committed full-scale measurements).

The photos are other people's pictures: nothing here displays a photo or a file name.

Examples
--------
>>> from emolib import realphotos
>>> gen = realphotos.evidence([0, 1, 1, 0], [[1, 0, 0, 1]], [[0, 1, 1, 0]], num_classes=2)
>>> gen["gap"] > 0, gen["learned"]
(True, {'A': False, 'B': True})
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "LEARNED", "benchmark", "evidence", "load_real_photos", "photo_config", "side_by_side",
    "train_on_photos", "verdict"
]

#: A model "learned" when its test accuracy is above this multiple of chance (1 / classes).
LEARNED = 1.3
#: A gap is more than noise when the exact McNemar test over all seeds' test images gives p below this.
_ALPHA = 0.05


def _find_real_photos(setting="auto"):
    """Where the real photos are: ``(path or None, why not)``.

    ``setting``: ``None`` (skip), a path, or ``"auto"``: ``$EMOLIB_FACIAL_EXPRESSIONS``
    (``make`` and ``tools/notebooks.py`` set it to the project's shared copy where one
    exists), a ``data/facial_expressions`` folder (here or above), and in Colab a download
    (once, failing within seconds when offline).
    """
    from . import net
    from .data import facial_expressions as fe
    from .notebook import data_dir

    if setting is None:
        return None, "REAL_PHOTOS is None"
    if setting != "auto":
        return Path(setting), None
    local = fe._find_facial_expressions()
    if local is not None or "google.colab" not in sys.modules:
        return local, None if local is not None else "no local copy"
    try:
        return fe._download_facial_expressions(data_dir() / "facial_expressions"), None
    except (net.NetworkError, OSError) as exc:
        return None, f"download failed: {str(exc).splitlines()[0]}"


def load_real_photos(setting="auto", *, image_size=48, channels=1, seed=0, classes="seed003", verbose=True):
    """Seed 003's classes of the real photos, person-disjoint, with a balanced test split.

    :func:`emolib.data.load_dataset` with ``"facial_expressions"``: 25% of the persons for test
    (then balanced: as many photos per class as the rarest class has), 15% for validation.
    Prints the split sizes, or why the photos are missing and the manual steps to get them.

    Parameters
    ----------
    setting : str or pathlib.Path, default "auto"
        ``"auto"`` (a local copy, else a download in Colab), a folder, or ``None`` (off).
    image_size : int, default 48
        Images are resized to ``(image_size, image_size)``.
    channels : {1, 3}, default 1
        Gray or RGB.
    seed : int, default 0
        Seed of the splits.
    classes : str or list of str, default "seed003"
        The classes to keep.
    verbose : bool, default True
        Print the sizes or the reason.

    Returns
    -------
    EmotionDataset or None
        The photos (images ``(n, image_size, image_size, channels)`` uint8), or ``None`` when
        they are not available.
    """
    from .data import facial_expressions as fe
    from .data import load_dataset

    path, why = _find_real_photos(setting)
    if path is None:
        if verbose:
            print(f"Real photos not found ({why}): this section is skipped.\n\n{fe.manual_steps()}")
        return None
    photos = load_dataset("facial_expressions", path=path, classes=classes, balanced_test=True,
                          image_size=image_size, channels=channels, val_fraction=0.15, test_fraction=0.25,
                          seed=seed)
    if verbose:
        sizes = {s: len(photos[s].labels) for s in ("train", "val", "test")}
        print(f"{sum(sizes.values()):,} real photos of {photos.info['identities']:,} persons, "
              f"classes {list(photos.class_names)}, {image_size}x{image_size}x{channels}; person-disjoint "
              f"splits (train {sizes['train']:,}, val {sizes['val']:,}, test {sizes['test']}, balanced)")
    return photos


def train_on_photos(model, x, y, x_val, y_val, *, epochs, learning_rate, epoch_size=1024, batch_size=64,
                    seed=0, augment=None, soft_targets=None, progress=False):
    """Train ``model`` on the imbalanced real set: every class drawn equally often
    (:func:`emolib.pipeline.sampled_dataset`), ``epoch_size`` images per epoch, the
    epoch with the best validation macro-F1 kept (:func:`emolib.experiment.fit_keep_best`).

    ``x``: ``(n, h, w, c)`` float32 in [0, 1], ``y``: ``(n,)``; ``augment``: a Keras
    model of ``Random*`` layers applied to training batches; ``soft_targets``: a
    teacher's ``(n, k)`` probabilities when ``model`` is an
    :class:`emolib.ensemble.Distiller`; ``progress``: one line per epoch with the time left.
    Returns the per-epoch validation macro-F1.
    """
    from .experiment import fit_keep_best
    from .pipeline import sampled_dataset

    num_classes = int(np.max(y)) + 1
    stream = sampled_dataset(x, y, num_classes, balance="sample", augment=augment, batch_size=batch_size,
                             seed=seed, soft_targets=soft_targets)
    return fit_keep_best(model, stream, x_val, y_val, epochs=epochs, learning_rate=learning_rate,
                         steps_per_epoch=max(1, epoch_size // batch_size), progress=progress)


def photo_config(run, model="simple_cnn", *, class_names, epochs, learning_rate, seed=0, image_size=48,
                 channels=1, augment=None, epoch_size=1024, batch_size=64, experiment="real_photos",
                 params=None, init_from=None):
    """The real-photo recipe as an :class:`emolib.experiment.ExperimentConfig` for
    :func:`emolib.experiment.run_experiment`, the trainer of every run in the course.

    Every class drawn equally often (``DataConfig(sampling="balanced")``: 95% of the training
    photos are happy or neutral), ``epoch_size`` photos per epoch, Adam with cosine decay of
    ``learning_rate`` to 5% of it, and the epoch with the best validation macro-F1 kept
    (``monitor="val_macro_f1"``; no early stopping). The run is saved like every other, so
    notebook 09 and :func:`emolib.experiment.load_run` can reload and score it.

    Parameters
    ----------
    run : str
        The run's name (its folder ``<runs_dir>/<experiment>/<run>``).
    model : str
        A name of :data:`emolib.models.MODELS` (``"simple_cnn"``, ``"fer_transfer"``, ...).
    class_names : sequence of str
        The photos' classes, in the data set's order (``photos.class_names``).
    epochs : int
        Epochs of ``epoch_size`` photos.
    learning_rate : float
        Adam's initial step.
    seed : int
        Weights, sampling and augmentation.
    image_size, channels : int
        The model's input (the photos are converted to it).
    augment : None, bool or dict
        ``TrainConfig.augment`` (:func:`emolib.pipeline.augmentation`).
    epoch_size, batch_size : int
        Photos per epoch and per batch.
    experiment : str
        The experiment folder.
    params : dict, optional
        The model builder's keyword arguments (e.g. ``{"mode": "frozen"}`` for ``fer_transfer``).
    init_from : path, optional
        A saved run whose weights the model starts from (fine-tuning after a trained head).

    Returns
    -------
    ExperimentConfig
    """
    from .experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

    return ExperimentConfig(
        experiment=experiment, run=run,
        data=DataConfig(source="facial_expressions", classes=list(class_names), image_size=image_size,
                        channels=channels, seed=seed, sampling="balanced"),
        model=ModelConfig(model, dict(params or {}), None if init_from is None else str(init_from)),
        train=TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                          monitor="val_macro_f1", early_stopping_patience=None,
                          lr_decay={"kind": "cosine", "alpha": 0.05}, augment=augment,
                          steps_per_epoch=max(1, epoch_size // batch_size), seed=seed))


def evidence(y_true, preds_a, preds_b, num_classes):
    """One data set's view of "B vs A".

    Parameters
    ----------
    y_true : array of int, shape (n,)
        Test labels.
    preds_a, preds_b : list of array of int, shape (n,)
        Predicted labels, one array per seed (paired by position; extra seeds of one side are
        ignored by the test).
    num_classes : int
        Classes (chance is ``1 / num_classes``).

    Returns
    -------
    dict
        ``f1_a``, ``f1_b`` (test macro-F1, mean over seeds), ``acc_a``, ``acc_b``, ``gap``
        (``f1_b - f1_a``), ``learned`` (``{"A": bool, "B": bool}``: accuracy above
        :data:`LEARNED` times chance), ``p`` (exact McNemar test over every test image of every
        paired seed) and ``settled`` (``p < 0.05`` and the test's winner is the macro-F1 winner).
    """
    from sklearn.metrics import accuracy_score

    from .evaluation import macro_f1, mcnemar_test

    y_true = np.asarray(y_true)

    def mean(metric, preds, **kw):
        return float(np.mean([metric(y_true, p, **kw) for p in preds]))

    out = {}
    for side, preds in (("a", preds_a), ("b", preds_b)):
        out[f"f1_{side}"] = mean(macro_f1, preds, num_classes=num_classes)
        out[f"acc_{side}"] = mean(accuracy_score, preds)
    out["gap"] = out["f1_b"] - out["f1_a"]
    out["learned"] = {"A": out["acc_a"] > LEARNED / num_classes, "B": out["acc_b"] > LEARNED / num_classes}
    pairs = min(len(preds_a), len(preds_b))
    test = mcnemar_test(np.tile(y_true, pairs), np.concatenate(preds_a[:pairs]), np.concatenate(preds_b[:pairs]))
    out["p"] = test["p_value"]
    out["settled"] = bool(test["p_value"] < _ALPHA and np.sign(test["b_only"] - test["a_only"]) == np.sign(out["gap"]))
    return out


def verdict(generated, real):
    """Whether a lesson carries over from generated faces to real photos.

    The one rule (``tools/real_vs_generated.py`` uses it too): both models learned on both data
    sets and the gap is more than noise on both; otherwise it says which condition failed. A
    gap settled on one data set only is not evidence that the lesson differs: the other may
    just lack the power to show it.

    Parameters
    ----------
    generated, real : dict or None
        :func:`evidence` on each data set (``None``: not measured; only ``gap``, ``learned`` and
        ``settled`` are read).

    Returns
    -------
    str
        ``"agrees"``, ``"reverses"`` or ``"cannot tell: ..."``.
    """
    sides = (("generated", generated), ("real", real))
    missing = [where for where, ev in sides if ev is None]
    if missing:
        return "cannot tell: not measured on " + " and ".join(missing)
    failed = [f"{side} on {where}" for where, ev in sides for side, ok in ev["learned"].items() if not ok]
    if failed:
        return "cannot tell: did not learn: " + ", ".join(failed)
    unsettled = [where for where, ev in sides if not ev["settled"]]
    if unsettled:
        return "cannot tell: gap within noise on " + " and ".join(unsettled)
    return "agrees" if np.sign(generated["gap"]) == np.sign(real["gap"]) else "reverses"


def side_by_side(comparisons):
    """A table of comparisons on generated faces and on real photos.

    Parameters
    ----------
    comparisons : dict of str to tuple of (dict, dict)
        ``{comparison: (generated evidence, real evidence)}`` (:func:`evidence`).

    Returns
    -------
    pandas.DataFrame
        A row per comparison: macro-F1 of A and B on each data set, the McNemar p-values (as
        text, 2 significant digits) and the :func:`verdict`.
    """
    import pandas as pd

    rows = [{"comparison (A vs B)": name, "generated A": gen["f1_a"], "generated B": gen["f1_b"],
             "generated p": f"{gen['p']:.2g}", "real A": real["f1_a"], "real B": real["f1_b"],
             "real p": f"{real['p']:.2g}",
             "verdict": verdict(gen, real)} for name, (gen, real) in comparisons.items()]
    return pd.DataFrame(rows).set_index("comparison (A vs B)")


def benchmark(name="real_photos", task="4class", folder=None):
    """The committed full-scale measurements ``<name>.json``, shipped in the package
    (``emolib/results/``, read with :mod:`importlib.resources`, so a pip install finds them).

    Parameters
    ----------
    name : {"real_photos", "real_lessons"}
        Which measurement file.
    task : str
        For ``"real_photos"``: the task whose rungs are returned.
    folder : path, optional
        Read ``<folder>/<name>.json`` instead of the packaged file.

    Returns
    -------
    dict
        ``{}`` when the file is absent; for ``"real_photos"`` ``{rung: entry}`` of ``task``;
        for ``"real_lessons"`` ``{lesson: {"generated": entry, "real": entry}}`` (each entry
        with the source's ``"classes"``, the order of its per-class values).
    """
    from importlib.resources import files

    path = (files("emolib") / "results" if folder is None else Path(folder)) / f"{name}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if name == "real_photos":
        return {r["name"]: r for r in data["tasks"][task]["rungs"] if "test" in r}
    lessons = {}
    for source, measured in data.get("sources", {}).items():
        classes = measured["classes"]
        for lesson, entry in measured["lessons"].items():
            lessons.setdefault(lesson, {})[source] = (
                {**entry, "classes": classes} if "a" in entry  # one comparison
                else {name: {**sub, "classes": classes} for name, sub in entry.items()})  # one per model (int8)
    return lessons
