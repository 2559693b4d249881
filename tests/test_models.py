"""emolib.models: seed 003's ResNet-like network layer for layer, the
ResNet-34-style network, the small ViT and LeNet's options; shapes, parameter
counts, save/load round trips and short fits on a learnable toy problem."""

import keras
import numpy as np
import pytest
from keras import layers

from emolib import models
from emolib.models import BN_MOMENTUM, build_model, lenet, _resnet34, resnet_like, vit

# seed 003's model.summary() of its best model: Conv2D parameters in layer order
# (main path a, main path b, shortcut per block) and the softmax layer.
SEED003_CONV_PARAMS = [896, 9_248, 128, 18_496, 36_928, 2_112, 73_856, 147_584, 8_320]
SEED003_TOTAL = 298_084


def toy_data(n=96, size=16, channels=3, seed=0):
    """4 learnable classes: a bright square in the class's quadrant, noisy background.
    Images float in [0, 1] ``(n, size, size, channels)``, one-hot labels ``(n, 4)``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    x = rng.uniform(0, 0.25, (n, size, size, channels)).astype("float32")
    h = size // 2
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 2)
        x[i, r * h + 2 : r * h + h - 2, col * h + 2 : col * h + h - 2] += 0.6
    return x, keras.utils.to_categorical(labels, 4)


def fit_lowers_loss(model, epochs=8, lr=3e-3):
    x, y = toy_data(size=model.input_shape[1], channels=model.input_shape[3])
    model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy")
    loss = model.fit(x, y, epochs=epochs, batch_size=16, verbose=0).history["loss"]
    assert np.isfinite(loss[-1]) and loss[-1] < 0.8 * loss[0], loss


def assert_round_trip(model, tmp_path):
    x, _ = toy_data(n=8, size=model.input_shape[1], channels=model.input_shape[3])
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.count_params() == model.count_params()
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# resnet_like: seed 003's best model
# --------------------------------------------------------------------------


def test_resnet_like_is_seed003s_model_layer_for_layer():
    model = resnet_like((48, 48, 3), 4)
    assert model.count_params() == SEED003_TOTAL
    convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
    assert [l.count_params() for l in convs] == SEED003_CONV_PARAMS
    # shortcuts: 1x1, stride 2 twice then 1; every main conv 3x3 "same" with ReLU
    shortcuts = [l for l in convs if "shortcut" in l.name]
    assert [(l.kernel_size, l.strides) for l in shortcuts] == [((1, 1), (2, 2)), ((1, 1), (2, 2)), ((1, 1), (1, 1))]
    assert all(l.kernel_size == (3, 3) and l.padding == "same" and l.activation.__name__ == "relu"
               for l in convs if l not in shortcuts)
    adds = [l for l in model.layers if isinstance(l, layers.Add)]
    assert [tuple(l.output.shape[1:]) for l in adds] == [(24, 24, 32), (12, 12, 64), (12, 12, 128)]
    # the first shortcut reads the input image, the others the previous sum
    assert shortcuts[0].input is model.inputs[0]
    assert shortcuts[1].input is adds[0].output and shortcuts[2].input is adds[1].output
    assert sum(isinstance(l, layers.MaxPooling2D) for l in model.layers) == 2
    assert isinstance(model.layers[-2], layers.GlobalAveragePooling2D)
    assert model.layers[-1].count_params() == 516
    assert model.output_shape == (None, 4)
    assert not any(isinstance(l, (layers.BatchNormalization, layers.Dropout)) for l in model.layers)


def test_resnet_like_options():
    bn = resnet_like((48, 48, 3), 4, batchnorm=True)
    convs = [l for l in bn.layers if isinstance(l, layers.Conv2D)]
    norms = [l for l in bn.layers if isinstance(l, layers.BatchNormalization)]
    assert len(convs) == len(norms) == 9
    assert not any(l.use_bias for l in convs)
    assert all(l.momentum == BN_MOMENTUM == 0.9 for l in norms)
    plain = resnet_like((48, 48, 3), 4, shortcuts=False)
    assert plain.count_params() == SEED003_TOTAL - 128 - 2_112 - 8_320
    assert not any(isinstance(l, layers.Add) for l in plain.layers)
    assert any(isinstance(l, layers.Dropout) for l in resnet_like((32, 32, 1), 7, dropout=0.3).layers)
    assert resnet_like((32, 32, 1), 7).output_shape == (None, 7)
    with pytest.raises(ValueError, match="divisible by 4"):
        resnet_like((30, 30, 3), 4)


def test_resnet_like_learns_and_round_trips(tmp_path):
    model = resnet_like((16, 16, 3), 4, filters=(8, 16, 16), batchnorm=True)
    fit_lowers_loss(model)
    assert_round_trip(model, tmp_path)


# --------------------------------------------------------------------------
# resnet34
# --------------------------------------------------------------------------


def test_resnet34_has_resnet34s_layout():
    model = _resnet34((48, 48, 3), 4)
    convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
    projections = [l for l in convs if "proj" in l.name]
    # stem + 16 basic blocks x 2 convs + softmax = 34 weight layers; 3 projection shortcuts
    assert len(convs) - len(projections) + 1 == 34
    assert [(l.kernel_size, l.strides) for l in projections] == [((1, 1), (2, 2))] * 3
    adds = [l for l in model.layers if isinstance(l, layers.Add)]
    assert len(adds) == 16
    assert [tuple(a.output.shape[1:]) for a in adds] == (
        [(48, 48, 16)] * 3 + [(24, 24, 32)] * 4 + [(12, 12, 64)] * 6 + [(6, 6, 128)] * 3
    )
    # the stem keeps the full resolution (no 7x7 stride-2 conv, no max-pool)
    assert convs[0].kernel_size == (3, 3) and convs[0].strides == (1, 1)
    assert not any(isinstance(l, layers.MaxPooling2D) for l in model.layers)
    assert all(l.momentum == BN_MOMENTUM for l in model.layers if isinstance(l, layers.BatchNormalization))
    assert model.count_params() == 1_338_100
    assert model.output_shape == (None, 4)
    with pytest.raises(ValueError, match="same length"):
        _resnet34(widths=(16, 32), blocks=(3, 4, 6, 3))


def test_resnet34_zero_init_residual():
    def last_bn_scales(model):
        return [float(np.abs(l.gamma).max()) for l in model.layers if l.name.endswith("_2_bn")]

    small = dict(input_shape=(16, 16, 3), num_classes=4, widths=(4, 4, 8, 8), blocks=(1, 1, 1, 1))
    assert last_bn_scales(_resnet34(**small)) == [0.0] * 4
    assert last_bn_scales(_resnet34(**small, zero_init_residual=False)) == [1.0] * 4
    # the other BN layers start at 1
    model = _resnet34(**small)
    assert all(float(np.min(l.gamma)) == 1.0 for l in model.layers
               if isinstance(l, layers.BatchNormalization) and not l.name.endswith("_2_bn"))


def test_resnet34_learns_and_round_trips(tmp_path):
    model = _resnet34((16, 16, 3), 4, widths=(8, 8, 16, 16), blocks=(1, 1, 1, 1))
    fit_lowers_loss(model)
    assert_round_trip(model, tmp_path)


# --------------------------------------------------------------------------
# vit
# --------------------------------------------------------------------------


def test_vit_tokens_blocks_and_arguments():
    model = vit((48, 48, 3), 4)
    patch = model.get_layer("patch_embed")
    assert patch.kernel_size == patch.strides == (6, 6)  # default: an 8x8 grid
    assert tuple(model.get_layer("pos_embed").output.shape) == (None, 64, 64)
    assert model.get_layer("pos_embed").embedding.shape == (64, 64)
    assert sum(isinstance(l, layers.MultiHeadAttention) for l in model.layers) == 4
    assert model.output_shape == (None, 4)
    small = vit((32, 32, 1), 7, patch_size=8, dim=32, depth=1, heads=2, mlp_dim=32)
    assert tuple(small.get_layer("pos_embed").output.shape) == (None, 16, 32)
    assert small.output_shape == (None, 7)
    with pytest.raises(ValueError, match="divisible by heads"):
        vit(dim=30, heads=4)
    with pytest.raises(ValueError, match="patch_size"):
        vit((16, 16, 3), patch_size=20)


def test_vit_learns_and_round_trips(tmp_path):
    model = vit((16, 16, 3), 4, patch_size=4, dim=16, depth=1, heads=2, mlp_dim=32, dropout=0.0)
    fit_lowers_loss(model, epochs=10)
    assert_round_trip(model, tmp_path)


def test_position_embedding_is_added_and_serialisable():
    layer = models._AddPositionEmbedding(initializer="ones")
    out = layer(np.zeros((2, 3, 4), "float32"))
    np.testing.assert_array_equal(out, np.ones((2, 3, 4)))
    clone = models._AddPositionEmbedding.from_config(layer.get_config())
    assert keras.initializers.serialize(clone.initializer)["class_name"] == "Ones"
    with pytest.raises(ValueError, match="tokens"):
        models._AddPositionEmbedding()(np.zeros((2, 3), "float32"))


# --------------------------------------------------------------------------
# lenet and the registry
# --------------------------------------------------------------------------


def test_lenet_batchnorm_option():
    plain, bn = lenet((32, 32, 3), 4), lenet((32, 32, 3), 4, batchnorm=True)
    assert plain.count_params() == 82_616
    assert not any(isinstance(l, layers.BatchNormalization) for l in plain.layers)
    norms = [l for l in bn.layers if isinstance(l, layers.BatchNormalization)]
    assert len(norms) == 4 and all(l.momentum == BN_MOMENTUM for l in norms)
    # BN replaces the biases of c1, c3, f5, f6 and adds 4 numbers per unit
    assert bn.count_params() == 82_616 - (6 + 16 + 120 + 84) + 4 * (6 + 16 + 120 + 84)
    fit_lowers_loss(lenet((16, 16, 3), 4, batchnorm=True))


@pytest.mark.parametrize("name", ["resnet_like", "resnet34", "vit", "lenet"])
def test_new_models_are_registered(name):
    model = build_model(name, (32, 32, 3), 4)
    assert model.output_shape == (None, 4) and model.name == name


@pytest.mark.parametrize("build", [
    lambda: vit((16, 16, 3), 4, patch_size=4, dim=16, depth=1, heads=2, mlp_dim=32),
    lambda: resnet_like((16, 16, 3), 4, filters=(4, 8, 8), batchnorm=True),
    lambda: _resnet34((16, 16, 3), 4, widths=(4, 4, 8, 8), blocks=(1, 1, 1, 1)),
], ids=["vit", "resnet_like_bn", "resnet34"])
def test_models_convert_to_onnx(build):
    import tensorflow as tf

    tf2onnx = pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    model = build()
    x, _ = toy_data(n=4)
    spec = (tf.TensorSpec((None, 16, 16, 3), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_function(
        tf.function(lambda t: model(t, training=False)), input_signature=spec, opset=17
    )
    session = ort.InferenceSession(proto.SerializeToString())
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, model(x, training=False), rtol=1e-4, atol=1e-5)
