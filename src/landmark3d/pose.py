"""Head pose: one convention for the generator's labels, the models' outputs and the reports.

Frames: the camera frame is x right, y down, z forward (away from the camera), like image
pixels. The head frame coincides with it when the face looks straight into the camera.
``R`` maps head coordinates to camera coordinates: ``p_cam = R @ p_head (+ t)``.

Angles, in degrees, with ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``:
- yaw   > 0: the nose turns towards the image's left (the subject turns to their right);
- pitch > 0: the face tilts down (the nose moves down the image);
- roll  > 0: the head tilts clockwise as displayed.
"""
from __future__ import annotations

import numpy as np


def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def euler_to_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) rotation for the module's yaw/pitch/roll convention."""
    y, p, r = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    return _ry(y) @ _rx(p) @ _rz(r)


def matrix_to_euler(rotation: np.ndarray) -> np.ndarray:
    """``(yaw, pitch, roll)`` in degrees from a (3, 3) rotation; inverse of :func:`euler_to_matrix`
    for pitch in (-90, 90)."""
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape != (3, 3):
        raise ValueError(f"expected a (3, 3) rotation, got shape {r.shape}")
    pitch = np.arcsin(np.clip(-r[1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[0, 2], r[2, 2])
    roll = np.arctan2(r[1, 0], r[1, 1])
    return np.rad2deg([yaw, pitch, roll])


def fit_rotation(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Rotation ``R`` of the similarity that best maps ``source`` (K, 3) onto ``target`` (K, 3)
    in least squares (Umeyama), so that ``target ~ s R source + t``."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 3:
        raise ValueError(f"expected two (K, 3) point sets, got {src.shape} and {dst.shape}")
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    src_c = src - w @ src
    dst_c = dst - w @ dst
    cov = (dst_c * w[:, None]).T @ src_c  # (3, 3)
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt
