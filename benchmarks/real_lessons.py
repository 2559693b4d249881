"""Lessons of notebooks 02, 05, 07 and 08 measured side by side on generated faces and on real
photographs, with the same code and the same trainer, written to ``emolib/results/real_lessons.json``.

    python benchmarks/real_lessons.py --data ../shared/facial-expressions     # ~35 min on 2 idle cores
    python benchmarks/real_lessons.py --data PATH --quick --output /tmp/rl.json --runs-dir /tmp/rl_runs

``benchmarks/real_photos.py`` measures the ladder (transfer, imbalance, augmentation,
ResNet-like) on real photos only; the generated side of those lessons comes from the
notebooks' full profile. The lessons here are run on both data sets by one function, on
seed 003's 4 classes:

* **generated**: :func:`emolib.data.synthetic.generate` (``--gen-train`` training faces,
  balanced classes, identity-disjoint splits);
* **real**: the ``muxspace/facial_expressions`` layout at ``--data`` (person-disjoint splits,
  balanced test split); on both, validation is capped at ``--val-cap`` images per class.

Every network is one :func:`emolib.experiment.run_experiment` run of the real-photo recipe
(:func:`emolib.realphotos.photo_config`: class-balanced sampling, ``--epoch-size`` images per
epoch, Adam with cosine decay, the epoch with the best validation macro-F1 kept), on both data
sets (for the generated faces the config's ``data.source`` says ``"synthetic"``, nothing else
differs), saved under ``--runs-dir``/``real_lessons_<source>``. Every network is trained with
``--seeds`` seeds (at least 3 for a verdict).

Lessons (each: A and B's test accuracy, macro-F1 and per-class F1 per seed and their mean, and
the verdict of :func:`emolib.evaluation.compare` over the paired seeds and test images):

* ``gray_vs_rgb`` (02): the simple CNN at 48x48 with 1 vs 3 input channels. Also a colour
  census: the share of images whose channels differ (most real photos are gray copies);
* ``transfer_vs_scratch`` (05): the simple CNN from scratch vs the FER2013 network fine-tuned
  (a new head on the frozen network, then its last 30 layers), one recipe on both data sets
  (notebook 05's generated-face result comes from its own recipe);
* ``ensemble_vs_best`` (07): per seed, the soft vote of that seed's networks (the gray and RGB
  CNNs and the fine-tuned FER2013 network) vs the member best on validation macro-F1 (mean
  over seeds);
* ``int8`` (08): every seed's gray CNN and fine-tuned FER2013 network exported to ONNX and
  statically quantized (QDQ, per-channel int8 weights, uint8 activations, 256 training
  images for calibration); fp32 vs int8 and the share of test images whose class changes.

Not measured any more: ``distillation`` (07). Training a student on a teacher's soft
probabilities needs soft targets in the training stream; ``run_experiment``'s
``DataConfig``/``TrainConfig`` have no such option, so it cannot go through the one trainer
(the JSON's ``not_measured`` says so).

Generated vs real, per lesson: ``agrees`` or ``reverses`` when ``compare`` gives a direction
(``B is better``/``B is worse``) on both data sets, else ``cannot tell`` and why
(:func:`real_vs_generated.carry_over` in ``tools/``, the rule the docs' table uses).
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
sys.path.insert(0, str(ROOT / "tools"))
from real_photos import compare_entry  # noqa: E402  (the ladder's compare entry: one JSON shape)
from real_photos_kfold import _commit, log  # noqa: E402  (the k-fold benchmark's helpers, not copies)

#: Lessons ``run_experiment`` cannot express, and why.
NOT_MEASURED = {"distillation": "a student trained on a teacher's soft probabilities needs soft targets in the "
                                "training stream; run_experiment's DataConfig/TrainConfig have none, so it "
                                "cannot go through the one trainer"}


def load(source, cfg):
    """Seed 003's 4 classes at 64x64 RGB (every run converts them to its own size and channels), the
    validation split capped at ``cfg.val_cap`` per class: ``"generated"`` or ``"real"`` (``cfg.data``)."""
    from emolib.data import load_dataset
    from emolib.data.base import EmotionDataset
    from emolib.data.synthetic import generate
    from emolib.pipeline import capped_indices

    if source == "generated":
        ds = generate(classes="seed003", n_train=cfg.gen_train, n_val=cfg.gen_train // 4,
                      n_test=cfg.gen_train // 4, image_size=64, channels=3, seed=cfg.split_seed)
    else:
        ds = load_dataset("facial_expressions", path=cfg.data, classes="seed003", balanced_test=True,
                          image_size=64, channels=3, val_fraction=0.15, test_fraction=0.25, seed=cfg.split_seed)
    keep = capped_indices(ds.val.labels, cfg.val_cap, cfg.split_seed)
    return EmotionDataset({"train": ds.train, "val": ds.val.take(keep), "test": ds.test}, list(ds.class_names),
                          name=ds.name)


def colour_census(ds, threshold):
    """How many training images have colour at all (their channels differ)."""
    import numpy as np

    rgb = ds.train.images.astype("float32")
    spread = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])).mean(axis=(1, 2))
    colour = spread > threshold
    return {"train_images": int(len(rgb)), "colour_images": int(colour.sum()),
            "colour_share": round(float(colour.mean()), 4),
            "colour_per_class": {c: int(colour[ds.train.labels == i].sum()) for i, c in enumerate(ds.class_names)},
            "threshold": f"mean |R-G| + |G-B| > {threshold} (0-255 scale)"}


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


def lesson(name_a, proba_a, name_b, proba_b, y, notes):
    """A lesson entry: A and B summaries (test probabilities ``(n, k)``, one per seed, paired by
    position) and :func:`emolib.evaluation.compare`'s verdict on B vs A (``compare``)."""
    a, b = summary([scores(y, p) for p in proba_a]), summary([scores(y, p) for p in proba_b])
    return {**compare_entry(name_a, proba_a, name_b, proba_b, y, proba_a[0].shape[1]), "notes": notes, "a": a,
            "b": b, "gap": round(b["macro_f1"] - a["macro_f1"], 4)}


def recipe(source, run, model, cfg, names, seed, **kwargs):
    """The one recipe (:func:`emolib.realphotos.photo_config`) for either data set."""
    from emolib.realphotos import photo_config

    config = photo_config(run, model, class_names=names, seed=seed, epoch_size=cfg.epoch_size,
                          experiment=f"real_lessons_{source}", **kwargs)
    return config.updated({"data.source": "synthetic"}) if source == "generated" else config


def train(config, data, cfg):
    from emolib.experiment import run_experiment

    started = time.monotonic()
    result = run_experiment(config, dataset=data, runs_dir=cfg.runs_dir, overwrite=True, progress=False)
    log(f"    {config.run}: {time.monotonic() - started:.0f} s, best epoch {result.metrics['best_epoch']}, "
        f"val macro-F1 {result.metrics['val']['macro_avg']['f1']:.3f}")
    return result


def int8_entry(result, ds, names, tmp):
    """fp32 vs static int8 ONNX of one run's model: test probabilities of each, share of changed classes."""
    import numpy as np

    from emolib.export import export_onnx, onnx_caller, predict_in_batches, quantize_static
    from emolib.pipeline import prepare_images

    d = result.config.data
    x_train, x_test = (prepare_images(ds[s].images, d.image_size, d.channels).numpy() for s in ("train", "test"))
    fp32 = export_onnx(result.model, Path(tmp) / f"{result.config.run}.onnx", names)
    int8 = quantize_static(fp32, Path(tmp) / f"{result.config.run}_int8.onnx", x_train[:256])
    p32 = predict_in_batches(onnx_caller(fp32, threads=2), x_test)
    p8 = predict_in_batches(onnx_caller(int8, threads=2), x_test)
    return p32, p8, float(np.mean(p32.argmax(1) != p8.argmax(1)))


def run_source(source, cfg):
    import numpy as np

    from emolib.ensemble import soft_vote
    from emolib.transfer import FER_INPUT_SIZE

    started = time.monotonic()
    ds = load(source, cfg)
    names, k, seeds = list(ds.class_names), ds.num_classes, list(range(cfg.seeds))
    census = colour_census(ds, cfg.colour_threshold)
    yt = ds.test.labels
    log(f"{source}: train {len(ds.train.labels)}, val {len(ds.val.labels)}, test {len(yt)}; "
        f"colour images {census['colour_share']:.1%}")
    runs = {}  # member -> [RunResult per seed]
    fer = dict(image_size=FER_INPUT_SIZE, channels=1)
    for seed in seeds:  # no clear_session between seeds: every seed's models are exported to ONNX below
        for member, channels in (("simple_cnn_gray", 1), ("simple_cnn_rgb", 3)):
            runs.setdefault(member, []).append(train(recipe(
                source, f"{member}_seed{seed}", "simple_cnn", cfg, names, seed, epochs=cfg.epochs,
                learning_rate=1e-3, image_size=48, channels=channels), ds, cfg))
        head = train(recipe(source, f"fer_head_seed{seed}", "fer_transfer", cfg, names, seed,
                            epochs=cfg.head_epochs, learning_rate=3e-3, params={"mode": "frozen"}, **fer), ds, cfg)
        runs.setdefault("fer_finetune", []).append(train(recipe(
            source, f"fer_finetune_seed{seed}", "fer_transfer", cfg, names, seed, epochs=cfg.finetune_epochs,
            learning_rate=3e-4, params={"mode": "finetune", "finetune_layers": 30}, init_from=head.path, **fer),
            ds, cfg))
    proba = {m: [np.asarray(r.test["proba"]) for r in rs] for m, rs in runs.items()}  # (n_test, k) per seed
    lessons = {"gray_vs_rgb": lesson("simple_cnn_gray", proba["simple_cnn_gray"], "simple_cnn_rgb",
                                     proba["simple_cnn_rgb"], yt,
                                     "simple CNN at 48x48, 1 vs 3 input channels; the census says how many "
                                     "training images have colour at all")}
    lessons["gray_vs_rgb"]["census"] = census
    lessons["transfer_vs_scratch"] = lesson("simple_cnn_gray", proba["simple_cnn_gray"], "fer_finetune",
                                            proba["fer_finetune"], yt,
                                            "simple CNN from scratch (48x48 gray) vs the FER2013 mini-Xception "
                                            "fine-tuned (64x64 gray, head then last 30 layers), one recipe")

    # ensemble: per seed, that seed's members soft-voted; vs the member best on validation (mean over seeds)
    val_f1 = {m: float(np.mean([r.metrics["val"]["macro_avg"]["f1"] for r in rs])) for m, rs in runs.items()}
    best = max(val_f1, key=val_f1.get)
    vote = [soft_vote(np.stack([proba[m][i] for m in runs])) for i in range(len(seeds))]
    lessons["ensemble_vs_best"] = lesson(best, proba[best], "ensemble", vote, yt,
                                         f"per seed, the soft vote of {list(runs)} vs the member best on "
                                         f"validation macro-F1 (mean over seeds: "
                                         + ", ".join(f"{m} {v:.3f}" for m, v in val_f1.items()) + ")")

    # int8: every seed's gray CNN and fine-tuned FER network, fp32 vs static int8 ONNX
    lessons["int8"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for member in ("simple_cnn_gray", "fer_finetune"):
            quant = [int8_entry(r, ds, names, tmp) for r in runs[member]]
            entry = lesson(f"{member}_fp32", [q[0] for q in quant], f"{member}_int8", [q[1] for q in quant], yt,
                           "ONNX fp32 vs static QDQ int8 (per-channel weights, uint8 activations, 256 calibration "
                           "training images)")
            entry["changed_predictions"] = [round(q[2], 4) for q in quant]
            lessons["int8"][member] = entry
    log(f"{source} done in {time.monotonic() - started:.0f} s")
    return {"classes": names, "sizes": {"y": int(len(ds.train.labels)), "yv": int(len(ds.val.labels)),
                                        "yt": int(len(yt))},
            "runs": {m: [str(r.path.relative_to(cfg.runs_dir)) for r in rs] for m, rs in runs.items()},
            "lessons": lessons, "seconds": round(time.monotonic() - started, 1)}


def generated_vs_real(sources):
    """``{lesson: verdict}`` from the two data sets' :func:`emolib.evaluation.compare` outcomes."""
    from real_vs_generated import carry_over

    gen, real = (sources.get(s, {}).get("lessons", {}) for s in ("generated", "real"))
    out = {}
    for name in dict.fromkeys([*gen, *real]):
        g, r = gen.get(name), real.get(name)
        if name == "int8":
            for model in dict.fromkeys([*(g or {}), *(r or {})]):
                out[f"int8/{model}"] = carry_over((g or {}).get(model), (r or {}).get(model))
        else:
            out[name] = carry_over(g, r)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="a copy of muxspace/facial_expressions (images/ and data/legend.csv)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "real_lessons")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of every network (a verdict needs 3)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the from-scratch networks")
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--epoch-size", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--gen-train", type=int, default=2800, help="generated training faces (val, test: a quarter)")
    parser.add_argument("--val-cap", type=int, default=100, help="validation images per class at most")
    parser.add_argument("--colour-threshold", type=float, default=6.0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--sources", default="generated,real")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 1-2 epochs, 400 generated faces "
                        "(verdicts then say 'cannot tell': compare needs 3 seeds)")
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
    cfg.runs_dir = cfg.runs_dir.resolve()
    from emolib.benchmark import cpu_int8_support
    from emolib.fileio import write_json

    started = time.monotonic()
    result = {"command": "python benchmarks/real_lessons.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "what": "seed 003's 4 classes on generated faces and real photos; every network trained by "
                      "run_experiment (realphotos.photo_config), every verdict evaluation.compare over the seeds",
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()
                           if k not in ("data", "output", "runs_dir")},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                          "cpu": cpu_int8_support(),
                          "load_average_at_start": [round(v, 2) for v in os.getloadavg()]},
              "commit": _commit(), "not_measured": NOT_MEASURED, "sources": {}}
    for source in cfg.sources.split(","):
        result["sources"][source] = run_source(source, cfg)
        result["generated_vs_real"] = generated_vs_real(result["sources"])
        result["seconds"] = round(time.monotonic() - started, 1)
        result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        write_json(cfg.output, result)  # after every source: a partial result survives an interruption
        log(f"wrote {cfg.output}")
    return result


if __name__ == "__main__":
    main()
