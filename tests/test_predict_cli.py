"""The prediction command, ``python -m emolib predict IMAGE... --model MODEL.onnx``:
images of odd sizes and colour modes, the model's stored preprocessing, table
and JSON output, and clear errors for unreadable images, wrong models and wrong
arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnx
import pytest
from PIL import Image

from emolib import export
from emolib.cli import main
from emolib.models import simple_cnn

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "real-faces-sample"
CLASSES = ["happy", "neutral", "sad", "surprise"]
SIZE = 24


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A gray and an RGB model (random weights), their ONNX exports and a metadata-free copy."""
    folder = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    out = {}
    for channels, name in ((1, "gray"), (3, "rgb")):
        model = simple_cnn(input_shape=(SIZE, SIZE, channels), num_classes=4, filters=(8, 16))
        out[name] = export.export_onnx(model, folder / f"{name}.onnx", CLASSES)
    proto = onnx.load(str(out["gray"]))
    del proto.metadata_props[:]
    out["plain"] = folder / "plain.onnx"
    onnx.save(proto, str(out["plain"]))
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Face-like test images in several sizes, modes and formats."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (70, 50, 3), dtype=np.uint8)
    files = {
        "gray.png": Image.fromarray(base[..., 0], "L"),
        "rgb.jpg": Image.fromarray(base, "RGB").resize((91, 33)),
        "rgba.png": Image.fromarray(np.dstack([base, np.full(base.shape[:2], 128, np.uint8)]), "RGBA"),
        "palette.png": Image.fromarray(base, "RGB").quantize(16),
        "tiny.png": Image.fromarray(base[:7, :5, 1], "L"),
        "exact.png": Image.fromarray(base[:SIZE, :SIZE, 2], "L"),
    }
    paths = {}
    for name, image in files.items():
        paths[name] = folder / name
        image.save(paths[name])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    paths["broken.png"] = folder / "broken.png"
    return paths


def run_cli(capsys, *argv):
    """Run the command in this process; returns (exit status, stdout, stderr)."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


GOOD = ["gray.png", "rgb.jpg", "rgba.png", "palette.png", "tiny.png", "exact.png"]


@pytest.mark.parametrize("model", ["gray", "rgb"])
def test_json_output_for_every_size_and_mode(capsys, models, images, model):
    status, out, err = run_cli(capsys, "predict", *[images[n] for n in GOOD], "--model", models[model], "--json")
    assert status == 0 and err == ""
    result = json.loads(out)
    assert result["class_names"] == CLASSES and result["errors"] == []
    assert [Path(p["file"]).name for p in result["predictions"]] == GOOD
    classifier = export.OnnxClassifier(models[model])
    for p in result["predictions"]:
        proba = np.array([p["probabilities"][c] for c in CLASSES])
        assert proba.sum() == pytest.approx(1.0, abs=1e-4)
        assert p["label"] == CLASSES[int(proba.argmax())] and p["probability"] == pytest.approx(proba.max())
        # the command gives what the library gives
        expected = export.onnx_caller(classifier.session)(classifier.load_image(p["file"])[None])[0]
        np.testing.assert_allclose(proba, expected, atol=1e-5)


def test_preprocessing_is_the_stored_one(models, images):
    gray = export.OnnxClassifier(models["gray"])
    rgb = export.OnnxClassifier(models["rgb"])
    exact = np.asarray(Image.open(images["exact.png"]), np.float32) / 255.0
    np.testing.assert_array_equal(gray.load_image(images["exact.png"])[..., 0], exact)  # no resize at the model's size
    for name in GOOD:
        assert gray.load_image(images[name]).shape == (SIZE, SIZE, 1)
        assert rgb.load_image(images[name]).shape == (SIZE, SIZE, 3)
    # gray to RGB repeats the channel; RGB to gray is ITU-R 601 luma (PIL's "L")
    repeated = rgb.load_image(images["gray.png"])
    np.testing.assert_array_equal(repeated[..., 0], repeated[..., 2])
    luma = np.asarray(Image.open(images["rgba.png"]).convert("RGB").convert("L").resize((SIZE, SIZE), Image.BILINEAR))
    np.testing.assert_array_equal(gray.load_image(images["rgba.png"])[..., 0], luma / np.float32(255.0))


def test_table_output(capsys, models, images):
    status, out, err = run_cli(capsys, "predict", images["gray.png"], images["rgb.jpg"], "-m", models["gray"])
    assert status == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].split() == ["file", "label", "probability", *CLASSES]
    assert len(lines) == 3 and "gray.png" in lines[1] and "rgb.jpg" in lines[2]
    assert lines[1].split()[1] in CLASSES


def test_unreadable_files_are_named_and_the_rest_predicted(capsys, models, images, tmp_path):
    missing = tmp_path / "missing.jpg"
    status, out, err = run_cli(capsys, "predict", images["broken.png"], images["gray.png"], missing, tmp_path,
                               "--model", models["gray"], "--json")
    assert status == 1
    result = json.loads(out)
    assert [Path(p["file"]).name for p in result["predictions"]] == ["gray.png"]
    assert [Path(e["file"]).name for e in result["errors"]] == ["broken.png", "missing.jpg", tmp_path.name]
    assert "could not read image file" in err and "broken.png" in err
    assert "image file not found" in err and "missing.jpg" in err
    assert "is a directory" in err


def test_wrong_models_are_clear_errors(capsys, models, images, tmp_path):
    status, out, err = run_cli(capsys, "predict", images["gray.png"], "--model", models["plain"])
    assert status == 1 and out == ""
    assert "plain.onnx" in err and "not an emolib export" in err and "export_onnx" in err
    status, out, err = run_cli(capsys, "predict", images["gray.png"], "--model", tmp_path / "nowhere.onnx")
    assert status == 1 and "model file not found" in err and "nowhere.onnx" in err
    status, out, err = run_cli(capsys, "predict", images["gray.png"], "--model", images["gray.png"])
    assert status == 1 and "not a valid ONNX model" in err and "gray.png" in err
    status, out, err = run_cli(capsys, "predict", images["gray.png"], "--model", tmp_path)
    assert status == 1 and "is not a file" in err


def test_wrong_arguments_exit_with_usage(capsys, models, images):
    for argv in (["predict", images["gray.png"]],                                       # no --model
                 ["predict", "--model", models["gray"]],                                # no image
                 ["predict", images["gray.png"], "--model", models["gray"], "--threads", "0"],
                 ["classify", images["gray.png"]],                                      # unknown command
                 []):
        status, out, err = run_cli(capsys, *argv)
        assert status == 2 and "usage:" in err and "error:" in err, (argv, err)


def test_quantized_model_keeps_its_preprocessing(capsys, models, images, tmp_path):
    calibration = np.random.default_rng(0).uniform(0, 1, (32, SIZE, SIZE, 1)).astype("float32")
    int8 = export.quantize_static(models["gray"], tmp_path / "int8.onnx", calibration)
    status, out, err = run_cli(capsys, "predict", images["rgb.jpg"], "--model", int8, "--json")
    assert status == 0 and json.loads(out)["predictions"][0]["label"] in CLASSES


def test_command_runs_as_a_module(models, images):
    proc = subprocess.run(
        [sys.executable, "-m", "emolib", "predict", images["rgb.jpg"], images["broken.png"],
         "--model", models["rgb"], "--json", "--threads", "1"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert [Path(p["file"]).name for p in result["predictions"]] == ["rgb.jpg"]
    assert "broken.png" in proc.stderr
    help_text = subprocess.run([sys.executable, "-m", "emolib", "predict", "--help"], capture_output=True,
                               text=True, cwd=ROOT, timeout=120)
    assert help_text.returncode == 0 and "--model" in help_text.stdout and "--json" in help_text.stdout


@pytest.mark.skipif(not (SAMPLE / "labels.csv").is_file(), reason=f"real-faces sample not found at {SAMPLE}")
def test_real_photos(capsys, models):
    files = sorted((SAMPLE / "images").glob("*.jpg"))[:5]
    status, out, err = run_cli(capsys, "predict", *files, "--model", models["rgb"], "--json")
    assert status == 0, err
    assert len(json.loads(out)["predictions"]) == len(files) == 5


def test_missing_onnx_extra_says_which_extra_to_install(capsys, models, images, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as after the core install, without the extra
    status, out, err = run_cli(capsys, "predict", images["gray.png"], "--model", models["gray"])
    assert status == 1 and out == ""
    assert "onnxruntime is not installed" in err and 'pip install "emolib[onnx]"' in err
