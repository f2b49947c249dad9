"""The training loop: AdamW (or NAdam / RAdam / SGD), linear warm-up + cosine decay, gradient
clipping, optional weight EMA, bf16 autocast (on CUDA; on the CPU with --cpu-amp) + channels_last,
periodic validation, CSV log, atomic checkpoints and exact resume (same weights as an uninterrupted
run on the CPU).

``train(cfg)`` takes the resolved options of :mod:`landmark3d.train.config` and returns the run
folder. It writes ``config.json``, ``log.csv``, ``last.pt`` and (with validation) ``best.pt``.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..data.augment import CropJitter
from ..data.packed import folder_source
from ..data.train_dataset import (CropConfig, EpochBatchSampler, GeneratorSource, LandmarkDataset, load_boxes, model_input,
                                  yaw_weights)
from ..models.spec import ModelSpec
from ..models.torch_models import build_model
from . import checkpoint
from .losses import landmark_loss
from .validate import AflwValidation, SyntheticValidation

#: Share of --max-minutes the fitted schedule plans for. The measured step rate already includes the
#: validations and checkpoints since the probe; the rest covers the last ones and drift. (0.9 left
#: 30 s of a 5.2-minute GPU run unused.)
TIME_FIT_MARGIN = 0.96
#: With --fit-steps-to-time, the step count is re-fitted to the measured rate every this many steps.
REFIT_INTERVAL = 50
#: share of --max-minutes after which the first step-rate fit happens even before probe_at steps
PROBE_BUDGET = 0.05

LOG_FIELDS = ("step", "epoch", "lr", "loss", "loss_xy", "loss_z", "grad_norm", "images_per_s", "elapsed_s",
              "synth_nme", "aflw_nme", "aflw_nme_0_30", "aflw_nme_30_60", "aflw_nme_60_90", "aflw_nme_balanced")


def lr_at(step: int, total: int, peak: float, warmup: int, min_ratio: float) -> float:
    """Linear warm-up from 0 over ``warmup`` steps, then cosine from ``peak`` to ``peak * min_ratio``."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(groups: list[dict], cfg: dict) -> torch.optim.Optimizer:
    """The optimizer ``cfg["optimizer"]`` names over ``groups`` (each with its weight decay)."""
    name, lr = cfg.get("optimizer", "adamw"), cfg["lr"]  # configs saved before the option: AdamW
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "nadam":
        return torch.optim.NAdam(groups, lr=lr, decoupled_weight_decay=True)
    if name == "radam":
        return torch.optim.RAdam(groups, lr=lr, decoupled_weight_decay=True)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg["momentum"], nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}")


def make_spec(cfg: dict) -> ModelSpec:
    channels = ("x", "y") + (("log_sigma",) if cfg["loss"] == "gnll" else ()) + (("z",) if cfg["z"] else ())
    return ModelSpec(name=f"{cfg['backbone']}_{cfg['loss']}", backbone=cfg["backbone"],
                     input_size=cfg["input_size"], channels=channels, loss=cfg["loss"],
                     provisional=bool(cfg["provisional"]), head=cfg["head"])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return dev


def _split_ids(root: str, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    from ..data.facesynthetics import list_ids

    ids = list_ids(root)
    n_val = int(round(len(ids) * fraction)) if len(ids) > 1 else 0
    order = np.random.default_rng([seed, 104729]).permutation(len(ids))
    val = sorted(ids[i] for i in order[:n_val])
    held = set(val)
    return [i for i in ids if i not in held], val


def build_data(cfg: dict, crop_cfg: CropConfig):
    """(training dataset, synthetic validation dataset or None)."""
    boxes = load_boxes(cfg["boxes"]) if cfg["boxes"] else None
    sources, val_sources = [], []
    for k, entry in enumerate(cfg["data"]):
        if entry == "synth":
            sources.append(GeneratorSource(_live_renderer(cfg), cfg["synth_length"]))
            continue
        if k == 0 and not cfg["val_data"] and cfg["val_fraction"] > 0:
            train_ids, val_ids = _split_ids(entry, cfg["val_fraction"], cfg["seed"])
            sources.append(folder_source(entry, train_ids, boxes))
            if val_ids:
                val_sources.append(folder_source(entry, val_ids))
        else:
            sources.append(folder_source(entry, None, boxes))
    for entry in cfg["val_data"]:
        val_sources.append(folder_source(entry))
    train_ds = LandmarkDataset(sources, crop_cfg, seed=cfg["seed"])
    val_ds = None
    if val_sources:
        val_cfg = copy.copy(crop_cfg)
        val_cfg.augment = False
        val_cfg.uint8 = False
        val_ds = LandmarkDataset(val_sources, val_cfg, seed=cfg["seed"])
    return train_ds, val_ds


def _sampling_weights(train_ds: LandmarkDataset, cfg: dict) -> np.ndarray | None:
    """With ``--yaw-balance``, the training images' sampling probabilities (yaw_weights)."""
    if not cfg["yaw_balance"]:
        return None
    yaw = train_ds.yaw_abs()
    known = np.isfinite(yaw)
    if not known.any():
        raise ValueError("--yaw-balance: no training sample has a known pose (the '_meta.json' sidecars' "
                         "'pose_deg', written by 'landmark3d synth'); drop the flag")
    weights = yaw_weights(yaw)
    yaw = np.minimum(yaw, 89.99)  # (90 counts in the last bin)
    share = [float(weights[known & (yaw >= a) & (yaw < a + 30)].sum()) for a in (0, 30, 60)]
    print(f"yaw balance: {int(known.sum())} of {len(yaw)} samples with a pose; yaw 0-30 / 30-60 / 60-90 drawn "
          f"{share[0]:.0%} / {share[1]:.0%} / {share[2]:.0%} (unweighted "
          + " / ".join(f"{np.mean((yaw[known] >= a) & (yaw[known] < a + 30)):.0%}" for a in (0, 30, 60)) + ")",
          file=sys.stderr)
    return weights


def _live_renderer(cfg: dict):
    """``face_index -> Sample`` from the generator (needs the [synth] extra and the ICT cache)."""
    from ..data.train_dataset import LiveRenderer

    return LiveRenderer(size=cfg["synth_size"], seed=cfg["seed"])


class Ema:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        # state_dict() values share storage with the modules' tensors (loading a state copies into
        # them), so the pairs are listed once; updated with foreach ops: a ResNet34 has ~200 tensors,
        # and one small kernel launch each per step was a visible share of a GPU step
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        self._float = ([e for e, m in pairs if e.dtype.is_floating_point],
                       [m for e, m in pairs if e.dtype.is_floating_point])
        self._other = [(e, m) for e, m in pairs if not e.dtype.is_floating_point]

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))   # warm start: follow the model closely at first
        ema, current = self._float
        torch._foreach_mul_(ema, d)
        torch._foreach_add_(ema, current, alpha=1 - d)
        for e, m in self._other:
            e.copy_(m)


def _init_state(init: dict, spec: ModelSpec, source) -> dict:
    """``init``'s model state fitted to a model of ``spec``: same backbone; head rows picked by
    channel name when the channels differ (each of this run's channels must exist in ``init``)."""
    old = ModelSpec.from_json(init["spec"], source=str(source))
    state = dict(init["model"])
    if old.backbone != spec.backbone:
        raise ValueError(f"{source}: its backbone is {old.backbone}, this run's {spec.backbone}; drop --init")
    if old.head != spec.head:
        # backbone and linear head carry over; a new integral branch starts fresh (from the model's
        # own initialisation: the caller loads with these keys missing), an unused one is dropped
        state = {k: v for k, v in state.items() if not k.startswith("integral.")}
    if old.channels == spec.channels:
        return state
    missing = [c for c in spec.channels if c not in old.channels]
    if missing:
        raise ValueError(f"{source}: its model has channels {old.channels}, this run {spec.channels} "
                         f"({', '.join(missing)} missing); match --loss/--z or drop --init")
    rows = [old.channels.index(c) for c in spec.channels]
    for key in ("head.weight", "head.bias"):
        t = state[key]
        t = t.view(old.num_landmarks, len(old.channels), *t.shape[1:])[:, rows]
        state[key] = t.reshape(old.num_landmarks * len(rows), *t.shape[2:]).clone()
    return state


#: Training crops that give a shipped (ONNX) model's BatchNorms their statistics (onnx_init.py).
_CALIBRATION_IMAGES = 512


def _load_init(source: str, train_ds, seed: int, threads: int = 0) -> dict:
    """``--init``'s checkpoint: a training checkpoint, or an exported ONNX file / shipped model name
    rebuilt into one (its BNs calibrated on this run's own training crops, on the CPU with
    ``threads`` torch threads when > 0)."""
    from ..models.registry import SHIPPED, resolve

    if source not in SHIPPED and not str(source).endswith(".onnx"):
        return checkpoint.load(source, map_location="cpu")
    from .onnx_init import checkpoint_from_onnx

    path = resolve(source)
    picks = np.random.default_rng(seed).permutation(len(train_ds))[:_CALIBRATION_IMAGES]
    cfg = train_ds.config
    batches = (model_input(torch.stack([train_ds[int(i)]["image"] for i in picks[k:k + 32]]), cfg.mean, cfg.std)
               for k in range(0, len(picks), 32))
    before = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        init = checkpoint_from_onnx(path, batches)
    finally:
        torch.set_num_threads(before)
    print(f"--init {source}: rebuilt from {path} (BN statistics from {init['from_onnx']['calibration_images']} "
          f"training crops; ONNX parity {init['from_onnx']['parity']['max_abs_diff']:.1e})", file=sys.stderr)
    return init


def train(cfg: dict) -> Path:
    run_dir = Path(cfg["output"]) / cfg["name"]
    last = run_dir / "last.pt"
    if cfg["resume"]:
        if not last.exists():
            raise FileNotFoundError(f"{last}: nothing to resume; drop --resume to start the run")
    elif last.exists():
        raise FileExistsError(f"{run_dir}: a run already exists there; pass --resume to continue it "
                              "or choose another --name")
    if not cfg["data"]:
        raise ValueError("no training data: give --data FOLDER (FaceSynthetics layout) or --data synth")
    if cfg["grow_data"] and cfg["resume"]:
        raise ValueError("--grow-data runs cannot be resumed (the data grew at a time no checkpoint records); "
                         "start a new run with --init RUN/last.pt")
    if cfg["threads"] > 0:
        torch.set_num_threads(cfg["threads"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")

    spec = make_spec(cfg)
    device = resolve_device(cfg["device"])
    on_device = cfg["augment"] and cfg["photometric"] and cfg["photometric_on_device"]
    crop_cfg = CropConfig(size=cfg["input_size"], augment=cfg["augment"],
                          photometric=cfg["photometric"] and not on_device,
                          aug_disable=tuple(cfg["aug_disable"]), gray_prob=cfg["gray_prob"], flip=cfg["flip"],
                          jitter=CropJitter((cfg["scale_min"], cfg["scale_max"]), cfg["shift"], cfg["rotate_deg"]),
                          box_scale=cfg["box_scale"], mean=spec.mean, std=spec.std,
                          uint8=device.type == "cuda" or on_device)   # normalised on the device
    train_ds, val_ds = build_data(cfg, crop_cfg)
    if cfg["preview"] and not cfg["resume"]:
        from .preview import write_preview

        write_preview(train_ds, run_dir / "preview.png")
    validators = []
    if val_ds is not None:
        validators.append(SyntheticValidation(val_ds, cfg["val_max"]))
    if cfg["aflw"]:
        validators.append(AflwValidation(cfg["aflw"], spec.input_size, spec.mean, spec.std))

    torch.manual_seed(cfg["seed"])
    model = build_model(spec)
    if cfg["init"] and not cfg["resume"]:
        # on a GPU machine the CPU is otherwise idle now (and OMP_NUM_THREADS=1 there): use all of it
        init = _load_init(cfg["init"], train_ds, cfg["seed"], (os.cpu_count() or 1) if device.type == "cuda" else 0)
        # the weights it infers with (EMA when it kept one); a head with other channels keeps the rows
        # this run's channels share (a GNLL run can start an MSE run: x, y[, z] rows)
        missing, unexpected = model.load_state_dict(_init_state(init, spec, cfg["init"]), strict=False)
        new_branch = ModelSpec.from_json(init["spec"]).head != spec.head  # its keys may be missing
        if unexpected or any(not (new_branch and k.startswith("integral.")) for k in missing):
            raise ValueError(f"{cfg['init']}: its weights do not fit this model (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}); drop --init")
    model = model.to(device)
    cuda = device.type == "cuda"
    if cuda:
        # fixed input sizes: let cuDNN time its convolution algorithms once and keep the fastest
        torch.backends.cudnn.benchmark = True
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    optimizer = make_optimizer([{"params": decay, "weight_decay": cfg["weight_decay"]},
                                {"params": no_decay, "weight_decay": 0.0}], cfg)
    ema = Ema(model, cfg["ema_decay"]) if cfg["ema"] else None

    sampler_probe = EpochBatchSampler(len(train_ds), cfg["batch_size"], cfg["seed"])
    steps_per_epoch = sampler_probe.steps_per_epoch
    total = cfg["steps"] if cfg["steps"] > 0 else cfg["epochs"] * steps_per_epoch
    warmup = min(cfg["warmup_steps"], total // 5)
    step, best = 0, float("inf")
    if cfg["resume"]:
        ck = checkpoint.load(last, map_location=device)
        model.load_state_dict(ck.get("train_model", ck["model"]))
        optimizer.load_state_dict(ck["optimizer"])
        if ema is not None and ck.get("ema_in_model"):
            ema.model.load_state_dict(ck["model"])
        step, best = int(ck["step"]), float(ck.get("best", best))
        total, warmup = int(ck["scheduler"]["total"]), int(ck["scheduler"]["warmup"])
        torch.set_rng_state(ck["rng"])
        print(f"resumed {last} at step {step}", file=sys.stderr)

    def state(step_now: int) -> dict:
        out = {"spec": spec.to_json(), "model": (ema.model if ema else model).state_dict(),
               "ema_in_model": ema is not None, "optimizer": optimizer.state_dict(),
               "scheduler": {"kind": "warmup_cosine", "total": total, "warmup": warmup, "peak_lr": cfg["lr"],
                             "min_lr_ratio": cfg["min_lr_ratio"]},
               "step": step_now, "best": best, "config": json.dumps(cfg, sort_keys=True),
               "rng": torch.get_rng_state(),
               "data": {"train_images": len(train_ds), "sources": list(cfg["data"])}}
        if ema is not None:
            out["train_model"] = model.state_dict()
        return out

    device_aug = None
    if on_device:
        from .device_photometric import DevicePhotometric

        device_aug = DevicePhotometric(tuple(cfg["aug_disable"]), cfg["gray_prob"])
        aug_gen = torch.Generator(device=device)
        norm_mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        norm_std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
    cv2_threads = None
    if cfg["workers"] > 0:
        import cv2

        # One OpenCV thread per loader process (16 processes x 16 threads would oversubscribe a
        # 16-core machine). Set here, in the parent, before the workers fork: cv2.setNumThreads
        # called inside a forked worker deadlocks once the parent has used OpenCV's pool.
        cv2_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
    sampler = EpochBatchSampler(len(train_ds), cfg["batch_size"], cfg["seed"], start_step=step,
                                weights=_sampling_weights(train_ds, cfg))
    loader = torch.utils.data.DataLoader(train_ds, batch_sampler=sampler, num_workers=cfg["workers"],
                                         pin_memory=cuda, persistent_workers=cfg["workers"] > 0)
    log_path = run_dir / "log.csv"
    new_log = not log_path.exists() or not cfg["resume"]
    log_file = open(log_path, "w" if new_log else "a", newline="")
    log = csv.DictWriter(log_file, fieldnames=LOG_FIELDS, extrasaction="ignore")
    if new_log:
        log.writeheader()

    bar = None
    if cfg["progress"]:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, file=sys.stderr, dynamic_ncols=True, desc=cfg["name"])
    val_interval = cfg["val_interval"] or steps_per_epoch
    # --fit-steps-to-time: after a short probe, fit the step count to what --max-minutes allows, so the
    # cosine schedule ends when the time does (re-fitted every REFIT_INTERVAL steps; the current
    # value is stored in the checkpoint, and a resumed run keeps it).
    probe_from, probe_at = step + min(10, total // 20), step + min(100, max(2, total // 10))
    t_probe, fitted_once = None, False
    t0 = time.time()
    t_window, n_window = time.time(), 0
    running: dict[str, float] = {}
    model.train()
    it = iter(loader)
    pending = list(cfg["grow_data"])   # folders still being rendered (--grow-data)

    def validate_now(step_now: int) -> dict:
        nonlocal best
        metrics = {}
        eval_model = ema.model if ema else model
        for v in validators:
            metrics.update(v.evaluate(eval_model, device, amp=cfg["amp"]))
        # best.pt is chosen on held-out synthetic data; AFLW2000-3D-dev only reports (choosing
        # checkpoints on it would tune to it). Without synthetic validation, AFLW decides.
        key = "synth_nme" if "synth_nme" in metrics else "aflw_nme"
        if key in metrics and metrics[key] < best:
            best = metrics[key]
            save = state(step_now)
            save["best"] = best
            checkpoint.save_atomic(save, run_dir / "best.pt")
        if metrics:
            print(f"step {step_now}: " + " ".join(f"{k}={v:.4f}" for k, v in metrics.items()), file=sys.stderr)
        return metrics

    def grow() -> bool:
        """Add each --grow-data folder whose pack is complete; True when the data grew."""
        from ..data.packed import LABELS, PackedSource, pack_matches

        added = []
        for folder in list(pending):
            if (Path(folder) / LABELS).is_file() and pack_matches(folder):
                pending.remove(folder)
                source = PackedSource(folder)
                if len(source):
                    added.append(source)
                print(f"step {step}: {folder} done, {len(source)} faces join the training data", file=sys.stderr)
        if added:
            train_ds.extend(added)
        return bool(added)

    try:
        while step < total:
            if pending and step % REFIT_INTERVAL == 0 and grow():
                # new loader over the grown data (its own batch order; the old workers shut down)
                del it
                sampler = EpochBatchSampler(len(train_ds), cfg["batch_size"], cfg["seed"] + 7919 * step,
                                            weights=_sampling_weights(train_ds, cfg))
                loader = torch.utils.data.DataLoader(train_ds, batch_sampler=sampler, num_workers=cfg["workers"],
                                                     pin_memory=cuda, persistent_workers=cfg["workers"] > 0)
                steps_per_epoch = sampler.steps_per_epoch
                it = iter(loader)
            batch = next(it)
            lr = lr_at(step, total, cfg["lr"], warmup, cfg["min_lr_ratio"])
            for g in optimizer.param_groups:
                g["lr"] = lr
            images = batch["image"].to(device, non_blocking=True)
            if device_aug is not None:
                aug_gen.manual_seed(int(cfg["seed"]) * 1_000_003 + step)   # reproducible and resumable per step
                images = (device_aug(images.float() / 255, aug_gen) - norm_mean) / norm_std   # uint8 items
            else:
                images = model_input(images, spec.mean, spec.std)
            if cfg["channels_last"]:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                enabled=cfg["amp"] if cuda else cfg["cpu_amp"]):
                out = model(images)                                               # (B, 70, C)
            has_z = batch["has_z"].to(device) if bool(batch["has_z"].any()) else None   # (checked on the CPU)
            parts = landmark_loss(out, batch["xy"].to(device), spec.channels, spec.loss, spec.input_size,
                                  batch["z"].to(device), has_z, cfg["z_weight"])
            optimizer.zero_grad(set_to_none=True)
            parts["loss"].backward()
            # (kept on the device: a float() here would make the CPU wait for the GPU every step)
            grad_norm = (torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
                         if cfg["grad_clip"] > 0 else None)
            optimizer.step()
            if ema is not None:
                ema.update(model, step)
            step += 1
            if cfg["fit_steps_to_time"] and cfg["max_minutes"] > 0 and not cfg["resume"]:
                if step == probe_from:
                    t_probe = time.time()
                elif t_probe is not None and (fitted_once and step % REFIT_INTERVAL == 0 or not fitted_once and (
                        step >= probe_at or step >= probe_from + 2
                        and time.time() - t_probe > PROBE_BUDGET * 60 * cfg["max_minutes"])):
                    # first fit after probe_at steps, or sooner on a slow (busy) machine, after a
                    # PROBE_BUDGET share of the time; then refit every REFIT_INTERVAL steps, since
                    # the step rate on a shared machine drifts with other people's load
                    rate = (step - probe_from) / max(time.time() - t_probe, 1e-9)   # steps/s since the probe
                    left = 60 * cfg["max_minutes"] * TIME_FIT_MARGIN - (time.time() - t0)
                    fitted = max(step + 1, min(int(cfg["steps"] or total), step + int(rate * max(left, 0))))
                    if fitted != total:
                        if not fitted_once or abs(fitted - total) > 0.02 * total:
                            print(f"--fit-steps-to-time: {total} -> {fitted} steps ({rate:.2f} steps/s)",
                                  file=sys.stderr)
                        total = fitted
                        # the warm-up shrinks with the run (at most a fifth of it, as at the start), or
                        # a short fitted run would spend most of its steps warming up
                        warmup = min(warmup, max(1, total // 5))
                        if bar is not None:
                            bar.total = total
                    fitted_once = True
            n_window += len(images)
            for k, v in parts.items():   # summed on the device, read at log time
                running[k] = running.get(k, 0.0) + v.detach()
            running["_n"] = running.get("_n", 0) + 1
            if bar is not None:
                bar.update(1)
            row = None
            if step % cfg["log_interval"] == 0 or step == total:
                n = running.pop("_n")
                mean = {k: float(v) / n for k, v in running.items()}
                now = time.time()
                row = {"step": step, "epoch": f"{step / steps_per_epoch:.3f}", "lr": f"{lr:.3e}",
                       "loss": f"{mean.get('loss', 0):.5f}", "loss_xy": f"{mean.get('xy', 0):.5f}",
                       "loss_z": f"{mean['z']:.5f}" if "z" in mean else "",
                       "grad_norm": f"{float('nan') if grad_norm is None else float(grad_norm):.3f}",
                       "images_per_s": f"{n_window / max(now - t_window, 1e-9):.1f}", "elapsed_s": f"{now - t0:.1f}"}
                if bar is not None:
                    bar.set_postfix(loss=row["loss"], lr=f"{lr:.2e}")
                running, t_window, n_window = {}, now, 0
            timed_out = ((cfg["max_minutes"] > 0 and time.time() - t0 > 60 * cfg["max_minutes"])
                         or (cfg["stop_after"] > 0 and step >= cfg["stop_after"]))
            if validators and (step % val_interval == 0 or step == total or timed_out):
                metrics = validate_now(step)
                row = row or {"step": step, "epoch": f"{step / steps_per_epoch:.3f}", "lr": f"{lr:.3e}",
                              "elapsed_s": f"{time.time() - t0:.1f}"}
                row.update({k: f"{v:.5f}" for k, v in metrics.items()})
            if row is not None:
                log.writerow(row)
                log_file.flush()
            if step % cfg["ckpt_interval"] == 0 or step == total or timed_out:
                checkpoint.save_atomic(state(step), last)
            if timed_out:
                print(f"stopping at step {step} of {total} (--max-minutes/--stop-after); continue with --resume",
                      file=sys.stderr)
                break
    finally:
        if bar is not None:
            bar.close()
        log_file.close()
        if cv2_threads is not None:
            import cv2

            cv2.setNumThreads(cv2_threads)
    return run_dir
