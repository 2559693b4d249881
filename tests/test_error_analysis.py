"""Error analysis: emolib.evaluation.confused_pairs and error_rates_by on
hand-made inputs with known answers, and emolib.plots.misclassified_grid."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import chi2_contingency, fisher_exact

from emolib.evaluation import accuracy_interval, confused_pairs, error_rates_by
from emolib.plots import misclassified_grid

NAMES = ["a", "b", "c"]
# row rates: a: .8 .2 0 | b: .4 .6 0 | c: 0 .1 .9
CM = np.array([[8, 2, 0], [4, 6, 0], [0, 1, 9]])


# --------------------------------------------------------------------------
# confused_pairs
# --------------------------------------------------------------------------


def test_confused_pairs_sums_both_directions_of_row_rates():
    table = confused_pairs(CM, NAMES, top=None)
    assert list(table.columns) == ["class a", "class b", "confusion"]
    assert table[["class a", "class b"]].values.tolist() == [["a", "b"], ["b", "c"], ["a", "c"]]
    np.testing.assert_allclose(table["confusion"], [0.2 + 0.4, 0.1, 0.0])
    top = confused_pairs(CM, NAMES, top=2)
    assert len(top) == 2 and list(top.index) == [0, 1]


def test_confused_pairs_counts_not_rates_would_rank_differently():
    # 100 images of "a", 10 of "b": 10 a->c (rate .1) vs 5 b->c (rate .5)
    cm = np.array([[90, 0, 10], [0, 5, 5], [0, 0, 10]])
    table = confused_pairs(cm, NAMES, top=1)
    assert table.iloc[0][["class a", "class b"]].tolist() == ["b", "c"]
    assert table.iloc[0]["confusion"] == pytest.approx(0.5)


def test_confused_pairs_handles_empty_rows_and_rejects_bad_input():
    table = confused_pairs(np.array([[3, 1], [0, 0]]), ["x", "y"])
    assert table["confusion"].tolist() == [pytest.approx(0.25)]
    with pytest.raises(ValueError, match="square"):
        confused_pairs(np.ones((2, 3)), NAMES)
    with pytest.raises(ValueError, match="class names"):
        confused_pairs(CM, ["a", "b"])
    with pytest.raises(ValueError, match="top"):
        confused_pairs(CM, NAMES, top=0)
    with pytest.raises(ValueError, match="non-negative"):
        confused_pairs(-CM, NAMES)


# --------------------------------------------------------------------------
# error_rates_by
# --------------------------------------------------------------------------

# 8 images; wrong = [T, T, T, F, F, F, F, T]
Y_TRUE = np.array([0, 1, 2, 0, 1, 2, 0, 1])
Y_PRED = np.array([1, 2, 0, 0, 1, 2, 0, 0])
META = pd.DataFrame({
    "glasses": [True, True, True, True, False, False, False, False],
    "yaw": np.arange(8, dtype=float) / 10,  # 0.0 .. 0.7
    "blur": [0, 0, 1, 1, 2, 2, 0, 0],
    "background": ["flat"] * 4 + ["clutter"] * 4,
})


def test_error_rates_by_boolean_attribute():
    table = error_rates_by(META, Y_TRUE, Y_PRED, "glasses")
    assert list(table.columns) == [
        "attribute", "value", "images", "errors", "error_rate", "ci_low", "ci_high", "p_value"
    ]
    assert table["value"].tolist() == [False, True]
    assert table["images"].tolist() == [4, 4]
    assert table["errors"].tolist() == [1, 3]
    np.testing.assert_allclose(table["error_rate"], [0.25, 0.75])
    assert (table.loc[1, "ci_low"], table.loc[1, "ci_high"]) == pytest.approx(accuracy_interval(3, 4))
    expected_p = fisher_exact([[1, 3], [3, 1]]).pvalue
    np.testing.assert_allclose(table["p_value"], expected_p)


def test_error_rates_by_bins_continuous_and_keeps_discrete_columns():
    # yaw has 8 distinct values > max_levels: binned; blur has 3: kept
    table = error_rates_by(META, Y_TRUE, Y_PRED, ["yaw", "blur", "background"], bins=2, max_levels=3)
    yaw = table[table["attribute"] == "yaw"]
    assert yaw["images"].tolist() == [4, 4]  # quantile bins: 0.0-0.3 and 0.4-0.7
    assert yaw["errors"].tolist() == [3, 1]
    assert yaw["value"].tolist() == [pd.Interval(0.0, 0.35, closed="both"), pd.Interval(0.35, 0.7)]
    blur = table[table["attribute"] == "blur"]
    assert blur["value"].tolist() == [0, 1, 2]
    assert blur["errors"].tolist() == [3, 1, 0] and blur["images"].tolist() == [4, 2, 2]
    p = chi2_contingency([[3, 1], [1, 1], [0, 2]]).pvalue
    np.testing.assert_allclose(blur["p_value"], p)
    bg = table[table["attribute"] == "background"]
    assert bg["value"].tolist() == ["clutter", "flat"] and bg["errors"].tolist() == [1, 3]


def test_error_rates_by_bin_edges_per_column_and_missing_values():
    meta = META.assign(yaw=META["yaw"].where(META.index != 0))  # one NaN
    table = error_rates_by(meta, Y_TRUE, Y_PRED, ["yaw", "blur"], bins={"yaw": [0, 0.35, 1.0]}, max_levels=2)
    yaw = table[table["attribute"] == "yaw"]
    assert yaw["images"].tolist() == [3, 4]  # the NaN image is left out
    assert yaw["errors"].tolist() == [2, 1]
    assert yaw["value"].tolist() == [pd.Interval(0.0, 0.35, closed="both"), pd.Interval(0.35, 1.0)]
    outside = error_rates_by(META, Y_TRUE, Y_PRED, "yaw", bins=[0.25, 1.0])  # 0.0-0.2 fall outside
    assert outside["images"].tolist() == [5]
    blur = table[table["attribute"] == "blur"]  # 3 levels > max_levels=2: 4 quantile bins (dict default)
    assert blur["images"].sum() == 8 and all(isinstance(v, pd.Interval) for v in blur["value"])


def test_error_rates_by_single_value_has_no_p_value():
    table = error_rates_by(META.assign(one=True), Y_TRUE, Y_PRED, "one")
    assert len(table) == 1 and np.isnan(table.loc[0, "p_value"])
    # a constant number binned with max_levels=0, and close edges keep distinct labels
    table = error_rates_by(META.assign(c=0.5, close=1 + np.arange(8) * 1e-6), Y_TRUE, Y_PRED,
                           ["c", "close"], bins=2, max_levels=0)
    assert table["images"].tolist() == [8, 4, 4]


def test_error_rates_by_rejects_bad_arguments():
    with pytest.raises(KeyError, match="sunglasses"):
        error_rates_by(META, Y_TRUE, Y_PRED, ["glasses", "sunglasses"])
    with pytest.raises(ValueError, match="same images"):
        error_rates_by(META, Y_TRUE[:-1], Y_PRED[:-1], "glasses")
    with pytest.raises(TypeError, match="DataFrame"):
        error_rates_by(META.to_dict(), Y_TRUE, Y_PRED, "glasses")
    with pytest.raises(ValueError, match="bins"):
        error_rates_by(META, Y_TRUE, Y_PRED, "yaw", bins=0)
    with pytest.raises(ValueError, match="increasing"):
        error_rates_by(META, Y_TRUE, Y_PRED, "yaw", bins=[0.5, 0.1])
    with pytest.raises(ValueError, match="yaw"):
        error_rates_by(META, Y_TRUE, Y_PRED, "yaw", bins={"yaw": 2.5})


# --------------------------------------------------------------------------
# misclassified_grid
# --------------------------------------------------------------------------


def grid_inputs(n=12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
    y_true = np.arange(n) % 3
    y_pred = y_true.copy()
    y_pred[::2] = (y_true[::2] + 1) % 3  # even positions wrong: 6 errors
    proba = np.full((n, 3), 0.1)
    proba[np.arange(n), y_pred] = 0.8
    return images, y_true, y_pred, proba


def test_misclassified_grid_shows_only_errors_with_titles(tmp_path):
    images, y_true, y_pred, proba = grid_inputs()
    path = tmp_path / "wrong.png"
    fig = misclassified_grid(images, y_true, y_pred, NAMES, proba=proba, n=4, ncols=2, save_path=path)
    assert isinstance(fig, Figure) and path.stat().st_size > 0
    assert len(fig.indices) == 4 and all(i % 2 == 0 for i in fig.indices)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4
    i = fig.indices[0]
    assert titles[0] == f"{NAMES[y_true[i]]} ->\n{NAMES[y_pred[i]]} (0.80)"
    plt.close(fig)
    fig = misclassified_grid(images, y_true, y_pred, NAMES, n=100)  # more than there are: all 6
    assert sorted(fig.indices) == [0, 2, 4, 6, 8, 10]
    assert all("(" not in ax.get_title() for ax in fig.axes)
    plt.close(fig)


def test_misclassified_grid_without_errors_and_bad_input():
    images, y_true, _, _ = grid_inputs()
    fig = misclassified_grid(images, y_true, y_true, NAMES)
    assert len(fig.indices) == 0
    plt.close(fig)
    with pytest.raises(ValueError, match="same images"):
        misclassified_grid(images[:-1], y_true, y_true, NAMES)
    with pytest.raises(ValueError, match="proba"):
        misclassified_grid(images, y_true, y_true, NAMES, proba=np.ones((12, 2)))
    with pytest.raises(ValueError, match="positive"):
        misclassified_grid(images, y_true, y_true, NAMES, n=0)
