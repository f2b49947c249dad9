"""Training checkpoints: plain dicts readable with ``torch.load(path, weights_only=True)``.

Keys: ``spec`` (ModelSpec JSON), ``model`` (the weights to use for inference: the EMA weights
when EMA is on), ``train_model`` (the raw trained weights, with EMA only), ``ema_in_model``
(bool: ``model`` holds EMA weights), ``optimizer``,
``scheduler`` (its parameters), ``step``, ``best`` (best validation NME so far), ``config``
(resolved options as JSON), ``rng`` (torch CPU RNG state). Files are written to a temporary name
then renamed, so a run killed mid-write leaves the previous checkpoint intact.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch


def save_atomic(obj: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our checkpoint"
        raise ValueError(f"{path}: not a readable landmark3d checkpoint ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(ckpt, dict) or "spec" not in ckpt or "model" not in ckpt:
        raise ValueError(f"{path}: not a landmark3d checkpoint (expected keys 'spec' and 'model')")
    return ckpt
