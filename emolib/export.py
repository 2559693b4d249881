"""Deployment: ONNX export with the model's preprocessing, quantization, prediction::

    path = export_onnx(model, "runs/deploy/model.onnx", class_names=data.class_names)
    proba = onnx_caller(path)(x)                      # x: float32 (n, h, w, c) in [0, 1]
    int8 = quantize_static(path, "runs/deploy/model_int8.onnx", calibration=train_batches)
    predict_files(int8, ["face.jpg"])                 # DataFrame: label and class probabilities

An exported file carries its preprocessing as JSON in its ``metadata_props`` (key
``"emolib"``; :func:`read_metadata`): a model file is all ``python -m emolib predict``
needs. Files are written atomically. Importing this module imports neither TensorFlow
nor ONNX (the command starts in about a second); ONNX, ONNX Runtime and tf2onnx are
the optional ``onnx`` extra, whose absence raises :class:`MissingExtraError`.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from . import __version__
from .fileio import atomic_path

__all__ = [
    "METADATA_VERSION", "MissingExtraError", "ModelFileError", "OnnxClassifier", "SCALING", "calibration_reader",
    "export_onnx", "file_size_mb", "onnx_caller", "op_counts", "parity", "predict_files", "predict_in_batches",
    "quantize_dynamic", "quantize_static", "read_metadata", "require_onnx"
]

#: Key of the JSON object in an exported model's ``metadata_props``.
_METADATA_KEY = "emolib"
#: Version of the metadata layout written by :func:`export_onnx`.
METADATA_VERSION = 1
#: The one pixel scaling emolib models use: ``uint8`` values divided by 255.
SCALING = "x/255"


class ModelFileError(ValueError):
    """A model file that is not a usable emolib ONNX export.

    A ``ValueError`` whose message names the file and says why.
    """


class MissingExtraError(ImportError):
    """A package of emolib's optional ``onnx`` extra is not installed.

    An ``ImportError`` whose message says what to install.
    """


def require_onnx(*modules) -> None:
    """Check that the ONNX packages can be imported.

    Parameters
    ----------
    *modules : str
        Module names (default: ``onnx`` and ``onnxruntime``).

    Returns
    -------
    None
        Raises :class:`MissingExtraError` naming what to install unless all can be imported.
    """
    import importlib.util

    missing = [m for m in modules or ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed; "
                                "ONNX export, quantization and the prediction command need emolib's 'onnx' extra: "
                                'pip install "emolib[onnx]" (in a clone of the repository: pip install -e ".[onnx]")')


def _input_spec(model):
    """``(height, width, channels)`` of a Keras image classifier, checked."""
    shape = tuple(model.input_shape)
    if len(shape) != 4 or None in shape[1:]:
        raise ValueError(f"expected a model with a fixed image input (None, h, w, c), got input shape {shape}")
    h, w, c = (int(s) for s in shape[1:])
    if h != w:
        raise ValueError(f"emolib models take square images; this one takes {h}x{w}")
    if c not in (1, 3):
        raise ValueError(f"expected 1 (gray) or 3 (RGB) input channels, got {c}")
    return h, w, c


def _as_functional(model):
    """A ``Sequential`` model's layers called on a new ``keras.Input`` (other models as they are):
    tf2onnx's ``from_keras`` fails on ``Sequential`` models (tf2onnx issue 2448), not on functional ones."""
    import keras

    if not isinstance(model, keras.Sequential):
        return model
    outputs = inputs = keras.Input(tuple(model.input_shape[1:]), name="image")
    for layer in model.layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name=model.name)


def _set_metadata(onnx_model, meta: dict) -> None:
    """Set the ``emolib`` entry of ``onnx_model.metadata_props`` to ``meta`` (JSON), keeping the others."""
    from onnx.helper import set_model_props

    props = {p.key: p.value for p in onnx_model.metadata_props if p.key != _METADATA_KEY}
    set_model_props(onnx_model, {**props, _METADATA_KEY: json.dumps(meta, sort_keys=True)})


def _name_batch_dim(onnx_model, name="batch") -> None:
    """Call the (unnamed) first dimension of every graph input and output ``name``."""
    for value in [*onnx_model.graph.input, *onnx_model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = name


def export_onnx(model, path, class_names, method="keras", opset=17) -> Path:
    """Export a Keras image classifier to ONNX, with its preprocessing as metadata.

    Parameters
    ----------
    model : Keras model, ``float32`` images ``(n, h, w, c)`` in [0, 1] (``h == w``, ``c`` 1 or 3)
        -> probabilities ``(n, k)``; no random augmentation layers.
    path : the ``.onnx`` file to write (atomically; parent folders are created).
    class_names : the ``k`` class names, in output order.
    method : ``"keras"`` (``model.export(path, format="onnx")``, tf2onnx on the traced forward
        pass) or ``"tf2onnx"`` (``tf2onnx.convert.from_keras`` on a functional rebuild).
    opset : ONNX opset version.

    The input is ``"image"`` (NHWC, variable ``"batch"``), the output the softmax
    probabilities. Returns ``Path(path)``.
    """
    require_onnx("onnx", "tf2onnx")  # Keras' own ONNX exporter runs tf2onnx too
    import onnx
    import tensorflow as tf

    h, w, c = _input_spec(model)
    class_names, k = [str(n) for n in class_names], int(model.output_shape[-1])
    if len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for a model with {k} outputs")
    if len(set(class_names)) != k:
        raise ValueError(f"class names must be distinct (a label must name one output), got {class_names}")
    if method not in ("keras", "tf2onnx"):
        raise ValueError(f"method must be 'keras' or 'tf2onnx', got {method!r}")
    spec = tf.TensorSpec((None, h, w, c), tf.float32, name="image")
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # Keras' tf2onnx compatibility patch probes numpy for np.object (a FutureWarning).
        warnings.simplefilter("ignore", FutureWarning)
        if method == "keras":
            model.export(str(tmp), format="onnx", input_signature=[spec], opset_version=opset, verbose=False)
            proto = onnx.load(str(tmp))
        else:
            import tf2onnx
            from keras.src.export.tf2onnx_lib import patch_tf2onnx

            patch_tf2onnx()  # tf2onnx still uses aliases numpy 2 removed (Keras' own exporter does the same)
            proto, _ = tf2onnx.convert.from_keras(_as_functional(model), input_signature=(spec,), opset=opset)
        _name_batch_dim(proto)
        _set_metadata(proto, {
            "format_version": METADATA_VERSION, "class_names": class_names, "image_size": [h, w], "channels": c,
            "color": "L" if c == 1 else "RGB", "scaling": SCALING, "input_name": proto.graph.input[0].name,
            "input_layout": "NHWC", "input_dtype": "float32", "output": "probabilities", "exporter": method,
            "opset": int(opset), "model_name": model.name, "emolib_version": __version__, "quantization": None,
        })
        onnx.save(proto, str(tmp))
    return Path(path)


def read_metadata(path) -> dict:
    """The ``emolib`` metadata of an exported model.

    Parameters
    ----------
    path : str or pathlib.Path
        An ONNX file written by :func:`export_onnx`.

    Returns
    -------
    dict
        Its metadata (class names, image size, channels, scaling, ...); ``FileNotFoundError``
        or :class:`ModelFileError` (not ONNX, no emolib metadata) otherwise.
    """
    require_onnx("onnx")
    import onnx

    path = _check_model_path(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelFileError(f"cannot load model '{path}': not a valid ONNX file ({exc})") from None
    return _parse_metadata({p.key: p.value for p in proto.metadata_props}, path)


def _check_model_path(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: '{path}'")
    if not path.is_file():
        raise ModelFileError(f"model path '{path}' is not a file (expected an .onnx file)")
    return path


def _parse_metadata(props: dict, path) -> dict:
    """The emolib metadata in ``props`` (an ONNX model's ``metadata_props`` as a dict), checked."""
    if _METADATA_KEY not in props:
        raise ModelFileError(f"'{path}' is not an emolib export: it has no '{_METADATA_KEY}' metadata (class names, "
                             "input size, scaling); re-export the Keras model with emolib.export.export_onnx")
    try:
        meta = json.loads(props[_METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"'{path}': its '{_METADATA_KEY}' metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        kind = "null" if meta is None else type(meta).__name__
        raise ModelFileError(f"'{path}': its '{_METADATA_KEY}' metadata is a JSON {kind}, not an object with class "
                             f"names, input size and scaling ({props[_METADATA_KEY][:60]!r}); re-export the Keras "
                             "model with emolib.export.export_onnx")
    missing = {"class_names", "image_size", "channels", "scaling", "input_name"} - set(meta)
    if missing:
        raise ModelFileError(f"'{path}': its '{_METADATA_KEY}' metadata lacks {sorted(missing)}")
    size, names, channels = meta["image_size"], meta["class_names"], meta["channels"]
    if not (isinstance(names, list) and names and isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) for v in [*size, channels])):
        raise ModelFileError(f"'{path}': malformed '{_METADATA_KEY}' metadata (class_names {names!r}, "
                             f"image_size {size!r}, channels {channels!r})")
    repeated = sorted(name for name, count in Counter(map(str, names)).items() if count > 1)
    if repeated:
        raise ModelFileError(f"'{path}': its '{_METADATA_KEY}' metadata repeats class names {repeated} ({names!r}); "
                             "a label must name one output: re-export the model with distinct class names")
    return meta


def _onnx_session(path, threads=None, optimized_path=None):
    """An ONNX Runtime CPU ``InferenceSession`` for ``path`` with ``threads`` intra-op threads
    (``None``: one per physical core), saving the graph as ONNX Runtime optimised it to
    ``optimized_path`` if given. Raises ``FileNotFoundError`` / :class:`ModelFileError`."""
    require_onnx("onnxruntime")
    import onnxruntime as ort

    path = _check_model_path(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no C++ warnings in notebook outputs
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own InvalidProtobuf, Fail, ... types
        raise ModelFileError(f"cannot load model '{path}': not a valid ONNX model ({exc})") from None


def onnx_caller(path_or_session, threads=None):
    """A function running an ONNX model, as :func:`emolib.benchmark.keras_callers` give.

    Parameters
    ----------
    path_or_session : str, pathlib.Path or onnxruntime.InferenceSession
        The model file, or a session of it.
    threads : int, optional
        ONNX Runtime's intra-op threads (default: its own choice).

    Returns
    -------
    callable
        ``f(x)``: ``float32`` images ``(n, height, width, channels)`` to probabilities ``(n, k)``.
    """
    session = path_or_session
    if isinstance(path_or_session, (str, os.PathLike)):
        session = _onnx_session(path_or_session, threads=threads)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.asarray(x, dtype=np.float32)})[0]


def predict_in_batches(fn, x, batch_size=256) -> np.ndarray:
    """A caller's probabilities over many images, a batch at a time.

    Parameters
    ----------
    fn : callable
        ``f(x) -> probabilities`` (:func:`onnx_caller`, :func:`emolib.benchmark.keras_callers`).
    x : array of shape (n, height, width, channels)
        The images.
    batch_size : int, default 256
        Images per call.

    Returns
    -------
    array of float32, shape (n, k)
        The probabilities.
    """
    x = np.asarray(x, dtype=np.float32)
    parts = [np.asarray(fn(x[i : i + batch_size]), dtype=np.float32) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def parity(a_proba, b_proba) -> dict:
    """How closely two models' probabilities agree.

    Parameters
    ----------
    a_proba, b_proba : array of shape (n, k)
        The two models' probabilities for the same images.

    Returns
    -------
    dict
        ``max_abs_diff`` (the largest ``|a - b|``), ``argmax_agreement`` (the fraction of images
        with the same predicted class) and ``n``.
    """
    a, b = np.asarray(a_proba, dtype=np.float64), np.asarray(b_proba, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"probability arrays differ in shape: {a.shape} vs {b.shape}")
    return {
        "max_abs_diff": float(np.abs(a - b).max()) if a.size else 0.0,
        "argmax_agreement": float((a.argmax(axis=1) == b.argmax(axis=1)).mean()) if len(a) else float("nan"),
        "n": int(len(a)),
    }


def op_counts(path, optimized=False) -> dict:
    """How often each operator occurs in an ONNX file's graph.

    Parameters
    ----------
    path : str or pathlib.Path
        The ONNX file.
    optimized : bool, default False
        Count the graph ONNX Runtime runs here instead (e.g. Q/DQ pairs around ``Conv`` fused
        into ``QLinearConv``).

    Returns
    -------
    dict of str to int
        ``{op_type: count}``, most frequent first.
    """
    require_onnx("onnx", "onnxruntime")
    import onnx

    path = _check_model_path(path)
    with tempfile.TemporaryDirectory() as tmp:
        if optimized:
            _onnx_session(path, optimized_path=Path(tmp) / "optimized.onnx")
            path = Path(tmp) / "optimized.onnx"
        graph = onnx.load(str(path)).graph
    return dict(Counter(node.op_type for node in graph.node).most_common())


def file_size_mb(path) -> float:
    """Size of a file in megabytes (10**6 bytes).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    float
        Its size in MB.
    """
    return Path(path).stat().st_size / 1e6


def _quant_type(name):
    from onnxruntime.quantization import QuantType

    types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    if name not in types:
        raise ValueError(f"quantization type must be one of {sorted(types)}, got {name!r}")
    return types[name]


def calibration_reader(batches, input_name="image", max_images=256):
    """An ONNX Runtime ``CalibrationDataReader`` over ``batches``: ``float32`` batches ``(b, h, w, c)``
    in [0, 1], ``(images, labels)`` pairs (a :func:`emolib.pipeline.make_dataset` dataset) or
    one array ``(n, h, w, c)``; it stops after ``max_images`` images."""
    require_onnx("onnxruntime")
    from onnxruntime.quantization import CalibrationDataReader

    if isinstance(batches, np.ndarray):
        batches = [batches[i : i + 64] for i in range(0, len(batches), 64)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left, self.batches = int(max_images), iter(batches)

        def get_next(self):  # the next {input name: images}, None when done
            batch = next(self.batches, None) if self.left > 0 else None
            if batch is None:
                return None
            images = batch[0] if isinstance(batch, (tuple, list)) else batch  # (images, labels) pairs
            images = np.asarray(images, dtype=np.float32)[: self.left]
            self.left -= len(images)
            return {input_name: images}

    return Reader()


def _quantize(fp32_path, out_path, quantize) -> Path:
    """Pre-process ``fp32_path`` (``quant_pre_process``: shape inference, graph cleanup), run
    ``quantize(pre, target, metadata) -> settings`` into ``out_path`` (atomically) and store
    the metadata with ``settings`` as its ``quantization`` entry."""
    require_onnx("onnx", "onnxruntime", "sympy")  # sympy: quant_pre_process's symbolic shape inference
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    meta = read_metadata(fp32_path)
    with tempfile.TemporaryDirectory() as tmp, atomic_path(out_path) as target:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre))
        settings = quantize(pre, target, meta)
        proto = onnx.load(str(target))
        _set_metadata(proto, {**meta, "quantization": {**settings, "from": Path(fp32_path).name}})
        onnx.save(proto, str(target))
    return Path(out_path)


def quantize_static(fp32_path, out_path, calibration, per_channel=True, activation_type="uint8", weight_type="int8",
                    max_images=256) -> Path:
    """Static post-training quantization of an :func:`export_onnx` file to 8-bit integers (QDQ).

    Activations get scales fixed from the ranges (min/max) the fp32 activations take on the
    calibration batches; ONNX Runtime then runs integer kernels (``QLinearConv``). uint8
    activations with int8 weights is what x86 integer instructions (VNNI, AVX2) run fastest.
    The softmax stays in float (8-bit probabilities would come in steps of 1/255). The
    metadata gains a ``quantization`` entry.

    Parameters
    ----------
    fp32_path : str or pathlib.Path
        The float32 model.
    out_path : str or pathlib.Path
        The quantized model to write.
    calibration : array or tf.data.Dataset
        What :func:`calibration_reader` takes: *training* batches, never the test split.
    per_channel : bool, default True
        A weight scale per output channel (else per tensor).
    activation_type, weight_type : {"uint8", "int8"}, default "uint8", "int8"
        The integer types of activations and weights.
    max_images : int, default 256
        Calibration images used at most.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    require_onnx("onnx", "onnxruntime", "sympy")
    import onnx
    from onnxruntime.quantization import QuantFormat
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    types = {"activation_type": _quant_type(activation_type), "weight_type": _quant_type(weight_type)}

    def quantize(pre, target, meta):
        reader = calibration_reader(calibration, meta["input_name"], max_images)
        softmax = [node.name for node in onnx.load(str(pre)).graph.node if node.op_type == "Softmax"]
        try:
            ort_quantize_static(str(pre), str(target), reader, quant_format=QuantFormat.QDQ,
                                per_channel=per_channel, nodes_to_exclude=softmax, **types)
        finally:
            used = int(max_images) - max(reader.left, 0)
            if used == 0:
                raise ValueError("the calibration data gave no images (pass training batches or an array)")
        return {"mode": "static", "format": "QDQ", "per_channel": bool(per_channel),
                "activation_type": activation_type, "weight_type": weight_type,
                "calibration": "minmax", "calibration_images": used, "float_ops": ["Softmax"]}

    return _quantize(fp32_path, out_path, quantize)


def quantize_dynamic(fp32_path, out_path, weight_type="uint8") -> Path:
    """Dynamic quantization: 8-bit weights, activations quantized on every call.

    ``DynamicQuantizeLinear``, then ``ConvInteger`` and float rescaling. No calibration; good
    for LSTMs and transformers, usually *slower* than fp32 for CPU convolutions (ONNX Runtime
    has no fast ``ConvInteger``, which takes no int8 weights: hence ``"uint8"``).

    Parameters
    ----------
    fp32_path : str or pathlib.Path
        The float32 model.
    out_path : str or pathlib.Path
        The quantized model to write.
    weight_type : {"uint8", "int8"}, default "uint8"
        The weights' integer type.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    require_onnx("onnx", "onnxruntime", "sympy")
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    quant_type = _quant_type(weight_type)

    def quantize(pre, target, meta):
        ort_quantize_dynamic(str(pre), str(target), weight_type=quant_type)
        return {"mode": "dynamic", "weight_type": weight_type, "activation_type": "uint8 (per call)"}

    return _quantize(fp32_path, out_path, quantize)


def _check_session(session, meta, path) -> None:
    """Raise :class:`ModelFileError` where an ONNX Runtime session and its emolib metadata disagree."""
    (h, w), channels, names = meta["image_size"], meta["channels"], meta["class_names"]
    if meta["scaling"] != SCALING:
        raise ModelFileError(f"'{path}': unsupported pixel scaling {meta['scaling']!r} (this emolib knows {SCALING!r})")
    if h != w or channels not in (1, 3):
        raise ModelFileError(f"'{path}': unsupported input {h}x{w}x{channels} in its metadata")
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = list(inputs[0].shape)
    if len(inputs) != 1 or inputs[0].name != meta["input_name"] or len(shape) != 4 or shape[1:] != [h, w, channels]:
        raise ModelFileError(f"'{path}': the model's input ({inputs[0].name!r}, shape {shape}) does not match its "
                             f"metadata ({meta['input_name']!r}, (batch, {h}, {w}, {channels})); re-export it with "
                             "emolib.export.export_onnx")
    out_shape = list(outputs[0].shape or []) if outputs else []  # [] when ONNX Runtime does not know it
    if not outputs or (out_shape and len(out_shape) != 2):
        raise ModelFileError(f"'{path}': the model's output {outputs[0].name if outputs else None!r} has shape "
                             f"{out_shape}, expected (batch, {len(names)}): a row of class probabilities per image")
    k = out_shape[-1] if out_shape else None
    if isinstance(k, int) and k != len(names):
        raise ModelFileError(f"'{path}': the model has {k} outputs but its metadata names {len(names)} classes")


class OnnxClassifier:
    """An exported emolib model, ready to classify image files.

    The ONNX Runtime session and the preprocessing in the file's metadata, checked to agree
    (input size, channels, classes).

    Parameters
    ----------
    path : str or pathlib.Path
        An ONNX file written by :func:`export_onnx` (or quantized from one).
    threads : int, optional
        ONNX Runtime's intra-op threads.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    session : onnxruntime.InferenceSession
        The session.
    metadata : dict
        The file's emolib metadata.
    class_names : list of str
        The classes, in the order of the probabilities.
    image_size : tuple of int
        ``(height, width)`` the model takes.
    channels : int
        1 (grayscale) or 3 (RGB).
    """

    def __init__(self, path, threads=None):
        self.path = _check_model_path(path)
        self.session = _onnx_session(self.path, threads=threads)
        self.metadata = _parse_metadata(self.session.get_modelmeta().custom_metadata_map, self.path)
        _check_session(self.session, self.metadata, path)
        self.class_names = [str(n) for n in self.metadata["class_names"]]
        self.image_size, self.channels = tuple(self.metadata["image_size"]), self.metadata["channels"]
        self._call = onnx_caller(self.session)

    def __repr__(self):
        h, w = self.image_size
        return f"OnnxClassifier('{self.path.name}', {h}x{w}x{self.channels}, classes={self.class_names})"

    def load_image(self, path) -> np.ndarray:
        """One image file of any size and colour mode as ``float32`` ``(h, w, c)`` in [0, 1], read
        as the real-data loaders do (:func:`emolib.data.images._read_image`: EXIF orientation, gray or
        RGB, bilinear resize); ``FileNotFoundError`` or ``ImageReadError`` name the file."""
        from .data.images import ImageReadError, _read_image

        if Path(path).is_dir():  # read_image would say "it is a directory, not a regular file"
            raise ImageReadError(f"could not read image file '{path}': it is a directory")
        return _read_image(Path(path), self.image_size[0], self.channels)[0].astype(np.float32) / 255.0

    def predict_files(self, paths, batch_size=64, errors=None):
        """DataFrame of ``file``, ``label`` (the most probable class), ``probability`` and one
        column per class, a row per file. An unreadable file, or one the model gives
        probabilities that are not finite (NaN), raises, or with ``errors`` (a list) is
        appended to it as ``{"file": path, "error": message}`` and left out."""
        import pandas as pd

        from .data.real import ImageReadError

        files, images = [], []
        for path in map(str, paths):
            try:
                images.append(self.load_image(path))
                files.append(path)
            except (OSError, ImageReadError) as exc:  # one bad file never costs the others' output
                if errors is None:
                    raise
                errors.append({"file": path, "error": str(exc)})
        proba = (predict_in_batches(self._call, np.stack(images), batch_size) if images
                 else np.zeros((0, len(self.class_names)))).astype(np.float64)
        if proba.ndim != 2 or proba.shape[1] != len(self.class_names):  # an output shape known only now
            raise ModelFileError(f"'{self.path}': the model gave an output of shape {proba.shape}, expected "
                                 f"(batch, {len(self.class_names)}): a row of class probabilities per image")
        finite = np.isfinite(proba).all(axis=1)
        for path, row in zip(np.array(files, dtype=object)[~finite], proba[~finite]):
            message = (f"no prediction for image file '{path}': the model '{self.path}' gave probabilities "
                       f"that are not finite ({np.array2string(row, precision=3)})")
            if errors is None:
                raise ValueError(message)
            errors.append({"file": path, "error": message})
        files, proba = [f for f, ok in zip(files, finite) if ok], proba[finite]
        table = pd.DataFrame({"file": files, "label": [self.class_names[i] for i in proba.argmax(axis=1)],
                              "probability": proba.max(axis=1)})
        return pd.concat([table, pd.DataFrame(proba, columns=self.class_names)], axis=1)


def predict_files(model_path, paths, threads=None):
    """Classify image files with an exported model.

    ``OnnxClassifier(model_path, threads).predict_files(paths)``.

    Parameters
    ----------
    model_path : str or pathlib.Path
        The ONNX file.
    paths : list of str or pathlib.Path
        Image files.
    threads : int, optional
        ONNX Runtime's intra-op threads.

    Returns
    -------
    pandas.DataFrame
        A row per file: ``file``, ``label`` (the most probable class), ``probability`` and one
        column per class.
    """
    return OnnxClassifier(model_path, threads=threads).predict_files(paths)
