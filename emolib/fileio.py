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

__all__ = ["atomic_path", "write_json", "write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(path) -> None:
    """Give a file or folder made by :mod:`tempfile` the permissions of a normal one."""
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~_umask())


@contextmanager
def atomic_path(path, suffix=".tmp"):
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write; its folder is made if missing.
    suffix : str, default ".tmp"
        The temporary name's ending, for writers that insist on one (Keras' ``".keras"``).

    Yields
    ------
    pathlib.Path
        The temporary file (it exists, empty): write it inside the ``with`` block. When the
        block raises, it is deleted and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path, text: str) -> Path:
    """Write text to a file atomically (UTF-8).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    text : str
        Its new content.

    Returns
    -------
    pathlib.Path
        ``Path(path)``.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, obj, **kwargs) -> Path:
    """Write an object as indented JSON to a file atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    obj : object
        What :func:`json.dumps` can write (see :func:`_jsonable`).
    **kwargs
        Passed to :func:`json.dumps` (``indent`` is 2).

    Returns
    -------
    pathlib.Path
        ``Path(path)``.
    """
    return write_text(path, json.dumps(obj, indent=2, **kwargs) + "\n")


def _temp_dir_beside(path, tag="tmp") -> Path:
    """A new, normally-permissioned, hidden folder next to ``path`` (to build into, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{tag}-", dir=path.parent))
    _publish(tmp)
    return tmp


def _jsonable(obj):
    """An object as strict JSON can hold it.

    Parameters
    ----------
    obj : object
        Dicts, lists, tuples, NumPy arrays and scalars, Python values, nested.

    Returns
    -------
    object
        ``obj`` with tuples and arrays as lists, NumPy scalars as Python values, dict keys as
        strings and NaN or infinities as ``None``.
    """
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
