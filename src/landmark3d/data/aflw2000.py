"""Readers of AFLW2000-3D (Zhu et al., 3DDFA, CVPR 2016): the folder its authors publish and the
``ground_truth.npz`` arrays of the project's dev subset.

Published layout: ``AFLW2000/imageNNNNN.jpg`` + ``imageNNNNN.mat`` with ``pt3d_68`` (3, 68): x, y
in image pixels and z (the 3D-fitted "x-ray" labels, self-occluded points included),
``Pose_Para`` (1, 7): pitch, yaw, roll (radians), tx, ty, tz, scale. The re-annotated 2D labels
(Bulat & Tzimiropoulos, LS3D-W, "AFLW2000-3D-Reannotated") come separately as one ``.mat`` per
image; pass their folder as ``reannotated_root``.

Coordinate bases (measured, see docs/evaluation.md):
- the original labels ``pt3d_68`` are **1-based** (MATLAB pixel centres): the protocol's roi boxes
  computed from them are clipped to [1, W], and they sit a median (+1.04, +0.99) px (x, y) from
  the re-annotated labels on the 51 inner points. :data:`ORIGINAL_BASE` = 1 is subtracted once.
- the re-annotated labels are **0-based** as stored (:data:`REANNOTATED_BASE`).
- ``ground_truth.npz`` stores both sets exactly as published (its ``roi_box`` too, clipped to
  [1, 450]), so it is read with the same bases and both readers give the same numbers.

The protocol's face boxes are 3DDFA's: a square of side sqrt(2) * max(w, h) of the original
labels' min/max box, centred on it, rounded to integers and clipped to the image (1-based).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

ORIGINAL_BASE = 1
REANNOTATED_BASE = 0
#: Keys tried, in order, for the 68 points of a re-annotation ``.mat`` file.
REANNOTATED_KEYS = ("pt3d", "pts_3d", "pt3d_68", "pts", "pt2d", "pts_2d", "landmarks")


@dataclass
class AflwFace:
    name: str                          # image file name, e.g. "image00002.jpg"
    image_path: Path
    landmarks: np.ndarray              # (68, 2) original labels, 0-based pixel centres
    depth: np.ndarray | None           # (68,) z of the original 3D labels (as published)
    yaw_abs_deg: float
    roi_box: np.ndarray                # (4,) protocol box x1, y1, x2, y2, 0-based
    reannotated: np.ndarray | None     # (68, 2) re-annotated labels, 0-based, when available


def protocol_roi_box(points_1based: np.ndarray, width: int, height: int) -> np.ndarray:
    """3DDFA's AFLW2000-3D crop box from the published (1-based) points, in the same 1-based frame."""
    p = np.asarray(points_1based, dtype=np.float64)[:, :2]
    (x1, y1), (x2, y2) = p.min(axis=0), p.max(axis=0)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = np.sqrt(2.0) * max(x2 - x1, y2 - y1) / 2
    box = np.round([cx - half, cy - half, cx + half, cy + half])
    return np.clip(box, 1, [width, height, width, height])


def _load_mat(path: Path) -> dict:
    from ..errors import require

    sio = require("scipy.io", "eval", "reading AFLW2000-3D .mat files")
    try:
        return sio.loadmat(str(path))
    except Exception as exc:  # scipy raises several types for a bad file
        raise ValueError(f"{path}: not a readable MATLAB .mat file ({exc})") from None


def _as_68x2(a, source: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2 and a.shape[0] in (2, 3) and a.shape[1] == 68:
        a = a.T
    if a.ndim != 2 or a.shape[0] != 68 or a.shape[1] < 2:
        raise ValueError(f"{source}: expected 68 points as (68, 2|3) or (2|3, 68), got shape {a.shape}")
    return a


def read_mat(path: str | Path) -> tuple[np.ndarray, float]:
    """``(pt3d_68 as (68, 3) exactly as published, |yaw| in degrees)`` of one AFLW2000-3D ``.mat``."""
    path = Path(path)
    m = _load_mat(path)
    if "pt3d_68" not in m:
        raise ValueError(f"{path}: no 'pt3d_68' array; expected an AFLW2000-3D label file")
    pts = _as_68x2(m["pt3d_68"], str(path))
    yaw = float("nan")
    if "Pose_Para" in m:
        yaw = float(np.degrees(abs(np.asarray(m["Pose_Para"], dtype=np.float64).reshape(-1)[1])))
    return pts, yaw


def read_reannotated(path: str | Path, base: int = REANNOTATED_BASE) -> np.ndarray:
    """The 68 re-annotated points of one LS3D-W ``.mat`` (or ``.pts``) file, 0-based ``(68, 2)``."""
    path = Path(path)
    if path.suffix == ".pts":
        from .pts import read_pts

        return _as_68x2(read_pts(path, base=base), str(path))[:, :2]
    m = _load_mat(path)
    for key in REANNOTATED_KEYS:
        if key in m:
            return _as_68x2(m[key], str(path))[:, :2] - base
    raise ValueError(f"{path}: none of the keys {REANNOTATED_KEYS} holds the 68 points")


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def read_published(root: str | Path, reannotated_root: str | Path | None = None) -> list[AflwFace]:
    """The faces of a published AFLW2000-3D folder (``*.jpg`` + same-name ``.mat``), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder; expected AFLW2000-3D's image*.jpg + image*.mat")
    mats = sorted(root.glob("*.mat"))
    if not mats:
        raise FileNotFoundError(f"{root}: no .mat label files; expected AFLW2000-3D's image*.jpg + image*.mat")
    faces = []
    for mat in mats:
        image_path = mat.with_suffix(".jpg")
        if not image_path.exists():
            raise FileNotFoundError(f"{mat}: its image {image_path.name} is missing")
        pts, yaw = read_mat(mat)
        w, h = _image_size(image_path)
        reann = None
        if reannotated_root is not None:
            cands = [Path(reannotated_root) / (mat.stem + ext) for ext in (".mat", ".pts")]
            found = [c for c in cands if c.exists()]
            if not found:
                raise FileNotFoundError(f"{reannotated_root}: no re-annotation for {mat.stem} (.mat or .pts)")
            reann = read_reannotated(found[0])
        faces.append(AflwFace(
            name=image_path.name,
            image_path=image_path,
            landmarks=pts[:, :2] - ORIGINAL_BASE,
            depth=pts[:, 2].copy() if pts.shape[1] > 2 else None,
            yaw_abs_deg=yaw,
            roi_box=protocol_roi_box(pts, w, h) - ORIGINAL_BASE,
            reannotated=reann,
        ))
    return faces


def read_npz(path: str | Path, image_root: str | Path | None = None) -> list[AflwFace]:
    """The faces of a ``ground_truth.npz`` (keys ``names``, ``pts68_xyz``, ``pts68_reannotated_xy``,
    ``yaw_abs_deg``, ``roi_box``); images are looked up in ``image_root`` (default ``images/`` beside it)."""
    path = Path(path)
    try:
        d = np.load(path)
        names = [str(n) for n in d["names"]]
        xyz = np.asarray(d["pts68_xyz"], dtype=np.float64)
        reann = np.asarray(d["pts68_reannotated_xy"], dtype=np.float64) if "pts68_reannotated_xy" in d.files else None
        yaw = np.asarray(d["yaw_abs_deg"], dtype=np.float64)
        roi = np.asarray(d["roi_box"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not an AFLW2000-3D ground_truth.npz ({exc})") from None
    image_root = Path(image_root) if image_root is not None else path.parent / "images"
    return [
        AflwFace(
            name=n,
            image_path=image_root / n,
            landmarks=xyz[i, :, :2] - ORIGINAL_BASE,
            depth=xyz[i, :, 2].copy(),
            yaw_abs_deg=float(abs(yaw[i])),
            roi_box=roi[i] - ORIGINAL_BASE,
            reannotated=None if reann is None else reann[i] - REANNOTATED_BASE,
        )
        for i, n in enumerate(names)
    ]
