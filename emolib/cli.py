"""The ``emolib`` command line (``python -m emolib ...``).

    python -m emolib predict face.jpg other.png --model model.onnx
    python -m emolib predict faces/*.jpg --model model_int8.onnx --json

``predict`` classifies image files of any size and colour mode with an
:func:`emolib.export.export_onnx` file (or one quantized from it) and the preprocessing
stored in it: a row per image (label, its probability, every class's), or JSON. Files
that cannot be read (a folder, a named pipe, a decompression bomb too) are reported on
stderr and in the JSON's ``errors``, the others still classified, and the exit status is
1; so it is for an image the model gives no finite probabilities for (NaN), and for a
missing, non-ONNX or non-emolib model, before any image is read. Wrong arguments exit
with status 2. File names that are not valid in the file system's encoding are shown
with ``\xff`` escapes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _positive_int(text):
    try:
        if int(text) >= 1:
            return int(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")


def _printable(text) -> str:
    """``text`` (a file name, or a message naming one) with the bytes that are not valid in the
    file system's encoding (which Python keeps as lone surrogates) written as ``\\xff`` escapes."""
    try:
        return os.fsencode(str(text)).decode(sys.getfilesystemencoding(), "backslashreplace")
    except UnicodeError:
        return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def build_parser() -> argparse.ArgumentParser:
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
    predict.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                         help="ONNX Runtime threads (default: one per physical core)")
    predict.set_defaults(run=lambda args: _predict(args, predict))
    return parser


def _predict(args, parser) -> int:
    from .export import MissingExtraError, ModelFileError, OnnxClassifier

    try:
        classifier = OnnxClassifier(args.model, threads=args.threads)
    except (FileNotFoundError, ModelFileError, MissingExtraError) as exc:  # the last: pip install "emolib[onnx]"
        parser.exit(1, f"{parser.prog}: error: {exc}\n")
    errors = []
    try:
        table = classifier.predict_files(args.images, errors=errors)
    except ModelFileError as exc:  # an output shape ONNX Runtime only knows when the model runs
        parser.exit(1, f"{parser.prog}: error: {_printable(exc)}\n")
    table["file"] = table["file"].map(_printable)
    errors = [{"file": _printable(e["file"]), "error": _printable(e["error"])} for e in errors]
    if args.json:
        names = classifier.class_names
        predictions = [{"file": r["file"], "label": r["label"], "probability": round(float(r["probability"]), 6),
                        "probabilities": {c: round(float(r[c]), 6) for c in names}} for r in table.to_dict("records")]
        out = {"model": _printable(args.model), "class_names": names, "predictions": predictions, "errors": errors}
        print(json.dumps(out, indent=2, allow_nan=False))
    elif len(table):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for error in errors:
        print(f"{parser.prog}: error: {error['error']}", file=sys.stderr)
    return 1 if errors else 0


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)
