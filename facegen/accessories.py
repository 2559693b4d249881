"""What covers the face: glasses and sunglasses (painted with the face, so they move
with it), then, on the finished picture, a hand or an object in front of it and
overlaid text.

Parameters read: ``glasses``, ``sunglasses``, ``glasses_frame`` (colour),
``glasses_size``, ``lens_tint`` and the eyes' geometry (``eye_y``, ``eye_dx``,
``eye_w``, ``yaw``, ``face_w``); ``occlusion`` (0 none, 1 hand, 2 object),
``occ_center``, ``occ_radius``, ``occ_angle``, ``occ_color`` and ``skin`` (a
hand's colour); ``text``, ``text_len``, ``text_glyphs`` (indices into
:data:`FONT`), ``text_height``, ``text_pos``, ``text_color`` and ``text_opacity``.
"""

from __future__ import annotations

import numpy as np

from .canvas import Canvas, Face, band, pixel_centres, ramp, stripes

# 3x5 pixel font for the overlaid text (rows top to bottom).
_FONT_ROWS = {
    "A": "010101111101101", "B": "110101110101110", "C": "011100100100011",
    "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111",
    "J": "001001001101010", "K": "101101110101101", "L": "100100100100111",
    "M": "101111111101101", "N": "110101101101101", "O": "010101101101010",
    "P": "110101110100100", "Q": "010101101110011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111",
    "V": "101101101101010", "W": "101101111111101", "X": "101101010101101",
    "Y": "101101010010010", "Z": "111001010100111", "0": "111101101101111",
    "1": "010110010010111", "2": "110001010100111", "3": "110001010001110",
    "4": "101101111001001", "5": "111100110001110", "6": "011100110101010",
    "7": "111001010010010", "8": "010101010101010", "9": "010101011001110",
    " ": "000000000000000",
}
#: Glyphs (n_glyphs, 5 rows, 4 columns: 3 of the glyph and one of spacing), 0 or 1.
FONT = np.zeros((len(_FONT_ROWS), 5, 4), dtype=np.float32)
for _i, _rows in enumerate(_FONT_ROWS.values()):
    FONT[_i, :, :3] = np.array([int(ch) for ch in _rows], dtype=np.float32).reshape(5, 3)
#: Index of the space in :data:`FONT` (the last glyph) and the longest text.
SPACE_GLYPH = len(_FONT_ROWS) - 1
TEXT_MAX_CHARS = 10


def draw_glasses(canvas: Canvas, face: Face) -> None:
    """Glasses or sunglasses on the faces that wear them: two slightly square lenses
    (tinted, with a glare line), the frame, the bridge and the temples."""
    images = np.flatnonzero(face.params["glasses"] | face.params["sunglasses"])
    if not len(images):
        return
    pixel = canvas.pixel

    def column(key):
        return face.column(key)[images]

    rows, cols, y, x = canvas.window(-0.4, 0.2, -0.8, 0.8)
    centre_x = face.centre_x[images]
    sun = column("sunglasses")
    eye_y = column("eye_y") - 0.01
    radius_x = (column("eye_w") * 1.5 + 0.02) * column("glasses_size")
    radius_y = 0.075 * column("glasses_size") * (1.0 + 0.15 * sun)
    thick = 0.008 + 0.008 * sun
    lens = 0
    frame = 0
    for side in (-1.0, 1.0):
        dx, dy = x - (centre_x + side * column("eye_dx") + column("yaw") * 0.05), y - eye_y
        q = np.sqrt((dx / radius_x) ** 2 + (dy / radius_y) ** 2)
        q = np.sqrt(q * q + 0.5 * ((dx / radius_x) * (dy / radius_y)) ** 2)  # a little squarer than an ellipse
        distance = (q - 1.0) * radius_y
        lens = lens + ramp(distance, pixel)
        frame = frame + ramp(np.abs(distance) - thick, pixel)
    inner = column("eye_dx") - radius_x
    bridge = (ramp(np.abs(y - eye_y + 0.02) - thick, pixel)
              * ramp(np.abs(x - centre_x - column("yaw") * 0.05) - inner, pixel))
    temple = (ramp(np.abs(y - eye_y + 0.025) - thick * 0.8, pixel)
              * band(np.abs(x - centre_x), column("eye_dx") + radius_x, column("face_w") * 1.02, pixel))
    frame = np.clip(frame + bridge + temple, 0.0, 1.0)
    lens = np.clip(lens, 0.0, 1.0)
    glare = ramp(np.abs((x - centre_x) * 0.8 + (y - eye_y) * 1.5 - 0.05) - 0.012, pixel) * 0.35
    frame_colour = face.params["glasses_frame"][images].astype(np.float32)[:, :, None, None]
    tint = face.params["lens_tint"][images]
    tint = np.where(face.params["sunglasses"][images][:, None], tint * 0.4, 0.85 + 0.5 * tint)
    tint = tint.astype(np.float32)[:, :, None, None]
    lens_cover = lens * np.where(sun > 0, 0.93, 0.18)  # float64: blended as in the committed data
    canvas.rgb[images, :, rows, cols] += lens_cover[:, None] * (tint - canvas.rgb[images, :, rows, cols])
    canvas.paint(rows, cols, lens * glare, np.full_like(tint, 0.95), images=images)
    canvas.paint(rows, cols, frame, frame_colour, cover=True, images=images)


def occlude(image: np.ndarray, params: dict, size: int) -> None:
    """Paint a hand (an ellipse with finger creases, in the skin colour) or an object (a
    rounded box) over the images (B, 3, size, size) whose ``occlusion`` is not 0."""
    images = np.flatnonzero(params["occlusion"] > 0)
    if not len(images):
        return
    f32 = np.float32
    coord = pixel_centres(size)
    centre = params["occ_center"][images].astype(f32)
    radius = params["occ_radius"][images].astype(f32)
    angle = params["occ_angle"][images].astype(f32)[:, None, None]
    dx, dy = coord[None, None, :] - centre[:, 0, None, None], coord[None, :, None] - centre[:, 1, None, None]
    u = np.cos(angle) * dx + np.sin(angle) * dy  # along the occluder
    v = -np.sin(angle) * dx + np.cos(angle) * dy  # across it
    radius_x, radius_y = radius[:, 0, None, None], radius[:, 1, None, None]
    hand = (params["occlusion"][images] == 1)[:, None, None]
    ellipse = (np.sqrt((u / radius_x) ** 2 + (v / radius_y) ** 2) - 1.0) * np.minimum(radius_x, radius_y)
    qx, qy = np.abs(u) - radius_x + 0.04, np.abs(v) - radius_y + 0.04
    box = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0) - 0.04
    coverage = ramp(np.where(hand, ellipse, box), 2.0 / size)
    skin = params["skin"][images].astype(f32) * 0.95
    colour = np.where(hand[:, None], skin[:, :, None, None], params["occ_color"][images].astype(f32)[:, :, None, None])
    crease = 1.0 - 0.25 * hand * stripes(u, 0.11, 2.0 / size) ** 4 * (v < 0)
    shade = (0.85 + 0.15 * np.clip(1.0 - v / radius_y, 0, 2)) * crease
    image[images] += coverage[:, None] * (colour * shade[:, None] - image[images])


def overlay_text(image: np.ndarray, params: dict, size: int) -> None:
    """Write a line of block letters (:data:`FONT`) over the images (B, 3, size, size) whose ``text`` is set."""
    images = np.flatnonzero(params["text"])
    if not len(images):
        return
    f32 = np.float32
    coord = pixel_centres(size)
    cell = np.maximum(params["text_height"][images].astype(f32) / 5.0, 2.0 / size)  # one font pixel
    position = params["text_pos"][images].astype(f32)
    col = np.floor((coord[None, :] - position[:, 0, None]) / cell[:, None]).astype(np.int64)  # (m, size)
    row = np.floor((coord[None, :] - position[:, 1, None]) / cell[:, None]).astype(np.int64)
    glyph_index = col // 4
    valid_col = (col >= 0) & (glyph_index < params["text_len"][images][:, None])
    valid_row = (row >= 0) & (row < 5)
    glyph_index = np.clip(glyph_index, 0, TEXT_MAX_CHARS - 1)
    glyph = np.take_along_axis(params["text_glyphs"][images], glyph_index, axis=1)  # (m, size)
    bit = FONT[glyph[:, None, :], np.clip(row, 0, 4)[:, :, None], (col % 4)[:, None, :]]
    alpha = (bit * (valid_col[:, None, :] & valid_row[:, :, None])
             * params["text_opacity"][images].astype(f32)[:, None, None])
    colour = params["text_color"][images].astype(f32)[:, :, None, None]
    image[images] += alpha[:, None] * (colour - image[images])
