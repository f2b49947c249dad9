"""Image decoding: every odd input becomes HxWx3 uint8 RGB, or a one-line error naming the file."""
import io as pyio

import numpy as np
import pytest
from PIL import Image

from landmark3d.errors import ImageReadError
from landmark3d.io import expand_inputs, read_image, read_image_bounded


def _rgb(h=40, w=30):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_array_inputs_are_not_mutated():
    a = _rgb()
    before = a.copy()
    out = read_image(a)
    out[:] = 0
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK"])
def test_pil_modes_become_rgb(tmp_path, mode):
    im = Image.fromarray(_rgb()).convert(mode)
    path = tmp_path / f"x_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    im.save(path)
    out = read_image(path)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8
    if mode == "L":
        assert np.array_equal(out[..., 0], out[..., 1])


def test_cmyk_jpeg_colours_are_converted(tmp_path):
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 220
    Image.fromarray(red).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    out = read_image(tmp_path / "c.jpg").astype(int)
    assert out[..., 0].mean() > 180 and out[..., 1].mean() < 60


def test_16bit_png(tmp_path):
    a = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    # uint16 arrays too
    rgb16 = np.full((4, 4, 3), 65535, np.uint16)
    assert read_image(rgb16).max() == 255


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = 255  # left half white
    im = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 deg clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "rot.jpg")
    assert out.shape[:2] == (40, 20)
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # white half is now on top


def test_corrupt_truncated_and_non_images(tmp_path):
    good = pyio.BytesIO()
    Image.fromarray(_rgb(200, 200)).save(good, format="JPEG")
    (tmp_path / "trunc.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "notes.jpg").write_text("hello")
    for name in ("trunc.jpg", "junk.png", "notes.jpg", "missing.jpg"):
        with pytest.raises(ImageReadError, match=name.split(".")[0]):
            read_image(tmp_path / name)
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match="shape"):
        read_image(np.zeros((4, 4, 2), np.uint8))


def test_unicode_path(tmp_path):
    d = tmp_path / "фото 照片"
    d.mkdir()
    Image.fromarray(_rgb()).save(d / "лицо.png")
    assert read_image(d / "лицо.png").shape == (40, 30, 3)


def test_huge_image_is_decoded_bounded(tmp_path):
    # 12000 x 9000 JPEG: decoding it whole would take 324 MB; bounded decoding stays small.
    big = Image.new("RGB", (12000, 9000), (120, 60, 30))
    big.save(tmp_path / "big.jpg", quality=50)
    out, size = read_image_bounded(tmp_path / "big.jpg", 4e6)
    assert out.shape[0] * out.shape[1] <= 4e6 * 1.01
    assert size == (9000, 12000)
    assert out.shape[1] / 12000 == pytest.approx(np.sqrt(4e6 / (12000 * 9000)), rel=1e-3)
    assert abs(out.shape[1] / out.shape[0] - 12000 / 9000) < 0.01


def test_expand_inputs(tmp_path):
    Image.fromarray(_rgb()).save(tmp_path / "b.png")
    Image.fromarray(_rgb()).save(tmp_path / "a.jpg")
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    items = expand_inputs([tmp_path, str(tmp_path / "*.png"), tmp_path / "nope.jpg", tmp_path / "empty"])
    assert [(i.path.name, i.kind) for i in items] == [
        ("a.jpg", "image"), ("b.png", "image"), ("b.png", "image"), ("nope.jpg", "missing")]


def test_huge_exif_rotated_jpeg_is_upright_and_bounded(tmp_path):
    a = np.zeros((3000, 6000, 3), np.uint8)
    a[:, :3000] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=60)
    out, size = read_image_bounded(tmp_path / "r.jpg", 1e6)
    assert size == (6000, 3000)
    assert out.shape[0] > out.shape[1] and out.shape[0] * out.shape[1] <= 1e6 * 1.01
    h = out.shape[0]
    assert out[: h // 2 - 5].mean() > 200 and out[h // 2 + 5:].mean() < 50
