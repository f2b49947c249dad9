import json

import numpy as np
import pytest

from landmark3d.results import Faces


def _faces(n=2, with_3d=True):
    rng = np.random.default_rng(0)
    return Faces(
        boxes=rng.uniform(0, 100, (n, 4)).astype(np.float32),
        scores=rng.uniform(0, 1, n).astype(np.float32),
        landmarks=rng.uniform(0, 100, (n, 70, 2)).astype(np.float32),
        sigma=rng.uniform(0.5, 3, (n, 70)).astype(np.float32),
        landmarks_3d=rng.normal(size=(n, 70, 3)).astype(np.float32) if with_3d else None,
        pose=rng.uniform(-40, 40, (n, 3)).astype(np.float32) if with_3d else None,
        image_size=(120, 100), source="x.jpg", model="m",
    )


@pytest.mark.parametrize("with_3d", [True, False])
def test_json_round_trip(with_3d):
    f = _faces(with_3d=with_3d)
    g = Faces.from_json(f.to_json())
    for name in ("boxes", "scores", "landmarks", "sigma", "landmarks_3d", "pose"):
        a, b = getattr(f, name), getattr(g, name)
        if a is None:
            assert b is None
        else:
            np.testing.assert_allclose(a, b, atol=1e-3)
    assert g.image_size == (120, 100) and g.source == "x.jpg"


def test_empty_round_trip_and_keys():
    e = Faces.empty(image_size=(5, 6))
    d = json.loads(e.to_json())
    assert d["faces"] == [] and d["image_size"] == {"height": 5, "width": 6}
    assert len(Faces.from_json(e.to_json())) == 0


def test_shape_checks_say_what_was_expected():
    with pytest.raises(ValueError, match=r"landmarks: expected shape \(1, 70, 2\)"):
        Faces(boxes=np.zeros((1, 4)), scores=np.zeros(1), landmarks=np.zeros((1, 68, 2)))


def test_pts_is_one_based():
    f = _faces(1, with_3d=False)
    lines = f.to_pts(0).splitlines()
    x, y = map(float, lines[3].split())
    assert x == pytest.approx(f.landmarks[0, 0, 0] + 1, abs=1e-3)
    assert len(lines) == 68 + 4


def test_plot_returns_a_new_image_with_colour_bar():
    f = _faces(1, with_3d=False)
    img = np.zeros((120, 100, 3), np.uint8)
    out = f.plot(img)
    assert out.shape[0] == 120 and out.shape[1] > 100 and out.any()
    assert not img.any()
    # boxes off the picture, so only contours (grey) and landmarks (coloured) are in view
    f = Faces(boxes=np.array([[-50, -50, -10, -10]], np.float32), scores=f.scores, landmarks=f.landmarks, sigma=f.sigma)

    def coloured(a):
        a = a.astype(int)
        return int(((a.max(2) - a.min(2)) > 30).sum())

    hidden = f.plot(img, hide_above=0.0, colour_bar=False)
    shown = f.plot(img, colour_bar=False)
    assert hidden.shape == img.shape
    assert coloured(hidden) == 0 and coloured(shown) > 100
