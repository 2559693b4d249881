"""The fault suite: hostile inputs and injected faults that once hung emolib, gave
silently wrong data or lost a run (issue 12), each kept fixed by a test.

1. decompression-bomb images; 2. network stalls (a server on 127.0.0.1 that
accepts and never answers, one that stops mid-body, a resolver that never
replies); 3. named pipes; 4. empty splits and classes without images;
5. damaged run folders; 6. concurrent ``run="auto"``; 7. a kill inside an
overwrite and stale temporary folders; 8. nested class folders; 9. duplicate and
conflicting rows in a labels CSV; 10. repeated ONNX class names, bad training
settings and names, an odd ``identity_pattern``, a ``pixels`` column in a labels CSV.

Every case is bounded in time (:func:`bounded`, short network deadlines,
subprocess timeouts), needs no network beyond 127.0.0.1 and no TensorFlow
training.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emolib import experiment as ex
from emolib import net, transfer
from emolib import runs
from emolib.data import EmotionDataset, ImageReadError, load_class_folders, load_dataset, load_labels_csv
from emolib.data.base import Split, _validate_splits
from emolib.data.fer2013 import _load_fer2013_csv
from emolib.data.images import _read_image

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def bounded(fn, seconds=10.0):
    """``fn()``'s result, or the test fails (instead of hanging) after ``seconds``."""
    out = {}

    def work():
        try:
            out["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s: it hangs")
    if "error" in out:
        raise out["error"]
    return out["value"]


# --------------------------------------------------------------------------- files


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_bomb(path, side=100_000):
    """A 60-byte PNG whose header claims ``side`` x ``side`` pixels (10 gigapixels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                     + png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + png_chunk(b"IEND", b""))
    return path


def write_face(path, seed=0, size=12):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), "L").save(path)
    return path


def labels_csv(root, rows, columns=("image", "emotion")):
    """``root/labels.csv`` with ``rows``; every named image is created (if missing)."""
    root.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(rows):
        if not (root / row[0]).exists():
            write_face(root / row[0], seed=i)
    pd.DataFrame(rows, columns=list(columns)).to_csv(root / "labels.csv", index=False)
    return root / "labels.csv"


def fer_csv(path, rows):
    """A FER2013 CSV of ``(emotion, usage)`` rows with random 48x48 pixels."""
    rng = np.random.default_rng(0)
    pix = [" ".join(map(str, rng.integers(0, 256, 48 * 48))) for _ in rows]
    pd.DataFrame({"emotion": [r[0] for r in rows], "pixels": pix, "Usage": [r[1] for r in rows]}).to_csv(
        path, index=False)
    return path


# --------------------------------------------------------------------------- 1. decompression bombs


def test_bomb_is_an_image_read_error_naming_the_file(tmp_path):
    bomb = write_bomb(tmp_path / "bomb.png")
    with pytest.raises(ImageReadError, match=r"bomb\.png.*decompression bomb"):
        bounded(lambda: _read_image(bomb, 48, 1), 5)


def test_bomb_in_a_labels_csv_names_file_and_row(tmp_path):
    csv = labels_csv(tmp_path, [("a.png", "happy"), ("b.png", "sad")])
    write_bomb(tmp_path / "b.png")
    with pytest.raises(ImageReadError, match=r"b\.png.*decompression bomb.*row 1 \(line 3\)"):
        bounded(lambda: load_labels_csv(csv), 10)


def test_bomb_in_a_class_folder_names_the_file(tmp_path):
    write_face(tmp_path / "happy" / "a.png")
    write_bomb(tmp_path / "sad" / "bomb.png")
    with pytest.raises(ImageReadError, match=r"sad/bomb\.png.*decompression bomb"):
        bounded(lambda: load_class_folders(tmp_path), 10)


def tiny_onnx(path, class_names=("happy", "sad"), size=4):
    """A hand-built ONNX classifier (flatten, matmul, softmax) with emolib's metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from emolib import export

    k = len(class_names)
    w = np.random.default_rng(0).normal(size=(size * size, k)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["image"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["proba"])],
        "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", size, size, 1])],
        [helper.make_tensor_value_info("proba", TensorProto.FLOAT, ["batch", k])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    export._set_metadata(model, {"class_names": list(class_names), "image_size": [size, size], "channels": 1,
                                 "scaling": export.SCALING, "input_name": "image"})
    onnx.save(model, str(path))
    return path


def test_predict_keeps_the_good_images_output_next_to_a_bomb_and_a_fifo(tmp_path, capsys):
    from emolib.cli import main

    model = tiny_onnx(tmp_path / "m.onnx")
    good = [write_face(tmp_path / f"good{i}.png", seed=i) for i in range(2)]
    bomb = write_bomb(tmp_path / "bomb.png")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    status = bounded(lambda: main(["predict", str(good[0]), str(bomb), str(fifo), str(good[1]),
                                   "--model", str(model), "--json"]), 20)
    out = capsys.readouterr()
    assert status == 1
    result = json.loads(out.out)
    assert [p["file"] for p in result["predictions"]] == [str(good[0]), str(good[1])]
    assert {e["file"] for e in result["errors"]} == {str(bomb), str(fifo)}
    assert "decompression bomb" in out.err and "named pipe" in out.err


# --------------------------------------------------------------------------- 2. network stalls


class Server:
    """A server on 127.0.0.1: ``mode="stall"`` accepts and never answers; ``"partial"``
    sends headers and half the announced body, then goes silent."""

    def __init__(self, mode):
        self.mode, self.conns, self.stop = mode, [], threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/weights.h5"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.mode == "partial":
                conn.recv(65536)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 500)

    def close(self):
        self.stop.set()
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def stalled():
    server = Server("stall")
    yield server
    server.close()


def test_download_from_a_stalled_server_gives_up_at_its_deadline(tmp_path, stalled):
    start = time.monotonic()
    with pytest.raises(net.NetworkError, match=r"(?s)no answer.*within 0.5 s.*Copy it by hand"):
        bounded(lambda: net._download(stalled.url, tmp_path / "w.h5", connect_timeout=0.5, read_timeout=5,
                                      manual_steps="Copy it by hand", progress=False), 10)
    assert time.monotonic() - start < 3
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


def test_download_that_stalls_mid_body_leaves_nothing(tmp_path):
    server = Server("partial")
    try:
        with pytest.raises(net.NetworkError, match="stalled or broke|incomplete"):
            bounded(lambda: net._download(server.url, tmp_path / "w.h5", connect_timeout=2, read_timeout=0.5,
                                          progress=False), 10)
    finally:
        server.close()
    assert list(tmp_path.iterdir()) == []


def test_stalled_name_lookup_is_inside_the_deadline(monkeypatch):
    release = threading.Event()
    real = socket.getaddrinfo

    def stalled_resolver(*args, **kwargs):
        release.wait(30)  # a resolver that never answers
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stalled_resolver)
    start = time.monotonic()
    try:
        with pytest.raises(net.NetworkError, match="within 0.5 s"):
            bounded(lambda: net._open_url("http://stalled.invalid/", connect_timeout=0.5), 10)
        assert not bounded(lambda: net._reachable("http://stalled.invalid/", timeout=0.5), 10)
    finally:
        release.set()
    assert time.monotonic() - start < 4


def test_network_available_answers_no_for_a_silent_host(stalled):
    start = time.monotonic()
    assert bounded(lambda: transfer.network_available(stalled.url, timeout=0.5), 10) is False
    assert time.monotonic() - start < 3


def test_imagenet_weights_fall_back_to_random_init_when_the_host_stalls(tmp_path, monkeypatch, stalled):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setitem(transfer.BACKBONES, "vgg16", {**transfer.BACKBONES["vgg16"], "url": stalled.url[:-10]})
    start = time.monotonic()
    weights, source = bounded(lambda: transfer.imagenet_weights("vgg16", 48, timeout=0.5, read_timeout=5), 10)
    assert time.monotonic() - start < 3
    assert weights is None and source.startswith("random init") and "no answer" in source
    assert not any((tmp_path / "keras").rglob("*"))  # nothing half-downloaded in the Keras cache


def test_imagenet_weights_reject_a_corrupt_download(tmp_path, monkeypatch):
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"junk!")

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
        url = f"http://127.0.0.1:{httpd.server_port}/"
        monkeypatch.setitem(transfer.BACKBONES, "vgg16", {**transfer.BACKBONES["vgg16"], "url": url})
        weights, source = bounded(lambda: transfer.imagenet_weights("vgg16", 48, timeout=2), 10)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert weights is None and "MD5" in source
    assert not any((tmp_path / "keras").rglob("*.h5"))


def test_weight_urls_are_the_ones_keras_downloads():
    from keras.src.applications import efficientnet, mobilenet_v2, resnet, vgg16

    assert transfer._weights_url("vgg16", 48) == vgg16.WEIGHTS_PATH_NO_TOP
    assert transfer._weights_url("resnet50v2", 48) == resnet.BASE_WEIGHTS_PATH + transfer._weights_filename(
        "resnet50v2", 48)
    assert transfer._weights_url("efficientnetb0", 48) == efficientnet.BASE_WEIGHTS_PATH + "efficientnetb0_notop.h5"
    assert transfer._weights_url("mobilenetv2", 96) == (mobilenet_v2.BASE_WEIGHT_PATH
                                                         + transfer._weights_filename("mobilenetv2", 96))
    assert transfer.BACKBONES["resnet50v2"]["md5"] == resnet.WEIGHTS_HASHES["resnet50v2"][1]
    assert transfer.BACKBONES["efficientnetb0"]["md5"] == efficientnet.WEIGHTS_HASHES["b0"][1]


# --------------------------------------------------------------------------- 3. named pipes


def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "face.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match=r"face\.png.*named pipe"):
        bounded(lambda: _read_image(fifo, 48, 1), 5)


def test_fifo_in_a_labels_csv_names_the_row(tmp_path):
    os.mkfifo(tmp_path / "b.png")
    csv = labels_csv(tmp_path, [("a.png", "happy"), ("b.png", "sad")])
    with pytest.raises(ImageReadError, match=r"b\.png.*named pipe.*row 1"):
        bounded(lambda: load_labels_csv(csv), 10)


def test_fifo_in_a_class_folder_is_reported_not_skipped(tmp_path):
    write_face(tmp_path / "happy" / "a.png")
    (tmp_path / "sad").mkdir()
    os.mkfifo(tmp_path / "sad" / "b.png")
    with pytest.raises(ImageReadError, match=r"sad/b\.png.*named pipe"):
        bounded(lambda: load_class_folders(tmp_path), 10)


# --------------------------------------------------------------------------- 4. empty splits


def test_fer_csv_with_only_a_header(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    with pytest.raises(ValueError, match=r"fer2013\.csv.*no rows"):
        load_dataset(tmp_path / "fer2013.csv")


def test_fer_csv_without_private_test_rows(tmp_path):
    csv = fer_csv(tmp_path / "fer2013.csv", [(3, "Training"), (4, "Training"), (3, "PublicTest"), (4, "PublicTest")])
    with pytest.raises(ValueError, match=r"fer2013\.csv.*test split is empty.*PrivateTest"):
        load_dataset(csv, classes=["happy", "sad"])


def test_requested_classes_absent(tmp_path):
    csv = fer_csv(tmp_path / "fer2013.csv", [(3, "Training"), (3, "PublicTest"), (3, "PrivateTest")])
    with pytest.raises(ValueError, match=r"\['sad'\] have no images in '.*fer2013\.csv'"):
        _load_fer2013_csv(csv, classes=["happy", "sad"])
    # classes=None keeps FER2013's seven classes: six of them have no images here
    with pytest.raises(ValueError, match=r"\['angry', 'disgust', 'fear', 'sad', 'surprise', 'neutral'\] have no"):
        load_dataset(csv)


def test_split_column_without_val_rows(tmp_path):
    rows = [(f"{e}{i}.png", e, "train" if i else "test") for e in ("happy", "sad") for i in range(3)]
    csv = labels_csv(tmp_path, rows, ("image", "emotion", "split"))
    with pytest.raises(ValueError, match=r"labels\.csv.*val split is empty.*column 'split'"):
        load_dataset(csv, split_col="split")


def test_classes_too_small_for_the_fractions(tmp_path):
    csv = labels_csv(tmp_path, [(f"{e}{i}.png", e) for e in ("happy", "sad") for i in range(2)])
    with pytest.raises(ValueError, match=r"too few images per class for test_fraction=0\.15 \(1 of 4 images"):
        load_dataset(csv)


def test_a_class_with_no_training_images(tmp_path):
    rows = [(f"h{i}.png", "happy", ["train", "val", "test"][i % 3]) for i in range(6)]
    rows += [(f"s{i}.png", "sad", ["val", "test"][i % 2]) for i in range(4)]
    csv = labels_csv(tmp_path, rows, ("image", "emotion", "split"))
    with pytest.raises(ValueError, match=r"\['sad'\] have no training images"):
        load_dataset(csv, split_col="split")


def small_dataset(val=3, classes=("happy", "sad")):
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.arange(n) % len(classes)
        meta = pd.DataFrame({"label": labels, "emotion": [classes[i] for i in labels], "source": range(n)})
        return Split(rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8), labels, meta)

    return EmotionDataset({"train": split(6), "val": split(val), "test": split(4)}, classes, "small")


def test_subset_to_a_class_without_images():
    ds = small_dataset(classes=("happy", "sad", "neutral"))  # labels 0..2 cycle: neutral has images
    ds.splits = {k: v.take(v.labels != 2) for k, v in ds.splits.items()}
    with pytest.raises(ValueError, match=r"\['neutral'\] have no images"):
        ds.subset(["happy", "neutral"])
    assert _validate_splits(ds.subset(["happy", "sad"])).num_classes == 2


def test_run_experiment_refuses_an_empty_val_split_and_writes_nothing(tmp_path):
    config = ex.ExperimentConfig(experiment="e", run="r", data=ex.DataConfig(classes=["happy", "sad"], image_size=8),
                                 train=ex.TrainConfig(epochs=1, batch_size=4))
    with pytest.raises(ValueError, match="val split is empty"):
        ex.run_experiment(config, dataset=small_dataset(val=0), runs_dir=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*"))


# --------------------------------------------------------------------------- 5. damaged run folders


def fake_run(runs, name, metrics=None, config=None, model=True):
    folder = runs / "exp" / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics or {"accuracy": 0.5}) if not isinstance(metrics, str)
                                         else metrics)
    (folder / "config.json").write_text(json.dumps(config or {"run": name}) if not isinstance(config, str)
                                        else config)
    if model:
        (folder / "best.keras").write_bytes(b"")
    return folder


@pytest.mark.parametrize("damage, message", [
    (dict(metrics='{"accuracy": 0.'), r"bad'.*cannot read metrics\.json"),
    (dict(config="[1, 2]"), r"bad'.*config\.json holds a JSON list"),
    (dict(metrics=b"\xff\xfe".decode("latin-1")), r"bad'.*cannot read metrics\.json"),
    (dict(model=False), r"bad'.*not a complete run folder \(no best\.keras\)"),
])
def test_one_damaged_run_folder_is_named_and_skipped(tmp_path, damage, message):
    fake_run(tmp_path, "good")
    fake_run(tmp_path, "bad", **damage)
    with pytest.warns(UserWarning, match=message):
        table = ex.collect_runs(tmp_path)
    assert table["run"].tolist() == ["good"]
    with pytest.raises(runs.RunFolderError, match="bad"):
        runs._read_run(tmp_path / "exp" / "bad")


# --------------------------------------------------------------------------- 6. concurrent auto runs


def finished_tmp(exp_dir, tag):
    """A finished run's temporary folder, as run_experiment has it just before installing it."""
    tmp = runs.work_dir(exp_dir / "run-001", "tmp")
    for name in runs._RUN_FILES:
        (tmp / name).write_text(json.dumps({"tag": tag}) if name == "metrics.json" else "")
    return tmp


def test_auto_name_taken_just_before_the_rename(tmp_path, monkeypatch):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    tmp = finished_tmp(exp_dir, "mine")
    real = runs._rename_new

    def competitor_first(src, dst):  # another process installs run-001 in between
        if dst.name == "run-001":
            dst.mkdir()
            (dst / "config.json").write_text(json.dumps({"run": dst.name}))
        return real(src, dst)

    monkeypatch.setattr(runs, "_rename_new", competitor_first)
    config = ex.ExperimentConfig(experiment="exp", run="auto").to_dict()
    final = runs.install(tmp, exp_dir / "run-001", config, auto=True)
    assert final.name == "run-002" and config["run"] == "run-002"
    assert json.loads((final / "config.json").read_text())["run"] == "run-002"


def test_two_processes_auto_numbering(tmp_path):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    code = textwrap.dedent("""
        import json, sys, time
        from pathlib import Path
        from emolib import runs
        exp_dir, tag, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
        tmp = runs.work_dir(exp_dir / "run-001", "tmp")
        for name in runs._RUN_FILES:
            (tmp / name).write_text(json.dumps({"tag": tag}) if name == "metrics.json" else "")
        while not go.exists():
            time.sleep(0.001)
        final = runs.install(tmp, exp_dir / "run-001", {"experiment": "exp", "run": "auto"}, auto=True)
        print(final.name)
    """)
    go = tmp_path / "go"
    procs = [subprocess.Popen([PY, "-c", code, str(exp_dir), tag, str(go)], env=ENV, stdout=subprocess.PIPE,
                              text=True) for tag in ("a", "b")]
    time.sleep(1.0)
    go.touch()
    names = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert names == ["run-001", "run-002"]
    tags = set()
    for name in names:
        assert json.loads((exp_dir / name / "config.json").read_text())["run"] == name
        tags.add(json.loads((exp_dir / name / "metrics.json").read_text())["tag"])
    assert tags == {"a", "b"} and sorted(p.name for p in exp_dir.iterdir()) == names


# --------------------------------------------------------------------------- 7. crash-safe overwrite


KILL_IN_OVERWRITE = textwrap.dedent("""
    import json, os, signal, sys
    from pathlib import Path
    from emolib import runs
    exp_dir = Path(sys.argv[1])
    tmp = runs.work_dir(exp_dir / "r", "tmp")
    for name in runs._RUN_FILES:
        (tmp / name).write_text(json.dumps({"tag": "new"}) if name == "metrics.json" else "")
    runs._BETWEEN_RENAMES = lambda: os.kill(os.getpid(), signal.SIGKILL)
    runs.install(tmp, exp_dir / "r", {"experiment": "exp", "run": "r"}, overwrite=True)
""")


def test_kill_between_the_renames_of_an_overwrite_is_recovered(tmp_path):
    runs = tmp_path / "runs"
    old = fake_run(runs, "r", metrics={"accuracy": 0.1, "tag": "old"})
    proc = subprocess.run([PY, "-c", KILL_IN_OVERWRITE, str(old.parent)], env=ENV, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not old.exists()  # the state the kill left: both runs hidden
    assert len([p for p in old.parent.iterdir() if p.name.startswith(".")]) == 2
    with pytest.warns(UserWarning, match="finished overwrite"):
        table = ex.collect_runs(runs)
    assert table["run"].tolist() == ["r"]
    assert json.loads((old / "metrics.json").read_text())["tag"] == "new"
    assert json.loads((old / "config.json").read_text())["run"] == "r"
    assert [p.name for p in old.parent.iterdir()] == ["r"]  # no hidden folder left


def dead_pid():
    proc = subprocess.Popen([PY, "-c", "pass"])
    proc.wait(timeout=30)
    return proc.pid


def test_old_run_is_put_back_when_the_new_one_is_not_there(tmp_path, monkeypatch):
    exp_dir = tmp_path / "exp"
    run = fake_run(tmp_path, "r", metrics={"tag": "old"})
    monkeypatch.setattr(os, "getpid", dead_pid)  # the hidden folders of a process that is gone
    aside = runs.work_dir(run, "old")
    monkeypatch.undo()
    os.rename(run, aside / "r")
    with pytest.warns(UserWarning, match="restored"):
        assert runs._recover_runs(exp_dir) == [("restored", "r")]
    assert json.loads((run / "metrics.json").read_text())["tag"] == "old"
    assert [p.name for p in exp_dir.iterdir()] == ["r"]


def test_stale_temporary_folders_are_removed_live_ones_kept(tmp_path, monkeypatch):
    exp_dir = tmp_path / "exp"
    exp_dir.mkdir()
    sleeper = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    try:
        pid = dead_pid()
        monkeypatch.setattr(os, "getpid", lambda: pid)
        stale = runs.work_dir(exp_dir / "killed", "tmp")
        monkeypatch.setattr(os, "getpid", lambda: sleeper.pid)
        live = runs.work_dir(exp_dir / "running", "tmp")
        monkeypatch.undo()
        (stale / "best.keras").write_bytes(b"")
        legacy = exp_dir / ".x.tmp-abc123"  # unknown owner: never touched
        legacy.mkdir()
        assert runs._recover_runs(exp_dir) == [("removed unfinished", "killed")]
        assert not stale.exists() and live.exists() and legacy.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stale_temporary_folder_of_a_killed_run_is_cleaned_by_the_next_run(tmp_path):
    exp_dir = tmp_path / "runs" / "exp"
    exp_dir.mkdir(parents=True)
    code = ("import os, signal, sys; from pathlib import Path; from emolib import runs; "
            "runs.work_dir(Path(sys.argv[1]) / 'r', 'tmp'); os.kill(os.getpid(), signal.SIGKILL)")
    subprocess.run([PY, "-c", code, str(exp_dir)], env=ENV, timeout=60)
    assert len(list(exp_dir.iterdir())) == 1
    config = ex.ExperimentConfig(experiment="exp", run="r", data=ex.DataConfig(classes=["happy", "sad"], image_size=8),
                                 train=ex.TrainConfig(epochs=1, batch_size=4))
    with pytest.raises(ValueError, match="val split is empty"):  # fails after the clean-up, before training
        ex.run_experiment(config, dataset=small_dataset(val=0), runs_dir=tmp_path / "runs", progress=False)
    assert list(exp_dir.iterdir()) == []


# --------------------------------------------------------------------------- 8. nested class folders


def test_nested_class_folders_are_read_like_keras(tmp_path):
    for i in range(5):
        write_face(tmp_path / "happy" / f"a{i}.png", seed=i)
        write_face(tmp_path / "sad" / f"b{i}.png", seed=10 + i)
    for i in range(3):
        write_face(tmp_path / "happy" / "sub" / "deeper" / f"c{i}.png", seed=20 + i)
    write_face(tmp_path / "happy" / ".hidden" / "x.png", seed=30)
    ds = load_class_folders(tmp_path, val_fraction=0.2, test_fraction=0.2)
    assert sum(len(s) for s in ds.splits.values()) == 13
    assert ds.counts().sum(axis=1).to_dict() == {"happy": 8, "sad": 5}
    files = set(pd.concat([s.meta for s in ds.splits.values()])["file"])
    assert "happy/sub/deeper/c0.png" in files


# --------------------------------------------------------------------------- 9. duplicate rows


def test_a_file_listed_twice_fails_naming_the_rows(tmp_path):
    csv = labels_csv(tmp_path, [("a.png", "happy"), ("b.png", "sad"), ("a.png", "happy")])
    with pytest.raises(ValueError, match=r"(?s)1 row names a file.*row 2 \(line 4\) names 'a\.png' again, first named in row 0.*duplicates="):
        load_labels_csv(csv)


def test_conflicting_labels_fail_naming_both(tmp_path):
    csv = labels_csv(tmp_path, [("a.png", "happy"), ("b.png", "sad"), ("./a.png", "sad")])
    with pytest.raises(ValueError, match=r"(?s)1 of them with a different label.*'sad' here and 'happy' there"):
        load_labels_csv(csv)


def test_duplicates_can_be_accepted(tmp_path):
    rows = [(f"{e}{i}.png", e) for e in ("happy", "sad") for i in range(6)]
    csv = labels_csv(tmp_path, rows + [("happy0.png", "happy"), ("sad1.png", "happy")])
    first = load_labels_csv(csv, duplicates="first", val_fraction=0.2, test_fraction=0.2)
    assert sum(len(s) for s in first.splits.values()) == 12 and first.info["duplicates_dropped"] == 2
    keep = load_labels_csv(csv, duplicates="keep", val_fraction=0.2, test_fraction=0.2)
    meta = pd.concat([s.meta for s in keep.splits.values()])
    assert len(meta) == 14 and keep.info["duplicate_rows"] == 2
    assert (meta.groupby("source")["split"].nunique() == 1).all()  # one file, one split
    with pytest.raises(ValueError, match="duplicates must be"):
        load_labels_csv(csv, duplicates="ignore")


# --------------------------------------------------------------------------- 10. smaller ones


def test_repeated_class_names_in_onnx_metadata_are_refused(tmp_path):
    from emolib import export
    from emolib.cli import main

    model = tiny_onnx(tmp_path / "dup.onnx", class_names=("happy", "happy"))
    with pytest.raises(export.ModelFileError, match=r"dup\.onnx.*repeats class names \['happy'\]"):
        export.OnnxClassifier(model)
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(write_face(tmp_path / "a.png")), "--model", str(model)])
    assert exit_.value.code == 1


def test_export_refuses_repeated_class_names(tmp_path):
    import keras

    from emolib import export

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="distinct"):
        export.export_onnx(model, tmp_path / "m.onnx", ["sad", "sad"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, message", [
    ({"train.epochs": 0}, r"TrainConfig\.epochs must be a positive integer, got 0"),
    ({"train.batch_size": 0}, r"TrainConfig\.batch_size must be a positive integer, got 0"),
    ({"train.learning_rate": -1.0}, r"TrainConfig\.learning_rate"),
    ({"train.monitor": "loss"}, r"TrainConfig\.monitor"),
    ({"run": "r" * 300}, r"run name is 300 bytes long"),
    ({"experiment": "e" * 300}, r"experiment name is 300 bytes long"),
])
def test_bad_settings_fail_first_and_write_nothing(tmp_path, change, message):
    config = ex.ExperimentConfig(experiment="exp", run="r", train=ex.TrainConfig(epochs=1)).updated(change)
    with pytest.raises(ValueError, match=message):
        bounded(lambda: ex.run_experiment(config, runs_dir=tmp_path / "runs", progress=False), 10)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("pattern, message", [
    ("^(.*_\\d+$", r"identity_pattern '\^\(\.\*_\\\\d\+\$' is not a valid regular expression"),
    ("^.*_\\d+$", r"has no group"),
])
def test_identity_pattern_is_checked(tmp_path, pattern, message):
    csv = labels_csv(tmp_path, [("P_1.png", "happy"), ("P_2.png", "sad")])
    with pytest.raises(ValueError, match=message):
        load_labels_csv(csv, identity_pattern=pattern)


def test_labels_csv_with_a_pixels_column_is_a_labels_csv(tmp_path):
    rows = [(f"{e}{i}.png", e, "48x48") for e in ("happy", "sad") for i in range(4)]
    csv = labels_csv(tmp_path, rows, ("image", "emotion", "pixels"))
    ds = load_dataset(csv, val_fraction=0.25, test_fraction=0.25)
    assert ds.info["format"] == "labels_csv" and "pixels" in ds.train.meta.columns
    fer = fer_csv(tmp_path / "fer.csv", [(3, "Training"), (4, "Training"), (3, "PublicTest"), (4, "PublicTest"),
                                         (3, "PrivateTest"), (4, "PrivateTest")])
    assert load_dataset(fer, classes=["happy", "sad"]).info["format"] == "fer2013_csv"
