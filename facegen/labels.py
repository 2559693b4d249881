"""The emotions: their names in FER2013's label order, the class presets, their other
spellings, and the data set's splits. emolib uses the very same ones (``emolib.data.base``
imports them from here)."""

from __future__ import annotations

#: FER2013's seven emotions, in FER2013's label order (label 0 is angry).
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

#: Named class subsets used by the curriculum.
PRESETS = {
    "fer7": EMOTIONS,
    # seed 003: 4-class grayscale faces
    "seed003": ("happy", "neutral", "sad", "surprise"),
    # seed 002: 3 classes
    "seed002": ("angry", "happy", "sad"),
}

#: Other spellings of the seven emotions found in public data sets.
LABEL_SYNONYMS = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "contempt": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral", "neural": "neutral",  # "neural": seed 003's typo
}

SPLITS = ("train", "val", "test")


def normalize_label(name) -> str:
    """Return the canonical emotion name for ``name`` (case and synonyms ignored).

    >>> normalize_label("Happiness")
    'happy'

    Raises ``ValueError`` naming the label when it is not an emotion we know.
    """
    key = str(name).strip().lower()
    if key not in LABEL_SYNONYMS:
        raise ValueError(
            f"unknown emotion label {name!r}; known labels: {sorted(set(LABEL_SYNONYMS))}"
        )
    return LABEL_SYNONYMS[key]


def resolve_classes(classes) -> tuple[str, ...]:
    """Canonical emotion names, in the given order, of a preset name (:data:`PRESETS`) or
    a list of labels; ``None`` gives :data:`EMOTIONS`."""
    if classes is None:
        return EMOTIONS
    if isinstance(classes, str):
        if classes not in PRESETS:
            raise ValueError(f"unknown class preset {classes!r}; presets: {sorted(PRESETS)}")
        return tuple(PRESETS[classes])
    names = tuple(normalize_label(c) for c in classes)
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate classes in {list(classes)!r}")
    if not names:
        raise ValueError("classes must not be empty")
    return names
