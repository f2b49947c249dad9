"""Write samples in the FaceSynthetics layout (read back by landmark3d.data.facesynthetics).

Per sample ``{id:06d}``: ``.png`` (RGB), ``_ldmks.txt`` (70 lines ``x y``, 0-based pixel
centres), ``_seg.png`` (uint8 class ids), and ``_meta.json`` with ``landmarks_3d`` (70, 3;
camera space, cm), ``pose_deg`` [yaw, pitch, roll] (landmark3d.pose), ``visibility`` (70 bools)
``landmark_definition`` (which vertices the points are: landmarks.DEFINITION) and ``params``
(the sampled scene parameters).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.sample import Sample
from .landmarks import DEFINITION


def landmarks_text(points) -> str:
    """The ``_ldmks.txt`` content: one ``x y`` line per point, 0-based pixel centres."""
    return "".join(f"{x:.6f} {y:.6f}\n" for x, y in points)


def write_sample(root: str | Path, sample: Sample, params: dict | None = None, *, png_level: int = 1,
                 images: bool = True) -> str:
    """Write one sample under ``root`` named ``sample.name``; returns the id. ``images=False``
    leaves out the image and segmentation PNGs (their encoding is most of the writing time; for a
    folder whose images live in its pack only, ``landmark3d synth --pack-only``)."""
    import cv2

    root = Path(root)
    sid = sample.name
    opts = [cv2.IMWRITE_PNG_COMPRESSION, png_level]
    if images and not cv2.imwrite(str(root / f"{sid}.png"), np.ascontiguousarray(sample.image[..., ::-1]), opts):
        raise OSError(f"{root / sid}.png: OpenCV could not write the image")
    (root / f"{sid}_ldmks.txt").write_text(landmarks_text(sample.landmarks))
    if images and sample.segmentation is not None:
        cv2.imwrite(str(root / f"{sid}_seg.png"), sample.segmentation, opts)
    meta = {
        "landmarks_3d": None if sample.landmarks_3d is None else np.round(sample.landmarks_3d, 5).tolist(),
        "landmarks_3d_units": "cm, camera frame: x right, y down, z forward",
        "pose_deg": None if sample.pose_deg is None else [float(a) for a in sample.pose_deg],
        "visibility": None if sample.visibility is None else [bool(v) for v in sample.visibility],
        "landmark_definition": DEFINITION,
        "params": params or {},
    }
    (root / f"{sid}_meta.json").write_text(json.dumps(meta))
    return sid
