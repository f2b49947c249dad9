"""A PNG grid of renders with their landmarks drawn (green: visible, red: hidden, yellow: pupils)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def draw_sample(sample) -> np.ndarray:
    import cv2

    img = np.ascontiguousarray(sample.image.copy())
    r = max(1, img.shape[0] // 200)
    for k, (x, y) in enumerate(sample.landmarks):
        visible = sample.visibility is None or sample.visibility[k]
        colour = (255, 230, 0) if k >= 68 else ((0, 255, 0) if visible else (255, 0, 0))
        cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), r * 16, colour, -1, cv2.LINE_AA, shift=4)
    return img


def grid(images: list[np.ndarray], cols: int) -> np.ndarray:
    h, w = images[0].shape[:2]
    rows = (len(images) + cols - 1) // cols
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, im in enumerate(images):
        out[(k // cols) * h:(k // cols + 1) * h, (k % cols) * w:(k % cols + 1) * w] = im
    return out


def write_gallery(path: str | Path, count: int = 16, size: int = 256, seed: int = 0, start: int = 0,
                  landmarks: bool = True, **config) -> Path:
    import cv2

    from .generator import generate

    images = [draw_sample(s) if landmarks else s.image for s in generate(count, size, seed, start=start, **config)]
    cols = int(np.ceil(np.sqrt(count)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), grid(images, cols)[..., ::-1]):
        raise OSError(f"{path}: OpenCV could not write the gallery PNG")
    return path
