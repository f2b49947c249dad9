"""HDR environment maps: loading, diffuse irradiance as 9 spherical-harmonic coefficients, and
a small texture for the background and glossy reflections.

Direction convention (shared with the shaders in renderer.py): an environment direction
``e = (x, y, z)`` has "up" = -y (camera frame: y down); the equirectangular map's column is
``u = atan2(x, z) / (2 pi) + 0.5`` and its row ``v = acos(-y) / pi`` (row 0 = straight up).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Landmark3dError

ENV_SIZE = (256, 128)  # (width, height) of the texture for lighting and reflections
BACKGROUND_SIZE = (1024, 512)  # (width, height) of the texture seen as the background


class EnvironmentError_(Landmark3dError, FileNotFoundError):
    """No HDR environment map could be read."""


@dataclass(frozen=True)
class Environment:
    name: str
    texture: np.ndarray  # (128, 256, 3) float32 linear RGB, normalised to mean irradiance 1
    background: np.ndarray  # (512, 1024, 3) float16, the same map at the background's resolution
    sh: np.ndarray       # (9, 3) irradiance SH coefficients of the normalised map (/ pi)
    sh_gloss: np.ndarray  # (9, 3) radiance SH filtered by a Phong lobe of exponent GLOSS_EXPONENT
    sun_dir: np.ndarray   # (3,) unit direction towards the dominant light (environment frame); 0 if none
    sun_rgb: np.ndarray   # (3,) its irradiance / pi at normal incidence (normalised like the map)


def _directions(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (h, w, 3) of pixel centres and their solid angles (h, w)."""
    v = (np.arange(h) + 0.5) / h
    u = (np.arange(w) + 0.5) / w
    theta = v * np.pi                     # from up
    phi = (u - 0.5) * 2 * np.pi
    st, ct = np.sin(theta), np.cos(theta)
    x = st[:, None] * np.sin(phi)[None, :]
    z = st[:, None] * np.cos(phi)[None, :]
    y = -ct[:, None] * np.ones_like(phi)[None, :]
    d = np.stack([x, y, z], axis=-1)
    dw = (2 * np.pi / w) * (np.pi / h) * st[:, None] * np.ones((1, w))
    return d, dw


def sh_basis(d: np.ndarray) -> np.ndarray:
    """Real SH basis up to l=2 (..., 9) of unit directions (..., 3)."""
    x, y, z = d[..., 0], d[..., 1], d[..., 2]
    return np.stack([
        0.282095 * np.ones_like(x), 0.488603 * y, 0.488603 * z, 0.488603 * x,
        1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z,
        0.546274 * (x * x - y * y)], axis=-1)


#: Lambertian convolution factors per band (Ramamoorthi & Hanrahan 2001), folded with 1/pi so the
#: shader's irradiance/pi is the outgoing radiance of a white diffuse surface.
#: Phong exponent of the skin's glossy lobe; band l of the radiance is scaled by
#: exp(-l^2 / (2 s)) (the lobe's SH attenuation, Ramamoorthi & Hanrahan 2002).
GLOSS_EXPONENT = 12.0
_BAND = np.array([np.pi, 2 * np.pi / 3, 2 * np.pi / 3, 2 * np.pi / 3] + [np.pi / 4] * 5) / np.pi


#: A light source counts as a "sun" (cast shadows, its own highlight) when the 8-degree cone
#: around the brightest pixel holds at least this share of the map's total power.
SUN_CONE_DEG = 8.0
SUN_MIN_SHARE = 0.1


def environment_from_array(name: str, rgb: np.ndarray) -> Environment:
    """Lighting data of one equirectangular map (see the module docstring for directions).

    A dominant source (sun, lamp, window) is taken out of the map's spherical harmonics and kept
    as a directional light (``sun_dir``, ``sun_rgb``), so the renderer can cast its shadows.
    """
    import cv2

    small = cv2.resize(rgb.astype(np.float32), ENV_SIZE, interpolation=cv2.INTER_AREA)
    small = np.nan_to_num(np.clip(small, 0, 6e4))
    d, dw = _directions(*small.shape[:2])
    basis = sh_basis(d)
    # normalise: a white surface facing the average direction gets radiance ~1
    level = float(np.mean(np.einsum("hw,hwc,hw->c", basis[..., 0], small, dw)) * 0.282095 * _BAND[0])

    lum = small @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    peak = d[np.unravel_index(np.argmax(lum), lum.shape)]
    cone = (d @ peak) > np.cos(np.deg2rad(SUN_CONE_DEG))
    share = float((lum * dw * cone).sum() / max((lum * dw).sum(), 1e-12))
    sun_dir = np.zeros(3, np.float32)
    sun_rgb = np.zeros(3, np.float32)
    lit = small
    if share >= SUN_MIN_SHARE:
        ring = ((d @ peak) > np.cos(np.deg2rad(2 * SUN_CONE_DEG))) & ~cone
        floor = np.median(small[ring], axis=0)
        excess = np.clip(small - floor, 0, None) * cone[..., None]
        sun_rgb = (np.einsum("hwc,hw->c", excess, dw) / np.pi / level).astype(np.float32)  # E / pi
        w = (excess @ np.array([0.2126, 0.7152, 0.0722], np.float32)) * dw
        v = (d * w[..., None]).sum(axis=(0, 1))
        sun_dir = (v / np.linalg.norm(v)).astype(np.float32)
        lit = small - excess
    radiance = np.einsum("hwk,hwc,hw->kc", basis, lit, dw)
    sh = radiance * _BAND[:, None]
    band = np.array([0, 1, 1, 1, 2, 2, 2, 2, 2])
    gloss = radiance * np.exp(-band ** 2 / (2 * GLOSS_EXPONENT))[:, None]
    big = cv2.resize(rgb.astype(np.float32), BACKGROUND_SIZE, interpolation=cv2.INTER_AREA)
    big = np.clip(np.nan_to_num(big) / level, 0, 6e4)  # float16 range
    return Environment(name, (small / level).astype(np.float32), big.astype(np.float16),
                       (sh / level).astype(np.float32), (gloss / level).astype(np.float32), sun_dir, sun_rgb)


def load_environments(folder: str | Path) -> list[Environment]:
    """All ``*.hdr`` maps in ``folder`` (Radiance RGBE, read by OpenCV), sorted by name."""
    import cv2

    folder = Path(folder)
    paths = sorted(folder.glob("*.hdr"))
    if not paths:
        raise EnvironmentError_(
            f"{folder}: no *.hdr environment maps. Any equirectangular HDRIs work (e.g. CC0 maps "
            "from polyhaven.com saved as Radiance .hdr); pass --hdri DIR or set LANDMARK3D_HDRI.")
    envs = []
    for p in paths:
        bgr = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if bgr is None:
            raise EnvironmentError_(f"{p}: OpenCV could not read this HDR file")
        envs.append(environment_from_array(p.stem, bgr[..., ::-1]))
    return envs


def default_hdri_dir() -> Path | None:
    """``$LANDMARK3D_HDRI``, else ``$LANDMARK3D_SHARED/assets/hdri``, else the project's
    ``../shared/assets/hdri`` next to a source checkout if it exists, else None."""
    env = os.environ.get("LANDMARK3D_HDRI")
    if env:
        return Path(env)
    shared = os.environ.get("LANDMARK3D_SHARED")
    candidates = [Path(shared)] if shared else []
    candidates.append(Path(__file__).resolve().parents[3] / ".." / "shared")  # src/landmark3d/synth
    for root in candidates:
        if (root / "assets" / "hdri").is_dir():
            return (root / "assets" / "hdri").resolve()
    return None


def fallback_environments() -> list[Environment]:
    """Analytic sky/ground gradients, used when no HDRI folder is given."""
    d, _ = _directions(ENV_SIZE[1], ENV_SIZE[0])
    up = -d[..., 1:2]
    envs = []
    for name, sky, ground, sun in (("gradient_day", (0.6, 0.75, 1.0), (0.35, 0.3, 0.25), (0.3, -0.8, 0.5)),
                                   ("gradient_warm", (1.0, 0.85, 0.7), (0.3, 0.25, 0.2), (-0.6, -0.5, 0.6))):
        img = np.where(up > 0, np.array(sky) * (0.5 + 0.5 * up), np.array(ground) * (1 + up))
        s = np.array(sun) / np.linalg.norm(sun)
        img = img + 20.0 * np.clip(d @ s, 0, 1)[..., None] ** 400
        envs.append(environment_from_array(name, img.astype(np.float32)))
    return envs
