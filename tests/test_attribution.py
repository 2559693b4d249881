import numpy as np
import pandas as pd
import pytest

from emolib.attribution import face_regions, grad_cam, _last_feature_layer, region_shares


def region_only_model(mask):
    """A classifier whose output depends only on the pixels where ``mask`` is True: the
    image is multiplied by the mask before the (only) convolution."""
    import keras

    size = mask.shape[0]
    constant = keras.ops.convert_to_tensor(mask[None, :, :, None].astype("float32"))
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Lambda(lambda t: t * constant, name="mask")(inputs)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="features",
                            kernel_initializer="ones", bias_initializer="zeros")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.Constant(
        np.array([[1.0, -1.0], [1.0, -1.0]])))(x)
    return keras.Model(inputs, outputs)


def test_grad_cam_puts_the_attribution_on_the_region_the_output_depends_on():
    size = 16
    mask = np.zeros((size, size), bool)
    mask[2:6, 9:15] = True  # off-centre and not square: a flipped or transposed map misses it
    model = region_only_model(mask)
    assert _last_feature_layer(model) == "features"
    images = np.random.default_rng(0).uniform(0.2, 1.0, (5, size, size, 1)).astype("float32")
    maps = grad_cam(model, images)
    assert maps.shape == (5, size, size) and (maps >= 0).all()
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    grown = np.zeros_like(mask)  # the region plus one pixel: bilinear resizing blurs the edge a little
    grown[1:7, 8:16] = True
    inside = (maps * grown).sum(axis=(1, 2))
    assert (inside > 0.95).all(), inside
    shares = region_shares(maps, {"region": grown})
    assert shares.loc["region", "ratio"] > 4  # the region is under a fifth of the image


def test_grad_cam_explains_the_requested_class():
    mask = np.ones((8, 8), bool)
    model = region_only_model(mask)
    images = np.full((2, 8, 8, 1), 0.5, "float32")
    # class 1's probability falls as the features grow: its Grad-CAM weights are negative and the map empty
    assert np.allclose(grad_cam(model, images, class_index=1), 0)
    assert np.allclose(grad_cam(model, images, class_index=0).sum(axis=(1, 2)), 1)


def test_region_shares_of_an_even_map_are_the_areas():
    maps = np.ones((3, 10, 10))
    regions = {"top": np.zeros((10, 10), bool)}
    regions["top"][:2] = True
    shares = region_shares(maps, regions)
    assert list(shares.index) == ["top", "rest"]
    np.testing.assert_allclose(shares["attribution"], [0.2, 0.8])
    np.testing.assert_allclose(shares["area"], [0.2, 0.8])
    np.testing.assert_allclose(shares["ratio"], [1.0, 1.0])
    with pytest.raises(ValueError, match="all zeros"):
        region_shares(np.zeros((2, 4, 4)), regions={})
    with pytest.raises(ValueError, match="maps"):
        region_shares(np.ones((4, 4)), regions={})


def test_face_regions_follow_the_pose():
    size = 48
    centred = face_regions(size)
    assert set(centred) == {"eyes", "mouth"} and centred["eyes"].shape == (1, size, size)
    rows = lambda m: np.flatnonzero(m[0].any(axis=1))  # noqa: E731
    cols = lambda m: np.flatnonzero(m[0].any(axis=0))  # noqa: E731
    # eyes above the middle, mouth below, both centred left to right, no overlap
    assert rows(centred["eyes"]).mean() < size / 2 < rows(centred["mouth"]).mean()
    assert abs(cols(centred["eyes"]).mean() - (size - 1) / 2) < 0.5
    assert not (centred["eyes"] & centred["mouth"]).any()
    # a face moved right by 0.25 (an eighth of the image) and down: its regions move with it
    meta = pd.DataFrame({"scale": [1.55], "shift_x": [0.25], "shift_y": [0.1], "rotation_deg": [0.0]})
    moved = face_regions(size, meta)
    assert cols(moved["eyes"]).mean() - cols(centred["eyes"]).mean() == pytest.approx(0.25 * size / 2, abs=1)
    assert rows(moved["mouth"]).mean() > rows(centred["mouth"]).mean()

