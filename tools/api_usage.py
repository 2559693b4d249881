"""Who uses each module-level name of emolib.

For every name defined at module level in ``emolib/`` (functions, classes, constants), this
finds which code outside its own module refers to it: the notebooks' code cells, the
benchmarks, the tools, the command line (``emolib/cli.py``, ``emolib/__main__.py``), other
emolib modules and the tests. A reference is found from the code's syntax tree: an import
(``from emolib.x import name``) or an attribute of an imported emolib module
(``emolib.x.name``, ``x.name``), followed through re-exports (``emolib.data`` importing
from ``emolib.data.base``).

usage: python tools/api_usage.py [--public] [--unused] [--private-candidates]

Prints one line per name: ``module.name  kind  users``, and the counts last.
"""

import argparse
import ast
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "emolib"

#: Who counts as a user of the public API (the rest: "emolib" and "tests" do not).
API_USERS = ("notebooks", "cli", "benchmarks", "tools")

#: Public for a reason other than a user in :data:`API_USERS`, with the reason.
KEPT_PUBLIC = {
    ("emolib.data", "load_class_folders"): "the messages of write_class_folders and the FER2013 loader name it",
    ("emolib.data.real", "load_class_folders"): "the messages of write_class_folders and the FER2013 loader name it",
    ("emolib.data.real", "load_labels_csv"): "notebook 01's prose tells the learner to call it (identity_pattern)",
    ("emolib.models", "basic_block"): "notebook 06's exercise (and its solution) tells the learner to copy it",
}


def module_name(path: Path) -> str:
    """Dotted name of a module file under the repository root.

    Parameters
    ----------
    path : pathlib.Path
        A ``.py`` file of the ``emolib`` package.

    Returns
    -------
    str
        Its module name, e.g. ``"emolib.data.base"`` (``"emolib.data"`` for an ``__init__.py``).
    """
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict:
    """The emolib modules and their syntax trees.

    Returns
    -------
    dict
        ``{module name: (path, ast.Module)}`` for every ``.py`` file of ``emolib/``.
    """
    return {module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))}


def _top_level(tree):
    """Top-level statements, including those inside top-level if/try/with blocks."""
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                todo.extend(getattr(node, field, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                todo.extend(handler.body)


def _resolve_from(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def definitions(modules=None) -> dict:
    """Module-level names each emolib module defines (not the ones it imports).

    Parameters
    ----------
    modules : dict, optional
        :func:`package_modules`' result (read again when omitted).

    Returns
    -------
    dict
        ``{module name: {name: kind}}`` with kind ``"function"``, ``"class"`` or ``"constant"``.
    """
    modules = modules or package_modules()
    out = {}
    for mod, (_, tree) in modules.items():
        names = {}
        for node in _top_level(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names[node.name] = "function"
            elif isinstance(node, ast.ClassDef):
                names[node.name] = "class"
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for t in ast.walk(target):
                        if isinstance(t, ast.Name) and t.id not in names:
                            names[t.id] = "constant"
        names.pop("__all__", None)
        out[mod] = names
    return out


def _reexports(modules) -> dict:
    """``{(module, name): (source module, source name)}`` for the top-level from-imports of emolib."""
    out = {}
    for mod, (path, tree) in modules.items():
        for node in _top_level(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve_from(mod, node, path.name == "__init__.py")
                for alias in node.names:
                    out[(mod, alias.asname or alias.name)] = (src, alias.name)
    return out


def home(module: str, name: str, defs: dict, reexports: dict):
    """Where a name reached as ``module.name`` is defined, following re-exports.

    Parameters
    ----------
    module, name : str
        The module a reference goes through and the name it asks for.
    defs : dict
        :func:`definitions`' result.
    reexports : dict
        The re-exports of the package (see :func:`references`).

    Returns
    -------
    tuple of (str, str) or None
        ``(defining module, name)`` (for a re-export of another package's name, that package's
        module), or None when it is a module or not an emolib name.
    """
    for _ in range(10):
        if name in defs.get(module, {}):
            return module, name
        if (module, name) not in reexports:
            return None
        module, name = reexports[(module, name)]
        if module.split(".")[0] != "emolib":
            return module, name  # a re-export of another package's name (facegen's)
    return None


def references(tree, module=None, is_package=False, modules=()):
    """The emolib names a piece of code refers to.

    Parameters
    ----------
    tree : ast.AST
        The code.
    module : str, optional
        Its own module name, when it is an emolib module (for relative imports).
    is_package : bool
        Whether that module is a package's ``__init__``.
    modules : collection of str
        The emolib module names (to tell ``from emolib import data`` from a name).

    Returns
    -------
    set of tuple of (str, str)
        ``(module, name)`` pairs as written (re-exports not followed).
    """
    aliases = {}  # local name -> emolib module
    refs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "emolib":
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["emolib"] = "emolib"
        elif isinstance(node, ast.ImportFrom):
            src = _resolve_from(module or "", node, is_package) if node.level else (node.module or "")
            if src.split(".")[0] != "emolib":
                continue
            for alias in node.names:
                full = f"{src}.{alias.name}"
                if full in modules:
                    aliases[alias.asname or alias.name] = full
                else:
                    refs.add((src, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = []
            inner = node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if not isinstance(inner, ast.Name) or inner.id not in aliases:
                continue
            mod = aliases[inner.id]
            for attr in reversed(chain):
                if f"{mod}.{attr}" in modules:
                    mod = f"{mod}.{attr}"
                    continue
                refs.add((mod, attr))
                break
    return refs


def notebook_tree(path: Path) -> ast.Module:
    """The code cells of a notebook as one syntax tree.

    Parameters
    ----------
    path : pathlib.Path
        A ``.ipynb`` file.

    Returns
    -------
    ast.Module
        Every code cell's statements in order (IPython magics and shell lines left out).
    """
    body = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        lines = [l[: len(l) - len(l.lstrip())] + "pass" if l.lstrip().startswith(("%", "!")) else l for l in lines]
        body.extend(ast.parse("\n".join(lines)).body)
    return ast.Module(body=body, type_ignores=[])


def consumers():
    """The code outside the package that may use emolib, by kind of user.

    Returns
    -------
    list of tuple of (str, str, ast.Module)
        ``(user kind, file, tree)``: user kind ``"notebooks"``, ``"benchmarks"``, ``"tools"``
        or ``"tests"``.
    """
    out = []
    for nb in [*sorted((ROOT / "notebooks").glob("*.ipynb")), *sorted((ROOT / "solutions").glob("*.ipynb"))]:
        out.append(("notebooks", nb.name, notebook_tree(nb)))  # the exercises' solutions are part of the course
    for kind, folder in (("benchmarks", "benchmarks"), ("tools", "tools"), ("tests", "tests")):
        for p in sorted((ROOT / folder).glob("*.py")):
            out.append((kind, p.name, ast.parse(p.read_text(encoding="utf-8"))))
    return out


def usage() -> dict:
    """Who uses each module-level name of emolib.

    Returns
    -------
    dict
        ``{(module, name): {"kind": kind, "users": set of user kinds}}``; user kinds are
        ``"notebooks"``, ``"cli"``, ``"benchmarks"``, ``"tools"``, ``"tests"``, ``"emolib"``
        (another emolib module) and ``"own"`` (its own module refers to it by name).
    """
    modules = package_modules()
    defs = definitions(modules)
    reexports = _reexports(modules)
    names = set(modules)
    table = {(m, n): {"kind": k, "users": set()} for m, d in defs.items() for n, k in d.items()}

    for kind, _, tree in consumers():
        for ref in references(tree, modules=names):
            where = home(*ref, defs, reexports)
            if where:
                table.setdefault(where, {"kind": "re-export", "users": set()})["users"].add(kind)
                if where not in defs.get(where[0], {}):
                    table[where].setdefault("through", set()).add(ref[0])
    for mod, (path, tree) in modules.items():
        user = "cli" if mod in ("emolib.cli", "emolib.__main__") else "emolib"
        refs = references(tree, mod, path.name == "__init__.py", names)
        # a re-export alone (``from .base import X`` in a package) is not a use
        reexported = {(mod, a.asname or a.name) for n in _top_level(tree) if isinstance(n, ast.ImportFrom)
                      for a in n.names}
        for ref in refs:
            where = home(*ref, defs, reexports)
            if not where or where[0] == mod:
                continue
            local = ref[1]
            direct = any(isinstance(n, ast.Name) and n.id == local for n in ast.walk(tree))
            if (mod, local) in reexported and not direct and path.name == "__init__.py":
                continue
            table.setdefault(where, {"kind": "re-export", "users": set()})["users"].add(user)
            if where not in defs.get(where[0], {}):
                table[where].setdefault("through", set()).add(ref[0])
        loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for name in defs[mod]:
            if name in loads:
                table[(mod, name)]["users"].add("own")
    return table


def public_api(table=None) -> dict:
    """What each emolib module's ``__all__`` should list.

    Parameters
    ----------
    table : dict, optional
        :func:`usage`'s result (computed when omitted).

    Returns
    -------
    dict
        ``{module name: sorted list of names}``: the public names the module defines, and the
        names it re-exports that code outside emolib reaches through it (``emolib.data``'s
        ``EmotionDataset``, ``emolib.data.synthetic``'s facegen names).
    """
    table = usage() if table is None else table
    modules = package_modules()
    defs = definitions(modules)
    reexports = _reexports(modules)
    out = {mod: sorted(n for n in names if is_public(n)) for mod, names in defs.items()}
    used_through = set()
    for kind, _, tree in consumers():
        if kind in API_USERS:
            used_through |= references(tree, modules=set(modules))
    for mod, (path, tree) in modules.items():
        user = "cli" if mod in ("emolib.cli", "emolib.__main__") else None
        if user:
            used_through |= references(tree, mod, path.name == "__init__.py", set(modules))
    for mod, name in KEPT_PUBLIC:
        if name not in out[mod]:
            out[mod] = sorted(out[mod] + [name])
    for (mod, name), _ in reexports.items():
        if is_public(name) and (mod, name) in used_through and name not in out[mod]:
            if home(mod, name, defs, reexports):
                out[mod] = sorted(out[mod] + [name])
    return out


def shown_in_notebooks() -> dict:
    """The emolib functions and classes whose source a notebook shows (``show_source(f)``).

    Their source is in the notebooks' committed outputs, so changing it (a docstring, a name
    it calls) makes those outputs stale until the notebook is executed again.

    Returns
    -------
    dict
        ``{(module, name): set of (module, name)}``: each shown object and the emolib names its
        source refers to (through its module's namespace or an imported module).
    """
    import inspect

    modules = package_modules()
    defs = definitions(modules)
    reexports = _reexports(modules)
    names = set(modules)
    shown = set()
    for kind, _, tree in consumers():
        if kind != "notebooks":
            continue
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "show_source"]
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        args = [ast.Expr(value=c.args[0]) for c in calls if c.args]
        refs = references(ast.Module(body=imports + args, type_ignores=[]), modules=names)
        refs -= references(ast.Module(body=imports, type_ignores=[]), modules=names)
        direct = {getattr(c.args[0], "id", None) for c in calls if c.args}
        refs |= {r for r in references(tree, modules=names) if r[1] in direct}
        shown |= {h for h in (home(*r, defs, reexports) for r in refs) if h}
    out = {}
    for mod, name in shown:
        path, tree = modules[mod]
        node = next(n for n in tree.body if getattr(n, "name", None) == name)
        words = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        words |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
        doc = inspect.cleandoc(ast.get_docstring(node) or "")
        words |= set(re.findall(r"[A-Za-z_]\w*", doc))
        named = {(mod, w) for w in words if w in defs[mod]}
        for (m, local), (src, orig) in reexports.items():
            if m == mod and local in words:
                target = home(src, orig, defs, reexports)
                if target:
                    named.add(target)
        for m, d in defs.items():  # module.name through an imported module
            named |= {(m, w) for w in words & set(d) if m != mod and any(
                isinstance(n, ast.Attribute) and n.attr == w for n in ast.walk(node))}
        out[(mod, name)] = named
    return out


def is_public(name: str) -> bool:
    """Whether a module-level name is public (no leading underscore, not a dunder)."""
    return not name.startswith("_")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public", action="store_true", help="only public names")
    parser.add_argument("--unused", action="store_true", help="only names nothing uses")
    parser.add_argument("--private-candidates", action="store_true",
                        help="only public names no notebook, CLI, benchmark or tool uses")
    args = parser.parse_args(argv)
    table = usage()
    shown = 0
    for (mod, name), row in sorted(table.items()):
        users = row["users"]
        if (args.public or args.private_candidates) and not is_public(name):
            continue
        if args.unused and users:
            continue
        if args.private_candidates and users & set(API_USERS):
            continue
        shown += 1
        print(f"{mod}.{name:40s} {row['kind']:9s} {','.join(sorted(users)) or '-'}")
    public = [k for k in table if is_public(k[1])]
    api = [k for k in public if table[k]["users"] & set(API_USERS)]
    print(f"shown {shown}; names {len(table)}, public {len(public)}, public and used by an API user {len(api)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
