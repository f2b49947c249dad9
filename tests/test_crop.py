import numpy as np
import pytest

from landmark3d.crop import CROP_SCALE, crop_from_box, crop_from_points, points_box


def test_crop_round_trip_subpixel():
    rng = np.random.default_rng(0)
    for angle in (0.0, 30.0, -70.0):
        crop = crop_from_box([40, 60, 140, 180], 128, angle_deg=angle, shift_xy=(0.05, -0.1))
        pts = rng.uniform(0, 300, (70, 2))
        np.testing.assert_allclose(crop.to_image(crop.to_crop(pts)), pts, atol=1e-9)
        np.testing.assert_allclose(crop.denormalize(crop.normalize(pts)), pts, atol=1e-9)


def test_box_maps_to_crop_centre_and_scale():
    crop = crop_from_box([0, 0, 100, 50], 140)
    # centre of the box -> centre of the crop (pixel-centre convention)
    np.testing.assert_allclose(crop.to_crop(np.array([50.0, 25.0])), [69.5, 69.5])
    assert crop.scale == pytest.approx(140 / (CROP_SCALE * 100))
    # normalised coordinates: crop edges at -1 and +1
    np.testing.assert_allclose(crop.normalize(np.array([-0.5, 139.5])), [-1.0, 1.0])


def test_rotation_sign_matches_opencv():
    import cv2

    crop = crop_from_box([0, 0, 100, 100], 100, scale=1.0, angle_deg=20)
    ref = cv2.getRotationMatrix2D((50.0, 50.0), 20, 1.0)
    np.testing.assert_allclose(crop.matrix[:, :2], ref[:, :2], atol=1e-12)


def test_warp_places_a_marked_pixel_where_to_crop_says():
    img = np.zeros((400, 400, 3), np.uint8)
    img[200, 150] = 255
    crop = crop_from_box([100, 120, 260, 280], 224, angle_deg=15)  # scale > 1: plain warp
    out = crop.warp(img)
    y, x = np.unravel_index(out[..., 0].argmax(), out.shape[:2])
    np.testing.assert_allclose([x, y], crop.to_crop(np.array([150.0, 200.0])), atol=1.0)


def test_shrinking_warp_is_antialiased_and_placed_right():
    img = np.zeros((3000, 3000, 3), np.uint8)
    img[1000:1100, 1400:1500] = 255  # a 100 px square -> ~5 px in the crop
    crop = crop_from_box([1000, 800, 2000, 1800], 64)
    out = crop.warp(img).astype(float)[..., 0]
    cy, cx = np.array(np.nonzero(out > 0)).mean(axis=1)
    np.testing.assert_allclose([cx, cy], crop.to_crop(np.array([1449.5, 1049.5])), atol=0.6)
    assert out.sum() == pytest.approx(255 * (100 * crop.scale) ** 2, rel=0.15)


def test_points_box_uses_the_68_ibug_points():
    pts = np.zeros((70, 2))
    pts[:68] = np.random.default_rng(0).uniform(10, 20, (68, 2))
    pts[68:] = 1000
    assert points_box(pts).max() <= 20
    c = crop_from_points(pts, 64)
    assert c.size == 64
