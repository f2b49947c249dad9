"""Strand-card hair of the synthetic generator (issue 4, realism item 1): the cards are drawn as
FaceSynthetics class 13, hide what they cover through the depth buffer, leave the rest of the
render alone and depend only on (seed, index). The texture test needs nothing; the others have
the requirements of tests/test_synth.py (ICT assets, headless OpenGL)."""
from __future__ import annotations

import copy

import numpy as np

from test_synth import SIZE, cache_path, frontal, gen  # noqa: F401  (session fixtures)

HAIR = 13


def test_strand_texture_has_strands_with_uneven_tips():
    from landmark3d.synth.hair import STRAND_TEX_H, STRAND_TEX_W, strand_texture

    tex = strand_texture()
    assert tex.shape == (STRAND_TEX_H, STRAND_TEX_W, 4) and tex.dtype == np.uint8
    alpha = tex[..., 3] / 255.0
    rows = alpha.mean(axis=1)
    # dense at the root, thinning out towards the tip, where a few strands still reach
    assert rows[: STRAND_TEX_H // 3].mean() > 0.6
    assert rows[-8:].mean() < 0.5 * rows[: STRAND_TEX_H // 3].mean()
    assert (alpha[-STRAND_TEX_H // 8:] > 0.5).any()
    # gaps between strands across the card (an alpha test shows what lies under them)
    assert (alpha[STRAND_TEX_H // 4] < 0.5).any()
    np.testing.assert_array_equal(tex, strand_texture())  # fixed seed


def _short_haired(gen, start=0):
    """Index of a short-haired image (no long-hair sheet, no beanie) from ``start`` on."""
    for i in range(start, start + 200):
        p = gen.params(i)
        if p.hair_shape[2] > 0 and not p.hat and p.hair_curtain[0] == 0:
            return i
    raise AssertionError("no short-haired image in 200")


def test_cards_depend_on_seed_and_index_and_culling_keeps_the_rest(gen):
    cards = gen.renderer.hair_cards
    i = _short_haired(gen)
    p = gen.params(i)
    a, b = cards.grow(p), cards.grow(copy.deepcopy(p))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    other = cards.grow(gen.params(_short_haired(gen, i + 1)))
    assert other[0].shape != a[0].shape or not np.array_equal(other[0], a[0])
    # culling by the camera drops far-side cards only: the kept ones are unchanged
    rot = np.diag([-1.0, -1.0, 1.0])  # looking at the back of the head (model z -> camera -z)
    culled = cards.grow(p, camera=(rot, np.array([0.0, 0.0, 60.0])))
    kept = np.flatnonzero(np.isin(a[0][:, 0], culled[0][:, 0]))
    assert 0 < len(culled[0]) < len(a[0])
    for x, y in zip(a, culled):
        np.testing.assert_array_equal(x[kept], y)
    # no cards without hair or under a beanie
    bald = copy.deepcopy(p)
    bald.hair_shape[2] = 0.0
    hat = copy.deepcopy(p)
    hat.hat = 1
    assert cards.grow(bald) is None and cards.grow(hat) is None


def test_cards_are_hair_occlude_and_leave_the_rest_alone(gen, monkeypatch):
    p = frontal(gen, _short_haired(gen, 10), pitch=25.0)  # from above: the crown in view
    p.hair_shape[0] = 1.5                                 # a full head of hair
    p.glasses[0] = p.hand[0] = p.mask[0] = p.headphones[0] = 0.0
    with_cards, _, with_depth = gen.render_params([p])[0]
    monkeypatch.setattr(gen.renderer.hair_cards, "grow", lambda *a, **k: None)
    without, _, without_depth = gen.render_params([p])[0]
    seg_a, seg_b = with_cards.segmentation, without.segmentation
    changed = seg_a != seg_b
    assert changed.sum() > 10                       # the cards show ...
    assert (seg_a[changed] == HAIR).all()           # ... and every pixel they take is hair
    assert (seg_a == HAIR).sum() > 0.05 * SIZE * SIZE
    # where no hair is drawn, the render is what it was without cards
    clear = (seg_a != HAIR) & (seg_b != HAIR)
    np.testing.assert_array_equal(with_cards.image[clear], without.image[clear])
    # opaque strands write depth: nearer than what they cover, never farther
    assert (with_depth <= without_depth + 1e-4).all()
    assert (with_depth[changed] < without_depth[changed]).all()



def test_stray_locks_fall_across_the_face_and_leave_the_other_cards_alone(gen, monkeypatch):
    from landmark3d.synth import hair

    cards = gen.renderer.hair_cards
    p = frontal(gen, _short_haired(gen, 20))
    p.hair_shape[3] = 0.0                                  # no fringe: only strays go below the hairline
    p.glasses[0] = p.hand[0] = p.held[0] = p.mask[0] = p.headphones[0] = 0.0
    monkeypatch.setattr(hair, "STRAY_RATE", 0.0)
    base = cards.grow(p)
    without = gen.render_params([p])[0][0]
    monkeypatch.setattr(hair, "STRAY_RATE", 1.0)
    strays = cards.grow(p)
    with_strays = gen.render_params([p])[0][0]
    n = len(base[0])
    assert 1 <= len(strays[0]) - n <= 4
    for a, b in zip(base, strays):                         # their own random stream
        np.testing.assert_array_equal(a, b[:n])
    # their tips hang below the brows (neutral head; cards grow on it)
    model = gen.renderer.model
    brows_y = model.assets.neutral[model.label_vertices[17:27], 1].min()
    tips = cards.rest[strays[0][n:, -1]] + strays[1][n:, -1]
    assert (tips[:, 1] < brows_y).all(), tips
    # drawn over the face: the pixels they take were the face's skin, brows and eyes
    from landmark3d.synth.facemodel import SEG

    seg_a, seg_b = with_strays.segmentation, without.segmentation
    new_hair = (seg_a == HAIR) & (seg_b != HAIR)
    assert new_hair.sum() > 5
    face = [SEG[k] for k in ("skin", "nose", "right_eye", "left_eye", "right_brow", "left_brow")]
    assert np.isin(seg_b[new_hair], face).mean() > 0.8


def test_the_numpy_hairline_is_the_vertex_programs(gen):
    """hair.hairline (cards, the skin's draw parts) and FACE_VS's hairline agree: the scalp mask
    v_hair read back from the vertex program (transform feedback) at the neutral skin vertices
    is the smoothstep of the numpy line, for swept and curved fringes, long hair and none; and
    skin_parts.hair_reach holds every vertex the mask reaches."""
    from landmark3d.synth import shaders
    from landmark3d.synth.hair import azimuth, hairline, hairline_basis
    from landmark3d.synth.renderer import _smoothstep
    from landmark3d.synth.skin_parts import hair_reach

    r = gen.renderer
    prog = r.ctx.program(vertex_shader=shaders.face_vs(scalp=True), varyings=["v_hair"])
    rest = r.skin_rest.astype("f4")
    n = len(rest)
    buffers = [(r.ctx.buffer(rest.tobytes()), "3f", "in_pos"), (r.ctx.buffer(rest.tobytes()), "3f", "in_rest"),
               (r.ctx.buffer(np.tile([0.0, 0.0, 1.0], (n, 1)).astype("f4").tobytes()), "3f", "in_normal"),
               (r.ctx.buffer(np.tile([0, 1], (n, 1)).astype("i4").tobytes()), "2i", "in_info"),
               (r.ctx.buffer(np.zeros((n, 2), "f4").tobytes()), "2f", "in_noise")]
    vao = r.ctx.vertex_array(prog, [b for b in buffers if b[2] in prog])
    out = r.ctx.buffer(reserve=n * 4)
    params = [gen.params(i) for i in range(300)]
    kinds = [lambda p: p.hair_shape[3] > 0 and abs(p.hairline_shape[1]) > 1.0,
             lambda p: p.hair_shape[3] > 0 and p.hairline_shape[2] > 1.0, lambda p: p.hair_line[1] < 5.0,
             lambda p: p.hair_shape[3] == 0 and p.hairline_shape[3] > 1.5,
             lambda p: p.hair_shape[2] == 0, lambda p: p.hair_shape[1] > 2.0]
    chosen = [next(p for p in params if kind(p)) for kind in kinds]
    y = rest[:, 1].astype(np.float64)
    r.fbo.use()  # (transform feedback wants a complete framebuffer bound; the EGL context has none)
    for p in chosen:
        for name in ("hair_line", "hair_shape", "hairline_shape"):
            prog[name].value = tuple(map(float, getattr(p, name)))
        vao.transform(out, mode=r.ctx.POINTS, vertices=n)
        v_hair = np.frombuffer(out.read(), "f4")
        line = hairline(p, azimuth(r.skin_rest))
        w = float(p.hair_line[3])
        expected = _smoothstep(line - w - 0.7, line + w + 0.7, y) * (y > -12.0) * (p.hair_shape[2] > 0)
        assert np.abs(v_hair - expected).max() < 1e-3
        assert v_hair.max() > 0.5 or p.hair_shape[2] == 0
        reach = hair_reach(p, hairline_basis(azimuth(r.skin_rest)), y)
        assert reach[v_hair > 0].all() and reach.sum() < 1.2 * (v_hair > 0).sum() + 200


def _long_haired(gen, index, drape=(1.0, 1.0), front=0.0, yaw=0.0):
    """Image ``index`` framed frontally with long hair at its most forward (``front`` 0), falling
    in front of the shoulders per ``drape``, and nothing else near the face."""
    p = frontal(gen, index, yaw=yaw)
    p.hat, p.hair_shape[2] = 0, 1.0
    p.hair_curtain[0], p.hair_curtain[1] = 1.0, front
    p.hair_drape[:2] = drape
    p.glasses[0] = p.hand[0] = p.held[0] = p.mask[0] = p.headphones[0] = 0.0
    return p


def test_long_hair_lies_outside_the_skin(gen):
    from landmark3d.synth.hair import azimuth, long_hair_mesh
    from landmark3d.synth.renderer import params_torso_rotation

    model, skin_ids, near = gen.model, gen.renderer.skin_ids, gen.renderer.long_hair_skin
    for i in range(12):
        p = _long_haired(gen, i, drape=(i % 2, (i // 2) % 2), front=(i % 4) / 4)
        p.hair_curtain[3:6] = np.random.default_rng(i).random(3)   # thickness, flare, waves
        vertices = model.mix_render(p.identity[None], p.expression[None])[0][0].astype(np.float64)
        skin = vertices[skin_ids]
        # (as the renderer builds it: from the skin of the head's sides only, every other point)
        pos, nrm, uv, tangent, tris = long_hair_mesh(p.hair_curtain[1:6], p.hair_drape, vertices[near],
                                                     params_torso_rotation(p))
        assert np.isfinite(pos).all() and tris.max() < len(pos)
        assert pos[:, 1].min() < -9.5                         # past the chin (y ~ -8)
        # beside the face, each hair point is farther from the head's axis than any skin point in
        # its 1 cm row and 5-degree sector (all of the skin): the sheet never cuts into the cheeks
        # or the jaw
        cell = lambda q: (np.floor(q[:, 1]).astype(int), np.floor(np.degrees(azimuth(q)) / 5).astype(int))  # noqa: E731
        radius = lambda q: np.hypot(q[:, 0], q[:, 2] - 1.0)  # noqa: E731
        reach = {}
        for key, r in zip(zip(*cell(skin)), radius(skin)):
            reach[key] = max(reach.get(key, 0.0), r)
        side = (pos[:, 1] > -7.0) & (pos[:, 1] < 9.0)
        inside = [k for k, r in zip(zip(*cell(pos[side])), radius(pos[side])) if r <= reach.get(k, 0.0)]
        assert not inside, f"image {i}: {len(inside)} hair points inside the skin's reach, e.g. {inside[:3]}"
        # the strands run down the sheet; the side edges are where the shader frays them
        assert (tangent[:, 1] < 0).mean() > 0.95 and tangent[:, 3].min() == 0.0


def test_long_hair_frames_the_face_without_hiding_its_middle(gen):
    inner = np.arange(27, 68)                                   # nose, eyes, mouth
    for i, yaw in ((0, 0.0), (1, 0.0), (2, 40.0), (3, -40.0), (4, 0.0)):
        for drape in ((0.0, 0.0), (1.0, 1.0)):
            p = _long_haired(gen, i, drape=drape, yaw=yaw)
            bare = copy.deepcopy(p)
            bare.hair_curtain[0] = 0.0
            (hair, _, _), (none, _, _) = gen.render_params([p, bare])
            # every inner point visible without the long hair is still visible with it
            assert not (none.visibility[inner] & ~hair.visibility[inner]).any(), (i, yaw, drape)
            # and the hair shows beside the face, where there was none
            added = (hair.segmentation == HAIR) & (none.segmentation != HAIR)
            assert added.sum() > 0.03 * SIZE * SIZE, (i, yaw, drape)


def test_long_hair_falls_in_front_of_the_shoulders_where_draped(gen):
    below_chin = {}
    for i in (0, 1, 3):
        for drape in ((0.0, 0.0), (1.0, 1.0)):
            p = _long_haired(gen, i, drape=drape)
            p.translation = np.array([0.0, 3.0, 2 * p.translation[2]], np.float32)  # head and shoulders
            p.hair_curtain[2] = 0.8                                                  # past the shoulders
            sample = gen.render_params([p])[0][0]
            chin = int(sample.landmarks[8, 1]) + 2
            below_chin[i, drape[0]] = (sample.segmentation[chin:] == HAIR).sum()
    for i in (0, 1, 3):   # behind the shoulders the hair ends at their tops; in front it goes on
        assert below_chin[i, 1.0] > 1.5 * below_chin[i, 0.0] + 20, below_chin
