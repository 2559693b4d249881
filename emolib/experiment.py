"""A small framework to run, save and compare training experiments.

An :class:`ExperimentConfig` (data, model and training settings, JSON-serialisable)
describes a run; :func:`run_experiment` trains it and saves it atomically under
``runs/<experiment>/<run>/`` (layout and saving rules: :mod:`emolib.runs`), after
checking names, training settings and the data's splits.
:func:`collect_runs` tables every saved run; :func:`summarize_runs` and
:func:`compare_to_baseline` summarise them (a verdict between two settings is
:func:`emolib.evaluation.compare` on their test predictions);
:func:`reuse_or_train` gives a saved run's model when one fits, else trains it.

Example::

    config = ExperimentConfig(experiment="baseline", run="simple_cnn",
                              data=DataConfig(classes="seed003", n_train=2000),
                              train=TrainConfig(epochs=10))
    result = run_experiment(config)
    result.metrics["accuracy"], result.path
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import re
import shutil
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import runs
from .fileio import _jsonable
from .progress import bar, epoch_callback

__all__ = [
    "DataConfig", "ExperimentConfig", "ModelConfig", "RunResult", "TrainConfig", "TrainedModel",
    "collect_runs", "compare_to_baseline", "reuse_or_train", "run_experiment", "set_seed",
    "summarize_runs"
]

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

_SYNTHETIC_ONLY = ("balance", "n_train", "n_val", "n_test")


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    Parameters
    ----------
    source : str, default "synthetic"
        What :func:`emolib.data.load_dataset` loads (``"synthetic"``, ``"fer2013"``, a path).
    classes : str or list of str, default "fer7"
        A preset name or a list of emotions.
    image_size : int, default 48
        Pixels, square.
    channels : {1, 3}, default 1
        Gray or RGB.
    balance : str or dict, default "balanced"
        Class balance of generated data (``source="synthetic"`` only).
    n_train, n_val, n_test : int, optional
        Generated images per split (``None``: the generator's default; synthetic only).
    seed : int, default 0
        Seed of the data.
    sampling : {None, "under", "over", "balanced"}
        ``"under"``/``"over"`` resample the *training* split once to balance its classes
        (:func:`emolib.pipeline.undersample_indices` / :func:`~emolib.pipeline.oversample_indices`);
        ``"balanced"`` draws every class equally often, anew in every batch
        (``make_dataset(balanced=True)``, an endless stream: ``TrainConfig.steps_per_epoch``
        sets the epoch's length).
    class_weight : bool, default False
        Weight the loss by :func:`emolib.pipeline.class_weights` instead (or as well).
    options : dict, optional
        Any other loader arguments (e.g. ``val_fraction``).
    """

    source: str = "synthetic"
    classes: object = "fer7"
    image_size: int = 48
    channels: int = 1
    balance: object = "balanced"
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    seed: int = 0
    sampling: str | None = None
    class_weight: bool = False
    options: dict = field(default_factory=dict)

    def load_kwargs(self) -> dict:
        """Keyword arguments for :func:`emolib.data.load_dataset`."""
        kwargs = {key: getattr(self, key) for key in ("source", "classes", "image_size", "channels", "seed")}
        if str(self.source).lower() == "synthetic":
            kwargs.update({key: getattr(self, key) for key in _SYNTHETIC_ONLY if getattr(self, key) is not None})
        return {**kwargs, **self.options}


@dataclass
class ModelConfig:
    """A model and its builder's keyword arguments.

    Parameters
    ----------
    name : str, default "simple_cnn"
        A model of :data:`emolib.models._MODELS` (see :func:`emolib.models.build_model`).
    params : dict, optional
        The builder's keyword arguments.
    init_from : str, optional
        A saved run's folder whose weights the model starts from (the same architecture:
        e.g. fine-tuning starts from the run that trained a new head on the frozen network).
    """

    name: str = "simple_cnn"
    params: dict = field(default_factory=dict)
    init_from: str | None = None


@dataclass
class TrainConfig:
    """How to train.

    Parameters
    ----------
    epochs : int, default 20
        Maximum number of epochs.
    batch_size : int, default 64
        Images per step (the global batch size under a multi-device strategy).
    optimizer : str, default "adam"
        A Keras optimizer name (``"adam"``, ``"sgd"``, ``"adamw"``, ...).
    learning_rate : float, default 1e-3
        Its initial learning rate.
    optimizer_params : dict, optional
        Extra optimizer arguments (e.g. ``{"momentum": 0.9}``).
    monitor : {"val_loss", "val_accuracy", "val_macro_f1"}, default "val_loss"
        The validation quantity for early stopping, checkpointing and the plateau schedule;
        ``"val_macro_f1"``: macro-F1 over all classes (:func:`emolib.evaluation.macro_f1`),
        computed after every epoch, the one to choose on an imbalanced set, where the loss
        favours the majority.
    steps_per_epoch : int, optional
        Batches per epoch, drawn from a stream that never ends (so that natural and
        class-balanced sampling can cost the same); ``None``: one pass over the training split
        (with ``DataConfig.sampling="balanced"``: as many batches as a pass takes).
    early_stopping_patience : int or None, default 5
        Epochs without improvement before stopping (``None``: never stop early).
    lr_decay : dict or None
        ``None`` (constant), ``{"kind": "plateau", "factor": 0.5, "patience": 2, "min_lr": 1e-6}``
        (``ReduceLROnPlateau``) or ``{"kind": "cosine", "alpha": 0.0}`` (cosine decay to
        ``alpha`` times the initial rate over all steps).
    augment : None, bool or dict
        ``None``, ``True`` or a dict of some fields of :data:`emolib.pipeline._AUGMENT_DEFAULTS`
        (:func:`emolib.pipeline._augmentation`).
    mixup_alpha, cutmix_alpha : float, default 0.0
        Keras ``MixUp``/``CutMix`` (:func:`emolib.pipeline._batch_mixing`); 0 turns them off.
    seed : int, default 0
        Weights initialisation, shuffling and augmentation.
    verbose : int, default 0
        Keras' own ``fit`` output (0: off; see ``progress``).
    """

    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    optimizer_params: dict = field(default_factory=dict)
    monitor: str = "val_loss"
    early_stopping_patience: int | None = 5
    lr_decay: dict | None = field(
        default_factory=lambda: {"kind": "plateau", "factor": 0.5, "patience": 2, "min_lr": 1e-6}
    )
    steps_per_epoch: int | None = None
    augment: object = None
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    seed: int = 0
    verbose: int = 0


@dataclass
class ExperimentConfig:
    """One run of one experiment: ``runs/<experiment>/<run>/``.

    Parameters
    ----------
    experiment : str, default "default"
        The experiment's name (its folder).
    run : str, default "auto"
        The run's name; ``"auto"``: the next free ``run-NNN``.
    data : DataConfig
        The data.
    model : ModelConfig
        The model.
    train : TrainConfig
        The training.
    """

    experiment: str = "default"
    run: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d) -> "ExperimentConfig":
        """The config of a dict such as ``to_dict()`` or a run's ``config.json`` gives; unknown
        keys and fields are errors that name them."""
        return _from_fields(cls, {key: _from_fields(_PARTS[key], value) if key in _PARTS else value
                                  for key, value in d.items()})

    def updated(self, changes: dict) -> "ExperimentConfig":
        """A copy with ``changes`` applied; keys are field names, dotted for nested
        ones: ``config.updated({"run": "lr3e-3", "train.learning_rate": 3e-3})``."""
        new = copy.deepcopy(self)
        for key, value in changes.items():
            *path, last = key.split(".")
            target = new
            for name in path:
                target = getattr(target, name) if dataclasses.is_dataclass(target) else target[name]
            if not dataclasses.is_dataclass(target):
                target[last] = value
            elif last in _field_names(target):
                setattr(target, last, value)
            else:
                raise ValueError(f"unknown config field {key!r}")
        return new


_PARTS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _field_names(cls) -> set:
    return {f.name for f in dataclasses.fields(cls)}


def _from_fields(cls, d):
    if isinstance(d, cls):
        return d
    unknown = set(d) - _field_names(cls)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(_field_names(cls))}")
    return cls(**d)


# --------------------------------------------------------------------------
# Training helpers
# --------------------------------------------------------------------------


def set_seed(seed):
    """Seed Python's, NumPy's and TensorFlow's random generators (``keras.utils.set_random_seed``).

    For reproducible weights and pipelines.

    Parameters
    ----------
    seed : int
        The seed.

    Returns
    -------
    None
    """
    import keras

    keras.utils.set_random_seed(int(seed))


def _macro_f1_callback(val_data, y_val, num_classes):
    """A Keras callback that adds ``val_macro_f1`` to every epoch's logs.

    Put it first in ``callbacks``: ``ModelCheckpoint``, ``EarlyStopping`` and ``CSVLogger``
    after it then see the value (give them ``mode="max"``).

    Parameters
    ----------
    val_data : array ``(n, h, w, c)`` or ``tf.data.Dataset`` of validation images
        (batches of ``(images, labels)`` are fine: the labels are ignored).
    y_val : int array ``(n,)``
        Their classes.
    num_classes : int
        ``k``: macro-F1 averages the F1 of all ``k`` classes (:func:`emolib.evaluation.macro_f1`).

    Returns
    -------
    keras.callbacks.Callback
    """
    import keras

    from .evaluation import macro_f1, predict_proba

    class ValMacroF1(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                proba = predict_proba(self.model, val_data)  # (n, k)
                finite = np.isfinite(proba).all()
                logs["val_macro_f1"] = macro_f1(y_val, proba.argmax(1), num_classes) if finite else float("nan")

    return ValMacroF1()


def _mode(monitor):
    """``"max"`` for a score (accuracy, F1), ``"min"`` for a loss."""
    return "max" if any(word in monitor for word in ("acc", "f1", "auc")) else "min"


def _steps_per_epoch(train: TrainConfig, n_train):
    return train.steps_per_epoch or math.ceil(n_train / train.batch_size)


def _decay_kind(train: TrainConfig):
    """``None``, ``"plateau"`` or ``"cosine"``: the kind of ``train.lr_decay``."""
    return train.lr_decay.get("kind", "plateau") if train.lr_decay else None


def _make_optimizer(train: TrainConfig, steps_per_epoch):
    import keras

    lr, decay = train.learning_rate, train.lr_decay
    if _decay_kind(train) == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=max(1, train.epochs * steps_per_epoch), alpha=decay.get("alpha", 0.0)
        )
    return keras.optimizers.get(
        {"class_name": train.optimizer, "config": {"learning_rate": lr, **train.optimizer_params}}
    )


def _callbacks(model, train: TrainConfig, workdir: Path, run_bar, val):
    """The run's Keras callbacks, in order: the learning rate and (when monitored) the validation
    macro-F1 go into the epoch's logs first, so that the schedule, early stopping, the checkpoint
    and the CSV log after them see them. ``val``: ``(pipeline, labels, num_classes)``."""
    import keras

    def log_learning_rate(epoch, logs):  # before CSVLogger writes the logs
        logs["learning_rate"] = float(np.asarray(model.optimizer.learning_rate))

    cbs = [keras.callbacks.LambdaCallback(on_epoch_end=log_learning_rate)]
    if train.monitor == "val_macro_f1":
        cbs.append(_macro_f1_callback(*val))
    decay, monitor, mode = train.lr_decay, train.monitor, _mode(train.monitor)
    if _decay_kind(train) == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, factor=decay.get("factor", 0.5), patience=decay.get("patience", 2),
            min_lr=decay.get("min_lr", 1e-6)))
    if train.early_stopping_patience is not None:
        cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=train.early_stopping_patience,
                                                 restore_best_weights=True))
    cbs += [
        keras.callbacks.ModelCheckpoint(str(workdir / runs.MODEL_FILE), monitor=monitor, mode=mode,
                                        save_best_only=True),
        keras.callbacks.CSVLogger(str(workdir / runs._HISTORY_FILE)),
    ]
    if run_bar is not None:
        cbs.append(epoch_callback(train.epochs, run_bar))
    return cbs


def _prepare_data(config: ExperimentConfig, dataset):
    """Load (or check) the data set and resample its training split."""
    from .data.base import resolve_classes, _validate_splits
    from .pipeline import oversample_indices, undersample_indices

    if dataset is None:
        from .data import load_dataset

        dataset = load_dataset(**config.data.load_kwargs())
    elif config.data.classes is not None:
        expected = resolve_classes(config.data.classes)
        if tuple(dataset.class_names) != expected:
            raise ValueError(
                f"the dataset's classes {list(dataset.class_names)} differ from the config's "
                f"{list(expected)}; set DataConfig(classes={list(dataset.class_names)!r}) "
                "so the saved config describes the data"
            )
    _validate_splits(dataset)  # no run with an empty split (NaN scores) or an unlearnable class
    train = dataset["train"]
    sampling = config.data.sampling
    if sampling == "under":
        train = train.take(undersample_indices(train.labels, seed=config.data.seed))
    elif sampling == "over":
        train = train.take(oversample_indices(train.labels, seed=config.data.seed))
    elif sampling not in (None, "balanced"):  # "balanced": drawn anew in every batch (_pipelines)
        raise ValueError(f"sampling must be None, 'under', 'over' or 'balanced', got {sampling!r}")
    return dataset, train


def _check_train(train: TrainConfig):
    """Refuse training settings that would fail late or train nothing, naming the field."""
    def is_int(value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    for key in ("epochs", "batch_size", "steps_per_epoch"):
        value = getattr(train, key)
        if (value is not None or key != "steps_per_epoch") and (not is_int(value) or value < 1):
            raise ValueError(f"TrainConfig.{key} must be a positive integer, got {value!r}")
    lr = train.learning_rate
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"TrainConfig.learning_rate must be a positive number, got {lr!r}")
    patience = train.early_stopping_patience
    if patience is not None and (not is_int(patience) or patience < 0):
        raise ValueError(f"TrainConfig.early_stopping_patience must be None or an integer >= 0, got {patience!r}")
    if _decay_kind(train) not in (None, "plateau", "cosine"):
        raise ValueError(f"unknown lr_decay kind {_decay_kind(train)!r}; use 'plateau', 'cosine' or None")
    if not str(train.monitor).startswith("val_"):
        raise ValueError(f"TrainConfig.monitor must be a validation quantity such as 'val_loss', "
                         f"'val_accuracy' or 'val_macro_f1', got {train.monitor!r}")


# --------------------------------------------------------------------------
# Running and collecting
# --------------------------------------------------------------------------


@dataclass
class RunResult:
    """What :func:`run_experiment` returns.

    Attributes
    ----------
    path : pathlib.Path
        The run folder.
    config : ExperimentConfig
        The config (run name resolved).
    metrics : dict
        The contents of ``metrics.json``.
    history : pandas.DataFrame
        The per-epoch table of ``history.csv``.
    model : keras.Model
        The trained model with its best weights.
    test : dict
        The full :func:`emolib.evaluation.evaluate` result on the test split (confusion
        matrix, predictions, probabilities).
    """

    path: Path
    config: ExperimentConfig
    metrics: dict
    history: pd.DataFrame
    model: object = None
    test: dict = None

    def __repr__(self):
        acc = self.metrics.get("accuracy")
        acc = "None" if acc is None else f"{acc:.4f}"
        return f"RunResult(path='{self.path}', test_accuracy={acc})"


def run_experiment(config, dataset=None, runs_dir="runs", progress=True, overwrite=False, strategy="auto"):
    """Train, evaluate and save one run; returns a :class:`RunResult`.

    Parameters
    ----------
    config : :class:`ExperimentConfig` (or its dict).
    dataset : an :class:`~emolib.data.base.EmotionDataset` with ``train``, ``val``
        and ``test`` splits, or ``None`` to load it with
        ``emolib.data.load_dataset(**config.data.load_kwargs())``. A passed data
        set must have the config's classes; its images are converted to the
        config's ``image_size`` and ``channels`` like loaded ones.
    runs_dir : folder holding ``<experiment>/<run>/`` folders.
    progress : one progress bar for the run (:mod:`emolib.progress`): its epochs with the
        loss, accuracy, validation scores and learning rate, then the test scores and
        the run's folder.
    overwrite : replace an existing ``runs/<experiment>/<run>`` (else
        ``FileExistsError``); ignored with ``run="auto"``.
    strategy : a ``tf.distribute.Strategy`` or a kind for
        :func:`emolib.distribute.get_strategy`; the model is built and compiled
        in its scope. ``config.train.batch_size`` is the global batch size.

    The model is the one from the epoch with the best ``config.train.monitor``
    (reloaded from ``best.keras``), evaluated on the validation and test splits.
    A run whose training diverged (that model's weights or validation outputs are not
    finite) raises ``FloatingPointError`` naming the run and epoch; nothing is saved.
    """
    config, exp_dir, auto = _claim_run(config, runs_dir, overwrite)
    created_exp_dir = not exp_dir.exists()
    tmp = run_bar = None
    try:
        exp_dir.mkdir(parents=True, exist_ok=True)
        tmp = runs.work_dir(exp_dir / config.run, "tmp")
        set_seed(config.train.seed)
        data, train_split = _prepare_data(config, dataset)
        pipes = _pipelines(config, data, train_split)
        strategy = _strategy(strategy)
        model = _compiled_model(config, data.num_classes, len(train_split), strategy)
        run_bar = bar(total=config.train.epochs, desc=f"{config.experiment}/{config.run}", unit="epoch") \
            if progress else None
        history, train_seconds = _fit(model, config.train, pipes, tmp, run_bar)
        _check_not_diverged(model, config, history, pipes["val"])
        test, metrics = _evaluate(model, config, data, train_split, pipes, history, train_seconds, strategy)
        _save_reports(tmp, metrics, test, history, list(data.class_names))
        final = runs.install(tmp, exp_dir / config.run, config.to_dict(), overwrite=overwrite, auto=auto)
    except BaseException:
        if run_bar is not None:
            run_bar.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if created_exp_dir:
            try:
                exp_dir.rmdir()  # only if empty
            except OSError:
                pass
        raise
    config.run = final.name
    if run_bar is not None:  # the run's one line: its epochs, then what it scored and where it went
        run_bar.set_postfix_str(f"best epoch {metrics['best_epoch']}: test accuracy {test['accuracy']:.3f}, "
                                f"macro-F1 {test['macro_avg']['f1']:.3f} -> {Path(runs_dir).name}/"
                                f"{config.experiment}/{final.name}", refresh=False)
        run_bar.close()
    return RunResult(final, config, metrics, history, model, test)


def _claim_run(config, runs_dir, overwrite):
    """Check the config and names before anything is trained: ``(config copy with
    its run name resolved, experiment folder, auto)``."""
    if isinstance(config, dict):
        config = ExperimentConfig.from_dict(config)
    config = copy.deepcopy(config)
    _check_train(config.train)
    auto = config.run == "auto"
    exp_dir, config.run = runs._claim(runs_dir, config.experiment, config.run, overwrite)
    return config, exp_dir, auto


def _pipelines(config, data, train_split) -> dict:
    """The ``train``, ``val`` and ``test`` ``tf.data`` pipelines and the class ``weights`` (or None)."""
    from .pipeline import class_weights, make_dataset

    k, tc = data.num_classes, config.train
    pipe = dict(image_size=config.data.image_size, channels=config.data.channels, batch_size=tc.batch_size)
    balanced = config.data.sampling == "balanced"
    train = make_dataset(train_split.images, train_split.labels, k, training=True, augment=tc.augment,
                         mixup_alpha=tc.mixup_alpha, cutmix_alpha=tc.cutmix_alpha, seed=tc.seed, balanced=balanced,
                         **pipe)
    return {
        # with steps_per_epoch, an epoch is that many batches of a stream that never ends
        "train": train.repeat() if tc.steps_per_epoch and not balanced else train,
        "val": make_dataset(data["val"].images, data["val"].labels, k, **pipe),
        "test": make_dataset(data["test"].images, data["test"].labels, k, **pipe),
        "weights": class_weights(train_split.labels, k) if config.data.class_weight else None,
        # an endless (balanced) stream needs its epoch's length; a pass over the split knows it
        "steps": _steps_per_epoch(tc, len(train_split)) if balanced or tc.steps_per_epoch else None,
        "val_labels": data["val"].labels, "k": k,
    }


def _strategy(kind):
    from .distribute import _get_strategy  # imports TensorFlow: after the checks, a wrong argument fails fast

    return _get_strategy(kind)


def _compiled_model(config, num_classes, n_train, strategy):
    """The config's model, built and compiled in ``strategy``'s scope."""
    import keras

    from .models import build_model

    size, channels = config.data.image_size, config.data.channels
    with strategy.scope():
        model = build_model(config.model.name, (size, size, channels), num_classes, **config.model.params)
        if config.model.init_from is not None:
            model.load_weights(_initial_weights(config.model.init_from))
        model.compile(
            optimizer=_make_optimizer(config.train, _steps_per_epoch(config.train, n_train)),
            loss="categorical_crossentropy",
            metrics=[
                "accuracy",
                keras.metrics.TopKCategoricalAccuracy(2, name="top_2_accuracy"),
                keras.metrics.TopKCategoricalAccuracy(3, name="top_3_accuracy"),
            ],
        )
    return model


def _initial_weights(run_dir) -> str:
    """The ``best.keras`` of the run folder ``run_dir`` (``ModelConfig.init_from``), or an error naming it."""
    path = Path(run_dir) / runs.MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"ModelConfig.init_from: '{run_dir}' has no {runs.MODEL_FILE} (not a finished run)")
    return str(path)


def _fit(model, tc: TrainConfig, pipes, workdir: Path, run_bar):
    """Train, then keep the best epoch's weights: ``(history frame, training seconds)``."""
    start = time.perf_counter()
    model.fit(
        pipes["train"], validation_data=pipes["val"], epochs=tc.epochs, class_weight=pipes["weights"],
        steps_per_epoch=pipes["steps"], shuffle=False, verbose=tc.verbose,
        callbacks=_callbacks(model, tc, workdir, run_bar, (pipes["val"], pipes["val_labels"], pipes["k"])),
    )
    train_seconds = time.perf_counter() - start
    history = pd.read_csv(workdir / runs._HISTORY_FILE)
    best_path = workdir / runs.MODEL_FILE
    if best_path.exists():
        model.load_weights(best_path)
    else:  # the monitored value was never finite: keep the last weights
        model.save(best_path)
    return history, train_seconds


def _check_not_diverged(model, config, history, val_pipe):
    """Raise ``FloatingPointError`` when training diverged: the kept model's weights or its
    outputs on the validation split are not finite (NaN, infinite), which scoring would
    refuse. The message names the run and the epoch where the training loss first became
    non-finite."""
    from .evaluation import predict_proba

    if all(np.isfinite(w).all() for w in model.get_weights()) and np.isfinite(predict_proba(model, val_pipe)).all():
        return
    loss = history["loss"].to_numpy(dtype=float) if "loss" in history else np.zeros(0)
    bad = np.flatnonzero(~np.isfinite(loss))
    when = (f"the training loss became {loss[bad[0]]} at epoch {bad[0] + 1} of {len(history)}" if len(bad) else
            f"the training loss stayed finite for {len(history)} epochs")
    raise FloatingPointError(
        f"training diverged in run '{config.experiment}/{config.run}': {when}, and the best epoch's model gives "
        f"NaN or infinite outputs; nothing was saved. Lower TrainConfig.learning_rate "
        f"({config.train.learning_rate:g}) or add gradient clipping (TrainConfig.optimizer_params={{'clipnorm': 1.0}})")


def _best_epoch(history, monitor) -> int:
    """The 1-based epoch with the best finite ``monitor`` value (the last when none is finite)."""
    scores = history[monitor].to_numpy(dtype=float)
    finite = np.where(np.isfinite(scores), scores, np.nan)
    if np.all(np.isnan(finite)):
        return len(history)
    return int(np.nanargmax(finite) if _mode(monitor) == "max" else np.nanargmin(finite)) + 1


def _evaluate(model, config, data, train_split, pipes, history, train_seconds, strategy):
    """``(test evaluation, metrics.json dict)`` of the trained model."""
    import keras

    from . import __version__
    from .distribute import _describe
    from .evaluation import evaluate, _metrics_for_json

    names, k, size = list(data.class_names), data.num_classes, config.data.image_size
    test = evaluate(model, pipes["test"], data["test"].labels, names)
    val_metrics = _metrics_for_json(evaluate(model, pipes["val"], data["val"].labels, names))
    val_metrics.pop("class_names")
    metrics = {
        **_metrics_for_json(test),
        "val": val_metrics,
        "epochs_trained": int(len(history)),
        "best_epoch": _best_epoch(history, config.train.monitor),
        "train_seconds": round(train_seconds, 3),
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "data": {
            "name": data.name,
            "image_shape": [size, size, config.data.channels],
            "n_train": len(train_split),
            "n_val": len(data["val"]),
            "n_test": len(data["test"]),
            "train_class_counts": np.bincount(train_split.labels, minlength=k).tolist(),
        },
        **_describe(strategy),
        "versions": {"emolib": __version__, "keras": keras.__version__},
    }
    return test, metrics


def _save_reports(workdir: Path, metrics, test, history, names):
    """Write ``metrics.json``, the classification report, the confusion matrix
    (CSV and PNG) and the learning curves into the run's work folder."""
    import matplotlib.pyplot as plt

    from . import plots

    runs._write_json(workdir / runs.METRICS_FILE, metrics)
    (workdir / runs._REPORT_FILE).write_text(test["report"])
    pd.DataFrame(test["confusion_matrix"], index=names, columns=names).rename_axis(
        index="true", columns="predicted"
    ).to_csv(workdir / runs._CONFUSION_CSV)
    for fig in (
        plots.confusion_matrix(test["confusion_matrix"], names, save_path=workdir / runs._CONFUSION_PNG),
        plots.learning_curves(history, save_path=workdir / runs._CURVES_PNG),
    ):
        plt.close(fig)


def _flatten(d, prefix=""):
    """``d`` with nested dicts' keys joined by dots, lists as tuples and empty dicts as ``None``."""
    out = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = tuple(value)
        else:
            out[f"{prefix}{key}"] = None if isinstance(value, dict) else value
    return out


#: Metric columns of :func:`collect_runs`: column -> dotted path in ``metrics.json``.
_RUN_COLUMNS = {
    "test_accuracy": "accuracy", "test_top_2_accuracy": "top_2_accuracy",
    "test_top_3_accuracy": "top_3_accuracy", "test_loss": "loss",
    "macro_precision": "macro_avg.precision", "macro_recall": "macro_avg.recall", "macro_f1": "macro_avg.f1",
    "weighted_precision": "weighted_avg.precision", "weighted_recall": "weighted_avg.recall",
    "weighted_f1": "weighted_avg.f1",
    "val_accuracy": "val.accuracy", "val_macro_f1": "val.macro_avg.f1",
    "epochs": "epochs_trained", "best_epoch": "best_epoch", "train_seconds": "train_seconds",
    "params": "params", "trainable_params": "trainable_params",
}


def collect_runs(runs_dir="runs", experiment=None) -> pd.DataFrame:
    """One row per saved run.

    The runs come from :func:`emolib.runs._finished_runs`: unfinished (temporary) folders are
    skipped, so is, with a warning naming it, a folder that cannot be read, and runs left
    half-replaced by a killed overwrite are repaired first.

    Parameters
    ----------
    runs_dir : str or pathlib.Path, default "runs"
        The folder of all experiments.
    experiment : str or list of str, optional
        Only this experiment, or these.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment``, ``run``, ``setting`` (:func:`_run_setting`), every config field
        flattened with dots (``model.name``, ``train.learning_rate``, ``model.params.filters``,
        ...; lists become tuples), then the metrics of :data:`_RUN_COLUMNS` (missing ones are
        ``None``: ``trainable_params`` of runs saved before it was recorded).
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"no runs folder '{runs_dir}'")
    wanted = None if experiment is None else {experiment} if isinstance(experiment, str) else set(experiment)
    rows = []
    for run_dir, config, metrics in runs._finished_runs(runs_dir, wanted):
        row = {"experiment": run_dir.parent.name, "run": run_dir.name, "setting": _run_setting(run_dir.name)}
        row.update(_flatten({k: v for k, v in config.items() if k not in ("experiment", "run")}))
        flat_metrics = _flatten(metrics)
        rows.append({**row, **{column: flat_metrics.get(path) for column, path in _RUN_COLUMNS.items()}})
    columns = ["experiment", "run", "setting", *_RUN_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    config_cols = [c for c in df.columns if c not in columns]
    return df[["experiment", "run", "setting", *config_cols, *_RUN_COLUMNS]].reset_index(drop=True)


def _run_setting(run_name: str) -> str:
    """The setting a run belongs to: its name without a trailing ``_seed<k>``
    (``"adam_lr1e-3_seed2"`` -> ``"adam_lr1e-3"``). Runs that repeat one setting
    over several seeds share it, which is what :func:`summarize_runs` groups by."""
    return re.sub(r"_seed\d+$", "", str(run_name))


#: Default metrics of :func:`summarize_runs`.
_SUMMARY_METRICS = ("val_accuracy", "val_macro_f1", "test_accuracy", "macro_f1", "epochs", "train_seconds")


def summarize_runs(table, by="setting", metrics=_SUMMARY_METRICS) -> pd.DataFrame:
    """Mean and spread of repeated runs: one row per value of ``by``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run, as :func:`collect_runs` returns.
    by : str or list of str, default "setting"
        The column(s) to group by (``"setting"``: runs that differ only by their
        ``_seed<k>`` suffix).
    metrics : sequence of str, optional
        The metric columns to summarise (default: validation and test accuracy and
        macro-F1, epochs and training time).

    Returns
    -------
    pandas.DataFrame
        One row per group, in the order in which each group first appears: the ``by``
        columns, ``runs`` (how many runs were averaged), then for each of ``metrics`` its
        mean (``<metric>``), sample standard deviation (``<metric>_std``, NaN for a single
        run) and range (``<metric>_min``, ``<metric>_max``).

    Raises
    ------
    KeyError
        When ``table`` lacks one of the ``by`` or ``metrics`` columns.
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, *metrics] if c not in table.columns]
    if missing:
        raise KeyError(f"summarize_runs: no column(s) {missing} in the table; columns: {list(table.columns)}")
    if table.empty:
        return pd.DataFrame(columns=[*by, "runs"])
    grouped = table.groupby(by, sort=False)
    out = grouped.size().rename("runs").to_frame()
    for metric in metrics:
        values = grouped[metric]
        out[metric] = values.mean()
        out[f"{metric}_std"] = values.std(ddof=1)
        out[f"{metric}_min"] = values.min()
        out[f"{metric}_max"] = values.max()
    return out.reset_index()


def compare_to_baseline(table, baseline, metric="val_macro_f1", by="setting", pair_by="train.seed") -> pd.DataFrame:
    """How much each setting changes ``metric`` relative to ``baseline``, run for run.

    Runs are paired on ``pair_by`` (default: the training seed): setting ``s`` with
    seed ``k`` is compared with the baseline run with seed ``k``, so that the luck of
    a seed (its initial weights and shuffling order) cancels.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run, as :func:`collect_runs` returns.
    baseline : object
        The value of column ``by`` that marks the baseline runs.
    metric : str, default "val_macro_f1"
        The column compared.
    by : str, default "setting"
        The column whose values are the settings.
    pair_by : str, default "train.seed"
        The column on which a setting's runs are paired with the baseline's.

    Returns
    -------
    pandas.DataFrame
        One row per setting other than the baseline, in order of first appearance, with
        columns ``by``, ``pairs``, ``metric`` (the setting's mean), ``effect``,
        ``effect_std``, ``effect_min``, ``effect_max``, ``stderr``, ``ratio``, ``p_value``
        and ``baseline_std``:

        * ``pairs``: number of paired runs;
        * ``effect``: mean paired difference (setting minus baseline), in ``metric`` units;
        * ``effect_std``: sample standard deviation of the paired differences (NaN with
          one pair); ``effect_min`` / ``effect_max``: their range;
        * ``stderr``: ``effect_std / sqrt(pairs)``; ``ratio``: ``effect / stderr``, the
          paired t-statistic, and ``p_value``, its two-sided p-value (both from
          ``scipy.stats.ttest_rel``; NaN with one pair or no spread): with a few seeds,
          ``|ratio|`` above ~4 (3 pairs) or ~13 (2 pairs) is what a 5 % test needs, and
          a single pair cannot tell signal from noise at all;
        * ``baseline_std``: the seed-to-seed standard deviation of the baseline itself,
          the noise level any single-run comparison has to beat.

    Raises
    ------
    KeyError
        When ``table`` has no column ``by``, ``metric`` or ``pair_by``.
    ValueError
        When ``baseline`` is not a value of ``by``.
    """
    from scipy import stats

    for column in (by, metric, pair_by):
        if column not in table.columns:
            raise KeyError(f"compare_to_baseline: no column {column!r} in the table")
    base = table[table[by] == baseline]
    if base.empty:
        raise ValueError(f"baseline {baseline!r} is not a value of column {by!r}: {sorted(table[by].unique())}")
    base_values = base.set_index(pair_by)[metric]
    rows = []
    for setting, group in table[table[by] != baseline].groupby(by, sort=False):
        values = group.set_index(pair_by)[metric]
        common = values.index.intersection(base_values.index)
        diffs = (values.loc[common] - base_values.loc[common]).astype(float)
        n = len(diffs)
        std = diffs.std(ddof=1) if n > 1 else float("nan")
        stderr = std / math.sqrt(n) if n > 1 else float("nan")
        with warnings.catch_warnings():  # nearly identical differences: scipy warns, the verdict stands
            warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
            test = stats.ttest_rel(values.loc[common], base_values.loc[common]) if n > 1 and stderr > 0 else None
        rows.append({
            by: setting, "pairs": n, metric: values.mean(),
            "effect": diffs.mean() if n else float("nan"), "effect_std": std,
            "effect_min": diffs.min() if n else float("nan"), "effect_max": diffs.max() if n else float("nan"),
            "stderr": stderr, "ratio": float(test.statistic) if test else float("nan"),
            "p_value": float(test.pvalue) if test else float("nan"),
        })
    out = pd.DataFrame(rows, columns=[by, "pairs", metric, "effect", "effect_std", "effect_min",
                                      "effect_max", "stderr", "ratio", "p_value"])
    out["baseline_std"] = base_values.std(ddof=1) if len(base_values) > 1 else float("nan")
    return out


# --------------------------------------------------------------------------
# Reusing a saved run
# --------------------------------------------------------------------------


@dataclass
class TrainedModel:
    """What :func:`reuse_or_train` returns: the Keras ``model`` (best weights),
    the ``data`` set it was trained and tested on (rebuilt exactly from the
    run's ``config.json``), the run's ``config`` (:class:`ExperimentConfig`)
    and ``metrics`` (``metrics.json``), its folder ``path``, whether it was
    ``reused`` (else trained now) and a one-line ``note`` saying which and why."""

    model: object
    data: object
    config: object
    metrics: dict
    path: Path
    reused: bool
    note: str = field(default="")


def _load_run(run_dir):
    """Load a saved run (:func:`run_experiment`'s folder): ``(model, data, config,
    metrics)``, the data set rebuilt from the run's ``config.json``
    (``load_dataset(**config.data.load_kwargs())``). :class:`emolib.runs.RunFolderError`
    names a folder that is incomplete or damaged."""
    import keras

    from .data import load_dataset

    config, metrics = runs._read_run(run_dir)
    config = ExperimentConfig.from_dict(config)
    model = keras.models.load_model(Path(run_dir) / runs.MODEL_FILE)
    return model, load_dataset(**config.data.load_kwargs()), config, metrics


def _unusable(candidate: Path, config, same_data) -> str | None:
    """Why the saved run ``candidate`` cannot stand in for training ``config`` (None: it can)."""
    from .evaluation import chance_ceiling

    if not candidate.is_dir():
        return "not found"
    try:
        saved, metrics = runs._read_run(candidate)
        saved = ExperimentConfig.from_dict(saved)
    except runs.RunFolderError as exc:  # incomplete or damaged: train anew
        return exc.reason  # the note shows the folder already, relative to runs_dir
    except (TypeError, ValueError) as exc:  # a config.json of fields this version does not know
        return str(exc)
    if same_data and saved.to_dict()["data"] != config.to_dict()["data"]:
        return "trained on other data"
    val = metrics.get("val", {})
    accuracy = val.get("accuracy") if isinstance(val, dict) else None
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy):
        found = f"val.accuracy is {accuracy!r}" if isinstance(val, dict) else f"val is a JSON {type(val).__name__}"
        return f"metrics.json has no usable validation accuracy ({found}; a damaged run, or one that diverged)"
    names, n = metrics.get("class_names"), val.get("num_samples")
    k = len(names) if isinstance(names, list) and names else 2
    ceiling = chance_ceiling(k, n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1)
    if not accuracy > ceiling:
        return f"validation accuracy {accuracy:.3f}, not above chance (up to {ceiling:.3f})"
    return None


def reuse_or_train(config, candidates=(), runs_dir="runs", same_data=True, progress=True) -> TrainedModel:
    """A trained model: the first usable saved run among ``candidates``, else a new run of ``config``.

    A candidate is used when it is complete (``best.keras``, ``config.json``,
    ``metrics.json``), was trained on the data ``config`` describes, and its *validation*
    accuracy is above :func:`emolib.evaluation.chance_ceiling` (a model that never left chance
    has nothing to deploy, and quantizing it tells nothing). Otherwise ``config`` is trained
    with :func:`run_experiment` into ``runs_dir`` (replacing a run of the same name).

    Parameters
    ----------
    config : ExperimentConfig
        The run to train when no candidate is usable.
    candidates : sequence of str or pathlib.Path, optional
        Run folders to try, in order.
    runs_dir : str or pathlib.Path, default "runs"
        Where a new run goes.
    same_data : bool, default True
        Require the candidate's ``data`` section to equal ``config``'s; ``False`` accepts any
        data, which is then rebuilt from the candidate's own config.
    progress : bool, default True
        Print progress lines while training.

    Returns
    -------
    TrainedModel
        The model (best weights), the data, the config and metrics, the run folder, whether
        it was ``reused``, and a ``note`` saying what happened (paths relative to ``runs_dir``).
    """
    from .data import load_dataset

    runs_dir = Path(runs_dir)
    reasons = []
    for candidate in map(Path, candidates):
        shown = os.path.relpath(candidate, runs_dir)
        why = _unusable(candidate, config, same_data)
        if why:
            reasons.append(f"{shown}: {why}")
            continue
        model, data, config_, metrics = _load_run(candidate)
        note = f"reused the saved run {shown} (validation accuracy {metrics['val']['accuracy']:.3f})"
        return TrainedModel(model, data, config_, metrics, candidate, True, note)
    result = run_experiment(config, runs_dir=runs_dir, progress=progress, overwrite=True)
    data = load_dataset(**result.config.data.load_kwargs())
    why = "; ".join(reasons) if reasons else "no saved run given"
    note = f"trained {os.path.relpath(result.path, runs_dir)} now ({why})"
    return TrainedModel(result.model, data, result.config, result.metrics, result.path, False, note)
