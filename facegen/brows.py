"""The brows and the forehead above them: forehead wrinkles, the lines between the
brows, and the brows themselves.

Parameters read: ``eye_y`` and ``brow_gap`` (brow height above the eye),
``brow_slant`` (a resting frown), ``brow_arch``, ``brow_len``, ``brow_thick``,
``brow_dark``, ``hair`` (brow colour), ``face_w``, ``age`` and ``yaw``; action units
1 (inner brow raiser), 2 (outer brow raiser), 4 (brow lowerer: brows down and
together, lines between them) and 9 (nose wrinkler: inner ends pulled down).
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas, Face, band, ramp, stripes

_BROW_BASE = np.array([0.10, 0.07, 0.05], dtype=np.float32)


def brow_height(face: Face) -> np.ndarray:
    """y (B, 1, 1) of the brows at rest."""
    return face.column("eye_y") - face.column("brow_gap")


def shade_forehead(canvas: Canvas, face: Face, shade: np.ndarray) -> None:
    """Horizontal forehead wrinkles (age, raised brows: AU1, AU2) and the vertical
    lines between the brows (brow lowerer, AU4)."""
    au, pixel = face.au, canvas.pixel
    age, brow_y = face.column("age"), brow_height(face)
    rows, cols, y, x = canvas.window(-0.75, -0.1, -0.5, 0.5)
    top = brow_y - 0.05
    envelope = (np.clip(1.0 - (x / (face.column("face_w") * 0.8)) ** 2, 0.0, 1.0)
                * np.clip((top - y) / 0.05, 0.0, 1.0) * np.clip((y - top + 0.28) / 0.08, 0.0, 1.0))
    strength = 0.10 * age ** 2 + 0.28 * (0.6 * au[1] + 0.5 * au[2])
    shade[:, rows, cols] -= strength * envelope * stripes(y - top + 0.15 * x * x, 0.085, pixel) ** 2
    rows, cols, y, x = canvas.window(-0.45, -0.05, -0.12, 0.12)
    lines = ramp(np.abs(np.abs(x - face.centre_x) - 0.035) - 0.005, pixel)
    envelope = band(y, brow_y - 0.05, brow_y + 0.09, pixel)
    shade[:, rows, cols] -= (0.3 * au[4] + 0.05 * age) * envelope * lines


def brow_curve(face: Face, side: float):
    """The left (``side=-1``) or right (``side=1``) brow's inner and outer end, x and y,
    and its arch, (B, 1, 1) each."""
    au, brow_y = face.au, brow_height(face)
    middle = face.centre_x + face.column("yaw") * 0.05
    inner_x = middle + side * (0.055 - 0.02 * au[4])
    outer_x = middle + side * (0.055 + face.column("brow_len"))
    inner_y = brow_y - 0.12 * au[1] + 0.075 * au[4] + face.column("brow_slant") + 0.02 * au[9]
    outer_y = brow_y - 0.11 * au[2] + 0.015 * au[4] - 0.015 * au[1]
    arch = face.column("brow_arch") + 0.02 * au[2] - 0.01 * au[4]
    return inner_x, outer_x, inner_y, outer_y, arch


def draw(canvas: Canvas, face: Face) -> None:
    """Both brows: arched strokes thinning outwards, darker than the hair."""
    pixel = canvas.pixel
    colour = face.hair + 0.85 * (_BROW_BASE - face.hair)
    darkness, thickness = face.column("brow_dark"), face.column("brow_thick")
    for side in (-1.0, 1.0):
        inner_x, outer_x, inner_y, outer_y, arch = brow_curve(face, side)
        rows, cols, y, x = canvas.window(-0.6, -0.02, min(0, side * 0.42), max(0, side * 0.42))
        t = (x - inner_x) / (outer_x - inner_x)  # 0 at the inner end, 1 at the outer end
        centre_y = inner_y + (outer_y - inner_y) * t - arch * 4.0 * t * (1.0 - t)
        half_height = thickness * (1.15 - 0.5 * np.clip(t, 0.0, 1.0))
        length = np.abs(outer_x - inner_x)
        coverage = (ramp(np.abs(y - centre_y) - half_height, pixel)
                    * np.clip(np.minimum(t, 1.0 - t) * length / pixel + 0.5, 0.0, 1.0))
        canvas.paint(rows, cols, coverage * darkness, colour)
