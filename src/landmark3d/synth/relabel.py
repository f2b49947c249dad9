"""Recompute the labels of a rendered folder from its sidecars, after the landmark definition
(landmarks.py) changed: the images stay, ``_ldmks.txt`` and the sidecar's ``landmarks_3d`` are
rewritten from the sampled parameters through the renderer's camera, so old renders need not be
rendered again. A folder's pack (``synth --pack``/``--pack-only``) gets the new labels too. Visibility flags cannot be recomputed without the depth buffer: those of points
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
    pack_size = _pack_image_size(root)
    changed = skipped = 0
    moved = []
    for path in tqdm(metas, desc="relabel", unit="img", disable=not progress):
        meta = json.loads(path.read_text())
        if meta.get("landmark_definition") == DEFINITION:
            skipped += 1
            continue
        p = meta["params"]
        sid = path.name[: -len("_meta.json")]
        if (root / f"{sid}.png").exists() or pack_size is None:
            with Image.open(root / f"{sid}.png") as im:
                size = im.size[0]
        else:  # --pack-only: no PNG files, the pack holds the images
            size = pack_size
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
    if pack_size is not None:
        # from the files, every time: a run stopped between the files and the pack is mended
        _update_pack(root)
    return {"folder": str(root), "relabelled": changed, "already_current": skipped, "definition": DEFINITION,
            "max_move_px_median": float(np.median(moved)) if moved else 0.0}


def _pack_image_size(root: Path) -> int | None:
    """Image side of ``root``'s complete pack, or None when it has none."""
    from ..data import packed

    if not (root / packed.LABELS).exists():
        return None
    return int(np.load(root / packed.IMAGES, mmap_mode="r").shape[1])


def _update_pack(root: Path) -> None:
    """Rewrite the pack's labels file from the samples' label files (the images stay)."""
    from ..data import packed

    with np.load(root / packed.LABELS) as z:
        rows = dict(zip(map(str, z["ids"]), z["image_rows"].tolist()))
    packed.write_labels(root, {sid: (row, *packed.sample_labels(root, sid)) for sid, row in rows.items()})
