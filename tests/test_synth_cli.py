"""The ``landmark3d synth`` command and the generator's error messages (issue 4, items 4 and 8)."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from test_synth import HDRI, cache_path, gen  # noqa: F401  (session fixtures)


def _common(gen, size=48):
    args = ["--size", str(size), "--seed", "5", "--cache", str(gen.config.cache), "--no-progress"]
    return args + (["--hdri", str(gen.config.hdri)] if gen.config.hdri else [])


def test_gallery_writes_a_grid_png(gen, tmp_path, capsys):
    import cv2

    from landmark3d.cli import main

    out = tmp_path / "gallery.png"
    assert main(["synth", "--gallery", str(out), "--count", "4"] + _common(gen)) == 0
    grid = cv2.imread(str(out))
    assert grid.shape == (96, 96, 3)
    assert json.loads(capsys.readouterr().out)["gallery"] == str(out)


def test_without_out_the_command_explains_itself(gen, capsys):
    from landmark3d.cli import main

    assert main(["synth", "--count", "1"]) == 2
    assert "--out DIR" in capsys.readouterr().err


def test_missing_cache_is_a_clear_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    from landmark3d.cli import main

    from landmark3d.synth import assets as assets_module

    monkeypatch.setattr(assets_module, "default_ict_source", lambda: None)  # no fallback archive
    code = main(["synth", "--out", str(tmp_path / "o"), "--count", "1", "--cache", str(tmp_path / "no.npz")])
    assert code == 1
    err = capsys.readouterr().err
    assert "github.com/ICT-VGL/ICT-FaceKit" in err and "--build-cache" in err


def test_no_opengl_context_names_the_packages(monkeypatch):
    import moderngl

    from landmark3d.synth.renderer import RenderContextError, create_context

    def fail(**kwargs):
        raise Exception("libEGL.so.1: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_context", fail)
    with pytest.raises(RenderContextError, match="libegl1 libgl1-mesa-dri"):
        create_context()


def test_ict_sources_folder_zip_and_bad_files(tmp_path):
    from landmark3d.synth.assets import AssetError, _Source

    folder = tmp_path / "ICT-FaceKit-master" / "FaceXModel"
    folder.mkdir(parents=True)
    (folder / "generic_neutral_mesh.obj").write_text("v 0 0 0\n")
    (folder / "vertex_indices.json").write_text("{}")
    assert _Source(tmp_path / "ICT-FaceKit-master").read("vertex_indices.json") == b"{}"
    zpath = tmp_path / "ICT-FaceKit-master.zip"
    with zipfile.ZipFile(zpath, "w") as z:  # GitHub's zip: one top folder
        z.write(folder / "generic_neutral_mesh.obj", "ICT-FaceKit-master/FaceXModel/generic_neutral_mesh.obj")
    assert _Source(zpath).read("generic_neutral_mesh.obj") == b"v 0 0 0\n"
    with pytest.raises(AssetError, match="vertex_indices.json"):
        _Source(zpath).read("vertex_indices.json")
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(AssetError, match="not a folder, zip or tar"):
        _Source(bad)


@pytest.mark.slow
def test_subprocess_with_two_workers_matches_in_process(gen, tmp_path):
    """One real run of the installed command; two worker processes give the same files as one."""
    from landmark3d.data import facesynthetics

    out = tmp_path / "two"
    cmd = [sys.executable, "-m", "landmark3d.cli", "synth", "--out", str(out), "--count", "3",
           "--workers", "2"] + _common(gen)
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["written"] == 3 and summary["workers"] == 2
    from landmark3d.synth.generator import Generator, GeneratorConfig

    with Generator(GeneratorConfig(size=48, seed=5, cache=gen.config.cache, hdri=gen.config.hdri),
                   ctx=None) as g:
        for i, (ref, _) in enumerate(g.render_batch([0, 1, 2])):
            got = facesynthetics.read_sample(out, f"{i:06d}")
            np.testing.assert_array_equal(got.image, ref.image)
            np.testing.assert_allclose(got.landmarks, ref.landmarks, atol=1e-5)


@pytest.mark.slow
def test_build_cache_from_the_published_archive(tmp_path, capsys):
    """The command reads the ICT FaceKit as published (~7 s) into a compact, fast cache."""
    from landmark3d.cli import main
    from landmark3d.synth import assets

    from test_synth import ICT_TAR

    if not ICT_TAR.exists():
        pytest.skip(f"no ICT FaceKit archive at {ICT_TAR}")
    out = tmp_path / "ict.npz"
    assert main(["synth", "--build-cache", "--ict", str(ICT_TAR), "--cache", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["cache"] == str(out)
    a = assets.load_cache(out)
    assert a.expression_names[0] == "browDown_L" and len(a.expression_names) == 53
    assert out.stat().st_size < 40e6
    assert np.isfinite(a.identity.astype(np.float32)).all()


def test_max_seconds_stops_rendering_and_counts_what_was_written(gen, tmp_path):
    """Past the deadline no new chunk starts: the folder holds exactly the images the summary counts."""
    from landmark3d.data import facesynthetics
    from landmark3d.synth.parallel import CHUNK, render_to_folder

    summary = render_to_folder(tmp_path / "cut", count=50 * CHUNK, size=32, seed=5, workers=1, progress=False,
                               max_seconds=0.0, cache=gen.config.cache, hdri=gen.config.hdri)
    assert summary["written"] == 0 and facesynthetics.list_ids(tmp_path / "cut") == []
    summary = render_to_folder(tmp_path / "full", count=3, size=32, seed=5, workers=1, progress=False,
                               max_seconds=600.0, cache=gen.config.cache, hdri=gen.config.hdri)
    assert summary["written"] == 3 and len(facesynthetics.list_ids(tmp_path / "full")) == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_pack_written_while_rendering_equals_the_files(gen, tmp_path, workers):
    """synth --pack: the pack lists exactly the written samples, and its images and labels are the
    ones the FaceSynthetics reader gets from the files (so training reads the same data either way)."""
    from landmark3d.data.facesynthetics import list_ids, read_sample
    from landmark3d.data.packed import PackedSource, folder_source, pack_matches
    from landmark3d.errors import Landmark3dError
    from landmark3d.synth.parallel import render_to_folder

    out = tmp_path / "p"
    summary = render_to_folder(out, count=5, size=32, seed=9, start=3, workers=workers, progress=False, pack=True,
                               cache=gen.config.cache, hdri=gen.config.hdri)
    assert summary["written"] == 5 and pack_matches(out)
    src = folder_source(out)
    assert isinstance(src, PackedSource) and src.ids == list_ids(out) == [f"{i:06d}" for i in range(3, 8)]
    for k, sid in enumerate(src.ids):
        a, b = src.load(k)[0], read_sample(out, sid)
        assert np.array_equal(a.image, b.image) and np.array_equal(a.landmarks, b.landmarks)
        assert a.landmarks_3d is not None and np.array_equal(a.landmarks_3d, b.landmarks_3d)
    with pytest.raises(Landmark3dError, match="empty folder"):
        render_to_folder(out, count=2, size=32, seed=9, workers=1, progress=False, pack=True,
                         cache=gen.config.cache, hdri=gen.config.hdri)


def test_pack_only_writes_no_pngs_and_the_same_images(gen, tmp_path):
    from landmark3d.data.facesynthetics import read_sample
    from landmark3d.data.packed import LABELS, PackedSource, folder_source
    from landmark3d.synth.parallel import render_to_folder

    kw = dict(count=3, size=32, seed=4, workers=1, progress=False, cache=gen.config.cache, hdri=gen.config.hdri)
    render_to_folder(tmp_path / "png", **kw)
    render_to_folder(tmp_path / "only", pack=True, png=False, **kw)
    assert not list((tmp_path / "only").glob("*.png"))
    src = folder_source(tmp_path / "only")
    assert isinstance(src, PackedSource) and len(src) == 3
    for k, sid in enumerate(src.ids):
        a, b = src.load(k)[0], read_sample(tmp_path / "png", sid)
        assert np.array_equal(a.image, b.image) and np.array_equal(a.landmarks, b.landmarks)
    (tmp_path / "only" / LABELS).unlink()                                  # as if the render was cut short
    with pytest.raises(FileNotFoundError, match="exist only in"):
        folder_source(tmp_path / "only")
    with pytest.raises(ValueError, match="needs pack"):
        render_to_folder(tmp_path / "x", png=False, **kw)
