"""The `landmark3d export` command (placeholder until implemented)."""
from __future__ import annotations


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise NotImplementedError("landmark3d export is not implemented yet")
