"""emolib.realphotos (a lesson on generated faces vs real photos: does a comparison judged by
evaluation.compare carry over?), soft targets in the balanced stream, a Distiller trained on it,
and the real-photo benchmarks' bookkeeping (one trainer, evaluation.compare for every verdict).
The loader runs on a fixture (made-up names) written by test_facial_expressions."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from emolib import models, realphotos
from emolib.ensemble import Distiller
from emolib.evaluation import compare
from emolib.pipeline import make_dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_facial_expressions import write_copy  # noqa: E402


Y = np.repeat([0, 1, 2, 3], 25)
RIGHT, WRONG = Y.copy(), (Y + 1) % 4
HALF = np.where(np.arange(100) % 2 == 0, Y, WRONG)  # 50% right


def judged(a, b, seeds=3):
    return compare(Y, np.stack([a] * seeds), np.stack([b] * seeds), 4, names=("A", "B"))


def test_agreement_reads_the_two_compare_outcomes():
    up, down = judged(HALF, RIGHT), judged(RIGHT, HALF)
    assert (up.outcome, down.outcome) == ("B is better", "B is worse")
    assert realphotos.agreement(up, up) == "agrees"
    assert realphotos.agreement(up, down) == "reverses"
    same = judged(HALF, HALF)  # the interval holds 0
    assert realphotos.agreement(up, same) == "cannot tell: real: cannot tell: the interval holds 0"
    guess = judged(WRONG, RIGHT)  # A never right: it did not learn
    assert realphotos.agreement(guess, up).startswith("cannot tell: generated: cannot compare: A did not learn")
    assert realphotos.agreement(up, judged(HALF, RIGHT, seeds=1)).startswith("cannot tell: real: cannot tell: 1 seed")
    assert realphotos.agreement(None, up) == "cannot tell: no evaluation.compare result on generated"


def test_load_real_photos_none_prints_how_to_get_them(capsys):
    assert realphotos.load_real_photos(None) is None
    out = capsys.readouterr().out
    assert "REAL_PHOTOS is None" in out and "facial_expressions" in out


def test_load_real_photos_from_a_path_is_person_disjoint_and_balanced(tmp_path, capsys):
    root = write_copy(tmp_path / "copy")
    photos = realphotos.load_real_photos(str(root), image_size=32, channels=1)
    assert photos.train.images.shape[1:] == (32, 32, 1)
    counts = np.bincount(photos.test.labels, minlength=photos.num_classes)
    assert counts.min() == counts.max() > 0
    persons = {s: set(photos[s].meta["identity"]) for s in ("train", "val", "test")}
    assert not persons["train"] & persons["test"] and not persons["val"] & persons["test"]
    out = capsys.readouterr().out
    assert "person-disjoint" in out and "Person_" not in out  # sizes only, never a name


def test_find_real_photos_reads_the_environment_variable(tmp_path, monkeypatch):
    root = write_copy(tmp_path / "copy")
    monkeypatch.setenv("EMOLIB_FACIAL_EXPRESSIONS", str(root))
    assert realphotos._find_real_photos("auto") == (root, None)


def test_the_balanced_stream_carries_soft_targets_with_their_image():
    x = np.arange(12, dtype="float32").reshape(12, 1, 1, 1) / 12
    y = np.array([0] * 9 + [1] * 3)
    soft = np.stack([x[:, 0, 0, 0], 1 - x[:, 0, 0, 0]], axis=1)  # row i is a function of image i
    for balanced in (True, False):
        images, (onehot, targets) = next(iter(make_dataset(x, y, 2, batch_size=6, training=True,
                                                           balanced=balanced, soft_targets=soft)))
        np.testing.assert_allclose(targets.numpy()[:, 0], images.numpy()[:, 0, 0, 0])
        assert onehot.shape == (6, 2)
    with pytest.raises(ValueError, match="soft_targets must have shape"):
        make_dataset(x, y, 2, training=True, balanced=True, soft_targets=soft[:5])


def test_a_distiller_learns_from_the_balanced_stream():
    import keras

    keras.utils.set_random_seed(0)  # independent of what earlier tests drew
    rng = np.random.default_rng(0)
    x = rng.random((64, 16, 16, 1), dtype=np.float32)
    y = np.repeat([0, 1], 32)
    x[y == 1] += 0.5  # an easy, learnable difference
    teacher = np.eye(2, dtype="float32")[y] * 0.8 + 0.1
    distiller = Distiller(models.simple_cnn((16, 16, 1), 2), alpha=0.1)
    distiller.compile(optimizer=keras.optimizers.Adam(3e-3))
    distiller.fit(make_dataset(x, y, 2, batch_size=16, training=True, balanced=True, soft_targets=teacher),
                  epochs=4, steps_per_epoch=16, shuffle=False, verbose=0)
    accuracy = np.mean(distiller.student.predict(np.clip(x, 0, 1), verbose=0).argmax(1) == y)
    assert accuracy > 0.6  # above chance (0.5)


def test_benchmark_reads_the_packaged_files():
    """The notebooks' benchmark numbers come from the package (importlib.resources), not the checkout."""
    from importlib.resources import files

    assert files("emolib").joinpath("results", "real_photos.json").is_file()
    assert realphotos.benchmark("real_photos") and realphotos.benchmark("real_lessons")
    assert not (files("emolib") / "results" / "real_photos.json").read_text().startswith("..")  # a file, not a link


def test_benchmark_reads_both_result_files(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    bench = functools.partial(realphotos.benchmark, folder=results)
    assert bench("real_photos") == {} and bench("real_lessons") == {}
    (results / "real_photos.json").write_text(json.dumps({"tasks": {"4class": {"rungs": [
        {"name": "simple_cnn", "test": {"macro_f1": 0.6}}, {"name": "skipped_rung", "skipped": "why"}]}}}))
    (results / "real_lessons.json").write_text(json.dumps({"sources": {
        "generated": {"classes": ["a"], "lessons": {"gray_vs_rgb": {"a": 0.1}, "int8": {"cnn": {"a": 0.2}}}},
        "real": {"classes": ["b"], "lessons": {"gray_vs_rgb": {"a": -0.1}}}}}))
    assert list(bench("real_photos")) == ["simple_cnn"]
    assert bench("real_lessons") == {
        "gray_vs_rgb": {"generated": {"a": 0.1, "classes": ["a"]}, "real": {"a": -0.1, "classes": ["b"]}},
        "int8": {"generated": {"cnn": {"a": 0.2, "classes": ["a"]}}}}  # per-model lessons keep their models


def test_committed_real_lessons_json_has_every_lesson_on_both_sources():
    """Either shape: measured by the old loop (McNemar p, distillation) until benchmarks/real_lessons.py
    is re-run, or by run_experiment with evaluation.compare (distillation listed as not measured)."""
    path = ROOT / "emolib" / "results" / "real_lessons.json"
    data = json.loads(path.read_text())
    new = "not_measured" in data
    for source in ("generated", "real"):
        lessons = data["sources"][source]["lessons"]
        expected = {"gray_vs_rgb", "transfer_vs_scratch", "ensemble_vs_best", "int8"}
        assert set(lessons) == (expected if new else expected | {"distillation"})
        for entry in (lessons["gray_vs_rgb"], lessons["transfer_vs_scratch"], lessons["ensemble_vs_best"],
                      *([] if new else [lessons["distillation"]]), *lessons["int8"].values()):
            assert 0.0 <= entry["a"]["macro_f1"] <= 1.0 and 0.0 <= entry["b"]["macro_f1"] <= 1.0
            if new:
                assert entry["compare"]["outcome"] and entry["seeds"] >= 3
            else:
                assert 0.0 <= entry["mcnemar_p"] <= 1.0
    census = data["sources"]["real"]["lessons"]["gray_vs_rgb"]["census"]
    assert 0 < census["colour_images"] < census["train_images"]


def _script(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_and_tools_train_and_judge_only_through_the_one_trainer_and_rule():
    """Nothing in benchmarks/ or tools/ calls the old real-photo loop or its McNemar verdicts (issue 25)."""
    import re

    old = re.compile(r"train_on_photos|sampled_dataset|fit_keep_best|realphotos\.(evidence|verdict)|"
                     r"import (evidence|verdict)|mcnemar", re.IGNORECASE)
    for folder in ("benchmarks", "tools"):
        for path in sorted((ROOT / folder).glob("*.py")):
            code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
            hits = [m.group(0) for m in old.finditer(code)]
            assert not hits, (path.name, hits)


def test_ladder_comparisons_are_evaluation_compare_over_the_seeds():
    """benchmarks/real_photos.py: each (A, B) of the ladder judged by compare on the paired seeds; the
    ensemble's A is the rung best on validation, not on test."""
    ladder = _script("real_photos")
    y = np.tile([0, 1, 2, 3], 25)
    weak = [np.where(np.arange(100) % 3 == 0, (y + 1) % 4, y) for _ in range(3)]  # two thirds right
    strong = [y.copy() for _ in range(3)]
    rungs = [{"name": "simple_cnn", "val": {"macro_f1": 0.5}}, {"name": "simple_cnn_aug", "val": {"macro_f1": 0.4}},
             {"name": "ensemble", "val": {"macro_f1": 0.9}}]
    preds = {"simple_cnn": weak, "simple_cnn_aug": strong, "ensemble": strong}
    out = ladder.comparisons(rungs, preds, y, 4)
    assert set(out) == {"simple_cnn vs simple_cnn_aug", "simple_cnn vs ensemble"}
    entry = out["simple_cnn vs simple_cnn_aug"]
    assert entry["compare"]["outcome"] == "simple_cnn_aug is better" and entry["seeds"] == 3
    one_seed = ladder.comparisons(rungs, {k: v[:1] for k, v in preds.items()}, y, 4)
    assert one_seed["simple_cnn vs simple_cnn_aug"]["compare"]["outcome"].startswith("cannot tell: 1 seed")


def test_real_lessons_generated_vs_real_from_the_two_outcomes():
    lessons = _script("real_lessons")
    assert "distillation" in lessons.NOT_MEASURED  # no soft targets in run_experiment: said, not dropped silently

    def side(outcome):
        return {"lessons": {"gray_vs_rgb": {"compare": {"outcome": outcome}},
                            "int8": {"cnn": {"compare": {"outcome": "cannot tell: the interval holds 0"}}}}}

    out = lessons.generated_vs_real({"generated": side("rgb is worse"), "real": side("rgb is worse")})
    assert out == {"gray_vs_rgb": "agrees", "int8/cnn": "cannot tell: generated: cannot tell: the interval holds 0; "
                                                        "real: cannot tell: the interval holds 0"}
    assert lessons.generated_vs_real({"generated": side("rgb is better"), "real": side("rgb is worse")})[
        "gray_vs_rgb"] == "reverses"
