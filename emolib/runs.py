"""The run folders on disk: the only module that knows their layout.

:func:`emolib.experiment.run_experiment` saves each run as ``runs/<experiment>/<run>/``
with ``config.json``, ``history.csv`` (Keras' CSVLogger, epochs from 0), ``best.keras``
(the best validation epoch), ``metrics.json``, ``classification_report.txt``,
``confusion_matrix.csv`` / ``.png`` and ``learning_curves.png`` (the constants below).

* **Atomic**: a run is built in a hidden folder beside its place
  (``.<run>.tmp-<host>-<pid>-<random>``, :func:`work_dir`) and renamed when complete
  (:func:`install`); those of killed processes are cleaned up by :func:`_recover_runs`.
* **No silent overwrite**: :func:`install` replaces a run only when asked (a process
  killed between the swap's two renames is repaired by :func:`_recover_runs`);
  ``run="auto"`` numbers runs ``run-001``, ``run-002``, ... safely across processes.
* **Checked names**: no slashes, no leading dot, no control characters (a newline, a tab,
  an escape), at most :data:`_MAX_NAME_BYTES` bytes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import unicodedata
import warnings
import zlib
from pathlib import Path

from . import fileio
from .fileio import _jsonable, _temp_dir_beside

__all__ = [
    "METRICS_FILE", "MODEL_FILE", "RunFolderError", "install", "read_config", "read_metrics", "run_path", "work_dir"
]

_CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "best.keras"
_HISTORY_FILE = "history.csv"
_REPORT_FILE = "classification_report.txt"
_CONFUSION_CSV = "confusion_matrix.csv"
_CONFUSION_PNG = "confusion_matrix.png"
_CURVES_PNG = "learning_curves.png"
#: The files every complete run folder has.
_RUN_FILES = (MODEL_FILE, _CONFIG_FILE, METRICS_FILE)

#: Longest experiment or run name, in UTF-8 bytes: the hidden temporary folder adds
#: about 40 bytes, and most file systems allow 255.
_MAX_NAME_BYTES = 200


class RunFolderError(ValueError):
    """A run folder that is incomplete or damaged; the message is ``"'<folder>': <reason>"``.

    Parameters
    ----------
    folder : str or pathlib.Path
        The run folder.
    reason : str
        What is wrong, naming the file.

    Attributes
    ----------
    folder : pathlib.Path
        The run folder.
    reason : str
        What is wrong.
    """

    def __init__(self, folder, reason):
        super().__init__(f"'{folder}': {reason}")
        self.folder, self.reason = Path(folder), reason


def _check_name(name, what):
    """``name`` as a string, or ``ValueError`` naming ``what`` (``"experiment"``,
    ``"run"``) when it cannot be a folder name of its own."""
    name = str(name)
    if not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"invalid {what} name {name!r} (no slashes, must not start with '.')")
    control = [c for c in name if unicodedata.category(c) == "Cc"]
    if control:  # a newline or an escape would garble listings and terminals
        raise ValueError(f"invalid {what} name {name!r}: it contains a control character ({control[0]!r}); "
                         "use letters, digits, '-' and '_'")
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES:
        raise ValueError(f"{what} name is {len(name.encode('utf-8'))} bytes long, more than {_MAX_NAME_BYTES}: "
                         f"{name[:40]!r}...")
    return name


def run_path(runs_dir, experiment, run) -> Path:
    """The folder of a run.

    Parameters
    ----------
    runs_dir : str or pathlib.Path
        The folder of all experiments (``runs/``).
    experiment, run : str
        The experiment's and the run's names.

    Returns
    -------
    pathlib.Path
        ``runs_dir/experiment/run`` (it need not exist).
    """
    return Path(runs_dir) / str(experiment) / str(run)


_AUTO = re.compile(r"^run-(\d+)$")


def _next_auto_run(exp_dir) -> str:
    """The next free ``run-NNN`` name in the experiment folder ``exp_dir``."""
    numbers = [int(m.group(1)) for p in Path(exp_dir).glob("run-*") if (m := _AUTO.match(p.name))]
    return f"run-{max(numbers, default=0) + 1:03d}"


def _claim(runs_dir, experiment, run, overwrite=False) -> tuple[Path, str]:
    """Check the names and find where a new run goes, before anything is trained.

    Parameters
    ----------
    runs_dir : path
        The folder holding ``<experiment>/<run>/`` folders.
    experiment, run : str
        The names; ``run="auto"`` takes the next free ``run-NNN``.
    overwrite : bool
        Whether an existing run of that name may be replaced later (:func:`install`).

    Returns
    -------
    (Path, str)
        The experiment folder (left over work folders of killed processes cleaned up) and
        the run's name.

    Raises
    ------
    ValueError
        A name with a slash, a leading dot, a control character or too many bytes.
    FileExistsError
        The run exists, ``overwrite`` is false and ``run`` is not ``"auto"``.
    """
    _check_name(experiment, "experiment")
    exp_dir = Path(runs_dir) / str(experiment)
    if exp_dir.is_dir():
        _recover_runs(exp_dir)
    if run == "auto":
        return exp_dir, _next_auto_run(exp_dir)
    run = _check_name(run, "run")
    if (exp_dir / run).exists() and not overwrite:
        raise FileExistsError(
            f"run folder '{exp_dir / run}' already exists; choose another run name, pass "
            "overwrite=True to replace it, or use run='auto' to number runs"
        )
    return exp_dir, run


def _is_complete(run_dir) -> bool:
    """Whether ``run_dir`` has every file of :data:`_RUN_FILES`."""
    return all((Path(run_dir) / name).is_file() for name in _RUN_FILES)


def _experiment_names(runs_dir) -> list[str]:
    """Sorted names of the experiments under ``runs_dir`` with at least one finished run
    (a visible run folder with ``metrics.json``)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    return sorted(p.name for p in runs_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and any(p.glob(f"[!.]*/{METRICS_FILE}")))


def _run_folders(runs_dir, experiment) -> list[Path]:
    """The run folders of an experiment, complete or not.

    Parameters
    ----------
    runs_dir : str or pathlib.Path
        The folder of all experiments.
    experiment : str
        The experiment's name.

    Returns
    -------
    list of pathlib.Path
        The visible (not hidden) folders of ``runs_dir/experiment``, sorted; empty when it does
        not exist.
    """
    exp_dir = Path(runs_dir) / str(experiment)
    if not exp_dir.is_dir():
        return []
    return sorted(p for p in exp_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_object(run_dir: Path, name: str) -> dict:
    try:
        value = json.loads((run_dir / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise RunFolderError(run_dir, f"cannot read {name} ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise RunFolderError(run_dir, f"{name} holds a JSON {type(value).__name__}, not an object")
    return value


def _read_run(run_dir) -> tuple:
    """The config and metrics of a complete run folder.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run folder.

    Returns
    -------
    tuple of (dict, dict)
        ``(config, metrics)``: its ``config.json`` and ``metrics.json``.

    Raises
    ------
    RunFolderError
        When a file of a complete run is missing or a JSON file is damaged.
    """
    run_dir = Path(run_dir)
    missing = [name for name in _RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise RunFolderError(run_dir, f"not a complete run folder (no {', '.join(missing)})")
    return _read_object(run_dir, _CONFIG_FILE), _read_object(run_dir, METRICS_FILE)


def read_metrics(run_dir) -> dict:
    """The metrics of a run folder (the rest of the folder may be absent).

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run folder.

    Returns
    -------
    dict
        Its ``metrics.json``; :class:`RunFolderError` naming the folder when that is missing
        or damaged.
    """
    return _read_object(Path(run_dir), METRICS_FILE)


def read_config(run_dir) -> dict:
    """The config of a run folder.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run folder.

    Returns
    -------
    dict
        Its ``config.json``, ``{}`` when there is none; :class:`RunFolderError` when it is damaged.
    """
    run_dir = Path(run_dir)
    return _read_object(run_dir, _CONFIG_FILE) if (run_dir / _CONFIG_FILE).is_file() else {}


def _finished_runs(runs_dir, experiments=None):
    """Yield ``(run_dir, config, metrics)`` for each finished run (visible, with ``metrics.json``)
    under ``runs_dir`` (of the set ``experiments`` when given), sorted, after :func:`_recover_runs`;
    a folder :func:`_read_run` cannot read is skipped with a warning saying why."""
    for exp_dir in sorted(d for d in Path(runs_dir).iterdir() if d.is_dir() and not d.name.startswith(".")):
        if experiments is not None and exp_dir.name not in experiments:
            continue
        _recover_runs(exp_dir)
        for run_dir in _run_folders(exp_dir.parent, exp_dir.name):
            if not (run_dir / METRICS_FILE).is_file():
                continue
            try:
                config, metrics = _read_run(run_dir)
            except RunFolderError as exc:  # one damaged folder must not hide every other run
                warnings.warn(f"skipping {exc}", stacklevel=3)
                continue
            yield run_dir, config, metrics


# Hidden work folders beside a run are named ".<run>.<kind>-<host>-<pid>-<random>" (kind "tmp":
# a run being built; "old": the run an overwrite is replacing), so that the folders of a
# process that died (killed mid-run or mid-overwrite) can be told from those of a live one.
# (DOTALL and fullmatch: a run name may hold a newline, as older versions allowed.)
_WORK = re.compile(r"\.(?P<run>.+)\.(?P<kind>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[^.]+", re.DOTALL)

#: Test hook: called between the two renames of an overwrite (to inject a crash there).
_BETWEEN_RENAMES = None


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def work_dir(final, kind="tmp") -> Path:
    """A new hidden folder beside a run folder, named after this host and process.

    Parameters
    ----------
    final : str or pathlib.Path
        The run folder.
    kind : {"tmp", "old"}
        ``"tmp"``: to build a run in; ``"old"``: to move an overwritten run aside into.

    Returns
    -------
    pathlib.Path
        The new, empty folder.
    """
    return _temp_dir_beside(final, f"{kind}-{_host_tag()}-{os.getpid()}")


def _write_json(path, obj) -> Path:
    """Write ``obj`` as strict JSON (NaN and infinities become ``null``)."""
    return fileio.write_json(path, _jsonable(obj), allow_nan=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _dead_work_dirs(exp_dir: Path) -> list:
    """``(match, folder)`` of the hidden work folders of this host's dead processes."""
    host, dead = _host_tag(), []
    for entry in exp_dir.iterdir() if exp_dir.is_dir() else ():
        m = _WORK.fullmatch(entry.name)
        if m and entry.is_dir() and m["host"] == host and int(m["pid"]) != os.getpid() and not _alive(int(m["pid"])):
            dead.append((m, entry))
    return dead


def _finish_overwrite(exp_dir: Path, m, old: Path, dead: list):
    """Install the new run of a killed overwrite, or put the old one back; the action taken or None."""
    run, final = m["run"], exp_dir / m["run"]
    action = None
    if not final.exists():
        new = [e for mm, e in dead if mm["kind"] == "tmp" and mm["run"] == run and mm["pid"] == m["pid"]
               and e.exists() and _is_complete(e)]
        if new:
            os.rename(new[0], final)
            action = "finished overwrite"
        elif (old / run).is_dir():
            os.rename(old / run, final)
            action = "restored"
    shutil.rmtree(old, ignore_errors=True)
    return action


def _recover_runs(exp_dir) -> list:
    """Finish what killed processes of this host left in the experiment folder ``exp_dir``.

    A process killed between an overwrite's two renames leaves both runs hidden: the new
    one is installed if complete, else the old one put back. Hidden work folders of dead
    processes are deleted. Returns ``[(action, run name)]``.
    """
    exp_dir = Path(exp_dir)
    dead = _dead_work_dirs(exp_dir)
    done = []
    for m, old in (d for d in dead if d[0]["kind"] == "old"):
        action = _finish_overwrite(exp_dir, m, old, dead)
        if action:
            done.append((action, m["run"]))
            warnings.warn(f"'{exp_dir / m['run']}': {action} (its process was killed during an overwrite)",
                          stacklevel=2)
    for m, tmp in (d for d in dead if d[0]["kind"] == "tmp"):
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            done.append(("removed unfinished", m["run"]))
    return done


def _rename_new(tmp: Path, final: Path):
    """``os.rename`` that reports a taken name as ``FileExistsError`` (a non-empty
    folder is never replaced)."""
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) or final.exists():
            raise FileExistsError(errno.EEXIST, "run folder exists", str(final)) from exc
        raise


def _install_auto(tmp: Path, exp_dir: Path, config: dict) -> Path:
    # Another process may take a number at any moment: the name is chosen, written
    # into config.json and claimed by the rename, retried with the next free number.
    for _ in range(1000):
        final = exp_dir / _next_auto_run(exp_dir)
        config["run"] = final.name
        _write_json(tmp / _CONFIG_FILE, config)
        try:
            _rename_new(tmp, final)
            return final
        except FileExistsError:
            continue
    raise FileExistsError(f"could not claim a run-NNN name in '{exp_dir}'")


def _swap(tmp: Path, final: Path, attempts=100):
    """Replace the run folder ``final`` (if there is one) by ``tmp``: the old run is renamed aside first.

    Another process overwriting the same run at the same time may move ``final`` aside, or
    install its own run, between these steps: this one then installs after it (the later
    overwrite wins). Its hidden folder for the old run is always removed.
    """
    for _ in range(attempts):
        old = work_dir(final, "old")
        try:
            try:
                os.rename(final, old / final.name)
            except FileNotFoundError:  # no run there: never was, or another overwrite has it aside
                try:
                    _rename_new(tmp, final)
                    return
                except FileExistsError:  # ... and that one was installed meanwhile: replace it
                    continue
            try:
                if _BETWEEN_RENAMES is not None:
                    _BETWEEN_RENAMES()
                _rename_new(tmp, final)
                return
            except FileExistsError:  # another overwrite installed its run in between: replace it
                continue
            except BaseException:
                os.rename(old / final.name, final)  # put the earlier run back
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise FileExistsError(f"could not overwrite run folder '{final}': other processes kept replacing it")


def install(tmp, final, config: dict, overwrite=False, auto=False) -> Path:
    """Install a finished work folder as a run folder.

    Parameters
    ----------
    tmp : str or pathlib.Path
        The work folder (see :func:`work_dir`) holding the run's files.
    final : str or pathlib.Path
        The run folder it becomes.
    config : dict
        The run's config, written as ``config.json`` with its ``"run"`` set to the final name.
    overwrite : bool, default False
        Replace an existing ``final`` (else ``FileExistsError``).
    auto : bool, default False
        Use the next free ``run-NNN`` beside ``final`` instead.

    Returns
    -------
    pathlib.Path
        The run folder.
    """
    tmp, final = Path(tmp), Path(final)
    if auto:
        return _install_auto(tmp, final.parent, config)
    config["run"] = final.name
    _write_json(tmp / _CONFIG_FILE, config)
    taken = f"run folder '{final}' was created while this run was training; pass overwrite=True or run='auto'"
    if overwrite:  # whether or not it exists now: another process may be replacing it at this moment
        _swap(tmp, final)
        return final
    if final.exists():
        raise FileExistsError(taken)
    try:
        _rename_new(tmp, final)
    except FileExistsError:
        raise FileExistsError(taken) from None
    return final
