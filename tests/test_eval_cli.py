"""`landmark3d eval` end to end on tiny fixtures, with a stand-in predictor (same call signature
as landmark3d.Detector) and with external prediction files."""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from landmark3d.cli import main
from landmark3d.evaluate import cli as eval_cli


def face70(i):
    rng = np.random.default_rng(i)
    p = rng.uniform(16, 48, (70, 2))
    p[36], p[45] = [18.0, 24.0], [46.0, 24.0]          # inter-ocular distance 28
    return p


@pytest.fixture()
def synth_root(tmp_path):
    import cv2

    root = tmp_path / "fs"
    root.mkdir()
    for i in range(3):
        np.savetxt(root / f"{i:06d}_ldmks.txt", face70(i))
        cv2.imwrite(str(root / f"{i:06d}.png"), np.full((64, 64, 3), 40 * i, np.uint8))
    return root


class StandIn:
    """Predicts the labels + (0.6, 0.8) px (a 1 px error) with sigma 0.8 px; with ``boxes=None``
    (detector mode) it finds every face but the one of image 000001."""

    def __init__(self, root: Path):
        self.truth = {str(root / f"{i:06d}.png"): face70(i) for i in range(3)}
        self.calls = []

    def __call__(self, image, boxes=None):
        self.calls.append((image, None if boxes is None else np.asarray(boxes)))
        gt = self.truth[str(image)]
        if boxes is None and str(image).endswith("000001.png"):
            return SimpleNamespace(landmarks=np.zeros((0, 70, 2)), sigma=np.zeros((0, 70)))
        n = 1 if boxes is None else len(boxes)
        return SimpleNamespace(landmarks=np.repeat((gt + [0.6, 0.8])[None], n, 0), sigma=np.full((n, 70), 0.8))


@pytest.fixture()
def stand_in(monkeypatch, synth_root):
    s = StandIn(synth_root)
    monkeypatch.setattr(eval_cli, "make_predictor", lambda args: s)
    return s


def test_eval_protocol_boxes(stand_in, synth_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--out", str(out)]) == 0
    for f in ("report.md", "report.json", "ced.png", "calibration.png", "worst.png", "config.json", "predictions.json"):
        assert (out / f).stat().st_size > 0, f
    rep = json.loads((out / "report.json").read_text())
    row = {r["key"]: r for r in rep["rows"]}
    assert row["all_70_io"]["nme"] == pytest.approx(1 / 28)            # 1 px over 28 px
    assert row["all_70_io"]["failure_rate"] == 0 and rep["missed_faces"] == 0
    np.testing.assert_allclose(rep["median_offset_inner51_px"]["labels"], [0.6, 0.8])
    assert rep["calibration"]["observed"] == [0.0, 1.0, 1.0]           # |d| = 1.25 sigma
    # the predictor got the labels' min/max box of each face
    image, boxes = stand_in.calls[0]
    p = face70(0)[:68]
    np.testing.assert_allclose(boxes[0], [*p.min(0), *p.max(0)])
    printed = capsys.readouterr().out
    assert "all 70 points, inter-ocular | 3.57" in printed


def test_eval_detector_mode_counts_missed_faces(stand_in, synth_root, tmp_path):
    out = tmp_path / "out"
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--out", str(out),
                 "--boxes", "detector"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["missed_faces"] == 1
    row = rep["rows"][0]
    assert row["failure_rate"] == pytest.approx(1 / 3)
    assert row["nme"] == pytest.approx(1 / 28)                      # over the found faces
    assert row["auc"] == pytest.approx(2 / 3 * (0.1 - 1 / 28) / 0.1)
    assert rep["per_face"]["all_70_io"][1] is None                   # inf in JSON
    saved = json.loads((out / "predictions.json").read_text())
    assert saved["landmarks"][1] is None


def test_external_predictions_give_the_same_numbers(synth_root, tmp_path):
    pred = np.stack([face70(i)[:68] + [0.6, 0.8] for i in range(3)])
    np.save(tmp_path / "p.npy", pred)
    out = tmp_path / "out"
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--out", str(out),
                 "--predictions", str(tmp_path / "p.npy")]) == 0
    rep = json.loads((out / "report.json").read_text())
    row = {r["key"]: r for r in rep["rows"]}
    assert row["inner_51_io"]["nme"] == pytest.approx(1 / 28)
    assert rep["calibration"] is None and not (out / "calibration.png").exists()
    # json keyed by name, 1-based tool output, one face missing
    by_name = {f"{i:06d}": (face70(i)[:68] + 1).tolist() for i in (0, 2)}
    (tmp_path / "p.json").write_text(json.dumps(by_name))
    out2 = tmp_path / "out2"
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--out", str(out2),
                 "--predictions", str(tmp_path / "p.json"), "--predictions-base", "1"]) == 0
    rep2 = json.loads((out2 / "report.json").read_text())
    assert rep2["missed_faces"] == 1
    assert {r["key"]: r for r in rep2["rows"]}["inner_51_io"]["nme"] == pytest.approx(0.0)


def test_eval_limit_and_errors(stand_in, synth_root, tmp_path, capsys):
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--out", str(tmp_path / "o"),
                 "--limit", "2"]) == 0
    assert json.loads((tmp_path / "o" / "report.json").read_text())["faces"] == 2
    assert main(["eval", "--dataset", "300w", "--root", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", np.zeros((2, 68, 2)))
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root),
                 "--predictions", str(tmp_path / "short.npy"), "--out", str(tmp_path / "o2")]) == 2
    assert "has 2 faces, the dataset has 3" in capsys.readouterr().err


def test_eval_aflw_fixture_reports_yaw_bins(tmp_path):
    import cv2
    import scipy.io as sio

    root = tmp_path / "aflw"
    root.mkdir()
    preds = []
    for i, yaw_deg in enumerate([10, 40, 70, 20]):
        p = face70(i)[:68] + 20
        sio.savemat(str(root / f"image{i:05d}.mat"),
                    {"pt3d_68": np.vstack([p.T, np.zeros((1, 68))]), "Pose_Para": [[0, np.radians(yaw_deg), 0, 0, 0, 0, 1]]})
        cv2.imwrite(str(root / f"image{i:05d}.jpg"), np.zeros((100, 100, 3), np.uint8))
        preds.append(p - 1 + (0.01 * i))                               # near-perfect, 0-based
    np.save(tmp_path / "p.npy", np.array(preds))
    out = tmp_path / "out"
    assert main(["eval", "--dataset", "aflw2000-3d", "--root", str(root), "--out", str(out),
                 "--predictions", str(tmp_path / "p.npy")]) == 0
    rep = json.loads((out / "report.json").read_text())
    bins = rep["rows"][0]["yaw_bins"]
    assert bins["count"] == [2, 1, 1]
    assert [r["key"] for r in rep["rows"]] == ["original_68", "original_51"]
    assert bins["balanced"] == pytest.approx(np.mean([bins["[0,30)"], bins["[30,60)"], bins["[60,90]"]]))
    assert "[60,90]" in (out / "report.md").read_text()
    assert "| jaw | 17 |" in (out / "report.md").read_text() and set(rep["regions"]) == {
        "jaw", "brows", "nose", "eyes", "mouth"}


def test_eval_subprocess_help():
    r = subprocess.run([sys.executable, "-m", "landmark3d.cli", "eval", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--predictions" in r.stdout and "--boxes" in r.stdout


def test_eval_with_the_real_detector_and_tiny_model(tiny_model, synth_root, tmp_path):
    """The lead's Detector through `eval` (random tiny model: numbers meaningless, plumbing real)."""
    out = tmp_path / "out"
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--model", str(tiny_model),
                 "--out", str(out)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["faces"] == 3 and rep["missed_faces"] == 0
    assert rep["calibration"] is not None and (out / "calibration.png").exists()
    assert "tiny-test" in rep["run"]["predictor"]


def test_match_faces_greedy_and_by_detector_centre():
    from landmark3d.evaluate.runner import match_faces

    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [100, 100, 110, 110]], float)
    lm = np.zeros((3, 70, 2))
    lm[0, :, 0], lm[0, :, 1] = np.linspace(21, 30, 70), np.linspace(0, 10, 70)     # face 1, good landmarks
    lm[1, :, 0], lm[1, :, 1] = np.linspace(0, 9, 70), np.linspace(1, 10, 70)        # face 0
    lm[2, :, 0], lm[2, :, 1] = np.linspace(200, 201, 70), np.linspace(200, 201, 70)  # landmarks far off
    np.testing.assert_array_equal(match_faces(gt, lm), [1, 0, -1])
    det_boxes = np.array([[20, 0, 30, 10], [0, 0, 10, 10], [101, 101, 109, 109]], float)
    np.testing.assert_array_equal(match_faces(gt, lm, det_boxes), [1, 0, 2])   # found, landmarks poor
    np.testing.assert_array_equal(match_faces(gt, np.zeros((0, 70, 2))), [-1, -1, -1])


def test_eval_unknown_model_is_a_clean_error(synth_root, tmp_path, capsys):
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--model", "no-such-model",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_eval_unreadable_image_names_the_file(tiny_model, synth_root, tmp_path, capsys):
    (synth_root / "000001.png").write_bytes(b"not a png")
    assert main(["eval", "--dataset", "facesynthetics", "--root", str(synth_root), "--model", str(tiny_model),
                 "--out", str(tmp_path / "o")]) == 1
    assert "000001.png" in capsys.readouterr().err
