"""The landmark definition (synth/landmarks.py: jaw and brows re-chosen by geometry) and
``landmark3d synth --relabel`` (issue 6, item 6)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_synth import SIZE, cache_path, gen  # noqa: F401  (session fixtures)


@pytest.fixture(scope="module")
def mesh(cache_path):
    from landmark3d.synth.assets import PARTS, load_cache
    from landmark3d.synth.landmarks import label_vertices

    a = load_cache(str(cache_path))
    face = np.unique(a.tri_vertices[a.tri_parts == PARTS.index("M_Face")])
    ours = label_vertices(a.neutral, a.landmark_vertices, face)
    return a.neutral.astype(np.float64), np.asarray(a.landmark_vertices), ours, face


def _front_z(v, face, x, y, r=0.25):
    """Depth of the front surface at (x, y) seen from +z: the nearest face vertex's z there."""
    near = face[np.hypot(v[face, 0] - x, v[face, 1] - y) < r]
    return v[near, 2].max()


def test_only_jaw_and_brows_move_and_the_definition_is_symmetric(mesh):
    v, ict, ours, _ = mesh
    moved = set(np.flatnonzero(ours != ict))
    assert moved and moved <= set(range(0, 17)) | set(range(17, 27))
    for a, b in [(i, 16 - i) for i in range(0, 8)] + [(i, 43 - i) for i in range(17, 22)]:
        np.testing.assert_allclose(v[ours[a]] * [-1, 1, 1], v[ours[b]], atol=0.05)
    assert abs(v[ours[8], 0]) < 0.05


def test_jaw_points_sit_on_the_frontal_outline_outside_icts(mesh):
    v, ict, ours, face = mesh
    nose = v[ict[30], :2]
    for i in range(5, 12):
        d = v[ours[i], :2] - nose
        d /= np.linalg.norm(d)
        # not further in than ICT's point, and just beyond it the front surface drops away steeply
        assert (v[ours[i], :2] - v[ict[i], :2]) @ d >= -0.05
        p = v[ours[i], :2]
        drop = _front_z(v, face, *p) - _front_z(v, face, *(p + 0.3 * d))
        assert drop > 0.6, (i, drop)
    assert v[ours[8], 1] < v[ict[8], 1] - 0.2  # the chin point is on the chin's lower outline


def test_the_top_jaw_point_is_the_widest_point_in_front_of_the_ear(mesh):
    from landmark3d.synth.landmarks import BAND_CM

    v, ict, ours, face = mesh
    x, _, z = v[ours[0]]
    y = v[ict[0], 1]  # the rule's band is at ICT's height
    # further out and further back than ICT's point on the flat side of the face ...
    assert abs(x) >= abs(v[ict[0], 0]) + 0.1 and z < v[ict[0], 2] - 0.5
    # ... and nothing of the face at that height between the two is wider
    band = face[(np.abs(v[face, 1] - y) < BAND_CM) & (v[face, 0] < 0)
                & (v[face, 2] > z) & (v[face, 2] < v[ict[0], 2])]
    assert np.abs(v[band, 0]).max() <= abs(x) + 1e-6
    # and at the ear's heights (0-2) the points are not on the ear, which stands out further
    for i in range(0, 3):
        row = face[(np.abs(v[face, 1] - v[ours[i], 1]) < BAND_CM) & (v[face, 0] < 0)]
        assert abs(v[ours[i], 0]) < np.abs(v[row, 0]).max() - 0.5, i


def test_jaw_points_are_evenly_spaced_from_ear_to_chin(mesh):
    v, _, ours, _ = mesh
    jaw = v[ours[:17]]
    steps = np.linalg.norm(np.diff(jaw, axis=0), axis=1)
    # the raw side and outline rules gave 1.8-3.7 cm steps (a zig-zag in depth below the ear)
    assert steps.max() < 1.2 * steps.min(), np.round(steps, 2)
    assert np.all(np.diff(jaw[:9, 2]) > 0) and np.all(np.diff(jaw[:9, 1]) < 0)  # down and forward to the chin


def test_brow_points_sit_on_the_brow_ridge_crest(mesh):
    v, ict, ours, face = mesh
    for i in range(17, 27):
        x, y, z = v[ours[i]]
        assert y <= v[ict[i], 1] + 1e-6
        # the ridge: the front surface is no further forward 4 mm above or below
        here = _front_z(v, face, x, y)
        assert _front_z(v, face, x, y + 0.4) <= here + 0.05, i
        assert _front_z(v, face, x, y - 0.4) <= here + 0.05, i


def test_relabel_recovers_the_labels_of_an_old_folder(gen, tmp_path):
    from landmark3d.cli import main
    from landmark3d.data import facesynthetics

    out = tmp_path / "synth"
    args = ["--cache", str(gen.config.cache), "--no-progress"]
    assert main(["synth", "--out", str(out), "--count", "2", "--size", str(SIZE), "--seed", "3"] + args) == 0
    before = facesynthetics.read_sample(out, "000001")
    # make the folder look written by an older definition: other points, no definition key
    meta_path = out / "000001_meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["landmark_definition"]
    meta["landmarks_3d"] = (np.asarray(meta["landmarks_3d"]) + 1.0).tolist()
    meta_path.write_text(json.dumps(meta))
    (out / "000001_ldmks.txt").write_text("".join("1.0 2.0\n" for _ in range(70)))

    assert main(["synth", "--relabel", str(out)] + args) == 0
    after = facesynthetics.read_sample(out, "000001")
    np.testing.assert_allclose(after.landmarks, before.landmarks, atol=1e-4)
    np.testing.assert_allclose(after.landmarks_3d, before.landmarks_3d, atol=1e-4)
    np.testing.assert_array_equal(after.image, before.image)


def test_relabel_counts_current_samples_and_refuses_foreign_folders(gen, tmp_path, capsys):
    from landmark3d.cli import main

    out = tmp_path / "synth"
    args = ["--cache", str(gen.config.cache), "--no-progress"]
    assert main(["synth", "--out", str(out), "--count", "1", "--size", "32", "--seed", "3"] + args) == 0
    capsys.readouterr()
    assert main(["synth", "--relabel", str(out)] + args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["relabelled"] == 0 and summary["already_current"] == 1
    (tmp_path / "empty").mkdir()
    assert main(["synth", "--relabel", str(tmp_path / "empty")] + args) == 1
    assert "_meta.json" in capsys.readouterr().err


def test_relabel_rewrites_the_pack_of_a_pack_only_folder(gen, tmp_path):
    from landmark3d.cli import main
    from landmark3d.data import packed

    out = tmp_path / "synth"
    args = ["--cache", str(gen.config.cache), "--no-progress"]
    assert main(["synth", "--out", str(out), "--count", "2", "--size", str(SIZE), "--seed", "3", "--pack-only"]
                + args) == 0
    assert not list(out.glob("*.png"))
    with np.load(out / packed.LABELS) as z:
        before = {k: z[k].copy() for k in z.files}
    images = np.load(out / packed.IMAGES).copy()
    # an older definition: other points in the files and in the pack
    meta_path = out / "000001_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["landmark_definition"] = "older"
    meta_path.write_text(json.dumps(meta))
    (out / "000001_ldmks.txt").write_text("".join("1.0 2.0\n" for _ in range(70)))
    packed.write_labels(out, {str(i): (int(r), before["landmarks"][k] + 5.0, before["landmarks_3d"][k] + 1.0)
                              for k, (i, r) in enumerate(zip(before["ids"], before["image_rows"]))})

    assert main(["synth", "--relabel", str(out)] + args) == 0
    with np.load(out / packed.LABELS) as z:
        np.testing.assert_array_equal(z["ids"], before["ids"])
        np.testing.assert_allclose(z["landmarks"], before["landmarks"], atol=1e-4)
        np.testing.assert_allclose(z["landmarks_3d"], before["landmarks_3d"], atol=1e-4)
    np.testing.assert_array_equal(np.load(out / packed.IMAGES), images)
