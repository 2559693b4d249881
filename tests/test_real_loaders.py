"""Real-data loaders (emolib.data.real) on small fixtures made in tmp_path."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import emolib.data as data
from emolib.data import (
    EMOTIONS,
    EmotionDataset,
    ImageReadError,
    load_class_folders,
    load_dataset,
    load_labels_csv,
    write_class_folders,
)
from emolib.data.base import Split
from emolib.data.fer2013 import _fer2013_instructions, _load_fer2013_csv
from emolib.data import real, splits

META_BASE = {"label", "emotion", "source", "split", "orig_width", "orig_height", "orig_mode"}


# --------------------------------------------------------------------------- fixture makers


def fer_rows(n=21, seed=0):
    """Rows of a FER2013 CSV: emotion cycles 0..6, Usage 15 Training / 3 PublicTest / 3 PrivateTest."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 48 * 48))
    emotion = np.arange(n) % 7
    usage = ["Training"] * (n - 6) + ["PublicTest"] * 3 + ["PrivateTest"] * 3
    return emotion, pixels, usage


def write_fer_csv(path, emotion, pixels, usage=None, pixel_strings=None):
    df = pd.DataFrame({
        "emotion": emotion,
        "pixels": pixel_strings if pixel_strings is not None else [" ".join(map(str, p)) for p in pixels],
    })
    if usage is not None:
        df["Usage"] = usage
    df.to_csv(path, index=False)
    return path


def face(size=(40, 40), seed=0, mode="L"):
    """A random PIL image of ``size`` (w, h) in ``mode``."""
    rng = np.random.default_rng(seed)
    w, h = size
    if mode == "L":
        return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
    if mode == "RGB":
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    if mode == "RGBA":
        return Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    if mode == "I;16":
        arr = rng.integers(0, 65536, (h, w), dtype=np.uint16)
        return Image.fromarray(arr)
    return face(size, seed, "RGB").convert(mode)


def save(img, path, **kwargs):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def make_split_tree(root):
    """train/test tree with mixed formats, modes and sizes; no val folder."""
    specs = {
        "happy": [("L", "jpg", (60, 60)), ("RGB", "png", (30, 40)), ("RGBA", "png", (50, 50)),
                  ("L", "png", (48, 48)), ("RGB", "jpg", (100, 80)), ("P", "png", (20, 20)),
                  ("L", "jpg", (64, 64)), ("RGB", "png", (48, 48)), ("L", "png", (33, 33)),
                  ("RGB", "jpg", (48, 48))],
        "Sadness": [("I;16", "png", (48, 48)), ("CMYK", "jpg", (48, 48)), ("RGBA", "png", (12, 60)),
                    ("L", "jpg", (48, 48)), ("RGB", "png", (48, 48)), ("L", "png", (48, 48)),
                    ("RGB", "jpg", (48, 48)), ("L", "png", (90, 90)), ("L", "png", (48, 48)),
                    ("RGB", "png", (48, 48))],
        "ANGER": [("L", "png", (48, 48))] * 10,
    }
    k = 0
    for split, n in (("train", 10), ("test", 3)):
        for folder, items in specs.items():
            for i, (mode, ext, size) in enumerate(items[:n]):
                k += 1
                save(face(size, k, mode), root / split / folder / f"img_{i:02d}.{ext}")
    # non-image clutter is ignored
    (root / "train" / "happy" / "notes.txt").write_text("not an image")
    (root / "train" / "happy" / ".DS_Store").write_bytes(b"\0")
    return root


def make_flat_tree(root, per_class=10, classes=("happy", "neutral", "surprise")):
    k = 0
    for c in classes:
        for i in range(per_class):
            k += 1
            save(face((48, 48), k), root / c / f"{c}_{i}.png")
    return root


def make_labels_csv(root, people=6, per_person=3):
    """labels.csv + images/ with source-style labels (happiness, sadness, anger) and
    identities in file names (Person_N_000k.jpg)."""
    labels = ["happiness", "sadness", "anger", "Neutral", "surprise", "happiness"]
    rows = []
    k = 0
    for p in range(people):
        for j in range(per_person):
            k += 1
            name = f"Person_{p}_{j + 1:04d}.jpg"
            save(face((120, 120), k, "L" if k % 3 else "RGB"), root / "images" / name)
            rows.append((name, labels[(p + j) % len(labels)], p))
    df = pd.DataFrame(rows, columns=["image", "emotion", "person"])
    df.to_csv(root / "labels.csv", index=False)
    return root / "labels.csv", df


def tiny_dataset(channels=1, size=16):
    """A hand-made EmotionDataset (independent of the synthetic generator)."""
    rng = np.random.default_rng(7)
    class_names = ("sad", "happy", "neutral")  # deliberately not FER order
    splits = {}
    for key, n in (("train", 9), ("val", 3), ("test", 3)):
        labels = np.arange(n) % 3
        meta = pd.DataFrame({
            "label": labels,
            "emotion": [class_names[i] for i in labels],
            "source": [f"hand:{key}:{i}" for i in range(n)],
            "identity": [f"p{i % 4}" for i in range(n)],
            "pose": rng.normal(size=n).round(3),
            "code": [f"00{i}" for i in range(n)],  # string that looks numeric
        })
        images = rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)
        splits[key] = Split(images, labels, meta)
    return EmotionDataset(splits, class_names, "tiny", {"note": "hand-made", "n": 15})


# --------------------------------------------------------------------------- FER2013 CSV


def test_fer_csv_usage_splits_and_pixels(tmp_path):
    emotion, pixels, usage = fer_rows()
    path = write_fer_csv(tmp_path / "fer2013.csv", emotion, pixels, usage)
    ds = _load_fer2013_csv(path)
    assert ds.class_names == EMOTIONS
    assert [len(ds[s]) for s in ("train", "val", "test")] == [15, 3, 3]
    assert ds.image_shape == (48, 48, 1)
    assert ds.train.images.dtype == np.uint8
    np.testing.assert_array_equal(ds.train.images.reshape(15, -1), pixels[:15])
    np.testing.assert_array_equal(ds.test.images.reshape(3, -1), pixels[18:])
    np.testing.assert_array_equal(ds.train.labels, emotion[:15])
    meta = ds.val.meta
    assert META_BASE <= set(meta.columns)
    assert list(meta["source"]) == ["fer2013.csv:row 15", "fer2013.csv:row 16", "fer2013.csv:row 17"]
    assert list(meta["usage"]) == ["PublicTest"] * 3
    assert (meta["split"] == "val").all()
    assert list(meta["emotion"]) == [EMOTIONS[e] for e in emotion[15:18]]
    # the directory form finds fer2013.csv, and so does load_dataset
    assert len(_load_fer2013_csv(tmp_path).train) == 15
    assert len(load_dataset(path).train) == 15


def test_fer_csv_subset_resize_rgb(tmp_path):
    emotion, pixels, usage = fer_rows()
    path = write_fer_csv(tmp_path / "fer.csv", emotion, pixels, usage)
    ds = _load_fer2013_csv(path, classes=["Happiness", "sadness", "neutral"], image_size=32, channels=3)
    assert ds.class_names == ("happy", "sad", "neutral")
    assert ds.image_shape == (32, 32, 3)
    for split in ds.splits.values():
        assert set(split.meta["emotion"]) <= {"happy", "sad", "neutral"}
        np.testing.assert_array_equal(split.labels, split.meta["label"].to_numpy())
        assert [ds.class_names[i] for i in split.labels] == list(split.meta["emotion"])
    assert ds.info["dropped"] == 21 - sum(len(s) for s in ds.splits.values())
    preset = _load_fer2013_csv(path, classes="seed002")
    assert preset.class_names == ("angry", "happy", "sad")


def test_fer_csv_without_usage_is_stratified(tmp_path):
    emotion = np.repeat(np.arange(7), 20)
    pixels = np.random.default_rng(1).integers(0, 256, (140, 2304))
    path = write_fer_csv(tmp_path / "fer_nousage.csv", emotion, pixels)
    ds = _load_fer2013_csv(path, val_fraction=0.1, test_fraction=0.2, seed=3)
    counts = ds.counts()
    assert (counts["train"] == 14).all() and (counts["val"] == 2).all() and (counts["test"] == 4).all()
    again = _load_fer2013_csv(path, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert list(again.test.meta["source"]) == list(ds.test.meta["source"])


def test_fer_kaggle_challenge_variant(tmp_path):
    """train.csv (emotion,pixels) + an unlabelled test.csv (pixels) as in the Kaggle challenge;
    icml_face_data.csv has ' Usage' and ' pixels' with leading spaces."""
    emotion = np.repeat(np.arange(7), 10)
    pixels = np.random.default_rng(2).integers(0, 256, (70, 2304))
    write_fer_csv(tmp_path / "train.csv", emotion, pixels)
    pd.DataFrame({"pixels": [" ".join(map(str, p)) for p in pixels[:5]]}).to_csv(tmp_path / "test.csv", index=False)
    ds = _load_fer2013_csv(tmp_path)
    assert sum(len(s) for s in ds.splits.values()) == 70
    assert len(ds.test) > 0 and len(ds.val) > 0
    with pytest.raises(ValueError, match=r"test\.csv.*'emotion'.*unlabelled"):
        _load_fer2013_csv(tmp_path / "test.csv")

    icml = tmp_path / "icml"
    icml.mkdir()
    e, p, u = fer_rows()
    pd.DataFrame({"emotion": e, " Usage": u, " pixels": [" ".join(map(str, r)) for r in p]}).to_csv(
        icml / "icml_face_data.csv", index=False
    )
    ds = load_dataset(icml)
    assert [len(ds[s]) for s in ("train", "val", "test")] == [15, 3, 3]


def test_fer_pixel_parser_accepts_messy_whitespace(tmp_path):
    emotion, pixels, usage = fer_rows(n=3)
    strings = ["  " + "\t".join(map(str, p)) + " \t " for p in pixels]
    strings[1] = "  ".join("%03d" % v for v in pixels[1])  # zero-padded, double spaces
    path = write_fer_csv(tmp_path / "messy.csv", emotion, pixels, ["Training"] * 3, strings)
    ds = _load_fer2013_csv(path)
    np.testing.assert_array_equal(ds.train.images.reshape(3, -1), pixels)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("1 2 3", r"row 4 \(line 6\): pixels has 3 values, expected 2304"),
        (" ".join(["7"] * 2305), r"row 4 .*2305 values"),
        ("", r"row 4 .*0 values"),
        (" ".join(["7"] * 2303 + ["x1"]), r"row 4 .*integers 0-255.*'x1'"),
        (" ".join(["7"] * 2303 + ["2.5"]), r"row 4 .*'2\.5'"),
        (" ".join(["7"] * 2303 + ["-3"]), r"row 4 .*'-3'"),
        (" ".join(["7"] * 2303 + ["256"]), r"row 4 .*pixel value 256 is outside 0-255"),
        (" ".join(["7"] * 2303 + ["12345678901"]), r"row 4 .*outside 0-255"),
    ],
)
def test_fer_bad_pixels_name_the_row(tmp_path, bad, message):
    emotion, pixels, usage = fer_rows(n=8)
    strings = [" ".join(map(str, p)) for p in pixels]
    strings[4] = bad
    path = write_fer_csv(tmp_path / "bad.csv", emotion, pixels, ["Training"] * 8, strings)
    with pytest.raises(ValueError, match=message) as info:
        _load_fer2013_csv(path)
    assert "bad.csv" in str(info.value)


def test_fer_bad_pixels_found_in_later_chunks(tmp_path):
    """Rows are parsed in chunks (and threads): the row number must be the global one."""
    n = 2100
    emotion = np.zeros(n, dtype=int)
    strings = [" ".join(["1"] * 2304)] * n
    strings[2050] = " ".join(["1"] * 2000)
    path = write_fer_csv(tmp_path / "big.csv", emotion, None, None, strings)
    with pytest.raises(ValueError, match=r"row 2050 \(line 2052\)"):
        _load_fer2013_csv(path)


@pytest.mark.parametrize(
    "value, message",
    [(7, r"row 2 .*emotion 7 is outside 0-6"), (-1, r"row 2 .*emotion -1 is outside 0-6"),
     ("happy", r"row 2 .*emotion 'happy' is not an integer"), ("", r"row 2 .*not an integer")],
)
def test_fer_bad_emotion_names_the_row(tmp_path, value, message):
    emotion, pixels, usage = fer_rows(n=4)
    emotion = emotion.astype(object)
    emotion[2] = value
    path = write_fer_csv(tmp_path / "bad_emotion.csv", emotion, pixels, ["Training"] * 4)
    with pytest.raises(ValueError, match=message):
        _load_fer2013_csv(path)


def test_fer_bad_usage_and_missing_columns(tmp_path):
    emotion, pixels, usage = fer_rows(n=4)
    path = write_fer_csv(tmp_path / "u.csv", emotion, pixels, ["Training", "Training", "Holdout", "Training"])
    with pytest.raises(ValueError, match=r"row 2 .*unknown Usage 'Holdout'"):
        _load_fer2013_csv(path)
    df = pd.DataFrame({"emotion": [0], "pixel": ["1 2"]})
    df.to_csv(tmp_path / "nopix.csv", index=False)
    with pytest.raises(ValueError, match=r"nopix\.csv.*no column 'pixels'"):
        _load_fer2013_csv(tmp_path / "nopix.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv.*empty"):
        _load_fer2013_csv(tmp_path / "empty.csv")


def test_missing_fer_path_gives_instructions(tmp_path):
    missing = tmp_path / "data" / "fer2013" / "fer2013.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))) as info:
        _load_fer2013_csv(missing)
    assert "challenges-in-representation-learning" in str(info.value)
    assert "data/fer2013" in str(info.value)
    assert "fer2013.csv" in _fer2013_instructions()
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no FER2013 CSV in"):
        _load_fer2013_csv(empty)


def test_load_dataset_fer2013_searches_upwards(tmp_path, monkeypatch):
    emotion, pixels, usage = fer_rows()
    (tmp_path / "data" / "fer2013").mkdir(parents=True)
    write_fer_csv(tmp_path / "data" / "fer2013" / "fer2013.csv", emotion, pixels, usage)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert len(load_dataset("fer2013").train) == 15
    monkeypatch.chdir(tmp_path / "data")  # found one level up
    assert len(load_dataset("fer2013").train) == 15


def test_load_dataset_fer2013_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="data/fer2013") as info:
        load_dataset("fer2013")
    assert "Kaggle" in str(info.value)


# --------------------------------------------------------------------------- class folders


def test_split_tree_mixed_formats(tmp_path):
    root = make_split_tree(tmp_path / "fer_mirror")
    ds = load_class_folders(root, val_fraction=0.2, seed=1)
    assert ds.class_names == ("angry", "happy", "sad")  # FER order, normalised names
    assert ds.image_shape == (48, 48, 1)
    counts = ds.counts()
    assert list(counts["test"]) == [3, 3, 3]
    assert list(counts["val"]) == [2, 2, 2]  # carved from train, stratified
    assert list(counts["train"]) == [8, 8, 8]
    meta = pd.concat([s.meta for s in ds.splits.values()])
    assert META_BASE | {"orig_label", "file"} <= set(meta.columns)
    assert set(meta["orig_label"]) == {"happy", "Sadness", "ANGER"}
    assert {"L", "RGB", "RGBA", "P", "CMYK"} <= set(meta["orig_mode"])
    assert any(m.startswith("I") for m in meta["orig_mode"])
    row = meta[meta["file"] == "train/happy/img_01.png"].iloc[0]
    assert (row["orig_width"], row["orig_height"]) == (30, 40)
    assert not meta["file"].str.contains("notes.txt").any()
    for key, split in ds.splits.items():
        assert (split.meta["split"] == key).all()
        assert [ds.class_names[i] for i in split.labels] == list(split.meta["emotion"])
    assert ds.info["split_method"].startswith("folders; val carved")
    # RGB, another size
    rgb = load_class_folders(root, image_size=24, channels=3, classes=["sad", "Happiness"])
    assert rgb.image_shape == (24, 24, 3)
    assert rgb.class_names == ("sad", "happy")
    assert rgb.info["dropped"] == int(counts.loc["angry"].sum()) == 13  # the angry images: counted, never decoded
    assert sum(len(s) for s in rgb.splits.values()) == 26


def test_sixteen_bit_image_is_scaled(tmp_path):
    arr = np.full((48, 48), 65535, dtype=np.uint16)
    arr[:, :24] = 257 * 100
    save(Image.fromarray(arr), tmp_path / "t" / "happy" / "a.png")
    save(face(), tmp_path / "t" / "sad" / "b.png")
    ds = load_class_folders(tmp_path / "t", val_fraction=0, test_fraction=0)
    img = ds.train.images[ds.train.labels == ds.class_names.index("happy")][0, ..., 0]
    assert img[0, 0] == 100 and img[0, -1] == 255


def test_rgba_and_gray_to_rgb(tmp_path):
    save(Image.new("RGBA", (10, 10), (10, 20, 30, 0)), tmp_path / "t" / "happy" / "a.png")
    save(Image.new("L", (10, 10), 77), tmp_path / "t" / "happy" / "b.png")
    ds = load_class_folders(tmp_path / "t", channels=3, image_size=8, val_fraction=0, test_fraction=0)
    imgs = {Path(s).name: im for s, im in zip(ds.train.meta["source"], ds.train.images)}
    assert (imgs["a.png"] == [10, 20, 30]).all()  # alpha dropped
    assert (imgs["b.png"] == 77).all()


def test_val_folder_and_split_synonyms(tmp_path):
    root = tmp_path / "t"
    for split in ("Training", "validation", "PrivateTest"):
        for c in ("happy", "fear"):
            for i in range(2):
                save(face(seed=i), root / split / c / f"{i}.png")
    ds = load_class_folders(root)
    assert [len(ds[s]) for s in ("train", "val", "test")] == [4, 4, 4]
    assert ds.class_names == ("fear", "happy")
    assert ds.info["split_method"] == "folders"


def test_flat_tree_stratified(tmp_path):
    root = make_flat_tree(tmp_path / "flat", per_class=10)
    ds = load_class_folders(root, val_fraction=0.2, test_fraction=0.1, seed=0)
    assert ds.class_names == ("happy", "surprise", "neutral")
    counts = ds.counts()
    assert list(counts["train"]) == [7, 7, 7]
    assert list(counts["val"]) == [2, 2, 2]
    assert list(counts["test"]) == [1, 1, 1]
    files = pd.concat([s.meta for s in ds.splits.values()])["file"]
    assert files.is_unique and len(files) == 30
    assert load_dataset(root, val_fraction=0.2, test_fraction=0.1).counts().equals(counts)
    # A requested class the data does not have is an error, not an empty column.
    with pytest.raises(ValueError, match=r"\['sad'\] have no images in '.*flat'"):
        load_class_folders(root, classes="seed003")


def test_class_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope"))):
        load_class_folders(tmp_path / "nope")

    root = make_flat_tree(tmp_path / "a", per_class=2)
    (root / "contempt").mkdir()  # a synonym of disgust, but empty
    with pytest.raises(ValueError, match=r"class folder '.*contempt' contains no images"):
        load_class_folders(root)
    # not read when the class is not requested
    assert load_class_folders(root, classes=["happy"]).class_names == ("happy",)

    root = make_flat_tree(tmp_path / "b", per_class=2)
    save(face(), root / "confused" / "x.png")
    with pytest.raises(ValueError, match=r"class folder '.*confused': unknown emotion label 'confused'"):
        load_class_folders(root)

    root = make_flat_tree(tmp_path / "c", per_class=2)
    (root / "happy" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ImageReadError, match=r"could not read image file '.*happy/broken\.png'"):
        load_class_folders(root)

    root = make_flat_tree(tmp_path / "d", per_class=2)
    good = root / "happy" / "happy_0.png"
    face((200, 200), 3, "RGB").save(root / "happy" / "full.jpg", quality=90)
    raw = (root / "happy" / "full.jpg").read_bytes()
    (root / "happy" / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    assert good.exists()
    with pytest.raises(ImageReadError, match=r"truncated\.jpg"):
        load_class_folders(root)

    empty = tmp_path / "e"
    empty.mkdir()
    with pytest.raises(ValueError, match="no class folders in"):
        load_class_folders(empty)

    root = tmp_path / "f"
    save(face(), root / "test" / "happy" / "x.png")
    with pytest.raises(ValueError, match="no 'train' folder"):
        load_class_folders(root)


def test_foreign_metadata_csv_is_ignored(tmp_path):
    root = make_flat_tree(tmp_path / "flat", per_class=2)
    pd.DataFrame({"subject": [1, 2]}).to_csv(root / "metadata.csv", index=False)
    with pytest.warns(UserWarning, match="no 'file' column"):
        ds = load_class_folders(root, val_fraction=0, test_fraction=0)
    assert len(ds.train) == 6 and "subject" not in ds.train.meta.columns


def test_many_files_threaded_errors_name_the_file(tmp_path):
    """Above 16 files the loader uses threads; the failing file must still be named."""
    root = make_flat_tree(tmp_path / "many", per_class=20, classes=("happy", "sad"))
    (root / "sad" / "sad_13.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageReadError, match=r"sad_13\.png"):
        load_class_folders(root)


# --------------------------------------------------------------------------- labels CSV


def test_labels_csv_synonyms_identity_disjoint(tmp_path):
    csv, df = make_labels_csv(tmp_path, people=12, per_person=3)
    ds = load_labels_csv(csv, identity_pattern=r"^(.*)_\d+$", val_fraction=0.2, test_fraction=0.2)
    assert ds.class_names == ("angry", "happy", "sad", "surprise", "neutral")
    assert sum(len(s) for s in ds.splits.values()) == 36
    ids = {k: set(s.meta["identity"]) for k, s in ds.splits.items()}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])
    assert all(len(s) for s in ds.splits.values())
    meta = pd.concat([s.meta for s in ds.splits.values()])
    assert META_BASE | {"identity", "orig_label", "row", "person"} <= set(meta.columns)
    assert set(meta["orig_label"]) == {"happiness", "sadness", "anger", "Neutral", "surprise"}
    assert (meta["identity"] == "Person_" + meta["person"].astype(str)).all()
    assert ds.image_shape == (48, 48, 1)
    assert ds.info["split_method"].startswith("identity-disjoint")
    # identity_col gives the same grouping
    by_col = load_labels_csv(csv, identity_col="person", val_fraction=0.2, test_fraction=0.2)
    ids = {k: set(s.meta["identity"]) for k, s in by_col.splits.items()}
    assert not (ids["train"] & ids["test"])


def test_labels_csv_stratified_subset_and_image_dir(tmp_path):
    csv, df = make_labels_csv(tmp_path, people=10, per_person=4)
    ds = load_labels_csv(csv, classes=["sadness", "happy"], image_size=32, channels=3)
    assert ds.class_names == ("sad", "happy")
    assert ds.image_shape == (32, 32, 3)
    n_keep = df["emotion"].isin(["sadness", "happiness"]).sum()
    assert sum(len(s) for s in ds.splits.values()) == n_keep
    assert ds.info["dropped"] == len(df) - n_keep
    # explicit image_dir and a CSV elsewhere
    other = tmp_path / "meta" / "list.csv"
    other.parent.mkdir()
    df.to_csv(other, index=False)
    ds2 = load_labels_csv(other, image_dir=tmp_path / "images")
    assert sum(len(s) for s in ds2.splits.values()) == len(df)


def test_labels_csv_split_column(tmp_path):
    csv, df = make_labels_csv(tmp_path, people=4, per_person=3)
    df["set"] = ["Training", "PublicTest", "PrivateTest", "train"] * 3
    df.to_csv(csv, index=False)
    ds = load_labels_csv(csv, split_col="set")
    assert [len(ds[s]) for s in ("train", "val", "test")] == [6, 3, 3]
    df.loc[5, "set"] = "later"
    df.to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"row 5 \(line 7\): unknown split 'later'"):
        load_labels_csv(csv, split_col="set")


def test_labels_csv_errors(tmp_path):
    csv, df = make_labels_csv(tmp_path, people=4, per_person=3)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        load_labels_csv(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"labels\.csv' has no column 'label'"):
        load_labels_csv(csv, label_col="label")
    with pytest.raises(ValueError, match=r"labels\.csv' has no column 'subject'"):
        load_labels_csv(csv, identity_col="subject")

    bad = df.copy()
    bad.loc[7, "emotion"] = "confusion"
    bad.to_csv(tmp_path / "bad_label.csv", index=False)
    with pytest.raises(ValueError, match=r"bad_label\.csv' row 7 \(line 9\): unknown emotion label 'confusion'"):
        load_labels_csv(tmp_path / "bad_label.csv", image_dir=tmp_path / "images")

    bad = df.copy()
    bad.loc[3, "image"] = "Nobody_0001.jpg"
    bad.to_csv(tmp_path / "bad_file.csv", index=False)
    with pytest.raises(FileNotFoundError, match=r"Nobody_0001\.jpg.*bad_file\.csv' row 3"):
        load_labels_csv(tmp_path / "bad_file.csv", image_dir=tmp_path / "images")

    (tmp_path / "images" / df.loc[2, "image"]).write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ImageReadError, match=rf"{df.loc[2, 'image']}.*row 2"):
        load_labels_csv(csv)


# --------------------------------------------------------------------------- write + round trip


@pytest.mark.parametrize("channels", [1, 3])
def test_write_class_folders_round_trip(tmp_path, channels):
    ds = tiny_dataset(channels=channels)
    root = write_class_folders(ds, tmp_path / "export")
    assert sorted(p.name for p in root.iterdir()) == ["README.txt", "dataset.json", "metadata.csv", "test", "train", "val"]
    assert (root / "train" / "sad").is_dir()
    saved = json.loads((root / "dataset.json").read_text())
    assert saved["class_names"] == ["sad", "happy", "neutral"] and saved["info"]["note"] == "hand-made"
    back = load_class_folders(root, channels=channels, image_size=16)
    assert back.class_names == ds.class_names  # saved order, not FER order
    assert back.name == "tiny" and back.info["note"] == "hand-made"
    for key in ("train", "val", "test"):
        a, b = ds[key], back[key]
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
        assert set(a.meta.columns) <= set(b.meta.columns)
        pd.testing.assert_frame_equal(
            a.meta.reset_index(drop=True), b.meta[list(a.meta.columns)].reset_index(drop=True), check_dtype=False
        )
        assert b.meta["code"].iloc[0] == "000"  # string columns stay strings
        assert (b.meta["split"] == key).all()
    # writing the re-loaded data set again round-trips too
    root2 = write_class_folders(back, tmp_path / "export2")
    again = load_dataset(root2, channels=channels, image_size=16)
    np.testing.assert_array_equal(again.train.images, ds.train.images)
    assert list(again.train.meta["source"]) == list(ds.train.meta["source"])


def test_write_real_loaded_data_keeps_provenance(tmp_path):
    root = make_split_tree(tmp_path / "mirror")
    ds = load_class_folders(root)
    out = write_class_folders(ds, tmp_path / "out", image_format="jpg")
    back = load_class_folders(out)
    assert back.counts().equals(ds.counts())
    a = pd.concat([s.meta for s in ds.splits.values()], ignore_index=True)
    b = pd.concat([s.meta for s in back.splits.values()], ignore_index=True)
    assert list(a["source"]) == list(b["source"])  # original paths survive
    assert list(a["orig_width"]) == list(b["orig_width"])  # original sizes, not 48
    assert list(a["orig_label"]) == list(b["orig_label"])
    assert any(p.suffix == ".jpg" for p in (out / "train").rglob("*"))


def test_write_refuses_to_overwrite(tmp_path):
    ds = tiny_dataset()
    root = write_class_folders(ds, tmp_path / "export")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_class_folders(ds, root)
    smaller = ds.subset(["sad", "happy"])
    write_class_folders(smaller, root, overwrite=True)
    assert load_class_folders(root).class_names == ("sad", "happy")
    assert not list(tmp_path.glob(".export.*"))

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    with pytest.raises(FileExistsError, match="not a folder written by write_class_folders"):
        write_class_folders(ds, precious, overwrite=True)
    assert (precious / "thesis.tex").read_text() == "do not delete"
    # an existing empty folder is fine
    (tmp_path / "empty").mkdir()
    write_class_folders(ds, tmp_path / "empty")
    with pytest.raises(ValueError, match="image_format"):
        write_class_folders(ds, tmp_path / "x", image_format="gif")


def _failing_save(monkeypatch, after):
    calls = {"n": 0}
    original = Image.Image.save

    def save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError("disk full (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    return calls


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    ds = tiny_dataset()
    calls = _failing_save(monkeypatch, after=5)
    with pytest.raises(OSError, match="disk full"):
        write_class_folders(ds, tmp_path / "export")
    assert calls["n"] == 6
    assert list(tmp_path.iterdir()) == []  # neither root nor a temp dir


def test_failed_overwrite_keeps_the_old_export(tmp_path, monkeypatch):
    ds = tiny_dataset()
    root = write_class_folders(ds, tmp_path / "export")
    before = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    _failing_save(monkeypatch, after=3)
    with pytest.raises(OSError, match="disk full"):
        write_class_folders(ds.subset(["happy"]), root, overwrite=True)
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_write_failure_in_metadata_is_atomic(tmp_path, monkeypatch):
    ds = tiny_dataset()

    def boom(*args, **kwargs):
        raise RuntimeError("csv writer exploded")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(RuntimeError, match="exploded"):
        write_class_folders(ds, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- load_dataset


def test_load_dataset_dispatch(tmp_path, monkeypatch):
    csv, df = make_labels_csv(tmp_path / "faces", people=10, per_person=3)
    few = dict(val_fraction=0.3, test_fraction=0.3)  # 3 images per class in the flat tree
    assert load_dataset(csv, **few).info["format"] == "labels_csv"
    assert load_dataset(tmp_path / "faces", **few).info["format"] == "labels_csv"
    flat = make_flat_tree(tmp_path / "flat", per_class=3)
    assert load_dataset(str(flat), image_size=20, **few).image_shape == (20, 20, 1)

    with pytest.raises(FileNotFoundError, match=r"data source not found: '.*nowhere'"):
        load_dataset(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="synthetic"):
        load_dataset("synthtic")
    (tmp_path / "x.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"x\.npz.*expected a \.csv"):
        load_dataset(tmp_path / "x.npz")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "other").mkdir()
    with pytest.raises(ValueError, match=r"junk.*no class folders"):
        load_dataset(tmp_path / "junk")
    with pytest.raises(ValueError, match="source must be"):
        load_dataset(42)

    calls = {}
    fake = types.ModuleType("emolib.data.synthetic")

    def generate(**kwargs):
        calls.update(kwargs)
        return tiny_dataset()

    fake.generate = generate
    monkeypatch.setitem(sys.modules, "emolib.data.synthetic", fake)
    monkeypatch.setattr(data, "synthetic", fake, raising=False)
    assert load_dataset("synthetic", classes="seed003", n_train=10).name == "tiny"
    assert calls == {"classes": "seed003", "n_train": 10}
    assert load_dataset().name == "tiny"


def test_bad_arguments(tmp_path):
    root = make_flat_tree(tmp_path / "flat", per_class=2)
    with pytest.raises(ValueError, match="channels"):
        load_class_folders(root, channels=4)
    with pytest.raises(ValueError, match="val_fraction"):
        load_class_folders(root, val_fraction=1.5)
    with pytest.raises(ValueError, match=r"val_fraction \+ test_fraction"):
        load_class_folders(root, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="unknown emotion label 'bored'"):
        load_class_folders(root, classes=["happy", "bored"])


def test_group_split_is_disjoint_and_roughly_stratified():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(200), rng.integers(1, 6, 200))
    labels = rng.integers(0, 4, len(groups))
    split = splits._group_splits(labels, groups.astype(str), 0.15, 0.15, seed=0)
    for a in ("train", "val", "test"):
        for b in ("train", "val", "test"):
            if a < b:
                assert not set(groups[split == a]) & set(groups[split == b])
    # one fold in 7 is test, one in 6 of the rest is val: 14.3% each
    for s, frac in (("train", 5 / 7), ("val", 1 / 7), ("test", 1 / 7)):
        share = (split == s).mean()
        assert abs(share - frac) < 0.02
        per_class = np.bincount(labels[split == s], minlength=4) / np.bincount(labels, minlength=4)
        assert np.all(np.abs(per_class - frac) < 0.05)
    assert np.array_equal(split, splits._group_splits(labels, groups.astype(str), 0.15, 0.15, seed=0))
    assert not np.array_equal(split, splits._group_splits(labels, groups.astype(str), 0.15, 0.15, seed=1))


def test_stratified_split_sizes_per_class_and_seed():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    split = splits._stratified_splits(labels, 0.1, 0.2, seed=4)
    assert [(split == s).sum() for s in ("train", "val", "test")] == [70, 10, 20]
    for s, per_class in (("test", [10, 6, 4]), ("val", [5, 3, 2])):
        assert list(np.bincount(labels[split == s], minlength=3)) == per_class
    assert np.array_equal(split, splits._stratified_splits(labels, 0.1, 0.2, seed=4))
    assert not np.array_equal(split, splits._stratified_splits(labels, 0.1, 0.2, seed=5))
    assert (splits._stratified_splits(labels, 0.0, 0.0) == "train").all()
    with pytest.raises(ValueError, match=r"too few images per class for test_fraction=0\.5"):
        splits._stratified_splits([0, 0, 0, 1], 0.0, 0.5)  # one image of class 1 cannot be stratified


def test_export_with_an_empty_split_round_trips_without_carving(tmp_path):
    rng = np.random.default_rng(0)

    def split(n, label):
        return Split(rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8), np.full(n, label),
                     pd.DataFrame({"label": np.full(n, label), "emotion": ["happy", "sad"][label],
                                   "source": [f"s{label}_{i}" for i in range(n)]}))

    train = Split(np.concatenate([split(6, 0).images, split(6, 1).images]), np.repeat([0, 1], 6),
                  pd.concat([split(6, 0).meta, split(6, 1).meta], ignore_index=True))
    empty = train.take(np.zeros(0, dtype=int))
    ds = EmotionDataset({"train": train, "val": empty, "test": train.take(np.array([0, 6]))}, ("happy", "sad"))
    root = write_class_folders(ds, tmp_path / "export")
    back = load_class_folders(root, image_size=8)
    assert {k: len(v) for k, v in back.splits.items()} == {"train": 12, "val": 0, "test": 2}
    np.testing.assert_array_equal(back.train.images, ds.train.images)
