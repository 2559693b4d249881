"""Model builders. Every model takes float32 images scaled to [0, 1] with shape
``(height, width, channels)`` and returns class probabilities (softmax).

No augmentation layers live inside models: augmentation happens in the
``tf.data`` pipeline (:mod:`emolib.pipeline`), so every model exports to ONNX.
"""

from __future__ import annotations

import keras
from keras import layers

#: BatchNormalization momentum used throughout. Keras' default (0.99) makes the
#: moving statistics lag far behind the weights in short (CI-sized) training runs,
#: which gives near-chance validation accuracy while training accuracy is high.
BN_MOMENTUM = 0.9


def simple_cnn(
    input_shape=(48, 48, 1),
    num_classes=7,
    filters=(32, 64, 128),
    kernel_size=3,
    convs_per_block=1,
    dense_units=0,
    dropout=0.3,
    batchnorm=True,
    l2=0.0,
    name="simple_cnn",
):
    """A plain CNN: ``len(filters)`` blocks of [Conv-BN-ReLU] x ``convs_per_block``
    followed by 2x2 max-pooling, then Flatten, Dropout and a softmax layer (keras-io's
    "simple MNIST convnet" head). ``dense_units > 0`` inserts a hidden ReLU layer
    (and a second Dropout) before the softmax.

    The default has no hidden dense layer on purpose: with ``dense_units=128`` the
    4,608 flattened features feed 128 ReLUs that Adam at its default learning rate
    (1e-3) can switch off all at once in the first epoch, after which the model
    predicts one constant distribution. Measured on 2,800 generated training faces:
    chance accuracy in all 5 epochs with the hidden layer, 0.42 validation accuracy
    after 8 epochs without it.

    ``filters`` sets the number of filters per block (``(32, 64, 128)`` grows,
    ``(64, 64, 64)`` stays constant), ``kernel_size`` the square kernel (2 or 3 in
    seed 003's study), ``l2`` an optional L2 weight penalty on conv and dense kernels.
    """
    reg = keras.regularizers.L2(l2) if l2 else None
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for b, f in enumerate(filters):
        for c in range(convs_per_block):
            x = layers.Conv2D(
                f, kernel_size, padding="same", use_bias=not batchnorm,
                kernel_regularizer=reg, name=f"block{b + 1}_conv{c + 1}",
            )(x)
            if batchnorm:
                x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{b + 1}_bn{c + 1}")(x)
            x = layers.Activation("relu", name=f"block{b + 1}_relu{c + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"block{b + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", kernel_regularizer=reg, name="dense")(x)
        x = layers.Dropout(dropout, name="dropout2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def lenet(
    input_shape=(48, 48, 1),
    num_classes=7,
    activation="relu",
    pooling="max",
    name="lenet",
):
    """LeNet-5 (LeCun et al., 1998) adapted to emotion images.

    Conv 5x5 x6 - pool 2x2 - Conv 5x5 x16 - pool 2x2 - Dense 120 - Dense 84 -
    softmax. As in the usual MNIST adaptation the first convolution pads its input
    ("same"), so a 48x48 image gives 48 -> 24 -> 20 -> 10, i.e. 10x10x16 = 1600
    features, and inputs as small as 12x12 work. Modern choices replace the
    original tanh and average "subsampling": ``activation="relu"`` and
    ``pooling="max"`` (pass ``"tanh"`` / ``"average"`` for the 1998 flavour).
    """
    pool = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}[pooling]
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(6, 5, padding="same", activation=activation, name="c1")(inputs)
    x = pool(2, name="s2")(x)
    x = layers.Conv2D(16, 5, padding="valid", activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=activation, name="f5")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


#: Model builders by name, used by :func:`build_model` and the experiment runner.
#: Every builder takes ``input_shape`` and ``num_classes`` plus its own options.
MODELS = {
    "simple_cnn": simple_cnn,
    "lenet": lenet,
}


def register_model(name, builder):
    """Add ``builder(input_shape, num_classes, **kwargs) -> keras.Model`` to
    :data:`MODELS` under ``name`` (e.g. a model defined in a notebook), so that
    :func:`build_model` and experiment configs can refer to it. Returns ``builder``."""
    MODELS[name] = builder
    return builder


def build_model(name, input_shape, num_classes, **kwargs):
    """Build the model registered as ``name`` in :data:`MODELS`.

    ``input_shape``: ``(height, width, channels)``; ``num_classes``: size of the
    softmax output; ``kwargs`` go to the builder (e.g. ``filters=(32, 64)`` for
    ``"simple_cnn"``). Raises ``ValueError`` listing the known names.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(MODELS)}")
    return MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
