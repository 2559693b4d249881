"""emolib.realphotos (a lesson on generated faces vs real photos), the soft targets of
``sampled_dataset``, a Distiller trained by ``fit_keep_best`` (tests of the old loop, deleted with it),
and the real-photo benchmarks' bookkeeping (one trainer, evaluation.compare for every verdict). The loader runs on a fixture (made-up names) written by test_facial_expressions."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from emolib import models, realphotos
from emolib.ensemble import Distiller
from emolib.pipeline import sampled_dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_facial_expressions import write_copy  # noqa: E402


def test_evidence_counts_learning_gap_and_mcnemar():
    y = np.repeat([0, 1, 2, 3], 25)
    right = y.copy()
    wrong = (y + 1) % 4
    half = np.where(np.arange(100) % 2 == 0, y, wrong)
    ev = realphotos.evidence(y, [half, half], [right, right], 4)
    assert ev["f1_b"] == pytest.approx(1.0) and ev["acc_a"] == pytest.approx(0.5)
    assert ev["gap"] > 0.4 and ev["learned"] == {"A": True, "B": True}
    assert ev["p"] < 1e-6 and ev["settled"]
    chance = realphotos.evidence(y, [wrong], [right], 4)
    assert chance["learned"] == {"A": False, "B": True}


def test_verdict_needs_learning_and_a_settled_gap_on_both_sides():
    up = {"gap": 0.2, "learned": {"A": True, "B": True}, "settled": True}
    down = {**up, "gap": -0.2}
    noisy = {**up, "settled": False}
    assert realphotos.verdict(up, up) == "agrees"
    assert realphotos.verdict(up, down) == "reverses"
    assert realphotos.verdict(up, noisy) == "cannot tell: gap within noise on real"
    assert realphotos.verdict({**up, "learned": {"A": False, "B": True}}, up) == \
        "cannot tell: did not learn: A on generated"
    assert realphotos.verdict(None, up) == "cannot tell: not measured on generated"


def test_side_by_side_table_has_one_row_per_comparison():
    y = np.repeat([0, 1], 10)
    ev = realphotos.evidence(y, [y], [1 - y], 2)
    table = realphotos.side_by_side({"a vs b": (ev, ev), "c vs d": (ev, ev)})
    assert list(table.index) == ["a vs b", "c vs d"]
    assert table.loc["a vs b", "real B"] == pytest.approx(0.0)
    assert table["verdict"].str.startswith("cannot tell: did not learn: B").all()


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


def test_sampled_dataset_carries_soft_targets_with_their_image():
    x = np.arange(12, dtype="float32").reshape(12, 1, 1, 1) / 12
    y = np.array([0] * 9 + [1] * 3)
    soft = np.stack([x[:, 0, 0, 0], 1 - x[:, 0, 0, 0]], axis=1)  # row i is a function of image i
    for balance in ("sample", "none", "weight"):
        batch = next(iter(sampled_dataset(x, y, 2, balance=balance, batch_size=6, soft_targets=soft)))
        images, (onehot, targets) = batch[0], batch[1]
        np.testing.assert_allclose(targets.numpy()[:, 0], images.numpy()[:, 0, 0, 0])
        assert onehot.shape == (6, 2)
    with pytest.raises(ValueError, match="soft_targets must have shape"):
        sampled_dataset(x, y, 2, soft_targets=soft[:5])


def test_distiller_trains_through_train_on_photos():
    import keras

    keras.utils.set_random_seed(0)  # independent of what earlier tests drew
    rng = np.random.default_rng(0)
    x = rng.random((64, 16, 16, 1), dtype=np.float32)
    y = np.repeat([0, 1], 32)
    x[y == 1] += 0.5  # an easy, learnable difference
    teacher = np.eye(2, dtype="float32")[y] * 0.8 + 0.1
    distiller = Distiller(models.simple_cnn((16, 16, 1), 2), alpha=0.1)
    history = realphotos.train_on_photos(distiller, x, y, x, y, epochs=4, learning_rate=3e-3, epoch_size=256,
                                         batch_size=16, soft_targets=teacher)
    assert len(history) == 4 and max(history) > 0.6  # the best epoch is kept: above chance (0.33 = one class)


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
