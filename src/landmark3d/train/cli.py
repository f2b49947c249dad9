"""The ``landmark3d train`` command: flags and config file in, a run folder out.

Example (CPU, tiny)::

    landmark3d train --data ../shared/data/facesynthetics-100 --backbone mobilenetv2 --loss gnll \\
        --input-size 128 --steps 2000 --batch-size 32 --name mnv2 --aflw ../shared/data/aflw2000-3d-dev
"""
from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    from .config import add_arguments as add

    add(parser)


def run(args) -> int:
    from .config import resolve

    try:
        cfg = resolve(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"landmark3d train: {exc}", file=sys.stderr)
        return 2
    from .loop import train

    try:
        run_dir = train(cfg)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as exc:
        print(f"landmark3d train: {exc}", file=sys.stderr)
        return 2
    print(run_dir)
    return 0
