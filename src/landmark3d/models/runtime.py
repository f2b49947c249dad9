"""Running a landmark model on crops: ONNX Runtime (the default, no torch) or a torch checkpoint."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from .registry import resolve
from .spec import METADATA_KEY, ModelSpec


class LandmarkModel:
    """A loaded model. Call it on a batch of crops: ``(B, S, S, 3)`` uint8 RGB -> ``(B, 70, C)``
    float32 raw outputs in the channel order of :attr:`spec` (see :mod:`landmark3d.models.spec`)."""

    spec: ModelSpec
    path: Path

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 -> (B, 3, S, S) float32 normalised as the spec says."""
        crops = np.asarray(crops)
        s = self.spec.input_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
            raise ValueError(f"expected crops of shape (B, {s}, {s}, 3), got {crops.shape}")
        x = crops.astype(np.float32) * (1.0 / 255.0)
        x = (x - np.asarray(self.spec.mean, np.float32)) / np.asarray(self.spec.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def __call__(self, crops: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class OnnxLandmarkModel(LandmarkModel):
    def __init__(self, path: Path, *, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ModelLoadError(
                    f"device '{device}' asked for, but this onnxruntime has no CUDA provider; "
                    "use device='cpu' or install onnxruntime-gpu"
                )
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own non-standard exception types
            raise ModelLoadError(f"{self.path}: not a readable ONNX model ({exc.__class__.__name__}: {exc})") from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelLoadError(f"{self.path}: ONNX file has no '{METADATA_KEY}' metadata; was it exported by `landmark3d export`?")
        self.spec = ModelSpec.from_json(meta[METADATA_KEY], source=str(self.path))
        self._input = self._session.get_inputs()[0].name
        self._half = "float16" in self._session.get_inputs()[0].type

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        x = self.preprocess(crops)
        if self._half:
            x = x.astype(np.float16)
        out = self._session.run(None, {self._input: x})[0]
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        self._session = None


class TorchLandmarkModel(LandmarkModel):
    """A training checkpoint (``{"spec": json, "model": state_dict, ...}``); needs the [train] extra."""

    def __init__(self, path: Path, *, device: str = "cpu", threads: int | None = None):
        from ..errors import require

        torch = require("torch", "train", "loading a .pt checkpoint")
        from .torch_models import build_model

        self.path = Path(path)
        if threads:
            torch.set_num_threads(int(threads))
        try:
            # weights_only: loading never runs code from the file
            ckpt = torch.load(self.path, map_location="cpu", weights_only=True)
            self.spec = ModelSpec.from_json(ckpt["spec"], source=str(self.path))
            self._net = build_model(self.spec)
            self._net.load_state_dict(ckpt["model"])  # "model" holds the weights to infer with (EMA if used)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"{self.path}: not a landmark3d checkpoint ({exc.__class__.__name__}: {exc})") from exc
        self._torch = torch
        self._device = torch.device(device)
        self._net.to(self._device).eval()

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        x = self._torch.from_numpy(self.preprocess(crops)).to(self._device)
        with self._torch.inference_mode():
            return self._net(x).float().cpu().numpy()


def load_model(model: str | Path | None = None, *, device: str = "cpu", threads: int | None = None) -> LandmarkModel:
    """Load a shipped model by name (default: the default model), an ``.onnx`` file, or a ``.pt``
    training checkpoint (needs torch). Raises :class:`~landmark3d.errors.ModelLoadError`."""
    if isinstance(model, LandmarkModel):
        return model
    path = resolve(model)
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder; pass the .onnx or .pt file")
    if path.suffix in (".pt", ".pth", ".ckpt"):
        return TorchLandmarkModel(path, device=device, threads=threads)
    return OnnxLandmarkModel(path, device=device, threads=threads)
