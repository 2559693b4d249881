"""The head: skin colour, hair (behind and on top of the head), clothes, neck, ears,
the face's outline with its base shading, and the nose.

Parameters read: ``skin``, ``flush`` and ``pallor`` (skin colour); ``hair``,
``hair_style``, ``hair_len``, ``hairline`` and ``identity`` (which side a side
parting falls); ``clothes``; ``face_w``, ``face_h`` (half width and height),
``jaw`` (taper of the lower face) and ``yaw``; ``eye_y`` (the ears' height);
``nose_y`` and ``nose_w``; action units 26 (jaw drop: a longer chin), 9 (nose
wrinkler: the nose rises, widens and wrinkles) and 10 (upper lip raiser: the nose rises).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .canvas import Canvas, Face, band, ramp, stripes
from .params import HAIR_STYLES

BALD, LONG_HAIR, FRINGE, SIDE_PART = (HAIR_STYLES.index(name) for name in ("bald", "long", "fringe", "side_part"))


def skin_colour(params: dict) -> np.ndarray:
    """Skin RGB (B, 3) with the weak colour cues: a red ``flush`` and a grey ``pallor``."""
    f32 = np.float32
    skin = params["skin"].astype(f32)
    flush = np.clip(params["flush"].astype(f32), -1.0, 2.0)[:, None]
    skin = skin * (1.0 + flush * np.array([0.07, -0.025, -0.04], dtype=f32))
    pallor = np.clip(params["pallor"].astype(f32), 0.0, 1.0)[:, None]
    grey = skin.mean(axis=1, keepdims=True) * 1.06
    return np.clip(skin + pallor * 0.45 * (grey - skin), 0.0, 1.0)


def draw_back_hair(canvas: Canvas, face: Face) -> None:
    """Long hair: an ellipse behind the head, longer with ``hair_len``."""
    images = np.flatnonzero(face.params["hair_style"] == LONG_HAIR)
    if not len(images):
        return
    hair_len = face.column("hair_len")[images]
    width, height = face.column("face_w")[images], face.column("face_h")[images]
    rows, cols, y, x = canvas.window(-0.9, 1.0, -0.75, 0.75)
    radius_y = height * (1.1 + 0.35 * hair_len)
    distance = np.sqrt(((x - face.centre_x[images]) / (width * 1.32)) ** 2
                       + ((y - face.centre_y - 0.05 - 0.3 * hair_len) / radius_y) ** 2) - 1.0
    canvas.paint(rows, cols, ramp(distance * width, canvas.pixel), face.hair[images] * 0.8,
                 cover=True, images=images)


def draw_clothes_and_neck(canvas: Canvas, face: Face) -> None:
    """Shoulders in the ``clothes`` colour at the bottom edge, and a shaded neck."""
    centre_x = face.centre_x
    rows, cols, y, x = canvas.window(0.8, 1.0, -1.0, 1.0)
    distance = np.sqrt(((x - centre_x * 0.5) / 0.95) ** 2 + ((y - 1.38) / 0.55) ** 2) - 1.0
    canvas.paint(rows, cols, ramp(distance * 0.55, canvas.pixel), face.params["clothes"].astype(np.float32),
                 cover=True)
    rows, cols, y, x = canvas.window(0.27, 1.0, -0.32, 0.32)
    neck = ramp(np.maximum(np.abs(x - centre_x) - face.column("face_w") * 0.52, face.centre_y + 0.25 - y),
                canvas.pixel)
    canvas.paint(rows, cols, neck, face.skin * 0.72, cover=True)


def draw_ears(canvas: Canvas, face: Face) -> None:
    """Two small ellipses at eye height, hidden by long hair."""
    long_hair = (face.params["hair_style"] == LONG_HAIR).astype(np.float32)[:, None, None]
    ear_y = face.column("eye_y") + 0.09
    width = face.column("face_w")
    for side in (-1.0, 1.0):
        rows, cols, y, x = canvas.window(-0.35, 0.25, min(side * 0.3, side * 0.63), max(side * 0.3, side * 0.63))
        distance = np.sqrt(((x - face.centre_x - side * width * 0.97) / 0.065) ** 2
                           + ((y - ear_y) / 0.12) ** 2) - 1.0
        canvas.paint(rows, cols, ramp(distance * 0.065, canvas.pixel) * (1 - long_hair), face.skin * 0.85,
                     cover=True)


class Skin(NamedTuple):
    """The face's skin before it is painted: its window (``rows``, ``cols``), its
    ``coverage`` there (B, h, w) and the ``shade`` (B, size, size) multiplying the skin
    colour, which the parts darken (wrinkles, folds) or lighten (cheeks)."""

    rows: slice
    cols: slice
    coverage: np.ndarray
    shade: np.ndarray


def face_outline(canvas: Canvas, face: Face) -> Skin:
    """An egg shape tapering towards the chin (``jaw``; the jaw drop, AU26, lengthens it),
    shaded darker towards its edge so it looks round."""
    width, height, jaw = face.column("face_w"), face.column("face_h"), face.column("jaw")
    centre_x, centre_y = face.centre_x, face.centre_y
    rows, cols, y, x = canvas.window(-0.72, 0.86, -0.6, 0.6)
    chin = height * (1.0 + 0.10 * face.au[26])
    yy = (y - centre_y) / np.where(y > centre_y, chin, height)
    taper = 1.0 - jaw * np.clip(yy, 0.0, 1.0) ** 2
    xx = (x - centre_x) / (width * taper)
    radius2 = xx * xx + yy * yy
    coverage = ramp((np.sqrt(radius2) - 1.0) * width, canvas.pixel)
    shade = np.ones((face.batch, canvas.size, canvas.size), dtype=np.float32)
    shade[:, rows, cols] = 1.0 - 0.28 * np.minimum(radius2, 1.0) ** 2
    return Skin(rows, cols, coverage, shade)


def paint_skin(canvas: Canvas, face: Face, skin: Skin) -> None:
    """Paint the face outline in the skin colour times its shading."""
    colour = face.skin[:, :, None, None] * skin.shade[:, None, skin.rows, skin.cols]
    canvas.paint(skin.rows, skin.cols, skin.coverage, colour, cover=True)


def nose_geometry(face: Face):
    """Nose centre x, height of its tip and width factor, (B, 1, 1) each: the nose
    wrinkler (AU9) and upper lip raiser (AU10) pull it up, AU9 widens it."""
    au = face.au
    x = face.centre_x + face.column("yaw") * 0.10
    y = face.column("nose_y") - 0.025 * au[9] - 0.012 * au[10]
    width = face.column("nose_w") * (1.0 + 0.25 * au[9])
    return x, y, width


def shade_nose(canvas: Canvas, face: Face, shade: np.ndarray) -> None:
    """The nose is drawn by shading only: bridge, tip shadow, nostrils and the
    wrinkles of the nose wrinkler (AU9)."""
    pixel = canvas.pixel
    nose_x, nose_y, nose_w = nose_geometry(face)
    eye_y = face.column("eye_y")
    rows, cols, y, x = canvas.window(-0.2, 0.35, -0.25, 0.25)
    dx, dy = x - nose_x, y - nose_y
    bridge = band(np.abs(dx), 0.045 * nose_w, 0.06 * nose_w, pixel) * band(y, eye_y, nose_y - 0.03, pixel)
    tip = np.clip(1.0 - (dx / (0.075 * nose_w)) ** 2 - ((dy - 0.015) / 0.035) ** 2, 0.0, 1.0)
    nostril = ramp(np.sqrt(((np.abs(dx) - 0.036 * nose_w) / (0.019 * nose_w)) ** 2 + ((dy + 0.003) / 0.011) ** 2)
                   - 1.0, pixel / 0.015)
    wrinkles = np.clip(1.0 - np.abs(dx) / 0.07, 0.0, 1.0) * band(y, eye_y + 0.03, nose_y - 0.07, pixel)
    wrinkles = wrinkles * stripes(y, 0.06, pixel)
    shade[:, rows, cols] -= 0.07 * bridge + 0.10 * tip + 0.5 * nostril + 0.45 * face.au[9] * wrinkles


def draw_top_hair(canvas: Canvas, face: Face) -> None:
    """Hair over the head above a hairline (``hairline``): curved, lower with a
    fringe (wavy edge), tilted with a side parting; none when bald."""
    style = face.params["hair_style"]
    width, height = face.column("face_w"), face.column("face_h")
    centre_x, centre_y = face.centre_x, face.centre_y
    rows, cols, y, x = canvas.window(-0.82, 0.35, -0.62, 0.62)
    fringe = (style == FRINGE).astype(np.float32)[:, None, None]
    part = (style == SIDE_PART).astype(np.float32)[:, None, None]
    has_hair = (style != BALD).astype(np.float32)[:, None, None]
    hairline = centre_y - height * face.column("hairline") * (1 - 0.45 * fringe)
    tilt = part * 0.15 * np.sign(face.params["identity"] % 2 - 0.5).astype(np.float32)[:, None, None]
    edge_y = (hairline + (0.9 - 0.5 * fringe) * (x - centre_x) ** 2 + tilt * (x - centre_x)
              + fringe * 0.02 * np.cos((x - centre_x) * 60.0))
    head = np.sqrt(((x - centre_x) / (width * 1.1)) ** 2 + ((y - centre_y + 0.03) / (height * 1.07)) ** 2) - 1.0
    coverage = ramp(head * width, canvas.pixel) * np.clip((edge_y - y) / canvas.pixel + 0.5, 0.0, 1.0) * has_hair
    colour = face.hair[:, :, None, None] * (0.85 + 0.15 * np.clip((y - edge_y + 0.4) / 0.4, 0.0, 1.0))[:, None]
    canvas.paint(rows, cols, coverage, colour, cover=True)
