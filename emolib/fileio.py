"""Atomic file writes: write to a temporary name beside the target, then rename.

A reader never sees a half-written file, and a failed write leaves nothing
behind. Files and folders get the usual permissions (``0666``/``0777`` minus the
umask), not the private ``0600``/``0700`` of :mod:`tempfile`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(path) -> None:
    """Give a file or folder made by :mod:`tempfile` the permissions of a normal one."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~_umask())


@contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a temporary path beside ``path``, ending in ``suffix`` (for writers
    that insist on one, such as Keras' ``.keras``); rename it to ``path`` when
    the block succeeds, delete it when the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, obj, **kwargs) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (``kwargs`` go to :func:`json.dumps`)."""
    return write_text(path, json.dumps(obj, indent=2, **kwargs) + "\n")


def temp_dir_beside(path, tag="tmp") -> Path:
    """A new, normally-permissioned, hidden folder next to ``path`` (to build into, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{tag}-", dir=path.parent))
    publish(tmp)
    return tmp


def jsonable(obj):
    """``obj`` with tuples as lists, numpy scalars and arrays as Python values and
    NaN or infinities as ``None``: what strict JSON can hold."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
