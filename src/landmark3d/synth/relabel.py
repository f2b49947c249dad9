"""Recompute the labels of a rendered folder from its sidecars, after the landmark definition
(landmarks.py) changed: the images stay, ``_ldmks.txt`` and the sidecar's ``landmarks_3d`` are
rewritten from the sampled parameters through the renderer's camera, so old renders need not be
rendered again. Visibility flags cannot be recomputed without the depth buffer: those of points
that moved are carried over from the old points (moves are a few millimetres on the same surface).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .landmarks import DEFINITION


def relabel_folder(root: str | Path, *, cache: str | None = None, ict: str | None = None,
                   progress: bool = True) -> dict:
    """Relabel every ``*_meta.json`` sample under ``root``; returns a summary."""
    from PIL import Image
    from tqdm import tqdm

    from ..errors import Landmark3dError
    from ..io import write_bytes_atomic
    from .assets import load_cache
    from .facemodel import FaceModel
    from .generator import project
    from .writer import landmarks_text

    root = Path(root)
    metas = sorted(root.glob("*_meta.json"))
    if not metas:
        raise Landmark3dError(f"{root}: no *_meta.json sidecars; only folders written by "
                              "`landmark3d synth` can be relabelled")
    model = FaceModel(load_cache(cache, ict_source=ict))
    changed = skipped = 0
    moved = []
    for path in tqdm(metas, desc="relabel", unit="img", disable=not progress):
        meta = json.loads(path.read_text())
        if meta.get("landmark_definition") == DEFINITION:
            skipped += 1
            continue
        p = meta["params"]
        sid = path.name[: -len("_meta.json")]
        with Image.open(root / f"{sid}.png") as im:
            size = im.size[0]
        pts = model.landmarks_from_weights(np.asarray(p["identity"])[None], np.asarray(p["expression"])[None])[0]
        cam, xy = project(pts, p["yaw_deg"], p["pitch_deg"], p["roll_deg"], p["translation"], p["focal_px"], size)
        lm_path = root / f"{sid}_ldmks.txt"
        old = np.loadtxt(lm_path)
        moved.append(np.linalg.norm(old - xy, axis=1).max())
        # write-then-rename: an interrupted run leaves whole files, and hard-linked copies of a
        # folder (cp -al) keep their own labels
        write_bytes_atomic(lm_path, landmarks_text(xy).encode())
        meta["landmarks_3d"] = np.round(cam, 5).tolist()
        meta["landmark_definition"] = DEFINITION
        write_bytes_atomic(path, json.dumps(meta).encode())
        changed += 1
    return {"folder": str(root), "relabelled": changed, "already_current": skipped, "definition": DEFINITION,
            "max_move_px_median": float(np.median(moved)) if moved else 0.0}
