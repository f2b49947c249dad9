"""ONNX export of a training checkpoint, with the spec embedded and a model card beside it.

``export_onnx(checkpoint, out)`` writes ``out`` (input ``image`` (B, 3, S, S) float32, output
``landmarks`` (B, 70, C), dynamic batch axis, opset 17) with the checkpoint's ModelSpec JSON in
``metadata_props[METADATA_KEY]``, checks ONNX Runtime's output against torch's on random inputs
(fp32: max abs difference <= ``FP32_TOLERANCE``; fp16 weights: <= ``FP16_TOLERANCE`` on x, y; int8:
``INT8_TOLERANCE`` / ``INT8_MEAN_TOLERANCE`` on x, y of synthetic crops), and writes ``<stem>.md``,
the model card. Needs the ``[train]`` extra (torch, onnx).
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .spec import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, ModelSpec

OPSET = 17
#: Max |onnxruntime - torch| allowed on any output value (normalised coords ~[-1, 1], log sigma ~[-3, 5]).
FP32_TOLERANCE = 1e-4
#: With fp16 weights (float32 compute): on x, y, 1e-2 of the crop half-side (0.64 px at S=128).
FP16_TOLERANCE = 1e-2
#: int8 (``--int8``), on crops like the calibration ones: the largest x, y error of any point, and
#: the mean one (measured for the ResNet34: max 0.019-0.026, mean 0.0037 crop half-sides; a tiny
#: test model on augmented training crops: max 0.062, mean 0.012). A wrong rebuild (onnx_init) is
#: far off both.
INT8_TOLERANCE, INT8_MEAN_TOLERANCE = 0.1, 0.02


class ExportError(RuntimeError):
    """The exported model failed its parity check or could not be written."""


def export_onnx(checkpoint_path, out_path, fp16: bool = False, card: dict | None = None,
                sigma_scale: float | None = None, int8_calibration: str | Path | None = None) -> dict:
    """Export ``checkpoint_path`` to ``out_path``; returns ``{"max_abs_diff": ..., "tolerance": ..., ...}``.

    ``card`` adds fields to the model card (``commands``, ``data``, ``compute``, ``accuracy``,
    ``notes``); the rest comes from the checkpoint. ``sigma_scale`` stores a sigma calibration
    factor in the spec (see ``landmark3d eval``'s calibration line; fit it on non-test data).
    ``int8_calibration``: a FaceSynthetics-layout folder of synthetic faces; the file is then
    quantised to int8 (:mod:`landmark3d.models.quantize`), its activations calibrated on its crops.
    """
    if fp16 and int8_calibration:
        raise ValueError("choose --fp16 or --int8, not both")
    import onnx
    import torch

    from ..train import checkpoint as ckpt_io
    from .torch_models import build_model

    checkpoint_path, out_path = Path(checkpoint_path), Path(out_path)
    ck = ckpt_io.load(checkpoint_path)
    spec = ModelSpec.from_json(ck["spec"], source=str(checkpoint_path))
    if sigma_scale is not None:
        if not sigma_scale > 0:
            raise ValueError(f"sigma scale must be > 0, got {sigma_scale}")
        spec = dataclasses.replace(spec, sigma_scale=float(sigma_scale))
    model = build_model(spec)
    model.load_state_dict(ck["model"])
    model.eval()

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    s = spec.input_size
    dummy = torch.zeros(1, 3, s, s)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but needs no extra package (the dynamo one needs
        # onnxscript) and handles these plain CNNs exactly; parity is checked below either way.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (dummy,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    proto = onnx.load(str(tmp))
    if fp16:
        proto = _to_fp16(proto)
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, spec.to_json()
    proto.producer_name = "landmark3d"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))

    precision, inputs = ("fp16" if fp16 else "fp32"), None
    if int8_calibration:
        from .quantize import CALIBRATION_COUNT, calibration_crops, quantize_int8

        crops = calibration_crops(int8_calibration, spec)
        quantized = out_path.with_name(out_path.name + ".int8.tmp")
        try:
            quantize_int8(tmp, quantized, crops)
        finally:
            tmp.unlink(missing_ok=True)
        os.replace(quantized, tmp)
        precision = "int8"
        inputs = calibration_crops(int8_calibration, spec, count=32, seed=1)   # parity on other crops
    report = check_parity(model, tmp, spec, precision=precision, inputs=inputs)
    os.replace(tmp, out_path)
    info = dict(card or {})
    info.setdefault("parity", report)
    weights = (f"int8 (calibrated on {min(len(crops), CALIBRATION_COUNT)} crops of {int8_calibration}) weights "
               "and activations" if precision == "int8" else f"{precision} weights")
    write_model_card(out_path, spec, ck, info, weights)
    return report


def _to_fp16(proto):
    """Store float32 weights as float16 (half the file) with a Cast back to float32 before use.

    Compute stays float32 (ONNX Runtime folds the casts at load), so only the weights' rounding
    changes the output; input and output stay float32, so the runtime's contract is unchanged.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return proto


def check_parity(model, onnx_path, spec: ModelSpec, precision: str = "fp32", inputs: np.ndarray | None = None,
                 batch: int = 3, seed: int = 0) -> dict:
    """Compare ONNX Runtime with torch; raise :class:`ExportError` if off.

    ``precision`` "fp32" (every output value, ``batch`` random normalised images), "fp16" (x, y) or
    "int8" (x, y, max and mean, on ``inputs``: crops like the calibration ones, since int8 ranges are
    fitted to them)."""
    import onnxruntime as ort
    import torch

    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision must be fp32, fp16 or int8, got {precision!r}")
    if inputs is None:
        if precision == "int8":
            raise ValueError("an int8 parity check needs inputs like its calibration crops")
        inputs = np.random.default_rng(seed).normal(0, 1, (batch, 3, spec.input_size, spec.input_size))
    x = np.asarray(inputs, dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    if got.shape != ref.shape:
        raise ExportError(f"{onnx_path}: ONNX output shape {got.shape} != torch {ref.shape}")
    diff = np.abs(got.astype(np.float64) - ref)
    if precision == "fp32":
        checked, tol = diff, FP32_TOLERANCE
    else:
        checked, tol = diff[..., :2], (FP16_TOLERANCE if precision == "fp16" else INT8_TOLERANCE)
    max_diff, mean_diff = float(checked.max()), float(checked.mean())
    if not max_diff <= tol:
        raise ExportError(f"{onnx_path}: ONNX Runtime differs from torch by {max_diff:.2e} > {tol:.0e}")
    report = {"max_abs_diff": max_diff, "tolerance": tol, "compared": "all channels" if precision == "fp32" else "x, y",
              "batch": len(x)}
    if precision == "int8":
        if not mean_diff <= INT8_MEAN_TOLERANCE:
            raise ExportError(f"{onnx_path}: int8 output differs from torch by {mean_diff:.2e} on average "
                              f"> {INT8_MEAN_TOLERANCE:.0e}")
        report.update(mean_abs_diff=mean_diff, mean_tolerance=INT8_MEAN_TOLERANCE, inputs="synthetic crops")
    return report


def write_model_card(onnx_path: Path, spec: ModelSpec, ck: dict, info: dict, weights: str) -> Path:
    """``<stem>.md`` beside the ONNX file: what it is, how it was made, how accurate it is."""
    cfg = json.loads(ck.get("config", "{}"))
    data = ck.get("data", {})
    lines = [f"# {onnx_path.stem}", ""]
    if spec.provisional:
        lines += ["> **PROVISIONAL / NOT ACCURATE.** A short CPU training run to exercise the pipeline end to end; "
                  "do not rely on its landmarks. Replace it with a GPU-trained model.", ""]
    size_mb = onnx_path.stat().st_size / 2**20 if onnx_path.exists() else float("nan")
    lines += [
        "| field | value |", "|---|---|",
        f"| file | `{onnx_path.name}` ({size_mb:.1f} MiB, {weights}) |",
        f"| backbone | {spec.backbone} ({'torchvision, ' if spec.backbone != 'tiny' else 'test-only, '}trained from scratch) |",
        f"| head | global average pool + linear to 70 x ({', '.join(spec.channels)})"
        + (" + soft-argmax x, y of stride-16 heatmaps (integral)" if spec.head == "integral" else "") + " |",
        f"| input | `{INPUT_NAME}` float32 (B, 3, {spec.input_size}, {spec.input_size}) RGB, "
        f"(pixel/255 - {spec.mean[0]}) / {spec.std[0]}, crop rule scale {spec.crop_scale} |",
        f"| output | `{OUTPUT_NAME}` (B, 70, {len(spec.channels)}): {', '.join(spec.channels)} |",
        f"| loss | {spec.loss} |",
        f"| sigma calibration | x {spec.sigma_scale:.3g} on exp(log_sigma) |",
        f"| training data | {info.get('data', ', '.join(data.get('sources', [])) or 'unknown')} |",
        f"| training images | {data.get('train_images', 'unknown')} |",
        f"| steps | {ck.get('step', 'unknown')} x batch {cfg.get('batch_size', '?')} |",
        f"| seed | {cfg.get('seed', 'unknown')} |",
        f"| optimiser | AdamW lr {cfg.get('lr', '?')}, wd {cfg.get('weight_decay', '?')}, warm-up + cosine, "
        f"grad clip {cfg.get('grad_clip', '?')}, EMA {'on' if ck.get('ema_in_model', ck.get('ema') is True) else 'off'} |",
        f"| augmentation | crop jitter {'on' if cfg.get('augment') else 'off'} (rotation ±{cfg.get('rotate_deg', '?')}°), "
        f"flip {'on' if cfg.get('flip') else 'off'}, photometric {'on' if cfg.get('photometric') else 'off'}"
        f"{' minus ' + ', '.join(cfg['aug_disable']) if cfg.get('aug_disable') else ''} |",
        f"| compute | {info.get('compute', 'unknown')} |",
        f"| ONNX parity | max abs diff vs torch {info['parity']['max_abs_diff']:.2e} "
        f"(tolerance {info['parity']['tolerance']:.0e}, {info['parity']['compared']}) |",
        f"| schema | v{spec.schema_version}, 70 points |",
        "",
        "## Accuracy",
        "",
        info.get("accuracy", "not measured"),
        "",
        "## Commands",
        "",
        "```",
        info.get("commands", "(not recorded)"),
        "```",
        "",
    ]
    if info.get("notes"):
        lines += ["## Notes", "", info["notes"], ""]
    card = onnx_path.with_suffix(".md")
    card.write_text("\n".join(lines))
    return card
