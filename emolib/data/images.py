"""Reading image files: :func:`_read_image` is the one function that opens them, for every
loader and for ``emolib predict``; :func:`_read_images` reads many in threads."""

from __future__ import annotations

import io
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ImageReadError"]


class ImageReadError(ValueError):
    """An image file could not be read (missing decoder, corrupt or truncated data).

    A ``ValueError``; its message names the file and the reason.
    """


#: The formats :func:`_read_image` decodes (Pillow's names; JPEG includes MPO, PPM the PGM,
#: PBM and PNM files): those of the class-folder extensions
#: (:data:`emolib.data.real._IMAGE_EXTENSIONS`). Pillow's other decoders (DDS, BLP, SPIDER,
#: PSD, ...) are never tried: a file in such a format is an :class:`ImageReadError` naming
#: it, whatever its name, where those decoders could raise ``NotImplementedError`` or
#: ``AttributeError`` without the path.
_READ_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")


def _to_mode(im, channels, size=None, depth=None):
    """A PIL image in mode L (channels 1) or RGB (channels 3), from any mode. Integer (I, I;16)
    and float (F) images are first resized to ``size`` (None: kept) at full depth, so the arithmetic that
    scales them to 8 bits touches ``size x size`` values, never the whole image; integers are
    scaled by their declared ``depth`` in bits (:func:`_bit_depth`), rounding to nearest."""
    from PIL import Image

    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit integer or float
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        if im.mode == "F":
            arr = np.asarray(im, dtype=np.float32)
            if arr.size and arr.max() <= 1.0:
                arr = arr * 255.0
            arr = np.clip(np.rint(arr), 0, 255)
        else:  # integer arithmetic: (v * 255 + top // 2) // top is round(v / 257) at 16 bits
            top = (1 << (depth or 16)) - 1
            arr = (np.clip(np.asarray(im).astype(np.int64), 0, top) * 255 + top // 2) // top
        im = Image.fromarray(arr.astype(np.uint8))
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode == "La":
        im = im.convert("LA")
    if im.mode not in ("L", "LA", "1", "RGB", "RGBA"):  # CMYK, YCbCr, RGBX, RGBa, HSV, ...
        im = im.convert("RGB")
    return im.convert("L" if channels == 1 else "RGB")


def _bit_depth(im):
    """Bits per sample an integer image's file declares (mode I or I;16*), else None: 16 for
    I;16 and for 16-bit PNG and PGM/PPM (Pillow stretches a PGM's maxval to 0-65535), a
    TIFF's BitsPerSample. Not the largest value: a dark 16-bit image stays dark."""
    if im.mode.startswith("I;16"):
        return 16
    if im.mode != "I":
        return None
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, 32)  # BitsPerSample
        return int(bits[0] if isinstance(bits, tuple) else bits)
    return 16


def _foreign_format(path):
    """The Pillow format whose signature starts ``path`` (DDS, BLP, PSD, ...) when it is not one
    of :data:`_READ_FORMATS`, else None: to name what a refused file is."""
    from PIL import Image

    try:
        with open(path, "rb") as f:
            prefix = f.read(16)
    except OSError:
        return None
    Image.init()
    for name, (_, accept) in Image.OPEN.items():
        try:
            if name not in _READ_FORMATS and accept is not None and accept(prefix):
                return name
        except Exception:  # noqa: BLE001 - a plugin's signature check; only a hint is at stake
            continue
    return None


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


def _read_image(path, size, channels):
    """Read one image file of any size and colour mode (EXIF orientation applied).

    Returns ``(array, orig_width, orig_height, orig_mode)``: ``array`` is ``uint8``
    ``(size, size, channels)`` (1: gray, 3: RGB), resized with bilinear filtering, or the
    image at its own size ``(h, w, channels)`` when ``size`` is None. ``path`` may also be
    the file's bytes (a Colab upload, a webcam snapshot): errors then name "the image bytes". The
    one function that opens image files, for every loader and ``emolib predict``: what
    is not a regular file (a FIFO would block), a decompression bomb (over twice
    ``PIL.Image.MAX_IMAGE_PIXELS`` pixels), a format not in :data:`_READ_FORMATS` (whatever
    the file's name), undecodable or truncated data raise :class:`ImageReadError` naming
    the file (``FileNotFoundError`` when it is missing). 16-bit images are scaled to 8 bits
    by their declared depth (a PGM's maxval, a TIFF's BitsPerSample), after resizing, in
    integers: one never costs more memory than its decoded pixels and a small copy."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    data = isinstance(path, (bytes, bytearray))
    name = "the image bytes" if data else f"image file '{path}'"
    if not data:
        _check_regular_file(path)
    try:
        Image.init()  # a format this Pillow lacks (WEBP without libwebp) would be a KeyError in open()
        with Image.open(io.BytesIO(path) if data else path,
                        formats=[f for f in _READ_FORMATS if f in Image.OPEN]) as im:
            orig_w, orig_h = im.size
            orig_mode = im.mode
            depth = _bit_depth(im)  # from the file's header: the transposed copy below has none
            if size is not None and im.format == "JPEG" and orig_mode in ("L", "RGB", "YCbCr"):
                # decode at the smallest power-of-2 scale that is still >= size (fast)
                im.draft("L" if channels == 1 else "RGB", (size, size))
            im.load()
            ImageOps.exif_transpose(im, in_place=True)  # no full-size copy when upright
            im = _to_mode(im, channels, size, depth)
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: '{path}'") from None
    except UnidentifiedImageError as exc:
        formats = ", ".join(_READ_FORMATS)
        foreign = None if data else _foreign_format(path)
        if foreign is not None:
            raise ImageReadError(f"could not read {name}: it is a {foreign} file, not a format "
                                 f"emolib reads ({formats})") from None
        raise ImageReadError(f"could not read {name}: not a recognised image, or not a format "
                             f"emolib reads ({formats}) ({exc})") from None
    except Image.DecompressionBombError as exc:  # a header claiming billions of pixels
        raise ImageReadError(
            f"could not read {name}: refused as a possible decompression bomb ({exc}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted"
        ) from None
    except (OSError, ValueError, SyntaxError, NotImplementedError) as exc:  # truncated / corrupt data
        raise ImageReadError(f"could not read {name}: {exc}") from None
    if channels == 1:
        arr = arr[..., None]
    return arr, orig_w, orig_h, orig_mode


def _read_images(paths, size, channels, context=None):
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
            images[i], widths[i], heights[i], modes[i] = _read_image(paths[i], size, channels)
        except (FileNotFoundError, ImageReadError) as exc:
            if context is None:
                raise
            raise type(exc)(f"{exc} ({context[i]})") from None

    _for_each(work, range(n), min(8, 2 * (os.cpu_count() or 1)) if n > 16 else 1)
    orig = pd.DataFrame({"orig_width": widths, "orig_height": heights, "orig_mode": modes})
    return images, orig


def _for_each(work, items, workers):
    """``work(item)`` for every item, in ``workers`` threads (PIL and numpy run without the
    GIL); the first failure in item order is raised, as a plain loop would."""
    if workers <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(work, items):
            pass
