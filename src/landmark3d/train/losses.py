"""Losses on model outputs ``(B, 70, C)`` against crop-normalised targets ``(B, 70, 2)``.

- ``mse``: mean squared error of the crop-normalised (x, y) in [-1, 1] (design.md).
- ``gnll``: the isotropic 2D Gaussian negative log-likelihood of design.md,
  ``2 s + |d|^2 / (2 e^{2 s})`` per landmark, with ``d`` the error in *crop pixels* of the S x S
  input and ``s = log sigma`` clamped to ``[LOG_SIGMA_MIN, LOG_SIGMA_MAX]``. It equals
  ``-log N(d; 0, sigma^2 I_2) - log(2 pi)``.
- z (when the model predicts it and the sample has it): an L1 term on normalised depth, weighted.
"""
from __future__ import annotations

import math

import torch

#: sigma clamp in crop pixels: 0.05 px (below any label's precision) .. e^5 ~ 148 px (a lost point).
LOG_SIGMA_MIN = math.log(0.05)
LOG_SIGMA_MAX = 5.0


def gnll(pred_xy: torch.Tensor, log_sigma: torch.Tensor, target_xy: torch.Tensor, size: int,
         weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean GNLL over landmarks. ``pred_xy``/``target_xy`` (B, 70, 2) normalised, ``log_sigma`` (B, 70)."""
    d = (pred_xy - target_xy) * (size / 2.0)                             # (B, 70, 2) crop px
    s = log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)                    # (B, 70)
    per_point = 2.0 * s + d.pow(2).sum(-1) / (2.0 * torch.exp(2.0 * s))  # (B, 70)
    return _mean(per_point, weight)


def mse(pred_xy: torch.Tensor, target_xy: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error of the normalised coordinates (mean over landmarks and over x, y)."""
    per_point = (pred_xy - target_xy).pow(2).mean(-1)                    # (B, 70)
    return _mean(per_point, weight)


def _mean(per_point: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_point.mean()
    w = weight.to(per_point.dtype)
    return (per_point * w).sum() / w.sum().clamp_min(1.0)


def landmark_loss(output: torch.Tensor, target_xy: torch.Tensor, channels: tuple[str, ...], loss: str,
                  size: int, target_z: torch.Tensor | None = None, has_z: torch.Tensor | None = None,
                  z_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """The training loss of one batch as ``{"loss": total, "xy": ..., "z": ...}``.

    ``output`` (B, 70, C) float; ``target_xy`` (B, 70, 2); ``target_z`` (B, 70) and ``has_z`` (B,)
    bool for samples that carry depth labels. A CPU ``has_z`` with no sample set leaves the depth
    term out; on the GPU it is not inspected (that would wait for the device every step): pass
    ``None`` there when the batch has no depth (a batch with none would otherwise add z = 0).
    """
    output = output.float()
    pred_xy = output[..., :2]
    if loss == "gnll":
        if "log_sigma" not in channels:
            raise ValueError("loss 'gnll' needs a model with a 'log_sigma' channel")
        xy = gnll(pred_xy, output[..., channels.index("log_sigma")], target_xy, size)
    elif loss == "mse":
        xy = mse(pred_xy, target_xy)
    else:
        raise ValueError(f"unknown loss '{loss}'; choose 'mse' or 'gnll'")
    parts = {"xy": xy}
    total = xy
    if ("z" in channels and target_z is not None and has_z is not None
            and (has_z.device.type != "cpu" or bool(has_z.any()))):
        err = (output[..., channels.index("z")] - target_z).abs()         # (B, 70)
        w = has_z[:, None].expand_as(err)
        z = _mean(err, w)
        parts["z"] = z
        total = total + z_weight * z
    parts["loss"] = total
    return parts
