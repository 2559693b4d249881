"""Expressions: facial action units (FACS), the emotions' prototypes and their sampling.

:func:`sample_action_units` draws, for every label, an *intensity* (subtle 0 ..
strong 1) and the intensity of each action unit (:data:`ACTION_UNITS`), from
per-class prototypes after EMFACS (happy = AU6+12, sad = AU1+4+15, surprise =
AU1+2+5+26, fear = AU1+2+4+5+7+20+26, angry = AU4+5+7+23, disgust = AU9+10+15+16,
neutral ~ nothing). The class distributions overlap on purpose: each prototype
has variants, every AU is jittered or dropped at random, all faces carry small
spurious activations, and subtle expressions are close to neutral. So fear looks
like surprise, anger like disgust and sadness like a neutral face, as in real data.
"""

from __future__ import annotations

import numpy as np

from .labels import EMOTIONS, normalize_label, resolve_classes

#: Facial action units used by the generator (FACS code -> description).
ACTION_UNITS = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    12: "lip corner puller", 15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser",
    20: "lip stretcher", 23: "lip tightener", 25: "lips part", 26: "jaw drop",
}

#: Metadata column of each action unit, in :data:`ACTION_UNITS` order (``au01`` ...).
AU_COLUMNS = tuple(f"au{code:02d}" for code in ACTION_UNITS)
_AU_INDEX = {code: i for i, code in enumerate(ACTION_UNITS)}

#: Expression prototypes after EMFACS: per emotion a list of variants
#: ``(probability, {AU code: intensity at full expression})``.
PROTOTYPES = {
    "angry": [
        (0.6, {4: 1.0, 5: 0.5, 7: 0.8, 23: 0.9, 17: 0.4}),
        (0.4, {4: 0.9, 5: 0.6, 7: 0.6, 10: 0.6, 25: 0.8, 26: 0.35, 23: 0.3}),  # shouting
    ],
    "disgust": [
        (0.55, {9: 1.0, 10: 0.8, 15: 0.5, 4: 0.5, 17: 0.5, 7: 0.3}),
        (0.45, {9: 0.6, 10: 1.0, 16: 0.6, 25: 0.6, 4: 0.4, 15: 0.4}),
    ],
    "fear": [
        (0.6, {1: 0.9, 2: 0.6, 4: 0.6, 5: 1.0, 7: 0.4, 20: 0.9, 25: 0.8, 26: 0.45}),
        (0.4, {1: 0.9, 2: 0.8, 4: 0.3, 5: 0.9, 20: 0.5, 25: 0.8, 26: 0.75}),  # close to surprise
    ],
    "happy": [
        (0.4, {6: 0.7, 12: 1.0, 25: 0.3}),
        (0.6, {6: 0.8, 12: 1.0, 25: 1.0, 26: 0.35, 10: 0.3}),  # open-mouthed smile
    ],
    "sad": [
        (0.7, {1: 0.9, 4: 0.55, 15: 0.9, 17: 0.5}),
        (0.3, {1: 0.8, 4: 0.5, 15: 0.8, 25: 0.3, 26: 0.1}),
    ],
    "surprise": [
        (0.6, {1: 1.0, 2: 1.0, 5: 0.9, 25: 0.9, 26: 0.9}),
        (0.4, {1: 0.9, 2: 0.9, 5: 0.7, 25: 0.5, 26: 0.3}),
    ],
    "neutral": [(1.0, {})],
}

# Expression intensity of non-neutral faces: Beta(a, b) mapped to [lo, 1].
_INTENSITY_BETA = (2.4, 1.3)
_INTENSITY_LOW = 0.18


def label_indices(labels, class_names) -> np.ndarray:
    """Labels (names or integer indices into ``class_names``) as an ``int64`` array of class indices."""
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind in "iu":
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"labels must lie in 0..{len(class_names) - 1}")
        return labels.astype(np.int64)
    for label in labels:
        if normalize_label(label) not in class_names:
            raise ValueError(f"label {label!r} is not one of the classes {class_names}")
    return np.array([class_names.index(normalize_label(label)) for label in labels], dtype=np.int64)


def sample_action_units(labels, rng, class_names=EMOTIONS, expressiveness=None) -> dict:
    """Draw an expression for each label.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Emotion names, or integer indices into ``class_names``.
    rng : numpy.random.Generator
    class_names : sequence of str
        What integer labels index into (FER2013 order by default).
    expressiveness : array-like of shape (n,), optional
        Per-image multiplier of the intensity (a trait of the identity; 1 by default).

    Returns
    -------
    dict of arrays of length ``n`` (the columns of a table, in this order): ``emotion``,
    ``variant`` (index of the prototype variant), ``intensity`` (0 for neutral, otherwise
    in ``(0, 1]``; subtle to strong) and one per action unit (:data:`AU_COLUMNS`,
    intensities in ``[0, 1]``).
    """
    class_names = resolve_classes(class_names)
    emotions = np.asarray(class_names, dtype=object)[label_indices(labels, class_names)]
    n, n_au = len(emotions), len(ACTION_UNITS)
    intensity = _INTENSITY_LOW + (1 - _INTENSITY_LOW) * rng.beta(*_INTENSITY_BETA, size=n)
    if expressiveness is not None:
        intensity = intensity * np.asarray(expressiveness, dtype=np.float64)
    intensity = np.clip(intensity, 0.0, 1.0)
    variant_draw = rng.random(n)
    jitter = rng.uniform(0.65, 1.25, size=(n, n_au))
    keep = rng.random((n, n_au)) > 0.12
    aus, variant = _prototype_action_units(emotions, variant_draw)
    intensity[emotions == "neutral"] = 0.0
    aus = _add_spurious_activity(aus * jitter * keep * intensity[:, None], rng)
    return {"emotion": emotions.astype(str), "variant": variant, "intensity": intensity.astype(np.float32),
            **dict(zip(AU_COLUMNS, np.ascontiguousarray(aus.T, dtype=np.float32)))}


def _prototype_action_units(emotions, variant_draw):
    """Full-strength action units (n, n_au) of each image's prototype variant, and the
    variant's index (n,); ``variant_draw`` (n,) uniform in [0, 1) picks the variant."""
    aus = np.zeros((len(emotions), len(ACTION_UNITS)))
    variant = np.zeros(len(emotions), dtype=np.int64)
    for emotion, variants in PROTOTYPES.items():
        rows = np.flatnonzero(emotions == emotion)
        if not len(rows):
            continue
        cumulative = np.cumsum([probability for probability, _ in variants])
        chosen = np.searchsorted(cumulative / cumulative[-1], variant_draw[rows], side="right")
        chosen = np.minimum(chosen, len(variants) - 1)
        variant[rows] = chosen
        for v, (_, prototype) in enumerate(variants):
            selected = rows[chosen == v]
            for code, value in prototype.items():
                aus[selected, _AU_INDEX[code]] = value
    return aus, variant


def _add_spurious_activity(aus, rng):
    """Small activity everyone shows, plus the odd stray action unit; clipped to [0, 1]."""
    n, n_au = aus.shape
    aus += np.abs(rng.normal(0.0, 0.05, size=(n, n_au)))
    stray = rng.random(n) < 0.25
    stray_au = rng.integers(0, n_au, size=n)
    stray_value = rng.uniform(0.0, 0.35, size=n)
    aus[np.flatnonzero(stray), stray_au[stray]] += stray_value[stray]
    return np.clip(aus, 0.0, 1.0)
