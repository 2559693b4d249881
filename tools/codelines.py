"""Code lines of Python files, counted as issue 25 counts them.

A code line is a line inside a statement of the syntax tree (the union of the spans
``lineno..end_lineno`` of every statement node), minus docstring lines and minus lines that
are blank or hold only a comment.

usage: python tools/codelines.py PATH [PATH ...] [--exclude SUBFOLDER ...]

Prints one line per file (count and path) and ``TOTAL N`` last.
"""

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path


def docstring_lines(tree: ast.AST) -> set:
    """Line numbers of the docstrings of a module and of its classes and functions.

    Parameters
    ----------
    tree : ast.AST
        A parsed module.

    Returns
    -------
    set of int
        The lines (1-based) those docstrings span.
    """
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def code_lines(source: str) -> int:
    """The number of code lines of a Python source.

    Parameters
    ----------
    source : str
        The text of a ``.py`` file.

    Returns
    -------
    int
        Lines spanned by statements, not counting docstrings, blank lines and lines that
        hold only a comment.
    """
    tree = ast.parse(source)
    spanned = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            # a decorated definition starts at its first decorator (its lineno is the ``def`` line)
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            spanned.update(range(start, node.end_lineno + 1))
    # lines holding a token other than a comment or a line break (a comment line inside a
    # statement, e.g. between the items of a list, is not code)
    tokens = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            tokens.update(range(tok.start[0], tok.end[0] + 1))
    return len((spanned & tokens) - docstring_lines(tree))


def python_files(paths, exclude=()) -> list:
    """The ``.py`` files under some paths.

    Parameters
    ----------
    paths : list of str or pathlib.Path
        Files or folders.
    exclude : list of str, optional
        Subfolders (relative to a folder in ``paths``, or any path) whose files are left out.

    Returns
    -------
    list of pathlib.Path
        The files, sorted, each once.
    """
    files = []
    for root in map(Path, paths):
        if root.is_file():
            files.append(root)
            continue
        skipped = [(root / e).resolve() for e in exclude] + [Path(e).resolve() for e in exclude]
        for p in sorted(root.rglob("*.py")):
            if not any(s in p.resolve().parents for s in skipped):
                files.append(p)
    return sorted(set(files))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="files or folders")
    parser.add_argument("--exclude", action="append", default=[], metavar="SUBFOLDER",
                        help="leave out a subfolder (repeatable)")
    args = parser.parse_args(argv)
    total = 0
    for path in python_files(args.paths, args.exclude):
        n = code_lines(path.read_text(encoding="utf-8"))
        total += n
        print(f"{n:6d} {path}")
    print("TOTAL", total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
