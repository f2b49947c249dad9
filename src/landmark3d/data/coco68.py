"""Reader of COCO-style keypoint json files with 68 iBUG points per face (as MMPose writes its
300-W, 300-VW, 300W-LP, WFLW-68 annotation files).

Layout: ``{"images": [{"id", "file_name", "width", "height"}], "annotations": [{"image_id",
"keypoints": [x, y, v] * 68, "bbox": [x, y, w, h]}]}`` with ``file_name`` relative to the json's
folder (or to ``image_root``).

Coordinate base: such files copy their source's values unchanged, so the base is the source's:
MMPose's 300-W / 300-VW files hold the 300-W ``.pts`` values (**1-based**, the default here),
300W-LP's hold the MATLAB arrays' values (also 1-based). :func:`read_coco68` subtracts ``base`` once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Default coordinate base of the 300-W-family json files (see the module docstring).
COCO68_BASE = 1


@dataclass
class CocoFace:
    image_path: Path
    landmarks: np.ndarray           # (68, 2) 0-based pixel centres
    visible: np.ndarray             # (68,) bool: the keypoint's v flag > 0
    box: np.ndarray | None          # (4,) x1, y1, x2, y2 (from bbox x, y, w, h), 0-based
    annotation_id: int


def read_coco68(path: str | Path, base: int = COCO68_BASE, image_root: str | Path | None = None) -> list[CocoFace]:
    """Every face annotation of a COCO-style json file with 68 keypoints, in annotation order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        images = {im["id"]: im for im in data["images"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a COCO-style keypoint json ('images' and 'annotations' lists): {exc}") from None
    root = Path(image_root) if image_root is not None else path.parent
    faces: list[CocoFace] = []
    for ann in annotations:
        kp = np.asarray(ann.get("keypoints", []), dtype=np.float64)
        if kp.size != 68 * 3:
            raise ValueError(f"{path}: annotation {ann.get('id')} has {kp.size // 3} keypoints, expected 68")
        kp = kp.reshape(68, 3)
        if ann.get("image_id") not in images:
            raise ValueError(f"{path}: annotation {ann.get('id')} names image_id {ann.get('image_id')}, which is not listed")
        box = None
        if "bbox" in ann and len(ann["bbox"]) == 4:
            x, y, w, h = (float(v) for v in ann["bbox"])
            box = np.array([x, y, x + w, y + h]) - base
        faces.append(CocoFace(
            image_path=root / images[ann["image_id"]]["file_name"],
            landmarks=kp[:, :2] - base,
            visible=kp[:, 2] > 0,
            box=box,
            annotation_id=int(ann.get("id", len(faces))),
        ))
    return faces
