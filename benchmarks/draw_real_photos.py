"""Draw a model's landmarks on the real photos of ../shared/data/real-68 into one grid PNG, to look at.

    python benchmarks/draw_real_photos.py --model mobilenetv2_gnll --out real_photos.png
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("LANDMARK3D_SHARED", "../shared")))
    p.add_argument("--model", default=None)
    p.add_argument("--detector", default="default")
    p.add_argument("--limit", type=int, default=16)
    p.add_argument("--tile", type=int, default=384)
    p.add_argument("--out", type=Path, default=Path("real_photos.png"))
    args = p.parse_args(argv)
    import cv2

    from landmark3d import Detector
    from landmark3d.io import IMAGE_SUFFIXES, write_image

    root = args.shared / "data" / "real-68"
    if not root.is_dir():
        print(f"{root} not found (pass --shared)")
        return 2
    photos = sorted(q for q in root.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
    photos = photos[:: max(1, len(photos) // args.limit)][: args.limit]
    det = Detector(args.model, args.detector)
    tiles = []
    for path, faces in zip(photos, det.iter(photos)):
        drawn = faces.plot(path, colour_bar=False)
        if len(faces):  # zoom on the first face so the points are visible
            x1, y1, x2, y2 = faces.boxes[0]
            s = 1.8 * max(x2 - x1, y2 - y1)
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            h, w = drawn.shape[:2]
            xa, ya = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
            drawn = drawn[ya:int(min(h, cy + s / 2)), xa:int(min(w, cx + s / 2))]
        k = args.tile / max(drawn.shape[:2])
        drawn = cv2.resize(drawn, (int(drawn.shape[1] * k), int(drawn.shape[0] * k)), interpolation=cv2.INTER_AREA)
        tile = np.full((args.tile, args.tile, 3), 255, np.uint8)
        tile[: drawn.shape[0], : drawn.shape[1]] = drawn
        cv2.putText(tile, f"{path.parent.name}/{path.name[:18]} n={len(faces)}", (4, args.tile - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    cols = 4
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)])
    write_image(args.out, grid)
    print(f"wrote {args.out} ({len(photos)} photos)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
