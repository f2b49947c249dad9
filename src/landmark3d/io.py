"""Image and video input: one decoder for every source, and expansion of paths/folders/globs.

Every image leaves here as HxWx3 uint8 RGB, upright (EXIF orientation applied). Grayscale is
replicated, alpha dropped (composited on black is *not* done: the colour channels are kept as they
are), 16-bit scaled to 8-bit, CMYK converted by Pillow.
"""
from __future__ import annotations

import glob
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import ImageReadError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".jp2"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


def read_image(source) -> np.ndarray:
    """Decode ``source`` (path, PIL image or numpy array) to HxWx3 uint8 RGB. Never mutates input.

    Raises :class:`~landmark3d.errors.ImageReadError` naming the file and the cause.
    """
    return read_image_bounded(source, None)[0]


def read_image_bounded(source, max_pixels: float | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Like :func:`read_image`, but an image over ``max_pixels`` is decoded downscaled (JPEG's
    DCT scaling where possible, so memory stays bounded). Returns ``(image, (height, width))``,
    the second being the full-size image's upright size.
    """
    if isinstance(source, np.ndarray):
        image = _array_to_rgb(source, "array")
        if image is source or np.shares_memory(image, source):
            image = image.copy()  # the caller's array stays theirs
        return _bound(image, max_pixels)
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - pillow is a core dependency
        raise ImageReadError("reading images needs Pillow: pip install pillow") from exc
    if isinstance(source, Image.Image):
        return _bound(_pil_to_rgb(source, "PIL image"), max_pixels)
    path = Path(source)
    name = str(path)
    if not path.exists():
        raise ImageReadError(f"{name}: no such file")
    if path.is_dir():
        raise ImageReadError(f"{name}: is a folder, not an image")
    try:
        with warnings.catch_warnings():
            # Large photos are expected here; memory is bounded below by max_pixels.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if not max_pixels or w * h <= max_pixels:
                    rgb = _pil_to_rgb(_pil_upright(im), name)
                    return rgb, rgb.shape[:2]
                scale = float(np.sqrt(max_pixels / (w * h)))
                target = (max(1, int(w * scale)), max(1, int(h * scale)))
                im.draft("RGB", target)  # JPEG: decode at 1/2..1/8 scale directly
                # Shrink in Pillow (stored orientation), then rotate the small copy: the full
                # image never exists as a numpy array.
                rgb_im = im if im.mode == "RGB" else im.convert("RGB")
                small = rgb_im.resize(target, Image.Resampling.BOX)
                del rgb_im
                orientation = im.getexif().get(0x0112, 1)
                if orientation in _EXIF_TRANSPOSE:
                    small = small.transpose(getattr(Image.Transpose, _EXIF_TRANSPOSE[orientation]))
                rgb = _pil_to_rgb(small, name)
                return rgb, ((w, h) if orientation in (5, 6, 7, 8) else (h, w))
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{name}: image too large to decode safely ({exc})") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"{name}: cannot decode image ({exc.__class__.__name__}: {exc})") from exc


# EXIF orientation -> the Pillow transpose that makes the picture upright (EXIF 2.3, tag 0x0112)
_EXIF_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
                   6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def _pil_upright(im):
    from PIL import ImageOps

    return ImageOps.exif_transpose(im)


def _pil_to_rgb(im, name: str) -> np.ndarray:
    im.load()
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return _array_to_rgb(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), name)
    if im.mode == "F":
        return _array_to_rgb(np.asarray(im, dtype=np.float32), name)
    if im.mode in ("RGBA", "LA", "PA", "P") or "transparency" in im.info:
        im = im.convert("RGBA")
        return np.array(np.asarray(im)[..., :3])
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.array(im)  # a writable copy


def _array_to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageReadError(f"{name}: expected an HxW, HxWx3 or HxWx4 image, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = (a.astype(np.uint32) * 255 + 32767) // 65535
    elif a.dtype.kind == "f":
        # Floats are taken as [0, 1] when they fit, else as [0, 255].
        top = 1.0 if np.nanmax(a) <= 1.0 else 255.0
        a = np.clip(np.nan_to_num(a) / top * 255.0 + 0.5, 0, 255)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255)
    a = a.astype(np.uint8, copy=False)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def _bound(image: np.ndarray, max_pixels: float | None) -> tuple[np.ndarray, tuple[int, int]]:
    h, w = image.shape[:2]
    if not max_pixels or h * w <= max_pixels:
        return image, (h, w)
    import cv2

    scale = float(np.sqrt(max_pixels / (h * w)))
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), (h, w)


@dataclass(frozen=True)
class InputItem:
    """One thing to process: an image file, a video file, or a path that failed to expand."""

    path: Path
    kind: str  # "image" | "video" | "missing"


def expand_inputs(paths) -> list[InputItem]:
    """Files, folders (their images and videos, sorted, not recursive) and glob patterns.

    A path that exists nowhere is returned as kind ``"missing"`` so the caller can report it
    and go on. Files named explicitly are taken whatever their suffix.
    """
    items: list[InputItem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                kind = _kind(child)
                if child.is_file() and kind:
                    items.append(InputItem(child, kind))
        elif p.is_file():
            items.append(InputItem(p, _kind(p) or "image"))
        elif glob.has_magic(str(raw)):
            matches = sorted(glob.glob(str(raw), recursive=True))
            for m in matches:
                mp = Path(m)
                if mp.is_file() and _kind(mp):
                    items.append(InputItem(mp, _kind(mp)))
            if not matches:
                items.append(InputItem(p, "missing"))
        else:
            items.append(InputItem(p, "missing"))
    return items


def _kind(path: Path) -> str | None:
    s = path.suffix.lower()
    if s in IMAGE_SUFFIXES:
        return "image"
    if s in VIDEO_SUFFIXES:
        return "video"
    return None


def iter_video_frames(path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, RGB frame)`` for every ``every``-th frame of a video file."""
    import cv2

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageReadError(f"{path}: cannot open as a video (unsupported codec or not a video)")
    try:
        index = 0
        while True:
            if index % every == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            elif not cap.grab():
                break
            index += 1
    finally:
        cap.release()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so an interrupted run never leaves a half-written result."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_image(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the image")
    write_bytes_atomic(path, buf.tobytes())
