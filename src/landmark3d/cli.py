"""The ``landmark3d`` command. Each verb's flags and body live beside the code they drive
(``<area>/cli.py`` with ``add_arguments(parser)`` and ``run(args) -> int``); this module only
builds the parser and dispatches, so ``--help`` stays fast and imports nothing heavy."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# verb -> (module holding add_arguments/run, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "detect": ("landmark3d.detect.cli", "find faces and predict 70 landmarks in photos or videos"),
    "eval": ("landmark3d.evaluate.cli", "score a model on a benchmark dataset (AFLW2000-3D, 300-W, ...)"),
    "bench": ("landmark3d.evaluate.bench_cli", "measure speed: per-face latency, images/s, generator frames/s"),
    "synth": ("landmark3d.synth.cli", "render synthetic labelled faces from the ICT FaceKit head model"),
    "train": ("landmark3d.train.cli", "train a landmark model on synthetic faces"),
    "export": ("landmark3d.train.export_cli", "export a training checkpoint to ONNX with its model card"),
    "bbox": ("landmark3d.train.bbox_cli", "run the face detector over a dataset and write its boxes"),
    "pack": ("landmark3d.train.pack_cli", "decode a dataset folder once into arrays training reads fast"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landmark3d",
        description="70 x-ray face landmarks with uncertainty, 3D points and head pose.",
    )
    parser.add_argument("--version", action="version", version=f"landmark3d {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb, (module, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(VERBS[args.verb][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
