"""Small conveniences for the curriculum's notebooks (paths, quiet logs, plot style)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

__all__ = [
    "PROFILES", "PROFILE_NAMES", "data_dir", "duration_text", "profile", "project_dir", "runs_dir",
    "settings_for", "setup_notebook", "show_source", "source_markdown", "with_progress"
]


def project_dir() -> Path:
    """The repository root when running from a clone (the folder holding
    ``pyproject.toml`` and ``emolib/``), else the current directory (Colab)."""
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "pyproject.toml").exists() and (p / "emolib" / "__init__.py").exists():
            return p
    return here


def data_dir() -> Path:
    """Where generated and downloaded data sets land (``<project>/data``)."""
    return project_dir() / "data"


def runs_dir() -> Path:
    """Where the experiment framework saves runs (``<project>/runs``)."""
    return project_dir() / "runs"


def setup_notebook(seed: int = 0) -> None:
    """Quiet, reproducible notebook defaults: hide TensorFlow's info logs and
    known-harmless warnings, set a readable plot style, and seed Python, NumPy
    and TensorFlow with ``seed``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*input_shape.*")
    # Calling a loaded functional model on a bare tensor instead of a one-element list.
    warnings.filterwarnings("ignore", message=".*structure of `inputs` doesn't match.*")
    # fit() on a tf.data pipeline that already shuffles (emolib.pipeline.make_dataset).
    warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
    import keras
    import matplotlib
    import seaborn as sns

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    keras.utils.disable_interactive_logging()
    keras.utils.set_random_seed(seed)
    sns.set_theme(context="notebook", style="whitegrid")
    matplotlib.rcParams["figure.dpi"] = 80


#: The profiles every notebook knows (its parameters cell reads ``$EMOLIB_PROFILE``, default
#: ``"lesson"``): ``smoke`` is CI's check that every cell runs (seconds per notebook, results
#: meaningless); ``lesson`` makes the committed outputs (sized so the lesson shows, at most
#: 20 minutes per notebook on 2 CPU cores); ``full`` is the long research run.
PROFILE_NAMES = ("smoke", "lesson", "full")

#: Run sizes of notebooks 01 and 02 (images per split of the generated data set).
PROFILES = {
    "smoke": {"n_train": 350, "n_val": 70, "n_test": 70, "epochs": 1, "seeds": (0,)},
    "lesson": {"n_train": 2800, "n_val": 700, "n_test": 700, "epochs": 12, "seeds": (0, 1, 2)},
    "full": {"n_train": 14000, "n_val": 2800, "n_test": 2800, "epochs": 40, "seeds": (0, 1, 2)},
}


def settings_for(table: dict, profile: str) -> dict:
    """``table[profile]``: a notebook's run sizes for ``profile``, with an error that names the
    choices when ``profile`` (``PROFILE``, from ``$EMOLIB_PROFILE`` or the parameters cell) is unknown.

    >>> settings_for({"smoke": {"epochs": 1}, "lesson": {"epochs": 8}}, "lesson")
    {'epochs': 8}
    """
    if profile not in table:
        raise ValueError(f"unknown PROFILE {profile!r} (set by $EMOLIB_PROFILE or the parameters cell); "
                         f"choose one of {', '.join(table)}")
    return table[profile]


def profile(name: str, epochs=None) -> dict:
    """The settings of profile ``name`` (a copy), with ``epochs`` overridden when given."""
    settings = dict(settings_for(PROFILES, name))
    if epochs is not None:
        settings["epochs"] = int(epochs)
    return settings


def duration_text(seconds: float) -> str:
    """``"45 s"`` below two minutes, else ``"3.2 min"``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _time_left(done: int, total: int, started: float) -> str:
    """``"12 s so far, about 1.1 min left"`` after ``done`` of ``total`` equal steps begun at
    ``time.monotonic()`` value ``started`` (when training stops early, less is left)."""
    import time

    elapsed = time.monotonic() - started
    return f"{elapsed:.0f} s so far, about {duration_text(elapsed / max(done, 1) * (total - done))} left"


def with_progress(items, unit="run"):
    """Yield ``items`` one by one, printing a line before each: ``"run 3/12: <item> (41 s so far,
    about 2.1 min left)"`` (:func:`_time_left`). For loops over runs that each take a while.

    >>> for x in with_progress(["a", "b"]):  # doctest: +ELLIPSIS
    ...     pass
    run 1/2: a
    run 2/2: b (0 s so far, about 0 s left)
    """
    import time

    items = list(items)
    started = time.monotonic()
    for i, item in enumerate(items):
        print(f"{unit} {i + 1}/{len(items)}: {item}" + (f" ({_time_left(i, len(items), started)})" if i else ""),
              flush=True)
        yield item


def source_markdown(obj) -> str:
    """The source code of a function or class as a Markdown code block (what :func:`show_source` displays)."""
    import inspect

    return f"```python\n{inspect.getsource(obj).rstrip()}\n```"


def show_source(obj) -> None:
    """Display the source code of a function or class as a highlighted code block."""
    from IPython.display import Markdown, display

    display(Markdown(source_markdown(obj)))
