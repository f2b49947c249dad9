"""The `landmark3d eval` command (placeholder until implemented)."""
from __future__ import annotations


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    raise NotImplementedError("landmark3d eval is not implemented yet")
