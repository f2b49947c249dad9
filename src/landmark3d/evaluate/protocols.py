"""The benchmark protocols of docs/design.md: which points, which normaliser, which breakdown.

:func:`score` turns ground truth + predictions into a plain dict (the JSON report): a list of
``rows`` (one per point set / label set / normaliser), each with its mean NME, failure rate, AUC
and, for AFLW2000-3D, the absolute-yaw bins; plus the median signed offset, the sigma
calibration and the number of missed faces. Per-face NMEs stay in ``per_face`` for plots.

- ``aflw2000-3d``: NME / sqrt(w*h) of the label set's 68-point min/max box; rows: 68 and inner
  51 points vs the original labels, then vs the re-annotated labels when present; ``regions``:
  the NME of each of :data:`~landmark3d.schema.REGIONS` by yaw bin, vs the original labels.
- ``300w``: NME / outer inter-ocular distance (36-45); rows: inner 51, then all 68 (kept apart:
  the jaw of a 2D "visible contour" label means something else on a turned face).
- ``facesynthetics``: NME over all 70 points, inter-ocular and box-normalised.
"""
from __future__ import annotations

import numpy as np

from ..schema import INNER_51, REGIONS
from . import metrics

ALL_68 = np.arange(68)
ALL_70 = np.arange(70)


def _row(key, label, pred, gt, normaliser_name, indices, yaw=None) -> tuple[dict, np.ndarray]:
    norm = metrics.box_size(gt[:, :68]) if normaliser_name == "box" else metrics.interocular(gt)
    values = metrics.nme(pred, gt, norm, indices)
    row = {
        "key": key,
        "label": label,
        "points": int(len(indices)),
        "normaliser": {"box": "sqrt(w*h) of the label set's 68-point min/max box",
                       "interocular": "distance of the outer eye corners 36 and 45"}[normaliser_name],
        "nme": metrics.finite_mean(values),
        "median_nme": float(np.median(values[np.isfinite(values)])) if np.isfinite(values).any() else float("nan"),
        "failure_rate": metrics.failure_rate(values),
        "auc": metrics.auc(values),
        "faces": int(len(values)),
    }
    if yaw is not None:
        row["yaw_bins"] = metrics.yaw_bins(values, yaw)
    if len(indices) >= 68:  # the full-set rows also give each point's mean NME (index = schema index)
        row["per_point_nme"] = metrics.per_point_nme(pred[:, : len(indices)], gt[:, : len(indices)], norm).tolist()
    return row, values


def score(protocol: str, gt: np.ndarray, pred: np.ndarray, *, sigma: np.ndarray | None = None,
          references: dict | None = None, yaw_abs_deg: np.ndarray | None = None) -> dict:
    """Score ``pred`` ``(N, 70, 2)`` (NaN rows = missed faces) against ``gt`` ``(N, 70, 2)``.

    ``references``: other label sets ``{name: (N, 68, 2)}`` (AFLW2000-3D's re-annotation).
    ``sigma`` ``(N, 70)`` px enables the calibration block. Returns the report dict.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if gt.shape != pred.shape or gt.ndim != 3 or gt.shape[1:] != (70, 2):
        raise ValueError(f"expected gt and pred of shape (N, 70, 2), got {gt.shape} and {pred.shape}")
    rows, per_face, offsets = [], {}, {}

    def add(*args, **kwargs):
        row, values = _row(*args, **kwargs)
        rows.append(row)
        per_face[row["key"]] = values

    if protocol == "aflw2000-3d":
        label_sets = {"original": gt[:, :68]}
        for name, ref in (references or {}).items():
            label_sets[name] = np.asarray(ref, dtype=np.float64)[:, :68]
        for name, labels in label_sets.items():
            add(f"{name}_68", f"68 points vs {name} labels", pred[:, :68], labels, "box", ALL_68, yaw=yaw_abs_deg)
            add(f"{name}_51", f"51 inner points vs {name} labels", pred[:, :68], labels, "box", INNER_51, yaw=yaw_abs_deg)
            offsets[name] = metrics.median_offset(pred[:, :68], labels, INNER_51).tolist()
        # where the error is: each region's NME by yaw bin, against the original labels
        norm = metrics.box_size(gt[:, :68])
        regions = {name: metrics.yaw_bins(metrics.nme(pred[:, :68], gt[:, :68], norm, np.arange(a, b)), yaw_abs_deg)
                   for name, (a, b) in REGIONS.items()} if yaw_abs_deg is not None else None
        calib_points = ALL_68
    elif protocol == "300w":
        add("inner_51", "51 inner points, inter-ocular", pred[:, :68], gt[:, :68], "interocular", INNER_51)
        add("all_68", "all 68 points, inter-ocular", pred[:, :68], gt[:, :68], "interocular", ALL_68)
        offsets["labels"] = metrics.median_offset(pred[:, :68], gt[:, :68], INNER_51).tolist()
        calib_points = ALL_68
    elif protocol == "facesynthetics":
        add("all_70_io", "all 70 points, inter-ocular", pred, gt, "interocular", ALL_70)
        add("all_70_box", "all 70 points, box-normalised", pred, gt, "box", ALL_70)
        add("inner_51_io", "51 inner points, inter-ocular", pred, gt, "interocular", INNER_51)
        offsets["labels"] = metrics.median_offset(pred, gt, INNER_51).tolist()
        calib_points = ALL_70
    else:
        raise ValueError(f"unknown protocol '{protocol}': expected aflw2000-3d, 300w or facesynthetics")

    if protocol != "aflw2000-3d":
        regions = None
    missed = ~np.all(np.isfinite(pred[:, :68]), axis=(1, 2))
    report = {
        "protocol": protocol,
        "faces": int(gt.shape[0]),
        "missed_faces": int(missed.sum()),
        "failure_threshold": metrics.FAILURE_THRESHOLD,
        "rows": rows,
        "median_offset_inner51_px": offsets,
        "regions": regions,
        "calibration": None,
        "per_face": per_face,
    }
    if sigma is not None:
        cal = metrics.sigma_calibration(pred, gt, sigma, indices=calib_points)
        report["calibration"] = {k: v for k, v in cal.items() if k != "normalised_errors"}
        report["calibration"]["normalised_errors"] = cal["normalised_errors"]
        report["calibration"]["labels"] = "original" if protocol == "aflw2000-3d" else "labels"
    return report
