"""The 70x3 mean-face landmark template for head-pose estimation.

The neutral ICT mesh's 70 schema points (68 iBUG landmark vertices + 2 pupils) in the head frame
of :mod:`landmark3d.pose` (x right in the image, y down, z away from the camera when the face
looks at it; cm), centred on their mean. Shipped as ``landmark3d/models/template_70x3.npy``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "template_70x3.npy"


def mean_face_template(cache: str | None = None, ict: str | None = None) -> np.ndarray:
    from .assets import load_cache
    from .facemodel import FaceModel

    model = FaceModel(load_cache(cache, ict_source=ict))
    pts = model.landmarks(model.assets.neutral[None].astype(np.float32))[0]  # (70, 3) model frame
    head = FaceModel.to_head(pts)
    return (head - head.mean(axis=0)).astype(np.float32)


def write_template(path: str | Path = SHIPPED, cache: str | None = None, ict: str | None = None) -> Path:
    path = Path(path)
    np.save(path, mean_face_template(cache, ict))
    return path
