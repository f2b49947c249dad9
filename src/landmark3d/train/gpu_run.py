"""One command for a GPU machine: render -> train -> export -> an output folder ready to fetch.

    python -m landmark3d.train.gpu_run --out $OUT [--count 100000] [--minutes 10] ...

(``scripts/gpu_run.sh`` sets up EGL and wheels first, per ../shared/docs/gpu.md, then runs this.)
Steps, each timed and logged to ``OUT/run.log`` as it goes (so a run cut short still returns it):

1. render ``--count`` faces with ``landmark3d synth`` in a subprocess (``--render-workers``
   processes; EGL on the GPU machine, llvmpipe on a CPU) into ``--work/data`` unless ``--data``
   names existing folders;
2. with ``--pack`` (the default) the renders also land in a pack (:mod:`landmark3d.data.packed`;
   ``--data`` folders are packed first when they have none), then train
   (``landmark3d.train.loop.train``) with ``--max-minutes`` of the remaining budget and the
   step count fitted to it, validating on held-out synthetic faces and AFLW2000-3D-dev if present;
3. export ONNX (``--fp16`` optional) + model card with the measured validation NME;
4. copy the small results (ONNX, card, log.csv, summary.json with the resolved training config)
   into ``--out`` and split any
   file over ``--part-mib`` (16 MiB: the GPU machines' transfer limit) into ``NAME.partNN``
   pieces (join with ``cat NAME.part* > NAME``; summary.json lists their sha256).

The same command runs on the CPU here with tiny sizes (``--count 16 --size 96 --input-size 48
--backbone tiny --steps 4``), which the tests do.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

#: The GPU machines return at most 8 files of at most 16 MiB each, 64 MiB in all (../shared/docs/gpu.md).
PART_MIB = 16
MAX_FILES = 8
MAX_TOTAL_MIB = 64


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m landmark3d.train.gpu_run", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="results folder (small files only)")
    p.add_argument("--work", type=Path, default=Path("/tmp/landmark3d-gpu-run"), help="scratch folder for data and the run")
    p.add_argument("--data", action="append", default=None, help="use these FaceSynthetics-layout folders instead of rendering")
    p.add_argument("--count", type=int, default=100000, help="faces to render (at most)")
    p.add_argument("--render-minutes", type=float, default=0.0,
                   help="stop rendering after this long even if fewer than --count are done (0: no limit)")
    p.add_argument("--render-during-training", type=float, default=0.0, metavar="SHARE",
                   help="keep rendering new faces (niced, on the CPU the loader leaves idle) for this share of the "
                        "training time; they join the training data when that render ends (0: off)")
    p.add_argument("--size", type=int, default=256, help="rendered image side")
    p.add_argument("--render-workers", type=int, default=max(1, (os.cpu_count() or 2) - 2), help="rendering processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=float, default=9.0, help="wall-time budget of the whole command")
    p.add_argument("--export-minutes", type=float, default=0.7, help="time kept for export and copying")
    p.add_argument("--backbone", default="mobilenetv2", choices=("mobilenetv2", "resnet34", "tiny"))
    p.add_argument("--loss", default="gnll", choices=("gnll", "mse"))
    p.add_argument("--head", default="regression", choices=("regression", "integral"))
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--steps", type=int, default=20000, help="upper bound; fitted to the time left")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1), help="data loader workers")
    p.add_argument("--z", action=argparse.BooleanOptionalAction, default=True, help="also predict depth")
    p.add_argument("--photometric", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--photometric-on-device", action=argparse.BooleanOptionalAction, default=False,
                   help="photometric augmentation on the GPU, batch-wise, instead of in the loader workers")
    p.add_argument("--pack", action=argparse.BooleanOptionalAction, default=True,
                   help="keep the faces as arrays too (landmark3d synth --pack / landmark3d pack): the loader "
                        "then skips PNG decoding, ~4x less work per item")
    p.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=False, help="fp16 ONNX weights")
    p.add_argument("--keep", default="onnx", choices=("onnx", "checkpoint", "both"),
                   help="what comes back in --out: the ONNX file, a slim checkpoint (spec + inference weights "
                        "in fp16, loadable by 'landmark3d export' and 'train --init'), or both")
    p.add_argument("--init", default="", help="start from this checkpoint, exported .onnx file or shipped model "
                   "name (e.g. resnet34_gnll) instead of from scratch")
    p.add_argument("--aflw", default="", help="AFLW2000-3D-dev folder for validation (evaluation only)")
    p.add_argument("--name", default="gpu", help="run / model name")
    p.add_argument("--provisional", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--part-mib", type=float, default=PART_MIB, help="split results larger than this (MiB)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    return p


def synth_command(args, out_dir: Path, start: int, max_seconds: float) -> list[str]:
    """The ``landmark3d synth`` command line that renders into ``out_dir`` from index ``start``.

    Rendering runs in a separate process: once Mesa's llvmpipe (its LLVM) is loaded, importing
    triton (which torch.optim pulls in) segfaults in the same process."""
    cmd = [sys.executable, "-m", "landmark3d.cli", "synth", "--out", str(out_dir), "--count", str(args.count),
           "--start", str(start), "--size", str(args.size), "--seed", str(args.seed),
           "--workers", str(args.render_workers)]
    if not args.progress:
        cmd.append("--no-progress")
    if max_seconds > 0:
        cmd += ["--max-seconds", str(max_seconds)]
    if args.pack or start > 0:
        # images only in the pack, filled as rendered: no PNG to encode, nothing to decode afterwards
        # (a folder rendered during training joins it through its pack)
        cmd.append("--pack-only")
    return cmd


def split_large_files(folder: Path, part_bytes: int) -> list[dict]:
    """Split every file in ``folder`` larger than ``part_bytes`` into ``NAME.partNN`` (the original
    is removed); returns ``[{file, sha256, parts}]`` for the split ones."""
    report = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.stat().st_size <= part_bytes:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        parts = []
        with open(path, "rb") as f:
            k = 0
            while chunk := f.read(part_bytes):
                part = path.with_name(f"{path.name}.part{k:02d}")
                part.write_bytes(chunk)
                parts.append(part.name)
                k += 1
        path.unlink()
        report.append({"file": path.name, "sha256": digest, "parts": parts,
                       "join": f"cat {path.name}.part* > {path.name}"})
    return report


class Log:
    def __init__(self, path: Path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, file=sys.stderr, flush=True)
        self.f.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    log = Log(args.out / "run.log")
    summary: dict = {"args": {k: str(v) for k, v in vars(args).items()}}

    def save_summary():
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    try:
        import torch

        log(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}"
            + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
        data = args.data
        if not data:
            import subprocess

            out_dir = args.work / "data"
            log(f"rendering {args.count} faces at {args.size}px with {args.render_workers} workers -> {out_dir}")
            cmd = synth_command(args, out_dir, 0, 60 * args.render_minutes)
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"rendering failed (exit {done.returncode}): {' '.join(cmd)}\n"
                                   f"{done.stderr[-3000:]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"rendered: {r}")
            summary["render"] = r
            if r["written"] < 2:
                raise RuntimeError(f"only {r['written']} faces rendered in {args.render_minutes} min")
            data = [str(out_dir)]
        if args.pack:
            from ..data.packed import pack_folder, pack_matches

            for folder in data:
                if not pack_matches(folder):
                    t = time.time()
                    pack_folder(folder, workers=os.cpu_count() or 1)
                    log(f"packed {folder} in {time.time() - t:.1f} s")
                    summary.setdefault("pack_seconds", []).append(round(time.time() - t, 1))
        save_summary()
        n_faces = summary["render"]["written"] if "render" in summary else args.count

        from .config import OPTIONS
        from .loop import train

        cfg = {k: (list(v[0]) if isinstance(v[0], list) else v[0]) for k, v in OPTIONS.items()}
        left = args.minutes - (time.time() - t0) / 60 - args.export_minutes
        if left <= 0.2:
            raise RuntimeError(f"no time left to train ({left:.2f} min); raise --minutes or lower --count")
        cfg.update(name=args.name, output=str(args.work / "runs"), data=data, backbone=args.backbone, loss=args.loss,
                   head=args.head, input_size=args.input_size, batch_size=args.batch_size, lr=args.lr, steps=args.steps,
                   warmup_steps=min(500, max(1, args.steps // 20)), workers=args.workers, z=args.z,
                   photometric=args.photometric, photometric_on_device=args.photometric_on_device, aflw=args.aflw, init=args.init,
                   seed=args.seed, max_minutes=left,
                   fit_steps_to_time=True, progress=args.progress, provisional=args.provisional,
                   val_fraction=0.01 if n_faces >= 1000 else 0.2, val_max=500, log_interval=50,
                   ckpt_interval=1000)
        run_dir = Path(cfg["output"]) / cfg["name"]
        if run_dir.exists():
            shutil.rmtree(run_dir)
        background = None
        if args.render_during_training > 0 and not args.data:
            import subprocess

            more = args.work / "data_more"
            if more.exists():
                shutil.rmtree(more)
            seconds = 60 * left * args.render_during_training
            # new faces: the indices after the first render's; niced, so the loader's workers come first
            cmd = synth_command(args, more, args.count, seconds)
            if shutil.which("nice"):
                cmd = ["nice", "-n", "19", *cmd]
            background = (subprocess.Popen(cmd, stdout=open(args.work / "render_more.out", "w"),
                                           stderr=open(args.work / "render_more.err", "w")), more)
            cfg["grow_data"] = [str(more)]
            log(f"rendering more faces during the first {seconds / 60:.1f} min of training -> {more}")
        log(f"training {args.backbone}-{args.loss} at {args.input_size}px for up to {left:.1f} min")
        try:
            train(cfg)
        finally:
            if background is not None:
                proc, more = background
                try:   # past its deadline it only finishes the chunks in flight
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    proc.wait()
                lines = (args.work / "render_more.out").read_text().strip().splitlines()
                summary["render_more"] = json.loads(lines[-1]) if lines else {
                    "error": (args.work / "render_more.err").read_text()[-2000:]}
                log(f"rendered during training: {summary['render_more']}")
                if isinstance(summary["render_more"].get("written"), int):
                    n_faces += summary["render_more"]["written"]
        shutil.copy(run_dir / "log.csv", args.out / "log.csv")
        summary["train_config"] = json.loads((run_dir / "config.json").read_text())
        ck = torch.load(run_dir / "last.pt", weights_only=True, map_location="cpu")
        summary["steps"] = int(ck["step"])
        log(f"trained {ck['step']} steps")

        import csv

        rows = [r for r in csv.DictReader(open(run_dir / "log.csv")) if r.get("synth_nme") or r.get("aflw_nme")]
        accuracy = "not measured"
        if rows:
            last = rows[-1]
            summary["validation"] = {k: float(v) for k, v in last.items() if v and "nme" in k}
            accuracy = ("Measured at the end of training (box-normalised NME, 68 points; AFLW2000-3D-dev with the "
                        "protocol's roi_box through the crop rule):\n\n"
                        + "\n".join(f"- {k}: {100 * v:.2f}%" for k, v in summary["validation"].items()))
        from ..models.export import export_onnx

        if args.keep in ("checkpoint", "both"):
            slim = {k: ck[k] for k in ("spec", "step", "config", "data", "ema_in_model", "best") if k in ck}
            slim["model"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ck["model"].items()}
            torch.save(slim, args.out / f"{args.name}.ckpt.pt")
            log(f"slim checkpoint {args.name}.ckpt.pt ({(args.out / f'{args.name}.ckpt.pt').stat().st_size / 2**20:.1f} MiB)")
        onnx_dir = args.out if args.keep in ("onnx", "both") else args.work
        onnx_path = onnx_dir / f"{args.name}.onnx"
        dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
        commands = "python -m landmark3d.train.gpu_run " + " ".join(argv if argv is not None else sys.argv[1:])
        try:
            report = export_onnx(run_dir / "last.pt", onnx_path, fp16=args.fp16,
                                 card={"accuracy": accuracy, "commands": commands,
                                       "compute": f"{dev}, {(time.time() - t0) / 60:.1f} min wall for render+train",
                                       "data": f"landmark3d synth generator, {n_faces} faces at {args.size}px, "
                                               f"seed {args.seed}" if not args.data else ", ".join(args.data)})
            summary["export"] = report
            log(f"exported {onnx_path} ({onnx_path.stat().st_size / 2**20:.1f} MiB), parity {report}")
        except Exception as exc:  # noqa: BLE001
            if args.keep == "onnx":
                raise
            # the checkpoint already in --out is the result; it must still be split to come back
            log(f"WARNING: export failed ({type(exc).__name__}: {exc}); export the returned checkpoint afterwards")
            summary["export_error"] = f"{type(exc).__name__}: {exc}"
        summary["split"] = split_large_files(args.out, int(args.part_mib * 2**20))
        files = [p for p in args.out.iterdir() if p.is_file()]
        total_mib = sum(p.stat().st_size for p in files) / 2**20
        if len(files) > MAX_FILES or total_mib > MAX_TOTAL_MIB:
            log(f"WARNING: {len(files)} files, {total_mib:.1f} MiB in {args.out}: more than the {MAX_FILES} files / "
                f"{MAX_TOTAL_MIB} MiB a GPU machine returns; export with --fp16 or a smaller backbone")
        summary["seconds"] = round(time.time() - t0, 1)
        log(f"done in {summary['seconds']} s")
        save_summary()
        return 0
    except Exception as exc:  # noqa: BLE001 - record any failure in the fetched log, then fail loudly
        import traceback

        log(f"FAILED: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        summary["error"] = f"{type(exc).__name__}: {exc}"
        save_summary()
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
