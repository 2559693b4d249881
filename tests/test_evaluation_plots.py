"""emolib.evaluation against hand-computed numbers and scikit-learn; emolib.plots
figures."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import f1_score, precision_score, recall_score

from emolib import plots
from emolib.data.base import EmotionDataset, Split
from emolib.evaluation import evaluate, predict_proba
from emolib.pipeline import make_dataset

ROOT = Path(__file__).resolve().parents[1]


class LookupModel:
    """A stand-in model: image ``i`` (a 1x1 float image holding ``i``) gets the
    probabilities ``proba[i]``."""

    input_shape = (None, 1, 1, 1)

    def __init__(self, proba):
        self.proba = np.asarray(proba, np.float32)

    def __call__(self, x, training=False):
        return self.proba[np.asarray(x)[:, 0, 0, 0].astype(int)]


# 6 samples, 3 classes
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
PROBA = np.array(
    [
        [0.7, 0.2, 0.1],  # pred 0, correct
        [0.2, 0.5, 0.3],  # pred 1, true 0 (lowest -> not in top 2)
        [0.1, 0.8, 0.1],  # pred 1, correct
        [0.6, 0.3, 0.1],  # pred 0, true 1 (2nd)
        [0.1, 0.2, 0.7],  # pred 2, correct
        [0.3, 0.4, 0.3],  # pred 1, true 2 (tied 2nd/3rd)
    ]
)
IMAGES = np.arange(6, dtype=np.float32).reshape(6, 1, 1, 1)


def test_evaluate_matches_hand_computed_and_sklearn_numbers():
    r = evaluate(LookupModel(PROBA), IMAGES, Y_TRUE, ["a", "b", "c"], batch_size=4)
    y_pred = np.array([0, 1, 1, 0, 2, 1])
    np.testing.assert_array_equal(r["y_pred"], y_pred)
    assert r["accuracy"] == pytest.approx(3 / 6)
    # top-2: sample 1 misses; sample 5's tie (0.3 vs 0.3) is sklearn's call
    from sklearn.metrics import top_k_accuracy_score

    assert r["top_2_accuracy"] == pytest.approx(top_k_accuracy_score(Y_TRUE, PROBA, k=2))
    assert 4 / 6 <= r["top_2_accuracy"] <= 5 / 6
    assert r["top_3_accuracy"] == 1.0
    np.testing.assert_array_equal(r["confusion_matrix"], [[1, 1, 0], [1, 1, 0], [0, 1, 1]])
    # per class: a: P 1/2 R 1/2; b: P 1/3 R 1/2; c: P 1 R 1/2
    assert r["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert r["per_class"]["b"]["precision"] == pytest.approx(1 / 3)
    assert r["per_class"]["b"]["f1"] == pytest.approx(0.4)
    assert r["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    for avg in ("macro", "weighted"):
        assert r[f"{avg}_avg"]["precision"] == pytest.approx(precision_score(Y_TRUE, y_pred, average=avg))
        assert r[f"{avg}_avg"]["recall"] == pytest.approx(recall_score(Y_TRUE, y_pred, average=avg))
        assert r[f"{avg}_avg"]["f1"] == pytest.approx(f1_score(Y_TRUE, y_pred, average=avg))
    assert r["macro_avg"]["f1"] == pytest.approx((0.5 + 0.4 + 2 / 3) / 3)
    assert r["loss"] == pytest.approx(-np.mean(np.log(PROBA[np.arange(6), Y_TRUE])))
    assert r["num_samples"] == 6
    assert "precision" in r["report"] and "c" in r["report"]


def test_evaluate_with_absent_class_and_two_classes():
    r = evaluate(LookupModel(PROBA[:4]), IMAGES[:4], Y_TRUE[:4], ["a", "b", "c"])
    assert r["per_class"]["c"]["support"] == 0
    assert r["confusion_matrix"].shape == (3, 3)
    two = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    r = evaluate(LookupModel(two), IMAGES[:3], np.array([0, 1, 1]))
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r["top_2_accuracy"] == 1.0 and r["class_names"] == ["0", "1"]


def _tiny_keras_model(channels=3):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def test_predict_proba_matches_predict_and_converts_uint8():
    model = _tiny_keras_model(channels=3)
    gray = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 1), dtype=np.uint8)
    as_rgb = np.repeat(gray, 3, axis=-1).astype(np.float32) / 255.0
    expected = model.predict(as_rgb, verbose=0)
    got = predict_proba(model, gray, batch_size=4)  # uint8 gray -> float RGB
    assert got.shape == (10, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    ds = make_dataset(gray, labels, 3, batch_size=3, channels=3)
    np.testing.assert_allclose(predict_proba(model, ds), expected, atol=1e-5)
    # evaluating the dataset (one-hot labels inside) equals evaluating the arrays
    a = evaluate(model, gray, labels, ["x", "y", "z"])
    b = evaluate(model, ds, class_names=["x", "y", "z"])
    assert a["accuracy"] == b["accuracy"] and a["macro_avg"] == pytest.approx(b["macro_avg"])
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, gray)


# ---------------------------------------------------------------- plots


def _dataset():
    rng = np.random.default_rng(0)
    names = ("happy", "sad", "neutral")
    splits = {}
    for split, counts in (("train", [6, 3, 1]), ("val", [2, 2, 2]), ("test", [1, 1, 2])):
        labels = np.repeat(np.arange(3), counts)
        images = rng.integers(0, 256, (len(labels), 12, 12, 1), dtype=np.uint8)
        meta = pd.DataFrame({"label": labels, "emotion": [names[i] for i in labels], "source": "t"})
        splits[split] = Split(images, labels, meta)
    return EmotionDataset(splits, names)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_sample_grid(tmp_path):
    ds = _dataset()
    fig = plots.sample_grid(ds.train.images, ds.train.labels, ds.class_names, per_class=4,
                            save_path=tmp_path / "grid.png")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 4
    assert sum(len(ax.images) for ax in fig.axes) == 4 + 3 + 1  # blanks where a class has fewer
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left


def test_class_distribution_counts_and_proportions():
    ds = _dataset()
    for source in (ds, ds.counts()):
        fig = plots.class_distribution(source)
        counts_ax, props_ax = fig.axes[:2]
        heights = sorted(p.get_height() for p in counts_ax.patches if p.get_height() > 0)
        assert heights == sorted([6, 3, 1, 2, 2, 2, 1, 1, 2])
        props = [p.get_height() for p in props_ax.patches]
        # first split's bars: train proportions 0.6, 0.3, 0.1
        np.testing.assert_allclose(props[:3], [0.6, 0.3, 0.1])


def test_learning_curves_and_confusion_matrix(tmp_path):
    history = pd.DataFrame({
        "epoch": [0, 1, 2], "loss": [1.0, 0.7, 0.5], "accuracy": [0.4, 0.6, 0.7],
        "val_loss": [1.1, 0.9, 0.8], "val_accuracy": [0.3, 0.5, 0.6],
    })
    fig = plots.learning_curves(history, save_path=tmp_path / "curves.pdf")
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(acc_ax.lines[1].get_ydata(), [0.3, 0.5, 0.6])
    assert (tmp_path / "curves.pdf").read_bytes()[:4] == b"%PDF"

    cm = np.array([[3, 1], [0, 0]])
    fig = plots.confusion_matrix(cm, ["a", "b"], normalize=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["75%", "25%", "0%", "0%"]
    fig = plots.confusion_matrix(cm, ["a", "b"], normalize=False)
    assert [t.get_text() for t in fig.axes[0].texts] == ["3", "1", "0", "0"]


def test_accuracy_interval_matches_the_wilson_formula():
    from emolib.evaluation import accuracy_interval

    def wilson(correct, n, z):  # the textbook formula (Wilson, 1927)
        p = correct / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        return centre - half, centre + half

    for correct, n in ((60, 128), (69, 128), (7, 9), (10, 10), (1, 239)):
        assert accuracy_interval(correct, n) == pytest.approx(wilson(correct, n, 1.959963984540054), abs=1e-12)
        assert accuracy_interval(correct, n, 0.9) == pytest.approx(wilson(correct, n, 1.6448536269514722), abs=1e-12)
    assert accuracy_interval(64, 128) == pytest.approx((0.4147, 0.5853), abs=1e-4)  # the +-8.5 points quoted
    low, high = accuracy_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and 0.25 < high < 0.35
    with pytest.raises(ValueError, match="n must be positive"):
        accuracy_interval(1, 0)



def test_evaluate_on_an_empty_split_returns_nan_instead_of_crashing():
    from emolib.evaluation import evaluate

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    out = evaluate(model, np.zeros((0, 4, 4, 1), np.uint8), np.zeros(0, int), ["a", "b", "c"])
    assert out["num_samples"] == 0 and np.isnan(out["accuracy"]) and np.isnan(out["macro_avg"]["f1"])
    assert out["confusion_matrix"].shape == (3, 3) and out["confusion_matrix"].sum() == 0


def test_log_loss_is_the_mean_cross_entropy_clipped_like_keras():
    import keras

    from emolib.evaluation import log_loss

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.full(5, 0.3), size=200)
    y = rng.integers(0, 5, 200)
    textbook = -np.mean(np.log(np.clip(proba[np.arange(200), y], 1e-7, 1.0)))
    assert log_loss(proba, y) == pytest.approx(textbook, rel=1e-12)
    # a confidently wrong float32 softmax (an exact 0) costs -log(1e-7), as in Keras' reported loss
    saturated = np.array([[1, 0, 0], [0, 1, 0], [0.2, 0.3, 0.5]], np.float32)
    labels = np.array([1, 1, 2])
    keras_loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(labels, saturated)))
    assert log_loss(saturated, labels) == pytest.approx(keras_loss, rel=1e-5)
    assert log_loss(saturated, labels) == pytest.approx((-np.log(1e-7) - np.log(0.5)) / 3, rel=1e-6)
    assert np.isnan(log_loss(np.zeros((0, 3)), np.zeros(0, int)))
    with pytest.raises(ValueError, match="labels must have shape"):
        log_loss(saturated, labels[:2])


def _noisy(y, right_share, k, rng):
    """Predictions that are right for about ``right_share`` of ``y`` and a random wrong class elsewhere."""
    wrong = (y + rng.integers(1, k, len(y))) % k
    return np.where(rng.random(len(y)) < right_share, y, wrong)


def test_compare_point_estimate_is_the_mean_macro_f1_difference_over_seeds():
    from emolib.evaluation import compare, macro_f1

    rng = np.random.default_rng(0)
    y = np.tile(np.arange(4), 150)
    a = np.stack([_noisy(y, 0.6, 4, rng) for _ in range(3)])
    b = np.stack([_noisy(y, 0.7, 4, rng) for _ in range(3)])
    result = compare(y, a, b, 4, names=("gray", "RGB"), n_boot=300)
    expected = [macro_f1(y, b[j], 4) - macro_f1(y, a[j], 4) for j in range(3)]
    assert np.allclose(result.per_seed, expected) and result.difference == pytest.approx(np.mean(expected))
    low, high = result.interval
    assert low < result.difference < high and result.bootstrap.shape == (300,)
    assert result.outcome == "RGB is better"
    assert str(result).startswith("verdict: RGB vs gray: RGB is better (macro-F1 +0.")
    swapped = compare(y, b, a, 4, names=("RGB", "gray"), n_boot=300)
    assert swapped.outcome == "gray is worse" and swapped.interval == pytest.approx((-high, -low), abs=0.02)
    again = compare(y, a, b, 4, names=("gray", "RGB"), n_boot=300)
    assert again.interval == result.interval  # the resampling is seeded: the same verdict every time


def test_compare_says_cannot_tell_for_equal_models_and_too_few_seeds():
    from emolib.evaluation import compare

    rng = np.random.default_rng(1)
    y = np.tile(np.arange(4), 100)
    a = np.stack([_noisy(y, 0.6, 4, rng) for _ in range(3)])
    b = np.stack([_noisy(y, 0.6, 4, rng) for _ in range(3)])  # the same skill, other errors
    result = compare(y, a, b, 4, n_boot=300)
    assert result.outcome == "cannot tell: the interval holds 0"
    assert result.interval[0] < 0 < result.interval[1]
    assert compare(y, a, a, 4, n_boot=50).outcome == "cannot tell: the interval holds 0"  # identical: [0, 0]
    two = compare(y, a[:2], np.stack([y, y]), 4, n_boot=50)
    assert two.outcome == "cannot tell: 2 seed(s), the rule needs 3"


def test_compare_refuses_a_model_that_did_not_learn_and_bad_shapes():
    from emolib.evaluation import compare

    rng = np.random.default_rng(2)
    y = np.tile(np.arange(4), 100)
    guessing = rng.integers(0, 4, (3, len(y)))
    result = compare(y, guessing, np.stack([y] * 3), 4, names=("guess", "perfect"), n_boot=50)
    assert result.outcome.startswith("cannot compare: guess did not learn (accuracy 0.2")
    with pytest.raises(ValueError, match=r"must both have shape \(seeds, 400\)"):
        compare(y, guessing, guessing[:, :10], 4)


def test_the_verdict_line_is_what_make_verify_reads():
    """compare's line is the 'marker' form of tools/verify.py: comparison and outcome come back."""
    import importlib.util

    from emolib.evaluation import compare

    spec = importlib.util.spec_from_file_location("verify_tool", ROOT / "tools" / "verify.py")
    verify = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verify)
    y = np.tile(np.arange(3), 50)
    line = str(compare(y, np.stack([(y + 1) % 3] * 3), np.stack([y] * 3), 3, names=("bad", "good"), n_boot=20))
    name, pattern = verify.VERDICT_PATTERNS[0]
    match = pattern.search(line)
    assert name == "marker" and match
    assert match["comparison"] == "good vs bad" and match["outcome"].startswith("cannot compare: bad did not learn")


def test_comparison_plot(tmp_path):
    from emolib.evaluation import compare

    rng = np.random.default_rng(3)
    y = np.tile(np.arange(4), 50)
    result = compare(y, np.stack([_noisy(y, 0.5, 4, rng) for _ in range(3)]),
                     np.stack([_noisy(y, 0.8, 4, rng) for _ in range(3)]), 4, n_boot=100)
    fig = plots.comparison(result, save_path=tmp_path / "c.png")
    ax = fig.axes[0]
    assert ax.get_title() == "B vs A: B is better" and (tmp_path / "c.png").stat().st_size > 0
    assert len(ax.patches) >= 40  # the histogram's bars (and the shaded interval)
    plt.close(fig)
