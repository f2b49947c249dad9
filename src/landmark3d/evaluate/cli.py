"""The ``landmark3d eval`` command: score a model (or another tool's predictions) on a benchmark.

    landmark3d eval --dataset aflw2000-3d --root path/to/AFLW2000 [--model NAME_OR_PATH]
                    [--boxes protocol|detector] [--predictions FILE.npy|.json] [--out DIR] [--limit N]

Writes report.md, report.json, ced.png, calibration.png (models with sigma), worst.png,
predictions.json and config.json into ``--out``; prints the main table on stdout (progress
and file paths go to stderr). See docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from ..detect.cli import add_pipeline_arguments, pipeline_options

DATASET_NAMES = ("aflw2000-3d", "300w", "facesynthetics", "dlib-xml", "coco68")


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASET_NAMES, help="benchmark layout / protocol")
    parser.add_argument("--root", required=True, help="dataset folder (or its label file: .npz, .xml, .json)")
    parser.add_argument("--model", default=None, help="shipped model name or .onnx/.pt path (default: the default model)")
    parser.add_argument("--boxes", default="protocol", choices=("protocol", "detector"),
                        help="protocol: the dataset's boxes (comparable to papers); detector: our face detector, end to end")
    parser.add_argument("--detector", default="default", help="face detector back-end for --boxes detector")
    parser.add_argument("--predictions", default=None,
                        help="score this .npy/.json of points (dataset order) instead of running a model")
    parser.add_argument("--predictions-base", type=float, default=0.0,
                        help="subtract this from the predictions' coordinates (1 for a tool writing 1-based points)")
    parser.add_argument("--label-base", type=int, default=None, choices=(0, 1),
                        help="override the coordinate base assumed for 300w/dlib-xml/coco68 labels")
    parser.add_argument("--reannotated", default=None,
                        help="AFLW2000-3D published folder only: the LS3D-W re-annotation folder")
    parser.add_argument("--out", default=None, help="output folder (default runs/eval/<dataset>_<model>_<boxes>)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N faces (a quick look)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="landmark model threads")
    add_pipeline_arguments(parser)


def make_predictor(args):
    """The predictor for ``args``: a :class:`landmark3d.Detector` (tests replace this function)."""
    from ..detector import Detector

    return Detector(model=args.model, detector=args.detector, device=args.device, threads=args.threads,
                    **pipeline_options(args))


def _model_label(args) -> str:
    if args.predictions:
        return Path(args.predictions).stem
    return Path(str(args.model)).stem if args.model else "default"


def run(args) -> int:
    import numpy as np

    from ..data.datasets import open_dataset
    from .predictions import load_predictions, save_predictions
    from .protocols import score
    from .report import table, write_reports
    from .runner import run_predictor

    if args.limit is not None and args.limit < 1:
        print("--limit must be >= 1", file=sys.stderr)
        return 2
    try:
        evalset = open_dataset(args.dataset, args.root, label_base=args.label_base,
                               reannotated_root=args.reannotated)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names_all = [a.name for a in evalset.annotations]
    if args.predictions:
        try:
            preds = load_predictions(args.predictions, names_all, base=args.predictions_base)
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        predictor_text = f"external file {args.predictions}"
        info = {}
        if args.limit:
            from .predictions import Predictions

            preds = Predictions(preds.landmarks[: args.limit],
                                None if preds.sigma is None else preds.sigma[: args.limit])
        evalset = evalset.subset(args.limit)
    else:
        evalset = evalset.subset(args.limit)
        from ..errors import Landmark3dError

        try:
            predictor = make_predictor(args)
        except Landmark3dError as exc:  # ModelLoadError, MissingDependencyError: say it, no traceback
            print(f"error: {exc}", file=sys.stderr)
            return 2
        spec = getattr(predictor, "spec", None)
        predictor_text = f"model {getattr(spec, 'name', args.model or 'default')}" + (
            f" ({args.model})" if args.model else "") + (" [provisional]" if getattr(spec, "provisional", False) else "")
        adapter = getattr(predictor, "label_adapter", None)
        if adapter is not None:
            predictor_text += f", label adapter fitted on {adapter.source.get('data', 'unknown data')}"
        print(f"eval: {len(evalset)} faces of {evalset.name} with {predictor_text}, {args.boxes} boxes",
              file=sys.stderr)
        try:
            preds, info = run_predictor(evalset, predictor, args.boxes)
        except Landmark3dError as exc:  # e.g. an unreadable image: the message names the file
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            close = getattr(predictor, "close", None)
            if callable(close):
                close()
    names = [a.name for a in evalset.annotations]

    refs = {}
    for key in sorted({k for a in evalset.annotations for k in a.references}):
        if all(key in a.references for a in evalset.annotations):
            refs[key] = np.stack([a.references[key] for a in evalset.annotations])
    yaw = None
    if evalset.protocol == "aflw2000-3d":
        yaw = np.array([a.yaw_abs_deg for a in evalset.annotations], dtype=np.float64)
    report = score(evalset.protocol, evalset.landmarks(), preds.landmarks, sigma=preds.sigma,
                   references=refs, yaw_abs_deg=yaw)
    out = Path(args.out) if args.out else Path("runs") / "eval" / f"{args.dataset}_{_model_label(args)}_{args.boxes}"
    command = "landmark3d " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["eval"] else ""
    report["run"] = {
        "dataset": evalset.name, "root": str(Path(args.root).resolve()), "predictor": predictor_text,
        "boxes": args.boxes if not args.predictions else "(external predictions)",
        "command": command or _reconstruct(args), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        **({"seconds": round(info["seconds"], 2), "images": info["images"], "detections": info["detections"]} if info else {}),
    }
    report["conventions"] = {**evalset.conventions,
                             "coordinates": "0-based pixel centres, x right, y down (every label set converted once)"}
    out.mkdir(parents=True, exist_ok=True)
    save_predictions(out / "predictions.json", preds, names)
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["resolved_out"] = str(out.resolve())
    config["faces"] = len(names)
    config["predictor_resolved"] = predictor_text
    from .. import __version__

    config["landmark3d_version"] = __version__
    (out / "config.json").write_text(json.dumps(config, indent=1, default=str))
    written = write_reports(out, report, names, evalset, preds)
    print(table(report))
    print(f"\nmissed faces: {report['missed_faces']} of {report['faces']}", end="")
    offs = "; ".join(f"vs {k}: x {v[0]:+.2f}, y {v[1]:+.2f}" for k, v in report["median_offset_inner51_px"].items())
    print(f"   median offset (px, 51 inner) {offs}")
    cal = report.get("calibration")
    if cal:
        print("sigma calibration: " + ", ".join(f"{k:g}σ {100 * o:.1f}% (ideal {100 * e:.1f}%)"
                                               for k, o, e in zip(cal["k"], cal["observed"], cal["expected"]))
              + f"; sigma x {cal['calibrating_scale']:.3g} would calibrate it on this set")
    print(f"wrote {', '.join(p.name for p in written)}, predictions.json, config.json to {out}", file=sys.stderr)
    return 0


def _reconstruct(args) -> str:
    parts = ["landmark3d", "eval", "--dataset", args.dataset, "--root", str(args.root)]
    for flag in ("model", "boxes", "predictions", "out", "limit"):
        v = getattr(args, flag)
        if v is not None and not (flag == "boxes" and v == "protocol"):
            parts += [f"--{flag}", str(v)]
    return " ".join(shlex.quote(p) for p in parts)
