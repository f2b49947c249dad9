"""`landmark3d detect` in-process through main([...]), plus one real subprocess run."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from landmark3d.cli import VERBS, build_parser, main


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png"):
        Image.fromarray(rng.integers(0, 255, (120, 100, 3), dtype=np.uint8)).save(d / name)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"a.jpg": [[10, 10, 60, 70]], "b.png": [[20, 20, 80, 90], [5, 5, 40, 40]]}))
    return d, boxes


def _run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_per_image_and_pictures(photos, tiny_model, tmp_path, capsys):
    d, boxes = photos
    out = tmp_path / "out"
    rc, stdout, stderr = _run(["detect", str(d), "--model", str(tiny_model), "--boxes", str(boxes),
                               "--out", str(out), "--save-vis", "--no-progress"], capsys)
    assert rc == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["images"] == 2 and summary["faces"] == 3 and summary["failures"] == 0
    a = json.loads((out / "a.json").read_text())
    assert len(a["faces"]) == 1 and len(a["faces"][0]["landmarks"]) == 70
    assert (out / "b_landmarks.jpg").exists() and (out / "detect_config.json").exists()
    assert "2 images, 3 faces, 0 failures" in stderr


@pytest.mark.parametrize("fmt,expected", [("csv", "landmarks.csv"), ("jsonl", "results.jsonl"), ("pts", "b_1.pts")])
def test_other_formats(photos, tiny_model, tmp_path, capsys, fmt, expected):
    d, boxes = photos
    out = tmp_path / fmt
    rc, _, err = _run(["detect", str(d), "--model", str(tiny_model), "--boxes", str(boxes), "--out", str(out),
                       "--format", fmt, "--no-progress"], capsys)
    assert rc == 0, err
    text = (out / expected).read_text()
    if fmt == "csv":
        rows = text.strip().splitlines()
        assert len(rows) == 1 + 3 and rows[0].startswith("source,face,score")
        assert len(rows[1].split(",")) == 7 + 140 + 70
    elif fmt == "jsonl":
        assert len(text.strip().splitlines()) == 2
    else:
        assert "n_points:  68" in text


def test_bad_inputs_fail_loudly_but_the_batch_goes_on(photos, tiny_model, tmp_path, capsys):
    d, boxes = photos
    (d / "c_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (d / "notes.txt").write_text("not an image, not looked at")
    out = tmp_path / "out"
    rc, stdout, err = _run(["detect", str(d), str(tmp_path / "missing.jpg"), "--model", str(tiny_model),
                            "--boxes", str(boxes), "--out", str(out), "--no-progress"], capsys)
    assert rc == 1
    assert "c_corrupt.jpg" in err and "missing.jpg" in err
    assert (out / "a.json").exists() and (out / "b.json").exists()
    assert json.loads(stdout.strip().splitlines()[-1])["failures"] == 2


def test_empty_folder_is_not_an_error(tmp_path, tiny_model, capsys):
    (tmp_path / "empty").mkdir()
    rc, stdout, _ = _run(["detect", str(tmp_path / "empty"), "--model", str(tiny_model), "--out",
                          str(tmp_path / "o"), "--no-progress"], capsys)
    assert rc == 0 and json.loads(stdout.strip())["images"] == 0


def test_video_every_n_frames(tmp_path, tiny_model, capsys):
    import cv2

    path = tmp_path / "clip.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 80))
    assert vw.isOpened()
    for i in range(7):
        vw.write(np.full((80, 96, 3), 20 * i, np.uint8))
    vw.release()
    out = tmp_path / "out"
    rc, stdout, err = _run(["detect", str(path), "--model", str(tiny_model), "--out", str(out), "--every", "3",
                            "--detector", "default", "--no-progress", "--save-vis"], capsys)
    assert rc == 0, err
    lines = [json.loads(x) for x in (out / "clip.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == [0, 3, 6]
    assert (out / "clip_landmarks.mp4").stat().st_size > 0


def test_bad_model_file_is_one_line_error(tmp_path, capsys):
    (tmp_path / "m.onnx").write_text("nope")
    rc, _, err = _run(["detect", "--model", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "m.onnx" in err and "Traceback" not in err


def test_every_verb_has_help(capsys):
    parser = build_parser()
    for verb in VERBS:
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([verb, "--help"])
        assert exc.value.code == 0
        assert "usage: landmark3d " + verb in capsys.readouterr().out


def test_detect_is_torch_free_in_a_subprocess(photos, tiny_model, tmp_path):
    d, boxes = photos
    code = (
        "import sys; from landmark3d.cli import main; "
        f"rc = main(['detect', {str(d)!r}, '--model', {str(tiny_model)!r}, '--boxes', {str(boxes)!r}, "
        f"'--out', {str(tmp_path / 'o')!r}, '--no-progress']); "
        "assert 'torch' not in sys.modules, 'detect imported torch'; sys.exit(rc)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
