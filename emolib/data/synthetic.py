"""The procedural face-expression generator under its first name.

The generator lives in :mod:`emolib.data.faces` (a module per part of the picture:
expressions, people and nuisances, head, eyes, brows, mouth, accessories, camera);
this module re-exports its public names, so ``from emolib.data.synthetic import
generate`` and ``synthetic.render(...)`` keep working.
"""

from .faces import *  # noqa: F401,F403  (the public names, listed in faces.__all__)
from .faces import __all__  # noqa: F401
