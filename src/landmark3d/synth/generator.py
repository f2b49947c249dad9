"""The generator: sampled parameters -> mixed mesh -> render -> labelled :class:`Sample`.

Labels (all derived from the same camera as the image):
- ``landmarks`` (70, 2): projection of the 70 schema points (x-ray: always present), 0-based
  pixel centres, x right, y down (see renderer.py for the projection).
- ``landmarks_3d`` (70, 3): the same points in camera space, centimetres (x right, y down,
  z forward).
- ``pose_deg``: (yaw, pitch, roll) of the head frame per :mod:`landmark3d.pose`.
- ``visibility`` (70,): inside the frame and not hidden by anything nearer to the camera
  (depth-buffer test with a tolerance of :data:`VISIBILITY_TOLERANCE_CM`).
- ``segmentation``: FaceSynthetics class ids (facemodel.SEG).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..data.sample import Sample
from ..pose import euler_to_matrix
from .facemodel import MODEL_TO_HEAD, HEAD_ORIGIN, FaceModel
from .sampler import FaceParams, sample_params

#: A landmark counts as visible when the depth buffer at its pixel is at most this much nearer
#: than the landmark itself (surface points sit on the surface; eyelid points on a thin edge).
VISIBILITY_TOLERANCE_CM = 0.35
#: Images mixed in one blendshape product (parallel.CHUNK says why larger is faster).
BATCH = 64


@dataclass
class GeneratorConfig:
    size: int = 256
    seed: int = 0
    cache: str | None = None      # ICT cache path (default: assets.default_cache_path())
    ict: str | None = None        # ICT FaceKit source to build the cache from if missing
    hdri: str | None = None       # folder of *.hdr maps (default: $LANDMARK3D_HDRI, shared assets)
    in_flight: int = 3            # frames drawn ahead of the one being read back (Renderer.submit)


def visibility(xy: np.ndarray, z: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(70,) bool: inside the image and nothing nearer than ``z - VISIBILITY_TOLERANCE_CM`` at
    the landmark's pixel (eyelashes do not write depth, see renderer.py, so they hide nothing).
    """
    s = depth.shape[0]
    col = np.round(xy[:, 0]).astype(int)
    row = np.round(xy[:, 1]).astype(int)
    inside = (col >= 0) & (col < s) & (row >= 0) & (row < s)
    vis = np.zeros(len(xy), bool)
    vis[inside] = depth[row[inside], col[inside]] >= z[inside] - VISIBILITY_TOLERANCE_CM
    return vis


def project(points_model: np.ndarray, yaw_deg: float, pitch_deg: float, roll_deg: float,
            translation, focal_px: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Model-frame points (N, 3) -> camera-frame points (N, 3, cm) and their pixels (N, 2) in a
    ``size``-square image (0-based pixel centres), through the renderer's camera."""
    rot = euler_to_matrix(yaw_deg, pitch_deg, roll_deg)  # head -> camera
    cam = (points_model - HEAD_ORIGIN) @ MODEL_TO_HEAD.T @ rot.T + np.asarray(translation)
    xy = focal_px * cam[:, :2] / cam[:, 2:3] + (size - 1) / 2
    return cam, xy


class Generator:
    """Holds the model, environments and an OpenGL context; renders samples by index."""

    def __init__(self, config: GeneratorConfig, ctx=None):
        from . import assets, lighting
        from .renderer import Renderer

        self.config = config
        self.model = FaceModel(assets.load_cache(config.cache, ict_source=config.ict))
        hdri = config.hdri or lighting.default_hdri_dir()
        if hdri:
            self.environments = lighting.load_environments(hdri)
        else:
            import warnings

            warnings.warn("no HDR environment maps (--hdri DIR or LANDMARK3D_HDRI): lighting the faces "
                          "with two plain sky gradients, which looks much less real", stacklevel=2)
            self.environments = lighting.fallback_environments()
        self.renderer = Renderer(self.model, self.environments, config.size, ctx=ctx, in_flight=config.in_flight)

    def close(self) -> None:
        self.renderer.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def params(self, index: int) -> FaceParams:
        m = self.model
        return sample_params(self.config.seed, index, self.config.size, m.num_identity,
                             m.assets.expression_names, len(self.environments))

    def render_batch(self, indices: list[int]) -> list[tuple[Sample, dict]]:
        """Render images by index: ``[(sample, params_json), ...]``."""
        return [out[:2] for out in self.render_params([self.params(i) for i in indices])]

    def render_params(self, params: list[FaceParams]) -> list[tuple[Sample, dict, np.ndarray]]:
        """Render given parameters: ``[(sample, params_json, depth (S, S) camera z in cm), ...]``."""
        ident = np.stack([p.identity for p in params])
        expr = np.stack([p.expression for p in params])
        verts, normals = self.model.mix_render(ident, expr)  # (B, R, 3) each, model frame
        lms = self.model.landmarks_render(verts)             # (B, 70, 3) model frame
        out, pending = [], []
        for k, p in enumerate(params):
            # a few frames in flight: this face's Python work overlaps the drawing of the last ones
            if len(pending) == self.renderer.in_flight:
                out.append(self._finish(*pending.pop(0)))
            rot = euler_to_matrix(p.yaw_deg, p.pitch_deg, p.roll_deg)  # head -> camera
            pending.append((p, lms[k], self.renderer.submit(verts[k], normals[k], p, rot, landmarks_model=lms[k])))
        out.extend(self._finish(*job) for job in pending)
        return out

    def _finish(self, p: FaceParams, lm_model, slot: int):
        s = self.config.size
        rgb, seg, depth = self.renderer.collect(slot)
        lm_cam, xy = project(lm_model, p.yaw_deg, p.pitch_deg, p.roll_deg, p.translation, p.focal_px, s)
        vis = visibility(xy, lm_cam[:, 2], depth)
        meta = p.to_json()
        return Sample(image=rgb, landmarks=xy.astype(np.float64), name=f"{p.index:06d}",
                      landmarks_3d=lm_cam.astype(np.float64),
                      pose_deg=np.array([p.yaw_deg, p.pitch_deg, p.roll_deg]),
                      visibility=vis, segmentation=seg), meta, depth

    def __call__(self, indices) -> Iterator[tuple[Sample, dict]]:
        indices = list(indices)
        for a in range(0, len(indices), BATCH):
            yield from self.render_batch(indices[a:a + BATCH])


def generate(count: int, size: int = 256, seed: int = 0, *, start: int = 0, with_params: bool = False,
             **config) -> Iterator[Sample]:
    """Stream ``count`` labelled synthetic faces (indices ``start..start+count-1``) in-process.

    ``config``: ``cache``, ``ict``, ``hdri`` (see :class:`GeneratorConfig`). Yields
    :class:`~landmark3d.data.sample.Sample` (or ``(sample, params_dict)`` with ``with_params``).
    """
    with Generator(GeneratorConfig(size=size, seed=seed, **config)) as gen:
        for sample, meta in gen(range(start, start + count)):
            yield (sample, meta) if with_params else sample
