"""Baseline ladder on the generated data set, written to ``emolib/results/baseline_ladder.json``.

    python benchmarks/baseline_ladder.py                      # full ladder (~15 min on 2 CPU cores)
    python benchmarks/baseline_ladder.py --n-train 3000 --epochs 5 --out /tmp/ladder.json

Three rungs on the default 7-class balanced set (48x48 grayscale), from
:func:`emolib.data.synthetic.generate`:

* ``majority``: always predict the most frequent training class;
* ``logistic_regression``: scikit-learn ``LogisticRegression`` on raw pixels
  (scaled to [0, 1] and standardised per pixel), ``C`` chosen on validation;
* ``simple_cnn``: :func:`emolib.models.simple_cnn` trained with Adam, batch 64,
  early stopping on validation accuracy (best weights restored), fed by plain
  ``model.fit(x / 255., y)`` on in-memory arrays.

The generator is tuned so that the CNN lands where good models land on FER2013
(roughly 65-80% test accuracy) far above logistic regression, with FER2013's
confusable pairs (fear/surprise, angry/disgust, sad/neutral) visible in the
CNN's confusion matrix. Reported per rung: test accuracy, macro-F1 and seconds;
for the CNN also the confusion matrix (rows: true class, columns: predicted),
per-class recall, the most confused class pairs and the training history.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

from emolib.fileio import write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "emolib" / "results" / "baseline_ladder.json"

def confused_pairs(cm, class_names, top=6) -> list:
    """Class pairs ranked by how often they are mistaken for each other (both
    directions, as a fraction of the two classes' test images)."""
    import numpy as np

    cm = np.asarray(cm, dtype=float)
    support = cm.sum(axis=1)
    pairs = []
    for i in range(len(class_names)):
        for j in range(i + 1, len(class_names)):
            mixed = cm[i, j] + cm[j, i]
            pairs.append({
                "pair": [class_names[i], class_names[j]],
                "rate": round(float(mixed / max(support[i] + support[j], 1)), 4),
                f"{class_names[i]}->{class_names[j]}": int(cm[i, j]),
                f"{class_names[j]}->{class_names[i]}": int(cm[j, i]),
            })
    pairs.sort(key=lambda p: -p["rate"])
    return pairs[:top]

def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=14000)
    parser.add_argument("--n-val", type=int, default=None, help="default: n_train / 5")
    parser.add_argument("--n-test", type=int, default=None, help="default: n_train / 5")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak Adam learning rate")
    parser.add_argument("--warmup-epochs", type=float, default=2.0,
                        help="linear warm-up from lr/10 (harmless for the default simple_cnn; needed with dense_units > 0, whose ReLUs a cold start at 1e-3 can kill)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow/BLAS threads")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    n_val = args.n_val if args.n_val is not None else args.n_train // 5
    n_test = args.n_test if args.n_test is not None else args.n_train // 5

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    from sklearn.metrics import accuracy_score, confusion_matrix

    from emolib.evaluation import macro_f1

    from emolib.data.synthetic import generate

    result = {
        "benchmark": "baseline_ladder",
        "data": {},
        "rungs": {},
        "platform": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
    }

    t0 = time.perf_counter()
    ds = generate("fer7", n_train=args.n_train, n_val=n_val, n_test=n_test, balance="balanced",
                  image_size=args.image_size, channels=args.channels, seed=args.seed)
    gen_s = time.perf_counter() - t0
    names = list(ds.class_names)
    k = len(names)
    result["data"] = {
        "generator": "emolib.data.synthetic.generate",
        "classes": names, "balance": "balanced", "image_size": args.image_size, "channels": args.channels,
        "seed": args.seed, "n_train": len(ds.train), "n_val": len(ds.val), "n_test": len(ds.test),
        "identities": ds.info["identities"], "generation_seconds": round(gen_s, 1),
    }
    print(f"generated {ds!r} in {gen_s:.1f}s", flush=True)

    x_tr = ds.train.images.reshape(len(ds.train), -1).astype(np.float32) / 255.0
    x_va = ds.val.images.reshape(len(ds.val), -1).astype(np.float32) / 255.0
    x_te = ds.test.images.reshape(len(ds.test), -1).astype(np.float32) / 255.0
    y_tr, y_va, y_te = ds.train.labels, ds.val.labels, ds.test.labels

    def scores(pred):
        return {
            "accuracy": round(float(accuracy_score(y_te, pred)), 4),
            "macro_f1": round(macro_f1(y_te, pred, k), 4),
        }

    # rung 1: majority class
    t = time.perf_counter()
    majority = int(np.bincount(y_tr, minlength=k).argmax())
    result["rungs"]["majority"] = {**scores(np.full(len(y_te), majority)), "predicts": names[majority],
                                    "seconds": round(time.perf_counter() - t, 2)}
    print("majority", result["rungs"]["majority"], flush=True)

    # rung 2: logistic regression on standardised raw pixels, C chosen on validation
    t = time.perf_counter()
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-3
    z_tr, z_va, z_te = (x_tr - mean) / std, (x_va - mean) / std, (x_te - mean) / std
    best = None
    val_acc = {}
    for c in (0.003, 0.03):
        lr = LogisticRegression(C=c, max_iter=200, tol=1e-3)
        lr.fit(z_tr, y_tr)
        acc = float(accuracy_score(y_va, lr.predict(z_va)))
        val_acc[str(c)] = round(acc, 4)
        if best is None or acc > best[0]:
            best = (acc, c, lr)
    pred = best[2].predict(z_te)
    result["rungs"]["logistic_regression"] = {
        **scores(pred), "C": best[1], "val_accuracy_by_C": val_acc,
        "train_accuracy": round(float(accuracy_score(y_tr, best[2].predict(z_tr))), 4),
        "confusion_matrix": confusion_matrix(y_te, pred, labels=list(range(k))).tolist(),
        "seconds": round(time.perf_counter() - t, 1),
    }
    print("logistic_regression", {kk: v for kk, v in result["rungs"]["logistic_regression"].items() if kk != "confusion_matrix"}, flush=True)
    del z_tr, z_va, z_te

    # rung 3: the curriculum's simple CNN
    if not args.skip_cnn:
        import keras
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, args.threads))
        from emolib.models import simple_cnn

        keras.utils.set_random_seed(args.seed)
        shape = ds.image_shape
        xi_tr = ds.train.images.astype("float32") / 255.0
        xi_va = ds.val.images.astype("float32") / 255.0
        xi_te = ds.test.images.astype("float32") / 255.0
        model = simple_cnn(input_shape=shape, num_classes=k)
        steps = -(-len(y_tr) // args.batch_size)
        warmup = max(1, int(args.warmup_epochs * steps))
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=args.lr / 10, decay_steps=max(1, args.epochs * steps - warmup), alpha=0.05,
            warmup_target=args.lr, warmup_steps=warmup,
        )
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=args.patience, restore_best_weights=True)
        t = time.perf_counter()
        hist = model.fit(xi_tr, y_tr, validation_data=(xi_va, y_va), epochs=args.epochs,
                         batch_size=args.batch_size, callbacks=[stop], verbose=2)
        fit_s = time.perf_counter() - t
        prob = model.predict(xi_te, batch_size=256, verbose=0)
        pred = prob.argmax(axis=1)
        cm = confusion_matrix(y_te, pred, labels=list(range(k)))
        recall = cm.diagonal() / np.maximum(cm.sum(axis=1), 1)
        val_hist = [round(float(v), 4) for v in hist.history["val_accuracy"]]
        result["rungs"]["simple_cnn"] = {
            **scores(pred),
            "params": int(model.count_params()),
            "epochs_run": len(val_hist), "epochs_max": args.epochs,
            "best_epoch": int(np.argmax(val_hist)) + 1, "batch_size": args.batch_size,
            "optimizer": f"adam, lr {args.lr / 10:g} -> {args.lr:g} (linear warm-up, {args.warmup_epochs:g} epochs) then cosine decay to {args.lr * 0.05:g}", "early_stopping": {"monitor": "val_accuracy", "patience": args.patience},
            "val_accuracy": max(val_hist),
            "history": {"accuracy": [round(float(v), 4) for v in hist.history["accuracy"]], "val_accuracy": val_hist},
            "confusion_matrix": cm.tolist(),
            "confusion_labels": names,
            "recall": {n: round(float(r), 4) for n, r in zip(names, recall)},
            "most_confused_pairs": confused_pairs(cm, names),
            "seconds": round(fit_s, 1),
            "train_images_per_s": round(len(y_tr) * len(val_hist) / fit_s),
        }
        print("simple_cnn", {kk: v for kk, v in result["rungs"]["simple_cnn"].items()
                             if kk not in ("confusion_matrix", "history")}, flush=True)

    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.out, result)
    print(f"wrote {args.out}", flush=True)
    return result

if __name__ == "__main__":
    sys.exit(0 if main() else 1)
