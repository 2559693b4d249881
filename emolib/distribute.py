"""Choosing a ``tf.distribute`` strategy.

Build *and* compile a model inside ``strategy.scope()``; ``model.fit`` then splits
every batch of a ``tf.data`` pipeline across the replicas. The pipeline's
``batch_size`` is the **global** batch size: with 2 replicas and
``batch_size=64`` each replica sees 32 images per step. Nothing here rescales the
batch size or the learning rate; do that explicitly if you want it. To try a
multi-device strategy on a laptop, split the CPU into logical devices at the top
of a fresh process: ``tf.config.set_logical_device_configuration(cpu,
[tf.config.LogicalDeviceConfiguration()] * 2)``.
"""

from __future__ import annotations

import tensorflow as tf


def get_strategy(kind="auto", devices=None):
    """Return a ``tf.distribute.Strategy``.

    ``kind``: ``"auto"`` (:class:`tf.distribute.MirroredStrategy` over all GPUs
    when there are several, else the default strategy), ``"default"`` (CPU or one
    GPU, no distribution), ``"mirrored"`` (``MirroredStrategy(devices)``, e.g.
    ``["/cpu:0", "/cpu:1"]``; ``None``: all GPUs, or the CPU without GPUs) or
    ``"one_device"`` (``OneDeviceStrategy(devices[0])``, default ``"/gpu:0"`` if
    there is a GPU, else ``"/cpu:0"``). A strategy passed as ``kind`` is returned.
    """
    if isinstance(kind, tf.distribute.Strategy):
        return kind
    kind = str(kind).lower()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "default" or (kind == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    if kind == "auto":
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(devices) if devices else None)
    if kind == "one_device":
        return tf.distribute.OneDeviceStrategy(devices[0] if devices else ("/gpu:0" if gpus else "/cpu:0"))
    raise ValueError(f"unknown strategy {kind!r}; use 'auto', 'default', 'mirrored' or 'one_device'")


def describe(strategy) -> dict:
    """``{"strategy": class name, "replicas": replicas in sync}`` for logs."""
    return {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}
