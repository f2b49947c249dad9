"""The ``landmark3d bench`` command: per-face latency, whole-pipeline images/s, generator frames/s.

    landmark3d bench [--model NAME_OR_PATH] [--threads N] [--photos DIR | --make-photos-from DIR ...]
                     [--no-torch] [--no-generator] [--json FILE]

Prints a small table on stdout (JSON with ``--json``). Figures, not pass/fail.
"""
from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    parser.add_argument("--model", default=None, help="shipped model name or .onnx path (default: the default model)")
    parser.add_argument("--threads", type=int, default=None, help="the 'N threads' row (default: all cores)")
    parser.add_argument("--runs", type=int, default=50, help="timed repeats per latency row")
    parser.add_argument("--photos", default=None, help="folder of photos for the whole-pipeline row")
    parser.add_argument("--make-photos-from", nargs="+", default=None, metavar="DIR",
                        help="make 640x480 test photos by resizing the photos under these folders")
    parser.add_argument("--count", type=int, default=20, help="photos to make / time")
    parser.add_argument("--detector", default="default", help="face detector back-end for the pipeline row")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch rows")
    parser.add_argument("--no-generator", action="store_true", help="skip the generator row")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def run(args) -> int:
    import json
    import tempfile
    from pathlib import Path

    from ..errors import Landmark3dError
    from .bench import format_rows, generator_rate, landmark_latency, make_photos, pipeline_throughput

    try:
        latency = landmark_latency(args.model, threads=(1, args.threads), runs=args.runs, torch=not args.no_torch)
    except (Landmark3dError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pipeline = None
    with tempfile.TemporaryDirectory() as tmp:
        photos = args.photos
        if photos is None and args.make_photos_from:
            photos = tmp
            make_photos(args.make_photos_from, tmp, count=args.count)
        if photos is not None:
            pipeline = pipeline_throughput(photos, args.model, args.detector, threads=args.threads, limit=args.count)
    generator = None
    if not args.no_generator:
        try:
            generator = generator_rate()
            if generator is None:
                print("generator row skipped: landmark3d.synth offers no benchmark()", file=sys.stderr)
        except Exception as exc:  # the generator needs optional deps (moderngl, assets): report, go on
            print(f"generator row skipped: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    print(format_rows(latency, pipeline, generator))
    if args.json:
        Path(args.json).write_text(json.dumps({"latency": latency, "pipeline": pipeline, "generator": generator}, indent=1))
    return 0
