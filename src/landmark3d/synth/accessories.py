"""Glasses: a procedural frame (two rims, a bridge, two temples) and lenses, fitted per image to
the mixed face's landmarks. Model frame (cm; x to the subject's left, y up, z out of the face).
"""
from __future__ import annotations

import numpy as np


def _tube(path: np.ndarray, radius: float, closed: bool, sides: int = 6):
    """Triangle mesh of a tube of ``radius`` along ``path`` (N, 3): (positions, normals, tris)."""
    n = len(path)
    tangent = np.roll(path, -1, 0) - np.roll(path, 1, 0) if closed else np.gradient(path, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    ref = np.where(np.abs(tangent[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    a = np.cross(tangent, ref)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = np.cross(tangent, a)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    normals = np.cos(ang)[None, :, None] * a[:, None] + np.sin(ang)[None, :, None] * b[:, None]  # (N, S, 3)
    pos = path[:, None] + radius * normals
    idx = np.arange(n * sides).reshape(n, sides)
    rows = n if closed else n - 1
    i0 = idx[np.arange(rows)]
    i1 = idx[(np.arange(rows) + 1) % n]
    j1 = (np.arange(sides) + 1) % sides
    q00, q01, q10, q11 = i0, i0[:, j1], i1, i1[:, j1]
    tris = np.concatenate([np.stack([q00, q10, q01], -1).reshape(-1, 3),
                           np.stack([q01, q10, q11], -1).reshape(-1, 3)])
    return pos.reshape(-1, 3), normals.reshape(-1, 3), tris


def glasses_mesh(landmarks: np.ndarray, rng_values: np.ndarray):
    """Frame and lenses fitted to model-frame landmarks (70, 3).

    ``rng_values`` (6,) in [0, 1): width, height, squareness, frame thickness, vertical offset,
    forward offset. Returns ``(frame_pos, frame_nrm, frame_tris, lens_pos, lens_nrm, lens_tris)``.
    """
    w_, h_, sq_, th_, dy_, dz_ = rng_values
    lm = landmarks
    iod = np.linalg.norm(lm[69] - lm[68])
    bridge = lm[27] * 0.6 + lm[28] * 0.4
    front_z = max(lm[27, 2], lm[[36, 39, 42, 45], 2].max()) + 0.8 + 0.6 * dz_
    half_w = iod * (0.36 + 0.12 * w_)
    half_h = iod * (0.20 + 0.10 * h_)
    expo = 2.5 + 5.0 * sq_  # superellipse: round .. rectangular
    r = 0.08 + 0.17 * th_
    frames, lenses = [], []
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    ct, st = np.cos(t), np.sin(t)
    for side in (-1, 1):
        eye = lm[[36, 37, 38, 39, 40, 41]].mean(0) if side < 0 else lm[[42, 43, 44, 45, 46, 47]].mean(0)
        cx = eye[0]
        cy = eye[1] - half_h * 0.15 + (dy_ - 0.5) * 0.8
        x = cx + half_w * np.sign(ct) * np.abs(ct) ** (2 / expo)
        y = cy + half_h * np.sign(st) * np.abs(st) ** (2 / expo)
        # wrap: the rims follow the face's curve a little
        z = front_z - 0.04 * (x - bridge[0]) ** 2 * 0.5
        rim = np.stack([x, y, z], 1)
        frames.append(_tube(rim, r, closed=True))
        centre = np.array([cx, cy, z.mean()])
        lenses.append(_fan(centre, rim, np.array([0.0, 0.0, 1.0])))
        # temple: from the rim's outer edge back over the ear
        outer = rim[np.argmax(side * rim[:, 0])]
        ear = np.array([side * (abs(lm[0, 0]) + 0.6), outer[1] - 0.5, lm[0, 2] - 2.5])
        path = np.linspace(outer, ear, 12)
        frames.append(_tube(path, r * 0.8, closed=False))
    inner_l = frames[0][0][np.argmax(frames[0][0][:, 0])]
    inner_r = frames[2][0][np.argmin(frames[2][0][:, 0])]
    mid = (inner_l + inner_r) / 2 + [0, 0.25 * half_h, 0.1]
    frames.append(_tube(np.stack([inner_l, mid, inner_r]), r * 0.8, closed=False))
    return _merge(frames) + _merge(lenses)


def _merge(parts):
    pos, nrm, tris, off = [], [], [], 0
    for p, n, t in parts:
        pos.append(p)
        nrm.append(n)
        tris.append(t + off)
        off += len(p)
    return (np.concatenate(pos).astype(np.float32), np.concatenate(nrm).astype(np.float32),
            np.concatenate(tris).astype(np.int32))


def _ellipsoid(centre, axes, rot, rows: int = 8, cols: int = 12):
    """Ellipsoid with half-axes ``axes`` (3,), rotated by ``rot`` (3, 3): (pos, nrm, tris)."""
    return _superellipsoid(centre, axes, rot, 1.0, rows, cols)


def _rotation(yaw, pitch, roll) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


#: Landmarks a hand may cover or touch: chin, mouth corners, cheeks, jaw, an eye.
HAND_TARGETS = (8, 48, 54, 57, 3, 13, 5, 11, 36, 45, 30)


def hand_mesh(landmarks: np.ndarray, values: np.ndarray):
    """A stylised hand (palm, four curled fingers, thumb) and forearm near a face landmark.

    ``values`` (8,) in [0, 1): target landmark, distance in front of the face, in-plane angle,
    tilt, finger curl, size, sideways offset, vertical offset. Model frame; the palm faces the
    face. Returns ``(pos, nrm, tris)``.
    """
    tgt, dist, ang, tilt, curl, size, dx, dy = values
    k = HAND_TARGETS[int(tgt * len(HAND_TARGETS))]
    s = 0.85 + 0.3 * size
    parts = []
    # local frame: fingers along +y, palm normal -z (towards the face), thumb towards +x
    parts.append(_ellipsoid(np.array([0.0, 0.0, 0.0]), np.array([4.2, 4.4, 1.4]) * s, np.eye(3)))
    bend = 0.2 + 1.1 * curl
    for i, (x, length) in enumerate(((-2.7, 5.5), (-0.9, 6.8), (0.9, 7.4), (2.7, 6.6))):
        base = np.array([x * s, 3.6 * s, 0.0])
        direction = np.array([0.0, 1.0, 0.0])
        for seg in range(3):
            seg_len = length * s * (0.42, 0.33, 0.25)[seg]
            a = bend * (seg + 1) / 3
            rot = _rotation(0.0, -a, 0.0)  # curl towards the face (-z)
            d = rot @ direction
            centre = base + d * seg_len / 2
            parts.append(_ellipsoid(centre, np.array([0.85 * s, seg_len / 2 + 0.55, 0.75 * s]), rot))
            base = base + d * seg_len
    thumb_rot = _rotation(0.0, -0.3 * curl, -0.9)
    for seg, seg_len in enumerate((3.2, 2.8)):
        centre = np.array([3.8 * s, -1.0 * s, -0.4]) + thumb_rot @ np.array([0.0, (seg + 0.5) * seg_len * s, 0.0])
        parts.append(_ellipsoid(centre, np.array([0.9 * s, seg_len * s / 2 + 0.3, 0.8 * s]), thumb_rot))
    # the forearm, from the wrist away from the fingers and 35 degrees out from the face (a hand
    # does not float by itself, and an arm does not pass through the head): a rounded cylinder
    # ~5.5 cm wide, 28 cm long, its end inside the palm's heel
    out = np.deg2rad(35.0)
    wrist = np.array([0.0, -4.4 * s + 1.5, 0.2])
    arm = np.array([0.0, -np.cos(out), np.sin(out)])
    parts.append(_superellipsoid(wrist + arm * 14.0 * s, np.array([2.7, 14.0, 2.2]) * s, _rotation(0.0, -out, 0.0),
                                 0.55))
    pos, nrm, tris = _merge(parts)
    # fingers within 110 degrees of up: the forearm comes from below or the side, as one's own does
    rot = _rotation(0.0, (tilt - 0.5) * 1.0, (ang - 0.5) * np.deg2rad(220.0))
    target = landmarks[k] + np.array([(dx - 0.5) * 5.0, (dy - 0.5) * 5.0, 1.8 + 4.0 * dist])
    pos = pos @ rot.T + target
    nrm = nrm @ rot.T
    return pos.astype(np.float32), nrm.astype(np.float32), tris


def _superellipsoid(centre, axes, rot, exponent: float, rows: int = 10, cols: int = 16):
    """A rounded box (``exponent`` ~0.2) .. ellipsoid (1) with half-axes ``axes`` (3,), rotated by
    ``rot``: (pos, nrm, tris). Points ``axes * sign(u) |u|^e`` for unit directions u satisfy
    sum |p / axes|^(2/e) = 1, whose gradient gives the normals."""
    v = np.linspace(0, np.pi, rows)
    u = np.linspace(0, 2 * np.pi, cols, endpoint=False)
    unit = np.stack([np.sin(v)[:, None] * np.cos(u)[None], np.cos(v)[:, None] * np.ones_like(u)[None],
                     np.sin(v)[:, None] * np.sin(u)[None]], -1).reshape(-1, 3)
    pos = np.sign(unit) * np.abs(unit) ** exponent * axes
    nrm = np.sign(unit) * np.abs(unit) ** (2 - exponent) / axes
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-9
    idx = np.arange(rows * cols).reshape(rows, cols)
    j1 = (np.arange(cols) + 1) % cols
    a, b, c, d = idx[:-1], idx[:-1, j1], idx[1:], idx[1:, j1]
    tris = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    return pos @ rot.T + centre, nrm @ rot.T, tris


def _disc(centre, normal, radius: float, sides: int = 16):
    """A flat disc (a cup's bottom): (pos, nrm, tris)."""
    a = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(normal, a)
    t = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    return _fan(centre, centre + radius * (np.cos(t)[:, None] * a + np.sin(t)[:, None] * b), normal)


def _fan(centre, rim, normal):
    """A flat polygon: triangles from ``centre`` to each edge of the closed ``rim`` (N, 3), all with
    ``normal``: (pos, nrm, tris)."""
    pos = np.concatenate([centre[None], rim])
    k = np.arange(len(rim))
    return pos, np.tile(normal, (len(pos), 1)), np.stack([np.zeros_like(k), 1 + k, 1 + (k + 1) % len(rim)], 1)


def _frame_towards(forward: np.ndarray, up_hint: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose columns are (x, y, z) with z along ``forward`` and y near ``up_hint``."""
    z = forward / np.linalg.norm(forward)
    x = np.cross(up_hint, z)
    x /= np.linalg.norm(x) + 1e-9
    return np.stack([x, np.cross(z, x), z], axis=1)


#: Things held to the face (sampler._held): a phone at the ear, a phone held in front of the
#: chin, a cup at the lips, a microphone in front of the mouth.
HELD_KINDS = ("phone_ear", "phone_front", "cup", "microphone")


def held_object_mesh(landmarks: np.ndarray, kind: int, values: np.ndarray):
    """A hand-held object by the face, fitted to model-frame landmarks (70, 3); ``values`` (6,) in
    [0, 1): side, size, distance, two angles, height. Returns ``(pos, nrm, tris)`` (model frame)."""
    side_v, size, dist, ang1, ang2, height = values
    lm = landmarks
    side = 1.0 if side_v < 0.5 else -1.0
    jaw_top = lm[0] if np.sign(lm[0, 0]) == side else lm[16]  # the jaw's top on that side, by the ear
    corner = lm[54] if np.sign(lm[54, 0] - lm[51, 0]) == side else lm[48]
    mouth = lm[[62, 66]].mean(0)
    if HELD_KINDS[kind] == "phone_ear":
        # the top by the ear, the bottom towards the mouth's corner, the screen against the cheek
        ear = jaw_top + np.array([side * (1.3 + 0.8 * dist), 0.8 + 1.5 * height, -1.8])
        down = corner + np.array([side * 2.5, -2.0, 0.5]) - ear
        down /= np.linalg.norm(down)
        half = np.array([3.4 + 0.5 * size, 7.0 + 1.0 * size, 0.42])
        centre = ear + down * (half[1] - 1.5)
        rot = _frame_towards(np.array([side, 0.0, 0.0]), -down)
        rot = rot @ _rotation(0.0, 0.0, (ang1 - 0.5) * 0.5)
        return _merge([_superellipsoid(centre, half, rot, 0.15)])
    if HELD_KINDS[kind] == "phone_front":
        # held up before the chest or chin (looking at it, or filming), tilted back
        centre = lm[8] + np.array([(side_v - 0.5) * 10.0, -5.0 + 8.0 * height, 10.0 + 12.0 * dist])
        half = np.array([3.4 + 0.5 * size, 7.0 + 1.0 * size, 0.42])
        rot = _rotation((ang2 - 0.5) * 0.8, -0.3 - 0.8 * ang1, (ang2 - 0.5) * 0.6)
        return _merge([_superellipsoid(centre, half, rot, 0.15)])
    if HELD_KINDS[kind] == "cup":
        # the rim's lower edge on the lower lip, the cup before the mouth and nose, its bottom
        # from a little below the rim (about to drink) to well above it (drinking)
        r = 3.4 + 1.2 * size
        h = 8.5 + 3.0 * size
        elev = np.deg2rad(-20.0 + 60.0 * ang1)
        axis = np.array([(ang2 - 0.5) * 0.6, np.sin(elev), np.cos(elev)])  # rim -> bottom
        axis /= np.linalg.norm(axis)
        up = np.array([0.0, np.cos(elev), -np.sin(elev)])                  # across the rim, upwards
        centre_rim = lm[57] + up * (r * 0.9) + axis * (0.3 + 0.6 * dist)
        bottom = centre_rim + axis * h
        wall = _tube(np.linspace(centre_rim, bottom, 4), r, closed=False, sides=20)
        parts = [wall, _disc(bottom, axis, r, 20)]
        if side_v < 0.7:  # a mug: a handle on one side
            a = np.array([side, 0.0, 0.0]) - axis * axis[0] * side
            a /= np.linalg.norm(a)
            t = np.linspace(-1.2, 1.2, 9)
            path = (centre_rim + axis * (h * 0.5)) + a * (r + 1.6 * np.cos(t))[:, None] \
                + axis * (2.6 * np.sin(t))[:, None]
            parts.append(_tube(path, 0.45, closed=False, sides=8))
        return _merge(parts)
    # microphone: a ball before the mouth, the handle going down and forward
    ball_r = 2.2 + 0.9 * size
    ball = mouth + np.array([(side_v - 0.5) * 3.0, -1.0 + 2.0 * height, 3.0 + ball_r + 5.0 * dist])
    direction = np.array([(ang2 - 0.5) * 0.8, -np.cos(0.3 + 0.8 * ang1), np.sin(0.3 + 0.8 * ang1)])
    direction /= np.linalg.norm(direction)
    handle = _tube(np.linspace(ball + direction * ball_r * 0.6, ball + direction * (ball_r + 17.0), 4),
                   1.3 + 0.4 * size, closed=False, sides=12)
    return _merge([_ellipsoid(ball, np.full(3, ball_r), np.eye(3)), handle])
