"""The ``landmark3d export`` command: a training checkpoint -> ONNX file + model card.

    landmark3d export runs/mnv2/last.pt --format onnx [--fp16 | --int8 SYNTH_DIR] [--out weights/mobilenetv2_gnll.onnx]
    landmark3d export weights/mobilenetv2_gnll.onnx --int8 SYNTH_DIR --out mobilenetv2_gnll_int8.onnx

A float ONNX file (a shipped model has no torch checkpoint) is quantised through the checkpoint
that ``train --init`` rebuilds from it, so the int8 file's parity is checked as for any export.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", type=Path, help="training checkpoint (RUN/last.pt or RUN/best.pt), or a float "
                        "ONNX export to quantise (with --int8)")
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

        source = args.checkpoint
        if source.suffix.lower() == ".onnx":
            source = _checkpoint_from_onnx(args.checkpoint, args.int8, args.fp16)
        ck = ckpt_io.load(source)
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
        try:
            report = export_onnx(source, out, fp16=args.fp16, card=card, sigma_scale=args.sigma_scale,
                                 int8_calibration=args.int8)
        finally:
            if source != args.checkpoint:   # the rebuilt checkpoint's temporary folder
                shutil.rmtree(source.parent, ignore_errors=True)
    except (FileNotFoundError, ValueError, ModelLoadError, ExportError, OSError) as exc:
        print(f"landmark3d export: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"onnx": str(out), "model_card": str(out.with_suffix(".md")), **report}))
    return 0


def _checkpoint_from_onnx(path: Path, int8_folder: Path | None, fp16: bool) -> Path:
    """A checkpoint file (in a temporary folder) rebuilt from the float ONNX export ``path``, as
    ``train --init`` rebuilds one (train/onnx_init.py; its BatchNorm statistics from crops of
    ``int8_folder``), for quantising it."""
    import tempfile

    import onnx
    import torch

    from ..models.quantize import calibration_crops
    from .onnx_init import checkpoint_from_onnx, is_quantized, onnx_spec

    if int8_folder is None or fp16:
        raise ValueError(f"{path}: an ONNX file is only re-exported with --int8 DIR (quantisation); "
                         "export float files from their training checkpoint (RUN/last.pt)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    proto = onnx.load(str(path), load_external_data=False)
    if is_quantized(proto):
        raise ValueError(f"{path}: already int8; quantise its float export instead")
    spec = onnx_spec(proto, path)
    crops = torch.from_numpy(calibration_crops(int8_folder, spec))
    ck = checkpoint_from_onnx(path, (crops[k:k + 32] for k in range(0, len(crops), 32)))
    out = Path(tempfile.mkdtemp(prefix="landmark3d-export-")) / (path.stem + ".pt")
    torch.save(ck, out)
    return out
