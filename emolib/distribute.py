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

__all__ = []


def _get_strategy(kind="auto", devices=None):
    """A ``tf.distribute.Strategy`` of ``kind`` (a strategy is returned as it is): ``"auto"``
    (``MirroredStrategy`` over several GPUs, else the default), ``"default"`` (no distribution),
    ``"mirrored"`` (over ``devices``, e.g. ``["/cpu:0", "/cpu:1"]``; ``None``: all GPUs or the
    CPU) or ``"one_device"`` (``devices[0]``, default the first GPU, else the CPU)."""
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


def _describe(strategy) -> dict:
    """``{"strategy": class name, "replicas": replicas in sync}`` for logs."""
    return {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}
