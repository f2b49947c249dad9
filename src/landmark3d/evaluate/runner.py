"""Run a predictor over an evaluation set and collect its landmarks in the set's order.

A predictor is anything called as ``predictor(image, boxes=None)`` that returns an object with
``.landmarks`` ``(K, 70, 2)`` (and optionally ``.sigma`` ``(K, 70)``) for the K faces it found:
:class:`landmark3d.Detector` or a stand-in with the same call signature.

Box modes:
- ``protocol``: each face gets the dataset's protocol box (see ``Annotation.box``), one call per face;
- ``detector``: one call per image with ``boxes=None``; each annotated face takes the detection
  whose predicted 68-point box overlaps its ground-truth 68-point box most (greedy, each
  detection used once). A detection qualifies when that IoU is >= :data:`MATCH_IOU` or when the
  centre of its detector box lies inside the ground-truth box (so a found face with poor
  landmarks is scored as a failure, not as a miss). A face with no match is *missed*: its
  prediction is NaN, which every metric scores as a failure.
"""
from __future__ import annotations

import sys
import time
from collections import OrderedDict

import numpy as np

from ..data.datasets import EvalSet
from ..schema import NUM_LANDMARKS
from .predictions import Predictions

BOX_MODES = ("protocol", "detector")
#: Least IoU between a detection's landmark box and the ground truth's box to count as that face.
MATCH_IOU = 0.3


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a`` (M, 4) and ``b`` (K, 4) (x1, y1, x2, y2), ``(M, K)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def match_faces(gt_boxes: np.ndarray, det_landmarks: np.ndarray, det_boxes: np.ndarray | None = None,
                min_iou: float = MATCH_IOU) -> np.ndarray:
    """For each ground-truth box, the index of its detection (-1 when none), greedy by IoU of the
    predicted landmarks' box; ``det_boxes`` (the detector's boxes) also qualify by their centre."""
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    out = np.full(len(gt_boxes), -1)
    if len(det_landmarks) == 0 or len(gt_boxes) == 0:
        return out
    lm = np.asarray(det_landmarks, dtype=np.float64)[:, :68]
    m = iou(gt_boxes, np.concatenate([lm.min(axis=1), lm.max(axis=1)], axis=1))
    m = np.where(np.isfinite(m), m, 0.0)
    if det_boxes is not None and len(det_boxes) == len(lm):
        c = (np.asarray(det_boxes, dtype=np.float64)[:, :2] + np.asarray(det_boxes, dtype=np.float64)[:, 2:4]) / 2
        inside = ((c[None, :, 0] >= gt_boxes[:, None, 0]) & (c[None, :, 0] <= gt_boxes[:, None, 2])
                  & (c[None, :, 1] >= gt_boxes[:, None, 1]) & (c[None, :, 1] <= gt_boxes[:, None, 3]))
        m = np.where(inside, np.maximum(m, min_iou), m)
    while True:
        i, j = np.unravel_index(np.argmax(m), m.shape)
        if m[i, j] < min_iou or not np.isfinite(m[i, j]):
            break
        out[i] = j
        m[i, :] = -1
        m[:, j] = -1
    return out


def _sigma_of(faces):
    s = getattr(faces, "sigma", None)
    return None if s is None else np.asarray(s, dtype=np.float64)


def run_predictor(evalset: EvalSet, predictor, boxes: str = "protocol", *, progress: bool = True) -> tuple[Predictions, dict]:
    """Predict every face of ``evalset``; returns ``(Predictions, info)`` where ``info`` holds
    timings and counts (``seconds``, ``images``, ``detections``)."""
    if boxes not in BOX_MODES:
        raise ValueError(f"boxes must be one of {BOX_MODES}, got '{boxes}'")
    n = len(evalset)
    lm = np.full((n, NUM_LANDMARKS, 2), np.nan)
    sigma = np.full((n, NUM_LANDMARKS), np.nan)
    have_sigma = False
    by_image: "OrderedDict[str, list[int]]" = OrderedDict()
    for i, a in enumerate(evalset.annotations):
        by_image.setdefault(str(a.image_path), []).append(i)
    t0 = time.perf_counter()
    detections = 0
    for k, (path, idx) in enumerate(by_image.items()):
        if boxes == "protocol":
            faces = predictor(path, boxes=np.stack([evalset.annotations[i].box for i in idx]))
            got = np.asarray(faces.landmarks, dtype=np.float64)
            if got.shape[0] != len(idx):
                raise RuntimeError(f"{path}: the predictor returned {got.shape[0]} faces for {len(idx)} given boxes")
            assign = np.arange(len(idx))
        else:
            faces = predictor(path)
            got = np.asarray(faces.landmarks, dtype=np.float64).reshape(-1, NUM_LANDMARKS, 2)
            gt_boxes = np.stack([_gt_box(evalset.annotations[i]) for i in idx])
            det_boxes = getattr(faces, "boxes", None)
            assign = match_faces(gt_boxes, got, None if det_boxes is None else np.asarray(det_boxes).reshape(-1, 4))
        detections += len(got)
        s = _sigma_of(faces)
        for i, j in zip(idx, assign):
            if j < 0:
                continue
            lm[i] = got[j]
            if s is not None:
                sigma[i] = s[j]
                have_sigma = True
        if progress and (k + 1) % 50 == 0:
            print(f"  {k + 1}/{len(by_image)} images", file=sys.stderr, flush=True)
    info = {"seconds": time.perf_counter() - t0, "images": len(by_image), "detections": detections}
    return Predictions(lm, sigma if have_sigma else None), info


def _gt_box(a) -> np.ndarray:
    p = a.landmarks[:68]
    return np.concatenate([p.min(axis=0), p.max(axis=0)])
