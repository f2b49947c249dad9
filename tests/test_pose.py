import numpy as np
import pytest

from landmark3d.pose import euler_to_matrix, fit_rotation, matrix_to_euler


@pytest.mark.parametrize("ypr", [(0, 0, 0), (30, -10, 5), (-80, 20, -40), (10, 60, 170)])
def test_euler_round_trip(ypr):
    r = euler_to_matrix(*ypr)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(matrix_to_euler(r), ypr, atol=1e-9)


def test_sign_convention():
    nose = np.array([0.0, 0.0, -1.0])  # towards the camera
    assert (euler_to_matrix(30, 0, 0) @ nose)[0] < 0   # yaw > 0: nose to the image left
    assert (euler_to_matrix(0, 30, 0) @ nose)[1] > 0   # pitch > 0: nose down
    right = np.array([1.0, 0.0, 0.0])
    assert (euler_to_matrix(0, 0, 30) @ right)[1] > 0  # roll > 0: clockwise as displayed


def test_fit_rotation_recovers_a_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(68, 3))
    r = euler_to_matrix(25, -15, 8)
    dst = 3.0 * src @ r.T + [5, -2, 7]
    np.testing.assert_allclose(fit_rotation(src, dst), r, atol=1e-9)
