"""The inference pipeline with a tiny random-weight ONNX model and a stand-in face detector."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FixedBoxDetector, make_tiny_onnx
from landmark3d import Detector, Faces
from landmark3d.errors import ImageReadError, ModelLoadError
from landmark3d.models.runtime import LandmarkModel


@pytest.fixture
def det(tiny_model):
    return Detector(tiny_model, FixedBoxDetector([[40, 50, 120, 150, 0.9]]))


def test_one_face_shapes_and_sigma_units(det, face_image):
    faces = det(face_image)
    assert isinstance(faces, Faces) and len(faces) == 1
    assert faces.landmarks.shape == (1, 70, 2) and faces.landmarks.dtype == np.float32
    assert faces.sigma.shape == (1, 70)
    assert faces.landmarks_3d is None and faces.pose is None  # the model has no z: absent, not garbage
    np.testing.assert_allclose(faces.boxes, [[40, 50, 120, 150]])
    assert faces.image_size == (200, 160)
    # the tiny model predicts log sigma ~ 0, i.e. ~1 crop pixel; in image pixels that is 1 / crop scale
    side = 1.4 * 100 * 1.0  # second pass box is similar in size to the first
    assert 0.5 * side / 32 < float(np.median(faces.sigma)) < 2.0 * side / 32


def test_same_result_for_path_array_and_pil(det, face_image, tmp_path):
    Image.fromarray(face_image).save(tmp_path / "f.png")
    a = det(face_image).landmarks
    b = det(tmp_path / "f.png").landmarks
    c = det(Image.fromarray(face_image)).landmarks
    np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(a, c, atol=1e-4)
    assert det(str(tmp_path / "f.png")).source.endswith("f.png")


def test_given_boxes_skip_detection(tiny_model, face_image):
    det = Detector(tiny_model, FixedBoxDetector(np.zeros((0, 5))))
    assert len(det(face_image)) == 0
    faces = det(face_image, boxes=[[10, 10, 80, 90], [60, 70, 150, 190]])
    assert len(faces) == 2 and np.all(faces.scores == 1)
    with pytest.raises(ValueError, match="x2 > x1"):
        det(face_image, boxes=[[10, 10, 5, 90]])


def test_zero_faces_are_empty_arrays_not_none(tiny_model, face_image):
    faces = Detector(tiny_model, FixedBoxDetector(np.zeros((0, 5))))(face_image)
    assert len(faces) == 0
    assert faces.landmarks.shape == (0, 70, 2) and faces.boxes.shape == (0, 4) and faces.scores.shape == (0,)
    assert json.loads(faces.to_json())["faces"] == []


def test_iter_batches_and_goes_on_after_bad_input(det, face_image, tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    inputs = [face_image, tmp_path / "bad.jpg", face_image, np.zeros((5, 5, 3), np.uint8)]
    out = list(det.iter(inputs, batch_size=3))
    assert len(out) == 4
    assert out[1].error and "bad.jpg" in out[1].error and len(out[1]) == 0
    np.testing.assert_allclose(out[0].landmarks, out[2].landmarks, atol=1e-5)
    np.testing.assert_allclose(out[0].landmarks, det(face_image).landmarks, atol=1e-4)
    with pytest.raises(ImageReadError, match="bad.jpg"):
        det(tmp_path / "bad.jpg")


def test_detector_instance_passes_through_and_inputs_are_not_mutated(det, face_image):
    before = face_image.copy()
    det(face_image)
    np.testing.assert_array_equal(face_image, before)


def test_second_pass_guard_keeps_first_pass_when_landmarks_fly_off(tmp_path, face_image):
    # A model whose landmarks span far more than its crop: the refined box would be > 2x larger.
    path = make_tiny_onnx(tmp_path / "wide.onnx")
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    for init in m.graph.initializer:
        if init.name == "b":
            b = numpy_helper.to_array(init).reshape(70, 3).copy()
            b[:, :2] *= 6.0
            init.CopyFrom(numpy_helper.from_array(b.reshape(-1), "b"))
    onnx.save(m, str(path))
    box = [[40, 50, 120, 150, 1.0]]
    refined = Detector(path, FixedBoxDetector(box))(face_image).landmarks
    first = Detector(path, FixedBoxDetector(box), refine=False)(face_image).landmarks
    np.testing.assert_allclose(refined, first, atol=1e-4)


def test_second_pass_changes_result_for_a_shifted_box(tiny_model, face_image):
    box = [[40, 50, 120, 150, 1.0]]
    a = Detector(tiny_model, FixedBoxDetector(box), refine=False)(face_image).landmarks
    b = Detector(tiny_model, FixedBoxDetector(box), refine=True)(face_image).landmarks
    assert np.abs(a - b).max() > 0.01


def test_model_errors(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a model")
    with pytest.raises(ModelLoadError, match="junk.onnx"):
        Detector(tmp_path / "junk.onnx")
    with pytest.raises(ModelLoadError, match="no such model"):
        Detector(tmp_path / "nothing.onnx")
    with pytest.raises(ModelLoadError, match="Did you mean 'mobilenetv2_gnll'"):
        Detector("mobilenetv2_gnl")


def test_wrong_schema_is_refused(tmp_path):
    import onnx
    from onnx import helper

    from landmark3d.models.spec import METADATA_KEY

    path = make_tiny_onnx(tmp_path / "old.onnx")
    m = onnx.load(str(path))
    spec = json.loads(m.metadata_props[0].value)
    spec["schema_version"] = 999
    del m.metadata_props[:]
    helper.set_model_props(m, {METADATA_KEY: json.dumps(spec)})
    onnx.save(m, str(path))
    with pytest.raises(ModelLoadError, match="schema v999"):
        Detector(path)


def test_depth_channel_gives_3d_and_pose(tmp_path, face_image):
    path = make_tiny_onnx(tmp_path / "z.onnx", channels=("x", "y", "log_sigma", "z"))
    faces = Detector(path, FixedBoxDetector([[40, 50, 120, 150, 0.9]]))(face_image)
    assert faces.landmarks_3d.shape == (1, 70, 3)
    np.testing.assert_allclose(faces.landmarks_3d[0, :68].mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(faces.landmarks_3d[0, :, :2] - faces.landmarks[0] ,
                               np.broadcast_to(-faces.landmarks[0, :68].mean(0), (70, 2)), atol=1e-3)


def test_huge_photo_memory_stays_bounded(tmp_path, tiny_model):
    """A 12000 x 9000 JPEG goes through the pipeline in a fresh process whose peak memory stays far
    below what decoding it whole needs (324 MB for the array alone, ~1 GB with Pillow's copies)."""
    import subprocess
    import sys

    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc/self/status (Linux only)")
    Image.new("RGB", (12000, 9000), (128, 100, 90)).save(tmp_path / "huge.jpg", quality=40)
    code = (
        "from landmark3d import Detector; "
        "det = Detector(%r); "
        "f = det(%r, boxes=[[4000, 3000, 6000, 5600]]); assert f.image_size == (9000, 12000), f.image_size; "
        "assert 4000 < f.landmarks[0, :, 0].mean() < 6000, f.landmarks[0].mean(0); "
        "print([int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    ) % (str(tiny_model), str(tmp_path / "huge.jpg"))
    # VmHWM (peak resident memory of this process image); ru_maxrss would include pytest's own peak
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    peak_mb = int(r.stdout.strip().splitlines()[-1])
    assert peak_mb < 400, f"peak RSS {peak_mb} MB"


def test_flip_average_is_mirror_equivariant(tiny_model, face_image):
    # Averaging a crop with its mirror makes the prediction for a mirrored photo exactly the mirror
    # of the prediction for the photo (up to resampling); a single pass of a random model is not.
    from landmark3d.schema import FLIP_PERM, flip_points

    h, w = face_image.shape[:2]
    box = np.array([[40.0, 50.0, 120.0, 150.0]])
    mirrored_box = np.array([[w - 1 - 120.0, 50.0, w - 1 - 40.0, 150.0]])
    mirrored = np.ascontiguousarray(face_image[:, ::-1])
    for flip_average, expect_equal in ((True, True), (False, False)):
        det = Detector(tiny_model, FixedBoxDetector(np.zeros((0, 5))), refine=False, flip_average=flip_average)
        a = det(face_image, boxes=box)
        b = det(mirrored, boxes=mirrored_box)
        err = np.abs(flip_points(b.landmarks, w) - a.landmarks).max()
        if expect_equal:
            assert err < 0.05, err
            np.testing.assert_allclose(b.sigma[:, FLIP_PERM], a.sigma, rtol=1e-3)
        else:
            assert err > 0.5, err


def test_unflip_outputs_inverts_a_mirror():
    from landmark3d.models.decode import unflip_outputs
    from landmark3d.schema import FLIP_PERM

    rng = np.random.default_rng(0)
    raw = rng.normal(size=(3, 70, 4))
    mirrored = raw[:, FLIP_PERM].copy()
    mirrored[..., 0] *= -1
    np.testing.assert_allclose(unflip_outputs(mirrored), raw)
    np.testing.assert_allclose(unflip_outputs(unflip_outputs(raw)), raw)


class _FixedOutputModel(LandmarkModel):
    """A landmark model that always answers the same raw output (x, y in crop half-sides) and
    counts the crops it is asked about."""

    def __init__(self, spec, xy):
        self.spec, self.path, self.crops = spec, Path("fixed.onnx"), 0
        self.raw = np.zeros((70, len(spec.channels)), np.float32)
        self.raw[:, :2] = xy

    def __call__(self, batch):
        self.crops += len(batch)
        return np.repeat(self.raw[None], len(batch), axis=0)


def test_auto_refine_runs_the_second_pass_only_for_crops_unlike_training(tiny_model, face_image):
    """refine='auto' (the default): landmarks that fill the crop as the crop rule would leave the
    first pass alone (one model call per face); landmarks off to one side of it, outside the
    training crops' shift, get a second pass; True always and False never run it."""
    from landmark3d.crop import CROP_SCALE

    spec = Detector(tiny_model).spec
    rng = np.random.default_rng(0)
    centred = rng.uniform(-1, 1, (70, 2)) / CROP_SCALE
    centred[:2] = [[-1, -1], [1, 1]]
    centred[:2] /= CROP_SCALE                       # the box spans the rule's crop exactly
    box = [[40, 50, 120, 150, 1.0]]
    for xy, refine, calls in ((centred, "auto", 1), (centred * 0.5 + 0.3, "auto", 2),
                              (centred, True, 2), (centred * 0.5 + 0.3, False, 1)):
        model = _FixedOutputModel(spec, xy)
        Detector(model, FixedBoxDetector(box), refine=refine)(face_image)
        assert model.crops == calls, (refine, model.crops)
