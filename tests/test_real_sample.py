"""The real-photo sample (../shared/real-faces-sample): loader counts and a short
training smoke run. Skipped where the sample is absent (a user's fresh clone)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from emolib.data import load_dataset, load_labels_csv

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "real-faces-sample"
IDENTITY = r"^(.*)_\d+$"  # First_Last_0003.jpg -> First_Last

pytestmark = pytest.mark.skipif(
    not (SAMPLE / "labels.csv").is_file(),
    reason=f"real-faces sample not found at {SAMPLE} (only present on the project's CI machines)",
)


@pytest.fixture(scope="module")
def sample():
    return load_labels_csv(SAMPLE / "labels.csv", identity_pattern=IDENTITY, seed=0)


def test_sample_counts_and_labels(sample):
    assert sample.class_names == ("angry", "happy", "sad", "surprise", "neutral")
    totals = sample.counts().sum(axis=1)
    assert totals.to_dict() == {"angry": 21, "happy": 80, "sad": 21, "surprise": 37, "neutral": 80}
    assert int(totals.sum()) == 239
    assert sample.image_shape == (48, 48, 1)
    for key in ("train", "val", "test"):
        split = sample[key]
        assert len(split) > 0
        assert split.images.dtype == np.uint8
        assert (split.meta["split"] == key).all()
        assert [sample.class_names[i] for i in split.labels] == list(split.meta["emotion"])
    meta = np.concatenate([sample[k].meta["orig_label"].to_numpy() for k in ("train", "val", "test")])
    assert set(meta) == {"anger", "happiness", "neutral", "sadness", "surprise"}


def test_sample_split_is_identity_disjoint(sample):
    ids = {k: set(sample[k].meta["identity"]) for k in ("train", "val", "test")}
    assert ids["train"].isdisjoint(ids["val"])
    assert ids["train"].isdisjoint(ids["test"])
    assert ids["val"].isdisjoint(ids["test"])
    persons = {(re.match(IDENTITY, Path(s).stem) or [None, Path(s).stem])[1]
               for k in ids for s in sample[k].meta["source"]}
    assert set().union(*ids.values()) == persons and len(persons) < 239  # persons from the file names
    # every class appears in every split (approximately stratified)
    assert (sample.counts() > 0).all().all()
    assert 0.6 < len(sample.train) / 239 < 0.8
    assert sample.info["split_method"].startswith("identity-disjoint")
    again = load_labels_csv(SAMPLE / "labels.csv", identity_pattern=IDENTITY, seed=0, image_size=8)
    assert all(list(again[k].meta["source"]) == list(sample[k].meta["source"]) for k in ids)  # same seed, same split


def test_sample_through_load_dataset_rgb():
    ds = load_dataset(SAMPLE / "labels.csv", identity_pattern=IDENTITY, image_size=32, channels=3)
    assert ds.image_shape == (32, 32, 3)
    assert sum(len(s) for s in ds.splits.values()) == 239


def test_sample_training_smoke(sample, tmp_path):
    """The whole real-data path: labels-CSV loader -> tf.data pipeline -> simple CNN ->
    experiment framework (train, evaluate, save). No accuracy claim: 239 noisy photos
    and 3 epochs only show that everything runs and produces sane numbers."""
    from emolib.experiment import DataConfig, ExperimentConfig, TrainConfig, collect_runs, run_experiment

    config = ExperimentConfig(
        experiment="real_sample", run="smoke",
        data=DataConfig(source=str(SAMPLE / "labels.csv"), classes=list(sample.class_names), channels=1,
                        options={"identity_pattern": IDENTITY}),
        train=TrainConfig(epochs=3, batch_size=32, seed=0),
    )
    result = run_experiment(config, dataset=sample, runs_dir=tmp_path, progress=False)
    assert np.all(np.isfinite(result.history["loss"]))
    assert result.test["proba"].shape == (len(sample.test), sample.num_classes)
    np.testing.assert_allclose(result.test["proba"].sum(axis=1), 1.0, rtol=1e-4)
    assert {"best.keras", "metrics.json", "confusion_matrix.png"} <= {p.name for p in result.path.iterdir()}
    table = collect_runs(tmp_path)
    assert table.loc[0, "run"] == "smoke" and 0.0 <= table.loc[0, "test_accuracy"] <= 1.0
