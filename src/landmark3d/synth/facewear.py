"""Facewear (FaceSynthetics class 18): face masks and over-ear headphones with an optional boom
microphone, fitted per image to the mixed head, so they follow identity and expression.
Model frame (cm; x to the subject's left, y up, z out of the face).

Both are placed against an *envelope* of the head: the outermost skin radius seen from a point
inside the head, per direction (a grid over azimuth and elevation). A mask is a sheet at a fixed
distance outside the envelope, relaxed (smoothed while kept outside) so it spans the hollows
beside the nose and under the lip like taut cloth; headphones and ear loops are kept outside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accessories import _ellipsoid, _merge, _tube

_STEP = np.deg2rad(1.5)  # envelope cell (~2.5 mm at the face)
#: A mask lies at least this far outside the skin: deeper than the landmark visibility test's
#: tolerance (generator.VISIBILITY_TOLERANCE_CM, 3.5 mm), so points under it count as hidden.
MASK_MIN_OFFSET_CM = 0.45


@dataclass
class HeadSurface:
    """This image's head skin (mixed vertices, model frame) as facewear needs it."""

    points: np.ndarray   # (N, 3)
    normals: np.ndarray  # (N, 3) unit, outward
    ear: np.ndarray      # (N,) int: 0, or -1 / +1 for the ear regions on the model's -x / +x side


def _angles(points: np.ndarray, centre: np.ndarray):
    """Azimuth about the vertical (0 = straight ahead, +x positive), elevation and distance."""
    rel = points - centre
    horiz = np.hypot(rel[..., 0], rel[..., 2])
    return np.arctan2(rel[..., 0], rel[..., 2]), np.arctan2(rel[..., 1], horiz), np.linalg.norm(rel, axis=-1)


def _direction(az, el):
    return np.stack([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)], axis=-1)


class Envelope:
    """Outermost radius of ``points`` seen from ``centre`` on an azimuth x elevation grid.

    Each cell holds the largest radius in it and its 8 neighbours, so interpolating between cells
    never passes inside a point; empty cells take their neighbours' values. With ``relax`` the
    grid is blurred that many times and kept outside the points each time: a membrane resting on
    the face's high points (nose, chin, cheeks) that spans the hollows between them.
    """

    def __init__(self, points: np.ndarray, centre: np.ndarray, az_range=(-105.0, 105.0),
                 el_range=(-85.0, 60.0), relax: int = 0):
        import cv2

        self.centre = np.asarray(centre, np.float64)
        self.az0, self.el0 = np.deg2rad(az_range[0]), np.deg2rad(el_range[0])
        na = int(np.ceil(np.deg2rad(az_range[1] - az_range[0]) / _STEP)) + 1
        ne = int(np.ceil(np.deg2rad(el_range[1] - el_range[0]) / _STEP)) + 1
        az, el, r = _angles(np.asarray(points, np.float64), self.centre)
        j = np.round((az - self.az0) / _STEP).astype(int)
        i = np.round((el - self.el0) / _STEP).astype(int)
        keep = (i >= 0) & (i < ne) & (j >= 0) & (j < na)
        grid = np.zeros((ne, na), np.float32)
        np.maximum.at(grid, (i[keep], j[keep]), r[keep].astype(np.float32))
        kernel = np.ones((3, 3), np.uint8)
        for _ in range(max(ne, na)):
            empty = grid <= 0
            if not empty.any():
                break
            grid = np.where(empty, cv2.dilate(grid, kernel), grid)
        self.floor = grid = cv2.dilate(grid, kernel)
        for _ in range(relax):
            grid = np.maximum(self.floor, cv2.GaussianBlur(grid, (0, 0), 1.5, borderType=cv2.BORDER_REPLICATE))
        self.grid = grid

    def radius(self, az, el, relaxed: bool = True) -> np.ndarray:
        """Bilinear lookup; 0 outside the grid's angles."""
        ne, na = self.grid.shape
        x = (np.asarray(az) - self.az0) / _STEP
        y = (np.asarray(el) - self.el0) / _STEP
        inside = (x >= 0) & (x <= na - 1) & (y >= 0) & (y <= ne - 1)
        x, y = np.clip(x, 0, na - 1.001), np.clip(y, 0, ne - 1.001)
        j, i = x.astype(int), y.astype(int)
        fx, fy = x - j, y - i
        g = self.grid if relaxed else self.floor
        return inside * ((g[i, j] * (1 - fx) + g[i, j + 1] * fx) * (1 - fy)
                         + (g[i + 1, j] * (1 - fx) + g[i + 1, j + 1] * fx) * fy)

    def onto(self, points: np.ndarray, clearance: float) -> np.ndarray:
        """``points`` moved radially to ``clearance`` outside the envelope."""
        az, el, _ = _angles(points, self.centre)
        return self.centre + _direction(az, el) * (self.radius(az, el) + clearance)[..., None]

    def push_out(self, points: np.ndarray, clearance: float) -> np.ndarray:
        """``points`` moved radially so they lie at least ``clearance`` outside the envelope."""
        az, el, r = _angles(points, self.centre)
        return self.centre + _direction(az, el) * np.maximum(r, self.radius(az, el) + clearance)[..., None]


def _grid_tris(rows: int, cols: int, closed: bool) -> np.ndarray:
    idx = np.arange(rows * cols).reshape(rows, cols)
    right = np.roll(idx, -1, axis=1) if closed else idx[:, 1:]
    left = idx if closed else idx[:, :-1]
    a, b, c, d = left[:-1], right[:-1], left[1:], right[1:]
    return np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                           np.stack([b, c, d], -1).reshape(-1, 3)]).astype(np.int32)


def _grid_mesh(pos: np.ndarray, inside: np.ndarray, closed: bool = False):
    """(positions, normals, tris) of a (rows, cols, 3) grid; normals point away from ``inside``
    (a point per row, (rows, 3)); zero where the grid degenerates (a pole: see _lathe)."""
    du = (np.roll(pos, -1, 1) - np.roll(pos, 1, 1)) if closed else np.gradient(pos, axis=1)
    dv = np.gradient(pos, axis=0)
    nrm = np.cross(du, dv)
    nrm *= np.sign(np.sum(nrm * (pos - inside[:, None]), axis=-1, keepdims=True) + 1e-12)
    nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True) + 1e-12
    rows, cols = pos.shape[:2]
    return pos.reshape(-1, 3), nrm.reshape(-1, 3), _grid_tris(rows, cols, closed)


def _edge(keys: list, centre: np.ndarray):
    """A smooth curve elevation(azimuth) through 5 key points (a quartic through their angles)."""
    az, el, _ = _angles(np.array(keys, np.float64), centre)
    coef = np.polyfit(az, el, 4)
    return lambda a: np.polyval(coef, a)


def _ear_box(head: HeadSurface, side: int):
    """(lo, hi) corners of the outer ear: the ear region's points standing out from the head."""
    ear = head.points[head.ear == side]
    outer = ear[side * ear[:, 0] > (side * ear[:, 0]).max() - 1.2]
    return outer.min(axis=0), outer.max(axis=0)


def _mouth_centre(lm: np.ndarray) -> np.ndarray:
    """A point ~9 cm behind the mouth, fixed to the upper face so it does not move with the jaw:
    the lower face seen from it is one sheet (nose, lips, chin, cheeks) in azimuth x elevation."""
    return np.array([(lm[0, 0] + lm[16, 0]) / 2, lm[33, 1], lm[27, 2] - 8.7])


def pleats(fold_value: float) -> np.ndarray:
    """The down coordinates (mask UV) of a surgical mask's three fold edges."""
    return np.array([0.3, 0.47, 0.64]) + 0.04 * (fold_value - 0.5) * np.arange(3)


def mask_mesh(landmarks: np.ndarray, head: HeadSurface, values: np.ndarray, style: int):
    """A face mask from the nose bridge to under the chin, cheek to cheek, with ear loops.

    ``values`` (5,) in [0, 1): distance from the skin, top edge height, depth under the chin,
    width, folds. ``style``: 0 surgical (three pleats), 1-2 cloth (a centre seam). Returns
    ``(pos, nrm, uv, tris)``; the sheet's UV is (across, down) in [0, 1], the loops' (-1, -1).
    """
    off_v, top_v, bottom_v, width_v, fold_v = values
    lm = np.asarray(landmarks, np.float64)
    centre = _mouth_centre(lm)
    face = Envelope(head.points, centre, relax=14)
    t = 0.2 + 0.6 * top_v
    drop = np.array([0.0, 1.3 + 0.5 * top_v, 0.0])
    top = _edge([lm[1] * 0.6 + lm[2] * 0.4, lm[[40, 41]].mean(0) - drop, lm[28] + t * (lm[29] - lm[28]),
                 lm[[46, 47]].mean(0) - drop, lm[15] * 0.6 + lm[14] * 0.4], centre)
    down = 0.3 + 0.6 * bottom_v
    bottom = _edge([lm[4] * 0.6 + lm[3] * 0.4 - [0, 0.3, 0], lm[6] - [0, 0.5 * down, down],
                    lm[8] - [0, 1.0 * down, 2.2 * down],
                    lm[10] - [0, 0.5 * down, down], lm[12] * 0.6 + lm[13] * 0.4 - [0, 0.3, 0]], centre)
    az_l, _, _ = _angles(lm[[2, 3]], centre)
    az_r, _, _ = _angles(lm[[14, 13]], centre)
    widen = 0.92 + 0.1 * width_v
    a0, a1 = az_l.mean() * widen, az_r.mean() * widen
    rows, cols = 61, 49
    u = np.linspace(0.0, 1.0, cols)
    v = np.linspace(0.0, 1.0, rows)
    az = np.broadcast_to(a0 + (a1 - a0) * u, (rows, cols))
    e0, e1 = top(az[0]), bottom(az[0])
    el = e0[None] + (e1 - e0)[None] * v[:, None]
    uu, vv = np.meshgrid(u, v)
    # taut over the nose and chin, closer to the skin towards the side edges (pulled by the loops)
    # and along the top edge (a nose wire presses it onto the nose and cheeks)
    taut = (1.0 - 0.75 * np.clip(np.abs(2 * uu - 1) * 1.6 - 0.6, 0, 1)) * (0.2 + 0.8 * np.clip(vv / 0.3, 0, 1))
    floor = face.radius(az, el, relaxed=False)
    r = floor + (face.radius(az, el) - floor) * taut + MASK_MIN_OFFSET_CM + 0.25 * off_v
    if style == 0:  # pleats: each a fold edge that steps out and slopes back, flatter where stretched
        for edge in pleats(fold_v):
            s = (vv - edge) / 0.13
            saw = np.where((s > 0) & (s < 1), 1.0 - s, 0.0) * np.clip(s * 4, 0, 1)
            r += saw * (0.1 + 0.2 * np.abs(2 * uu - 1)) * (0.6 + 0.6 * fold_v)
        r += 0.25 * np.exp(-((vv - 0.45) / 0.3) ** 2) * (1 - (2 * uu - 1) ** 2)  # the pleats open out
    else:  # a seam down the middle, the cloth bulging a little to each side of it
        r += 0.12 * (1 - np.exp(-((uu - 0.5) / 0.04) ** 2)) * np.sin(np.pi * vv) ** 0.5 * (0.5 + fold_v)
    pos = centre + _direction(az, el) * r[..., None]
    sheet = _grid_mesh(pos, np.tile(centre, (rows, 1)))
    uv = [np.stack([uu.ravel(), vv.ravel()], 1)]
    parts = [sheet]
    skull = Envelope(head.points[head.ear == 0], lm[[0, 16]].mean(0) - [0, 0, 3.0], az_range=(-180, 180),
                     el_range=(-80, 80))
    for side, col in ((-1, 0), (1, cols - 1)):
        parts.append(_ear_loop(pos[int(rows * 0.12), col], pos[int(rows * 0.85), col], _ear_box(head, side),
                               skull, face))
        uv.append(np.full((len(parts[-1][0]), 2), -1.0))
    pos, nrm, tris = _merge(parts)
    return pos, nrm, np.concatenate(uv).astype(np.float32), tris


def _ear_loop(top: np.ndarray, bottom: np.ndarray, ear_box, skull: Envelope, face: Envelope):
    """An elastic from a mask's top corner over the ear's root, down behind it and under the lobe
    back to the bottom corner, on the skin: (pos, nrm, tris) of a thin tube."""
    lo, hi = ear_box
    mid, half = (lo + hi) / 2, (hi - lo) / 2 + 0.25
    ang = np.linspace(np.deg2rad(70), np.deg2rad(290), 28)  # from the top front, round the back
    arc = np.stack([np.full_like(ang, mid[0]), mid[1] + half[1] * np.sin(ang),
                    mid[2] + half[2] * np.cos(ang) - 0.2], axis=1)
    t = np.linspace(0, 1, 10, endpoint=False)[:, None]
    path = np.concatenate([top + (arc[0] - top) * t, arc, (arc[-1] + (bottom - arc[-1]) * t)[1:], bottom[None]])
    for _ in range(2):  # on the skin (round the ear's root), smoothed, outside the mask's cheeks
        path[1:-1] = skull.onto(path[1:-1], 0.12)
        path[1:-1] = (path[:-2] + 2 * path[1:-1] + path[2:]) / 4
    path[1:-1] = face.push_out(path[1:-1], MASK_MIN_OFFSET_CM * 0.5)
    return _tube(path, 0.09, closed=False)


def _lathe(base, axis, y_axis, z_axis, half_y, half_z, along, scale, segments: int = 36):
    """A closed solid of revolution about ``axis`` with an elliptic cross-section: profile
    ``along`` (cm from ``base``) and ``scale`` (of the half-axes); (pos, nrm, tris)."""
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.cos(ang)[:, None] * half_y * y_axis + np.sin(ang)[:, None] * half_z * z_axis  # (S, 3)
    rows = base + along[:, None] * axis
    pos, nrm, tris = _grid_mesh(rows[:, None] + scale[:, None, None] * ring[None], rows, closed=True)
    nrm = nrm.reshape(len(along), segments, 3)
    for i in np.flatnonzero(scale == 0):  # the caps' centres: along the axis
        nrm[i] = axis * (1.0 if along[i] >= along.mean() else -1.0)
    return pos, nrm.reshape(-1, 3), tris


def _band(path: np.ndarray, across: np.ndarray, width: float, thick: float, sides: int = 16):
    """A flat band (rounded-rectangle cross-section) along ``path`` (N, 3); ``across`` (N, 3)
    unit vectors give its width direction."""
    tangent = np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    up = np.cross(across, tangent)
    up /= np.linalg.norm(up, axis=1, keepdims=True) + 1e-9
    t = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    ca, sa = np.sign(c) * np.abs(c) ** 0.4, np.sign(s) * np.abs(s) ** 0.4  # superellipse: a rounded box
    pos = (path[:, None] + (ca * width / 2)[None, :, None] * across[:, None]
           + (sa * thick / 2)[None, :, None] * up[:, None])
    return _grid_mesh(pos, path, closed=True)


#: Ear cup profile along its axis (fraction of its depth from the head) and radius (fraction of
#: its half-axes): a cushion against the head, a groove, then the shell with a rounded cap.
_PAD_PROFILE = np.array([[0.0, 0.0], [0.0, 0.75], [0.02, 0.88], [0.08, 0.96], [0.2, 1.0], [0.32, 0.99],
                         [0.4, 0.94], [0.44, 0.88], [0.44, 0.0]])
_SHELL_PROFILE = np.array([[0.4, 0.0], [0.4, 0.9], [0.45, 0.97], [0.6, 0.98], [0.78, 0.94], [0.9, 0.85],
                           [0.97, 0.7], [1.0, 0.45], [1.0, 0.0]])


def headphones_mesh(landmarks: np.ndarray, head: HeadSurface, values: np.ndarray, mic: bool,
                    hair_height: np.ndarray | None = None, curtain: np.ndarray | None = None):
    """Over-ear headphones: two cups over the ears, a headband over the head (and its hair), and
    with ``mic`` a boom microphone from one cup to in front of the mouth.

    ``values`` (7,) in [0, 1): cup size, cup depth, band width, band tilt (behind .. over the
    crown), cup tilt, microphone side, microphone distance. ``hair_height`` (N,): how far the
    hair may stand out of each skin point (cm); ``curtain``: long hair's points. Returns
    ``(shell (pos, nrm, tris), pads (pos, nrm, tris))``: the shell, band and boom; the cushions
    and the microphone's foam.
    """
    size_v, depth_v, band_v, tilt_v, cup_tilt_v, mic_side_v, mic_v = values
    lm = np.asarray(landmarks, np.float64)
    outer = head.points + head.normals * (0.0 if hair_height is None else hair_height[:, None])
    shells, pads, cups = [], [], {}
    depth = 3.4 + 1.4 * depth_v
    tilt = np.deg2rad(-12 + 24 * cup_tilt_v)
    for side in (-1, 1):
        ear = head.points[head.ear == side]
        lo, hi = ear.min(axis=0), ear.max(axis=0)
        yc, zc = (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2
        y_axis = np.array([0.0, np.cos(tilt), np.sin(tilt)])
        z_axis = np.array([0.0, -np.sin(tilt), np.cos(tilt)])
        half_y = 5.0 + 0.8 * size_v
        half_z = half_y * 0.8
        # grow the cup until the ear region fits inside its cushion ring
        rel = ear[:, 1:] - [yc, zc]
        fit = np.sqrt((rel @ y_axis[1:] / half_y) ** 2 + (rel @ z_axis[1:] / half_z) ** 2).max()
        grow = max(1.0, fit / 0.95)
        half_y, half_z = half_y * grow, half_z * grow
        # the cushion rests on the head (and short hair) round the ear: their typical outermost
        # point there; long hair (the curtain) is pressed flat under it
        rel = outer[:, 1:] - [yc, zc]
        ring = np.sqrt((rel @ y_axis[1:] / half_y) ** 2 + (rel @ z_axis[1:] / half_z) ** 2)
        near = (ring < 0.95) & (head.ear == 0) & (side * outer[:, 0] > 0)
        x_in = np.percentile(side * outer[near, 0], 80) - 0.5 if near.any() else side * lo[0]
        d = max(depth, (side * ear[:, 0]).max() - x_in + 1.2)
        base = np.array([side * x_in, yc, zc])
        axis = np.array([side, 0.0, 0.0])
        for profile, dest in ((_PAD_PROFILE, pads), (_SHELL_PROFILE, shells)):
            dest.append(_lathe(base, axis, y_axis, z_axis, half_y, half_z, profile[:, 0] * d, profile[:, 1]))
        cups[side] = (base, axis, y_axis, z_axis, half_y, half_z, d)
    # headband: in the plane through both cups' centres, tilted about their axis
    centres = {s: c[0] + c[1] * c[6] * 0.55 for s, c in cups.items()}
    o = (centres[-1] + centres[1]) / 2
    x_dir = (centres[1] - centres[-1]) / np.linalg.norm(centres[1] - centres[-1])
    band_tilt = np.deg2rad(-25 + 30 * tilt_v)  # negative: towards the back of the head
    up = np.array([0.0, 1.0, 0.0]) - x_dir * x_dir[1]
    up /= np.linalg.norm(up)
    normal = np.cross(x_dir, up)
    up = np.cos(band_tilt) * up + np.sin(band_tilt) * normal
    normal = np.cross(x_dir, up)
    width = 2.4 + 1.6 * band_v
    thick = 0.7
    if curtain is not None and len(curtain):
        outer = np.concatenate([outer, curtain])
    rel = outer - o
    slab = np.abs(rel @ normal) < width / 2 + 0.2
    px, pu = rel[slab] @ x_dir, rel[slab] @ up
    alpha_p, r_p = np.arctan2(px, pu), np.hypot(px, pu)
    over = np.abs(alpha_p) < np.deg2rad(92)  # (what lies below the cups' centres is not in the way)
    alpha_p, r_p = alpha_p[over], r_p[over]
    alpha = np.deg2rad(np.linspace(-90, 90, 61))
    env = np.zeros(len(alpha))
    k = np.clip(np.round((alpha_p - alpha[0]) / (alpha[1] - alpha[0])).astype(int), 0, len(alpha) - 1)
    np.maximum.at(env, k, r_p)
    env = np.maximum(env, np.maximum(np.roll(env, 1), np.roll(env, -1)))
    need = env + 0.1 + thick / 2
    a_x = np.linalg.norm(centres[1] - o)
    a_u = need[len(alpha) // 2]
    p = 2.6  # a superellipse: flatter over the crown than an ellipse, steep at the sides
    base_r = (np.abs(np.sin(alpha) / a_x) ** p + np.abs(np.cos(alpha) / a_u) ** p) ** (-1 / p)
    radius = np.maximum(base_r, need)
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 3.0) ** 2)
    radius = np.convolve(np.pad(radius, 6, mode="edge"), kernel / kernel.sum(), mode="valid")
    radius += max(0.0, (need - radius).max())
    path = o + radius[:, None] * (np.sin(alpha)[:, None] * x_dir + np.cos(alpha)[:, None] * up)
    shells.append(_band(path, np.tile(normal, (len(path), 1)), width, thick))
    if mic:
        side = -1 if mic_side_v < 0.5 else 1
        base, axis, y_axis, z_axis, half_y, half_z, d = cups[side]
        start = base + axis * d * 0.6 - y_axis * half_y * 0.35 + z_axis * half_z * 0.7
        corner = lm[48] if side < 0 else lm[54]
        front = max(lm[51, 2], lm[57, 2])
        end = np.array([corner[0] * 0.5, corner[1] - 0.3, front + 1.3 + 1.2 * mic_v])
        ctrl = np.array([start + [0, 0, 4.0], end + [side * 4.0, 0.3, -1.5]])
        t = np.linspace(0, 1, 24)[:, None]
        path = ((1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * ctrl[0] + 3 * (1 - t) * t ** 2 * ctrl[1]
                + t ** 3 * end)
        path[2:] = Envelope(head.points, _mouth_centre(lm)).push_out(path[2:], 1.2)
        shells.append(_tube(path, 0.17, closed=False, sides=8))
        pads.append(_ellipsoid(path[-1], np.array([0.75, 0.75, 0.9]), np.eye(3)))
    return _merge(shells), _merge(pads)
