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

#: AFLW2000-3D's 3DDFA ``roi_box`` is a square of side ~1.414 x the 68 labels' box, centred on it
#: (measured on aflw2000-3d-dev: 10/50/90th percentiles 1.412/1.414/1.416, centre offset < 1%).
#: The crop rule applied to it uses scale CROP_SCALE / ROI_BOX_SCALE to frame faces as in training.
ROI_BOX_SCALE = 1.414

#: Absolute-yaw bins of the AFLW2000-3D protocol, degrees.
YAW_BINS = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.1))


def nme_box(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-face NME of ``(N, >=68, 2)`` predictions vs ground truth over the first 68 points."""
    p, g = pred[:, :68, :2], gt[:, :68, :2]
    wh = g.max(1) - g.min(1)                                              # (N, 2)
    norm = np.sqrt(np.maximum(wh[:, 0] * wh[:, 1], 1e-12))
    return np.linalg.norm(p - g, axis=-1).mean(1) / norm


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
    """AFLW2000-3D(-dev) with protocol boxes; ``root`` holds ``ground_truth.npz`` and ``images/``."""

    def __init__(self, root: str | Path, size: int, mean, std):
        import cv2

        root = Path(root)
        gt_path = root / "ground_truth.npz"
        if not gt_path.exists():
            raise FileNotFoundError(f"{gt_path}: missing; --aflw expects an AFLW2000-3D folder with ground_truth.npz")
        gt = np.load(gt_path)
        self.gt = gt["pts68_xyz"][..., :2].astype(np.float64)            # (N, 68, 2) image px, 0-based
        self.yaw = gt["yaw_abs_deg"].astype(np.float64)
        self.crops = []
        images = []
        for name, box in zip(gt["names"], gt["roi_box"]):
            path = root / "images" / str(name)
            if not path.exists():
                path = root / str(name)
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise FileNotFoundError(f"{path}: cannot read the AFLW2000-3D image")
            crop = crop_from_box(box, size, scale=CROP_SCALE / ROI_BOX_SCALE)
            self.crops.append(crop)
            img = crop.warp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).astype(np.float32) / 255.0
            images.append(((img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(2, 0, 1))
        self.images = torch.from_numpy(np.stack(images))

    def __len__(self) -> int:
        return len(self.images)

    def evaluate(self, model, device, amp=False) -> dict:
        pred_n = predict_xy(model, self.images, device, amp=amp)
        pred = np.stack([c.to_image(c.denormalize(p)) for c, p in zip(self.crops, pred_n)])
        nme = nme_box(pred, self.gt)
        out = {"aflw_nme": float(nme.mean())}
        bins = []
        for lo, hi in YAW_BINS:
            m = (self.yaw >= lo) & (self.yaw < hi)
            v = float(nme[m].mean()) if m.any() else float("nan")
            out[f"aflw_nme_{int(lo)}_{int(min(hi, 90))}"] = v
            bins.append(v)
        out["aflw_nme_balanced"] = float(np.nanmean(bins))
        return out
