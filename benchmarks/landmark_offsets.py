"""Per-landmark median signed offset of a model's predictions from a dataset's labels, in a
face-aligned frame: what a landmark *means* in our training data vs in a benchmark's labels.

    python benchmarks/landmark_offsets.py EVAL_DIR [EVAL_DIR ...] [--max-yaw 30]

Each EVAL_DIR is a ``landmark3d eval --out`` folder (its config.json names the dataset; its
predictions.json holds the points). Offsets are rotated into the frame of the outer eye corners
(x along 36 -> 45, y perpendicular, down) and divided by the outer-eye distance, so faces of any
size and roll pool. Prints the groups (jaw, brows, nose, eyes, mouth) and every landmark as
percent of the outer-eye distance: (label - prediction), i.e. where the labels sit relative to us.
``--max-yaw`` keeps near-frontal faces (estimated from the labels' own nose-vs-cheek asymmetry when
the set has no yaw), where a 2-D "visible contour" jaw and a 3-D x-ray jaw coincide.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from landmark3d.data.datasets import open_dataset

GROUPS = {"jaw 0-3,13-16": [0, 1, 2, 3, 13, 14, 15, 16], "jaw 4-7,9-12": [4, 5, 6, 7, 9, 10, 11, 12],
          "chin 8": [8], "brows 17-26": list(range(17, 27)), "nose 27-35": list(range(27, 36)),
          "eyes 36-47": list(range(36, 48)), "mouth 48-67": list(range(48, 68))}


def yaw_proxy(p: np.ndarray) -> float:
    """Degrees-like asymmetry: the nose tip's position between the jaw's outer points (0 = centred)."""
    a, b, n = p[0], p[16], p[30]
    t = np.dot(n - a, b - a) / max(np.dot(b - a, b - a), 1e-9)
    return float(np.degrees(np.arcsin(np.clip(2 * t - 1, -1, 1))))


def offsets(run: Path, max_yaw: float) -> np.ndarray:
    cfg = json.loads((run / "config.json").read_text())
    ds = open_dataset(cfg["dataset"], cfg["root"])
    pred = json.loads((run / "predictions.json").read_text())
    by_name = dict(zip(pred["names"], np.asarray(pred["landmarks"], np.float64)))
    out = []
    for a in ds.annotations:
        p = by_name.get(a.name)
        if p is None or not np.isfinite(p).all():
            continue
        gt = a.landmarks[:68]
        yaw = a.yaw_abs_deg if a.yaw_abs_deg is not None else abs(yaw_proxy(gt))
        if yaw > max_yaw:
            continue
        ex = gt[45] - gt[36]
        iod = np.linalg.norm(ex)
        ex /= iod
        ey = np.array([-ex[1], ex[0]])
        d = gt - p[:68]
        out.append(np.stack([d @ ex, d @ ey], axis=1) / iod)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--max-yaw", type=float, default=30.0)
    ap.add_argument("--json", type=Path, help="also write the per-landmark medians here")
    args = ap.parse_args()
    d = np.concatenate([offsets(r, args.max_yaw) for r in args.runs])
    if not len(d):
        raise SystemExit("no faces within --max-yaw")
    med = np.median(d, axis=0) * 100  # (68, 2) percent of the outer-eye distance
    print(f"{len(d)} faces with yaw <= {args.max_yaw:g} deg; label - prediction, % of outer-eye distance "
          "(x: towards the subject's left eye / image right on a frontal face; y: down)")
    for g, idx in GROUPS.items():
        # sign-fold x for the jaw and brows so left and right sides pool (+x = outwards)
        side = np.where(np.array(idx) < 8, -1, 1) if g.startswith("jaw") else \
            np.where(np.array(idx) < 22, -1, 1) if g.startswith("brows") else np.ones(len(idx))
        x = np.median(med[idx, 0] * side) if g.startswith(("jaw", "brows")) else np.median(med[idx, 0])
        print(f"  {g:14s} x {x:+6.2f}{' (outwards)' if g.startswith(('jaw', 'brows')) else ''}  y {np.median(med[idx, 1]):+6.2f}")
    print("  per landmark (x, y):")
    for i in range(68):
        print(f"    {i:2d} {med[i, 0]:+6.2f} {med[i, 1]:+6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"faces": len(d), "max_yaw": args.max_yaw,
                                         "median_offset_pct_iod": np.round(med, 3).tolist()}))


if __name__ == "__main__":
    main()
