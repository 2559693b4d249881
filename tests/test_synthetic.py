"""Behaviour of the procedural face-expression generator as emolib uses it (emolib.data.synthetic,
its adapter to facegen; facegen's own tests are in test_facegen.py)."""

import numpy as np
import pandas as pd
import pytest

import facegen
from emolib.data import base, synthetic
from emolib.data.base import EMOTIONS, PRESETS, EmotionDataset, _convert_images
from emolib.data.synthetic import (
    ACTION_UNITS,
    AU_COLUMNS,
    FER2013_COUNTS,
    class_counts,
    generate,
    render,
    sample_action_units,
    sample_params,
)

SMALL = dict(n_train=70, n_val=21, n_test=21)


@pytest.fixture(scope="module")
def small():
    return generate(**SMALL, seed=3)


@pytest.mark.parametrize("size,channels", [(32, 1), (48, 3), (64, 1), (96, 3), (128, 1)])
def test_shapes_and_dtypes(size, channels):
    ds = generate(n_train=14, n_val=7, n_test=7, image_size=size, channels=channels, seed=1)
    assert isinstance(ds, EmotionDataset)
    assert ds.name == "synthetic"
    assert ds.image_shape == (size, size, channels)
    for key in ("train", "val", "test"):
        split = ds[key]
        assert split.images.dtype == np.uint8
        assert split.images.shape == (len(split), size, size, channels)
        assert split.labels.dtype == np.int64
        assert len(split.meta) == len(split)
    assert ds.info["image_size"] == size and ds.info["channels"] == channels


def test_images_are_not_blank(small):
    x = small.train.images.astype(float)
    per_image_std = x.reshape(len(x), -1).std(axis=1)
    assert (per_image_std > 5).all()
    assert x.mean() > 30 and x.mean() < 220


def test_deterministic_for_a_seed():
    a = generate(**SMALL, seed=11)
    b = generate(**SMALL, seed=11)
    c = generate(**SMALL, seed=12)
    for key in ("train", "val", "test"):
        assert np.array_equal(a[key].images, b[key].images)
        assert np.array_equal(a[key].labels, b[key].labels)
        pd.testing.assert_frame_equal(a[key].meta, b[key].meta)
    assert not np.array_equal(a.train.images, c.train.images)


def test_independent_of_batch_size():
    a = generate(**SMALL, seed=5, batch_size=7)
    b = generate(**SMALL, seed=5, batch_size=64)
    for key in ("train", "val", "test"):
        assert np.array_equal(a[key].images, b[key].images)


def test_test_split_does_not_depend_on_train_size():
    a = generate(n_train=35, n_val=14, n_test=14, seed=2)
    b = generate(n_train=70, n_val=14, n_test=14, seed=2)
    assert np.array_equal(a.test.images, b.test.images)


def test_identity_disjoint_splits(small):
    ids = {key: set(small[key].meta["identity"]) for key in ("train", "val", "test")}
    assert not ids["train"] & ids["val"]
    assert not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    # several images per person, so identity is a real nuisance factor
    assert small.train.meta["identity"].value_counts().max() > 1


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_class_presets(preset):
    ds = generate(preset, n_train=24, n_val=12, n_test=12, seed=0)
    assert ds.class_names == tuple(PRESETS[preset])
    assert set(ds.train.labels) == set(range(len(PRESETS[preset])))


def test_class_list_and_default():
    assert generate(**SMALL, seed=0).class_names == EMOTIONS
    ds = generate(["Happiness", "sad"], n_train=10, n_val=4, n_test=4, seed=0)
    assert ds.class_names == ("happy", "sad")
    assert list(ds.counts()["train"]) == [5, 5]


def test_balanced_counts(small):
    counts = small.counts()
    assert counts["train"].tolist() == [10] * 7
    assert counts["val"].tolist() == [3] * 7
    assert counts["test"].sum() == 21


def test_fer2013_balance():
    counts = class_counts(28709, "fer7", "fer2013")
    assert counts.sum() == 28709
    expected = np.array([FER2013_COUNTS[c] for c in EMOTIONS], dtype=float)
    np.testing.assert_allclose(counts / counts.sum(), expected / expected.sum(), atol=1e-3)
    sub = class_counts(1000, "seed002", "fer2013")
    w = np.array([FER2013_COUNTS[c] for c in PRESETS["seed002"]], dtype=float)
    np.testing.assert_allclose(sub, 1000 * w / w.sum(), atol=1)
    ds = generate(n_train=700, n_val=70, n_test=70, balance="fer2013", seed=0, image_size=32)
    train = ds.counts()["train"]
    assert train["happy"] == train.max() and train["disgust"] == train.min()


def test_seed003_balance():
    ds = generate("seed003", n_train=400, n_val=200, balance="seed003", seed=0, image_size=32)
    counts = ds.counts()
    # test: 32 per class (seed 003's 128-image test set)
    assert counts["test"].tolist() == [32, 32, 32, 32]
    # train: surprise ~21% fewer than each other class
    train = counts["train"]
    others = train.drop("surprise")
    assert others.max() - others.min() <= 1
    assert train["surprise"] / others.mean() == pytest.approx(0.79, abs=0.02)
    # validation: highly unbalanced
    val = counts["val"] / counts["val"].sum()
    assert val["happy"] == pytest.approx(0.37, abs=0.01)
    assert val["surprise"] == pytest.approx(0.16, abs=0.01)
    assert val.max() / val.min() > 2
    # other class sets get a similar skew
    other = class_counts(300, "seed002", "seed003", "val")
    assert other.sum() == 300 and other.max() / other.min() > 1.5
    assert class_counts(300, "seed002", "seed003", "train")[-1] < class_counts(300, "seed002", "seed003", "train")[0]


def test_metadata_columns_and_consistency(small):
    required = {
        "label", "emotion", "source", "identity", "intensity", "glasses", "sunglasses", "text",
        "occlusion", "rotation_deg", "scale", "shift_x", "shift_y", "label_noise", "background",
        "brightness", "split", "true_label", "true_emotion",
    } | set(AU_COLUMNS)
    for key in ("train", "val", "test"):
        meta = small[key].meta
        assert required <= set(meta.columns)
        assert (meta["label"].to_numpy() == small[key].labels).all()
        assert (meta["emotion"] == [small.class_names[i] for i in small[key].labels]).all()
        assert meta["source"].is_unique
        assert meta["source"].str.startswith(f"synthetic/{key}/").all()
        assert (meta["split"] == key).all()
        for col in ("glasses", "sunglasses", "text", "occlusion", "label_noise"):
            assert meta[col].dtype == bool
        assert not (meta["glasses"] & meta["sunglasses"]).any()
        aus = meta[list(AU_COLUMNS)].to_numpy()
        assert aus.min() >= 0 and aus.max() <= 1
        assert meta["intensity"].between(0, 1).all()
    assert len(AU_COLUMNS) == len(ACTION_UNITS) and "au12" in AU_COLUMNS


def test_action_units_follow_prototypes():
    rng = np.random.default_rng(0)
    labels = np.repeat(["happy", "sad", "surprise", "neutral", "angry"], 400)
    aus = sample_action_units(labels, rng)
    mean = aus.groupby("emotion")[list(AU_COLUMNS)].mean()
    assert mean.loc["happy", "au12"] > 3 * mean.loc["neutral", "au12"]
    assert mean.loc["surprise", "au26"] > 3 * mean.loc["neutral", "au26"]
    assert mean.loc["sad", "au15"] > 3 * mean.loc["happy", "au15"]
    assert mean.loc["angry", "au04"] > 3 * mean.loc["surprise", "au04"]
    assert (aus.loc[aus["emotion"] == "neutral", "intensity"] == 0).all()
    inten = aus.loc[aus["emotion"] != "neutral", "intensity"]
    assert inten.min() < 0.25 and inten.max() > 0.9  # subtle to strong


def test_label_noise_fraction_recorded():
    ds = generate(n_train=200, n_val=20, n_test=20, seed=4, label_noise=0.2, image_size=32)
    meta = ds.train.meta
    assert meta["label_noise"].sum() == 40
    flipped = meta[meta["label_noise"]]
    assert (flipped["label"] != flipped["true_label"]).all()
    kept = meta[~meta["label_noise"]]
    assert (kept["label"] == kept["true_label"]).all()
    assert not ds.test.meta["label_noise"].any()  # only train gets noise by default
    clean = generate(n_train=200, n_val=20, n_test=20, seed=4, image_size=32)
    assert np.array_equal(clean.train.images, ds.train.images)
    assert (clean.train.labels == ds.train.meta["true_label"]).all()


def test_gray_is_luma_of_rgb():
    gray = generate(**SMALL, seed=9, channels=1)
    rgb = generate(**SMALL, seed=9, channels=3)
    luma = _convert_images(rgb.train.images, 48, 1)
    assert np.abs(luma.astype(int) - gray.train.images.astype(int)).max() <= 1
    assert np.array_equal(gray.train.labels, rgb.train.labels)
    # colour carries something: the channels are not all equal
    assert np.abs(rgb.train.images[..., 0].astype(int) - rgb.train.images[..., 2]).mean() > 2


def test_low_level_api():
    rng = np.random.default_rng(0)
    params = sample_params(["happy", "fear"], rng)
    imgs = render(params, image_size=40, channels=3)
    assert imgs.shape == (2, 40, 40, 3) and imgs.dtype == np.uint8
    assert params["label"].tolist() == [EMOTIONS.index("happy"), EMOTIONS.index("fear")]


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(balance="natural"), "balance"),
        (dict(channels=2), "channels"),
        (dict(n_train=-1), "n_train"),
        (dict(n_val=-5), "n_val"),
        (dict(n_test=-1), "n_test"),
        (dict(label_noise=1.0), "label_noise"),
        (dict(label_noise=-0.1), "label_noise"),
        (dict(image_size=8), "image_size"),
        (dict(classes="seed999"), "preset"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate(**{**dict(n_train=7, n_val=7, n_test=7), **kwargs})


def test_synthetic_is_facegen_with_emolib_types():
    """emolib.data.synthetic re-exports facegen's names, and only turns its dicts into DataFrames
    and an EmotionDataset; emolib's label vocabulary is facegen's."""
    wrapped = {"generate", "sample_action_units", "params_to_meta"}
    for name in set(synthetic.__all__) - wrapped:
        assert getattr(synthetic, name) is getattr(facegen, name)
    for name in ("EMOTIONS", "PRESETS", "LABEL_SYNONYMS", "SPLITS", "normalize_label", "resolve_classes"):
        assert getattr(base, name) is getattr(facegen.labels, name)
    ds = generate(n_train=9, n_val=5, n_test=4, image_size=16, seed=1, classes="seed002")
    drawn = facegen.generate(n_train=9, n_val=5, n_test=4, image_size=16, seed=1, classes="seed002")
    assert ds.class_names == drawn["classes"] and ds.info == {"generator": "emolib.data.synthetic", **drawn["info"]}
    for name in ("train", "val", "test"):
        split = drawn["splits"][name]
        assert np.array_equal(ds[name].images, split["images"]) and np.array_equal(ds[name].labels, split["labels"])
        pd.testing.assert_frame_equal(ds[name].meta, pd.DataFrame(split["meta"]))
    params = sample_params(["happy", "Sadness"], np.random.default_rng(0))
    pd.testing.assert_frame_equal(synthetic.params_to_meta(params), pd.DataFrame(facegen.params_to_meta(params)))
    aus = sample_action_units(["happy", "fear"], np.random.default_rng(1))
    assert isinstance(aus, pd.DataFrame) and list(aus.columns) == list(
        facegen.sample_action_units(["happy", "fear"], np.random.default_rng(1)))
