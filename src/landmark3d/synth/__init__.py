"""The synthetic face generator: ICT FaceKit assets, sampler, renderer, writer.

``generate(count, size, seed)`` streams :class:`landmark3d.data.sample.Sample` objects;
``landmark3d synth`` writes them to disk. Heavy modules are imported on first use.
"""
from __future__ import annotations


def generate(count: int, size: int = 256, seed: int = 0, **kwargs):
    """Stream labelled synthetic faces; see :func:`landmark3d.synth.generator.generate`."""
    from .generator import generate as _generate

    return _generate(count, size, seed, **kwargs)


def benchmark(**kwargs) -> dict:
    """Frames/s of the generator; see :func:`landmark3d.synth.bench.benchmark`."""
    from .bench import benchmark as _benchmark

    return _benchmark(**kwargs)


__all__ = ["benchmark", "generate"]
