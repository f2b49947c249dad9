"""int8 ONNX files (``landmark3d export --int8 DIR``): ONNX Runtime's static quantisation of
the convolutions and the head (QDQ format, per-channel weights, activations calibrated on crops of
our synthetic faces, never on a test set).

Measured for the ResNet34 (docs/training.md, "int8"): 3x faster on this machine's CPU (VNNI) and
half the fp16 file, at the same AFLW2000-3D-dev NME. ``reduce_range`` keeps weights to 7 bits so
CPUs without VNNI (AVX2's u8 x s8 multiply-add saturates at 8 bits) compute the same.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Crops the activation ranges are calibrated on (more changed nothing measurable).
CALIBRATION_COUNT = 256


def calibration_crops(folder: str | Path, spec, count: int = CALIBRATION_COUNT, seed: int = 0) -> np.ndarray:
    """``count`` model inputs (N, 3, S, S) float32 from a FaceSynthetics-layout folder, each the
    crop rule's crop of a sample (no augmentation), normalised as ``spec`` says."""
    from ..data.packed import folder_source
    from ..data.train_dataset import CropConfig, LandmarkDataset

    ds = LandmarkDataset([folder_source(folder)], CropConfig(size=spec.input_size, augment=False, mean=spec.mean,
                                                             std=spec.std), seed=seed)
    picks = np.random.default_rng(seed).permutation(len(ds))[:count]
    return np.stack([ds[int(i)]["image"].numpy() for i in picks]).astype(np.float32)


def quantize_int8(src: str | Path, dst: str | Path, crops: np.ndarray) -> None:
    """Write ``dst``: ``src`` (a float32 export) with int8 convolutions and head, calibrated on ``crops``;
    its metadata (the spec) is kept."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src), Path(dst)
    name = onnx.load(str(src), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(crops[k:k + 1] for k in range(len(crops)))

        def get_next(self):
            x = next(self.items, None)
            return None if x is None else {name: x}

    pre = dst.with_name(dst.name + ".pre.onnx")
    try:
        quant_pre_process(str(src), str(pre), skip_optimization=True, skip_symbolic_shape=True)
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "Gemm", "MatMul"], calibrate_method=CalibrationMethod.MinMax)
    finally:
        pre.unlink(missing_ok=True)
    out, meta = onnx.load(str(dst)), onnx.load(str(src), load_external_data=False).metadata_props
    del out.metadata_props[:]
    out.metadata_props.extend(meta)
    out.producer_name = "landmark3d"
    onnx.save(out, str(dst))
