"""The ``landmark3d export`` command: a training checkpoint -> ONNX file + model card.

    landmark3d export runs/mnv2/last.pt --format onnx [--fp16 | --int8 SYNTH_DIR] [--out weights/mobilenetv2_gnll.onnx]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", type=Path, help="training checkpoint (RUN/last.pt or RUN/best.pt)")
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default: onnx)")
    parser.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=False,
                        help="store weights as float16 (half the size; compute stays float32)")
    parser.add_argument("--int8", type=Path, default=None, metavar="DIR",
                        help="quantise to int8 (ONNX Runtime static QDQ: 3x faster for ResNet34 on a VNNI CPU, "
                        "half an fp16 file), calibrated on crops of this folder of synthetic faces (FaceSynthetics "
                        "layout; never a test set)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output file (default: beside the checkpoint, named after the model spec)")
    parser.add_argument("--sigma-scale", type=float, default=None,
                        help="multiply the model's sigma by this calibration factor (from `landmark3d eval` "
                        "on data that is not a test set, e.g. FaceSynthetics-100)")
    parser.add_argument("--accuracy", default=None, help="text for the model card's Accuracy section")
    parser.add_argument("--accuracy-file", type=Path, default=None,
                        help="markdown file whose text becomes the model card's Accuracy section")
    parser.add_argument("--data-note", default=None, help="training data description for the model card")
    parser.add_argument("--compute", default=None, help="compute used, for the model card (e.g. '2 CPU cores, 60 min')")
    parser.add_argument("--commands", default=None, help="the exact commands that made the model, for the model card")
    parser.add_argument("--notes", default=None, help="extra notes for the model card")


def run(args) -> int:
    from ..errors import ModelLoadError

    try:
        from ..models.export import ExportError, export_onnx
        from ..train import checkpoint as ckpt_io
        from ..models.spec import ModelSpec

        ck = ckpt_io.load(args.checkpoint)
        spec = ModelSpec.from_json(ck["spec"], source=str(args.checkpoint))
        suffix = "_fp16" if args.fp16 else "_int8" if args.int8 else ""
        out = args.out or args.checkpoint.with_name(spec.name + suffix + ".onnx")
        card = {}
        if args.accuracy_file:
            card["accuracy"] = args.accuracy_file.read_text().strip()
        elif args.accuracy:
            card["accuracy"] = args.accuracy
        for key, value in (("data", args.data_note), ("compute", args.compute), ("commands", args.commands),
                           ("notes", args.notes)):
            if value:
                card[key] = value
        if "commands" not in card:
            card["commands"] = "landmark3d export " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "(not recorded)"
        report = export_onnx(args.checkpoint, out, fp16=args.fp16, card=card, sigma_scale=args.sigma_scale,
                             int8_calibration=args.int8)
    except (FileNotFoundError, ValueError, ModelLoadError, ExportError, OSError) as exc:
        print(f"landmark3d export: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"onnx": str(out), "model_card": str(out.with_suffix(".md")), **report}))
    return 0
