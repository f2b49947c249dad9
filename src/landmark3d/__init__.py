"""landmark3d: find faces and predict 70 x-ray landmarks, their uncertainty, 3D points and head pose.

    from landmark3d import Detector
    faces = Detector()("photo.jpg")
    faces.landmarks   # (N, 70, 2) image pixels
    faces.sigma       # (N, 70) standard deviation in image pixels

Importing this package is cheap: onnxruntime, OpenCV and torch load only when used.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Detector", "Faces", "load_model", "__version__"]


def __getattr__(name: str):
    # Lazy so `import landmark3d` stays free of heavy imports and side effects.
    if name == "Detector":
        from .detector import Detector
        return Detector
    if name == "Faces":
        from .results import Faces
        return Faces
    if name == "load_model":
        from .models.runtime import load_model
        return load_model
    raise AttributeError(f"module 'landmark3d' has no attribute {name!r}")
