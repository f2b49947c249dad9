"""The ``landmark3d pack`` command: decode a FaceSynthetics-layout folder once into
``packed_images.npy`` + ``packed_labels.npz`` (:mod:`landmark3d.data.packed`), which ``landmark3d
train`` then reads instead of the PNG and label files (no decoding per epoch)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="FaceSynthetics-layout folder, all images of one size")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="decoding processes (default: all cores; 0: this process)")


def run(args) -> int:
    from ..data.packed import IMAGES, pack_folder

    t = time.time()
    labels = pack_folder(args.dataset, args.workers)
    size = (args.dataset / IMAGES).stat().st_size
    print(json.dumps({"labels": str(labels), "images": str(args.dataset / IMAGES),
                      "gib": round(size / 2**30, 2), "seconds": round(time.time() - t, 1)}))
    return 0
