"""tools/real_vs_generated.py: the generated-vs-real table is computed from the results
file's tables and the benchmarks' JSON, never typed in; every verdict is two evaluation.compare
outcomes (one per data set) read by carry_over; re-running replaces the section."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("real_vs_generated", ROOT / "tools" / "real_vs_generated.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

RESULTS = """# Results

## 04 · Training techniques

### `04_training_techniques_full`

| setting | runs | test accuracy | macro-F1 | params |
|---|---|---|---|---|
| baseline | 3 | 0.70 ± 0.01 | 0.700 ± 0.010 | 10 |
| augment | 3 | 0.60 ± 0.01 | 0.600 ± 0.010 | 10 |

| setting | pairs | effect |
|---|---|---|
| augment | 3 | -0.100 |

## 05 · Transfer learning

### `05_transfer_full`

| setting | runs | test accuracy | macro-F1 |
|---|---|---|---|
| simple_cnn | 3 | 0.7 | 0.700 ± 0.005 |
| fer_finetune | 3 | 0.7 | 0.710 ± 0.005 |
"""


def _rung(name, f1, sd=0.0):
    return {"name": name, "test": {"macro_f1": f1, "macro_f1_std": sd}}


def _compared(a, b, outcome, seeds=3):
    return {"A": a, "B": b, "seeds": seeds, "test_images": 4,
            "compare": {"outcome": outcome, "difference": -0.1, "interval": [-0.15, -0.05]}}


REAL = {"tasks": {"4class": {"counts": {"test": {"happy": 2, "sad": 2}}, "rungs": [
    _rung("simple_cnn", 0.40, 0.01), _rung("simple_cnn_aug", 0.30, 0.01),
    _rung("fer_finetune_balanced", 0.70, 0.01), _rung("ensemble", 0.80), {"name": "skipped_rung", "skipped": "x"}],
    "comparisons": {"simple_cnn vs simple_cnn_aug": _compared("simple_cnn", "simple_cnn_aug", "simple_cnn_aug is worse"),
                    "fer_finetune_balanced vs ensemble": _compared("fer_finetune_balanced", "ensemble",
                                                                   "cannot tell: the interval holds 0")}}}}


def test_table_values_and_verdicts(tmp_path):
    results, real = tmp_path / "results.md", tmp_path / "real.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    assert tool.generated_table(RESULTS)[("04_training_techniques_full", "augment")] == (0.6, 0.01)
    assert tool.update(results, real)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in results.read_text().splitlines()
            if line.startswith("| 0")}
    # the real side is compare's outcome; the generated tables hold means only, so no verdict is claimed
    assert "-0.100 [-0.150, -0.050] over 3 seeds: simple_cnn_aug is worse" in rows["04 augmentation"]
    assert "-0.100 (means; not compared)" in rows["04 augmentation"]
    assert "| cannot tell: no evaluation.compare result on generated |" in rows["04 augmentation"]
    assert "| cannot tell: no evaluation.compare result on generated and real |" in \
        rows["06 ResNet-like (BN) vs simple CNN"]
    assert "A `fer_finetune_balanced`, B `ensemble`" in rows["07 ensemble vs best single model"]
    first = results.read_text()
    assert tool.update(results, real)  # idempotent: the section is replaced, not appended twice
    assert results.read_text() == first and first.count(tool.HEADING) == 1
    assert first.startswith(RESULTS.rstrip())


def test_carry_over_reads_the_two_compare_outcomes():
    assert tool.carry_over("B is better", "B is better") == "agrees"
    assert tool.carry_over("B is worse", "B is worse") == "agrees"
    assert tool.carry_over("B is better", "B is worse") == "reverses"
    assert tool.carry_over("B is better", "cannot tell: the interval holds 0") == \
        "cannot tell: real: cannot tell: the interval holds 0"
    # a model that did not learn, or too few seeds, settles nothing, whatever the other side says
    assert tool.carry_over("cannot compare: A did not learn (accuracy 0.250, chance 0.250)", "B is worse") \
        .startswith("cannot tell: generated: cannot compare: A did not learn")
    assert tool.carry_over("cannot tell: 1 seed(s), the rule needs 3", "cannot tell: the interval holds 0") == \
        "cannot tell: generated: cannot tell: 1 seed(s), the rule needs 3; real: cannot tell: the interval holds 0"
    assert tool.carry_over(None, "B is better") == "cannot tell: no evaluation.compare result on generated"
    assert tool.carry_over({"compare": {"outcome": "B is better"}}, {"mcnemar_p": 0.01}) == \
        "cannot tell: no evaluation.compare result on real"  # measured by the old loop: no outcome


def test_the_verdicts_come_from_evaluation_compare():
    """The outcomes carry_over reads are the strings evaluation.compare gives (one rule for "is it real?")."""
    import numpy as np

    from emolib.evaluation import compare

    y = np.tile([0, 1, 2], 100)
    weak = np.stack([np.where(np.arange(300) % 4 == 0, (y + 1) % 3, y)] * 3)
    better = compare(y, weak, np.stack([y] * 3), 3, names=("A", "B")).outcome
    worse = compare(y, np.stack([y] * 3), weak, 3, names=("A", "B")).outcome
    assert tool.carry_over(better, better) == "agrees" and tool.carry_over(better, worse) == "reverses"
    assert "rule" not in tool.__dict__ and not hasattr(tool, "seed_evidence")  # no second rule


def _entry(a, b, outcome):
    return {"A": "a_model", "B": "b_model", "notes": "same code", "seeds": 3,
            "compare": {"outcome": outcome, "difference": b - a, "interval": [b - a - 0.01, b - a + 0.01]},
            "a": {"macro_f1": a, "macro_f1_std": 0.0}, "b": {"macro_f1": b, "macro_f1_std": 0.0}}


def test_lessons_measured_on_both_sides_get_their_rows(tmp_path):
    results, real, lessons = tmp_path / "results.md", tmp_path / "real.json", tmp_path / "lessons.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    gen = {"gray_vs_rgb": _entry(0.70, 0.80, "b_model is better"),
           "ensemble_vs_best": _entry(0.70, 0.75, "b_model is better"),
           "transfer_vs_scratch": _entry(0.60, 0.65, "cannot compare: a_model did not learn"),
           "int8": {"simple_cnn_gray": _entry(0.7, 0.7, "cannot tell: the interval holds 0")}}
    rl = {"gray_vs_rgb": _entry(0.60, 0.50, "b_model is worse"),
          "ensemble_vs_best": _entry(0.70, 0.71, "cannot tell: the interval holds 0"),
          "transfer_vs_scratch": _entry(0.60, 0.70, "b_model is better"),
          "int8": {"simple_cnn_gray": _entry(0.6, 0.6, "cannot tell: the interval holds 0")}}
    lessons.write_text(json.dumps({"sources": {"generated": {"lessons": gen}, "real": {"lessons": rl}},
                                   "not_measured": {"distillation": "no soft targets in run_experiment"}}))
    assert tool.update(results, real, lessons)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in results.read_text().splitlines()
            if line.startswith("| 0")}
    assert "| reverses |" in rows["02 gray vs RGB input"]
    assert "+0.100 [+0.090, +0.110] over 3 seeds: b_model is better" in rows["02 gray vs RGB input"]
    assert "| cannot tell: real: cannot tell: the interval holds 0 |" in \
        rows["07 ensemble vs best single model (same members on both)"]
    # a model that did not learn makes its side unclear, however large the difference
    assert "| cannot tell: generated: cannot compare: a_model did not learn |" in \
        rows["05 transfer (FER2013 fine-tuned) vs scratch, one recipe on both"]
    assert "not measured: no soft targets in run_experiment" in rows["07 distillation into the simple CNN"]
    assert "not measured: run benchmarks/real_lessons.py" in rows["08 int8 vs fp32: FER2013 network fine-tuned"]


def test_without_the_lessons_file_its_rows_say_not_measured(tmp_path):
    results, real = tmp_path / "results.md", tmp_path / "real.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    assert tool.update(results, real, tmp_path / "absent.json")
    assert results.read_text().count("not measured: run benchmarks/real_lessons.py") == len(tool.BOTH_SIDES)
