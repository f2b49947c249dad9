"""Metrics on hand-computed cases (landmark3d.evaluate.metrics)."""
import numpy as np
import pytest

from landmark3d.evaluate import metrics


def square_face():
    """A 'face' of 68 points: points 0..67 on a 10 x 40 box, eye corners 36/45 at distance 8."""
    gt = np.zeros((68, 2))
    gt[:, 0] = np.linspace(0, 10, 68)
    gt[:, 1] = np.linspace(0, 40, 68)
    gt[36] = [1.0, 5.0]
    gt[45] = [9.0, 5.0]
    return gt


def test_point_errors_and_nme_hand_computed():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]]])  # errors 5, 0, 2
    np.testing.assert_allclose(metrics.point_errors(pred, gt), [[5.0, 0.0, 2.0]])
    np.testing.assert_allclose(metrics.nme(pred, gt, [7.0]), [1 / 3])        # (5+0+2)/3/7
    np.testing.assert_allclose(metrics.nme(pred, gt, [2.0], indices=[0, 2]), [1.75])  # (5+2)/2/2


def test_box_size_is_sqrt_w_h():
    gt = square_face()[None]
    np.testing.assert_allclose(metrics.box_size(gt), [20.0])   # sqrt(10 * 40)


def test_interocular_uses_outer_corners_36_45():
    np.testing.assert_allclose(metrics.interocular(square_face()[None]), [8.0])


def test_nme_with_box_normaliser_end_to_end():
    gt = square_face()
    pred = gt + [0.6, 0.8]   # every point 1 px off
    v = metrics.nme(pred[None], gt[None], metrics.box_size(gt[None]))
    np.testing.assert_allclose(v, [1 / 20])


def test_missed_prediction_scores_inf_and_fails():
    gt = np.zeros((2, 2, 2))
    pred = np.zeros((2, 2, 2))
    pred[1, 0] = np.nan
    v = metrics.nme(pred, gt, [1.0, 1.0])
    assert v[0] == 0 and np.isinf(v[1])
    assert metrics.failure_rate(v) == 0.5
    assert metrics.finite_mean(v) == 0.0


def test_shape_and_normaliser_errors():
    with pytest.raises(ValueError, match="same shape"):
        metrics.point_errors(np.zeros((1, 3, 2)), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="> 0"):
        metrics.nme(np.zeros((1, 3, 2)), np.zeros((1, 3, 2)), [0.0])
    with pytest.raises(ValueError, match=r"\(N, K, 2\)"):
        metrics.box_size(np.zeros((3, 3)))


def test_failure_rate_threshold_is_strictly_greater():
    assert metrics.failure_rate([0.05, 0.10, 0.1001, 0.5]) == 0.5


def test_auc_exact_values():
    assert metrics.auc([0.0, 0.0]) == pytest.approx(1.0)
    assert metrics.auc([0.05]) == pytest.approx(0.5)
    assert metrics.auc([0.02, 0.2, np.inf]) == pytest.approx(0.8 / 3)   # (0.08/0.1 + 0 + 0) / 3
    # the closed form agrees with integrating the CED numerically
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 0.15, 200)
    t, frac = metrics.ced(v, steps=20001)
    assert metrics.auc(v) == pytest.approx(np.trapezoid(frac, t) / 0.1, abs=1e-4)


def test_ced_fractions():
    t, frac = metrics.ced([0.01, 0.03, np.inf, 0.2], max_error=0.04, steps=5)   # t = 0, .01, .02, .03, .04
    np.testing.assert_allclose(t, [0, 0.01, 0.02, 0.03, 0.04])
    np.testing.assert_allclose(frac, [0, 0.25, 0.25, 0.5, 0.5])


def test_yaw_bins_and_balanced_mean():
    nme = np.array([0.01, 0.03, 0.02, 0.04, 0.09, np.inf])
    yaw = np.array([0.0, 29.9, 30.0, -45.0, 95.0, 70.0])  # 95 goes to the last bin, sign ignored
    out = metrics.yaw_bins(nme, yaw)
    assert out["count"] == [2, 2, 2]
    assert out["[0,30)"] == pytest.approx(0.02)
    assert out["[30,60)"] == pytest.approx(0.03)
    assert out["[60,90]"] == pytest.approx(0.09)    # the missed face is left out of the mean
    assert out["balanced"] == pytest.approx((0.02 + 0.03 + 0.09) / 3)
    assert out["all"] == pytest.approx(np.mean([0.01, 0.03, 0.02, 0.04, 0.09]))


def test_empty_yaw_bin_gives_nan():
    out = metrics.yaw_bins([0.01], [10.0])
    assert np.isnan(out["[30,60)"]) and np.isnan(out["balanced"])


def test_median_offset_reveals_one_pixel_shift():
    gt = np.random.default_rng(0).uniform(0, 100, (3, 68, 2))
    pred = gt - 1.0
    pred[0, 20] += 50.0                                   # one outlier does not move the median
    np.testing.assert_allclose(metrics.median_offset(pred, gt, np.arange(17, 68)), [-1.0, -1.0])
    pred[1] = np.nan                                      # missed faces are skipped
    np.testing.assert_allclose(metrics.median_offset(pred, gt), [-1.0, -1.0])


def test_gaussian_coverage_values():
    np.testing.assert_allclose(metrics.gaussian_coverage([1, 2, 3]), [0.3935, 0.8647, 0.9889], atol=1e-4)


def test_sigma_calibration_hand_computed():
    gt = np.zeros((1, 4, 2))
    pred = np.array([[[0.5, 0], [1.5, 0], [2.5, 0], [4.0, 0]]])   # errors 0.5, 1.5, 2.5, 4
    out = metrics.sigma_calibration(pred, gt, np.ones((1, 4)))
    assert out["observed"] == [0.25, 0.5, 0.75]
    assert out["points"] == 4
    out2 = metrics.sigma_calibration(pred, gt, 2 * np.ones((1, 4)))   # twice the sigma: 0.25, 0.75, 1.25, 2
    assert out2["observed"] == [0.5, 1.0, 1.0]


def test_sigma_calibration_of_a_true_gaussian_matches_theory():
    rng = np.random.default_rng(3)
    sigma = rng.uniform(0.5, 3.0, (2000, 70))
    gt = np.zeros((2000, 70, 2))
    pred = rng.normal(size=(2000, 70, 2)) * sigma[..., None]
    out = metrics.sigma_calibration(pred, gt, sigma)
    np.testing.assert_allclose(out["observed"], out["expected"], atol=0.01)


def test_per_point_nme_skips_missed_faces():
    gt = np.zeros((3, 2, 2))
    pred = np.array([[[1.0, 0], [0, 2.0]], [[3.0, 0], [0, 0]], [[np.nan, 0], [0, 0]]])
    np.testing.assert_allclose(metrics.per_point_nme(pred, gt, [1.0, 2.0, 1.0]), [(1 + 1.5) / 2, (2 + 0) / 2])


def test_calibrating_sigma_scale_recovers_a_known_miscalibration():
    rng = np.random.default_rng(5)
    sigma = rng.uniform(0.5, 3.0, (3000, 70))
    gt = np.zeros((3000, 70, 2))
    pred = rng.normal(size=(3000, 70, 2)) * (1.8 * sigma[..., None])   # true spread 1.8x the claim
    out = metrics.sigma_calibration(pred, gt, sigma)
    assert out["calibrating_scale"] == pytest.approx(1.8, rel=0.02)
    fixed = metrics.sigma_calibration(pred, gt, sigma * out["calibrating_scale"])
    np.testing.assert_allclose(fixed["observed"], fixed["expected"], atol=0.01)


def test_aflw_regions_split_the_68_point_error():
    """The report's regions (schema.REGIONS) cover the 68 points once each, and their NMEs,
    weighted by their point counts, give back the 68-point NME in every yaw bin; an error put
    on the jaw alone shows in the jaw's row only."""
    from landmark3d.evaluate.protocols import score
    from landmark3d.schema import REGIONS

    assert sorted(i for a, b in REGIONS.values() for i in range(a, b)) == list(range(68))
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (9, 70, 2))
    pred = gt + rng.normal(0, 2, gt.shape)
    yaw = np.array([5, 10, 20, 35, 40, 50, 65, 80, 89.0])
    rep = score("aflw2000-3d", gt, pred, yaw_abs_deg=yaw)
    bins = rep["rows"][0]["yaw_bins"]
    for name in ("[0,30)", "[30,60)", "[60,90]", "balanced"):
        total = sum((b - a) * rep["regions"][r][name] for r, (a, b) in REGIONS.items()) / 68
        assert total == pytest.approx(bins[name])
    jaw_only = gt.copy()
    jaw_only[:, :17] += 3.0
    rep = score("aflw2000-3d", gt, jaw_only, yaw_abs_deg=yaw)
    assert rep["regions"]["jaw"]["balanced"] > 0
    assert all(rep["regions"][r]["balanced"] == 0 for r in REGIONS if r != "jaw")
    assert score("300w", gt, pred)["regions"] is None
