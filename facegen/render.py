"""From parameters to pictures: the face painted part by part in its canonical frame,
then placed in the picture, lit and degraded by the camera.

The recipe is :func:`draw_faces` (the order of the parts is the order of painting)
followed by :func:`render_batch`; :func:`render` runs it over batches of images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import accessories, brows, camera, eyes, head, mouth
from .canvas import Canvas, Face
from .checks import check_channels, check_int


def draw_faces(params: dict, size: int):
    """Paint a batch of faces in the canonical frame.

    Returns premultiplied planar RGB (B, 3, size, size) and alpha (B, size, size).
    """
    face = Face(params, head.skin_colour(params))
    canvas = Canvas(face.batch, size)
    head.draw_back_hair(canvas, face)
    head.draw_clothes_and_neck(canvas, face)
    head.draw_ears(canvas, face)
    skin = head.face_outline(canvas, face)
    brows.shade_forehead(canvas, face, skin.shade)
    eyes.shade_surroundings(canvas, face, skin.shade)
    head.shade_nose(canvas, face, skin.shade)
    mouth.shade_folds(canvas, face, skin.shade)
    mouth.shade_chin(canvas, face, skin.shade)
    head.paint_skin(canvas, face, skin)
    head.draw_top_hair(canvas, face)
    eyes.draw(canvas, face)
    brows.draw(canvas, face)
    mouth.draw(canvas, face)
    accessories.draw_glasses(canvas, face)
    return canvas.rgb, canvas.alpha


def render_batch(params: dict, size: int) -> np.ndarray:
    """RGB uint8 images (B, size, size, 3) for one batch of parameters."""
    rgb, alpha = draw_faces(params, size)
    rgb, alpha = camera.warp(rgb, alpha, params, size)
    backdrop = camera.background(params, size)
    backdrop *= (1.0 - alpha)[:, None]
    image = rgb
    image += backdrop
    accessories.occlude(image, params, size)
    accessories.overlay_text(image, params, size)
    camera.light(image, params, size)
    camera.blur(image, params)
    camera.add_noise(image, params, size)
    camera.jpeg(image, params, size)
    image *= 255.0
    np.round(image, out=image)
    np.clip(image, 0, 255, out=image)
    return image.astype(np.uint8).transpose(0, 2, 3, 1)


def _default_batch_size(size: int) -> int:
    # about 2 MB per float plane batch: the working set stays in the CPU caches
    return int(max(4, min(256, 32 * (48 * 48) // (size * size))))


def render(params, image_size=48, channels=1, batch_size=None) -> np.ndarray:
    """Draw the faces described by ``params`` (from :func:`sample_params`).

    Returns a ``uint8`` array of shape ``(n, image_size, image_size, channels)``.
    ``channels=3`` gives RGB; ``channels=1`` the ITU-R 601 luma of the very same
    RGB images (as PIL's ``convert("L")``), so the two differ only by colour.
    The result does not depend on ``batch_size`` (images per NumPy batch).
    """
    image_size = check_int(image_size, "image_size", 16)
    channels = check_channels(channels)
    batch_size = _default_batch_size(image_size) if batch_size is None else check_int(batch_size, "batch_size", 1)
    n = len(params["label"])
    out = np.empty((n, image_size, image_size, channels), dtype=np.uint8)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        batch = {key: value[start:stop] for key, value in params.items()}
        rgb = render_batch(batch, image_size)
        if channels == 1:  # PIL's ITU-R 601 luma, the batch converted as one tall picture
            tall = Image.fromarray(rgb.reshape(-1, image_size, 3)).convert("L")
            rgb = np.asarray(tall).reshape(-1, image_size, image_size, 1)
        out[start:stop] = rgb
    return out
