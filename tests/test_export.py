"""emolib.export: ONNX export (both exporters) with parity to Keras, the stored
preprocessing metadata, static and dynamic quantization, the deployment
comparison and its target checks, and reuse-or-train of a saved run."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from emolib import benchmark, export
from emolib.data.synthetic import generate
from emolib.export import ModelFileError
from emolib.models import resnet_like

SIZE = 24


@pytest.fixture(scope="module")
def data():
    return generate(n_train=96, n_val=16, n_test=64, image_size=SIZE, channels=1, classes="seed003", seed=0)


@pytest.fixture(scope="module")
def model():
    """A small BN ResNet-like model with non-trivial batch-norm statistics (so that
    the export has to fold them correctly)."""
    keras.utils.set_random_seed(0)
    m = resnet_like(input_shape=(SIZE, SIZE, 1), num_classes=4, filters=(16, 32, 64), batchnorm=True)
    rng = np.random.default_rng(0)
    for layer in m.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    return m


@pytest.fixture(scope="module")
def x_test(data):
    return data.test.images.astype("float32") / 255.0


@pytest.fixture(scope="module")
def fp32(model, data, tmp_path_factory):
    return export.export_onnx(model, tmp_path_factory.mktemp("onnx") / "sub" / "model.onnx", data.class_names)


@pytest.fixture(scope="module")
def int8(fp32, data):
    train = data.train.images.astype("float32") / 255.0
    return export.quantize_static(fp32, fp32.with_name("model_int8.onnx"), train, max_images=64)


def test_metadata_round_trip(fp32, data):
    meta = export.read_metadata(fp32)
    assert meta["class_names"] == list(data.class_names)
    assert meta["image_size"] == [SIZE, SIZE] and meta["channels"] == 1 and meta["color"] == "L"
    assert meta["scaling"] == "x/255" and meta["input_layout"] == "NHWC" and meta["input_name"] == "image"
    assert meta["quantization"] is None and meta["emolib_version"]
    session = export._onnx_session(fp32)
    assert session.get_inputs()[0].shape == ["batch", SIZE, SIZE, 1]
    clf = export.OnnxClassifier(fp32)
    assert clf.class_names == list(data.class_names) and clf.image_size == (SIZE, SIZE) and clf.channels == 1


def test_export_rejects_bad_input_and_writes_nothing(model, data, tmp_path):
    with pytest.raises(ValueError, match="3 class names for a model with 4 outputs"):
        export.export_onnx(model, tmp_path / "m.onnx", data.class_names[:3])
    with pytest.raises(ValueError, match="method"):
        export.export_onnx(model, tmp_path / "m.onnx", data.class_names, method="torch")
    wide = keras.Sequential([keras.Input((8, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="square"):
        export.export_onnx(wide, tmp_path / "w.onnx", ["a", "b"])
    assert list(tmp_path.iterdir()) == []


def test_parity_reports_differences():
    a = np.array([[0.9, 0.1], [0.4, 0.6]])
    b = np.array([[0.8, 0.2], [0.7, 0.3]])
    p = export.parity(a, b)
    assert p["max_abs_diff"] == pytest.approx(0.3) and p["argmax_agreement"] == 0.5
    with pytest.raises(ValueError, match="shape"):
        export.parity(a, b[:1])


def test_static_quantization_is_smaller_and_close(fp32, int8, x_test, model):
    assert export.file_size_mb(int8) < 0.5 * export.file_size_mb(fp32)
    meta = export.read_metadata(int8)
    assert meta["quantization"]["mode"] == "static" and meta["quantization"]["per_channel"] is True
    assert meta["quantization"]["activation_type"] == "uint8" and meta["quantization"]["weight_type"] == "int8"
    assert meta["quantization"]["calibration_images"] == 64
    assert meta["class_names"] == export.read_metadata(fp32)["class_names"]
    ops = export.op_counts(int8)
    assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0
    assert export.op_counts(int8, optimized=True).get("QLinearConv", 0) > 0  # what ONNX Runtime runs
    proba = export.onnx_caller(int8)(x_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    reference = np.asarray(model(x_test, training=False))
    assert export.parity(reference, proba)["max_abs_diff"] < 0.2  # 8 bits: close, not equal


def test_int8_activations_and_bad_types(fp32, x_test, tmp_path):
    signed = export.quantize_static(fp32, tmp_path / "s8.onnx", x_test, activation_type="int8", max_images=32)
    assert export.read_metadata(signed)["quantization"]["activation_type"] == "int8"
    assert export.onnx_caller(signed)(x_test[:2]).shape == (2, 4)
    with pytest.raises(ValueError, match="quantization type"):
        export.quantize_static(fp32, tmp_path / "bad.onnx", x_test, weight_type="int4")
    with pytest.raises(ValueError, match="no images"):
        export.quantize_static(fp32, tmp_path / "empty.onnx", [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s8.onnx"]


def test_dynamic_quantization_uses_integer_convolutions(fp32, x_test, tmp_path):
    path = export.quantize_dynamic(fp32, tmp_path / "dyn.onnx")
    ops = export.op_counts(path)
    assert ops.get("ConvInteger", 0) > 0 and ops.get("DynamicQuantizeLinear", 0) > 0
    assert export.read_metadata(path)["quantization"]["mode"] == "dynamic"
    assert export.file_size_mb(path) < 0.5 * export.file_size_mb(fp32)
    np.testing.assert_allclose(export.onnx_caller(path)(x_test).sum(axis=1), 1.0, atol=1e-3)


def test_calibration_reader_stops_at_max_images(x_test):
    reader = export.calibration_reader(np.concatenate([x_test, x_test]), "image", max_images=70)
    sizes = []
    while (item := reader.get_next()) is not None:
        assert set(item) == {"image"} and item["image"].dtype == np.float32
        sizes.append(len(item["image"]))
    assert sizes == [64, 6]
    pairs = [(x_test[:5], np.zeros(5)), (x_test[5:9], np.zeros(4))]
    reader = export.calibration_reader(pairs, "x", max_images=100)
    assert len(reader.get_next()["x"]) == 5 and len(reader.get_next()["x"]) == 4 and reader.get_next() is None


def test_read_metadata_errors(model, data, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        export.read_metadata(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 definitely not protobuf \xff" * 10)
    with pytest.raises(ModelFileError, match="junk.onnx"):
        export._onnx_session(junk)
    import onnx

    proto = onnx.load(str(export.export_onnx(model, tmp_path / "plain.onnx", data.class_names)))
    del proto.metadata_props[:]  # an ONNX model like any other exporter makes
    plain = tmp_path / "plain.onnx"
    onnx.save(proto, str(plain))
    with pytest.raises(ModelFileError, match="not an emolib export.*export_onnx"):
        export.read_metadata(plain)
    with pytest.raises(ModelFileError, match="not an emolib export"):
        export.OnnxClassifier(plain)


def test_classifier_rejects_metadata_that_contradicts_the_model(fp32, tmp_path):
    import onnx

    def with_metadata(**changes):
        proto = onnx.load(str(fp32))
        export._set_metadata(proto, {**export.read_metadata(fp32), **changes})
        onnx.save(proto, str(tmp_path / "wrong.onnx"))
        return tmp_path / "wrong.onnx"

    with pytest.raises(ModelFileError, match="does not match its metadata"):
        export.OnnxClassifier(with_metadata(image_size=[32, 32]))
    with pytest.raises(ModelFileError, match="4 outputs but its metadata names 2 classes"):
        export.OnnxClassifier(with_metadata(class_names=["a", "b"]))
    with pytest.raises(ModelFileError, match="malformed"):
        export.OnnxClassifier(with_metadata(image_size="big"))


def test_compare_deployments_and_targets(model, data, x_test, fp32, int8):
    table = benchmark.compare_deployments(model, {"onnx_fp32": fp32, "onnx_int8": int8}, x_test, data.test.labels,
                                       batch_size=16, repeats=4, batch_repeats=2, rounds=2, warmup=1)
    assert list(table.index) == ["keras_predict", "keras_direct", "onnx_fp32", "onnx_int8"]
    assert {"size_mb", "accuracy", "macro_f1", "b1_p50_ms", "b1_p95_ms", "batch_p50_ms",
            "batch_images_per_s"} <= set(table.columns)
    assert (table["size_mb"] > 0).all() and (table["b1_p50_ms"] > 0).all()
    assert table.loc["keras_predict", "accuracy"] == table.loc["keras_direct", "accuracy"]
    assert table.loc["onnx_fp32", "accuracy"] == table.loc["keras_direct", "accuracy"]
    assert table.attrs["batch_size"] == 16
    summary = benchmark.quantization_summary(table)
    assert summary["onnx_int8_size_ratio"] == pytest.approx(
        export.file_size_mb(int8) / export.file_size_mb(fp32))
    assert set(summary) == {"onnx_int8_size_ratio", "onnx_int8_latency_ratio", "onnx_int8_accuracy_drop",
                            "onnx_fp32_vs_keras_direct_latency_ratio"}


def test_check_targets_compares_with_limits():
    table = pd.DataFrame({"size_mb": [1.0, 0.25, 1.2], "b1_p50_ms": [2.0, 1.5, 4.0], "accuracy": [0.80, 0.79, 0.8]},
                         index=["onnx_fp32", "onnx_int8", "keras_direct"])
    summary = benchmark.quantization_summary(table)
    assert summary["onnx_int8_accuracy_drop"] == pytest.approx(1.0)
    assert summary["onnx_fp32_vs_keras_direct_latency_ratio"] == pytest.approx(0.5)
    checks = benchmark.check_targets(summary)
    assert checks["met"].to_dict() == {"onnx_int8_size_ratio": True, "onnx_int8_latency_ratio": False,
                                       "onnx_int8_accuracy_drop": False}
    # exactly at the limit is met: 2 images in 400 (0.5 points, 0.5000000000000004 in floats)
    at_limit = {**summary, "onnx_int8_accuracy_drop": 100 * (159 / 400 - 157 / 400)}
    assert benchmark.check_targets(at_limit).loc["onnx_int8_accuracy_drop", "met"]


def test_scores_accuracy_and_macro_f1():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    s = benchmark.scores(np.array([0, 1, 1, 1]), proba)
    assert s["accuracy"] == 0.75 and s["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def _small_model(kind):
    """The two ways learners write a Keras model: ``Sequential`` and functional (same layers)."""
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.BatchNormalization(),
              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")]
    if kind == "sequential":
        return keras.Sequential([keras.Input((SIZE, SIZE, 1)), *layers], name="sequential_cnn")
    outputs = inputs = keras.Input((SIZE, SIZE, 1))
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name="functional_cnn")


@pytest.mark.parametrize("method", ["keras", "tf2onnx"])
@pytest.mark.parametrize("kind", ["resnet_bn", "sequential", "functional"])
def test_export_matches_keras(kind, method, model, data, x_test, tmp_path):
    """Both exporters take Sequential (tf2onnx alone fails on them: tf2onnx issue 2448) and functional
    models, and fold batch normalisation with non-trivial statistics exactly."""
    model = model if kind == "resnet_bn" else _small_model(kind)
    names = list(data.class_names) if kind == "resnet_bn" else ["a", "b", "c"]
    path = export.export_onnx(model, tmp_path / f"{kind}.onnx", names, method=method)
    assert [p.name for p in tmp_path.iterdir()] == [f"{kind}.onnx"]  # no temporary left behind
    got = export.onnx_caller(path)(x_test)
    p = export.parity(np.asarray(model(x_test, training=False)), got)
    assert got.shape == (len(x_test), len(names))
    assert p["max_abs_diff"] < 1e-5 and p["argmax_agreement"] == 1.0 and p["n"] == len(x_test)
    meta = export.read_metadata(path)
    assert meta["model_name"] == model.name and meta["input_name"] == "image" and meta["exporter"] == method


def test_missing_onnx_extra_names_what_to_install(fp32, monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    with pytest.raises(export.MissingExtraError, match=r"onnxruntime is not installed.*pip install \"emolib\[onnx\]\""):
        export.OnnxClassifier(fp32)
    with pytest.raises(ImportError, match="emolib"):  # a MissingExtraError is an ImportError
        export.quantize_dynamic(fp32, tmp_path / "dyn.onnx")
    assert list(tmp_path.iterdir()) == []
