"""Progress bars for long loops: one line per training run, updated in place.

Built on ``tqdm.auto``: a widget in Jupyter and Colab where ``ipywidgets`` is installed,
else a text bar on standard output (a terminal, or a notebook without widgets, where the
executed notebook keeps the bar's last state; ``tools/notebooks.py`` drops the earlier ones).

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> with bar(total=2, desc="demo", unit="epoch", file=out) as b:
...     b.update(2)
>>> "2/2" in out.getvalue()
True
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["bar", "epoch_callback"]

#: Keras log key -> (label, format) shown in a run's bar.
_SHOWN = {"loss": ("loss", ".4f"), "accuracy": ("acc", ".3f"), "val_loss": ("val_loss", ".4f"),
         "val_accuracy": ("val_acc", ".3f"), "val_macro_f1": ("val_F1", ".3f"), "learning_rate": ("lr", ".1e")}


def _tqdm():
    from tqdm import TqdmWarning

    with warnings.catch_warnings():  # "IProgress not found": no widgets, tqdm.auto falls back to text
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


def bar(iterable=None, *, total=None, desc=None, unit="it", file=None, leave=True):
    """A ``tqdm`` progress bar (widget or text) that stays on screen when done.

    Parameters
    ----------
    iterable : iterable, optional
        Items to loop over (the bar advances by one per item).
    total : int, optional
        Number of steps when there is no ``iterable`` (advance with ``update``).
    desc : str, optional
        Text before the bar (e.g. the run's name).
    unit : str
        What one step is (``"epoch"``, ``"run"``).
    file : file-like, optional
        Where a text bar is written (default ``sys.stdout``, so notebooks show it as output,
        not as a red error stream).
    leave : bool
        Keep the bar's final state as a line of output.

    Returns
    -------
    tqdm.tqdm
        The bar; use it as an iterable or call ``update``, ``set_postfix_str`` and ``close``.
    """
    return _tqdm()(iterable, total=total, desc=desc, unit=unit, file=file or sys.stdout, leave=leave,
                   dynamic_ncols=False, ncols=None if file is None else 100, mininterval=1.0)


def epoch_callback(epochs, progress_bar=None, desc=None):
    """A Keras callback advancing a bar by one per epoch, with the epoch's metrics as its postfix.

    Parameters
    ----------
    epochs : int
        The ``epochs`` given to ``fit`` (the bar's total; early stopping ends it sooner).
    progress_bar : tqdm.tqdm, optional
        A bar made by :func:`bar` that the caller closes (``run_experiment`` closes it with the
        run's test scores). ``None``: the callback makes its own at the start of ``fit`` and
        closes it at the end.
    desc : str, optional
        The bar's text when the callback makes it.

    Returns
    -------
    keras.callbacks.Callback
        Pass it in ``model.fit(..., verbose=0, callbacks=[...])``.
    """
    import keras

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress_bar if progress_bar is not None else bar(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix_str("  ".join(f"{label} {float(logs[key]):{fmt}}" for key, (label, fmt)
                                               in _SHOWN.items() if key in logs), refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            if progress_bar is None:
                self.bar.close()

    return EpochBar()
