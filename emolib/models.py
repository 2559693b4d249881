"""Model builders. Every model takes float32 images scaled to [0, 1] with shape
``(height, width, channels)`` and returns class probabilities (softmax).

No augmentation layers live inside models: augmentation happens in the
``tf.data`` pipeline (:mod:`emolib.pipeline`), so every model exports to ONNX.
"""

from __future__ import annotations

import keras
from keras import layers


__all__ = [
    "BN_MOMENTUM", "basic_block", "build_model", "conv_unit", "lenet", "resnet_like", "simple_cnn", "vit"
]

#: BatchNormalization momentum used throughout: with Keras' default (0.99) the moving
#: statistics lag far behind the weights in short runs (near-chance validation accuracy).
BN_MOMENTUM = 0.9


def simple_cnn(input_shape=(48, 48, 1), num_classes=7, filters=(32, 64, 128), kernel_size=3, convs_per_block=1,
               dense_units=0, dropout=0.3, batchnorm=True, l2=0.0, name="simple_cnn"):
    """A plain CNN: per entry of ``filters``, [Conv-BN-ReLU] x ``convs_per_block`` and a
    2x2 max-pool; then Flatten, Dropout and softmax (keras-io's "simple MNIST convnet").
    ``kernel_size``: 2 or 3 in seed 003's study; ``l2``: a weight penalty on the kernels.

    ``dense_units > 0`` adds a hidden ReLU layer (and Dropout). Not by default: its 128
    ReLUs on 4,608 features can all switch off in Adam's first epoch, leaving one constant
    prediction (2,800 generated faces: chance in all 5 epochs; without it 0.42 after 8).
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


def lenet(input_shape=(48, 48, 1), num_classes=7, activation="relu", pooling="max", batchnorm=False,
          name="lenet"):
    """LeNet-5 (LeCun et al., 1998): Conv 5x5 x6 - pool - Conv 5x5 x16 - pool - Dense 120 -
    Dense 84 - softmax. The first convolution pads ("same"), so 48x48 gives 10x10x16
    features and inputs from 12x12 work. ``"tanh"`` / ``"average"`` give the 1998 flavour.

    ``batchnorm=True`` puts BatchNormalization after each convolution and hidden dense
    layer, before the activation. Without it, on generated faces (never centred) training
    starts on a plateau at loss ``ln(num_classes)``: with 1,500 faces of 32x32, 4 classes,
    batch size 64, three seeds, the loss stayed within 0.01 of ln 4 for two epochs, at
    learning rates from 1e-4 to 3e-3; batch size 16 got past it in one epoch, BN removed it.

    Parameters
    ----------
    input_shape : tuple of int, default (48, 48, 1)
        ``(height, width, channels)`` of one image, at least 12x12.
    num_classes : int, default 7
        Number of output classes.
    activation : str, default "relu"
        Activation of the convolutions and hidden dense layers (``"tanh"`` as in 1998).
    pooling : {"max", "average"}, default "max"
        The subsampling layers (``"average"`` as in 1998).
    batchnorm : bool, default False
        BatchNormalization after each convolution and hidden dense layer, before the activation.
    name : str, default "lenet"
        The model's name.

    Returns
    -------
    keras.Model
        Images ``(batch, *input_shape)`` -> class probabilities ``(batch, num_classes)``.
    """
    pool = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}[pooling]

    def unit(x, layer, name):
        if not batchnorm:
            return layer(x)
        x = layer(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
        return layers.Activation(activation, name=f"{name}_{activation}")(x)

    act = None if batchnorm else activation
    bias = not batchnorm
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = unit(inputs, layers.Conv2D(6, 5, padding="same", activation=act, use_bias=bias, name="c1"), "c1")
    x = pool(2, name="s2")(x)
    x = unit(x, layers.Conv2D(16, 5, padding="valid", activation=act, use_bias=bias, name="c3"), "c3")
    x = pool(2, name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = unit(x, layers.Dense(120, activation=act, use_bias=bias, name="f5"), "f5")
    x = unit(x, layers.Dense(84, activation=act, use_bias=bias, name="f6"), "f6")
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def conv_unit(x, filters, kernel_size, batchnorm, name, strides=1, activation="relu", bn_gamma="ones"):
    """A "same" ``Conv2D`` on ``x`` and its ``activation`` (``None``: linear). With
    ``batchnorm`` the convolution has no bias and a BatchNormalization (scale initialised
    by ``bn_gamma``) sits before the activation. Layers: ``<name>_conv``, ``_bn``, ``_<activation>``."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", use_bias=not batchnorm,
        activation=None if batchnorm else activation, name=f"{name}_conv",
    )(x)
    if batchnorm:
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, gamma_initializer=bn_gamma, name=f"{name}_bn")(x)
        if activation:
            x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def resnet_like(input_shape=(48, 48, 3), num_classes=4, filters=(32, 64, 128), batchnorm=False, dropout=0.0,
                shortcuts=True, name="resnet_like"):
    """Seed 003's best model ("ResNet-like network", 298,084 parameters), layer for layer.

    Three blocks; block ``b`` has ``filters[b]`` filters. Each block is two 3x3
    "same" ReLU convolutions, then (except in the last block) a 2x2 max-pool, and a
    *shortcut*: a 1x1 convolution of the block's input, with stride 2 where the
    main path pools, added to the main path (``Add``). Then global average
    pooling and a softmax layer. With the defaults and a 48x48x3 input (seed 003's
    ``model.summary()``)::

        block   main path                         shortcut                 output
        1       conv3x3 32, conv3x3 32, maxpool   conv1x1 32, stride 2     24x24x32
        2       conv3x3 64, conv3x3 64, maxpool   conv1x1 64, stride 2     12x12x64
        3       conv3x3 128, conv3x3 128          conv1x1 128, stride 1    12x12x128
        head    global average pooling -> Dense(num_classes, softmax)

    Parameters: 896 + 9,248 + 128 (block 1), 18,496 + 36,928 + 2,112 (block 2),
    73,856 + 147,584 + 8,320 (block 3), 516 (head) = 298,084.

    Every block changes the number of channels, so the shortcut is a learned linear 1x1
    projection, never the identity; no ReLU after the addition. Height and width must be
    divisible by ``2 ** (len(filters) - 1)``.

    ``batchnorm=True``: every convolution gets BatchNormalization (not seed 003's model:
    more parameters). Without it, on generated faces, training sat at chance to the end of
    every run measured (32x32, 1,500 faces, 6 epochs, learning rates 3e-4 to 3e-3, batch
    sizes 16 and 64; 48x48, 3,000 faces, 8 epochs; see :func:`lenet`). ``dropout``: before
    the softmax (0 in seed 003). ``shortcuts=False``: the ablation without skip connections.
    """
    last = len(filters) - 1
    if any(int(d) % 2**last for d in input_shape[:2]):
        raise ValueError(
            f"resnet_like with {len(filters)} blocks needs height and width divisible by {2**last}, "
            f"got {tuple(input_shape)}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for b, f in enumerate(filters):
        block = f"block{b + 1}"
        y = conv_unit(x, f, 3, batchnorm, name=f"{block}_a")
        y = conv_unit(y, f, 3, batchnorm, name=f"{block}_b")
        stride = 1 if b == last else 2
        if stride == 2:
            y = layers.MaxPooling2D(2, name=f"{block}_pool")(y)
        if shortcuts:
            shortcut = conv_unit(x, f, 1, batchnorm, name=f"{block}_shortcut", strides=stride, activation=None)
            y = layers.Add(name=f"{block}_add")([y, shortcut])
        x = y
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


def basic_block(x, filters, strides=1, zero_init_residual=True, name="block"):
    """ResNet's basic block (He et al., 2016): conv3x3-BN-ReLU, conv3x3-BN, plus the
    shortcut (the identity, or a 1x1 conv-BN where the shape changes), then ReLU.

    Parameters
    ----------
    x : keras tensor, shape (batch, h, w, c)
        The block's input.
    filters : int
        Channels of both convolutions and of the output.
    strides : int, default 1
        Strides of the first convolution (and of the projection shortcut); 2 halves ``h`` and ``w``.
    zero_init_residual : bool, default True
        The last BN's scale starts at 0, so the block starts as its shortcut (Goyal et al.,
        2017) and a deep stack starts shallow.
    name : str, default "block"
        Prefix of the block's layer names.

    Returns
    -------
    keras tensor, shape (batch, ceil(h / strides), ceil(w / strides), filters)
        The block's output.
    """
    y = conv_unit(x, filters, 3, batchnorm=True, name=f"{name}_1", strides=strides)
    y = conv_unit(y, filters, 3, batchnorm=True, name=f"{name}_2", activation=None,
                  bn_gamma="zeros" if zero_init_residual else "ones")
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_unit(x, filters, 1, batchnorm=True, name=f"{name}_proj", strides=strides, activation=None)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _resnet34(input_shape=(48, 48, 3), num_classes=4, widths=(16, 32, 64, 128), blocks=(3, 4, 6, 3), dropout=0.0,
             zero_init_residual=True, name="resnet34"):
    """A ResNet-34-style network (He et al., 2016; seed 002's "ResNet34") for small images.

    Stages of ``blocks`` (3, 4, 6, 3) :func:`basic_block` s, a stem and the softmax layer:
    34 weight layers (``(2, 2, 2, 2)``: ResNet-18). Every stage but the first halves the
    resolution (48 -> 24 -> 12 -> 6) and widens. Two changes for 48x48 faces and CPUs: a
    3x3 stride-1 stem (ResNet's CIFAR variant) instead of 7x7 stride 2 and a max-pool, and
    ``widths`` (16, 32, 64, 128) instead of (64, ..., 512): 1.34 million parameters, not 21.
    ``zero_init_residual`` starts each block's last BatchNormalization at zero (see
    :func:`basic_block`).
    """
    if len(widths) != len(blocks):
        raise ValueError(f"widths {tuple(widths)} and blocks {tuple(blocks)} must have the same length")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv_unit(inputs, widths[0], 3, batchnorm=True, name="stem")
    for s, (width, n) in enumerate(zip(widths, blocks)):
        for i in range(n):
            strides = 2 if (s > 0 and i == 0) else 1
            x = basic_block(x, width, strides, zero_init_residual, name=f"stage{s + 1}_block{i + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


@keras.saving.register_keras_serializable(package="emolib", name="gelu_tanh")
def _gelu_tanh(x):
    """GELU in its tanh approximation (as in BERT and GPT-2).

    Keras' ``"gelu"`` is the exact form, built on ``erfc``, which tf2onnx cannot convert to ONNX.

    Parameters
    ----------
    x : tensor
        Any shape.

    Returns
    -------
    tensor
        The activation, same shape.
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="emolib", name="AddPositionEmbedding")
class _AddPositionEmbedding(layers.Layer):
    """Adds a learned position embedding to tokens.

    Parameters
    ----------
    initializer : str or keras.initializers.Initializer, default "random_normal"
        How the embedding ``(num_tokens, dim)`` (made from the input shape) starts.
    **kwargs
        Passed to ``keras.layers.Layer``.

    Attributes
    ----------
    embedding : keras.Variable
        The embedding ``(num_tokens, dim)``, added to tokens ``(batch, num_tokens, dim)``.
    """

    def __init__(self, initializer="random_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"_AddPositionEmbedding needs (batch, tokens, dim) with known sizes, got {input_shape}")
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]), initializer=self.initializer, name="embedding"
        )

    def call(self, tokens):
        return tokens + keras.ops.cast(self.embedding, tokens.dtype)

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}


def vit(input_shape=(48, 48, 3), num_classes=4, patch_size=None, dim=64, depth=4, heads=4, mlp_dim=128,
        dropout=0.1, name="vit"):
    """A small Vision Transformer (Dosovitskiy et al., 2021; seed 002's "ViT"), after
    keras-io's "Image classification with Vision Transformer", sized for a CPU.

    1. Patch embedding: a ``Conv2D(dim, patch_size, strides=patch_size)`` cuts the
       image into non-overlapping ``patch_size`` x ``patch_size`` patches and maps
       each linearly to a ``dim``-vector (the same as flattening the patches and a
       Dense layer). ``patch_size=None`` picks ``height // 8``: an 8x8 grid, 64
       tokens (6-pixel patches at 48x48, 4-pixel patches at 32x32).
    2. A learned position embedding is added (:class:`_AddPositionEmbedding`):
       without it attention cannot tell where a patch came from.
    3. ``depth`` pre-norm transformer blocks: ``x + MHA(LN(x))`` with ``heads``
       heads, then ``x + MLP(LN(x))`` with a GELU hidden layer of ``mlp_dim``
       (:func:`_gelu_tanh`, so that the model converts to ONNX).
    4. LayerNorm, the mean over tokens (instead of a class token) and the softmax layer.

    Defaults: about 140 thousand parameters. With no built-in locality (a CNN's small
    kernels) transformers need far more data (Dosovitskiy et al. pre-trained on 14-300
    million images).

    Parameters
    ----------
    input_shape : tuple of int, default (48, 48, 3)
        ``(height, width, channels)`` of one image.
    num_classes : int, default 4
        Number of output classes.
    patch_size : int or None, default None
        Side of the square patches (``None``: ``height // 8``).
    dim : int, default 64
        Size of each token; a multiple of ``heads``.
    depth : int, default 4
        Number of transformer blocks.
    heads : int, default 4
        Attention heads per block.
    mlp_dim : int, default 128
        Hidden units of each block's MLP.
    dropout : float, default 0.1
        Dropout rate on the attention weights and in the MLP.
    name : str, default "vit"
        The model's name.

    Returns
    -------
    keras.Model
        Images ``(batch, *input_shape)`` -> class probabilities ``(batch, num_classes)``.

    Raises
    ------
    ValueError
        When ``patch_size`` exceeds the image or ``dim`` is not divisible by ``heads``.
    """
    height, width = input_shape[0], input_shape[1]
    p = int(patch_size) if patch_size else max(1, int(height) // 8)
    if p < 1 or p > min(height, width):
        raise ValueError(f"patch_size must be between 1 and {min(height, width)}, got {patch_size!r}")
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(dim, p, strides=p, padding="valid", name="patch_embed")(inputs)
    grid = x.shape[1] * x.shape[2]
    x = layers.Reshape((grid, dim), name="tokens")(x)
    x = _AddPositionEmbedding(name="pos_embed")(x)
    for i in range(depth):
        block = f"block{i + 1}"
        y = layers.LayerNormalization(epsilon=1e-6, name=f"{block}_ln1")(x)
        y = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"{block}_mha")(y, y)
        x = layers.Add(name=f"{block}_add1")([x, y])
        y = layers.LayerNormalization(epsilon=1e-6, name=f"{block}_ln2")(x)
        y = layers.Dense(mlp_dim, activation=_gelu_tanh, name=f"{block}_mlp1")(y)
        y = layers.Dropout(dropout, name=f"{block}_drop1")(y)
        y = layers.Dense(dim, name=f"{block}_mlp2")(y)
        y = layers.Dropout(dropout, name=f"{block}_drop2")(y)
        x = layers.Add(name=f"{block}_add2")([x, y])
    x = layers.LayerNormalization(epsilon=1e-6, name="ln")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=name)


#: Model builders by name, used by :func:`build_model` and the experiment runner
#: (the transfer-learning builders come from :mod:`emolib.transfer`).
#: Every builder takes ``input_shape`` and ``num_classes`` plus its own options.
def _pretrained(name):
    """The builder ``emolib.transfer.<name>``, imported when called: building a CNN from scratch
    never loads the code that downloads pretrained weights."""
    def build(**kwargs):
        from . import transfer

        return getattr(transfer, name)(**kwargs)

    build.__name__ = build.__qualname__ = name
    return build


_MODELS = {
    "simple_cnn": simple_cnn,
    "lenet": lenet,
    "resnet_like": resnet_like,
    "resnet34": _resnet34,
    "vit": vit,
    "fer_transfer": _pretrained("fer_transfer"),
    "imagenet_transfer": _pretrained("imagenet_transfer"),
}


def build_model(name, input_shape, num_classes, **kwargs):
    """Build a model by its registered name.

    Parameters
    ----------
    name : str
        A key of :data:`_MODELS` (``"simple_cnn"``, ``"lenet"``, ``"resnet_like"``, ``"resnet34"``,
        ``"vit"``, ``"fer_transfer"``, ``"imagenet_transfer"``).
    input_shape : tuple of int
        ``(height, width, channels)``.
    num_classes : int
        Classes.
    **kwargs
        Passed to the builder.

    Returns
    -------
    keras.Model
        Images ``(None, *input_shape)`` to probabilities ``(None, num_classes)``.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(_MODELS)}")
    return _MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
