"""Predictions to score: made by ``landmark3d`` or by any other tool, read from ``.npy`` / ``.json``.

Formats (points in the dataset's image pixels, 0-based pixel centres, in the order of
:func:`landmark3d.data.datasets.open_dataset`, one entry per annotated face):
- ``.npy``: ``(N, K, 2)`` with K = 68 or 70 (x, y); a face the tool missed is all-NaN.
- ``.json``: either a list of N entries, or ``{"landmarks": [...], "sigma": [...] (optional)}``,
  or an object keyed by annotation name (``{"image00002.jpg": [[x, y], ...], ...}``); an entry is a
  ``K x 2`` list, or ``null`` for a missed face.
68-point predictions get the two eye centres as points 68/69 (only scored on 70-point sets).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..schema import NUM_LANDMARKS, pupils_from_eyes


@dataclass
class Predictions:
    landmarks: np.ndarray              # (N, 70, 2) image pixels; NaN rows = missed face
    sigma: np.ndarray | None = None    # (N, 70) px standard deviation, or None

    @property
    def missed(self) -> np.ndarray:
        """(N,) bool: faces with no prediction."""
        return ~np.all(np.isfinite(self.landmarks[:, :68]), axis=(1, 2))


def _to70(points: np.ndarray, source: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] < 2 or p.shape[1] not in (68, NUM_LANDMARKS):
        raise ValueError(f"{source}: expected (N, 68|70, 2) points, got shape {p.shape}")
    p = p[..., :2]
    return pupils_from_eyes(p) if p.shape[1] == 68 else p


def load_predictions(path: str | Path, names: list[str], *, base: float = 0.0) -> Predictions:
    """Read a predictions file for the faces ``names`` (the dataset order); ``base`` is subtracted
    from the coordinates (1 for a tool that writes 1-based points)."""
    path = Path(path)
    n = len(names)
    sigma = None
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable .npy array ({exc})") from None
        lm = _to70(arr, str(path))
    elif path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not readable JSON ({exc})") from None
        if isinstance(data, dict) and "landmarks" in data:
            entries, sig = data["landmarks"], data.get("sigma")
        elif isinstance(data, dict):
            unknown = [k for k in data if k not in set(names)]
            if unknown:
                raise ValueError(f"{path}: names not in the dataset, e.g. {unknown[:3]}; keys must be annotation names like {names[:2]}")
            entries, sig = [data.get(k) for k in names], None
        elif isinstance(data, list):
            entries, sig = data, None
        else:
            raise ValueError(f"{path}: expected a list, or an object with 'landmarks' or keyed by face name")
        lm = _to70(np.stack([np.full((68, 2), np.nan) if e is None else np.asarray(e, dtype=np.float64)[:, :2]
                             for e in entries]) if entries else np.zeros((0, 68, 2)), str(path))
        if sig is not None:
            sigma = np.array([[np.nan] * NUM_LANDMARKS if s is None else s for s in sig], dtype=np.float64)
    else:
        raise ValueError(f"{path}: predictions must be a .npy or .json file")
    if lm.shape[0] != n:
        raise ValueError(f"{path}: has {lm.shape[0]} faces, the dataset has {n} (in the order of docs/evaluation.md)")
    if sigma is not None and sigma.shape != (n, NUM_LANDMARKS):
        raise ValueError(f"{path}: sigma must be (N, 70) = ({n}, 70), got {sigma.shape}")
    return Predictions(lm - base, sigma)


def save_predictions(path: str | Path, preds: Predictions, names: list[str]) -> None:
    """Write predictions as json (``{"names", "landmarks", "sigma"}``; missed faces = null) that
    :func:`load_predictions` reads back."""
    def rows(a):
        return [None if not np.all(np.isfinite(r)) else np.round(r, 3).tolist() for r in a]

    data = {"names": list(names), "landmarks": rows(preds.landmarks)}
    if preds.sigma is not None:
        data["sigma"] = rows(preds.sigma)
    Path(path).write_text(json.dumps(data))
