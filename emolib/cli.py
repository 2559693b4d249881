"""The ``emolib`` command line (``python -m emolib ...``).

    python -m emolib predict face.jpg other.png --model model.onnx
    python -m emolib predict faces/*.jpg --model model_int8.onnx --json
    python -m emolib predict group.jpg --model model_int8.onnx --faces --annotate labelled/

``predict`` classifies image files of any size and colour mode with an
:func:`emolib.export.export_onnx` file (or one quantized from it) and the preprocessing
stored in it: a row per image (label, its probability, every class's), or JSON. Files
that cannot be read (a folder, a named pipe, a decompression bomb too) are reported on
stderr and in the JSON's ``errors``, the others still classified, and the exit status is
1; so it is for an image the model gives no finite probabilities for (NaN), and for a
missing, non-ONNX or non-emolib model, before any image is read. Wrong arguments exit
with status 2. File names that are not valid in the file system's encoding are shown
with ``\xff`` escapes.

With ``--faces`` each image's faces are found first (:mod:`emolib.detect`, OpenCV's Haar
cascade) and each is cropped as the model's training images were and classified: a row per
face (its number and box ``x, y, w, h``), or one row labelled ``no face`` for an image
without one (not an error). ``--annotate DIR`` (implies ``--faces``) writes each image with
its boxes and labels drawn to ``DIR/<name>_faces.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _argument(convert, ok, expected):
    """An argparse ``type``: ``convert(text)`` when ``ok`` of it, else an error saying what was expected."""
    def parse(text):
        try:
            if ok(convert(text)):
                return convert(text)
        except ValueError:
            pass
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return parse


def _printable(text) -> str:
    """``text`` (a file name, or a message naming one) with the bytes that are not valid in the
    file system's encoding (which Python keeps as lone surrogates) written as ``\\xff`` escapes."""
    try:
        return os.fsencode(str(text)).decode(sys.getfilesystemencoding(), "backslashreplace")
    except UnicodeError:
        return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emolib", description="emolib: emotion classification tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    predict = sub.add_parser(
        "predict", help="classify image files with an exported ONNX model",
        description="Classify image files (PNG, JPEG, BMP, GIF; any size, gray or colour) with a model "
        "exported by emolib.export.export_onnx; the model's preprocessing is read from the model file.",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files to classify")
    predict.add_argument("--model", "-m", required=True, metavar="MODEL.onnx", help="an emolib ONNX export")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument("--threads", type=_argument(int, lambda n: n >= 1, "a positive integer"), default=None, metavar="N",
                         help="ONNX Runtime threads (default: one per physical core)")
    predict.add_argument("--faces", action="store_true",
                         help="find the faces in each image (OpenCV Haar cascade) and classify each: a row per face")
    predict.add_argument("--annotate", type=Path, default=None, metavar="OUT_DIR",
                         help="write each image with its face boxes and labels drawn to OUT_DIR (implies --faces)")
    predict.add_argument("--margin", type=_argument(float, lambda m: 0 <= m <= 2, "a margin between 0 and 2 (a fraction of the face box)"), default=None, metavar="M",
                         help="with --faces: added around each face box on every side, as a fraction of its side "
                         "(default: emolib.detect.DEFAULT_MARGIN)")
    predict.set_defaults(run=lambda args: _predict(args, predict))
    return parser


def _predict(args, parser) -> int:
    from .export import MissingExtraError, ModelFileError, OnnxClassifier

    try:
        classifier = OnnxClassifier(args.model, threads=args.threads)
    except (FileNotFoundError, ModelFileError, MissingExtraError) as exc:  # the last: pip install "emolib[onnx]"
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    if getattr(args, "faces", False) or getattr(args, "annotate", None) is not None:
        return _predict_faces(args, parser, classifier)
    if getattr(args, "margin", None) is not None:
        parser.error("--margin applies to face crops: add --faces")
    errors = []
    try:
        table = classifier.predict_files(args.images, errors=errors)
    except ModelFileError as exc:  # an output shape ONNX Runtime only knows when the model runs
        parser.exit(1, f"{parser.prog}: error: {_printable(exc)}\n")
    table["file"] = table["file"].map(_printable)
    errors = [{"file": _printable(e["file"]), "error": _printable(e["error"])} for e in errors]
    names = classifier.class_names
    return _output(parser, table, errors, args.json and {
        "model": _printable(args.model), "class_names": names, "predictions": [
            {"file": r["file"], "label": r["label"], "probability": round(float(r["probability"]), 6),
             "probabilities": {c: round(float(r[c]), 6) for c in names}} for r in table.to_dict("records")],
        "errors": errors})


def _output(parser, table, errors, as_json):
    """Print ``as_json`` (a dict) as JSON, or else ``table``; each error on stderr; the exit status."""
    if as_json:
        print(json.dumps(as_json, indent=2, allow_nan=False))
    elif len(table):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    for error in errors:
        print(f"{parser.prog}: error: {error['error']}", file=sys.stderr)
    return 1 if errors else 0


def _annotated_path(folder, image, used):
    """``folder/<stem>_faces.png``, with ``_2``, ``_3``... where two images share a stem."""
    stem, n = Path(image).stem, 1
    path = folder / f"{stem}_faces.png"
    while path in used:
        n += 1
        path = folder / f"{stem}_faces_{n}.png"
    used.add(path)
    return path


def _predict_faces(args, parser, classifier) -> int:
    """``predict --faces``: a row per face found (or one ``no face`` row per image); with
    ``--annotate`` each image is also written with its boxes and labels drawn."""
    import math

    import pandas as pd

    from . import detect
    from .data.images import ImageReadError

    try:
        detect._cascade(detect.DEFAULT_CASCADE)  # OpenCV and its cascade present, before any image is read
        if args.annotate is not None:
            args.annotate.mkdir(parents=True, exist_ok=True)
    except (detect.MissingOpenCVError, OSError) as exc:
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    errors, tables, written, used = [], [], [], set()
    for path in map(str, args.images):
        try:
            image = detect.read_rgb(path)
        except (OSError, ImageReadError) as exc:  # one bad file never costs the others' output
            errors.append({"file": path, "error": str(exc)})
            continue
        margin = detect.DEFAULT_MARGIN if args.margin is None else args.margin
        try:
            table = detect.predict_faces(classifier, image, file=_printable(path), margin=margin)
        except ValueError as exc:  # probabilities that are not finite (NaN): an error for this file
            errors.append({"file": path, "error": str(exc)})
            continue
        tables.append(table)
        if args.annotate is not None:
            out = _annotated_path(args.annotate, path, used)
            try:
                detect.annotate(image, table).save(out)
                written.append(str(out))
            except OSError as exc:
                errors.append({"file": path, "error": f"could not write '{out}': {exc}"})
    errors = [{"file": _printable(e["file"]), "error": _printable(e["error"])} for e in errors]
    names = classifier.class_names
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame(columns=[*detect.FACE_COLUMNS, *names]))
    if args.json:
        def number(v, digits=6):
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), digits)

        predictions = []
        for r in table.to_dict("records"):
            face = int(r["face"]) >= 0
            predictions.append({
                "file": r["file"], "face": int(r["face"]) if face else None,
                "box": [int(r[c]) for c in "xywh"] if face else None,
                "score": number(r["score"], 3) if face else None, "label": r["label"],
                "probability": number(r["probability"]) if face else None,
                "probabilities": {c: number(r[c]) for c in names} if face else None})
        return _output(parser, table, errors, {"model": str(args.model), "class_names": names, "faces": True,
                                               "predictions": predictions,
                                               "annotated": [_printable(w) for w in written], "errors": errors})
    shown, face = table.drop(columns="score"), table["face"] >= 0
    for column in ("face", "x", "y", "w", "h"):  # whole numbers, "-" on a no-face row
        shown[column] = [str(int(v)) if ok else "-" for v, ok in zip(shown[column], face)]
    return _output(parser, shown, errors, None)


def main(argv=None) -> int:
    """Run the command line (``python -m emolib``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.
    """
    args = _build_parser().parse_args(argv)
    return args.run(args)
