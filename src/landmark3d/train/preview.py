"""A PNG grid of training crops with their targets drawn, to check a run's inputs by eye."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..schema import CONTOURS


def draw_item(item: dict, mean, std, scale: int = 2) -> np.ndarray:
    """An item of :class:`~landmark3d.data.train_dataset.LandmarkDataset` as an RGB uint8 image."""
    import cv2
    import torch

    if item["image"].dtype == torch.uint8:                                  # CropConfig.uint8
        img = item["image"].numpy().transpose(1, 2, 0).copy()
    else:
        x = item["image"].numpy().transpose(1, 2, 0) * np.asarray(std) + np.asarray(mean)
        img = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
    size = img.shape[0]
    img = cv2.resize(img, (size * scale, size * scale), interpolation=cv2.INTER_NEAREST)
    pts = ((item["xy"].numpy() + 1) * size - 1) / 2                      # (70, 2) crop px
    pts = (pts + 0.5) * scale - 0.5
    for a, b, closed in CONTOURS:
        poly = np.round(pts[a:b] * 4).astype(np.int32)                    # 2 fractional bits
        cv2.polylines(img, [poly], closed, (0, 255, 0), 1, cv2.LINE_AA, shift=2)
    for k, colour in ((68, (255, 0, 0)), (69, (0, 128, 255)), (36, (255, 0, 0)), (45, (0, 128, 255))):
        cv2.circle(img, tuple(np.round(pts[k] * 4).astype(int)), 8, colour, -1, cv2.LINE_AA, shift=2)
    return img


def write_preview(dataset, path: str | Path, count: int = 16, epoch: int = 0, columns: int = 8) -> Path:
    """Draw the first ``count`` items of ``epoch`` (image-left eye/pupil red, image-right blue)."""
    import cv2

    n = min(count, len(dataset))
    tiles = [draw_item(dataset[(epoch, i)], dataset.config.mean, dataset.config.std) for i in range(n)]
    h, w = tiles[0].shape[:2]
    rows = (n + columns - 1) // columns
    grid = np.zeros((rows * h, min(n, columns) * w, 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    path = Path(path)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return path
