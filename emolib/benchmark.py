"""Side-by-side latency and throughput measurements of prediction functions.

Warm-up calls first (tracing, caches, thread pools), then timed repetitions reported
as medians and percentiles, callers *interleaved* (A, B, C, A, B, C, ...) so that a
slow spell of a shared machine hits all alike: quote ratios measured in one
:func:`compare` call, not absolute milliseconds. A *caller* is any ``f(x) ->
probabilities`` on a float32 batch ``(n, h, w, c)`` (:func:`keras_callers`,
:func:`emolib.export.onnx_caller`). :func:`compare_deployments` puts the Keras and ONNX
Runtime versions of one model side by side; int8's speed-up belongs to the CPU as much
as to the model, so :func:`cpu_int8_support` records the CPU's 8-bit instructions.
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from .export import file_size_mb, onnx_caller, predict_in_batches

__all__ = [
    "check_targets", "compare", "compare_deployments", "cpu_int8_support", "describe_cpu", "keras_callers",
    "keras_file_size_mb", "quantization_summary", "scores"
]

#: /proc/cpuinfo flags of the x86 instruction sets that matter for int8 inference, with their usual names.
#: AVX2 multiplies 8-bit integers in three instructions with 16-bit intermediates (which can saturate);
#: VNNI (AVX512-VNNI, AVX-VNNI) fuses them into one 8-bit dot product; AMX adds tile matrix units.
_INT8_FLAGS = {"avx2": "AVX2", "avx512_vnni": "AVX512-VNNI", "avx_vnni": "AVX-VNNI", "amx_int8": "AMX-INT8"}


def _summary(seconds, batch_size) -> dict:
    """Latency percentiles (ms per call) and throughput (images/s, from the median) of call times in seconds."""
    seconds = np.asarray(seconds, dtype=float)
    p50 = float(np.median(seconds))
    return {"batch_size": int(batch_size), "calls": int(seconds.size), "p50_ms": 1000 * p50,
            "p95_ms": 1000 * float(np.percentile(seconds, 95)), "mean_ms": 1000 * float(seconds.mean()),
            "images_per_s": batch_size / p50 if p50 > 0 else float("inf")}


def compare(callers: dict, x, repeats=50, warmup=5, rounds=5):
    """Time several callers on the same batch, interleaved.

    Each of ``rounds`` rounds calls every caller ``repeats // rounds`` times (after
    ``warmup`` untimed calls each in the first round), so drifts of the machine's load are
    shared.

    Parameters
    ----------
    callers : dict of str to callable
        ``{name: f}``; each is called as ``f(x)``.
    x : array of shape (batch, ...)
        The batch.
    repeats : int, default 50
        Timed calls per caller.
    warmup : int, default 5
        Untimed calls per caller first.
    rounds : int, default 5
        Rounds the calls are spread over.

    Returns
    -------
    pandas.DataFrame
        One row per caller, indexed by name: ``batch_size``, ``calls``, ``p50_ms``, ``p95_ms``,
        ``mean_ms`` (ms per call) and ``images_per_s`` (batch size / median seconds per call).
    """
    import pandas as pd

    if not callers:
        raise ValueError("callers is empty: pass a dict name -> f(x)")
    if warmup < 0:
        raise ValueError(f"need warmup >= 0, got {warmup}")
    x = np.asarray(x, dtype="float32")
    times = {name: [] for name in callers}
    for r in range(rounds):
        for name, fn in callers.items():
            for _ in range(warmup if r == 0 else 0):
                fn(x)
            for _ in range(max(1, repeats // rounds)):
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    rows = {name: _summary(ts, len(x)) for name, ts in times.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("caller")


def keras_callers(model) -> dict:
    """The two ways to call a Keras model on a NumPy batch.

    Parameters
    ----------
    model : keras.Model
        The model.

    Returns
    -------
    dict of str to callable
        ``keras_predict`` (``model.predict``, which builds a ``tf.data`` pipeline per call: tens
        of ms) and ``keras_direct`` (the forward pass compiled once with ``tf.function``: what a
        server calls); each takes a batch and returns probabilities ``(batch, k)``.
    """
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def direct(x):
        return forward(tf.convert_to_tensor(x)).numpy()

    return {"keras_predict": lambda x: model.predict(x, verbose=0), "keras_direct": direct}


def cpu_int8_support(cpuinfo=None) -> dict:
    """The CPU's model name and its int8-relevant instruction sets.

    Parameters
    ----------
    cpuinfo : str, optional
        The text of ``/proc/cpuinfo`` (read by default).

    Returns
    -------
    dict
        ``model`` (str); ``flags``: each :data:`_INT8_FLAGS` name to a bool, or ``"unknown"``
        without a flags line (macOS, Windows, ARM); ``int8_dot_product``: VNNI or AMX present
        (8-bit dot products in one instruction: static int8 usually beats float32; AVX2 alone:
        it can be *slower*), ``None`` if unknown.
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    model, flags = None, None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = set(value.split())
    model = model or platform.processor() or "unknown"
    if flags is None:
        return {"model": model, "flags": "unknown", "int8_dot_product": None}
    present = {name: flag in flags for flag, name in _INT8_FLAGS.items()}
    dot = present["AVX512-VNNI"] or present["AVX-VNNI"] or present["AMX-INT8"]
    return {"model": model, "flags": present, "int8_dot_product": dot}


def describe_cpu(info=None) -> str:
    """One line for a notebook or a log: the CPU and its int8 instructions.

    Parameters
    ----------
    info : dict, optional
        :func:`cpu_int8_support`'s result (computed when omitted).

    Returns
    -------
    str
        The line.
    """
    info = cpu_int8_support() if info is None else info
    if info["flags"] == "unknown":
        return f"CPU {info['model']}: int8 instruction sets unknown (no /proc/cpuinfo flags on this system)"
    flags = ", ".join(f"{name} {'yes' if has else 'no'}" for name, has in info["flags"].items())
    kind = ("has 8-bit dot-product instructions (VNNI or AMX)" if info["int8_dot_product"]
            else "no 8-bit dot-product instructions (no VNNI, no AMX)")
    return f"CPU {info['model']}: {flags} -> {kind}"


def keras_file_size_mb(model) -> float:
    """Megabytes of a model saved as a ``.keras`` file of architecture and weights only.

    That is what one would deploy; a compiled model's checkpoint adds the optimizer state
    (about 3x with Adam).

    Parameters
    ----------
    model : keras.Model
        The model.

    Returns
    -------
    float
        The file's size in MB.
    """
    import keras

    try:  # the same layers in a new, uncompiled functional model: no optimizer state
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
        bare = keras.Model(inputs, outputs, name=model.name)
    except (AttributeError, TypeError, ValueError):  # a subclassed model: save it as it is
        bare = model
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        bare.save(path)
        return file_size_mb(path)


def scores(y_true, proba) -> dict:
    """Accuracy and macro-F1 of probabilities.

    Parameters
    ----------
    y_true : array of int, shape (n,)
        True classes.
    proba : array of shape (n, k)
        Predicted probabilities.

    Returns
    -------
    dict
        ``{"accuracy", "macro_f1"}``.
    """
    from sklearn.metrics import accuracy_score

    from .evaluation import macro_f1

    proba = np.asarray(proba)
    y_pred = proba.argmax(axis=1)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "macro_f1": macro_f1(y_true, y_pred, proba.shape[1])}


def compare_deployments(model, onnx_files, x, y, batch_size=64, repeats=100, batch_repeats=20, rounds=5,
                        warmup=5, threads=None):
    """Keras and ONNX Runtime versions of one model side by side, in this process.

    Rows: ``keras_predict``, ``keras_direct`` (:func:`keras_callers`), then one per
    ``onnx_files`` entry (name -> ``.onnx`` path). Columns: ``size_mb`` (Keras rows:
    :func:`keras_file_size_mb`); ``accuracy``, ``macro_f1`` on ``x`` ``(n, h, w, c)`` and
    labels ``y`` ``(n,)``; ``b1_p50_ms``, ``b1_p95_ms`` (one image per call, ``repeats``
    calls); ``batch_p50_ms``, ``batch_images_per_s`` (``batch_size`` images per call,
    ``batch_repeats`` calls). Timed by :func:`compare` (warm-up, interleaved rounds,
    medians): quote ratios between rows. ``attrs`` record the settings.
    """
    import pandas as pd

    x = np.asarray(x, dtype=np.float32)
    callers = dict(keras_callers(model))
    sizes = dict.fromkeys(callers, keras_file_size_mb(model))
    callers.update({name: onnx_caller(path, threads=threads) for name, path in onnx_files.items()})
    sizes.update({name: file_size_mb(path) for name, path in onnx_files.items()})
    quality = {name: scores(y, predict_in_batches(fn, x)) for name, fn in callers.items()}
    one = compare(callers, x[:1], repeats=repeats, warmup=warmup, rounds=rounds)
    many = compare(callers, x[:batch_size], repeats=batch_repeats, warmup=max(1, warmup // 2), rounds=rounds)
    table = pd.concat([pd.Series(sizes, name="size_mb"), pd.DataFrame(quality).T,  # accuracy, macro_f1
                       one[["p50_ms", "p95_ms"]].add_prefix("b1_"),
                       many[["p50_ms", "images_per_s"]].add_prefix("batch_")], axis=1)
    table = table.loc[list(callers)].rename_axis("caller")
    table.attrs = {"batch_size": int(min(batch_size, len(x))), "repeats": repeats,
                   "batch_repeats": batch_repeats, "rounds": rounds, "n_test": int(len(x))}
    return table


#: Targets of the quantized model (issue 5), on the ResNet-like model:
#: ``(key, description, limit)``; every one is "measured value <= limit".
_TARGETS = (
    ("onnx_int8_size_ratio", "int8 file size / fp32 file size", 0.3),
    ("onnx_int8_latency_ratio", "int8 / fp32 ONNX latency, batch 1 (median)", 0.5),
    ("onnx_int8_accuracy_drop", "fp32 minus int8 test accuracy, percentage points", 0.5),
)


def quantization_summary(table, fp32="onnx_fp32", int8="onnx_int8", keras="keras_direct") -> dict:
    """The headline ratios of a :func:`compare_deployments` table.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`compare_deployments`' result.
    fp32, int8, keras : str
        The rows of the float32 ONNX model, the int8 one and Keras' ``tf.function`` caller.

    Returns
    -------
    dict
        int8 / fp32 file size and batch-1 median latency, fp32 minus int8 accuracy in
        percentage points (positive: int8 is worse), and fp32 ONNX Runtime / Keras batch-1
        latency (below 1: ONNX is faster).
    """
    t = table
    return {
        "onnx_int8_size_ratio": float(t.loc[int8, "size_mb"] / t.loc[fp32, "size_mb"]),
        "onnx_int8_latency_ratio": float(t.loc[int8, "b1_p50_ms"] / t.loc[fp32, "b1_p50_ms"]),
        "onnx_int8_accuracy_drop": float(100 * (t.loc[fp32, "accuracy"] - t.loc[int8, "accuracy"])),
        "onnx_fp32_vs_keras_direct_latency_ratio": float(t.loc[fp32, "b1_p50_ms"] / t.loc[keras, "b1_p50_ms"]),
    }


def check_targets(summary):
    """The quantization targets (:data:`_TARGETS`) against measured values.

    Parameters
    ----------
    summary : dict
        :func:`quantization_summary`'s result.

    Returns
    -------
    pandas.DataFrame
        A row per target: ``what``, ``measured``, ``target`` and ``met`` (measured <= target up
        to float rounding: 2 images in 400 is 0.5000000000000004 points).
    """
    import pandas as pd

    rows = {key: {"what": what, "measured": summary[key], "target": limit,
                  "met": bool(summary[key] <= limit + 1e-9)}
            for key, what, limit in _TARGETS}
    return pd.DataFrame.from_dict(rows, orient="index")
