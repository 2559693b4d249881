"""Foundation benchmarks, written to ``emolib/results/foundation.json``.

    python benchmarks/run.py                 # everything (what `make bench` runs)
    python benchmarks/run.py --skip-notebooks

Measured here, side by side in one run:

* ``generator_images_per_s``: images/s of :func:`emolib.data.synthetic.generate`
  at 48x48 grayscale, in a child process pinned to one core with one BLAS/OpenMP
  thread (median of several repetitions).
* ``pipeline_efficiency``: training images/s of one model fed by
  :func:`emolib.pipeline.make_dataset` divided by images/s of the same model
  fitted on in-memory tensors (``model.fit(x, y)``), interleaved repetitions,
  medians. 1.0 means the pipeline costs nothing; the target is at least 0.95.
* ``notebook_seconds``: wall-clock seconds of each notebook in the smoke profile (what CI runs),
  executed into a temporary folder (the committed notebooks are not touched, but
  their experiments replace the CI-profile runs in ``runs/``, as re-running them would).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emolib.fileio import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "emolib" / "results"

GENERATOR_CHILD = r"""
import json, os, statistics, sys, time
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from emolib.data.synthetic import generate
n, repeats = int(sys.argv[1]), int(sys.argv[2])
generate(n_train=256, n_val=64, n_test=64, seed=99)  # warm-up (imports, caches)
rates = []
for r in range(repeats):
    t = time.perf_counter()
    ds = generate(n_train=n, n_val=n // 5, n_test=n // 5, image_size=48, channels=1, seed=r)
    dt = time.perf_counter() - t
    total = sum(len(s) for s in ds.splits.values())
    rates.append(total / dt)
print(json.dumps({"rates": rates}))
"""


def generator_speed(n=5000, repeats=3) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-c", GENERATOR_CHILD, str(n), str(repeats)],
        env=env, check=True, capture_output=True, text=True, cwd=ROOT,
    )
    rates = json.loads(out.stdout.strip().splitlines()[-1])["rates"]
    return {"generator_images_per_s": round(statistics.median(rates)), "generator_runs_images_per_s": [round(r) for r in rates]}


def pipeline_efficiency(n=4096, epochs=2, repeats=3, batch_size=64) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from emolib.data.synthetic import generate
    from emolib.models import simple_cnn
    from emolib.pipeline import make_dataset

    ds = generate(n_train=n, n_val=64, n_test=64, seed=0)
    x, y, k = ds.train.images, ds.train.labels, ds.num_classes
    x_tensor = tf.constant(x.astype("float32") / 255.0)
    y_tensor = tf.constant(np.eye(k, dtype="float32")[y])
    pipeline = make_dataset(x, y, k, batch_size=batch_size, training=True, seed=0)

    keras.utils.set_random_seed(0)
    model = simple_cnn(input_shape=x.shape[1:], num_classes=k)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])

    def fit_tensors():
        model.fit(x_tensor, y_tensor, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0)

    def fit_pipeline():
        model.fit(pipeline, epochs=epochs, verbose=0, shuffle=False)  # the pipeline shuffles itself

    fit_tensors(), fit_pipeline()  # warm-up: tracing, cache fill
    times = {"tensors": [], "pipeline": []}
    for _ in range(repeats):
        for name, fn in (("tensors", fit_tensors), ("pipeline", fit_pipeline)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    rate = {name: n * epochs / statistics.median(ts) for name, ts in times.items()}
    return {
        "pipeline_efficiency": round(rate["pipeline"] / rate["tensors"], 3),
        "pipeline_images_per_s": round(rate["pipeline"]),
        "tensors_images_per_s": round(rate["tensors"]),
        "pipeline_setup": {"n_images": n, "epochs_per_repeat": epochs, "repeats": repeats, "batch_size": batch_size,
                           "model": "simple_cnn 48x48x1", "params": model.count_params()},
    }


def notebook_seconds() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        times_json = Path(tmp) / "times.json"
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "notebooks.py"), "run", "--profile", "smoke", "--output-dir", tmp,
             "--times-json", str(times_json)],
            check=True, cwd=ROOT,
        )
        return {"notebook_seconds": json.loads(times_json.read_text())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS / "foundation.json")
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args(argv)

    import tensorflow as tf

    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print("generator speed ...", flush=True)
    result.update(generator_speed())
    print(f"  {result['generator_images_per_s']} images/s", flush=True)
    print("pipeline efficiency ...", flush=True)
    result.update(pipeline_efficiency())
    print(f"  {result['pipeline_efficiency']}", flush=True)
    if not args.skip_notebooks:
        print("notebooks (smoke profile, what CI runs) ...", flush=True)
        result.update(notebook_seconds())
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
