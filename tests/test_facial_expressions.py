"""The muxspace/facial_expressions layout: loader on a fixture written here (generated
images, made-up names), the archive download against a server on 127.0.0.1, a stalled
server, and the shared copy (../shared/facial-expressions, skipped where absent)."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emolib import net
from emolib.data import load_dataset
from emolib.data.splits import _group_splits
from emolib.data.facial_expressions import (
    _download_facial_expressions,
    _load_facial_expressions,
    _PERSON,
    _identity_from_names,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "facial-expressions"

# (person, number of photos, label as the legend writes it); made-up names
PEOPLE = (
    [(f"Person_H{i}", 3, "happiness") for i in range(8)]
    + [(f"Person_N{i}", 3, "NEUTRAL") for i in range(8)]
    + [(f"Person_S{i}", 2, "sadness") for i in range(7)]
    + [(f"Solo{i}", 2, "SURPRISE") for i in range(7)]   # Name_12.jpg style
    + [("Person_C0", 2, "contempt")]
)


def _jpeg_bytes(rng, size=(40, 36), mode="L"):
    array = rng.integers(0, 256, (size[1], size[0]) + (() if mode == "L" else (3,)), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "JPEG")
    return buf.getvalue()


def _files(rng):
    """(legend text, {image name: bytes}) for the fixture."""
    rows, files = ["user.id,image,emotion"], {}
    for person, count, label in PEOPLE:
        for k in range(1, count + 1):
            name = f"{person}_{k:04d}.jpg" if person.startswith("Person") else f"{person}_{k}.jpg"
            files[name] = _jpeg_bytes(rng, mode="RGB" if k == 1 else "L")
            rows.append(f"tester,{name},{label}")
    return "\n".join(rows) + "\n", files


def write_copy(root: Path, seed=0) -> Path:
    legend, files = _files(np.random.default_rng(seed))
    (root / "data").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "data" / "legend.csv").write_text(legend)
    for name, data in files.items():
        (root / "images" / name).write_bytes(data)
    return root


def archive_bytes(seed=0, drop_image=False) -> bytes:
    legend, files = _files(np.random.default_rng(seed))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("facial_expressions-master/README.md", "fixture\n")
        z.writestr("facial_expressions-master/data/legend.csv", legend)
        for i, (name, data) in enumerate(files.items()):
            if drop_image and i == 3:
                continue
            z.writestr(f"facial_expressions-master/images/{name}", data)
    return buf.getvalue()


@pytest.fixture
def copy(tmp_path):
    return write_copy(tmp_path / "fe")


def test_person_from_filename():
    persons, unmatched = _identity_from_names(["Person_A_0003.jpg", "Solo_12.jpg", "some-file_123k.jpg"],
                                              _PERSON.pattern)
    assert list(persons) == ["Person_A", "Solo", "some-file_123k"] and unmatched == 1


def test_loader_labels_contempt_and_person_disjoint(copy):
    ds = load_dataset(copy, image_size=32, test_fraction=0.25, val_fraction=0.25)
    assert ds.class_names == ("happy", "sad", "surprise", "neutral")
    assert ds.image_shape == (32, 32, 1)
    assert ds.info["contempt_rows"] == 2 and ds.info["dropped"] == 2 and ds.info["contempt_policy"] == "drop"
    assert int(ds.counts().to_numpy().sum()) == 24 + 24 + 14 + 14
    ids = {k: set(ds[k].meta["identity"]) for k in ("train", "val", "test")}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])
    assert (ds.counts() > 0).all().all()  # stratified: every class in every split
    meta = ds.train.meta
    assert set(meta["orig_label"]) <= {"happiness", "NEUTRAL", "sadness", "SURPRISE"}
    assert [ds.class_names[i] for i in ds.train.labels] == list(meta["emotion"])
    assert "Solo0" in set().union(*ids.values())


def test_loader_contempt_as_disgust_and_classes(copy):
    ds = _load_facial_expressions(copy, contempt="disgust", image_size=16, channels=3)
    assert "disgust" in ds.class_names and ds.info["contempt_rows"] == 2 and ds.info["dropped"] == 0
    assert ds.image_shape == (16, 16, 3)
    four = _load_facial_expressions(copy, classes="seed003", image_size=16)
    assert four.class_names == ("happy", "neutral", "sad", "surprise")
    with pytest.raises(ValueError, match="contempt"):
        _load_facial_expressions(copy, contempt="keep")


def test_balanced_test_split(copy):
    ds = _load_facial_expressions(copy, classes="seed003", image_size=16, test_fraction=0.34,
                                 val_fraction=0.2, balanced_test=True)
    test_counts = ds.counts()["test"].to_numpy()
    assert len(set(test_counts)) == 1 and test_counts[0] >= 2
    assert ds.info["test_dropped_for_balance"] == (
        int(_load_facial_expressions(copy, classes="seed003", image_size=16, test_fraction=0.34,
                                    val_fraction=0.2).counts()["test"].sum()) - int(test_counts.sum()))
    capped = _load_facial_expressions(copy, classes="seed003", image_size=16, test_fraction=0.34,
                                     val_fraction=0.2, balanced_test=2)
    assert capped.counts()["test"].max() == 2


def test_splits_use_whole_groups():
    labels = np.repeat([0, 1, 2], 40)
    groups = np.array([f"g{i // 4}" for i in range(120)])
    split = _group_splits(labels, groups, 0.2, 0.2, seed=3)
    for g in np.unique(groups):
        assert len(set(split[groups == g])) == 1
    assert 0.1 < np.mean(split == "test") < 0.3 and 0.1 < np.mean(split == "val") < 0.3


def test_bad_copy_errors(tmp_path, copy):
    with pytest.raises(FileNotFoundError, match="git clone"):
        _load_facial_expressions(tmp_path / "missing")
    (copy / "images" / "Person_H0_0002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="Person_H0_0002.jpg.*row 1"):
        _load_facial_expressions(copy)
    (copy / "data" / "legend.csv").write_text("user.id,image,emotion\nx,Person_H0_0001.jpg,bored\n")
    with pytest.raises(ValueError, match="row 0.*'bored'"):
        _load_facial_expressions(copy)
    (copy / "data" / "legend.csv").write_text("user.id,image\nx,Person_H0_0001.jpg\n")
    with pytest.raises(ValueError, match=r"legend '.*legend\.csv' has no column 'emotion'"):
        _load_facial_expressions(copy)
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        _load_facial_expressions(copy, image_size=0)


def test_not_found_without_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOLIB_FACIAL_EXPRESSIONS", raising=False)
    started = time.monotonic()
    with pytest.raises(FileNotFoundError, match="git clone --depth 1 https://github.com/muxspace"):
        _load_facial_expressions(download=False)
    assert time.monotonic() - started < 5


def test_finds_copy_named_by_environment(tmp_path, monkeypatch):
    copy = write_copy(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMOLIB_FACIAL_EXPRESSIONS", str(copy))
    assert load_dataset("facial_expressions", image_size=16, download=False).info["path"] == str(copy)
    monkeypatch.setenv("EMOLIB_FACIAL_EXPRESSIONS", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="EMOLIB_FACIAL_EXPRESSIONS"):
        load_dataset("facial_expressions", download=False)


def test_finds_local_copy_from_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOLIB_FACIAL_EXPRESSIONS", raising=False)
    write_copy(tmp_path / "data" / "facial_expressions")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    ds = load_dataset("facial_expressions", image_size=16, download=False)
    assert ds.info["format"] == "facial_expressions"


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _serve(body):
    handler = type("Handler", (_Handler,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/master.zip"


def test_download_verifies_unpacks_and_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("EMOLIB_FACIAL_EXPRESSIONS", raising=False)
    server, url = _serve(archive_bytes())
    try:
        target = tmp_path / "data" / "facial_expressions"
        got = _download_facial_expressions(target, url=url, progress=False)
        assert got == target and (target / "data" / "legend.csv").is_file()
        assert not (tmp_path / "data" / "facial_expressions.zip").exists()
        assert [p.name for p in (tmp_path / "data").iterdir()] == ["facial_expressions"]  # no temp left
        monkeypatch.chdir(tmp_path)
        ds = load_dataset("facial_expressions", image_size=16)  # found locally now, no second download
        assert int(ds.counts().to_numpy().sum()) == 76
    finally:
        server.shutdown()


def test_download_rejects_archive_missing_an_image(tmp_path):
    server, url = _serve(archive_bytes(drop_image=True))
    try:
        target = tmp_path / "facial_expressions"
        with pytest.raises(net.NetworkError, match="lacks .*legend row 3"):
            _download_facial_expressions(target, url=url, progress=False)
        assert list(tmp_path.iterdir()) == []  # nothing half-written
    finally:
        server.shutdown()


def test_download_stalled_server_fails_within_deadline(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections (backlog), never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/master.zip"
    started = time.monotonic()
    try:
        with pytest.raises(net.NetworkError, match="git clone"):
            _download_facial_expressions(tmp_path / "fe", url=url, connect_timeout=1.0, progress=False)
    finally:
        listener.close()
    assert time.monotonic() - started < 4
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not (SHARED / "data" / "legend.csv").is_file(),
                    reason=f"shared facial-expressions copy not found at {SHARED}")
def test_shared_copy_counts_and_persons():
    ds = load_dataset(SHARED, classes="seed003", image_size=24, test_fraction=0.25, balanced_test=True)
    assert ds.info["rows"] == 7617 and ds.info["contempt_rows"] == 4
    totals = ds.counts()[["train", "val"]].sum(axis=1) + ds.counts()["test"]
    assert int(totals.sum()) + ds.info["test_dropped_for_balance"] + ds.info["dropped"] == 7617
    test = ds.counts()["test"].to_numpy()
    assert len(set(test)) == 1 and test[0] >= 25
    ids = {k: set(ds[k].meta["identity"]) for k in ("train", "val", "test")}
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["val"]) and not (ids["val"] & ids["test"])
    assert ds.info["identities"] > 2000
    fer7 = load_dataset(SHARED, image_size=8)
    assert sum(len(s) for s in fer7.splits.values()) == 7613  # every row but the 4 contempt rows
    assert fer7.class_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_fer2013_colab_fallback_is_fast(tmp_path, monkeypatch):
    """In Colab without kagglehub (or offline) load_dataset('fer2013') fails at once with the steps."""
    import importlib.util

    from emolib.data import fer2013

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kagglehub" else real_find_spec(name, *a))
    started = time.monotonic()
    with pytest.raises(FileNotFoundError, match="data/fer2013"):
        load_dataset("fer2013")
    with pytest.raises(FileNotFoundError, match="kagglehub is not installed"):
        fer2013._fetch_fer2013()
    assert time.monotonic() - started < 3
