"""The procedural face-expression generator, under its historical name.

The generator lives in :mod:`emolib.data.faces` (one module per part of the
picture: expressions, people and nuisances, head, eyes, brows, mouth,
accessories, camera); this module re-exports its public names so that
``from emolib.data.synthetic import generate`` keeps working.
"""

from .faces import (
    ACTION_UNITS,
    AU_COLUMNS,
    BALANCES,
    EMOTIONS,
    FER2013_COUNTS,
    PROTOTYPES,
    class_counts,
    generate,
    params_to_meta,
    render,
    sample_action_units,
    sample_identities,
    sample_params,
)

__all__ = [
    "ACTION_UNITS",
    "AU_COLUMNS",
    "PROTOTYPES",
    "BALANCES",
    "EMOTIONS",
    "FER2013_COUNTS",
    "class_counts",
    "sample_action_units",
    "sample_identities",
    "sample_params",
    "render",
    "params_to_meta",
    "generate",
]
