"""Procedural textures the renderer samples: masks in the face's UV tile drawn from the
landmarks' UVs (lips, brows, nose; skin variation) and tiling noise (skin, hair, cloth, backdrops).
Texture rows are ``v`` (row 0 = v 0), as OpenGL samples them."""
from __future__ import annotations

import numpy as np

from .facemodel import FaceModel

REGION_SIZE = 512
DETAIL_SIZE = 1024


def region_texture(model: FaceModel, size: int = REGION_SIZE) -> np.ndarray:
    """(size, size, 4) uint8 masks in the face UV tile: top lip, bottom lip, brows, nose.

    Drawn from the iBUG landmarks' UVs (row 0 of the array = v = 0, as OpenGL samples it).
    """
    import cv2

    uv = model.landmark_uvs() * size  # (68, 2) in texture pixels
    brow_uv = model.landmark_uvs(model.label_vertices)[17:27] * size  # on the brow ridge (landmarks.py)
    out = np.zeros((size, size, 4), np.uint8)

    def poly(idx, channel, grow=0.0):
        p = uv[list(idx)]
        if grow:
            c = p.mean(axis=0)
            p = c + (p - c) * (1 + grow)
        layer = np.ascontiguousarray(out[..., channel])
        cv2.fillPoly(layer, [np.round(p * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
        out[..., channel] = layer

    poly([48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60], 0)
    poly([54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64], 1)
    eye_w = np.linalg.norm(uv[39] - uv[36])
    thick = eye_w * 0.28
    for a, b in ((17, 22), (22, 27)):
        layer = np.ascontiguousarray(out[..., 2])
        # the brows lie on the ridge crest our brow points are on, the points in the band's upper
        # half (where annotators of real photos click); v decreases downwards
        pts = np.round((brow_uv[a - 17:b - 17] - [0, thick * 0.15]) * 16).astype(np.int32)
        inner = 4 if a == 17 else 0  # brows are broadest at the nose end and taper outwards
        for k in range(4):
            t = 1.0 - abs((k + 0.5) - inner) / 4.5
            cv2.line(layer, tuple(map(int, pts[k])), tuple(map(int, pts[k + 1])), 255,
                     thickness=max(1, int(thick * (0.55 + 0.65 * t))), lineType=cv2.LINE_AA, shift=4)
        out[..., 2] = layer
    # nose: bridge top (27), widened alar base (31..35) and the nostrils' outer edges
    w = uv[35] - uv[31]
    nose = [uv[27] - 0.25 * w, uv[31] - 0.15 * w, uv[32], uv[33], uv[34], uv[35] + 0.15 * w, uv[27] + 0.25 * w]
    layer = np.ascontiguousarray(out[..., 3])
    cv2.fillPoly(layer, [np.round(np.array(nose) * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    out[..., 3] = layer
    # soft edges (~1 mm); the segmentation thresholds the masks at 0.5, so classes stay put
    return cv2.GaussianBlur(out, (0, 0), size / 512 * 2.0)


def skin_region_texture(model: FaceModel, size: int = REGION_SIZE) -> np.ndarray:
    """(size, size, 4) uint8 soft masks in the face UV tile for skin variation: r around the eyes
    (dark circles), g cheeks (redness, blush), b nose tip and wings (redness), a forehead and nose
    (the shiny T-zone). Drawn from the iBUG landmarks' UVs and blurred."""
    import cv2

    uv = model.landmark_uvs() * size
    out = np.zeros((size, size, 4), np.float32)
    eye_w = np.linalg.norm(uv[39] - uv[36])

    def ellipse(channel, centre, axes, value=1.0):
        layer = np.ascontiguousarray(out[..., channel])
        cv2.ellipse(layer, tuple(int(v) for v in np.round(centre)), tuple(int(v) for v in np.round(axes)),
                    0, 0, 360, value, -1)
        out[..., channel] = layer

    for eye in (slice(36, 42), slice(42, 48)):
        c = uv[eye].mean(axis=0)
        ellipse(0, c - [0, eye_w * 0.25], (eye_w * 0.8, eye_w * 0.45))  # v grows upwards
    for a, b, m in ((2, 31, 49), (14, 35, 53)):
        ellipse(1, (uv[a] + uv[b] + uv[m]) / 3 + [0, eye_w * 0.3], (eye_w * 0.7, eye_w * 0.6))
    ellipse(2, uv[[30, 31, 35]].mean(axis=0), (np.linalg.norm(uv[35] - uv[31]) * 0.7, eye_w * 0.4))
    top = uv[17:27, 1].max()
    ellipse(3, (uv[27] + [0, top - uv[27][1] + eye_w * 0.9]), (eye_w * 1.6, eye_w * 0.9))
    ellipse(3, uv[[27, 28, 29, 30]].mean(axis=0), (eye_w * 0.35, np.linalg.norm(uv[30] - uv[27]) * 0.6))
    out = cv2.GaussianBlur(out, (0, 0), eye_w * 0.3)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def _tiling_noise(rng: np.random.Generator, size: int, cells: tuple[int, int]) -> np.ndarray:
    """Smooth value noise in [0, 1] that tiles seamlessly: a random (cy, cx) grid, wrapped and
    upsampled bicubically."""
    import cv2

    cy, cx = cells
    grid = rng.random((cy, cx)).astype(np.float32)
    pad = np.pad(grid, 2, mode="wrap")
    big = cv2.resize(pad, (size * (cx + 4) // cx, size * (cy + 4) // cy), interpolation=cv2.INTER_CUBIC)
    oy, ox = 2 * size // cy, 2 * size // cx
    return big[oy:oy + size, ox:ox + size]


def detail_texture(size: int = DETAIL_SIZE, seed: int = 1234) -> np.ndarray:
    """(size, size, 4) uint8 tiling noise for skin and procedural backgrounds: r blotches
    (fbm, 6-48 cells per tile), g redness patches (3-12), b fine grain (128-512), a hair-like
    streaks (256 x 16 cells). Fixed seed: the variety per image comes from a random offset."""
    rng = np.random.default_rng(seed)

    def fbm(cells, weights):
        out = sum(w * (_tiling_noise(rng, size, (c, c)) - 0.5) for c, w in zip(cells, weights))
        return out / (2 * np.std(out) * 2.5) + 0.5

    ch = [fbm((6, 12, 24, 48), (1, 0.6, 0.35, 0.2)), fbm((3, 6, 12), (1, 0.5, 0.25)),
          fbm((128, 256, 512), (1, 0.7, 0.5)),
          _tiling_noise(rng, size, (16, 256)) * 0.7 + 0.3 * _tiling_noise(rng, size, (32, 512))]
    return (np.clip(np.stack(ch, axis=-1), 0, 1) * 255 + 0.5).astype(np.uint8)


def vertex_noise(points: np.ndarray, seed: int = 77) -> np.ndarray:
    """(N, 2) float32 smooth noise in [0, 1] at model-frame points (N, 3): two independent fields
    over (azimuth about the head's vertical axis, height), ~12 cells round the head and one per
    ~3 cm of height (the hair's lumps; the shader blends the two per image). A function of
    position, not UV, so vertices split along UV seams get the same value (no cracks)."""
    rng = np.random.default_rng(seed)
    az = np.arctan2(points[:, 0], points[:, 2] - 1.0) / (2 * np.pi) + 0.5
    height = np.clip((points[:, 1] + 20.0) / 40.0, 0, 1)
    out = []
    for _ in range(2):
        field = _tiling_noise(rng, 256, (12, 12))
        out.append(field[np.minimum((height * 255).astype(int), 255), np.minimum((az * 255).astype(int), 255)])
    return np.stack(out, axis=1).astype(np.float32)
