"""`landmark3d bench` runs end to end on the tiny model (no timing assertions: figures only)."""
import json

import numpy as np

from landmark3d.cli import main
from landmark3d.evaluate.bench import make_photos


def test_make_photos_resizes_to_640x480(tmp_path):
    import cv2

    src = tmp_path / "src"
    src.mkdir()
    for i, (h, w) in enumerate([(300, 200), (900, 1200)]):
        cv2.imwrite(str(src / f"{i}.png"), np.full((h, w, 3), 50, np.uint8))
    out = make_photos([src], tmp_path / "out", count=5)
    assert len(out) == 2
    assert all(cv2.imread(str(p)).shape == (480, 640, 3) for p in out)


def test_bench_cli_json(tiny_model, tmp_path, capsys):
    import cv2

    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), np.full((48, 64, 3), 90, np.uint8))
    rc = main(["bench", "--model", str(tiny_model), "--runs", "2", "--threads", "2", "--no-torch",
               "--no-generator", "--photos", str(photos), "--json", str(tmp_path / "b.json")])
    assert rc == 0
    data = json.loads((tmp_path / "b.json").read_text())
    assert [r["threads"] for r in data["latency"]] == [1, 2]
    assert all(r["median_ms"] > 0 for r in data["latency"])
    assert data["pipeline"]["images"] == 1 and data["generator"] is None
    assert "onnxruntime, 1 thread" in capsys.readouterr().out


def test_bench_refuses_unknown_model(capsys):
    assert main(["bench", "--model", "no-such-model", "--no-generator"]) == 2
    assert "no-such-model" in capsys.readouterr().err
