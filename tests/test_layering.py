"""emolib's layers, read from its source: what imports what, and which paths it may name.

The rules (issue 25): the core (data, pipeline, models, experiment, evaluation) never reaches the
notebook helpers; building a model from scratch never loads the download code; no module names
the project's shared folder, its benchmarks/ folder or a path beside its own file (packaged data
is read with importlib.resources); and no import cycle, the face generator included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ("emolib.data", "emolib.pipeline", "emolib.models", "emolib.experiment", "emolib.evaluation")


def module_files(package="emolib"):
    """``{module name: path}`` of every module of ``package`` (a package is its ``__init__``)."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = {**module_files("emolib"), **module_files("facegen")}


def _resolve(module, node):
    """The modules of the project that an import node names, from inside ``module``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")
        base = ".".join(base[: len(base) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module
    # `from . import net` names the module emolib.net; `from .base import X` names emolib.data.base.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports(module, top_level_only):
    """The project modules ``module`` imports (statements at module level only, or anywhere)."""
    tree = ast.parse(MODULES[module].read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(name for name in _resolve(module, node) if name in MODULES and name != module)
    return found


def reachable(start, top_level_only):
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for dep in imports(module, top_level_only):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_import_reader_sees_imports():
    """The rules below mean something only if the reader finds real imports."""
    assert "emolib.runs" in imports("emolib.experiment", top_level_only=True)
    assert "emolib.models" in imports("emolib.experiment", top_level_only=False)
    assert "emolib.net" in imports("emolib.data.fer2013", top_level_only=True)
    assert "emolib.data.base" in imports("emolib.data", top_level_only=True)
    assert "emolib.notebook" in reachable("emolib.realphotos", top_level_only=False)  # not core: allowed
    assert "a" in reachable_in({"a": {"b"}, "b": {"a"}}, "a")  # a cycle is seen


@pytest.mark.parametrize("core", [m for m in MODULES if m.startswith(CORE)])
def test_the_core_never_reaches_the_notebook_helpers(core):
    assert "emolib.notebook" not in reachable(core, top_level_only=False), core


def test_models_never_import_the_network_code():
    assert "emolib.net" not in reachable("emolib.models", top_level_only=True)
    code = ("import sys; from emolib.models import simple_cnn; simple_cnn((48, 48, 1), 4); "
            "print(sorted(m for m in sys.modules if m in ('emolib.net', 'emolib.transfer', 'emolib.notebook')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_import_cycle():
    graph = {m: imports(m, top_level_only=True) for m in MODULES}
    for module in graph:
        # A package importing its own submodules is how packages work; a submodule importing
        # the package back is the cycle to avoid.
        assert module not in reachable_in(graph, module), f"{module} imports itself through {graph[module]}"


def reachable_in(graph, start):
    seen, todo = set(), [d for d in graph[start] if not d.startswith(start + ".")]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def _strings(tree):
    """Every string constant of ``tree`` that is not a docstring."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("emolib")])
def test_no_module_names_a_path_of_this_repository(module):
    source = MODULES[module].read_text()
    tree = ast.parse(source)
    for text in _strings(tree):
        parts = text.replace("\\", "/").split("/")
        assert "shared" not in parts and "benchmarks" not in parts and "../shared" not in text, (module, text)
    assert "__file__" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}, module


def test_the_path_rule_would_see_a_violation():
    bad = ast.parse('"""docs may say ../shared"""\nPATH = Path("..") / "shared" / "facial-expressions"\n')
    assert "shared" in _strings(bad) and not any("docs" in s for s in _strings(bad))


def test_packaged_data_is_declared_for_a_non_editable_install():
    """importlib.resources finds the files only if the wheel ships them (pyproject's package-data)."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["emolib"]
    for pattern, example in (("results/*.json", "results/real_photos.json"),
                             ("data/goemotions/*", "data/goemotions/emotions.txt")):
        assert pattern in declared and (ROOT / "emolib" / example).is_file()
