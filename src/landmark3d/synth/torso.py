"""A simple clothed torso under the ICT bust, and the neck that joins them.

Model frame (cm, as the ICT mesh: y up, z out of the face; the chin is at y ~ -8). ICT's bust is
cut ~3 cm below the chin; :class:`Neck` continues it as a tube down into the torso's collar, at
the base of the neck (~6.5 cm below the chin, about where a crew neck sits), so that the jaw is seen
against the neck and its shadow, as in photos, rather than against the clothing. The torso (the
shoulders and chest as a swept superellipse) turns a little relative to the head about
:data:`NECK_PIVOT` (see renderer.py); the neck's rows follow the head at the top and the torso at
the bottom.
"""
from __future__ import annotations

import functools

import numpy as np

#: Where the neck meets the torso (model frame): relative torso rotations pivot here.
NECK_PIVOT = np.array([0.0, -15.0, -1.0], np.float32)
#: Model y of the neck tube's bottom ring, inside the torso below its collar.
NECK_BOTTOM_Y = -18.5
#: How far below the collar of the first version (which sat at the bust's cut, hiding the neck)
#: the torso now begins.
TORSO_DROP_CM = 6.0

# profile rows: (half width x, half depth z, height y, depth centre z); collar -> shoulders -> waist
_PROFILE = np.array([
    [7.0, 7.6, -8.5, -0.6], [7.5, 8.0, -9.3, -0.6], [8.4, 8.6, -10.2, -0.7], [11.0, 9.2, -11.6, -0.8],
    [14.5, 9.6, -13.2, -0.9], [17.5, 10.6, -15.0, -1.0], [19.0, 11.2, -17.5, -1.0],
    [19.6, 11.6, -22.0, -1.0], [19.4, 11.8, -35.0, -1.0], [18.8, 11.6, -60.0, -1.0],
], np.float32) - np.array([0.0, 0.0, TORSO_DROP_CM, 0.0], np.float32)
#: Model y of the torso's collar (its top row).
COLLAR_Y = float(_PROFILE[0, 2])


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


def surface_radius(azimuth: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance (cm) from the head's vertical axis (x = 0, z = 1) to the torso's surface along
    ``azimuth`` (radians, 0 = the face's front, + towards +x) at height ``y`` (torso frame, as
    :func:`torso_mesh`); 0 above the collar. Long hair rests on it (hair.py). Interpolated in a
    table of 0.5 cm by 2 degrees, made on first use."""
    table = _radius_table()
    fy = np.clip((COLLAR_Y - np.asarray(y, np.float64)) / 0.5, 0.0, table.shape[0] - 1.001)
    fa = (np.asarray(azimuth, np.float64) % (2 * np.pi)) / np.deg2rad(2.0)
    iy, ia = fy.astype(int), fa.astype(int)
    ty, ta = fy - iy, fa - ia
    a0, a1 = table[iy, ia], table[iy, ia + 1]
    b0, b1 = table[iy + 1, ia], table[iy + 1, ia + 1]
    r = (a0 + (a1 - a0) * ta) * (1 - ty) + (b0 + (b1 - b0) * ta) * ty
    return np.where(np.asarray(y) > COLLAR_Y, 0.0, r)


@functools.cache
def _radius_table(exponent: float = 2.6) -> np.ndarray:
    """(rows, 181): :func:`surface_radius` from the collar down to the profile's end by 0.5 cm,
    round by 2 degrees (the last column repeats the first), by bisection on the superellipses."""
    prof = _PROFILE[::-1]                       # ascending y for np.interp
    y = np.arange(COLLAR_Y, float(_PROFILE[-1, 2]) - 0.5, -0.5)[:, None]
    az = np.deg2rad(np.arange(0.0, 361.0, 2.0))[None]
    a, b, zc = (np.interp(y, prof[:, 2], prof[:, k]) for k in (0, 1, 3))
    s, c = np.sin(az), np.cos(az)
    lo, hi = np.zeros((y.shape[0], az.shape[1])), np.full((y.shape[0], az.shape[1]), 40.0)
    for _ in range(24):                         # inside at 0, outside at 40 cm
        t = (lo + hi) / 2
        out = np.abs(t * s / a) ** exponent + np.abs((1.0 - zc + t * c) / b) ** exponent > 1.0
        lo, hi = np.where(out, lo, t), np.where(out, t, hi)
    return lo


def boundary_loop(triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Ordered vertex ids of the lowest open boundary loop of a triangle mesh (the bust's cut
    at the neck): edges used by one triangle only, walked from vertex to vertex."""
    e = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    edges, count = np.unique(e, axis=0, return_counts=True)
    edges = edges[count == 1]
    if not len(edges):
        raise ValueError("the mesh has no open boundary")
    nbrs: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    start = min(nbrs, key=lambda v: points[v, 1])
    loop, prev = [start], None
    while True:
        nxt = [v for v in nbrs[loop[-1]] if v != prev]
        if not nxt or nxt[0] == start:
            break
        prev = loop[-1]
        loop.append(nxt[0])
    # counter-clockwise seen from above (+y), whatever the walk's direction
    p = points[loop]
    area = np.sum(p[:, 2] * np.roll(p[:, 0], -1) - p[:, 0] * np.roll(p[:, 2], -1))
    return np.array(loop if area > 0 else loop[::-1], np.int64)


class Neck:
    """The neck below the bust's cut: a tube of :attr:`ROWS` rings from the cut's boundary loop
    (``loop``: render-vertex ids, the top ring follows the mixed head exactly) down to
    :data:`NECK_BOTTOM_Y`, widening a little towards the shoulders, each ring turned by a growing
    share of the torso's rotation relative to the head about :data:`NECK_PIVOT`.

    ``rest`` (L, 3): the loop's neutral positions; ``uv`` (L, 2) and ``ao`` (L,): the loop
    vertices' texture coordinates and ambient occlusion, carried down the tube (the texture
    moving by ``uv_down`` (L, 2) per cm) so the skin's noise has no seam at the cut. ``copies``:
    for each loop vertex, all the head's render vertices at that point (split along texture
    seams), whose normals :meth:`mesh` sets to the seam's.
    """

    ROWS = 7

    def __init__(self, loop: np.ndarray, rest: np.ndarray, uv: np.ndarray, uv_down: np.ndarray, ao: np.ndarray,
                 copies: list[np.ndarray] | None = None):
        self.loop = np.asarray(loop)
        copies = copies if copies is not None else [np.array([v]) for v in self.loop]
        self._copy_ids = np.concatenate(copies)
        self._copy_of = np.repeat(np.arange(len(self.loop)), [len(c) for c in copies])
        n, k = len(self.loop), self.ROWS
        self.t = np.linspace(0.0, 1.0, k)
        # the cut's outline is uneven: lower rings take a smoothed copy of it (12 passes of a
        # [1, 2, 1] / 4 filter round the loop), or its bumps would run down the neck as ridges
        step = 0.5 * np.eye(n) + 0.25 * (np.roll(np.eye(n), 1, axis=0) + np.roll(np.eye(n), -1, axis=0))
        self._smooth = np.linalg.matrix_power(step, 12)
        drop = (rest[:, 1].mean() - NECK_BOTTOM_Y) * self.t  # cm below the cut, per row
        self.rest = self._rows(rest.astype(np.float64), np.eye(3))
        # (u + 2: the same noise, fract() being all the shader takes of it, but outside the
        # face's tile, so the skin's program skips its painted regions, none of which reach here)
        self.uv = (uv[None] + drop[:, None, None] * uv_down[None] + [2.0, 0.0]).reshape(-1, 2).astype(np.float32)
        # the top ring's occlusion (the jaw's overhang in front) fading to open below
        self.ao = (ao[None] + (np.maximum(ao, 0.85)[None] - ao[None]) * self.t[:, None]).reshape(-1).astype(np.float32)
        ring = np.arange(n)
        a = ring[None, :] + n * np.arange(k - 1)[:, None]
        b = (ring[None, :] + 1) % n + n * np.arange(k - 1)[:, None]
        # counter-clockwise loop seen from above, rows going down: (a, b, a + n) faces outwards
        self.triangles = np.concatenate([np.stack([a, a + n, b], -1).reshape(-1, 3),
                                         np.stack([b, a + n, b + n], -1).reshape(-1, 3)]).astype(np.int32)

    def _rows(self, top: np.ndarray, rel: np.ndarray) -> np.ndarray:
        """(ROWS * L, 3) ring points below ``top`` (L, 3), the torso turned by ``rel``."""
        import cv2

        c = top.mean(axis=0)
        offset = top - c
        smooth = self._smooth @ offset
        rvec = cv2.Rodrigues(np.asarray(rel, np.float64))[0]
        rows = []
        for t in self.t:
            flare = np.array([1.0 + 0.12 * t * t, 1.0, 1.0 + 0.06 * t * t])
            ring = offset + (smooth - offset) * min(1.0, 3.0 * t)
            p = c + ring * flare + np.array([0.0, (NECK_BOTTOM_Y - c[1]) * t, 0.0])
            turn = cv2.Rodrigues(rvec * t)[0]
            rows.append((p - NECK_PIVOT) @ turn.T + NECK_PIVOT)
        return np.concatenate(rows)

    def mesh(self, vertices: np.ndarray, normals: np.ndarray, rel: np.ndarray):
        """``(positions, normals, head normals)``: the tube's (ROWS * L, 3) float32, model frame, for
        the mixed head's render vertices and normals (R, 3) and the torso's relative rotation
        ``rel`` (3, 3); and a copy of ``normals`` whose seam vertices have the seam's normal (the
        mean of the head's side and the tube's), so the shading runs on across the cut."""
        n, k = len(self.loop), self.ROWS
        pos = self._rows(vertices[self.loop].astype(np.float64), rel).reshape(k, n, 3)
        around = np.roll(pos, -1, axis=1) - np.roll(pos, 1, axis=1)
        down = np.gradient(pos, axis=0)
        nrm = np.cross(down, around)
        nrm /= np.linalg.norm(nrm, axis=2, keepdims=True) + 1e-9
        seam = nrm[0] + normals[self.loop]
        nrm[0] = seam / (np.linalg.norm(seam, axis=1, keepdims=True) + 1e-9)
        head = np.array(normals, np.float32, copy=True)
        head[self._copy_ids] = nrm[0][self._copy_of]
        return pos.reshape(-1, 3).astype(np.float32), nrm.reshape(-1, 3).astype(np.float32), head
