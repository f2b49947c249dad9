"""The label adapter (landmark3d.label_adapter): fitting, applying, files, and the Detector's use."""
import json

import numpy as np
import pytest

from conftest import FixedBoxDetector, make_tiny_onnx
from landmark3d import Detector
from landmark3d.errors import ModelLoadError
from landmark3d.label_adapter import DEFAULT_POINTS, LabelAdapter, face_frames, fit
from landmark3d.models.head_pose import landmarks_3d_and_pose, template
from landmark3d.pose import euler_to_matrix
from landmark3d.schema import FLIP_PERM


def _faces(n, rng):
    """n faces of the template seen in random poses, sizes and places: (2D, 3D, pose)."""
    tpl = template()
    poses = np.stack([rng.uniform(-80, 80, n), rng.uniform(-30, 30, n), rng.uniform(-20, 20, n)], 1)
    lm2, z = [], []
    for yaw, pitch, roll in poses:
        s = rng.uniform(8, 30)
        p = s * tpl @ euler_to_matrix(yaw, pitch, roll).T + [rng.uniform(100, 300), rng.uniform(100, 300), 0]
        lm2.append(p[:, :2])
        z.append(p[:, 2])
    lm3, pose = landmarks_3d_and_pose(np.array(lm2), np.array(z))
    return np.array(lm2), lm3, pose


def test_fit_recovers_known_symmetric_offsets_in_every_pose():
    """Labels made by moving the jaw and brows by known head-frame offsets (mirror-symmetric) from
    faces in poses up to profile: the fit finds the offsets, and applying them lands on the labels
    in each pose (not only frontal: a depth offset shows on turned faces only)."""
    if template() is None:
        pytest.skip("this installation has no pose template")
    rng = np.random.default_rng(0)
    lm, lm3, pose = _faces(60, rng)
    true = rng.normal(0, 0.3, (70, 3))
    true = 0.5 * (true + true[FLIP_PERM] * [-1, 1, 1])    # mirror-symmetric, as our definitions are
    truth = LabelAdapter(DEFAULT_POINTS, true[list(DEFAULT_POINTS)])
    labels, _ = truth.apply(lm, lm3, pose, template())
    labels[:5, :, :] += 40.0                               # a few wild faces: the robust loss ignores them
    got = fit(lm, lm3, pose, labels, template(), ridge=0.0)
    np.testing.assert_allclose(got.offsets, truth.offsets, atol=0.02)
    moved, moved3 = got.apply(lm, lm3, pose, template())
    assert np.abs(moved[5:] - labels[5:]).max() < 0.5      # px, faces 8-30 px per cm
    np.testing.assert_allclose(moved[:, 27:], lm[:, 27:], atol=1e-4)  # the other points stay (float32)
    np.testing.assert_allclose(moved3[..., :2], moved - lm + lm3[..., :2], atol=1e-3)


def test_fitted_offsets_are_mirror_symmetric():
    rng = np.random.default_rng(1)
    if template() is None:
        pytest.skip("this installation has no pose template")
    lm, lm3, pose = _faces(30, rng)
    labels = lm + rng.normal(0, 2.0, lm.shape)
    a = fit(lm, lm3, pose, labels, template())
    d = dict(zip(a.points, a.offsets))
    for i in a.points:
        np.testing.assert_allclose(d[int(FLIP_PERM[i])], d[i] * [-1, 1, 1], atol=1e-12)


def test_face_frames_scale_is_pixels_per_template_unit():
    if template() is None:
        pytest.skip("this installation has no pose template")
    lm, lm3, pose = _faces(5, np.random.default_rng(2))
    rot, scale = face_frames(lm3, pose, template())
    tpl = template() - template()[:68].mean(0)
    for k in range(5):
        np.testing.assert_allclose(scale[k] * tpl[:68] @ rot[k].T, lm3[k, :68] - lm3[k, :68].mean(0), atol=1e-2)


def test_file_round_trip_and_errors(tmp_path):
    a = LabelAdapter((0, 16, 8), np.array([[0.1, 0.2, 0.3], [-0.1, 0.2, 0.3], [0.0, -0.1, 0.0]]), {"data": "x"})
    a.save(tmp_path / "a.adapter.json")
    b = LabelAdapter.load(tmp_path / "a.adapter.json")
    assert b.points == a.points and b.source == {"data": "x"}
    np.testing.assert_allclose(b.offsets, a.offsets)
    (tmp_path / "bad.json").write_text(json.dumps({"format": 1, "points": [0, 1], "offsets": [[0, 0, 0]]}))
    with pytest.raises(ValueError, match="bad.json.*refit"):
        LabelAdapter.load(tmp_path / "bad.json")


def test_detector_uses_the_adapter_beside_the_model_and_can_leave_it(tmp_path, face_image):
    """'auto' (the default) takes <model>.adapter.json when it exists and moves only its points;
    False leaves them; True without the file, or a model without depth, is an error."""
    path = make_tiny_onnx(tmp_path / "z.onnx", channels=("x", "y", "log_sigma", "z"))
    box = FixedBoxDetector([[40, 50, 120, 150, 0.9]])
    plain = Detector(path, box)(face_image)
    assert Detector(path, box).label_adapter is None            # no file: nothing to apply
    with pytest.raises(ModelLoadError, match="no label adapter"):
        Detector(path, box, label_adapter=True)
    LabelAdapter((0, 16), np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])).save(tmp_path / "z.adapter.json")
    moved = Detector(path, box)(face_image)
    np.testing.assert_array_equal(moved.landmarks[:, 1:16], plain.landmarks[:, 1:16])
    np.testing.assert_array_equal(moved.landmarks[:, 17:], plain.landmarks[:, 17:])
    assert np.abs(moved.landmarks[:, [0, 16]] - plain.landmarks[:, [0, 16]]).max() > 0.1
    off = Detector(path, box, label_adapter=False)(face_image)
    np.testing.assert_array_equal(off.landmarks, plain.landmarks)
    # fitted to another model file: 'auto' warns and leaves it, an explicit request fails
    LabelAdapter((0, 16), np.zeros((2, 3)), {"model_sha256": "0" * 64}).save(tmp_path / "z.adapter.json")
    with pytest.warns(UserWarning, match="another version"):
        assert Detector(path, box).label_adapter is None
    with pytest.raises(ModelLoadError, match="refit"):
        Detector(path, box, label_adapter=True)
    flat = make_tiny_onnx(tmp_path / "flat.onnx")
    (tmp_path / "flat.adapter.json").write_text((tmp_path / "z.adapter.json").read_text())
    with pytest.raises(ModelLoadError, match="depth"):
        Detector(flat, box, label_adapter=True)
    assert Detector(flat, box).label_adapter is None            # 'auto' quietly needs depth too


def test_shipped_models_have_symmetric_adapters_fitted_off_the_evaluation_set():
    from landmark3d.models.registry import resolve

    for name in ("mobilenetv2_gnll", "resnet34_gnll"):
        a = LabelAdapter.load(resolve(name).with_suffix(".adapter.json"))
        assert a.points == DEFAULT_POINTS and "facesynthetics" in a.source["data"]
        assert a.source["model_file"] == f"{name}.onnx"
        assert Detector(name, FixedBoxDetector(np.zeros((0, 5)))).label_adapter is not None  # fitted to this file
        d = dict(zip(a.points, a.offsets))
        for i in a.points:
            np.testing.assert_allclose(d[int(FLIP_PERM[i])], d[i] * [-1, 1, 1], atol=2e-5)
        assert np.abs(a.offsets).max() < 1.0                    # cm: a nudge, not a new face
