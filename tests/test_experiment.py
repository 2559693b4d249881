"""emolib.experiment: configs, a full run on a tiny learnable data set, the
no-overwrite and atomic-write rules, and collect_runs. Also emolib.models'
registry."""

import matplotlib

matplotlib.use("Agg")

import json

import keras
import numpy as np
import pandas as pd
import pytest

from emolib import experiment as ex
from emolib import models
from emolib.data.base import EmotionDataset, Split
from emolib.experiment import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
    collect_runs,
    reuse_or_train,
    run_experiment,
)

CLASSES = ("happy", "neutral", "sad", "surprise")  # the "seed003" preset
ARTEFACTS = {
    "config.json", "history.csv", "best.keras", "metrics.json", "classification_report.txt",
    "confusion_matrix.csv", "confusion_matrix.png", "learning_curves.png",
}


def quadrant_dataset(sizes=(240, 80, 80), size=16, seed=0):
    """4 classes: a bright square in the class's quadrant on a noisy background."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name, n in zip(("train", "val", "test"), sizes):
        labels = rng.permutation(np.arange(n) % 4)
        images = rng.integers(0, 60, (n, size, size, 1)).astype(np.uint8)
        h = size // 2
        for i, c in enumerate(labels):
            r, col = divmod(int(c), 2)
            images[i, r * h + 2 : r * h + h - 2, col * h + 2 : col * h + h - 2] += 150
        meta = pd.DataFrame({"label": labels, "emotion": [CLASSES[c] for c in labels], "source": "q"})
        splits[name] = Split(images, labels, meta)
    return EmotionDataset(splits, CLASSES, name="quadrants")


@pytest.fixture(scope="module")
def data():
    return quadrant_dataset()


def tiny_config(run="a", experiment="exp", **train):
    return ExperimentConfig(
        experiment=experiment,
        run=run,
        data=DataConfig(classes="seed003", image_size=16, channels=1, n_train=240),
        model=ModelConfig("simple_cnn", {"filters": [8, 16], "dense_units": 32}),
        train=TrainConfig(**{"epochs": 3, "batch_size": 32, **train}),
    )


# ---------------------------------------------------------------- configs


def test_config_json_round_trip_and_updates(tmp_path):
    config = tiny_config(augment={"rotation": 5.0}, lr_decay=None)
    again = ExperimentConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert ExperimentConfig.from_dict(json.loads(config.to_json())).train.augment == {"rotation": 5.0}
    with pytest.raises(ValueError, match="bogus"):
        ExperimentConfig.from_dict({**config.to_dict(), "train": {"bogus": 1}})
    changed = config.updated({"run": "b", "train.learning_rate": 0.01, "model.params.dense_units": 8})
    assert (changed.run, changed.train.learning_rate, changed.model.params["dense_units"]) == ("b", 0.01, 8)
    assert config.train.learning_rate == 1e-3 and config.model.params["dense_units"] == 32
    with pytest.raises(ValueError, match="lr"):
        config.updated({"train.lr": 1})


def test_load_kwargs_pass_generator_sizes_only_to_synthetic():
    synthetic = DataConfig(n_train=100, options={"foo": 1}).load_kwargs()
    assert synthetic["n_train"] == 100 and synthetic["balance"] == "balanced" and synthetic["foo"] == 1
    real = DataConfig(source="fer2013", n_train=100).load_kwargs()
    assert "n_train" not in real and "balance" not in real
    assert real["image_size"] == 48 and real["channels"] == 1


def test_model_registry():
    lenet = models.build_model("lenet", (48, 48, 1), 7)
    assert lenet.output_shape == (None, 7)
    assert [type(l).__name__ for l in lenet.layers[1:]] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense", "Dense",
    ]
    assert lenet.get_layer("flatten").output.shape[-1] == 10 * 10 * 16
    assert [lenet.get_layer(n).units for n in ("f5", "f6")] == [120, 84]
    cnn = models.build_model("simple_cnn", (16, 16, 3), 4, filters=(8,))
    assert cnn.input_shape == (None, 16, 16, 3) and cnn.output_shape == (None, 4)
    with pytest.raises(ValueError, match="lenet"):
        models.build_model("nope", (16, 16, 1), 4)


# ---------------------------------------------------------------- runs


def test_run_experiment_writes_every_artefact(tmp_path, data, capsys):
    result = run_experiment(tiny_config(), dataset=data, runs_dir=tmp_path)
    run_dir = tmp_path / "exp" / "a"
    assert result.path == run_dir
    assert {p.name for p in run_dir.iterdir()} == ARTEFACTS
    assert [p.name for p in (tmp_path / "exp").iterdir()] == ["a"]  # no temp folders left

    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("accuracy", "top_2_accuracy", "top_3_accuracy", "loss", "per_class", "macro_avg",
                "weighted_avg", "val", "epochs_trained", "best_epoch", "train_seconds", "params"):
        assert key in metrics, key
    assert set(metrics["per_class"]) == set(CLASSES)
    assert set(metrics["per_class"]["sad"]) == {"precision", "recall", "f1", "support"}
    assert set(metrics["weighted_avg"]) == {"precision", "recall", "f1"}
    assert metrics["val"]["accuracy"] >= 0.0 and "macro_avg" in metrics["val"]
    assert metrics["accuracy"] > 0.6  # chance is 0.25 on this easy data
    assert metrics["params"] == result.model.count_params()
    assert metrics["data"]["n_train"] == 240 and metrics["data"]["image_shape"] == [16, 16, 1]
    assert metrics == result.metrics

    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == metrics["epochs_trained"] == 3
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history.columns)
    assert metrics["best_epoch"] == int(history["val_loss"].idxmin()) + 1
    pd.testing.assert_frame_equal(result.history, history)

    cm = pd.read_csv(run_dir / "confusion_matrix.csv", index_col=0)
    assert list(cm.columns) == list(CLASSES) and cm.to_numpy().sum() == 80
    assert np.trace(cm.to_numpy()) / 80 == pytest.approx(metrics["accuracy"])
    assert "surprise" in (run_dir / "classification_report.txt").read_text()
    saved = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert saved == tiny_config() == result.config

    # best.keras is the evaluated model
    reloaded = keras.models.load_model(run_dir / "best.keras")
    x = data.test.images.astype("float32") / 255
    acc = (np.asarray(reloaded(x)).argmax(1) == data.test.labels).mean()
    assert acc == pytest.approx(metrics["accuracy"])

    out = capsys.readouterr().out
    # One line for the run, redrawn in place (a terminal shows what follows the last carriage return)
    lines = [line.rsplit("\r", 1)[-1] for line in out.split("\n") if "\r" in line]
    assert len(lines) == 1, out
    shown = lines[0]
    assert shown.startswith(f"{result.config.experiment}/{result.config.run}:") and "3/3" in shown, shown
    assert f"test accuracy {metrics['accuracy']:.3f}" in shown and str(result.path.name) in shown, shown
    assert "val_acc" in out and "lr 1.0e-03" in out  # the epochs' postfix before the final one
    assert "ms/step" not in out  # Keras' own progress bar stays off


def test_runs_are_never_silently_overwritten(tmp_path, data):
    config = tiny_config(epochs=1)
    first = run_experiment(config, dataset=data, runs_dir=tmp_path, progress=False)
    before = (first.path / "metrics.json").read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        run_experiment(config, dataset=data, runs_dir=tmp_path, progress=False)
    assert (first.path / "metrics.json").read_text() == before

    second = run_experiment(config.updated({"train.learning_rate": 0.01}), dataset=data,
                            runs_dir=tmp_path, progress=False, overwrite=True)
    assert second.path == first.path
    assert json.loads((second.path / "config.json").read_text())["train"]["learning_rate"] == 0.01
    assert [p.name for p in (tmp_path / "exp").iterdir()] == ["a"]

    auto = [run_experiment(tiny_config(run="auto", epochs=1), dataset=data, runs_dir=tmp_path,
                           progress=False).path.name for _ in range(2)]
    assert auto == ["run-001", "run-002"]
    assert json.loads((tmp_path / "exp" / "run-002" / "config.json").read_text())["run"] == "run-002"


def test_failed_runs_leave_nothing(tmp_path, data, monkeypatch):
    with pytest.raises(ValueError, match="unknown model"):
        run_experiment(tiny_config().updated({"model.name": "nope"}), dataset=data, runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []

    # a failure after training, while writing the artefacts
    (tmp_path / "exp").mkdir()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ex.pd.DataFrame, "to_csv", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_experiment(tiny_config(epochs=1), dataset=data, runs_dir=tmp_path, progress=False)
    assert list((tmp_path / "exp").iterdir()) == []

    with pytest.raises(ValueError, match="classes"):
        run_experiment(tiny_config().updated({"data.classes": "fer7"}), dataset=data, runs_dir=tmp_path)


def test_resampling_augmentation_and_collect_runs(tmp_path, data):
    imbalanced = data.subset(CLASSES)
    keep = np.flatnonzero((imbalanced.train.labels != 3) | (np.arange(240) % 4 == 0))
    imbalanced.splits["train"] = imbalanced.train.take(keep)
    counts = np.bincount(imbalanced.train.labels).tolist()
    assert counts[3] < counts[0]

    run_experiment(tiny_config("plain", epochs=1), dataset=data, runs_dir=tmp_path, progress=False)
    under = run_experiment(
        tiny_config("lenet", epochs=2, augment=True, mixup_alpha=0.2, lr_decay={"kind": "cosine"})
        .updated({"data.sampling": "under", "data.class_weight": True, "data.channels": 3,
                  "model.name": "lenet", "model.params": {}}),
        dataset=imbalanced, runs_dir=tmp_path, progress=False,
    )
    assert under.metrics["data"]["train_class_counts"] == [counts[3]] * 4
    assert under.metrics["data"]["image_shape"] == [16, 16, 3]
    assert under.model.input_shape == (None, 16, 16, 3)
    lr = under.history["learning_rate"].to_numpy()
    assert lr[1] < lr[0] < 1e-3  # cosine decay per step

    table = collect_runs(tmp_path)
    assert list(table["run"]) == ["lenet", "plain"]
    for col in ("experiment", "model.name", "train.learning_rate", "data.sampling", "test_accuracy",
                "macro_f1", "weighted_precision", "weighted_recall", "weighted_f1", "val_accuracy",
                "epochs", "train_seconds", "params"):
        assert col in table.columns, col
    row = table.set_index("run").loc["lenet"]
    assert row["model.name"] == "lenet" and row["data.sampling"] == "under"
    assert row["test_accuracy"] == under.metrics["accuracy"]
    assert row["weighted_f1"] == under.metrics["weighted_avg"]["f1"]
    assert row["params"] == under.model.count_params() and row["epochs"] == 2
    assert collect_runs(tmp_path, experiment="other").empty
    assert collect_runs(tmp_path, experiment=[]).empty  # an empty list selects nothing, not everything
    with pytest.raises(FileNotFoundError):
        collect_runs(tmp_path / "missing")


def test_class_weight_reaches_fit_with_balanced_weights(tmp_path, data, monkeypatch):
    import keras

    imbalanced = data.subset(CLASSES)
    keep = np.flatnonzero((imbalanced.train.labels != 3) | (np.arange(240) % 4 == 0))
    imbalanced.splits["train"] = imbalanced.train.take(keep)
    counts = np.bincount(imbalanced.train.labels)
    seen = {}
    original_fit = keras.Model.fit

    def spy_fit(self, *args, **kwargs):
        seen["class_weight"] = kwargs.get("class_weight")
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    run_experiment(tiny_config("weighted", epochs=1).updated({"data.class_weight": True}),
                   dataset=imbalanced, runs_dir=tmp_path, progress=False)
    weights = seen["class_weight"]
    expected = len(keep) / (len(counts) * counts)  # scikit-learn's "balanced" weights
    np.testing.assert_allclose([weights[i] for i in range(len(counts))], expected)
    assert weights[3] > weights[0]  # the rare class weighs more


# --------------------------------------------------------------------------
# Summaries over seeds and paired effects
# --------------------------------------------------------------------------


def seed_table():
    """Two settings x three seeds with known numbers; 'worse' loses 0.1, 0.2, 0.3."""
    return pd.DataFrame({
        "run": [f"{s}_seed{k}" for s in ("baseline", "worse") for k in range(3)],
        "setting": ["baseline"] * 3 + ["worse"] * 3,
        "train.seed": [0, 1, 2, 0, 1, 2],
        "val_macro_f1": [0.5, 0.6, 0.7, 0.4, 0.4, 0.4],
    })


def test_run_setting_strips_only_a_trailing_seed_suffix():
    assert ex._run_setting("adam_lr_1e-3_seed12") == "adam_lr_1e-3"
    assert ex._run_setting("seed3_model") == "seed3_model"
    assert ex._run_setting("baseline") == "baseline"


def test_summarize_runs_mean_std_and_range():
    out = ex.summarize_runs(seed_table(), metrics=["val_macro_f1"]).set_index("setting")
    assert out.loc["baseline", "runs"] == 3
    assert out.loc["baseline", "val_macro_f1"] == pytest.approx(0.6)
    assert out.loc["baseline", "val_macro_f1_std"] == pytest.approx(0.1)
    assert out.loc["worse", "val_macro_f1_std"] == pytest.approx(0.0)
    assert (out.loc["baseline", "val_macro_f1_min"], out.loc["baseline", "val_macro_f1_max"]) == (0.5, 0.7)
    assert list(out.index) == ["baseline", "worse"]  # order of first appearance
    with pytest.raises(KeyError, match="no column"):
        ex.summarize_runs(seed_table(), metrics=["test_accuracy"])


def test_compare_to_baseline_pairs_runs_by_seed():
    table = seed_table().sample(frac=1.0, random_state=1)  # row order must not matter
    row = ex.compare_to_baseline(table, "baseline").iloc[0]
    assert row["setting"] == "worse" and row["pairs"] == 3
    assert row["effect"] == pytest.approx(-0.2)
    assert row["effect_std"] == pytest.approx(0.1)
    assert (row["effect_min"], row["effect_max"]) == (pytest.approx(-0.3), pytest.approx(-0.1))
    t = -0.2 / (0.1 / np.sqrt(3))
    assert row["ratio"] == pytest.approx(t)
    # two-sided p of a t with 2 degrees of freedom, closed form: 1 - |t| / sqrt(2 + t^2)
    assert row["p_value"] == pytest.approx(1 - abs(t) / np.sqrt(2 + t**2))
    assert row["baseline_std"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="'nope' is not a value"):
        ex.compare_to_baseline(table, "nope")


def test_compare_to_baseline_single_pair_has_no_ratio():
    table = seed_table()
    table = table[table["train.seed"] == 0]
    row = ex.compare_to_baseline(table, "baseline").iloc[0]
    assert row["pairs"] == 1 and row["effect"] == pytest.approx(-0.1)
    assert np.isnan(row["ratio"]) and np.isnan(row["effect_std"]) and np.isnan(row["p_value"])


def test_collect_runs_has_a_setting_column(tmp_path):
    for run in ("sgd_seed0", "sgd_seed1"):
        folder = tmp_path / "study" / run
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
        (folder / "config.json").write_text(json.dumps({"run": run}))
        (folder / "best.keras").write_bytes(b"")
    table = collect_runs(tmp_path)
    assert table["setting"].tolist() == ["sgd", "sgd"]


def test_reuse_or_train(tmp_path):
    config = ExperimentConfig(
        experiment="deploy", run="tiny_seed0",
        data=DataConfig(classes="seed003", image_size=16, channels=1, n_train=64, n_val=16, n_test=16),
        model=ModelConfig("simple_cnn", {"filters": (4,)}), train=TrainConfig(epochs=1, batch_size=32),
    )
    missing = tmp_path / "elsewhere" / "run"
    first = reuse_or_train(config, [missing], runs_dir=tmp_path, progress=False)
    assert not first.reused and "not found" in first.note and first.path == tmp_path / "deploy" / "tiny_seed0"
    assert first.data.test.images.shape == (16, 16, 16, 1)
    # A run that learned is reused, with its exact data set rebuilt from config.json.
    metrics = json.loads((first.path / "metrics.json").read_text())
    metrics["val"]["accuracy"] = 0.99
    (first.path / "metrics.json").write_text(json.dumps(metrics))
    again = reuse_or_train(config, [missing, first.path], runs_dir=tmp_path, progress=False)
    assert again.reused and "deploy/tiny_seed0" in again.note
    np.testing.assert_array_equal(again.data.test.images, first.data.test.images)
    x = first.data.test.images.astype("float32") / 255.0
    np.testing.assert_allclose(again.model(x, training=False), first.model(x, training=False), atol=1e-6)
    # Only on the data the config describes, unless any data will do.
    other = config.updated({"run": "other_seed0", "data.n_test": 24})
    fresh = reuse_or_train(other, [first.path], runs_dir=tmp_path, progress=False)
    assert not fresh.reused and "trained on other data" in fresh.note and len(fresh.data.test) == 24
    anyway = reuse_or_train(other, [first.path], runs_dir=tmp_path, same_data=False, progress=False)
    assert anyway.reused and len(anyway.data.test) == 16
    # One at chance is not: it is trained again, and the note says why.
    metrics["val"]["accuracy"] = 0.25
    (first.path / "metrics.json").write_text(json.dumps(metrics))
    third = reuse_or_train(config, [first.path], runs_dir=tmp_path, progress=False)
    assert not third.reused and "not above chance" in third.note


def test_augmented_runs_are_reproducible_per_seed_and_their_configs_load(tmp_path, data):
    """Keras augmentation, MixUp and CutMix in the pipeline: the same seed gives the same run, another
    seed another one; a saved config with ``augment`` as a dict loads back as it was."""
    cutmix = 1.0 if hasattr(keras.layers, "CutMix") else 0.0  # keras.layers.CutMix is new in Keras 3.9
    config = tiny_config("aug", epochs=2, augment={"rotation": 5.0, "brightness": 0.0}, mixup_alpha=0.2,
                         cutmix_alpha=cutmix)
    a, b, c = (run_experiment(config.updated({"train.seed": seed}), dataset=data, runs_dir=tmp_path / name,
                              progress=False) for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    pd.testing.assert_frame_equal(a.history, b.history)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.allclose(a.history["loss"], c.history["loss"])
    _, _, loaded, metrics = ex._load_run(a.path)
    assert loaded.train.augment == {"rotation": 5.0, "brightness": 0.0} and loaded.train.cutmix_alpha == cutmix
    assert metrics["accuracy"] == a.metrics["accuracy"]
