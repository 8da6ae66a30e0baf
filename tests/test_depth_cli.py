"""``mirage depth`` (``mirage_world.depth_cli``) in-process with Typer's ``CliRunner``, on a real photo (TUM RGB-D)
with tiny random Depth Anything checkpoints passed through ``--model FOLDER``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from testing_utils import cli_runner, save_tiny_depth_model, stderr_of

from mirage_world import depth_cli
from mirage_world.io import load_depth, load_image


def _invoke(*args, app=None):
    return cli_runner().invoke(app or depth_cli.app, ["depth", *[str(a) for a in args]])


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    save = save_tiny_depth_model
    d = tmp_path_factory.mktemp("depth_models")
    save(d / "metric", "metric")
    save(d / "relative", "relative")
    return d


@pytest.fixture(scope="module")
def photo(real_data):
    return real_data / "rgbd" / "TUM_color.png"


def _ok(r):
    assert r.exit_code == 0, f"exit {r.exit_code}\n{r.stdout}\n{stderr_of(r)}\n{r.exception!r}"
    return r


def _error(r, *fragments):
    err = stderr_of(r)
    assert r.exit_code == 2, f"exit {r.exit_code}\n{r.stdout}\n{err}\n{r.exception!r}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def test_writes_npy_and_png16(models, photo, tmp_path):
    from mirage_world.models.depth import DepthEstimator

    out, png = tmp_path / "sub" / "d.npy", tmp_path / "d.png"
    r = _ok(_invoke(photo, "--out", out, "--model", models / "metric", "--png16", png, "--png-scale", 5000,
                    "--device", "cpu", "--threads", 1))
    assert "wrote" in r.stdout and "metric depth" in r.stdout
    dep = np.load(out)
    assert dep.shape == (480, 640) and dep.dtype == np.float32 and (dep > 0).all() and (dep <= 10).all()
    np.testing.assert_array_equal(dep, DepthEstimator(models / "metric", device="cpu")(load_image(photo)))
    raw = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (480, 640)
    np.testing.assert_array_equal(raw, np.round(dep.astype(np.float64) * 5000).astype(np.uint16))
    # the PNG reads back as the same metres (to 1 / 5000 m) through mirage generate's reader
    np.testing.assert_allclose(load_depth(png, depth_scale=5000), dep, atol=1e-4)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d.npy", "d.png", "sub"]  # no temporary files left


def test_relative_model_needs_a_median(models, photo, tmp_path, monkeypatch):
    out = tmp_path / "r.npy"
    _error(_invoke(photo, "--out", out, "--model", models / "relative"), "--median-depth", "relative")
    assert not out.exists()
    r = _ok(_invoke(photo, "--out", out, "--model", models / "relative", "--median-depth", 2.5, "--device", "cpu"))
    dep = np.load(out)
    assert np.median(dep[dep > 0]) == pytest.approx(2.5, rel=1e-4) and "relative depth" in r.stdout


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the weights are loaded (the error must come before)."""
    from mirage_world.models import depth as depth_mod

    def boom(*a, **k):
        raise AssertionError("the model was loaded before the error")

    monkeypatch.setattr(depth_mod.DepthEstimator, "__init__", boom)


@pytest.mark.parametrize("args, fragment", [
    (["--out", "{t}/d.txt"], "--out must end in .npy"),
    (["--out", "{t}/d.npy", "--png16", "{t}/d.jpg"], "--png16 must end in .png"),
    (["--out", "{t}/d.npy", "--png-scale", "1000"], "--png-scale needs --png16"),
    (["--out", "{t}/d.npy", "--png16", "{t}/d.png", "--png-scale", "0"], "--png-scale must be in"),
    (["--out", "{t}/d.npy", "--png16", "{t}/d.png", "--png-scale", "nan"], "--png-scale must be in"),
    (["--out", "{t}/d.npy", "--median-depth", "-1"], "--median-depth must be in"),
    (["--out", "{t}/d.npy", "--median-depth", "inf"], "--median-depth must be in"),
    (["--out", "{t}/d.npy", "--device", "gpu0"], "--device must be"),
    (["--out", "{t}/d.npy", "--threads", "0"], "--threads must be in"),
    (["--out", "{t}/blocker/d.npy"], "not a folder"),
    (["--out", "{t}/d.npy", "--bogus"], "No such option"),
    (["--out", "{t}/d.npy", "--model", "{t}/no_such_folder/x"], "folder not found"),
    (["--out", "{t}/d.npy", "--model", "mirage-test/no-such-depth-model"], "hf download mirage-test/no-such-depth-model"),
    (["--out", "{t}/d.npy", "--model", "relative"], "hf download depth-anything/Depth-Anything-V2-Small-hf"),
])
def test_errors_come_before_the_model(args, fragment, photo, tmp_path, no_model_load):
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    args = [a.replace("{t}", str(tmp_path)) for a in args]
    _error(_invoke(photo, *args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_bad_photos(real_data, tmp_path, no_model_load):
    _error(_invoke(tmp_path / "missing.png", "--out", tmp_path / "d.npy"), "image file not found")
    _error(_invoke(real_data / "rgbd" / "TUM_depth.png", "--out", tmp_path / "d.npy"), "looks like a depth map")
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((8, 8, 3), np.uint8))
    _error(_invoke(tmp_path / "small.png", "--out", tmp_path / "d.npy"), "at least 16x16")
    _error(_invoke(tmp_path / "small.png", "--out", tmp_path / "small.png"), "--out must end in .npy")
    _error(_invoke(tmp_path / "small.png", "--out", tmp_path / "d.npy", "--png16", tmp_path / "d.npy"),
           "--png16 must end in .png")


def test_a_failed_write_leaves_nothing(models, photo, tmp_path, monkeypatch):
    monkeypatch.setattr(cv2, "imencode", lambda *a, **k: (False, None))
    out = tmp_path / "new" / "d.npy"
    _error(_invoke(photo, "--out", out, "--model", models / "metric", "--png16", tmp_path / "d.png",
                   "--device", "cpu"), "cannot write")
    assert list(tmp_path.iterdir()) == []  # neither the .npy nor the folder made for it


def test_registered_in_the_mirage_command(models, photo, tmp_path):
    from mirage_world import cli

    names = [c.name for c in cli.app.registered_commands]
    if "depth" not in names:
        pytest.skip("mirage depth is not registered in mirage_world.cli yet")
    out = tmp_path / "d.npy"
    _ok(_invoke(photo, "--out", out, "--model", models / "metric", "--device", "cpu", app=cli.app))
    assert np.load(out).shape == (480, 640)
