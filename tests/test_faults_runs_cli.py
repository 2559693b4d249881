"""The fault suite, second campaign (issue 24): predictions, runs and training.

7. malformed ONNX metadata and a rank-3 output; 8. file names that are not UTF-8;
12. a model whose outputs are NaN; 9. damaged candidate runs in ``reuse_or_train``;
16. a run whose training diverges; 17. two overwrites of one run at once;
18. control characters in run names and the recovery of their hidden folders.

The promise: every bad input gets one clear error naming the file, row or argument,
nothing half-written is left, and good inputs are still served. ONNX models are built
by hand with ``onnx.helper`` (no Keras export); the two cases that train (9, 16) train
a few tiny images for one or two epochs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emolib import experiment as ex
from emolib import export, runs
from test_experiment import quadrant_dataset
from test_predict_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def onnx_model(path, meta="emolib", out_shape=(-1, 4), nan_on_black=False):
    """A hand-built ONNX model: a 2x2 gray image reshaped to ``out_shape``, then a softmax;
    ``nan_on_black``: the pixels are divided by themselves first (0/0 = NaN for a black image).
    ``meta`` is the ``emolib`` metadata entry (any JSON value; ``"emolib"``: a valid one)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Reshape", ["image", "shape"], ["flat"])]
    last = "flat"
    if nan_on_black:
        nodes.append(helper.make_node("Div", ["flat", "flat"], ["ratio"]))
        last = "ratio"
    nodes.append(helper.make_node("Softmax", [last], ["proba"]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 2, 2, 1])],
        [helper.make_tensor_value_info("proba", TensorProto.FLOAT, ["batch", *out_shape[1:]])],
        [numpy_helper.from_array(np.array(out_shape, np.int64), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if meta == "emolib":
        meta = {"class_names": ["angry", "happy", "sad", "surprise"][: out_shape[-1]], "image_size": [2, 2],
                "channels": 1, "scaling": export.SCALING, "input_name": "image"}
    helper.set_model_props(model, {export._METADATA_KEY: json.dumps(meta)})
    onnx.save(model, str(path))
    return path


def write_image(path, value=128):
    Image.fromarray(np.full((5, 7), value, np.uint8), "L").save(path)
    return path


def strict_json(text):
    """``json.loads`` that refuses NaN and infinities, as JSON does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------------- 7. malformed metadata


@pytest.mark.parametrize("meta, message", [
    (5, r"'emolib' metadata is a JSON int, not an object"),
    (None, r"'emolib' metadata is a JSON null, not an object"),
    ([{}], r"'emolib' metadata is a JSON list, not an object"),
])
def test_item07_malformed_metadata_is_one_error_naming_the_model(tmp_path, capsys, meta, message):
    model = onnx_model(tmp_path / "odd.onnx", meta=meta)
    with pytest.raises(export.ModelFileError, match=r"odd\.onnx'.*" + message):
        export.OnnxClassifier(model)
    with pytest.raises(export.ModelFileError, match=message):
        export.read_metadata(model)
    status, out, err = run_cli(capsys, "predict", write_image(tmp_path / "a.png"), "--model", model, "--json")
    assert status == 1 and out == ""
    assert err.count("error:") == 1 and "odd.onnx" in err and "Traceback" not in err


def test_item07_an_output_that_is_not_one_row_per_image_is_refused_at_load(tmp_path, capsys):
    model = onnx_model(tmp_path / "rank3.onnx", out_shape=(-1, 2, 2))
    message = r"rank3\.onnx'.*output 'proba' has shape \['batch', 2, 2\].*\(batch, 2\)"
    with pytest.raises(export.ModelFileError, match=message):
        export.OnnxClassifier(model)
    status, out, err = run_cli(capsys, "predict", write_image(tmp_path / "a.png"), "--model", model)
    assert status == 1 and out == "" and "rank3.onnx" in err and "output" in err


def test_item07_an_output_shape_known_only_when_the_model_runs_is_refused(tmp_path, capsys, monkeypatch):
    model = onnx_model(tmp_path / "m.onnx")
    monkeypatch.setattr(export, "onnx_caller", lambda session: lambda x: np.zeros((len(x), 2, 2), np.float32))
    with pytest.raises(export.ModelFileError, match=r"m\.onnx'.*output of shape \(1, 2, 2\), expected \(batch, 4\)"):
        export.OnnxClassifier(model).predict_files([write_image(tmp_path / "a.png")])
    status, out, err = run_cli(capsys, "predict", tmp_path / "a.png", "--model", model, "--json")
    assert status == 1 and out == "" and err.count("error:") == 1 and "output of shape (1, 2, 2)" in err


# --------------------------------------------------------------------------- 8. file names not UTF-8


def test_item08_a_file_name_that_is_not_utf8_is_printed_safely(tmp_path):
    model = onnx_model(tmp_path / "m.onnx")
    bad = write_image(Path(os.fsdecode(bytes(tmp_path) + b"/bad\xff.png")))
    broken = Path(os.fsdecode(bytes(tmp_path) + b"/broken\xfe.png"))
    broken.write_bytes(b"not an image")
    good = write_image(tmp_path / "good.png")
    env = {**ENV, "PYTHONIOENCODING": "utf-8"}
    for extra in ([], ["--json"]):
        proc = subprocess.run([sys.executable, "-m", "emolib", "predict", os.fsencode(bad), os.fsencode(broken), good,
                               "--model", model, *extra], capture_output=True, env=env, cwd=ROOT, timeout=120)
        out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")  # strict: valid UTF-8 throughout
        assert proc.returncode == 1 and "Traceback" not in err, err
        assert err.count("error:") == 1 and "broken\\xfe.png" in err  # the unreadable one, named
        if extra:
            result = strict_json(out)
            files = [p["file"] for p in result["predictions"]]
            assert files == [str(tmp_path / "bad\\xff.png"), str(good)]
            assert [e["file"] for e in result["errors"]] == [str(tmp_path / "broken\\xfe.png")]
            assert all(f.encode("utf-8") for f in files)  # no lone surrogate for other JSON readers
        else:
            assert "bad\\xff.png" in out and "good.png" in out and "broken" not in out


# --------------------------------------------------------------------------- 12. NaN outputs


def test_item12_nan_probabilities_are_an_error_for_that_file(tmp_path, capsys):
    model = onnx_model(tmp_path / "m.onnx", nan_on_black=True)
    good, black = write_image(tmp_path / "good.png"), write_image(tmp_path / "black.png", value=0)
    status, out, err = run_cli(capsys, "predict", good, black, "--model", model, "--json")
    assert status == 1
    result = strict_json(out)
    assert [p["file"] for p in result["predictions"]] == [str(good)]
    assert [e["file"] for e in result["errors"]] == [str(black)]
    message = result["errors"][0]["error"]
    assert "black.png" in message and "m.onnx" in message and "not finite" in message
    assert err.count("error:") == 1 and "black.png" in err
    status, out, err = run_cli(capsys, "predict", black, good, "--model", model)  # the table
    assert status == 1 and "good.png" in out and "black.png" not in out and "black.png" in err
    with pytest.raises(ValueError, match=r"black\.png.*m\.onnx.*not finite"):
        export.OnnxClassifier(model).predict_files([good, black])


# --------------------------------------------------------------------------- 9. damaged candidates


def test_item09_a_damaged_candidate_run_is_retrained(tmp_path):
    config = ex.ExperimentConfig(
        experiment="deploy", run="tiny_seed0",
        data=ex.DataConfig(classes="seed003", image_size=16, channels=1, n_train=16, n_val=8, n_test=8),
        model=ex.ModelConfig("simple_cnn", {"filters": (4,)}), train=ex.TrainConfig(epochs=1, batch_size=16),
    )
    damaged = {"null": {"accuracy": None, "num_samples": 8}, "list": [0.9], "text": {"accuracy": "0.9"}}
    candidates = []
    for name, val in damaged.items():
        folder = tmp_path / "old" / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({**config.to_dict(), "run": name}))
        (folder / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "class_names": list("abcd"), "val": val}))
        (folder / "best.keras").write_bytes(b"")
        candidates.append(folder)
    trained = ex.reuse_or_train(config, candidates, runs_dir=tmp_path, progress=False)
    assert not trained.reused and trained.path == tmp_path / "deploy" / "tiny_seed0"
    assert "\n" not in trained.note
    for name in damaged:
        assert f"old/{name}: metrics.json has no usable validation accuracy" in trained.note


# --------------------------------------------------------------------------- 16. diverged training


CLASSES = ("happy", "neutral", "sad", "surprise")


def test_item16_a_diverged_run_names_the_run_and_the_epoch_and_saves_nothing(tmp_path):
    config = ex.ExperimentConfig(
        experiment="exp", run="a", data=ex.DataConfig(classes=list(CLASSES), image_size=16),
        model=ex.ModelConfig("simple_cnn", {"filters": [8, 16], "dense_units": 32}),
        train=ex.TrainConfig(epochs=2, batch_size=8, learning_rate=1e9))
    with pytest.raises(FloatingPointError,
                       match=r"training diverged in run 'exp/a': the training loss became nan at epoch 2 of 2"):
        ex.run_experiment(config, dataset=quadrant_dataset(sizes=(16, 8, 8)), runs_dir=tmp_path / "runs", progress=False)
    assert list((tmp_path / "runs").rglob("*")) == []  # no run folder, no hidden one


# --------------------------------------------------------------------------- 17. concurrent overwrites


def finished_tmp(exp_dir, run, tag):
    """A finished run's work folder, as run_experiment has it just before installing it."""
    tmp = runs.work_dir(exp_dir / run, "tmp")
    for name in runs._RUN_FILES:
        (tmp / name).write_text(json.dumps({"tag": tag}) if name == runs.METRICS_FILE else "")
    return tmp


@pytest.mark.parametrize("second_looks", ["after", "before"])
def test_item17_two_overwrites_of_one_run_at_once(tmp_path, monkeypatch, second_looks):
    """The first overwrite pauses between its two renames (the old run aside, its own not yet in
    place); the second overwrite starts then ("after"), or had found the old run in place just
    before the first moved it ("before": it then renames a folder that is gone)."""
    exp_dir = tmp_path / "exp"
    final = exp_dir / "same"
    final.mkdir(parents=True)
    (final / runs.METRICS_FILE).write_text(json.dumps({"tag": "old"}))
    first, second = finished_tmp(exp_dir, "same", "first"), finished_tmp(exp_dir, "same", "second")
    config = {"experiment": "exp", "run": "same"}
    paused, go_on, result = threading.Event(), threading.Event(), {}

    def pause():
        if threading.current_thread() is thread and not paused.is_set():
            paused.set()
            go_on.wait(20)

    def first_overwrite():
        try:
            result["first"] = runs.install(first, final, dict(config), overwrite=True)
        except BaseException as exc:  # noqa: BLE001 (checked below)
            result["first"] = exc

    def start_first():
        thread.start()
        assert paused.wait(20)

    thread = threading.Thread(target=first_overwrite, daemon=True)
    monkeypatch.setattr(runs, "_BETWEEN_RENAMES", pause)
    if second_looks == "after":
        start_first()
    else:
        real_work_dir = runs.work_dir

        def first_moves_it_now(run_dir, kind="tmp"):  # the second found the run, then the first moves it aside
            if kind == "old" and threading.current_thread() is threading.main_thread() and not paused.is_set():
                start_first()
            return real_work_dir(run_dir, kind)

        monkeypatch.setattr(runs, "work_dir", first_moves_it_now)
    try:
        assert runs.install(second, final, dict(config), overwrite=True) == final
        assert json.loads((final / runs.METRICS_FILE).read_text())["tag"] == "second"
    finally:
        go_on.set()
        thread.join(20)
    assert result["first"] == final
    assert json.loads((final / runs.METRICS_FILE).read_text())["tag"] == "first"  # the later overwrite wins
    assert [p.name for p in exp_dir.iterdir()] == ["same"]  # no hidden folder left


# --------------------------------------------------------------------------- 18. control characters


@pytest.mark.parametrize("name", ["two\nlines", "tab\there", "escape\x1b[31m", "del\x7f"])
def test_item18_control_characters_in_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"invalid run name .* control character"):
        runs._check_name(name, "run")
    for change, what in (({"run": name}, "run"), ({"experiment": name}, "experiment")):
        config = ex.ExperimentConfig(experiment="exp", run="r", train=ex.TrainConfig(epochs=1)).updated(change)
        with pytest.raises(ValueError, match=f"invalid {what} name .* control character"):
            ex.run_experiment(config, runs_dir=tmp_path / "runs", progress=False)
        assert not (tmp_path / "runs").exists()


def test_item18_recovery_removes_the_hidden_folder_of_a_killed_run_with_a_newline(tmp_path, monkeypatch):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    monkeypatch.setattr(os, "getpid", lambda: proc.pid)  # folders of a process that is gone
    stale = runs.work_dir(exp_dir / "two\nlines", "tmp")  # as an older emolib let it be named
    monkeypatch.undo()
    assert runs._recover_runs(exp_dir) == [("removed unfinished", "two\nlines")]
    assert not stale.exists() and list(exp_dir.iterdir()) == []
