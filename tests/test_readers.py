"""Dataset readers on tiny fixtures made here: .pts, dlib XML, COCO json, AFLW2000-3D (.mat and
.npz), FaceSynthetics, and open_dataset over each. Checks on ../shared data skip when it is absent."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from landmark3d.data import aflw2000, coco68, dlib_xml, pts
from landmark3d.data.datasets import open_dataset, roi_to_landmark_box

SHARED = Path(os.environ.get("LANDMARK3D_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))


def face68(offset=(100.0, 80.0), scale=1.0):
    """68 plausible points: a jaw arc, eyes with corners 36/45 apart, the rest on a grid."""
    rng = np.random.default_rng(0)
    p = rng.uniform(10, 50, (68, 2)) * scale + offset
    p[36] = np.array([15.0, 20.0]) * scale + offset
    p[45] = np.array([45.0, 20.0]) * scale + offset
    return np.round(p, 3)


def write_image(path: Path, w=160, h=120):
    import cv2

    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 1] = 128
    assert cv2.imwrite(str(path), img)


def write_pts(path: Path, p: np.ndarray):
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in p)
    path.write_text(f"version: 1\nn_points:  {len(p)}\n{{\n{body}\n}}\n")


# ---- .pts -------------------------------------------------------------------------------------
def test_pts_is_read_1_based_by_default(tmp_path):
    p = face68()
    write_pts(tmp_path / "a.pts", p)
    np.testing.assert_allclose(pts.read_pts(tmp_path / "a.pts"), p - 1)
    np.testing.assert_allclose(pts.read_pts(tmp_path / "a.pts", base=0), p)


def test_pts_errors_name_the_file(tmp_path):
    (tmp_path / "bad.pts").write_text("version: 1\nn_points: 3\n{\n1 2\n}\n")
    with pytest.raises(ValueError, match="bad.pts.*n_points 3"):
        pts.read_pts(tmp_path / "bad.pts")
    (tmp_path / "none.pts").write_text("1 2\n3 4\n")
    with pytest.raises(ValueError, match="none.pts"):
        pts.read_pts(tmp_path / "none.pts")


def test_pts_folder_dataset(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b", "a"):
        write_pts(tmp_path / "sub" / f"{name}.pts", face68())
        write_image(tmp_path / "sub" / f"{name}.png")
    write_pts(tmp_path / "orphan.pts", face68())          # no image: skipped
    (tmp_path / "sub" / "a_occ.txt").write_text("\n".join(["1"] + ["0"] * 67))
    ds = open_dataset("300w", tmp_path)
    assert [a.name for a in ds.annotations] == ["sub/a", "sub/b"]
    a = ds.annotations[0]
    np.testing.assert_allclose(a.landmarks[:68], face68() - 1)
    np.testing.assert_allclose(a.landmarks[68], (face68() - 1)[36:42].mean(0))    # eye centre as pupil
    assert a.num_labelled == 68 and a.visibility[0] == False and a.visibility[1:].all()  # noqa: E712
    np.testing.assert_allclose(a.box, [*(face68() - 1).min(0), *(face68() - 1).max(0)])
    sample = ds[0]
    assert sample.image.shape == (120, 160, 3) and sample.landmarks.shape == (70, 2)
    ds0 = open_dataset("300w", tmp_path, label_base=0)
    np.testing.assert_allclose(ds0.annotations[0].landmarks[:68], face68())


# ---- dlib XML ---------------------------------------------------------------------------------
def test_dlib_xml(tmp_path):
    p = face68()
    parts = "".join(f"<part name='{i:02d}' x='{int(x)}' y='{int(y)}'/>" for i, (x, y) in enumerate(p))
    parts_rev = "".join(f"<part name='{i:02d}' x='{int(x)}' y='{int(y)}'/>" for i, (x, y) in reversed(list(enumerate(p))))
    xml = (f"<?xml version='1.0'?><dataset><images>"
           f"<image file='im.jpg'><box top='10' left='20' width='30' height='40'>{parts}</box>"
           f"<box top='1' left='2' width='3' height='4' ignore='1'/>"
           f"<box top='5' left='6' width='7' height='8'>{parts_rev}</box></image>"
           f"</images></dataset>")
    (tmp_path / "x_with_face_landmarks.xml").write_text(xml)
    write_image(tmp_path / "im.jpg")
    faces = dlib_xml.read_dlib_xml(tmp_path / "x_with_face_landmarks.xml")
    assert len(faces) == 3
    np.testing.assert_allclose(faces[0].box, [20, 10, 49, 49])
    np.testing.assert_allclose(faces[0].landmarks, np.floor(p))
    np.testing.assert_allclose(faces[2].landmarks, np.floor(p))     # sorted by part name
    assert faces[1].ignore and faces[1].landmarks is None
    ds = open_dataset("dlib-xml", tmp_path)
    assert [a.name for a in ds.annotations] == ["im.jpg#0", "im.jpg#1"]


def test_dlib_xml_bad_file(tmp_path):
    (tmp_path / "a.xml").write_text("<dataset>")
    with pytest.raises(ValueError, match="a.xml"):
        dlib_xml.read_dlib_xml(tmp_path / "a.xml")


# ---- COCO json --------------------------------------------------------------------------------
def test_coco68(tmp_path):
    p = face68()
    kp = np.concatenate([p, np.ones((68, 1))], axis=1)
    kp[3, 2] = 0
    data = {"images": [{"id": 7, "file_name": "imgs/f.png", "width": 160, "height": 120}],
            "annotations": [{"id": 1, "image_id": 7, "keypoints": kp.ravel().tolist(), "bbox": [10, 20, 30, 40]}]}
    (tmp_path / "imgs").mkdir()
    write_image(tmp_path / "imgs" / "f.png")
    (tmp_path / "a.json").write_text(json.dumps(data))
    faces = coco68.read_coco68(tmp_path / "a.json")
    np.testing.assert_allclose(faces[0].landmarks, p - 1)
    np.testing.assert_allclose(faces[0].box, [9, 19, 39, 59])
    assert not faces[0].visible[3] and faces[0].visible.sum() == 67
    assert faces[0].image_path == tmp_path / "imgs" / "f.png"
    ds = open_dataset("coco68", tmp_path)
    assert len(ds) == 1 and ds[0].image.shape == (120, 160, 3)
    data["annotations"][0]["keypoints"] = [1, 2, 1]
    (tmp_path / "a.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="1 keypoints, expected 68"):
        coco68.read_coco68(tmp_path / "a.json")


# ---- AFLW2000-3D --------------------------------------------------------------------------------
def write_aflw_mat(path: Path, p_1based: np.ndarray, yaw_rad: float):
    import scipy.io as sio

    pt3d = np.vstack([p_1based.T, np.arange(68)[None]])           # (3, 68) as published
    pose = np.array([[0.1, yaw_rad, 0.2, 0, 0, 0, 1.0]])
    sio.savemat(str(path), {"pt3d_68": pt3d, "Pose_Para": pose, "roi": np.array([[0, 0, 1, 1]])})


def test_aflw_published_folder(tmp_path):
    p = face68()
    write_aflw_mat(tmp_path / "image00001.mat", p, -0.5)
    write_image(tmp_path / "image00001.jpg")
    reann = tmp_path / "reann"
    reann.mkdir()
    write_pts(reann / "image00001.pts", p - 1)                     # re-annotation given as .pts
    faces = aflw2000.read_published(tmp_path, reannotated_root=reann)
    f = faces[0]
    np.testing.assert_allclose(f.landmarks, p - 1)                 # 1-based -> 0-based
    np.testing.assert_allclose(f.depth, np.arange(68))
    assert f.yaw_abs_deg == pytest.approx(np.degrees(0.5))
    # the 3DDFA box: centre of the labels' box, side sqrt(2) * longest side, rounded, clipped, then 0-based
    (x1, y1), (x2, y2) = p.min(0), p.max(0)
    half = np.sqrt(2) * max(x2 - x1, y2 - y1) / 2
    expect = np.clip(np.round([(x1 + x2) / 2 - half, (y1 + y2) / 2 - half, (x1 + x2) / 2 + half, (y1 + y2) / 2 + half]),
                     1, [160, 120, 160, 120]) - 1
    np.testing.assert_allclose(f.roi_box, expect)
    ds = open_dataset("aflw2000-3d", tmp_path, reannotated_root=reann)
    a = ds.annotations[0]
    np.testing.assert_allclose(a.references["reannotated"], p - 1)   # re-annotations are read 0-based, .pts too
    assert a.yaw_abs_deg == pytest.approx(28.6479, abs=1e-3)


def test_aflw_mat_without_labels_is_refused(tmp_path):
    import scipy.io as sio

    sio.savemat(str(tmp_path / "image00001.mat"), {"other": np.zeros(3)})
    with pytest.raises(ValueError, match="pt3d_68"):
        aflw2000.read_mat(tmp_path / "image00001.mat")


def test_aflw_npz_matches_published_reader(tmp_path):
    p = face68()
    write_aflw_mat(tmp_path / "image00001.mat", p, 0.3)
    write_image(tmp_path / "image00001.jpg")
    pub = aflw2000.read_published(tmp_path)[0]
    (tmp_path / "npz").mkdir()
    np.savez(tmp_path / "npz" / "ground_truth.npz", names=np.array(["image00001.jpg"]),
             pts68_xyz=np.concatenate([p, np.zeros((68, 1))], 1)[None].astype(np.float32),
             pts68_reannotated_xy=(p - 1)[None].astype(np.float32),
             yaw_abs_deg=np.array([np.degrees(0.3)], np.float32),
             roi_box=(pub.roi_box + 1)[None].astype(np.float32))
    f = aflw2000.read_npz(tmp_path / "npz" / "ground_truth.npz")[0]
    np.testing.assert_allclose(f.landmarks, pub.landmarks, atol=1e-4)
    np.testing.assert_allclose(f.roi_box, pub.roi_box)
    np.testing.assert_allclose(f.reannotated, p - 1, atol=1e-4)
    assert f.image_path == tmp_path / "npz" / "images" / "image00001.jpg"


def test_roi_to_landmark_box():
    np.testing.assert_allclose(roi_to_landmark_box([0, 0, 2 * np.sqrt(2), 2 * np.sqrt(2)]),
                               [np.sqrt(2) - 1, np.sqrt(2) - 1, np.sqrt(2) + 1, np.sqrt(2) + 1])


# ---- FaceSynthetics and errors --------------------------------------------------------------------
def test_facesynthetics_dataset(tmp_path):
    p70 = np.concatenate([face68(), [[1.0, 2.0], [3.0, 4.0]]])
    np.savetxt(tmp_path / "000000_ldmks.txt", p70)
    write_image(tmp_path / "000000.png")
    ds = open_dataset("facesynthetics", tmp_path)
    assert ds.annotations[0].num_labelled == 70
    np.testing.assert_allclose(ds.annotations[0].landmarks, p70)   # 0-based already


def test_open_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="did you mean 'aflw2000-3d'"):
        open_dataset("aflw2000", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_dataset("300w", tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no labelled faces"):
        open_dataset("300w", tmp_path)


# ---- the shared data (skipped when absent) ----------------------------------------------------------
def test_shared_aflw_npz_conventions():
    npz = SHARED / "data" / "aflw2000-3d-dev" / "ground_truth.npz"
    if not npz.exists():
        pytest.skip(f"{npz} not present (set LANDMARK3D_SHARED)")
    faces = aflw2000.read_npz(npz)
    assert len(faces) == 500
    # the stored roi boxes are 3DDFA's rule applied to the stored (1-based) labels, clipped to [1, 450]
    d = []
    for f in faces:
        roi = aflw2000.protocol_roi_box(f.landmarks + aflw2000.ORIGINAL_BASE, 450, 450) - aflw2000.ORIGINAL_BASE
        d.append(roi - f.roi_box)
    assert np.mean(np.abs(np.array(d)).max(axis=1) <= 1.0) > 0.97
    # after conversion both label sets agree to a fraction of a pixel (they differed by ~1 px as stored)
    diff = np.concatenate([(f.landmarks - f.reannotated)[17:] for f in faces])
    assert np.all(np.abs(np.median(diff, axis=0)) < 0.3)
