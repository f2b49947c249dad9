"""Fit a model's label adapter (landmark3d.label_adapter) on FaceSynthetics-100 and write it
beside the model file.

    python scripts/fit_label_adapter.py --model resnet34_gnll \
        --root ../shared/data/facesynthetics-100 [--out PATH] [--points 0-26]

The model runs with protocol boxes from the labels and two passes for every face (`refine=True`,
the Detector's default when the shipped adapters were fitted);
FaceSynthetics-100 is not an evaluation set of this project's accuracy claims (AFLW2000-3D-dev
is), so the adapter is fitted off the evaluation set, as issue 6 asks.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np


def _points(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return tuple(out)


def main(argv=None) -> int:
    from landmark3d import label_adapter
    from landmark3d.data.datasets import open_dataset
    from landmark3d.detector import Detector
    from landmark3d.models.head_pose import template

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="shipped model name or .onnx path (default: the default model)")
    ap.add_argument("--root", required=True, help="FaceSynthetics folder (e.g. ../shared/data/facesynthetics-100)")
    ap.add_argument("--out", help="output file (default: <model>.adapter.json beside the model)")
    ap.add_argument("--points", type=_points, default=label_adapter.DEFAULT_POINTS, help="e.g. 0-26 (jaw and brows)")
    ap.add_argument("--ridge", type=float, default=0.05)
    args = ap.parse_args(argv)

    evalset = open_dataset("facesynthetics", args.root)
    # the model's own points, two passes for every face (as the shipped adapters were fitted)
    det = Detector(model=args.model, threads=2, refine=True, label_adapter=False)
    lm, lm3, pose = [], [], []
    for a in evalset.annotations:
        f = det(str(a.image_path), boxes=a.box[None])
        lm.append(f.landmarks[0])
        lm3.append(f.landmarks_3d[0])
        pose.append(f.pose[0])
    lm, lm3, pose = np.array(lm), np.array(lm3), np.array(pose)
    labels = evalset.landmarks()
    command = "python scripts/fit_label_adapter.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    adapter = label_adapter.fit(lm, lm3, pose, labels, template(), args.points, ridge=args.ridge,
                                source={"data": f"{evalset.name} ({len(labels)} faces, protocol boxes)",
                                        "model": det.spec.name, "model_file": Path(det.model.path).name,
                                        "model_sha256": label_adapter.file_sha256(det.model.path),
                                        "command": command})
    out = Path(args.out) if args.out else Path(det.model.path).with_suffix(".adapter.json")
    adapter.save(out)
    before = np.linalg.norm(lm[:, list(args.points)] - labels[:, list(args.points)], axis=-1).mean()
    moved, _ = adapter.apply(lm, lm3, pose, template())
    after = np.linalg.norm(moved[:, list(args.points)] - labels[:, list(args.points)], axis=-1).mean()
    size = np.abs(np.asarray(adapter.offsets)).max()
    print(f"wrote {out}: {len(args.points)} points, largest offset component {size:.2f} template units (cm); "
          f"mean error of those points on the fitting set {before:.2f} -> {after:.2f} px (in-sample)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
