"""Atomic writes leave either the complete new file or the old one, never a
partial file or a temporary file, and give normal permissions."""

import json
import os
import stat

import pytest

from emolib.fileio import atomic_path, _temp_dir_beside, write_json, write_text


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_json_replaces_and_uses_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "result.json"
    write_json(target, {"a": 1})
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert _mode(target) == 0o666 & ~_umask_value()
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "notes.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_temp_dir_beside_is_hidden_and_not_private(tmp_path):
    d = _temp_dir_beside(tmp_path / "run")
    assert d.parent == tmp_path and d.name.startswith(".run.")
    assert _mode(d) & 0o055 == 0o055 & ~_umask_value()


def _umask_value():
    umask = os.umask(0)
    os.umask(umask)
    return umask
