"""Re-execute notebooks and say what moved: numbers, verdicts and time.

    make verify NOTEBOOKS="06 07"                 # the same as:
    python tools/verify.py 06 07                  # notebooks by number, name or path (none: all)
    python tools/verify.py --executed runs/verify 06   # compare copies executed before (no execution)

Each notebook is executed (``tools/notebooks.py``'s ``run``) into a copy in ``runs/verify/``
with the profile and parameters its committed outputs record (``metadata.emolib``); the
committed notebook is not touched. Then, for each notebook, it prints

* the re-execution time against the committed one (``metadata.emolib.seconds``);
* how many numbers were compared and how many moved, the largest absolute and the largest
  relative moves, each with its cell index (``nb.cells[i]``) and the line it sits in;
* every **verdict** that changed, appeared or disappeared.

and writes the same as JSON (``runs/verify/report.json``). Exit status: 1 when a verdict
changed, 2 when a notebook could not be executed (or was not found), 0 otherwise; numbers
that moved do not fail it on their own (re-training moves them; what must hold are the
verdicts).

Numbers
-------
Read from every code cell's stream outputs (stdout, stderr), the ``text/plain`` of its
results and displays and, where a result carries an HTML table (a pandas DataFrame), from
that table's cells (one line per row, the cells joined by ``" | "``) instead of its
``text/plain`` (which pandas truncates). A number is a decimal literal not glued to a
word (``0.655``, ``-3.88``, ``2.7e-05``, ``12``; not the ``32`` of ``32x32`` or ``fer2013``).
The lines of a committed cell and of its re-executed cell are aligned on their text with
the numbers masked (``difflib``); numbers of aligned lines are paired in order. Lines
whose text changed otherwise are counted; their numbers are still paired where as many
lines replace as many, each with as many numbers.

Verdicts
--------
Every verdict of the course is :func:`emolib.evaluation.compare`'s line ``verdict: B vs A: <outcome> (...)``
(the ``marker`` pattern below); a verdict is read from

1. an HTML table with a column named ``verdict`` (a notebook's table of claims): the row's verdict cell,
   the comparison being the row's other non-numeric cells;
2. an output line that one of :data:`VERDICT_PATTERNS` matches (the first that does):
   each is a regular expression with the groups ``comparison`` and ``outcome``. The
   phrasings they cover today:

   ``marker``        ``verdict: <comparison>: <outcome>`` (lower-case, exactly: the form
                     for new code that prints a verdict, recognised before any other)
   ``label``         ``Verdict: ...``, ``Verdict on seed 003's claim: ...``,
                     ``benchmark verdict, fer_finetune: ...``
   ``arrow``         ``cutmix -0.093 (paired differences ...) -> worse``,
                     ``... test accuracy 0.689 vs 0.655 -> beats the best single model``,
                     ``seed 003: 'batch size 32 is best' -> cannot tell: within the noise``
   ``minus``         ``batch_32 minus baseline: +0.038 (t +5.5) better`` (several a line)
   ``colon``         ``<comparison>: agrees | reverses | disagrees | cannot tell... |
                     cannot compare... | did not learn... | no verdict... | better... |
                     worse... | within the noise...``
   ``parenthesised`` ``optimizer = adam: +0.186 (better)``

A matched line whose outcome :data:`NOT_VERDICTS` matches (a file path, a chain of arrows,
a quoted or bracketed value) is no verdict. A verdict is identified by its cell and its
comparison text with the numbers masked (``"all members (# members)"``); its outcome is compared with the numbers masked as well
(the numbers are reported with the other numbers). A verdict whose comparison text
changed shows as one that disappeared and one that appeared: both count as changes.
To recognise a new phrasing, add a ``(name, regex)`` pair to :data:`VERDICT_PATTERNS`
(more specific ones first) and a line of it to ``tests/test_verify.py``; or better, make
the new code print ``verdict: <comparison>: <outcome>``.

Where the real photos are absent (no local copy), the notebooks' real-photo sections are
skipped and their verdicts show as disappeared: re-execute where the committed run had them.
"""

from __future__ import annotations

import argparse
import difflib
import html.parser
import importlib.util
import re
import sys
from pathlib import Path

import nbformat


def _notebooks_tool():
    """``tools/notebooks.py`` (the one way notebooks are executed), loaded without changing ``sys.path``."""
    spec = importlib.util.spec_from_file_location("emolib_tools_notebooks", Path(__file__).with_name("notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbtools = _notebooks_tool()

ROOT = nbtools.ROOT
OUTPUT_DIR = ROOT / "runs" / "verify"

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?!\.?\w)")
_KEYWORDS = (r"agrees|reverses|disagrees|cannot tell|cannot compare|did not learn|no verdict|better|worse"
             r"|within the noise")

#: ``(name, pattern)``: the output lines read as verdicts, tried in order (the first that matches
#: a line wins); each pattern has the named groups ``comparison`` and ``outcome``.
VERDICT_PATTERNS = [
    ("marker", re.compile(r"^verdict: (?P<comparison>.+?): (?P<outcome>.+)$")),
    ("label", re.compile(r"^(?P<comparison>(?:.*\W)?[Vv]erdict\b[^:]*): (?P<outcome>.+)$")),
    ("arrow", re.compile(r"^(?P<comparison>.+?) -> (?P<outcome>.+)$")),
    ("minus", re.compile(r"(?P<comparison>[\w.\-]+ minus [\w.\-]+): [^;]*?(?P<outcome>better|worse|within the noise)"
                         r"(?=;|$)")),
    ("colon", re.compile(rf"^(?P<comparison>.+?): (?P<outcome>(?:{_KEYWORDS})\b.*)$")),
    ("parenthesised", re.compile(r"^(?P<comparison>.+?): .*\((?P<outcome>better|worse|within the noise)\)$")),
]

#: Outcomes that make a matched line no verdict after all (except for ``marker`` lines): a file
#: path (``... -> runs/02_gray_vs_rgb_lesson/rgb_seed0``), a chain of arrows (``RandomFlip ->
#: RandomRotation -> ...``), a quoted or bracketed value (``raw -> '<b>LOVED</b> it!!!'``).
NOT_VERDICTS = re.compile(r"^(?:\S+/\S+|.* -> .*|['\"\[{(<].*)$")


def mask(text: str) -> str:
    """``text`` with every number replaced by ``#`` and runs of spaces by one."""
    return re.sub(r"\s+", " ", NUMBER.sub("#", text)).strip()


class _Tables(html.parser.HTMLParser):
    """The tables of an HTML fragment: ``[[[cell text, ...] per row] per table]``."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> list:
    """The tables in HTML ``text``, each a list of rows, each a list of cell texts."""
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _lines(cell) -> list[tuple[str, bool]]:
    """``(line, whether it is an HTML table's row)`` of what a code cell shows (:func:`output_lines`)."""
    lines = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            lines += [(line.split("\r")[-1], False) for line in _text(out.text).split("\n")]
        elif out.output_type == "error":
            lines.append((f"{out.ename}: {out.evalue}", False))
        else:
            data = out.get("data", {})
            tables = html_tables(_text(data["text/html"])) if "<table" in _text(data.get("text/html", "")) else []
            if tables:
                lines += [(" | ".join(row), True) for table in tables for row in table]
            else:
                lines += [(line, False) for line in _text(data.get("text/plain", "")).split("\n")]
    return [(line.rstrip(), row) for line, row in lines if line.strip()]


def output_lines(cell) -> list[str]:
    """The lines a code cell shows: its streams (each line as a terminal leaves it after
    ``\\r``), the ``text/plain`` of results and displays, or their HTML tables' rows
    (cells joined by ``" | "``) where they have some, and errors (``ename: evalue``)."""
    return [line for line, _ in _lines(cell)]


def _is_number(text: str) -> bool:
    return NUMBER.fullmatch(text.strip()) is not None


def cell_verdicts(cell) -> list[tuple[str, str]]:
    """``[(comparison, outcome)]`` of a code cell's outputs (see the module's docstring)."""
    found = []
    for out in cell.get("outputs", []):
        for table in html_tables(_text(out.get("data", {}).get("text/html", ""))):
            header = next((row for row in table if any(c.lower() == "verdict" for c in row)), None)
            if header is None:
                continue
            col = [c.lower() for c in header].index("verdict")
            for row in table[table.index(header) + 1:]:
                if len(row) > col and row[col]:
                    key = " | ".join(c for i, c in enumerate(row) if i != col and c and not _is_number(c))
                    found.append((key, row[col]))
    for line, table_row in _lines(cell):
        if table_row:  # read above
            continue
        for name, pattern in VERDICT_PATTERNS:
            matches = list(pattern.finditer(line.strip()))
            if matches:
                found += [(m["comparison"].strip(), m["outcome"].strip()) for m in matches
                          if name == "marker" or not NOT_VERDICTS.match(m["outcome"])]
                break
    return found


def verdicts(nb) -> dict:
    """``{(cell index, masked comparison): (comparison, outcome)}`` of a notebook; a comparison
    that repeats in a cell gets `` #2``, `` #3``... appended."""
    out = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for comparison, outcome in cell_verdicts(cell):
            key, n = mask(comparison), 1
            while (i, key if n == 1 else f"{key} #{n}") in out:
                n += 1
            out[(i, key if n == 1 else f"{key} #{n}")] = (comparison, outcome)
    return out


def _short(line: str, width: int = 100) -> str:
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 3] + "..."


def number_moves(committed, executed) -> dict:
    """The numbers of two versions of a notebook, compared cell by cell (cells paired by index).

    Returns ``{"compared", "moved", "lines_changed", "moves"}``; ``moves``: one dict per number
    that differs (``cell``, ``committed``, ``executed``, ``absolute``, ``relative`` (``None``
    when the committed value is 0) and ``context``, the executed line)."""
    compared, changed, moves = 0, 0, []
    for i, (old_cell, new_cell) in enumerate(zip(committed.cells, executed.cells)):
        if old_cell.cell_type != "code" or new_cell.cell_type != "code":
            continue
        old, new = output_lines(old_cell), output_lines(new_cell)
        matcher = difflib.SequenceMatcher(None, [mask(x) for x in old], [mask(x) for x in new], autojunk=False)
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag != "equal":
                changed += max(a1 - a0, b1 - b0)
            if tag not in ("equal", "replace") or a1 - a0 != b1 - b0:
                continue
            for old_line, new_line in zip(old[a0:a1], new[b0:b1]):
                old_numbers, new_numbers = NUMBER.findall(old_line), NUMBER.findall(new_line)
                if len(old_numbers) != len(new_numbers):
                    continue
                for a, b in zip(old_numbers, new_numbers):
                    compared += 1
                    x, y = float(a), float(b)
                    if x != y:
                        moves.append({"cell": i, "committed": a, "executed": b, "absolute": abs(y - x),
                                      "relative": abs(y - x) / abs(x) if x else None,
                                      "context": _short(new_line)})
    return {"compared": compared, "moved": len(moves), "lines_changed": changed, "moves": moves}


def verdict_changes(committed, executed) -> dict:
    """``{"compared", "changed"}``: the verdicts of both versions of a notebook, and each one whose
    outcome differs (numbers masked) or that only one version has (``None`` on the other side)."""
    old, new = verdicts(committed), verdicts(executed)
    changed = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if a is None or b is None or mask(a[1]) != mask(b[1]):
            changed.append({"cell": key[0], "comparison": (a or b)[0],
                            "committed": a and a[1], "executed": b and b[1]})
    return {"compared": len(set(old) | set(new)), "changed": changed}


def compare(committed, executed, top: int = 5) -> dict:
    """The report of one notebook: its committed and re-executed versions (nbformat nodes)
    compared; ``top``: how many of the largest moves to keep of each kind."""
    numbers = number_moves(committed, executed)
    moves = numbers.pop("moves")
    numbers["largest_absolute"] = sorted(moves, key=lambda m: -m["absolute"])[:top]
    numbers["largest_relative"] = sorted((m for m in moves if m["relative"] is not None),
                                         key=lambda m: -m["relative"])[:top]
    seconds = {name: nb.metadata.get("emolib", {}).get("seconds")
               for name, nb in (("committed", committed), ("executed", executed))}
    return {"profile": committed.metadata.get("emolib", {}).get("profile"), "seconds": seconds,
            "cells": {"committed": len(committed.cells), "executed": len(executed.cells)},
            "numbers": numbers, "verdicts": verdict_changes(committed, executed)}


def _seconds(s) -> str:
    return "?" if s is None else nbtools.duration_text(s)


def _move(m: dict) -> str:
    rel = f", {100 * m['relative']:.3g}%" if m["relative"] is not None else ""
    return f"cell {m['cell']}: {m['committed']} -> {m['executed']} (by {m['absolute']:.3g}{rel})  \"{m['context']}\""


def report_text(name: str, report: dict) -> str:
    """What :func:`main` prints for one notebook."""
    if "error" in report:
        return f"{name}: could not be re-executed: {report['error']}"
    s, numbers, found = report["seconds"], report["numbers"], report["verdicts"]
    ratio = f", x{s['executed'] / s['committed']:.2f}" if s["committed"] and s["executed"] else ""
    lines = [f"{name} (profile {report['profile']}): re-executed in {_seconds(s['executed'])}, "
             f"committed {_seconds(s['committed'])}{ratio}"]
    if report["cells"]["committed"] != report["cells"]["executed"]:
        lines.append(f"  cells: {report['cells']['committed']} committed, {report['cells']['executed']} executed "
                     f"(paired by index: the comparison below is unreliable)")
    lines.append(f"  numbers: {numbers['compared']} compared, {numbers['moved']} moved"
                 + (f"; {numbers['lines_changed']} line(s) changed in text" if numbers["lines_changed"] else ""))
    for title, key in (("largest absolute moves", "largest_absolute"), ("largest relative moves", "largest_relative")):
        if numbers[key]:
            lines += [f"    {title}:"] + [f"      {_move(m)}" for m in numbers[key]]
    changed = found["changed"]
    lines.append(f"  verdicts: {found['compared']} compared, " + (f"{len(changed)} CHANGED:" if changed else "none changed"))
    for c in changed:
        lines.append(f"    cell {c['cell']}: {c['comparison']}: {c['committed'] or '(absent)'} -> "
                     f"{c['executed'] or '(absent)'}")
    return "\n".join(lines)


def find_notebooks(names) -> list[Path]:
    """Notebooks named by number (``"06"``), file name or path; none: every notebook. Raises
    ``ValueError`` for a name that is no file and starts no notebook's name, or several."""
    if not names:
        return nbtools.notebooks()
    paths = []
    for name in names:
        if Path(name).is_file():
            paths.append(Path(name).resolve())
            continue
        hits = sorted(nbtools.NOTEBOOK_DIR.glob(f"{Path(name).stem}*.ipynb"))
        if len(hits) != 1:
            raise ValueError(f"{name!r}: {len(hits)} notebooks in {nbtools.NOTEBOOK_DIR} start with it, not one")
        paths.append(hits[0])
    return paths


def reexecute(path: Path, output_dir: Path, timeout: int, kernel: str) -> None:
    """Execute ``path`` into ``output_dir`` with the profile and parameters its metadata records."""
    record = nbformat.read(path, as_version=4).metadata.get("emolib", {})
    if "profile" not in record:
        raise ValueError("its metadata records no profile (execute it with tools/notebooks.py run first)")
    nbtools.run([path], record["profile"], output_dir, timeout, None, kernel, output_dir / "logs",
                record.get("parameters"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="numbers (06), names or paths; none: every notebook")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR,
                        help="where the executed copies and the report go (default runs/verify)")
    parser.add_argument("--executed", type=Path, help="compare the copies in this folder; execute nothing")
    parser.add_argument("--report", type=Path, help="the JSON report (default OUTPUT_DIR/report.json)")
    parser.add_argument("--top", type=int, default=5, help="how many of the largest moves to show (default 5)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument("--kernel", default=nbtools.KERNEL, help=f"Jupyter kernel (default {nbtools.KERNEL})")
    args = parser.parse_args(argv)

    try:
        paths = find_notebooks(args.notebooks)
    except ValueError as exc:
        parser.error(str(exc))  # exit status 2
    copies = args.executed or args.output_dir
    reports, status = {}, 0
    for path in paths:
        try:
            if args.executed is None:
                reexecute(path, copies, args.timeout, args.kernel)
            report = compare(nbformat.read(path, as_version=4), nbformat.read(copies / path.name, as_version=4),
                             args.top)
        except Exception as exc:  # noqa: BLE001  (reported, and the other notebooks still run)
            last = (str(exc).strip().splitlines() or [""])[-1]
            report, status = {"error": f"{type(exc).__name__}: {last}"}, 2
        if report.get("verdicts", {}).get("changed"):
            status = max(status, 1)
        reports[path.name] = {"committed": str(path), "executed": str(copies / path.name), **report}
        print(report_text(path.name, report), flush=True)
    out = args.report or copies / "report.json"
    nbtools.write_json(out, {"notebooks": reports, "exit_status": status})
    changed = sum(len(r.get("verdicts", {}).get("changed", [])) for r in reports.values())
    print(f"{len(paths)} notebook(s): {changed} verdict(s) changed; report in {nbtools._shown(out)}; "
          f"exit status {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
