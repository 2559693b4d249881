"""Data sources: a procedural face-expression generator and real-data loaders,
all returning :class:`emolib.data.base.EmotionDataset`."""

from .base import EMOTIONS, PRESETS, EmotionDataset, Split, convert_images, normalize_label, resolve_classes
