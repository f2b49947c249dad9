"""Exceptions raised by landmark3d; each also subclasses the matching built-in."""
from __future__ import annotations


class Landmark3dError(Exception):
    """Base class of every error landmark3d raises on purpose."""


class ImageReadError(Landmark3dError, OSError):
    """An input could not be read or decoded as an image; the message names the file and the cause."""


class ModelLoadError(Landmark3dError, ValueError):
    """A model file is missing, is not a model, or does not match this version's landmark schema."""


class MissingDependencyError(Landmark3dError, ImportError):
    """An optional dependency is needed for this feature; the message says what to install."""


def require(module: str, extra: str, feature: str, *, install: str | None = None):
    """Import an optional module or raise :class:`MissingDependencyError` with an install hint
    (``install``, or else ``pip install 'landmark3d[extra]'``)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = install or f"pip install 'landmark3d[{extra}]'"
        raise MissingDependencyError(f"{feature} needs the '{module}' module: {hint}") from exc
