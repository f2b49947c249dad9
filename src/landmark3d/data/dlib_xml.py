"""Reader of dlib's imglab XML datasets (``training_with_face_landmarks.xml`` and the like).

Layout: ``<dataset><images><image file='a.jpg'><box top= left= width= height= [ignore='1']>
<part name='00' x= y=/> ...`` with image paths relative to the XML file.

Coordinate base: dlib stores integer pixel indices, **0-based** (the top-left pixel is (0, 0)),
so part coordinates are already in the project convention. A box's ``left/top/width/height``
cover pixels ``left .. left + width - 1``; :func:`read_dlib_xml` returns it as the box of those
pixel centres ``(x1, y1, x2, y2) = (left, top, left + width - 1, top + height - 1)``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Coordinate base of dlib's XML files.
DLIB_BASE = 0


@dataclass
class DlibFace:
    image_path: Path
    box: np.ndarray                 # (4,) x1, y1, x2, y2, 0-based pixel centres
    landmarks: np.ndarray | None    # (n_parts, 2) 0-based, ordered by part name; None when no parts
    ignore: bool = False


def read_dlib_xml(path: str | Path, base: int = DLIB_BASE) -> list[DlibFace]:
    """Every box of an imglab XML file, in file order. ``base`` is subtracted from all coordinates."""
    path = Path(path)
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{path}: not a readable dlib imglab XML file ({exc})") from None
    images = tree.getroot().find("images")
    if images is None:
        raise ValueError(f"{path}: no <images> element; expected a dlib imglab dataset")
    faces: list[DlibFace] = []
    for image in images.findall("image"):
        file = image.get("file")
        if not file:
            raise ValueError(f"{path}: an <image> has no 'file' attribute")
        image_path = (path.parent / file)
        for box in image.findall("box"):
            try:
                top, left = float(box.get("top")), float(box.get("left"))
                width, height = float(box.get("width")), float(box.get("height"))
            except (TypeError, ValueError):
                raise ValueError(f"{path}: a box of {file} lacks top/left/width/height") from None
            xyxy = np.array([left, top, left + width - 1, top + height - 1]) - base
            parts = box.findall("part")
            landmarks = None
            if parts:
                named = sorted(((p.get("name"), float(p.get("x")), float(p.get("y"))) for p in parts),
                               key=lambda t: int(t[0]) if t[0].isdigit() else t[0])
                landmarks = np.array([[x, y] for _, x, y in named], dtype=np.float64) - base
            faces.append(DlibFace(image_path, xyxy, landmarks, box.get("ignore", "0") == "1"))
    return faces
