"""The training loop and the `landmark3d train` command, on tiny models and tiny data."""
import copy
import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("albumentations")

from train_helpers import tiny_cfg, write_dataset

from landmark3d.cli import main
from landmark3d.models.spec import ModelSpec
from landmark3d.models.torch_models import build_model, load_checkpoint_model
from landmark3d.train.loop import lr_at, train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n=8, size=80)


def weights(path):
    return torch.load(path, weights_only=True)["train_model"]


@pytest.mark.parametrize("backbone,channels", [("tiny", ("x", "y", "log_sigma", "z")),
                                               ("mobilenetv2", ("x", "y", "log_sigma")),
                                               ("resnet34", ("x", "y"))])
@pytest.mark.parametrize("head", ["regression", "integral"])
def test_build_model_output_shape(backbone, channels, head):
    model = build_model(ModelSpec("m", backbone, 32, channels=channels, loss="gnll" if len(channels) > 2 else "mse",
                                  head=head))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 70, len(channels))


def test_soft_argmax_uses_the_crop_pixel_centre_convention():
    from landmark3d.crop import Crop
    from landmark3d.models.torch_models import soft_argmax

    logits = torch.full((1, 2, 8, 8), -1e4)
    logits[0, 0, 1, 3] = 0.0                       # all mass on row 1, column 3
    logits[0, 1, :, :] = 0.0                       # uniform: the map's centre
    xy = soft_argmax(logits)[0].numpy()
    # a stride-16 map of a 128 crop: cell (1, 3) covers crop pixels x 48..63, y 16..31
    crop = Crop(matrix=np.eye(2, 3), size=128)
    np.testing.assert_allclose(xy[0], crop.normalize(np.array([3 * 16 + 7.5, 1 * 16 + 7.5])), atol=1e-6)
    np.testing.assert_allclose(xy[1], [0.0, 0.0], atol=1e-6)


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, 100, 1.0, 10, 0.01) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lr_at(100, 100, 1.0, 10, 0.01) == pytest.approx(0.01)


@pytest.mark.parametrize("loss,head", [("mse", "regression"), ("gnll", "regression"), ("gnll", "integral")])
def test_tiny_model_overfits_eight_images(tmp_path, data, loss, head):
    cfg = tiny_cfg(tmp_path, data, loss=loss, head=head, augment=False, batch_size=8, steps=150, lr=3e-3,
                   warmup_steps=10, ema=False, log_interval=10, ckpt_interval=1000, grad_clip=0.0, input_size=32)
    run = train(cfg)
    rows = list(csv.DictReader(open(run / "log.csv")))
    first, last = float(rows[0]["loss_xy"]), float(rows[-1]["loss_xy"])
    if loss == "mse":
        assert last < first / 20
    else:  # GNLL is a log-likelihood: compare the fall to its range instead of a ratio
        assert last < first - 4.0


@pytest.mark.parametrize("optimizer,lr,decay", [("nadam", 3e-3, 0.05), ("radam", 3e-3, 0.05), ("sgd", 0.1, 5e-4)])
def test_every_optimizer_fits_eight_images_and_resumes_exactly(tmp_path, data, optimizer, lr, decay):
    from landmark3d.train.loop import make_optimizer

    opts = dict(optimizer=optimizer, lr=lr, weight_decay=decay)
    kind = make_optimizer([{"params": [torch.nn.Parameter(torch.zeros(2))]}], tiny_cfg(tmp_path, data, **opts))
    assert type(kind).__name__ == {"nadam": "NAdam", "radam": "RAdam", "sgd": "SGD"}[optimizer]
    # clipped: SGD on the GNLL loss spikes without it
    cfg = tiny_cfg(tmp_path, data, name="fit", augment=False, batch_size=8, steps=150, warmup_steps=10, ema=False,
                   log_interval=10, ckpt_interval=1000, grad_clip=5.0, input_size=32, **opts)
    rows = list(csv.DictReader(open(train(cfg) / "log.csv")))
    assert float(rows[-1]["loss_xy"]) < float(rows[0]["loss_xy"]) - 4.0
    whole = train(tiny_cfg(tmp_path, data, name="whole", **opts))
    train(tiny_cfg(tmp_path, data, name="split", stop_after=3, **opts))
    part = train(tiny_cfg(tmp_path, data, name="split", resume=True, **opts))
    a, b = weights(whole / "last.pt"), weights(part / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads(open(whole / "config.json").read())["optimizer"] == optimizer


def test_resume_gives_the_same_weights_as_one_run(tmp_path, data):
    whole = train(tiny_cfg(tmp_path, data, name="whole"))
    part = train(tiny_cfg(tmp_path, data, name="split", stop_after=3))
    assert torch.load(part / "last.pt", weights_only=True)["step"] == 3
    part = train(tiny_cfg(tmp_path, data, name="split", resume=True))
    a, b = weights(whole / "last.pt"), weights(part / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ema_a = torch.load(whole / "last.pt", weights_only=True)["model"]
    ema_b = torch.load(part / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


def test_same_seed_same_weights_other_seed_differs(tmp_path, data):
    a = weights(train(tiny_cfg(tmp_path, data, name="a", steps=3)) / "last.pt")
    b = weights(train(tiny_cfg(tmp_path, data, name="b", steps=3)) / "last.pt")
    c = weights(train(tiny_cfg(tmp_path, data, name="c", steps=3, seed=1)) / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_refuses_to_overwrite_a_run(tmp_path, data):
    train(tiny_cfg(tmp_path, data, steps=1))
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_cfg(tmp_path, data, steps=1))


def test_cli_config_file_flags_and_saved_config(tmp_path, data, capsys):
    conf = tmp_path / "c.toml"
    conf.write_text('backbone = "tiny"\ninput_size = 32\nbatch_size = 4\nsteps = 4\nlr = 1\n'
                    'photometric = false\nval_fraction = 0.25\n')
    rc = main(["train", "--config", str(conf), "--data", str(data), "--output", str(tmp_path / "r"),
               "--name", "cli", "--lr", "0.001", "--no-progress", "--threads", "1", "--log-interval", "2",
               "--loss", "mse"])
    assert rc == 0
    run = tmp_path / "r" / "cli"
    saved = json.loads((run / "config.json").read_text())
    assert saved["lr"] == 0.001 and saved["input_size"] == 32 and saved["photometric"] is False
    assert saved["loss"] == "mse" and saved["backbone"] == "tiny"
    assert capsys.readouterr().out.strip() == str(run)
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert rows[-1]["synth_nme"]  # 2 of 8 images held out and validated
    model, spec = load_checkpoint_model(run / "best.pt")
    assert spec.channels == ("x", "y") and spec.input_size == 32
    # the runtime's way of loading: spec + state dict, weights_only
    ck = torch.load(run / "last.pt", weights_only=True)
    build_model(ModelSpec.from_json(ck["spec"])).load_state_dict(ck["model"])
    runtime = pytest.importorskip("landmark3d.models.runtime")
    loaded = runtime.load_model(run / "last.pt")
    assert loaded.spec.channels == ("x", "y")


def test_cli_rejects_bad_options(tmp_path, data, capsys):
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"bacbone": "tiny"}))
    assert main(["train", "--config", str(conf), "--data", str(data)]) == 2
    assert "did you mean backbone" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path), "--name", "none", "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--loss", "l1"])
    with pytest.raises(SystemExit):
        main(["train", "--augment", "false"])  # real boolean flags, no string booleans


def test_aflw_validation_on_dev_set(tmp_path, data):
    import os
    from pathlib import Path

    root = Path(os.environ.get("LANDMARK3D_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
    aflw = root / "data" / "aflw2000-3d-dev"
    if not (aflw / "ground_truth.npz").exists():
        pytest.skip(f"{aflw}: AFLW2000-3D dev set absent (set LANDMARK3D_SHARED)")
    from landmark3d.train.validate import AflwValidation, nme_box

    val = AflwValidation(aflw, 32, (0.5,) * 3, (0.5,) * 3)
    assert len(val) == 500

    class Oracle(torch.nn.Module):
        """Predicts the ground truth through the crops: NME must be ~0."""

        def forward(self, x):
            i = self.i
            self.i += len(x)
            gt = np.stack([c.normalize(c.to_crop(g)) for c, g in zip(val.crops[i:i + len(x)], val.gt[i:i + len(x)])])
            out = np.zeros((len(x), 70, 2))
            out[:, :68] = gt
            return torch.from_numpy(out).float()

    oracle = Oracle()
    oracle.i = 0
    m = val.evaluate(oracle, torch.device("cpu"))
    assert m["aflw_nme"] < 1e-5 and set(m) >= {"aflw_nme_0_30", "aflw_nme_30_60", "aflw_nme_60_90", "aflw_nme_balanced"}
    assert nme_box(val.gt + 1.0, val.gt).mean() > 0


def test_fit_steps_to_time_ends_the_schedule_within_the_budget(tmp_path, data):
    import time

    t = time.time()
    run = train(tiny_cfg(tmp_path, data, steps=100000, max_minutes=0.05, fit_steps_to_time=True, input_size=32,
                         log_interval=10, ckpt_interval=100000, warmup_steps=5000))
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == ck["scheduler"]["total"] < 100000   # finished the (fitted) schedule, not cut short
    assert ck["scheduler"]["warmup"] <= max(1, ck["scheduler"]["total"] // 5)  # warm-up shrank with the run
    assert time.time() - t < 30


def test_loader_worker_processes_do_not_hang(tmp_path, data):
    """Forked loader workers after the parent used OpenCV (the preview): a run must finish, not
    deadlock (cv2.setNumThreads in a worker did, here and on the GPU machine)."""
    import subprocess
    import sys

    cfg = tiny_cfg(tmp_path, data, workers=2, steps=4, preview=True)
    # a large resize starts OpenCV's thread pool in the parent, as real-size images do
    code = ("import json, cv2, numpy as np\nfrom landmark3d.train.loop import train\n"
            "cv2.resize(np.zeros((2048, 2048, 3), np.uint8), (1500, 1500))\n"
            f"train(json.loads({json.dumps(json.dumps(cfg))}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.load(tmp_path / "runs" / "t" / "last.pt", weights_only=True)["step"] == 4


def test_init_starts_from_another_runs_weights(tmp_path, data):
    first = train(tiny_cfg(tmp_path, data, name="first"))
    start = torch.load(first / "last.pt", weights_only=True)["model"]
    # zero steps of training: the new run's weights are exactly the loaded ones
    second = train(tiny_cfg(tmp_path, data, name="second", init=str(first / "last.pt"), steps=1, lr=0.0,
                            ema=False))
    got = torch.load(second / "last.pt", weights_only=True)["model"]
    params = [k for k in start if start[k].dtype.is_floating_point and "running_" not in k]  # BN stats move
    assert params and all(torch.equal(start[k], got[k]) for k in params)
    fresh = train(tiny_cfg(tmp_path, data, name="fresh", steps=1, lr=0.0, ema=False))
    other = torch.load(fresh / "last.pt", weights_only=True)["model"]
    assert not all(torch.equal(start[k], other[k]) for k in params)
    # an MSE run starts from a GNLL run: same backbone, the head's x, y[, z] rows
    mse = train(tiny_cfg(tmp_path, data, name="mse", init=str(first / "last.pt"), loss="mse", steps=1, lr=0.0,
                         ema=False))
    ck = torch.load(mse / "last.pt", weights_only=True)
    old_spec = ModelSpec.from_json(torch.load(first / "last.pt", weights_only=True)["spec"])
    new_spec = ModelSpec.from_json(ck["spec"])
    assert "log_sigma" in old_spec.channels and "log_sigma" not in new_spec.channels
    rows = [old_spec.channels.index(c) for c in new_spec.channels]
    w_old = start["head.weight"].view(70, len(old_spec.channels), -1)[:, rows].reshape(70 * len(rows), -1)
    assert torch.equal(ck["model"]["head.weight"], w_old)
    # not the other way: an MSE model has no log sigma to start a GNLL head from
    with pytest.raises(ValueError, match="log_sigma missing"):
        train(tiny_cfg(tmp_path, data, name="bad", init=str(mse / "last.pt"), loss="gnll"))


def test_init_from_a_regression_run_starts_an_integral_head(tmp_path, data):
    first = train(tiny_cfg(tmp_path, data, name="reg"))
    start = torch.load(first / "last.pt", weights_only=True)["model"]
    integral = train(tiny_cfg(tmp_path, data, name="int", head="integral", init=str(first / "last.pt"), steps=1,
                              lr=0.0, ema=False))
    ck = torch.load(integral / "last.pt", weights_only=True)
    assert ModelSpec.from_json(ck["spec"]).head == "integral"
    params = [k for k in start if start[k].dtype.is_floating_point and "running_" not in k]
    assert all(torch.equal(start[k], ck["model"][k]) for k in params)   # backbone and linear head kept
    assert any(k.startswith("integral.") for k in ck["model"])          # the new branch is there


def test_photometric_on_device_trains_and_is_reproducible(tmp_path, data):
    """--photometric-on-device: the loader only crops; the batch is corrupted on the device, per step
    from the seed, so two runs give the same weights and a run with it differs from one without."""
    a = train(tiny_cfg(tmp_path, data, name="a", photometric_on_device=True))
    b = train(tiny_cfg(tmp_path, data, name="b", photometric_on_device=True))
    c = train(tiny_cfg(tmp_path, data, name="c"))
    wa, wb, wc = (torch.load(r / "last.pt", weights_only=True)["model"] for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa if wa[k].is_floating_point())


@pytest.mark.parametrize("fp16,scale", [(False, "unit variance"), (True, "unit variance"), (False, "reference")])
def test_onnx_file_rebuilds_into_a_trainable_model(tmp_path, data, fp16, scale):
    """Export folds BN into the convolutions; the rebuilt model must equal the file in eval mode and,
    once calibrated on a batch, also in train mode on that batch (where a bare rebuild does not)."""
    from landmark3d.models.export import export_onnx
    from landmark3d.train.onnx_init import calibrate_batchnorm, load_onnx_weights

    run = train(tiny_cfg(tmp_path, data, head="integral", steps=8, lr=5e-3))
    onnx_path = tmp_path / "m.onnx"
    export_onnx(run / "last.pt", onnx_path, fp16=fp16)
    reference, _ = load_checkpoint_model(run / "last.pt")
    model, spec = load_onnx_weights(onnx_path)
    batch = torch.randn(6, 3, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = reference(batch)
        assert torch.allclose(model(batch), want, atol=1e-2 if fp16 else 1e-4)
        # (train mode updates BN's running statistics: run it on copies)
        bare_train = copy.deepcopy(model).train()(batch)
    assert (bare_train - want).abs().max() > 0.05           # batch statistics differ from the folded ones
    reference = build_model(spec) if scale == "reference" else None
    assert calibrate_batchnorm(model, [batch], reference) == 6
    if reference is not None:   # each channel's weights at the fresh layer's RMS channel norm
        conv, ref = model.features[0], reference.features[0]
        want_norm = ref.weight.flatten(1).norm(dim=1).square().mean().sqrt()
        assert torch.allclose(conv.weight.flatten(1).norm(dim=1), want_norm.expand(conv.out_channels), rtol=1e-4)
    with torch.no_grad():
        evaluated = model.eval()(batch)
        assert torch.allclose(evaluated, want, atol=1e-2 if fp16 else 1e-4)
        assert torch.allclose(copy.deepcopy(model).train()(batch), evaluated, atol=1e-4)


def test_init_from_an_onnx_file_starts_where_the_file_is(tmp_path, data, capsys):
    import onnxruntime as ort

    from landmark3d.models.export import export_onnx

    first = train(tiny_cfg(tmp_path, data, name="first", head="integral", steps=8, lr=5e-3))
    onnx_path = tmp_path / "first.onnx"
    export_onnx(first / "last.pt", onnx_path)
    second = train(tiny_cfg(tmp_path, data, name="second", head="integral", init=str(onnx_path), steps=1,
                            lr=0.0, ema=False))
    assert "rebuilt from" in capsys.readouterr().err
    model, _ = load_checkpoint_model(second / "last.pt")
    x = np.random.default_rng(0).normal(0, 1, (4, 3, 48, 48)).astype(np.float32)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    # one lr=0 step moves only the BN running statistics (momentum 0.1 towards one batch)
    assert np.abs(got - want)[..., :2].max() < 0.02
    with pytest.raises(Exception, match="not a readable ONNX file"):
        bad = tmp_path / "bad.onnx"
        bad.write_text("not onnx")
        train(tiny_cfg(tmp_path, data, name="third", init=str(bad)))


def test_ema_update_is_the_weighted_mean_of_every_float_tensor():
    from landmark3d.train.loop import Ema

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    ema = Ema(model, decay=0.9)
    before = {k: v.clone() for k, v in ema.model.state_dict().items()}
    with torch.no_grad():
        for t in model.state_dict().values():
            t.add_(1) if t.dtype.is_floating_point else t.fill_(7)            # weights, BN stats, counter
    ema.update(model, step=100)                                           # d = min(0.9, 101/110) = 0.9
    after, now = ema.model.state_dict(), model.state_dict()
    for k, v in after.items():
        if v.dtype.is_floating_point:
            assert torch.allclose(v, 0.9 * before[k] + 0.1 * now[k], atol=1e-6), k
        else:
            assert torch.equal(v, now[k]), k


def test_grow_data_joins_when_its_pack_is_complete(tmp_path, data):
    """--grow-data: a folder rendered while the run trains joins at the first check after its pack
    is complete; one that never completes stays out; such a run cannot be resumed."""
    from landmark3d.data.packed import pack_folder

    more = write_dataset(tmp_path / "more", n=6, size=80, seed=1)
    pack_folder(more)
    unfinished = write_dataset(tmp_path / "unfinished", n=3, size=80, seed=2)   # no pack: still "rendering"
    run = train(tiny_cfg(tmp_path, data, steps=52, batch_size=2, log_interval=50, ckpt_interval=100,
                         grow_data=[str(more), str(unfinished)]))
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["data"]["train_images"] == 8 + 6 and ck["step"] == 52
    with pytest.raises(ValueError, match="cannot be resumed"):
        train(tiny_cfg(tmp_path, data, steps=60, resume=True, grow_data=[str(more)]))


def test_an_int8_file_rebuilds_and_starts_a_run(tmp_path, data, capsys):
    """An int8 export (QDQ; quantisation re-orders the graph's convolutions) rebuilds into a float
    model equal to it within the int8 tolerance on crops like its calibration ones, and --init takes it."""
    from landmark3d.models.export import INT8_TOLERANCE, export_onnx
    from landmark3d.models.quantize import calibration_crops
    from landmark3d.train.onnx_init import load_onnx_weights

    run = train(tiny_cfg(tmp_path, data, head="integral", steps=8, lr=5e-3))
    onnx_path = tmp_path / "q.onnx"
    export_onnx(run / "last.pt", onnx_path, int8_calibration=data)
    import onnxruntime as ort

    model, spec = load_onnx_weights(onnx_path)
    x = calibration_crops(data, spec, count=6, seed=4)
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    want = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    # the file's own int8 arithmetic is the only difference left (a wrong pairing of convolutions
    # would be far off)
    assert np.abs(got - want)[..., :2].max() <= INT8_TOLERANCE
    train(tiny_cfg(tmp_path, data, name="from_int8", head="integral", init=str(onnx_path), steps=1, lr=0.0))
    assert "rebuilt from" in capsys.readouterr().err


def test_cpu_amp_trains_in_bf16_and_differs_from_float32(tmp_path, data):
    a = train(tiny_cfg(tmp_path, data, name="f32", steps=3))
    b = train(tiny_cfg(tmp_path, data, name="bf16", steps=3, cpu_amp=True))
    wa, wb = (torch.load(r / "last.pt", weights_only=True)["model"] for r in (a, b))
    diff = max(float((wa[k] - wb[k]).abs().max()) for k in wa if wa[k].is_floating_point())
    assert 0 < diff < 0.05                               # the same run, at bf16 precision
    assert all(torch.isfinite(wb[k]).all() for k in wb if wb[k].is_floating_point())


def test_yaw_balance_trains_on_posed_samples_and_refuses_without_poses(tmp_path, data, capsys):
    from train_helpers import make_sample

    from landmark3d.synth.writer import write_sample

    posed = tmp_path / "posed"
    posed.mkdir()
    rng = np.random.default_rng(0)
    for i, yaw in enumerate([0, 5, 10, 15, 20, 45, 70, 85]):
        s = make_sample(rng, 80, name=f"{i:06d}")
        s.pose_deg = np.array([yaw, 0.0, 0.0])
        write_sample(posed, s)
    a = train(tiny_cfg(tmp_path, posed, name="a", yaw_balance=True, val_fraction=0.0))
    b = train(tiny_cfg(tmp_path, posed, name="b", val_fraction=0.0))
    # six non-empty 10-degree bins, a sixth each: three in 0-30, one in 30-60, two in 60-90
    assert "yaw 0-30 / 30-60 / 60-90 drawn 50% / 17% / 33% (unweighted 62% / 12% / 25%)" in capsys.readouterr().err
    wa, wb = (torch.load(r / "last.pt", weights_only=True)["model"] for r in (a, b))
    assert any(not torch.equal(wa[k], wb[k]) for k in wa if wa[k].is_floating_point())   # other batches
    with pytest.raises(ValueError, match="no training sample has a known pose"):
        train(tiny_cfg(tmp_path, data, name="c", yaw_balance=True))
