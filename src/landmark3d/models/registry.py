"""The shipped landmark models: name -> ONNX file inside the package, with a model card beside it."""
from __future__ import annotations

import difflib
from pathlib import Path

from ..errors import ModelLoadError

#: Shipped models, best-first within each speed class. The first is the default.
SHIPPED: dict[str, str] = {
    "mobilenetv2_gnll": "mobilenetv2_gnll.onnx",
    "resnet34_gnll": "resnet34_gnll.onnx",
}
DEFAULT_MODEL = "mobilenetv2_gnll"


def weights_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "weights"


def available() -> list[str]:
    """Names of the shipped models whose files are present in this installation."""
    return [name for name, file in SHIPPED.items() if (weights_dir() / file).exists()]


def resolve(model: str | Path | None) -> Path:
    """A model name (see :data:`SHIPPED`) or a path to an ``.onnx`` / ``.pt`` file -> its path."""
    if model is None:
        model = DEFAULT_MODEL
    text = str(model)
    if text in SHIPPED:
        path = weights_dir() / SHIPPED[text]
        if not path.exists():
            raise ModelLoadError(
                f"model '{text}' is not shipped in this installation ({path} is missing); "
                f"available: {', '.join(available()) or 'none'}"
            )
        return path
    path = Path(text).expanduser()
    if path.exists():
        return path
    hint = difflib.get_close_matches(text, list(SHIPPED), n=1)
    extra = f" Did you mean '{hint[0]}'?" if hint else ""
    raise ModelLoadError(
        f"{text}: no such model file, and not a shipped model name ({', '.join(SHIPPED)}).{extra}"
    )
