"""benchmarks/real_photos.py --crop-compare's preprocessing (:class:`FaceCrops`): a loose
picture with a face is cropped to the largest detected face; a picture without one keeps its
loose version and is counted. Generated faces and plain pictures only: no real photo."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2", reason="face detection needs OpenCV: pip install -e '.[faces]'")

from emolib import detect  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ladder():
    spec = importlib.util.spec_from_file_location("real_photos_ladder", ROOT / "benchmarks" / "real_photos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def face():
    """A generated face (96x96 RGB) the detector finds on its own."""
    from emolib.data.synthetic import generate

    test = generate(classes="seed003", n_train=8, n_val=4, n_test=20, image_size=96, channels=3, seed=0)["test"]
    found = [x for x in test.images if len(detect.detect_faces(x).boxes) == 1]
    assert found, "no generated face detected"
    return found[0]


def loose_version(picture, size):
    """The picture as a loader reads it: gray, resized whole (no crop)."""
    im = Image.fromarray(picture).convert("L").resize((size, size), Image.BILINEAR)
    return np.asarray(im, np.uint8)[..., None]


def test_face_is_cropped_and_a_picture_without_one_stays_loose(ladder, face, tmp_path):
    scene, tiles = detect.compose_scene([face], canvas=(240, 320), sizes=(0.4, 0.45), seed=2, background="gray")
    blank = np.full((240, 320, 3), 128, np.uint8)
    files = []
    for name, picture in (("scene.png", scene), ("blank.png", blank)):
        Image.fromarray(picture).save(tmp_path / name)
        files.append(str(tmp_path / name))
    loose = np.stack([loose_version(scene, 64), loose_version(blank, 64)])

    cropper = ladder.FaceCrops()
    assert cropper.no_face(files) == 1  # the blank picture
    box = cropper.boxes[files[0]]
    assert box is not None and cropper.boxes[files[1]] is None
    iou = detect.box_iou(np.asarray(tiles)[:1], np.asarray([box]))[0, 0]
    assert iou > 0.4, iou  # the box is the pasted face

    crops = cropper.crops("test", files, loose, size=48, channels=1, margin=0.0)
    assert crops.shape == (2, 48, 48, 1) and crops.dtype == np.float32
    expected = detect.face_crops(scene, [box], 48, 1, 0.0)[0] / 255.0
    np.testing.assert_allclose(crops[0], expected, atol=1e-6)  # the face crop ...
    assert np.abs(crops[0] - ladder.to_float(loose[:1], 48)[0]).mean() > 0.02  # ... not the loose picture
    np.testing.assert_allclose(crops[1], ladder.to_float(loose[1:], 48)[0], atol=1e-6)  # no face: loose kept

    # cached per (split, size, channels, margin); another margin is another crop
    assert cropper.crops("test", files, loose, size=48, channels=1, margin=0.0) is crops
    wider = cropper.crops("test", files, loose, size=48, channels=1, margin=0.2)
    assert wider is not crops and not np.allclose(wider[0], crops[0])
    np.testing.assert_allclose(wider[1], crops[1])


def test_largest_face_is_kept(ladder, face, tmp_path, monkeypatch):
    picture = np.zeros((100, 100, 3), np.uint8)
    Image.fromarray(picture).save(tmp_path / "two.png")
    boxes = np.array([[5, 5, 20, 20], [40, 40, 50, 50], [0, 0, 30, 30]])
    monkeypatch.setattr(detect, "detect_faces", lambda image, **kw: detect._Faces(boxes, np.ones(3)))
    cropper = ladder.FaceCrops()
    assert cropper.detect([str(tmp_path / "two.png")]) == [(40, 40, 50, 50)]
