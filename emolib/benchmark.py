"""Side-by-side latency and throughput measurements of prediction functions.

Every measurement here follows the same protocol: warm-up calls first (tracing,
caches, thread pools), then several timed repetitions, reported as medians and
percentiles. Callers are *interleaved* (A, B, C, A, B, C, ...) so that a slow
spell of a shared machine hits all of them alike; ratios of two callers
measured in one :func:`compare` call are the numbers to quote, not absolute
milliseconds.

A *caller* is any function ``f(x) -> probabilities`` taking a float32 batch of
shape ``(n, height, width, channels)``. :func:`keras_callers` gives the two Keras
ways to call a model; :func:`emolib.export.onnx_caller` gives ONNX Runtime's.

How much faster an int8 model runs than a float32 one is a property of the CPU
as much as of the model: :func:`cpu_int8_support` says which of the
instruction sets that speed up 8-bit arithmetic the CPU has, so that a ratio
is always quoted with the CPU it was measured on.
"""

from __future__ import annotations

import platform
import time

import numpy as np

#: /proc/cpuinfo flags of the x86 instruction sets that matter for int8 inference, with their usual names.
#: AVX2 multiplies 8-bit integers in three instructions with 16-bit intermediates (which can saturate);
#: VNNI (AVX512-VNNI, AVX-VNNI) fuses them into one 8-bit dot product; AMX adds tile matrix units.
INT8_FLAGS = {"avx2": "AVX2", "avx512_vnni": "AVX512-VNNI", "avx_vnni": "AVX-VNNI", "amx_int8": "AMX-INT8"}


def time_calls(fn, x, repeats=50, warmup=5) -> np.ndarray:
    """Seconds of each of ``repeats`` calls ``fn(x)`` after ``warmup`` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        fn(x)
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn(x)
        out[i] = time.perf_counter() - start
    return out


def summarize_times(seconds, batch_size) -> dict:
    """Latency percentiles (ms per call) and throughput (images/s, from the median)."""
    seconds = np.asarray(seconds, dtype=float)
    p50 = float(np.median(seconds))
    return {
        "batch_size": int(batch_size),
        "calls": int(seconds.size),
        "p50_ms": 1000 * p50,
        "p95_ms": 1000 * float(np.percentile(seconds, 95)),
        "mean_ms": 1000 * float(seconds.mean()),
        "images_per_s": batch_size / p50 if p50 > 0 else float("inf"),
    }


def compare(callers: dict, x, repeats=50, warmup=5, rounds=5):
    """Time several callers on the same batch ``x``, interleaved; returns a DataFrame.

    ``callers`` maps a name to ``f(x)``. Each of ``rounds`` rounds calls every
    caller ``repeats // rounds`` times (after ``warmup`` untimed calls each in the
    first round), so drifts of the machine's load are shared. One row per caller
    with the columns of :func:`summarize_times`, indexed by name.
    """
    import pandas as pd

    if not callers:
        raise ValueError("callers is empty: pass a dict name -> f(x)")
    x = np.asarray(x, dtype="float32")
    per_round = max(1, repeats // rounds)
    times = {name: [] for name in callers}
    for r in range(rounds):
        for name, fn in callers.items():
            times[name].extend(time_calls(fn, x, repeats=per_round, warmup=warmup if r == 0 else 0))
    rows = {name: summarize_times(ts, len(x)) for name, ts in times.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("caller")


def keras_callers(model) -> dict:
    """The two ways to call a Keras model on a NumPy batch.

    * ``keras_predict``: ``model.predict(x, verbose=0)``, which builds a
      ``tf.data`` pipeline on every call (tens of ms of overhead per call);
    * ``keras_direct``: the model's forward pass compiled once with
      ``tf.function`` (``model(x, training=False)``), what a server should call.
    """
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def direct(x):
        return forward(tf.convert_to_tensor(x)).numpy()

    return {"keras_predict": lambda x: model.predict(x, verbose=0), "keras_direct": direct}


def cpu_int8_support(cpuinfo=None) -> dict:
    """The CPU's model name and which int8-relevant instruction sets it has.

    Parameters
    ----------
    cpuinfo : str, optional
        The text of Linux's ``/proc/cpuinfo``; by default it is read when it exists.

    Returns
    -------
    dict
        ``model``: the first ``model name`` line (else :func:`platform.processor`,
        else ``"unknown"``); ``flags``: for each of :data:`INT8_FLAGS`' names
        (AVX2, AVX512-VNNI, AVX-VNNI, AMX-INT8) ``True`` or ``False``, or the
        string ``"unknown"`` when no flags line could be read (macOS, Windows,
        ARM); ``int8_dot_product``: ``True`` when the CPU has VNNI or AMX (8-bit
        dot products in one instruction: static int8 models usually run faster
        than float32), ``False`` when it has none of them (AVX2 alone: int8 can
        be *slower* than float32), ``None`` when unknown.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            cpuinfo = ""
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
    present = {name: flag in flags for flag, name in INT8_FLAGS.items()}
    dot = present["AVX512-VNNI"] or present["AVX-VNNI"] or present["AMX-INT8"]
    return {"model": model, "flags": present, "int8_dot_product": dot}


def describe_cpu(info=None) -> str:
    """One line for a notebook or a log: the CPU and its int8 instructions (``info`` from :func:`cpu_int8_support`)."""
    info = cpu_int8_support() if info is None else info
    if info["flags"] == "unknown":
        return f"CPU {info['model']}: int8 instruction sets unknown (no /proc/cpuinfo flags on this system)"
    flags = ", ".join(f"{name} {'yes' if has else 'no'}" for name, has in info["flags"].items())
    kind = ("has 8-bit dot-product instructions (VNNI or AMX)" if info["int8_dot_product"]
            else "no 8-bit dot-product instructions (no VNNI, no AMX)")
    return f"CPU {info['model']}: {flags} -> {kind}"
