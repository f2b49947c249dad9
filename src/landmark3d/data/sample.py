"""Sample: one labelled face image, as every reader and the generator produce it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Sample:
    image: np.ndarray                           # (H, W, 3) uint8 RGB
    landmarks: np.ndarray                       # (70, 2) float, image pixels, 0-based pixel centres
    name: str = ""
    landmarks_3d: np.ndarray | None = None      # (70, 3) camera space (x right, y down, z forward)
    pose_deg: np.ndarray | None = None          # (3,) yaw, pitch, roll; see landmark3d.pose
    visibility: np.ndarray | None = None        # (70,) bool: not self-occluded and not covered
    segmentation: np.ndarray | None = None      # (H, W) uint8 FaceSynthetics class ids
