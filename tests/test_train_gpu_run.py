"""The one GPU command, run end to end on the CPU with tiny sizes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("albumentations")

from train_helpers import write_dataset

from landmark3d.train.gpu_run import main, split_large_files

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--input-size", "32", "--backbone", "tiny", "--steps", "3", "--batch-size", "4", "--workers", "0",
        "--minutes", "5"]


def test_split_large_files_round_trip(tmp_path):
    big = tmp_path / "m.onnx"
    payload = os.urandom(2500)
    big.write_bytes(payload)
    (tmp_path / "small.md").write_text("x")
    report = split_large_files(tmp_path, 1000)
    assert not big.exists() and (tmp_path / "small.md").exists()
    parts = sorted(tmp_path.glob("m.onnx.part*"))
    assert [p.stat().st_size for p in parts] == [1000, 1000, 500]
    assert b"".join(p.read_bytes() for p in parts) == payload and report[0]["parts"] == [p.name for p in parts]


def test_gpu_run_on_given_data(tmp_path):
    data = write_dataset(tmp_path / "d", n=10, size=64)
    out = tmp_path / "out"
    rc = main(["--out", str(out), "--work", str(tmp_path / "w"), "--data", str(data), "--count", "10",
               "--part-mib", "0.05", *TINY])
    assert rc == 0, (out / "run.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["split"][0]["file"] == "gpu.onnx"
    assert all(p.stat().st_size <= 0.05 * 2**20 for p in out.iterdir())
    assert {"gpu.md", "log.csv", "summary.json", "run.log"} <= {p.name for p in out.iterdir()}
    assert summary["train_config"]["backbone"] == "tiny"
    assert len(summary["pack_seconds"]) == 1 and (data / "packed_labels.npz").exists()   # trained from the pack


def test_gpu_run_starts_from_an_exported_model(tmp_path):
    data = write_dataset(tmp_path / "d", n=10, size=64)
    first = tmp_path / "first"
    assert main(["--out", str(first), "--work", str(tmp_path / "w"), "--data", str(data), *TINY]) == 0
    out = tmp_path / "out"
    rc = main(["--out", str(out), "--work", str(tmp_path / "w"), "--data", str(data), "--init",
               str(first / "gpu.onnx"), *TINY])
    assert rc == 0, (out / "run.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_config"]["init"] == str(first / "gpu.onnx") and summary["steps"] == 3


def test_keep_checkpoint_returns_a_slim_checkpoint_that_exports(tmp_path):
    import torch

    from landmark3d.models.export import export_onnx

    data = write_dataset(tmp_path / "d", n=10, size=64)
    out = tmp_path / "out"
    rc = main(["--out", str(out), "--work", str(tmp_path / "w"), "--data", str(data), "--keep", "checkpoint", *TINY])
    assert rc == 0, (out / "run.log").read_text()
    assert not (out / "gpu.onnx").exists() and (out / "gpu.ckpt.pt").exists()
    slim = torch.load(out / "gpu.ckpt.pt", weights_only=True)
    assert "optimizer" not in slim and slim["step"] == 3
    assert all(v.dtype == torch.float16 for v in slim["model"].values() if v.is_floating_point())
    report = export_onnx(out / "gpu.ckpt.pt", tmp_path / "again.onnx")
    assert report["max_abs_diff"] <= report["tolerance"]


def test_gpu_script_renders_trains_exports(tmp_path):
    """The real command as a subprocess, rendering with the generator (skipped without its assets)."""
    shared = Path(os.environ.get("LANDMARK3D_SHARED", ROOT / ".." / "shared"))
    cache = Path(os.environ.get("LANDMARK3D_CACHE", Path.home() / ".cache" / "landmark3d" / "ict_facekit_v1.npz"))
    if not cache.exists() and not (shared / "assets" / "ict-facekit").exists():
        pytest.skip("no ICT FaceKit cache or shared assets for the generator")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run([str(ROOT / "scripts" / "gpu_run.sh"), str(out), "--work", str(tmp_path / "w"),
                           "--count", "10", "--size", "64", "--render-workers", "1", *TINY],
                          env=env, capture_output=True, text=True, timeout=240)
    log = (out / "run.log").read_text() if (out / "run.log").exists() else done.stderr
    assert done.returncode == 0, log[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["render"]["written"] == 10 and summary["steps"] == 3
    assert (out / "gpu.onnx").exists()
    # the renders went into the pack as they were made: nothing was decoded before training
    assert (tmp_path / "w" / "data" / "packed_labels.npz").exists() and "pack_seconds" not in summary
    if (shared / "data" / "aflw2000-3d-dev" / "ground_truth.npz").exists():
        assert summary["train_config"]["aflw"]  # validates on the dev set when it is at hand


def test_gpu_script_renders_more_faces_during_training(tmp_path):
    """--render-during-training: a second, niced render runs beside training into its own pack-only
    folder (new face indices) and is reported; the loop adds it when complete (tests/test_train.py)."""
    shared = Path(os.environ.get("LANDMARK3D_SHARED", ROOT / ".." / "shared"))
    cache = Path(os.environ.get("LANDMARK3D_CACHE", Path.home() / ".cache" / "landmark3d" / "ict_facekit_v1.npz"))
    if not cache.exists() and not (shared / "assets" / "ict-facekit").exists():
        pytest.skip("no ICT FaceKit cache or shared assets for the generator")
    out = tmp_path / "out"
    done = subprocess.run([str(ROOT / "scripts" / "gpu_run.sh"), str(out), "--work", str(tmp_path / "w"),
                           "--count", "6", "--size", "48", "--render-workers", "1", "--render-during-training", "0.05",
                           *TINY], env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True,
                          timeout=240)
    log = (out / "run.log").read_text() if (out / "run.log").exists() else done.stderr
    assert done.returncode == 0, log[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    more = summary["render_more"]
    assert more["first_id"] == "000006" and more["out"] == str(tmp_path / "w" / "data_more"), more
    assert summary["train_config"]["grow_data"] == [str(tmp_path / "w" / "data_more")]
    assert not list((tmp_path / "w" / "data_more").glob("*.png"))          # pack-only
