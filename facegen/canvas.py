"""Drawing primitives shared by the parts of a face.

A :class:`Canvas` holds a batch of planar RGB images with an alpha plane in the
canonical face frame (x and y from -1 to 1, y downwards). A part asks for the
pixels of a box (:meth:`Canvas.window`), computes a soft coverage there from a
signed distance (:func:`ramp`, :func:`band`) and alpha-blends a colour into it
(:meth:`Canvas.paint`). :class:`Face` is what every part reads: the batch's
parameters as ``(B, 1, 1)`` columns, its action units, the face centre and the
skin and hair colours.
"""

from __future__ import annotations

import math

import numpy as np

from .expressions import ACTION_UNITS


def pixel_centres(size: int) -> np.ndarray:
    """Canonical coordinates (size,) of the centres of ``size`` pixels spanning [-1, 1]."""
    return ((np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0).astype(np.float32)


class Canvas:
    """Batch of ``batch`` RGB images (planar, ``rgb`` (B, 3, size, size)) with ``alpha``
    (B, size, size), painted window by window; ``pixel`` is one pixel in canonical units."""

    def __init__(self, batch: int, size: int):
        self.size = size
        self.pixel = 2.0 / size
        self.coord = pixel_centres(size)
        self.rgb = np.zeros((batch, 3, size, size), dtype=np.float32)
        self.alpha = np.zeros((batch, size, size), dtype=np.float32)

    def window(self, y0, y1, x0, x1):
        """Pixel slices ``rows, cols`` covering the canonical box [x0, x1] x [y0, y1] and the
        coordinates of their pixel centres, ``y`` (1, h, 1) and ``x`` (1, 1, w)."""
        size, pixel = self.size, self.pixel
        i0 = int(np.clip(math.floor((y0 + 1) / pixel), 0, size))
        i1 = int(np.clip(math.ceil((y1 + 1) / pixel), 0, size))
        j0 = int(np.clip(math.floor((x0 + 1) / pixel), 0, size))
        j1 = int(np.clip(math.ceil((x1 + 1) / pixel), 0, size))
        rows, cols = slice(i0, max(i0, i1)), slice(j0, max(j0, j1))
        return rows, cols, self.coord[rows][None, :, None], self.coord[cols][None, None, :]

    def paint(self, rows, cols, coverage, colour, cover=False, images=None):
        """Alpha-blend ``colour`` ((B, 3) or (B, 3, h, w)) with ``coverage`` (B, h, w) into the
        window ``rows, cols``; ``cover=True`` also adds the coverage to the alpha plane;
        ``images`` (indices) restricts it to some images (then B is their number)."""
        if colour.ndim == 2:
            colour = colour[:, :, None, None]
        which = slice(None) if images is None else images
        target = self.rgb[which, :, rows, cols]
        change = colour - target
        change *= coverage[:, None]
        target += change
        if images is not None:
            self.rgb[which, :, rows, cols] = target
        if cover:
            alpha = self.alpha[which, rows, cols]
            alpha += coverage * (1.0 - alpha)
            if images is not None:
                self.alpha[which, rows, cols] = alpha


def ramp(distance, pixel):
    """Coverage from a signed ``distance`` (negative inside), anti-aliased over one ``pixel``."""
    return np.clip(0.5 - distance * (1.0 / pixel), 0.0, 1.0)


def band(y, low, high, pixel):
    """Coverage of ``low <= y <= high`` (anti-aliased)."""
    return np.clip(np.minimum(y - low, high - y) * (1.0 / pixel) + 0.5, 0.0, 1.0)


def stripes(phase, period, pixel):
    """Soft periodic lines (wrinkles) fading to their mean when below 2.5 pixels apart."""
    amplitude = float(np.clip(period / pixel / 2.5 - 1.0, 0.0, 1.0))
    return 0.5 + 0.5 * amplitude * np.cos(phase * (2 * np.pi / period))


class Face:
    """A batch of faces as the parts read them.

    ``params`` is a batch of :func:`~facegen.params.sample_params`' output,
    ``skin`` (B, 3) the skin colour with its colour cues
    (:func:`~facegen.head.skin_colour`). ``au[code]`` is the intensity
    of action unit ``code`` as a (B, 1, 1) column; ``centre_x`` (B, 1, 1) and
    ``centre_y`` the face's centre (it moves a little with the yaw).
    """

    def __init__(self, params: dict, skin: np.ndarray):
        self.params = params
        self.batch = len(params["label"])
        self.skin = skin
        self.hair = params["hair"].astype(np.float32)
        self.au = {code: self.column(f"au{code:02d}") for code in ACTION_UNITS}
        self.centre_x = self.column("yaw") * 0.02
        self.centre_y = np.float32(0.04)

    def column(self, key: str) -> np.ndarray:
        """Parameter ``key`` of every face as a float32 (B, 1, 1) column (broadcasts over pixels)."""
        return self.params[key].astype(np.float32)[:, None, None]
