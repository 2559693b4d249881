"""What a network looks at: :func:`grad_cam` maps (Selvaraju et al., 2017), masks of the
eyes and mouth (:func:`face_regions`) and each map's share on them (:func:`region_shares`)
next to their share of the image. A network that reads the expression puts more than its
area's share on the eyes and the mouth; one that uses a shortcut (colour flush, glasses,
text, background) puts it elsewhere.
"""

from __future__ import annotations

import numpy as np

__all__ = ["face_regions", "grad_cam", "region_shares"]

#: Boxes of the face regions in the generator's canonical face frame (x, y from -1 to 1,
#: y downwards, 1.0 = half the image width before the pose's scale), ``(x0, x1, y0, y1)``.
#: They cover the eyes and brows (``eye_y`` ~ -0.08, ``eye_dx`` <= 0.23, ``eye_w`` <= 0.12,
#: brows up to ~0.2 above the eyes) and the mouth (``mouth_y`` 0.34-0.41, ``mouth_w`` <= 0.21,
#: opened downwards by up to ~0.17) of :mod:`facegen`.
_REGIONS = {
    "eyes": (-0.40, 0.40, -0.32, 0.04),
    "mouth": (-0.32, 0.32, 0.22, 0.60),
}

#: The generator's average pose (scale drawn from 1.4 to 1.7, no shift, no rotation): where
#: the regions sit in a centred face crop, used for images without pose metadata (photos).
_CENTRED_POSE = {"scale": 1.55, "shift_x": 0.0, "shift_y": 0.0, "rotation_deg": 0.0}


def _last_feature_layer(model):
    """The last convolutional feature map of a model, which Grad-CAM reads.

    Parameters
    ----------
    model : keras.Model
        A Keras model.

    Returns
    -------
    str
        The name of its last layer with a 4-D ``(images, height, width, channels)`` output;
        ``ValueError`` when it has none.
    """
    for layer in reversed(model.layers):
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4:
            return layer.name
    raise ValueError(f"model {model.name!r} has no layer with a 4-D (images, height, width, channels) output")


def grad_cam(model, images, class_index=None, layer=None, batch_size=64):
    """Grad-CAM maps of ``model`` for ``images``.

    For each image, the gradient of the class score with respect to the feature
    map of ``layer`` is averaged over the map's positions (one weight per
    channel); the map is the ReLU of the channels summed with these weights,
    resized to the image and divided by its sum.

    Parameters
    ----------
    model : keras.Model
        A functional Keras classifier (softmax output).
    images : array (n, height, width, channels)
        The model's inputs, already scaled as it expects (float32).
    class_index : None, int or array (n,)
        Class whose score is explained: ``None`` for each image's predicted class.
    layer : str, optional
        Name of the feature layer; by default :func:`_last_feature_layer`.
    batch_size : int
        Images per gradient computation.

    Returns
    -------
    maps : array (n, height, width) float32
        Non-negative, each summing to 1 (all zeros where the ReLU leaves nothing).
    """
    import keras
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images: expected shape (n, height, width, channels), got {images.shape}")
    layer = layer or _last_feature_layer(model)
    probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    if class_index is not None:
        class_index = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (len(images),))
    maps = []
    for start in range(0, len(images), batch_size):
        x = tf.convert_to_tensor(images[start:start + batch_size])
        with tf.GradientTape() as tape:
            features, proba = probe(x, training=False)
            chosen = (tf.argmax(proba, axis=1) if class_index is None
                      else tf.constant(class_index[start:start + batch_size]))
            score = tf.gather(proba, chosen, axis=1, batch_dims=1)
        grads = tape.gradient(score, features)                       # (b, h, w, c)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # (b, 1, 1, c)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]  # (b, h, w, 1)
        cam = tf.image.resize(cam, images.shape[1:3], method="bilinear")[..., 0]
        maps.append(cam.numpy())
    maps = np.concatenate(maps).astype(np.float32)
    total = maps.sum(axis=(1, 2), keepdims=True)
    return np.divide(maps, total, out=np.zeros_like(maps), where=total > 0)


def face_regions(size, meta=None, n=None):
    """Masks of the face regions (:data:`_REGIONS`) of generated faces.

    Parameters
    ----------
    size : int
        Image height and width.
    meta : pandas.DataFrame or dict, optional
        The faces' pose (``scale``, ``shift_x``, ``shift_y``, ``rotation_deg``; one row per
        image), as ``EmotionDataset`` metadata holds it.
    n : int, optional
        Without ``meta``: that many masks of a centred face (:data:`_CENTRED_POSE`).

    Returns
    -------
    dict of str to array of bool, shape (n, size, size)
        ``{region: mask}``.
    """
    from facegen.camera import face_frame

    if meta is not None:
        pose = {k: np.asarray(meta[k], dtype=np.float32) for k in _CENTRED_POSE}
    else:
        pose = {k: np.full(n or 1, v, dtype=np.float32) for k, v in _CENTRED_POSE.items()}
    x, y = face_frame(pose, size)  # the generator's own inverse warp: picture -> canonical face frame
    return {name: (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) for name, (x0, x1, y0, y1) in _REGIONS.items()}


def region_shares(maps, regions):
    """How much of each attribution map falls on each region, against the region's area.

    Parameters
    ----------
    maps : array of shape (n, height, width)
        Non-negative maps (Grad-CAM); all-zero maps are left out.
    regions : dict of str to array of bool, shape (n, height, width) or (height, width)
        Masks that do not overlap; the pixels outside them are the region ``"rest"``.

    Returns
    -------
    pandas.DataFrame
        One row per region: ``attribution`` (mean share of the maps), ``area`` (mean share of the
        pixels) and ``ratio`` (1 for an even map; above 1 where the network looks more than size
        explains).
    """
    import pandas as pd

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        raise ValueError(f"maps: expected shape (n, height, width), got {maps.shape}")
    total = maps.sum(axis=(1, 2))
    keep = total > 0
    if not keep.any():
        raise ValueError("maps: every map is all zeros; nothing to attribute")
    masks = {k: np.broadcast_to(np.asarray(v, dtype=bool), maps.shape) for k, v in regions.items()}
    masks["rest"] = ~np.logical_or.reduce(list(masks.values()))
    rows = {}
    for name, mask in masks.items():
        attribution = (maps * mask).sum(axis=(1, 2))[keep] / total[keep]
        area = mask.mean(axis=(1, 2))[keep]
        rows[name] = {"attribution": attribution.mean(), "area": area.mean(),
                      "ratio": attribution.mean() / max(area.mean(), 1e-12)}
    return pd.DataFrame(rows).T
