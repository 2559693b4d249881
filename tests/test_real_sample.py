"""The real-photo sample (../shared/real-faces-sample): loader counts and a short
training smoke run. Skipped where the sample is absent (a user's fresh clone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emolib.data import load_dataset, load_labels_csv

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "real-faces-sample"
IDENTITY = r"^(.*)_\d+$"  # Abdullah_Gul_0003.jpg -> Abdullah_Gul

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
    assert "Abdullah_Gul" in set().union(*ids.values())
    # every class appears in every split (approximately stratified)
    assert (sample.counts() > 0).all().all()
    assert 0.6 < len(sample.train) / 239 < 0.8


def test_sample_through_load_dataset_rgb():
    ds = load_dataset(SAMPLE / "labels.csv", identity_pattern=IDENTITY, image_size=32, channels=3)
    assert ds.image_shape == (32, 32, 3)
    assert sum(len(s) for s in ds.splits.values()) == 239


def test_sample_training_smoke(sample):
    import keras

    from emolib.models import simple_cnn

    keras.utils.set_random_seed(0)
    model = simple_cnn(input_shape=sample.image_shape, num_classes=sample.num_classes,
                       filters=(16, 32), dense_units=32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train = sample.train.images.astype("float32") / 255.0
    x_test = sample.test.images.astype("float32") / 255.0
    history = model.fit(x_train, sample.train.labels, epochs=3, batch_size=32, verbose=0,
                        validation_data=(sample.val.images.astype("float32") / 255.0, sample.val.labels))
    assert np.all(np.isfinite(history.history["loss"]))
    loss, accuracy = model.evaluate(x_test, sample.test.labels, verbose=0)
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
    probs = model.predict(x_test, verbose=0)
    assert probs.shape == (len(sample.test), sample.num_classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
