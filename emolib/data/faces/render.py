"""Rendering (moved verbatim from emolib.data.synthetic; split into parts next)."""

from __future__ import annotations

import functools
import math

import numpy as np

from .checks import check_batch_size, check_channels, check_image_size
from .expressions import ACTION_UNITS

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
_FONT = np.zeros((len(_FONT_ROWS), 5, 4), dtype=np.float32)  # 4th column: spacing
for _i, _rows in enumerate(_FONT_ROWS.values()):
    _FONT[_i, :, :3] = np.array([int(ch) for ch in _rows], dtype=np.float32).reshape(5, 3)
_SPACE_GLYPH = len(_FONT_ROWS) - 1
_TEXT_MAX_CHARS = 10

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


def _dct_matrix(n=8) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos((2 * i + 1) * k * np.pi / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float32)


_DCT = _dct_matrix()


_NOISE_BANK_SIZE = 16
_NOISE_PAD = 16


@functools.lru_cache(maxsize=8)
def _noise_bank(size: int) -> np.ndarray:
    """Fixed sensor-noise textures (partly correlated across channels)."""
    rng = np.random.default_rng(7919 + size)
    shape = (_NOISE_BANK_SIZE, size + _NOISE_PAD, size + _NOISE_PAD)
    shape = (shape[0], 1) + shape[1:]
    common = rng.standard_normal(shape, dtype=np.float32)
    own = rng.standard_normal((shape[0], 3) + shape[2:], dtype=np.float32)
    bank = 0.9 * common + 0.436 * own  # unit variance, mostly luminance noise
    bank.flags.writeable = False
    return bank


@functools.lru_cache(maxsize=8)
def _clutter_matrix(size: int, k: int = 6) -> np.ndarray:
    """(size, k) interpolation matrix: k random cells -> soft-edged blocks."""
    pos = (np.arange(size) + 0.5) / size * k - 0.5
    m = np.zeros((size, k), dtype=np.float32)
    lo = np.clip(np.floor(pos).astype(int), 0, k - 1)
    hi = np.clip(lo + 1, 0, k - 1)
    t = np.clip(pos - np.floor(pos), 0, 1)
    t = np.clip((t - 0.3) / 0.4, 0, 1)  # sharper than linear: blocky clutter
    t = t * t * (3 - 2 * t)
    m[np.arange(size), lo] += 1 - t
    m[np.arange(size), hi] += t
    return m


class _Canvas:
    """Batch of RGB images with alpha, painted window by window."""

    def __init__(self, batch: int, size: int):
        self.S = size
        self.px = 2.0 / size
        self.coord = ((np.arange(size, dtype=np.float32) + 0.5) * self.px - 1.0).astype(np.float32)
        self.rgb = np.zeros((batch, 3, size, size), dtype=np.float32)  # planar RGB
        self.alpha = np.zeros((batch, size, size), dtype=np.float32)

    def window(self, y0, y1, x0, x1):
        """Pixel slices covering canonical box [x0, x1] x [y0, y1] and the
        coordinates of their pixel centres as (1, h, 1) and (1, 1, w) arrays."""
        S = self.S
        i0 = int(np.clip(math.floor((y0 + 1) / self.px), 0, S))
        i1 = int(np.clip(math.ceil((y1 + 1) / self.px), 0, S))
        j0 = int(np.clip(math.floor((x0 + 1) / self.px), 0, S))
        j1 = int(np.clip(math.ceil((x1 + 1) / self.px), 0, S))
        rs, cs = slice(i0, max(i0, i1)), slice(j0, max(j0, j1))
        return rs, cs, self.coord[rs][None, :, None], self.coord[cs][None, None, :]

    def paint(self, rs, cs, alpha, color, cover=False, rows=None):
        """Alpha-blend ``color`` ((B, 3) or (B, 3, h, w)) with coverage ``alpha`` (B, h, w)
        into the window ``rs, cs``; ``rows`` restricts it to some images (then B is their number)."""
        if color.ndim == 2:
            color = color[:, :, None, None]
        sel = slice(None) if rows is None else rows
        sub = self.rgb[sel, :, rs, cs]
        tmp = color - sub
        tmp *= alpha[:, None]
        sub += tmp
        if rows is not None:
            self.rgb[sel, :, rs, cs] = sub
        if cover:
            a = self.alpha[sel, rs, cs]
            a += alpha * (1.0 - a)
            if rows is not None:
                self.alpha[sel, rs, cs] = a


def _ramp(d, px):
    """Coverage from a signed distance ``d`` (negative inside), 1-pixel anti-aliasing."""
    return np.clip(0.5 - d * (1.0 / px), 0.0, 1.0)


def _band(y, lo, hi, px):
    """Coverage of ``lo <= y <= hi`` (anti-aliased)."""
    return np.clip(np.minimum(y - lo, hi - y) * (1.0 / px) + 0.5, 0.0, 1.0)


def _stripes(phase, period, px):
    """Soft periodic lines (wrinkles) fading to their mean when below 2.5 pixels apart."""
    amp = float(np.clip(period / px / 2.5 - 1.0, 0.0, 1.0))
    return 0.5 + 0.5 * amp * np.cos(phase * (2 * np.pi / period))


def _col(p, key):
    return p[key].astype(np.float32)[:, None, None]


def _render_face(p, S):
    """Paint faces in the canonical frame. Returns premultiplied planar RGB (B,3,S,S) and alpha (B,S,S)."""
    B = len(p["label"])
    cv = _Canvas(B, S)
    px = cv.px
    f32 = np.float32
    g = functools.partial(_col, p)
    au = {code: g(f"au{code:02d}") for code in ACTION_UNITS}
    yaw = g("yaw")
    a, b, jaw = g("face_w"), g("face_h"), g("jaw")
    cx = yaw * 0.02
    cy = f32(0.04)

    # skin colour with weak colour cues
    skin = p["skin"].astype(f32)
    flush = np.clip(p["flush"].astype(f32), -1.0, 2.0)[:, None]
    skin = skin * (1.0 + flush * np.array([0.07, -0.025, -0.04], dtype=f32))
    pallor = np.clip(p["pallor"].astype(f32), 0.0, 1.0)[:, None]
    grey = skin.mean(axis=1, keepdims=True) * 1.06
    skin = np.clip(skin + pallor * 0.45 * (grey - skin), 0.0, 1.0)
    hair = p["hair"].astype(f32)
    style = p["hair_style"]

    # -- back hair (long styles) ----------------------------------------------
    long_hair = (style == 2).astype(f32)[:, None, None]
    rows = np.flatnonzero(style == 2)
    if len(rows):
        hl, la, lb = g("hair_len")[rows], a[rows], b[rows]
        rs, cs, Y, X = cv.window(-0.9, 1.0, -0.75, 0.75)
        ry = lb * (1.1 + 0.35 * hl)
        d = np.sqrt(((X - cx[rows]) / (la * 1.32)) ** 2 + ((Y - cy - 0.05 - 0.3 * hl) / ry) ** 2) - 1.0
        cv.paint(rs, cs, _ramp(d * la, px), hair[rows] * 0.8, cover=True, rows=rows)

    # -- clothes and neck -------------------------------------------------------
    rs, cs, Y, X = cv.window(0.8, 1.0, -1.0, 1.0)
    d = np.sqrt(((X - cx * 0.5) / 0.95) ** 2 + ((Y - 1.38) / 0.55) ** 2) - 1.0
    cv.paint(rs, cs, _ramp(d * 0.55, px), p["clothes"].astype(f32), cover=True)
    rs, cs, Y, X = cv.window(0.27, 1.0, -0.32, 0.32)
    neck = _ramp(np.maximum(np.abs(X - cx) - a * 0.52, cy + 0.25 - Y), px)
    cv.paint(rs, cs, neck, skin * 0.72, cover=True)

    # -- ears -------------------------------------------------------------------
    ear_y = g("eye_y") + 0.09
    for s in (-1.0, 1.0):
        rs, cs, Y, X = cv.window(-0.35, 0.25, min(s * 0.3, s * 0.63), max(s * 0.3, s * 0.63))
        d = np.sqrt(((X - cx - s * a * 0.97) / 0.065) ** 2 + ((Y - ear_y) / 0.12) ** 2) - 1.0
        cv.paint(rs, cs, _ramp(d * 0.065, px) * (1 - long_hair), skin * 0.85, cover=True)

    # -- face shape and skin shading ----------------------------------------------
    rs, cs, Y, X = cv.window(-0.72, 0.86, -0.6, 0.6)
    chin = b * (1.0 + 0.10 * au[26])
    yy = (Y - cy) / np.where(Y > cy, chin, b)
    taper = 1.0 - jaw * np.clip(yy, 0.0, 1.0) ** 2
    xx = (X - cx) / (a * taper)
    r2 = xx * xx + yy * yy
    face = _ramp((np.sqrt(r2) - 1.0) * a, px)
    shade = np.ones((B, cv.S, cv.S), dtype=f32)
    shade[:, rs, cs] = 1.0 - 0.28 * np.minimum(r2, 1.0) ** 2  # rounder look: darker towards the edge

    eye_y = g("eye_y")
    eye_dx = g("eye_dx")
    eye_w = g("eye_w")
    eye_h = g("eye_h")
    age = g("age")
    brow_y = eye_y - g("brow_gap")

    # forehead wrinkles: age and raised brows
    wr, wc, WY, WX = cv.window(-0.75, -0.1, -0.5, 0.5)
    top = brow_y - 0.05
    env = np.clip(1.0 - (WX / (a * 0.8)) ** 2, 0.0, 1.0) * np.clip((top - WY) / 0.05, 0.0, 1.0) * np.clip((WY - top + 0.28) / 0.08, 0.0, 1.0)
    strength = 0.10 * age ** 2 + 0.28 * (0.6 * au[1] + 0.5 * au[2])
    shade[:, wr, wc] -= strength * env * _stripes(WY - top + 0.15 * WX * WX, 0.085, px) ** 2
    # glabella lines: brow lowerer
    wr, wc, WY, WX = cv.window(-0.45, -0.05, -0.12, 0.12)
    lines = _ramp(np.abs(np.abs(WX - cx) - 0.035) - 0.005, px)
    env = _band(WY, brow_y - 0.05, brow_y + 0.09, px)
    shade[:, wr, wc] -= (0.3 * au[4] + 0.05 * age) * env * lines
    # eye sockets (deeper with lowered brows), cheek raiser highlight, crow's feet, eye bags
    for s in (-1.0, 1.0):
        ex = cx + s * eye_dx + yaw * 0.05
        wr, wc, WY, WX = cv.window(-0.4, 0.3, min(0, s * 0.45), max(0, s * 0.45))
        dx, dy = WX - ex, WY - eye_y
        sock = np.clip(1.0 - (dx / (eye_w * 1.7)) ** 2 - ((dy + 0.035) / 0.075) ** 2, 0.0, 1.0)
        cheek = np.clip(1.0 - (dx / 0.11) ** 2 - ((dy - 0.16 + 0.035 * au[6]) / 0.075) ** 2, 0.0, 1.0)
        out = s * dx - eye_w * 1.1
        crow = np.clip(np.minimum(out / 0.015, 1.0 - out / 0.08), 0.0, 1.0) * np.clip(1.0 - np.abs(dy) / 0.06, 0.0, 1.0)
        crow = crow * _stripes(dy / (np.abs(out) + 0.02), 0.7, px / 0.05) ** 4
        bag = _band(dy, eye_h * 0.8 + 0.025 - 0.02 * au[6], eye_h * 0.8 + 0.04 - 0.02 * au[6], px) * np.clip(1.0 - (dx / eye_w) ** 2, 0.0, 1.0)
        shade[:, wr, wc] += (
            -(0.10 + 0.12 * au[4]) * sock + 0.10 * au[6] * cheek
            - (0.3 * au[6] + 0.12 * age) * crow - (0.22 * au[6] + 0.12 * age) * bag
        )
    # nose: bridge, tip shadow, nostrils, wrinkles
    nx = cx + yaw * 0.10
    ny = g("nose_y") - 0.025 * au[9] - 0.012 * au[10]
    nw = g("nose_w") * (1.0 + 0.25 * au[9])
    wr, wc, WY, WX = cv.window(-0.2, 0.35, -0.25, 0.25)
    dx, dy = WX - nx, WY - ny
    bridge = _band(np.abs(dx), 0.045 * nw, 0.06 * nw, px) * _band(WY, eye_y, ny - 0.03, px)
    tip = np.clip(1.0 - (dx / (0.075 * nw)) ** 2 - ((dy - 0.015) / 0.035) ** 2, 0.0, 1.0)
    nostril = _ramp(np.sqrt(((np.abs(dx) - 0.036 * nw) / (0.019 * nw)) ** 2 + ((dy + 0.003) / 0.011) ** 2) - 1.0, px / 0.015)
    nwr = np.clip(1.0 - np.abs(dx) / 0.07, 0.0, 1.0) * _band(WY, eye_y + 0.03, ny - 0.07, px)
    nwr = nwr * _stripes(WY, 0.06, px)
    shade[:, wr, wc] -= 0.07 * bridge + 0.10 * tip + 0.5 * nostril + 0.45 * au[9] * nwr
    # nasolabial folds: smiles, upper-lip raiser, nose wrinkler, age
    mouth_w = g("mouth_w")
    my0 = g("mouth_y")
    wr, wc, WY, WX = cv.window(0.0, 0.65, -0.45, 0.45)
    fold = (0.04 + 0.1 * age + 0.22 * au[12] + 0.22 * au[10] + 0.15 * au[9] + 0.05 * au[6])
    y0f, y1f = ny - 0.02, my0 + 0.08
    uu = np.clip((WY - y0f) / (y1f - y0f), 0.0, 1.0)
    ends = np.clip(6.0 * uu * (1.0 - uu), 0.0, 1.0)
    for s in (-1.0, 1.0):
        x0f = nx + s * 0.075 * nw
        x1f = cx + yaw * 0.07 + s * (mouth_w + 0.04 + 0.04 * au[12] + 0.03 * au[20])
        xf = x0f + (x1f - x0f) * uu + s * (0.015 + 0.03 * au[12]) * 4 * uu * (1 - uu)
        line = _ramp(np.abs(WX - xf) - 0.006 - 0.008 * au[12], px)
        shade[:, wr, wc] -= np.minimum(fold, 0.45) * line * ends
    # chin raiser: mentolabial furrow and chin boss
    wr, wc, WY, WX = cv.window(0.3, 0.85, -0.2, 0.2)
    mx = cx + yaw * 0.07
    furrow_y = my0 + 0.085 + 0.05 * au[26]
    furrow = _ramp(np.abs(WY - furrow_y + 0.6 * (WX - mx) ** 2) - 0.008, px) * np.clip(1.0 - np.abs(WX - mx) / 0.08, 0.0, 1.0)
    boss = np.clip(1.0 - ((WX - mx) / 0.08) ** 2 - ((WY - furrow_y - 0.07) / 0.05) ** 2, 0.0, 1.0)
    shade[:, wr, wc] += -(0.06 + 0.4 * au[17]) * furrow + 0.08 * au[17] * boss

    cv.paint(rs, cs, face, skin[:, :, None, None] * shade[:, None, rs, cs], cover=True)

    # -- hair on top ----------------------------------------------------------------
    rs, cs, Y, X = cv.window(-0.82, 0.35, -0.62, 0.62)
    fringe = (style == 3).astype(f32)[:, None, None]
    part = (style == 4).astype(f32)[:, None, None]
    has_top = (style != 0).astype(f32)[:, None, None]
    hairline = cy - b * g("hairline") * (1 - 0.45 * fringe)
    tilt = part * 0.15 * np.sign(p["identity"] % 2 - 0.5).astype(f32)[:, None, None]
    y_h = hairline + (0.9 - 0.5 * fringe) * (X - cx) ** 2 + tilt * (X - cx) + fringe * 0.02 * np.cos((X - cx) * 60.0)
    head = np.sqrt(((X - cx) / (a * 1.1)) ** 2 + ((Y - cy + 0.03) / (b * 1.07)) ** 2) - 1.0
    cover = _ramp(head * a, px) * np.clip((y_h - Y) / px + 0.5, 0.0, 1.0) * has_top
    hair_col = hair[:, :, None, None] * (0.85 + 0.15 * np.clip((Y - y_h + 0.4) / 0.4, 0.0, 1.0))[:, None]
    cv.paint(rs, cs, cover, hair_col, cover=True)

    # -- eyes -----------------------------------------------------------------------
    sclera = skin + 0.8 * (np.array([0.93, 0.91, 0.88], dtype=f32) - skin)
    iris = p["iris"].astype(f32)
    lash = np.minimum(hair, 0.2) * 0.6
    gaze = p["gaze"].astype(f32)
    hu = eye_h * np.maximum(1.0 + 1.0 * au[5] - 0.5 * au[7] - 0.3 * au[6] - 0.15 * au[4], 0.2)
    hl = eye_h * 0.75 * np.maximum(1.0 + 0.3 * au[5] - 0.6 * au[7] - 0.6 * au[6], 0.1)
    for s in (-1.0, 1.0):
        ex = cx + s * eye_dx + yaw * 0.05
        ew = eye_w * (1.0 + s * yaw * 0.12)
        rs, cs, Y, X = cv.window(-0.3, 0.12, min(s * 0.02, s * 0.36), max(s * 0.02, s * 0.36))
        t = (X - ex) / ew
        f = np.clip(1.0 - t * t, 0.0, None)
        y_u = eye_y - hu * f
        y_l = eye_y + hl * f
        opening = _band(Y, y_u, y_l, px) * _ramp(np.abs(t) - 1.0, px / ew)
        cv.paint(rs, cs, opening, sclera)
        ix = ex + gaze[:, 0, None, None] * ew * 0.3
        iy = eye_y + gaze[:, 1, None, None] * eye_h * 0.3
        dist = np.sqrt((X - ix) ** 2 + (Y - iy) ** 2)
        ir = ew * 0.42
        cv.paint(rs, cs, opening * _ramp(dist - ir, px), iris)
        cv.paint(rs, cs, opening * _ramp(dist - ir * 0.45, px), np.full_like(iris, 0.03))
        lid = _ramp(np.abs(Y - y_u + 0.004) - 0.008 - 0.008 * f, px) * _ramp(np.abs(t) - 1.05, px / ew)
        cv.paint(rs, cs, lid, lash)

    # -- brows ----------------------------------------------------------------------
    brow_col = hair + 0.85 * (np.array([0.10, 0.07, 0.05], dtype=f32) - hair)
    brow_dark = g("brow_dark")
    bt = g("brow_thick")
    for s in (-1.0, 1.0):
        xi = cx + yaw * 0.05 + s * (0.055 - 0.02 * au[4])
        xo = cx + yaw * 0.05 + s * (0.055 + g("brow_len"))
        rs, cs, Y, X = cv.window(-0.6, -0.02, min(0, s * 0.42), max(0, s * 0.42))
        t = (X - xi) / (xo - xi)
        yi = brow_y - 0.12 * au[1] + 0.075 * au[4] + g("brow_slant") + 0.02 * au[9]
        yo = brow_y - 0.11 * au[2] + 0.015 * au[4] - 0.015 * au[1]
        arch = g("brow_arch") + 0.02 * au[2] - 0.01 * au[4]
        yc = yi + (yo - yi) * t - arch * 4.0 * t * (1.0 - t)
        h = bt * (1.15 - 0.5 * np.clip(t, 0.0, 1.0))
        length = np.abs(xo - xi)
        cov = _ramp(np.abs(Y - yc) - h, px) * np.clip(np.minimum(t, 1.0 - t) * length / px + 0.5, 0.0, 1.0)
        cv.paint(rs, cs, cov * brow_dark, brow_col)

    # -- mouth ----------------------------------------------------------------------
    rs, cs, Y, X = cv.window(0.1, 0.8, -0.42, 0.42)
    my = my0 - 0.015 * au[17] - 0.012 * au[10] + 0.008 * au[15]
    w = mouth_w * (1.0 + 0.22 * au[12] + 0.28 * au[20] - 0.18 * au[23] - 0.15 * au[26] * (1.0 - au[20]) - 0.08 * au[17] + 0.05 * au[10])
    corner = g("mouth_curve") + 0.14 * au[12] - 0.09 * au[15] - 0.012 * au[20] - 0.01 * au[17]
    hump = 0.02 * au[17] + 0.01 * au[15]
    open_u = 0.010 * au[25] + 0.045 * au[10] + 0.015 * au[26] + 0.02 * au[12] * au[25]
    open_l = 0.02 * au[25] + 0.17 * au[26] + 0.05 * au[16] + 0.03 * au[20] * au[25] + 0.04 * au[12] * au[25]
    thin = np.clip(1.0 - 0.55 * au[23] - 0.3 * au[20] - 0.2 * au[12], 0.25, 1.0)
    lip_t = g("lip_thick") * thin
    t = (X - mx) / w
    f = np.clip(1.0 - t * t, 0.0, None)
    sf = np.sqrt(f)
    y_mid = my - corner * t * t - hump * f
    seam = 0.007 + 0.005 * sf
    y_top = y_mid - open_u * sf - seam
    y_bot = y_mid + open_l * sf + seam
    cov_x = _ramp(np.abs(t) - 1.0, px / w)
    lips = _band(Y, y_top - lip_t * (0.35 + 0.65 * sf), y_bot + 1.25 * lip_t * (0.35 + 0.65 * sf), px) * cov_x
    lip_col = skin * (1.0 - g("lip_red")[:, 0] * np.array([0.25, 0.5, 0.48], dtype=f32))
    cv.paint(rs, cs, lips, lip_col)
    inner = _band(Y, y_top, y_bot, px) * cov_x
    cv.paint(rs, cs, inner, np.broadcast_to(np.array([0.12, 0.03, 0.03], dtype=f32), skin.shape))
    gap = open_u + open_l
    show_u = np.clip(1.2 * au[12] + au[10] + 0.6 * au[20], 0.0, 1.0)
    show_l = np.clip(au[16] + 0.7 * au[20], 0.0, 1.0)
    teeth = inner * np.clip(np.maximum(y_top + seam + 0.45 * gap * show_u * sf - Y, Y - y_bot + seam + 0.3 * gap * show_l * sf) / px + 0.5, 0.0, 1.0)
    cv.paint(rs, cs, teeth * np.minimum(gap / 0.012, 1.0), np.broadcast_to(np.array([0.90, 0.88, 0.80], dtype=f32), skin.shape))

    # -- glasses and sunglasses (only for the faces that wear them) --------------------
    wear = np.flatnonzero(p["glasses"] | p["sunglasses"])
    if len(wear):
        _render_glasses(cv, p, wear, cx, skin)
    return cv.rgb, cv.alpha


def _render_glasses(cv, p, idx, cx, skin):
    px = cv.px
    f32 = np.float32
    sub = {k: p[k][idx] for k in ("eye_y", "eye_dx", "eye_w", "yaw", "face_w", "glasses_size", "sunglasses")}
    g = functools.partial(_col, sub)
    rs, cs, Y, X = cv.window(-0.4, 0.2, -0.8, 0.8)
    rgb = cv.rgb[idx, :, rs, cs]
    cxx = cx[idx]
    sun = g("sunglasses")
    frame_col = p["glasses_frame"][idx].astype(f32)[:, :, None, None]
    tint = np.where(sub["sunglasses"][:, None], p["lens_tint"][idx] * 0.4, 0.85 + 0.5 * p["lens_tint"][idx]).astype(f32)[:, :, None, None]
    ey = g("eye_y") - 0.01
    rx = (g("eye_w") * 1.5 + 0.02) * g("glasses_size")
    ry = 0.075 * g("glasses_size") * (1.0 + 0.15 * sun)
    thick = 0.008 + 0.008 * sun
    lens_cov = 0
    frame = 0
    for s in (-1.0, 1.0):
        ex = cxx + s * g("eye_dx") + g("yaw") * 0.05
        dx, dy = X - ex, Y - ey
        q = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
        q = np.sqrt(q * q + 0.5 * ((dx / rx) * (dy / ry)) ** 2)  # a little squarer than an ellipse
        dd = (q - 1.0) * ry
        lens_cov = lens_cov + _ramp(dd, px)
        frame = frame + _ramp(np.abs(dd) - thick, px)
    inner = g("eye_dx") - rx
    bridge = _ramp(np.abs(Y - ey + 0.02) - thick, px) * _ramp(np.abs(X - cxx - g("yaw") * 0.05) - inner, px)
    temple = _ramp(np.abs(Y - ey + 0.025) - thick * 0.8, px) * _band(np.abs(X - cxx), g("eye_dx") + rx, g("face_w") * 1.02, px)
    frame = np.clip(frame + bridge + temple, 0.0, 1.0)
    lens_cov = np.clip(lens_cov, 0.0, 1.0)
    opacity = np.where(sun > 0, 0.93, 0.18)
    glare = _ramp(np.abs((X - cxx) * 0.8 + (Y - ey) * 1.5 - 0.05) - 0.012, px) * 0.35
    la = lens_cov * opacity
    rgb += la[:, None] * (tint - rgb)
    rgb += (lens_cov * glare)[:, None] * (0.95 - rgb)
    rgb += frame[:, None] * (frame_col - rgb)
    cv.rgb[idx, :, rs, cs] = rgb
    a = cv.alpha[idx, rs, cs]
    cv.alpha[idx, rs, cs] = a + frame * (1.0 - a)


def _grid(S):
    return ((np.arange(S, dtype=np.float32) + 0.5) * (2.0 / S) - 1.0).astype(np.float32)


def _warp(rgb, alpha, p, S):
    """Move the canonical faces to their pose (bilinear, premultiplied RGBA, planar)."""
    B = len(rgb)
    f32 = np.float32
    coord = _grid(S)
    theta = np.deg2rad(p["rotation_deg"]).astype(f32)[:, None, None]
    scale = p["scale"].astype(f32)[:, None, None]
    dx = (coord[None, None, :] - p["shift_x"].astype(f32)[:, None, None]) / scale
    dy = (coord[None, :, None] - p["shift_y"].astype(f32)[:, None, None]) / scale
    c, s = np.cos(theta), np.sin(theta)
    jx = (c * dx + s * dy + 1.0) * (S / 2.0) - 0.5
    jy = (c * dy - s * dx + 1.0) * (S / 2.0) - 0.5
    x0 = np.floor(jx)
    y0 = np.floor(jy)
    wx = jx - x0
    wy = jy - y0
    # canvas padded by one replicated pixel on each side; sample positions shift by one
    x0 = np.clip(x0.astype(np.int32) + 1, 0, S)
    y0 = np.clip(y0.astype(np.int32) + 1, 0, S)
    W = S + 2
    planes = np.empty((B, 4, W, W), dtype=f32)
    planes[:, :3, 1:-1, 1:-1] = rgb
    planes[:, 3, 1:-1, 1:-1] = alpha
    planes[:, :, 0, 1:-1] = planes[:, :, 1, 1:-1]
    planes[:, :, -1, 1:-1] = planes[:, :, -2, 1:-1]
    planes[:, :, :, 0] = planes[:, :, :, 1]
    planes[:, :, :, -1] = planes[:, :, :, -2]
    flat = planes.reshape(-1)
    index = np.empty((B, 4, S, S), dtype=np.intp)
    index[:] = (y0 * W + x0)[:, None]
    index += (np.arange(B, dtype=np.intp) * (4 * W * W))[:, None, None, None] + (np.arange(4, dtype=np.intp) * (W * W))[None, :, None, None]
    wx = wx[:, None]
    wy = wy[:, None]
    v0 = np.take(flat, index)
    index += 1
    out = np.take(flat, index)
    out -= v0
    out *= wx
    out += v0
    index += W - 1
    np.take(flat, index, out=v0)
    index += 1
    low = np.take(flat, index)
    low -= v0
    low *= wx
    low += v0
    low -= out
    low *= wy
    out += low
    return out[:, :3], out[:, 3]


def _background(p, S):
    f32 = np.float32
    coord = _grid(S)
    ang = p["bg_angle"].astype(f32)[:, None, None]
    t = 0.5 + 0.5 * (np.cos(ang) * coord[None, None, :] + np.sin(ang) * coord[None, :, None])
    c0 = p["bg_color0"].astype(f32)[:, :, None, None]
    c1 = p["bg_color1"].astype(f32)[:, :, None, None]
    bg = c0 + (c1 - c0) * t[:, None]
    clutter = np.flatnonzero(p["background"] == 2)
    if len(clutter):
        m = _clutter_matrix(S)
        cells = p["bg_clutter"][clutter]
        up = m @ cells.transpose(0, 3, 1, 2) @ m.T  # (b, 3, S, S)
        bg[clutter] += up * 0.6
    return bg


def _occlude(img, p, S):
    idx = np.flatnonzero(p["occlusion"] > 0)
    if not len(idx):
        return
    f32 = np.float32
    coord = _grid(S)
    X, Y = coord[None, None, :], coord[None, :, None]
    c = p["occ_center"][idx].astype(f32)
    r = p["occ_radius"][idx].astype(f32)
    ang = p["occ_angle"][idx].astype(f32)[:, None, None]
    dx, dy = X - c[:, 0, None, None], Y - c[:, 1, None, None]
    u = np.cos(ang) * dx + np.sin(ang) * dy
    v = -np.sin(ang) * dx + np.cos(ang) * dy
    rx, ry = r[:, 0, None, None], r[:, 1, None, None]
    hand = (p["occlusion"][idx] == 1)[:, None, None]
    # hand: an ellipse with finger creases; object: a rounded box
    ell = (np.sqrt((u / rx) ** 2 + (v / ry) ** 2) - 1.0) * np.minimum(rx, ry)
    qx, qy = np.abs(u) - rx + 0.04, np.abs(v) - ry + 0.04
    box = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0) - 0.04
    cov = _ramp(np.where(hand, ell, box), 2.0 / S)
    skin = p["skin"][idx].astype(f32) * 0.95
    colour = np.where(hand[:, None], skin[:, :, None, None], p["occ_color"][idx].astype(f32)[:, :, None, None])
    crease = 1.0 - 0.25 * hand * _stripes(u, 0.11, 2.0 / S) ** 4 * (v < 0)
    shade = (0.85 + 0.15 * np.clip(1.0 - v / ry, 0, 2)) * crease
    sub = img[idx]
    sub += cov[:, None] * (colour * shade[:, None] - sub)
    img[idx] = sub


def _overlay_text(img, p, S):
    idx = np.flatnonzero(p["text"])
    if not len(idx):
        return
    f32 = np.float32
    px = 2.0 / S
    coord = _grid(S)
    cell = np.maximum(p["text_height"][idx].astype(f32) / 5.0, px)
    pos = p["text_pos"][idx].astype(f32)
    col = np.floor((coord[None, :] - pos[:, 0, None]) / cell[:, None]).astype(np.int64)  # (m, S)
    row = np.floor((coord[None, :] - pos[:, 1, None]) / cell[:, None]).astype(np.int64)
    glyph_i = col // 4
    valid_c = (col >= 0) & (glyph_i < p["text_len"][idx][:, None])
    valid_r = (row >= 0) & (row < 5)
    glyph_i = np.clip(glyph_i, 0, _TEXT_MAX_CHARS - 1)
    glyph = np.take_along_axis(p["text_glyphs"][idx], glyph_i, axis=1)  # (m, S)
    bit = _FONT[glyph[:, None, :], np.clip(row, 0, 4)[:, :, None], (col % 4)[:, None, :]]
    alpha = bit * (valid_c[:, None, :] & valid_r[:, :, None]) * p["text_opacity"][idx].astype(f32)[:, None, None]
    colour = p["text_color"][idx].astype(f32)[:, :, None, None]
    sub = img[idx]
    sub += alpha[:, None] * (colour - sub)
    img[idx] = sub


def _blur(img, p):
    """[1 2 1]/4 binomial blur along both axes, once or twice."""
    for level in (1, 2):
        idx = np.flatnonzero(p["blur"] >= level)
        if not len(idx):
            continue
        x = img[idx]
        pad = np.concatenate([x[:, :, :1], x, x[:, :, -1:]], axis=2)
        x = 0.25 * (pad[:, :, :-2] + pad[:, :, 2:]) + 0.5 * x
        pad = np.concatenate([x[:, :, :, :1], x, x[:, :, :, -1:]], axis=3)
        img[idx] = 0.25 * (pad[:, :, :, :-2] + pad[:, :, :, 2:]) + 0.5 * x


def _add_noise(img, p, S):
    sigma = p["noise_std"].astype(np.float32)
    idx = np.flatnonzero(sigma > 0)
    if not len(idx):
        return
    bank = _noise_bank(S)
    code = p["noise_index"][idx]
    k = code % _NOISE_BANK_SIZE
    oy = (code // _NOISE_BANK_SIZE) % _NOISE_PAD
    ox = (code // (_NOISE_BANK_SIZE * _NOISE_PAD)) % _NOISE_PAD
    for i, kk, y, x in zip(idx.tolist(), k.tolist(), oy.tolist(), ox.tolist()):
        img[i] += bank[kk, :, y:y + S, x:x + S] * sigma[i]


def _jpeg(img, p, S):
    """JPEG-like compression: 8x8 DCT quantisation in YCbCr with the standard tables."""
    q = p["jpeg_quality"]
    idx = np.flatnonzero(q > 0)
    if not len(idx):
        return
    f32 = np.float32
    x = np.clip(img[idx], 0.0, 1.0) * 255.0
    pad = (-S) % 8
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad)), mode="edge")
    m, H = len(idx), S + pad
    n8 = H // 8
    ycc = np.einsum("dc,mchw->mdhw", _RGB_TO_YCC, x)
    ycc[:, 0] -= 128.0
    blocks = ycc.reshape(m, 3, n8, 8, n8, 8).transpose(0, 1, 2, 4, 3, 5)  # (m, c, by, bx, 8, 8)
    coef = _DCT @ blocks @ _DCT.T
    quality = q[idx].astype(np.float64)
    scale = np.where(quality < 50, 5000.0 / quality, 200.0 - 2.0 * quality)
    tables = np.stack([_JPEG_LUMA, _JPEG_CHROMA, _JPEG_CHROMA])  # (3, 8, 8)
    qt = np.clip(np.floor((tables[None] * scale[:, None, None, None] + 50.0) / 100.0), 1, 255).astype(f32)
    qt = qt[:, :, None, None]  # (m, 3, 1, 1, 8, 8)
    coef = np.round(coef / qt) * qt
    blocks = _DCT.T @ coef @ _DCT
    ycc = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(m, 3, H, H)
    ycc[:, 0] += 128.0
    rgb = np.einsum("dc,mchw->mdhw", _YCC_TO_RGB, ycc)
    img[idx] = rgb[:, :, :S, :S] * (1.0 / 255.0)


def _render_batch(p, S):
    """RGB uint8 images (B, S, S, 3) for one batch of parameters."""
    rgb, alpha = _render_face(p, S)
    rgb, alpha = _warp(rgb, alpha, p, S)
    bg = _background(p, S)
    bg *= (1.0 - alpha)[:, None]
    img = rgb
    img += bg
    _occlude(img, p, S)
    _overlay_text(img, p, S)
    # illumination: contrast, overall level, a directional gradient, warmth
    f32 = np.float32
    coord = _grid(S)
    ang = p["light_angle"].astype(f32)[:, None, None]
    light = 1.0 + p["light_gradient"].astype(f32)[:, None, None] * (np.cos(ang) * coord[None, None, :] + np.sin(ang) * coord[None, :, None])
    light *= p["brightness"].astype(f32)[:, None, None]
    warm = p["light_warmth"].astype(f32)[:, None]
    tint = (1.0 + warm * np.array([1.0, 0.0, -1.0], dtype=f32))[:, :, None, None]
    contrast = p["contrast"].astype(f32)[:, None, None, None]
    img *= contrast
    img += 0.5 * (1.0 - contrast)
    img *= light[:, None]
    img *= tint
    _blur(img, p)
    _add_noise(img, p, S)
    _jpeg(img, p, S)
    img *= 255.0
    np.round(img, out=img)
    np.clip(img, 0, 255, out=img)
    return img.astype(np.uint8).transpose(0, 2, 3, 1)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma exactly as PIL's ``convert("L")``."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


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
    image_size = check_image_size(image_size)
    channels = check_channels(channels)
    batch_size = _default_batch_size(image_size) if batch_size is None else check_batch_size(batch_size)
    n = len(params["label"])
    out = np.empty((n, image_size, image_size, channels), dtype=np.uint8)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        batch = {k: v[start:stop] for k, v in params.items()}
        rgb = _render_batch(batch, image_size)
        out[start:stop] = rgb if channels == 3 else _luma(rgb)
    return out
