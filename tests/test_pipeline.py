"""Behaviour of emolib.pipeline: conversion, shuffling, augmentation, MixUp/CutMix
and class-imbalance resampling."""

import keras
import numpy as np
import pytest
from PIL import Image

from emolib.pipeline import (
    _AUGMENT_DEFAULTS,
    _augmentation,
    _batch_mixing,
    class_weights,
    make_dataset,
    oversample_indices,
    undersample_indices,
)


#: keras.layers.CutMix and AugMix arrived in Keras 3.9 (the floor, 3.8, has MixUp and the Random* layers).
HAS_CUTMIX = hasattr(keras.layers, "CutMix")
HAS_AUGMIX = hasattr(keras.layers, "AugMix")
needs_cutmix = pytest.mark.skipif(not HAS_CUTMIX, reason="keras.layers.CutMix is new in Keras 3.9")
needs_augmix = pytest.mark.skipif(not HAS_AUGMIX, reason="keras.layers.AugMix is new in Keras 3.9")


def _images(n=10, h=8, w=8, c=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


# ---------------------------------------------------------------- conversion


def test_make_dataset_shapes_dtypes_and_values():
    images = _images(10)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    ds = make_dataset(images, labels, num_classes=3, batch_size=4)
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    x, y = _collect(ds)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.shape == (10, 8, 8, 1) and y.shape == (10, 3)
    # order kept when not training; values are the uint8 images / 255
    np.testing.assert_allclose(x, images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, np.eye(3)[labels])
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_gray_to_rgb_rgb_to_gray_and_resize():
    gray = _images(4, c=1)
    x, _ = _collect(make_dataset(gray, np.zeros(4, int), 2, channels=3))
    assert x.shape == (4, 8, 8, 3)
    np.testing.assert_allclose(x[..., 0], x[..., 2])
    np.testing.assert_allclose(x[..., 1], gray[..., 0] / 255.0, atol=1e-6)

    rgb = _images(4, c=3, seed=1)
    x, _ = _collect(make_dataset(rgb, np.zeros(4, int), 2, channels=1))
    luma = (rgb / 255.0) @ np.array([0.2989, 0.587, 0.114])
    assert x.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(x[..., 0], luma, atol=2e-3)

    x, _ = _collect(make_dataset(gray, np.zeros(4, int), 2, image_size=(16, 12), channels=3))
    assert x.shape == (4, 16, 12, 3)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_uint8_conversion_matches_the_luma_formula_and_pil_bilinear_resizing():
    """emolib.data.base.convert_images (uint8 in, uint8 out) runs on the pipeline's
    converter: ITU-R 601 luma and an antialiased bilinear resize, within one grey
    level of the textbook formula and of PIL's BILINEAR filter."""
    from emolib.data.base import _convert_images

    rgb = _images(6, h=40, w=40, c=3, seed=2)
    luma = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(_convert_images(rgb, 40, 1)[..., 0] - luma).max() <= 1.0
    rgba = np.concatenate([rgb, np.full((6, 40, 40, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(_convert_images(rgba, 40, 3), rgb)  # alpha dropped, nothing else changes
    for size in (24, 56):  # down and up
        pil = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in rgb])
        assert np.abs(_convert_images(rgb, size, 3).astype(int) - pil).max() <= 1
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        _convert_images(rgb, 40, 2)


def test_2d_images_are_accepted_as_one_channel():
    images = _images(9, h=10, w=10)
    labels = np.arange(9) % 3
    a = _collect(make_dataset(images, labels, 3, batch_size=4, image_size=6, channels=3))
    b = _collect(make_dataset(images[..., 0], labels, 3, batch_size=4, image_size=6, channels=3))
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="0..2"):
        make_dataset(_images(3), np.array([0, 1, 3]), 3)
    with pytest.raises(ValueError, match="shape"):
        make_dataset(_images(3), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match=r"soft_targets must have shape \(3, 3\)"):
        make_dataset(_images(3), np.array([0, 1, 2]), 3, soft_targets=np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match="soft_targets go without augment"):
        make_dataset(_images(3), np.array([0, 1, 2]), 3, training=True, augment=True, soft_targets=np.full((3, 3), 1 / 3))


# ---------------------------------------------------------------- shuffling


def _order(ds):
    """Recover the sample order from images whose first pixel is their index."""
    return [int(round(v * 255)) for x, _ in ds for v in x.numpy()[:, 0, 0, 0]]


def test_training_shuffles_each_epoch_reproducibly():
    n = 40
    images = np.zeros((n, 4, 4, 1), np.uint8)
    images[:, 0, 0, 0] = np.arange(n)
    labels = np.arange(n) % 2
    ds = make_dataset(images, labels, 2, batch_size=8, training=True, seed=3)
    e1, e2 = _order(ds), _order(ds)
    assert sorted(e1) == list(range(n)) and sorted(e2) == list(range(n))
    assert e1 != list(range(n))
    assert e1 != e2  # reshuffled every epoch
    again = make_dataset(images, labels, 2, batch_size=8, training=True, seed=3)
    assert [_order(again), _order(again)] == [e1, e2]  # seeded
    other = make_dataset(images, labels, 2, batch_size=8, training=True, seed=4)
    assert _order(other) != e1
    # labels follow their images through the shuffle
    for x, y in ds:
        idx = np.round(x.numpy()[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_array_equal(y.numpy().argmax(1), idx % 2)


# ---------------------------------------------------------------- augmentation


def test_augmented_pipeline_changes_images_keeps_shapes_and_labels():
    images = _images(32, h=16, w=16)
    labels = np.arange(32) % 4
    plain = _collect(make_dataset(images, labels, 4, batch_size=16))
    ds = make_dataset(images, labels, 4, batch_size=16, training=True, augment=True, seed=1)
    x1, y1 = _collect(ds)
    x2, _ = _collect(ds)
    assert x1.shape == plain[0].shape and y1.shape == plain[1].shape
    assert 0.0 <= x1.min() and x1.max() <= 1.0
    np.testing.assert_array_equal(y1.sum(1), 1.0)  # still one-hot
    assert set(np.unique(y1)) == {0.0, 1.0}
    assert not np.allclose(np.sort(x1.ravel()), np.sort(plain[0].ravel()))
    assert not np.allclose(x1, x2)  # new augmentation each epoch
    x3, _ = _collect(make_dataset(images, labels, 4, batch_size=16, training=True, augment=True, seed=1))
    np.testing.assert_allclose(x1, x3, atol=1e-6)  # reproducible
    # the static shape survives augmentation and mixing (Keras < 3.11's Flatten needs it)
    mixed = make_dataset(images, labels, 4, batch_size=16, training=True, augment=True, mixup_alpha=0.2)
    assert [s.shape.as_list() for s in mixed.element_spec] == [[None, 16, 16, 1], [None, 4]]
    # evaluation pipelines ignore augmentation
    xe, _ = _collect(make_dataset(images, labels, 4, batch_size=16, augment=True, mixup_alpha=1.0))
    np.testing.assert_allclose(xe, plain[0])


def test_augmented_pipeline_is_reproducible_per_seed_for_every_kind():
    images, labels = _images(48, h=12, w=12), np.arange(48) % 4
    kinds = [{"augment": True}, {"augment": {"rotation": 30, "flip": False}}, {"mixup_alpha": 0.4}]
    if HAS_CUTMIX:
        kinds += [{"cutmix_alpha": 1.0}, {"augment": True, "mixup_alpha": 0.4, "cutmix_alpha": 1.0}]
    if HAS_AUGMIX:
        kinds += [{"augment": {**dict.fromkeys(_AUGMENT_DEFAULTS, 0), "augmix": 0.3}}]
    for kw in kinds:
        def run(seed):
            ds = make_dataset(images, labels, 4, batch_size=16, training=True, seed=seed, **kw)
            return [_collect(ds) for _ in range(2)]  # two epochs

        (x1, y1), (x2, _) = first = run(5)
        again = run(5)
        for (xa, ya), (xb, yb) in zip(first, again):
            np.testing.assert_array_equal(xa, xb, err_msg=str(kw))
            np.testing.assert_array_equal(ya, yb, err_msg=str(kw))
        assert not np.allclose(x1, x2), kw  # a new draw every epoch
        assert not np.allclose(x1, run(6)[0][0]), kw  # another seed, other batches
        assert 0.0 <= x1.min() and x1.max() <= 1.0


def test_augment_values_map_to_keras_layers():
    assert _augmentation(None) is None and _augmentation(False) is None
    off = dict.fromkeys(_AUGMENT_DEFAULTS, 0)
    assert _augmentation(off) is None
    names = [type(layer).__name__ for layer in _augmentation(True, seed=0).layers]
    assert names == ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomContrast", "RandomBrightness"]
    rotation = _augmentation({**off, "rotation": 36}, seed=0).layers
    assert len(rotation) == 1 and rotation[0].factor == (-0.1, 0.1)  # degrees -> fraction of a turn
    with pytest.raises(TypeError):
        _augmentation("yes")
    with pytest.raises(ValueError, match="zoom"):
        _augmentation({"zoom": 0.1})


def test_layers_draw_independently_of_each_other():
    """_augmentation() seeds each layer on its own: a flip says nothing about the rotation's sign."""
    x = np.random.default_rng(0).random((64, 9, 9, 1)).astype(np.float32)
    flip, rotate = _augmentation({**dict.fromkeys(_AUGMENT_DEFAULTS, 0), "flip": True, "rotation": 20}, seed=3).layers
    flips = np.asarray(flip.get_random_transformation(x, training=True)["flips"]).ravel()
    angles = np.asarray(rotate.get_random_transformation(x, training=True)["angle"]).ravel()
    agree = np.mean(flips == (angles < 0))
    assert 0.25 < agree < 0.75, agree  # one shared seed makes this 0 or 1


def test_brightness_and_contrast_ranges():
    rng = np.random.default_rng(0)
    x = (0.4 + 0.2 * rng.random((16, 8, 8, 1))).astype(np.float32)
    off = dict.fromkeys(_AUGMENT_DEFAULTS, 0)
    out = np.asarray(_augmentation({**off, "brightness": 0.1}, seed=1)(x, training=True))
    delta = (out - x).reshape(16, -1)
    np.testing.assert_allclose(delta, delta[:, :1].repeat(64, axis=1), atol=1e-6)  # one shift per image
    assert np.all(np.abs(delta) <= 0.1 + 1e-6) and np.abs(delta).max() > 0.02

    out = np.asarray(_augmentation({**off, "contrast": 0.3}, seed=2)(x, training=True))
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5)
    ratio = out.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3))
    assert np.all((ratio >= 0.7 - 1e-4) & (ratio <= 1.3 + 1e-4))
    assert np.abs(ratio - 1).max() > 0.05


# ---------------------------------------------------------------- MixUp / CutMix


def _constant_batch(n=8, size=12):
    values = np.linspace(0.05, 0.95, n).astype(np.float32)
    images = np.ones((n, size, size, 1), np.float32) * values[:, None, None, None]
    return images, np.eye(n, dtype=np.float32), values


def test_mixup_blends_images_and_labels_with_the_same_weight():
    images, labels, values = _constant_batch()
    x, y = (np.asarray(t) for t in _batch_mixing(mixup_alpha=0.4, seed=7)(images, labels))
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-6)
    # each pixel equals the label-weighted mix of the source images' values
    np.testing.assert_allclose(x[:, 0, 0, 0], y @ values, atol=1e-5)
    assert (y.max(1) < 0.99).sum() >= 2  # some samples really mixed


@needs_cutmix
def test_cutmix_label_weights_match_the_pasted_area():
    images, labels, values = _constant_batch(n=8, size=20)
    x, y = (np.asarray(t) for t in _batch_mixing(cutmix_alpha=1.0, seed=1)(images, labels))
    np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-5)
    for i in range(8):
        own = np.isclose(x[i, ..., 0], values[i])
        for c in range(8):
            if c != i:  # the area taken from image c is its share of the label (Keras weighs by the
                # box's exact area, the pixel grid differs by less than a row and a column: 0.1 at 20x20)
                assert abs(np.isclose(x[i, ..., 0], values[c]).mean() - y[i, c]) < 0.1, (i, c)
        pasted = ~own
        if pasted.any():  # the pasted region is one rectangle
            rows, cols = np.flatnonzero(pasted.any(1)), np.flatnonzero(pasted.any(0))
            assert pasted[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
    assert (y.max(1) < 0.99).sum() >= 2
    assert _batch_mixing() is None


def test_pipeline_mixing_gives_soft_labels_that_sum_to_one():
    images = _images(32, h=8, w=8)
    labels = np.arange(32) % 4
    kinds = [{"mixup_alpha": 0.5}] + ([{"cutmix_alpha": 1.0}, {"mixup_alpha": 0.5, "cutmix_alpha": 1.0}]
                                      if HAS_CUTMIX else [])
    for kw in kinds:
        _, y = _collect(make_dataset(images, labels, 4, batch_size=16, training=True, **kw))
        np.testing.assert_allclose(y.sum(1), 1.0, atol=1e-5)
        assert ((y > 0.01) & (y < 0.99)).any(), kw


# ---------------------------------------------------------------- imbalance


def test_undersample_and_oversample_counts():
    labels = np.repeat([0, 1, 2], [10, 4, 7])
    under = undersample_indices(labels, seed=0)
    assert np.bincount(labels[under]).tolist() == [4, 4, 4]
    assert len(np.unique(under)) == len(under) and np.all(np.diff(under) >= 0)
    assert not np.array_equal(under, undersample_indices(labels, seed=1))
    np.testing.assert_array_equal(under, undersample_indices(labels, seed=0))

    over = oversample_indices(labels, seed=0)
    assert np.bincount(labels[over]).tolist() == [10, 10, 10]
    assert set(over) == set(range(len(labels)))  # every image kept
    assert over.dtype == np.int64


def test_class_weights_are_balanced():
    labels = np.repeat([0, 1, 3], [6, 2, 4])  # class 2 absent
    w = class_weights(labels, 4)
    assert set(w) == {0, 1, 2, 3}
    np.testing.assert_allclose([w[0], w[1], w[3]], [12 / (3 * 6), 12 / (3 * 2), 12 / (3 * 4)])
    assert w[2] == 1.0
    # the mean weight over the samples is 1
    assert np.mean([w[c] for c in labels]) == pytest.approx(1.0)


def test_augmentation_is_keras_layers_with_independent_seeds_that_change_only_training_batches():
    images = np.random.default_rng(0).random((4, 24, 24, 1), dtype=np.float32)
    aug = _augmentation(True, seed=0)
    assert [type(layer).__name__ for layer in aug.layers] == [
        "RandomFlip", "RandomRotation", "RandomTranslation", "RandomContrast", "RandomBrightness"]
    seeds = [layer.seed for layer in aug.layers]
    assert len(set(seeds)) == len(seeds)  # one seed per layer: their draws are not tied together
    np.testing.assert_allclose(np.asarray(aug(images, training=False)), images)
    assert not np.allclose(np.asarray(aug(images, training=True)), images)
    only_flip = {"rotation": 0, "translation": 0, "contrast": 0, "brightness": 0}
    assert [type(layer).__name__ for layer in _augmentation(only_flip, seed=0).layers] == ["RandomFlip"]


@needs_augmix
def test_augmix_is_keras_augmix_on_the_unit_range():
    off = dict.fromkeys(_AUGMENT_DEFAULTS, 0)
    assert _AUGMENT_DEFAULTS["augmix"] == 0  # off by default: augment=True keeps its earlier meaning
    (layer,) = _augmentation({**off, "augmix": 0.5}, seed=0).layers
    assert type(layer).__name__ == "AugMix" and tuple(layer.value_range) == (0.0, 1.0)
    assert [type(l).__name__ for l in _augmentation({"augmix": True}, seed=0).layers][-1] == "AugMix"
    x = np.random.default_rng(0).random((8, 16, 16, 1)).astype(np.float32)
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and 0.0 <= out.min() and out.max() <= 1.0
    assert not np.allclose(out, x)


@pytest.mark.parametrize("name, kwargs, setting", [
    ("CutMix", {"cutmix_alpha": 1.0}, "cutmix_alpha"),
    ("AugMix", {"augment": {"augmix": 0.3}}, "augmix"),
])
def test_a_keras_without_the_layer_gets_an_error_naming_the_setting(monkeypatch, name, kwargs, setting):
    """Keras 3.8 (the supported floor) has neither layer: the error says which setting needs which
    Keras, instead of an AttributeError from deep inside the pipeline."""
    monkeypatch.delattr(keras.layers, name, raising=False)
    with pytest.raises(RuntimeError, match=rf"{setting} needs keras.layers.{name}, new in Keras 3.9"):
        make_dataset(_images(8), np.arange(8) % 2, 2, training=True, **kwargs)


@needs_augmix
def test_augmix_in_the_balanced_stream_follows_the_seed():
    """The balanced stream (every real-photo run) applies the augmentation with a seeded trace,
    so AugMix's choice of operations repeats with the seed."""
    images = np.random.default_rng(0).random((24, 12, 12, 1)).astype(np.float32)
    labels = np.arange(24) % 2
    augment = {"flip": False, "rotation": 0, "translation": 0, "contrast": 0, "brightness": 0, "augmix": 0.5}

    def first_batch(seed):
        ds = make_dataset(images, labels, 2, batch_size=8, training=True, balanced=True, augment=augment, seed=seed)
        return next(iter(ds))[0].numpy()

    np.testing.assert_array_equal(first_batch(4), first_batch(4))