"""emolib.distribute: strategy choice, and a real MirroredStrategy run over two
logical CPU devices (in a subprocess: logical devices must be configured before
TensorFlow initialises, which the test session has already done)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from emolib.distribute import _describe, _get_strategy


def test_auto_and_default_strategies_on_one_device():
    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs: 'auto' mirrors")
    strategy = _get_strategy()
    assert strategy is tf.distribute.get_strategy()
    assert _describe(strategy)["replicas"] == 1
    assert _get_strategy("default") is strategy
    mirrored = _get_strategy("mirrored", ["/cpu:0"])
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert _get_strategy(mirrored) is mirrored
    assert isinstance(_get_strategy("one_device", ["/cpu:0"]), tf.distribute.OneDeviceStrategy)
    with pytest.raises(ValueError, match="mirrored"):
        _get_strategy("tpu-pod")


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import matplotlib
    matplotlib.use("Agg")
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]     # before anything initialises TensorFlow
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    from emolib.distribute import _get_strategy
    import numpy as np, pandas as pd
    from emolib.data.base import EmotionDataset, Split
    from emolib.experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, run_experiment

    rng = np.random.default_rng(0)
    splits = {}
    for name, n in (("train", 128), ("val", 32), ("test", 32)):
        labels = np.arange(n) % 2
        images = rng.integers(0, 50, (n, 12, 12, 1)).astype(np.uint8)
        images[labels == 1, :6] += 150   # class 1: bright top half
        meta = pd.DataFrame({"label": labels, "emotion": "x", "source": "s"})
        splits[name] = Split(images, labels, meta)
    data = EmotionDataset(splits, ("happy", "sad"))

    strategy = _get_strategy("mirrored", ["/cpu:0", "/cpu:1"])
    config = ExperimentConfig("mirror", "r", DataConfig(classes=["happy", "sad"], image_size=12),
                              ModelConfig("simple_cnn", {"filters": [8], "dense_units": 16}),
                              TrainConfig(epochs=1, batch_size=32))
    result = run_experiment(config, dataset=data, runs_dir=sys.argv[1], progress=False,
                            strategy=strategy)
    print("RESULT " + json.dumps({
        "devices": devices,
        "replicas": strategy.num_replicas_in_sync,
        "metrics_strategy": result.metrics["strategy"],
        "metrics_replicas": result.metrics["replicas"],
        "n_test": int(result.test["confusion_matrix"].sum()),
        "proba_shape": list(result.test["proba"].shape),
        "files": sorted(p.name for p in result.path.iterdir()),
        "history_rows": len(result.history),
    }))
    """
)


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
        timeout=300, env=env,
    )
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert len(out["devices"]) == 2
    assert out["replicas"] == 2
    assert out["metrics_strategy"] == "MirroredStrategy" and out["metrics_replicas"] == 2
    assert out["n_test"] == 32 and out["proba_shape"] == [32, 2]  # no rows duplicated per replica
    assert out["history_rows"] == 1
    assert {"best.keras", "metrics.json", "history.csv"} <= set(out["files"])
