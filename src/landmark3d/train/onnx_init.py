"""Start training from an exported ONNX file (``--init model.onnx`` or a shipped model's name).

The shipped models come without their torch checkpoints, and export folds each BatchNorm into the
convolution before it (weights ``W gamma / sigma``, bias ``beta - gamma mu / sigma``): the file holds
the function, not BN's split into normalisation and affine. We rebuild one. Each folded
convolution is rescaled to the weight norm of a fresh initialisation, and its BN gets the mean
and variance of its input on real training crops as running statistics, plus the affine that
restores the folded output. The model then equals the ONNX file in eval mode (checked against
ONNX Runtime) and, in train mode, on batches like the calibration crops, so fine-tuning starts from the shipped model
rather than from a BN-shocked copy of it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from torch import nn

from ..models.spec import METADATA_KEY, ModelSpec

#: Smallest scale a channel's output is divided by (a channel that is constant on the calibration
#: crops has variance ~0; dividing its weights by ~sqrt(eps) would blow them up).
_MIN_SCALE = 1e-2


def _onnx_tensors(proto) -> dict[str, np.ndarray]:
    """Initializers as float32 by the name the graph uses: fp16 files cast ``name_fp16`` -> ``name``;
    int8 files (``export --int8``, QDQ) dequantize ``name_quantized`` -> ``name`` (also under the
    DequantizeLinear output's name)."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Cast" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
        elif node.op_type == "DequantizeLinear" and node.input[0] in values:
            q = values[node.input[0]].astype(np.float64)
            scale = values[node.input[1]].astype(np.float64)
            zero = values[node.input[2]].astype(np.float64) if len(node.input) > 2 and node.input[2] else 0.0
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if np.ndim(scale) == 1 and q.ndim > 1:    # per channel along ``axis``
                shape = [1] * q.ndim
                shape[axis] = -1
                scale = scale.reshape(shape)
                zero = np.reshape(zero, shape) if np.ndim(zero) else zero
            values[node.output[0]] = (q - zero) * scale
            if node.input[0].endswith("_quantized"):
                values.setdefault(node.input[0][: -len("_quantized")], values[node.output[0]])
    return {k: np.array(v, dtype=np.float32) for k, v in values.items()}


def is_quantized(proto) -> bool:
    """Whether the graph runs int8 (QDQ) arithmetic: then it equals its float rebuild only roughly."""
    return any(n.op_type == "DequantizeLinear" for n in proto.graph.node)


def _conv_order(model: nn.Module, size: int) -> list[nn.Conv2d]:
    """The model's convolutions in the order a forward pass runs them (the order export traced)."""
    order, hooks = [], []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(lambda m, i, o: order.append(m)))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    return order


def _bn_after(model: nn.Module) -> dict[nn.Conv2d, nn.BatchNorm2d]:
    """Each convolution whose output goes straight into a BatchNorm (torchvision's layout: the BN is
    the next module registered after its convolution)."""
    modules = list(model.modules())
    return {m: modules[i + 1] for i, m in enumerate(modules[:-1])
            if isinstance(m, nn.Conv2d) and isinstance(modules[i + 1], nn.BatchNorm2d)}


def onnx_spec(proto, path: str | Path) -> ModelSpec:
    """The ModelSpec that ``landmark3d export`` stored in the loaded ONNX ``proto`` (read from
    ``path``); ModelLoadError if there is none."""
    from ..errors import ModelLoadError

    meta = {p.key: p.value for p in proto.metadata_props}
    if METADATA_KEY not in meta:
        raise ModelLoadError(f"{path}: no landmark3d spec in its metadata; only files written by "
                             "`landmark3d export` can be rebuilt into a trainable model")
    return ModelSpec.from_json(meta[METADATA_KEY], source=str(path))


def load_onnx_weights(path: str | Path) -> tuple[nn.Module, ModelSpec]:
    """A torch model with the ONNX file's weights, BN as identity + bias (eval mode only: run
    :func:`calibrate_batchnorm` before training it)."""
    import onnx

    from ..errors import ModelLoadError
    from ..models.torch_models import build_model

    path = Path(path)
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not an ONNX file"
        raise ModelLoadError(f"{path}: not a readable ONNX file ({exc})") from exc
    spec = onnx_spec(proto, path)
    model = build_model(spec)
    tensors = _onnx_tensors(proto)
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    order = _conv_order(model, spec.input_size)
    if len(convs) != len(order):
        raise ModelLoadError(f"{path}: {len(convs)} convolutions in the file, {len(order)} in a "
                             f"{spec.backbone}/{spec.head} model; was it exported by this version?")
    bn_of = _bn_after(model)
    # Pair each of the model's convolutions (execution order) with the file's first unused one of
    # the same weight shape, in graph order: an fp32/fp16 export lists them in execution order, an
    # int8 file (quantisation re-sorts the graph) may list a branch's convolution (ResNet's
    # downsample) before its siblings of other shapes. The parity check afterwards would catch a
    # wrong pairing.
    remaining, pairs = list(convs), []
    for conv in order:
        k = next((i for i, n in enumerate(remaining) if tensors[n.input[1]].shape == tuple(conv.weight.shape)), None)
        if k is None:
            raise ModelLoadError(f"{path}: no convolution with weights {tuple(conv.weight.shape)} left in the file "
                                 f"for the {spec.backbone}/{spec.head} model; was it exported by this version?")
        pairs.append((remaining.pop(k), conv))
    with torch.no_grad():
        for node, conv in pairs:
            w = torch.from_numpy(tensors[node.input[1]])
            b = torch.from_numpy(tensors[node.input[2]]) if len(node.input) > 2 else torch.zeros(w.shape[0])
            conv.weight.copy_(w)
            bn = bn_of.get(conv)
            if bn is None:
                conv.bias.copy_(b)
                continue
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
            bn.bias.copy_(b)
        for key in ("head.weight", "head.bias"):
            model.get_parameter(key).copy_(torch.from_numpy(tensors[key]))
    return model.eval(), spec


def calibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor], reference: nn.Module | None = None) -> int:
    """Give each folded BN real statistics without changing the eval-mode function; returns the
    number of images seen. ``batches`` are normalised crops as the model takes them.

    BN makes a convolution's output scale free, so it is set here: with ``reference`` (a freshly
    initialised model of the same architecture) each output channel's weights get the RMS channel
    norm of the reference layer, as at the start of training; without, each channel's output gets
    unit variance on the crops. The scale matters to training, not to the function: with BN,
    AdamW's steps change a weight's direction by about lr / |w|, so weights far smaller than at
    initialisation would learn many times faster (unit variance made some ~4x smaller than at
    initialisation, others hundreds of times larger)."""
    bn_of = _bn_after(model)
    target = {}
    if reference is not None:
        ref = dict(reference.named_modules())
        for name, conv in model.named_modules():
            if conv in bn_of:
                w = ref[name].weight.detach().double().flatten(1)
                target[conv] = w.norm(dim=1).square().mean().sqrt()
    stats = {bn: [0.0, 0.0, 0] for bn in bn_of.values()}

    def record(bn, inputs):
        x = inputs[0].detach().double()
        s = stats[bn]
        s[0] = s[0] + x.sum(dim=(0, 2, 3))
        s[1] = s[1] + (x * x).sum(dim=(0, 2, 3))
        s[2] += x.numel() // x.shape[1]

    hooks = [bn.register_forward_pre_hook(record) for bn in stats]
    seen = 0
    try:
        model.eval()
        with torch.no_grad():
            for images in batches:
                model(images)
                seen += len(images)
    finally:
        for h in hooks:
            h.remove()
    if seen == 0:
        raise ValueError("no calibration images: the training data is empty")
    with torch.no_grad():
        for conv, bn in bn_of.items():
            total, total_sq, n = stats[bn]
            mu = total / n
            var = (total_sq / n - mu * mu).clamp_min(0.0)
            # The BN now computes a * y + d; with y_a = a * y, c > 0 the scale y_a is divided by, the
            # values below make BN(conv(x) / c) = (y_a - mu_a) + mu_a + d = a * y + d again.
            a = bn.weight.double() / (bn.running_var.double() + bn.eps).sqrt()
            d = bn.bias.double() - bn.running_mean.double() * a
            mu_a, var_a = a * mu, a * a * var
            if conv in target:
                norm = (conv.weight.detach().double().flatten(1).norm(dim=1) * a.abs())
                c = (norm / target[conv]).clamp_min(1e-12)
            else:
                c = var_a.add(bn.eps).sqrt().clamp_min(_MIN_SCALE)
            conv.weight.mul_((a / c).view(-1, *([1] * (conv.weight.ndim - 1))).float())
            rv = var_a / (c * c)
            bn.running_mean.copy_((mu_a / c).float())
            bn.running_var.copy_(rv.float())
            bn.weight.copy_((c * (rv + bn.eps).sqrt()).float())
            bn.bias.copy_((mu_a + d).float())
    return seen


def checkpoint_from_onnx(path: str | Path, batches: Iterable[torch.Tensor]) -> dict:
    """``{"spec", "model"}`` like a training checkpoint, from an exported file; its eval-mode output
    is checked against ONNX Runtime before and after calibration (ExportError when off)."""
    import itertools

    import onnx

    from ..models.export import check_parity
    from ..models.torch_models import build_model

    model, spec = load_onnx_weights(path)
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        raise ValueError("no calibration images: the training data is empty")
    # an int8 file equals the float rebuild only to its quantisation error, and only on inputs like
    # the crops it was calibrated on (not on the random ones the float check uses)
    precision = "int8" if is_quantized(onnx.load(str(path), load_external_data=False)) else "fp32"
    parity_inputs = first.numpy() if precision == "int8" else None
    check_parity(model, path, spec, precision=precision, inputs=parity_inputs)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        reference = build_model(spec)
    seen = calibrate_batchnorm(model, itertools.chain([first], batches), reference)
    report = check_parity(model, path, spec, precision=precision, inputs=parity_inputs)
    return {"spec": spec.to_json(), "model": model.state_dict(),
            "from_onnx": {"file": str(path), "calibration_images": seen, "parity": report}}
