"""Class-balanced sampling, training that keeps the best validation macro-F1, and the
F1 summary (emolib.pipeline.make_dataset(balanced=True), run_experiment with
DataConfig(sampling="balanced") and TrainConfig(monitor="val_macro_f1"),
emolib.evaluation.f1_scores): how every real-photo run trains."""

import keras
import numpy as np
import pytest

from emolib.evaluation import f1_scores
from emolib.pipeline import capped_indices


def skewed(n_major=190, n_minor=10, size=8):
    """Class 0 dark images, class 1 bright: 95% class 0."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0.0, 0.3, (n_major, size, size, 1)),
                        rng.uniform(0.7, 1.0, (n_minor, size, size, 1))]).astype("float32")
    y = np.array([0] * n_major + [1] * n_minor)
    return x, y


def class_shares(ds, batches=20):
    labels = np.concatenate([np.asarray(b[1]).argmax(1) for b in ds.take(batches)])
    return np.bincount(labels, minlength=2) / len(labels)


def test_f1_scores_macro_over_all_classes_and_worst_class():
    y = np.array([0, 0, 1, 1])
    proba = np.eye(3)[[0, 0, 1, 0]]  # one class-1 image called class 0; class 2 absent
    s = f1_scores(y, proba, 3)
    assert s["accuracy"] == 0.75
    assert s["per_class_f1"] == [0.8, 0.6667, 0.0]
    # emolib's one macro-F1 (evaluation.macro_f1): every class counts, the absent one as 0
    assert s["macro_f1"] == round((0.8 + 2 / 3 + 0) / 3, 4) and s["worst_class_f1"] == 0.0


def test_every_macro_f1_in_emolib_is_the_same_one():
    """benchmark.scores, f1_scores and compare all give evaluation.macro_f1 (issue 25)."""
    from emolib import benchmark
    from emolib.evaluation import compare
    from emolib.evaluation import macro_f1

    y = np.array([0, 0, 1, 1, 1])
    pred = np.array([0, 1, 1, 1, 3])  # class 2 absent from y, class 3 predicted once
    expected = macro_f1(y, pred, 4)
    assert expected == pytest.approx((2 / 3 + 2 / 3 + 0 + 0) / 4)  # F1 of classes 0 and 1: 2/3 each
    assert benchmark.scores(y, np.eye(4)[pred])["macro_f1"] == pytest.approx(expected)
    assert f1_scores(y, np.eye(4)[pred], 4)["macro_f1"] == round(expected, 4)
    assert compare(y, [pred], [y], 4).difference == pytest.approx(macro_f1(y, y, 4) - expected)


def test_capped_indices_cap_every_class_and_keep_rare_ones():
    y = np.array([0] * 50 + [1] * 3 + [2] * 10)
    idx = capped_indices(y, 5, seed=1)
    assert np.array_equal(np.bincount(y[idx]), [5, 3, 5])
    assert np.all(np.diff(idx) > 0) and np.array_equal(idx, capped_indices(y, 5, seed=1))
    with pytest.raises(ValueError, match="cap"):
        capped_indices(y, 0)


# ---------------------------------------------------------------- the one trainer: run_experiment


def skewed_dataset(n_major=190, n_minor=10, size=8):
    """An EmotionDataset of uint8 images, 95% class 0, split into train, val and test."""
    import pandas as pd

    from emolib.data.base import EmotionDataset, Split

    splits = {}
    for i, name in enumerate(("train", "val", "test")):
        x, y = skewed(n_major, n_minor, size)
        rng = np.random.default_rng(i)
        x = np.clip(x + rng.normal(0, 0.02, x.shape), 0, 1)
        splits[name] = Split((x * 255).astype(np.uint8), y, pd.DataFrame(index=range(len(y))))
    return EmotionDataset(splits, ("neutral", "happy"), name="skewed")


def balanced_config(**train):
    from emolib.experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig

    settings = dict(epochs=3, batch_size=20, learning_rate=3e-3, monitor="val_macro_f1", steps_per_epoch=5,
                    early_stopping_patience=None, lr_decay={"kind": "cosine", "alpha": 0.05})
    return ExperimentConfig(
        experiment="balanced", run="a",
        data=DataConfig(source="skewed", classes=["neutral", "happy"], image_size=8, sampling="balanced"),
        model=ModelConfig("simple_cnn", {"filters": (4, 8), "dense_units": 8, "dropout": 0.0}),
        train=TrainConfig(**{**settings, **train}))


def test_make_dataset_balanced_draws_every_class_equally_often():
    from emolib.pipeline import make_dataset

    x, y = skewed()
    balanced = make_dataset(x, y, 2, batch_size=50, training=True, balanced=True, seed=0)
    assert abs(class_shares(balanced)[1] - 0.5) < 0.1  # 1,000 draws from an endless stream
    assert class_shares(make_dataset(x, y, 2, batch_size=50, training=True, seed=0), batches=4)[1] < 0.1


def test_run_experiment_with_balanced_sampling_keeps_the_best_validation_macro_f1(tmp_path):
    import pandas as pd

    from emolib.evaluation import macro_f1, predict_proba
    from emolib.experiment import run_experiment

    data = skewed_dataset()
    result = run_experiment(balanced_config(), dataset=data, runs_dir=tmp_path, progress=False)
    history = pd.read_csv(result.path / "history.csv")
    assert "val_macro_f1" in history and len(history) == 3  # one pass would be 10 batches of 20: 5 were asked
    best = int(history["val_macro_f1"].to_numpy().argmax()) + 1
    assert result.metrics["best_epoch"] == best
    # the saved model is the best epoch's: its validation macro-F1 is the history's maximum
    kept = macro_f1(data.val.labels, predict_proba(result.model, data.val.images).argmax(1), 2)
    assert kept == pytest.approx(history["val_macro_f1"].max(), abs=1e-6)
    assert result.metrics["val"]["macro_avg"]["f1"] == pytest.approx(kept, abs=1e-6)


def test_steps_per_epoch_with_natural_sampling_repeats_the_stream(tmp_path):
    import pandas as pd

    from emolib.experiment import run_experiment

    config = balanced_config(epochs=2, steps_per_epoch=15).updated({"data.sampling": None, "data.class_weight": True})
    result = run_experiment(config, dataset=skewed_dataset(), runs_dir=tmp_path, progress=False)
    assert len(pd.read_csv(result.path / "history.csv")) == 2  # 2 x 15 batches of 20 from 200 images: no shortage


def test_init_from_starts_from_a_saved_runs_weights(tmp_path):
    from emolib.experiment import run_experiment

    data = skewed_dataset()
    first = run_experiment(balanced_config(), dataset=data, runs_dir=tmp_path, progress=False)
    second = run_experiment(balanced_config(epochs=1, learning_rate=1e-12, lr_decay=None).updated(
        {"run": "b", "model.init_from": str(first.path)}), dataset=data, runs_dir=tmp_path, progress=False)
    # the trainable weights moved by ~1e-12 (BatchNormalization's moving statistics follow the data)
    for w1, w2 in zip(first.model.trainable_weights, second.model.trainable_weights):
        np.testing.assert_allclose(np.asarray(w1), np.asarray(w2), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="init_from.*nowhere.*best.keras"):
        run_experiment(balanced_config().updated({"run": "c", "model.init_from": str(tmp_path / "nowhere")}),
                       dataset=data, runs_dir=tmp_path, progress=False)


def test_balanced_settings_are_checked_before_training(tmp_path):
    from emolib.experiment import run_experiment

    data = skewed_dataset()
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        run_experiment(balanced_config(steps_per_epoch=0), dataset=data, runs_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="'under', 'over' or 'balanced'"):
        run_experiment(balanced_config().updated({"data.sampling": "sample"}), dataset=data, runs_dir=tmp_path,
                       progress=False)
    assert not any(tmp_path.rglob("*.keras"))
