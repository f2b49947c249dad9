"""The "given boxes" back-end: boxes the caller already has, no detection."""
from __future__ import annotations

import numpy as np

from .base import BoxMapping, FaceDetector, check_image, empty_detections


def as_detections(boxes) -> np.ndarray:
    """``(K, 4)`` boxes or ``(K, 5)`` detections -> ``(K, 5)`` float32 (score 1 when absent).

    Raises ``ValueError`` for other shapes or for boxes with ``x2 < x1`` or ``y2 < y1``.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return empty_detections()
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] not in (4, 5):
        raise ValueError(f"expected boxes of shape (K, 4) [x1, y1, x2, y2] or (K, 5) with a score, got {np.shape(boxes)}")
    if not np.isfinite(b).all():
        raise ValueError("boxes contain NaN or infinite values")
    if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
        raise ValueError("boxes must be [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1")
    if b.shape[1] == 4:
        b = np.hstack([b, np.ones((len(b), 1))])
    return b.astype(np.float32)


class BoxesDetector(FaceDetector):
    """Returns fixed boxes for every image (e.g. from a ``--boxes`` file or another detector).

    ``mapping`` says how the boxes relate to the 68 landmarks' box; the default (identity)
    treats them as landmark boxes. Pass a back-end's ``box_mapping`` (e.g.
    ``SlimefaceDetector.box_mapping``) when the boxes came from that detector.
    """

    name = "boxes"

    def __init__(self, boxes=(), mapping: BoxMapping | None = None):
        super().__init__(score_threshold=0.0)
        self.boxes = as_detections(boxes)
        self.box_mapping = mapping or BoxMapping()

    def __repr__(self) -> str:
        return f"BoxesDetector({len(self.boxes)} boxes, {self.box_mapping})"

    def detect(self, image: np.ndarray) -> np.ndarray:
        """The given boxes (an image is still checked, never read)."""
        check_image(image)
        return self.boxes.copy()
