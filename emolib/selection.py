"""Model selection and deployment cost.

A **scorecard** of every saved run holds seed 000's criteria (accuracy, macro and
worst-class F1, size, latency, training time); :func:`pareto_front` finds the models
no other beats on every objective, :func:`select_model` is the selection rule as code,
and the cost functions turn throughput into dollars with seed 003's prices.
Units: latency in ms per call (``p50_ms_b1``: median at batch 1), throughput in
images/s (``images_per_s_b64``), sizes in MB (10**6 bytes), prices in US dollars per
instance-hour, costs in US dollars, training time in seconds.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import runs
from .export import file_size_mb

__all__ = [
    "SCORECARD_COLUMNS", "Selection", "add_latency", "break_even_predictions", "break_even_speedup",
    "collect_scorecard_runs", "cost_per_million", "deployment_costs", "endpoint_capacity", "endpoint_instances", "endpoint_monthly_cost",
    "load_models", "measure_latency", "measurement_order", "meets_sla", "pareto_front", "peak_memory_gib",
    "plot_pareto", "price_table", "profile_experiments", "read_formats", "run_details", "select_model",
    "summarize_scorecard", "task_label", "worst_class"
]

#: Hours in an average month (365 days / 12): what an always-on instance is billed.
_HOURS_PER_MONTH = 24 * 365 / 12

#: Seed 003's AWS on-demand prices ("Prices for GPU vs. Non-GPU processing"), typed in
#: from the seed, not today's: instance, US dollars per hour, vCPUs, memory (GiB), GPU.
_SEED003_PRICES = (
    ("t4g.nano", 0.0042, 2, 0.5, None),
    ("t4g.micro", 0.0084, 2, 1.0, None),
    ("t4g.small", 0.0168, 2, 2.0, None),
    ("g4dn.xlarge", 0.526, 4, 16.0, "T4"),
    ("p3.2xlarge", 3.06, 8, 61.0, "V100"),
)


def price_table(rows=_SEED003_PRICES) -> pd.DataFrame:
    """Instance prices as a table.

    Parameters
    ----------
    rows : list of dict, optional
        Price rows (default: seed 003's table, :data:`_SEED003_PRICES`).

    Returns
    -------
    pandas.DataFrame
        Indexed by instance: ``usd_per_hour``, ``vcpu``, ``memory_gib``, ``gpu``, ``kind``.
    """
    df = pd.DataFrame(list(rows), columns=["instance", "usd_per_hour", "vcpu", "memory_gib", "gpu"])
    df["kind"] = np.where(df["gpu"].isna(), "cpu", "gpu")
    return df.set_index("instance")


def worst_class(per_class) -> tuple[float, str | None]:
    """The class with the lowest F1.

    Parameters
    ----------
    per_class : dict
        A ``metrics.json`` ``per_class`` dict (``{class: {"f1": ...}, ...}``).

    Returns
    -------
    tuple of (float, str or None)
        ``(f1, class)``; ``(nan, None)`` when empty.
    """
    scores = {name: float(v["f1"]) for name, v in (per_class or {}).items()
              if isinstance(v, dict) and v.get("f1") is not None}
    if not scores:
        return float("nan"), None
    name = min(scores, key=scores.get)
    return scores[name], name


def task_label(dataset, class_names, image_size, balance=None) -> str:
    """A task's short name: data set, class set, h x w, balance.

    Parameters
    ----------
    dataset : str
        The data set's name.
    class_names : list of str
        Its classes (shown as a preset's name when they are one).
    image_size : int or tuple of int
        Image size.
    balance : str, optional
        The class balance.

    Returns
    -------
    str
        The name.
    """
    from .data.base import PRESETS

    names = tuple(class_names)
    preset = next((p for p, c in PRESETS.items() if tuple(c) == names), "/".join(names))
    h, w = image_size
    text = f"{dataset} {preset} ({len(names)} classes), {h}x{w}"
    if not balance:
        return text
    return f"{text}, {balance}" if balance == "balanced" else f"{text}, {balance} balance"


def run_details(run_dir) -> dict:
    """Scorecard facts of one run folder ``runs/<experiment>/<run>/`` not in
    :func:`emolib.experiment.collect_runs`: worst-class F1 on the test and
    validation splits (and which class), the task (data set, classes, input shape),
    the model's architecture key and the size of ``best.keras`` in MB (NaN when the
    run saved no model)."""
    run_dir = Path(run_dir)
    metrics, config = runs.read_metrics(run_dir), runs.read_config(run_dir)  # RunFolderError names the file
    data_cfg, data = config.get("data") or {}, metrics.get("data") or {}
    class_names = tuple(metrics.get("class_names") or metrics.get("per_class", {}).keys())
    shape = data.get("image_shape") or [data_cfg.get(k) for k in ("image_size", "image_size", "channels")]
    h, w, c = (list(shape) + [None] * 3)[:3]
    synthetic = str(data_cfg.get("source", data.get("name", ""))).lower() == "synthetic"
    dataset = data.get("name") or data_cfg.get("source") or "unknown"
    f1, cls = worst_class(metrics.get("per_class"))
    val_f1, val_cls = worst_class((metrics.get("val") or {}).get("per_class"))
    model, model_file = config.get("model"), run_dir / runs.MODEL_FILE
    saved = model_file.exists()
    return {
        "task": task_label(dataset, class_names, (h, w), data_cfg.get("balance") if synthetic else None)
        if class_names else "unknown",
        "classes": ", ".join(class_names), "num_classes": len(class_names), "input": f"{h}x{w}x{c}",
        "model": model.get("name") if model else None,
        "architecture": json.dumps(model, sort_keys=True) + f" {h}x{w}x{c} -> {len(class_names)}" if model else None,
        "worst_class_f1": f1, "worst_class": cls, "val_worst_class_f1": val_f1, "val_worst_class": val_cls,
        "file_mb": file_size_mb(model_file) if saved else float("nan"),
        "model_path": str(model_file) if saved else None,
    }


def profile_experiments(runs_dir, profile) -> list[str]:
    """The experiments of one notebook profile that have a finished run.

    Parameters
    ----------
    runs_dir : str or pathlib.Path
        The folder of all experiments.
    profile : str
        The profile (``"lesson"``, ``"smoke"``, ...).

    Returns
    -------
    list of str
        The ``NN_<name>_<profile>`` experiment names (``[]``: none).
    """
    pattern = re.compile(rf"^\d\d_.+_{re.escape(str(profile))}$")
    return [name for name in runs._experiment_names(runs_dir) if pattern.match(name)]


def collect_scorecard_runs(runs_dir, experiments=None) -> pd.DataFrame:
    """One row per saved run, with what the scorecard needs.

    Parameters
    ----------
    runs_dir : str or pathlib.Path
        The folder of all experiments.
    experiments : str or list of str, optional
        An experiment, several, or ``None``: all.

    Returns
    -------
    pandas.DataFrame
        :func:`emolib.experiment.collect_runs` plus :func:`run_details`; empty without runs.
    """
    from .experiment import collect_runs

    runs_dir = Path(runs_dir)
    table = collect_runs(runs_dir, experiment=experiments) if runs_dir.is_dir() else pd.DataFrame()
    if table.empty:
        return table
    details = pd.DataFrame([run_details(runs.run_path(runs_dir, e, r))
                            for e, r in zip(table["experiment"], table["run"])])
    return pd.concat([table.reset_index(drop=True), details], axis=1)


#: Metric columns averaged over seeds by :func:`summarize_scorecard`.
_SCORE_METRICS = ("test_accuracy", "macro_f1", "worst_class_f1", "val_accuracy", "val_macro_f1",
                 "val_worst_class_f1", "params", "file_mb", "train_seconds")
#: Columns of a scorecard, in display order.
SCORECARD_COLUMNS = ("task", "input", "experiment", "setting", "model", "runs", "test_accuracy", "macro_f1",
                     "worst_class_f1", "worst_class", "val_macro_f1", "val_worst_class_f1", "params", "weights_mb",
                     "file_mb", "p50_ms_b1", "p95_ms_b1", "images_per_s_b64", "train_seconds")


def summarize_scorecard(runs: pd.DataFrame) -> pd.DataFrame:
    """The scorecard: one row per ``(experiment, setting)``.

    Parameters
    ----------
    runs : pandas.DataFrame
        :func:`collect_scorecard_runs`' rows.

    Returns
    -------
    pandas.DataFrame
        The mean over seeds of :data:`_SCORE_METRICS` (``runs``: seeds, ``macro_f1_std``: spread),
        ``weights_mb`` (params x 4 bytes; ``file_mb`` also holds the optimizer state), the most
        frequent worst class and the first run's task, input, model, architecture and
        ``best.keras`` path.
    """
    from .experiment import summarize_runs

    if runs.empty:
        return pd.DataFrame(columns=[*SCORECARD_COLUMNS, "num_classes", "architecture", "model_path"])
    summary = summarize_runs(runs, by=["experiment", "setting"], metrics=_SCORE_METRICS)
    summary = summary[["experiment", "setting", "runs", *_SCORE_METRICS, "macro_f1_std"]]
    summary["weights_mb"] = summary["params"].astype(float) * 4 / 1e6
    grouped = runs.groupby(["experiment", "setting"], sort=False)
    first = grouped[["task", "input", "num_classes", "model", "architecture"]].first()
    first["model_path"] = grouped["model_path"].agg(lambda s: next((p for p in s if p), None))
    first["worst_class"] = grouped["worst_class"].agg(lambda s: s.mode().iat[0] if s.notna().any() else None)
    return summary.merge(first.reset_index(), on=["experiment", "setting"])


def measurement_order(scorecard: pd.DataFrame, rank_by="val_macro_f1") -> pd.DataFrame:
    """The architectures to time, best first, tasks taking turns.

    Latency does not depend on the weights, so each distinct architecture with a saved model
    is timed once; ranking by the best ``rank_by`` within each task, tasks taking turns, means
    that a cap keeps every task's best.

    Parameters
    ----------
    scorecard : pandas.DataFrame
        :func:`summarize_scorecard`'s result.
    rank_by : str, default "val_macro_f1"
        The column to rank by.

    Returns
    -------
    pandas.DataFrame
        ``architecture``, ``model_path``, ``task``, ``label``, in measuring order.
    """
    have = scorecard.dropna(subset=["architecture", "model_path"])
    if have.empty:
        return pd.DataFrame(columns=["architecture", "model_path", "task", "label"])
    have = have.sort_values(rank_by, ascending=False, na_position="last", kind="stable")
    best = have.drop_duplicates("architecture").copy()
    best["label"] = best["experiment"] + "/" + best["setting"]
    best["turn"] = best.groupby("task", sort=False).cumcount()
    best["task_order"] = best["task"].map({t: i for i, t in enumerate(best["task"].unique())})
    best = best.sort_values(["turn", "task_order"], kind="stable")
    return best[["architecture", "model_path", "task", "label"]].reset_index(drop=True)


def load_models(paths: dict) -> tuple[dict, dict]:
    """Load Keras models, collecting the failures.

    Parameters
    ----------
    paths : dict of str to path
        ``{name: .keras file}``.

    Returns
    -------
    tuple of (dict, dict)
        ``(models, errors)``: ``{name: keras.Model}`` and ``{name: message}``.
    """
    import keras

    from . import models as _models  # noqa: F401  (registers the custom layers)
    loaded, errors = {}, {}
    for name, path in paths.items():
        try:
            loaded[name] = keras.models.load_model(path, compile=False)
        except Exception as err:  # noqa: BLE001 (report and go on with the other models)
            errors[name] = f"{type(err).__name__}: {err}"
    return loaded, errors


def measure_latency(models: dict, batch_sizes=(1, 64), repeats=50, rounds=5, warmup=3, seed=0) -> pd.DataFrame:
    """Latency and throughput of Keras models ``{name: model}``, measured side by side: each
    runs its ``tf.function`` forward pass (``keras_direct``, as a server would) on random images,
    one :func:`emolib.benchmark.compare` call per batch size ``b`` interleaving all models
    (``repeats``: calls, an int or ``{b: calls}``). Columns ``p50_ms_b<b>``, ``p95_ms_b<b>``, ``images_per_s_b<b>``.
    """
    from .benchmark import compare, keras_callers

    if not models:
        raise ValueError("models is empty: pass a dict name -> Keras model")
    rng = np.random.default_rng(seed)
    columns = {}
    for b in batch_sizes:
        callers = {}
        for name, model in models.items():
            shape = tuple(model.input_shape[1:])
            if None in shape:
                raise ValueError(f"model {name!r} has an unknown input shape {model.input_shape}")
            x = rng.random((b, *shape), dtype=np.float32)
            direct = keras_callers(model)["keras_direct"]
            # compare() passes one batch to all; each caller uses its own of the same size.
            callers[name] = (lambda _, f=direct, x=x: f(x))
        n = repeats.get(b, 10) if isinstance(repeats, dict) else repeats
        times = compare(callers, np.zeros((b, 1), np.float32), repeats=n, warmup=warmup, rounds=min(rounds, n))
        columns.update({f"{key}_b{b}": times[key] for key in ("p50_ms", "p95_ms", "images_per_s")})
    return pd.DataFrame(columns).rename_axis("model")


_FORMATS_COLUMNS = ("format", "file_mb", "p50_ms_b1", "p95_ms_b1", "images_per_s_b64", "test_accuracy", "macro_f1")


def read_formats(path, experiment=None) -> pd.DataFrame:
    """Notebook 08's ``formats.csv`` (a row per format of one model) as scorecard rows.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV file.
    experiment : str, optional
        The experiment name to give the rows.

    Returns
    -------
    pandas.DataFrame
        Scorecard rows, ``setting`` the format; ``ValueError`` naming the file if it lacks
        :data:`_FORMATS_COLUMNS`.
    """
    path = Path(path)
    df = pd.read_csv(path)
    missing = [c for c in _FORMATS_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"'{path}' lacks column(s) {missing}; expected {list(_FORMATS_COLUMNS)}")
    experiment = experiment or path.parent.name
    out = df[list(_FORMATS_COLUMNS)].rename(columns={"format": "setting"})
    out.insert(0, "experiment", experiment)
    out.insert(0, "task", f"{experiment}: formats of one model")
    out["runs"] = 1
    return out


def add_latency(scorecard: pd.DataFrame, latency: pd.DataFrame, names: dict) -> pd.DataFrame:
    """The scorecard with measured latencies copied to the rows of each architecture.

    Parameters
    ----------
    scorecard : pandas.DataFrame
        :func:`summarize_scorecard`'s result.
    latency : pandas.DataFrame
        :func:`measure_latency`'s result.
    names : dict of str to str
        Architecture -> its index in ``latency``.

    Returns
    -------
    pandas.DataFrame
        ``scorecard`` with ``latency``'s columns; NaN for architectures not measured.
    """
    out = scorecard.copy()
    by_arch = latency.rename(index={v: k for k, v in names.items()})
    for column in latency.columns:
        out[column] = out["architecture"].map(by_arch[column])
    return out


def pareto_front(df: pd.DataFrame, maximize=(), minimize=(), by=None) -> pd.Series:
    """Which rows are Pareto-optimal (no other row is at least as good on every objective
    and strictly better on one), as a boolean Series aligned with ``df``.

    ``maximize`` / ``minimize``: column names; ``by``: a column (e.g. ``"task"``) whose
    groups get separate fronts. Rows missing an objective are not compared (``False``).
    """
    maximize = [maximize] if isinstance(maximize, str) else list(maximize)
    minimize = [minimize] if isinstance(minimize, str) else list(minimize)
    objectives = maximize + minimize
    if not objectives:
        raise ValueError("pareto_front needs at least one column in maximize or minimize")
    missing = [c for c in objectives + ([by] if by else []) if c not in df.columns]
    if missing:
        raise KeyError(f"pareto_front: no column(s) {missing}; columns: {list(df.columns)}")
    result = pd.Series(False, index=df.index, name="pareto")
    groups = df.groupby(by, sort=False, dropna=False) if by else [(None, df)]
    for _, group in groups:
        # Costs to minimise: negate what is maximised.
        costs = np.column_stack([-group[c].astype(float) for c in maximize] +
                                [group[c].astype(float) for c in minimize])
        valid = ~np.isnan(costs).any(axis=1)
        c = costs[valid]
        if not len(c):
            continue
        no_worse = (c[:, None, :] <= c[None, :, :]).all(axis=2)    # [i, j]: i no worse than j everywhere
        better = (c[:, None, :] < c[None, :, :]).any(axis=2)       # [i, j]: i strictly better somewhere
        dominated = (no_worse & better).any(axis=0)                # j is dominated by some i
        result.loc[group.index[valid]] = ~dominated
    return result


def plot_pareto(df: pd.DataFrame, x="p50_ms_b1", y="test_accuracy", front=None, by="task", chosen=()):
    """Scatter plots of a score against latency, one panel per task.

    Parameters
    ----------
    df : pandas.DataFrame
        Scorecard rows.
    x : str, default "p50_ms_b1"
        The latency column (log scale).
    y : str, default "test_accuracy"
        The score column.
    front : pandas.DataFrame, optional
        :func:`pareto_front`'s rows, joined by a line.
    by : str, default "task"
        One panel per value of this column, two panels a row.
    chosen : sequence, optional
        Index labels to star.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; points are labelled with their ``setting``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    data = df.dropna(subset=[x, y])
    front = pd.Series(False, index=df.index) if front is None else front.reindex(df.index).fillna(False)
    groups = list(data.groupby(by, sort=False)) if by else [("", data)]
    if not groups:
        raise ValueError(f"plot_pareto: no row has both {x!r} and {y!r}")
    ncols = min(2, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.2 * nrows), squeeze=False)
    for ax, (name, group) in zip(axes.flat, groups):
        on = front.loc[group.index].astype(bool)
        ax.scatter(group.loc[~on, x], group.loc[~on, y], color="tab:gray", s=30, label="dominated")
        line = group[on].sort_values(x)
        ax.plot(line[x], line[y], "-o", color="tab:blue", ms=6, label="Pareto front")
        star = group[group.index.isin(list(chosen))]
        if len(star):
            ax.scatter(star[x], star[y], marker="*", s=320, color="tab:orange", zorder=3, label="chosen")
        for _, row in group.iterrows():
            ax.annotate(str(row["setting"]), (row[x], row[y]), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(str(name), fontsize=9)
        ax.set(xlabel=x, ylabel=y)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


@dataclass
class Selection:
    """:func:`select_model`'s answer.

    Attributes
    ----------
    choice : pandas.Series or None
        The chosen row (``None``: none meets the rule).
    candidates : pandas.DataFrame
        Every row with the checks (``meets_sla``, ``meets_worst_f1``, ``eligible``, ``reason``).
    rule : str
        The rule in words.
    message : str
        A one-line summary.
    """

    choice: pd.Series | None
    candidates: pd.DataFrame
    rule: str
    message: str

    def __bool__(self):
        return self.choice is not None


def _reason(row, score, sla_ms, latency, min_worst_f1, worst) -> str:
    """Why a candidate row of :func:`select_model` is not eligible (``"eligible"`` when it is)."""
    reasons = [f"{score} unknown"] if pd.isna(row[score]) else []
    if not row["meets_sla"]:
        value = row[latency]
        reasons.append(f"{latency} not measured" if pd.isna(value) else f"{latency} {value:.3g} > {sla_ms:g}")
    if not row["meets_worst_f1"]:
        value = row[worst]
        reasons.append(f"{worst} unknown" if pd.isna(value) else f"{worst} {value:.3f} < {min_worst_f1:.3f}")
    return "; ".join(reasons) or "eligible"


def select_model(df: pd.DataFrame, score="val_macro_f1", sla_ms=None, latency="p95_ms_b1",
                 min_worst_f1=None, worst="val_worst_class_f1", tie_tol=0.0, size="params",
                 label=("experiment", "setting")) -> Selection:
    """The selection rule: the highest ``score`` among the models that meet the
    latency SLA and the worst-class F1 floor; near-ties go to the smaller model.

    1. eligible: ``latency <= sla_ms`` (ms; ``None``: no SLA), ``worst >= min_worst_f1``
       (``None``: no floor) and a known ``score``; a missing latency or F1 is not eligible;
    2. among the eligible, every row within ``tie_tol`` of the best ``score`` ties;
    3. of the tied rows, the fewest ``size`` (parameters) wins, then the higher score,
       then the earlier row.

    The defaults are *validation* metrics (choosing by test scores makes the chosen test
    score optimistic). ``df`` holds models of one ``task`` (scores on other classes or
    inputs are not comparable). Returns a :class:`Selection` (``choice`` ``None`` when
    no model is eligible, ``message`` saying why).
    """
    checks = {"meets_sla": (sla_ms, latency, "the SLA"),
              "meets_worst_f1": (min_worst_f1, worst, "the worst-class F1 floor")}
    needed = [score, size] + [column for limit, column, _ in checks.values() if limit is not None]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise KeyError(f"select_model: no column(s) {missing}; columns: {list(df.columns)}")
    if "task" in df.columns and df["task"].nunique(dropna=False) > 1:
        raise ValueError(f"select_model compares models of one task; got {df['task'].nunique()} tasks "
                         f"{sorted(map(str, df['task'].unique()))}: select per task (groupby('task'))")
    if tie_tol < 0:
        raise ValueError(f"tie_tol must be >= 0, got {tie_tol}")
    if df.empty:
        raise ValueError("select_model: the table is empty")

    out = df.copy()
    out["meets_sla"] = True if sla_ms is None else (out[latency].astype(float) <= sla_ms)
    out["meets_worst_f1"] = True if min_worst_f1 is None else (out[worst].astype(float) >= min_worst_f1)
    out["eligible"] = out["meets_sla"] & out["meets_worst_f1"] & out[score].astype(float).notna()
    out["reason"] = [_reason(row, score, sla_ms, latency, min_worst_f1, worst) for _, row in out.iterrows()]
    limits = ([f"{latency} <= {sla_ms:g} ms"] if sla_ms is not None else []) + \
        ([f"{worst} >= {min_worst_f1:.3f}"] if min_worst_f1 is not None else [])
    rule = f"highest {score}" + (" among models with " + " and ".join(limits) if limits else "") + \
        f"; ties (within {tie_tol:g}) -> fewer {size}"

    eligible = out[out["eligible"]]
    if eligible.empty:
        counts = [f"{int((~out[flag]).sum())} miss {what}" for flag, (limit, _, what) in checks.items()
                  if limit is not None]
        message = f"no model meets the rule ({len(out)} candidates: {', '.join(counts) or 'no known scores'})"
        return Selection(None, out, rule, message)
    scores = eligible[score].astype(float)
    tied = eligible[scores >= scores.max() - tie_tol]
    order = pd.DataFrame({"size": tied[size].astype(float), "score": -tied[score].astype(float),
                          "pos": np.arange(len(tied))}, index=tied.index)
    choice = out.loc[order.sort_values(["size", "score", "pos"]).index[0]]
    name = "/".join(str(choice[c]) for c in label if c in out.columns) or str(choice.name)
    message = (f"chosen: {name} ({score} {choice[score]:.3f}, {size} {choice[size]:,.0f}); "
               f"{len(eligible)} of {len(out)} eligible, {len(tied)} tied")
    return Selection(choice, out, rule, message)


def _positive(name, value):
    arr = np.asarray(value, dtype=float)
    if np.any(~(arr > 0)):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return arr


def cost_per_million(images_per_s, usd_per_hour):
    """US dollars for one million predictions at ``images_per_s`` on an instance billed
    ``usd_per_hour``, paying only for the time they take (a batch job)."""
    hours = 1e6 / _positive("images_per_s", images_per_s) / 3600
    return hours * _positive("usd_per_hour", usd_per_hour)


def break_even_speedup(cpu_usd_per_hour, gpu_usd_per_hour):
    """How many times the CPU instance's throughput a GPU instance must deliver to cost the same.

    Cost per prediction is price / throughput, so this is the price ratio, whatever the model.

    Parameters
    ----------
    cpu_usd_per_hour, gpu_usd_per_hour : float
        The two instances' prices.

    Returns
    -------
    float
        ``gpu_usd_per_hour / cpu_usd_per_hour``.
    """
    return _positive("gpu_usd_per_hour", gpu_usd_per_hour) / _positive("cpu_usd_per_hour", cpu_usd_per_hour)


def endpoint_capacity(latency_ms, max_utilisation=1.0):
    """Requests per second one instance serves, one request at a time.

    Parameters
    ----------
    latency_ms : float
        Milliseconds one request takes (> 0).
    max_utilisation : float
        The share of time the instance may be busy, in (0, 1]; below 1 leaves headroom,
        so queues stay short.

    Returns
    -------
    float
        ``1000 / latency_ms * max_utilisation``.
    """
    u = float(max_utilisation)
    if not 0 < u <= 1:
        raise ValueError(f"max_utilisation must be in (0, 1], got {max_utilisation!r}")
    return 1000 / _positive("latency_ms", latency_ms) * u


def endpoint_instances(peak_requests_per_s, latency_ms, max_utilisation=1.0) -> int:
    """Always-on instances needed for a peak load.

    Parameters
    ----------
    peak_requests_per_s : float
        The peak load.
    latency_ms : float
        Latency of one request (one instance serves ``1000 / latency_ms`` per second).
    max_utilisation : float, default 1.0
        The share of that capacity to plan for.

    Returns
    -------
    int
        ``ceil(peak / capacity)`` (:func:`endpoint_capacity`), at least 1.
    """
    need = _positive("peak_requests_per_s", peak_requests_per_s) / endpoint_capacity(latency_ms, max_utilisation)
    return max(1, math.ceil(float(need) - 1e-9))


def endpoint_monthly_cost(usd_per_hour, instances=1, hours=_HOURS_PER_MONTH):
    """US dollars per month of always-on instances, billed every hour.

    Parameters
    ----------
    usd_per_hour : float
        One instance's price.
    instances : int, default 1
        Instances.
    hours : float, default 730 (24 x 365 / 12)
        Hours in a month.

    Returns
    -------
    float
        The cost.
    """
    return _positive("usd_per_hour", usd_per_hour) * int(instances) * hours


def break_even_predictions(endpoint_usd_per_month, batch_usd_per_million):
    """Predictions per month at which batch jobs cost as much as an endpoint.

    Parameters
    ----------
    endpoint_usd_per_month : float
        The endpoint's monthly cost.
    batch_usd_per_million : float
        Batch jobs' cost per million predictions.

    Returns
    -------
    float
        The break-even count; below it, batch is cheaper.
    """
    return _positive("endpoint_usd_per_month", endpoint_usd_per_month) / \
        _positive("batch_usd_per_million", batch_usd_per_million) * 1e6


def peak_memory_gib() -> float:
    """Peak resident memory of this Python process so far (``ru_maxrss``).

    Returns
    -------
    float
        GiB.
    """
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS, KiB on Linux
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def meets_sla(p95_ms, sla_ms) -> bool:
    """Whether the 95th-percentile latency is within the SLA.

    Parameters
    ----------
    p95_ms : float
        95th-percentile latency in ms.
    sla_ms : float
        The SLA in ms.

    Returns
    -------
    bool
        True when ``p95_ms <= sla_ms``.
    """
    return bool(float(p95_ms) <= float(_positive("sla_ms", sla_ms)))


def deployment_costs(model, prices: pd.DataFrame, predictions_per_month, peak_requests_per_s, sla_ms,
                     max_utilisation=1.0) -> pd.DataFrame:
    """Batch job vs real-time endpoint for one model (a scorecard row with ``images_per_s_b64``,
    ``p50_ms_b1``, ``p95_ms_b1``, measured here and *assumed* to hold there) on each CPU
    instance of ``prices``: batch cost per million and per month, endpoint instances for
    the peak rate and their monthly cost, how many times the batch cost that is, SLA met.
    """
    n = np.asarray(predictions_per_month, dtype=float)
    if np.any(n < 0):
        raise ValueError(f"predictions_per_month must be >= 0, got {predictions_per_month!r}")
    cpu = prices[prices["kind"] == "cpu"]
    usd = cpu["usd_per_hour"].to_numpy(dtype=float)
    instances = endpoint_instances(peak_requests_per_s, model["p50_ms_b1"], max_utilisation)
    per_million = cost_per_million(model["images_per_s_b64"], usd)
    batch, endpoint = n / 1e6 * per_million, endpoint_monthly_cost(usd, instances)
    return pd.DataFrame({
        "usd_per_hour": usd,
        "batch_usd_per_million": per_million,
        "batch_usd_per_month": batch,
        "endpoint_instances": instances,
        "endpoint_usd_per_month": endpoint,
        "endpoint_over_batch": np.divide(endpoint, batch, out=np.full(len(usd), np.inf), where=batch > 0),
        "meets_sla": meets_sla(model["p95_ms_b1"], sla_ms),
    }, index=cpu.index.rename("instance"))
