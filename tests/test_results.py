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


def test_plot_draws_dots_and_box_where_they_are():
    from landmark3d.viz import BOX_COLOUR

    lm = np.full((1, 70, 2), 200.0, np.float32)
    lm[0, 30] = [60.0, 80.0]  # one isolated point
    f = Faces(boxes=np.array([[20, 30, 150, 170]], np.float32), scores=np.ones(1, np.float32), landmarks=lm,
              sigma=np.ones((1, 70), np.float32))
    out = f.plot(np.zeros((300, 300, 3), np.uint8), colour_bar=False).astype(int)
    patch = out[77:84, 57:64]
    assert ((patch.max(2) - patch.min(2)) > 30).sum() >= 9  # a filled dot of radius >= 2 px

    def near_box_colour(y, x):  # anti-aliased lines spread over a pixel or two
        return np.abs(out[y - 1:y + 2, x - 1:x + 2] - np.array(BOX_COLOUR)).max(2).min() < 40

    assert near_box_colour(100, 20) and near_box_colour(30, 80)  # left and top edges
    assert not near_box_colour(100, 100)
