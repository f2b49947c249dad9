import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from landmark3d.train.losses import LOG_SIGMA_MAX, LOG_SIGMA_MIN, gnll, landmark_loss, mse


def brute_force_nll(d_px: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """-log of the isotropic 2D Gaussian density written out, per point."""
    density = np.exp(-(d_px ** 2).sum(-1) / (2 * sigma ** 2)) / (2 * math.pi * sigma ** 2)
    return -np.log(density)


def test_gnll_equals_gaussian_nll_minus_log_2pi():
    rng = np.random.default_rng(0)
    size = 128
    pred = rng.uniform(-1, 1, (3, 70, 2))
    target = pred + rng.normal(0, 0.02, pred.shape)
    s = rng.uniform(-1, 2, (3, 70))
    got = float(gnll(torch.tensor(pred), torch.tensor(s), torch.tensor(target), size))
    d_px = (pred - target) * size / 2
    want = (brute_force_nll(d_px, np.exp(s)) - math.log(2 * math.pi)).mean()
    assert got == pytest.approx(want, rel=1e-9)


def test_gnll_minimised_at_sigma_squared_half_error_squared():
    # d/ds [2s + r^2 / (2 e^{2s})] = 0  <=>  sigma^2 = r^2 / 2
    r = 3.0
    pred = torch.zeros(1, 70, 2)
    target = torch.zeros(1, 70, 2)
    target[..., 0] = r / 64  # 3 px at size 128
    s = torch.full((1, 70), math.log(r / math.sqrt(2)), requires_grad=True)
    gnll(pred, s, target, 128).backward()
    assert float(s.grad.abs().max()) < 1e-6


def test_gnll_clamps_log_sigma():
    pred, target = torch.zeros(1, 70, 2), torch.full((1, 70, 2), 0.5)
    lo = gnll(pred, torch.full((1, 70), -50.0), target, 64)
    lo_clamped = gnll(pred, torch.full((1, 70), LOG_SIGMA_MIN), target, 64)
    hi = gnll(pred, torch.full((1, 70), 50.0), target, 64)
    hi_clamped = gnll(pred, torch.full((1, 70), LOG_SIGMA_MAX), target, 64)
    assert torch.isfinite(lo) and float(lo) == pytest.approx(float(lo_clamped))
    assert float(hi) == pytest.approx(float(hi_clamped))


def test_mse_is_mean_squared_normalised_error():
    pred = torch.zeros(2, 70, 2)
    target = torch.full((2, 70, 2), 0.1)
    assert float(mse(pred, target)) == pytest.approx(0.01)


def test_landmark_loss_z_only_where_labelled_and_errors():
    out = torch.zeros(2, 70, 4)
    xy = torch.zeros(2, 70, 2)
    z = torch.ones(2, 70)
    has = torch.tensor([True, False])
    parts = landmark_loss(out, xy, ("x", "y", "log_sigma", "z"), "gnll", 64, z, has, z_weight=2.0)
    assert float(parts["z"]) == pytest.approx(1.0)
    assert float(parts["loss"]) == pytest.approx(float(parts["xy"]) + 2.0)
    with pytest.raises(ValueError, match="log_sigma"):
        landmark_loss(out[..., :2], xy, ("x", "y"), "gnll", 64)
    with pytest.raises(ValueError, match="unknown loss"):
        landmark_loss(out, xy, ("x", "y", "log_sigma", "z"), "l1", 64)
