"""Open an evaluation dataset by name and root: one list of face annotations in a fixed order.

``open_dataset(name, root)`` reads only the labels (images load on demand), so scoring external
predictions never decodes an image. Every reader converts its source's coordinate base once; the
annotations here are 0-based pixel centres, x right, y down (:mod:`landmark3d.crop`).

Names (``DATASETS``):
- ``aflw2000-3d``: a published AFLW2000-3D folder (``image*.jpg`` + ``.mat``), or a folder with a
  ``ground_truth.npz`` (+ ``images/``), or the ``.npz`` itself;
- ``300w``: a folder tree of images with same-name ``.pts`` files (1-based);
- ``dlib-xml``: an imglab ``.xml`` file (or a folder holding one ``*with_face_landmarks*.xml``;
  of several, the one with "test" in its name);
- ``coco68``: a COCO-style json with 68 keypoints (or a folder holding one ``.json``, same rule);
- ``facesynthetics``: a FaceSynthetics-layout folder (70 points, 0-based).

Order: sorted file names (``.pts``, AFLW2000-3D, FaceSynthetics), file order (XML, json), the
npz's order; faces of one image stay in their file order. External predictions are matched by
this order (see :mod:`landmark3d.evaluate.predictions`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..schema import NUM_LANDMARKS, pupils_from_eyes
from .sample import Sample

#: dataset name -> the protocol used to score it (see landmark3d.evaluate.protocols)
DATASETS: dict[str, str] = {
    "aflw2000-3d": "aflw2000-3d",
    "300w": "300w",
    "dlib-xml": "300w",
    "coco68": "300w",
    "facesynthetics": "facesynthetics",
}


@dataclass
class Annotation:
    """One labelled face of an evaluation set."""

    name: str                          # unique within the set: image path relative to root [+ "#k"]
    image_path: Path
    landmarks: np.ndarray              # (70, 2) 0-based; for 68-point sets 68/69 = eye centres
    num_labelled: int                  # 68 or 70: how many of the points are real labels
    box: np.ndarray                    # (4,) x1, y1, x2, y2 "protocol" box, landmark-like (see docs)
    references: dict = field(default_factory=dict)   # other label sets: name -> (68, 2) 0-based
    yaw_abs_deg: float | None = None
    visibility: np.ndarray | None = None             # (68|70,) bool when the set has flags


@dataclass
class EvalSet:
    """The annotations of one dataset, in its fixed order; ``evalset[i]`` loads a :class:`Sample`."""

    name: str
    protocol: str
    root: Path
    annotations: list[Annotation]
    conventions: dict = field(default_factory=dict)  # what each label source's base was

    def __len__(self) -> int:
        return len(self.annotations)

    def __getitem__(self, i: int) -> Sample:
        from ..io import read_image

        a = self.annotations[i]
        return Sample(image=read_image(a.image_path), landmarks=a.landmarks.copy(), name=a.name,
                      visibility=None if a.visibility is None or len(a.visibility) != NUM_LANDMARKS
                      else a.visibility.copy())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def items(self):
        """``(Sample, Annotation)`` pairs: the loaded sample with its protocol box, other label
        sets (AFLW2000-3D's re-annotation) and yaw."""
        for i in range(len(self)):
            yield self[i], self.annotations[i]

    def landmarks(self) -> np.ndarray:
        """All faces' labels, ``(N, 70, 2)``."""
        return np.stack([a.landmarks for a in self.annotations]) if self.annotations else np.zeros((0, 70, 2))

    def subset(self, n: int | None) -> "EvalSet":
        """The first ``n`` faces (all when ``n`` is None)."""
        if n is None:
            return self
        return EvalSet(self.name, self.protocol, self.root, self.annotations[:n], dict(self.conventions))


def _to70(points: np.ndarray, source: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)[:, :2]
    if p.shape[0] == 68:
        return pupils_from_eyes(p)
    if p.shape[0] == NUM_LANDMARKS:
        return p
    raise ValueError(f"{source}: expected 68 or 70 points, got {p.shape[0]}")


def landmark_box(points: np.ndarray) -> np.ndarray:
    """Min/max box of the first 68 points (what the crop rule expects of a face box)."""
    from ..crop import points_box

    return points_box(points)


def roi_to_landmark_box(roi: np.ndarray) -> np.ndarray:
    """AFLW2000-3D's protocol roi (a square sqrt(2) times the labels' longest side) -> the square
    landmark-like box of side ``side / sqrt(2)`` with the same centre, the box the crop rule
    (and ``Detector(boxes=...)``) expects."""
    x1, y1, x2, y2 = np.asarray(roi, dtype=np.float64)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) / (2 * np.sqrt(2.0))
    return np.array([cx - half, cy - half, cx + half, cy + half])


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def open_dataset(name: str, root: str | Path, *, label_base: int | None = None,
                 reannotated_root: str | Path | None = None) -> EvalSet:
    """Open dataset ``name`` (one of :data:`DATASETS`) at ``root``.

    ``label_base`` overrides the coordinate base assumed for the main labels of ``300w``,
    ``dlib-xml`` and ``coco68`` files (the value subtracted to make them 0-based).
    ``reannotated_root``: for a published AFLW2000-3D folder, the LS3D-W re-annotation folder.
    Raises ``ValueError`` for an unknown name and ``FileNotFoundError`` naming what is missing.
    """
    key = name.strip().lower()
    root = Path(root).expanduser()
    if key not in DATASETS:
        import difflib

        close = difflib.get_close_matches(key, list(DATASETS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown dataset '{name}': expected one of {', '.join(DATASETS)}{hint}")
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or folder (dataset '{key}'); see docs/evaluation.md for how to get it")
    opener = {"aflw2000-3d": _open_aflw, "300w": _open_pts, "dlib-xml": _open_dlib,
              "coco68": _open_coco, "facesynthetics": _open_facesynthetics}[key]
    kwargs = {"reannotated_root": reannotated_root} if key == "aflw2000-3d" else {"label_base": label_base}
    annotations, conventions, base_root = opener(root, **kwargs)
    if not annotations:
        raise FileNotFoundError(f"{root}: no labelled faces found for dataset '{key}'")
    return EvalSet(key, DATASETS[key], base_root, annotations, conventions)


def _open_aflw(root: Path, reannotated_root=None):
    from . import aflw2000

    if root.is_file() and root.suffix == ".npz":
        npz = root
    elif (root / "ground_truth.npz").exists():
        npz = root / "ground_truth.npz"
    else:
        npz = None
    if npz is not None:
        faces = aflw2000.read_npz(npz)
        base_root = npz.parent
        source = f"{npz.name} (arrays as published)"
    else:
        faces = aflw2000.read_published(root, reannotated_root)
        base_root = root
        source = "published .mat files"
    anns = []
    for f in faces:
        refs = {} if f.reannotated is None else {"reannotated": f.reannotated}
        anns.append(Annotation(
            name=f.name, image_path=f.image_path, landmarks=_to70(f.landmarks, f.name), num_labelled=68,
            box=roi_to_landmark_box(f.roi_box), references=refs, yaw_abs_deg=f.yaw_abs_deg,
        ))
    conventions = {"source": source, "original_base": aflw2000.ORIGINAL_BASE,
                   "reannotated_base": aflw2000.REANNOTATED_BASE,
                   "protocol_box": "3DDFA roi (sqrt(2) x longest side of the original labels' box), "
                                   "passed to the model as the square of side roi/sqrt(2) at its centre"}
    return anns, conventions, base_root


def _open_pts(root: Path, label_base=None):
    from .pts import PTS_BASE, find_image, list_pts, read_occlusion, read_pts

    base = PTS_BASE if label_base is None else label_base
    anns = []
    for p in list_pts(root):
        pts = read_pts(p, base=base)
        if pts.shape[0] != 68:
            continue  # other markups (e.g. 39-point profile files) are not scored
        occ = p.with_name(p.stem + "_occ.txt")
        vis = ~read_occlusion(occ) if occ.exists() else None
        anns.append(Annotation(name=_rel(p.with_suffix(""), root), image_path=find_image(p),
                               landmarks=_to70(pts, str(p)), num_labelled=68, box=landmark_box(pts),
                               visibility=vis))
    return anns, {"label_base": base, "protocol_box": "min/max box of the 68 ground-truth points"}, root


def _single(root: Path, pattern: str, what: str) -> Path:
    if root.is_file():
        return root
    found = sorted(root.glob(pattern))
    if len(found) > 1:  # e.g. dlib's training_ and testing_with_face_landmarks.xml: score the test file
        tests = [p for p in found if "test" in p.name.lower()]
        found = tests if len(tests) == 1 else found
    if len(found) != 1:
        raise FileNotFoundError(
            f"{root}: expected exactly one {what} ({pattern}), found {len(found)}: "
            f"{', '.join(p.name for p in found) or 'none'}; pass the file itself as --root")
    return found[0]


def _open_dlib(root: Path, label_base=None):
    from .dlib_xml import DLIB_BASE, read_dlib_xml

    base = DLIB_BASE if label_base is None else label_base
    xml = _single(root, "*with_face_landmarks*.xml", "dlib XML file with landmarks")
    anns, per_image = [], {}
    for face in read_dlib_xml(xml, base=base):
        if face.ignore or face.landmarks is None or face.landmarks.shape[0] != 68:
            continue
        k = per_image.get(face.image_path, 0)
        per_image[face.image_path] = k + 1
        anns.append(Annotation(name=f"{_rel(face.image_path, xml.parent)}#{k}", image_path=face.image_path,
                               landmarks=_to70(face.landmarks, str(xml)), num_labelled=68,
                               box=landmark_box(face.landmarks)))
    return anns, {"label_base": base, "file": str(xml),
                  "protocol_box": "min/max box of the 68 ground-truth points"}, xml.parent


def _open_coco(root: Path, label_base=None):
    from .coco68 import COCO68_BASE, read_coco68

    base = COCO68_BASE if label_base is None else label_base
    js = _single(root, "*.json", "COCO-style json file")
    anns, per_image = [], {}
    for face in read_coco68(js, base=base):
        k = per_image.get(face.image_path, 0)
        per_image[face.image_path] = k + 1
        anns.append(Annotation(name=f"{_rel(face.image_path, js.parent)}#{k}", image_path=face.image_path,
                               landmarks=_to70(face.landmarks, str(js)), num_labelled=68,
                               box=landmark_box(face.landmarks), visibility=face.visible))
    return anns, {"label_base": base, "file": str(js),
                  "protocol_box": "min/max box of the 68 ground-truth points"}, js.parent


def _open_facesynthetics(root: Path, label_base=None):
    from .facesynthetics import list_ids, read_landmarks

    anns = []
    for sid in list_ids(root):
        pts = read_landmarks(root / f"{sid}_ldmks.txt")
        anns.append(Annotation(name=sid, image_path=root / f"{sid}.png", landmarks=pts, num_labelled=70,
                               box=landmark_box(pts)))
    return anns, {"label_base": 0, "protocol_box": "min/max box of the 68 ground-truth points"}, root
