"""The fault suite, second campaign (issue 24): downloads and text data.

Hostile answers of an HTTP server on 127.0.0.1 (a chunked body cut short, a
``Content-Length`` that is not a number) and damaged text data files (bytes that
are not UTF-8, broken gzip, broken JSON, odd digits, repeated ids, non-finite
word vectors, lone carriage returns): each gives one clear error naming the
file and line (or the URL), leaves nothing half-written, and good inputs still load.
Every case is bounded in time and needs no network beyond 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from emolib import net, text, transfer
from test_faults import bounded
from test_text import GO_ROWS, write_goemotions, write_tweeteval

ROOT = Path(__file__).resolve().parents[1]
STEPS = "Copy it by hand"


class RawServer:
    """A server on 127.0.0.1 answering every request with the bytes ``reply``, then closing."""

    def __init__(self, reply):
        self.reply, self.stop = reply, threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(reply):
        servers.append(RawServer(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


CUT_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3e8\r\n" + b"x" * 10
BAD_LENGTHS = ["abc", "10, 10"]


def bad_length(value):
    return f"HTTP/1.1 200 OK\r\nContent-Length: {value}\r\nConnection: close\r\n\r\n".encode() + b"x" * 10


def download(url, path):
    return bounded(lambda: net._download(url, path, connect_timeout=2, read_timeout=2, manual_steps=STEPS,
                                         progress=False), 10)


def imagenet_fallback(tmp_path, monkeypatch, url):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setitem(transfer.BACKBONES, "vgg16", {**transfer.BACKBONES["vgg16"], "url": url})
    weights, source = bounded(lambda: transfer.imagenet_weights("vgg16", 48, timeout=2, read_timeout=2), 10)
    assert weights is None and source.startswith("random init")
    assert not any(p.is_file() for p in (tmp_path / "keras").rglob("*"))  # nothing half-downloaded in the cache
    return source


# --------------------------------------------------------------------------- 2, 3: hostile HTTP answers


def test_item02_chunked_body_cut_short_is_a_network_error_leaving_nothing(tmp_path, raw_server):
    server = raw_server(CUT_CHUNK)
    with pytest.raises(net.NetworkError, match=r"(?s)stalled or broke.*IncompleteRead.*Copy it by hand"):
        download(server.url, tmp_path / "w.h5")
    assert list(tmp_path.iterdir()) == []


def test_item02_imagenet_weights_fall_back_when_a_chunked_body_is_cut_short(tmp_path, monkeypatch, raw_server):
    source = imagenet_fallback(tmp_path, monkeypatch, raw_server(CUT_CHUNK).url)
    assert "IncompleteRead" in source


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_item03_bad_content_length_is_a_network_error_leaving_nothing(tmp_path, raw_server, value):
    server = raw_server(bad_length(value))
    with pytest.raises(net.NetworkError, match=rf"(?s)127\.0\.0\.1.*Content-Length '{value}'.*Copy it by hand"):
        download(server.url, tmp_path / "w.h5")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", BAD_LENGTHS)
def test_item03_imagenet_weights_fall_back_on_a_bad_content_length(tmp_path, monkeypatch, raw_server, value):
    source = imagenet_fallback(tmp_path, monkeypatch, raw_server(bad_length(value)).url)
    assert "Content-Length" in source


# --------------------------------------------------------------------------- 4: damaged text data files


@pytest.fixture
def tweeteval(tmp_path):
    return write_tweeteval(tmp_path / "tweeteval")


@pytest.fixture
def goemotions(tmp_path):
    return write_goemotions(tmp_path / "go", GO_ROWS)


def test_item04_invalid_utf8_in_a_tweeteval_file_names_file_and_line(tweeteval):
    (tweeteval / "train_text.txt").write_bytes(b"one\ntwo\nthr\xffee\nfour\nfive\nsix\n")
    with pytest.raises(text.TextDataError, match=r"train_text\.txt:3: not UTF-8 \(byte 0xff at column 4\)"):
        text.load_tweeteval(tweeteval)


def test_item04_invalid_utf8_in_goemotions_names_file_and_line(goemotions):
    (goemotions / "dev.tsv").write_bytes(b"fine\t0\ta\nbad \xe9\t0\tb\n")
    with pytest.raises(text.TextDataError, match=r"dev\.tsv:2: not UTF-8 \(byte 0xe9 at column 5\)"):
        text.load_goemotions(goemotions)


def test_item04_damaged_gzip_names_file_and_line(goemotions):
    data = (goemotions / "train.tsv.gz").read_bytes()
    (goemotions / "train.tsv.gz").write_bytes(data[:-12])  # truncated: the end-of-stream marker is missing
    with pytest.raises(text.TextDataError, match=r"train\.tsv\.gz:\d+: damaged or truncated gzip file"):
        text.load_goemotions(goemotions)
    (goemotions / "train.tsv.gz").write_text("plain\t0\ta\n")  # not gzip at all
    with pytest.raises(text.TextDataError, match=r"train\.tsv\.gz:1: damaged or truncated gzip file"):
        text.load_goemotions(goemotions)


def test_item04_damaged_word_vectors_gzip_names_file_and_line(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    path.write_bytes(gzip.compress(b"good 1 2\nbad 3 4\n" * 50)[:-12])
    with pytest.raises(text.TextDataError, match=r"vectors\.txt\.gz:\d+: damaged or truncated gzip file"):
        text.load_word_vectors(path, ["", "[UNK]", "good", "bad"])


@pytest.mark.parametrize("content,message", [
    ('{"anger": ["anger",\n  "annoyance"\n', r"ekman_mapping\.json:3: not valid JSON"),
    ('["anger", "joy"]\n', r"ekman_mapping\.json:1: expected a JSON object"),
    ('{"anger": ["anger"],\n "joy": "joy"}\n', r"ekman_mapping\.json:2: group 'joy' must be a list"),
])
def test_item04_damaged_ekman_mapping_names_file_and_line(goemotions, content, message):
    (goemotions / "ekman_mapping.json").write_text(content)
    with pytest.raises(text.TextDataError, match=message):
        text.load_goemotions(goemotions, task="ekman")


def test_item04_superscript_digit_label_is_an_unknown_id(tweeteval, goemotions):
    (tweeteval / "val_labels.txt").write_text("0\n\u00b2\n")
    with pytest.raises(text.TextDataError, match=r"val_labels\.txt:2: unknown label id '\u00b2'"):
        text.load_tweeteval(tweeteval)
    (goemotions / "dev.tsv").write_text("fine\t0\ta\nbad\t1,\u00b2\tb\n")
    with pytest.raises(text.TextDataError, match=r"dev\.tsv:2: unknown label id '1,\u00b2'"):
        text.load_goemotions(goemotions)
    (tweeteval / "mapping.txt").write_text("0\tanger\n\u00b9\tjoy\n")
    with pytest.raises(text.TextDataError, match=r"mapping\.txt:2: expected"):
        text.load_tweeteval(tweeteval)


# --------------------------------------------------------------------------- 13: repeated ids in mapping.txt


def test_item13_repeated_id_in_mapping_names_both_lines(tweeteval):
    (tweeteval / "mapping.txt").write_text("0\tanger\n1\tjoy\n1\toptimism\n2\tsadness\n")
    with pytest.raises(text.TextDataError, match=r"mapping\.txt:3: label id 1 repeated \(first on line 2\)"):
        text.load_tweeteval(tweeteval)
    (tweeteval / "mapping.txt").write_text("0\tanger\n1\tjoy\n2\tJoy\n3\tsadness\n")
    with pytest.raises(text.TextDataError, match=r"mapping\.txt:3: class 'joy' repeated \(first on line 2\)"):
        text.load_tweeteval(tweeteval)


# --------------------------------------------------------------------------- 14: non-finite word vectors


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e40"])
def test_item14_non_finite_word_vector_is_refused_naming_file_and_line(tmp_path, value):
    path = tmp_path / "vectors.txt"
    path.write_text(f"good 1 2\nskipped nan nan\nbad 1 {value}\n")  # lines of other words are not read
    with pytest.raises(text.TextDataError, match=r"vectors\.txt:3: 'bad' has a value that is not finite"):
        text.load_word_vectors(path, ["", "[UNK]", "good", "bad"])
    matrix, _ = text.load_word_vectors(path, ["", "[UNK]", "good"])
    assert np.isfinite(matrix).all()


# --------------------------------------------------------------------------- 15: a lone CR is not a line break


def test_item15_lone_cr_stays_inside_its_line(tweeteval, goemotions):
    (tweeteval / "train_text.txt").write_text("one\ntwo\rstill two\nthree\n \nfive\nsix\n", newline="")
    with pytest.raises(text.TextDataError, match=r"train_text\.txt:4: empty text"):  # the editor's line 4
        text.load_tweeteval(tweeteval)
    (tweeteval / "train_text.txt").write_text("one\r\ntwo\rstill two\r\n3\r\n4\r\n5\r\n6\r\n", newline="")
    ds = text.load_tweeteval(tweeteval)  # CRLF lines lose their CR, a lone CR stays in the text
    assert list(ds.train.texts) == ["one", "two\rstill two", "3", "4", "5", "6"]
    (goemotions / "dev.tsv").write_text("fine\rstill\t0\ta\nbad\t42\tb\n", newline="")
    with pytest.raises(text.TextDataError, match=r"dev\.tsv:2: unknown label id '42'"):
        text.load_goemotions(goemotions)
    (goemotions / "dev.tsv").write_text("a\rb\t0\ta\r\nc\t2\tb\r\n", newline="")
    assert list(text.load_goemotions(goemotions, task="tweeteval4").val.texts) == ["a\rb", "c"]


# --------------------------------------------------------------------------- 20: per-read deadlines documented


def test_item20_download_documents_per_read_deadlines_not_a_total_one():
    doc = " ".join(net._download.__doc__.split())
    assert "no total deadline" in doc and "per read" in doc
    library_doc = " ".join((ROOT / "docs" / "library.md").read_text(encoding="utf-8").split())
    assert "no total deadline" in library_doc
