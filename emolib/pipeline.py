"""``tf.data`` input pipelines, batch augmentation and class-imbalance resampling.

Every pipeline yields ``(images, labels)`` batches:

* ``images``: ``float32`` tensor ``(batch, height, width, channels)`` scaled to [0, 1];
* ``labels``: one-hot ``float32`` tensor ``(batch, num_classes)`` (soft labels when
  MixUp or CutMix is on).

Augmentation is Keras preprocessing layers (``RandomFlip``, ``RandomRotation``, ...,
``AugMix``, ``MixUp``, ``CutMix``) mapped over the training batches in the pipeline, never layers
inside a model (random layers inside a model break ONNX export). The layers are seeded
from the pipeline's ``seed``, so a pipeline gives the same batches every time it is
rebuilt with the same seed, and different ones every epoch.

Typical use::

    train_ds = make_dataset(ds.train.images, ds.train.labels, ds.num_classes,
                            training=True, augment={"rotation": 10})
    val_ds = make_dataset(ds.val.images, ds.val.labels, ds.num_classes)
    model.fit(train_ds, validation_data=val_ds, epochs=10)
"""

from __future__ import annotations

import random

import numpy as np
import tensorflow as tf

__all__ = [
    "capped_indices", "class_weights", "convert_batch", "make_dataset", "oversample_indices", "prepare_images",
    "undersample_indices"
]

_AUTOTUNE = tf.data.AUTOTUNE


# --------------------------------------------------------------------------
# Image conversion
# --------------------------------------------------------------------------


def convert_batch(images, image_size=None, channels=None):
    """Scale, convert and resize a batch of images (a TF function, usable in ``map``).

    Parameters
    ----------
    images : tensor or array of shape (n, h, w, c)
        ``uint8`` in [0, 255] or float already in [0, 1].
    image_size : int or tuple of int, optional
        ``int`` or ``(height, width)`` in pixels (``None`` keeps the size); bilinear with
        antialiasing.
    channels : {1, 3}, optional
        ``None`` keeps ``c``; gray to RGB repeats the channel, RGB to gray uses ITU-R 601 luma
        (``tf.image``).

    Returns
    -------
    tf.Tensor of float32, shape (n, height, width, channels)
        The images in [0, 1].
    """
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    else:
        images = tf.cast(images, tf.float32)
    have = images.shape[-1]
    if (have, channels) == (1, 3):
        images = tf.image.grayscale_to_rgb(images)
    elif (have, channels) == (3, 1):
        images = tf.image.rgb_to_grayscale(images)
    elif channels is not None and channels != have:
        raise ValueError(f"cannot convert {have} channels to {channels}")
    if image_size is not None:
        size = (int(image_size),) * 2 if np.isscalar(image_size) else tuple(int(s) for s in image_size)
        if tuple(images.shape[-3:-1]) != size:
            images = tf.image.resize(images, size, method="bilinear", antialias=True)
            images = tf.clip_by_value(images, 0.0, 1.0)
    return images


def prepare_images(images, image_size=None, channels=None):
    """:func:`convert_batch` over a whole in-memory array, 4,096 images at a time.

    Converting in chunks bounds the temporary memory.

    Parameters
    ----------
    images : array of shape (n, h, w) or (n, h, w, c)
        ``uint8`` in [0, 255] or float already in [0, 1].
    image_size : int or tuple of int, optional
        Size to resize to (``None`` keeps it).
    channels : {1, 3}, optional
        Channels to convert to (``None`` keeps them).

    Returns
    -------
    tf.Tensor of float32, shape (n, height, width, channels)
        The images in [0, 1], 4 bytes per pixel value.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    chunk = 4096
    parts = [convert_batch(images[i : i + chunk], image_size, channels)
             for i in range(0, max(len(images), 1), chunk)]  # one part, maybe empty, for up to 4,096
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis=0)


# --------------------------------------------------------------------------
# Augmentation: Keras preprocessing layers mapped over training batches
# --------------------------------------------------------------------------

#: What ``augment=True`` applies (:func:`make_dataset`, ``TrainConfig(augment=True)``); a dict
#: ``augment`` changes some of these fields (see :func:`_augmentation`).
_AUGMENT_DEFAULTS = {"flip": True, "rotation": 10.0, "translation": 0.1, "contrast": 0.2, "brightness": 0.1,
                    "augmix": 0.0}


def _seeded(seed, offset):
    """The seed of one random layer: ``seed + offset``, or ``None`` (unseeded) when ``seed`` is."""
    return None if seed is None else seed + offset


def _keras_layer(name, setting):
    """``keras.layers.<name>``, or a RuntimeError naming the setting that needs it (CutMix and
    AugMix arrived in Keras 3.9; emolib supports Keras 3.8)."""
    import keras

    if not hasattr(keras.layers, name):
        raise RuntimeError(f"{setting} needs keras.layers.{name}, new in Keras 3.9; this is Keras "
                           f"{keras.__version__} (upgrade Keras or turn {setting} off)")
    return getattr(keras.layers, name)


def _augmentation_layers(seed=None, flip=True, rotation=0.06, translation=0.06, contrast=0.3, brightness=0.0,
                         augmix=0.0):
    """The ``keras.Sequential`` of ``Random*`` layers behind :func:`_augmentation`; each layer gets
    its own seed (``seed``, ``seed + 1``, ...), so their draws are independent; a layer is left
    out when its value is 0 or ``False``; rotation and translation fill the border by reflection."""
    import keras

    random = keras.layers
    layers = [random.RandomFlip("horizontal", seed=_seeded(seed, 0))] if flip else []
    if rotation:
        layers.append(random.RandomRotation(rotation, fill_mode="reflect", seed=_seeded(seed, 1)))
    if translation:
        layers.append(random.RandomTranslation(translation, translation, fill_mode="reflect", seed=_seeded(seed, 3)))
    if contrast:
        layers.append(random.RandomContrast(contrast, seed=_seeded(seed, 4)))
    if brightness:
        layers.append(random.RandomBrightness(brightness, value_range=(0.0, 1.0), seed=_seeded(seed, 5)))
    if augmix:
        aug_mix = _keras_layer("AugMix", "augmix")
        layers.append(aug_mix(value_range=(0.0, 1.0), factor=0.3 if augmix is True else augmix, seed=_seeded(seed, 6)))
    return keras.Sequential(layers, name="augment")


def _augmentation(augment, seed=None):
    """The Keras layers that a ``TrainConfig.augment`` value stands for.

    Fields: ``flip`` (mirror left-right with probability 0.5), ``rotation`` (degrees, uniform
    in ``[-rotation, rotation]``), ``translation`` (fraction of the height and width),
    ``contrast`` (each image's deviation from its mean scaled by a factor in
    ``[1 - contrast, 1 + contrast]``), ``brightness`` (added, uniform in
    ``[-brightness, brightness]``) and ``augmix`` (Keras' ``AugMix``, after Hendrycks et al.
    2020: the image is blended with a weighted mix of three chains of up to three random
    operations; the value is their severity in (0, 1], ``True`` = Keras' 0.3; off by default;
    Keras 3.9+); 0 or ``False`` turns one off. Unlike the paper, which draws everything per
    image, Keras' layer in a ``tf.data`` map picks the chains' operations once, when the
    pipeline is traced (seeded by ``seed``), and one set of mixing weights per batch; only the
    operations' strengths are drawn anew for every batch.

    Parameters
    ----------
    augment : None, bool or dict
        ``None``/``False``: none; ``True``: :data:`_AUGMENT_DEFAULTS`; a dict: those defaults
        with some fields changed, e.g. ``{"rotation": 5}``.
    seed : int, optional
        Seed of the layers.

    Returns
    -------
    keras.Sequential or None
        ``Random*`` layers with independent seeds (images ``(b, h, w, c)`` float in [0, 1] in and
        out; call as ``aug(images, training=True)``, inside ``tf.data``), or ``None``.
    """
    if augment is None or augment is False:
        return None
    if augment is not True and not isinstance(augment, dict):
        raise TypeError(f"augment must be None, a bool or a dict of {sorted(_AUGMENT_DEFAULTS)}, "
                        f"got {type(augment).__name__}")
    fields = {**_AUGMENT_DEFAULTS, **(augment if isinstance(augment, dict) else {})}
    unknown = sorted(set(fields) - set(_AUGMENT_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown augment fields {unknown}; known: {sorted(_AUGMENT_DEFAULTS)}")
    if not any(fields.values()):
        return None
    return _augmentation_layers(seed, flip=fields["flip"], rotation=fields["rotation"] / 360,
                                translation=fields["translation"], contrast=fields["contrast"],
                                brightness=fields["brightness"], augmix=fields["augmix"])


def _batch_mixing(mixup_alpha=0.0, cutmix_alpha=0.0, seed=None):
    """MixUp and/or CutMix of a training batch: ``mix(images, one_hot) -> (images, soft_labels)``,
    or ``None`` when both alphas are 0.

    ``keras.layers.MixUp(alpha=mixup_alpha)`` blends each image (and its label) with another of
    the batch, weight ``lam ~ Beta(alpha, alpha)``; ``keras.layers.CutMix`` (Keras 3.9+) pastes a
    box of another image of the batch, of about ``1 - lam`` of the area with ``lam ~ Beta(cutmix_alpha,
    cutmix_alpha)`` (``cutmix_alpha`` in (0, 1]), and mixes the labels by the box's area. With both
    on, each batch gets one of them, chosen with probability 0.5. Images: ``(b, h, w, c)`` float;
    labels one-hot ``(b, k)``; label rows still sum to 1.
    """
    import keras

    layers = [keras.layers.MixUp(alpha=mixup_alpha, seed=_seeded(seed, 10))] if mixup_alpha else []
    if cutmix_alpha:
        cut_mix = _keras_layer("CutMix", "cutmix_alpha")
        layers.append(cut_mix(factor=(cutmix_alpha, cutmix_alpha), seed=_seeded(seed, 11)))
    if not layers:
        return None
    coin = keras.random.SeedGenerator(_seeded(seed, 12))

    def mix(images, labels):
        data = {"images": images, "labels": labels}
        if len(layers) == 1:
            out = layers[0](data, training=True)
        else:
            out = tf.cond(keras.random.uniform((), seed=coin) < 0.5, lambda: layers[1](data, training=True),
                          lambda: layers[0](data, training=True))
        return out["images"], out["labels"]

    return mix


# --------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------


def _targets(labels, num_classes, n, soft_targets=None):
    """One-hot ``float32`` labels ``(n, num_classes)``, or ``(one_hot, soft_targets)`` with a
    teacher's probabilities ``(n, num_classes)`` (:class:`emolib.ensemble.Distiller`)."""
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    onehot = np.eye(num_classes, dtype="float32")[labels]
    if soft_targets is None:
        return onehot
    soft_targets = np.asarray(soft_targets, dtype="float32")
    if soft_targets.shape != onehot.shape:
        raise ValueError(f"soft_targets must have shape {onehot.shape}, got {soft_targets.shape}")
    return onehot, soft_targets


def _apply_seeded(layers, images, seed):
    """``layers(images, training=True)`` with Python's ``random`` seeded by ``seed`` meanwhile.

    Keras' AugMix (3.9-3.15) picks its operations with Python's ``random`` when it is called,
    i.e. once, while tf.data traces the mapped function (the same operations for every batch).
    Seeding it for that call makes the choice follow the pipeline's seed too; the global state
    is restored. The other Random* layers draw from their own seeds and are unaffected.
    """
    python_random = random.getstate()
    random.seed(seed)
    try:
        return layers(images, training=True)
    finally:
        random.setstate(python_random)


def _finish(ds, training, augment, mixup_alpha, cutmix_alpha, seed):
    """Augmentation and mixing of training batches (Keras layers), then prefetch."""
    layers = (augment if callable(augment) else _augmentation(augment, seed)) if training else None
    mix = _batch_mixing(mixup_alpha, cutmix_alpha, seed) if training else None
    if layers is not None or mix is not None:
        def randomize(x, y):
            shapes = x.shape, y.shape
            if layers is not None:
                x = tf.clip_by_value(_apply_seeded(layers, x, seed), 0.0, 1.0)
            if mix is not None:
                x, y = mix(x, y)
            # Keep the static shapes (batch, h, w, c): Keras' Random* layers return images of unknown
            # height and width, and Keras before 3.11 then fails in Flatten ("Only one input size
            # may be -1"; found by make oldest-check with Keras 3.8-3.10).
            return tf.ensure_shape(x, shapes[0]), tf.ensure_shape(y, shapes[1])

        # One batch at a time: the layers draw from seed generators (variables), so parallel calls
        # would take the draws in a timing-dependent order and the seed would no longer fix the result.
        ds = ds.map(randomize)
    return ds.prefetch(_AUTOTUNE)


def make_dataset(images, labels, num_classes, batch_size=64, training=False, image_size=None, channels=None,
                 augment=None, mixup_alpha=0.0, cutmix_alpha=0.0, soft_targets=None, seed=0, balanced=False):
    """A batched ``tf.data.Dataset`` of ``(images, one_hot_labels)`` from arrays.

    Every image is converted to ``float32`` once, up front (:func:`prepare_images`:
    ``n * height * width * channels * 4`` bytes; 28k images at 48x48x1 take 260 MB).

    Parameters
    ----------
    images : array ``(n, h, w, c)`` (or ``(n, h, w)``), ``uint8`` in [0, 255]
        or float already in [0, 1].
    labels : int array ``(n,)`` of class indices in ``0..num_classes-1``.
    num_classes : int, width of the one-hot labels.
    batch_size : int, images per batch (the last batch may be smaller). Under a
        ``tf.distribute`` strategy this is the *global* batch size.
    training : bool. ``True`` shuffles (a new order every epoch, reproducible
        from ``seed``) and applies ``augment``, ``mixup_alpha`` and
        ``cutmix_alpha``; ``False`` keeps the order and ignores those three.
    image_size : int or ``(height, width)`` to resize to, in pixels; ``None`` keeps.
    channels : 1 or 3 to convert gray <-> RGB; ``None`` keeps.
    augment : ``None``/``False``, ``True`` (:data:`_AUGMENT_DEFAULTS`), a dict of
        some of those fields (:func:`_augmentation`), or Keras layers such as
        :func:`random_augmentation`'s, called with ``training=True``.
    mixup_alpha, cutmix_alpha : float, Beta parameters of Keras' ``MixUp`` and
        ``CutMix`` (:func:`_batch_mixing`); 0 turns them off (with both on, each
        batch uses one).
    soft_targets : float array ``(n, num_classes)``, optional. A teacher's probabilities,
        kept with their image through the shuffle: batches are then ``(images, (one_hot,
        soft_targets))``, without augmentation or mixing (an augmented image would deserve
        its own teacher output).
    seed : int, seeds shuffling and augmentation.
    balanced : bool. With ``training``: class-balanced sampling, an endless stream in which
        every class present is drawn equally often (rare classes repeat, frequent ones are seen
        less often); pass ``steps_per_epoch`` to ``fit``. For a set such as the real photos,
        where 95% of the images are happy or neutral.

    Returns
    -------
    tf.data.Dataset
        Batches of ``float32`` images ``(b, height, width, channels)`` in [0, 1] and
        ``float32`` one-hot labels ``(b, num_classes)``.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, h, w[, c]), got {images.shape}")
    if soft_targets is not None and training and (augment or mixup_alpha or cutmix_alpha):
        raise ValueError("soft_targets go without augment, mixup_alpha and cutmix_alpha")
    n = len(images)
    y = _targets(labels, num_classes, n, soft_targets)
    x = prepare_images(images, image_size, channels)

    # Shuffle and batch *indices*, then gather whole batches: one vectorised
    # op per batch, and shuffling costs no copy of the images.
    def gather(idx):
        return tf.gather(x, idx), tf.nest.map_structure(lambda t: tf.gather(t, idx), y)

    if training and balanced:  # one endless, shuffled stream of indices per class, drawn in turn at random
        by_class = [np.flatnonzero(np.asarray(labels) == c) for c in range(num_classes)]
        ds = tf.data.Dataset.sample_from_datasets(
            [tf.data.Dataset.from_tensor_slices(idx.astype(np.int64)).shuffle(len(idx), seed=seed + c).repeat()
             for c, idx in enumerate(by_class) if len(idx)], seed=seed)
    else:
        ds = tf.data.Dataset.range(n)
        if training:
            ds = ds.shuffle(max(n, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(gather, num_parallel_calls=_AUTOTUNE)
    return _finish(ds, training, augment, mixup_alpha, cutmix_alpha, seed)


# --------------------------------------------------------------------------
# Class imbalance
# --------------------------------------------------------------------------


def undersample_indices(labels, seed=0):
    """Undersampling: for every class present, a random subset the size of the smallest class.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Class indices.
    seed : int, default 0
        Seed of the draw (without replacement).

    Returns
    -------
    array of int64, shape (m,)
        Sorted indices into ``labels``, so ``split.take(idx)`` keeps images, labels and
        metadata together.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.min() if len(counts) else 0
    parts = [rng.choice(np.flatnonzero(labels == c), target, replace=False) for c in classes]
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


def oversample_indices(labels, seed=0):
    """Oversampling: every image, plus random repeats of each smaller class up to the largest.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Class indices.
    seed : int, default 0
        Seed of the repeats (drawn with replacement).

    Returns
    -------
    array of int64, shape (m,)
        Sorted indices into ``labels``; repeated images appear several times.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max() if len(counts) else 0
    parts = []
    for c, count in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        parts += [members, rng.choice(members, target - count, replace=True)]
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


def capped_indices(labels, cap, seed=0):
    """Indices keeping at most ``cap`` random images of every class.

    Rarer classes keep all theirs: a less skewed validation split for model selection.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Class indices.
    cap : int
        Images kept per class at most.
    seed : int, default 0
        Seed of the choice.

    Returns
    -------
    array of int, shape (m,)
        Sorted indices into ``labels``.
    """
    labels = np.asarray(labels)
    if int(cap) < 1:
        raise ValueError(f"cap must be a positive number of images, got {cap!r}")
    rng = np.random.default_rng(seed)
    keep = [idx if len(idx) <= cap else rng.choice(idx, int(cap), replace=False)
            for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(keep)).astype(np.int64) if keep else np.zeros(0, np.int64)


def class_weights(labels, num_classes):
    """Keras' ``class_weight`` from scikit-learn's ``"balanced"`` heuristic.

    ``n_samples / (n_classes_present * count)``: rare classes weigh more, and the mean weight
    over the samples is 1.

    Parameters
    ----------
    labels : array of int, shape (n,)
        Class indices of the training images.
    num_classes : int
        Classes of the task.

    Returns
    -------
    dict of int to float
        ``{class: weight}`` for every class; a class absent from ``labels`` gets 1.0.
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    out = {c: 1.0 for c in range(num_classes)}
    out.update({int(c): float(w) for c, w in zip(present, weights)})
    return out
