"""Photometric augmentation of a whole batch on the training device: the counterpart of
:func:`landmark3d.data.augment.build_photometric` (same groups, probabilities and ranges) for
machines whose loader CPUs cannot keep up with the GPU (``train --photometric-on-device``).

On the first GPU session the loader fed ResNet34 ~1,450 images/s with 14 workers, an eighth of
what the GPU trains (docs/training.md); albumentations is the largest share of a loader item.
Here the loader only crops and flips; these ops run on the batch, each sample drawing its own
parameters from one ``torch.Generator`` (seeded per step by the loop, so runs stay reproducible).
Images are float (B, 3, H, W) RGB in [0, 1]. Nothing here reads a value back from the device, so
the CPU can queue the next step's work while the GPU runs this one.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..data.augment import GRAY_PROB, PHOTOMETRIC_GROUPS

#: Side of the per-sample blur kernels (Gaussian sigma <= 2, motion length <= 9, defocus radius <= 3).
KERNEL = 9
#: IJG's base quantisation tables (JPEG standard, Annex K), luminance and chrominance.
_Q_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
           14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
           49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_Q_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
             47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32
_LUMA = (0.299, 0.587, 0.114)


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def _chance(gen: torch.Generator, n: int, p: float, device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) < p


def _gray(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


def color(x, gen, p=1.0):
    """Brightness/contrast (p 0.6, ±0.3), gamma (p 0.3, 0.7-1.5), saturation 0.5-1.4 and hue ±0.05
    turn (p 0.4), as the albumentations group."""
    b, dev = len(x), x.device
    on = _chance(gen, b, 0.6 * p, dev)
    gain = 1 + _uniform(gen, b, -0.3, 0.3, dev)
    shift = _uniform(gen, b, -0.3, 0.3, dev)
    mean = x.mean((1, 2, 3), keepdim=True)
    bc = ((x - mean) * gain.view(-1, 1, 1, 1) + mean + shift.view(-1, 1, 1, 1)).clamp(0, 1)
    x = _where(on, bc, x)
    on = _chance(gen, b, 0.3 * p, dev)
    gamma = _uniform(gen, b, 0.7, 1.5, dev).view(-1, 1, 1, 1)
    x = _where(on, x.clamp_min(1e-6) ** gamma, x)
    on = _chance(gen, b, 0.4 * p, dev)
    sat = _uniform(gen, b, 0.5, 1.4, dev).view(-1, 1, 1, 1)
    angle = _uniform(gen, b, -0.05, 0.05, dev) * 2 * math.pi
    # hue: rotate the chroma plane of YIQ
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          device=dev, dtype=x.dtype)
    yiq = torch.einsum("ij,bjhw->bihw", to_yiq, x)
    c, s = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], (c * i - s * q) * sat[:, 0], (s * i + c * q) * sat[:, 0]], 1)
    hs = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(to_yiq), yiq).clamp(0, 1)
    return _where(on, hs, x)


def gray(x, gen, p=GRAY_PROB):
    on = _chance(gen, len(x), p, x.device)
    return _where(on, _gray(x).expand_as(x), x)


def blur_kernels(gen, n: int, device) -> torch.Tensor:
    """(n, KERNEL, KERNEL) normalised kernels, each a Gaussian (sigma 0.3-2), a motion line
    (length 3-9, any angle) or a defocus disk (radius 1-3), one of three at random."""
    r = KERNEL // 2
    yy, xx = torch.meshgrid(torch.arange(-r, r + 1, device=device, dtype=torch.float32),
                            torch.arange(-r, r + 1, device=device, dtype=torch.float32), indexing="ij")
    kind = torch.randint(0, 3, (n,), generator=gen, device=device)
    sigma = _uniform(gen, n, 0.3, 2.0, device).view(-1, 1, 1)
    gauss = torch.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    theta = _uniform(gen, n, 0, math.pi, device).view(-1, 1, 1)
    half = (torch.randint(3, KERNEL + 1, (n,), generator=gen, device=device).float() / 2).view(-1, 1, 1)
    along = xx * torch.cos(theta) + yy * torch.sin(theta)
    across = -xx * torch.sin(theta) + yy * torch.cos(theta)
    motion = ((across.abs() < 0.5) & (along.abs() <= half)).float()
    radius = _uniform(gen, n, 1.0, 3.0, device).view(-1, 1, 1)
    disk = ((xx ** 2 + yy ** 2) <= radius ** 2).float()
    k = torch.where(kind.view(-1, 1, 1) == 0, gauss, torch.where(kind.view(-1, 1, 1) == 1, motion, disk))
    return k / k.sum((1, 2), keepdim=True)


def blur(x, gen, p=0.3):
    b, c, h, w = x.shape
    on = _chance(gen, b, p, x.device)
    k = blur_kernels(gen, b, x.device).to(x.dtype)
    weight = k.repeat_interleave(c, 0).unsqueeze(1)                      # (B*3, 1, K, K)
    pad = KERNEL // 2
    y = F.conv2d(F.pad(x.reshape(1, b * c, h, w), (pad,) * 4, mode="replicate"), weight, groups=b * c)
    return _where(on, y.view(b, c, h, w), x)


def noise(x, gen, p=0.3):
    """Gaussian noise (std 0.01-0.06 of the range, per channel) or ISO-like noise (luminance noise
    growing with brightness plus a little chroma noise), one of the two at random."""
    b, dev = len(x), x.device
    on = _chance(gen, b, p, dev)
    iso = _chance(gen, b, 0.5, dev).view(-1, 1, 1, 1)
    std = _uniform(gen, b, 0.01, 0.06, dev).view(-1, 1, 1, 1)
    n_rgb = torch.randn(x.shape, generator=gen, device=dev, dtype=x.dtype) * std
    # (0.6: the strength of albumentations' ISONoise at its settings, measured on synthetic crops
    # by the mean absolute difference of neighbouring pixels: 0.0329 vs 0.0333)
    n_lum = torch.randn((b, 1, *x.shape[2:]), generator=gen, device=dev, dtype=x.dtype) * std \
        * 0.6 * (0.3 + x.mean(1, keepdim=True))
    y = x + torch.where(iso, n_lum + 0.3 * n_rgb, n_rgb)
    return _where(on, y.clamp(0, 1), x)


#: Downscale factors: albumentations draws 0.3-0.8 continuously; 11 levels let the batch be
#: processed level by level, without reading per-sample values back from the device (a wait
#: for the GPU every step) or a kernel launch per sample.
DOWNSCALE_LEVELS = tuple(round(0.3 + 0.05 * k, 2) for k in range(11))


def downscale(x, gen, p=0.25):
    """Down by a factor in :data:`DOWNSCALE_LEVELS` (area) and back up (bilinear), per sample."""
    b, _, h, w = x.shape
    on = _chance(gen, b, p, x.device)
    level = torch.randint(0, len(DOWNSCALE_LEVELS), (b,), generator=gen, device=x.device)
    out = x
    for k, s in enumerate(DOWNSCALE_LEVELS):
        small = F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")
        up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        out = _where(on & (level == k), up, out)
    return out


def _dct_matrix(device, dtype) -> torch.Tensor:
    n = torch.arange(8, device=device, dtype=dtype)
    m = torch.cos((2 * n.view(1, -1) + 1) * n.view(-1, 1) * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m                                                             # orthonormal DCT-II


def _quant_tables(quality: torch.Tensor) -> torch.Tensor:
    """(B, 2, 8, 8) luminance / chrominance tables for IJG quality 1-100 (its scaling rule)."""
    q = quality.clamp(1, 100)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q).view(-1, 1, 1, 1)
    base = torch.tensor([_Q_LUMA, _Q_CHROMA], device=quality.device, dtype=torch.float32).view(1, 2, 8, 8)
    return ((base * scale + 50) / 100).floor().clamp(1, 255)


def jpeg(x, gen, p=0.35):
    """JPEG compression at quality 25-90 (per sample)."""
    on = _chance(gen, len(x), p, x.device)
    quality = _uniform(gen, len(x), 25, 90, x.device).round()
    # the whole batch is coded (an on.any() test would wait for the GPU; at batch 256 some are on)
    return _where(on, jpeg_compress(x, quality), x)


def jpeg_compress(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG round trip of each image at its IJG ``quality`` (B,): YCbCr, 4:2:0 chroma, 8x8 DCT
    quantised by the standard tables scaled as libjpeg does."""
    b, _, h, w = x.shape
    tables = _quant_tables(quality).to(x.dtype)
    ph, pw = (-h) % 16, (-w) % 16
    v = F.pad(x, (0, pw, 0, ph), mode="replicate") * 255
    r, g, bl = v[:, 0], v[:, 1], v[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * bl
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * bl
    d = _dct_matrix(x.device, x.dtype)

    def code(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        hh, ww = plane.shape[1:]
        blocks = (plane - 128).view(b, hh // 8, 8, ww // 8, 8).permute(0, 1, 3, 2, 4)      # (B, h8, w8, 8, 8)
        coef = d @ blocks @ d.T
        t = table.view(b, 1, 1, 8, 8)
        back = d.T @ (torch.round(coef / t) * t) @ d
        return back.permute(0, 1, 3, 2, 4).reshape(b, hh, ww) + 128

    y = code(y, tables[:, 0])
    chroma = []
    for plane in (cb, cr):
        small = F.avg_pool2d(plane.unsqueeze(1), 2)[:, 0]
        small = code(small, tables[:, 1])
        chroma.append(F.interpolate(small.unsqueeze(1), scale_factor=2, mode="bilinear", align_corners=False)[:, 0])
    cb, cr = chroma
    rgb = torch.stack([y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                       y + 1.772 * (cb - 128)], 1)[:, :, :h, :w]
    return (rgb / 255).clamp(0, 1)


def occlude(x, gen, p=0.25):
    """1-2 rectangles of 0.1-0.35 of the side each way, each filled with one random colour (as
    albumentations' CoarseDropout with ``fill="random_uniform"``, the loader's group)."""
    b, c, h, w = x.shape
    dev = x.device
    on = _chance(gen, b, p, dev)
    out = x
    for hole in range(2):
        use = on & (_chance(gen, b, 0.5, dev) if hole else torch.ones(b, dtype=torch.bool, device=dev))
        hh = (_uniform(gen, b, 0.1, 0.35, dev) * h).view(-1, 1, 1)
        ww = (_uniform(gen, b, 0.1, 0.35, dev) * w).view(-1, 1, 1)
        y0 = _uniform(gen, b, 0, 1, dev).view(-1, 1, 1) * (h - hh)
        x0 = _uniform(gen, b, 0, 1, dev).view(-1, 1, 1) * (w - ww)
        rows = torch.arange(h, device=dev, dtype=x.dtype).view(1, -1, 1)
        cols = torch.arange(w, device=dev, dtype=x.dtype).view(1, 1, -1)
        inside = (rows >= y0) & (rows < y0 + hh) & (cols >= x0) & (cols < x0 + ww) & use.view(-1, 1, 1)
        fill = torch.rand((b, c, 1, 1), generator=gen, device=dev, dtype=x.dtype)
        out = torch.where(inside.unsqueeze(1), fill.expand_as(x), out)
    return out


_OPS = {"color": color, "gray": gray, "blur": blur, "noise": noise, "jpeg": jpeg, "downscale": downscale,
        "occlude": occlude}


class DevicePhotometric:
    """The enabled groups in :data:`PHOTOMETRIC_GROUPS` order, on a float RGB batch in [0, 1]."""

    def __init__(self, disabled: tuple[str, ...] = (), gray_prob: float = GRAY_PROB):
        unknown = set(disabled) - set(PHOTOMETRIC_GROUPS)
        if unknown:
            raise ValueError(f"unknown augmentation group(s) {sorted(unknown)}; known: {PHOTOMETRIC_GROUPS}")
        self.groups = [g for g in PHOTOMETRIC_GROUPS if g not in disabled]
        self.gray_prob = gray_prob

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = x.float()
        for name in self.groups:
            x = _OPS[name](x, gen, self.gray_prob) if name == "gray" else _OPS[name](x, gen)
        return x
