"""Reader for the FaceSynthetics layout (Microsoft's dataset and ``landmark3d synth`` output).

A folder of ``{id:06d}.png`` (RGB), ``{id:06d}_ldmks.txt`` (70 lines ``x y``, 0-based pixel
centres, schema of :mod:`landmark3d.schema`), optionally ``{id:06d}_seg.png`` (class ids) and,
for our generator's output, ``{id:06d}_meta.json`` (keys ``landmarks_3d`` (70, 3),
``pose_deg`` [yaw, pitch, roll], ``visibility`` (70) and the sampled parameters).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..schema import NUM_LANDMARKS
from .sample import Sample


def list_ids(root: str | Path) -> list[str]:
    """The sample ids (file stems) of a FaceSynthetics-layout folder, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder; expected a FaceSynthetics-layout dataset")
    return sorted(p.name[: -len("_ldmks.txt")] for p in root.glob("*_ldmks.txt"))


def read_landmarks(path: str | Path) -> np.ndarray:
    pts = np.loadtxt(path, dtype=np.float64).reshape(-1, 2)
    if pts.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"{path}: expected {NUM_LANDMARKS} lines 'x y', got {len(pts)}")
    return pts


def read_sample(root: str | Path, sample_id: str, *, segmentation: bool = False) -> Sample:
    from ..io import read_image

    root = Path(root)
    sample = Sample(image=read_image(root / f"{sample_id}.png"), landmarks=read_landmarks(root / f"{sample_id}_ldmks.txt"),
                    name=sample_id)
    meta = read_meta(root, sample_id)
    # (the writer stores null for what a sample lacks)
    if meta.get("landmarks_3d") is not None:
        sample.landmarks_3d = np.asarray(meta["landmarks_3d"], dtype=np.float64)
    if meta.get("pose_deg") is not None:
        sample.pose_deg = np.asarray(meta["pose_deg"], dtype=np.float64)
    if meta.get("visibility") is not None:
        sample.visibility = np.asarray(meta["visibility"], dtype=bool)
    seg_path = root / f"{sample_id}_seg.png"
    if segmentation and seg_path.exists():
        import cv2

        sample.segmentation = cv2.imread(str(seg_path), cv2.IMREAD_UNCHANGED)
    return sample


def read_meta(root: str | Path, sample_id: str) -> dict:
    """The ``_meta.json`` sidecar of a sample as a dict (empty when there is none)."""
    path = Path(root) / f"{sample_id}_meta.json"
    return json.loads(path.read_text()) if path.exists() else {}


def iter_samples(root: str | Path, **kwargs):
    for sample_id in list_ids(root):
        yield read_sample(root, sample_id, **kwargs)
