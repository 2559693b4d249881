"""The fault suite, second campaign (issue 24): data and image inputs.

Each test is named after its item in the issue: 1. image formats emolib does not mean to
decode (DDS, BLP, SPIDER); 5. a FER2013 emotion of ``inf``; 6. a foreign or damaged
``dataset.json``; 10. one file listed twice under two names (an absolute path, a
symbolic link); 11. a dark 16-bit PGM; 15. line numbers after blank lines and quoted
multi-line cells; 19. memory of a large 16-bit image; 20. ``.jfif``/``.heic`` files
counted as dropped. The hostile files are built here, byte by byte; no network, no
TensorFlow training.
"""

from __future__ import annotations

import json
import struct
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emolib.data import ImageReadError, load_class_folders, load_dataset, load_labels_csv
from emolib.data.fer2013 import _load_fer2013_csv
from emolib.data.images import _read_image
from test_faults import bounded, fer_csv, labels_csv, tiny_onnx, write_face


# --------------------------------------------------------------------------- hostile files


def write_dds(path, side=8):
    """A DDS texture whose pixel-format flags are zeroed (Pillow: ``NotImplementedError``)."""
    header = struct.pack("<4s7I44x", b"DDS ", 124, 0x1007, side, side, 0, 0, 0)
    pixel_format = struct.pack("<8I", 32, 0, 0, 0, 0, 0, 0, 0)
    caps = struct.pack("<5I", 0x1000, 0, 0, 0, 0)
    path.write_bytes(header + pixel_format + caps + b"\0" * (side * side * 4))
    return path


def write_blp(path, side=8):
    """A BLP1 texture with an unknown compression (Pillow: ``BLPFormatError``, a ``NotImplementedError``)."""
    path.write_bytes(b"BLP1" + struct.pack("<6I", 7, 0, side, side, 0, 0) + b"\0" * 200)
    return path


def write_spider(path, side=8):
    """A SPIDER header saying "an image inside a stack" without the stack (Pillow: ``AttributeError``)."""
    words = [0.0] * 27  # SPIDER's 1-based header word k is words[k - 1]
    words[0], words[1], words[4], words[11] = 1.0, float(side), 1.0, float(side)  # nslice, nrow, iform, nsam
    words[12], words[21], words[22], words[26] = 1.0, 108.0, 108.0, 1.0  # labrec, labbyt, lenbyt, imgnumber
    path.write_bytes(struct.pack(">27f", *words) + b"\0" * (side * side * 4))
    return path


def write_pgm16(path, value=200, side=8):
    """A 16-bit binary PGM (maxval 65535) with every pixel ``value``."""
    path.write_bytes(f"P5 {side} {side} 65535\n".encode() + np.full(side * side, value, ">u2").tobytes())
    return path


def class_tree(root, per_class=4):
    for i in range(per_class):
        write_face(root / "happy" / f"h{i}.png", seed=i)
        write_face(root / "sad" / f"s{i}.png", seed=10 + i)
    return root


# --------------------------------------------------------------------------- 1. formats emolib does not read


@pytest.mark.parametrize("writer", [write_dds, write_blp, write_spider])
def test_item01_foreign_format_is_an_image_read_error_naming_the_file(tmp_path, writer):
    path = writer(tmp_path / "t.png")
    with pytest.raises(ImageReadError, match=r"t\.png'.*not .*a format emolib reads"):
        _read_image(path, 8, 1)


def test_item01_dds_in_a_class_folder_names_the_file(tmp_path):
    class_tree(tmp_path)
    write_dds(tmp_path / "sad" / "t.png")
    with pytest.raises(ImageReadError, match=r"sad/t\.png'.*DDS"):
        load_dataset(tmp_path, val_fraction=0.25, test_fraction=0.25)


def test_item01_predict_reports_the_dds_and_serves_the_good_file(tmp_path, capsys):
    from emolib.cli import main

    model = tiny_onnx(tmp_path / "m.onnx")
    good = write_face(tmp_path / "a.png")
    dds = write_dds(tmp_path / "t.png")
    status = bounded(lambda: main(["predict", str(good), str(dds), "--model", str(model), "--json"]), 20)
    out = capsys.readouterr()
    assert status == 1
    result = json.loads(out.out)
    assert [p["file"] for p in result["predictions"]] == [str(good)]
    assert [e["file"] for e in result["errors"]] == [str(dds)]
    assert "t.png" in out.err and "DDS" in out.err


# --------------------------------------------------------------------------- 5. FER2013 emotion inf


def test_item05_fer_emotion_inf_names_file_and_row(tmp_path):
    csv = fer_csv(tmp_path / "fer.csv", [(0, "Training"), ("inf", "Training"), (3, "PublicTest")])
    with pytest.raises(ValueError, match=r"fer\.csv' row 1 \(line 3\): emotion 'inf' is not an integer 0-6"):
        _load_fer2013_csv(csv)


# --------------------------------------------------------------------------- 6. dataset.json


@pytest.mark.parametrize("content, field", [
    ("[]", "not a JSON object"),
    ('{"info": [1, 2]}', "'info'"),
    ('{"class_names": "happy"}', "'class_names'"),
    ('{"class_names": ["happy", "bogus"]}', "'class_names'"),
    ('{"name": 7}', "'name'"),
    ('{"meta_dtypes": ["a"]}', "'meta_dtypes'"),
])
def test_item06_damaged_dataset_json_names_file_and_field(tmp_path, content, field):
    class_tree(tmp_path)
    (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(ValueError, match=r"dataset\.json'.*" + field):
        load_class_folders(tmp_path, val_fraction=0.25, test_fraction=0.25)


# --------------------------------------------------------------------------- 10. one file, two names


@pytest.mark.parametrize("alias", ["absolute", "symlink"])
def test_item10_a_file_listed_under_two_names_is_caught(tmp_path, monkeypatch, alias):
    rows = [(f"{e}{i}.png", e) for e in ("happy", "sad") for i in range(4)]
    csv = labels_csv(tmp_path, rows)
    if alias == "absolute":
        other = str(tmp_path / "happy0.png")
    else:
        other = "link.png"
        (tmp_path / other).symlink_to(tmp_path / "happy0.png")
    pd.DataFrame(rows + [(other, "happy")], columns=["image", "emotion"]).to_csv(csv, index=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"row 8 \(line 10\) names '.*' again, first named in row 0 \(line 2\)"):
        load_labels_csv(csv.name, seed=3, val_fraction=0.25, test_fraction=0.25)  # relative: image_dir is relative too


def test_item10_a_linked_file_in_two_class_folders_is_caught(tmp_path):
    class_tree(tmp_path)
    (tmp_path / "sad" / "again.png").symlink_to(tmp_path / "happy" / "h0.png")
    with pytest.raises(ValueError, match=r"sad/again\.png'.*same file as.*happy/h0\.png'"):
        load_class_folders(tmp_path, val_fraction=0.25, test_fraction=0.25, seed=3)


# --------------------------------------------------------------------------- 11. declared bit depth


def test_item11_dark_16_bit_pgm_is_scaled_by_its_depth(tmp_path):
    arr = _read_image(write_pgm16(tmp_path / "dark.pgm", 200), 8, 1)[0]
    assert (arr == 1).all()  # 200 / 257, not 200
    bright = _read_image(write_pgm16(tmp_path / "bright.pgm", 65535), 8, 1)[0]
    assert (bright == 255).all()


# --------------------------------------------------------------------------- 19. memory of 16-bit images


def test_item19_sixteen_bit_image_never_goes_through_a_full_size_float_array(tmp_path):
    side = 1200
    ramp = (np.arange(side * side, dtype=np.uint32) * 7 % 65536).astype(np.uint16).reshape(side, side)
    path = tmp_path / "big16.png"
    Image.frombytes("I;16", (side, side), ramp.tobytes()).save(path)
    tracemalloc.start()
    try:
        arr = _read_image(path, 48, 1)[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert arr.shape == (48, 48, 1) and arr.dtype == np.uint8
    assert peak < side * side  # a full-size uint8 copy would reach it; float64 was 8x that


# --------------------------------------------------------------------------- 15. physical line numbers


def awkward_csv(tmp_path, last_label="bogus", last_image="d.png"):
    """A labels CSV with blank lines and a quoted two-line cell: row 2 is on line 7."""
    for name in ("a.png", "b\nc.png", "d.png"):
        write_face(tmp_path / name)
    text = f'image,emotion\n\na.png,happy\n"b\nc.png",sad\n\n{last_image},{last_label}\n'
    (tmp_path / "labels.csv").write_text(text)
    return tmp_path / "labels.csv"


def test_item15_unknown_label_gives_the_physical_line(tmp_path):
    with pytest.raises(ValueError, match=r"labels\.csv' row 2 \(line 7\): unknown emotion label 'bogus'"):
        load_labels_csv(awkward_csv(tmp_path))


def test_item15_duplicate_and_missing_file_give_the_physical_lines(tmp_path):
    with pytest.raises(ValueError, match=r"row 2 \(line 7\) names 'a\.png' again, first named in row 0 \(line 3\)"):
        load_labels_csv(awkward_csv(tmp_path, "happy", "a.png"))
    with pytest.raises(FileNotFoundError, match=r"gone\.png'.*row 2 \(line 7\)"):
        load_labels_csv(awkward_csv(tmp_path, "happy", "gone.png"))


# --------------------------------------------------------------------------- 20. skipped formats are counted


def test_item20_jfif_and_heic_are_skipped_and_counted_as_dropped(tmp_path):
    class_tree(tmp_path)
    write_face(tmp_path / "happy" / "x.jfif")
    (tmp_path / "sad" / "y.heic").write_bytes(b"\0\0\0\x18ftypheic")
    (tmp_path / "sad" / "notes.txt").write_text("not an image")
    ds = load_class_folders(tmp_path, val_fraction=0.25, test_fraction=0.25)
    assert sum(len(s) for s in ds.splits.values()) == 8
    assert ds.info["dropped"] == 2
