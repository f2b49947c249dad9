"""Landmark accuracy metrics: the one place every evaluation number is computed.

Conventions:
- Points are ``(N, K, 2)`` arrays in image pixels (x right, y down, 0-based pixel centres); ``N``
  faces, ``K`` points. A prediction that does not exist (a face the detector missed) is NaN; every
  metric below turns it into an error of ``inf``, so it counts as a failure and is never dropped.
- NME ("normalised mean error") of a face = mean over the chosen points of the Euclidean point
  error, divided by a per-face normaliser, and is a fraction (0.035 = 3.5 %).
- Normalisers: :func:`box_size` = sqrt(w * h) of the ground truth's min/max box (AFLW2000-3D,
  as 3DDFA and later papers compute it); :func:`interocular` = distance between the outer eye
  corners iBUG 36 and 45 (300-W's "inter-ocular" normalisation).
"""
from __future__ import annotations

import numpy as np

from ..schema import OUTER_EYE_CORNERS

#: Failure threshold on a face's NME (10 %), the usual value for 300-W and AFLW2000-3D.
FAILURE_THRESHOLD = 0.10
#: Absolute-yaw bins of the AFLW2000-3D protocol, degrees; the last bin is closed and also takes
#: the few labels beyond 90 degrees.
YAW_BINS_DEG: tuple[tuple[float, float], ...] = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0))
YAW_BIN_NAMES: tuple[str, ...] = ("[0,30)", "[30,60)", "[60,90]")
#: Multiples of sigma checked by :func:`sigma_calibration`.
SIGMA_KS: tuple[float, ...] = (1.0, 2.0, 3.0)


def _points(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[-1] != 2:
        raise ValueError(f"{name}: expected (N, K, 2) points, got shape {a.shape}")
    return a


def point_errors(pred, gt) -> np.ndarray:
    """Euclidean error per point, ``(N, K)`` pixels; ``inf`` where the prediction is NaN."""
    pred, gt = _points(pred, "pred"), _points(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape: got {pred.shape} and {gt.shape}")
    err = np.linalg.norm(pred - gt, axis=-1)
    return np.where(np.isnan(err), np.inf, err)


def box_size(gt) -> np.ndarray:
    """sqrt(w * h) of each face's min/max box over the given points, ``(N,)`` pixels."""
    gt = _points(gt, "gt")
    wh = gt.max(axis=1) - gt.min(axis=1)  # (N, 2)
    return np.sqrt(wh[:, 0] * wh[:, 1])


def interocular(gt) -> np.ndarray:
    """Distance between the outer eye corners (iBUG 36 and 45), ``(N,)`` pixels."""
    gt = _points(gt, "gt")
    a, b = OUTER_EYE_CORNERS
    return np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)


def nme(pred, gt, normaliser, indices=None) -> np.ndarray:
    """Per-face NME ``(N,)``: mean error over ``indices`` (all points if None) / ``normaliser`` (N,).

    A face with any missing (NaN) predicted point scores ``inf``.
    """
    err = point_errors(pred, gt)
    if indices is not None:
        err = err[:, np.asarray(indices)]
    norm = np.asarray(normaliser, dtype=np.float64).reshape(-1)
    if norm.shape[0] != err.shape[0]:
        raise ValueError(f"normaliser: expected {err.shape[0]} values, got {norm.shape[0]}")
    if np.any(~(norm > 0)):
        bad = np.flatnonzero(~(norm > 0))[:5].tolist()
        raise ValueError(f"normaliser must be > 0 for every face; faces {bad} are not")
    return err.mean(axis=1) / norm


def per_point_nme(pred, gt, normaliser) -> np.ndarray:
    """Mean normalised error of each point over the faces with a prediction, ``(K,)``."""
    err = point_errors(pred, gt) / np.asarray(normaliser, dtype=np.float64).reshape(-1, 1)
    ok = np.all(np.isfinite(err), axis=1)
    return err[ok].mean(axis=0) if ok.any() else np.full(err.shape[1], np.nan)


def finite_mean(values) -> float:
    """Mean over the finite values (NaN when none): NME means exclude faces with no prediction,
    which :func:`failure_rate` and the missed-face count report instead."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def failure_rate(nme_values, threshold: float = FAILURE_THRESHOLD) -> float:
    """Fraction of faces whose NME exceeds ``threshold`` (missed faces, NME = inf, count as failures)."""
    v = np.asarray(nme_values, dtype=np.float64)
    if v.size == 0:
        return float("nan")
    return float(np.mean(~(v <= threshold)))


def ced(nme_values, max_error: float = FAILURE_THRESHOLD, steps: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: ``(thresholds, fraction of faces with NME <= threshold)``."""
    v = np.sort(np.asarray(nme_values, dtype=np.float64))
    t = np.linspace(0.0, max_error, steps)
    if v.size == 0:
        return t, np.full_like(t, np.nan)
    return t, np.searchsorted(v, t, side="right") / v.size


def auc(nme_values, max_error: float = FAILURE_THRESHOLD) -> float:
    """Area under the CED curve from 0 to ``max_error``, divided by ``max_error`` (1 = perfect).

    Computed exactly: the area is the mean over faces of ``max(0, max_error - nme)``.
    """
    v = np.asarray(nme_values, dtype=np.float64)
    if v.size == 0:
        return float("nan")
    return float(np.mean(np.clip(max_error - v, 0.0, None)) / max_error)


def yaw_bin_index(yaw_abs_deg) -> np.ndarray:
    """Bin index 0, 1, 2 of :data:`YAW_BINS_DEG` for absolute yaws in degrees (>= 90 goes to bin 2)."""
    yaw = np.abs(np.asarray(yaw_abs_deg, dtype=np.float64))
    return np.digitize(yaw, [YAW_BINS_DEG[1][0], YAW_BINS_DEG[2][0]])


def yaw_bins(nme_values, yaw_abs_deg) -> dict:
    """Mean NME per absolute-yaw bin, their unweighted mean ("balanced") and the overall mean.

    Returns ``{"[0,30)": m0, "[30,60)": m1, "[60,90]": m2, "balanced": (m0+m1+m2)/3, "all": m,
    "count": [n0, n1, n2]}``; a bin with no face gives NaN (and so does "balanced").
    Means are over faces with a prediction (see :func:`finite_mean`).
    """
    v = np.asarray(nme_values, dtype=np.float64)
    idx = yaw_bin_index(yaw_abs_deg)
    if idx.shape != v.shape:
        raise ValueError(f"yaw: expected {v.shape[0]} values, got {idx.shape[0]}")
    out: dict = {}
    means = []
    for b, name in enumerate(YAW_BIN_NAMES):
        m = finite_mean(v[idx == b])
        out[name] = m
        means.append(m)
    out["balanced"] = float(np.mean(means))
    out["all"] = finite_mean(v)
    out["count"] = [int(np.sum(idx == b)) for b in range(len(YAW_BIN_NAMES))]
    return out


def median_offset(pred, gt, indices=None) -> np.ndarray:
    """Median signed offset ``pred - gt`` in x and y over all faces and ``indices``, ``(2,)`` pixels.

    A constant labelling convention difference (e.g. 0- vs 1-based) shows up here as about -1 or +1.
    Faces with no prediction are skipped.
    """
    pred, gt = _points(pred, "pred"), _points(gt, "gt")
    d = pred - gt
    if indices is not None:
        d = d[:, np.asarray(indices)]
    d = d.reshape(-1, 2)
    d = d[np.all(np.isfinite(d), axis=1)]
    if d.size == 0:
        return np.full(2, np.nan)
    return np.median(d, axis=0)


def gaussian_coverage(k) -> np.ndarray:
    """Probability that a 2D isotropic Gaussian sample lies within ``k`` sigma: 1 - exp(-k^2/2)."""
    k = np.asarray(k, dtype=np.float64)
    return 1.0 - np.exp(-0.5 * k * k)


#: Median of |d| / sigma for a 2D isotropic Gaussian (Rayleigh distribution): sqrt(2 ln 2).
RAYLEIGH_MEDIAN = float(np.sqrt(2.0 * np.log(2.0)))


def calibrating_sigma_scale(normalised_errors) -> float:
    """The factor that, multiplied into every sigma, makes the median ``|d| / sigma`` that of a
    2D Gaussian; so 1 sigma covers ~39 %. A median fit: a few gross failures do not inflate it."""
    r = np.asarray(normalised_errors, dtype=np.float64)
    r = r[np.isfinite(r)]
    if not r.size:
        return float("nan")
    return float(np.median(r) / RAYLEIGH_MEDIAN)


def sigma_calibration(pred, gt, sigma, ks=SIGMA_KS, indices=None) -> dict:
    """How often the true point lies within k sigma of the prediction, against a 2D Gaussian.

    ``sigma`` ``(N, K)`` is an isotropic standard deviation in pixels (per axis). For a calibrated
    model the fractions match :func:`gaussian_coverage`: 39.3 %, 86.5 %, 98.9 % for k = 1, 2, 3.
    Returns ``{"k": [...], "observed": [...], "expected": [...], "points": n}`` over the finite
    predictions; ``"calibrating_scale"`` (:func:`calibrating_sigma_scale`); also
    ``"normalised_errors"``, the sorted ``|d| / sigma`` for plotting.
    """
    err = point_errors(pred, gt)
    s = np.asarray(sigma, dtype=np.float64)
    if s.ndim == 1:
        s = s[None]
    if s.shape != err.shape:
        raise ValueError(f"sigma: expected shape {err.shape}, got {s.shape}")
    if indices is not None:
        err, s = err[:, np.asarray(indices)], s[:, np.asarray(indices)]
    ok = np.isfinite(err) & np.isfinite(s) & (s > 0)
    r = np.sort((err[ok] / s[ok]).ravel())
    ks = [float(k) for k in ks]
    observed = [float(np.mean(r <= k)) if r.size else float("nan") for k in ks]
    return {
        "k": ks,
        "observed": observed,
        "expected": gaussian_coverage(ks).tolist(),
        "points": int(r.size),
        "calibrating_scale": calibrating_sigma_scale(r),
        "normalised_errors": r,
    }
