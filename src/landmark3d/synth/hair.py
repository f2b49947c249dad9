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

Long hair (:func:`long_hair_mesh`) is a sheet hanging from the crown past the chin, outside this
image's skin, framing the face, over the shoulders or in front of them; its edges fray into
strands in the same program as the cards.
"""
from __future__ import annotations

import numpy as np

from .sampler import FRINGE_LOWEST

#: Strand texture size: (width across a card, height along it), texels.
STRAND_TEX_W, STRAND_TEX_H = 64, 256
CARD_STREAM = 0x4A12          # the card generator's sub-stream of the image's random state
CARD_POINTS = 4               # points along a card (3 quads)
STRAY_RATE = 0.25             # images with hair whose front hairline drops stray locks over the face
STRAY_FLOOR_Y = -4.0          # model y (cm) stray locks may reach: the mouth


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
        # stray locks: 1-4 thin locks from the front hairline fall across the forehead, a brow,
        # an eye or a cheek, as loose hair does in photos. Their own stream, so the other cards
        # stay as they were; lifted 3-4 mm, as a 4 cm step of a card cuts ~2.5 mm into the brow
        srng = np.random.default_rng([int(params.seed), int(params.index), CARD_STREAM, 1])
        stray = np.zeros(c, bool)
        sfront = inside & (np.abs(self.phi) < 0.8) & (self.rest[:, 1] < line + 2.0)
        if srng.random() < STRAY_RATE and sfront.any():
            ns = int(srng.integers(1, 5))
            ws = self.area * sfront
            roots = np.concatenate([roots, srng.choice(len(self.rest), size=ns, p=ws / ws.sum())])
            gravity = np.concatenate([gravity, np.full(ns, 6.0)])
            length = np.concatenate([length, srng.uniform(10.0, 16.0, ns)])
            phi = self.phi[roots]
            over = np.concatenate([over, np.full(ns, 99.0)])   # (their floor is STRAY_FLOOR_Y)
            tip_lift = np.concatenate([tip_lift, np.zeros(ns)])
            base_lift = np.concatenate([base_lift, srng.uniform(0.3, 0.4, ns)])
            width = np.concatenate([width, srng.uniform(0.4, 1.2, ns)])
            tilt = np.concatenate([tilt, np.zeros(ns)])
            u0 = np.concatenate([u0, srng.random(ns)])
            stray = np.r_[stray, np.ones(ns, bool)]
            c = len(roots)
        if camera is not None:
            pc = self.rest[roots] @ camera[0].T + camera[1]
            nc = self.rest_normals[roots] @ camera[0].T
            keep = np.sum(nc * pc, -1) / np.linalg.norm(pc, axis=-1) < 0.5
            if not keep.any():
                return None
            roots, gravity, length, phi, over, tip_lift, base_lift, width, tilt, u0, stray = (
                x[keep] for x in (roots, gravity, length, phi, over, tip_lift, base_lift, width, tilt, u0, stray))
            c = len(roots)
        # and not below the ears' middle (long hair further down is the sheet, hair.long_hair_mesh);
        # stray locks end where their length does, at the mouth at the lowest
        floor = np.where(stray, STRAY_FLOOR_Y, np.maximum(hairline(params, phi) - over, 1.0))
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


# Head radius (cm) about the vertical axis x = 0, z = 1 of the neutral model, by azimuth from the
# face's front (degrees), measured over the skull's sides (y = 0..8), ears included.
_HEAD_AZIMUTH = np.array([45.0, 60.0, 75.0, 90.0, 110.0, 135.0, 160.0, 180.0])
_HEAD_RADIUS = np.array([8.6, 8.5, 7.9, 8.2, 9.6, 9.3, 9.7, 9.8])
_CROWN_RADIUS = np.array([7.4, 7.3, 7.2, 7.2, 7.7, 8.1, 8.6, 8.9])  # at y = 10
LONG_TOP = 10.5          # model y (cm) of long hair's top row, under the scalp's cards
FRAY_CM = 1.5            # long hair's side edges thin out into strands over this width (shaders.py)
RAGGED_V = 0.8           # and its ends below this share of its length
ROW_CM = 1.6             # its rows' spacing (waves are 6-10 cm long)
#: Long hair's front edge stays 55 degrees or more from the face's front (45 with its waves and
#: an identity's width): the skin it may come near lies beyond LONG_HAIR_NEAR_DEG on the neutral head.
LONG_HAIR_NEAR_DEG = 35.0
_REACH_Y = np.arange(LONG_TOP + 1.0, -16.0, -1.0)     # skin reach grid: 1 cm rows ...
_REACH_BINS = 72                                      # ... by 5 degrees of azimuth


def skin_reach(points: np.ndarray) -> np.ndarray:
    """(len(_REACH_Y), _REACH_BINS) how far the skin ``points`` (N, 3, model frame) reach from the
    head's vertical axis in each 1 cm row and 5-degree sector (0 where there is none), widened by
    one row and sector so a sheet laid outside it clears the skin between grid points."""
    p = np.asarray(points, np.float64)
    iy = np.rint(_REACH_Y[0] - p[:, 1]).astype(int)
    ia = np.floor((np.degrees(azimuth(p)) + 180.0) / 5.0).astype(int) % _REACH_BINS
    ok = (iy >= 0) & (iy < len(_REACH_Y))
    reach = np.zeros((len(_REACH_Y), _REACH_BINS))
    np.maximum.at(reach, (iy[ok], ia[ok]), np.hypot(p[ok, 0], p[ok, 2] - 1.0))
    wide = np.maximum(reach, np.maximum(np.roll(reach, 1, 1), np.roll(reach, -1, 1)))
    wide[1:] = np.maximum(wide[1:], wide[:-1].copy())
    wide[:-1] = np.maximum(wide[:-1], wide[1:].copy())
    return wide


def _hanging(reach: np.ndarray) -> np.ndarray:
    """Hair falls from the widest point above it: each sector's running maximum of the reach down
    the rows, relaxing 0.15 cm per cm towards the neck below the jaw's corners (y < -2)."""
    out = reach.copy()
    for i in range(1, len(out)):
        relax = 0.15 if _REACH_Y[i] < -2.0 else 0.0
        out[i] = np.maximum(out[i], out[i - 1] - relax)
    return out


def front_edge(curtain: np.ndarray, drape: np.ndarray, ys: np.ndarray, behind: float = 1.0) -> np.ndarray:
    """Azimuth (degrees from the face's front) of long hair's front edge at heights ``ys`` (model
    frame, cm): beside the cheeks, further back by the eyes and at the top, and with ``behind``
    moving back behind the shoulders below the chin (:func:`long_hair_mesh`'s arguments)."""
    front, wave = float(curtain[0]), float(curtain[4])
    e_cheek = 55.0 + 25.0 * front
    e_temple = max(e_cheek, 66.0)   # never over the eyes' outer corners
    e = (e_cheek + (e_temple - e_cheek) * _smoothstep(-1.0, 3.0, ys) + 12.0 * _smoothstep(7.0, LONG_TOP, ys)
         + 4.0 * wave * np.sin(0.8 * ys + 2 * np.pi * float(drape[3])))
    return e + (130.0 - e) * _smoothstep(-8.0, -17.0, ys) * behind


def under_long_hair(curtain: np.ndarray, drape: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which scalp ``points`` (..., 3, neutral model frame) long hair hides: below the ears' tops
    and 5 degrees or more behind its front edge. Hair cards rooted there are not drawn (alpha-
    tested, they would be shaded all the same)."""
    y = points[..., 1]
    return (y < 7.5) & (np.abs(np.degrees(azimuth(points))) > front_edge(curtain, drape, y) + 5.0)


def long_hair_mesh(curtain: np.ndarray, drape: np.ndarray, skin: np.ndarray | None = None,
                   torso_rotation: np.ndarray | None = None):
    """Long hair: a sheet hanging from the crown round the back of the head, open at the face,
    over the shoulders' tops and down the back; and, on the sides that ``drape`` says, a band of
    it falling in front of the shoulder.

    ``curtain`` (5,) in [0, 1) (FaceParams.hair_curtain[1:]): the front edge's azimuth beside
    the cheeks (55-80 degrees; at least 66 by the eyes), length (ends at y = -10 .. -42),
    thickness, flare, waviness. ``drape`` (4,) (FaceParams.hair_drape): in front of the +x / -x
    shoulder (0/1), the front band's length share, the waves' phase. ``skin`` (N, 3): this
    image's skin points beside the face (the sheet keeps outside them; every other point of the
    head's sides is enough, as :func:`skin_reach` widens its grid by a cell; None: the neutral
    head's table only). ``torso_rotation`` (3, 3): the
    torso's rotation relative to the head about torso.NECK_PIVOT; the sheet's rows below the
    chin turn with it as the neck does. Model frame; UV v runs down the hair (the strands'
    direction), u across, ~1 per 20 cm. Returns ``(pos, nrm, uv, tangent, tris)``, tangent
    (V, 4): the strands' direction and the distance (cm) to the sheet's nearest side edge, which
    the shader frays.
    """
    import cv2

    from . import torso

    front, length, thick, flare, wave = map(float, curtain)
    y_end = -10.0 - 32.0 * length
    hang = _hanging(skin_reach(skin)) if skin is not None else None
    turn = None
    if torso_rotation is not None:
        rvec = cv2.Rodrigues(np.asarray(torso_rotation, np.float64))[0].ravel()
        angle = float(np.linalg.norm(rvec))
        turn = (rvec / angle, angle) if angle > 1e-9 else None
    pivot = torso.NECK_PIVOT.astype(np.float64)
    rng = np.random.default_rng(int(wave * 1e6) ^ int(front * 1e6))
    phase = 2 * np.pi * float(drape[3])
    wavelength = rng.uniform(6.0, 10.0)

    def sheet(ys, lo, hi, columns, lift, u0, open_top=False):
        """Rows at heights ys (Y,), each from signed azimuth lo to hi (degrees, (Y,))."""
        u = np.linspace(0.0, 1.0, columns)
        phi = lo[:, None] + (hi - lo)[:, None] * u[None]                     # (Y, U) degrees
        a = np.abs(((phi + 180.0) % 360.0) - 180.0)
        y = np.broadcast_to(ys[:, None], phi.shape)
        body = np.interp(a, _HEAD_AZIMUTH, _HEAD_RADIUS) + 0.8 + 1.2 * thick
        crown = np.interp(a, _HEAD_AZIMUTH, _CROWN_RADIUS) + 0.6 + 0.6 * thick
        t = _smoothstep(LONG_TOP, LONG_TOP - 4.5, y)
        r = crown + (body - crown) * t + (0.05 + 0.2 * flare) * np.clip(-2.0 - y, 0.0, 12.0)
        if hang is not None:
            iy = np.clip(np.rint(_REACH_Y[0] - y).astype(int), 0, len(_REACH_Y) - 1)
            ia = np.floor((((phi + 180.0) % 360.0)) / 5.0).astype(int) % _REACH_BINS
            r = np.maximum(r, hang[iy, ia] + (0.5 + 0.6 * thick) * t)
        low = ys <= torso.COLLAR_Y                      # rows that reach the torso
        if low.any():
            r[low] = np.maximum(r[low], torso.surface_radius(np.deg2rad(phi[low]), y[low]) + 0.6 + 0.4 * thick)
        # locks: ridges across the sheet, waves down it, both growing away from the crown
        grow = _smoothstep(LONG_TOP, LONG_TOP - 6.0, y)
        ridge = np.sin(u[None] * (hi - lo)[:, None] / 360.0 * np.pi * rng.uniform(20, 40) + rng.uniform(0, 6.3))
        lock_phase = np.cumsum(rng.normal(0.0, 0.5, columns))[None]
        waves = np.sin(2 * np.pi * y / wavelength + phase + lock_phase)
        r = r + grow * ((0.25 * ridge + 0.1 * rng.normal(0, 1, (1, columns))) * (0.4 + 0.8 * thick)
                        + (0.03 + 0.35 * max(wave - 0.35, 0.0)) * waves) + lift
        rad = np.deg2rad(phi)
        pos = np.stack([r * np.sin(rad), y, 1.0 + r * np.cos(rad)], -1)
        if turn is not None:  # below the chin the hair lies on the torso: turn with it, row by row
            axis, angle = turn
            share = _smoothstep(-9.0, -16.0, ys)
            low = share > 0
            pos[low] = _rotate(pos[low] - pivot, axis, angle * share[low]) + pivot
        pos[-1, :, 1] += rng.uniform(0.0, 2.5, columns)    # ragged ends: the last row pulled up unevenly
        across = np.linalg.norm(np.diff(pos, axis=1), axis=-1)
        dist = np.concatenate([np.zeros((len(ys), 1)), np.cumsum(across, axis=1)], 1)
        w = np.minimum(dist, dist[:, -1:] - dist)                              # cm to a side edge
        if open_top:
            w = np.minimum(w, (ys[0] - ys)[:, None])
        uv = np.stack([u0 + dist / 20.0, np.broadcast_to(np.linspace(0, 1, len(ys))[:, None], phi.shape)], -1)
        return pos, uv, w

    parts = []
    rows = lambda top, end: int(np.ceil((top - end) / ROW_CM)) + 1  # noqa: E731  (rows enough for the waves)
    ys = np.linspace(LONG_TOP, y_end, rows(LONG_TOP, y_end))
    e = front_edge(curtain, drape, ys)
    parts.append(sheet(ys, e, 360.0 - e, 41, 0.0, 0.0))  # behind the shoulders
    for side, in_front in ((1.0, drape[0] > 0.5), (-1.0, drape[1] > 0.5)):
        if in_front:   # a band in front of the shoulder, lying just over the sheet above it
            end = 4.0 + (y_end - 4.0) * (0.7 + 0.3 * float(drape[2]))
            yb = np.linspace(4.0, end, rows(4.0, end))
            e = front_edge(curtain, drape, yb, behind=0.0)
            lo, hi = (e - 2.0, e + 40.0) if side > 0 else (-(e + 40.0), -(e - 2.0))
            parts.append(sheet(yb, lo, hi, 8, 0.35, 0.37 if side > 0 else 0.71, open_top=True))
    out_pos, out_nrm, out_uv, out_tan, out_tris, base = [], [], [], [], [], 0
    for pos, uv, w in parts:
        ny, nu = pos.shape[:2]
        du, dv = np.gradient(pos, axis=1), np.gradient(pos, axis=0)
        nrm = np.cross(dv, du)
        outward = pos - np.stack([np.zeros_like(pos[..., 0]), pos[..., 1], np.ones_like(pos[..., 0])], -1)
        nrm *= np.sign(np.sum(nrm * outward, axis=-1, keepdims=True) + 1e-9)
        nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True) + 1e-9
        dv = dv / (np.linalg.norm(dv, axis=-1, keepdims=True) + 1e-9)
        idx = np.arange(ny * nu).reshape(ny, nu) + base
        a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
        out_tris.append(np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)]))
        out_pos.append(pos.reshape(-1, 3))
        out_nrm.append(nrm.reshape(-1, 3))
        out_uv.append(uv.reshape(-1, 2))
        out_tan.append(np.concatenate([dv.reshape(-1, 3), w.reshape(-1, 1)], 1))
        base += ny * nu
    cat = lambda x, t: np.concatenate(x).astype(t)  # noqa: E731
    return (cat(out_pos, np.float32), cat(out_nrm, np.float32), cat(out_uv, np.float32), cat(out_tan, np.float32),
            cat(out_tris, np.int32))


def _rotate(p: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Points ``p`` (R, U, 3) turned about the unit ``axis`` by ``angle`` (R,) radians, row by row
    (Rodrigues' formula)."""
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    return p * c + np.cross(axis, p) * s + axis * (p @ axis)[..., None] * (1 - c)


def _smoothstep(a, b, x):
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)
