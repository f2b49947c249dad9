"""The crop rule: one square, axis-aligned-or-rotated crop shared by training, inference and evaluation.

Convention: pixel coordinates are x right, y down, and the centre of pixel (row i, col j) is
(x=j, y=i) (OpenCV's). A crop of ``size`` pixels covers crop coordinates [-0.5, size - 0.5];
the network regresses crop-normalised coordinates ``u = (2 x_crop + 1) / size - 1`` in [-1, 1].

The square is centred on a face box (the landmarks' min/max box, or a detector box mapped to
look like one) with side ``CROP_SCALE * max(w, h)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Side of the crop over the longest side of the 68 landmarks' box. Leaves room for the forehead
#: and for random shifts/zooms in training without cutting the chin or ears.
CROP_SCALE = 1.4


def points_box(points: np.ndarray) -> np.ndarray:
    """Min/max box ``(x1, y1, x2, y2)`` of ``(K, 2+)`` points (the first 68 when given 70)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"expected (K, 2) points, got shape {points.shape}")
    xy = points[:68, :2]
    return np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()])


@dataclass(frozen=True)
class Crop:
    """An affine map from image pixels to the pixels of a ``size`` x ``size`` crop."""

    matrix: np.ndarray  # (2, 3): image (x, y, 1) -> crop (x, y)
    size: int

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) map from crop pixels back to image pixels."""
        a = self.matrix[:, :2]
        ainv = np.linalg.inv(a)
        return np.hstack([ainv, -ainv @ self.matrix[:, 2:]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image pixels ``(..., 2)`` -> crop pixels."""
        return _apply(self.matrix, points)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels ``(..., 2)`` -> image pixels."""
        return _apply(self.inverse, points)

    def normalize(self, points_crop: np.ndarray) -> np.ndarray:
        """Crop pixels -> [-1, 1] network coordinates."""
        return (2.0 * np.asarray(points_crop, dtype=np.float64) + 1.0) / self.size - 1.0

    def denormalize(self, points_norm: np.ndarray) -> np.ndarray:
        """[-1, 1] network coordinates -> crop pixels."""
        return ((np.asarray(points_norm, dtype=np.float64) + 1.0) * self.size - 1.0) / 2.0

    def warp(self, image: np.ndarray) -> np.ndarray:
        """Cut the crop out of an HWC image (any dtype OpenCV warps), edge pixels replicated."""
        return warp_image(image, self)


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 2:
        raise ValueError(f"expected (..., 2) points, got shape {p.shape}")
    return p @ m[:, :2].T + m[:, 2]


def crop_from_box(
    box,
    size: int,
    *,
    scale: float = CROP_SCALE,
    angle_deg: float = 0.0,
    shift_xy: tuple[float, float] = (0.0, 0.0),
) -> Crop:
    """The crop for a face box ``(x1, y1, x2, y2)`` in image pixels.

    ``scale`` multiplies the box's longest side. ``angle_deg`` rotates the crop's content
    counter-clockwise as displayed (OpenCV's ``getRotationMatrix2D`` sign). ``shift_xy`` moves
    the crop centre by that fraction of the crop side (training jitter).
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64)[:4])
    side = scale * max(x2 - x1, y2 - y1, 1e-3)
    centre = np.array([(x1 + x2) / 2 + shift_xy[0] * side, (y1 + y2) / 2 + shift_xy[1] * side])
    s = size / side
    t = np.deg2rad(angle_deg)
    c, n = np.cos(t), np.sin(t)
    a = s * np.array([[c, n], [-n, c]])
    half = (size - 1) / 2.0
    b = np.array([half, half]) - a @ centre
    return Crop(np.hstack([a, b[:, None]]), int(size))


def crop_from_points(points: np.ndarray, size: int, **kwargs) -> Crop:
    """The crop for landmarks: :func:`crop_from_box` of their min/max box."""
    return crop_from_box(points_box(points), size, **kwargs)


def warp_image(image: np.ndarray, crop: Crop) -> np.ndarray:
    import cv2

    m = crop.matrix
    s = crop.scale
    if s < 0.75:
        # Shrinking by warpAffine alone aliases: first shrink the region the crop covers with
        # INTER_AREA (also bounds memory on huge images), then warp the small copy.
        h, w = image.shape[:2]
        corners = crop.to_image(np.array([[-1, -1], [crop.size, -1], [-1, crop.size], [crop.size, crop.size]], float))
        x0 = int(np.clip(np.floor(corners[:, 0].min()), 0, w))
        x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 1, 0, w))
        y0 = int(np.clip(np.floor(corners[:, 1].min()), 0, h))
        y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 1, 0, h))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            nw, nh = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
            small = cv2.resize(image[y0:y1, x0:x1], (nw, nh), interpolation=cv2.INTER_AREA)
            fx, fy = nw / (x1 - x0), nh / (y1 - y0)
            # image px -> small px, pixel-centre convention: u = (x - x0 + 0.5) * fx - 0.5
            to_small = np.array([[fx, 0, (0.5 - x0) * fx - 0.5], [0, fy, (0.5 - y0) * fy - 0.5]])
            inv = np.linalg.inv(np.vstack([to_small, [0, 0, 1]]))
            m = (np.vstack([m, [0, 0, 1]]) @ inv)[:2]
            image = small
    return cv2.warpAffine(image, m, (crop.size, crop.size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
