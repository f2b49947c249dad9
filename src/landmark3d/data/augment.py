"""Training-time augmentation: the random crop (through :mod:`landmark3d.crop`'s one rule), the
horizontal flip (through :func:`landmark3d.schema.flip_points`) and photometric corruptions
(albumentations) that close the synthetic -> real gap.

Every random choice comes from a ``numpy.random.Generator`` the caller passes in (and the
albumentations pipeline is re-seeded from it per sample), so a sample's augmentation depends only
on (seed, epoch, index): runs are reproducible and resumable regardless of worker count.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..crop import CROP_SCALE, Crop, crop_from_box, crop_from_points
from ..schema import FLIP_PERM, flip_points


@dataclass(frozen=True)
class CropJitter:
    """Random crop parameters around the crop rule's square (``CROP_SCALE`` x the landmarks' box).

    ``scale_range`` multiplies CROP_SCALE; ``shift`` is the largest centre shift as a fraction of
    the crop side (each axis, uniform); ``rotate_deg`` the largest in-plane rotation (uniform in
    both directions).
    """

    scale_range: tuple[float, float] = (0.85, 1.2)
    shift: float = 0.08
    rotate_deg: float = 45.0

    def sample(self, rng: np.random.Generator) -> dict:
        return {
            "scale": CROP_SCALE * float(rng.uniform(*self.scale_range)),
            "shift_xy": (float(rng.uniform(-self.shift, self.shift)), float(rng.uniform(-self.shift, self.shift))),
            "angle_deg": float(rng.uniform(-self.rotate_deg, self.rotate_deg)),
        }


#: Names of the photometric groups; ``--photometric`` / ``--no-photometric`` switch them all,
#: ``--aug-disable NAME`` one at a time (for ablations measured on AFLW2000-3D-dev).
PHOTOMETRIC_GROUPS = ("color", "gray", "blur", "noise", "jpeg", "downscale", "occlude")


#: Probability of the grey-scale group: real benchmarks hold many grey photos (82 of the 500
#: AFLW2000-3D-dev images), and the model scores worse on them.
GRAY_PROB = 0.1


def build_photometric(disabled: tuple[str, ...] = (), strength: float = 1.0, gray_prob: float = GRAY_PROB):
    """An albumentations pipeline of the enabled groups, applied to uint8 RGB crops.

    Probabilities are moderate so that about a third of crops stay clean-ish (real photos are
    often sharp); ``strength`` scales every probability; ``gray_prob`` is the grey-scale group's.
    """
    import cv2

    from ..errors import require

    A = require("albumentations", "train", "photometric augmentation (or train with --no-photometric)")

    unknown = set(disabled) - set(PHOTOMETRIC_GROUPS)
    if unknown:
        raise ValueError(f"unknown augmentation group(s) {sorted(unknown)}; known: {PHOTOMETRIC_GROUPS}")

    def p(x: float) -> float:
        return min(1.0, x * strength)

    groups = {
        "color": [
            A.RandomBrightnessContrast(brightness_limit=(-0.3, 0.3), contrast_limit=(-0.3, 0.3), p=p(0.6)),
            A.RandomGamma(gamma_limit=(70, 150), p=p(0.3)),
            A.ColorJitter(brightness=0, contrast=0, saturation=(0.5, 1.4), hue=(-0.05, 0.05), p=p(0.4)),
        ],
        "gray": [A.ToGray(p=p(gray_prob))],
        "blur": [A.OneOf([
            A.GaussianBlur(blur_limit=(3, 7), sigma_limit=(0.3, 2.0)),
            A.MotionBlur(blur_limit=(3, 9)),
            A.Defocus(radius=(1, 3), alias_blur=(0.1, 0.3)),
        ], p=p(0.3))],
        "noise": [A.OneOf([
            A.GaussNoise(std_range=(0.01, 0.06)),
            A.ISONoise(color_shift=(0.01, 0.04), intensity=(0.1, 0.4)),
        ], p=p(0.3))],
        "downscale": [A.Downscale(scale_range=(0.3, 0.8), interpolation_pair={"downscale": cv2.INTER_AREA,
                                                                              "upscale": cv2.INTER_LINEAR}, p=p(0.25))],
        "jpeg": [A.ImageCompression(quality_range=(25, 90), p=p(0.35))],
        "occlude": [A.CoarseDropout(num_holes_range=(1, 2), hole_height_range=(0.1, 0.35),
                                    hole_width_range=(0.1, 0.35), fill="random_uniform", p=p(0.25))],
    }
    transforms = [t for name in PHOTOMETRIC_GROUPS if name not in disabled for t in groups[name]]
    return A.Compose(transforms)


def random_crop(points: np.ndarray, size: int, rng: np.random.Generator, jitter: CropJitter,
                box=None, box_scale: float = CROP_SCALE) -> Crop:
    """A jittered crop from the landmarks' box, or from a detector ``box`` when given.

    With a detector box, ``box_scale`` replaces CROP_SCALE (the detector -> crop calibration).
    """
    params = jitter.sample(rng)
    if box is None:
        return crop_from_points(points, size, **params)
    params["scale"] *= box_scale / CROP_SCALE
    return crop_from_box(box, size, **params)


def flip_crop(image: np.ndarray, points_crop: np.ndarray, z: np.ndarray | None):
    """Mirror a square crop left-right: image columns, (70, 2) crop-pixel points, (70,) depths."""
    image = np.ascontiguousarray(image[:, ::-1])
    points_crop = flip_points(points_crop, image.shape[1])
    if z is not None:
        z = z[FLIP_PERM]
    return image, points_crop, z


def seed_photometric(pipeline, rng: np.random.Generator) -> None:
    """Re-seed an albumentations pipeline from ``rng`` (reproducible per sample)."""
    pipeline.set_random_seed(int(rng.integers(0, 2**31 - 1)))
