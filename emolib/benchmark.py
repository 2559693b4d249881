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
"""

from __future__ import annotations

import time

import numpy as np


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
