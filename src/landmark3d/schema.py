"""The 70-point x-ray landmark schema, defined once and used everywhere.

Indices 0-67 are the iBUG / Multi-PIE 68 points (0-16 jaw, 17-26 brows, 27-35 nose,
36-47 eyes, 48-67 mouth). 68 is the centre of iBUG 36-41 (the eye on the image left of a
frontal face) and 69 the centre of 42-47, as FaceSynthetics defines its pupils.

Every landmark is the projection of a fixed point of the 3D head ("x-ray"): it is
predicted even where the head hides it.
"""
from __future__ import annotations

import numpy as np

#: Bumped whenever the meaning of any index changes; models embed it and the runtime checks it.
SCHEMA_VERSION = 1
NUM_LANDMARKS = 70
NUM_IBUG = 68

#: Named index ranges (start, stop) into the 70 points.
GROUPS: dict[str, tuple[int, int]] = {
    "jaw": (0, 17),
    "brow_left": (17, 22),   # image left in a frontal view
    "brow_right": (22, 27),
    "nose_bridge": (27, 31),
    "nose_lower": (31, 36),
    "eye_left": (36, 42),
    "eye_right": (42, 48),
    "mouth_outer": (48, 60),
    "mouth_inner": (60, 68),
    "pupils": (68, 70),
}

#: The face's five regions (start, stop) over the 68 iBUG points, unions of :data:`GROUPS`:
#: the evaluation report's breakdown of the error.
REGIONS: dict[str, tuple[int, int]] = {
    "jaw": (0, 17), "brows": (17, 27), "nose": (27, 36), "eyes": (36, 48), "mouth": (48, 68),
}

#: Polylines drawn by the visualiser: (start, stop, closed).
CONTOURS: tuple[tuple[int, int, bool], ...] = (
    (0, 17, False), (17, 22, False), (22, 27, False), (27, 31, False), (31, 36, False),
    (36, 42, True), (42, 48, True), (48, 60, True), (60, 68, True),
)

# Left/right pairs of the iBUG markup; points on the mid-line map to themselves.
_PAIRS = (
    [(i, 16 - i) for i in range(8)]                                  # jaw
    + [(17 + i, 26 - i) for i in range(5)]                           # brows
    + [(31, 35), (32, 34)]                                           # nostrils
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]   # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]             # outer lips
    + [(60, 64), (61, 63), (65, 67)]                                 # inner lips
    + [(68, 69)]                                                     # pupils
)


def _flip_permutation() -> np.ndarray:
    perm = np.arange(NUM_LANDMARKS)
    for a, b in _PAIRS:
        perm[a], perm[b] = b, a
    return perm


#: ``flipped[i] = original[FLIP_PERM[i]]`` after mirroring an image horizontally.
FLIP_PERM: np.ndarray = _flip_permutation()
FLIP_PERM.setflags(write=False)

#: The 51 "inner" iBUG points (no jaw), used by 300-W and AFLW2000-3D protocols.
INNER_51: np.ndarray = np.arange(17, 68)
IBUG_68: np.ndarray = np.arange(68)
#: Outer eye corners, the inter-ocular normaliser of 300-W.
OUTER_EYE_CORNERS: tuple[int, int] = (36, 45)


def landmark_names() -> list[str]:
    """One readable name per index, e.g. ``jaw_03``, ``eye_right_2``, ``pupil_left``."""
    names: list[str] = []
    for group, (a, b) in GROUPS.items():
        if group == "pupils":
            names += ["pupil_left", "pupil_right"]
        else:
            names += [f"{group}_{i:02d}" for i in range(b - a)]
    return names


def flip_points(points: np.ndarray, width: int) -> np.ndarray:
    """Mirror landmarks ``(..., 70, 2+)`` for an image of ``width`` pixels flipped left-right.

    Uses the pixel-centre convention: column j maps to ``width - 1 - j``. Returns a new array.
    """
    points = np.asarray(points)
    if points.shape[-2] != NUM_LANDMARKS:
        raise ValueError(f"expected (..., {NUM_LANDMARKS}, D) landmarks, got shape {points.shape}")
    out = points[..., FLIP_PERM, :].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def pupils_from_eyes(points68: np.ndarray) -> np.ndarray:
    """Append the two pupil points (centres of iBUG 36-41 and 42-47) to ``(..., 68, D)`` points."""
    points68 = np.asarray(points68)
    if points68.shape[-2] != NUM_IBUG:
        raise ValueError(f"expected (..., 68, D) points, got shape {points68.shape}")
    left = points68[..., 36:42, :].mean(axis=-2, keepdims=True)
    right = points68[..., 42:48, :].mean(axis=-2, keepdims=True)
    return np.concatenate([points68, left, right], axis=-2)
