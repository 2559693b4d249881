"""``tf.data`` input pipelines, batch augmentation and class-imbalance resampling.

Every pipeline yields ``(images, labels)`` batches:

* ``images``: ``float32`` tensor ``(batch, height, width, channels)`` scaled to [0, 1];
* ``labels``: one-hot ``float32`` tensor ``(batch, num_classes)`` (soft labels when
  MixUp or CutMix is on).

Augmentation happens here, in the pipeline, never as layers inside a model (random
layers inside a model break ONNX export). It runs on whole batches with *stateless*
random ops seeded from the pipeline's ``seed``, so a pipeline gives the same
batches every time it is rebuilt with the same seed, and different ones every epoch.

Typical use::

    train_ds = make_dataset(ds.train.images, ds.train.labels, ds.num_classes,
                            training=True, augment=Augment(rotation=10))
    val_ds = make_dataset(ds.val.images, ds.val.labels, ds.num_classes)
    model.fit(train_ds, validation_data=val_ds, epochs=10)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


# --------------------------------------------------------------------------
# Image conversion
# --------------------------------------------------------------------------


def _as_size(image_size):
    if image_size is None:
        return None
    if np.isscalar(image_size):
        return (int(image_size), int(image_size))
    return tuple(int(s) for s in image_size)


def _to_channels(images, channels, have):
    """Gray (1 channel) <-> RGB (3) with ``tf.image``: RGB to gray is ITU-R 601 luma,
    gray to RGB repeats the channel."""
    if (have, channels) == (1, 3):
        return tf.image.grayscale_to_rgb(images)
    if (have, channels) == (3, 1):
        return tf.image.rgb_to_grayscale(images)
    raise ValueError(f"cannot convert {have} channels to {channels}")


def convert_batch(images, image_size=None, channels=None):
    """Scale, convert and resize a batch of images (a TF function, usable in ``map``).

    ``images``: ``(n, h, w, c)`` tensor or array, ``uint8`` in [0, 255] or float
    already in [0, 1]. ``channels``: 1 or 3 (``None`` keeps ``c``); gray to RGB
    repeats the channel, RGB to gray uses ITU-R 601 luma. ``image_size``: ``int``
    or ``(height, width)`` in pixels (``None`` keeps the size); bilinear with
    antialiasing. Returns ``float32`` ``(n, height, width, channels)`` in [0, 1].
    """
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        images = tf.cast(images, tf.float32) / 255.0
    else:
        images = tf.cast(images, tf.float32)
    if channels is not None and images.shape[-1] is None:  # decoded files: 1 or 3, known when run
        images = tf.cond(tf.shape(images)[-1] == channels, lambda: images,
                         lambda: _to_channels(images, channels, 3 if channels == 1 else 1))
        images.set_shape([*images.shape[:-1], channels])
    elif channels is not None and channels != images.shape[-1]:
        images = _to_channels(images, channels, images.shape[-1])
    size = _as_size(image_size)
    if size is not None and tuple(images.shape[-3:-1]) != size:
        images = tf.image.resize(images, size, method="bilinear", antialias=True)
        images = tf.clip_by_value(images, 0.0, 1.0)
    return images


def prepare_images(images, image_size=None, channels=None, chunk_size=4096):
    """:func:`convert_batch` over a whole in-memory array, ``chunk_size`` images at
    a time (bounds the temporary memory). Returns a ``float32`` tensor
    ``(n, height, width, channels)`` in [0, 1], 4 bytes per pixel value."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if len(images) <= chunk_size:
        return convert_batch(images, image_size, channels)
    parts = [
        convert_batch(images[i : i + chunk_size], image_size, channels)
        for i in range(0, len(images), chunk_size)
    ]
    return tf.concat(parts, axis=0)


# --------------------------------------------------------------------------
# Augmentation (per batch, stateless random ops)
# --------------------------------------------------------------------------


def _seed_pair(seed):
    """A ``(2,)`` int64 seed tensor for ``tf.random.stateless_*`` ops; ``None``
    draws a fresh random one (non-reproducible)."""
    if seed is None:
        return tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
    if isinstance(seed, int):
        return tf.constant([seed, 0], dtype=tf.int64)
    return tf.cast(seed, tf.int64)


def _beta(shape, alpha, seeds):
    """Samples of Beta(alpha, alpha) as ``g1 / (g1 + g2)`` with gamma samples."""
    g1 = tf.random.stateless_gamma(shape, seeds[0], alpha=alpha)
    g2 = tf.random.stateless_gamma(shape, seeds[1], alpha=alpha)
    return g1 / (g1 + g2 + 1e-12)


@dataclass
class Augment:
    """Random image augmentation applied to whole batches inside the pipeline.

    Each image of a batch gets its own random transform:

    * ``flip``: mirror left-right with probability 0.5 (faces are ~symmetric);
    * ``rotation``: rotate by an angle uniform in ``[-rotation, rotation]`` degrees;
    * ``translation``: shift by up to this fraction of the height/width (0.1 = 10 %);
    * ``contrast``: scale each image's deviation from its mean by a factor uniform
      in ``[1 - contrast, 1 + contrast]``;
    * ``brightness``: add a value uniform in ``[-brightness, brightness]``
      (images are in [0, 1]).

    Rotation and translation fill the border by reflection. Values stay in [0, 1].
    ``Augment(flip=False, rotation=0, translation=0, contrast=0, brightness=0)``
    is the identity.

    Call it on a ``float32`` batch ``(n, h, w, c)`` with an optional ``(2,)``
    integer seed: ``Augment()(images, seed=[1, 2])``.
    """

    flip: bool = True
    rotation: float = 10.0
    translation: float = 0.1
    contrast: float = 0.2
    brightness: float = 0.1

    @classmethod
    def from_value(cls, value) -> "Augment | None":
        """``None``/``False`` -> no augmentation; ``True`` -> the defaults; a dict ->
        ``Augment(**value)``; an ``Augment`` is returned unchanged."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"augment must be None, bool, dict or Augment, got {type(value).__name__}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        return not (self.flip or self.rotation or self.translation or self.contrast or self.brightness)

    def __call__(self, images, seed=None):
        images = tf.convert_to_tensor(images, tf.float32)
        seeds = tf.random.experimental.stateless_split(_seed_pair(seed), num=6)
        n = tf.shape(images)[0]
        if self.flip:
            flip = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0]) < 0.5
            images = tf.where(flip, tf.reverse(images, axis=[2]), images)
        if self.rotation or self.translation:
            images = self._rotate_translate(images, seeds[1], seeds[2])
        if self.contrast:
            factor = tf.random.stateless_uniform(
                [n, 1, 1, 1], seeds[3], 1.0 - self.contrast, 1.0 + self.contrast
            )
            mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
            images = (images - mean) * factor + mean
        if self.brightness:
            delta = tf.random.stateless_uniform(
                [n, 1, 1, 1], seeds[4], -self.brightness, self.brightness
            )
            images = images + delta
        return tf.clip_by_value(images, 0.0, 1.0)

    def _rotate_translate(self, images, seed_angle, seed_shift):
        n = tf.shape(images)[0]
        h = tf.cast(tf.shape(images)[1], tf.float32)
        w = tf.cast(tf.shape(images)[2], tf.float32)
        limit = self.rotation * math.pi / 180.0
        angle = tf.random.stateless_uniform([n], seed_angle, -limit, limit)
        shift = tf.random.stateless_uniform([n, 2], seed_shift, -self.translation, self.translation)
        dx, dy = shift[:, 0] * w, shift[:, 1] * h
        cos, sin = tf.cos(angle), tf.sin(angle)
        # The transform maps each output pixel (x, y) to the input pixel it reads:
        # undo the shift, then rotate about the image centre.
        cx, cy = (w - 1) / 2, (h - 1) / 2
        x0 = cx - cos * (cx + dx) + sin * (cy + dy)
        y0 = cy - sin * (cx + dx) - cos * (cy + dy)
        zeros = tf.zeros_like(angle)
        transforms = tf.stack([cos, -sin, x0, sin, cos, y0, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.shape(images)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="REFLECT",
        )


def mixup(images, labels, alpha=0.2, seed=None):
    """MixUp (Zhang et al., 2018): blend each image with another image of the batch.

    For image ``i`` and a random partner ``j`` (a permutation of the batch),
    ``lam ~ Beta(alpha, alpha)`` per image and::

        image = lam * image_i + (1 - lam) * image_j
        label = lam * label_i + (1 - lam) * label_j

    ``images``: float ``(n, h, w, c)``; ``labels``: one-hot float ``(n, k)``.
    Returns the mixed ``(images, labels)``; label rows still sum to 1.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.convert_to_tensor(labels, tf.float32)
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), num=3)
    n = tf.shape(images)[0]
    partner = tf.argsort(tf.random.stateless_uniform([n], seeds[0]))
    lam = _beta([n], alpha, seeds[1:])
    lam_img = tf.reshape(lam, [-1, 1, 1, 1])
    lam_lab = tf.reshape(lam, [-1, 1])
    images = lam_img * images + (1.0 - lam_img) * tf.gather(images, partner)
    labels = lam_lab * labels + (1.0 - lam_lab) * tf.gather(labels, partner)
    return images, labels


def cutmix(images, labels, alpha=1.0, seed=None):
    """CutMix (Yun et al., 2019): paste a random box from another image of the batch.

    For image ``i`` and a random partner ``j``, ``lam ~ Beta(alpha, alpha)`` sets
    the box to cover about ``1 - lam`` of the image (side ``sqrt(1 - lam)`` times
    the image side, random centre, clipped at the border). The label is mixed by
    the box's *actual* area fraction ``a``::

        label = (1 - a) * label_i + a * label_j

    ``images``: float ``(n, h, w, c)``; ``labels``: one-hot float ``(n, k)``.
    Returns the mixed ``(images, labels)``; label rows still sum to 1.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    labels = tf.convert_to_tensor(labels, tf.float32)
    seeds = tf.random.experimental.stateless_split(_seed_pair(seed), num=4)
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    partner = tf.argsort(tf.random.stateless_uniform([n], seeds[0]))
    lam = _beta([n], alpha, seeds[1:3])
    cut = tf.sqrt(1.0 - lam)  # box side as a fraction of the image side
    centre = tf.random.stateless_uniform([n, 2], seeds[3])
    cy, cx = centre[:, 0] * hf, centre[:, 1] * wf
    y1 = tf.clip_by_value(tf.round(cy - cut * hf / 2), 0.0, hf)
    y2 = tf.clip_by_value(tf.round(cy + cut * hf / 2), 0.0, hf)
    x1 = tf.clip_by_value(tf.round(cx - cut * wf / 2), 0.0, wf)
    x2 = tf.clip_by_value(tf.round(cx + cut * wf / 2), 0.0, wf)
    rows = tf.range(hf)[None, :, None]  # (1, h, 1)
    cols = tf.range(wf)[None, None, :]  # (1, 1, w)
    inside = (
        (rows >= y1[:, None, None]) & (rows < y2[:, None, None])
        & (cols >= x1[:, None, None]) & (cols < x2[:, None, None])
    )  # (n, h, w)
    images = tf.where(inside[..., None], tf.gather(images, partner), images)
    area = ((y2 - y1) * (x2 - x1) / (hf * wf))[:, None]
    labels = (1.0 - area) * labels + area * tf.gather(labels, partner)
    return images, labels


def _mix(images, labels, seed, mixup_alpha, cutmix_alpha):
    """MixUp and/or CutMix on a batch; with both on, each batch uses one of
    them, chosen with probability 0.5."""
    if mixup_alpha and cutmix_alpha:
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        use_cutmix = tf.random.stateless_uniform([], seeds[0]) < 0.5
        return tf.cond(
            use_cutmix,
            lambda: cutmix(images, labels, cutmix_alpha, seeds[1]),
            lambda: mixup(images, labels, mixup_alpha, seeds[1]),
        )
    if cutmix_alpha:
        return cutmix(images, labels, cutmix_alpha, seed)
    return mixup(images, labels, mixup_alpha, seed)


# --------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------


def _check_labels(labels, num_classes, n):
    labels = np.asarray(labels).astype(np.int64)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return labels


def _finish(ds, training, augment, mixup_alpha, cutmix_alpha, seed):
    """Batch-level augmentation and mixing (training only), then prefetch."""
    augment = Augment.from_value(augment) if training else None
    if augment is not None and augment.is_identity:
        augment = None
    mixing = training and (mixup_alpha > 0 or cutmix_alpha > 0)
    if augment is not None or mixing:
        # One (2,) seed per batch from a seeded random stream that changes every
        # epoch: reproducible, and safe to map in parallel.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def randomize(batch, batch_seed):
            x, y = batch
            shapes = x.shape, y.shape
            aug_seed, mix_seed = tf.unstack(tf.random.experimental.stateless_split(batch_seed, 2))
            if augment is not None:
                x = augment(x, aug_seed)
            if mixing:
                x, y = _mix(x, y, mix_seed, mixup_alpha, cutmix_alpha)
            # Keep the static shapes (batch, h, w, c): Keras' Random* layers return images of unknown
            # height and width, and Keras before 3.11 then fails in Flatten ("Only one input size
            # may be -1"; found by make oldest-check with Keras 3.8-3.10).
            return tf.ensure_shape(x, shapes[0]), tf.ensure_shape(y, shapes[1])

        ds = tf.data.Dataset.zip((ds, seeds)).map(randomize, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def make_dataset(
    images,
    labels,
    num_classes,
    batch_size=64,
    training=False,
    image_size=None,
    channels=None,
    augment=None,
    mixup_alpha=0.0,
    cutmix_alpha=0.0,
    shuffle_buffer=None,
    cache=True,
    seed=0,
):
    """A batched ``tf.data.Dataset`` of ``(images, one_hot_labels)`` from arrays.

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
    augment : ``None``/``False``, ``True`` (default :class:`Augment`), a dict of
        :class:`Augment` fields, or an :class:`Augment`.
    mixup_alpha, cutmix_alpha : float, Beta parameters of :func:`mixup` and
        :func:`cutmix`; 0 turns them off (with both on, each batch uses one).
    shuffle_buffer : int or ``None``; ``None`` shuffles the whole set (the order
        is shuffled as indices, so a full shuffle costs no image memory).
    cache : bool. ``True`` converts every image to ``float32`` once, up front
        (``n * height * width * channels * 4`` bytes: 28k images at 48x48x1 take
        260 MB, at 224x224x3 17 GB); ``False`` keeps ``uint8`` and converts each
        batch as it is drawn (4x less memory, the resize is redone every epoch).
    seed : int, seeds shuffling and augmentation.

    Returns a dataset of ``float32`` images ``(b, height, width, channels)`` in
    [0, 1] and ``float32`` one-hot labels ``(b, num_classes)``.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, h, w[, c]), got {images.shape}")
    n = len(images)
    labels = _check_labels(labels, num_classes, n)
    if cache:
        x = prepare_images(images, image_size, channels)
    else:
        x = tf.convert_to_tensor(images)
    y = tf.one_hot(labels, num_classes, dtype=tf.float32)

    # Shuffle and batch *indices*, then gather whole batches: one vectorised
    # op per batch, and shuffling costs no copy of the images.
    ds = tf.data.Dataset.range(n)
    if training:
        ds = ds.shuffle(shuffle_buffer or max(n, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if cache:
        ds = ds.map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx)), num_parallel_calls=AUTOTUNE)
    else:
        ds = ds.map(
            lambda idx: (convert_batch(tf.gather(x, idx), image_size, channels), tf.gather(y, idx)),
            num_parallel_calls=AUTOTUNE,
        )
    return _finish(ds, training, augment, mixup_alpha, cutmix_alpha, seed)


# --------------------------------------------------------------------------
# Class imbalance
# --------------------------------------------------------------------------


def undersample_indices(labels, seed=0):
    """Indices that keep, for every class present, a random subset the size of the
    smallest class (without replacement). Returns a sorted ``int64`` array, so
    ``split.take(idx)`` keeps images, labels and metadata together."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.min() if len(counts) else 0
    parts = [rng.choice(np.flatnonzero(labels == c), target, replace=False) for c in classes]
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)


def oversample_indices(labels, seed=0):
    """Indices that keep every image and repeat random images of each smaller class
    (with replacement) until every class present has as many as the largest.
    Returns a sorted ``int64`` array (repeated indices appear several times)."""
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
    """Sorted indices keeping at most ``cap`` random images of every class (rarer
    classes keep all theirs): a less skewed validation split for model selection."""
    labels = np.asarray(labels)
    if int(cap) < 1:
        raise ValueError(f"cap must be a positive number of images, got {cap!r}")
    rng = np.random.default_rng(seed)
    keep = [idx if len(idx) <= cap else rng.choice(idx, int(cap), replace=False)
            for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(keep)).astype(np.int64) if keep else np.zeros(0, np.int64)


def class_weights(labels, num_classes):
    """Keras ``class_weight`` dict ``{class: weight}`` from scikit-learn's
    ``"balanced"`` heuristic, ``n_samples / (n_classes_present * count)``: rare
    classes weigh more, and the mean weight over samples is 1. Classes absent
    from ``labels`` get weight 1.0."""
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    out = {c: 1.0 for c in range(num_classes)}
    out.update({int(c): float(w) for c, w in zip(present, weights)})
    return out


def random_augmentation(seed=None, flip=True, rotation=0.06, zoom=0.1, translation=0.06, contrast=0.3):
    """Keras preprocessing layers for training batches (``augment=`` of
    :func:`sampled_dataset`; call as ``aug(images, training=True)``).

    A ``keras.Sequential`` of ``RandomFlip("horizontal")``, ``RandomRotation(rotation)``
    (a fraction of a full turn), ``RandomZoom(+-zoom)``, ``RandomTranslation(+-translation)``
    (fractions of the image) and ``RandomContrast(contrast)``, each skipped when its
    value is 0 or ``False``. Applied inside ``tf.data`` (``ds.map``), never as model
    layers, so trained and exported models stay free of them. Images: ``(b, h, w, c)``
    float in [0, 1].
    """
    import keras

    random = keras.layers
    layers = [random.RandomFlip("horizontal", seed=seed)] if flip else []
    if rotation:
        layers.append(random.RandomRotation(rotation, fill_mode="reflect", seed=seed))
    if zoom:
        layers.append(random.RandomZoom((-zoom, zoom), fill_mode="reflect", seed=seed))
    if translation:
        layers.append(random.RandomTranslation(translation, translation, fill_mode="reflect", seed=seed))
    if contrast:
        layers.append(random.RandomContrast(contrast, seed=seed))
    return keras.Sequential(layers, name="augment")


def sampled_dataset(images, labels, num_classes, balance="sample", augment=None, batch_size=64, seed=0,
                    soft_targets=None):
    """An endless, shuffled ``tf.data`` stream of training batches.

    ``images``: ``(n, h, w, c)`` ``float32`` in [0, 1]; ``labels``: ``(n,)`` class indices.
    ``balance``:

    * ``"sample"``: class-balanced sampling, every class drawn equally often (rare
      classes repeat, frequent ones are seen less per epoch);
    * ``"weight"``: the natural stream, each image weighted by :func:`class_weights`
      (batches are ``(images, one_hot, sample_weight)``);
    * ``"none"``: the natural stream (a 97%-majority set stays 97% majority).

    ``augment``: ``None`` or a callable applied to each batch of images with
    ``training=True`` (e.g. a ``keras.Sequential`` of ``Random*`` layers). Yields
    ``(images, one_hot)`` batches; pass ``steps_per_epoch`` to ``fit``.
    """
    images, labels = np.asarray(images, dtype="float32"), np.asarray(labels, dtype=np.int64)
    if balance not in ("sample", "weight", "none"):
        raise ValueError(f"balance must be 'sample', 'weight' or 'none', got {balance!r}")
    if len(images) != len(labels) or not len(labels):
        raise ValueError(f"need as many labels as images (and at least one); got {len(labels)} and {len(images)}")
    _check_labels(labels, num_classes, len(labels))
    onehot = np.eye(num_classes, dtype="float32")[labels]
    if soft_targets is not None:
        soft_targets = np.asarray(soft_targets, dtype="float32")
        if soft_targets.shape != onehot.shape:
            raise ValueError(f"soft_targets must have shape {onehot.shape}, got {soft_targets.shape}")
    targets = onehot if soft_targets is None else (onehot, soft_targets)
    pick = (lambda mask: targets[mask]) if soft_targets is None else (lambda mask: (onehot[mask], soft_targets[mask]))
    if balance == "sample":
        parts = [tf.data.Dataset.from_tensor_slices((images[labels == c], pick(labels == c)))
                 .shuffle(int((labels == c).sum()), seed=seed + c).repeat()
                 for c in range(num_classes) if (labels == c).any()]
        ds = tf.data.Dataset.sample_from_datasets(parts, seed=seed)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, targets)).shuffle(len(images), seed=seed).repeat()
    ds = ds.batch(batch_size)
    if augment is not None:
        def augment_batch(x, y):
            return augment(x, training=True), y

        ds = ds.map(augment_batch, num_parallel_calls=1)
    if balance == "weight":
        w = class_weights(labels, num_classes)
        table = tf.constant([w[c] for c in range(num_classes)], dtype=tf.float32)

        def add_weights(x, y):
            return x, y, tf.gather(table, tf.argmax(y if soft_targets is None else y[0], axis=1))

        ds = ds.map(add_weights)
    return ds.prefetch(2)
