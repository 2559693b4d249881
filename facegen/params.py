"""Everything but the expression: the people (:func:`sample_identities`: face shape, skin,
hair, eyes, brows, mouth, age, a resting expression) and the nuisances of each picture
(:func:`sample_params`); :func:`params_to_meta` turns them into per-image metadata.

Lengths are in the canonical face frame's units (1.0 = half the image width).
"""

from __future__ import annotations

import numpy as np

from .accessories import SPACE_GLYPH, TEXT_MAX_CHARS
from .checks import check_int
from .expressions import AU_COLUMNS, label_indices, sample_action_units
from .labels import EMOTIONS, resolve_classes

#: Names of the indices in ``params["background"]``, ``["hair_style"]`` and ``["occlusion"]``.
BACKGROUNDS = ("flat", "gradient", "clutter")
HAIR_STYLES = ("bald", "short", "long", "fringe", "side_part")
OCCLUDERS = ("none", "hand", "object")

_SKIN_LIGHT = np.array([0.95, 0.80, 0.70])
_SKIN_DARK = np.array([0.36, 0.23, 0.16])
_HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05], [0.20, 0.13, 0.08], [0.38, 0.25, 0.14], [0.70, 0.56, 0.33],
    [0.55, 0.25, 0.12], [0.62, 0.60, 0.58], [0.85, 0.84, 0.82],
])
_IRIS_COLOURS = np.array([[0.25, 0.15, 0.08], [0.12, 0.08, 0.05], [0.30, 0.40, 0.55], [0.30, 0.38, 0.25]])


def sample_identities(n: int, rng) -> dict:
    """Draw ``n`` identities (people): a dict of arrays with ``n`` rows (``(n, 3)`` RGB in
    [0, 1] for ``skin``, ``hair``, ``iris`` and ``clothes``), lengths in canonical units.

    The keys name the traits; the less obvious ones: ``face_w``/``face_h`` (half width and
    height of the face), ``jaw`` (taper of the lower face), ``skin_tone`` (0 light .. 1 dark),
    ``hair_style`` (index into :data:`HAIR_STYLES`), ``eye_dx`` (half the distance between
    the eyes), ``brow_gap`` (brow height above the eye), ``brow_slant`` (inner end lowered:
    a resting frown), ``mouth_curve`` (resting corner lift: some people look slightly happy
    or sad at rest), ``age`` (0..1, wrinkles).
    """
    n = check_int(n, "n")
    uniform = rng.uniform
    tone = rng.beta(1.3, 1.3, size=n)
    skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * tone[:, None]
    skin = skin * rng.uniform(0.93, 1.07, size=(n, 1)) + rng.normal(0, 0.025, size=(n, 3))
    age = rng.beta(1.2, 2.2, size=n)
    hair_idx = rng.choice(len(_HAIR_COLOURS), size=n, p=[0.3, 0.25, 0.15, 0.1, 0.06, 0.08, 0.06])
    grey = rng.random(n) < age * 0.6
    hair_idx = np.where(grey, rng.choice([5, 6], size=n), hair_idx)
    hair = _HAIR_COLOURS[hair_idx] * rng.uniform(0.85, 1.15, size=(n, 1))
    style = rng.choice(len(HAIR_STYLES), size=n, p=[0.08, 0.37, 0.28, 0.14, 0.13])
    return {
        "face_w": uniform(0.43, 0.53, n),
        "face_h": uniform(0.60, 0.70, n),
        "jaw": uniform(0.05, 0.40, n),
        "skin": np.clip(skin, 0.05, 1.0),
        "skin_tone": tone,
        "hair": np.clip(hair, 0.0, 1.0),
        "hair_style": style,
        "hairline": uniform(0.55, 0.80, n),
        "hair_len": uniform(0.2, 1.0, n),
        "eye_dx": uniform(0.19, 0.23, n),
        "eye_y": rng.normal(-0.08, 0.02, n),
        "eye_w": uniform(0.10, 0.12, n),
        "eye_h": uniform(0.036, 0.048, n),
        "iris": _IRIS_COLOURS[rng.choice(4, size=n, p=[0.45, 0.3, 0.15, 0.1])],
        "brow_gap": uniform(0.12, 0.17, n),
        "brow_slant": rng.normal(0.0, 0.020, n),
        "brow_arch": uniform(0.0, 0.03, n),
        "brow_len": uniform(0.17, 0.23, n),
        "brow_thick": uniform(0.035, 0.05, n),
        "brow_dark": uniform(0.8, 1.0, n),
        "nose_y": uniform(0.14, 0.20, n),
        "nose_w": uniform(0.85, 1.2, n),
        "mouth_y": uniform(0.34, 0.41, n),
        "mouth_w": uniform(0.17, 0.21, n),
        "lip_thick": uniform(0.024, 0.038, n),
        "lip_red": uniform(0.5, 1.0, n),
        "mouth_curve": rng.normal(0.0, 0.017, n),
        "age": age,
        "expressiveness": uniform(0.75, 1.2, n),
        "base_flush": rng.normal(0.0, 0.35, n),
        "wears_glasses": rng.random(n) < 0.12,
        "clothes": rng.uniform(0.05, 0.9, size=(n, 3)),
    }


def sample_params(labels, rng, class_names=EMOTIONS, identity=None, identities=None) -> dict:
    """Everything needed to render ``n`` faces: a dict of arrays with ``n`` rows.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Emotion names or integer indices into ``class_names``.
    rng : numpy.random.Generator
    class_names : sequence of str
    identity : array-like of int, shape (n,), optional
        Row of ``identities`` each image shows; by default every image is a new person.
    identities : dict, optional
        Output of :func:`sample_identities`; drawn here when missing.

    Returns
    -------
    dict with ``label`` (n,), the columns of :func:`sample_action_units`, the
    identity traits of :func:`sample_identities` (one row per image), pose
    (``rotation_deg``, ``scale``, ``shift_x``, ``shift_y`` in canonical units,
    ``yaw`` in [-1, 1]), gaze, illumination (``brightness`` multiplier,
    ``light_gradient`` strength, ``light_angle``, ``light_warmth``),
    ``background`` (index into flat, gradient, clutter) with its colours,
    ``glasses``, ``sunglasses``, ``occlusion`` (index into none, hand, object)
    with its geometry, ``text`` with its glyphs, ``blur`` (0, 1, 2 passes),
    ``noise_std`` (in [0, 1] intensity units), ``jpeg_quality`` (0: none),
    ``flush`` and ``pallor`` (colour cues). Pass it to :func:`render`.
    """
    class_names = resolve_classes(class_names)
    label = label_indices(labels, class_names)
    n = len(label)
    if identities is None:
        identities = sample_identities(n, rng)
        identity = np.arange(n)
    elif identity is None:
        raise ValueError("identity must be given together with identities")
    identity = np.asarray(identity, dtype=np.int64)
    if identity.shape != (n,):
        raise ValueError(f"identity must have shape ({n},), got {identity.shape}")
    params = {"label": label, "identity": identity}
    for key, value in identities.items():
        params[key] = np.asarray(value)[identity]
    expression = sample_action_units(label, rng, class_names, expressiveness=params["expressiveness"])
    params.update(expression)
    # the draws below happen in this order: changing it changes every image
    for draw in (_pose, _colour_cues, _illumination, _background, _accessories, _occluder, _text, _camera):
        params.update(draw(params, rng, n))
    return params


def _pose(params, rng, n):
    return {
        "rotation_deg": np.clip(rng.normal(0.0, 7.0, n), -20, 20),
        "scale": rng.uniform(1.4, 1.7, n),
        "shift_x": np.clip(rng.normal(0.0, 0.06, n), -0.15, 0.15),
        "shift_y": np.clip(rng.normal(0.0, 0.06, n), -0.15, 0.15),
        "yaw": np.clip(rng.normal(0.0, 0.3, n), -1.0, 1.0),
        "gaze": np.clip(rng.normal(0.0, 0.4, (n, 2)), -1, 1),
    }


def _colour_cues(params, rng, n):
    """Anger flushes, fear pales (weak, mixed with the identity's own tint)."""
    emotion = params["emotion"]
    cue = params["intensity"].astype(np.float64) * rng.uniform(0.0, 1.6, n)
    flush = (params["base_flush"] + np.where(emotion == "angry", 0.55 * cue, 0.0)
             + np.where(emotion == "disgust", 0.2 * cue, 0.0))
    pallor = (np.clip(rng.normal(0.0, 0.12, n), 0, None) + np.where(emotion == "fear", 0.45 * cue, 0.0)
              + np.where(emotion == "sad", 0.1 * cue, 0.0))
    return {"flush": flush, "pallor": pallor}


def _illumination(params, rng, n):
    uniform = rng.uniform
    return {
        "brightness": uniform(0.7, 1.2, n),
        "light_gradient": uniform(0.0, 0.4, n),
        "light_angle": uniform(0.0, 2 * np.pi, n),
        "light_warmth": rng.normal(0.0, 0.05, n),
        "contrast": uniform(0.85, 1.15, n),
    }


def _background(params, rng, n):
    uniform = rng.uniform
    kind = rng.choice(3, size=n, p=[0.35, 0.4, 0.25])
    level = uniform(0.1, 0.9, (n, 1))
    colour0 = np.clip(level + uniform(0.0, 0.6, (n, 1)) * uniform(-0.5, 0.5, (n, 3)), 0, 1)
    level = uniform(0.1, 0.9, (n, 1))
    other = np.clip(level + uniform(0.0, 0.6, (n, 1)) * uniform(-0.5, 0.5, (n, 3)), 0, 1)
    return {
        "background": kind,
        "bg_color0": colour0,
        "bg_color1": np.where((kind == 0)[:, None], colour0, other),
        "bg_angle": uniform(0.0, 2 * np.pi, n),
        "bg_clutter": (uniform(-0.5, 0.5, (n, 6, 6, 1)) + uniform(-0.15, 0.15, (n, 6, 6, 3))).astype(np.float32),
    }


def _accessories(params, rng, n):
    glasses = params["wears_glasses"] & (rng.random(n) < 0.8)
    return {
        "glasses": glasses,
        "sunglasses": ~glasses & (rng.random(n) < 0.03),
        "glasses_frame": rng.uniform(0.0, 0.5, (n, 3)),
        "glasses_size": rng.uniform(0.9, 1.15, n),
        "lens_tint": rng.uniform(0.02, 0.25, (n, 3)),
    }


def _occluder(params, rng, n):
    uniform = rng.uniform
    occluded = rng.random(n) < 0.06
    return {
        "occlusion": np.where(occluded, rng.choice([1, 2], size=n), 0),
        "occ_center": np.stack([uniform(-0.55, 0.55, n), uniform(-0.1, 0.85, n)], axis=1),
        "occ_radius": np.stack([uniform(0.15, 0.38, n), uniform(0.12, 0.34, n)], axis=1),
        "occ_angle": uniform(-0.8, 0.8, n),
        "occ_color": uniform(0.05, 0.95, (n, 3)),
    }


def _text(params, rng, n):
    uniform = rng.uniform
    shown = rng.random(n) < 0.08
    length = rng.integers(3, TEXT_MAX_CHARS + 1, n)
    glyphs = rng.integers(0, SPACE_GLYPH, (n, TEXT_MAX_CHARS))
    glyphs[rng.random((n, TEXT_MAX_CHARS)) < 0.12] = SPACE_GLYPH
    height = uniform(0.12, 0.28, n)
    position = np.stack([uniform(-0.95, 0.3, n), uniform(-0.95, 0.75, n)], axis=1)
    # 70%: white (60%) or black text, else any colour
    colour = np.where(rng.random((n, 1)) < 0.7, np.where(rng.random((n, 1)) < 0.6, 1.0, 0.0), uniform(0, 1, (n, 3)))
    return {
        "text": shown, "text_len": length, "text_glyphs": glyphs, "text_height": height,
        "text_pos": position, "text_color": colour, "text_opacity": uniform(0.45, 0.95, n),
    }


def _camera(params, rng, n):
    """Blur passes, sensor noise and JPEG quality."""
    return {
        "blur": rng.choice(3, size=n, p=[0.65, 0.3, 0.05]),
        "noise_std": rng.uniform(0.0, 0.03, n) * (rng.random(n) < 0.7),
        "noise_index": rng.integers(0, 1 << 30, n),
        "jpeg_quality": np.where(rng.random(n) < 0.3, rng.integers(30, 90, n), 0),
    }


def params_to_meta(params, class_names=EMOTIONS) -> dict:
    """Per-image metadata from :func:`sample_params`' output: a dict of arrays, one value per
    image (the columns of a table, in this order)."""

    def as_type(dtype, *keys):
        return {key: params[key].astype(dtype) for key in keys}

    def names(choices, key):  # the names (str) of the integer codes params[key]
        return np.asarray(choices, dtype=object)[params[key]].astype(str) if len(params[key]) else []

    return {
        **as_type(np.int64, "label"), "emotion": names(tuple(class_names), "label"),
        **as_type(np.int64, "identity"), **as_type(np.float32, "intensity"), **as_type(np.int64, "variant"),
        **as_type(np.float32, *AU_COLUMNS),
        **as_type(np.float32, "rotation_deg", "scale", "shift_x", "shift_y", "yaw"),  # pose
        **as_type(bool, "glasses", "sunglasses", "text"),
        "occlusion": params["occlusion"] > 0, "occluder": names(OCCLUDERS, "occlusion"),
        "background": names(BACKGROUNDS, "background"), **as_type(np.float32, "brightness", "light_gradient"),
        **as_type(np.int64, "blur"), **as_type(np.float32, "noise_std"), **as_type(np.int64, "jpeg_quality"),
        **as_type(np.float32, "skin_tone"), "hair_style": names(HAIR_STYLES, "hair_style"),
        **as_type(np.float32, "age", "mouth_curve", "brow_slant", "flush", "pallor"),
    }
