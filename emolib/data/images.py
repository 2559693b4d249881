"""Reading image files: :func:`read_image` is the one function that opens them, for every
loader and for ``emolib predict``; :func:`read_images` reads many in threads."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ImageReadError", "read_image", "read_images"]


class ImageReadError(ValueError):
    """An image file could not be read (missing decoder, corrupt or truncated data)."""


def _to_mode(im, channels):
    """A PIL image in mode L (channels 1) or RGB (channels 3), from any mode."""
    from PIL import Image

    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit integer or float
        arr = np.asarray(im).astype(np.float64)
        if im.mode.startswith("I;16") or (im.mode == "I" and arr.size and arr.max() > 255):
            arr = arr / 257.0
        elif im.mode == "F" and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        im = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode == "La":
        im = im.convert("LA")
    if im.mode not in ("L", "LA", "1", "RGB", "RGBA"):  # CMYK, YCbCr, RGBX, RGBa, HSV, ...
        im = im.convert("RGB")
    return im.convert("L" if channels == 1 else "RGB")


def _check_regular_file(path):
    """Refuse what is not a regular file (a folder, a named pipe, a device) before
    opening it: reading a FIFO would block until someone writes to it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: '{path}'") from None
    except OSError as exc:
        raise ImageReadError(f"could not read image file '{path}': {exc}") from None
    if not stat.S_ISREG(mode):
        kind = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a device",
                stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(mode), "not a regular file")
        raise ImageReadError(f"could not read image file '{path}': it is {kind}, not a regular file")


def read_image(path, size, channels):
    """Read one image file of any size and colour mode (EXIF orientation applied).

    Returns ``(array, orig_width, orig_height, orig_mode)``: ``array`` is ``uint8``
    ``(size, size, channels)`` (1: gray, 3: RGB), resized with bilinear filtering. The
    one function that opens image files, for every loader and ``emolib predict``: what
    is not a regular file (a FIFO would block), a decompression bomb (over twice
    ``PIL.Image.MAX_IMAGE_PIXELS`` pixels), undecodable or truncated data raise
    :class:`ImageReadError` naming the file (``FileNotFoundError`` when it is missing)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    _check_regular_file(path)
    try:
        with Image.open(path) as im:
            orig_w, orig_h = im.size
            orig_mode = im.mode
            if im.format == "JPEG" and orig_mode in ("L", "RGB", "YCbCr"):
                # decode at the smallest power-of-2 scale that is still >= size (fast)
                im.draft("L" if channels == 1 else "RGB", (size, size))
            im.load()
            im = ImageOps.exif_transpose(im)
            im = _to_mode(im, channels)
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: '{path}'") from None
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"could not read image file '{path}': not a recognised image ({exc})") from None
    except Image.DecompressionBombError as exc:  # a header claiming billions of pixels
        raise ImageReadError(
            f"could not read image file '{path}': refused as a possible decompression bomb ({exc}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated / corrupt data
        raise ImageReadError(f"could not read image file '{path}': {exc}") from None
    if channels == 1:
        arr = arr[..., None]
    return arr, orig_w, orig_h, orig_mode


def read_images(paths, size, channels, context=None):
    """Read ``paths`` in threads (PIL decodes without the GIL): images ``(n, size, size,
    channels)`` and a DataFrame of ``orig_width``, ``orig_height``, ``orig_mode``.
    ``context[i]`` (e.g. "labels.csv row 3") is added to error messages; with it, every
    path is checked before any image is decoded, so a missing file is reported at once."""
    for path, where in zip(paths, context or ()):
        if not Path(path).exists():  # what exists but is not a regular file, read_image refuses by name
            raise FileNotFoundError(f"image file not found: '{path}' ({where})")
    n = len(paths)
    images = np.empty((n, size, size, channels), dtype=np.uint8)
    widths = np.empty(n, dtype=np.int64)
    heights = np.empty(n, dtype=np.int64)
    modes = [None] * n

    def work(i):
        try:
            images[i], widths[i], heights[i], modes[i] = read_image(paths[i], size, channels)
        except (FileNotFoundError, ImageReadError) as exc:
            if context is None:
                raise
            raise type(exc)(f"{exc} ({context[i]})") from None

    for_each(work, range(n), min(8, 2 * (os.cpu_count() or 1)) if n > 16 else 1)
    orig = pd.DataFrame({"orig_width": widths, "orig_height": heights, "orig_mode": modes})
    return images, orig


def for_each(work, items, workers):
    """``work(item)`` for every item, in ``workers`` threads (PIL and numpy run without the
    GIL); the first failure in item order is raised, as a plain loop would."""
    if workers <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(work, items):
            pass
