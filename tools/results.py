"""Write ``docs/results.md`` from the saved runs of the notebooks' full profile.

    make full          # execute every notebook with PROFILE="full" (saves runs/<experiment>_full/)
    make results       # this script: runs/*_full -> docs/results.md

Nothing in ``docs/results.md`` is typed in: every table is computed here from
``runs/<experiment>/<run>/`` (configs and metrics written by
:func:`emolib.experiment.run_experiment`). A notebook's section appears once its
full-profile runs exist; ``--profile ci`` summarises the CI-sized runs instead
(to check this script, not to publish).

Per experiment it writes the data and training settings the runs share, the mean
and spread over seeds of every setting (:func:`emolib.experiment.summarize_runs`),
and, when the experiment has a reference setting (``baseline`` or ``none``), each
setting's paired effect against it (:func:`emolib.experiment.compare_to_baseline`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from emolib.experiment import collect_runs, compare_to_baseline, summarize_runs  # noqa: E402
from emolib import runs  # noqa: E402
from emolib.fileio import write_text  # noqa: E402
from emolib.transfer import weights_label  # noqa: E402

#: Notebook number -> (title, what the effect column compares, metric of the effects).
SECTIONS = {
    "03": ("03 · Class imbalance", "macro_f1"),
    "04": ("04 · Training techniques", "val_macro_f1"),
    "05": ("05 · Transfer learning", "macro_f1"),
    "06": ("06 · ResNet-like network", "macro_f1"),
    "07": ("07 · Ensembles", "macro_f1"),
}
REFERENCES = ("baseline", "none", "simple_cnn")
METRICS = ["val_accuracy", "val_macro_f1", "test_accuracy", "macro_f1", "epochs", "train_seconds", "params"]
SHARED = ["data.classes", "data.balance", "data.image_size", "data.channels", "data.n_train", "data.n_val",
          "data.n_test", "train.epochs", "train.early_stopping_patience"]


def _fmt(value, digits=3):
    if value is None or value != value:  # None or NaN
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _markdown(df, digits=3) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _mean_std(summary, metric):
    out = []
    for mean, std in zip(summary[metric], summary[f"{metric}_std"]):
        out.append(f"{mean:.3f}" + (f" ± {std:.3f}" if std == std else ""))
    return out


def experiment_section(table, experiment, effect_metric, runs_dir: Path) -> str:
    runs = table[table["experiment"] == experiment].copy()
    lines = [f"### `{experiment}`", ""]
    shared = []
    for column in SHARED:
        if column in runs and runs[column].astype(str).nunique() == 1:
            value = runs[column].iloc[0]
            value = ", ".join(value) if isinstance(value, tuple) else value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            shared.append(f"{column.split('.', 1)[1]} {value}")
    seeds = sorted(int(s) for s in runs["train.seed"].unique()) if "train.seed" in runs else []
    finished = max(Path(p).stat().st_mtime for p in runs["path"]) if "path" in runs else None
    lines.append(f"{len(runs)} runs; training seeds {seeds}; " + ", ".join(shared) + ".")
    if finished:
        lines.append(f"Last run finished {dt.datetime.fromtimestamp(finished):%Y-%m-%d %H:%M}.")
    lines.append("")
    reference = next((r for r in REFERENCES if (runs["setting"] == r).any()), None)
    first = runs["setting"] == reference
    runs = pd.concat([runs[first], runs[~first]])  # the reference setting first
    summary = summarize_runs(runs, metrics=[m for m in METRICS if m in runs])
    view = summary[["setting", "runs"]].copy()
    for metric in ("val_accuracy", "val_macro_f1", "test_accuracy", "macro_f1"):
        view[metric.replace("macro_f1", "macro-F1").replace("_", " ")] = _mean_std(summary, metric)
    view["epochs"] = [f"{e:.1f}" for e in summary["epochs"]]
    view["train s"] = summary["train_seconds"].round(0).astype(int)
    view["params"] = summary["params"].astype(int)
    if "model.params.weights_source" in runs:  # transfer learning: what each setting started from
        labels = {setting: weights_label(name, source) for setting, name, source
                  in zip(runs["setting"], runs["model.name"], runs["model.params.weights_source"])}
        view["weights"] = [labels[s] for s in summary["setting"]]
    lines += ["Mean ± standard deviation over seeds (test macro-F1 is `macro-F1`):", "", _markdown(view), ""]
    if "model.params.warm_start" in runs and runs["model.params.warm_start"].notna().any():
        warm = sorted(runs.loc[runs["model.params.warm_start"].notna(), "setting"].unique())
        lines += [f"{', '.join(f'`{s}`' for s in warm)} continued from another run's trained model "
                  "(`warm_start`); `train s` above counts only its own training.", ""]
    written = runs_dir / experiment / "summary.csv"
    if written.is_file():
        lines += [f"The notebook's own results table (`{experiment}/summary.csv`, computed by the notebook from the "
                  "same runs, plus rows that are not training runs):", "",
                  _markdown(pd.read_csv(written)), ""]
    if reference is not None and runs["setting"].nunique() > 1:
        effects = compare_to_baseline(runs, reference, metric=effect_metric)
        effects = effects.reindex(effects["effect"].abs().sort_values(ascending=False).index)
        view = effects[["setting", "pairs", "effect", "effect_std", "effect_min", "effect_max", "ratio"]]
        lines += [f"Paired effect on {effect_metric.replace('_', ' ')} against `{reference}` (same training "
                  "seed), largest first; `ratio` is the effect over its standard error (a t statistic):",
                  "", _markdown(view), ""]
    return "\n".join(lines)


def _sections(text: str) -> dict:
    """``## `` sections of an existing results file, by their notebook number."""
    out = {}
    for chunk in text.split("\n## ")[1:]:
        out[chunk[:2]] = "## " + chunk.rstrip() + "\n"
    return out


#: Printed lines that state a conclusion: a verdict, a check of a seed's claim, an arrow to a result.
VERDICT = re.compile(r"verdict|seed 003|->|\b(helps|hurts|no clear effect|better|worse|within the noise|"
                     r"cannot tell|did not learn|learned)\b")


def notebook_verdicts(notebook: Path, limit=60) -> list[str]:
    """The lines an executed notebook printed that state a conclusion (see
    :data:`VERDICT`), in cell order: what the notebook itself concluded."""
    import nbformat

    lines = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stdout":
                continue
            for line in output.get("text", "").splitlines():
                low = line.lower().strip()
                if "best epoch" in low or low.startswith("epoch"):
                    continue  # training progress, not a conclusion
                if VERDICT.search(low):
                    lines.append(line.rstrip())
    return lines[:limit]


def build(runs_dir: Path, profile: str, previous: str = "") -> str:
    """The results file's text. Notebooks without runs in ``runs_dir`` keep their
    section from ``previous`` (the existing file), so results measured on another
    day or machine are not lost when only some notebooks are re-run."""
    table = collect_runs(runs_dir) if runs_dir.is_dir() else pd.DataFrame(columns=["experiment", "run", "setting"])
    table = table[table["experiment"].astype(str).str.endswith(f"_{profile}")].copy()
    table["path"] = [str(runs.run_path(runs_dir, e, r) / runs.METRICS_FILE)
                     for e, r in zip(table["experiment"], table["run"])]
    import tensorflow as tf

    lines = [
        f"# Results of the {profile} profile",
        "",
        "Generated by `make results` (`python tools/results.py`) from the runs that `make full` saved under",
        f"`runs/*_{profile}/`. Do not edit by hand: re-run the two commands.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{'GPU' if tf.config.list_physical_devices('GPU') else 'no GPU'}; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}.",
        "",
    ]
    kept = _sections(previous)
    for number, (title, metric) in SECTIONS.items():
        experiments = sorted(e for e in table["experiment"].unique() if e.startswith(number + "_"))
        if not experiments:
            lines.append(kept.get(number, f"## {title}\n\nNot run yet with the full profile.\n"))
            continue
        lines += [f"## {title}", "",
                  f"Command: `python tools/notebooks.py run --profile {profile} --timeout 10800 --output-dir runs/notebooks-{profile} "
                  f"notebooks/{number}_*.ipynb`, then `make results`.", ""]
        for experiment in experiments:
            lines.append(experiment_section(table, experiment, metric, runs_dir))
        executed = sorted((runs_dir / f"notebooks-{profile}").glob(f"{number}_*.ipynb"))
        verdicts = notebook_verdicts(executed[0]) if executed else []
        if not executed:
            lines += [f"No executed full-profile copy of notebook {number} in `runs/notebooks-{profile}/`: the runs "
                      "above may come from an execution that did not finish (a partial set of settings).", ""]
        if verdicts:
            lines += [f"Verdicts printed by the executed notebook (`{executed[0].relative_to(runs_dir.parent)}`):",
                      "", "```", *verdicts, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    parser.add_argument("--profile", default="full")
    parser.add_argument("--output", default=str(ROOT / "docs" / "results.md"))
    args = parser.parse_args(argv)
    output = Path(args.output)
    previous = output.read_text() if output.exists() else ""
    text = build(Path(args.runs_dir), args.profile, previous)
    write_text(args.output, text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
