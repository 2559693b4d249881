"""Write the "generated faces vs real photographs" section of ``docs/results.md``.

    python tools/real_vs_generated.py   # after make results, benchmarks/real_photos.py and real_lessons.py

Nothing is typed in. The generated-face side is read from the tables that
``tools/results.py`` computed from the full-profile runs (the "Mean ± standard
deviation" table of each experiment, column ``macro-F1``: test macro-F1, mean over
seeds); the real-photo side from ``emolib/results/real_photos.json`` (4-class task,
balanced person-disjoint test); the lessons that one command measured on both data sets
come from ``emolib/results/real_lessons.json``. The verdict is
:func:`emolib.realphotos.verdict`, the rule the notebooks use: **agrees** or **reverses** when the
difference is more than noise on both data sets (and, for the paired rows, both models learned),
else **cannot tell** and why.

For the seed-table rows the noise of a difference is ``2 * sqrt(sd_a**2 + sd_b**2)`` (standard
deviations over seeds), and at least :data:`MIN_NOISE` (a 128-image test split, or one seed, cannot
resolve less). The section replaces an earlier one, so the command can be re-run.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from emolib.realphotos import verdict  # noqa: E402  (the one rule, shared with the notebooks)

HEADING = "## Generated faces vs real photographs"
MIN_NOISE = 0.03

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
     "generated: see notebook 07's verdicts (test accuracy, McNemar) above"),
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


def seed_evidence(a, b):
    """Evidence (the keys :func:`emolib.realphotos.verdict` reads) of B - A from two
    ``(mean, sd)`` pairs, or ``None``: more than noise when larger than
    ``2 * sqrt(sd_a**2 + sd_b**2)``, at least :data:`MIN_NOISE`. The seed tables do not say
    whether a model learned: both count as learned."""
    if a is None or b is None:
        return None
    gap, noise = b[0] - a[0], max(MIN_NOISE, 2 * math.sqrt(a[1] ** 2 + b[1] ** 2))
    return {"gap": gap, "settled": abs(gap) > noise, "learned": {"A": True, "B": True},
            "text": f"{gap:+.3f} (noise {noise:.3f})"}


def paired_evidence(lessons: dict, source: str, key: tuple):
    """Evidence of one ``real_lessons.json`` entry (``None`` when absent): settled when the exact
    McNemar test over every paired test image gives p < 0.05 (and its winner is the sign of B - A)."""
    entry = lessons.get("sources", {}).get(source, {}).get("lessons", {})
    for part in key:
        entry = entry.get(part, {})
    if not entry:
        return None
    gap = entry["b"]["macro_f1"] - entry["a"]["macro_f1"]
    return {**entry, "gap": gap, "text": f"{gap:+.3f} (McNemar p {entry['mcnemar_p']:.2g})"}


def _cells(a, b, ev):
    return [_fmt(a), _fmt(b), "not measured" if ev is None else ev["text"]]


def _fmt(pair):
    return "" if pair is None else f"{pair[0]:.3f}"


def both_sides_rows(lessons: dict) -> list:
    """Table rows for the lessons of ``real_lessons.json`` (same code on both data sets)."""
    rows = []
    for lesson, key in BOTH_SIDES:
        gen, real = paired_evidence(lessons, "generated", key), paired_evidence(lessons, "real", key)
        cells = []
        for ev in (gen, real):
            cells += ["", "", "not measured"] if ev is None else [
                f"{ev['a']['macro_f1']:.3f}", f"{ev['b']['macro_f1']:.3f}", ev["text"]]
        ref = gen or real
        names = "not measured: run benchmarks/real_lessons.py" if ref is None else (
            f"A `{ref['A']}`, B `{ref['B']}`; {ref['notes']}")
        rows.append(f"| {lesson} | " + " | ".join(cells) + f" | {verdict(gen, real)} | {names} |")
    return rows


def section(results_text: str, real: dict, lessons: dict | None = None) -> str:
    gen = generated_table(results_text)
    rt = real_table(real)
    lines = [HEADING, "",
             "Written by `python tools/real_vs_generated.py` from the tables above (generated faces, test "
             "macro-F1, mean over seeds) and `emolib/results/real_photos.json` (real photographs, "
             "4-class task, balanced person-disjoint test of "
             f"{sum(real['tasks']['4class']['counts']['test'].values())} images). A difference is B minus A; "
             f"its noise is twice the combined standard deviation over seeds, at least {MIN_NOISE}. "
             "The last rows come from `emolib/results/real_lessons.json`: the same code measured each of those "
             "lessons on both data sets (seed 003's 4 classes, class-balanced sampling for every network); there a "
             "difference is more than noise when the exact McNemar test over every paired test image (all seeds) "
             "gives p < 0.05 and both models learned. The verdict is the notebooks' rule "
             "(`emolib.realphotos.verdict`): it agrees or reverses only when the difference is more than noise "
             "on both data sets.", "",
             "| lesson | generated A | generated B | generated B - A | real A | real B | real B - A | verdict | models |",
             "|---|---|---|---|---|---|---|---|---|"]
    for lesson, g, r, what in LESSONS:
        ga, gb = (gen.get((g[0], g[1])), gen.get((g[0], g[2]))) if g else (None, None)
        ra, rb = rt.get(r[0]), rt.get(r[1])
        ge, re_ = seed_evidence(ga, gb), seed_evidence(ra, rb)
        names = f"A `{rt.get('best_single_name', r[0]) if r[0] == 'best_single' else r[0]}`, B `{r[1]}`"
        if g:
            names = f"generated A `{g[1]}`, B `{g[2]}`; real {names}"
        cells = _cells(ga, gb, ge) + _cells(ra, rb, re_)
        lines.append(f"| {lesson} | " + " | ".join(cells) + f" | {verdict(ge, re_)} | {names}; {what} |")
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
