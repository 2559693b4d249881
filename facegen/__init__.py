"""Procedural face-expression generator driven by facial action units (FACS).

No labelled face-expression data set can be downloaded everywhere the curriculum
runs, so emolib draws its own faces with this package. It needs NumPy, SciPy and
Pillow only (no emolib, TensorFlow, Keras or pandas): it returns NumPy arrays and
dicts of them, and emolib (:mod:`emolib.data.synthetic`) turns them into its data set.

Each image is made in three steps, each a public function a notebook can call on its own:

1. :func:`sample_action_units` draws an expression for every label
   (:mod:`.expressions`);
2. :func:`sample_params` adds everything that is *not* the expression: the
   person, pose, light, background, accessories and camera (:mod:`.params`);
3. :func:`render` draws the faces in batches with NumPy broadcasting: soft-edged
   shapes from (approximate) signed distances on a coordinate grid, anti-aliased
   with a one-pixel linear ramp, painted in a canonical face frame, warped to the
   pose, then composited over the background and degraded (:mod:`.render`).

:func:`generate` puts the three together into identity-disjoint train, validation
and test splits with per-image metadata (:mod:`.generate`).

Coordinates: the canonical face frame spans ``[-1, 1]`` in x (left to right)
and y (top to bottom) whatever the resolution; lengths in the parameters are in
those units (1.0 = half the image width).

The picture's parts, each drawn by its own module on a :class:`~.canvas.Canvas`
(and tested alone in tests/test_facegen.py): :mod:`.head` (skin, hair, neck, ears,
face outline, nose), :mod:`.eyes`, :mod:`.brows`, :mod:`.mouth`, :mod:`.accessories`
(glasses, occluders, text) and :mod:`.camera` (pose, background, light, blur, noise, JPEG).
The emotions' names, class presets and splits are in :mod:`.labels`.
"""

from .expressions import ACTION_UNITS, AU_COLUMNS, PROTOTYPES, sample_action_units
from .generate import BALANCES, FER2013_COUNTS, class_counts, generate
from .labels import EMOTIONS, PRESETS, SPLITS, normalize_label, resolve_classes
from .params import params_to_meta, sample_identities, sample_params
from .render import render

__all__ = [
    "ACTION_UNITS", "AU_COLUMNS", "PROTOTYPES", "BALANCES", "EMOTIONS", "FER2013_COUNTS", "PRESETS", "SPLITS",
    "class_counts", "normalize_label", "resolve_classes",
    "sample_action_units", "sample_identities", "sample_params", "render", "params_to_meta", "generate",
]
