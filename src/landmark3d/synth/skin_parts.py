"""The head's skin drawn in parts (renderer.py): which triangles can reach the skin program's
face-region, beard and scalp-hair blocks, so each part is shaded by a program without the blocks
it cannot reach. These mirror FACE_VS's hairline and FACE_FS's beard area (shaders.py) and are
conservative: a triangle is put with a block when any point of it may need it."""
from __future__ import annotations

import numpy as np

from . import shaders
from .hair import azimuth, hairline, hairline_basis


class SkinParts:
    """The head's skin drawn in up to eight parts, each by a program with only the blocks its
    triangles can reach: the face's painted regions (where ``v_uv.x < 1``), beard (where
    ``beard_area > 0``) and eye make-up (around the upper lids) are fixed per triangle, the scalp
    hair depends on the image's hairline.
    llvmpipe runs a block for every fragment of a draw whose program has it, taken or not; this
    saves most of the three blocks' cost where they do nothing (images bitwise the same)."""

    def __init__(self, renderer, triangles: np.ndarray, uv: np.ndarray, rest: np.ndarray, attrs):
        face = (uv[triangles, 0] < 1.001).any(axis=1)  # (slack for the interpolation's rounding)
        beard = face & beard_reach(rest[triangles])
        eyes = face & ~beard & eye_makeup_reach(rest[triangles])
        parts = [((True, True, False), beard), ((True, False, True), eyes), ((True, False, False), face & ~beard & ~eyes),
                 ((False, False, False), ~face)]
        self.parts = [(key, int(sel.sum())) for key, sel in parts]  # (regions, beard, make-up), triangles
        self.triangles = np.ascontiguousarray(np.concatenate([triangles[sel] for _, sel in parts]), dtype="i4")
        # one 12-byte record per triangle: masking a 1-D array of them is ~10x faster than (T, 3)
        self.records = self.triangles.view(np.dtype((np.void, 12))).ravel()
        used = np.unique(self.triangles)
        local = np.searchsorted(used, self.triangles)  # triangle corners -> index into used
        self.corners = tuple(np.ascontiguousarray(local[:, k]) for k in range(3))
        self.hair = (hairline_basis(azimuth(rest[used])), rest[used, 1])
        self.index = renderer.ctx.buffer(reserve=self.triangles.nbytes, dynamic=True)
        self.vaos = {}
        for (regions, beard, makeup), _ in self.parts:
            for hair in (True, False):
                prog = renderer._program(0, skin=(regions, beard, hair, makeup))
                self.vaos[(regions, beard, makeup, hair)] = renderer.vertex_array(prog, attrs, self.index)

    def draws(self, params) -> list:
        """Orders this image's index buffer by part; returns (vertex array, first, count) each."""
        reach = hair_reach(params, *self.hair)
        hair = reach[self.corners[0]] | reach[self.corners[1]] | reach[self.corners[2]]
        parts, out, start, first = [], [], 0, 0
        for key, n in self.parts:
            tris, h = self.records[start:start + n], hair[start:start + n]
            start += n
            for with_hair, sel in ((True, h), (False, ~h)):
                part = tris[sel]
                if len(part):
                    parts.append(part)
                    out.append((self.vaos[key + (with_hair,)], first, 3 * len(part)))
                    first += 3 * len(part)
        self.index.orphan()
        self.index.write(np.concatenate(parts))
        return out


def eye_makeup_reach(corners: np.ndarray) -> np.ndarray:
    """(T,) bool for triangles ``corners`` (T, 3, 3) of the neutral mesh: whose box meets where
    FACE_FS's eye make-up can paint (y 3.1-4.9 cm, |x| 1.5-5.2 cm, z > 7.5: the upper lids
    between their margins and creases, and the liner's wing), with margins."""
    x, y, z = np.abs(corners[..., 0]), corners[..., 1], corners[..., 2]
    return ((y.min(axis=1) < 5.1) & (y.max(axis=1) > 2.9) & (x.min(axis=1) < 5.6) & (x.max(axis=1) > 0.7)
            & (z.max(axis=1) > 7.3))


def beard_reach(corners: np.ndarray) -> np.ndarray:
    """(T,) bool for triangles ``corners`` (T, 3, 3) of the neutral mesh: where FACE_FS's
    ``beard_area`` can be above 0 (below the beard's top edge, above y = -9, azimuth under 1.1;
    with a margin: its points lie between its corners' heights and azimuths)."""
    az = np.minimum(np.abs(azimuth(corners)) / 1.31, 1.2)
    # the edge is convex in az: its highest over the triangle's azimuths is at one of their ends
    # (which reach 0 on a triangle across the mid-line)
    x = corners[..., 0]
    lowest = np.where((x.min(axis=1) < 0) & (x.max(axis=1) > 0), 0.0, az.min(axis=1))
    top = np.maximum(beard_top(lowest), beard_top(az.max(axis=1))) + 0.5
    y = corners[..., 1]
    return (y.min(axis=1) < top + 0.01) & (y.max(axis=1) > -9.01) & (az.min(axis=1) < 1.101)


def beard_top(az: np.ndarray) -> np.ndarray:
    """The beard's top edge (model y, cm) at normalised azimuths ``az``: FACE_FS's BEARD_TOP."""
    c0, c1, c2, c3 = shaders.BEARD_TOP
    return c0 + c1 * az + c2 * az ** 2 + c3 * az ** 4


def hair_reach(params, basis: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) bool: where FACE_VS's scalp hair mask ``v_hair`` can be above 0, for neutral-mesh
    points of ``hairline_basis`` ``basis`` and heights ``y`` (0.05 cm to spare)."""
    if params.hair_shape[2] <= 0:
        return np.zeros(len(y), bool)
    line = hairline(params, basis=basis)
    return (y > -12.05) & (y > line - float(params.hair_line[3]) - 0.75)
