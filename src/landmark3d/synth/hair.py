"""Scalp hair as strand cards: a few hundred alpha-tested ribbons lying on the displaced scalp
shell (FACE_VS), combed along a flow field, tilted out of the surface so the outline breaks into
locks, with fringes over the forehead and a few flyaways. The shell stays as the hair's dark
under-layer; the cards carry the strands and the anisotropic highlight (shaders.py).

Cards are grown once per image on the neutral head (model frame, cm) and tied to scalp vertices,
so they follow identity and expression: each card point is a vertex of the mixed mesh, pushed
out along its normal by the shell's height plus a small lift, plus a tangent offset measured on
the neutral mesh. Randomness comes from ``default_rng([seed, index, CARD_STREAM])``: the sampled
parameters (and every other image choice) are unchanged, and an image is still a function of
``(seed, index)``.
"""
from __future__ import annotations

import numpy as np

from .sampler import FRINGE_LOWEST

#: Strand texture size: (width across a card, height along it), texels.
STRAND_TEX_W, STRAND_TEX_H = 64, 256
CARD_STREAM = 0x4A12          # the card generator's sub-stream of the image's random state
CARD_POINTS = 4               # points along a card (3 quads)


def strand_texture(width: int = STRAND_TEX_W, height: int = STRAND_TEX_H, seed: int = 2024) -> np.ndarray:
    """(height, width, 4) uint8: a lock of thin strands, u across (tiling), v from root (row 0)
    to tip. r: per-strand brightness with a slow variation along it, g: per-strand random value
    (breaks the highlight into strands), b: depth in the lock (dark between strands), a: coverage
    with tapering, uneven tips and gaps between strands."""
    rng = np.random.default_rng(seed)
    v = (np.arange(height) + 0.5)[:, None] / height
    u = (np.arange(width) + 0.5)[None, :] / width
    cov = np.zeros((height, width))
    bright = np.full((height, width), 0.5)
    rand = np.zeros((height, width))
    n = 60                                             # strands per card width (tiling in u)
    for _ in range(n):
        c = rng.random()
        tip = rng.uniform(0.4, 1.0)                    # where the strand ends (v)
        w = rng.uniform(0.8, 2.0) / width              # half-width in u
        wave = rng.uniform(0.0, 0.6) / width * np.sin(v * rng.uniform(4, 12) + rng.uniform(0, 6.3))
        du = np.abs(((u - c - wave + 0.5) % 1.0) - 0.5)  # wrapped distance to the strand's centre
        taper = np.clip((tip - v) / 0.25, 0.0, 1.0)    # thins out over the last quarter
        a = np.clip(1.0 - du / (w * (0.35 + 0.65 * taper) + 1e-6), 0.0, 1.0) * (v < tip)
        on = a > cov
        cov = np.maximum(cov, a)
        b = rng.uniform(0.45, 1.0) * (0.85 + 0.15 * np.sin(v * rng.uniform(6, 20) + rng.uniform(0, 6.3)))
        bright = np.where(on, b, bright)
        rand = np.where(on, rng.random(), rand)
    depth = np.clip(0.35 + 0.65 * cov, 0, 1) * np.ones_like(v)
    out = np.stack([bright, rand, depth, np.clip(cov * 1.5, 0, 1)], axis=-1)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def hairline_basis(phi: np.ndarray) -> np.ndarray:
    """(6, N) the parts of :func:`hairline` that depend on the azimuth only (computed once for
    fixed points): the front and back weights, the sideburn bump, the fringe's weight, the
    azimuth itself, the temples' bump."""
    c = np.cos(phi)
    return np.stack([np.where(c > 0, np.abs(c) ** 0.7, 0.0), np.where(c > 0, 0.0, np.abs(c) ** 0.6),
                     np.exp(-((np.abs(phi) - 1.3) / 0.09) ** 2), _smoothstep(1.0, 0.35, np.abs(phi)), phi,
                     np.exp(-((np.abs(phi) - 0.6) / 0.25) ** 2)])


def hairline(params, phi: np.ndarray | None = None, basis: np.ndarray | None = None) -> np.ndarray:
    """Hairline height (model y, cm) at azimuth ``phi`` (about the head's vertical axis, 0 = the
    face's front), or at the points of a :func:`hairline_basis`: FACE_VS's ``hairline``."""
    front, side, back, _ = map(float, params.hair_line)
    _, sideburn, _, fringe = map(float, params.hair_shape)
    wf, wb, bump, wfringe, phi, wtemple = hairline_basis(phi) if basis is None else basis
    base, tilt, arch, temples = map(float, params.hairline_shape)
    line = side + (front - side) * wf + (back - side) * wb - sideburn * bump + temples * wtemple
    if fringe > 0.01:
        edge = np.maximum(base + (tilt + arch * phi) * phi, FRINGE_LOWEST)
        line = line + (np.maximum(line - fringe, edge) - line) * wfringe
    return line


def azimuth(p: np.ndarray) -> np.ndarray:
    """Azimuth about the head's vertical axis (x = 0, z = 1), 0 = the face's front."""
    return np.arctan2(p[..., 0], p[..., 2] - 1.0)


def flow_style(params) -> np.ndarray:
    """(4,) the comb's source point (model frame, cm) and the flow's sign: +1 hair flows away
    from it (a crown whorl: forwards on top, down at the back), -1 towards it (swept back)."""
    rng = np.random.default_rng([int(params.seed), int(params.index), CARD_STREAM, 1])
    kind = rng.choice(3, p=[0.3, 0.35, 0.35])
    side = rng.choice([-1.0, 1.0])
    if kind == 0:    # crown whorl, a little off the mid-line
        return np.array([side * rng.uniform(0, 1.5), rng.uniform(12.5, 14.0), rng.uniform(-5.0, -2.5), 1.0])
    if kind == 1:    # side parting
        return np.array([side * rng.uniform(2.5, 4.5), rng.uniform(13.0, 14.5), rng.uniform(0.5, 3.5), 1.0])
    return np.array([0.0, rng.uniform(10.0, 12.5), rng.uniform(-9.0, -6.5), -1.0])  # swept back


def flow(p: np.ndarray, n: np.ndarray, style: np.ndarray, gravity: float) -> np.ndarray:
    """Unit comb direction in the tangent plane at points ``p`` with unit normals ``n`` (model
    frame): away from (or towards) the style's source, pulled down by ``gravity`` where the
    surface is steep. The shaders compute the same field for the shell."""
    d = (p - style[:3]) * style[3]
    d = d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-6)
    d = d + gravity * np.array([0.0, -1.0, 0.0])
    d = d - n * np.sum(n * d, axis=-1, keepdims=True)
    return d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-6)


class HairCards:
    """Grows an image's cards on the neutral scalp and places them on its mixed head.

    ``rest``/``rest_normals`` (N, 3): the neutral skin vertices (model frame) that may carry
    hair, ``area`` (N,) the skin area each stands for (roots are spread evenly over the scalp).
    """

    def __init__(self, rest: np.ndarray, rest_normals: np.ndarray, area: np.ndarray):
        from scipy.spatial import cKDTree

        self.rest = np.asarray(rest, np.float64)
        self.rest_normals = np.asarray(rest_normals, np.float64)
        self.area = np.asarray(area, np.float64)
        self.tree = cKDTree(self.rest)
        self.phi = azimuth(self.rest)
        self.line_basis = hairline_basis(self.phi)

    def _snap(self, p: np.ndarray):
        """Nearest scalp vertex of each point and the point moved onto its tangent plane."""
        _, k = self.tree.query(p)
        n = self.rest_normals[k]
        return k, p - n * np.sum(n * (p - self.rest[k]), axis=-1, keepdims=True)

    def grow(self, params, count: int = 170, camera: tuple | None = None):
        """The image's cards on the neutral head: ``(k (C, P) vertex ids, offset (C, P, 3)
        tangent offsets from those vertices, tangent (C, P, 3), width (C,), lift (C, P) cm above
        the shell, tilt (C,) radians, u0 (C,) texture offset)``, or None without hair.

        ``camera`` (rotation, translation of the model frame into the camera's): cards rooted
        well round the far side of the head are not grown (every random value is drawn first,
        so the others do not change)."""
        if params.hair_shape[2] <= 0 or params.hat:
            return None
        rng = np.random.default_rng([int(params.seed), int(params.index), CARD_STREAM])
        style = flow_style(params)
        line = hairline(params, basis=self.line_basis)
        inside = self.rest[:, 1] > line + 0.6
        if not inside.any():
            return None
        fringe = float(params.hair_shape[3])
        w = self.area * inside
        roots = rng.choice(len(self.rest), size=count, p=w / w.sum())
        gravity = np.where(rng.random(count) < 0.5, 0.4, 0.9)
        length = rng.uniform(3.0, 6.5, count) * (1.0 + 0.25 * float(params.hair_shape[0]))
        # fringe locks: rooted above the front hairline, falling over the forehead
        if fringe > 0.01:
            front = inside & (np.abs(self.phi) < 0.9) & (self.rest[:, 1] < line + 4.0)
            if front.any():
                nf = int(count * 0.3)
                wf = self.area * front
                roots = np.concatenate([roots, rng.choice(len(self.rest), size=nf, p=wf / wf.sum())])
                gravity = np.concatenate([gravity, np.full(nf, 6.0)])
                length = np.concatenate([length, rng.uniform(2.5, 4.0, nf) + fringe])
        c = len(roots)
        phi = self.phi[roots]
        # lowest a tip may reach: over the face, about the hairline (short hair combed forward
        # would make a bowl cut; a fringe's bottom is its hairline); elsewhere a little over it
        over = np.where(np.abs(phi) < 1.1, rng.uniform(-1.0, 0.2, c), rng.uniform(0.3, 1.5, c))
        # locks stand out of the head on top; lower down they lie flat
        up = np.clip((self.rest[roots, 1] - 6.0) / 4.0, 0.2, 1.0)
        tip_lift = rng.uniform(0.0, 0.5, c) * up
        fly = rng.random(c) < 0.04                       # flyaways: thin, lifted off the head
        tip_lift[fly] = rng.uniform(0.6, 1.5, fly.sum())
        base_lift = 0.12 + 0.15 * rng.random(c)
        width = np.where(fly, rng.uniform(0.15, 0.3, c), rng.uniform(1.1, 2.2, c))
        tilt = rng.normal(0.0, 0.45, c) * up
        u0 = rng.random(c)
        if camera is not None:
            pc = self.rest[roots] @ camera[0].T + camera[1]
            nc = self.rest_normals[roots] @ camera[0].T
            keep = np.sum(nc * pc, -1) / np.linalg.norm(pc, axis=-1) < 0.5
            if not keep.any():
                return None
            roots, gravity, length, phi, over, tip_lift, base_lift, width, tilt, u0 = (
                x[keep] for x in (roots, gravity, length, phi, over, tip_lift, base_lift, width, tilt, u0))
            c = len(roots)
        # and not below the ears' middle (long hair further down is the sheet, accessories.py)
        floor = np.maximum(hairline(params, phi) - over, 1.0)
        p = self.rest[roots].copy()
        k = roots.copy()
        ks, ps = [k], [p]
        step = length / (CARD_POINTS - 1)
        down = np.array([0.0, -1.0, 0.0])
        for _ in range(CARD_POINTS - 1):
            n = self.rest_normals[k]
            d = flow(p, n, style, 0.0) + gravity[:, None] * down
            d -= n * np.sum(n * d, axis=-1, keepdims=True)
            d /= np.linalg.norm(d, axis=-1, keepdims=True) + 1e-6
            q = p + d * step[:, None]
            stop = q[:, 1] < floor
            q[stop] = p[stop] + d[stop] * (step[stop, None] * 0.15)  # a short last segment: the tip
            k, p = self._snap(q)
            ks.append(k)
            ps.append(p)
        k = np.stack(ks, 1)
        p = np.stack(ps, 1)
        offset = p - self.rest[k]
        tangent = np.gradient(p, axis=1)
        tangent /= np.linalg.norm(tangent, axis=-1, keepdims=True) + 1e-6
        t = np.linspace(0.0, 1.0, CARD_POINTS)[None]
        lift = base_lift[:, None] + tip_lift[:, None] * t ** 2
        return k, offset, tangent, width, lift, tilt, u0

    @staticmethod
    def place(cards, vertices: np.ndarray, normals: np.ndarray, height: np.ndarray,
              vertex_ids: np.ndarray | None = None):
        """Card mesh on the mixed head: ``vertices``/``normals`` (M, 3) this image's mesh, where
        ``vertex_ids`` (N,) are the rows of ``rest`` (all rows in order if None); ``height``
        (C, P) the shell's displacement under each card point. Returns ``(pos, nrm, tangent, uv,
        tris)``, tangent (V, 4): the strands' direction and the position across the card (-1 .. 1);
        nrm is the scalp's normal (the cards' shading normal: hair lit like the head it
        lies on, not like a flat ribbon)."""
        k, offset, tangent, width, lift, tilt, u0 = cards
        ids = k if vertex_ids is None else vertex_ids[k]
        nrm = np.asarray(normals[ids], np.float64)
        nrm = nrm / (np.linalg.norm(nrm, axis=-1, keepdims=True) + 1e-9)
        centre = vertices[ids] + offset + nrm * (height + lift)[..., None]
        side = np.cross(nrm, tangent)
        side /= np.linalg.norm(side, axis=-1, keepdims=True) + 1e-9
        # tilted out of the surface: seen edge-on at the outline, the locks stick out of it
        side = side * np.cos(tilt)[:, None, None] + nrm * np.sin(tilt)[:, None, None]
        half = side * (width[:, None, None] / 2)
        # a lock narrows towards its tip
        half = half * np.linspace(1.0, 0.55, CARD_POINTS)[None, :, None]
        pos = np.stack([centre - half, centre + half], axis=2)       # (C, P, 2, 3)
        c = len(k)
        v = np.broadcast_to(np.linspace(0.0, 1.0, CARD_POINTS)[None, :, None], (c, CARD_POINTS, 2))
        u = u0[:, None, None] + np.array([0.0, 1.0])[None, None, :] * (width[:, None, None] / 1.2)
        uv = np.stack([np.broadcast_to(u, v.shape), v], -1)
        idx = np.arange(c * CARD_POINTS * 2).reshape(c, CARD_POINTS, 2)
        a, b, cc, d = idx[:, :-1, 0], idx[:, :-1, 1], idx[:, 1:, 0], idx[:, 1:, 1]
        tris = np.concatenate([np.stack([a, cc, b], -1).reshape(-1, 3), np.stack([b, cc, d], -1).reshape(-1, 3)])
        rep = lambda x: np.repeat(x[:, :, None], 2, axis=2).reshape(-1, 3)  # noqa: E731
        # w: -1 / +1 on the card's two long edges (the shader frays them)
        across = np.broadcast_to(np.array([-1.0, 1.0]), (c, CARD_POINTS, 2)).reshape(-1, 1)
        return (pos.reshape(-1, 3).astype(np.float32), rep(nrm).astype(np.float32),
                np.concatenate([rep(tangent), across], 1).astype(np.float32), uv.reshape(-1, 2).astype(np.float32),
                tris.astype(np.int32))


def _smoothstep(a, b, x):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)
