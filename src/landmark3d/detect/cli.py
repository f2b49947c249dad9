"""The `landmark3d detect` command (placeholder until implemented)."""
from __future__ import annotations


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise NotImplementedError("landmark3d detect is not implemented yet")
