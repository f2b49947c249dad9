"""Faces: the result for one image. Arrays, not per-landmark objects; zero faces = length-0 arrays."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .schema import NUM_LANDMARKS

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Faces:
    """Every face found in one image, in that image's pixel coordinates (x right, y down,
    pixel centres at integers).

    Attributes:
        boxes: (N, 4) float32 ``x1, y1, x2, y2`` — the detector's box (or the box given).
        scores: (N,) float32 detector confidence (1.0 for given boxes).
        landmarks: (N, 70, 2) float32 — the 70 x-ray landmarks (:mod:`landmark3d.schema`).
        sigma: (N, 70) float32 — each landmark's standard deviation in image pixels (isotropic),
            or ``None`` when the model predicts no uncertainty.
        landmarks_3d: (N, 70, 3) float32 in image-pixel units, head-centred (mean of the 68 iBUG
            points at 0), camera-aligned (x right, y down, z away from the camera); ``None``
            when the model predicts no depth.
        pose: (N, 3) float32 yaw, pitch, roll in degrees (:mod:`landmark3d.pose`); ``None``
            without depth.
        image_size: (height, width) of the image.
        source: the file (and frame) the image came from, or "" for arrays.
        model: the name of the model that made the landmarks.
        timings_ms: time per stage (decode, detect, landmarks) in milliseconds.
        error: why the image could not be processed ("" when it was); set only by
            :meth:`landmark3d.Detector.iter`, which goes on after a bad input.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    sigma: np.ndarray | None = None
    landmarks_3d: np.ndarray | None = None
    pose: np.ndarray | None = None
    image_size: tuple[int, int] = (0, 0)
    source: str = ""
    model: str = ""
    timings_ms: dict = field(default_factory=dict)
    error: str = ""

    def __post_init__(self):
        n = len(self.boxes)
        _check(self.boxes, (n, 4), "boxes")
        _check(self.scores, (n,), "scores")
        _check(self.landmarks, (n, NUM_LANDMARKS, 2), "landmarks")
        if self.sigma is not None:
            _check(self.sigma, (n, NUM_LANDMARKS), "sigma")
        if self.landmarks_3d is not None:
            _check(self.landmarks_3d, (n, NUM_LANDMARKS, 3), "landmarks_3d")
        if self.pose is not None:
            _check(self.pose, (n, 3), "pose")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, **kwargs) -> "Faces":
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, NUM_LANDMARKS, 2), np.float32),
            **kwargs,
        )

    def plot(self, image: np.ndarray, **kwargs) -> np.ndarray:
        """A new RGB image with the faces drawn; see :func:`landmark3d.viz.draw_faces`."""
        from .viz import draw_faces

        return draw_faces(image, self, **kwargs)

    # ---- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        faces = []
        for i in range(len(self)):
            face = {
                "box": _r(self.boxes[i]),
                "score": round(float(self.scores[i]), 4),
                "landmarks": _r(self.landmarks[i]),
            }
            if self.sigma is not None:
                face["sigma"] = _r(self.sigma[i])
            if self.landmarks_3d is not None:
                face["landmarks_3d"] = _r(self.landmarks_3d[i])
            if self.pose is not None:
                face["pose_deg"] = dict(zip(("yaw", "pitch", "roll"), _r(self.pose[i])))
            faces.append(face)
        return {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "image_size": {"height": int(self.image_size[0]), "width": int(self.image_size[1])},
            "model": self.model,
            "faces": faces,
            **({"error": self.error} if self.error else {}),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> "Faces":
        faces = data.get("faces", [])
        n = len(faces)

        def stack(key, shape):
            if n == 0 or key not in faces[0]:
                return None
            return np.asarray([f[key] for f in faces], np.float32).reshape((n,) + shape)

        pose = None
        if n and "pose_deg" in faces[0]:
            pose = np.asarray([[f["pose_deg"][k] for k in ("yaw", "pitch", "roll")] for f in faces], np.float32)
        size = data.get("image_size", {})
        out = cls(
            boxes=np.asarray([f["box"] for f in faces], np.float32).reshape(n, 4),
            scores=np.asarray([f["score"] for f in faces], np.float32).reshape(n),
            landmarks=np.asarray([f["landmarks"] for f in faces], np.float32).reshape(n, NUM_LANDMARKS, 2),
            sigma=stack("sigma", (NUM_LANDMARKS,)),
            landmarks_3d=stack("landmarks_3d", (NUM_LANDMARKS, 3)),
            pose=pose,
            image_size=(int(size.get("height", 0)), int(size.get("width", 0))),
            source=data.get("source", ""),
            model=data.get("model", ""),
            error=data.get("error", ""),
        )
        return out

    @classmethod
    def from_json(cls, text: str) -> "Faces":
        return cls.from_dict(json.loads(text))

    def to_csv_rows(self) -> list[list]:
        """One row per face: source, face index, score, box, then x0, y0, ..., x69, y69 [, sigma0..69]."""
        rows = []
        for i in range(len(self)):
            row = [self.source, i, round(float(self.scores[i]), 4), *_r(self.boxes[i])]
            row += _r(self.landmarks[i].reshape(-1))
            if self.sigma is not None:
                row += _r(self.sigma[i])
            rows.append(row)
        return rows

    @staticmethod
    def csv_header(with_sigma: bool) -> list[str]:
        head = ["source", "face", "score", "x1", "y1", "x2", "y2"]
        head += [f"{a}{i}" for i in range(NUM_LANDMARKS) for a in ("x", "y")]
        if with_sigma:
            head += [f"sigma{i}" for i in range(NUM_LANDMARKS)]
        return head

    def to_pts(self, index: int = 0) -> str:
        """The face's 68 iBUG points as a 300-W ``.pts`` file (1-based coordinates, its convention)."""
        pts = self.landmarks[index, :68] + 1.0
        lines = ["version: 1", "n_points:  68", "{"]
        lines += [f"{x:.3f} {y:.3f}" for x, y in pts]
        lines.append("}")
        return "\n".join(lines) + "\n"


def _check(a, shape, name):
    if not isinstance(a, np.ndarray) or a.shape != shape:
        got = getattr(a, "shape", type(a).__name__)
        raise ValueError(f"Faces.{name}: expected shape {shape}, got {got}")


def _r(a) -> list:
    return np.round(np.asarray(a, dtype=np.float64), 3).tolist()
