"""ModelSpec: what a landmark model expects and returns. Embedded in every ONNX file and
checkpoint, so preprocessing always matches the weights.

Model contract (ONNX and torch alike):
- input ``image``: float32 (B, 3, S, S), RGB, ``(pixel / 255 - mean) / std``, the crop of
  :mod:`landmark3d.crop` for ``crop_scale``;
- output ``landmarks``: float32 (B, 70, C) with the channels named in ``channels``:
  ``x``, ``y`` crop-normalised in [-1, 1] (see :mod:`landmark3d.crop`);
  ``log_sigma`` = log of an isotropic standard deviation in *crop pixels* (of an S x S crop),
  before ``sigma_scale`` (a calibration factor fitted after training, on data that is not a test set);
  ``z`` depth in the same units as ``x`` (crop half-side = 1), positive away from the camera,
  relative to the mean depth of the 68 iBUG points.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..errors import ModelLoadError
from ..schema import SCHEMA_VERSION

#: ONNX metadata_props key holding the spec as JSON.
METADATA_KEY = "landmark3d_spec"
INPUT_NAME = "image"
OUTPUT_NAME = "landmarks"
KNOWN_CHANNELS = ("x", "y", "log_sigma", "z")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backbone: str
    input_size: int
    channels: tuple[str, ...] = ("x", "y", "log_sigma")
    loss: str = "gnll"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    crop_scale: float = 1.4
    schema_version: int = SCHEMA_VERSION
    num_landmarks: int = 70
    provisional: bool = False
    sigma_scale: float = 1.0  # multiplies exp(log_sigma): calibration fitted after training
    head: str = "regression"  # torch architecture of the head (torch_models.HEADS); ONNX needs no change
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if tuple(self.channels[:2]) != ("x", "y") or any(c not in KNOWN_CHANNELS for c in self.channels):
            raise ModelLoadError(f"model '{self.name}': channels must start with x, y and use {KNOWN_CHANNELS}, got {self.channels}")

    @property
    def has_sigma(self) -> bool:
        return "log_sigma" in self.channels

    @property
    def has_z(self) -> bool:
        return "z" in self.channels

    def channel(self, name: str) -> int:
        return self.channels.index(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> "ModelSpec":
        try:
            data = json.loads(text)
            data["channels"] = tuple(data["channels"])
            data["mean"] = tuple(data["mean"])
            data["std"] = tuple(data["std"])
            spec = cls(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{source}: its landmark3d spec is unreadable ({exc})") from exc
        spec.check(source)
        return spec

    def check(self, source: str = "model") -> None:
        """Refuse a model made for another landmark schema."""
        if self.schema_version != SCHEMA_VERSION or self.num_landmarks != 70:
            raise ModelLoadError(
                f"{source}: made for landmark schema v{self.schema_version} with {self.num_landmarks} points; "
                f"this landmark3d reads schema v{SCHEMA_VERSION} with 70 points. Use a matching landmark3d version."
            )
