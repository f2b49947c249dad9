"""Batch photometric augmentation on the training device (train/device_photometric.py)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from landmark3d.data.augment import PHOTOMETRIC_GROUPS  # noqa: E402
from landmark3d.train import device_photometric as D  # noqa: E402


def _faces(n=4, size=64):
    """Smooth synthetic RGB images with edges (a disc on a gradient), float in [0, 1]."""
    yy, xx = np.mgrid[:size, :size] / size
    out = []
    for k in range(n):
        disc = ((xx - 0.5) ** 2 + (yy - 0.45) ** 2 < (0.2 + 0.03 * k) ** 2)
        img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.0 * xx], -1)
        img[disc] = (0.8, 0.6, 0.5)
        out.append(img)
    return torch.tensor(np.stack(out), dtype=torch.float32).permute(0, 3, 1, 2).contiguous()


def test_every_group_is_known_and_each_changes_the_image_within_range():
    assert set(D._OPS) == set(PHOTOMETRIC_GROUPS)
    x = _faces()
    for name, op in D._OPS.items():
        y = op(x, torch.Generator().manual_seed(3), 1.0)
        assert y.shape == x.shape and y.dtype == x.dtype, name
        assert float(y.min()) >= 0 and float(y.max()) <= 1 + 1e-6, name
        assert float((y - x).abs().mean()) > 1e-3, f"{name} left the batch unchanged at p=1"


def test_all_groups_off_is_identity_and_same_seed_same_output():
    x = _faces()
    off = D.DevicePhotometric(disabled=PHOTOMETRIC_GROUPS)
    assert torch.equal(off(x, torch.Generator().manual_seed(0)), x)
    aug = D.DevicePhotometric()
    a = aug(x, torch.Generator().manual_seed(7))
    b = aug(x, torch.Generator().manual_seed(7))
    c = aug(torch.cat([x] * 8), torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(c[:4], c[4:8]) or not torch.equal(c[4:8], c[8:12])  # samples draw their own parameters
    with pytest.raises(ValueError, match="unknown augmentation group"):
        D.DevicePhotometric(disabled=("sepia",))


def test_jpeg_matches_a_real_jpeg_codec():
    """Our DCT round trip against OpenCV's libjpeg at the same quality: much closer to it than to
    the original (the compression's own change)."""
    x = _faces(n=2, size=96)
    img = (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    x = torch.tensor(img, dtype=torch.float32).permute(0, 3, 1, 2) / 255
    for q in (30, 75):
        ours = D.jpeg_compress(x, torch.full((2,), float(q)))
        ref = []
        for im in img:
            ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(im[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
            ref.append(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
        ref = torch.tensor(np.stack(ref), dtype=torch.float32).permute(0, 3, 1, 2) / 255
        codec_change = float((ref - x).abs().mean())
        assert codec_change > 0.002
        assert float((ours - ref).abs().mean()) < 0.5 * codec_change


def test_blur_kernels_are_normalised_and_keep_the_mean():
    k = D.blur_kernels(torch.Generator().manual_seed(0), 50, "cpu")
    assert k.shape == (50, D.KERNEL, D.KERNEL)
    assert torch.allclose(k.sum((1, 2)), torch.ones(50), atol=1e-5) and float(k.min()) >= 0
    x = _faces()
    y = D.blur(x, torch.Generator().manual_seed(1), p=1.0)
    assert torch.allclose(y.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=0.01)


def test_occluders_cover_part_of_the_image_only():
    x = _faces(n=16)
    y = D.occlude(x, torch.Generator().manual_seed(2), p=1.0)
    changed = ((y - x).abs().sum(1) > 1e-6).float().mean((1, 2))
    assert float(changed.min()) > 0.005 and float(changed.max()) < 0.25
    # one colour per hole, like the loader's CoarseDropout(fill="random_uniform"): an occluder is
    # a flat object, not noise (a single hole's pixels take at most two colours where two overlap)
    for k in range(16):
        hole = (y[k] - x[k]).abs().sum(0) > 1e-6
        colours = torch.unique(y[k][:, hole].T, dim=0)
        assert 1 <= len(colours) <= 2


def test_downscale_matches_an_explicit_down_and_up_at_each_samples_level():
    import torch.nn.functional as F

    x = _faces(n=12, size=40)
    gen = torch.Generator().manual_seed(5)
    y = D.downscale(x, gen, p=0.5)
    gen = torch.Generator().manual_seed(5)                                 # the same draws, read back here
    on = torch.rand(12, generator=gen) < 0.5
    level = torch.randint(0, len(D.DOWNSCALE_LEVELS), (12,), generator=gen)
    assert 0 < int(on.sum()) < 12
    for i in range(12):
        if not on[i]:
            assert torch.equal(y[i], x[i])
            continue
        s = D.DOWNSCALE_LEVELS[int(level[i])]
        small = F.interpolate(x[i:i + 1], size=(round(40 * s),) * 2, mode="area")
        ref = F.interpolate(small, size=(40, 40), mode="bilinear", align_corners=False)[0]
        assert torch.allclose(y[i], ref, atol=1e-6) and not torch.allclose(y[i], x[i], atol=1e-3)
