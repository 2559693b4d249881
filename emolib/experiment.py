"""A small framework to run, save and compare training experiments.

An experiment run is described by an :class:`ExperimentConfig` (data, model and
training settings, all JSON-serialisable). :func:`run_experiment` trains it and
saves everything under ``runs/<experiment>/<run>/``::

    runs/<experiment>/<run>/
        config.json                the ExperimentConfig (run name resolved)
        history.csv                per-epoch loss/metrics/learning rate (Keras'
                                   CSVLogger; its ``epoch`` column counts from 0)
        best.keras                 the model at its best validation epoch
        metrics.json               test metrics, ``val`` metrics, epochs, timing, ...
        classification_report.txt  scikit-learn's report on the test split
        confusion_matrix.csv       test confusion matrix (rows true, columns predicted)
        confusion_matrix.png
        learning_curves.png

:func:`collect_runs` gathers every run's config and metrics into one table.

Saving rules:

* **Atomic**: a run is written into a hidden temporary folder next to its final
  place (``runs/<experiment>/.<run>.tmp-<host>-<pid>-<random>``) and renamed when
  complete; a run that fails (or is interrupted) leaves nothing behind, and the
  hidden folder of a killed process is deleted by the next :func:`run_experiment`
  or :func:`collect_runs` on that experiment (:func:`recover_runs`).
* **No silent overwrite**: if ``runs/<experiment>/<run>`` exists,
  :func:`run_experiment` raises ``FileExistsError`` before training. Pass
  ``overwrite=True`` to replace it (the old run is removed only once the new one
  is complete; a process killed between the two renames of the swap is repaired by
  :func:`recover_runs`), or set ``run="auto"`` to number runs ``run-001``,
  ``run-002``, ... (safe for concurrent processes: each run's ``config.json`` names
  the folder it landed in).
* **Checked first**: bad names (slashes, a leading dot, over :data:`MAX_NAME_BYTES`
  bytes), training settings (``epochs``, ``batch_size``, ...) and the data's splits
  (:func:`emolib.data.validate_splits`) are errors before anything is trained or
  left on disk.

Example::

    config = ExperimentConfig(
        experiment="baseline", run="simple_cnn",
        data=DataConfig(classes="seed003", n_train=2000),
        train=TrainConfig(epochs=10),
    )
    result = run_experiment(config)
    result.metrics["accuracy"], result.path
"""

from __future__ import annotations

import copy
import dataclasses
import errno
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

from .fileio import temp_dir_beside, write_text

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

_SYNTHETIC_ONLY = ("balance", "n_train", "n_val", "n_test")
#: The files every complete run folder has (see the module docstring).
RUN_FILES = ("best.keras", "config.json", "metrics.json")


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    ``source``, ``classes`` (preset name or list of emotions), ``image_size``
    (pixels, square), ``channels`` (1 gray, 3 RGB) and ``seed`` go to
    :func:`emolib.data.load_dataset`; ``balance`` and ``n_train``/``n_val``/
    ``n_test`` (``None``: the generator's default) only for ``source="synthetic"``;
    ``options`` holds any other loader arguments (e.g. ``val_fraction``).

    ``sampling``: ``None``, ``"under"`` or ``"over"`` resamples the *training*
    split to balance its classes (:func:`emolib.pipeline.undersample_indices` /
    :func:`~emolib.pipeline.oversample_indices`); ``class_weight=True`` weights
    the loss by :func:`emolib.pipeline.class_weights` instead (or as well).
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
        kwargs = {
            "source": self.source,
            "classes": self.classes,
            "image_size": self.image_size,
            "channels": self.channels,
            "seed": self.seed,
        }
        if str(self.source).lower() == "synthetic":
            for key in _SYNTHETIC_ONLY:
                if getattr(self, key) is not None:
                    kwargs[key] = getattr(self, key)
        kwargs.update(self.options)
        return kwargs


@dataclass
class ModelConfig:
    """A model from :data:`emolib.models.MODELS` and its builder's keyword arguments."""

    name: str = "simple_cnn"
    params: dict = field(default_factory=dict)


@dataclass
class TrainConfig:
    """How to train.

    * ``epochs``: maximum number of epochs; ``batch_size``: images per step (the
      global batch size under a multi-device strategy);
    * ``optimizer``: a Keras optimizer name (``"adam"``, ``"sgd"``, ``"rmsprop"``,
      ``"adamw"``, ...) with ``learning_rate`` and extra ``optimizer_params``
      (e.g. ``{"momentum": 0.9}``);
    * ``monitor``: the validation quantity for early stopping, checkpointing and
      the plateau schedule (``"val_loss"`` or ``"val_accuracy"``);
    * ``early_stopping_patience``: epochs without improvement before stopping
      (``None``: never stop early);
    * ``lr_decay``: ``None`` (constant), ``{"kind": "plateau", "factor": 0.5,
      "patience": 2, "min_lr": 1e-6}`` (``ReduceLROnPlateau``) or
      ``{"kind": "cosine", "alpha": 0.0}`` (cosine decay to ``alpha`` times the
      initial rate over all steps);
    * ``augment``: ``None``, ``True`` or a dict of :class:`emolib.pipeline.Augment`
      fields; ``mixup_alpha``/``cutmix_alpha``: 0 turns them off;
    * ``seed``: weights initialisation, shuffling and augmentation;
    * ``verbose``: Keras' own ``fit`` output (0: off; see ``progress``).
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
    augment: object = None
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    seed: int = 0
    verbose: int = 0


@dataclass
class ExperimentConfig:
    """One run of one experiment: ``runs/<experiment>/<run>/``."""

    experiment: str = "default"
    run: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d) -> "ExperimentConfig":
        d = dict(d)
        parts = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
        kwargs = {}
        for key, value in d.items():
            if key in parts:
                value = value if isinstance(value, parts[key]) else _from_fields(parts[key], value)
            elif key not in ("experiment", "run"):
                raise ValueError(f"unknown config key {key!r}")
            kwargs[key] = value
        return cls(**kwargs)

    def to_json(self, path=None) -> str:
        """The config as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            write_text(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path) -> "ExperimentConfig":
        """Read a config from JSON text or a ``config.json`` path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    def updated(self, changes: dict) -> "ExperimentConfig":
        """A copy with ``changes`` applied; keys are field names, dotted for nested
        ones: ``config.updated({"run": "lr3e-3", "train.learning_rate": 3e-3})``."""
        new = copy.deepcopy(self)
        for key, value in changes.items():
            obj, *path = key.split(".")
            target = new
            names = [obj, *path]
            for name in names[:-1]:
                target = getattr(target, name) if dataclasses.is_dataclass(target) else target[name]
            last = names[-1]
            if dataclasses.is_dataclass(target):
                if last not in {f.name for f in dataclasses.fields(target)}:
                    raise ValueError(f"unknown config field {key!r}")
                setattr(target, last, value)
            else:
                target[last] = value
        return new


def _from_fields(cls, d):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(known)}")
    return cls(**d)


def _jsonable(obj):
    """Tuples -> lists, numpy scalars/arrays -> Python, NaN/inf -> None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------
# Training helpers
# --------------------------------------------------------------------------


def set_seed(seed):
    """Seed Python's, NumPy's and TensorFlow's random generators
    (``keras.utils.set_random_seed``), for reproducible weights and pipelines."""
    import keras

    keras.utils.set_random_seed(int(seed))


def fit_keep_best(model, train_ds, x_val, y_val, *, epochs, steps_per_epoch, learning_rate, alpha=0.05):
    """Train ``model`` on the endless stream ``train_ds`` (e.g.
    :func:`emolib.pipeline.sampled_dataset`) and keep the epoch with the best
    validation macro-F1.

    Compiles ``model`` with Adam and cosine decay of ``learning_rate`` to
    ``alpha`` times it over all steps, categorical cross-entropy; after each of
    ``epochs`` epochs of ``steps_per_epoch`` steps it scores ``x_val`` ``(n, h, w, c)``
    against ``y_val`` ``(n,)`` (:func:`emolib.evaluation.f1_scores`) and finally
    restores the best epoch's weights. Returns the per-epoch validation macro-F1.
    Macro-F1, not loss, selects: on an imbalanced set the loss favours the majority.
    A :class:`emolib.ensemble.Distiller` trains the same way (its stream yields
    ``(images, (one_hot, teacher_proba))``, see ``soft_targets`` of
    :func:`emolib.pipeline.sampled_dataset`); its loss is built in.
    """
    import keras

    from .evaluation import f1_scores, predict_proba

    if epochs < 1 or steps_per_epoch < 1:
        raise ValueError(f"need epochs >= 1 and steps_per_epoch >= 1, got {epochs} and {steps_per_epoch}")
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch,
                                                      alpha=alpha)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="categorical_crossentropy")
    best, best_weights, history = -1.0, None, []
    for _ in range(epochs):
        model.fit(train_ds, epochs=1, steps_per_epoch=steps_per_epoch, verbose=0, shuffle=False)
        proba = predict_proba(model, x_val)  # (n, num_classes)
        f1 = f1_scores(y_val, proba, proba.shape[1])["macro_f1"]
        history.append(f1)
        if f1 > best:
            best, best_weights = f1, model.get_weights()
    model.set_weights(best_weights)
    return history


def _progress_callback(epochs, print_fn=print):
    import keras

    class EpochProgress(keras.callbacks.Callback):
        """One short line per epoch (no timings, so notebook outputs stay stable)."""

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [f"epoch {epoch + 1:>{len(str(epochs))}}/{epochs}"]
            for key, label, fmt in (
                ("loss", "loss", ".4f"), ("accuracy", "acc", ".3f"),
                ("val_loss", "val_loss", ".4f"), ("val_accuracy", "val_acc", ".3f"),
                ("learning_rate", "lr", ".2e"),
            ):
                if key in logs:
                    parts.append(f"{label} {float(logs[key]):{fmt}}")
            print_fn("  ".join(parts))

    return EpochProgress()


def _lr_logger():
    import keras

    class LearningRateLogger(keras.callbacks.Callback):
        """Adds the epoch's learning rate to the logs (before CSVLogger writes them)."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))

    return LearningRateLogger()


def _make_optimizer(train: TrainConfig, steps_per_epoch):
    import keras

    lr = train.learning_rate
    decay = train.lr_decay or {}
    kind = decay.get("kind", "plateau") if decay else None
    if kind == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=max(1, train.epochs * steps_per_epoch), alpha=decay.get("alpha", 0.0)
        )
    elif kind not in (None, "plateau"):
        raise ValueError(f"unknown lr_decay kind {kind!r}; use 'plateau', 'cosine' or None")
    return keras.optimizers.get(
        {"class_name": train.optimizer, "config": {"learning_rate": lr, **train.optimizer_params}}
    )


def _callbacks(train: TrainConfig, workdir: Path, progress):
    import keras

    cbs = [_lr_logger()]
    decay = train.lr_decay or {}
    if decay and decay.get("kind", "plateau") == "plateau":
        cbs.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=train.monitor, factor=decay.get("factor", 0.5),
                patience=decay.get("patience", 2), min_lr=decay.get("min_lr", 1e-6),
            )
        )
    if train.early_stopping_patience is not None:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor=train.monitor, patience=train.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    cbs += [
        keras.callbacks.ModelCheckpoint(
            str(workdir / "best.keras"), monitor=train.monitor, save_best_only=True
        ),
        keras.callbacks.CSVLogger(str(workdir / "history.csv")),
    ]
    if progress:
        cbs.append(_progress_callback(train.epochs))
    return cbs


def _prepare_data(config: ExperimentConfig, dataset):
    """Load (or check) the data set and resample its training split."""
    from .data.base import resolve_classes, validate_splits
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
    validate_splits(dataset)  # no run with an empty split (NaN scores) or an unlearnable class
    train = dataset["train"]
    sampling = config.data.sampling
    if sampling == "under":
        train = train.take(undersample_indices(train.labels, seed=config.data.seed))
    elif sampling == "over":
        train = train.take(oversample_indices(train.labels, seed=config.data.seed))
    elif sampling is not None:
        raise ValueError(f"sampling must be None, 'under' or 'over', got {sampling!r}")
    return dataset, train


# --------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------

_AUTO = re.compile(r"^run-(\d+)$")


def _next_auto_run(exp_dir: Path) -> str:
    numbers = [int(m.group(1)) for p in exp_dir.glob("run-*") if (m := _AUTO.match(p.name))]
    return f"run-{max(numbers, default=0) + 1:03d}"


#: Longest experiment or run name, in UTF-8 bytes: the hidden temporary folder adds
#: about 40 bytes, and most file systems allow 255.
MAX_NAME_BYTES = 200


def _check_name(name, what):
    name = str(name)
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"invalid {what} name {name!r} (no slashes, must not start with '.')")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"{what} name is {len(name.encode('utf-8'))} bytes long, more than {MAX_NAME_BYTES}: "
                         f"{name[:40]!r}...")
    return name


def _check_train(train: TrainConfig):
    """Refuse training settings that would fail late or train nothing, naming the field."""
    for key in ("epochs", "batch_size"):
        value = getattr(train, key)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"TrainConfig.{key} must be a positive integer, got {value!r}")
    lr = train.learning_rate
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"TrainConfig.learning_rate must be a positive number, got {lr!r}")
    patience = train.early_stopping_patience
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, (int, np.integer))
                                 or patience < 0):
        raise ValueError(f"TrainConfig.early_stopping_patience must be None or an integer >= 0, got {patience!r}")
    if not str(train.monitor).startswith("val_"):
        raise ValueError(f"TrainConfig.monitor must be a validation quantity such as 'val_loss' or "
                         f"'val_accuracy', got {train.monitor!r}")


def _write_json(path: Path, obj):
    # Inside the run's temporary folder, which is renamed into place as a whole.
    path.write_text(json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


# Hidden work folders beside a run are named ".<run>.<kind>-<host>-<pid>-<random>" (kind "tmp":
# a run being built; "old": the run an overwrite is replacing), so that the folders of a
# process that died (killed mid-run or mid-overwrite) can be told from those of a live one.
_WORK = re.compile(r"^\.(?P<run>.+)\.(?P<kind>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[^.]+$")

#: Test hook: called between the two renames of an overwrite (to inject a crash there).
_BETWEEN_RENAMES = None


def _host_tag() -> str:
    import socket
    import zlib

    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _work_dir(final: Path, kind: str) -> Path:
    return temp_dir_beside(final, f"{kind}-{_host_tag()}-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in RUN_FILES)


def recover_runs(exp_dir) -> list:
    """Finish what killed processes left in the experiment folder ``exp_dir``.

    An overwrite renames the old run aside, then the new one into place; a process
    killed between the two renames leaves both hidden. If the new run is complete it
    is installed (the overwrite finishes), else the old run is put back. Hidden
    temporary folders of runs whose process is gone are deleted. Folders of live
    processes (and of other machines sharing the folder) are left alone.
    :func:`run_experiment` and :func:`collect_runs` call this. Returns a list of
    ``(action, run name)`` for what it did.
    """
    exp_dir = Path(exp_dir)
    host = _host_tag()
    dead = []
    for entry in exp_dir.iterdir() if exp_dir.is_dir() else ():
        m = _WORK.match(entry.name)
        if m and entry.is_dir() and m["host"] == host and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            dead.append((m, entry))
    done = []
    for m, old in (d for d in dead if d[0]["kind"] == "old"):
        run, final = m["run"], exp_dir / m["run"]
        saved = old / run
        if not final.exists():
            new = [e for mm, e in dead if mm["kind"] == "tmp" and mm["run"] == run and mm["pid"] == m["pid"]
                   and e.exists() and _complete(e)]
            if new:
                os.rename(new[0], final)
                done.append(("finished overwrite", run))
            elif saved.is_dir():
                os.rename(saved, final)
                done.append(("restored", run))
        shutil.rmtree(old, ignore_errors=True)
    for m, tmp in (d for d in dead if d[0]["kind"] == "tmp"):
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            done.append(("removed unfinished", m["run"]))
    for action, run in done:
        if action != "removed unfinished":
            warnings.warn(f"'{exp_dir / run}': {action} (its process was killed during an overwrite)", stacklevel=2)
    return done


def _rename_new(tmp: Path, final: Path):
    """``os.rename`` that reports a taken name as ``FileExistsError`` (a non-empty
    folder is never replaced)."""
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or final.exists():
            raise FileExistsError(errno.EEXIST, "run folder exists", str(final)) from exc
        raise


def _install(tmp: Path, final: Path, overwrite: bool, auto: bool, config: "ExperimentConfig") -> Path:
    """Write ``config.json`` (with the run's final name) into the finished run
    folder ``tmp`` and rename it to ``final`` (see module docstring)."""
    if auto:
        # Another process may take a number at any moment: the name is chosen, written
        # into config.json and claimed by the rename, retried with the next free number.
        for _ in range(1000):
            final = final.with_name(_next_auto_run(final.parent))
            config.run = final.name
            _write_json(tmp / "config.json", config.to_dict())
            try:
                _rename_new(tmp, final)
                return final
            except FileExistsError:
                continue
        raise FileExistsError(f"could not claim a run-NNN name in '{final.parent}'")
    config.run = final.name
    _write_json(tmp / "config.json", config.to_dict())
    if final.exists():
        if not overwrite:
            raise FileExistsError(
                f"run folder '{final}' was created while this run was training; "
                "pass overwrite=True or run='auto'"
            )
        old = _work_dir(final, "old")
        os.rename(final, old / final.name)
        try:
            if _BETWEEN_RENAMES is not None:
                _BETWEEN_RENAMES()
            os.rename(tmp, final)
        except BaseException:
            os.rename(old / final.name, final)  # put the earlier run back
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return final
    try:
        _rename_new(tmp, final)
    except FileExistsError:
        raise FileExistsError(
            f"run folder '{final}' was created while this run was training; pass overwrite=True or run='auto'"
        ) from None
    return final


# --------------------------------------------------------------------------
# Running and collecting
# --------------------------------------------------------------------------


@dataclass
class RunResult:
    """What :func:`run_experiment` returns.

    ``path``: the run folder; ``config``: the :class:`ExperimentConfig` (run name
    resolved); ``metrics``: the contents of ``metrics.json``; ``history``: the
    per-epoch DataFrame of ``history.csv``; ``model``: the trained Keras model with
    its best weights; ``test``: the full :func:`emolib.evaluation.evaluate` result
    on the test split (confusion matrix, predictions, probabilities).
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
    progress : print one line per epoch (loss, accuracy, validation loss and
        accuracy, learning rate) plus a header and a summary line.
    overwrite : replace an existing ``runs/<experiment>/<run>`` (else
        ``FileExistsError``); ignored with ``run="auto"``.
    strategy : a ``tf.distribute.Strategy`` or a kind for
        :func:`emolib.distribute.get_strategy`; the model is built and compiled
        in its scope. ``config.train.batch_size`` is the global batch size.

    The model is the one from the epoch with the best ``config.train.monitor``
    (reloaded from ``best.keras``), evaluated on the validation and test splits.
    """
    if isinstance(config, dict):
        config = ExperimentConfig.from_dict(config)
    config = copy.deepcopy(config)
    experiment = _check_name(config.experiment, "experiment")
    _check_train(config.train)
    exp_dir = Path(runs_dir) / experiment
    auto = config.run == "auto"
    if exp_dir.is_dir():
        recover_runs(exp_dir)
    run = _next_auto_run(exp_dir) if auto else _check_name(config.run, "run")
    final = exp_dir / run
    if final.exists() and not overwrite and not auto:
        raise FileExistsError(
            f"run folder '{final}' already exists; choose another run name, pass "
            "overwrite=True to replace it, or use run='auto' to number runs"
        )
    config.run = run

    import keras  # after the checks: a wrong argument fails in milliseconds

    from . import __version__
    from .distribute import describe, get_strategy
    from .evaluation import evaluate, metrics_for_json
    from .models import build_model
    from .pipeline import class_weights, make_dataset
    from . import plots

    created_exp_dir = not exp_dir.exists()
    tmp = None
    try:
        exp_dir.mkdir(parents=True, exist_ok=True)
        tmp = _work_dir(exp_dir / run, "tmp")
        set_seed(config.train.seed)
        data, train_split = _prepare_data(config, dataset)
        k = data.num_classes
        size, channels = config.data.image_size, config.data.channels
        tc = config.train
        pipe = dict(image_size=size, channels=channels, batch_size=tc.batch_size)
        train_ds = make_dataset(
            train_split.images, train_split.labels, k, training=True, augment=tc.augment,
            mixup_alpha=tc.mixup_alpha, cutmix_alpha=tc.cutmix_alpha, seed=tc.seed, **pipe,
        )
        val_ds = make_dataset(data["val"].images, data["val"].labels, k, **pipe)
        test_ds = make_dataset(data["test"].images, data["test"].labels, k, **pipe)
        weights = class_weights(train_split.labels, k) if config.data.class_weight else None

        strategy = get_strategy(strategy)
        steps = math.ceil(len(train_split) / tc.batch_size)
        with strategy.scope():
            model = build_model(config.model.name, (size, size, channels), k, **config.model.params)
            model.compile(
                optimizer=_make_optimizer(tc, steps),
                loss="categorical_crossentropy",
                metrics=[
                    "accuracy",
                    keras.metrics.TopKCategoricalAccuracy(2, name="top_2_accuracy"),
                    keras.metrics.TopKCategoricalAccuracy(3, name="top_3_accuracy"),
                ],
            )
        if progress:
            print(
                f"{experiment}/{run}: {config.model.name} ({model.count_params():,} params), "
                f"{k} classes, train {len(train_split)} / val {len(data['val'])} / "
                f"test {len(data['test'])} images of {size}x{size}x{channels}"
            )

        start = time.perf_counter()
        model.fit(
            train_ds, validation_data=val_ds, epochs=tc.epochs, class_weight=weights, shuffle=False,
            callbacks=_callbacks(tc, tmp, progress), verbose=tc.verbose,
        )
        train_seconds = time.perf_counter() - start

        history = pd.read_csv(tmp / "history.csv")
        best_path = tmp / "best.keras"
        if best_path.exists():
            model.load_weights(best_path)
        else:  # the monitored value was never finite: keep the last weights
            model.save(best_path)
        scores = history[tc.monitor].to_numpy(dtype=float)
        finite = np.where(np.isfinite(scores), scores, np.nan)
        if np.all(np.isnan(finite)):
            best_epoch = len(history)
        elif "acc" in tc.monitor:
            best_epoch = int(np.nanargmax(finite)) + 1
        else:
            best_epoch = int(np.nanargmin(finite)) + 1

        names = list(data.class_names)
        test = evaluate(model, test_ds, data["test"].labels, names)
        val = evaluate(model, val_ds, data["val"].labels, names)
        val_metrics = metrics_for_json(val)
        val_metrics.pop("class_names")
        metrics = {
            **metrics_for_json(test),
            "val": val_metrics,
            "epochs_trained": int(len(history)),
            "best_epoch": best_epoch,
            "train_seconds": round(train_seconds, 3),
            "params": int(model.count_params()),
            "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "data": {
                "name": data.name,
                "image_shape": [size, size, channels],
                "n_train": len(train_split),
                "n_val": len(data["val"]),
                "n_test": len(data["test"]),
                "train_class_counts": np.bincount(train_split.labels, minlength=k).tolist(),
            },
            **describe(strategy),
            "versions": {"emolib": __version__, "keras": keras.__version__},
        }

        _write_json(tmp / "metrics.json", metrics)
        (tmp / "classification_report.txt").write_text(test["report"])
        pd.DataFrame(test["confusion_matrix"], index=names, columns=names).rename_axis(
            index="true", columns="predicted"
        ).to_csv(tmp / "confusion_matrix.csv")
        import matplotlib.pyplot as plt

        for fig in (
            plots.confusion_matrix(test["confusion_matrix"], names, save_path=tmp / "confusion_matrix.png"),
            plots.learning_curves(history, save_path=tmp / "learning_curves.png"),
        ):
            plt.close(fig)

        final = _install(tmp, final, overwrite, auto, config)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if created_exp_dir:
            try:
                exp_dir.rmdir()  # only if empty
            except OSError:
                pass
        raise
    config.run = final.name
    if progress:
        print(
            f"best epoch {best_epoch}/{len(history)}: test accuracy {test['accuracy']:.3f}, "
            f"macro F1 {test['macro_avg']['f1']:.3f} -> {Path(runs_dir).name}/{experiment}/{final.name}"
        )
    return RunResult(final, config, metrics, history, model, test)


def _flatten(d, prefix=""):
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = tuple(value)
        else:
            out[name] = value if not isinstance(value, dict) else None
    return out


#: Metric columns of :func:`collect_runs`: column -> path in ``metrics.json``.
RUN_COLUMNS = {
    "test_accuracy": ("accuracy",),
    "test_top_2_accuracy": ("top_2_accuracy",),
    "test_top_3_accuracy": ("top_3_accuracy",),
    "test_loss": ("loss",),
    "macro_precision": ("macro_avg", "precision"),
    "macro_recall": ("macro_avg", "recall"),
    "macro_f1": ("macro_avg", "f1"),
    "weighted_precision": ("weighted_avg", "precision"),
    "weighted_recall": ("weighted_avg", "recall"),
    "weighted_f1": ("weighted_avg", "f1"),
    "val_accuracy": ("val", "accuracy"),
    "val_macro_f1": ("val", "macro_avg", "f1"),
    "epochs": ("epochs_trained",),
    "best_epoch": ("best_epoch",),
    "train_seconds": ("train_seconds",),
    "params": ("params",),
    "trainable_params": ("trainable_params",),
}


class RunFolderError(ValueError):
    """A run folder that is incomplete or damaged; the message names the folder and file."""


def read_run(run_dir) -> tuple:
    """``(config, metrics)``: the dicts of a complete run folder's ``config.json`` and
    ``metrics.json``.

    Raises :class:`RunFolderError` naming the folder when one of :data:`RUN_FILES`
    is missing, or a JSON file is unreadable, truncated or not a JSON object.
    """
    run_dir = Path(run_dir)
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise RunFolderError(f"'{run_dir}': not a complete run folder (no {', '.join(missing)})")
    out = []
    for name in ("config.json", "metrics.json"):
        try:
            value = json.loads((run_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
            raise RunFolderError(f"'{run_dir}': cannot read {name} ({type(exc).__name__}: {exc})") from None
        if not isinstance(value, dict):
            raise RunFolderError(f"'{run_dir}': {name} holds a JSON {type(value).__name__}, not an object")
        out.append(value)
    return tuple(out)


def collect_runs(runs_dir="runs", experiment=None) -> pd.DataFrame:
    """One row per saved run under ``runs_dir`` (optionally only ``experiment``, a
    name or a list of names).

    Columns: ``experiment``, ``run``, every config field flattened with dots
    (``model.name``, ``train.learning_rate``, ``model.params.filters``, ...; lists
    become tuples), then the metrics of :data:`RUN_COLUMNS`: test accuracy and
    top-k, test loss, macro and weighted precision/recall/F1 on the test split,
    validation accuracy and macro F1, epochs trained, best epoch, training seconds
    and parameter counts (total and trainable; the latter is missing from runs
    saved before it was recorded). Unfinished (temporary) run folders are skipped;
    so is, with a warning naming it, a folder that :func:`read_run` cannot read (no
    ``best.keras`` or ``config.json``, damaged JSON). Runs left half-replaced by a
    killed overwrite are first repaired (:func:`recover_runs`).
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"no runs folder '{runs_dir}'")
    wanted = None if experiment is None else {experiment} if isinstance(experiment, str) else set(experiment)
    rows = []
    for exp_dir in sorted(d for d in runs_dir.iterdir() if d.is_dir() and not d.name.startswith(".")):
        if wanted is None or exp_dir.name in wanted:
            recover_runs(exp_dir)
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        run_dir = metrics_path.parent
        exp = run_dir.parent.name
        if run_dir.name.startswith(".") or exp.startswith(".") or (wanted is not None and exp not in wanted):
            continue
        try:
            config, metrics = read_run(run_dir)
        except RunFolderError as exc:  # one damaged folder must not hide every other run
            warnings.warn(f"collect_runs skips {exc}", stacklevel=2)
            continue
        row = {"experiment": exp, "run": run_dir.name, "setting": run_setting(run_dir.name)}
        row.update(_flatten({k: v for k, v in config.items() if k not in ("experiment", "run")}))
        for column, path in RUN_COLUMNS.items():
            value = metrics
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            row[column] = value
        rows.append(row)
    columns = ["experiment", "run", "setting", *RUN_COLUMNS]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    config_cols = [c for c in df.columns if c not in columns]
    return df[["experiment", "run", "setting", *config_cols, *RUN_COLUMNS]].reset_index(drop=True)


def run_setting(run_name: str) -> str:
    """The setting a run belongs to: its name without a trailing ``_seed<k>``
    (``"adam_lr1e-3_seed2"`` -> ``"adam_lr1e-3"``). Runs that repeat one setting
    over several seeds share it, which is what :func:`summarize_runs` groups by."""
    return re.sub(r"_seed\d+$", "", str(run_name))


#: Default metrics of :func:`summarize_runs`.
SUMMARY_METRICS = ("val_accuracy", "val_macro_f1", "test_accuracy", "macro_f1", "epochs", "train_seconds")


def summarize_runs(table, by="setting", metrics=SUMMARY_METRICS) -> pd.DataFrame:
    """Mean and spread of repeated runs: one row per value of ``by``.

    ``table`` is a :func:`collect_runs` frame; ``by`` a column name or a list of
    them (default ``"setting"``: runs that differ only by their ``_seed<k>``
    suffix). Columns: ``runs`` (how many runs were averaged), then for each of
    ``metrics`` its mean (``<metric>``), sample standard deviation
    (``<metric>_std``, NaN for a single run) and range (``<metric>_min``,
    ``<metric>_max``). Rows keep the order in which each group first appears.
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
    a seed (its initial weights and shuffling order) cancels. One row per setting
    other than the baseline, in order of first appearance:

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

    Raises ``ValueError`` when ``baseline`` is not a value of ``by``.
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


def effect_verdicts(effects, confidence=0.95) -> pd.Series:
    """A verdict per row of :func:`compare_to_baseline`'s table: ``"better"`` or
    ``"worse"`` when the paired t-test (its ``p_value``) rejects "no effect" at
    ``confidence`` (two-sided), ``"within the noise"`` otherwise, ``"one seed:
    cannot tell"`` with fewer than two pairs and ``"no values: cannot tell"`` when
    the effect is missing (NaN: the metric is absent from the runs). Identical
    nonzero differences (no spread, so no p-value) count as an effect."""

    def verdict(row):
        if row["pairs"] < 2:
            return "one seed: cannot tell"
        if pd.isna(row["effect"]):
            return "no values: cannot tell"
        exact = pd.isna(row["p_value"]) and row["effect"] != 0  # identical nonzero differences
        if exact or row["p_value"] < 1 - confidence:
            return "better" if row["effect"] > 0 else "worse"
        return "within the noise"

    return effects.apply(verdict, axis=1).rename("verdict")
