"""emolib.text: TweetEval and GoEmotions loaders, their errors, the TweetEval download
(against servers on 127.0.0.1 only), seed 001's preprocessing and the text CNN."""

import functools
import gzip
import hashlib
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emolib import net, text

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "goemotions"

TWEETS = {
    "train": [("I am so angry right now", 0), ("what a lovely day :)", 1), ("tomorrow will be better", 2),
              ("I miss her so much", 3), ("this makes me furious", 0), ("haha best party ever", 1)],
    "val": [("stop lying to me", 0), ("so happy for you", 1)],
    "test": [("never again, I hate this", 0), ("keep going, it gets better", 2), ("crying all night", 3)],
}


def write_tweeteval(folder, tweets=TWEETS):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.txt").write_text("0\tanger\n1\tjoy\n2\toptimism\n3\tsadness\n")
    for split, rows in tweets.items():
        (folder / f"{split}_text.txt").write_text("".join(f"{t}\n" for t, _ in rows))
        (folder / f"{split}_labels.txt").write_text("".join(f"{y}\n" for _, y in rows))
    return folder


@pytest.fixture
def tweeteval(tmp_path):
    return write_tweeteval(tmp_path / "tweeteval")


# --------------------------------------------------------------------------- TweetEval loader


def test_tweeteval_loads_every_split_with_mapping_order(tweeteval):
    ds = text.load_text_dataset(tweeteval, task="tweeteval4")
    assert ds.class_names == ("anger", "joy", "optimism", "sadness")
    assert [len(ds[s]) for s in ("train", "val", "test")] == [6, 2, 3]
    assert list(ds.train.texts) == [t for t, _ in TWEETS["train"]]
    assert list(ds.train.labels) == [y for _, y in TWEETS["train"]]
    assert ds.train.meta["source"][3] == "train_text.txt:4"
    assert ds.counts().loc["anger", "train"] == 2


def test_tweeteval_pair_keeps_two_classes_relabelled(tweeteval):
    ds = text.load_tweeteval(tweeteval, task="anger_optimism")
    assert ds.class_names == ("anger", "optimism")
    assert list(ds.train.labels) == [0, 1, 0]
    assert list(ds.test.texts) == ["never again, I hate this", "keep going, it gets better"]
    assert ds.info["dropped"]["train"] == {"multi": 0, "other": 3}


@pytest.mark.parametrize("name,content,error,message", [
    ("val_labels.txt", None, FileNotFoundError, r"val_labels\.txt(.|\n)*curl -fLO"),  # named, with the manual steps
    ("train_labels.txt", "0\n1\n2\n3\n0\n1\n1\n", text.TextDataError,
     r"train_text\.txt has 6 lines but .*train_labels\.txt has 7.*line 7"),
    ("test_labels.txt", "0\n7\n3\n", text.TextDataError, r"test_labels\.txt:2: unknown label id '7'"),
    ("test_labels.txt", "0\n-1\n3\n", text.TextDataError, r"test_labels\.txt:2: unknown label id '-1'"),
    ("val_text.txt", "stop lying to me\n   \n", text.TextDataError, r"val_text\.txt:2: empty text"),
    ("mapping.txt", "0\tanger\njoy\n", text.TextDataError, r"mapping\.txt:2"),
])
def test_bad_tweeteval_file_is_named_with_line(tweeteval, name, content, error, message):
    if content is None:
        (tweeteval / name).unlink()
    else:
        (tweeteval / name).write_text(content)
    with pytest.raises(error, match=message):
        text.load_tweeteval(tweeteval)


def test_bad_arguments(tweeteval, tmp_path):
    with pytest.raises(ValueError, match="disgust"):
        text.load_tweeteval(tweeteval, task="ekman")
    with pytest.raises(ValueError, match="unknown task"):
        text.load_text_dataset(tweeteval, task="anger_fear")
    with pytest.raises(ValueError, match="multi_label"):
        text.load_text_dataset(tweeteval, multi_label="all")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        text.load_text_dataset(tmp_path / "nowhere")


# --------------------------------------------------------------------------- GoEmotions


def write_goemotions(folder, rows):
    """A GoEmotions-layout folder (names as in the release) with the same ``rows`` in every split."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    names = ["anger", "annoyance", "joy", "optimism", "admiration", "sadness", "disgust", "fear",
             "surprise", "neutral"]
    (folder / "emotions.txt").write_text("\n".join(names))
    (folder / "ekman_mapping.json").write_text(json.dumps({
        "anger": ["anger", "annoyance"], "disgust": ["disgust"], "fear": ["fear"],
        "joy": ["joy", "optimism", "admiration"], "sadness": ["sadness"], "surprise": ["surprise"]}))
    body = "".join(f"{t}\t{ids}\tid{i}\n" for i, (t, ids) in enumerate(rows))
    with gzip.open(folder / "train.tsv.gz", "wt") as f:
        f.write(body)
    for split in ("dev", "test"):
        (folder / f"{split}.tsv").write_text(body)
    return folder


GO_ROWS = [("so mad", "0"), ("mad and annoyed", "0,1"), ("yay", "2"), ("yay, hope so", "2,3"),
           ("nice, hope so", "4,3"), ("sad", "5"), ("angry yet hopeful", "0,3"), ("whatever", "9"),
           ("nice one", "4")]


@pytest.mark.parametrize("task,policy,labels,dropped", [
    ("ekman", "exclusive", [0, 0, 3, 3, 3, 4, 6, 3], {"multi": 1, "other": 0}),
    ("ekman", "strict", [0, 0, 3, 3, 3, 4, 6, 3], {"multi": 1, "other": 0}),
    ("ekman", "first", [0, 0, 3, 3, 3, 4, 0, 6, 3], {"multi": 0, "other": 0}),
    ("tweeteval4", "exclusive", [0, 0, 1, 2, 3], {"multi": 2, "other": 2}),
    ("tweeteval4", "strict", [0, 1, 3], {"multi": 2, "other": 4}),
    ("tweeteval4", "first", [0, 0, 1, 1, 3, 0], {"multi": 0, "other": 3}),
    ("anger_optimism", "exclusive", [0, 0, 1, 1], {"multi": 1, "other": 4}),
])
def test_goemotions_multi_label_policies(tmp_path, task, policy, labels, dropped):
    folder = write_goemotions(tmp_path / "go", GO_ROWS)
    ds = text.load_text_dataset(folder, task=task, multi_label=policy)
    assert ds.class_names == text._TASKS[task]
    assert list(ds.train.labels) == labels
    assert ds.info["dropped"]["train"] == dropped
    assert list(ds.test.labels) == labels  # .tsv and .tsv.gz read alike
    assert len(ds.train) + sum(dropped.values()) == len(GO_ROWS)


def test_goemotions_bad_rows_name_file_and_line(tmp_path):
    folder = write_goemotions(tmp_path / "go", GO_ROWS)
    for bad in ("42", "-1", "0,x"):
        (folder / "dev.tsv").write_text(f"fine\t0\ta\nbad\t{bad}\tb\n")
        with pytest.raises(text.TextDataError, match=rf"dev\.tsv:2: unknown label id '{bad}'"):
            text.load_goemotions(folder)
    (folder / "dev.tsv").write_text("fine\t0\ta\n\t0\tb\n")
    with pytest.raises(text.TextDataError, match=r"dev\.tsv:2: empty text"):
        text.load_goemotions(folder)
    (folder / "dev.tsv").write_text("no tabs here\n")
    with pytest.raises(text.TextDataError, match=r"dev\.tsv:1: expected 3"):
        text.load_goemotions(folder)
    (folder / "dev.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="dev.tsv"):
        text.load_goemotions(folder)


def test_goemotions_missing_folder_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="GoEmotions not found") as err:
        text.load_goemotions(tmp_path / "none", download=False)
    assert text._GOEMOTIONS_URL in str(err.value)


def test_shipped_goemotions_has_the_release_rows():
    ds = text.load_text_dataset("goemotions", task="ekman", multi_label="first")
    assert [len(ds[s]) for s in ("train", "val", "test")] == [43410, 5426, 5427]
    for name in ("LICENSE", "emotions.txt", "ekman_mapping.json"):
        assert (ROOT / "emolib" / "data" / "goemotions" / name).is_file()
    readme = (ROOT / "data" / "README.md").read_text()
    assert "GoEmotions" in readme and "arXiv:2005.00547" in readme
    ekman = text.load_text_dataset("goemotions", task="ekman")
    assert ekman.info["dropped"]["train"] == {"multi": 3855, "other": 0}  # as data/README.md says
    assert "| ekman (7) | 3,855 / 480 / 459 |" in readme


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/goemotions not present")
def test_shipped_goemotions_is_the_release_byte_for_byte():
    for split in ("train", "dev", "test"):
        shipped = gzip.decompress((ROOT / "emolib" / "data" / "goemotions" / f"{split}.tsv.gz").read_bytes())
        assert hashlib.sha256(shipped).digest() == hashlib.sha256((SHARED / f"{split}.tsv").read_bytes()).digest()


# --------------------------------------------------------------------------- download (127.0.0.1 only)


@pytest.fixture
def file_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "served"``; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_download_tweeteval_from_local_server(file_server, tmp_path):
    served, url = file_server
    write_tweeteval(served / "emotion")
    dest = tmp_path / "data" / "tweeteval-emotion"
    text.download_tweeteval(dest, url=url + "emotion/", connect_timeout=5)
    assert leftovers(dest.parent) == ["tweeteval-emotion"]
    ds = text.load_text_dataset(dest, task="tweeteval4")
    assert list(ds.test.labels) == [0, 2, 3]
    with pytest.raises(FileExistsError):
        text.download_tweeteval(dest, url=url + "emotion/")


def test_download_missing_file_leaves_nothing(file_server, tmp_path):
    served, url = file_server
    write_tweeteval(served / "emotion")
    (served / "emotion" / "test_text.txt").unlink()  # the server answers 404 for it
    dest = tmp_path / "data" / "tweeteval-emotion"
    with pytest.raises(net.NetworkError, match="404") as err:
        text.download_tweeteval(dest, url=url + "emotion/")
    assert "git clone" in str(err.value)  # the manual steps
    assert leftovers(dest.parent) == []


def test_download_rejects_files_that_do_not_fit(file_server, tmp_path):
    served, url = file_server
    write_tweeteval(served / "emotion")
    (served / "emotion" / "val_labels.txt").write_text("<html>rate limited</html>\n")
    dest = tmp_path / "data" / "tweeteval-emotion"
    with pytest.raises(text.TextDataError, match="val_labels.txt"):
        text.download_tweeteval(dest, url=url + "emotion/")
    (served / "emotion" / "val_labels.txt").write_text("0\n")  # one label for two tweets
    with pytest.raises(text.TextDataError, match="val_text.txt has 2 lines"):
        text.download_tweeteval(dest, url=url + "emotion/")
    assert leftovers(dest.parent) == []


def test_download_from_a_stalled_server_fails_within_its_deadline(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) and never answers
    dest = tmp_path / "data" / "tweeteval-emotion"
    start = time.monotonic()
    try:
        with pytest.raises(net.NetworkError, match="no answer") as err:
            text.download_tweeteval(dest, url=f"http://127.0.0.1:{listener.getsockname()[1]}/", connect_timeout=1.0)
    finally:
        listener.close()
    assert time.monotonic() - start < 5
    assert "curl -fLO" in str(err.value)
    assert leftovers(dest.parent) == []


def test_download_offline_fails_fast_with_steps(tmp_path):
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(net.NetworkError) as err:
        text.download_tweeteval(tmp_path / "tw", url=f"http://127.0.0.1:{port}/", connect_timeout=2)
    assert time.monotonic() - start < 5
    assert "cardiffnlp/tweeteval" in str(err.value)


def test_load_tweeteval_source_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="curl"):
        text.load_text_dataset("tweeteval", data_dir=tmp_path / "tw", download=False)


# --------------------------------------------------------------------------- preprocessing


def test_each_preprocessing_step():
    assert text._strip_html("<p>Hi <b>there</b></p> &amp; bye") == " Hi  there   & bye"
    assert text.preprocess("LOUD Voice", ["lower"]) == "loud voice"
    assert text.emoji_to_words("ok 😂👍🏽") == "ok  face with tears of joy  thumbs up sign "
    assert text.emoji_to_words("❤️") == " heavy black heart "
    assert text._remove_numbers("in 2022 at 10pm") == "in   at  pm"
    assert text._remove_punctuation("it's [NAME]! ok_ok") == "it s  NAME   ok ok"


def test_preprocess_applies_chosen_steps_in_seed_order():
    raw = "<i>GREAT</i> game 2day!! 😂"
    assert text.preprocess(raw) == "great game day face with tears of joy"
    assert text.preprocess(raw, steps=()) == raw
    # without the emoji step, punctuation removal deletes the emoji (it is not a letter or digit)
    assert text.preprocess(raw, steps=("punctuation", "lower")) == "i great i game 2day"
    out = text.preprocess([raw, "A"], steps=("lower",))
    assert out.dtype == object and list(out) == ["<i>great</i> game 2day!! 😂", "a"]
    with pytest.raises(ValueError, match="stem"):
        text.preprocess(raw, steps=("stem",))


# --------------------------------------------------------------------------- models and word vectors


def test_text_cnn_shapes_and_parameters():
    model = text.text_cnn(vocab_size=100, num_classes=4, sequence_length=12, embed_dim=8, filters=5,
                          kernel_sizes=(2, 3), pooling="average")
    out = model(np.random.default_rng(0).integers(0, 100, (3, 12)))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1, rtol=1e-5)
    # embedding 100*8, conv 2*8*5+5 and 3*8*5+5, dense 10*4+4
    assert model.count_params() == 800 + 85 + 125 + 44
    with pytest.raises(ValueError, match="pooling"):
        text.text_cnn(10, 2, pooling="min")


def test_load_word_vectors(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\ngood 1.0 2.0\nbad -1.0 0.5\nxx 9 9\n")  # fastText header, then words
    matrix, coverage = text.load_word_vectors(path, ["", "[UNK]", "good", "bad", "ugly"])
    assert matrix.shape == (5, 2) and coverage == pytest.approx(2 / 3)
    np.testing.assert_array_equal(matrix[2], [1.0, 2.0])
    np.testing.assert_array_equal(matrix[0], [0, 0])
    path.write_text("good 1 2\nbad 1\n")
    with pytest.raises(text.TextDataError, match=r"vectors\.txt:2"):
        text.load_word_vectors(path, ["", "[UNK]", "good", "bad"])


def test_find_word_vectors_file_dir_or_none(tmp_path):
    assert text.find_word_vectors(None, tmp_path / "nothing")[0] is None
    path, label = text.find_word_vectors(None, tmp_path / "nothing", allow_download=True)  # not in Colab: no network
    assert path is None and label.startswith("none") and "curl" in label
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / "readme.md").write_text("x")
    (folder / "mine.vec").write_text("good 1 2\n")
    assert text.find_word_vectors(None, folder) == (folder / "mine.vec", "file mine.vec")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        text.find_word_vectors(tmp_path / "missing.txt")


def test_glove_download_from_local_server(file_server, tmp_path):
    import zipfile

    served, url = file_server
    with zipfile.ZipFile(served / "glove.6B.zip", "w") as z:
        z.writestr("glove.6B.100d.txt", "good " + " ".join(["0.5"] * 100) + "\n")
    dest = tmp_path / "vectors"
    path = text.glove_vectors(dest, url=url + "glove.6B.zip")
    assert path == dest / "glove.6B.100d.txt" and leftovers(dest) == ["glove.6B.100d.txt"]
    matrix, coverage = text.load_word_vectors(path, ["", "[UNK]", "good"])
    assert matrix.shape == (3, 100) and coverage == 1.0
    (served / "bad.zip").write_text("not a zip")
    with pytest.raises(Exception):
        text.glove_vectors(tmp_path / "other", url=url + "bad.zip")
    assert not (tmp_path / "other").exists() or leftovers(tmp_path / "other") == []


def test_download_goemotions_from_local_server(file_server, tmp_path):
    served, url = file_server
    source = write_goemotions(served / "go", GO_ROWS)
    with gzip.open(source / "train.tsv.gz", "rt") as f:  # the release serves plain .tsv files
        (source / "train.tsv").write_text(f.read())
    dest = tmp_path / "cache" / "goemotions"
    text._download_goemotions(dest, url=url + "go/")
    assert leftovers(dest.parent) == ["goemotions"]
    assert list(text.load_goemotions(dest, task="tweeteval4").train.labels) == [0, 0, 1, 2, 3]
    (source / "dev.tsv").write_text("text\t99\tid\n")  # a bad file: checked before anything is kept
    with pytest.raises(text.TextDataError, match="dev.tsv:1"):
        text._download_goemotions(tmp_path / "other" / "goemotions", url=url + "go/")
    assert leftovers(tmp_path / "other") == []
