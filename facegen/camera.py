"""The camera and the scene: the pose (the canonical face warped into the picture),
the background, the light, then blur, sensor noise and JPEG compression.

Parameters read: ``rotation_deg``, ``scale``, ``shift_x``, ``shift_y`` (pose);
``background`` (0 flat, 1 gradient, 2 clutter), ``bg_color0``, ``bg_color1``,
``bg_angle``, ``bg_clutter``; ``brightness``, ``light_gradient``, ``light_angle``,
``light_warmth``, ``contrast``; ``blur`` (passes), ``noise_std``, ``noise_index``
(which fixed noise texture, where) and ``jpeg_quality`` (0: none).
Images here are float32 planar RGB batches (B, 3, size, size) with values around [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft

from .canvas import pixel_centres

_JPEG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float32).reshape(8, 8)
_JPEG_CHROMA = np.full((8, 8), 99, dtype=np.float32)
_JPEG_CHROMA[:4, :4] = np.array(
    [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99], dtype=np.float32
).reshape(4, 4)
_RGB_TO_YCC = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
    dtype=np.float32,
)
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC).astype(np.float32)
_DCT = scipy.fft.dct(np.eye(8), norm="ortho", axis=0).astype(np.float32)  # (8, 8): DCT-II of a column vector
_NOISE_BANK_SIZE = 16
_NOISE_PAD = 16


@functools.lru_cache(maxsize=8)
def _noise_bank(size: int) -> np.ndarray:
    """Fixed sensor-noise textures (partly correlated across channels)."""
    rng = np.random.default_rng(7919 + size)
    shape = (_NOISE_BANK_SIZE, 1, size + _NOISE_PAD, size + _NOISE_PAD)
    common = rng.standard_normal(shape, dtype=np.float32)
    own = rng.standard_normal((shape[0], 3) + shape[2:], dtype=np.float32)
    bank = 0.9 * common + 0.436 * own  # unit variance, mostly luminance noise
    bank.flags.writeable = False
    return bank


@functools.lru_cache(maxsize=8)
def _clutter_matrix(size: int, k: int = 6) -> np.ndarray:
    """(size, k) interpolation matrix: k random cells -> soft-edged blocks."""
    position = (np.arange(size) + 0.5) / size * k - 0.5
    matrix = np.zeros((size, k), dtype=np.float32)
    low = np.clip(np.floor(position).astype(int), 0, k - 1)
    high = np.clip(low + 1, 0, k - 1)
    t = np.clip(position - np.floor(position), 0, 1)
    t = np.clip((t - 0.3) / 0.4, 0, 1)  # sharper than linear: blocky clutter
    t = t * t * (3 - 2 * t)
    matrix[np.arange(size), low] += 1 - t
    matrix[np.arange(size), high] += t
    return matrix


def warp(rgb, alpha, params, size):
    """Move the canonical faces (premultiplied planar ``rgb`` (B, 3, size, size) and
    ``alpha`` (B, size, size)) to their pose: bilinear sampling of a rotated, scaled and
    shifted grid. Returns the warped ``rgb`` and ``alpha``."""
    x0, y0, wx, wy = _source_pixels(params, size)
    planes = np.concatenate([rgb, alpha[:, None]], axis=1)
    planes = np.pad(planes, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge")  # edges replicated by one pixel
    out = _bilinear(planes, x0, y0, wx[:, None], wy[:, None])
    return out[:, :3], out[:, 3]


def face_frame(params, size):
    """The inverse of the pose: where each output pixel lies in the canonical face frame
    (the canvas spans [-1, 1]), ``(x, y)`` each (B, size, size) float32. ``params``: arrays
    ``rotation_deg``, ``scale``, ``shift_x``, ``shift_y`` (B,)."""
    f32 = np.float32
    coord = pixel_centres(size)
    theta = np.deg2rad(params["rotation_deg"]).astype(f32)[:, None, None]
    scale = params["scale"].astype(f32)[:, None, None]
    dx = (coord[None, None, :] - params["shift_x"].astype(f32)[:, None, None]) / scale
    dy = (coord[None, :, None] - params["shift_y"].astype(f32)[:, None, None]) / scale
    cos, sin = np.cos(theta), np.sin(theta)
    return cos * dx + sin * dy, cos * dy - sin * dx


def _source_pixels(params, size):
    """For every output pixel, the canvas pixel (in the padded canvas) up and left of
    the point it shows, ``x0``, ``y0`` (B, size, size) int, and the bilinear weights ``wx``, ``wy``."""
    x, y = face_frame(params, size)
    source_x = (x + 1.0) * (size / 2.0) - 0.5
    source_y = (y + 1.0) * (size / 2.0) - 0.5
    x0 = np.floor(source_x)
    y0 = np.floor(source_y)
    wx = source_x - x0
    wy = source_y - y0
    # the canvas is padded by one replicated pixel on each side: positions shift by one
    x0 = np.clip(x0.astype(np.int32) + 1, 0, size)
    y0 = np.clip(y0.astype(np.int32) + 1, 0, size)
    return x0, y0, wx, wy


def _bilinear(planes, x0, y0, wx, wy):
    """Bilinear samples (B, 4, size, size) of ``planes`` at (x0 + wx, y0 + wy), with flat
    indices into one array (fast, and in place where possible)."""
    batch, n_planes, width = planes.shape[:3]
    size = x0.shape[-1]
    flat = planes.reshape(-1)
    index = np.empty((batch, n_planes, size, size), dtype=np.intp)
    index[:] = (y0 * width + x0)[:, None]
    index += ((np.arange(batch, dtype=np.intp) * (n_planes * width * width))[:, None, None, None]
              + (np.arange(n_planes, dtype=np.intp) * (width * width))[None, :, None, None])
    top_left = np.take(flat, index)
    index += 1
    out = np.take(flat, index)  # top: top_left + wx * (top_right - top_left)
    out -= top_left
    out *= wx
    out += top_left
    index += width - 1
    np.take(flat, index, out=top_left)  # now bottom left
    index += 1
    bottom = np.take(flat, index)
    bottom -= top_left
    bottom *= wx
    bottom += top_left
    bottom -= out
    bottom *= wy
    out += bottom
    return out


def background(params, size):
    """Backgrounds (B, 3, size, size): flat, a linear gradient between two colours, or a
    gradient with blocky clutter on top."""
    f32 = np.float32
    coord = pixel_centres(size)
    angle = params["bg_angle"].astype(f32)[:, None, None]
    t = 0.5 + 0.5 * (np.cos(angle) * coord[None, None, :] + np.sin(angle) * coord[None, :, None])
    colour0 = params["bg_color0"].astype(f32)[:, :, None, None]
    colour1 = params["bg_color1"].astype(f32)[:, :, None, None]
    image = colour0 + (colour1 - colour0) * t[:, None]
    clutter = np.flatnonzero(params["background"] == 2)
    if len(clutter):
        matrix = _clutter_matrix(size)
        cells = params["bg_clutter"][clutter]
        image[clutter] += matrix @ cells.transpose(0, 3, 1, 2) @ matrix.T * 0.6
    return image


def light(image, params, size):
    """Illumination, in place: contrast, overall level, a directional gradient, warmth."""
    f32 = np.float32
    coord = pixel_centres(size)
    angle = params["light_angle"].astype(f32)[:, None, None]
    direction = np.cos(angle) * coord[None, None, :] + np.sin(angle) * coord[None, :, None]
    level = 1.0 + params["light_gradient"].astype(f32)[:, None, None] * direction
    level *= params["brightness"].astype(f32)[:, None, None]
    warmth = params["light_warmth"].astype(f32)[:, None]
    tint = (1.0 + warmth * np.array([1.0, 0.0, -1.0], dtype=f32))[:, :, None, None]
    contrast = params["contrast"].astype(f32)[:, None, None, None]
    image *= contrast
    image += 0.5 * (1.0 - contrast)
    image *= level[:, None]
    image *= tint


def blur(image, params):
    """[1 2 1]/4 binomial blur along both axes, ``params["blur"]`` times (0, 1 or 2), in place."""
    for level in (1, 2):
        images = np.flatnonzero(params["blur"] >= level)
        if not len(images):
            continue
        x = image[images]
        pad = np.concatenate([x[:, :, :1], x, x[:, :, -1:]], axis=2)
        x = 0.25 * (pad[:, :, :-2] + pad[:, :, 2:]) + 0.5 * x
        pad = np.concatenate([x[:, :, :, :1], x, x[:, :, :, -1:]], axis=3)
        image[images] = 0.25 * (pad[:, :, :, :-2] + pad[:, :, :, 2:]) + 0.5 * x


def add_noise(image, params, size):
    """Sensor noise, in place: a crop of one of a few fixed textures (``noise_index``
    picks which and where) times ``noise_std``."""
    sigma = params["noise_std"].astype(np.float32)
    images = np.flatnonzero(sigma > 0)
    if not len(images):
        return
    bank = _noise_bank(size)
    code = params["noise_index"][images]
    texture = code % _NOISE_BANK_SIZE
    top = (code // _NOISE_BANK_SIZE) % _NOISE_PAD
    left = (code // (_NOISE_BANK_SIZE * _NOISE_PAD)) % _NOISE_PAD
    for i, k, y, x in zip(images.tolist(), texture.tolist(), top.tolist(), left.tolist()):
        image[i] += bank[k, :, y:y + size, x:x + size] * sigma[i]


def jpeg(image, params, size):
    """JPEG-like compression, in place: 8x8 DCT quantisation in YCbCr with the standard
    tables scaled to ``jpeg_quality`` (images with quality 0 are left alone)."""
    quality = params["jpeg_quality"]
    images = np.flatnonzero(quality > 0)
    if not len(images):
        return
    x = np.clip(image[images], 0.0, 1.0) * 255.0
    pad = (-size) % 8
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad)), mode="edge")
    m, padded = len(images), size + pad
    n8 = padded // 8
    ycc = np.einsum("dc,mchw->mdhw", _RGB_TO_YCC, x)
    ycc[:, 0] -= 128.0
    blocks = ycc.reshape(m, 3, n8, 8, n8, 8).transpose(0, 1, 2, 4, 3, 5)  # (m, c, by, bx, 8, 8)
    coefficients = _DCT @ blocks @ _DCT.T
    step = _quantisation_steps(quality[images])[:, :, None, None]  # (m, 3, 1, 1, 8, 8)
    coefficients = np.round(coefficients / step) * step
    blocks = _DCT.T @ coefficients @ _DCT
    ycc = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(m, 3, padded, padded)
    ycc[:, 0] += 128.0
    rgb = np.einsum("dc,mchw->mdhw", _YCC_TO_RGB, ycc)
    image[images] = rgb[:, :, :size, :size] * (1.0 / 255.0)


def _quantisation_steps(quality):
    """The standard tables (luma, chroma, chroma) scaled to each quality: (m, 3, 8, 8) float32."""
    quality = quality.astype(np.float64)
    scale = np.where(quality < 50, 5000.0 / quality, 200.0 - 2.0 * quality)
    tables = np.stack([_JPEG_LUMA, _JPEG_CHROMA, _JPEG_CHROMA])  # (3, 8, 8)
    return np.clip(np.floor((tables[None] * scale[:, None, None, None] + 50.0) / 100.0), 1, 255).astype(np.float32)
