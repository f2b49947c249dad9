"""Evaluation figures: cumulative error distribution, sigma calibration, worst cases.

matplotlib is used through its object API (no pyplot, no global backend switch); it is the
``eval`` extra. The worst-case mosaic is drawn with OpenCV only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metrics

GT_COLOUR = (40, 220, 40)       # RGB green: ground truth
PRED_COLOUR = (255, 60, 60)     # RGB red: prediction


def _figure(size=(6.0, 4.5)):
    from ..errors import require

    require("matplotlib", "eval", "evaluation plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=110)
    FigureCanvasAgg(fig)
    return fig


def plot_ced(path: str | Path, curves: dict[str, np.ndarray], title: str, max_error: float = metrics.FAILURE_THRESHOLD) -> None:
    """CED curves ``{label: per-face NME}`` to a PNG; the legend gives each curve's AUC."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, values in curves.items():
        t, frac = metrics.ced(values, max_error)
        ax.plot(100 * t, 100 * frac, label=f"{label} (AUC {100 * metrics.auc(values, max_error):.1f})")
    ax.set_xlim(0, 100 * max_error)
    ax.set_ylim(0, 100)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("faces with NME <= x (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))


def plot_calibration(path: str | Path, normalised_errors: np.ndarray, title: str) -> None:
    """Observed fraction of points with error <= k sigma against a 2D Gaussian's 1 - exp(-k^2/2)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    k = np.linspace(0, 4, 161)
    r = np.sort(np.asarray(normalised_errors, dtype=np.float64))
    observed = np.searchsorted(r, k, side="right") / max(len(r), 1)
    ax.plot(k, 100 * metrics.gaussian_coverage(k), "k--", label="2D Gaussian (calibrated)")
    ax.plot(k, 100 * observed, "C0", label=f"model ({len(r)} points)")
    for kk in metrics.SIGMA_KS:
        o = 100 * np.mean(r <= kk) if len(r) else np.nan
        ax.plot([kk], [o], "C0o")
        ax.annotate(f"{o:.1f}% (ideal {100 * metrics.gaussian_coverage(kk):.1f}%)", (kk, o),
                    textcoords="offset points", xytext=(6, -12 if o > 50 else 8), fontsize=8)
    ax.set_xlabel("k  (error <= k sigma)")
    ax.set_ylabel("points (%)")
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))


def draw_case(image: np.ndarray, gt: np.ndarray, pred: np.ndarray | None, caption: str, size: int = 256) -> np.ndarray:
    """A ``size`` x ``size`` RGB tile: the face cropped around its labels, ground truth green,
    prediction red (with a line from each label to its prediction), and a caption."""
    import cv2

    from ..crop import crop_from_points

    crop = crop_from_points(gt, size, scale=1.6)
    tile = crop.warp(image)
    g = crop.to_crop(gt)
    pts_pred = None if pred is None or not np.all(np.isfinite(pred)) else crop.to_crop(pred)
    if pts_pred is not None:
        for a, b in zip(g, pts_pred):
            cv2.line(tile, _px(a), _px(b), (255, 220, 0), 1, cv2.LINE_AA, shift=4)
        for p in pts_pred:
            cv2.circle(tile, _px(p), 2 * 16, PRED_COLOUR, -1, cv2.LINE_AA, shift=4)
    for p in g:
        cv2.circle(tile, _px(p), 2 * 16, GT_COLOUR, -1, cv2.LINE_AA, shift=4)
    cv2.rectangle(tile, (0, 0), (size, 18), (0, 0, 0), -1)
    cv2.putText(tile, caption[:40], (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    if pts_pred is None:
        cv2.putText(tile, "MISSED", (size // 2 - 40, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.8, PRED_COLOUR, 2, cv2.LINE_AA)
    return tile


def _px(p) -> tuple[int, int]:
    return int(round(float(p[0]) * 16)), int(round(float(p[1]) * 16))


def mosaic(tiles: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tiles of one size in a grid (row-major), padded with black."""
    if not tiles:
        return np.zeros((64, 64, 3), np.uint8)
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    out = np.zeros((rows * h, min(columns, len(tiles)) * w, 3), np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    return out
