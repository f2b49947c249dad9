"""ICT FaceKit assets: read the model as published and keep a compact cache of it.

The ICT FaceKit "Light" model (MIT, https://github.com/ICT-VGL/ICT-FaceKit) is published as a
folder ``FaceXModel/`` of OBJ files: ``generic_neutral_mesh.obj`` (26,719 vertices, quads, UVs,
materials by part), 100 ``identity###.obj`` PCA modes and 53 ARKit-named expression OBJs with the
same topology, and ``vertex_indices.json`` (68 iBUG landmark vertices, expression names).

:func:`build_cache` reads a checkout folder, the zip GitHub serves or a ``.tar.xz`` of it and
writes one ``.npz`` (~30 MB, float16 deltas) that :func:`load_cache` maps in well under a second.

Units and frame of the cache are the model's own: centimetres, x towards the subject's left
(the image right when the face looks at the camera), y up, z out of the face.
"""
from __future__ import annotations

import json
import os
import re
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Landmark3dError

CACHE_VERSION = 1
CACHE_NAME = f"ict_facekit_v{CACHE_VERSION}.npz"
ICT_URL = "https://github.com/ICT-VGL/ICT-FaceKit"

#: Materials of the neutral OBJ, in the order of the ``part`` ids stored in the cache.
PARTS = (
    "M_Face", "M_BackHead", "M_GumsTongue", "M_Teeth", "M_ScleraLeft", "M_ScleraRight",
    "M_IrisLeft", "M_IrisRight", "M_LacrimalFluid", "M_EyeBlend", "M_EyeOcclusion", "M_EyeLashes",
)
#: Parts that are rendered; the rest is helper geometry for special shaders.
RENDERED_PARTS = ("M_Face", "M_BackHead", "M_GumsTongue", "M_Teeth", "M_ScleraLeft",
                  "M_ScleraRight", "M_IrisLeft", "M_IrisRight", "M_EyeLashes")


class AssetError(Landmark3dError, FileNotFoundError):
    """The ICT FaceKit files or their cache are missing or unreadable."""


def missing_assets_message(detail: str) -> str:
    return (
        f"{detail}\nThe synthetic face generator needs the ICT FaceKit head model (MIT licence): "
        f"download it from {ICT_URL} (a git checkout, or 'Code > Download ZIP'), then build the "
        "cache once with\n    landmark3d synth --build-cache --ict PATH_TO_CHECKOUT_OR_ZIP\n"
        "or set LANDMARK3D_ICT=PATH so the cache is built on first use."
    )


def default_cache_dir() -> Path:
    """``$LANDMARK3D_CACHE`` or ``$XDG_CACHE_HOME/landmark3d`` (default ``~/.cache/landmark3d``)."""
    env = os.environ.get("LANDMARK3D_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "landmark3d"


def default_cache_path() -> Path:
    return default_cache_dir() / CACHE_NAME


# ----------------------------------------------------------------------------- reading the source

class _Source:
    """Uniform read access to ``FaceXModel/<name>`` in a folder, a zip or a tar archive."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise AssetError(missing_assets_message(f"{self.path}: no such file or folder"))
        self._files: dict[str, object] = {}
        if self.path.is_dir():
            for p in self.path.rglob("*"):
                if p.is_file():
                    self._files.setdefault(p.name, p)
            self._kind = "dir"
        elif zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            for info in self._zip.infolist():
                self._files.setdefault(Path(info.filename).name, info)
            self._kind = "zip"
        else:
            try:
                self._tar = tarfile.open(self.path)
            except tarfile.TarError as exc:
                raise AssetError(missing_assets_message(
                    f"{self.path}: not a folder, zip or tar archive ({exc})")) from exc
            # members are read in archive order, so extract to memory once
            self._kind = "tar"
            for m in self._tar.getmembers():
                if m.isfile() and (m.name.endswith(".obj") or m.name.endswith(".json")):
                    self._files.setdefault(Path(m.name).name, self._tar.extractfile(m).read())
        if "generic_neutral_mesh.obj" not in self._files:
            raise AssetError(missing_assets_message(
                f"{self.path}: no FaceXModel/generic_neutral_mesh.obj inside"))

    def has(self, name: str) -> bool:
        return name in self._files

    def read(self, name: str) -> bytes:
        if name not in self._files:
            raise AssetError(missing_assets_message(f"{self.path}: no {name} inside"))
        f = self._files[name]
        if self._kind == "dir":
            return Path(f).read_bytes()
        if self._kind == "zip":
            return self._zip.read(f)
        return f  # bytes


_V_RE = re.compile(rb"^v ([^\n]*)$", re.MULTILINE)


def _parse_vertices(data: bytes) -> np.ndarray:
    rows = _V_RE.findall(data)
    return np.array(b" ".join(rows).split(), dtype=np.float64).reshape(len(rows), 3)


def _parse_neutral(data: bytes):
    """Vertices, UVs and triangles (vertex ids, uv ids, part ids) of the neutral OBJ."""
    verts = _parse_vertices(data)
    uv_rows = re.findall(rb"^vt ([^\n]*)$", data, re.MULTILINE)
    uvs = np.array(b" ".join(uv_rows).split(), dtype=np.float64).reshape(len(uv_rows), -1)[:, :2]
    tri_v, tri_t, tri_p = [], [], []
    part = -1
    for line in data.splitlines():
        if line.startswith(b"usemtl "):
            name = line.split()[1].decode()
            part = PARTS.index(name) if name in PARTS else -1
        elif line.startswith(b"f "):
            corners = [c.split(b"/") for c in line.split()[1:]]
            vi = [int(c[0]) - 1 for c in corners]
            ti = [int(c[1]) - 1 for c in corners]
            for k in range(1, len(vi) - 1):  # fan triangulation of quads
                tri_v.append((vi[0], vi[k], vi[k + 1]))
                tri_t.append((ti[0], ti[k], ti[k + 1]))
                tri_p.append(part)
    return verts, uvs, np.array(tri_v), np.array(tri_t), np.array(tri_p)


def _pupil_point(neutral: np.ndarray, uvs: np.ndarray, tri_v: np.ndarray, tri_t: np.ndarray,
                 tri_p: np.ndarray, part: str) -> np.ndarray:
    """Vertex ids whose mean is the pupil centre of one eye.

    The iris mesh's UVs project its front onto the unit square with the iris centre at
    (0.5, 0.5) (checked: (0.5, 0) and (0.5, 1) lie symmetrically below and above the eye's
    axis), and the pupil is a hole of UV radius ~0.09 there. The vertices on that hole's rim
    surround the pupil symmetrically; their mean is the pupil centre on the iris's front and,
    as a fixed combination of vertices, follows the eye-look blendshapes.
    """
    faces = tri_p == PARTS.index(part)
    pairs = np.unique(np.stack([tri_v[faces].ravel(), tri_t[faces].ravel()], axis=1), axis=0)
    dist = np.linalg.norm(uvs[pairs[:, 1]] - 0.5, axis=1)
    rim = np.unique(pairs[dist <= dist.min() * 1.02 + 1e-6, 0])
    if len(rim) < 6:
        raise AssetError(f"the {part} mesh has no pupil rim around UV (0.5, 0.5)")
    return rim


def _pad_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Stack index lists of unequal length by repeating entries (the mean changes slightly only
    if the two eyes' rims differ in size, which they do not in the published model)."""
    k = max(len(r) for r in rows)
    return np.stack([np.resize(r, k) for r in rows])


def build_cache(source: str | Path, cache_path: str | Path | None = None, *, progress=None) -> Path:
    """Read the ICT FaceKit as published and write the compact ``.npz`` cache; returns its path.

    ``source``: a folder containing ``FaceXModel/``, the GitHub zip, or a ``.tar.xz``/``.tar.gz``.
    """
    src = _Source(source)
    cache_path = Path(cache_path) if cache_path else default_cache_path()
    meta = json.loads(src.read("vertex_indices.json"))
    neutral, uvs, tri_v, tri_t, tri_p = _parse_neutral(src.read("generic_neutral_mesh.obj"))
    expr_names = list(meta["expressions"])
    id_names = [f"identity{i:03d}" for i in range(100) if src.has(f"identity{i:03d}.obj")]
    names = id_names + expr_names
    deltas = np.empty((len(names), len(neutral), 3), dtype=np.float16)
    for k, name in enumerate(names):
        v = _parse_vertices(src.read(name + ".obj"))
        if v.shape != neutral.shape:
            raise AssetError(f"{source}: {name}.obj has {len(v)} vertices, expected {len(neutral)}")
        deltas[k] = (v - neutral).astype(np.float16)
        if progress is not None:
            progress(k + 1, len(names))
    pupils = [_pupil_point(neutral, uvs, tri_v, tri_t, tri_p, p) for p in ("M_IrisLeft", "M_IrisRight")]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile(dir=cache_path.parent, suffix=".npz", delete=False)
    tmp.close()
    np.savez(
        tmp.name,
        version=np.array(CACHE_VERSION),
        neutral=neutral.astype(np.float32),
        identity=deltas[: len(id_names)],
        expression=deltas[len(id_names):],
        expression_names=np.array(expr_names),
        uvs=uvs.astype(np.float32),
        tri_vertices=tri_v.astype(np.int32),
        tri_uvs=tri_t.astype(np.int32),
        tri_parts=tri_p.astype(np.int8),
        parts=np.array(PARTS),
        landmark_vertices=np.array(meta["idx_to_landmark_verts"], dtype=np.int32),
        pupil_vertices=_pad_rows(pupils).astype(np.int32),
    )
    os.replace(tmp.name, cache_path)
    return cache_path


# ----------------------------------------------------------------------------- the cached model

@dataclass(frozen=True)
class FaceAssets:
    """The cached ICT FaceKit model (arrays as stored; see the module docstring for units)."""

    neutral: np.ndarray            # (V, 3) float32, cm
    identity: np.ndarray           # (100, V, 3) float16 deltas (PCA modes, coefficients ~ N(0, 1))
    expression: np.ndarray         # (53, V, 3) float16 deltas (ARKit blendshapes, weights in [0, 1])
    expression_names: tuple
    uvs: np.ndarray                # (T, 2) float32
    tri_vertices: np.ndarray       # (F, 3) int32 vertex ids
    tri_uvs: np.ndarray            # (F, 3) int32 uv ids
    tri_parts: np.ndarray          # (F,) int8 index into PARTS (-1: no material)
    landmark_vertices: np.ndarray  # (68,) int32 iBUG order
    pupil_vertices: np.ndarray     # (2, K) int32; pupil = mean of these vertices; row 0 = M_IrisLeft (x > 0)

    def expression_index(self, name: str) -> int:
        return self.expression_names.index(name)


def default_ict_source() -> Path | None:
    """``$LANDMARK3D_ICT``, else the ICT FaceKit archive under ``$LANDMARK3D_SHARED/assets`` or the
    project's ``../shared/assets`` next to a source checkout, if one exists."""
    env = os.environ.get("LANDMARK3D_ICT")
    if env:
        return Path(env)
    roots = [Path(os.environ["LANDMARK3D_SHARED"])] if os.environ.get("LANDMARK3D_SHARED") else []
    roots.append(Path(__file__).resolve().parents[3] / ".." / "shared")  # src/landmark3d/synth
    for root in roots:
        archive = root / "assets" / "ict-facekit" / "ICT-FaceKit-FaceXModel.tar.xz"
        if archive.is_file():
            return archive.resolve()
    return None


def load_cache(cache_path: str | Path | None = None, *, ict_source: str | Path | None = None) -> FaceAssets:
    """Load the cache; build it first from ``ict_source`` (else :func:`default_ict_source`) if
    it is missing."""
    path = Path(cache_path) if cache_path else default_cache_path()
    if not path.exists():
        source = ict_source or default_ict_source()
        if not source:
            raise AssetError(missing_assets_message(f"{path}: the ICT FaceKit cache does not exist."))
        build_cache(source, path)
    try:
        with np.load(path) as z:
            if int(z["version"]) != CACHE_VERSION:
                raise AssetError(missing_assets_message(
                    f"{path}: cache version {int(z['version'])}, this landmark3d needs {CACHE_VERSION}; rebuild it."))
            return FaceAssets(
                neutral=z["neutral"], identity=z["identity"], expression=z["expression"],
                expression_names=tuple(str(s) for s in z["expression_names"]), uvs=z["uvs"],
                tri_vertices=z["tri_vertices"], tri_uvs=z["tri_uvs"], tri_parts=z["tri_parts"],
                landmark_vertices=z["landmark_vertices"], pupil_vertices=z["pupil_vertices"],
            )
    except (OSError, KeyError, ValueError) as exc:
        raise AssetError(missing_assets_message(f"{path}: unreadable ICT FaceKit cache ({exc}); rebuild it.")) from exc
