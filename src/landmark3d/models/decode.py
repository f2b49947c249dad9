"""Turning raw model outputs on crops into image-pixel landmarks, sigma and depth."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..crop import Crop
from ..schema import FLIP_PERM
from .spec import ModelSpec

#: log sigma is clamped to this range (crop pixels) before exponentiating, as in the GNLL loss.
LOG_SIGMA_RANGE = (-6.0, 6.0)


def decode_outputs(raw: np.ndarray, crops: Sequence[Crop], spec: ModelSpec):
    """``raw`` (B, 70, C) in the spec's channels -> ``(landmarks (B,70,2), sigma (B,70) | None,
    z (B,70) | None)`` in image pixels. Sigma and z are divided by each crop's scale; sigma is
    multiplied by the spec's calibration ``sigma_scale``."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 3 or raw.shape[0] != len(crops) or raw.shape[2] != len(spec.channels):
        raise ValueError(f"expected raw outputs (B={len(crops)}, 70, {len(spec.channels)}), got {raw.shape}")
    n = len(crops)
    landmarks = np.zeros((n, raw.shape[1], 2))
    sigma = np.zeros((n, raw.shape[1])) if spec.has_sigma else None
    z = np.zeros((n, raw.shape[1])) if spec.has_z else None
    for i, crop in enumerate(crops):
        landmarks[i] = crop.to_image(crop.denormalize(raw[i, :, :2]))
        if sigma is not None:
            s = np.clip(raw[i, :, spec.channel("log_sigma")], *LOG_SIGMA_RANGE)
            sigma[i] = spec.sigma_scale * np.exp(s) / crop.scale
        if z is not None:
            # z is in crop-normalised units (half the crop side = 1)
            z[i] = raw[i, :, spec.channel("z")] * (crop.size / 2.0) / crop.scale
    return landmarks, sigma, z


def unflip_outputs(raw_flipped: np.ndarray) -> np.ndarray:
    """Raw outputs (B, 70, C) of horizontally mirrored crops -> outputs for the crops themselves.

    In the network's [-1, 1] pixel-centre coordinates a mirror is ``x -> -x``; left and right
    points swap by the flip permutation; y, log sigma and z (depth) are unchanged by a mirror."""
    out = np.array(raw_flipped, dtype=np.float64)[:, FLIP_PERM, :]
    out[..., 0] = -out[..., 0]
    return out
