"""Choosing a ``tf.distribute`` strategy.

Build *and* compile a model inside ``strategy.scope()``; ``model.fit`` then splits
every batch of a ``tf.data`` pipeline across the replicas. The pipeline's
``batch_size`` is the **global** batch size: with 2 replicas and
``batch_size=64`` each replica sees 32 images per step. Nothing here rescales the
batch size or the learning rate; do that explicitly if you want it.
"""

from __future__ import annotations

import tensorflow as tf


def split_cpu(n=2):
    """Split the CPU into ``n`` logical devices ``/cpu:0`` ... ``/cpu:{n-1}``, to try
    multi-device strategies on a laptop. Must run before TensorFlow initialises
    its devices (before any op runs), i.e. at the top of a fresh process.
    Returns the logical CPU device names."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    )
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def get_strategy(kind="auto", devices=None):
    """Return a ``tf.distribute.Strategy``.

    ``kind``:

    * ``"auto"``: :class:`tf.distribute.MirroredStrategy` over all GPUs when there
      are several, else the default strategy (CPU or one GPU, no distribution);
    * ``"default"``: the default strategy;
    * ``"mirrored"``: ``MirroredStrategy(devices)``; ``devices`` e.g.
      ``["/cpu:0", "/cpu:1"]`` (``None``: all GPUs, or the CPU without GPUs);
    * ``"one_device"``: ``OneDeviceStrategy(devices[0])`` (default ``"/gpu:0"``
      if there is a GPU, else ``"/cpu:0"``).

    A ``tf.distribute.Strategy`` passed as ``kind`` is returned unchanged.
    """
    if isinstance(kind, tf.distribute.Strategy):
        return kind
    kind = str(kind).lower()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy([g.name for g in gpus])
        return tf.distribute.get_strategy()
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=list(devices) if devices else None)
    if kind == "one_device":
        device = devices[0] if devices else ("/gpu:0" if gpus else "/cpu:0")
        return tf.distribute.OneDeviceStrategy(device)
    raise ValueError(f"unknown strategy {kind!r}; use 'auto', 'default', 'mirrored' or 'one_device'")


def describe(strategy) -> dict:
    """``{"strategy": class name, "replicas": replicas in sync}`` for logs."""
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
    }
