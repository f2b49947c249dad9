"""The ``landmark3d detect`` command: photos, folders, globs or videos in; one result file per
image (or a JSONL/CSV for all), and optionally a picture per image, out."""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

DEMO_IMAGE = Path(__file__).resolve().parent.parent / "assets" / "astronaut.jpg"
FORMATS = ("json", "jsonl", "csv", "pts")


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    """The Detector's switches, shared by ``detect`` and ``eval`` (see :func:`pipeline_options`)."""
    p.add_argument("--refine", action=argparse.BooleanOptionalAction, default="auto",
                   help="the second pass from the first pass's landmarks: for every face (--refine), never "
                        "(--no-refine); default: only where the first crop is unlike the training crops")
    p.add_argument("--flip-average", action="store_true",
                   help="also run each face crop mirrored and average (about 2x landmark-model time, lower error)")
    p.add_argument("--label-adapter", nargs="?", const=True, default="auto", metavar="JSON",
                   help="move the jaw and brow points to the meaning common label sets give them "
                        "(landmark3d.label_adapter): the model's <model>.adapter.json (default when it has one) "
                        "or this file")
    p.add_argument("--no-label-adapter", dest="label_adapter", action="store_const", const=False,
                   help="the model's own jaw and brow points")


def pipeline_options(args: argparse.Namespace) -> dict:
    """The Detector keyword arguments that :func:`add_pipeline_arguments` parsed."""
    return {"refine": args.refine, "flip_average": args.flip_average, "label_adapter": args.label_adapter}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="image files, folders, glob patterns or video files; none = the bundled demo photo")
    p.add_argument("--model", default=None, help="shipped model name, .onnx file or .pt checkpoint (default: the default model)")
    p.add_argument("--detector", default="default", help="face detector back-end (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("landmark3d-out"), help="output folder (default: %(default)s)")
    p.add_argument("--format", choices=FORMATS, default="json",
                   help="json: one file per image; jsonl: one line per image (and per video frame); "
                        "csv: one row per face; pts: one 300-W .pts per face (default: %(default)s)")
    p.add_argument("--save-vis", action=argparse.BooleanOptionalAction, default=None,
                   help="also write a picture per image with the landmarks drawn (default: on for the demo photo only)")
    p.add_argument("--hide-above", type=float, default=None, metavar="PX",
                   help="in pictures, hide landmarks whose sigma exceeds PX pixels")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="landmark-model threads (default: the runtime's)")
    p.add_argument("--batch", type=int, default=8, metavar="N", help="images per landmark-model batch (default: %(default)s)")
    p.add_argument("--boxes", type=Path, default=None, metavar="FILE",
                   help="face boxes to use instead of detecting: JSON {image name: [[x1,y1,x2,y2], ...]} "
                        "or CSV rows 'image,x1,y1,x2,y2' (image = file name or path as given)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="videos: process every N-th frame (default: %(default)s)")
    add_pipeline_arguments(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from ..detector import Detector
    from ..errors import Landmark3dError
    from ..io import expand_inputs

    demo = not args.paths
    paths = [str(DEMO_IMAGE)] if demo else args.paths
    save_vis = demo if args.save_vis is None else args.save_vis
    if args.every < 1 or args.batch < 1:
        print("error: --every and --batch must be >= 1", file=sys.stderr)
        return 2
    try:
        boxes_by_name = read_boxes_file(args.boxes) if args.boxes else None
        detector = Detector(args.model, args.detector, device=args.device, threads=args.threads,
                            **pipeline_options(args))
    except (Landmark3dError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "detect_config.json").write_text(json.dumps(
        {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
        | {"paths": paths, "save_vis": save_vis, "model_name": detector.spec.name}, indent=2))
    writer = ResultWriter(out, args.format, save_vis, args.hide_above, with_sigma=detector.spec.has_sigma)
    items = expand_inputs(paths)
    stats = {"images": 0, "faces": 0, "failures": 0}
    t0 = time.perf_counter()
    from tqdm import tqdm

    bar = tqdm(total=len(items), unit="file", file=sys.stderr, disable=not args.progress)
    try:
        images = [it for it in items if it.kind == "image"]
        for it in items:
            if it.kind == "missing":
                _fail(stats, f"{it.path}: no such file, folder or matching glob")
                bar.update(1)
        boxes = [_boxes_for(boxes_by_name, it.path) for it in images] if boxes_by_name is not None else None
        for it, faces in zip(images, detector.iter([it.path for it in images], batch_size=args.batch, boxes=boxes)):
            bar.update(1)
            stats["images"] += 1
            if faces.error:
                _fail(stats, faces.error)
                continue
            stats["faces"] += len(faces)
            writer.write(it.path, faces)
        for it in (it for it in items if it.kind == "video"):
            bar.update(1)
            try:
                n_frames, n_faces = _run_video(detector, it.path, args, writer)
            except Landmark3dError as exc:
                _fail(stats, str(exc))
                continue
            stats["images"] += n_frames
            stats["faces"] += n_faces
    finally:
        bar.close()
        writer.close()
        detector.close()
    seconds = time.perf_counter() - t0
    stats["seconds"] = round(seconds, 3)
    stats["faces_per_s"] = round(stats["faces"] / seconds, 2) if seconds > 0 else 0.0
    stats["out"] = str(out)
    print(f"{stats['images']} images, {stats['faces']} faces, {stats['failures']} failures, "
          f"{stats['faces_per_s']} faces/s -> {out}", file=sys.stderr)
    print(json.dumps(stats))
    return 1 if stats["failures"] else 0


def _fail(stats: dict, message: str) -> None:
    stats["failures"] += 1
    print(f"error: {message}", file=sys.stderr)


def _run_video(detector, path: Path, args, writer: "ResultWriter") -> tuple[int, int]:
    from collections import deque

    from ..io import iter_video_frames

    pending: deque = deque()  # frames read but not yet returned by the detector (<= one batch)

    def frames():
        for index, frame in iter_video_frames(path, args.every):
            pending.append((index, frame))
            yield frame

    n_frames = n_faces = 0
    for faces in detector.iter(frames(), batch_size=args.batch):
        index, frame = pending.popleft()
        n_frames += 1
        n_faces += len(faces)
        writer.write_frame(path, index, faces, frame, fps_divisor=args.every)
    writer.end_video(path)
    return n_frames, n_faces


def read_boxes_file(path: Path) -> dict[str, list]:
    """``{name: [[x1, y1, x2, y2], ...]}`` from a JSON or CSV boxes file (see ``--boxes``)."""
    path = Path(path)
    if not path.exists():
        raise OSError(f"{path}: boxes file not found")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object {{image name: [[x1, y1, x2, y2], ...]}}")
        return {str(k): v for k, v in data.items()}
    boxes: dict[str, list] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) != 5:
            raise ValueError(f"{path}:{n}: expected 'image,x1,y1,x2,y2', got {row}")
        try:
            boxes.setdefault(row[0], []).append([float(v) for v in row[1:]])
        except ValueError:
            if n == 1:
                continue  # a header line
            raise ValueError(f"{path}:{n}: box values must be numbers, got {row[1:]}")
    return boxes


def _boxes_for(boxes_by_name: dict, path: Path):
    import numpy as np

    for key in (str(path), path.name, path.stem):
        if key in boxes_by_name:
            return np.asarray(boxes_by_name[key], float).reshape(-1, 4)
    return np.zeros((0, 4))


class ResultWriter:
    """Writes each image's result as soon as it is ready, so an interrupted run keeps its work."""

    def __init__(self, out: Path, fmt: str, save_vis: bool, hide_above: float | None, with_sigma: bool):
        self.out, self.fmt, self.save_vis, self.hide_above = out, fmt, save_vis, hide_above
        self._used: set[str] = set()
        self._jsonl = open(out / "results.jsonl", "a", encoding="utf-8") if fmt == "jsonl" else None
        self._csv_file = self._csv = None
        if fmt == "csv":
            from ..results import Faces

            self._csv_file = open(out / "landmarks.csv", "w", newline="", encoding="utf-8")
            self._csv = csv.writer(self._csv_file)
            self._csv.writerow(Faces.csv_header(with_sigma))
        self._video_stems: dict[Path, str] = {}
        self._video_writers: dict = {}

    def _stem(self, path: Path) -> str:
        stem = path.stem
        k = 1
        while stem in self._used:
            k += 1
            stem = f"{path.stem}_{k}"
        self._used.add(stem)
        return stem

    def write(self, path: Path, faces) -> None:
        from ..io import write_bytes_atomic, write_image

        stem = self._stem(path)
        if self.fmt == "json":
            write_bytes_atomic(self.out / f"{stem}.json", faces.to_json(indent=1).encode())
        elif self.fmt == "jsonl":
            self._jsonl.write(faces.to_json() + "\n")
            self._jsonl.flush()
        elif self.fmt == "csv":
            self._csv.writerows(faces.to_csv_rows())
            self._csv_file.flush()
        else:
            for i in range(len(faces)):
                write_bytes_atomic(self.out / f"{stem}_{i}.pts", faces.to_pts(i).encode())
        if self.save_vis:
            write_image(self.out / f"{stem}_landmarks.jpg", faces.plot(path, hide_above=self.hide_above))

    def write_frame(self, path: Path, frame_index: int, faces, frame, fps_divisor: int = 1) -> None:
        """One video frame's result: a line of ``<video>.jsonl`` (or CSV rows ``video#frame``), and
        with pictures on, a frame of ``<video>_landmarks.mp4``."""
        if path not in self._video_stems:
            self._video_stems[path] = self._stem(path)
        stem = self._video_stems[path]
        if self.fmt == "csv":
            for row in faces.to_csv_rows():
                row[0] = f"{path}#{frame_index}"
                self._csv.writerow(row)
        else:
            record = faces.to_dict() | {"source": str(path), "frame": int(frame_index)}
            with open(self.out / f"{stem}.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        if self.save_vis:
            import cv2

            drawn = faces.plot(frame, hide_above=self.hide_above, colour_bar=False)
            vw = self._video_writers.get(path)
            if vw is None:
                fps = cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) or 25.0
                vw = cv2.VideoWriter(str(self.out / f"{stem}_landmarks.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                     max(fps / fps_divisor, 1.0), (drawn.shape[1], drawn.shape[0]))
                self._video_writers[path] = vw
            vw.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))

    def end_video(self, path: Path) -> None:
        vw = self._video_writers.pop(path, None)
        if vw is not None:
            vw.release()

    def close(self) -> None:
        for vw in self._video_writers.values():
            vw.release()
        for f in (self._jsonl, self._csv_file):
            if f is not None:
                f.close()
