import numpy as np
import pytest

from landmark3d import schema


def test_flip_permutation_is_an_involution():
    assert np.array_equal(schema.FLIP_PERM[schema.FLIP_PERM], np.arange(70))
    assert schema.FLIP_PERM[68] == 69 and schema.FLIP_PERM[36] == 45 and schema.FLIP_PERM[8] == 8


def test_flip_points_twice_is_identity():
    pts = np.random.default_rng(0).uniform(0, 100, (3, 70, 2))
    once = schema.flip_points(pts, 101)
    assert not np.allclose(once, pts)
    np.testing.assert_allclose(schema.flip_points(once, 101), pts)


def test_flip_maps_left_eye_to_right_eye_position():
    pts = np.zeros((70, 2))
    pts[36] = [10.0, 5.0]
    flipped = schema.flip_points(pts, 50)
    np.testing.assert_allclose(flipped[45], [39.0, 5.0])  # 50 - 1 - 10


def test_names_and_groups_cover_all_points():
    names = schema.landmark_names()
    assert len(names) == 70 and len(set(names)) == 70
    covered = sorted(i for a, b in schema.GROUPS.values() for i in range(a, b))
    assert covered == list(range(70))


def test_pupils_from_eyes():
    pts = np.random.default_rng(1).normal(size=(68, 2))
    out = schema.pupils_from_eyes(pts)
    np.testing.assert_allclose(out[68], pts[36:42].mean(0))
    with pytest.raises(ValueError, match="68"):
        schema.pupils_from_eyes(np.zeros((70, 2)))
