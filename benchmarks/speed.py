"""Speed of landmark3d: per-face latency (ONNX Runtime 1 / N threads, torch), whole-pipeline
images/s on 640x480 photos made from ../shared's real photos, generator frames/s.

The same code as ``landmark3d bench`` (landmark3d.evaluate.bench); this script only picks the
shared photos. Usage, from the repository root:

    python benchmarks/speed.py                          # default model, 20 photos
    python benchmarks/speed.py --model path/to/model.onnx --threads 4 --count 40
    LANDMARK3D_SHARED=/data/shared python benchmarks/speed.py

Prints a markdown table (the one in docs/evaluation.md). Numbers depend on the machine: say which.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    from landmark3d.cli import main as cli_main

    shared = Path(os.environ.get("LANDMARK3D_SHARED", REPO.parent / "shared"))
    sources = [shared / "data" / "real-68", shared / "data" / "aflw2000-3d-dev" / "images"]
    sources = [str(s) for s in sources if s.is_dir()]
    argv = list(sys.argv[1:] if argv is None else argv)
    if sources and "--photos" not in argv and "--make-photos-from" not in argv:
        argv += ["--make-photos-from", *sources]
    elif not sources:
        print(f"{shared}: no shared photos; the whole-pipeline row is skipped (pass --photos DIR)", file=sys.stderr)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
          file=sys.stderr)
    return cli_main(["bench", *argv])


if __name__ == "__main__":
    sys.exit(main())
