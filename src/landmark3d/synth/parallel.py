"""Rendering many images to a folder, in one process or several.

Each worker process owns one :class:`~landmark3d.synth.generator.Generator` (its own OpenGL
context) and renders chunks of consecutive indices; image ``i`` depends only on (seed, i), so
the output is the same whatever the number of workers.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CHUNK = 16
_worker = {}



@contextmanager
def single_threaded_children():
    """Child processes started inside get one BLAS / OpenMP / llvmpipe thread each (the processes
    are the parallelism); this process's environment is restored afterwards."""
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

def _init_worker(config_kwargs: dict, out: str, deadline: float | None = None) -> None:
    from .generator import Generator, GeneratorConfig

    _worker["out"] = out
    _worker["deadline"] = deadline
    try:
        _worker["gen"] = Generator(GeneratorConfig(**config_kwargs))
    except Exception as exc:  # raised from the first task: a failing initializer makes Pool respawn forever
        _worker["error"] = exc


def _render_chunk(indices: list[int]) -> int:
    from .writer import write_sample

    if "error" in _worker:
        raise _worker["error"]
    if _worker.get("deadline") is not None and time.time() > _worker["deadline"]:
        return 0  # past --max-seconds: the remaining chunks drain without rendering
    gen = _worker["gen"]
    for sample, params in gen.render_batch(indices):
        write_sample(_worker["out"], sample, params)
    return len(indices)


class _NoBar:
    def __init__(self, *args, **kwargs):
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def render_to_folder(out: str | Path, count: int, size: int = 256, seed: int = 0, start: int = 0,
                     workers: int = 1, progress: bool = True, max_seconds: float | None = None,
                     **config) -> dict:
    """Render images ``start .. start+count-1`` into ``out``; returns a summary dict.

    With ``max_seconds``, chunks not started by then are skipped (those in flight finish), so the
    folder may hold fewer images, with gaps in the ids; the summary's ``written`` counts them."""
    try:
        from tqdm import tqdm
    except ImportError:  # e.g. a bare GPU machine: no bar, the summary still comes
        tqdm = _NoBar
    from .assets import load_cache

    load_cache(config.get("cache"), ict_source=config.get("ict"))  # builds it once, before the workers
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = dict(size=size, seed=seed, **config)
    chunks = [list(range(a, min(a + CHUNK, start + count))) for a in range(start, start + count, CHUNK)]
    bar = tqdm(total=count, unit="img", file=sys.stderr, disable=not progress, desc="synth")
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else time.time() + max_seconds
    written = 0
    if workers <= 1:
        _init_worker(kwargs, str(out), deadline)
        t0 = time.perf_counter()  # exclude set-up, as with workers below
        for c in chunks:
            n = _render_chunk(c)
            written += n
            bar.update(n)
        _worker.pop("gen").close()
    else:
        import multiprocessing as mp

        # one BLAS / llvmpipe thread per worker: the processes are the parallelism
        with single_threaded_children(), mp.get_context("spawn").Pool(workers, _init_worker, (kwargs, str(out), deadline)) as pool:
            for n in pool.imap_unordered(_render_chunk, chunks):
                written += n
                bar.update(n)
    seconds = time.perf_counter() - t0
    bar.close()
    return {"written": written, "out": str(out), "first_id": f"{start:06d}", "size": size, "seed": seed,
            "workers": workers, "seconds": round(seconds, 2), "images_per_s": round(written / seconds, 2)}
