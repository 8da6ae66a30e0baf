"""Tests for mirage_world.geometry.camera_files.geometry_npz: the one reader / writer of geometry.npz, shared by the
camera-path code and mirage_world.worlds (extra arrays kept, deterministic bytes), and the import direction."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mirage_world.errors import InputError
from mirage_world.geometry.camera_files import read_geometry_npz, write_geometry_npz

K = np.array([[50.0, 0, 8], [0, 50.0, 6], [0, 0, 1]])


def _clip(n=3, H=12, W=16):
    rng = np.random.default_rng(0)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, 0, 3] = np.arange(n) * 0.1
    extra = {"sky_mask": rng.random((n, H, W)) < 0.2, "instance": rng.integers(0, 255, (n, H, W), dtype=np.uint8),
             "times": np.arange(n, dtype=np.float32)}
    return c2w, rng.uniform(0.5, 9.0, (n, H, W)), rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8), extra


def test_extra_arrays_and_dtypes_kept(tmp_path):
    c2w, depths, frames, extra = _clip()
    p = write_geometry_npz(tmp_path / "clip" / "geometry.npz", c2w, K, depths, frames, extra=extra)
    cf = read_geometry_npz(p)
    a = cf.arrays
    assert list(a) == ["depths", "intrinsics", "poses_c2w", "frames", "sky_mask", "instance", "times"]
    assert a["poses_c2w"].dtype == np.float32 and a["intrinsics"].shape == (3, 3, 3)
    assert a["depths"].dtype == np.float32 and a["sky_mask"].dtype == bool and a["instance"].dtype == np.uint8
    for k, v in extra.items():
        np.testing.assert_array_equal(a[k], v)
    np.testing.assert_array_equal(a["frames"], frames)
    assert cf.image_hw == (12, 16) and np.abs(cf.c2w.numpy() - c2w).max() < 1e-6
    with pytest.raises(TypeError):
        a["depths"] = None  # read-only mapping
    with np.load(p) as z:  # a plain npz: numpy reads it
        assert sorted(z.files) == sorted(a)


def test_deterministic_bytes_and_bad_extra(tmp_path):
    c2w, depths, frames, extra = _clip()
    a = write_geometry_npz(tmp_path / "a.npz", c2w, K, depths, frames, extra=extra).read_bytes()
    b = write_geometry_npz(tmp_path / "b.npz", c2w, K, depths, frames, extra=extra).read_bytes()
    assert a == b and not (tmp_path / "a.npz.tmp").exists()
    for bad, frag in (({"depths": depths}, "clashes"), ({"bad name": depths}, "identifiers"),
                      ({"s": np.array(["x"])}, "numeric")):
        with pytest.raises(InputError, match=frag):
            write_geometry_npz(tmp_path / "c.npz", c2w, K, extra=bad)


def test_world_clips_use_the_same_reader_and_writer(tmp_path, monkeypatch):
    from mirage_world.worlds import dataset

    calls = []
    real_w, real_r = dataset.write_geometry_npz, dataset.read_geometry_npz
    monkeypatch.setattr(dataset, "write_geometry_npz", lambda *a, **k: calls.append("w") or real_w(*a, **k))
    monkeypatch.setattr(dataset, "read_geometry_npz", lambda *a, **k: calls.append("r") or real_r(*a, **k))
    assert real_w is write_geometry_npz and real_r is read_geometry_npz
    clip = dataset.render_world(3, "pan_left", 2, 16, 12)
    dataset.save_world_clip(clip, tmp_path / "c", png=False, video=False)
    g = dataset.load_world_clip(tmp_path / "c")
    assert calls == ["w", "r"]
    np.testing.assert_array_equal(g["poses_c2w"], clip.c2w.numpy())
    assert read_geometry_npz(tmp_path / "c" / "geometry.npz").kind == "geometry_npz"


def test_camera_files_does_not_import_trajectory():
    code = ("import sys, mirage_world.geometry.camera_files as c; "
            "print('mirage_world.geometry.trajectory' in sys.modules, hasattr(c, 'read_trajectory_log'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]
