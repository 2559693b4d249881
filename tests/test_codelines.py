"""tools/codelines.py counts code lines as issue 25 does: lines of ast statements, not docstrings,
comments or blank lines."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _codelines():
    spec = importlib.util.spec_from_file_location("codelines", ROOT / "tools" / "codelines.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_counts_statement_lines_only():
    source = '''"""Module docstring,
over two lines."""

import os  # a comment after code counts

# a comment alone does not


@staticmethod
def f(a,
      b):
    """Docstring."""
    x = [
        1,  # inside a statement
        # a comment line inside a statement does not
        2,
    ]
    return x
'''
    # import, decorator, def (2 lines), x = [ ... ] without its comment line (4), return
    assert _codelines().code_lines(source) == 1 + 1 + 2 + 4 + 1


def test_cli_prints_files_and_the_total(tmp_path, capsys):
    tool = _codelines()
    (tmp_path / "pkg" / "skip").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "pkg" / "skip" / "b.py").write_text("z = 3\n")
    assert tool.main([str(tmp_path / "pkg")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "TOTAL 3"
    tool.main([str(tmp_path / "pkg"), "--exclude", "skip"])
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "TOTAL 2" and len(out) == 2
