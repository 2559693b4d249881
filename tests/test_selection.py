"""emolib.selection: Pareto front and selection rule on hand-made tables with known
answers, the cost arithmetic, seed 003's price table against the seed's text, and
the scorecard pipeline (runs -> scorecard -> latency -> choice) on two tiny runs."""

import matplotlib

matplotlib.use("Agg")

import json
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emolib import selection as sel

# ../shared/seeds beside the checkout (present on the project's machines and in CI; skipped elsewhere)
SEED003 = Path(__file__).resolve().parents[1].parent / "shared" / "seeds" / "003_9f4c0fbddf269844.txt"


# --------------------------------------------------------------------------
# Pareto front
# --------------------------------------------------------------------------


def table():
    #      A: accurate, slow   B: fast   C: dominated by B   D: dominated by A   E: equal to A   F: no latency
    return pd.DataFrame({
        "name": ["A", "B", "C", "D", "E", "F"],
        "acc": [0.90, 0.80, 0.70, 0.90, 0.90, 0.99],
        "ms": [10.0, 5.0, 6.0, 12.0, 10.0, np.nan],
        "task": ["t"] * 6,
    })


def test_pareto_front_on_a_known_table():
    front = sel.pareto_front(table(), maximize=["acc"], minimize=["ms"])
    assert front.dtype == bool and list(front.index) == list(range(6))
    # equal rows do not dominate each other; a row with a missing objective is never on the front
    assert table()["name"][front].tolist() == ["A", "B", "E"]


def test_pareto_front_single_objective_and_string_arguments():
    front = sel.pareto_front(table(), maximize="acc")
    assert table()["name"][front].tolist() == ["F"]        # NaN latency does not matter here
    front = sel.pareto_front(table(), minimize="ms")
    assert table()["name"][front].tolist() == ["B"]


def test_pareto_front_per_group():
    df = pd.concat([table(), table().assign(task="u", acc=lambda d: 1 - d["acc"])], ignore_index=True)
    front = sel.pareto_front(df, maximize=["acc"], minimize=["ms"], by="task")
    assert df["name"][front & (df["task"] == "t")].tolist() == ["A", "B", "E"]
    # in group u accuracy is reversed: C (0.30, 6 ms) is no longer dominated by B (0.20, 5 ms)
    assert df["name"][front & (df["task"] == "u")].tolist() == ["B", "C"]
    # without by, group u's rows compete with group t's
    assert not sel.pareto_front(df, maximize=["acc"], minimize=["ms"])[df["task"] == "u"].any()


def test_pareto_front_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        sel.pareto_front(table())
    with pytest.raises(KeyError, match="latency"):
        sel.pareto_front(table(), maximize=["acc"], minimize=["latency"])


# --------------------------------------------------------------------------
# Selection rule
# --------------------------------------------------------------------------


def candidates():
    return pd.DataFrame({
        "experiment": ["e"] * 5,
        "setting": ["big", "mid", "small", "slow", "unmeasured"],
        "val_macro_f1": [0.800, 0.795, 0.700, 0.900, 0.950],
        "val_worst_class_f1": [0.60, 0.50, 0.40, 0.70, 0.80],
        "p95_ms_b1": [4.0, 3.0, 1.0, 50.0, np.nan],
        "params": [300_000, 100_000, 10_000, 1_000_000, 5_000],
        "task": ["t"] * 5,
    })


def test_select_highest_score_within_sla():
    s = sel.select_model(candidates(), sla_ms=10)
    assert s and s.choice["setting"] == "big"
    assert s.candidates.set_index("setting")["eligible"].to_dict() == {
        "big": True, "mid": True, "small": True, "slow": False, "unmeasured": False}
    reasons = s.candidates.set_index("setting")["reason"]
    assert "50 > 10" in reasons["slow"] and "not measured" in reasons["unmeasured"]
    assert "p95_ms_b1 <= 10 ms" in s.rule and "big" in s.message


def test_select_without_constraints_takes_the_best_score():
    assert sel.select_model(candidates()).choice["setting"] == "unmeasured"


def test_select_ties_go_to_fewer_parameters():
    assert sel.select_model(candidates(), sla_ms=10, tie_tol=0.01).choice["setting"] == "mid"
    assert sel.select_model(candidates(), sla_ms=10, tie_tol=0.2).choice["setting"] == "small"
    # exact tie in score and size: the earlier row
    df = candidates().assign(val_macro_f1=0.5, params=7)
    assert sel.select_model(df, sla_ms=100).choice["setting"] == "big"


def test_select_worst_class_floor():
    s = sel.select_model(candidates(), sla_ms=10, min_worst_f1=0.55)
    assert s.choice["setting"] == "big"
    s = sel.select_model(candidates(), sla_ms=10, min_worst_f1=0.65)
    assert s.choice is None and not s
    assert "3 miss the worst-class F1 floor" in s.message
    assert "0.400 < 0.650" in s.candidates.set_index("setting").at["small", "reason"]


def test_select_none_meets_the_sla():
    s = sel.select_model(candidates(), sla_ms=0.5)
    assert s.choice is None
    assert s.message.startswith("no model meets the rule") and "5 miss the SLA" in s.message
    assert not s.candidates["eligible"].any()


def test_select_refuses_mixed_tasks_and_bad_input():
    mixed = pd.concat([candidates(), candidates().assign(task="u")])
    with pytest.raises(ValueError, match="one task"):
        sel.select_model(mixed, sla_ms=10)
    with pytest.raises(KeyError, match="p95_ms_b1"):
        sel.select_model(candidates().drop(columns="p95_ms_b1"), sla_ms=10)
    with pytest.raises(ValueError, match="tie_tol"):
        sel.select_model(candidates(), tie_tol=-1)
    with pytest.raises(ValueError, match="empty"):
        sel.select_model(candidates().iloc[:0])


# --------------------------------------------------------------------------
# Cost arithmetic
# --------------------------------------------------------------------------


def test_cost_arithmetic():
    assert sel.cost_per_million(1e6 / 3600, 1.0) == pytest.approx(1.0)  # one instance-hour
    assert sel.cost_per_million(1000, 0.0168) == pytest.approx(1e6 / 1000 / 3600 * 0.0168)
    assert sel.break_even_speedup(0.0168, 0.526) == pytest.approx(0.526 / 0.0168)
    assert sel._HOURS_PER_MONTH == pytest.approx(730)
    assert sel.endpoint_monthly_cost(0.01, 2) == pytest.approx(0.01 * 2 * 730)
    # 10 ms per request, half busy: 50 requests/s per instance
    assert sel.endpoint_capacity(10, 0.5) == pytest.approx(50)
    assert sel.endpoint_instances(50, 10, 0.5) == 1
    assert sel.endpoint_instances(51, 10, 0.5) == 2
    assert sel.endpoint_instances(0.001, 10) == 1
    assert sel.break_even_predictions(10.0, 0.5) == pytest.approx(20e6)
    assert sel.meets_sla(5.0, 5.0) and not sel.meets_sla(5.01, 5.0)
    np.testing.assert_allclose(sel.cost_per_million(np.array([1000, 2000]), 1.0), [1 / 3.6, 1 / 7.2])


@pytest.mark.parametrize("call, name", [
    (lambda: sel.cost_per_million(0, 1), "images_per_s"),
    (lambda: sel.cost_per_million(100, -1), "usd_per_hour"),
    (lambda: sel.break_even_speedup(0, 1), "cpu_usd_per_hour"),
    (lambda: sel.endpoint_capacity(10, 1.5), "max_utilisation"),
    (lambda: sel.endpoint_instances(10, float("nan")), "latency_ms"),
    (lambda: sel.deployment_costs(pd.Series({"images_per_s_b64": 1.0, "p50_ms_b1": 1.0, "p95_ms_b1": 1.0}),
                                  sel.price_table(), -1, 1, 1), "predictions_per_month"),
    (lambda: sel.meets_sla(1, 0), "sla_ms"),
])
def test_cost_functions_name_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_deployment_costs_table():
    prices = sel.price_table()
    model = pd.Series({"images_per_s_b64": 2000.0, "p50_ms_b1": 4.0, "p95_ms_b1": 6.0})
    costs = sel.deployment_costs(model, prices, 10_000_000, peak_requests_per_s=300, sla_ms=5, max_utilisation=0.5)
    assert list(costs.index) == ["t4g.nano", "t4g.micro", "t4g.small"]          # CPU instances only
    small = costs.loc["t4g.small"]
    assert small["batch_usd_per_million"] == pytest.approx(1e6 / 2000 / 3600 * 0.0168)
    assert small["batch_usd_per_month"] == pytest.approx(10 * small["batch_usd_per_million"])
    assert small["endpoint_instances"] == 3                                        # 300 / (250 * 0.5) -> 3
    assert small["endpoint_usd_per_month"] == pytest.approx(3 * 0.0168 * 730)
    assert small["endpoint_over_batch"] == pytest.approx(small["endpoint_usd_per_month"] / small["batch_usd_per_month"])
    assert not costs["meets_sla"].any()                                            # p95 6 ms > 5 ms
    assert (sel.deployment_costs(model, prices, 0, 300, 5)["batch_usd_per_month"] == 0).all()


@pytest.mark.skipif(not SEED003.exists(), reason="seed 003 not available")
def test_price_table_matches_the_seed():
    text = SEED003.read_text(encoding="utf-8")
    prices = sel.price_table()
    assert set(prices["kind"]) == {"cpu", "gpu"}
    for instance, row in prices.iterrows():
        line = next(l for l in text.splitlines() if l.startswith(instance))
        assert f"\\${row['usd_per_hour']:g}" in line, (instance, line)
        numbers = re.findall(r"\d+(?:\.\d+)?", line.split("$", 1)[1])
        assert str(row["vcpu"]) in numbers and f"{row['memory_gib']:g}" in numbers, (instance, line)
        if row["kind"] == "gpu":
            assert row["gpu"] in line, (instance, line)


# --------------------------------------------------------------------------
# Scorecard pieces on hand-made files
# --------------------------------------------------------------------------


def test_worst_class_and_task_label():
    assert sel.worst_class({"a": {"f1": 0.5}, "b": {"f1": 0.2}, "c": {"f1": 0.9}}) == (0.2, "b")
    f1, name = sel.worst_class({})
    assert math.isnan(f1) and name is None
    assert sel.task_label("synthetic", ("happy", "neutral", "sad", "surprise"), (32, 32), "balanced") == \
        "synthetic seed003 (4 classes), 32x32, balanced"
    assert sel.task_label("faces", ("a", "b"), (48, 48)) == "faces a/b (2 classes), 48x48"


def test_read_formats(tmp_path):
    good = tmp_path / "08_onnx_quantization_ci" / "formats.csv"
    good.parent.mkdir()
    pd.DataFrame({"format": ["keras", "onnx_int8"], "file_mb": [3.0, 0.4], "p50_ms_b1": [2.0, 0.5],
                  "p95_ms_b1": [2.5, 0.7], "images_per_s_b64": [900, 4000], "test_accuracy": [0.5, 0.49],
                  "macro_f1": [0.48, 0.47], "extra": [1, 2]}).to_csv(good, index=False)
    rows = sel.read_formats(good)
    assert rows["setting"].tolist() == ["keras", "onnx_int8"]
    assert (rows["experiment"] == "08_onnx_quantization_ci").all() and rows["task"].nunique() == 1
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"format": ["keras"], "file_mb": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*p50_ms_b1"):
        sel.read_formats(bad)


def test_run_details_reads_metrics_and_reports_bad_files(tmp_path):
    run = tmp_path / "exp_ci" / "a_seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "class_names": ["angry", "happy", "sad"],
        "per_class": {"angry": {"f1": 0.4}, "happy": {"f1": 0.9}, "sad": {"f1": 0.3}},
        "val": {"per_class": {"angry": {"f1": 0.1}, "happy": {"f1": 0.8}, "sad": {"f1": 0.5}}},
        "data": {"name": "synthetic", "image_shape": [24, 24, 1]},
    }))
    (run / "best.keras").write_bytes(b"x" * 2_000_000)
    d = sel.run_details(run)
    assert (d["worst_class_f1"], d["worst_class"]) == (0.3, "sad")
    assert (d["val_worst_class_f1"], d["val_worst_class"]) == (0.1, "angry")
    assert d["task"] == "synthetic seed002 (3 classes), 24x24" and d["input"] == "24x24x1"
    assert d["file_mb"] == pytest.approx(2.0) and d["architecture"] is None
    (run / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="a_seed0.*metrics.json"):
        sel.run_details(run)


def test_empty_runs_folder(tmp_path):
    assert sel.profile_experiments(tmp_path / "missing", "ci") == []
    assert sel.profile_experiments(tmp_path, "ci") == []
    assert sel.collect_scorecard_runs(tmp_path / "missing").empty
    assert sel.collect_scorecard_runs(tmp_path, []).empty
    assert sel.summarize_scorecard(pd.DataFrame()).empty
    with pytest.raises(ValueError, match="empty"):
        sel.measure_latency({})


# --------------------------------------------------------------------------
# The whole pipeline on two tiny trained runs
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from emolib.data.synthetic import generate
    from emolib.experiment import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, run_experiment

    root = tmp_path_factory.mktemp("runs")
    data = generate(classes="seed003", n_train=96, n_val=32, n_test=32, image_size=24, seed=0)
    models = {"cnn": ModelConfig("simple_cnn", {"filters": [8, 16]}), "lenet": ModelConfig("lenet", {"batchnorm": True})}
    for setting, seed in (("cnn", 0), ("cnn", 1), ("lenet", 0)):
        config = ExperimentConfig(
            experiment="01_tiny_ci", run=f"{setting}_seed{seed}",
            data=DataConfig(classes="seed003", image_size=24, channels=1, n_train=96, n_val=32, n_test=32),
            model=models[setting], train=TrainConfig(epochs=1, batch_size=32, seed=seed),
        )
        run_experiment(config, dataset=data, runs_dir=root, progress=False)
    (root / "02_other_full" / "x_seed0").mkdir(parents=True)       # another profile: ignored
    (root / "02_other_full" / "x_seed0" / "metrics.json").write_text("{}")
    return root


def test_scorecard_pipeline(runs):
    assert sel.profile_experiments(runs, "ci") == ["01_tiny_ci"]
    per_run = sel.collect_scorecard_runs(runs, sel.profile_experiments(runs, "ci"))
    assert len(per_run) == 3 and per_run["file_mb"].gt(0).all()
    assert (per_run["worst_class_f1"] <= per_run["macro_f1"] + 1e-9).all()
    card = sel.summarize_scorecard(per_run).set_index("setting")
    assert card.loc["cnn", "runs"] == 2 and card.loc["lenet", "runs"] == 1
    cnn = per_run[per_run["setting"] == "cnn"]
    assert card.loc["cnn", "macro_f1"] == pytest.approx(cnn["macro_f1"].mean())
    assert card.loc["cnn", "weights_mb"] == pytest.approx(card.loc["cnn", "params"] * 4 / 1e6)
    assert card["task"].nunique() == 1 and card.loc["cnn", "input"] == "24x24x1"

    card = card.reset_index()
    order = sel.measurement_order(card)
    assert len(order) == 2 and set(order["label"]) == {"01_tiny_ci/cnn", "01_tiny_ci/lenet"}
    models, errors = sel.load_models(dict(zip(order["label"], order["model_path"])))
    models_bad, errors_bad = sel.load_models({"missing": str(runs / "nope.keras")})
    assert not errors and not models_bad and "missing" in errors_bad
    latency = sel.measure_latency(models, batch_sizes=(1, 4), repeats=4, rounds=2, warmup=1)
    assert set(latency.index) == set(models)
    assert {"p50_ms_b1", "p95_ms_b1", "images_per_s_b1", "images_per_s_b4"} <= set(latency.columns)
    assert (latency > 0).all().all() and (latency["p95_ms_b1"] >= latency["p50_ms_b1"]).all()

    scored = sel.add_latency(card, latency, dict(zip(order["architecture"], order["label"])))
    assert scored["p50_ms_b1"].notna().all()
    s = sel.select_model(scored, sla_ms=1e6)
    assert s.choice["setting"] == scored.loc[scored["val_macro_f1"].idxmax(), "setting"]
    assert sel.select_model(scored, sla_ms=1e-6).choice is None
    front = sel.pareto_front(scored, maximize=["test_accuracy"], minimize=["p50_ms_b1"], by="task")
    assert front.any()
    fig = sel.plot_pareto(scored, front=front, chosen=[s.choice.name])
    assert len(fig.axes) == 1
    plt.close(fig)
