"""Label correctness of the synthetic face generator (issue 4, item 7).

Needs the ICT FaceKit (``$LANDMARK3D_SHARED/assets/ict-facekit``, or an existing cache) and a
headless OpenGL context (EGL + Mesa); skips with the reason otherwise. Renders at 96 px.
"""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import pytest

from landmark3d import schema
from landmark3d.pose import euler_to_matrix, fit_rotation

SHARED = Path(os.environ.get("LANDMARK3D_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
ICT_TAR = SHARED / "assets" / "ict-facekit" / "ICT-FaceKit-FaceXModel.tar.xz"
HDRI = SHARED / "assets" / "hdri"
SIZE = 96


@pytest.fixture(scope="session")
def cache_path(tmp_path_factory):
    from landmark3d.synth import assets

    default = assets.default_cache_path()
    if default.exists():
        return default
    if not ICT_TAR.exists():
        pytest.skip(f"no ICT FaceKit cache at {default} and no {ICT_TAR} to build one from")
    return assets.build_cache(ICT_TAR, tmp_path_factory.mktemp("ict") / assets.CACHE_NAME)


@pytest.fixture(scope="session")
def gen(cache_path):
    from landmark3d.synth.generator import Generator, GeneratorConfig
    from landmark3d.synth.renderer import RenderContextError

    try:
        g = Generator(GeneratorConfig(size=SIZE, seed=3, cache=str(cache_path),
                                      hdri=str(HDRI) if HDRI.is_dir() else None))
    except RenderContextError as exc:
        pytest.skip(f"no headless OpenGL context: {exc}")
    yield g
    g.close()


def frontal(gen, index=0, yaw=0.0, pitch=0.0, roll=0.0, neutral=False):
    """Parameters of image ``index`` with the head centred, filling ~60% of the frame."""
    p = copy.deepcopy(gen.params(index))
    p.yaw_deg, p.pitch_deg, p.roll_deg = yaw, pitch, roll
    p.focal_px = SIZE * 1.5
    p.translation = np.array([0.0, 0.0, p.focal_px * 16.0 / (0.6 * SIZE)], np.float32)
    if neutral:
        p.identity = np.zeros_like(p.identity)
        p.expression = np.zeros_like(p.expression)
    return p


def test_cache_contents_and_load_time(cache_path):
    from landmark3d.synth import assets

    t = time.perf_counter()
    a = assets.load_cache(cache_path)
    assert time.perf_counter() - t < 1.0
    assert a.neutral.shape == (26719, 3)
    assert a.identity.shape == (100, 26719, 3) and a.expression.shape == (53, 26719, 3)
    assert a.landmark_vertices.shape == (68,)
    # the subject's left eye is on the model's +x side; M_IrisLeft is row 0
    assert a.neutral[a.pupil_vertices[0]].mean(axis=0)[0] > 2.0
    assert a.neutral[a.pupil_vertices[1]].mean(axis=0)[0] < -2.0
    assert cache_path.stat().st_size < 40e6


def test_missing_cache_error_says_where_to_get_ict(tmp_path, monkeypatch):
    from landmark3d.synth import assets

    from landmark3d.synth import assets as assets_module

    monkeypatch.setattr(assets_module, "default_ict_source", lambda: None)  # no fallback archive
    with pytest.raises(assets.AssetError, match="github.com/ICT-VGL/ICT-FaceKit"):
        assets.load_cache(tmp_path / "none.npz")
    with pytest.raises(assets.AssetError, match="no such file"):
        assets.build_cache(tmp_path / "missing.zip", tmp_path / "c.npz")


def test_pupils_lie_at_the_eye_centres(gen):
    lm = gen.model.landmarks(gen.model.assets.neutral[None])[0]  # (70, 3) model frame
    for pupil, eye in ((68, slice(36, 42)), (69, slice(42, 48))):
        centre = lm[eye].mean(axis=0)
        width = np.linalg.norm(lm[eye][0] - lm[eye][3])
        assert np.linalg.norm(lm[pupil, :2] - centre[:2]) < 0.15 * width
    # 68 is the eye of iBUG 36-41, on the image left of a frontal face (model -x)
    assert lm[68, 0] < 0 < lm[69, 0]


def test_visible_landmarks_lie_on_the_rendered_surface(gen):
    checked = on_surface = 0
    for i in range(6):
        sample, _, depth = gen.render_params([gen.params(i)])[0]
        xy, z = sample.landmarks, sample.landmarks_3d[:, 2]
        col, row = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
        inside = (col >= 0) & (col < SIZE) & (row >= 0) & (row < SIZE)
        assert not (sample.visibility & ~inside).any()
        for k in np.flatnonzero(sample.visibility):
            # nothing in front of a visible landmark, and the surface at or next to its pixel is
            # at its depth, unless the pixel centre just misses the silhouette (background)
            assert depth[row[k], col[k]] > z[k] - 0.5, (i, k)
            block = depth[max(row[k] - 1, 0):row[k] + 2, max(col[k] - 1, 0):col[k] + 2]
            on_surface += np.abs(block - z[k]).min() < 0.5 or np.isinf(depth[row[k], col[k]])
            checked += 1
        hidden = inside & ~sample.visibility
        assert (depth[row[hidden], col[hidden]] < z[hidden]).all()
    assert checked > 100
    assert on_surface / checked > 0.97


def test_landmark_projection_matches_3d_points(gen):
    p = gen.params(5)
    sample = gen.render_params([p])[0][0]
    uv = p.focal_px * sample.landmarks_3d[:, :2] / sample.landmarks_3d[:, 2:] + (SIZE - 1) / 2
    np.testing.assert_allclose(sample.landmarks, uv, atol=1e-6)


def test_pose_label_matches_the_3d_landmarks(gen):
    from landmark3d.synth.template import mean_face_template

    template = mean_face_template(str(gen.config.cache))
    p = frontal(gen, 1, yaw=35.0, pitch=-12.0, roll=8.0, neutral=True)
    sample = gen.render_params([p])[0][0]
    r = fit_rotation(template, sample.landmarks_3d)
    np.testing.assert_allclose(r, euler_to_matrix(*sample.pose_deg), atol=1e-4)
    # yaw > 0 turns the nose towards the image left: the nose tip moves left of the face centre
    assert sample.landmarks[30, 0] < sample.landmarks[:, 0].mean()


def test_mirrored_render_maps_labels_by_the_flip_permutation(gen):
    a = frontal(gen, 2, yaw=30.0, pitch=5.0, roll=10.0, neutral=True)
    a.translation[0] = 1.5
    a.hair_shape[2] = 0.0  # the hair's ragged edge comes from a noise texture, not symmetric
    b = copy.deepcopy(a)
    b.yaw_deg, b.roll_deg = -a.yaw_deg, -a.roll_deg
    b.translation[0] = -a.translation[0]
    b.torso_deg = a.torso_deg * [-1, 1, -1]
    sa, sb = (out[0] for out in gen.render_params([a, b]))
    # the ICT mesh is symmetric to ~1e-4 cm (0.002 px here)
    np.testing.assert_allclose(schema.flip_points(sa.landmarks, SIZE), sb.landmarks, atol=1e-2)
    np.testing.assert_array_equal(sa.visibility[schema.FLIP_PERM], sb.visibility)
    swap = np.arange(256, dtype=np.uint8)
    for x, y in ((3, 4), (5, 6), (7, 8)):
        swap[x], swap[y] = y, x
    mirrored = swap[sa.segmentation[:, ::-1]]
    # rasterisation differs along edges only
    assert (mirrored == sb.segmentation).mean() > 0.97


def test_segmentation_classes_where_they_belong(gen):
    from landmark3d.synth.facemodel import SEG

    p = frontal(gen, 4, neutral=True)
    sample = gen.render_params([p])[0][0]
    seg, xy = sample.segmentation, sample.landmarks

    def at(k, dx=0.0, dy=0.0):
        return seg[int(round(xy[k, 1] + dy)), int(round(xy[k, 0] + dx))]

    assert at(30) == SEG["nose"]
    assert at(68) == SEG["left_eye"] and at(69) == SEG["right_eye"]  # "left" = image left
    assert at(19) == SEG["left_brow"] and at(24) == SEG["right_brow"]
    top = (xy[51] + xy[62]) / 2
    bottom = (xy[57] + xy[66]) / 2
    assert seg[int(round(top[1])), int(round(top[0]))] == SEG["top_lip"]
    assert seg[int(round(bottom[1])), int(round(bottom[0]))] == SEG["bottom_lip"]
    assert seg[0, 0] == SEG["background"]
    assert SEG["skin"] in seg and SEG["neck"] in seg


def test_same_seed_same_image_other_seed_other_image(gen, cache_path):
    from landmark3d.synth.generator import Generator, GeneratorConfig

    a = gen.render_batch([7])[0][0]
    b = gen.render_batch([7])[0][0]
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    c = gen.render_batch([8])[0][0]
    assert not np.array_equal(a.landmarks, c.landmarks)
    # batch position does not matter
    d = gen.render_batch([6, 7])[1][0]
    np.testing.assert_array_equal(a.image, d.image)


def test_frames_in_flight_do_not_change_the_images(gen, cache_path):
    """Drawing the next faces before the last one is read back (Renderer.submit) gives the very
    pixels and labels of drawing, waiting and reading each in turn, accessories included."""
    from landmark3d.synth.generator import Generator, GeneratorConfig

    ids = [i for i in range(60) if _has_accessory(gen.params(i))][:3] + [0, 1, 2, 3]
    pipelined = gen.render_batch(ids)
    with Generator(GeneratorConfig(size=SIZE, seed=3, cache=str(cache_path), in_flight=1,
                                   hdri=str(HDRI) if HDRI.is_dir() else None)) as one:
        serial = one.render_batch(ids)
    assert len(ids) == 7 and gen.renderer.in_flight == 3
    for (a, _), (b, _) in zip(pipelined, serial):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.segmentation, b.segmentation)
        np.testing.assert_array_equal(a.visibility, b.visibility)
    p = gen.params(0)
    frame = [x[0] for x in gen.model.mix_render(p.identity[None], p.expression[None])] + [p, np.eye(3)]
    slots = [gen.renderer.submit(*frame) for _ in range(3)]
    with pytest.raises(RuntimeError, match="none collected"):
        gen.renderer.submit(*frame)
    first = [gen.renderer.collect(k) for k in slots]
    np.testing.assert_array_equal(first[0][0], first[2][0])


def test_per_material_programs_draw_what_the_generic_program_draws(gen, cache_path, monkeypatch):
    """Each draw's program keeps only its materials' branches (shaders.face_fs), and the skin is
    drawn in parts whose programs lack the blocks they cannot reach (skin_parts.SkinParts), and
    each background mode has its own program: the pixels are those of the one generic program,
    accessories, held objects, beards, hats, long and short hair, procedural backgrounds and eye
    make-up included."""
    import re

    from landmark3d.synth import shaders
    from landmark3d.synth.generator import Generator, GeneratorConfig

    mouth = shaders.face_fs(material=(1, 2, 4))
    body = mouth.split("void main() {", 1)[1]
    assert set(re.findall(r"material [=!]= (\d+)", body)) == {"1", "2", "4"}
    params = [gen.params(i) for i in range(80)]
    kinds = [lambda p: _has_accessory(p) or p.held[0] > 0, lambda p: p.beard > 0, lambda p: p.hat > 0,
             lambda p: p.hair_line[1] < 5.0, lambda p: p.hair_shape[2] == 0, lambda p: p.hair_shape[3] > 0]
    kinds += [lambda p, m=m: p.background == m for m in (1, 2, 3)]   # procedural backgrounds
    kinds += [lambda p: p.eye_makeup[0] > 0 and p.eye_makeup[2] > 0, lambda p: p.eye_makeup[3] > 0]  # liner, wing, shadow
    ids = sorted({i for kind in kinds for i in [i for i, p in enumerate(params) if kind(p)][:2]})
    assert len(ids) >= 10
    specialised = gen.render_batch(ids)
    # the parts really are drawn by programs without those blocks
    skin = gen.renderer.skin
    assert {key for key in skin.vaos} >= {(True, True, False, False), (True, False, True, False),
                                         (True, False, False, False), (False, False, False, True)}
    assert "NO_BEARD" in shaders.face_fs(material=0, beard=False)
    assert "NO_EYE_MAKEUP" in shaders.face_fs(material=0, eye_makeup=False)
    generic = shaders.face_fs
    monkeypatch.setattr(shaders, "face_fs", lambda cornea=False, material=None, hair_cards=False, *skin:
                        generic(cornea, None, hair_cards))
    monkeypatch.setattr(shaders, "background_fs", lambda mode: shaders.BACKGROUND_FS)  # mode a uniform
    with Generator(GeneratorConfig(size=SIZE, seed=3, cache=str(cache_path),
                                   hdri=str(HDRI) if HDRI.is_dir() else None)) as one:
        reference = one.render_batch(ids)
    for (a, _), (b, _) in zip(specialised, reference):
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.segmentation, b.segmentation)


def test_the_beard_zone_holds_every_point_the_beard_can_reach(gen):
    """skin_parts.beard_reach (which skin triangles get the beard's block): every point of every
    skin triangle where FACE_FS's beard_area is above 0 lies in a triangle it keeps (points
    sampled inside the triangles, the mid-line and the dip of the cheek line included)."""
    from landmark3d.synth.hair import azimuth
    from landmark3d.synth.skin_parts import beard_reach, beard_top

    r = gen.renderer
    rest = r.model.assets.neutral[r.model.render_vertex].astype(np.float64)
    corners = rest[r.skin.triangles]                                     # (T, 3, 3)
    reach = beard_reach(corners)
    w = np.random.default_rng(0).dirichlet(np.ones(3), size=24)
    w = np.concatenate([w, np.eye(3), [[0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]]])
    points = np.einsum("kc,tcd->tkd", w, corners)                       # (T, K, 3)
    az = np.abs(azimuth(points)) / 1.31
    y = points[..., 1]
    inside = (y < beard_top(az) + 0.5) & (y > -9.0) & (az < 1.1)
    assert inside.any(axis=1)[~reach].sum() == 0
    assert 0.2 < reach.mean() < 0.4 and inside.any(axis=1).sum() > 0.8 * reach.sum()   # not everything


def test_cast_shadows_fall_away_from_the_light(gen, monkeypatch):
    """A key light above the camera (elevation 50 degrees): the nose's shadow falls on the
    upper lip and the chin's on the neck, and the forehead above the brows is not shadowed
    (the shadow map's view once used the transposed basis: shadows were cast as if from
    below, up over the eyes)."""
    from landmark3d.synth import renderer as R

    p = frontal(gen, 0, neutral=True)
    p.hand[0] = p.mask[0] = p.glasses[0] = p.held[0] = p.headphones[0] = 0
    p.hair_shape = np.array([0.5, 0.0, 0.0, 0.0], np.float32)   # bald: nothing over the forehead
    p.hat = 0
    p.key_light = np.array([1.0, 0.0, 50.0, 6.0, 0.15, 0.0], np.float32)
    p.translation = p.translation * np.float32(1.4) + np.array([0.0, -4.0, 0.0], np.float32)  # the neck in view
    shadowed, lm = gen.render_params([copy.deepcopy(p)])[0][0], None
    lm = shadowed.landmarks

    def no_casters(self, sun_cam, centre, *args):   # the same light, an empty shadow map
        basis = original(self, sun_cam, centre, *args)
        self.shadow_fbo.clear(depth=1.0)
        return basis

    original = R.Renderer._shadow_pass
    monkeypatch.setattr(R.Renderer, "_shadow_pass", no_casters)
    unshadowed = gen.render_params([copy.deepcopy(p)])[0][0]

    def patch(centre, r=2):
        x, y = np.round(centre).astype(int)
        return (shadowed.image[y - r:y + r + 1, x - r:x + r + 1].mean() /
                unshadowed.image[y - r:y + r + 1, x - r:x + r + 1].mean())

    upper_lip = 0.5 * (lm[33] + lm[51])
    forehead = lm[27] + 1.2 * (lm[27] - lm[30])
    neck = lm[8] + 0.6 * (lm[8] - lm[57])
    assert patch(upper_lip) < 0.9, patch(upper_lip)   # (the transposed basis: 1.0, lit)
    assert patch(neck) < 0.9, patch(neck)
    assert patch(forehead) > 0.97, patch(forehead)


def _has_accessory(p) -> bool:
    return bool(p.glasses[0] > 0 or p.hand[0] > 0 or p.mask[0] > 0 or p.headphones[0] > 0)


def test_cli_writes_the_facesynthetics_layout_read_back_unchanged(gen, tmp_path):
    from landmark3d.cli import main
    from landmark3d.data import facesynthetics

    out = tmp_path / "synth"
    args = ["synth", "--out", str(out), "--count", "2", "--size", str(SIZE), "--seed", "3",
            "--cache", str(gen.config.cache), "--no-progress"]
    if gen.config.hdri:
        args += ["--hdri", str(gen.config.hdri)]
    assert main(args) == 0
    assert facesynthetics.list_ids(out) == ["000000", "000001"]
    read = facesynthetics.read_sample(out, "000001", segmentation=True)
    ref = gen.render_batch([1])[0][0]
    np.testing.assert_array_equal(read.image, ref.image)
    np.testing.assert_allclose(read.landmarks, ref.landmarks, atol=1e-5)
    np.testing.assert_allclose(read.landmarks_3d, ref.landmarks_3d, atol=1e-4)
    np.testing.assert_allclose(read.pose_deg, ref.pose_deg, atol=1e-9)
    np.testing.assert_array_equal(read.visibility, ref.visibility)
    np.testing.assert_array_equal(read.segmentation, ref.segmentation)


def test_shipped_template_matches_the_cache(cache_path):
    from landmark3d.synth.template import SHIPPED, mean_face_template

    shipped = np.load(SHIPPED)
    assert shipped.shape == (70, 3)
    np.testing.assert_allclose(shipped, mean_face_template(str(cache_path)), atol=1e-4)
    # head frame: y down (eyes above the mouth), z away from the camera (nose tip nearest)
    assert shipped[36, 1] < shipped[57, 1]
    assert shipped[30, 2] == shipped[:, 2].min()


def test_the_neck_joins_the_head_to_the_torso(gen):
    """Below the chin the neck shows (class neck, no gap to the background) before the collar;
    the tube's top ring is the head's cut exactly, and its normals point outwards."""
    from landmark3d.synth.facemodel import SEG

    p = frontal(gen, 2, neutral=True)
    p.hand[0] = p.held[0] = p.mask[0] = p.hair_curtain[0] = 0.0
    p.translation = p.translation * np.array([1.0, 1.0, 1.8], np.float32)  # head and shoulders in view
    sample = gen.render_params([p])[0][0]
    seg = sample.segmentation
    x, y = np.round(sample.landmarks[8, :2]).astype(int)
    below = seg[y + 2:, x]
    assert (below[: SIZE // 16] == SEG["neck"]).all()  # ~2 cm under the chin
    collar = np.flatnonzero(below == SEG["clothing"])
    assert len(collar) and (below[: collar[0]] != SEG["background"]).all()
    neck, model = gen.renderer.neck, gen.model
    verts = model.assets.neutral[model.render_vertex].astype(np.float32)
    nrm = model.normals(model.assets.neutral[None].astype(np.float32))[0][model.render_vertex]
    pos, tube_nrm, head_nrm = neck.mesh(verts, nrm, np.eye(3))
    np.testing.assert_allclose(pos[: len(neck.loop)], verts[neck.loop], atol=1e-5)
    rings = pos.reshape(neck.ROWS, len(neck.loop), 3)
    out = rings - rings.mean(axis=1, keepdims=True)
    assert (np.sum(tube_nrm.reshape(rings.shape) * out, axis=2) > 0).all()
    assert rings[-1, :, 1].max() < rings[0, :, 1].min() - 5.0
    np.testing.assert_allclose(head_nrm[neck.loop], tube_nrm[: len(neck.loop)], atol=1e-6)


def test_occluders_hide_landmarks_and_get_their_classes(gen):
    from landmark3d.synth.accessories import HAND_TARGETS
    from landmark3d.synth.facemodel import SEG

    p = frontal(gen, 6, neutral=True)
    p.glasses[:7] = [1.0, 0.5, 0.5, 0.5, 0.9, 0.5, 0.5]  # present, thick frame
    p.hand[:9] = [1.0, (HAND_TARGETS.index(57) + 0.5) / len(HAND_TARGETS), 0.0, 0.0, 0.5, 0.0, 0.5, 0.5, 0.5]
    sample = gen.render_params([p])[0][0]
    seg, xy = sample.segmentation, sample.landmarks
    mouth = np.round(xy[48:68]).astype(int)
    covered = seg[mouth[:, 1], mouth[:, 0]] == SEG["ignore"]  # the hand lies over the mouth
    assert covered.mean() > 0.5
    assert not sample.visibility[48:68][covered].any()
    assert (seg == SEG["glasses"]).sum() > 20
    clear = frontal(gen, 6, neutral=True)
    clear.glasses[0] = clear.hand[0] = 0.0
    assert gen.render_params([clear])[0][0].visibility[48:68].all()


@pytest.mark.parametrize("kind,covers", [("microphone", range(48, 68)), ("cup", range(48, 68)),
                                         ("phone_ear", None), ("phone_front", None)])
def test_held_objects_hide_what_they_cover_and_move_no_label(gen, kind, covers):
    from landmark3d.synth.accessories import HELD_KINDS
    from landmark3d.synth.facemodel import SEG

    clear = frontal(gen, 6, neutral=True)
    clear.glasses[0] = clear.hand[0] = clear.mask[0] = clear.headphones[0] = clear.held[0] = 0.0
    p = copy.deepcopy(clear)
    # in front of the mouth (microphone, cup); on the image-right side (phones)
    p.held[:8] = [1.0, HELD_KINDS.index(kind), 0.2, 0.5, 0.0, 0.5, 0.5, 0.8]
    a, b = gen.render_params([clear])[0][0], gen.render_params([p])[0][0]
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert (b.segmentation == SEG["ignore"]).sum() > 30 and (a.segmentation == SEG["ignore"]).sum() == 0
    hidden = a.visibility & ~b.visibility
    if covers is not None:
        pts = np.round(b.landmarks[list(covers)]).astype(int)
        under = b.segmentation[pts[:, 1], pts[:, 0]] == SEG["ignore"]
        assert under.mean() > 0.5 and not b.visibility[list(covers)][under].any()
    assert hidden.sum() == (a.visibility.sum() - b.visibility.sum())  # it hides, never reveals


def test_torchvision_loads_after_our_render_context():
    """A process that imports torch, then creates the renderer's context, then loads torchvision
    must not crash (Mesa's driver and torchvision's extension clash when loaded in that order)."""
    import subprocess
    import sys

    pytest.importorskip("torchvision")
    code = (
        "import torch\n"
        "from landmark3d.synth.renderer import create_context\n"
        "try:\n    create_context()\nexcept Exception as exc:\n    print('SKIP', exc); raise SystemExit(0)\n"
        "import torchvision.models\nprint('OK')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if "SKIP" in r.stdout:
        pytest.skip(r.stdout.strip())
    assert r.returncode == 0 and "OK" in r.stdout, (r.returncode, r.stderr[-500:])


def test_dropped_tooth_roots_are_never_seen(gen, cache_path, monkeypatch):
    """The renderer leaves out tooth roots (facemodel.TOOTH_ROOT_Y) for speed: with the jaw wide
    open, in several poses, drawing them changes no visible surface (the depth buffer), no class
    and no label. (Colours may differ slightly: the roots took part in the ambient occlusion.)"""
    from landmark3d.synth import facemodel
    from landmark3d.synth.generator import Generator, GeneratorConfig

    jaw = gen.model.assets.expression_index("jawOpen")
    params = []
    for i, (yaw, pitch) in enumerate([(0, 0), (0, -25), (0, 25), (40, 10), (-70, -15), (20, 30)]):
        p = frontal(gen, 40 + i, yaw=yaw, pitch=pitch)
        p.expression[jaw] = 0.7
        params.append(p)
    pruned = gen.render_params(params)
    monkeypatch.setattr(facemodel, "_tooth_roots", lambda assets: np.zeros(len(assets.tri_parts), bool))
    with Generator(GeneratorConfig(size=SIZE, seed=3, cache=str(cache_path),
                                   hdri=str(HDRI) if HDRI.is_dir() else None)) as full_gen:
        assert full_gen.model.num_render_vertices > gen.model.num_render_vertices  # roots are back
        full = full_gen.render_params(params)
    mouth_pixels = 0
    for (a, _, depth_a), (b, _, depth_b) in zip(pruned, full):
        np.testing.assert_array_equal(depth_a, depth_b)
        np.testing.assert_array_equal(a.segmentation, b.segmentation)
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
        mouth_pixels += (b.segmentation == facemodel.SEG["mouth"]).sum()
    assert mouth_pixels > 50  # the mouths were open and seen


def test_bared_teeth_are_light(gen):
    """In a laugh the teeth (the mouth's brightest tenth) are about as light as a light skin's
    median: their ambient occlusion is taken with the mouth open (facemodel.OPEN_MOUTH). From
    the neutral mesh, where the lips close over them, they came out dark grey (braces, not
    teeth, at training sizes)."""
    from landmark3d.synth.facemodel import SEG
    from landmark3d.synth.sampler import EXPRESSION_ARCHETYPES, SKIN_TONES

    names = list(gen.model.assets.expression_names)
    ratios = []
    for i in range(4):
        p = frontal(gen, 60 + i)
        p.hand[0] = p.mask[0] = p.held[0] = p.headphones[0] = p.key_light[0] = 0
        p.skin_rgb = SKIN_TONES[1].copy()   # a light skin: brighter than teeth would be a bug
        p.expression[:] = 0
        for base, v in EXPRESSION_ARCHETYPES["laugh"][1].items():
            for name in (base, base + "_L", base + "_R"):
                if name in names:
                    p.expression[names.index(name)] = v
        s = gen.render_params([p])[0][0]
        lum = s.image.astype(float) @ [0.2126, 0.7152, 0.0722]
        mouth = lum[s.segmentation == SEG["mouth"]]
        skin = lum[s.segmentation == SEG["skin"]]
        assert mouth.size > 40
        ratios.append(np.percentile(mouth, 90) / np.median(skin))
    assert np.median(ratios) > 0.85, ratios   # (from the neutral mesh's occlusion: 0.53-0.77)


def test_expression_archetypes_have_their_own_stream(gen, monkeypatch):
    """Archetypes (smiles, laughs, talking, surprise) come in ~40 % of images from a stream of
    their own: turning them off changes the expression of those images and nothing else."""
    from landmark3d.synth import sampler

    on = [gen.params(i) for i in range(300)]
    monkeypatch.setattr(sampler, "EXPRESSION_ARCHETYPE_RATE", 0.0)
    off = [gen.params(i) for i in range(300)]
    changed = 0
    for a, b in zip(on, off):
        assert (a.expression >= b.expression).all()
        changed += bool((a.expression > b.expression).any())
        for name in ("identity", "yaw_deg", "translation", "skin_rgb", "hair_shape", "glasses", "key_light"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # binomial: 300 draws at 40 % have a standard deviation of 2.8 points
    assert 0.3 < changed / 300 < 0.5, changed


def test_eye_makeup_darkens_the_upper_lid_only_and_has_its_own_stream(gen, monkeypatch):
    """A liner (sampler._eye_makeup) darkens the skin just above the upper lid's margin (iBUG
    37/38 and 43/44) and not the cheek; make-up comes in ~22 % of faces from a stream of its own,
    so turning it off changes no other choice of an image."""
    from landmark3d.synth import sampler

    p = frontal(gen, 70, neutral=True)
    p.hand[0] = p.mask[0] = p.glasses[0] = p.held[0] = p.headphones[0] = p.key_light[0] = 0
    p.eye_makeup = np.zeros(7, np.float32)
    plain = gen.render_params([copy.deepcopy(p)])[0][0]
    p.eye_makeup = np.array([0.95, 0.16, 0.0, 0.0, 0, 0, 0], np.float32)
    lined = gen.render_params([copy.deepcopy(p)])[0][0]
    lm = plain.landmarks
    eye_h = np.linalg.norm(lm[37] - lm[41])

    def lum(im, a, b, up=0.0):  # the rows from the margin points (a, b) to 0.4 eye heights above
        y = 0.5 * (lm[a, 1] + lm[b, 1]) + up
        return im.image[int(y - 0.4 * eye_h):int(y) + 1, int(lm[a, 0]):int(lm[b, 0]) + 1].mean()

    for a, b in ((37, 38), (43, 44)):
        # (a band of ~1 px at this size: 7 % darker over the rows looked at; without make-up, equal)
        assert lum(lined, a, b) < 0.97 * lum(plain, a, b), (lum(lined, a, b), lum(plain, a, b))
        cheek = 2.5 * eye_h
        assert abs(lum(lined, a, b, cheek) - lum(plain, a, b, cheek)) < 1.0
    on = [gen.params(i) for i in range(300)]
    monkeypatch.setattr(sampler, "EYE_MAKEUP_RATE", 0.0)
    off = [gen.params(i) for i in range(300)]
    made_up = sum(bool(a.eye_makeup.any()) for a in on)
    assert 40 < made_up < 95, made_up                            # 22 % of 300: sd 7
    for a, b in zip(on, off):
        assert not b.eye_makeup.any()
        for name in ("identity", "expression", "yaw_deg", "skin_rgb", "hair_shape", "key_light"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_key_light_lights_its_side_and_leaves_the_labels(gen):
    """A hard key light from the image's right (sampler._key_light) makes the right half of a
    frontal face brighter than the left, more than the map's own light does; labels unchanged."""
    from landmark3d.synth.facemodel import SEG

    base = frontal(gen, 12)
    base.hand[0] = base.mask[0] = base.headphones[0] = base.glasses[0] = 0.0  # nothing in front
    right, left = copy.deepcopy(base), copy.deepcopy(base)
    right.key_light = np.array([1, 80, 10, 5.0, 0.2, 0], np.float32)
    left.key_light = np.array([1, -80, 10, 5.0, 0.2, 0], np.float32)
    base.key_light = np.zeros(6, np.float32)
    (a, _, _), (r, _, _), (l, _, _) = gen.render_params([base, right, left])

    def right_minus_left(s):
        skin = s.segmentation == SEG["skin"]
        grey = s.image.astype(float).mean(axis=2)
        half = np.arange(SIZE) >= SIZE // 2
        return grey[skin & half[None, :]].mean() - grey[skin & ~half[None, :]].mean()

    np.testing.assert_array_equal(a.landmarks, r.landmarks)
    np.testing.assert_array_equal(a.visibility, r.visibility)
    # (the hair cards' alpha-tested fringe may shift by a few pixels with the light)
    assert (a.segmentation == r.segmentation).mean() > 0.99
    assert right_minus_left(r) > right_minus_left(a) + 20
    assert right_minus_left(l) < right_minus_left(a) - 20
