"""How long `landmark3d eval` takes per face on AFLW2000-3D (dev 500), protocol boxes: the
landmark model, both passes, image decode included. Prints faces/s; no assertion.

    python benchmarks/eval_speed.py [--model NAME_OR_PATH] [--limit 100]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=100)
    args = ap.parse_args(argv)
    from landmark3d.data.datasets import open_dataset
    from landmark3d.detector import Detector
    from landmark3d.evaluate.runner import run_predictor

    root = Path(os.environ.get("LANDMARK3D_SHARED", REPO.parent / "shared")) / "data" / "aflw2000-3d-dev"
    if not root.is_dir():
        print(f"{root}: not found (set LANDMARK3D_SHARED)", file=sys.stderr)
        return 2
    evalset = open_dataset("aflw2000-3d", root).subset(args.limit)
    det = Detector(model=args.model)
    _, info = run_predictor(evalset, det, "protocol", progress=False)
    print(f"{len(evalset)} faces in {info['seconds']:.2f} s: {len(evalset) / info['seconds']:.1f} faces/s "
          f"({det.spec.name}, {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
