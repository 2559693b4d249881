"""Emotion in text: data sets, preprocessing and the text CNN of notebook 10.

Two sources, one entry point, :func:`load_text_dataset`:

* **GoEmotions** (Demszky et al., ACL 2020; Apache-2.0): 58k Reddit comments with 27 emotions +
  neutral, shipped compressed in the package (``emolib/data/goemotions/``, so a pip install has it
  too; a download from google-research's repository through :mod:`emolib.net` remains the fallback).
* **TweetEval emotion** (Barbieri et al., 2020): tweets labelled anger, joy, optimism or sadness, in
  the layout ``{train,val,test}_text.txt``, ``{train,val,test}_labels.txt`` and ``mapping.txt`` (one
  example per line). :func:`download_tweeteval` fetches it from cardiffnlp/tweeteval when the network
  answers and fails fast with the manual steps otherwise.

Tasks (``task=``): ``"ekman"`` (anger, disgust, fear, joy, sadness, surprise, neutral: the authors'
Ekman grouping, GoEmotions only), ``"tweeteval4"`` (anger, joy, optimism, sadness), and seed 001's
pairs ``"anger_joy"`` and ``"anger_optimism"``.

Multi-label rows (17% of GoEmotions) are resolved by ``multi_label=``:

* ``"exclusive"`` (default): a row's labels are mapped to the task's classes (Ekman: each emotion to
  its group); the row is kept when exactly one task class remains, whatever other labels it carries
  (``joy,admiration`` is *joy* for ``"tweeteval4"``); rows with two or more task classes are dropped;
* ``"strict"``: kept only when every label maps to the same single task class;
* ``"first"``: the first listed label decides (kept if it maps to a task class).

``TextDataset.info["dropped"]`` counts, per split, the rows dropped for having several task classes
(``"multi"``) and for having none (``"other"``).

Preprocessing (seed 001's steps) are small functions, each switchable: :func:`_strip_html`,
``str.lower``, :func:`emoji_to_words`, :func:`_remove_numbers`, :func:`_remove_punctuation`;
:func:`preprocess` applies a chosen list of them in seed 001's order.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
import shutil
import sys
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import net
from .data.base import EmotionDataset
from .fileio import atomic_path, _temp_dir_beside

__all__ = [
    "MULTI_LABEL_POLICIES", "PREPROCESSING_STEPS", "TextDataError", "TextDataset", "download_tweeteval",
    "emoji_to_words", "find_word_vectors", "glove_vectors", "is_emoji", "load_goemotions", "load_text_dataset",
    "load_tweeteval", "load_word_vectors", "preprocess", "text_cnn", "tweeteval_instructions"
]

#: Task name -> classes (label ``i`` is ``classes[i]``).
_TASKS = {
    # FER2013's seven classes, named as GoEmotions' authors name them
    "ekman": ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"),
    "tweeteval4": ("anger", "joy", "optimism", "sadness"),  # TweetEval's mapping.txt order
    "anger_joy": ("anger", "joy"),            # seed 001's first pair
    "anger_optimism": ("anger", "optimism"),  # seed 001's second pair
}
MULTI_LABEL_POLICIES = ("exclusive", "strict", "first")
_SPLITS = ("train", "val", "test")

_GOEMOTIONS_URL = "https://raw.githubusercontent.com/google-research/google-research/master/goemotions/data/"
_TWEETEVAL_URL = "https://raw.githubusercontent.com/cardiffnlp/tweeteval/main/datasets/emotion/"
_TWEETEVAL_FILES = ("mapping.txt",) + tuple(f"{s}_{k}.txt" for s in _SPLITS for k in ("text", "labels"))
_GOEMOTIONS_FILES = ("emotions.txt", "ekman_mapping.json", "train.tsv", "dev.tsv", "test.tsv")


class TextDataError(ValueError):
    """A text data file is missing something or holds a bad line; the message names file and line."""


# --------------------------------------------------------------------------- data structures
@dataclass
class _TextSplit:
    """One split: ``texts`` (object array of str, ``(n,)``), ``labels`` (int64 ``(n,)``)
    and ``meta`` (one row per text: ``source`` = ``file:line``, ``orig_labels``)."""

    texts: np.ndarray
    labels: np.ndarray
    meta: pd.DataFrame

    def __post_init__(self):
        self.texts = np.asarray(self.texts, dtype=object)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.texts.shape != self.labels.shape or len(self.meta) != len(self.texts):
            raise ValueError(f"texts {self.texts.shape}, labels {self.labels.shape} and meta "
                             f"({len(self.meta)} rows) must have the same length")
        self.meta = self.meta.reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index) -> "TextSplit":
        """The rows selected by an index array or boolean mask."""
        index = np.asarray(index)
        return _TextSplit(self.texts[index], self.labels[index], self.meta.iloc[index].copy())


@dataclass(repr=False)
class TextDataset(EmotionDataset):
    """Named splits of texts plus the class names their labels index into.

    An :class:`emolib.data.EmotionDataset` (``train``, ``val``, ``test``, ``num_classes``,
    ``counts()``, the label check) whose splits hold texts instead of images (so not
    ``image_shape``, nor ``subset``, which reads emotion names).

    Parameters
    ----------
    splits : dict of str to _TextSplit
        The splits by name; each holds ``texts`` ``(n,)``, ``labels`` ``(n,)`` int and ``meta``.
    class_names : tuple of str
        The name of each label index.
    name : str, default "text"
        Where it came from.
    info : dict, optional
        How it was made.
    """

    name: str = "text"

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return f"TextDataset({self.name!r}, classes={list(self.class_names)}, {sizes})"


# --------------------------------------------------------------------------- reading, label policies, downloads
def _task_classes(task, available, source):
    if task not in _TASKS:
        raise ValueError(f"unknown task {task!r}; tasks: {sorted(_TASKS)}")
    classes = _TASKS[task]
    missing = [c for c in classes if c not in available]
    if missing:
        raise ValueError(f"task {task!r} needs classes {missing}, which {source} does not have "
                         f"(it has {sorted(available)})")
    return classes


def _check_policy(multi_label):
    if multi_label not in MULTI_LABEL_POLICIES:
        raise ValueError(f"multi_label must be one of {MULTI_LABEL_POLICIES}, got {multi_label!r}")


def _is_id(text):
    """Whether ``text`` is a label id: ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails)."""
    return text.isascii() and text.isdigit()


def _read_text(path):
    """The text of the UTF-8 file ``path`` (``.gz``: gzip-compressed), line breaks as in the file;
    :class:`TextDataError` names file and line of damaged gzip data or of a byte that is not UTF-8."""
    data = bytearray()
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            while chunk := f.read(1 << 20):
                data += chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        line = data.count(b"\n") + 1
        raise TextDataError(f"{path}:{line}: damaged or truncated gzip file ({exc}); get the file again") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, start = data.count(b"\n", 0, exc.start) + 1, data.rfind(b"\n", 0, exc.start) + 1
        raise TextDataError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x} at column "
                            f"{exc.start - start + 1}); save the file as UTF-8") from None


def _lines(text):
    """``text``'s lines, split only at ``\\n`` (the trailing ``\\r`` of CRLF removed; a lone ``\\r``
    stays inside its line), so line numbers are those an editor shows."""
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")] if text else []


def _label_names(texts, raw_labels, text_path, label_path, label_names):
    """Per row, the names of its labels (``raw_labels``: comma-separated ids into
    ``label_names``); :class:`TextDataError` names file and line of an empty text or a bad id."""
    rows = []
    for line_no, (text, value) in enumerate(zip(texts, raw_labels), 1):
        if not text.strip():
            raise TextDataError(f"{text_path}:{line_no}: empty text")
        ids = value.split(",")
        if not all(_is_id(i.strip()) and int(i) < len(label_names) for i in ids):
            raise TextDataError(f"{label_path}:{line_no}: unknown label id {value.strip()!r} "
                                f"(valid: 0..{len(label_names) - 1})")
        rows.append(tuple(label_names[int(i)] for i in ids))
    return tuple(rows)


def _row_classes(names, to_class, policy):
    """The task classes (indices) one row's label names give under ``policy`` (module docstring)."""
    mapped = [to_class.get(n) for n in names]
    if policy == "first":
        mapped = mapped[:1]
    elif policy == "strict" and None in mapped:  # a label outside the task: dropped
        return set()
    return set(mapped) - {None}


def _dataset(name, folder, task, policy, classes, group, read):
    """The :class:`TextDataset` of ``read(split) -> (file, texts, label names per row)`` over
    :data:`_SPLITS`, keeping the rows whose labels give exactly one task class under ``policy``;
    ``group`` maps a label name to its task class name."""
    to_class = {n: classes.index(c) for n, c in group.items() if c in classes}
    splits, dropped = {}, {}
    for split in _SPLITS:
        path, texts, names = read(split)
        found = {n: _row_classes(n, to_class, policy) for n in set(names)}  # once per distinct label list
        size = np.array([len(found[n]) for n in names], dtype=np.int64)
        labels = np.where(size == 1, [min(found[n], default=-1) for n in names], -1).astype(np.int64)
        dropped[split] = {"multi": int((size > 1).sum()), "other": int((size == 0).sum())}
        meta = pd.DataFrame({"source": [f"{path.name}:{i}" for i in range(1, len(texts) + 1)],
                             "orig_labels": [",".join(n) for n in names]})
        splits[split] = _TextSplit(np.asarray(texts, dtype=object), labels, meta).take(labels >= 0)
    return TextDataset(splits, classes, name,
                       {"source": str(folder), "task": task, "multi_label": policy, "dropped": dropped})


def _curl_steps(folder, url, files):
    """Shell lines that download ``url + name`` for each of ``files`` into ``folder``."""
    return f"  mkdir -p {folder} && cd {folder}\n" + "".join(f"  curl -fLO {url}{f}\n" for f in files)


def _download_files(url, names, dest, manual_steps, connect_timeout, read_timeout, check):
    """Download ``url + name`` for every name into a hidden folder beside ``dest``, run ``check(folder)``
    (a loader, which raises on a file that does not parse, such as an error page), then rename the folder to
    ``dest``; on any failure nothing is left."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"'{dest}' exists; load it, or remove it to download again")
    url = url if url.endswith("/") else url + "/"
    tmp = _temp_dir_beside(dest, "download")
    try:
        for name in names:
            net._download(url + name, tmp / name, connect_timeout=connect_timeout, read_timeout=read_timeout,
                          manual_steps=manual_steps, progress=False)
        check(tmp)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- GoEmotions
def _goemotions_instructions(folder="data/goemotions") -> str:
    """The manual steps to get GoEmotions where emolib looks for it."""
    return ("GoEmotions ships with emolib (emolib/data/goemotions/). To get it by hand:\n"
            + _curl_steps(folder, _GOEMOTIONS_URL, _GOEMOTIONS_FILES)
            + f"then load_text_dataset('goemotions', data_dir='{folder}').")


def _find_goemotions(data_dir=None) -> Path | None:
    """The GoEmotions folder: ``data_dir``, else the copy shipped in the package
    (``emolib/data/goemotions``, found with :mod:`importlib.resources`), else ``data/goemotions``
    in the working directory or a parent. ``None`` if absent."""
    from importlib.resources import files

    candidates = [Path(data_dir)] if data_dir is not None else [
        Path(str(files("emolib.data") / "goemotions")),
        *(p / "data" / "goemotions" for p in (Path.cwd(), *Path.cwd().resolve().parents)),
    ]
    return next((folder for folder in candidates if (folder / "emotions.txt").is_file()), None)


def _download_goemotions(dest, url=_GOEMOTIONS_URL, connect_timeout=5.0, read_timeout=30.0) -> Path:
    """Download GoEmotions' files (uncompressed TSVs) into the folder ``dest`` through
    :func:`emolib.net._download` (atomically, as :func:`download_tweeteval`);
    ``NetworkError`` with the manual steps when offline."""
    return _download_files(url, _GOEMOTIONS_FILES, dest, _goemotions_instructions(dest), connect_timeout,
                           read_timeout, lambda folder: load_goemotions(folder, download=False))


@functools.lru_cache(maxsize=6)
def _parse_goemotions_tsv(path, mtime_ns, size, label_names):
    """Texts and label-name tuples of one file, cached while the file is unchanged (tuples: immutable)."""
    rows = [line.split("\t") for line in _lines(_read_text(path))]
    for line_no, parts in enumerate(rows, 1):
        if len(parts) != 3:
            raise TextDataError(f"{path}:{line_no}: expected 3 tab-separated columns (text, labels, id), "
                                f"got {len(parts)}")
    texts = tuple(parts[0] for parts in rows)
    return texts, _label_names(texts, [parts[1] for parts in rows], path, path, label_names)


def _read_ekman_mapping(path):
    """``ekman_mapping.json``: ``{group: [GoEmotions emotion, ...]}``; :class:`TextDataError`
    names file and line of bad JSON or of a value of the wrong kind."""
    text = _read_text(path)
    try:
        ekman = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TextDataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(ekman, dict):
        raise TextDataError(f"{path}:1: expected a JSON object {{group: [emotion, ...]}}, "
                            f"got a {type(ekman).__name__}")
    for group, members in ekman.items():
        if not (isinstance(members, list) and all(isinstance(m, str) for m in members)):
            line = text.count("\n", 0, max(text.find(json.dumps(group, ensure_ascii=False)), 0)) + 1
            raise TextDataError(f"{path}:{line}: group {group!r} must be a list of emotion names, got {members!r}")
    return ekman


def load_goemotions(data_dir=None, task="ekman", multi_label="exclusive", download=True) -> TextDataset:
    """GoEmotions for ``task`` (see the module docstring), splits train/val (``dev``)/test as released.

    ``data_dir``: a folder with ``{train,dev,test}.tsv[.gz]``, ``emotions.txt`` and
    ``ekman_mapping.json`` (default: :func:`_find_goemotions`). When none is found and
    ``download`` is true, the files are downloaded to ``~/.keras/datasets/goemotions``
    (in Colab; offline this fails within seconds with the manual steps).
    """
    _check_policy(multi_label)
    folder = _find_goemotions(data_dir)
    if folder is None:
        if data_dir is not None or not download:
            where = data_dir or "data/goemotions"
            raise FileNotFoundError(f"GoEmotions not found in '{where}' (no emotions.txt)\n\n"
                                    + _goemotions_instructions(where))
        cache = Path.home() / ".keras" / "datasets" / "goemotions"
        folder = cache if (cache / "emotions.txt").is_file() else _download_goemotions(cache)
    label_names = _read_text(folder / "emotions.txt").split()
    if task == "ekman":
        ekman = _read_ekman_mapping(folder / "ekman_mapping.json")
        group = {e: k for k, members in ekman.items() for e in members} | {"neutral": "neutral"}
    else:
        group = {n: n for n in label_names}
    classes = _task_classes(task, set(group.values()), "GoEmotions")

    def read(split):  # the release calls the validation split "dev"
        name = {"val": "dev"}.get(split, split)
        path = next((p for p in (folder / f"{name}.tsv.gz", folder / f"{name}.tsv") if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(f"GoEmotions split '{name}' not found: no {name}.tsv.gz or {name}.tsv "
                                    f"in '{folder}'\n\n{_goemotions_instructions(folder)}")
        return path, *_parse_goemotions_tsv(path, path.stat().st_mtime_ns, path.stat().st_size, tuple(label_names))

    return _dataset(f"goemotions-{task}", folder, task, multi_label, classes, group, read)


# --------------------------------------------------------------------------- TweetEval
def tweeteval_instructions(folder="data/tweeteval-emotion") -> str:
    """The manual steps to get TweetEval emotion into ``folder``."""
    return ("Get TweetEval emotion by hand (public GitHub repository cardiffnlp/tweeteval, datasets/emotion/):\n"
            + _curl_steps(folder, _TWEETEVAL_URL, _TWEETEVAL_FILES)
            + "or: git clone --depth 1 https://github.com/cardiffnlp/tweeteval && "
            f"cp tweeteval/datasets/emotion/*.txt {folder}/\nthen load_text_dataset('{folder}', task='tweeteval4').")


def download_tweeteval(dest="data/tweeteval-emotion", url=_TWEETEVAL_URL, connect_timeout=5.0,
                       read_timeout=30.0) -> Path:
    """Download TweetEval emotion's 7 files into the folder ``dest`` through :func:`emolib.net._download`:
    renamed into place only when all arrived and :func:`load_tweeteval` reads them (nothing is left
    otherwise); offline, :class:`emolib.net.NetworkError` within seconds, with the manual steps."""
    return _download_files(url, _TWEETEVAL_FILES, dest, tweeteval_instructions(dest), connect_timeout, read_timeout,
                           load_tweeteval)


def _read_lines(path):
    if not path.is_file():
        raise FileNotFoundError(f"TweetEval file missing: '{path}' (expected the layout "
                                f"{', '.join(_TWEETEVAL_FILES)})\n\n{tweeteval_instructions(path.parent)}")
    return _lines(_read_text(path))


def _read_mapping(path):
    names, id_line, name_line = {}, {}, {}
    for line_no, line in enumerate(_read_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not _is_id(parts[0]):
            raise TextDataError(f"{path}:{line_no}: expected '<id><tab><name>', got {line!r}")
        label, name = int(parts[0]), parts[1].strip().lower()
        if label in id_line:
            raise TextDataError(f"{path}:{line_no}: label id {label} repeated (first on line {id_line[label]})")
        if name in name_line:
            raise TextDataError(f"{path}:{line_no}: class {name!r} repeated (first on line {name_line[name]})")
        names[label], id_line[label], name_line[name] = name, line_no, line_no
    if sorted(names) != list(range(len(names))):
        raise TextDataError(f"{path}: label ids must be 0..{len(names) - 1}, got {sorted(names)}")
    return [names[i] for i in range(len(names))]


def load_tweeteval(folder, task=None, multi_label="exclusive") -> TextDataset:
    """Read a TweetEval-layout folder (``mapping.txt``, ``{train,val,test}_{text,labels}.txt``).

    ``task``: ``None`` keeps every class of ``mapping.txt``; a task name keeps its
    classes (e.g. ``"anger_joy"``). ``multi_label`` applies to lines holding several
    comma-separated ids (TweetEval has one label per tweet).

    Raises ``FileNotFoundError`` naming a missing file and :class:`TextDataError`
    naming file and line for a line-count mismatch, an unknown label id, an empty text,
    a repeated id or class in ``mapping.txt`` or a byte that is not UTF-8. Lines are split
    at ``\\n`` only (CRLF works; a lone ``\\r`` stays in its tweet), as an editor counts them.
    """
    _check_policy(multi_label)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"TweetEval folder not found: '{folder}'\n\n{tweeteval_instructions(folder)}")
    names = _read_mapping(folder / "mapping.txt")
    classes = tuple(names) if task is None else _task_classes(task, set(names), f"'{folder}'")

    def read(split):
        text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
        texts, raw = _read_lines(text_path), _read_lines(label_path)
        if len(texts) != len(raw):
            raise TextDataError(f"{text_path} has {len(texts)} lines but {label_path} has {len(raw)}: "
                                f"line {min(len(texts), len(raw)) + 1} has no partner")
        return text_path, texts, _label_names(texts, raw, text_path, label_path, names)

    return _dataset(f"tweeteval-{task or 'emotion'}", folder, task, multi_label, classes, {n: n for n in names},
                    read)


def load_text_dataset(source="goemotions", task="ekman", multi_label="exclusive", data_dir=None,
                      download=True) -> TextDataset:
    """One entry point for text data: returns texts, labels, class names and train/val/test splits.

    Parameters
    ----------
    source : ``"goemotions"`` (shipped in ``data/goemotions``), ``"tweeteval"``
        (``data/tweeteval-emotion``, downloaded there when absent and ``download``),
        or a path: a TweetEval-layout folder, or a folder holding GoEmotions' files.
    task : ``"ekman"`` (GoEmotions only), ``"tweeteval4"``, ``"anger_joy"``, ``"anger_optimism"``.
    multi_label : ``"exclusive"``, ``"strict"`` or ``"first"`` (module docstring).
    data_dir : GoEmotions folder (``source="goemotions"``) or TweetEval folder (``"tweeteval"``).
    download : allow a download when the data is not on disk.
    """
    if not isinstance(source, (str, Path)):
        raise ValueError(f"source must be 'goemotions', 'tweeteval' or a folder, got {source!r}")
    key = str(source).strip().lower()
    if key == "goemotions":
        return load_goemotions(data_dir, task, multi_label, download)
    if key == "tweeteval":
        folder = Path(data_dir or "data/tweeteval-emotion")
        if not folder.exists():
            if not download:
                raise FileNotFoundError(f"TweetEval not found in '{folder}'\n\n{tweeteval_instructions(folder)}")
            download_tweeteval(folder)
        return load_tweeteval(folder, task, multi_label)
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"text data source not found: '{path}' (source must be 'goemotions', "
                                "'tweeteval' or a folder)")
    if (path / "emotions.txt").is_file():
        return load_goemotions(path, task, multi_label, download=False)
    return load_tweeteval(path, task, multi_label)


# --------------------------------------------------------------------------- preprocessing (seed 001)
def _strip_html(text: str) -> str:
    """Remove HTML tags and decode entities (``<b>hi</b> &amp;`` -> ``hi &``)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def is_emoji(ch: str) -> bool:
    """Whether a character is an emoji (Unicode "Symbol, other" or the emoji planes).

    Parameters
    ----------
    ch : str
        One character.

    Returns
    -------
    bool
        True for an emoji.
    """
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def emoji_to_words(text: str) -> str:
    """Replace each emoji (Unicode category "Symbol, other", or the emoji planes) by its
    Unicode name as words (``😂`` -> ``face with tears of joy``); variation selectors and
    skin-tone modifiers are dropped. Needs no package: the names come from :mod:`unicodedata`."""
    out = []
    for ch in text:
        if ch in "\ufe0f\u200d" or 0x1F3FB <= ord(ch) <= 0x1F3FF:
            continue
        if is_emoji(ch):
            name = unicodedata.name(ch, "")
            out.append(f" {name.lower()} " if name else " ")
        else:
            out.append(ch)
    return "".join(out)


def _remove_numbers(text: str) -> str:
    """Delete every run of digits (seed 001 deletes numbers rather than tagging them)."""
    return re.sub(r"\d+", " ", text)


def _remove_punctuation(text: str) -> str:
    """Replace every character that is neither a letter, a digit nor a space by a space."""
    return re.sub(r"[^\w\s]|_", " ", text)


#: Seed 001's preprocessing steps, in its order.
PREPROCESSING_STEPS = {
    "html": _strip_html,
    "lower": str.lower,
    "emoji": emoji_to_words,
    "numbers": _remove_numbers,
    "punctuation": _remove_punctuation,
}


def preprocess(texts, steps=tuple(PREPROCESSING_STEPS)):
    """Apply named preprocessing steps to texts, then collapse white space.

    Parameters
    ----------
    texts : str or sequence of str
        The texts.
    steps : sequence of str, default all
        Keys of :data:`PREPROCESSING_STEPS`, applied in seed 001's order whatever order they
        are given in.

    Returns
    -------
    str or array of object, shape (n,)
        The same kind as ``texts``.
    """
    unknown = [s for s in steps if s not in PREPROCESSING_STEPS]
    if unknown:
        raise ValueError(f"unknown preprocessing step(s) {unknown}; steps: {list(PREPROCESSING_STEPS)}")
    functions = [f for name, f in PREPROCESSING_STEPS.items() if name in steps]

    def one(text):
        for f in functions:
            text = f(text)
        return re.sub(r"\s+", " ", text).strip()

    if isinstance(texts, str):
        return one(texts)
    return np.array([one(t) for t in texts], dtype=object)


# --------------------------------------------------------------------------- models
def text_cnn(vocab_size, num_classes, sequence_length=None, embed_dim=64, filters=100, kernel_sizes=(3,),
             strides=1, pooling="max", dropout=0.5, embeddings=None, trainable_embeddings=True):
    """Seed 001's (and Kim's 2014) text CNN: embedding, one Conv1D per kernel size,
    global pooling over time, concatenation, dropout, a softmax layer.

    Input: token ids ``(batch, sequence_length)`` (0 = padding, as
    ``keras.layers.TextVectorization`` writes them); output: class probabilities
    ``(batch, num_classes)``. ``pooling``: ``"max"`` (1-max pooling) or ``"average"``.
    ``embeddings``: an optional ``(vocab_size, embed_dim)`` matrix of pretrained
    word vectors to start from (:func:`load_word_vectors`).
    """
    import keras
    from keras import layers

    if pooling not in ("max", "average"):
        raise ValueError(f"pooling must be 'max' or 'average', got {pooling!r}")
    inputs = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    init = "uniform" if embeddings is None else keras.initializers.Constant(embeddings)
    x = layers.Embedding(vocab_size, embed_dim, embeddings_initializer=init,
                         trainable=trainable_embeddings, name="embedding")(inputs)
    pool = layers.GlobalMaxPooling1D if pooling == "max" else layers.GlobalAveragePooling1D
    branches = [pool()(layers.Conv1D(filters, k, strides=strides, activation="relu", padding="same")(x))
                for k in kernel_sizes]
    x = branches[0] if len(branches) == 1 else layers.Concatenate()(branches)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="text_cnn")


def load_word_vectors(path, vocabulary, dim=None, seed=0):
    """An embedding matrix for a vocabulary from a word-vector text file.

    Rows of words absent from the file are random with the file vectors' standard deviation
    (seed 001's rule); row 0 (padding) is zero. :class:`TextDataError` names file and line of
    a vocabulary word's bad line (not all numbers, the wrong count, a value that is not
    finite) or of damaged gzip data.

    Parameters
    ----------
    path : str or pathlib.Path
        A GloVe or fastText ``.vec`` file (``word v1 v2 ...`` per line), maybe gzipped.
    vocabulary : list of str
        The words, index 0 the padding.
    dim : int, optional
        The vectors' size (default: the file's).
    seed : int, default 0
        Seed of the random rows.

    Returns
    -------
    matrix : array of float32, shape (len(vocabulary), dim)
        The embeddings.
    coverage : float
        The fraction of the vocabulary (padding and ``[UNK]`` excluded) found in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word-vector file not found: '{path}'")
    index = {w: i for i, w in enumerate(vocabulary)}
    found = {}
    opener = gzip.open if path.suffix == ".gz" else open
    line_no = 0
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as f:
            for line_no, line in enumerate(f, 1):
                word, *numbers = line.rstrip().split(" ")
                if word not in index or (line_no == 1 and len(numbers) == 1):  # fastText header: count dim
                    continue
                try:
                    with np.errstate(over="ignore"):  # 1e40 overflows float32 to inf: refused below
                        vec = np.asarray(numbers, dtype=np.float32)
                except ValueError:
                    raise TextDataError(f"{path}:{line_no}: not a word followed by numbers") from None
                dim = len(vec) if dim is None else dim
                if len(vec) != dim:
                    raise TextDataError(f"{path}:{line_no}: {len(vec)} numbers, expected {dim}")
                if not np.isfinite(vec).all():
                    raise TextDataError(f"{path}:{line_no}: {word!r} has a value that is not finite "
                                        "(nan, inf or beyond float32)")
                found[index[word]] = vec
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise TextDataError(f"{path}:{line_no + 1}: damaged or truncated gzip file ({exc}); "
                            "get the file again") from None
    if dim is None:
        raise TextDataError(f"{path}: no word of the vocabulary found")
    scale = float(np.std(np.stack(list(found.values())))) if found else 0.1
    matrix = np.random.default_rng(seed).normal(0, scale, (len(vocabulary), dim)).astype(np.float32)
    for i, vec in found.items():
        matrix[i] = vec
    matrix[0] = 0
    return matrix, len(set(found) - {0, 1}) / max(len(vocabulary) - 2, 1)


_GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
_WORD_VECTOR_SUFFIXES = (".txt", ".vec", ".txt.gz", ".vec.gz")


def _glove_instructions(dest_dir="data/word-vectors", dim=100) -> str:
    """The manual steps to get GloVe 6B vectors into ``dest_dir``."""
    return ("Get GloVe 6B (822 MB zip, Wikipedia + Gigaword, 400k words) by hand:\n"
            + _curl_steps(dest_dir, "", [_GLOVE_URL])
            + f"  unzip glove.6B.zip glove.6B.{dim}d.txt && rm glove.6B.zip\n"
            "or pass any GloVe/fastText text file (word v1 v2 ... per line) as WORD_VECTORS.")


def glove_vectors(dest_dir="data/word-vectors", dim=100, url=_GLOVE_URL, connect_timeout=5.0,
                  read_timeout=60.0) -> Path:
    """Download GloVe 6B through :func:`emolib.net._download` and extract
    ``glove.6B.<dim>d.txt`` into ``dest_dir`` (atomically; the zip is deleted).
    Offline: :class:`emolib.net.NetworkError` within seconds, with the manual steps."""
    dest_dir = Path(dest_dir)
    member = f"glove.6B.{dim}d.txt"
    target = dest_dir / member
    if target.is_file():
        return target
    archive = dest_dir / "glove.6B.zip"
    net._download(url, archive, connect_timeout=connect_timeout, read_timeout=read_timeout,
                  verify=zipfile.ZipFile, manual_steps=_glove_instructions(dest_dir, dim))
    try:
        with zipfile.ZipFile(archive) as z, z.open(member) as src, atomic_path(target) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except KeyError:
        raise TextDataError(f"{archive} has no {member}") from None
    finally:
        archive.unlink(missing_ok=True)
    return target


def find_word_vectors(path=None, search_dir="data/word-vectors", allow_download=False, dim=100):
    """Where pretrained word vectors come from: ``(path or None, label)``.

    1. ``path`` (it must exist); 2. the first ``*.txt``/``*.vec`` (optionally ``.gz``)
    in ``search_dir``; 3. only in Google Colab with ``allow_download`` and when the
    host answers within 3 s, GloVe 6B (:func:`glove_vectors`). Otherwise ``None``
    and the label ``"none"`` with the reason: nothing claims vectors it does not have.
    """
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"word-vector file not found: '{path}'\n\n{_glove_instructions(search_dir, dim)}")
        return path, f"file {path.name}"
    search_dir = Path(search_dir)
    files = sorted(p for p in search_dir.glob("*") if p.is_file() and p.name.endswith(_WORD_VECTOR_SUFFIXES))
    if files:
        return files[0], f"file {files[0].name}"
    if allow_download and "google.colab" in sys.modules and net._reachable(_GLOVE_URL, timeout=3.0):
        return glove_vectors(search_dir, dim), f"GloVe 6B {dim}d (download)"
    return None, (f"none: no WORD_VECTORS file, none in '{search_dir}', no download (only offered in Colab).\n"
                  + _glove_instructions(search_dir, dim))
