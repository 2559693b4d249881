"""ONNX export and quantization benchmark, written to ``emolib/results/onnx.json``.

    python benchmarks/onnx_bench.py            # what `make bench` runs (1-3 minutes on 2 CPU cores)
    python benchmarks/onnx_bench.py --train    # ignore saved runs: train a CI-sized model first

The model is seed 003's ResNet-like network with batch normalisation
(``resnet_like(batchnorm=True)``). The first of these saved runs that learned
(validation accuracy above chance) is reused, with its data set rebuilt from its
``config.json``: notebook 06's full-profile run, notebook 08's full-profile run,
this script's own earlier run, notebook 08's CI-profile run. Without one, the
script trains notebook 08's CI-profile model (1,600 generated faces of 32x32 RGB,
6 epochs; about a minute) into ``runs/onnx_bench/``.

The model is exported to ONNX (``model.export``), quantized statically (QDQ,
per-channel int8 weights, uint8 activations, calibrated on 256 training
images), with int8 activations, and dynamically; then every version is measured
side by side in this one process by :func:`emolib.benchmark.compare_deployments`
(the same function notebook 08 calls): batch-1 latency (median, p95) and
batch-64 throughput (warm-up, interleaved rounds, medians), file size, test
accuracy and macro-F1. Written keys:

* ``onnx_int8_size_ratio``: int8 file / fp32 file (target <= 0.3);
* ``onnx_int8_latency_ratio``: int8 / fp32 ONNX Runtime, batch-1 median (target <= 0.5);
* ``onnx_int8_accuracy_drop``: fp32 minus int8 test accuracy, percentage points (target <= 0.5);
* ``onnx_fp32_vs_keras_direct_latency_ratio``: fp32 ONNX Runtime / Keras ``tf.function``, batch-1 median;

plus ``cpu`` (next to the ratios): the CPU's model name and its int8 instruction
sets (AVX2, AVX512-VNNI, AVX-VNNI, AMX-INT8, from ``/proc/cpuinfo``; "unknown"
elsewhere), from :func:`emolib.benchmark.cpu_int8_support`. The int8 latency
ratio is a property of the CPU as much as of the model: with VNNI or AMX an
8-bit dot product is one instruction and static int8 runs about twice as fast
as float32; on a CPU with AVX2 but no VNNI it can be slower than float32 (1.10
measured on such a machine, where a VNNI machine measured 0.46). Each target
says which CPU it was measured on. Then ``targets`` (measured, limit, met,
measured_on), the whole ``table``, export ``parity``, the model's provenance and
the machine, with its load average (other jobs on a shared machine move the
timings; ratios measured side by side move less).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from emolib.runs import run_path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "emolib" / "results"
RUNS = ROOT / "runs"
N_CALIBRATION = 256  # training images the static quantization calibrates on
CANDIDATES = [run_path(RUNS, experiment, "resnet_like_bn_seed0") for experiment in (
    "06_resnet_like_full", "08_onnx_quantization_full", "onnx_bench", "08_onnx_quantization_lesson")]


def fallback_config():
    """A small ResNet-like (BN) model (1,600 training faces, 6 epochs), trained when no saved run can be reused."""
    from emolib.experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

    return ExperimentConfig(
        experiment="onnx_bench", run="resnet_like_bn_seed0",
        data=DataConfig(classes=["happy", "neutral", "sad", "surprise"], image_size=32, channels=3,
                        n_train=1600, n_val=200, n_test=400, seed=0),
        model=ModelConfig("resnet_like", {"batchnorm": True}),
        train=TrainConfig(epochs=6, batch_size=32, learning_rate=1e-3, early_stopping_patience=5, seed=0),
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS / "onnx.json")
    parser.add_argument("--train", action="store_true", help="do not reuse saved runs")
    parser.add_argument("--repeats", type=int, default=300, help="batch-1 calls per version")
    parser.add_argument("--batch-repeats", type=int, default=60, help="batch-64 calls per version")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf

    from emolib import export
    from emolib.benchmark import (check_targets, compare_deployments, cpu_int8_support, describe_cpu,
                                  quantization_summary)
    from emolib.experiment import reuse_or_train
    from emolib.fileio import write_json
    from emolib.pipeline import make_dataset, prepare_images

    keras.utils.disable_interactive_logging()
    start = time.perf_counter()
    load_start = os.getloadavg()
    cpu = cpu_int8_support()
    print(describe_cpu(cpu), flush=True)
    print("model ...", flush=True)
    trained = reuse_or_train(fallback_config(), [] if args.train else CANDIDATES, runs_dir=RUNS,
                             same_data=False, progress=False)
    print(f"  {trained.note}", flush=True)
    model, data, config = trained.model, trained.data, trained.config
    size, channels = config.data.image_size, config.data.channels
    x_test = prepare_images(data.test.images, size, channels).numpy()
    y_test = data.test.labels

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("export and quantization ...", flush=True)
        fp32 = export.export_onnx(model, tmp / "model.onnx", data.class_names)
        parity = export.parity(model.predict(x_test, verbose=0), export.onnx_caller(fp32)(x_test))
        calibration = make_dataset(data.train.images, data.train.labels, data.num_classes, batch_size=32,
                                   training=True, image_size=size, channels=channels, seed=0)
        files = {
            "onnx_fp32": fp32,
            "onnx_int8": export.quantize_static(fp32, tmp / "int8.onnx", calibration, max_images=N_CALIBRATION),
            "onnx_int8_signed": export.quantize_static(fp32, tmp / "int8_signed.onnx", calibration,
                                                       activation_type="int8", max_images=N_CALIBRATION),
            "onnx_dynamic": export.quantize_dynamic(fp32, tmp / "dynamic.onnx"),
        }
        print("measuring side by side ...", flush=True)
        table = compare_deployments(model, files, x_test, y_test, batch_size=64, repeats=args.repeats,
                                    batch_repeats=args.batch_repeats)
    summary = quantization_summary(table)
    targets = check_targets(summary)

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "keras": keras.__version__, "onnx": onnx.__version__,
                    "onnxruntime": onnxruntime.__version__,
                    "load_average_1min": {"start": round(load_start[0], 2), "end": round(os.getloadavg()[0], 2)}},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "seconds": round(time.perf_counter() - start, 1),
        "cpu": cpu,
        **{key: round(value, 4) for key, value in summary.items()},
        "units": {"onnx_int8_accuracy_drop": "percentage points (fp32 minus int8; negative: int8 better)",
                  "ratios": "int8 / fp32 and fp32 ONNX / Keras tf.function; below 1: smaller or faster"},
        "targets": {key: {"measured": round(row["measured"], 4), "limit": row["target"], "met": row["met"],
                          "measured_on": cpu["model"]}
                    for key, row in targets.iterrows()},
        "model": {"note": trained.note, "reused": trained.reused, "run": os.path.relpath(trained.path, ROOT),
                  "name": config.model.name, "params": int(model.count_params()),
                  "data": data.name, "image_shape": [size, size, channels], "n_test": int(len(y_test)),
                  "n_calibration": N_CALIBRATION},
        "parity_keras_vs_onnx_fp32": parity,
        "table": json.loads(table.round(4).to_json(orient="index")),
        "table_settings": table.attrs,
    }
    write_json(args.out, result)
    print(targets.to_string())
    print(json.dumps({k: result[k] for k in summary}, indent=2))
    print(describe_cpu(cpu))
    print(f"-> {os.path.relpath(args.out, ROOT)} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
