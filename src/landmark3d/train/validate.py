"""Validation during training: NME on held-out synthetic crops and on AFLW2000-3D(-dev).

NME here = mean point-to-point error over the 68 iBUG points divided by sqrt(w * h) of the
ground truth's min/max box (design.md's AFLW2000-3D normaliser; used for both sets so numbers
compare). AFLW2000-3D is evaluation only: its crops come from the protocol's ``roi_box`` through
the crop rule, never from its labels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..crop import CROP_SCALE, crop_from_box

def nme_box(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-face NME of ``(N, >=68, 2)`` predictions vs ground truth over the first 68 points
    (the one definition in :mod:`landmark3d.evaluate.metrics`)."""
    from ..evaluate.metrics import box_size, nme

    g = np.asarray(gt)[:, :68, :2]
    return nme(np.asarray(pred)[:, :68, :2], g, box_size(g))


@torch.no_grad()
def predict_xy(model, images: torch.Tensor, device, batch_size: int = 64, amp: bool = False) -> np.ndarray:
    """Crop-normalised (x, y) ``(N, 70, 2)`` for normalised crops ``(N, 3, S, S)``."""
    was_training = model.training
    model.eval()
    outs = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            outs.append(model(x)[..., :2].float().cpu())
    model.train(was_training)
    return torch.cat(outs).numpy().astype(np.float64)


class SyntheticValidation:
    """Held-out synthetic crops (plain crop rule, no augmentation), prepared once."""

    def __init__(self, dataset, max_items: int = 500):
        n = min(len(dataset), max_items)
        items = [dataset[(0, i)] for i in range(n)]
        self.images = torch.stack([it["image"] for it in items])          # (N, 3, S, S)
        self.xy = torch.stack([it["xy"] for it in items]).numpy()         # (N, 70, 2) normalised
        self.size = dataset.config.size

    def __len__(self) -> int:
        return len(self.images)

    def evaluate(self, model, device, amp=False) -> dict:
        pred = predict_xy(model, self.images, device, amp=amp)
        # NME is invariant to the crop's similarity transform, so crop pixels serve.
        return {"synth_nme": float(nme_box(pred, self.xy).mean())}


class AflwValidation:
    """AFLW2000-3D(-dev) with protocol boxes; ``root`` holds ``ground_truth.npz`` and ``images/``.

    Labels, their coordinate base and the protocol boxes come from :mod:`landmark3d.data.aflw2000`
    and the box conversion from :mod:`landmark3d.data.datasets`, the same as ``landmark3d eval``;
    unlike it, this runs one pass (no second pass from the predicted landmarks)."""

    def __init__(self, root: str | Path, size: int, mean, std):
        from ..data.aflw2000 import read_npz
        from ..data.datasets import roi_to_landmark_box
        from ..io import read_image

        gt_path = Path(root) / "ground_truth.npz"
        if not gt_path.exists():
            raise FileNotFoundError(f"{gt_path}: missing; --aflw expects an AFLW2000-3D folder with ground_truth.npz")
        faces = read_npz(gt_path)
        self.gt = np.stack([f.landmarks for f in faces])                    # (N, 68, 2) 0-based
        self.yaw = np.array([f.yaw_abs_deg for f in faces])
        self.crops = [crop_from_box(roi_to_landmark_box(f.roi_box), size, scale=CROP_SCALE) for f in faces]
        images = []
        for f, crop in zip(faces, self.crops):
            img = crop.warp(read_image(f.image_path)).astype(np.float32) / 255.0
            images.append(((img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(2, 0, 1))
        self.images = torch.from_numpy(np.stack(images))

    def __len__(self) -> int:
        return len(self.images)

    def evaluate(self, model, device, amp=False) -> dict:
        from ..evaluate.metrics import yaw_bins

        pred_n = predict_xy(model, self.images, device, amp=amp)
        pred = np.stack([c.to_image(c.denormalize(p)) for c, p in zip(self.crops, pred_n)])
        bins = yaw_bins(nme_box(pred, self.gt), self.yaw)
        return {"aflw_nme": bins["all"], "aflw_nme_0_30": bins["[0,30)"], "aflw_nme_30_60": bins["[30,60)"],
                "aflw_nme_60_90": bins["[60,90]"], "aflw_nme_balanced": bins["balanced"]}
