"""3D landmarks and head pose from a model's (x, y, z) predictions.

The 3D points are in image-pixel units, camera-aligned (x right, y down, z away from the camera)
and head-centred (mean of the 68 iBUG points at the origin). The pose is the rotation of the
least-squares similarity from the neutral-face template (``template_70x3.npy``, head frame of
:mod:`landmark3d.pose`, derived from the ICT FaceKit neutral mesh) onto those points — a
weak-perspective fit, adequate because a face's depth is small next to its distance.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..pose import fit_rotation, matrix_to_euler

TEMPLATE_PATH = Path(__file__).with_name("template_70x3.npy")


@lru_cache(maxsize=1)
def template() -> np.ndarray | None:
    """The (70, 3) neutral template, or None when this installation lacks it."""
    if not TEMPLATE_PATH.exists():
        return None
    t = np.load(TEMPLATE_PATH).astype(np.float64)
    return t - t[:68].mean(axis=0)


def landmarks_3d_and_pose(landmarks: np.ndarray, z: np.ndarray):
    """``landmarks`` (N, 70, 2) and ``z`` (N, 70) image-pixel units -> ``(landmarks_3d (N, 70, 3)
    float32, pose (N, 3) float32 yaw/pitch/roll degrees, or None without a template)``."""
    pts = np.concatenate([np.asarray(landmarks, np.float64), np.asarray(z, np.float64)[..., None]], axis=-1)
    pts = pts - pts[:, :68].mean(axis=1, keepdims=True)
    tpl = template()
    pose = None
    if tpl is not None:
        pose = np.stack([matrix_to_euler(fit_rotation(tpl[:68], p[:68])) for p in pts]).astype(np.float32)
        pose = pose.reshape(len(pts), 3)
    return pts.astype(np.float32), pose
