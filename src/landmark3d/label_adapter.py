"""A label adapter: fixed 3D offsets that move some of a model's points to another label set's
meaning (issue 6, item 6: "if a small label adapter is still used, as the FaceSynthetics paper
did for 300-W, fit it on data that is not the evaluation set, and report every number with and
without it").

Our jaw and brow points are ICT FaceKit vertices chosen by geometry (docs/generator.md,
"Landmark meaning"); other label sets put them elsewhere (AFLW2000-3D's jaw comes from a fitted
3D face model, FaceSynthetics' from Microsoft's). An adapter holds, for each of its points, an
offset in the head frame of :mod:`landmark3d.pose`, in the units of the neutral template
(:func:`landmark3d.models.head_pose.template`, cm). A face's offset in the image is that vector
turned by the face's rotation and scaled by its size, both from the model's own 3D landmarks, so
one offset serves every pose: a point that should sit 5 mm further back moves sideways on a
profile and not at all on a frontal face.

It is fitted by robust least squares on a model's predictions for a labelled set that is not
the evaluation set (``scripts/fit_label_adapter.py``: FaceSynthetics-100) and stored beside the
model file as ``<model>.adapter.json``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .pose import euler_to_matrix
from .schema import FLIP_PERM

FORMAT_VERSION = 1
#: The points whose meaning differs between label sets: the jaw (0-16) and the brows (17-26).
DEFAULT_POINTS = tuple(range(27))


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (an adapter records its model file's, so a stale one is noticed)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def face_frames(landmarks_3d: np.ndarray, pose: np.ndarray, template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each face's rotation (N, 3, 3) head -> camera from ``pose`` (N, 3) degrees, and its scale
    (N,) in image pixels per template unit: the RMS radius of its 68 head-centred 3D points over
    the template's."""
    pts = np.asarray(landmarks_3d, np.float64)[:, :68]
    pts = pts - pts.mean(axis=1, keepdims=True)
    tpl = np.asarray(template, np.float64)[:68]
    tpl = tpl - tpl.mean(axis=0)
    scale = np.sqrt((pts ** 2).sum(axis=(1, 2)) / (tpl ** 2).sum())
    rot = np.stack([euler_to_matrix(*p) for p in np.asarray(pose, np.float64).reshape(-1, 3)])
    return rot, scale


@dataclass(frozen=True)
class LabelAdapter:
    """Offsets (K, 3) of ``points`` (K,) in the head frame, template units; ``source`` says how
    they were fitted (data, model, command)."""

    points: tuple[int, ...]
    offsets: np.ndarray
    source: dict = field(default_factory=dict)

    def apply(self, landmarks: np.ndarray, landmarks_3d: np.ndarray, pose: np.ndarray,
              template: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Adapted ``(landmarks (N, 70, 2), landmarks_3d (N, 70, 3))``; other points unchanged."""
        lm = np.array(landmarks, np.float64, copy=True)
        lm3 = np.array(landmarks_3d, np.float64, copy=True)
        if len(lm) == 0:
            return lm.astype(np.float32), lm3.astype(np.float32)
        rot, scale = face_frames(lm3, pose, template)
        shift = scale[:, None, None] * np.einsum("nij,kj->nki", rot, self.offsets)  # (N, K, 3) px
        idx = np.asarray(self.points)
        lm[:, idx] += shift[..., :2]
        lm3[:, idx] += shift
        return lm.astype(np.float32), lm3.astype(np.float32)

    def to_json(self) -> dict:
        return {"format": FORMAT_VERSION, "points": list(self.points),
                "offsets": np.round(np.asarray(self.offsets, np.float64), 5).tolist(), "source": self.source}

    def save(self, path: str | Path) -> None:
        d = self.to_json()
        rows = ",\n  ".join(json.dumps(r) for r in d["offsets"])  # one point per line
        text = (f'{{"format": {d["format"]},\n "points": {json.dumps(d["points"])},\n'
                f' "offsets": [\n  {rows}\n ],\n "source": {json.dumps(d["source"], indent=1)}\n}}\n')
        Path(path).write_text(text)

    @classmethod
    def load(cls, path: str | Path) -> "LabelAdapter":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            if d.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {d.get('format')}, this version reads {FORMAT_VERSION}")
            offsets = np.asarray(d["offsets"], np.float64).reshape(-1, 3)
            points = tuple(int(i) for i in d["points"])
            if len(points) != len(offsets) or not all(0 <= i < 70 for i in points):
                raise ValueError("points and offsets do not match")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a label adapter ({exc}); refit it with scripts/fit_label_adapter.py") from exc
        return cls(points, offsets, d.get("source", {}))


def fit(landmarks: np.ndarray, landmarks_3d: np.ndarray, pose: np.ndarray, labels: np.ndarray,
        template: np.ndarray, points=DEFAULT_POINTS, *, ridge: float = 0.05, iterations: int = 20,
        source: dict | None = None) -> LabelAdapter:
    """Offsets that move a model's ``landmarks`` (N, 70, 2) onto ``labels`` (N, >=K, 2) for each
    of ``points``, given the model's ``landmarks_3d`` and ``pose``: per point, the 3D vector d
    minimising sum_k rho(|label_k - landmark_k - (s_k R_k d)_xy|) + ridge N |d|^2, rho a Cauchy
    loss at 2 % of the face's size (a few bad predictions do not pull it; IRLS). The ridge keeps
    the depth component, which only turned faces constrain, small. Faces with a non-finite value
    are left out. Mirrored pairs (and the mid-line points with themselves) are then averaged
    with their mirror images."""
    lm = np.asarray(landmarks, np.float64)
    lab = np.asarray(labels, np.float64)
    ok = np.isfinite(lm).all(axis=(1, 2)) & np.isfinite(lab[:, list(points)]).all(axis=(1, 2))
    ok &= np.isfinite(np.asarray(landmarks_3d, np.float64)).all(axis=(1, 2)) & np.isfinite(pose).all(axis=1)
    lm, lab = lm[ok], lab[ok]
    rot, scale = face_frames(np.asarray(landmarks_3d, np.float64)[ok], np.asarray(pose, np.float64)[ok], template)
    a = scale[:, None, None] * rot[:, :2, :]  # (N, 2, 3): template units -> image pixels
    tol = 0.02 * scale * np.sqrt(((np.asarray(template)[:68] - np.asarray(template)[:68].mean(0)) ** 2).sum(1).mean())
    offsets = []
    for i in points:
        r = lab[:, i] - lm[:, i]  # (N, 2)
        w = np.ones(len(r))
        d = np.zeros(3)
        for _ in range(iterations):
            # normal equations of the weighted least squares, in template units (rows scaled by 1/s)
            an = a / scale[:, None, None]
            rn = r / scale[:, None]
            m = np.einsum("n,nji,njk->ik", w, an, an) + ridge * len(r) * np.eye(3)
            b = np.einsum("n,nji,nj->i", w, an, rn)
            d = np.linalg.solve(m, b)
            res = np.linalg.norm(r - np.einsum("nij,j->ni", a, d), axis=1)
            w = 1.0 / (1.0 + (res / tol) ** 2)
        offsets.append(d)
    offsets = np.array(offsets)
    # our definitions are mirror-symmetric, and so must the adapter be (a mirrored face's points
    # move as the mirror of the face's): each pair of mirrored points shares its offset, x negated
    row = {int(i): k for k, i in enumerate(points)}
    sym = offsets.copy()
    for k, i in enumerate(points):
        j = int(FLIP_PERM[i])
        if j in row:
            sym[k] = 0.5 * (offsets[k] + offsets[row[j]] * np.array([-1.0, 1.0, 1.0]))
    return LabelAdapter(tuple(int(i) for i in points), sym, dict(source or {}, faces=int(ok.sum())))
