"""tools/real_vs_generated.py: the generated-vs-real table is computed from the results
file's tables and the real-photo JSON, never typed in; re-running replaces the section."""

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


REAL = {"tasks": {"4class": {"counts": {"test": {"happy": 2, "sad": 2}}, "rungs": [
    _rung("simple_cnn", 0.40, 0.01), _rung("simple_cnn_aug", 0.30, 0.01),
    _rung("fer_finetune_balanced", 0.70, 0.01), _rung("ensemble", 0.80), {"name": "skipped_rung", "skipped": "x"}]}}}


def test_table_values_and_verdicts(tmp_path):
    results, real = tmp_path / "results.md", tmp_path / "real.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    assert tool.generated_table(RESULTS)[("04_training_techniques_full", "augment")] == (0.6, 0.01)
    assert tool.update(results, real)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in results.read_text().splitlines()
            if line.startswith("| 0")}
    assert "| agrees |" in rows["04 augmentation"]                     # -0.1 generated, -0.1 real
    assert "-0.100 (noise 0.030)" in rows["04 augmentation"]
    # generated +0.01 (within its noise), real +0.30: a clear gap on one side only settles nothing
    assert "| cannot tell: gap within noise on generated |" in rows["05 transfer (FER2013 fine-tuned) vs scratch"]
    assert "cannot tell: not measured on generated" in rows["06 ResNet-like (BN) vs simple CNN"]
    assert "A `fer_finetune_balanced`, B `ensemble`" in rows["07 ensemble vs best single model"]
    first = results.read_text()
    assert tool.update(results, real)  # idempotent: the section is replaced, not appended twice
    assert results.read_text() == first and first.count(tool.HEADING) == 1
    assert first.startswith(RESULTS.rstrip())


def test_reverses():
    gen, real = tool.seed_evidence((0.7, 0.0), (0.6, 0.0)), tool.seed_evidence((0.4, 0.0), (0.5, 0.0))
    assert tool.verdict(gen, real) == "reverses"


def test_within_the_noise_on_both_sides():
    gen, real = tool.seed_evidence((0.70, 0.01), (0.71, 0.01)), tool.seed_evidence((0.50, 0.01), (0.49, 0.01))
    assert gen["text"] == "+0.010 (noise 0.030)"
    assert tool.verdict(gen, real) == "cannot tell: gap within noise on generated and real"
    assert tool.verdict(gen, tool.seed_evidence((0.5, 0.0), (0.4, 0.0))) == "cannot tell: gap within noise on generated"


def test_the_tool_and_the_notebooks_share_one_rule():
    from emolib import realphotos

    assert tool.verdict is realphotos.verdict


def _entry(a, b, sd=0.0, p=0.5, learned=True):
    return {"A": "a_model", "B": "b_model", "notes": "same code", "mcnemar_p": p, "settled": p < 0.05,
            "learned": {"A": learned, "B": True},
            "a": {"macro_f1": a, "macro_f1_std": sd}, "b": {"macro_f1": b, "macro_f1_std": sd}}


def test_lessons_measured_on_both_sides_get_their_rows(tmp_path):
    results, real, lessons = tmp_path / "results.md", tmp_path / "real.json", tmp_path / "lessons.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    gen = {"gray_vs_rgb": _entry(0.70, 0.80, p=0.001), "ensemble_vs_best": _entry(0.70, 0.75, sd=0.1, p=0.01),
           "distillation": _entry(0.60, 0.65, p=0.001, learned=False), "int8": {"simple_cnn_gray": _entry(0.7, 0.7)}}
    rl = {"gray_vs_rgb": _entry(0.60, 0.50, p=0.01), "ensemble_vs_best": _entry(0.70, 0.71, p=0.3),
          "distillation": _entry(0.60, 0.70, p=0.001), "int8": {"simple_cnn_gray": _entry(0.6, 0.6)}}
    lessons.write_text(json.dumps({"sources": {"generated": {"lessons": gen}, "real": {"lessons": rl}}}))
    assert tool.update(results, real, lessons)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in results.read_text().splitlines()
            if line.startswith("| 0")}
    assert "| reverses |" in rows["02 gray vs RGB input"]
    assert "+0.100 (McNemar p 0.001)" in rows["02 gray vs RGB input"]
    # a large spread over seeds does not hide a paired, significant gap (the real side's p 0.3 does)
    assert "| cannot tell: gap within noise on real |" in rows["07 ensemble vs best single model (same members on both)"]
    # a model that did not learn makes its side unclear, however small p is
    assert "| cannot tell: did not learn: A on generated |" in rows["07 distillation into the simple CNN"]
    assert "cannot tell: gap within noise on generated and real" in rows["08 int8 vs fp32: simple CNN"]
    assert "not measured: run benchmarks/real_lessons.py" in rows["08 int8 vs fp32: FER2013 network fine-tuned"]


def test_without_the_lessons_file_its_rows_say_not_measured(tmp_path):
    results, real = tmp_path / "results.md", tmp_path / "real.json"
    results.write_text(RESULTS)
    real.write_text(json.dumps(REAL))
    assert tool.update(results, real, tmp_path / "absent.json")
    assert results.read_text().count("not measured: run benchmarks/real_lessons.py") == len(tool.BOTH_SIDES)
