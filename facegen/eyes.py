"""The eyes: the skin around them (sockets, cheeks, crow's feet, bags) and the eyes
themselves (white, iris, pupil, upper lid line).

Parameters read: ``eye_dx`` (half the distance between the eyes), ``eye_y``,
``eye_w``, ``eye_h``, ``iris`` (colour), ``gaze`` (x, y in [-1, 1]), ``hair`` (lash
colour), ``age`` (crow's feet and bags) and ``yaw``; action units 5 (upper lid
raiser: wider open), 6 (cheek raiser: cheeks up, eyes narrowed, crow's feet), 7 (lid
tightener: narrower) and 4 (brow lowerer: deeper sockets, a little narrower).
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas, Face, band, ramp, stripes

_SCLERA = np.array([0.93, 0.91, 0.88], dtype=np.float32)


def eye_centre_x(face: Face, side: float) -> np.ndarray:
    """x (B, 1, 1) of the left (``side=-1``) or right (``side=1``) eye's centre."""
    return face.centre_x + side * face.column("eye_dx") + face.column("yaw") * 0.05


def shade_surroundings(canvas: Canvas, face: Face, shade: np.ndarray) -> None:
    """Eye sockets (deeper with lowered brows), the cheek raiser's highlight, crow's feet and eye bags."""
    au, pixel = face.au, canvas.pixel
    eye_y, eye_w, eye_h, age = face.column("eye_y"), face.column("eye_w"), face.column("eye_h"), face.column("age")
    for side in (-1.0, 1.0):
        rows, cols, y, x = canvas.window(-0.4, 0.3, min(0, side * 0.45), max(0, side * 0.45))
        dx, dy = x - eye_centre_x(face, side), y - eye_y
        socket = np.clip(1.0 - (dx / (eye_w * 1.7)) ** 2 - ((dy + 0.035) / 0.075) ** 2, 0.0, 1.0)
        cheek = np.clip(1.0 - (dx / 0.11) ** 2 - ((dy - 0.16 + 0.035 * au[6]) / 0.075) ** 2, 0.0, 1.0)
        outward = side * dx - eye_w * 1.1
        crow = (np.clip(np.minimum(outward / 0.015, 1.0 - outward / 0.08), 0.0, 1.0)
                * np.clip(1.0 - np.abs(dy) / 0.06, 0.0, 1.0))
        crow = crow * stripes(dy / (np.abs(outward) + 0.02), 0.7, pixel / 0.05) ** 4
        bag_top = eye_h * 0.8 + 0.025 - 0.02 * au[6]
        bag = band(dy, bag_top, eye_h * 0.8 + 0.04 - 0.02 * au[6], pixel) * np.clip(1.0 - (dx / eye_w) ** 2, 0.0, 1.0)
        shade[:, rows, cols] += (
            -(0.10 + 0.12 * au[4]) * socket + 0.10 * au[6] * cheek
            - (0.3 * au[6] + 0.12 * age) * crow - (0.22 * au[6] + 0.12 * age) * bag
        )


def lid_heights(face: Face):
    """How far the upper and lower lids stand from the eye's midline at its centre,
    (B, 1, 1) each: the upper lid raiser (AU5) opens the eye, the lid tightener (AU7),
    cheek raiser (AU6) and brow lowerer (AU4) narrow it."""
    au, eye_h = face.au, face.column("eye_h")
    upper = eye_h * np.maximum(1.0 + 1.0 * au[5] - 0.5 * au[7] - 0.3 * au[6] - 0.15 * au[4], 0.2)
    lower = eye_h * 0.75 * np.maximum(1.0 + 0.3 * au[5] - 0.6 * au[7] - 0.6 * au[6], 0.1)
    return upper, lower


def draw(canvas: Canvas, face: Face) -> None:
    """Both eyes: the white between the lids, the iris and pupil looking along ``gaze``, the lash line."""
    upper, lower = lid_heights(face)
    colours = {
        "sclera": face.skin + 0.8 * (_SCLERA - face.skin),
        "iris": face.params["iris"].astype(np.float32),
        "lash": np.minimum(face.hair, 0.2) * 0.6,
    }
    for side in (-1.0, 1.0):
        _draw_eye(canvas, face, side, upper, lower, colours)


def _draw_eye(canvas, face, side, upper, lower, colours):
    pixel = canvas.pixel
    eye_y, eye_h, yaw = face.column("eye_y"), face.column("eye_h"), face.column("yaw")
    gaze = face.params["gaze"].astype(np.float32)
    centre_x = eye_centre_x(face, side)
    width = face.column("eye_w") * (1.0 + side * yaw * 0.12)  # the far eye looks narrower
    rows, cols, y, x = canvas.window(-0.3, 0.12, min(side * 0.02, side * 0.36), max(side * 0.02, side * 0.36))
    t = (x - centre_x) / width
    profile = np.clip(1.0 - t * t, 0.0, None)
    upper_y = eye_y - upper * profile
    lower_y = eye_y + lower * profile
    opening = band(y, upper_y, lower_y, pixel) * ramp(np.abs(t) - 1.0, pixel / width)
    canvas.paint(rows, cols, opening, colours["sclera"])
    iris_x = centre_x + gaze[:, 0, None, None] * width * 0.3
    iris_y = eye_y + gaze[:, 1, None, None] * eye_h * 0.3
    distance = np.sqrt((x - iris_x) ** 2 + (y - iris_y) ** 2)
    radius = width * 0.42
    canvas.paint(rows, cols, opening * ramp(distance - radius, pixel), colours["iris"])
    canvas.paint(rows, cols, opening * ramp(distance - radius * 0.45, pixel), np.full_like(colours["iris"], 0.03))
    lash = ramp(np.abs(y - upper_y + 0.004) - 0.008 - 0.008 * profile, pixel) * ramp(np.abs(t) - 1.05, pixel / width)
    canvas.paint(rows, cols, lash, colours["lash"])
