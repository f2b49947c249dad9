"""A simple clothed torso under the ICT bust: shoulders and chest as a swept superellipse.

Model frame (cm, as the ICT mesh: y up, z out of the face). The top is a collar around the
neck just below the jaw, wide enough to cover the bust's cut-off edge; the torso turns a little
relative to the head about :data:`NECK_PIVOT` (see renderer.py).
"""
from __future__ import annotations

import numpy as np

#: Where the neck meets the torso (model frame): relative torso rotations pivot here.
NECK_PIVOT = np.array([0.0, -12.0, 0.0], np.float32)

# profile rows: (half width x, half depth z, height y, depth centre z); collar -> shoulders -> waist
_PROFILE = np.array([
    [6.6, 7.2, -8.5, 0.0], [7.2, 7.8, -9.3, -0.2], [8.4, 8.6, -10.2, -0.5], [11.0, 9.2, -11.6, -0.7],
    [14.5, 9.6, -13.2, -0.9], [17.5, 10.6, -15.0, -1.0], [19.0, 11.2, -17.5, -1.0],
    [19.6, 11.6, -22.0, -1.0], [19.4, 11.8, -35.0, -1.0], [18.8, 11.6, -60.0, -1.0],
], np.float32)


def torso_mesh(segments: int = 48, rows_per_span: int = 3, exponent: float = 2.6):
    """``(positions (N, 3), normals (N, 3), uvs (N, 2), triangles (M, 3))`` of the torso."""
    prof = _PROFILE
    t = np.linspace(0, len(prof) - 1, (len(prof) - 1) * rows_per_span + 1)
    rows = np.stack([np.interp(t, np.arange(len(prof)), prof[:, k]) for k in range(4)], axis=1)
    ang = np.linspace(np.pi, 3 * np.pi, segments + 1)  # seam (duplicated for the UVs) at the back
    c, s = np.cos(ang), np.sin(ang)
    # superellipse: |x/a|^e + |z/b|^e = 1
    sx = np.sign(s) * np.abs(s) ** (2 / exponent)
    sz = np.sign(c) * np.abs(c) ** (2 / exponent)
    pos = np.zeros((len(rows), len(ang), 3), np.float32)
    pos[..., 0] = rows[:, None, 0] * sx[None]
    pos[..., 1] = rows[:, None, 2]
    pos[..., 2] = rows[:, None, 3] + rows[:, None, 1] * sz[None]
    # arc length down the profile for v, angle for u
    step = np.linalg.norm(np.diff(rows[:, [0, 2]], axis=0), axis=1)
    v = np.concatenate([[0], np.cumsum(step)]) / 30.0
    uv = np.stack(np.broadcast_arrays(((ang - np.pi) / (2 * np.pi))[None], v[:, None]), axis=-1).astype(np.float32)
    r, k = len(rows), len(ang)
    idx = np.arange(r * k).reshape(r, k)
    a, b, cc, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    tris = np.concatenate([np.stack([a, cc, b], -1).reshape(-1, 3), np.stack([b, cc, d], -1).reshape(-1, 3)])
    p = pos.reshape(-1, 3)
    fn = np.cross(p[tris[:, 1]] - p[tris[:, 0]], p[tris[:, 2]] - p[tris[:, 0]])
    vn = np.zeros_like(p)
    for j in range(3):
        np.add.at(vn, tris[:, j], fn)
    # outward: flip if the normals point at the axis
    centre = np.stack([np.zeros(len(p)), p[:, 1], np.repeat(rows[:, 3], k)], axis=1)
    if np.mean(np.sum(vn * (p - centre), axis=1)) < 0:
        vn, tris = -vn, tris[:, ::-1]
    vn /= np.linalg.norm(vn, axis=1, keepdims=True) + 1e-9
    return p, vn.astype(np.float32), uv.reshape(-1, 2), tris.astype(np.int32)
