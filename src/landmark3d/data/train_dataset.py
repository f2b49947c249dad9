"""The training dataset: labelled samples -> (normalised crop, crop-normalised targets).

Sources are FaceSynthetics-layout folders (Microsoft's data or ``landmark3d synth`` output) or a
live generator; several concatenate into one index space. Items are addressed by
``(epoch, index)`` keys and augmented with a generator seeded from ``(seed, epoch, index)``,
so a run is reproducible and a resumed run sees exactly the batches it would have seen.

Targets per item (torch tensors):
- ``image`` (3, S, S) float32, ``(pixel / 255 - mean) / std`` (uint8 pixels with ``CropConfig.uint8``:
  :func:`model_input` normalises the batch, on the GPU in training);
- ``xy`` (70, 2) float32 crop-normalised in [-1, 1] (:meth:`landmark3d.crop.Crop.normalize`);
- ``z`` (70,) float32 depth in crop half-side units relative to the mean of the 68 iBUG points,
  positive away from the camera (zeros where unknown) and ``has_z`` (bool).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..crop import CROP_SCALE, crop_from_points
from .augment import GRAY_PROB, CropJitter, build_photometric, flip_crop, random_crop, seed_photometric
from .facesynthetics import list_ids, read_meta, read_sample
from .sample import Sample


class FolderSource:
    """Samples of a FaceSynthetics-layout folder, optionally restricted to ``ids``.

    ``boxes`` maps sample id -> detector box (x1, y1, x2, y2) (from ``landmark3d bbox``).
    """

    def __init__(self, root: str | Path, ids: list[str] | None = None, boxes: dict | None = None):
        self.root = Path(root)
        self.ids = list_ids(self.root) if ids is None else list(ids)
        if not self.ids:
            raise FileNotFoundError(f"{self.root}: no '*_ldmks.txt' files; expected a FaceSynthetics-layout folder")
        self.boxes = boxes or {}

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int, rng=None, epoch: int = 0) -> tuple[Sample, np.ndarray | None]:
        sample_id = self.ids[index]
        box = self.boxes.get(sample_id)
        return read_sample(self.root, sample_id), (None if box is None else np.asarray(box[:4], float))


class MemorySource:
    """Samples already in memory (tests, or a pre-rendered batch from the generator)."""

    def __init__(self, samples: list[Sample], boxes: list | None = None):
        self.samples = list(samples)
        self.boxes = boxes

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int, rng=None, epoch: int = 0):
        box = None if self.boxes is None or self.boxes[index] is None else np.asarray(self.boxes[index][:4], float)
        return self.samples[index], box


class GeneratorSource:
    """A live stream from the generator: item ``index`` of ``epoch`` is generator face
    ``epoch * length + index``, so every epoch sees new faces and a run is reproducible.

    ``render(face_index) -> Sample`` is called in the process that loads the item (each data
    loader worker builds its own renderer, see :class:`LiveRenderer`).
    """

    def __init__(self, render, length: int):
        self.render = render
        self.length = int(length)

    def __len__(self) -> int:
        return self.length

    def load(self, index: int, rng=None, epoch: int = 0):
        return self.render(int(epoch) * self.length + int(index)), None


class LiveRenderer:
    """Picklable ``face_index -> Sample`` over :class:`landmark3d.synth.generator.Generator`,
    creating the generator (and its OpenGL context) lazily in the calling process."""

    def __init__(self, size: int = 256, seed: int = 0):
        self.size, self.seed = int(size), int(seed)
        self._gen = None

    def __getstate__(self):
        return {"size": self.size, "seed": self.seed, "_gen": None}

    def __call__(self, face_index: int) -> Sample:
        if self._gen is None:
            from ..synth.generator import Generator, GeneratorConfig

            self._gen = Generator(GeneratorConfig(size=self.size, seed=self.seed))
        out = self._gen.render_batch([face_index])[0]
        return out[0] if isinstance(out, tuple) else out


def load_boxes(path: str | Path) -> dict:
    """Read a ``landmark3d bbox`` JSON file: ``{"boxes": {id: [x1, y1, x2, y2, score]}}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return {k: v for k, v in data["boxes"].items()}
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a landmark3d bbox file ({exc}); make one with 'landmark3d bbox DIR'") from exc


def depth_targets(sample: Sample) -> np.ndarray | None:
    """Per-landmark depth in image pixels (weak perspective), relative to the 68 points' mean depth.

    The image-pixels-per-unit scale is the least-squares fit of the centred 3D (x, y) to the
    centred 2D landmarks (camera frame x right, y down, z forward, as :class:`Sample` states).
    """
    if sample.landmarks_3d is None:
        return None
    p3 = np.asarray(sample.landmarks_3d, dtype=np.float64)[:, :3]          # (70, 3)
    p2 = np.asarray(sample.landmarks, dtype=np.float64)                    # (70, 2)
    a = p3[:68, :2] - p3[:68, :2].mean(0)
    b = p2[:68] - p2[:68].mean(0)
    s = float((a * b).sum() / max((a * a).sum(), 1e-12))
    return s * (p3[:, 2] - p3[:68, 2].mean())                               # (70,)


@dataclass
class CropConfig:
    """How items are cropped and augmented."""

    size: int = 128
    augment: bool = True                 # random crop jitter + flip (off: the plain crop rule)
    photometric: bool = True             # albumentations corruptions (only when augment is on)
    aug_disable: tuple[str, ...] = ()    # photometric groups switched off
    gray_prob: float = GRAY_PROB         # probability of converting a crop to grey
    flip: bool = True
    jitter: CropJitter = field(default_factory=CropJitter)
    box_scale: float = CROP_SCALE        # crop scale over a detector box (only with boxes)
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    uint8: bool = False                  # items' images as uint8 (3, S, S), normalised later by model_input
                                         # (a quarter of the bytes between loader processes)


def model_input(images, mean, std):
    """A batch of item images as the model takes them: uint8 ones (``CropConfig.uint8``) are
    scaled and normalised (on whatever device they are); float ones are already."""
    import torch

    if images.dtype != torch.uint8:
        return images
    m = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(-1, 3, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(-1, 3, 1, 1)
    out = (images.float() / 255 - m) / s
    return out[0] if images.ndim == 3 else out


class LandmarkDataset:
    """Map-style dataset over concatenated sources, keyed by ``(epoch, index)`` tuples."""

    def __init__(self, sources: list, config: CropConfig, seed: int = 0):
        if not sources:
            raise ValueError("no training data: give at least one --data folder (or 'synth')")
        self.sources = sources
        self.config = config
        self.seed = int(seed)
        self._offsets = np.cumsum([0] + [len(s) for s in sources])
        self._photometric = None

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def extend(self, sources: list) -> None:
        """Append sources (their items get the next indices; existing indices keep their items)."""
        self.sources = self.sources + list(sources)
        self._offsets = np.cumsum([0] + [len(s) for s in self.sources])

    def yaw_abs(self) -> np.ndarray:
        """(len(self),) absolute yaw of each sample in degrees, NaN where unknown (source_yaw)."""
        return np.concatenate([source_yaw(s) for s in self.sources])

    def _locate(self, index: int):
        k = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return self.sources[k], index - int(self._offsets[k])

    def __getitem__(self, key):
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, int(epoch), int(index)])
        source, local = self._locate(int(index))
        sample, box = source.load(local, rng, epoch)
        return self.make_item(sample, rng, box)

    def make_item(self, sample: Sample, rng: np.random.Generator, box=None) -> dict:
        import torch

        cfg = self.config
        if cfg.augment:
            crop = random_crop(sample.landmarks, cfg.size, rng, cfg.jitter, box=box, box_scale=cfg.box_scale)
        else:
            crop = crop_from_points(sample.landmarks, cfg.size)
        image = crop.warp(sample.image)                                     # (S, S, 3) uint8
        pts = crop.to_crop(sample.landmarks)                                # (70, 2) crop px
        z = depth_targets(sample)
        if z is not None:
            z = z * crop.scale * 2.0 / cfg.size                             # crop half-side units
        if cfg.augment and cfg.flip and rng.random() < 0.5:
            image, pts, z = flip_crop(image, pts, z)
        if cfg.augment and cfg.photometric:
            if self._photometric is None:
                self._photometric = build_photometric(tuple(cfg.aug_disable), gray_prob=cfg.gray_prob)
            seed_photometric(self._photometric, rng)
            image = self._photometric(image=image)["image"]
        if cfg.uint8:
            x = image
        else:
            x = (image.astype(np.float32) / 255.0 - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
            "xy": torch.from_numpy(crop.normalize(pts).astype(np.float32)),
            "z": torch.from_numpy((np.zeros(70) if z is None else z).astype(np.float32)),
            "has_z": torch.tensor(z is not None),
        }


def source_yaw(source) -> np.ndarray:
    """(len(source),) each sample's absolute head yaw in degrees, NaN where unknown: from the
    ``_meta.json`` sidecars' ``pose_deg`` (our generator's folders and packs) or the samples
    held in memory."""
    if isinstance(source, MemorySource):
        return np.array([np.nan if s.pose_deg is None else abs(float(s.pose_deg[0])) for s in source.samples])
    root, ids = getattr(source, "root", None), getattr(source, "ids", None)
    if root is None or ids is None:
        return np.full(len(source), np.nan)
    yaw = [read_meta(root, i).get("pose_deg") for i in ids]
    return np.array([np.nan if p is None else abs(float(p[0])) for p in yaw])


def yaw_weights(yaw_abs: np.ndarray, bin_deg: float = 10.0) -> np.ndarray:
    """Sampling probabilities that give each ``bin_deg`` bin of absolute yaw over 0-90 degrees
    the same share of the samples with a known yaw (an empty bin gets none); samples of unknown
    yaw (NaN) keep the average weight."""
    yaw_abs = np.asarray(yaw_abs, np.float64)
    w = np.ones(len(yaw_abs))
    known = np.isfinite(yaw_abs)
    if known.any():
        last = int(np.ceil(90.0 / bin_deg)) - 1
        bins = np.minimum((yaw_abs[known] // bin_deg).astype(int), last)
        counts = np.bincount(bins, minlength=last + 1)
        wk = 1.0 / counts[bins]
        w[known] = wk * known.sum() / wk.sum()
    return w / w.sum()


class EpochBatchSampler:
    """Yields batches of ``(epoch, index)`` keys: a seeded permutation per epoch, last partial
    batch dropped, starting at global step ``start_step`` (for exact resume); endless. With
    ``weights`` (probabilities, (n,)), an epoch is instead n draws with replacement by them."""

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0, weights: np.ndarray | None = None):
        if n <= 0:
            raise ValueError("empty dataset")
        if weights is not None and len(weights) != n:
            raise ValueError(f"{len(weights)} sampling weights for {n} samples")
        self.n = n
        self.batch_size = min(batch_size, n)
        self.seed = seed
        self.start_step = start_step
        self.weights = weights

    @property
    def steps_per_epoch(self) -> int:
        return self.n // self.batch_size

    def __iter__(self):
        step = self.start_step
        while True:
            epoch, k = divmod(step, self.steps_per_epoch)
            rng = np.random.default_rng([self.seed, 7919, epoch])
            perm = rng.permutation(self.n) if self.weights is None else rng.choice(self.n, self.n, p=self.weights)
            chunk = perm[k * self.batch_size:(k + 1) * self.batch_size]
            yield [(epoch, int(i)) for i in chunk]
            step += 1
