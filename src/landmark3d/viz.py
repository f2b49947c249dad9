"""Drawing faces: the box, the iBUG contours, and each landmark coloured by its sigma."""
from __future__ import annotations

import numpy as np

from .schema import CONTOURS

BOX_COLOUR = (80, 200, 255)
LINE_COLOUR = (235, 235, 235)
SHIFT = 4


def sigma_colours(values: np.ndarray, vmax: float) -> np.ndarray:
    """(K,) values in [0, vmax] -> (K, 3) uint8 RGB on a green (sure) to red (unsure) ramp."""
    import cv2

    t = np.clip(np.asarray(values, np.float64) / max(vmax, 1e-9), 0.0, 1.0)
    # OpenCV's TURBO map, read from 0.35 (green) to 1.0 (red): legible on skin and background.
    idx = (255 * (0.35 + 0.65 * t)).astype(np.uint8)
    bgr = cv2.applyColorMap(idx.reshape(-1, 1), cv2.COLORMAP_TURBO).reshape(-1, 3)
    return bgr[:, ::-1]


def draw_faces(image, faces, *, sigma_max: float | None = None, hide_above: float | None = None,
               mark_above: float | None = None, colour_bar: bool = True, thickness: int | None = None) -> np.ndarray:
    """A new RGB image with ``faces`` drawn on ``image`` (any input :func:`landmark3d.io.read_image`
    accepts; the input is never modified).

    Args:
        sigma_max: sigma (image pixels) at the red end of the colour scale; default: the 95th
            percentile of the faces' sigmas.
        hide_above: don't draw landmarks whose sigma exceeds this many pixels.
        mark_above: draw landmarks whose sigma exceeds this as hollow rings instead of dots.
        colour_bar: add a colour bar (sigma in pixels) on the right.
    """
    import cv2

    from .io import read_image

    canvas = read_image(image)  # always a fresh array
    h, w = canvas.shape[:2]
    lw = thickness or max(1, round(max(h, w) / 500))
    have_sigma = faces.sigma is not None and len(faces) > 0
    if have_sigma and sigma_max is None:
        sigma_max = float(np.percentile(faces.sigma, 95)) or 1.0
    for i in range(len(faces)):
        pts = faces.landmarks[i]
        x1, y1, x2, y2 = faces.boxes[i]
        cv2.rectangle(canvas, _pt((x1, y1)), _pt((x2, y2)), BOX_COLOUR, lw, cv2.LINE_AA, shift=SHIFT)
        for a, b, closed in CONTOURS:
            poly = np.round(pts[a:b] * (1 << SHIFT)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [poly], closed, LINE_COLOUR, max(1, lw // 2), cv2.LINE_AA, shift=SHIFT)
        sig = faces.sigma[i] if have_sigma else np.zeros(len(pts))
        colours = sigma_colours(sig, sigma_max) if have_sigma else np.tile([0, 230, 0], (len(pts), 1))
        radius = max(2, lw + 1)
        for k, (p, c) in enumerate(zip(pts, colours)):
            if hide_above is not None and sig[k] > hide_above:
                continue
            filled = -1 if mark_above is None or sig[k] <= mark_above else lw
            cv2.circle(canvas, _pt(p), radius << SHIFT, tuple(int(v) for v in c), filled, cv2.LINE_AA, shift=SHIFT)
    if colour_bar and have_sigma:
        canvas = _with_colour_bar(canvas, sigma_max)
    return canvas


def _pt(p) -> tuple[int, int]:
    # OpenCV draws at sub-pixel positions given fixed-point coordinates with SHIFT fraction bits
    return int(round(float(p[0]) * (1 << SHIFT))), int(round(float(p[1]) * (1 << SHIFT)))


def _with_colour_bar(canvas: np.ndarray, vmax: float) -> np.ndarray:
    import cv2

    h = canvas.shape[0]
    width = max(60, h // 8)
    bar = np.full((h, width, 3), 255, np.uint8)
    top, bottom = int(h * 0.08), int(h * 0.92)
    values = np.linspace(vmax, 0, max(bottom - top, 1))
    bar[top:bottom, 8:width // 3] = sigma_colours(values, vmax)[:, None, :]
    scale = max(0.35, h / 1400)
    for frac in (0.0, 0.5, 1.0):
        y = int(top + frac * (bottom - top - 1))
        cv2.putText(bar, f"{vmax * (1 - frac):.1f}", (width // 3 + 4, y + 4), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(bar, "sigma px", (4, max(12, top - 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.hstack([canvas, bar])
