"""Training options: one table of defaults, flags to override them, config files, resolution.

Resolution order (later wins): the defaults below < ``--config FILE`` (JSON or TOML, keys = the
option names below with ``_``) < the run folder's saved ``config.json`` when ``--resume`` < flags
given on the command line. The resolved values are written to ``RUN/config.json``.
Every flag's parser default is ``None`` so "given on the command line" is exactly "not None".
"""
from __future__ import annotations

import argparse
import difflib
import json
from pathlib import Path

from ..data.augment import GRAY_PROB, PHOTOMETRIC_GROUPS

#: Backbones of :mod:`landmark3d.models.torch_models` (listed here so --help needs no torch).
BACKBONE_NAMES = ("mobilenetv2", "resnet34", "tiny")
#: Heads of :mod:`landmark3d.models.torch_models`.
HEAD_NAMES = ("regression", "integral")
OPTIMIZER_NAMES = ("adamw", "nadam", "radam", "sgd")

#: name -> (default, help). Booleans become --name / --no-name flags.
OPTIONS: dict[str, tuple[object, str]] = {
    "name": ("run", "experiment name: the run folder is OUTPUT/NAME"),
    "output": ("runs", "folder holding run folders"),
    "device": ("auto", "'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'"),
    "gpu": (-1, "GPU id; same as --device cuda:N (-1: use --device)"),
    "epochs": (10, "passes over the training data (ignored when --steps is given)"),
    "steps": (0, "optimizer steps in total (0: from --epochs)"),
    "batch_size": (64, "images per step"),
    "optimizer": ("adamw", "'adamw', 'nadam' (decoupled decay), 'radam' (decoupled decay) or 'sgd' (Nesterov "
                           "momentum, L2 decay); docs/experiments.md has the comparison"),
    "lr": (2e-3, "peak learning rate"),
    "momentum": (0.9, "SGD's momentum (with --optimizer sgd)"),
    "weight_decay": (0.05, "weight decay of the weights (not of biases and norms): decoupled for adamw/nadam/"
                           "radam (lr x decay per step); for sgd an L2 term, so use ~5e-4 there"),
    "warmup_steps": (300, "linear warm-up steps (at most a fifth of the run)"),
    "min_lr_ratio": (0.01, "the cosine schedule's final lr over the peak lr"),
    "grad_clip": (5.0, "clip the gradient's global norm to this (0: off)"),
    "ema": (True, "keep an exponential moving average of the weights and export it"),
    "ema_decay": (0.998, "EMA decay per step"),
    "loss": ("gnll", "'gnll' (x, y, log sigma; design.md's Gaussian NLL) or 'mse'"),
    "backbone": ("mobilenetv2", f"one of {', '.join(BACKBONE_NAMES)} ('tiny' is for tests)"),
    "head": ("regression", "'regression' (pooled features -> linear) or 'integral' (x, y by soft-argmax of "
                           "stride-16 heatmaps plus a linear residual; sigma and z as in 'regression')"),
    "input_size": (128, "crop side S in pixels"),
    "z": (False, "also predict depth z (trained on samples that carry 3D landmarks)"),
    "z_weight": (1.0, "weight of the depth L1 term"),
    "augment": (True, "random crop scale/shift/rotation and horizontal flip"),
    "photometric": (True, "albumentations colour/blur/noise/JPEG/downscale/occluder corruptions"),
    "photometric_on_device": (False, "apply the photometric groups to each batch on the training device (torch; "
                                     "train/device_photometric.py) instead of in the loader's CPU workers: for a GPU "
                                     "whose loader cannot keep up"),
    "aug_disable": ([], f"switch off one photometric group (repeatable): {', '.join(PHOTOMETRIC_GROUPS)}"),
    "gray_prob": (GRAY_PROB, "probability of the grey-scale photometric group"),
    "flip": (True, "random horizontal flip (with the 70-point permutation)"),
    "rotate_deg": (45.0, "largest random in-plane rotation, both directions"),
    "scale_min": (0.85, "smallest random crop scale, times the crop rule's"),
    "scale_max": (1.2, "largest random crop scale, times the crop rule's"),
    "shift": (0.08, "largest random crop centre shift, fraction of the crop side"),
    "yaw_balance": (False, "draw training images (with replacement) so each 10-degree bin of absolute head yaw "
                           "over 0-90 gets the same share (from the sidecars' pose; the generator puts over half its "
                           "faces within 30 degrees, AFLW2000-3D's balanced score weights 0-30, 30-60 and "
                           "60-90 equally)"),
    "seed": (0, "random seed (weights, data order, augmentation)"),
    "resume": (False, "continue the run in OUTPUT/NAME from its last.pt exactly"),
    "init": ("", "start from the weights of this checkpoint, exported .onnx file or shipped model name "
                 "(e.g. mobilenetv2_gnll), with a new optimizer and schedule"),
    "data": ([], "training data (repeatable): a FaceSynthetics-layout folder, or 'synth' for a live generator"),
    "grow_data": ([], "a folder being rendered while this run trains ('landmark3d synth --pack-only'; "
                      "repeatable): it joins the training data once its pack is complete (checked every 50 "
                      "steps; the run is then not reproducible, and cannot be resumed)"),
    "synth_length": (10000, "virtual epoch length of a live 'synth' source (new faces every epoch)"),
    "synth_size": (256, "image side rendered by a live 'synth' source"),
    "boxes": ("", "detector boxes from 'landmark3d bbox' (JSON) to crop from instead of the landmarks' box"),
    "box_scale": (1.4, "crop side over a detector box's longest side (with --boxes)"),
    "val_data": ([], "held-out synthetic folders for validation (repeatable)"),
    "val_fraction": (0.05, "without --val-data: hold out this fraction of the first --data folder"),
    "val_max": (500, "at most this many held-out synthetic images per validation"),
    "aflw": ("", "AFLW2000-3D(-dev) folder with ground_truth.npz: validation only, never trained on"),
    "val_interval": (0, "validate every N steps (0: once per epoch and at the end)"),
    "log_interval": (50, "write a CSV log row every N steps"),
    "ckpt_interval": (500, "write RUN/last.pt every N steps"),
    "workers": (0, "data loader worker processes"),
    "threads": (0, "torch CPU threads (0: torch's default)"),
    "amp": (True, "bf16 autocast on CUDA (no effect on the CPU)"),
    "cpu_amp": (False, "bf16 autocast of the training steps on the CPU too: ResNet34 at 192 px trained 2.2x faster "
                       "on this project's CPU (AMX/AVX-512 BF16), MobileNetV2 no faster; validation stays float32"),
    "channels_last": (True, "channels_last memory format (CUDA and CPU; MobileNetV2 trains faster with it on both)"),
    "progress": (True, "show a progress bar on stderr"),
    "preview": (True, "write RUN/preview.png: the first 16 training crops with their targets drawn"),
    "provisional": (False, "mark the model PROVISIONAL in its spec and model card"),
    "max_minutes": (0.0, "stop cleanly (checkpoint written) after this much wall time (0: no limit)"),
    "fit_steps_to_time": (False, "with --max-minutes: measure the step rate and re-fit the step count "
                                 "(at most --steps) every 50 steps so the learning-rate schedule ends in time "
                                 "(not reproducible: depends on the machine's speed)"),
    "stop_after": (0, "stop cleanly (checkpoint written) at this step, keeping the schedule of --steps; "
                      "continue later with --resume (0: run to the end)"),
}

#: Options that describe one session of a run, not the run: not taken from the saved config on --resume.
SESSION_OPTIONS = ("resume", "max_minutes", "stop_after", "progress", "workers", "threads")


#: Options limited to a set of values.
CHOICES = {"optimizer": OPTIMIZER_NAMES, "loss": ("gnll", "mse"), "backbone": BACKBONE_NAMES, "head": HEAD_NAMES}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="JSON or TOML file of option values (keys as below with '_'); flags override it")
    for name, (default, help_text) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        text = f"{help_text} (default: {default!r})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif isinstance(default, list):
            parser.add_argument(flag, action="append", default=None, metavar=name.upper(), help=text)
        else:
            parser.add_argument(flag, type=type(default), default=None, metavar=name.upper(), help=text,
                                choices=CHOICES.get(name))


def read_config_file(path: str | Path) -> dict:
    """Option values from a ``.json`` or ``.toml`` file; unknown keys are an error with suggestions."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the config file ({exc})") from exc
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of option values")
    return check_keys(data, str(path))


def check_keys(data: dict, source: str) -> dict:
    out = {}
    for key, value in data.items():
        k = key.replace("-", "_")
        if k not in OPTIONS:
            close = difflib.get_close_matches(k, OPTIONS, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"{source}: unknown option '{key}'{hint}")
        default = OPTIONS[k][0]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{source}: option '{key}' must be true or false, got {value!r}")
        if isinstance(default, list) and not isinstance(value, list):
            value = [value]
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if k in CHOICES and value not in CHOICES[k]:
            raise ValueError(f"{source}: option '{key}' must be one of {CHOICES[k]}, got {value!r}")
        out[k] = value
    return out


def resolve(args: argparse.Namespace) -> dict:
    """The resolved option values for a parsed command line (see the module docstring)."""
    cfg = {k: (list(v[0]) if isinstance(v[0], list) else v[0]) for k, v in OPTIONS.items()}
    if getattr(args, "config", None):
        cfg.update(read_config_file(args.config))
    given = {k: getattr(args, k) for k in OPTIONS if getattr(args, k, None) is not None}
    if given.get("resume", cfg["resume"]):
        run_dir = Path(given.get("output", cfg["output"])) / given.get("name", cfg["name"])
        saved = run_dir / "config.json"
        if not saved.exists():
            raise FileNotFoundError(f"{saved}: nothing to resume (no run there); drop --resume to start it")
        saved_cfg = check_keys(json.loads(saved.read_text()), str(saved))
        cfg.update({k: v for k, v in saved_cfg.items() if k not in SESSION_OPTIONS})
    cfg.update(given)
    cfg["resume"] = bool(given.get("resume", False))
    if cfg["gpu"] >= 0:
        cfg["device"] = f"cuda:{cfg['gpu']}"
    return cfg
