"""A FaceSynthetics-layout folder decoded once into two files that training reads without decoding.

Reading a 256² sample from files costs ~3 ms (PNG decode, ``_ldmks.txt``, the ``_meta.json``
sidecar), the largest share of a loader item once photometric augmentation runs on the GPU; a
training run reads every sample once per epoch. ``pack_folder`` writes, inside the folder:

- ``packed_images.npy``: (N, H, W, 3) uint8 RGB, opened as a memory map (the page cache holds it);
- ``packed_labels.npz``: ``ids`` (N,), ``image_rows`` (N,), ``landmarks`` (N, 70, 2), ``landmarks_3d``
  (N, 70, 3) and ``has_3d`` (N,), written last, so its presence marks a complete pack.

``landmark3d synth --pack`` (or ``--pack-only``, without PNG files) fills the same two files as it renders (no decoding afterwards; rows of
faces skipped by ``--max-seconds`` stay empty and unlisted).

All images must share one size (our generator's output does). :func:`folder_source` returns a
:class:`PackedSource` for a folder whose pack lists exactly its samples, else the file reader.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..schema import NUM_LANDMARKS
from .facesynthetics import list_ids, read_landmarks, read_meta, read_sample
from .sample import Sample

IMAGES = "packed_images.npy"
LABELS = "packed_labels.npz"


def create_images(root: str | Path, count: int, shape: tuple[int, ...]) -> Path:
    """Start a pack in ``root``: drop any old labels file (the pack is incomplete until
    :func:`write_labels`) and create ``count`` zeroed image rows of ``shape``."""
    root = Path(root)
    (root / LABELS).unlink(missing_ok=True)
    images = np.lib.format.open_memmap(root / IMAGES, mode="w+", dtype=np.uint8, shape=(count, *shape))
    del images
    return root / IMAGES


def sample_labels(root: str | Path, sample_id: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A sample's (landmarks, landmarks_3d or None) read from its files, exactly as
    :func:`~.facesynthetics.read_sample` reads them."""
    lm = read_landmarks(Path(root) / f"{sample_id}_ldmks.txt")
    lm3 = read_meta(root, sample_id).get("landmarks_3d")
    return lm, (None if lm3 is None else np.asarray(lm3, dtype=np.float64)[:, :3])


def write_labels(root: str | Path, labels: dict[str, tuple[int, np.ndarray, np.ndarray | None]]) -> Path:
    """Finish a pack: ``labels`` maps sample id -> (image row, landmarks, landmarks_3d or None)."""
    root = Path(root)
    ids = sorted(labels)
    n = len(ids)
    lm3 = np.zeros((n, NUM_LANDMARKS, 3))
    has3 = np.zeros(n, bool)
    for k, i in enumerate(ids):
        if labels[i][2] is not None:
            lm3[k], has3[k] = labels[i][2], True
    tmp = root / (LABELS + ".tmp.npz")
    np.savez(tmp, ids=np.asarray(ids), image_rows=np.asarray([labels[i][0] for i in ids], np.int64),
             landmarks=np.stack([labels[i][1] for i in ids]) if n else np.zeros((0, NUM_LANDMARKS, 2)),
             landmarks_3d=lm3, has_3d=has3)
    os.replace(tmp, root / LABELS)
    return root / LABELS


def _decode_range(root: str, ids: list[str], start: int, stop: int) -> dict:
    """Decode samples ``start:stop`` into rows ``start:stop`` of the images file; return their labels."""
    images = np.load(Path(root) / IMAGES, mmap_mode="r+")
    shape = images.shape[1:]
    labels = {}
    for k in range(start, stop):
        s = read_sample(root, ids[k])
        if s.image.shape != shape:
            raise ValueError(f"{root}/{ids[k]}.png is {s.image.shape[:2]}, the first image {shape[:2]}: "
                             "a pack needs one image size; train from the files instead")
        images[k] = s.image
        labels[ids[k]] = (k, s.landmarks, None if s.landmarks_3d is None else s.landmarks_3d[:, :3])
    images.flush()
    return labels


def pack_folder(root: str | Path, workers: int = 0) -> Path:
    """Write ``root``'s pack (see the module docstring) with ``workers`` processes (0: this one)."""
    root = Path(root)
    ids = list_ids(root)
    if not ids:
        raise FileNotFoundError(f"{root}: no '*_ldmks.txt' files; expected a FaceSynthetics-layout folder")
    create_images(root, len(ids), read_sample(root, ids[0]).image.shape)
    chunk = max(1, min(1000, len(ids) // max(1, 4 * workers)))
    ranges = [(s, min(s + chunk, len(ids))) for s in range(0, len(ids), chunk)]
    if workers > 0:
        import multiprocessing as mp

        # fork: the children share the id list; each opens the images file itself
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.starmap(_decode_range, [(str(root), ids, a, b) for a, b in ranges])
    else:
        parts = [_decode_range(str(root), ids, a, b) for a, b in ranges]
    return write_labels(root, {k: v for part in parts for k, v in part.items()})


class PackedSource:
    """Samples of a packed folder (same interface as :class:`~.train_dataset.FolderSource`)."""

    def __init__(self, root: str | Path, ids: list[str] | None = None, boxes: dict | None = None):
        self.root = Path(root)
        with np.load(self.root / LABELS) as z:
            self._all_ids = [str(i) for i in z["ids"]]
            self._landmarks, self._landmarks_3d, self._has_3d = z["landmarks"], z["landmarks_3d"], z["has_3d"]
            self._image_rows = z["image_rows"]
        row = {i: k for k, i in enumerate(self._all_ids)}
        self.ids = list(self._all_ids) if ids is None else list(ids)
        missing = [i for i in self.ids if i not in row]
        if missing:
            raise KeyError(f"{self.root / LABELS}: no sample(s) {missing[:3]}; rebuild it with 'landmark3d pack {self.root}'")
        self._rows = np.asarray([row[i] for i in self.ids], np.int64)
        self.boxes = boxes or {}
        self._images = None

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int, rng=None, epoch: int = 0) -> tuple[Sample, np.ndarray | None]:
        if self._images is None:   # opened lazily: each loader process maps the file itself
            self._images = np.load(self.root / IMAGES, mmap_mode="r")
        r = int(self._rows[index])
        sample = Sample(image=np.array(self._images[int(self._image_rows[r])]), landmarks=self._landmarks[r].copy(),
                        name=self.ids[index], landmarks_3d=self._landmarks_3d[r].copy() if self._has_3d[r] else None)
        box = self.boxes.get(self.ids[index])
        return sample, (None if box is None else np.asarray(box[:4], float))

    def __getstate__(self):
        return {**self.__dict__, "_images": None}


def pack_matches(root: str | Path) -> bool:
    """Whether ``root`` holds a complete pack listing exactly the folder's samples."""
    root = Path(root)
    if not (root / LABELS).is_file() or not (root / IMAGES).is_file():
        return False
    with np.load(root / LABELS) as z:
        packed = [str(i) for i in z["ids"]]
    return packed == list_ids(root)


def folder_source(root: str | Path, ids: list[str] | None = None, boxes: dict | None = None):
    """The folder's pack when it is current, else its files (a stale pack is reported, not used)."""
    from .train_dataset import FolderSource

    root = Path(root)
    if (root / LABELS).is_file() and pack_matches(root):
        return PackedSource(root, ids, boxes)
    source = FolderSource(root, ids, boxes)
    if (root / IMAGES).is_file() and not (root / f"{source.ids[0]}.png").exists():
        # written by 'landmark3d synth --pack-only': the pack was the only copy of the images
        why = ("does not list the folder's samples" if (root / LABELS).is_file()
               else "is missing (an interrupted render?)")
        raise FileNotFoundError(f"{root}: its images exist only in {IMAGES}, whose labels file {LABELS} {why}; "
                                "render the folder again")
    if (root / LABELS).is_file():
        print(f"{root / LABELS}: does not list the folder's samples (stale); reading the files instead. "
              f"Rebuild it with 'landmark3d pack {root}'", file=sys.stderr)
    return source
