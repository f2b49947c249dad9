"""`landmark3d bbox`: detector boxes for a dataset, and training that crops from them."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from train_helpers import tiny_cfg, write_dataset

from landmark3d.crop import points_box
from landmark3d.data.facesynthetics import read_landmarks
from landmark3d.data.train_dataset import load_boxes
from landmark3d.train.bbox_cli import detect_boxes


class StandIn:
    """A detector stand-in: one decoy face and one face around the landmarks, except on sample 3."""

    name = "stand-in"

    def __init__(self, boxes):
        self.boxes = iter(boxes)

    def detect(self, image):
        truth = next(self.boxes)
        dets = [[0, 0, 10, 10, 0.99]]
        if truth is not None:
            dets.append([*(truth + np.array([-2, -4, 2, 4])), 0.8])
        return np.asarray(dets, np.float32)

    def face_boxes(self, dets):
        return dets[:, :4]  # already landmark-like


def test_bbox_picks_the_overlapping_face_and_lists_misses(tmp_path):
    data = write_dataset(tmp_path / "d", n=5, size=64)
    truth = [points_box(read_landmarks(data / f"{i:06d}_ldmks.txt")) for i in range(5)]
    truth[3] = None
    result = detect_boxes(data, StandIn(truth))
    assert result["missed"] == ["000003"] and len(result["boxes"]) == 4
    assert np.allclose(result["boxes"]["000000"][:4], truth[0] + [-2, -4, 2, 4], atol=1e-3)
    (tmp_path / "b.json").write_text(json.dumps(result))
    assert set(load_boxes(tmp_path / "b.json")) == {"000000", "000001", "000002", "000004"}


def test_training_crops_from_boxes(tmp_path):
    from landmark3d.train.loop import train

    data = write_dataset(tmp_path / "d", n=6, size=64)
    boxes = {f"{i:06d}": [*points_box(read_landmarks(data / f"{i:06d}_ldmks.txt")), 0.9] for i in range(4)}
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"boxes": {k: [float(v) for v in b] for k, b in boxes.items()}}))
    run = train(tiny_cfg(tmp_path, data, boxes=str(path), steps=2, input_size=32))
    assert (run / "last.pt").exists()
    with pytest.raises(ValueError, match="landmark3d bbox"):
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        load_boxes(bad)


def test_bbox_cli_with_the_default_detector(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from landmark3d.cli import main

    data = write_dataset(tmp_path / "d", n=2, size=64)
    rc = main(["bbox", str(data), "--no-progress"])
    if rc != 0:
        pytest.skip(f"default detector unavailable here: {capsys.readouterr().err.strip()}")
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == 2 and out["found"] + out["missed"] == 2
    assert (data / "boxes_default.json").exists()
