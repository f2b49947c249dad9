"""Torch landmark models: a torchvision backbone + a head, built from a :class:`ModelSpec`.

``build_model(spec)(images)`` maps ``(B, 3, S, S)`` normalised crops to ``(B, 70, C)`` with the
channels of ``spec.channels`` in that order: ``x``, ``y`` crop-normalised in [-1, 1],
``log_sigma`` (log of sigma in crop pixels) and ``z`` (crop half-side units), see
:mod:`landmark3d.models.spec`. Backbones are trained from scratch (``weights=None``): nothing is
downloaded. Needs the ``[train]`` extra (torch, torchvision).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .spec import ModelSpec

#: Backbones this module builds, with the width of their pooled features.
BACKBONES: dict[str, int] = {"resnet34": 512, "mobilenetv2": 1280, "tiny": 64}

#: Heads: "regression" (pooled features -> linear) and "integral" (x, y = soft-argmax of stride-16
#: heatmaps + the linear head's x, y as a residual; sigma and z from the linear head).
HEADS = ("regression", "integral")

#: Integral head: (index in ``_backbone(name)`` whose output is the stride-16 map, its width); the
#: backbone's last map has twice that stride.
_TAPS: dict[str, tuple[int, int]] = {"mobilenetv2": (13, 96), "resnet34": (6, 256), "tiny": (8, 64)}
_INTEGRAL_WIDTH = 128

#: Initial log sigma (crop pixels) of a fresh head: about 3 px, a typical early error at S=128..256.
_INIT_LOG_SIGMA = math.log(3.0)


def _backbone(name: str) -> nn.Module:
    """A feature extractor returning ``(B, F, h, w)`` maps; F = ``BACKBONES[name]``."""
    if name == "resnet34":
        from torchvision.models import resnet34

        net = resnet34(weights=None)
        return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool,
                             net.layer1, net.layer2, net.layer3, net.layer4)
    if name == "mobilenetv2":
        from torchvision.models import mobilenet_v2

        return mobilenet_v2(weights=None).features
    if name == "tiny":
        # Test-only: a few strided convolutions so end-to-end tests run in seconds on a CPU.
        layers, c_in = [], 3
        for c_out in (16, 32, 64, 64):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        return nn.Sequential(*layers)
    raise ValueError(f"unknown backbone '{name}'; choose one of {sorted(BACKBONES)}")


class IntegralXY(nn.Module):
    """Heatmaps at the tap's resolution from the tap and the (upsampled) last map, one per landmark;
    their soft-argmax is (x, y) in the crop-normalised pixel-centre coordinates of crop.py (the
    centre of cell j of W is ``(2 j + 1) / W - 1``)."""

    def __init__(self, f_last: int, f_tap: int, num_landmarks: int, width: int = _INTEGRAL_WIDTH):
        super().__init__()
        self.top = nn.Conv2d(f_last, width, 1)
        self.lateral = nn.Conv2d(f_tap, width, 1)
        self.mix = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                 nn.ReLU(inplace=True))
        self.logits = nn.Conv2d(width, num_landmarks, 1)

    def forward(self, last: torch.Tensor, tap: torch.Tensor) -> torch.Tensor:
        up = nn.functional.interpolate(self.top(last), scale_factor=2.0, mode="nearest")
        return soft_argmax(self.logits(self.mix(self.lateral(tap) + up)))


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """(B, N, H, W) heatmap logits -> (B, N, 2) expected (x, y), crop-normalised: the centre of
    cell (i, j) is ``((2 j + 1) / W - 1, (2 i + 1) / H - 1)`` (crop.py's pixel-centre rule)."""
    b, n, hh, ww = logits.shape
    p = torch.softmax(logits.flatten(2).float(), dim=-1).view(b, n, hh, ww)
    gx = (2.0 * torch.arange(ww, device=logits.device, dtype=p.dtype) + 1.0) / ww - 1.0
    gy = (2.0 * torch.arange(hh, device=logits.device, dtype=p.dtype) + 1.0) / hh - 1.0
    return torch.stack([(p.sum(2) * gx).sum(-1), (p.sum(3) * gy).sum(-1)], dim=-1)


class LandmarkRegressor(nn.Module):
    """Backbone -> global average pool -> linear to ``70 * C`` values -> ``(B, 70, C)``.

    The x, y outputs pass through no squashing (landmarks may leave the crop); log_sigma is a
    free value the loss clamps; z is free. With ``spec.head == "integral"`` an :class:`IntegralXY`
    adds soft-argmax x, y from a stride-16 map to the linear head's (which starts near zero, so it
    learns a residual; points outside the crop still reach it).
    """

    def __init__(self, spec: ModelSpec):
        super().__init__()
        if spec.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone '{spec.backbone}'; choose one of {sorted(BACKBONES)}")
        if spec.head not in HEADS:
            raise ValueError(f"unknown head '{spec.head}'; choose one of {HEADS}")
        self.num_landmarks = spec.num_landmarks
        self.num_channels = len(spec.channels)
        self.features = _backbone(spec.backbone)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(BACKBONES[spec.backbone], self.num_landmarks * self.num_channels)
        self.tap = None
        if spec.head == "integral":
            self.tap, f_tap = _TAPS[spec.backbone]
            self.integral = IntegralXY(BACKBONES[spec.backbone], f_tap, self.num_landmarks)
        with torch.no_grad():
            # Start from the mean face position (0) and a moderate sigma, so early GNLL steps are sane.
            self.head.weight.mul_(0.1)
            bias = self.head.bias.view(self.num_landmarks, self.num_channels)
            bias.zero_()
            if "log_sigma" in spec.channels:
                bias[:, spec.channels.index("log_sigma")] = _INIT_LOG_SIGMA

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.tap is None:
            last = self.features(image)
        else:
            last = image
            for i, layer in enumerate(self.features):
                last = layer(last)
                if i == self.tap:
                    tap = last
        f = self.pool(last).flatten(1).float()                          # (B, F)
        # The head runs in fp32 even under bf16 autocast (GPU training): bf16 would round x, y to
        # ~1/256 of the crop's half-side, about 0.3 px of a 160 px crop.
        with torch.autocast(device_type=f.device.type, enabled=False):
            out = self.head(f).view(-1, self.num_landmarks, self.num_channels)  # (B, 70, C)
        if self.tap is not None:
            out = torch.cat([out[..., :2] + self.integral(last, tap).float(), out[..., 2:]], dim=-1)
        return out


def build_model(spec: ModelSpec) -> nn.Module:
    """A fresh (randomly initialised) model for ``spec``; load a checkpoint's ``"model"`` into it."""
    return LandmarkRegressor(spec)


def load_checkpoint_model(path, map_location="cpu") -> tuple[nn.Module, ModelSpec]:
    """Model (eval mode) + spec from a training checkpoint, loaded with ``weights_only=True``."""
    from ..errors import ModelLoadError

    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our checkpoint"
        raise ModelLoadError(f"{path}: not a readable landmark3d checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or "spec" not in ckpt or "model" not in ckpt:
        raise ModelLoadError(f"{path}: not a landmark3d checkpoint (expected keys 'spec' and 'model')")
    spec = ModelSpec.from_json(ckpt["spec"], source=str(path))
    model = build_model(spec)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, spec
