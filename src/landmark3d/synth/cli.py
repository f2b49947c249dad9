"""The ``landmark3d synth`` command: render labelled synthetic faces to a folder, a gallery PNG,
build the ICT FaceKit cache, relabel an old folder, or export the mean-face landmark template."""
from __future__ import annotations

import argparse
import json
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder (FaceSynthetics layout + _meta.json sidecars)")
    parser.add_argument("--count", type=int, default=100, help="number of images (default 100)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="run seed; image i depends on (seed, i) only")
    parser.add_argument("--start", type=int, default=0, help="first image index (to extend a run)")
    parser.add_argument("--workers", type=int, default=1, help="parallel rendering processes (default 1)")
    parser.add_argument("--cache", help="ICT FaceKit cache .npz (default $LANDMARK3D_CACHE or "
                        "~/.cache/landmark3d/ict_facekit_v1.npz)")
    parser.add_argument("--ict", help="ICT FaceKit checkout folder, GitHub zip or .tar.xz, to build "
                        "the cache from when it is missing (default $LANDMARK3D_ICT, else the archive in "
                        "$LANDMARK3D_SHARED/assets or ../shared/assets of a source checkout)")
    parser.add_argument("--hdri", help="folder of equirectangular *.hdr maps (default $LANDMARK3D_HDRI, "
                        "else $LANDMARK3D_SHARED/assets/hdri or ../shared/assets/hdri of a source "
                        "checkout, else two plain sky gradients)")
    parser.add_argument("--build-cache", action="store_true", help="(re)build the ICT cache from --ict and exit")
    parser.add_argument("--gallery", metavar="PNG", help="write a grid of --count renders with landmarks drawn")
    parser.add_argument("--template", metavar="NPY", help="write the 70x3 mean-face landmark template and exit")
    parser.add_argument("--relabel", metavar="DIR", help="recompute the labels of a folder written by an "
                        "older landmark definition from its sidecars (images unchanged) and exit")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop starting new images after this "
                        "many seconds (fewer than --count may be written, with gaps in the ids)")
    parser.add_argument("--pack", action="store_true", help="also write the images into the folder's pack "
                        "(packed_images.npy + packed_labels.npz, see 'landmark3d pack') as they are rendered, "
                        "so training reads them without decoding; the folder must be empty")
    parser.add_argument("--pack-only", action="store_true", help="as --pack, but write no image or segmentation "
                        "PNGs (the images exist only in the pack; for training runs such as scripts/gpu_run.sh)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args) -> int:
    from ..errors import Landmark3dError
    from .assets import build_cache

    if args.count < 1 or args.size < 16 or args.workers < 1:
        print(f"landmark3d synth: --count and --workers must be >= 1 and --size >= 16 "
              f"(got {args.count}, {args.workers}, {args.size})", file=sys.stderr)
        return 2
    try:
        if args.build_cache:
            from .assets import default_ict_source

            source = args.ict or default_ict_source()
            if not source:
                print("landmark3d synth --build-cache needs --ict PATH (ICT FaceKit checkout, zip or .tar.xz "
                      "from https://github.com/ICT-VGL/ICT-FaceKit)", file=sys.stderr)
                return 2
            t = time.perf_counter()
            path = build_cache(source, args.cache)
            print(json.dumps({"cache": str(path), "seconds": round(time.perf_counter() - t, 2)}))
            return 0
        if args.template:
            from .template import write_template

            path = write_template(args.template, cache=args.cache, ict=args.ict)
            print(json.dumps({"template": str(path)}))
            return 0
        if args.relabel:
            from .relabel import relabel_folder

            print(json.dumps(relabel_folder(args.relabel, cache=args.cache, ict=args.ict,
                                            progress=not args.no_progress)))
            return 0
        if args.gallery:
            from .gallery import write_gallery

            write_gallery(args.gallery, count=min(args.count, 64), size=args.size, seed=args.seed,
                          start=args.start, cache=args.cache, ict=args.ict, hdri=args.hdri)
            print(json.dumps({"gallery": args.gallery}))
            return 0
        if not args.out:
            print("landmark3d synth: give --out DIR (or --gallery PNG, --build-cache, --template NPY)",
                  file=sys.stderr)
            return 2
        from .parallel import render_to_folder

        summary = render_to_folder(args.out, count=args.count, size=args.size, seed=args.seed,
                                   start=args.start, workers=args.workers, progress=not args.no_progress,
                                   max_seconds=args.max_seconds, pack=args.pack or args.pack_only,
                                   png=not args.pack_only, cache=args.cache, ict=args.ict,
                                   hdri=args.hdri)
    except Landmark3dError as exc:
        print(f"landmark3d synth: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0
