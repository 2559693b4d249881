"""Emotion in text: notebook 10's text CNN against the TF-IDF baseline, written to
``emolib/results/text_emotion.json``.

    python benchmarks/text_emotion.py                               # GoEmotions (shipped), ~10-20 min on 2 CPU cores
    python benchmarks/text_emotion.py --data data/tweeteval-emotion  # any TweetEval-layout folder
    python benchmarks/text_emotion.py --quick --output /tmp/text.json  # a one-minute smoke run

For every task (GoEmotions: the Ekman 7 classes, TweetEval's 4 classes and seed 001's pairs anger/joy
and anger/optimism; a TweetEval folder: the last three) the script trains, on the task's training split,

* ``majority``: the most frequent training class;
* ``tfidf_lr``: TF-IDF on word 1-2-grams and character 2-4-grams, logistic regression with balanced
  class weights (notebook 10's baseline);
* ``text_cnn``: notebook 10's text CNN (:func:`emolib.text.text_cnn`: embedding 64, 100 filters each of
  widths 3, 4 and 5, 1-max pooling, dropout 0.5), Adam 1e-3, batch 64, class weights, early stopping on
  the validation loss (best weights kept), repeated over ``--seeds`` seeds;
* on a TweetEval folder also ``text_cnn_goemotions``: the same CNN trained first on GoEmotions' comments
  of the task's classes, then fine-tuned on the tweets at learning rate 1e-4 (notebook 10, section 10).

Texts get seed 001's five preprocessing steps (the choice notebook 10 measured). Reported per task and
model: test accuracy and macro-F1 (mean and standard deviation over seeds), parameters, training
seconds; and the settings used.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "emolib" / "results" / "text_emotion.json"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

START = time.perf_counter()


def log(message):
    print(f"[{time.perf_counter() - START:6.0f} s] {message}", flush=True)


def tfidf_lr():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    words = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True, max_features=50_000)
    classifier = LogisticRegression(C=1.0, solver="newton-cg", max_iter=100, class_weight="balanced")
    return make_pipeline(make_union(words, chars), classifier)


def scores(num_classes, y_true, y_pred):
    from sklearn.metrics import accuracy_score

    from emolib.evaluation import macro_f1

    return {"accuracy": float(accuracy_score(y_true, y_pred)), "macro_f1": macro_f1(y_true, y_pred, num_classes)}


def summary(runs):
    import numpy as np

    out = {}
    for key in ("accuracy", "macro_f1", "train_seconds"):
        values = np.array([r[key] for r in runs], dtype=float)
        out[key] = round(float(values.mean()), 4)
        out[f"{key}_std"] = round(float(values.std(ddof=1)), 4) if len(values) > 1 else 0.0
    out["params"] = runs[0]["params"]
    out["seeds"] = len(runs)
    out["epochs"] = [r["epochs"] for r in runs]
    return out


def fit_cnn(model, x, y, seed, args, learning_rate):
    import keras
    import numpy as np

    from emolib.pipeline import class_weights

    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x["train"], y["train"], validation_data=(x["val"], y["val"]), epochs=args.epochs,
                        batch_size=64, class_weight=class_weights(y["train"], int(np.max(y["train"])) + 1),
                        callbacks=[stop], verbose=0)
    return time.perf_counter() - start, len(history.history["loss"])


def run_task(task, args, settings):
    import keras
    import numpy as np

    from emolib import text
    from emolib.evaluation import predict_proba

    ds = text.load_text_dataset(args.data, task=task)
    splits = ("train", "val", "test")
    if args.quick:  # a smoke run: a few hundred texts per split
        ds = text.TextDataset({s: ds[s].take(np.arange(min(len(ds[s]), 600))) for s in splits}, ds.class_names)
    x = {s: text.preprocess(ds[s].texts) for s in splits}
    y = {s: ds[s].labels for s in splits}
    k = ds.num_classes
    counts = {s: np.bincount(y[s], minlength=k).tolist() for s in splits}
    log(f"{task}: {ds.class_names}, train/val/test {[len(y[s]) for s in splits]}")
    result = {"classes": list(ds.class_names), "counts": counts, "dropped": ds.info.get("dropped"), "models": {}}

    majority = np.bincount(y["train"]).argmax()
    result["models"]["majority"] = {**scores(k, y["test"], np.full(len(y["test"]), majority)), "params": 0,
                                    "train_seconds": 0.0}
    start = time.perf_counter()
    baseline = tfidf_lr().fit(x["train"], y["train"])
    seconds = time.perf_counter() - start
    result["models"]["tfidf_lr"] = {**scores(k, y["test"], baseline.predict(x["test"])),
                                    "params": int(baseline[-1].coef_.size + baseline[-1].intercept_.size),
                                    "train_seconds": round(seconds, 1)}
    log(f"  tfidf_lr: macro-F1 {result['models']['tfidf_lr']['macro_f1']:.3f} ({seconds:.0f} s)")

    source = None
    if not settings["on_goemotions"]:
        four = text.load_text_dataset("goemotions", task=task)
        source = {"x": text.preprocess(four.train.texts), "y": four.train.labels}
    vectorizer = keras.layers.TextVectorization(max_tokens=args.max_tokens, output_sequence_length=args.sequence_length,
                                                standardize=None, split="whitespace")
    vectorizer.adapt(x["train"] if source is None else np.concatenate([source["x"], x["train"]]))
    ids = {s: np.asarray(vectorizer(x[s])) for s in splits}
    vocab = vectorizer.vocabulary_size()

    def build():
        return text.text_cnn(vocab, k, args.sequence_length, embed_dim=64, filters=100, kernel_sizes=(3, 4, 5),
                             dropout=0.5)

    runs, pretrained_runs = [], []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        model = build()
        seconds, epochs = fit_cnn(model, ids, y, seed, args, 1e-3)
        pred = predict_proba(model, ids["test"]).argmax(axis=1)
        runs.append({**scores(k, y["test"], pred), "train_seconds": seconds, "epochs": epochs,
                     "params": model.count_params()})
        log(f"  text_cnn seed {seed}: macro-F1 {runs[-1]['macro_f1']:.3f} ({seconds:.0f} s, {epochs} epochs)")
        if source is not None:
            keras.utils.set_random_seed(seed)
            model = build()
            src = {"train": np.asarray(vectorizer(source["x"])), "val": ids["val"]}
            s1, e1 = fit_cnn(model, src, {"train": source["y"], "val": y["val"]}, seed, args, 1e-3)
            s2, e2 = fit_cnn(model, ids, y, seed, args, 1e-4)
            pred = predict_proba(model, ids["test"]).argmax(axis=1)
            pretrained_runs.append({**scores(k, y["test"], pred), "train_seconds": s1 + s2, "epochs": e1 + e2,
                                    "params": model.count_params()})
            log(f"  text_cnn_goemotions seed {seed}: macro-F1 {pretrained_runs[-1]['macro_f1']:.3f}")
    result["models"]["text_cnn"] = summary(runs)
    if pretrained_runs:
        result["models"]["text_cnn_goemotions"] = summary(pretrained_runs)
    result["vocabulary"] = int(vocab)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="goemotions", help="'goemotions' (default) or a TweetEval-layout folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT, help=f"JSON file (default {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--seeds", type=int, default=3, help="text CNN runs per task (default 3)")
    parser.add_argument("--epochs", type=int, default=15, help="most epochs per run; early stopping ends sooner")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--sequence-length", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=30_000)
    parser.add_argument("--tasks", nargs="*", help="default: ekman tweeteval4 anger_joy anger_optimism "
                                                   "(no ekman on TweetEval)")
    parser.add_argument("--quick", action="store_true", help="600 texts per split, for a smoke test")
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    from emolib.fileio import write_json

    keras.utils.disable_interactive_logging()
    on_goemotions = str(args.data).strip().lower() == "goemotions"
    if not on_goemotions and not Path(args.data).is_dir():
        parser.error(f"--data: '{args.data}' is not a folder (a TweetEval layout) nor 'goemotions'")
    tasks = args.tasks or (["ekman"] if on_goemotions else []) + ["tweeteval4", "anger_joy", "anger_optimism"]
    settings = {"on_goemotions": on_goemotions}
    results = {}
    for task in tasks:
        results[task] = run_task(task, args, settings)
    out = {
        "benchmark": "text_emotion",
        "command": " ".join(["python benchmarks/text_emotion.py", *(argv if argv is not None else sys.argv[1:])]),
        "data": str(args.data),
        "settings": {
            "preprocessing": "seed 001's five steps (emolib.text.preprocess)", "multi_label": "exclusive",
            "tfidf_lr": "word 1-2-grams + char_wb 2-4-grams (50k), sublinear TF-IDF, min_df 2; "
                        "LogisticRegression(C=1, newton-cg, class_weight='balanced')",
            "text_cnn": "emolib.text.text_cnn(embed_dim=64, filters=100, kernel_sizes=(3, 4, 5), pooling='max', "
                        "dropout=0.5); Adam 1e-3, batch 64, balanced class weights, early stopping on val loss",
            "seeds": args.seeds, "epochs": args.epochs, "patience": args.patience,
            "sequence_length": args.sequence_length, "max_tokens": args.max_tokens, "quick": args.quick,
        },
        "tasks": results,
        "total_seconds": round(time.perf_counter() - START, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "keras": keras.__version__, "scikit-learn": sklearn.__version__,
                    "numpy": np.__version__},
    }
    write_json(args.output, out)
    log(f"wrote {args.output}")
    for task, r in results.items():
        row = ", ".join(f"{m} {v['macro_f1']:.3f}" for m, v in r["models"].items())
        print(f"{task:15s} test macro-F1: {row}")
    return out


if __name__ == "__main__":
    main()
