"""Small conveniences for the curriculum's notebooks (paths, quiet logs, plot style)."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


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


#: Run sizes of the notebooks. ``ci`` is what CI executes (about two minutes per
#: notebook on 2 CPU cores; the committed outputs come from it); ``full`` is the
#: real lesson. Sizes are images per split of the generated data set.
PROFILES = {
    "ci": {"n_train": 2800, "n_val": 700, "n_test": 700, "epochs": 8, "seeds": (0,)},
    "full": {"n_train": 14000, "n_val": 2800, "n_test": 2800, "epochs": 40, "seeds": (0, 1, 2)},
}


def profile(name: str, epochs=None) -> dict:
    """The settings of profile ``name`` (a copy), with ``epochs`` overridden when given."""
    if name not in PROFILES:
        raise ValueError(f"unknown PROFILE {name!r}; choose one of {sorted(PROFILES)}")
    settings = dict(PROFILES[name])
    if epochs is not None:
        settings["epochs"] = int(epochs)
    return settings


def show_source(obj) -> None:
    """Display the source code of a function or class as a highlighted code block."""
    import inspect

    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```"))
