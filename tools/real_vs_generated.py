"""Write the "generated faces vs real photographs" section of ``docs/results.md``.

    python tools/real_vs_generated.py   # after make results, benchmarks/real_photos.py and real_lessons.py

Nothing is typed in. Every verdict comes from :func:`emolib.evaluation.compare` (emolib's one rule
for "is the difference real?": a bootstrap over seeds and test images, at least 3 seeds, "cannot
compare" when a model did not learn), run on each data set by the benchmarks and stored in their
JSON (``compare.outcome``); :func:`carry_over` turns the two outcomes into **agrees**, **reverses**
or **cannot tell** (and why).

* The lessons that ``benchmarks/real_lessons.py`` measured on both data sets with the same code
  and trainer come from ``emolib/results/real_lessons.json``: both sides have a ``compare`` outcome.
* The ladder's lessons (03-07): the real side is ``emolib/results/real_photos.json``'s
  ``comparisons`` (4-class task, balanced person-disjoint test); the generated side shows the
  means over seeds of the full-profile tables that ``tools/results.py`` wrote above (column
  ``macro-F1``), which hold no per-seed predictions, so no ``compare`` outcome: those rows say
  "cannot tell" until the generated side is compared (each notebook prints its own verdict).

A benchmark file measured before ``compare`` (no ``compare`` key: the old training loop) gives
"no evaluation.compare outcome" for its side. The section replaces an earlier one, so the command
can be re-run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HEADING = "## Generated faces vs real photographs"


def _outcome(entry):
    """:func:`emolib.evaluation.compare`'s outcome in a benchmark entry (``entry["compare"]["outcome"]``),
    the outcome string itself, or ``None`` (not measured)."""
    if entry is None or isinstance(entry, str):
        return entry
    return entry.get("compare", {}).get("outcome")


def carry_over(generated, real):
    """Whether a lesson carries over from generated faces to real photos:
    :func:`emolib.realphotos.agreement` on two benchmark entries (or outcome strings, or ``None``)."""
    from emolib.realphotos import agreement

    return agreement(_outcome(generated), _outcome(real))


#: lesson, generated (experiment, setting A, setting B), real (rung A, rung B), what B is
LESSONS = [
    ("03 class imbalance: class weights vs none", ("03_imbalance_seed003_full", "none", "weights"),
     ("fer_finetune_plain", "fer_finetune_weighted_aug"),
     "real: FER2013 network fine-tuned with natural frequencies vs class weights (+ augmentation)"),
    ("03 class imbalance: oversampling vs none", ("03_imbalance_seed003_full", "none", "over"),
     ("fer_finetune_plain", "fer_finetune_balanced"),
     "real: FER2013 network fine-tuned with natural frequencies vs class-balanced sampling"),
    ("04 augmentation", ("04_training_techniques_full", "baseline", "augment"),
     ("simple_cnn", "simple_cnn_aug"), "both: the simple CNN without vs with augmentation"),
    ("05 transfer (FER2013 fine-tuned) vs scratch", ("05_transfer_full", "simple_cnn", "fer_finetune"),
     ("simple_cnn", "fer_finetune_balanced"),
     "both: simple CNN from scratch vs the FER2013 mini-Xception fine-tuned, no augmentation"),
    ("06 ResNet-like (BN) vs simple CNN", ("06_resnet_like_full", "simple_cnn", "resnet_like_bn"),
     ("simple_cnn_aug", "resnet_like_bn"), "real: both with augmentation and balanced sampling"),
    ("07 ensemble vs best single model", None, ("best_single", "ensemble"),
     "generated: see notebook 07's verdicts above"),
]
#: lesson, key in ``real_lessons.json`` (measured on both data sets by benchmarks/real_lessons.py)
BOTH_SIDES = [
    ("02 gray vs RGB input", ("gray_vs_rgb",)),
    ("05 transfer (FER2013 fine-tuned) vs scratch, one recipe on both", ("transfer_vs_scratch",)),
    ("07 ensemble vs best single model (same members on both)", ("ensemble_vs_best",)),
    ("07 distillation into the simple CNN", ("distillation",)),
    ("08 int8 vs fp32: simple CNN", ("int8", "simple_cnn_gray")),
    ("08 int8 vs fp32: FER2013 network fine-tuned", ("int8", "fer_finetune")),
]


def generated_table(results_text: str) -> dict:
    """``{(experiment, setting): (mean, sd)}`` of test macro-F1 from the results file."""
    out, experiment, columns = {}, None, None
    for line in results_text.splitlines():
        m = re.match(r"^### `([^`]+)`", line)
        if m:
            experiment, columns = m.group(1), None
            continue
        if experiment is None or not line.startswith("|"):
            if not line.startswith("|"):
                columns = columns if line.strip() == "" else None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "setting":
            columns = cells if "macro-F1" in cells else None
            continue
        if columns is None or set(cells[0]) <= {"-"} or len(cells) != len(columns):
            continue
        value = cells[columns.index("macro-F1")]
        m = re.match(r"^([0-9.]+)(?:\s*±\s*([0-9.]+))?$", value)
        if m and (experiment, cells[0]) not in out:
            out[(experiment, cells[0])] = (float(m.group(1)), float(m.group(2)) if m.group(2) else 0.0)
    return out


def real_table(real: dict, task="4class") -> dict:
    """``{rung: (mean, sd)}`` of test macro-F1 from ``real_photos.json``; ``best_single``
    is the best rung that is not the ensemble."""
    rungs = [r for r in real["tasks"][task]["rungs"] if "test" in r]
    out = {r["name"]: (r["test"]["macro_f1"], r["test"]["macro_f1_std"]) for r in rungs}
    singles = [r for r in rungs if r["name"] != "ensemble"]
    if singles:
        best = max(singles, key=lambda r: r["test"]["macro_f1"])
        out["best_single"] = (best["test"]["macro_f1"], best["test"]["macro_f1_std"])
        out["best_single_name"] = best["name"]
    return out


def real_comparison(real: dict, a: str, b: str, task="4class"):
    """The ``comparisons`` entry of ``real_photos.json`` for rungs A and B (``a="best_single"``: the
    entry whose B is ``b``, the ensemble; its A is the rung best on validation), or ``None``."""
    entries = real["tasks"][task].get("comparisons", {})
    if a != "best_single":
        return entries.get(f"{a} vs {b}")
    return next((e for e in entries.values() if e["B"] == b), None)


def _compare_text(entry):
    """``+0.012 [-0.030, +0.050]: B is better`` from an entry's ``compare``, or why there is none."""
    if entry is None:
        return "not measured"
    c = entry.get("compare")
    if c is None:
        return "no evaluation.compare outcome (old loop)"
    return f"{c['difference']:+.3f} [{c['interval'][0]:+.3f}, {c['interval'][1]:+.3f}] over {entry['seeds']} seeds: " \
           f"{c['outcome']}"


def _fmt(value):
    return "" if value is None else f"{value:.3f}"


def lesson_entry(lessons: dict, source: str, key: tuple):
    """One ``real_lessons.json`` entry (``None`` when absent)."""
    entry = lessons.get("sources", {}).get(source, {}).get("lessons", {})
    for part in key:
        entry = entry.get(part, {})
    return entry or None


def both_sides_rows(lessons: dict) -> list:
    """Table rows for the lessons of ``real_lessons.json`` (same code and trainer on both data sets)."""
    rows = []
    for lesson, key in BOTH_SIDES:
        gen, real = lesson_entry(lessons, "generated", key), lesson_entry(lessons, "real", key)
        cells = []
        for entry in (gen, real):
            cells += ["", "", "not measured"] if entry is None else [
                _fmt(entry["a"]["macro_f1"]), _fmt(entry["b"]["macro_f1"]), _compare_text(entry)]
        ref = gen or real
        why = lessons.get("not_measured", {}).get(key[0])
        if ref is None:
            names = f"not measured: {why}" if why else "not measured: run benchmarks/real_lessons.py"
            verdict = "cannot tell: not measured"
        else:
            names, verdict = f"A `{ref['A']}`, B `{ref['B']}`; {ref['notes']}", carry_over(gen, real)
        rows.append(f"| {lesson} | " + " | ".join(cells) + f" | {verdict} | {names} |")
    return rows


def _trainer_note(*measured) -> str:
    """What trained the committed benchmark files: the one trainer once they are re-run."""
    if all(m and m.get("trainer") for m in measured):
        return "Both files were measured with `run_experiment` (class-balanced sampling, the epoch with the best " \
               "validation macro-F1 kept)."
    return ("These committed files were measured by the old training loop (one `fit` per epoch), before every "
            "run went through `run_experiment` and every verdict through `compare`, so their rows have no "
            "compare outcome; `make real-photos` and `make real-lessons` re-measure them with the one trainer.")


def section(results_text: str, real: dict, lessons: dict | None = None) -> str:
    gen = generated_table(results_text)
    rt = real_table(real)
    lines = [HEADING, "",
             "Written by `python tools/real_vs_generated.py`. Every verdict is `emolib.evaluation.compare` "
             "(bootstrap over seeds and test images, at least 3 seeds) on each data set; the two outcomes "
             "give **agrees** (the same direction on both), **reverses** (opposite directions) or **cannot "
             "tell** (a side without a direction, and why). A difference is B minus A, test macro-F1, mean over "
             "seeds, with compare's 95% interval. The first rows are the ladder's lessons: real photographs from "
             "`emolib/results/real_photos.json` (4-class task, balanced person-disjoint test of "
             f"{sum(real['tasks']['4class']['counts']['test'].values())} images); the generated side shows the "
             "full-profile means of the tables above, which hold no per-seed predictions, so it has no compare "
             "outcome here (each notebook prints its own). The last rows come from "
             "`emolib/results/real_lessons.json`: the same code and trainer measured each lesson on both data "
             "sets (seed 003's 4 classes). " + _trainer_note(real, lessons), "",
             "| lesson | generated A | generated B | generated B - A | real A | real B | real B - A | verdict | models |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lesson, g, r, what in LESSONS:
        ga, gb = (gen.get((g[0], g[1])), gen.get((g[0], g[2]))) if g else (None, None)
        entry = real_comparison(real, *r)
        a_name = entry["A"] if entry and r[0] == "best_single" else rt.get("best_single_name", r[0]) \
            if r[0] == "best_single" else r[0]
        ra, rb = rt.get(a_name), rt.get(r[1])
        gen_text = "not measured" if ga is None or gb is None else f"{gb[0] - ga[0]:+.3f} (means; not compared)"
        cells = [_fmt(ga and ga[0]), _fmt(gb and gb[0]), gen_text,
                 _fmt(ra and ra[0]), _fmt(rb and rb[0]),
                 _compare_text(entry) if "comparisons" in real["tasks"]["4class"] or entry
                 else "no evaluation.compare outcome (old loop)"]
        names = f"A `{a_name}`, B `{r[1]}`"
        if g:
            names = f"generated A `{g[1]}`, B `{g[2]}`; real {names}"
        lines.append(f"| {lesson} | " + " | ".join(cells) + f" | {carry_over(None, entry)} | {names}; {what} |")
    lines += both_sides_rows(lessons or {})
    return "\n".join(lines) + "\n"


def update(results_path, real_path, lessons_path=None) -> bool:
    """Replace (or append) the section in ``results_path``; ``False`` when a file is missing
    (``lessons_path``, ``real_lessons.json``, is optional: its rows then say "not measured")."""
    results_path, real_path = Path(results_path), Path(real_path)
    lessons = json.loads(Path(lessons_path).read_text()) if lessons_path and Path(lessons_path).is_file() else {}
    if not results_path.is_file() or not real_path.is_file():
        return False
    text = results_path.read_text()
    real = json.loads(real_path.read_text())
    if "4class" not in real.get("tasks", {}):
        return False
    head, _, rest = text.partition(HEADING)
    tail = ""
    if rest:
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
    from emolib.fileio import write_text

    body = head.rstrip() + "\n\n" + section(head + tail, real, lessons) + ("\n" + tail if tail else "")
    write_text(results_path, body)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(ROOT / "docs" / "results.md"))
    parser.add_argument("--real", default=str(ROOT / "emolib" / "results" / "real_photos.json"))
    parser.add_argument("--lessons", default=str(ROOT / "emolib" / "results" / "real_lessons.json"))
    args = parser.parse_args(argv)
    if not update(args.results, args.real, args.lessons):
        raise SystemExit(f"need both {args.results} and {args.real} (with its 4class task)")
    print(f"wrote the generated-vs-real section of {args.results}")


if __name__ == "__main__":
    main()
