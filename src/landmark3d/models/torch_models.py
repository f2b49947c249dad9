"""Torch landmark models: a torchvision backbone + a regression head, built from a :class:`ModelSpec`.

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


class LandmarkRegressor(nn.Module):
    """Backbone -> global average pool -> linear to ``70 * C`` values -> ``(B, 70, C)``.

    The x, y outputs pass through no squashing (landmarks may leave the crop); log_sigma is a
    free value the loss clamps; z is free. Room for a heatmap head: swap ``self.head``.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__()
        if spec.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone '{spec.backbone}'; choose one of {sorted(BACKBONES)}")
        self.num_landmarks = spec.num_landmarks
        self.num_channels = len(spec.channels)
        self.features = _backbone(spec.backbone)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(BACKBONES[spec.backbone], self.num_landmarks * self.num_channels)
        with torch.no_grad():
            # Start from the mean face position (0) and a moderate sigma, so early GNLL steps are sane.
            self.head.weight.mul_(0.1)
            bias = self.head.bias.view(self.num_landmarks, self.num_channels)
            bias.zero_()
            if "log_sigma" in spec.channels:
                bias[:, spec.channels.index("log_sigma")] = _INIT_LOG_SIGMA

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        f = self.pool(self.features(image)).flatten(1)                 # (B, F)
        out = self.head(f)                                              # (B, 70*C)
        return out.view(-1, self.num_landmarks, self.num_channels)      # (B, 70, C)


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
