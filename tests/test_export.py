"""ONNX export: parity with torch, embedded spec, dynamic batch, model card, the CLI."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from landmark3d.cli import main
from landmark3d.models.export import FP16_TOLERANCE, FP32_TOLERANCE, export_onnx
from landmark3d.models.spec import METADATA_KEY, ModelSpec
from landmark3d.models.torch_models import build_model
from landmark3d.train import checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    spec = ModelSpec("tiny_gnll", "tiny", 48, channels=("x", "y", "log_sigma", "z"), provisional=True)
    torch.manual_seed(0)
    model = build_model(spec)
    # non-trivial BN statistics so eval-mode parity means something
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 48, 48) * 2 + 0.3)
    path = tmp_path_factory.mktemp("ck") / "last.pt"
    checkpoint.save_atomic({"spec": spec.to_json(), "model": model.state_dict(), "step": 7,
                            "config": json.dumps({"batch_size": 4, "seed": 3})}, path)
    return path


def run_onnx(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["landmarks"], {"image": x})[0]


def reference(path, x):
    ck = torch.load(path, weights_only=True)
    model = build_model(ModelSpec.from_json(ck["spec"]))
    model.load_state_dict(ck["model"])
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def test_export_parity_spec_and_dynamic_batch(tmp_path, ckpt):
    out = tmp_path / "m.onnx"
    report = export_onnx(ckpt, out)
    assert report["max_abs_diff"] <= FP32_TOLERANCE
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    spec = ModelSpec.from_json(meta[METADATA_KEY])
    assert spec.channels == ("x", "y", "log_sigma", "z") and spec.input_size == 48
    assert proto.opset_import[0].version >= 17
    for batch in (1, 5):
        x = np.random.default_rng(batch).normal(size=(batch, 3, 48, 48)).astype(np.float32)
        got = run_onnx(out, x)
        assert got.shape == (batch, 70, 4)
        assert np.abs(got - reference(ckpt, x)).max() <= FP32_TOLERANCE
    card = (tmp_path / "m.md").read_text()
    assert "PROVISIONAL / NOT ACCURATE" in card and "not measured" in card and "| steps | 7 x batch 4 |" in card


def test_export_fp16_halves_the_file_and_stays_close(tmp_path, ckpt):
    full, half = tmp_path / "f.onnx", tmp_path / "h.onnx"
    export_onnx(ckpt, full)
    report = export_onnx(ckpt, half, fp16=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = np.random.default_rng(0).normal(size=(2, 3, 48, 48)).astype(np.float32)
    got = run_onnx(half, x)
    assert got.dtype == np.float32
    assert np.abs(got[..., :2] - reference(ckpt, x)[..., :2]).max() <= FP16_TOLERANCE
    assert report["tolerance"] == FP16_TOLERANCE


def test_export_cli_and_errors(tmp_path, ckpt, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out), "--accuracy", "NME 9.9%"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["onnx"] == str(out) and "NME 9.9%" in out.with_suffix(".md").read_text()
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["export", str(junk)]) == 2
    assert "junk.pt" in capsys.readouterr().err


def test_runtime_loads_the_export(tmp_path, ckpt):
    runtime = pytest.importorskip("landmark3d.models.runtime")
    out = tmp_path / "rt.onnx"
    export_onnx(ckpt, out)
    model = runtime.load_model(str(out))
    assert model.spec.channels == ("x", "y", "log_sigma", "z")


def test_detector_with_checkpoint_agrees_with_its_onnx_export(tmp_path, ckpt):
    """`--model run/last.pt` (torch) and the exported .onnx give the same landmarks, sigma and 3D
    points through the whole pipeline (both passes): within 1e-3 image pixels."""
    from landmark3d import Detector

    out = tmp_path / "pipe.onnx"
    export_onnx(ckpt, out)
    image = np.random.default_rng(0).integers(0, 255, (160, 200, 3), dtype=np.uint8)
    boxes = [[40, 30, 130, 140], [120, 60, 190, 150]]
    a = Detector(ckpt)(image, boxes=boxes)
    b = Detector(out)(image, boxes=boxes)
    np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a.landmarks_3d, b.landmarks_3d, atol=1e-3)
    assert a.pose is not None and b.pose is not None


def test_sigma_scale_is_stored_and_multiplies_sigma_only(tmp_path, ckpt, capsys):
    from landmark3d import Detector

    plain, scaled = tmp_path / "plain.onnx", tmp_path / "scaled.onnx"
    export_onnx(ckpt, plain)
    assert main(["export", str(ckpt), "--out", str(scaled), "--sigma-scale", "2.5"]) == 0
    capsys.readouterr()
    meta = {p.key: p.value for p in onnx.load(str(scaled)).metadata_props}
    assert json.loads(meta[METADATA_KEY])["sigma_scale"] == 2.5
    assert "x 2.5" in scaled.with_suffix(".md").read_text()
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    box = [[8, 8, 56, 56]]
    a = Detector(str(plain), refine=False)(image, boxes=box)
    b = Detector(str(scaled), refine=False)(image, boxes=box)
    np.testing.assert_allclose(b.sigma, 2.5 * a.sigma, rtol=1e-6)
    np.testing.assert_array_equal(b.landmarks, a.landmarks)
    assert main(["export", str(ckpt), "--out", str(tmp_path / "bad.onnx"), "--sigma-scale", "0"]) == 2


def test_export_parity_with_the_integral_head(tmp_path):
    spec = ModelSpec("tiny_int", "tiny", 48, channels=("x", "y", "log_sigma"), head="integral")
    torch.manual_seed(1)
    model = build_model(spec)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 48, 48))
        model.integral.logits.weight.mul_(50.0)   # peaked heatmaps: the soft-argmax must carry over
    path = tmp_path / "int.pt"
    checkpoint.save_atomic({"spec": spec.to_json(), "model": model.state_dict(), "step": 1,
                            "config": json.dumps({"batch_size": 4, "seed": 0})}, path)
    report = export_onnx(path, tmp_path / "int.onnx")
    assert report["max_abs_diff"] <= FP32_TOLERANCE
    x = np.random.default_rng(0).normal(size=(3, 3, 48, 48)).astype(np.float32)
    got, ref = run_onnx(tmp_path / "int.onnx", x), reference(path, x)
    assert np.abs(got - ref).max() <= FP32_TOLERANCE
    assert np.ptp(ref[..., 0]) > 0.05  # the outputs vary: parity is not between two constants


def test_export_int8_is_quantised_close_on_synthetic_crops_and_loads(tmp_path, ckpt):
    from train_helpers import write_dataset

    from landmark3d.models.export import INT8_MEAN_TOLERANCE, INT8_TOLERANCE
    from landmark3d.models.quantize import calibration_crops
    from landmark3d.models.runtime import load_model

    faces = write_dataset(tmp_path / "faces", n=12, size=96)
    out = tmp_path / "q.onnx"
    report = export_onnx(ckpt, out, int8_calibration=faces)
    assert report["max_abs_diff"] <= INT8_TOLERANCE and report["mean_abs_diff"] <= INT8_MEAN_TOLERANCE
    proto = onnx.load(str(out))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert ModelSpec.from_json({p.key: p.value for p in proto.metadata_props}[METADATA_KEY]).input_size == 48
    spec = ModelSpec.from_json(torch.load(ckpt, weights_only=True)["spec"])
    x = calibration_crops(faces, spec, count=6, seed=2)
    got, want = run_onnx(out, x), reference(ckpt, x)
    assert np.abs(got[..., :2] - want[..., :2]).max() <= INT8_TOLERANCE
    assert np.abs(got[..., :2] - want[..., :2]).max() > 1e-6                 # it is really quantised
    assert load_model(out).spec.input_size == 48
    assert "int8 (calibrated on" in (tmp_path / "q.md").read_text()
    with pytest.raises(ValueError, match="not both"):
        export_onnx(ckpt, tmp_path / "x.onnx", fp16=True, int8_calibration=faces)


def test_cli_quantises_a_float_onnx_file_through_its_rebuilt_checkpoint(tmp_path, ckpt, capsys):
    from train_helpers import write_dataset

    from landmark3d.models.export import INT8_TOLERANCE
    from landmark3d.models.quantize import calibration_crops

    faces = write_dataset(tmp_path / "faces", n=12, size=96)
    float_file = tmp_path / "f.onnx"
    export_onnx(ckpt, float_file)
    out = tmp_path / "q.onnx"
    assert main(["export", str(float_file), "--int8", str(faces), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["onnx"] == str(out) and report["max_abs_diff"] <= INT8_TOLERANCE
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in onnx.load(str(out)).graph.node}
    # the same function as the float file, to int8's error, on crops like the calibration ones
    spec = ModelSpec.from_json(torch.load(ckpt, weights_only=True)["spec"])
    x = calibration_crops(faces, spec, count=6, seed=2)
    assert np.abs(run_onnx(out, x)[..., :2] - run_onnx(float_file, x)[..., :2]).max() <= INT8_TOLERANCE
    # only quantisation is offered for ONNX inputs, and never twice
    assert main(["export", str(float_file), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "only re-exported with --int8" in capsys.readouterr().err
    assert main(["export", str(out), "--int8", str(faces), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "already int8" in capsys.readouterr().err
