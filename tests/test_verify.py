"""tools/verify.py (make verify): numbers and verdicts of a committed notebook against a
re-executed copy, on notebooks built here; one end-to-end run executes a tiny notebook."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]


def _verify():
    spec = importlib.util.spec_from_file_location("verify", ROOT / "tools" / "verify.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


verify = _verify()

TABLE = """<table border="1" class="dataframe">
  <thead><tr style="text-align: right;"><th></th><th>A</th><th>B</th><th>verdict</th></tr>
    <tr><th>comparison (A vs B)</th><th></th><th></th><th></th></tr></thead>
  <tbody><tr><th>gray vs RGB</th><td>{a}</td><td>0.512</td><td>{verdict}</td></tr></tbody>
</table>"""


def notebook(accuracy="0.70", verdict="reverses", table_verdict="agrees", seconds=10.0):
    """A small executed notebook: a stream, a DataFrame (HTML table with a verdict column) and
    verdict lines in several of the phrasings tools/verify.py reads."""
    stream = (f"test accuracy {accuracy} after 12 epochs\n"
              f"simple_cnn vs vit: {verdict}\n"
              "cutmix -0.093 (paired differences from -0.100 to -0.083) -> worse\n"
              "saved -> runs/02_gray_vs_rgb_lesson/gray_seed0\n")
    table = {"text/html": TABLE.format(a=accuracy, verdict=table_verdict),
             "text/plain": f"             A      B  verdict\ngray vs RGB  {accuracy}  0.512  {table_verdict}"}
    nb = new_notebook(cells=[
        new_markdown_cell("# Fixture"),
        new_code_cell("print(...)", outputs=[new_output("stream", name="stdout", text=stream)]),
        new_code_cell("table", outputs=[new_output("execute_result", data=table, execution_count=2)]),
    ])
    nb.metadata["emolib"] = {"profile": "smoke", "seconds": seconds}
    return nb


def test_identical_notebooks_move_nothing_and_change_no_verdict():
    report = verify.compare(notebook(), notebook())
    assert report["numbers"]["moved"] == 0 and report["numbers"]["compared"] > 5
    assert report["verdicts"] == {"compared": 3, "changed": []}


def test_moved_numbers_and_changed_verdicts_are_reported():
    report = verify.compare(notebook(), notebook(accuracy="0.75", table_verdict="cannot tell: gap within noise"))
    moves = report["numbers"]["largest_absolute"]
    assert report["numbers"]["moved"] == 2  # the stream's and the table's accuracy; 12 epochs did not move
    assert {(m["cell"], m["committed"], m["executed"]) for m in moves} == {(1, "0.70", "0.75"), (2, "0.70", "0.75")}
    assert moves[0]["absolute"] == pytest.approx(0.05) and moves[0]["relative"] == pytest.approx(0.05 / 0.7)
    assert "test accuracy 0.75 after 12 epochs" in {m["context"] for m in moves}
    assert report["verdicts"]["changed"] == [{"cell": 2, "comparison": "gray vs RGB", "committed": "agrees",
                                              "executed": "cannot tell: gap within noise"}]
    text = verify.report_text("fixture.ipynb", report)
    assert "1 CHANGED" in text and "gray vs RGB: agrees -> cannot tell: gap within noise" in text


def test_verdicts_are_read_in_every_documented_phrasing():
    lines = {
        "verdict: gray vs RGB: agrees": ("gray vs RGB", "agrees"),
        "Verdict on seed 003's claim: cannot compare: resnet_like did not learn": (
            "Verdict on seed 003's claim", "cannot compare: resnet_like did not learn"),
        "benchmark verdict, fer_finetune: cannot tell: gap within noise on real": (
            "benchmark verdict, fer_finetune", "cannot tell: gap within noise on real"),
        "seed 003: 'batch size 32 is best' -> cannot tell: within the noise": (
            "seed 003: 'batch size 32 is best'", "cannot tell: within the noise"),
        "simple_cnn vs fer_frozen: reverses": ("simple_cnn vs fer_frozen", "reverses"),
        "FER2013 features, frozen, vs training from scratch: worse (0.647 vs 0.705)": (
            "FER2013 features, frozen, vs training from scratch", "worse (0.647 vs 0.705)"),
        "optimizer = adam: +0.186 (better)": ("optimizer = adam", "better"),
    }
    for line, expected in lines.items():
        cell = new_code_cell("", outputs=[new_output("stream", name="stdout", text=line + "\n")])
        assert verify.cell_verdicts(cell) == [expected], line
    several = "a minus b: -0.016 (t -1.4) within the noise; a minus c: +0.038 (t +5.5) better"
    cell = new_code_cell("", outputs=[new_output("stream", name="stdout", text=several)])
    assert verify.cell_verdicts(cell) == [("a minus b", "within the noise"), ("a minus c", "better")]
    for not_one in ("saved -> runs/x/y", "RandomFlip -> RandomRotation -> RandomContrast", "raw -> '<b>x</b>'",
                    "Epoch 3/12: loss 0.5"):
        cell = new_code_cell("", outputs=[new_output("stream", name="stdout", text=not_one)])
        assert verify.cell_verdicts(cell) == [], not_one


@pytest.mark.parametrize("name", ["02_simple_cnn_gray_vs_rgb", "03_class_imbalance", "05_transfer_learning",
                                  "06_resnet_like"])
def test_the_committed_notebooks_verdicts_are_found(name):
    """Every verdict line that evaluation.compare prints in a committed notebook (the one rule,
    ``verdict: B vs A: <outcome> (...)``) is read back as a verdict, and a notebook compared
    with itself changes none."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    printed = [line.split(": ", 2)[1] for cell in nb.cells if cell.cell_type == "code"
               for line in verify.output_lines(cell) if line.startswith("verdict: ") and line.count(": ") >= 2]
    found = {comparison for comparison, _ in verify.verdicts(nb).values()}
    assert printed and set(printed) <= found, sorted(set(printed) - found)
    assert verify.compare(nb, nb)["verdicts"]["changed"] == []


def test_main_compares_executed_copies_and_exits_1_on_a_changed_verdict(tmp_path, capsys):
    (tmp_path / "committed").mkdir()
    (tmp_path / "executed").mkdir()
    nbformat.write(notebook(), tmp_path / "committed" / "fixture.ipynb")
    nbformat.write(notebook(seconds=12.0), tmp_path / "executed" / "fixture.ipynb")
    args = [str(tmp_path / "committed" / "fixture.ipynb"), "--executed", str(tmp_path / "executed")]
    assert verify.main(args) == 0
    assert "verdicts: 3 compared, none changed" in capsys.readouterr().out
    nbformat.write(notebook(accuracy="0.71", verdict="agrees", seconds=12.0), tmp_path / "executed" / "fixture.ipynb")
    assert verify.main(args) == 1
    out = capsys.readouterr().out
    assert "re-executed in 12 s, committed 10 s, x1.20" in out, out
    assert "simple_cnn vs vit: reverses -> agrees" in out and "exit status 1" in out
    report = json.loads((tmp_path / "executed" / "report.json").read_text())
    entry = report["notebooks"]["fixture.ipynb"]
    assert report["exit_status"] == 1 and entry["seconds"] == {"committed": 10.0, "executed": 12.0}
    assert entry["verdicts"]["changed"] == [{"cell": 1, "comparison": "simple_cnn vs vit", "committed": "reverses",
                                             "executed": "agrees"}]
    assert entry["numbers"]["moved"] == 2
    with pytest.raises(SystemExit) as exit_status:  # no notebook 99
        verify.main(["99", "--executed", str(tmp_path / "executed")])
    assert exit_status.value.code == 2


def test_verify_re_executes_a_notebook_end_to_end(tmp_path):
    """`python tools/verify.py NB`: executes a tiny notebook with the emolib-ci kernel and the profile
    its metadata records, and compares it with the outputs it was committed with."""
    nb = new_notebook(cells=[
        new_code_cell('import os\nPROFILE = os.environ.get("EMOLIB_PROFILE", "lesson")', metadata={"tags": ["parameters"]}),
        new_code_cell('print(f"profile {PROFILE}: accuracy 0.75")\nprint("A vs B: agrees")'),
    ])
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="profile smoke: accuracy 0.7\nA vs B: reverses\n")]
    nb.metadata["emolib"] = {"profile": "smoke", "seconds": 1.0}
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    proc = subprocess.run(
        [sys.executable, "tools/verify.py", str(tmp_path / "tiny.ipynb"), "--output-dir", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EMOLIB_PROFILE": "lesson"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())["notebooks"]["tiny.ipynb"]
    assert report["profile"] == "smoke"  # from the metadata, not the environment
    assert [(m["committed"], m["executed"]) for m in report["numbers"]["largest_absolute"]] == [("0.7", "0.75")]
    assert report["verdicts"]["changed"][0]["executed"] == "agrees"
    assert nbformat.read(tmp_path / "out" / "tiny.ipynb", as_version=4).metadata["emolib"]["profile"] == "smoke"
