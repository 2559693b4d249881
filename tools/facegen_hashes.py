"""One sha256 per case over what the face generator makes, to show a refactoring changed nothing.

    python tools/facegen_hashes.py        # run before and after; the printed lines must be identical

Cases: ``load_dataset("synthetic", ...)`` at 48 gray, 64 RGB and 96 RGB (all three splits:
images, labels, metadata, class names and info), with label noise and the seed003 balance;
faces rendered without pose (the pose parameters zeroed, as notebook 01's expression sheet
does) and with their drawn poses; :func:`emolib.attribution.face_regions` placed by each
image's pose and centred; and the expression and metadata tables on their own.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's emolib, not an installed one

from emolib.attribution import face_regions  # noqa: E402
from emolib.data import load_dataset, synthetic  # noqa: E402

SIZES = dict(n_train=40, n_val=21, n_test=21)
POSE = ("rotation_deg", "shift_x", "shift_y", "yaw")


def _feed(h, value):
    """Add ``value`` (array, DataFrame, dict, list or scalar) to the hash ``h``, its type and shape included."""
    if hasattr(value, "to_csv"):  # a DataFrame: column names, dtypes and every value
        h.update(repr(list(value.columns)).encode() + repr([str(d) for d in value.dtypes]).encode())
        h.update(value.to_csv(index=False, float_format=None).encode())
    elif isinstance(value, np.ndarray):
        h.update(f"{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object else repr(value.tolist()).encode())
    elif isinstance(value, dict):
        for key in value:
            h.update(repr(key).encode())
            _feed(h, value[key])
    else:
        h.update(json.dumps(value, default=str).encode())


def digest(*values) -> str:
    h = hashlib.sha256()
    for value in values:
        _feed(h, value)
    return h.hexdigest()


def dataset(**kwargs) -> str:
    ds = load_dataset("synthetic", **kwargs)
    parts = [list(ds.class_names), ds.name, ds.info]
    for key in ("train", "val", "test"):
        split = ds[key]
        parts += [key, split.images, split.labels, split.meta]
    return digest(*parts)


def rendered(pose: bool, size: int, channels: int) -> str:
    rng = np.random.default_rng(7)
    labels = np.arange(21) % 7
    params = synthetic.sample_params(labels, rng)
    if not pose:
        for key in POSE:
            params[key] = np.zeros_like(params[key])
        params["scale"] = np.full_like(params["scale"], 1.55)
    images = synthetic.render(params, image_size=size, channels=channels)
    return digest(images, synthetic.params_to_meta(params))


def regions() -> str:
    meta = load_dataset("synthetic", **SIZES, image_size=48, seed=5).test.meta
    return digest(face_regions(48, meta), face_regions(64, meta), face_regions(48, n=3), face_regions(96))


def tables() -> str:
    rng = np.random.default_rng(11)
    aus = synthetic.sample_action_units(["happy", "Sadness", "fear", "neutral"] * 5, rng)
    counts = [synthetic.class_counts(1000, classes, balance, split)
              for classes, balance in (("fer7", "fer2013"), ("seed003", "seed003"), ("seed002", "balanced"))
              for split in ("train", "val", "test")]
    return digest(aus, counts, list(synthetic.EMOTIONS), synthetic.ACTION_UNITS, list(synthetic.AU_COLUMNS),
                  synthetic.PROTOTYPES)


CASES = {
    "dataset 48 gray fer7": lambda: dataset(**SIZES, image_size=48, channels=1, seed=0),
    "dataset 64 rgb seed003": lambda: dataset(**SIZES, image_size=64, channels=3, seed=1, classes="seed003"),
    "dataset 96 rgb fer7": lambda: dataset(**SIZES, image_size=96, channels=3, seed=2),
    "dataset 48 gray noise+seed003 balance": lambda: dataset(
        n_train=60, n_val=30, n_test=None, image_size=48, channels=1, seed=4, classes="seed003",
        balance="seed003", label_noise=0.2, noisy_splits=("train", "val"), images_per_identity=3),
    "render 48 gray without pose": lambda: rendered(False, 48, 1),
    "render 64 rgb without pose": lambda: rendered(False, 64, 3),
    "render 96 rgb without pose": lambda: rendered(False, 96, 3),
    "render 96 rgb with pose": lambda: rendered(True, 96, 3),
    "attribution face_regions": regions,
    "action units, class counts, constants": tables,
}


if __name__ == "__main__":
    import emolib

    print(f"# emolib from {Path(emolib.__file__).parent}")
    for name, case in CASES.items():
        print(f"{case()}  {name}", flush=True)
