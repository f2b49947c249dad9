"""Tiny synthetic datasets for the training tests (no shared data needed)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from landmark3d.data.sample import Sample


def face_points(rng: np.random.Generator, size: int) -> np.ndarray:
    """70 plausible-ish points: a jittered ellipse layout inside the middle of a ``size`` image."""
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    c = size / 2 + rng.uniform(-size / 10, size / 10, 2)
    r = size * rng.uniform(0.18, 0.25)
    pts = np.stack([c[0] + r * np.cos(t), c[1] + 1.2 * r * np.sin(t)], 1) + rng.normal(0, size / 60, (68, 2))
    eyes = np.stack([pts[36:42].mean(0), pts[42:48].mean(0)])
    return np.concatenate([pts, eyes])


def make_sample(rng: np.random.Generator, size: int = 96, with_3d: bool = False, name: str = "") -> Sample:
    """An image with a blob drawn at every landmark (so landmarks are learnable) + its labels."""
    pts = face_points(rng, size)
    img = np.full((size, size, 3), rng.integers(30, 90), np.uint8)
    for k, (x, y) in enumerate(pts):
        colour = (int(60 + 2.5 * k), int(255 - 3 * k), 200)
        cv2.circle(img, (int(round(x)), int(round(y))), 2, colour, -1)
    s = Sample(image=img, landmarks=pts, name=name)
    if with_3d:
        z = 50 + rng.normal(0, 1, 70)
        s.landmarks_3d = np.concatenate([(pts - size / 2) / 10.0, z[:, None]], 1)
    return s


def write_dataset(root: Path, n: int = 8, size: int = 96, seed: int = 0) -> Path:
    """A FaceSynthetics-layout folder of ``n`` tiny samples."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        s = make_sample(rng, size)
        cv2.imwrite(str(root / f"{i:06d}.png"), cv2.cvtColor(s.image, cv2.COLOR_RGB2BGR))
        np.savetxt(root / f"{i:06d}_ldmks.txt", s.landmarks, fmt="%.4f")
    return root


def tiny_cfg(tmp_path: Path, data: Path, **over) -> dict:
    """Resolved training options for a fast tiny run."""
    from landmark3d.train.config import OPTIONS

    cfg = {k: (list(v[0]) if isinstance(v[0], list) else v[0]) for k, v in OPTIONS.items()}
    cfg.update(dict(data=[str(data)], output=str(tmp_path / "runs"), name="t", backbone="tiny", input_size=48,
                    batch_size=4, steps=6, warmup_steps=2, log_interval=1, ckpt_interval=3, val_fraction=0.0,
                    progress=False, threads=1, device="cpu"))
    cfg.update(over)
    return cfg
