"""Training data pipeline: crop round trips, flip permutation, targets, reproducibility."""
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("albumentations")

from train_helpers import make_sample

from landmark3d.crop import CROP_SCALE, crop_from_points
from landmark3d.data.augment import PHOTOMETRIC_GROUPS, CropJitter, build_photometric, flip_crop, random_crop
from landmark3d.data.train_dataset import (CropConfig, EpochBatchSampler, LandmarkDataset, MemorySource,
                                           depth_targets)
from landmark3d.schema import FLIP_PERM


def blob_image(size, xy, sigma=2.0):
    yy, xx = np.mgrid[0:size, 0:size]
    g = np.exp(-((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / (2 * sigma ** 2))
    return np.repeat((g * 255).astype(np.float32)[..., None], 3, axis=2)


def centroid(img):
    w = img[..., 0].astype(np.float64)
    w = np.where(w > 0.2 * w.max(), w, 0)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


def test_random_crop_inverse_is_subpixel_on_points_and_pixels():
    rng = np.random.default_rng(1)
    sample = make_sample(rng, 200)
    jitter = CropJitter(rotate_deg=60)
    for _ in range(5):
        crop = random_crop(sample.landmarks, 96, rng, jitter)
        back = crop.to_image(crop.denormalize(crop.normalize(crop.to_crop(sample.landmarks))))
        assert np.abs(back - sample.landmarks).max() < 1e-9
        # the pixels agree with the points: a blob at landmark 30 lands where to_crop says
        target = sample.landmarks[30]
        img = blob_image(200, target, sigma=3.0)
        warped = crop.warp(img)
        assert np.linalg.norm(centroid(warped) - crop.to_crop(target)) < 0.25


def test_jitter_rotates_both_directions_up_to_limit():
    rng = np.random.default_rng(0)
    angles = np.array([CropJitter(rotate_deg=45).sample(rng)["angle_deg"] for _ in range(400)])
    assert angles.min() < -40 and angles.max() > 40 and np.abs(angles).max() <= 45


def test_flip_round_trip_labels_and_image():
    rng = np.random.default_rng(2)
    size = 64
    img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    pts = rng.uniform(0, size - 1, (70, 2))
    z = rng.normal(size=70)
    f_img, f_pts, f_z = flip_crop(img, pts, z)
    b_img, b_pts, b_z = flip_crop(f_img, f_pts, f_z)
    assert np.array_equal(b_img, img) and np.allclose(b_pts, pts) and np.allclose(b_z, z)
    # the flipped image has, at flipped point j, what the original had at point FLIP_PERM[j]
    ipts = np.round(pts).astype(int)
    pts = ipts.astype(float)
    f_img, f_pts, _ = flip_crop(img, pts, None)
    for j in range(70):
        x, y = np.round(f_pts[j]).astype(int)
        xo, yo = ipts[FLIP_PERM[j]]
        assert np.array_equal(f_img[y, x], img[yo, xo])
    # left/right meaning: after a flip, the image-left eye's pupil (68) is left of 69 again
    face = make_sample(rng, size).landmarks
    _, ff, _ = flip_crop(img, face, None)
    assert ff[68, 0] < ff[69, 0] and face[68, 0] < face[69, 0]


def test_items_are_reproducible_and_targets_match_the_crop_rule():
    rng = np.random.default_rng(3)
    samples = [make_sample(rng, 96, with_3d=True) for _ in range(3)]
    ds = LandmarkDataset([MemorySource(samples)], CropConfig(size=48), seed=5)
    a, b = ds[(2, 1)], ds[(2, 1)]
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in ("image", "xy", "z"))
    assert not np.array_equal(ds[(3, 1)]["xy"].numpy(), a["xy"].numpy())
    assert a["image"].shape == (3, 48, 48) and a["xy"].shape == (70, 2) and bool(a["has_z"])
    plain = LandmarkDataset([MemorySource(samples)], CropConfig(size=48, augment=False), seed=5)[(0, 0)]
    crop = crop_from_points(samples[0].landmarks, 48, scale=CROP_SCALE)
    assert np.allclose(plain["xy"].numpy(), crop.normalize(crop.to_crop(samples[0].landmarks)), atol=1e-6)
    # the 68 points' box fills 1/CROP_SCALE of the crop
    span = plain["xy"].numpy()[:68].max(0) - plain["xy"].numpy()[:68].min(0)
    assert span.max() == pytest.approx(2 / CROP_SCALE, rel=1e-3)


def test_depth_targets_scale_with_the_image():
    rng = np.random.default_rng(4)
    s = make_sample(rng, 96, with_3d=True)
    z = depth_targets(s)
    assert z.shape == (70,) and abs(z[:68].mean()) < 1e-9
    s.landmarks = s.landmarks * 2  # twice the pixels per cm -> twice the depth in pixels
    assert np.allclose(depth_targets(s), 2 * z, rtol=1e-6)


def test_photometric_groups_switch_off():
    img = np.full((48, 48, 3), 128, np.uint8)
    none = build_photometric(PHOTOMETRIC_GROUPS)
    assert np.array_equal(none(image=img)["image"], img)
    with pytest.raises(ValueError, match="unknown augmentation"):
        build_photometric(("blurr",))


def test_gray_prob_sets_how_often_crops_turn_grey():
    from landmark3d.data.augment import seed_photometric

    others = tuple(g for g in PHOTOMETRIC_GROUPS if g != "gray")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)

    def grey_share(prob):
        aug = build_photometric(others, gray_prob=prob)
        grey = 0
        for _ in range(200):
            seed_photometric(aug, rng)
            out = aug(image=image)["image"]
            grey += bool(np.all(out[..., 0] == out[..., 1]) and np.all(out[..., 1] == out[..., 2]))
        return grey / 200

    assert grey_share(0.0) == 0.0
    assert grey_share(1.0) == 1.0
    assert 0.2 < grey_share(0.35) < 0.5


def test_batch_sampler_resumes_mid_epoch():
    full = EpochBatchSampler(10, 3, seed=0)
    it = iter(full)
    batches = [next(it) for _ in range(7)]
    assert full.steps_per_epoch == 3
    epoch0 = [i for _, i in batches[0] + batches[1] + batches[2]]
    assert len(set(epoch0)) == 9 and {e for e, _ in batches[3]} == {1}  # last partial batch dropped
    later = iter(EpochBatchSampler(10, 3, seed=0, start_step=4))
    assert [next(later) for _ in range(3)] == batches[4:7]


def test_yaw_balance_draws_each_yaw_bin_equally_often():
    """--yaw-balance: draws with replacement by yaw_weights; each 10-degree bin of |yaw| (and so
    each of AFLW2000-3D's 30-degree bins) gets an equal share, unknown poses the average weight."""
    from landmark3d.data.train_dataset import yaw_weights

    rng = np.random.default_rng(0)
    yaw = np.concatenate([np.abs(rng.normal(0, 25, 3000)).clip(0, 90), rng.uniform(0, 90, 1000), [np.nan] * 100])
    w = yaw_weights(yaw)
    assert np.isclose(w.sum(), 1.0) and np.isclose(w[-1], 1 / len(yaw))
    sampler = EpochBatchSampler(len(yaw), 50, seed=1, weights=w)
    it = iter(sampler)
    drawn = np.array([i for _ in range(400) for _, i in next(it)])   # 20,000 draws, ~5 epochs
    known = drawn[drawn < 4000]
    share = [np.mean((yaw[known] >= a) & (yaw[known] < a + 30)) for a in (0, 30, 60)]
    assert np.allclose(share, 1 / 3, atol=0.02), share
    assert abs(np.mean(drawn >= 4000) - 100 / len(yaw)) < 0.01
    assert np.mean(yaw[:4000] < 30) > 0.6                              # (it was not balanced before)
    first = [next(iter(EpochBatchSampler(len(yaw), 50, seed=1, weights=w)))]
    full = iter(EpochBatchSampler(len(yaw), 50, seed=1, weights=w))
    batches = [next(full) for _ in range(100)]                          # 82 batches per epoch
    later = iter(EpochBatchSampler(len(yaw), 50, seed=1, weights=w, start_step=80))
    assert batches[0] == first[0] and [next(later) for _ in range(20)] == batches[80:]   # resumes exactly
    with pytest.raises(ValueError, match="weights"):
        EpochBatchSampler(10, 3, seed=0, weights=np.full(9, 1 / 9))


def test_sample_yaw_is_read_from_the_sidecars(tmp_path):
    from landmark3d.data.packed import folder_source, pack_folder
    from landmark3d.data.train_dataset import FolderSource, source_yaw

    root = _write_synth_folder(tmp_path / "d")   # poses -40, -20, 0, 20, 40, 60 (make_sample's)
    expected = [abs(float(FolderSource(root).load(k)[0].pose_deg[0])) for k in range(6)]
    assert np.allclose(source_yaw(FolderSource(root)), expected)
    pack_folder(root)
    assert np.allclose(source_yaw(folder_source(root)), expected)
    memory = MemorySource([FolderSource(root).load(k)[0] for k in range(2)] + [make_sample(np.random.default_rng(0), 32)])
    assert np.allclose(source_yaw(memory)[:2], expected[:2]) and np.isnan(source_yaw(memory)[2])


def _write_synth_folder(root, n=6, size=64):
    from landmark3d.synth.writer import write_sample

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        s = make_sample(rng, size, with_3d=i % 2 == 0, name=f"{i:06d}")   # half without 3D labels
        s.pose_deg = np.array([20.0 * i - 40.0, 5.0, 0.0])
        write_sample(root, s)
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_packed_folder_gives_the_same_items_as_the_files(tmp_path, workers):
    from landmark3d.data.packed import PackedSource, folder_source, pack_folder
    from landmark3d.data.train_dataset import FolderSource

    root = _write_synth_folder(tmp_path / "d")
    assert isinstance(folder_source(root), FolderSource)                  # no pack yet
    pack_folder(root, workers=workers)
    packed, files = folder_source(root, ["000001", "000004"]), FolderSource(root, ["000001", "000004"])
    assert isinstance(packed, PackedSource) and len(packed) == 2
    for k in range(2):
        a, b = packed.load(k)[0], files.load(k)[0]
        assert a.name == b.name and np.array_equal(a.image, b.image) and np.array_equal(a.landmarks, b.landmarks)
        assert (a.landmarks_3d is None) == (b.landmarks_3d is None)
        if a.landmarks_3d is not None:
            assert np.array_equal(a.landmarks_3d, b.landmarks_3d)
    cfg = CropConfig(size=32, photometric=False)
    ds_p, ds_f = LandmarkDataset([packed], cfg, seed=1), LandmarkDataset([files], cfg, seed=1)
    for key in [(0, 0), (3, 1)]:
        for name in ("image", "xy", "z", "has_z"):
            assert np.array_equal(ds_p[key][name].numpy(), ds_f[key][name].numpy()), name


def test_a_stale_pack_is_not_used(tmp_path, capsys):
    from landmark3d.data.packed import folder_source, pack_folder
    from landmark3d.data.train_dataset import FolderSource

    root = _write_synth_folder(tmp_path / "d", n=3)
    pack_folder(root)
    _write_synth_folder(root, n=4)                                         # one sample more than packed
    assert isinstance(folder_source(root), FolderSource)
    assert "stale" in capsys.readouterr().err


def test_a_pack_needs_one_image_size(tmp_path):
    from landmark3d.data.packed import pack_folder
    from landmark3d.synth.writer import write_sample

    root = _write_synth_folder(tmp_path / "d", n=2, size=64)
    write_sample(root, make_sample(np.random.default_rng(0), 80, name="000009"))
    with pytest.raises(ValueError, match="one image size"):
        pack_folder(root)


def test_uint8_items_normalise_to_the_float_items():
    import torch

    from landmark3d.data.train_dataset import model_input

    src = MemorySource([make_sample(np.random.default_rng(i), 96) for i in range(3)])
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    f = LandmarkDataset([src], CropConfig(size=48, mean=mean, std=std), seed=0)
    u = LandmarkDataset([src], CropConfig(size=48, mean=mean, std=std, uint8=True), seed=0)
    a, b = u[(1, 2)], f[(1, 2)]
    assert a["image"].dtype == torch.uint8 and b["image"].dtype == torch.float32
    assert torch.allclose(model_input(a["image"], mean, std), b["image"], atol=1e-5)
    batch = torch.stack([u[(0, i)]["image"] for i in range(3)])
    ref = torch.stack([f[(0, i)]["image"] for i in range(3)])
    assert torch.allclose(model_input(batch, mean, std), ref, atol=1e-5)
    assert torch.equal(model_input(ref, mean, std), ref)                   # float batches pass through
    assert torch.equal(a["xy"], b["xy"])
