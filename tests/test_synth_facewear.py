"""Facewear of the synthetic generator: face masks and headphones are drawn as FaceSynthetics
class 18, hide the landmarks they cover and leave the rest of the render alone (issue 4,
realism item 6). Same requirements as tests/test_synth.py (ICT assets, headless OpenGL)."""
from __future__ import annotations

import copy

import numpy as np

from test_synth import SIZE, cache_path, frontal, gen  # noqa: F401  (session fixtures)

FACEWEAR = 18
EARS = (7, 8)


def _without_facewear(p):
    p = copy.deepcopy(p)
    p.mask[0] = p.headphones[0] = p.hand[0] = p.glasses[0] = 0.0
    return p


def _pixels(sample, ids):
    xy = np.round(sample.landmarks[list(ids)]).astype(int)
    return sample.segmentation[xy[:, 1], xy[:, 0]]


def _render(gen, p):
    return gen.render_params([p])[0][0]


def test_a_mask_hides_the_nose_tip_and_mouth_but_not_the_eyes(gen):
    bare = _without_facewear(frontal(gen, 3, neutral=True))
    masked = copy.deepcopy(bare)
    masked.mask[:7] = [1.0, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5]  # a surgical mask
    a, b = _render(gen, bare), _render(gen, masked)
    covered = list(range(30, 36)) + list(range(48, 68))  # nose tip and nostrils, lips
    assert a.visibility[covered].all()
    assert not b.visibility[covered].any()
    assert (_pixels(b, covered) == FACEWEAR).all()
    # the eyes and brows stay as they were, visible
    assert b.visibility[17:27].all() and b.visibility[36:48].all()
    assert (_pixels(b, range(36, 48)) != FACEWEAR).all()
    # labels are x-ray: the points themselves do not move
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    # the segmentation changes only where the mask is
    other = b.segmentation != FACEWEAR
    assert (b.segmentation == FACEWEAR).sum() > 0.1 * SIZE * SIZE
    np.testing.assert_array_equal(a.segmentation[other], b.segmentation[other])


def test_a_mask_follows_the_jaw(gen):
    names = gen.model.assets.expression_names
    chins = []
    for jaw in (0.0, 1.0):
        p = _without_facewear(frontal(gen, 5, neutral=True))
        p.mask[:2] = [1.0, 1.0]  # a cloth mask
        p.expression[names.index("jawOpen")] = jaw
        p.translation[2] *= 1.6  # further away: the open jaw stays in the frame
        sample = _render(gen, p)
        assert not sample.visibility[48:68].any()  # closed or open, the mouth stays covered
        chin = sample.landmarks[8]
        column = np.flatnonzero(sample.segmentation[:, int(round(chin[0]))] == FACEWEAR)
        assert column.max() >= chin[1] - 1  # the mask reaches down to the chin's outline (and under it)
        chins.append(chin[1])
    assert chins[1] > chins[0] + 3  # and the chin did come down


def test_headphones_cover_the_ears_and_change_nothing_else(gen):
    for yaw in (0.0, 80.0):
        bare = _without_facewear(frontal(gen, 2, yaw=yaw, neutral=True))
        bare.hair_curtain[0] = 0.0  # long hair would hide the ears already
        worn = copy.deepcopy(bare)
        worn.headphones[:9] = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0]
        a, b = _render(gen, bare), _render(gen, worn)
        ears = np.isin(a.segmentation, EARS)
        assert ears.sum() >= (30 if yaw else 4)
        assert (b.segmentation[ears] == FACEWEAR).mean() > 0.95
        other = b.segmentation != FACEWEAR
        np.testing.assert_array_equal(a.segmentation[other], b.segmentation[other])
        if yaw == 0.0:  # a cup on each side of the face and the band over the head
            cols = np.flatnonzero((b.segmentation == FACEWEAR).any(axis=0))
            face = np.flatnonzero(np.isin(a.segmentation, (1, 2)).any(axis=0))
            assert cols.min() < face.min() and cols.max() > face.max()
            top = np.flatnonzero((b.segmentation != 0).any(axis=1)).min()
            assert (b.segmentation[top] == FACEWEAR).any()


def test_a_boom_microphone_sits_in_front_of_the_mouth(gen):
    p = _without_facewear(frontal(gen, 2, neutral=True))
    p.headphones[:9] = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.5, 1.0]  # a boom on the subject's left
    sample = _render(gen, p)
    xy = sample.landmarks
    mouth = xy[48:68]
    # class 18 in a box around the mouth (the foam ball), the lip corners' points still labelled
    x0, x1 = int(mouth[:, 0].min()) - 2, int(mouth[:, 0].max()) + 3
    y0, y1 = int(mouth[:, 1].min()) - 2, int(mouth[:, 1].max()) + 3
    assert (sample.segmentation[y0:y1, x0:x1] == FACEWEAR).sum() >= 4
    assert sample.visibility[36:48].all()


def test_facewear_rates_and_parameters(gen):
    from landmark3d.synth import sampler

    params = [gen.params(i) for i in range(1500)]
    masks = np.array([p.mask for p in params])
    phones = np.array([p.headphones for p in params])
    assert masks.shape == (1500, 13) and phones.shape == (1500, 15)
    # binomial: 1500 draws, rate 6% (5%) has a standard deviation of 0.6 (0.56) points
    assert abs(masks[:, 0].mean() - sampler.MASK_RATE) < 0.025
    assert abs(phones[:, 0].mean() - sampler.HEADPHONES_RATE) < 0.025
    assert set(np.unique(masks[:, 1])) == {0.0, 1.0, 2.0}
    assert ((masks[:, 2:7] >= 0) & (masks[:, 2:7] < 1)).all()
    assert set(np.unique(phones[:, 8])) == {0.0, 1.0}
    assert (masks[:, 7:] >= 0).all() and (masks[:, 7:] <= 1).all()
