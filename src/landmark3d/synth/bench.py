"""Frames/s of the generator (render + labels, optionally writing files), in worker processes.

Each worker builds its own generator first (not timed) and renders one warm-up frame; then all
render their share of ``count`` frames. The time runs from the first frame started to the last
frame finished; ``cpu_ms_per_frame`` is the CPU time (all threads of the workers) per frame,
which with the 1-minute load average tells how much a busy machine slowed the run.
"""
from __future__ import annotations

import os
import platform
import time


def _worker(cfg: dict, rank: int, workers: int, count: int, write: str | None, barrier, queue) -> None:
    from .generator import Generator, GeneratorConfig
    from .writer import write_sample

    gen = Generator(GeneratorConfig(**cfg))
    gen.render_batch([10_000_000 + rank])  # warm-up: shader compilation, first uploads
    mine = list(range(rank, count, workers))
    barrier.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for sample, params in gen(mine):
        n += 1
        if write:
            write_sample(write, sample, params)
    queue.put((n, t0, time.perf_counter(), time.process_time() - c0, gen.renderer.ctx.info["GL_RENDERER"]))
    gen.close()


def benchmark(size: int = 256, count: int = 128, workers: int = 1, seed: int = 0, write: str | None = None,
              **config) -> dict:
    """Measure the generator; ``config``: ``cache``, ``ict``, ``hdri`` as for the generator."""
    import multiprocessing as mp

    if write:
        os.makedirs(write, exist_ok=True)
    from .parallel import single_threaded_children

    with single_threaded_children():
        ctx = mp.get_context("spawn")
        barrier, queue = ctx.Barrier(workers), ctx.Queue()
        cfg = dict(size=size, seed=seed, **config)
        procs = [ctx.Process(target=_worker, args=(cfg, r, workers, count, write, barrier, queue))
                 for r in range(workers)]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    t0, t1 = min(r[1] for r in results), max(r[2] for r in results)
    n = sum(r[0] for r in results)
    return {
        "setting": f"{size}x{size}, {workers} worker(s){', writing files' if write else ''}",
        "in_flight": cfg.get("in_flight", 3),
        "size": size, "frames": n, "workers": workers, "seconds": round(t1 - t0, 2),
        "frames_per_s": round(n / (t1 - t0), 1), "cpu_ms_per_frame": round(1000 * sum(r[3] for r in results) / n, 1),
        "write": bool(write), "renderer": results[0][4], "cpus": os.cpu_count(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2), "machine": platform.node(),
    }
