"""The mouth and the skin around it: nasolabial folds, the chin's furrow and boss,
then lips, the opening and the teeth.

Parameters read: ``mouth_y``, ``mouth_w``, ``mouth_curve`` (resting corner lift),
``lip_thick``, ``lip_red``, ``age``, ``yaw``, and the nose (its folds start at the
nostrils); action units 12 (lip corner puller: the smile), 15 (lip corner
depressor), 10 (upper lip raiser), 16 (lower lip depressor), 17 (chin raiser), 20
(lip stretcher), 23 (lip tightener), 25 (lips part), 26 (jaw drop), 6 and 9 (folds).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .canvas import Canvas, Face, band, ramp
from .head import nose_geometry

_INSIDE = np.array([0.12, 0.03, 0.03], dtype=np.float32)
_TEETH = np.array([0.90, 0.88, 0.80], dtype=np.float32)
_LIP_TINT = np.array([0.25, 0.5, 0.48], dtype=np.float32)


def mouth_centre_x(face: Face) -> np.ndarray:
    return face.centre_x + face.column("yaw") * 0.07


def shade_folds(canvas: Canvas, face: Face, shade: np.ndarray) -> None:
    """Nasolabial folds from the nose wings to beyond the mouth corners: deeper with a
    smile (AU12), upper lip raiser (AU10), nose wrinkler (AU9), cheek raiser (AU6) and age."""
    au, pixel = face.au, canvas.pixel
    nose_x, nose_y, nose_w = nose_geometry(face)
    mouth_w = face.column("mouth_w")
    rows, cols, y, x = canvas.window(0.0, 0.65, -0.45, 0.45)
    depth = (0.04 + 0.1 * face.column("age") + 0.22 * au[12] + 0.22 * au[10] + 0.15 * au[9] + 0.05 * au[6])
    start_y, end_y = nose_y - 0.02, face.column("mouth_y") + 0.08
    along = np.clip((y - start_y) / (end_y - start_y), 0.0, 1.0)  # 0 at the nose, 1 at the end
    ends = np.clip(6.0 * along * (1.0 - along), 0.0, 1.0)
    for side in (-1.0, 1.0):
        start_x = nose_x + side * 0.075 * nose_w
        end_x = mouth_centre_x(face) + side * (mouth_w + 0.04 + 0.04 * au[12] + 0.03 * au[20])
        fold_x = start_x + (end_x - start_x) * along + side * (0.015 + 0.03 * au[12]) * 4 * along * (1 - along)
        line = ramp(np.abs(x - fold_x) - 0.006 - 0.008 * au[12], pixel)
        shade[:, rows, cols] -= np.minimum(depth, 0.45) * line * ends


def shade_chin(canvas: Canvas, face: Face, shade: np.ndarray) -> None:
    """The furrow under the lower lip and the chin's boss, both marked by the chin raiser (AU17)."""
    au = face.au
    rows, cols, y, x = canvas.window(0.3, 0.85, -0.2, 0.2)
    centre_x = mouth_centre_x(face)
    furrow_y = face.column("mouth_y") + 0.085 + 0.05 * au[26]
    furrow = (ramp(np.abs(y - furrow_y + 0.6 * (x - centre_x) ** 2) - 0.008, canvas.pixel)
              * np.clip(1.0 - np.abs(x - centre_x) / 0.08, 0.0, 1.0))
    boss = np.clip(1.0 - ((x - centre_x) / 0.08) ** 2 - ((y - furrow_y - 0.07) / 0.05) ** 2, 0.0, 1.0)
    shade[:, rows, cols] += -(0.06 + 0.4 * au[17]) * furrow + 0.08 * au[17] * boss


def mouth_shape(face: Face) -> SimpleNamespace:
    """The mouth's shape from the action units, (B, 1, 1) each: ``y`` of its middle,
    half ``width``, ``corner`` lift (a smile lifts the corners, AU15 lowers them),
    ``hump`` (middle raised), how far the lips part upwards (``open_upper``) and
    downwards (``open_lower``), and the ``lip`` thickness."""
    au = face.au
    y = face.column("mouth_y") - 0.015 * au[17] - 0.012 * au[10] + 0.008 * au[15]
    width = face.column("mouth_w") * (1.0 + 0.22 * au[12] + 0.28 * au[20] - 0.18 * au[23]
                                      - 0.15 * au[26] * (1.0 - au[20]) - 0.08 * au[17] + 0.05 * au[10])
    corner = face.column("mouth_curve") + 0.14 * au[12] - 0.09 * au[15] - 0.012 * au[20] - 0.01 * au[17]
    hump = 0.02 * au[17] + 0.01 * au[15]
    open_upper = 0.010 * au[25] + 0.045 * au[10] + 0.015 * au[26] + 0.02 * au[12] * au[25]
    open_lower = 0.02 * au[25] + 0.17 * au[26] + 0.05 * au[16] + 0.03 * au[20] * au[25] + 0.04 * au[12] * au[25]
    thin = np.clip(1.0 - 0.55 * au[23] - 0.3 * au[20] - 0.2 * au[12], 0.25, 1.0)
    return SimpleNamespace(y=y, width=width, corner=corner, hump=hump, open_upper=open_upper,
                           open_lower=open_lower, lip=face.column("lip_thick") * thin)


def draw(canvas: Canvas, face: Face) -> None:
    """Lips around a dark opening, and teeth showing when it is open."""
    pixel, au, skin = canvas.pixel, face.au, face.skin
    shape = mouth_shape(face)
    rows, cols, y, x = canvas.window(0.1, 0.8, -0.42, 0.42)
    t = (x - mouth_centre_x(face)) / shape.width  # -1 .. 1 from corner to corner
    profile = np.clip(1.0 - t * t, 0.0, None)
    root = np.sqrt(profile)
    middle_y = shape.y - shape.corner * t * t - shape.hump * profile
    seam = 0.007 + 0.005 * root
    top_y = middle_y - shape.open_upper * root - seam
    bottom_y = middle_y + shape.open_lower * root + seam
    across = ramp(np.abs(t) - 1.0, pixel / shape.width)
    lips = band(y, top_y - shape.lip * (0.35 + 0.65 * root), bottom_y + 1.25 * shape.lip * (0.35 + 0.65 * root),
                pixel) * across
    canvas.paint(rows, cols, lips, skin * (1.0 - face.column("lip_red")[:, 0] * _LIP_TINT))
    inside = band(y, top_y, bottom_y, pixel) * across
    canvas.paint(rows, cols, inside, np.broadcast_to(_INSIDE, skin.shape))
    gap = shape.open_upper + shape.open_lower
    show_upper = np.clip(1.2 * au[12] + au[10] + 0.6 * au[20], 0.0, 1.0)
    show_lower = np.clip(au[16] + 0.7 * au[20], 0.0, 1.0)
    teeth = inside * np.clip(np.maximum(top_y + seam + 0.45 * gap * show_upper * root - y,
                                        y - bottom_y + seam + 0.3 * gap * show_lower * root) / pixel + 0.5, 0.0, 1.0)
    canvas.paint(rows, cols, teeth * np.minimum(gap / 0.012, 1.0), np.broadcast_to(_TEETH, skin.shape))
