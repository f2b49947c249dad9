"""Reader of 300-W ``.pts`` landmark files (iBUG 68-point markup) and folders of them.

Format (as published with 300-W, LFPW, HELEN, AFW, iBUG, Menpo, COFW-68)::

    version: 1
    n_points:  68
    {
    x y
    ...
    }

Coordinate base: the official 300-W files are conventionally read as **1-based** (MATLAB pixel
centres: the top-left pixel is (1, 1)); files made from MATLAB arrays (COFW-68, 300W-LP) hold those
arrays' values, also 1-based. :func:`read_pts` subtracts ``base`` once so the result follows the
project convention: 0-based pixel centres, x right, y down. Pass ``base=0`` for files known to be
0-based.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Image extensions tried, in order, for the image beside a ``.pts`` file.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".JPG", ".PNG")
#: Coordinate base of the official 300-W ``.pts`` files.
PTS_BASE = 1


def parse_pts(text: str, source: str = "<text>") -> np.ndarray:
    """The points of a ``.pts`` text as stored, ``(n_points, 2)`` float64 (no base change)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    try:
        start = lines.index("{") + 1
        stop = lines.index("}", start)
    except ValueError:
        raise ValueError(f"{source}: not a .pts file (no '{{' ... '}}' block)") from None
    n_declared = None
    for ln in lines[:start]:
        if ln.lower().startswith("n_points"):
            n_declared = int(ln.split(":", 1)[1])
    try:
        pts = np.array([[float(v) for v in ln.split()[:2]] for ln in lines[start:stop]], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{source}: unreadable point line ({exc})") from None
    pts = pts.reshape(-1, 2)
    if n_declared is not None and len(pts) != n_declared:
        raise ValueError(f"{source}: header says n_points {n_declared}, file has {len(pts)} points")
    return pts


def read_pts(path: str | Path, base: int = PTS_BASE) -> np.ndarray:
    """Points of a ``.pts`` file in 0-based pixel centres: stored values minus ``base``."""
    path = Path(path)
    return parse_pts(path.read_text(errors="replace"), str(path)) - float(base)


def read_occlusion(path: str | Path) -> np.ndarray:
    """COFW-68's per-point occlusion flags (one 0/1 per line; 1 = occluded) as a bool array."""
    return np.loadtxt(path, dtype=np.float64).reshape(-1) > 0.5


def find_image(pts_path: str | Path) -> Path:
    """The image with the same stem beside a ``.pts`` file (or in ``../imgs/``, 300-VW's layout of
    ``annot/`` and ``imgs/``); raises FileNotFoundError if none."""
    pts_path = Path(pts_path)
    for folder in (pts_path.parent, pts_path.parent.parent / "imgs"):
        for ext in IMAGE_EXTENSIONS:
            cand = folder / (pts_path.stem + ext)
            if cand.exists():
                return cand
    raise FileNotFoundError(
        f"{pts_path}: no image beside it (tried {', '.join(IMAGE_EXTENSIONS)} with the same name)"
    )


def list_pts(root: str | Path) -> list[Path]:
    """Every ``.pts`` file under ``root`` (recursive), sorted; those without an image are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder; expected images with same-name .pts files")
    out = []
    for p in sorted(root.rglob("*.pts")):
        try:
            find_image(p)
        except FileNotFoundError:
            continue
        out.append(p)
    return out
