"""Reports of an evaluation run: the stdout table, report.md, report.json and the figures."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..schema import REGIONS
from . import metrics

WORST_CASES = 12


def _pct(v) -> str:
    return "—" if v is None or not np.isfinite(v) else f"{100 * v:.2f}"


def table(report: dict) -> str:
    """The main numbers as a small markdown table (also printed on stdout)."""
    yaw = any("yaw_bins" in r for r in report["rows"])
    head = ["", "NME %"]
    if yaw:
        head += list(metrics.YAW_BIN_NAMES) + ["balanced"]
    head += ["fail %", "AUC@10"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        cells = [r["label"], _pct(r["nme"])]
        if yaw:
            b = r.get("yaw_bins", {})
            cells += [_pct(b.get(k)) for k in metrics.YAW_BIN_NAMES] + [_pct(b.get("balanced"))]
        cells += [_pct(r["failure_rate"]), _pct(r["auc"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    run = report["run"]
    out = [f"# landmark3d eval: {run['dataset']}", ""]
    out += [f"- command: `{run['command']}`",
            f"- root: `{run['root']}`",
            f"- predictions: {run['predictor']}",
            f"- boxes: {run['boxes']}",
            f"- faces: {report['faces']} (missed: {report['missed_faces']}; a missed face counts as a failure, "
            f"is left out of the NME means and holds the CED below 100 %)",
            f"- NME in % of the normaliser; failure = NME > {100 * report['failure_threshold']:.0f} %; "
            f"AUC of the CED from 0 to 10 %, in %",
            ""]
    if report["rows"] and "yaw_bins" in report["rows"][0]:
        counts = report["rows"][0]["yaw_bins"]["count"]
        out += [f"Faces per absolute-yaw bin: {', '.join(f'{k} {c}' for k, c in zip(metrics.YAW_BIN_NAMES, counts))}; "
                "'balanced' is the unweighted mean of the three bins.", ""]
    out += [table(report), ""]
    norms = sorted({r["normaliser"] for r in report["rows"]})
    out += [("Normaliser: " if len(norms) == 1 else "Normalisers (as the row says): ") + "; ".join(norms) + ".", ""]
    worst_pts = [r for r in report["rows"] if "per_point_nme" in r][:1]
    if worst_pts:
        from ..schema import landmark_names

        names = landmark_names()
        pp = np.asarray(worst_pts[0]["per_point_nme"], dtype=np.float64)
        top = [i for i in np.argsort(-np.nan_to_num(pp, nan=-1.0))[:6]]
        out += [f"Hardest points ({worst_pts[0]['label']}): " + ", ".join(
            f"{i} {names[i]} {100 * pp[i]:.2f} %" for i in top) + ".", ""]
    if report.get("regions"):
        out += ["NME % by region (68 points vs original labels; the same normaliser, so the regions' "
                "means weighted by their points give the 68-point row):", "",
                "| region | points | " + " | ".join(metrics.YAW_BIN_NAMES) + " | balanced |",
                "|---|---|" + "---|" * (len(metrics.YAW_BIN_NAMES) + 1)]
        for name, bins in report["regions"].items():
            a, b = REGIONS[name]
            out.append(f"| {name} | {b - a} | " + " | ".join(_pct(bins.get(k)) for k in metrics.YAW_BIN_NAMES)
                       + f" | {_pct(bins.get('balanced'))} |")
        out.append("")
    out += ["## Median signed offset (prediction − label), 51 inner points, px", ""]
    for name, (dx, dy) in report["median_offset_inner51_px"].items():
        out.append(f"- vs {name}: x {dx:+.2f}, y {dy:+.2f}")
    out.append("")
    cal = report.get("calibration")
    out += ["## Sigma calibration", ""]
    if cal:
        out += ["| k | observed | 2D Gaussian |", "|---|---|---|"]
        for k, o, e in zip(cal["k"], cal["observed"], cal["expected"]):
            out.append(f"| {k:g} σ | {100 * o:.1f} % | {100 * e:.1f} % |")
        out += ["", f"{cal['points']} points. Below the Gaussian: σ too small (overconfident); above: too large.",
                "", "![calibration](calibration.png)", ""]
    else:
        out += ["The predictions carry no sigma: no calibration.", ""]
    out += ["## Conventions", ""]
    for k, v in report.get("conventions", {}).items():
        out.append(f"- {k}: {v}")
    out += ["", "![CED](ced.png)", "", "## Worst cases (green: label, red: prediction)", "", "![worst](worst.png)", ""]
    return "\n".join(out)


def _clean(obj):
    """JSON-safe: numpy to lists, inf/NaN to null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_reports(out_dir: Path, report: dict, names: list[str], evalset, preds) -> list[Path]:
    """Write report.md, report.json, ced.png, calibration.png (with sigma) and worst.png."""
    from . import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    per_face = report.pop("per_face")
    cal = report.get("calibration")
    normalised = None if not cal else cal.pop("normalised_errors")
    data = dict(report)
    data["per_face"] = {"names": names, **{k: v for k, v in per_face.items()}}
    (out_dir / "report.json").write_text(json.dumps(_clean(data), indent=1))
    (out_dir / "report.md").write_text(markdown(report))
    written += [out_dir / "report.json", out_dir / "report.md"]

    boxes = report["run"]["boxes"]
    title = report["run"]["dataset"] + (f" ({boxes} boxes)" if not boxes.startswith("(") else f" {boxes}")
    curves = {r["label"]: per_face[r["key"]] for r in report["rows"]}
    plots.plot_ced(out_dir / "ced.png", curves, f"CED, {title}")
    written.append(out_dir / "ced.png")
    if normalised is not None:
        plots.plot_calibration(out_dir / "calibration.png", normalised, f"sigma calibration, {title}")
        written.append(out_dir / "calibration.png")

    primary = per_face[report["rows"][0]["key"]]
    order = np.argsort(-np.where(np.isfinite(primary), primary, np.inf), kind="stable")[:WORST_CASES]
    tiles = []
    from ..io import read_image

    for i in order:
        a = evalset.annotations[i]
        gt = a.landmarks[: a.num_labelled]
        pred = preds.landmarks[i][: a.num_labelled]
        nme_text = "missed" if not np.isfinite(primary[i]) else f"{100 * primary[i]:.1f}%"
        tiles.append(plots.draw_case(read_image(a.image_path), gt, pred, f"{a.name} {nme_text}"))
    from ..io import write_image

    write_image(out_dir / "worst.png", plots.mosaic(tiles))
    written.append(out_dir / "worst.png")
    return written
