"""Speed measurements behind ``landmark3d bench`` and ``benchmarks/*.py``. They print figures;
nothing here asserts a time.

- :func:`landmark_latency`: per-face latency of the landmark model alone (one crop, batch 1),
  ONNX Runtime with a given number of intra-op threads, and torch (the same architecture with
  random weights: the speed does not depend on the weights) when torch is installed;
- :func:`pipeline_throughput`: whole-pipeline images/s (decode + face detection + two landmark
  passes) of :class:`landmark3d.Detector` over a folder of photos;
- :func:`generator_rate`: the synthetic generator's frames/s, when ``landmark3d.synth`` offers a
  ``benchmark`` function;
- :func:`make_photos`: a folder of 640 x 480 JPEGs made by resizing real photos.

Timings: median (and 90th percentile) of ``runs`` repeats after ``warmup`` untimed calls,
``time.perf_counter`` wall clock.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np


def _timed(fn, runs: int, warmup: int) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
            "runs": runs}


def onnx_latency(model_path, threads: int, *, runs: int = 50, warmup: int = 5) -> dict:
    """Per-face latency of the ONNX model (batch of one crop) with ``threads`` intra-op threads."""
    from ..models.runtime import OnnxLandmarkModel

    m = OnnxLandmarkModel(Path(model_path), threads=threads)
    crop = np.random.default_rng(0).integers(0, 255, (1, m.spec.input_size, m.spec.input_size, 3), dtype=np.uint8)
    out = _timed(lambda: m(crop), runs, warmup)
    m.close()
    return {"runtime": "onnxruntime", "threads": threads, "model": m.spec.name, "input_size": m.spec.input_size, **out}


def torch_latency(spec, threads: int, *, runs: int = 50, warmup: int = 5) -> dict | None:
    """Per-face latency of the same architecture in torch (random weights), or None without torch."""
    try:
        import torch
    except ImportError:
        return None
    from ..models.torch_models import build_model

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        net = build_model(spec).eval()
        x = torch.zeros(1, 3, spec.input_size, spec.input_size)

        def step():
            with torch.inference_mode():
                net(x)

        out = _timed(step, runs, warmup)
    finally:
        torch.set_num_threads(previous)
    return {"runtime": "torch", "threads": threads, "model": spec.name, "input_size": spec.input_size, **out}


def landmark_latency(model=None, threads=(1, None), *, runs: int = 50, warmup: int = 5, torch: bool = True) -> list[dict]:
    """Rows of per-face latency for each thread count (None = all cores); torch rows when possible."""
    from ..models.registry import resolve
    from ..models.runtime import load_model

    path = resolve(model)
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: latency is measured on the ONNX file; export the checkpoint first (landmark3d export)")
    counts = [t or (os.cpu_count() or 1) for t in threads]
    rows = [onnx_latency(path, t, runs=runs, warmup=warmup) for t in dict.fromkeys(counts)]
    if torch:
        spec = load_model(path).spec
        for t in dict.fromkeys(counts):
            try:
                r = torch_latency(spec, t, runs=runs, warmup=warmup)
            except Exception as exc:  # an architecture torch can't build here: say so, keep the other rows
                r = {"runtime": "torch", "threads": t, "error": f"{exc.__class__.__name__}: {exc}"}
            if r is not None:
                rows.append(r)
    return rows


def pipeline_throughput(folder, model=None, detector="default", *, threads: int | None = None,
                        limit: int | None = None, warmup: int = 2) -> dict:
    """Images/s of the whole pipeline over the photos in ``folder`` (each image once, after
    ``warmup`` untimed images), with the faces found per image."""
    from ..detector import Detector
    from ..io import IMAGE_SUFFIXES

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise FileNotFoundError(f"{folder}: no images to time")
    det = Detector(model=model, detector=detector, threads=threads)
    for p in files[:warmup]:
        det(p)
    faces = 0
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    for p in files:
        result = det(p)
        faces += len(result)
        for k, v in (getattr(result, "timings_ms", None) or {}).items():
            stages[k] = stages.get(k, 0.0) + float(v)
    seconds = time.perf_counter() - t0
    det.close()
    return {"images": len(files), "faces": faces, "seconds": seconds, "images_per_s": len(files) / seconds,
            "stage_ms_per_image": {k: v / len(files) for k, v in stages.items()},
            "threads": threads or "default", "model": det.spec.name, "detector": str(detector)}


def generator_rate(**kwargs) -> dict | None:
    """``landmark3d.synth.benchmark(**kwargs)`` if the generator offers one (frames/s), else None."""
    try:
        import landmark3d.synth as synth
    except ImportError:
        return None
    fn = getattr(synth, "benchmark", None)
    if fn is None:
        try:
            from landmark3d.synth import generator as gen
        except Exception:
            return None
        fn = getattr(gen, "benchmark", None)
    if fn is None:
        return None
    result = fn(**kwargs)
    if isinstance(result, dict):
        return result
    return {"frames_per_s": float(result)}


def make_photos(sources, out_dir, *, count: int = 20, size=(640, 480)) -> list[Path]:
    """Resize up to ``count`` real photos found under ``sources`` (folders, recursive) to
    ``size`` (w, h) JPEGs in ``out_dir`` (aspect ratio changed as needed); returns their paths."""
    import cv2

    from ..io import IMAGE_SUFFIXES, read_image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    found = []
    for src in sources:
        found += sorted(p for p in Path(src).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and "_seg" not in p.name)
    if not found:
        raise FileNotFoundError(f"no photos under {', '.join(map(str, sources))}")
    step = max(1, len(found) // count)
    written = []
    for k, p in enumerate(found[::step][:count]):
        rgb = read_image(p)
        interp = cv2.INTER_AREA if rgb.shape[1] > size[0] else cv2.INTER_LINEAR
        small = cv2.resize(rgb, tuple(size), interpolation=interp)
        dst = out_dir / f"photo_{k:03d}.jpg"
        cv2.imwrite(str(dst), small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        written.append(dst)
    return written


def format_rows(latency: list[dict], pipeline: dict | None, generator: dict | None) -> str:
    """The bench results as a small markdown table."""
    lines = ["| measurement | setting | result |", "|---|---|---|"]
    for r in latency:
        if "error" in r:
            lines.append(f"| landmark model, per face | {r['runtime']}, {r['threads']} threads | not measured: {r['error']} |")
            continue
        lines.append(f"| landmark model, per face ({r['model']}, {r['input_size']} px) | {r['runtime']}, "
                     f"{r['threads']} thread{'s' if r['threads'] != 1 else ''} | "
                     f"{r['median_ms']:.2f} ms (p90 {r['p90_ms']:.2f}) |")
    if pipeline:
        lines.append(f"| whole pipeline ({pipeline['model']}, detector {pipeline['detector']}) | "
                     f"{pipeline['images']} photos, {pipeline['threads']} threads | "
                     f"{pipeline['images_per_s']:.1f} images/s ({pipeline['faces']} faces) |")
        for k, v in pipeline.get("stage_ms_per_image", {}).items():
            lines.append(f"| pipeline stage: {k} | per image | {v:.1f} ms |")
    if generator:
        lines.append(f"| synthetic generator | {generator.get('setting', '')} | {generator['frames_per_s']:.1f} frames/s |")
    return "\n".join(lines)
