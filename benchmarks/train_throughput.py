"""Where a training step's time goes: the data loader alone, photometric augmentation on the
device, the model's training step alone, and all of them together, each in images/s.

    python benchmarks/train_throughput.py DATA_DIR [--backbone resnet34 --input-size 192
        --batch-size 256 --workers 15 --seconds 15]

DATA_DIR is a FaceSynthetics-layout folder (packed with ``landmark3d pack`` for the loader the
GPU command uses). Runs on the CPU too (small sizes); on a GPU machine it tells which part bounds
``scripts/gpu_run.sh`` (docs/training.md). Prints a markdown table; the numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def rate(step, seconds: float, batch: int, sync=lambda: None) -> tuple[float, int]:
    """Images/s of ``step()`` (one batch each) over ``seconds`` after two warm-up calls."""
    step()
    step()
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    sync()
    return n * batch / (time.perf_counter() - t0), n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="FaceSynthetics-layout folder")
    p.add_argument("--backbone", default="resnet34")
    p.add_argument("--head", default="integral")
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--seconds", type=float, default=15.0, help="measuring time per row")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)

    import cv2
    import torch

    from landmark3d.data.packed import folder_source
    from landmark3d.data.train_dataset import CropConfig, EpochBatchSampler, LandmarkDataset
    from landmark3d.models.spec import ModelSpec
    from landmark3d.models.torch_models import build_model
    from landmark3d.train.device_photometric import _OPS, DevicePhotometric
    from landmark3d.train.loop import resolve_device
    from landmark3d.train.losses import landmark_loss

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = cuda   # as the training loop sets it
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    cv2.setNumThreads(1)   # as the loop does before its workers fork
    source = folder_source(args.data)
    b, s = args.batch_size, args.input_size
    rows = [("machine", f"{torch.cuda.get_device_name(0) if cuda else 'CPU'}, {os.cpu_count()} cores, "
                        f"torch {torch.__version__}, source {type(source).__name__} of {len(source)}")]
    print(rows[0][1], file=sys.stderr)

    def loader_rate(photometric: bool) -> float:
        ds = LandmarkDataset([source], CropConfig(size=s, photometric=photometric, uint8=True), seed=0)
        dl = torch.utils.data.DataLoader(ds, batch_sampler=EpochBatchSampler(len(ds), b, 0), num_workers=args.workers,
                                         pin_memory=cuda, persistent_workers=args.workers > 0)
        it = iter(dl)
        r, _ = rate(lambda: next(it), args.seconds, b)
        del it, dl
        return r

    for photometric in (False, True):
        r = loader_rate(photometric)
        rows.append((f"loader, {args.workers} workers, crop + flip" + (" + albumentations" if photometric else ""),
                     f"{r:,.0f} images/s"))
        print(rows[-1], file=sys.stderr)

    x = torch.randint(0, 256, (b, 3, s, s), dtype=torch.uint8, device=device)
    gen = torch.Generator(device=device)
    aug = DevicePhotometric()
    r, _ = rate(lambda: aug(x.float() / 255, gen), args.seconds / 3, b, sync)
    rows.append(("photometric on the device (all groups)", f"{r:,.0f} images/s"))
    for name, op in _OPS.items():
        r, _ = rate(lambda: op(x.float() / 255, gen), args.seconds / 10, b, sync)
        rows.append((f"  {name}", f"{r:,.0f} images/s"))
    print(rows[-8:], file=sys.stderr)

    spec = ModelSpec(name="bench", backbone=args.backbone, input_size=s, channels=("x", "y", "log_sigma", "z"),
                     loss="gnll", head=args.head)
    model = build_model(spec).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(b, 3, s, s, device=device)
    if cuda:
        images = images.contiguous(memory_format=torch.channels_last)
    xy = torch.rand(b, 70, 2, device=device) * 2 - 1
    z = torch.zeros(b, 70, device=device)
    has_z = torch.ones(b, dtype=torch.bool, device=device)

    def train_step(inp=images, target=xy):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            out = model(inp)
        loss = landmark_loss(out, target, spec.channels, spec.loss, s, z, has_z, 1.0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    r, _ = rate(train_step, args.seconds, b, sync)
    rows.append((f"{args.backbone} training step alone (batch {b}, {s}px)", f"{r:,.0f} images/s"))
    print(rows[-1], file=sys.stderr)

    ds = LandmarkDataset([source], CropConfig(size=s, photometric=False, uint8=True), seed=0)
    dl = torch.utils.data.DataLoader(ds, batch_sampler=EpochBatchSampler(len(ds), b, 0), num_workers=args.workers,
                                     pin_memory=cuda, persistent_workers=args.workers > 0)
    it = iter(dl)
    mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)

    def full_step():
        batch = next(it)
        inp = (aug(batch["image"].to(device, non_blocking=True).float() / 255, gen) - mean) / std
        if cuda:
            inp = inp.contiguous(memory_format=torch.channels_last)
        train_step(inp, batch["xy"].to(device))

    r, _ = rate(full_step, args.seconds, b, sync)
    rows.append(("all together (loader + device photometric + step)", f"{r:,.0f} images/s"))
    print("| what | rate |\n|---|---|\n" + "\n".join(f"| {a} | {v} |" for a, v in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
