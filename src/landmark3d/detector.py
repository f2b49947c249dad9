"""Detector: the inference pipeline. Image -> face boxes -> crops -> landmark model -> second
pass from the predicted landmarks -> :class:`~landmark3d.results.Faces`."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .crop import Crop, crop_from_box, points_box
from .errors import Landmark3dError
from .io import read_image_bounded
from .results import Faces

#: Images above this many pixels are decoded downscaled (memory stays bounded; a face that
#: small a fraction of a 16 MP photo still spans hundreds of pixels; JPEGs over it decode at 1/2-1/8 scale).
MAX_PIXELS = 16e6
#: Second-pass guard: keep the first pass when the landmarks' crop moves by more than this
#: fraction of the first crop's side, or changes its side by more than this factor.
MAX_SHIFT = 0.5
MAX_SIDE_RATIO = 2.0


class Detector:
    """Find faces and predict their 70 landmarks.

    Args:
        model: a shipped model name, a path to an ``.onnx`` file or a ``.pt`` checkpoint, or a
            loaded :class:`~landmark3d.models.runtime.LandmarkModel`; ``None`` = the default model.
        detector: a face-detector name (see :func:`landmark3d.detect.get_detector`) or an
            instance with ``detect(image) -> (K, 5)`` and ``face_boxes(detections) -> (K, 4)``.
        device: ``"cpu"`` or ``"cuda"`` (ONNX Runtime needs its CUDA build; torch models need torch).
        threads: intra-op threads of the landmark model (``None`` = the runtime's default).
        refine: a second pass from the crop of the first pass's landmarks: ``"auto"`` (default)
            only for faces whose first crop lies outside the crops the model was trained on
            (a box far off, too loose or too tight), ``True`` for every face, ``False`` never.
        flip_average: also run each crop mirrored and average the two predictions (test-time
            augmentation: twice the landmark-model time for a smaller error).
        label_adapter: move the jaw and brow points to the meaning common label sets give them
            (:mod:`landmark3d.label_adapter`): ``"auto"`` (default) uses the model's adapter
            file (``<model>.adapter.json`` beside it; the shipped models have one) when there is
            one, ``True`` requires it, a path or a :class:`~landmark3d.label_adapter.LabelAdapter`
            gives one, ``False`` or ``None`` leaves the model's own points.

    Raises :class:`~landmark3d.errors.ModelLoadError` for a model that can't be loaded.
    """

    def __init__(self, model=None, detector="default", *, device: str = "cpu",
                 threads: int | None = None, refine: bool | str = "auto", flip_average: bool = False,
                 label_adapter="auto"):
        from .models.runtime import load_model

        self.model = load_model(model, device=device, threads=threads)
        self.spec = self.model.spec
        self.label_adapter = _load_adapter(label_adapter, self.model)
        self._detector_arg = detector
        self._face_detector = None
        self.refine = refine
        self.flip_average = flip_average

    @property
    def face_detector(self):
        if self._face_detector is None:
            from .detect import get_detector

            self._face_detector = get_detector(self._detector_arg)
        return self._face_detector

    # ---- public verbs ----------------------------------------------------------------------
    def __call__(self, image, boxes=None) -> Faces:
        """Faces in one image: a path, an RGB uint8 array (HxWx3; gray/RGBA/16-bit accepted) or a
        PIL image. ``boxes`` (K, 4) ``x1, y1, x2, y2`` in image pixels skips face detection.

        Raises :class:`~landmark3d.errors.ImageReadError` for an unreadable image."""
        return self._run_batch([(image, boxes)], raise_errors=True)[0]

    def iter(self, images: Iterable, *, batch_size: int = 8, boxes: Iterable | None = None) -> Iterator[Faces]:
        """Faces for many images, batching the landmark model across images for throughput.

        Yields one :class:`Faces` per input, in order. An input that can't be read gives an empty
        ``Faces`` whose ``error`` says why (the iteration goes on)."""
        batch: list = []
        box_iter = iter(boxes) if boxes is not None else None
        for image in images:
            batch.append((image, next(box_iter) if box_iter is not None else None))
            if len(batch) >= batch_size:
                yield from self._run_batch(batch, raise_errors=False)
                batch = []
        if batch:
            yield from self._run_batch(batch, raise_errors=False)

    def close(self) -> None:
        self.model.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the pipeline ------------------------------------------------------------------------
    def _run_batch(self, items, *, raise_errors: bool) -> list[Faces]:
        prepared = []
        for image, boxes in items:
            source = str(image) if isinstance(image, (str, Path)) else ""
            try:
                prepared.append(self._prepare(image, boxes, source))
            except Landmark3dError as exc:
                if raise_errors:
                    raise
                prepared.append(Faces.empty(source=source, model=self.spec.name, error=str(exc)))
        work = [p for p in prepared if isinstance(p, dict) and len(p["face_boxes"])]
        if work:
            t0 = time.perf_counter()
            self._landmarks(work)
            per_image = (time.perf_counter() - t0) * 1000 / len(work)
            for p in work:
                p["timings_ms"]["landmarks"] = per_image
        return [p if isinstance(p, Faces) else self._to_faces(p) for p in prepared]

    def _prepare(self, image, boxes, source: str) -> dict:
        t0 = time.perf_counter()
        rgb, size = read_image_bounded(image, MAX_PIXELS)
        t1 = time.perf_counter()
        # decoded pixels per original pixel, per axis (1 unless the image was too large)
        scale = np.array([rgb.shape[1] / size[1], rgb.shape[0] / size[0]])
        box_scale = np.tile(scale, 2)
        if boxes is None:
            detections = np.asarray(self.face_detector.detect(rgb), np.float64).reshape(-1, 5)
            face_boxes = np.asarray(self.face_detector.face_boxes(detections), np.float64).reshape(-1, 4)
            out_boxes, scores = detections[:, :4] / box_scale, detections[:, 4]
        else:
            given = np.asarray(boxes, np.float64).reshape(-1, 4)
            if not np.all(np.isfinite(given)) or np.any(given[:, 2:] <= given[:, :2]):
                raise ValueError(f"boxes must be finite (K, 4) x1, y1, x2, y2 with x2 > x1, y2 > y1; got {given.tolist()}")
            out_boxes, scores = given, np.ones(len(given))
            face_boxes = given * box_scale
        t2 = time.perf_counter()
        return {
            "rgb": rgb, "scale": scale, "size": tuple(int(v) for v in size), "source": source,
            "boxes": out_boxes, "scores": scores, "face_boxes": face_boxes,
            "timings_ms": {"decode": (t1 - t0) * 1000, "detect": (t2 - t1) * 1000},
        }

    def _crops_for(self, work, boxes_key: str) -> list[Crop]:
        s, cs = self.spec.input_size, self.spec.crop_scale
        return [crop_from_box(b, s, scale=cs) for p in work for b in p[boxes_key]]

    def _predict(self, work, crops: list[Crop], batch_size: int = 32, select=None):
        """Decoded outputs for every face, or only for the faces where ``select`` (bool per face)."""
        from .models.decode import decode_outputs, unflip_outputs

        images = []
        k = 0
        for p in work:
            for _ in range(len(p["face_boxes"])):
                if select is None or select[k]:
                    images.append(crops[k].warp(p["rgb"]))
                k += 1
        if select is not None:
            crops = [c for c, on in zip(crops, select) if on]
        images = np.stack(images)

        def run(batch):
            return np.concatenate([self.model(batch[i:i + batch_size]) for i in range(0, len(batch), batch_size)])

        raw = run(images)
        if self.flip_average:
            raw = 0.5 * (raw + unflip_outputs(run(np.ascontiguousarray(images[:, :, ::-1]))))
        return decode_outputs(raw, crops, self.spec)

    def _landmarks(self, work) -> None:
        crops = self._crops_for(work, "face_boxes")
        lm, sigma, z = self._predict(work, crops)
        if self.refine:
            second = [points_box(p) for p in lm]
            cs = self.spec.crop_scale
            # "auto": a second pass only where the first crop lies outside what training showed
            run = np.array([_second_pass_ok(c, b, cs) and (self.refine is True or not _like_training(c, b, cs))
                            for c, b in zip(crops, second)])
            k = 0
            for p in work:
                n = len(p["face_boxes"])
                p["refine_boxes"] = np.array(second[k:k + n])
                k += n
            if run.any():
                crops2 = self._crops_for(work, "refine_boxes")
                lm2, sigma2, z2 = self._predict(work, crops2, select=run)
                lm = lm.copy()
                lm[run] = lm2
                if sigma is not None:
                    sigma = sigma.copy()
                    sigma[run] = sigma2
                if z is not None:
                    z = z.copy()
                    z[run] = z2
        k = 0
        for p in work:
            n = len(p["face_boxes"])
            p["landmarks"] = lm[k:k + n] / p["scale"]
            mean_scale = float(p["scale"].mean())
            p["sigma"] = None if sigma is None else sigma[k:k + n] / mean_scale
            p["z"] = None if z is None else z[k:k + n] / mean_scale
            k += n

    def _to_faces(self, p: dict) -> Faces:
        n = len(p["face_boxes"])
        common = dict(image_size=p["size"], source=p["source"], model=self.spec.name, timings_ms=p["timings_ms"])
        if n == 0:
            return Faces.empty(**common)
        lm3d = pose = None
        if p.get("z") is not None:
            from .models.head_pose import landmarks_3d_and_pose

            lm3d, pose = landmarks_3d_and_pose(p["landmarks"], p["z"])
        landmarks = p["landmarks"]
        if self.label_adapter is not None:
            from .models.head_pose import template

            landmarks, lm3d = self.label_adapter.apply(landmarks, lm3d, pose, template())
        return Faces(
            boxes=p["boxes"].astype(np.float32),
            scores=np.asarray(p["scores"], np.float32),
            landmarks=landmarks.astype(np.float32),
            sigma=None if p["sigma"] is None else p["sigma"].astype(np.float32),
            landmarks_3d=lm3d,
            pose=pose,
            **common,
        )


def _load_adapter(arg, model):
    """The Detector's ``label_adapter`` argument as a LabelAdapter (or None)."""
    if arg is None or arg is False:
        return None
    from .errors import ModelLoadError
    from .label_adapter import LabelAdapter, file_sha256
    from .models.head_pose import template

    own = Path(getattr(model, "path", "")).with_suffix(".adapter.json")
    auto = isinstance(arg, str) and arg == "auto"
    if auto:
        if not own.is_file() or not model.spec.has_z or template() is None:
            return None
        arg = own
    if not model.spec.has_z or template() is None:
        raise ModelLoadError(f"{model.spec.name}: a label adapter needs a model with depth (z) and the pose template")
    if isinstance(arg, LabelAdapter):
        return arg
    path = own if arg is True else Path(arg)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no label adapter for {model.spec.name}; fit one with scripts/fit_label_adapter.py")
    try:
        adapter = LabelAdapter.load(path)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from exc
    # offsets fitted to another model file are wrong for this one (a re-export, a fine-tune)
    fitted_to = adapter.source.get("model_sha256")
    if fitted_to and Path(getattr(model, "path", "")).is_file() and fitted_to != file_sha256(model.path):
        if auto:
            import warnings

            warnings.warn(f"{path}: fitted to another version of {model.spec.name}; not used (refit it with "
                          "scripts/fit_label_adapter.py)", stacklevel=3)
            return None
        raise ModelLoadError(f"{path}: fitted to another version of {model.spec.name} (model file hash differs); "
                             "refit it with scripts/fit_label_adapter.py, or pass label_adapter=False")
    return adapter



def _crops_compared(first: Crop, box, crop_scale: float):
    """``(side1, side2, offset)``: the first crop's side, the side of the crop the rule makes from
    ``box`` (the first pass's landmark box), and that crop's centre minus the first's (x, y)."""
    side1 = first.size / first.scale
    centre1 = first.to_image(np.array([(first.size - 1) / 2.0] * 2))
    x1, y1, x2, y2 = box
    return side1, crop_scale * max(x2 - x1, y2 - y1), np.array([(x1 + x2) / 2, (y1 + y2) / 2]) - centre1


def _like_training(first: Crop, box, crop_scale: float) -> bool:
    """Whether the first crop is one the model saw in training around the landmarks' own crop
    (``box``: the first pass's landmark box): its side 0.85-1.2 times the rule's and its centre
    within 8 % of its side on each axis (data.augment.CropJitter's ranges). There a second pass
    only moves the crop by the first pass's own noise: on AFLW2000-3D-dev one pass was as good
    with our detector's boxes and better with the protocol's."""
    from .data.augment import CropJitter

    if not np.all(np.isfinite(box)):
        return False
    jitter = CropJitter()
    side1, side2, offset = _crops_compared(first, box, crop_scale)
    lo, hi = jitter.scale_range
    return bool(lo <= side1 / side2 <= hi and np.all(np.abs(offset) / side1 <= jitter.shift))


def _second_pass_ok(first: Crop, box, crop_scale: float) -> bool:
    """Whether the crop from the first pass's landmarks is close enough to the first crop to trust."""
    if not np.all(np.isfinite(box)):
        return False
    side1, side2, offset = _crops_compared(first, box, crop_scale)
    return np.hypot(*offset) <= MAX_SHIFT * side1 and 1 / MAX_SIDE_RATIO <= side2 / side1 <= MAX_SIDE_RATIO
