"""Shared fixtures: where ../shared is, and a tiny ONNX landmark model for fast pipeline tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

try:
    # torchvision's native extension segfaults when it loads after Mesa's EGL driver (which the
    # generator's tests start); load it first. See landmark3d.synth.renderer._load_torchvision_first.
    import torchvision  # noqa: F401
except ImportError:
    pass

REPO = Path(__file__).resolve().parent.parent


def shared_root() -> Path:
    return Path(os.environ.get("LANDMARK3D_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_root()
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} not found (set LANDMARK3D_SHARED)")
    return root


def make_tiny_onnx(path: Path, *, size: int = 32, channels=("x", "y", "log_sigma"), seed: int = 0,
                   name: str = "tiny-test") -> Path:
    """A random-weight model honouring the landmark3d ONNX contract: image (B,3,S,S) -> global
    average pool -> linear -> (B, 70, C). Its landmarks barely depend on the image, which is
    what pipeline tests want (predictable geometry, no training)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from landmark3d.models.spec import INPUT_NAME, METADATA_KEY, OUTPUT_NAME, ModelSpec

    rng = np.random.default_rng(seed)
    c = len(channels)
    bias = np.zeros((70, c), np.float32)
    bias[:, :2] = rng.uniform(-0.6, 0.6, (70, 2))   # a face filling ~the middle of the crop
    w = rng.normal(0, 0.01, (3, 70 * c)).astype(np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", [INPUT_NAME], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["lin"]),
        helper.make_node("Reshape", ["lin", "shape"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["B", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["B", 70, c])],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias.reshape(-1), "b"),
                     numpy_helper.from_array(np.array([-1, 70, c], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    spec = ModelSpec(name=name, backbone="tiny", input_size=size, channels=tuple(channels), provisional=True)
    helper.set_model_props(model, {METADATA_KEY: spec.to_json()})
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_onnx(tmp_path_factory.mktemp("models") / "tiny.onnx")


def FixedBoxDetector(boxes):
    """A face-detector back-end stand-in that 'finds' the boxes it was given."""
    from landmark3d.detect import FaceDetector

    class _Fixed(FaceDetector):
        name = "fixed"

        def _detect(self, image):
            return np.asarray(boxes, np.float32).reshape(-1, 5)

    return _Fixed()


@pytest.fixture
def face_image() -> np.ndarray:
    """A 200x160 RGB test picture (no real face needed with FixedBoxDetector)."""
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (200, 160, 3), dtype=np.uint8)
