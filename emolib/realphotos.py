"""A lesson measured twice: on generated faces and on real photographs.

The notebooks' "On real photos" sections: :func:`load_real_photos` (seed 003's 4 classes
of ``muxspace/facial_expressions``, person-disjoint splits), :func:`photo_config` (the
real-photo recipe for :func:`emolib.experiment.run_experiment`, the one trainer),
:func:`agreement` (does a comparison judged by :func:`emolib.evaluation.compare` on generated
faces carry over to real photos?) and :func:`benchmark` (the committed full-scale measurements).

The photos are other people's pictures: nothing here displays a photo or a file name.

Examples
--------
>>> import numpy as np
>>> from emolib import evaluation, realphotos
>>> y = np.tile([0, 1], 50)
>>> weak, strong = np.stack([np.where(np.arange(100) % 4 == 0, 1 - y, y)] * 3), np.stack([y] * 3)
>>> same = evaluation.compare(y, weak, strong, 2, names=("weak", "strong"))
>>> realphotos.agreement(same, same)
'agrees'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["agreement", "benchmark", "load_real_photos", "photo_config"]


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
        ``TrainConfig.augment`` (:func:`emolib.pipeline._augmentation`).
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


def agreement(generated, real):
    """Whether a comparison carries over from generated faces to real photos.

    Both sides judge the same "B vs A" with :func:`emolib.evaluation.compare` (the one rule
    for "is the difference real?"), one on each data set. The lesson agrees when both say the
    same "better" or "worse", reverses when they say opposite ones; otherwise nothing can be
    said, and the answer names the side that could not tell and why (a model that did not
    learn, too few seeds, an interval holding 0). A difference settled on one data set only is
    not evidence that the lesson differs: the other may lack the power to show it.

    Parameters
    ----------
    generated, real : Comparison, str or None
        :func:`emolib.evaluation.compare`'s result on each data set, or its ``outcome`` string
        (as the benchmarks' JSON files store it); ``None``: not measured (or measured without it).

    Returns
    -------
    str
        ``"agrees"``, ``"reverses"`` or ``"cannot tell: ..."``.
    """
    outcomes = {where: getattr(result, "outcome", result) for where, result in (("generated", generated),
                                                                               ("real", real))}
    missing = [where for where, outcome in outcomes.items() if outcome is None]
    if missing:
        return "cannot tell: no evaluation.compare result on " + " and ".join(missing)
    signs = {where: 1 if outcome.endswith(" is better") else -1 if outcome.endswith(" is worse") else 0
             for where, outcome in outcomes.items()}
    unsettled = [f"{where}: {outcome}" for where, outcome in outcomes.items() if not signs[where]]
    if unsettled:
        return "cannot tell: " + "; ".join(unsettled)
    return "agrees" if signs["generated"] == signs["real"] else "reverses"


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
