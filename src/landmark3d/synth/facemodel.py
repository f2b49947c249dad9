"""The ICT face model as the renderer needs it: blendshape mixing in batches, normals, the 70
landmark points, render topology and segmentation classes.

Frames: the model frame is ICT's (cm, x to the subject's left, y up, z out of the face). The head
frame of :mod:`landmark3d.pose` (x right in the image, y down, z away from the camera when the
face looks at it) is the model frame turned 180 degrees about x around :data:`HEAD_ORIGIN`:
``p_head = diag(1, -1, -1) @ (p_model - HEAD_ORIGIN)``.
"""
from __future__ import annotations

import numpy as np

from .assets import PARTS, RENDERED_PARTS, FaceAssets
from .landmarks import label_vertices

#: Pivot of head rotations in the model frame (cm): mid-line, at the height of the eyes'
#: lower lids and ~1 cm in front of the ear canals, so yaw turns the head about the neck's axis.
HEAD_ORIGIN = np.array([0.0, 1.5, 1.0], dtype=np.float32)
#: Skin triangles entirely below this height (model y, cm) are not rendered; the torso's collar
#: (torso.py, top at y = -8) hides the cut.
BUST_CUT_Y = -10.0
MODEL_TO_HEAD = np.diag([1.0, -1.0, -1.0]).astype(np.float32)

# FaceSynthetics segmentation ids (docs/design.md); "right" = image right in a frontal view
# = the subject's left = the model's +x side = ICT's "...Left" parts.
SEG = dict(background=0, skin=1, nose=2, right_eye=3, left_eye=4, right_brow=5, left_brow=6,
           right_ear=7, left_ear=8, mouth=9, top_lip=10, bottom_lip=11, neck=12, hair=13,
           beard=14, clothing=15, glasses=16, headwear=17, facewear=18, ignore=255)

#: Material id per rendered part, used by the shader (see renderer.py).
MATERIAL = {"M_Face": 0, "M_BackHead": 0, "M_GumsTongue": 1, "M_Teeth": 2, "M_ScleraLeft": 3,
            "M_ScleraRight": 3, "M_IrisLeft": 4, "M_IrisRight": 4, "M_EyeLashes": 5}
MATERIAL_CLOTH = 6
MATERIAL_GLASSES = 7
MATERIAL_LENS = 8
MATERIAL_HAIR = 9
MATERIAL_FACEWEAR = 10  # face masks (headphones use the glasses' plastic)
MATERIAL_HAIR_CARDS = 11  # strand cards on the scalp (hair.py)
MATERIAL_HAND = 12  # hands: skin shading without the face's painted regions


def _fixed_shape_matmul(w: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``w @ basis`` with at least two rows. A single row would go to BLAS's matrix-vector kernel,
    whose rounding differs from the matrix-matrix kernel's; with two or more rows each row's result
    is bitwise the same whatever the batch (checked for OpenBLAS, 1 and 2 threads, 2..40 rows), so
    an image does not depend on how many were rendered with it."""
    if len(w) >= 2:
        return w @ basis
    return (np.concatenate([w, np.zeros_like(w)]) @ basis)[:1]


#: Tooth triangles entirely above this height (upper teeth) or below it (lower teeth), model y
#: in cm, are roots inside the gums. Measured (docs/generator.md, "Speed"): in 3,000 renders at
#: 512² (half with the jaw forced 50-100 % open) no upper tooth fragment above y = -2.04 and no
#: lower one below y = -4.46 passed the depth test; the cuts keep a margin of 0.14 cm.
TOOTH_ROOT_Y = (-1.9, -4.6)
#: The mouth open with the lips apart (ARKit weights): the pose whose ambient occlusion the
#: mouth's inside gets. It is seen only with the lips apart; in the neutral mesh the lips close
#: over it and its occlusion there (front teeth median 0.1) made bared teeth dark grey.
OPEN_MOUTH = {"jawOpen": 0.45, "mouthUpperUp_L": 0.4, "mouthUpperUp_R": 0.4,
              "mouthLowerDown_L": 0.4, "mouthLowerDown_R": 0.4}


def _tooth_roots(assets: FaceAssets) -> np.ndarray:
    """(F,) bool over the asset triangles: tooth roots, hidden inside the gums in every pose and
    expression (see :data:`TOOTH_ROOT_Y`). Lower teeth are those the jawOpen shape moves."""
    tri = assets.tri_vertices
    teeth = assets.tri_parts == PARTS.index("M_Teeth")
    jaw = np.linalg.norm(assets.expression[assets.expression_index("jawOpen")], axis=1)
    lower = jaw[tri].mean(axis=1) > 0.3  # cm: the lower teeth move ~2.5-4 cm, the upper ones not
    y = assets.neutral[tri, 1]
    return teeth & np.where(lower, y.max(axis=1) < TOOTH_ROOT_Y[1], y.min(axis=1) > TOOTH_ROOT_Y[0])


class FaceModel:
    """Blendshape model with render topology; arrays are float32 unless stated."""

    def __init__(self, assets: FaceAssets):
        self.assets = assets
        self.num_identity = assets.identity.shape[0]
        self.num_expression = assets.expression.shape[0]
        nv = len(assets.neutral)
        self.num_vertices = nv
        # blendshape basis as one (K, V*3) matrix: mixing a batch is one matrix product
        basis = np.concatenate([assets.identity, assets.expression], axis=0)
        self._basis = basis.reshape(len(basis), nv * 3).astype(np.float32)
        self._neutral = assets.neutral.reshape(1, nv * 3).astype(np.float32)

        keep = np.isin(assets.tri_parts, [PARTS.index(p) for p in RENDERED_PARTS])
        # the bust below the collar of the torso (torso.py) is never seen: drop it
        keep &= assets.neutral[assets.tri_vertices, 1].max(axis=1) > BUST_CUT_Y
        keep &= ~_tooth_roots(assets)
        tri_v = assets.tri_vertices[keep]
        tri_t = assets.tri_uvs[keep]
        tri_p = assets.tri_parts[keep].astype(np.int64)
        # render vertices: unique (vertex, uv, part) triples, so UV seams and part ids are exact
        key = np.stack([tri_v.ravel(), tri_t.ravel(), np.repeat(tri_p, 3)], axis=1)
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        self.render_vertex = uniq[:, 0].astype(np.int64)       # (R,) model vertex of each render vertex
        self.render_uv = assets.uvs[uniq[:, 1]].astype(np.float32)  # (R, 2)
        self.render_part = uniq[:, 2].astype(np.int64)          # (R,) index into PARTS
        self.indices = inverse.reshape(-1, 3).astype(np.int32)  # (F, 3) into render vertices
        self._tri_model = tri_v.astype(np.int64)                 # (F, 3) into model vertices


        # schema: 68 = centre of iBUG 36-41 = the subject's right eye (model -x) = M_IrisRight
        # our iBUG points: ICT's, with jaw and brows re-chosen by geometry (landmarks.py)
        face_ids = np.unique(assets.tri_vertices[assets.tri_parts == PARTS.index("M_Face")])
        self._landmark_ids = label_vertices(assets.neutral, assets.landmark_vertices, face_ids)  # (68,)
        self._pupil_ids = np.asarray(assets.pupil_vertices[[1, 0]], np.int64)     # (2, K)

        # normals are mixed like positions: n = n0 + sum_k w_k (n_k - n0), renormalised in the
        # shader (exact for the neutral and each single shape; a close approximation for mixes)
        normal_basis = self._blendshape_normals()

        # the same bases in render-vertex order, so a frame needs no gather before upload
        r = len(self.render_vertex)
        cols = (self.render_vertex[:, None] * 3 + np.arange(3)).ravel()
        self._basis_r = np.ascontiguousarray(self._basis[:, cols])          # (K, R*3)
        self._normal_basis_r = np.ascontiguousarray(normal_basis[:, cols])  # (K, R*3)
        self._neutral_r = self._neutral[:, cols]
        self._neutral_normals_r = self._neutral_normals[:, cols]
        self.num_render_vertices = r
        first = np.full(nv, -1, np.int64)
        first[self.render_vertex[::-1]] = np.arange(r)[::-1]
        self._landmark_ids_r = first[self._landmark_ids]
        self._pupil_ids_r = first[self._pupil_ids]
        if (self._landmark_ids_r < 0).any() or (self._pupil_ids_r < 0).any():
            raise ValueError("a landmark vertex is not rendered; check RENDERED_PARTS / BUST_CUT_Y")

        self.material = np.array([MATERIAL[PARTS[p]] for p in self.render_part], np.int32)
        self.vertex_class = self._vertex_classes()

    # ------------------------------------------------------------------ geometry
    def mix(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """Vertices (B, V, 3) in the model frame for coefficients (B, 100) and weights (B, 53)."""
        w = self._weights(identity, expression)
        out = self._neutral + _fixed_shape_matmul(w, self._basis)  # (B, V*3)
        return out.reshape(len(w), self.num_vertices, 3)

    @staticmethod
    def _weights(identity, expression) -> np.ndarray:
        return np.concatenate([np.atleast_2d(identity), np.atleast_2d(expression)], axis=1).astype(np.float32)

    def _blendshape_normals(self) -> np.ndarray:
        nv = self.num_vertices
        n0 = self.normals(self._neutral.reshape(1, nv, 3))[0]
        out = np.empty_like(self._basis)
        for a in range(0, len(self._basis), 32):
            shapes = (self._neutral + self._basis[a:a + 32]).reshape(-1, nv, 3)
            out[a:a + 32] = (self.normals(shapes) - n0).reshape(len(shapes), nv * 3)
        self._neutral_normals = n0.reshape(1, nv * 3)
        return out

    def mix_render(self, identity: np.ndarray, expression: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Render-vertex positions and approximate normals (not unit length), each (B, R, 3)."""
        w = self._weights(identity, expression)
        pos = self._neutral_r + _fixed_shape_matmul(w, self._basis_r)
        nrm = self._neutral_normals_r + _fixed_shape_matmul(w, self._normal_basis_r)
        shape = (len(w), self.num_render_vertices, 3)
        return pos.reshape(shape), nrm.reshape(shape)

    def landmarks_render(self, vertices: np.ndarray) -> np.ndarray:
        """The 70 schema points (B, 70, 3) of render-order vertices (B, R, 3)."""
        pupils = vertices[:, self._pupil_ids_r].mean(axis=2)
        return np.concatenate([vertices[:, self._landmark_ids_r], pupils], axis=1)

    def landmarks_from_weights(self, identity: np.ndarray, expression: np.ndarray) -> np.ndarray:
        """The 70 schema points (B, 70, 3), model frame, mixing only the vertices they need
        (relabelling a folder needs no whole meshes)."""
        ids = np.concatenate([self._landmark_ids, self._pupil_ids.ravel()])
        cols = (ids[:, None] * 3 + np.arange(3)).ravel()
        w = self._weights(identity, expression)
        pos = (self._neutral[:, cols] + _fixed_shape_matmul(w, self._basis[:, cols])).reshape(len(w), -1, 3)
        pupils = pos[:, 68:].reshape(len(w), 2, -1, 3).mean(axis=2)
        return np.concatenate([pos[:, :68], pupils], axis=1)

    def normals(self, vertices: np.ndarray) -> np.ndarray:
        """Unit vertex normals (B, V, 3) of model-frame vertices (B, V, 3) (outward)."""
        b = len(vertices)
        t = self._tri_model
        p0, p1, p2 = vertices[:, t[:, 0]], vertices[:, t[:, 1]], vertices[:, t[:, 2]]
        fn = np.cross(p1 - p0, p2 - p0)  # (B, F, 3), length = 2 * area
        fn = fn.reshape(b * len(t), 3)
        # vertex normal = sum of the adjacent faces' (area-weighted) normals: bincounts over the
        # (shape, vertex) pairs of each triangle corner
        nv = self.num_vertices
        shape_offset = np.repeat(np.arange(b) * nv, len(t))
        vn = np.zeros((b * nv, 3))
        for j in range(3):
            key = shape_offset + np.tile(t[:, j], b)
            for c in range(3):
                vn[:, c] += np.bincount(key, weights=fn[:, c], minlength=b * nv)
        vn = vn.reshape(b, nv, 3).astype(np.float32)
        vn /= np.linalg.norm(vn, axis=2, keepdims=True) + 1e-12
        return vn

    def landmarks(self, vertices: np.ndarray) -> np.ndarray:
        """The 70 schema points (B, 70, 3) of vertices (B, V, 3), same frame."""
        pupils = vertices[:, self._pupil_ids].mean(axis=2)  # (B, 2, 3)
        return np.concatenate([vertices[:, self._landmark_ids], pupils], axis=1)

    @staticmethod
    def to_head(points: np.ndarray) -> np.ndarray:
        """Model frame -> head frame of landmark3d.pose (see module docstring)."""
        return (points - HEAD_ORIGIN) @ MODEL_TO_HEAD.T

    # ------------------------------------------------------------------ segmentation
    def _vertex_classes(self) -> np.ndarray:
        """Per render vertex class id from part and geometry (face regions come from the
        region texture in the shader): eyes, mouth interior, neck, ears."""
        a = self.assets
        cls = np.full(len(self.render_part), SEG["skin"], np.int32)
        name = np.array(PARTS)[self.render_part]
        cls[np.isin(name, ["M_ScleraLeft", "M_IrisLeft"])] = SEG["right_eye"]
        cls[np.isin(name, ["M_ScleraRight", "M_IrisRight"])] = SEG["left_eye"]
        cls[np.isin(name, ["M_GumsTongue", "M_Teeth"])] = SEG["mouth"]
        p = a.neutral[self.render_vertex]
        skin = np.isin(name, ["M_Face", "M_BackHead"])
        jaw = a.neutral[a.landmark_vertices[:17]]
        # neck: skin below the jaw line's lowest point and behind the chin (model frame, cm)
        chin_y = jaw[:, 1].min()
        neck = skin & (p[:, 1] < chin_y + 1.0) & (p[:, 2] < jaw[8, 2] - 2.0)
        neck |= skin & (p[:, 1] < chin_y - 2.5)
        cls[neck] = SEG["neck"]
        # ears: skin far to the side, between brow and jaw-corner height, near the jaw's back
        ear_x = np.abs(jaw[0, 0]) + 0.3
        ear = skin & (np.abs(p[:, 0]) > ear_x) & (p[:, 1] > jaw[3, 1] - 1.0) & (p[:, 1] < 7.5) \
            & (np.abs(p[:, 2] - jaw[0, 2] + 2.5) < 3.5)
        cls[ear & (p[:, 0] > 0)] = SEG["right_ear"]
        cls[ear & (p[:, 0] < 0)] = SEG["left_ear"]
        return cls

    def ambient_occlusion(self, directions: int = 96, grid: int = 256) -> np.ndarray:
        """Per render vertex ambient occlusion in [0, 1] (1 = open sky): of the neutral mesh, and
        for the teeth, gums and tongue of the mouth open (:data:`OPEN_MOUTH`), where they show."""
        ao = self._occlusion(self.assets.neutral, directions, grid)
        w = np.zeros(self.num_expression, np.float32)
        names = list(self.assets.expression_names)
        for name, value in OPEN_MOUTH.items():
            w[names.index(name)] = value
        opened = self.mix(np.zeros(self.num_identity, np.float32), w)[0]
        inside = np.isin(self.material, [MATERIAL["M_Teeth"], MATERIAL["M_GumsTongue"]])
        ao[inside] = self._occlusion(opened, directions, grid)[inside]
        return ao

    def _occlusion(self, vertices: np.ndarray, directions: int, grid: int) -> np.ndarray:
        """Per render vertex ambient occlusion of the mesh with asset-order ``vertices`` (V, 3).

        For each of ``directions`` directions spread over the sphere, the rendered vertices are
        splatted orthographically into a ``grid``-square depth buffer (closed with a 3x3 min filter
        fills the holes between splats); a vertex sees that direction if nothing lies in front of
        it. Eyelashes (thin, translucent) occlude nothing.
        Occlusion is the cosine-weighted fraction of blocked directions above the vertex's normal.
        """
        import cv2

        p = vertices[self.render_vertex].astype(np.float64)
        n = self.normals(vertices[None].astype(np.float32))[0][self.render_vertex]
        k = np.arange(directions) + 0.5
        phi = np.arccos(1 - 2 * k / directions)
        theta = np.pi * (1 + 5 ** 0.5) * k
        dirs = np.stack([np.cos(theta) * np.sin(phi), np.cos(phi), np.sin(theta) * np.sin(phi)], axis=1)
        # the grid is placed by the skin alone, so dropping hidden parts (tooth roots) leaves
        # the skin's occlusion exactly as it was
        centre = p[self.material == MATERIAL["M_Face"]].mean(axis=0)
        radius = np.linalg.norm(p - centre, axis=1).max()
        cell = 2 * radius / grid
        seen = np.zeros(len(p))
        total = np.zeros(len(p))
        occluder = self.material != MATERIAL["M_EyeLashes"]
        for d in dirs:
            a = np.cross(d, [0.3, 1.0, 0.1])
            a /= np.linalg.norm(a)
            b = np.cross(d, a)
            q = p - centre
            ij = np.clip(((np.stack([q @ a, q @ b], axis=1) + radius) / cell).astype(int), 0, grid - 1)
            depth = -(q @ d)  # smaller = nearer to a light far away along d
            zbuf = np.full((grid, grid), np.inf, np.float32)
            np.minimum.at(zbuf, (ij[occluder, 1], ij[occluder, 0]), depth[occluder])
            for _ in range(2):  # fill empty cells from their neighbours
                zbuf = np.where(np.isinf(zbuf), cv2.erode(zbuf, np.ones((3, 3), np.uint8)), zbuf)
            w = np.clip(n @ d, 0, None)
            visible = depth <= zbuf[ij[:, 1], ij[:, 0]] + 2.5 * cell
            seen += w * visible
            total += w
        return (seen / np.maximum(total, 1e-9)).astype(np.float32)

    @property
    def label_vertices(self) -> np.ndarray:
        """(68,) model vertex ids of our iBUG points (landmarks.py; ICT's with jaw and brows moved)."""
        return self._landmark_ids

    def landmark_uvs(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """(68, 2) face-tile UV of each iBUG landmark vertex (first matching render vertex);
        ICT's own vertices unless ``vertices`` is given (e.g. :attr:`label_vertices`)."""
        out = np.zeros((68, 2), np.float32)
        face = np.array(PARTS)[self.render_part] == "M_Face"
        ids = self.assets.landmark_vertices if vertices is None else vertices
        for i, v in enumerate(ids):
            hit = np.flatnonzero((self.render_vertex == v) & face)
            out[i] = self.render_uv[hit[0]]
        return out
