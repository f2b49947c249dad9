"""Frames/s of the synthetic face generator (render + labels; files only with --write).

    python benchmarks/synth_speed.py --size 256 --count 256 --workers 2 [--hdri DIR] [--write DIR] [--in-flight N]

See landmark3d/synth/bench.py for what is timed. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os

from landmark3d.synth.bench import benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hdri", default=os.environ.get("LANDMARK3D_HDRI"))
    ap.add_argument("--cache", default=None)
    ap.add_argument("--write", default=None, help="also write the FaceSynthetics layout to this folder")
    ap.add_argument("--in-flight", type=int, default=3,
                    help="frames drawn ahead of the one being read back (1: draw, wait, read each in turn)")
    args = ap.parse_args()
    print(json.dumps(benchmark(size=args.size, count=args.count, workers=args.workers, seed=args.seed,
                               write=args.write, hdri=args.hdri, cache=args.cache,
                               in_flight=args.in_flight)))


if __name__ == "__main__":
    main()
