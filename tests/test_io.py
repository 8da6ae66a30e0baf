"""Tests for mirage_world.io (image/depth loading, intrinsics, video read/write)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mirage_world.errors import InputError
from mirage_world.io import (
    check_image_depth,
    default_intrinsics,
    intrinsics_from_normalized,
    load_depth,
    load_image,
    read_video,
    write_video,
)

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
RGBD = REAL / "rgbd"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data not available: {path}")
    return path


def test_input_error_is_value_error():
    assert issubclass(InputError, ValueError)


# ------------------------------------------------------------------------------------------------ images


def test_load_real_images():
    im = load_image(_need(RGBD / "TUM_color.png"))
    assert im.shape == (480, 640, 3) and im.dtype == np.uint8 and im.flags.c_contiguous
    assert load_image(RGBD / "SUN_color.jpg").shape == (480, 640, 3)
    assert load_image(RGBD / "NYU_color.ppm").shape == (480, 640, 3)


def test_load_image_converts_modes(tmp_path):
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (12, 10, 3) and np.array_equal(out[..., 1], gray)
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(str(tmp_path / "a.png"))
    assert out.shape == (5, 6, 3) and (out[..., 0] == 200).all()
    g16 = np.full((4, 4), 65535, np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), g16)
    assert (load_image(tmp_path / "g16.png") == 255).all()


def test_load_image_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"definitely not a png")
    with pytest.raises(InputError, match="cannot read image"):
        load_image(tmp_path / "junk.png")
    with pytest.raises(InputError, match="not a file"):
        load_image(tmp_path)


# ------------------------------------------------------------------------------------------------ depth


def test_load_real_tum_depth_range():
    d = load_depth(_need(RGBD / "TUM_depth.png"), depth_scale=5000.0)
    assert d.shape == (480, 640) and d.dtype == np.float32
    valid = d[d > 0]
    assert 1.4 < valid.min() < 1.6 and 9.2 < valid.max() < 9.4
    assert 0.15 < (d == 0).mean() < 0.25  # ~19 % invalid stays 0
    check_image_depth(load_image(RGBD / "TUM_color.png"), d)


def test_load_depth_png_scales_and_npy_metres(tmp_path):
    raw = np.array([[0, 1000, 2500], [65535, 10, 0]], np.uint16)
    cv2.imwrite(str(tmp_path / "d16.png"), raw)
    assert np.allclose(load_depth(tmp_path / "d16.png"), raw / 1000.0)
    assert np.allclose(load_depth(tmp_path / "d16.png", depth_scale=5000), raw / 5000.0)
    raw8 = np.array([[0, 10], [200, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "d8.png"), raw8)
    assert np.allclose(load_depth(tmp_path / "d8.png", depth_scale=100), raw8 / 100.0)
    m = np.array([[0.0, 1.25], [3.5, 7.0]])
    np.save(tmp_path / "d.npy", m)
    out = load_depth(tmp_path / "d.npy", depth_scale=5000)  # metres: scale not applied
    assert out.dtype == np.float32 and np.allclose(out, m)


@pytest.mark.parametrize(
    "arr, fragment",
    [
        (np.array([[1.0, np.nan], [1.0, 1.0]]), "NaN or infinite"),
        (np.array([[1.0, np.inf], [1.0, 1.0]]), "NaN or infinite"),
        (np.array([[1.0, -0.5], [1.0, 1.0]]), "negative"),
        (np.ones((2, 2, 3)), "2-D"),
        (np.ones(5), "2-D"),
        (np.pad(np.ones((1, 1)), ((0, 20), (0, 20))), "zero/invalid almost everywhere"),
        (np.zeros((4, 4)), "zero/invalid almost everywhere"),
        (np.array([["a", "b"]]), "numeric"),
    ],
)
def test_load_depth_bad_values(tmp_path, arr, fragment):
    np.save(tmp_path / "bad.npy", arr)
    with pytest.raises(InputError, match=fragment):
        load_depth(tmp_path / "bad.npy")


def test_load_depth_other_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_depth(tmp_path / "missing.png")
    for s in (0, -1000, float("nan"), "abc"):
        with pytest.raises(InputError, match="depth_scale"):
            load_depth(tmp_path / "missing.png", depth_scale=s)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(InputError, match="cannot decode"):
        load_depth(tmp_path / "junk.png")
    cv2.imwrite(str(tmp_path / "rgb.png"), np.ones((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="single-channel"):
        load_depth(tmp_path / "rgb.png")


def test_check_image_depth():
    check_image_depth(np.zeros((4, 6, 3), np.uint8), np.ones((4, 6), np.float32))
    check_image_depth(torch.zeros(4, 6, 3), torch.ones(4, 6))
    with pytest.raises(InputError, match="6x4.*5x4|5x4.*6x4") as ei:
        check_image_depth(np.zeros((4, 6, 3), np.uint8), np.ones((4, 5)))
    assert "same size" in str(ei.value)
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        check_image_depth(np.zeros((4, 6)), np.ones((4, 6)))
    with pytest.raises(InputError, match=r"\(H, W\)"):
        check_image_depth(np.zeros((4, 6, 3)), np.ones((1, 4, 6)))
    with pytest.raises(InputError):
        check_image_depth([[1]], np.ones((1, 1)))


# ------------------------------------------------------------------------------------------------ intrinsics


def test_default_intrinsics():
    K = default_intrinsics(640, 480, fov_deg=90)
    assert K.dtype == torch.float64 and K.shape == (3, 3)
    assert torch.allclose(K, torch.tensor([[320.0, 0, 320], [0, 320.0, 240], [0, 0, 1]], dtype=torch.float64))
    K60 = default_intrinsics(640, 480)
    assert math.isclose(K60[0, 0].item(), 320.0 / math.tan(math.radians(30)))
    for bad in ((0, 480, 60), (640, 480, 0), (640, 480, 180), (640.5, 480, 60)):
        with pytest.raises(InputError):
            default_intrinsics(*bad)


def test_intrinsics_from_normalized():
    K = intrinsics_from_normalized(0.474812461, 0.844111024, 0.5, 0.5, 640, 360)
    assert torch.allclose(
        K,
        torch.tensor([[0.474812461 * 640, 0, 320], [0, 0.844111024 * 360, 180], [0, 0, 1]], dtype=torch.float64),
    )
    with pytest.raises(InputError, match="focal"):
        intrinsics_from_normalized(0.0, 1.0, 0.5, 0.5, 10, 10)
    with pytest.raises(InputError, match="finite"):
        intrinsics_from_normalized(1.0, 1.0, float("nan"), 0.5, 10, 10)
    with pytest.raises(InputError, match="width"):
        intrinsics_from_normalized(1.0, 1.0, 0.5, 0.5, 0, 10)


# ------------------------------------------------------------------------------------------------ video


def _smooth_frames(T: int, H: int, W: int) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    frames = np.empty((T, H, W, 3), np.uint8)
    for t in range(T):
        frames[t, ..., 0] = (x * 255 // max(W - 1, 1) + 8 * t) % 256
        frames[t, ..., 1] = y * 255 // max(H - 1, 1)
        frames[t, ..., 2] = 128
    return frames


def test_video_roundtrip(tmp_path):
    frames = _smooth_frames(6, 32, 48)
    path = tmp_path / "sub" / "v.mp4"
    write_video(path, frames, fps=8)
    back = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    # lossy H.264 + 4:2:0 chroma subsampling: small mean error on gradients, near exact on flat colour
    assert np.abs(back.astype(int) - frames).mean() < 5.0
    flat = np.broadcast_to(np.array([200, 30, 90], np.uint8), (2, 16, 16, 3)).copy()
    write_video(tmp_path / "flat.mp4", flat, fps=8)
    assert np.abs(read_video(tmp_path / "flat.mp4").astype(int) - flat).max() <= 3


def test_video_odd_size_is_padded(tmp_path):
    frames = _smooth_frames(3, 31, 45)
    write_video(tmp_path / "odd.mp4", frames, fps=24.0)
    back = read_video(tmp_path / "odd.mp4")
    assert back.shape == (3, 32, 46, 3)
    assert np.abs(back[:, :31, :45].astype(int) - frames).mean() < 5.0


def test_video_errors(tmp_path):
    good = _smooth_frames(2, 8, 8)
    for bad in (good.astype(np.float32), good[0], good[..., :2], np.zeros((0, 8, 8, 3), np.uint8), [good]):
        with pytest.raises(InputError, match="frames"):
            write_video(tmp_path / "x.mp4", bad, fps=10)
    for fps in (0, -5, float("inf"), "fast"):
        with pytest.raises(InputError, match="fps"):
            write_video(tmp_path / "x.mp4", good, fps=fps)
    with pytest.raises(InputError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="cannot read video"):
        read_video(tmp_path / "junk.mp4")


def test_load_mask_png_npy_and_errors(tmp_path):
    from mirage_world.io import load_mask

    m = np.zeros((6, 8, 3), np.uint8)
    m[2, 3, 1] = 255  # any non-zero channel counts
    cv2.imwrite(str(tmp_path / "m.png"), m)
    got = load_mask(tmp_path / "m.png", (6, 8))
    assert got.dtype == bool and got.sum() == 1 and got[2, 3]
    np.save(tmp_path / "m.npy", np.eye(4, dtype=bool))
    assert load_mask(tmp_path / "m.npy").sum() == 4
    with pytest.raises(InputError, match="8x6"):
        load_mask(tmp_path / "m.png", (4, 4))
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="bool or numeric"):
        load_mask(tmp_path / "s.npy")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="cannot decode"):
        load_mask(tmp_path / "bad.png")


# ------------------------------------------------------------------------------------------------ the boundary


def test_load_image_photo_checks(tmp_path):
    """``min_side`` and ``allow_depth_like=False`` (what ``mirage generate`` asks of a photo)."""
    cv2.imwrite(str(tmp_path / "one.png"), np.zeros((1, 1, 3), np.uint8))
    assert load_image(tmp_path / "one.png").shape == (1, 1, 3)  # the default accepts any size
    with pytest.raises(InputError, match="at least 16x16"):
        load_image(tmp_path / "one.png", min_side=16)
    cv2.imwrite(str(tmp_path / "d16.png"), np.full((20, 20), 1500, np.uint16))
    assert load_image(tmp_path / "d16.png").shape == (20, 20, 3)  # converted by default
    with pytest.raises(InputError, match="looks like a depth map"):
        load_image(tmp_path / "d16.png", allow_depth_like=False)
    Image.fromarray(np.full((20, 20), 2.5, np.float32), "F").save(tmp_path / "f.tiff")
    with pytest.raises(InputError, match="32-bit.*depth map"):
        load_image(tmp_path / "f.tiff", allow_depth_like=False)
    Image.fromarray(np.zeros((20, 20), np.uint8), "L").save(tmp_path / "grey.png")
    assert load_image(tmp_path / "grey.png", min_side=16, allow_depth_like=False).shape == (20, 20, 3)


def test_size_limits_checked_from_the_header(tmp_path):
    """Images over MAX_IMAGE_SIDE are refused before decoding; depth / mask maps too."""
    from mirage_world.io import MAX_IMAGE_SIDE, load_mask

    wide = np.zeros((1, MAX_IMAGE_SIDE + 1), np.uint8)
    cv2.imwrite(str(tmp_path / "wide.png"), wide)
    with pytest.raises(InputError, match="larger than the limit"):
        load_image(tmp_path / "wide.png")
    cv2.imwrite(str(tmp_path / "wide16.png"), wide.astype(np.uint16) + 1000)
    with pytest.raises(InputError, match="larger than the limit"):
        load_depth(tmp_path / "wide16.png")
    np.save(tmp_path / "wide.npy", np.ones((1, MAX_IMAGE_SIDE + 1), np.float32))
    with pytest.raises(InputError, match="larger than the limit"):
        load_depth(tmp_path / "wide.npy")
    with pytest.raises(InputError, match="larger than the limit"):
        load_mask(tmp_path / "wide.png")


def test_depth_overflowing_float32_and_unreadable_paths(tmp_path):
    np.save(tmp_path / "huge.npy", np.full((4, 4), 1e300))
    with pytest.raises(InputError, match="too large for float32"):
        load_depth(tmp_path / "huge.npy")
    with pytest.raises(InputError, match="cannot be used"):
        load_image(str(tmp_path / "a\x00b.png"))
    with pytest.raises(InputError, match="longer than|cannot be used|not found"):
        load_depth(tmp_path / ("d" * 400 + ".png"))


def test_check_output_path(tmp_path):
    from mirage_world.io import check_output_path

    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir.mp4").mkdir()
    assert check_output_path(tmp_path / "new" / "deeper" / "v.mp4", "--out") == tmp_path / "new" / "deeper" / "v.mp4"
    assert not (tmp_path / "new").exists()  # nothing created
    assert check_output_path(tmp_path / "file.txt", "--out") == tmp_path / "file.txt"  # overwritten at the end
    with pytest.raises(InputError, match="is a folder"):
        check_output_path(tmp_path / "dir.mp4", "--out")
    with pytest.raises(InputError, match="output folder.*not a folder"):
        check_output_path(tmp_path / "file.txt" / "sub" / "v.mp4", "--out")
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_output_path(tmp_path / "file.txt", "--out", folder=True)
    assert check_output_path(tmp_path / "dir.mp4", "--out", folder=True) == tmp_path / "dir.mp4"
    with pytest.raises(InputError, match="longer than"):
        check_output_path(tmp_path / ("x" * 300 + ".mp4"), "--out")
    with pytest.raises(InputError, match="longer than"):
        check_output_path(tmp_path / ("x" * 250 + ".mp4"), "--out", extra_name_chars=10)  # room for "_sbs"
    with pytest.raises(InputError, match="empty"):
        check_output_path("", "--out")
    with pytest.raises(InputError, match="cannot be used"):
        check_output_path(str(tmp_path / "a\x00b.mp4"), "--out")


def test_output_set_commits_together_or_leaves_nothing(tmp_path):
    from mirage_world.io import OutputSet

    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.txt").write_text("old a")
    with OutputSet() as outs:
        outs.temp_path(tmp_path / "keep" / "a.txt").write_text("new a")
        outs.temp_path(tmp_path / "new" / "sub" / "b.txt").write_text("new b")
        assert (tmp_path / "keep" / "a.txt").read_text() == "old a"  # nothing replaced before the commit
        outs.commit()
    assert (tmp_path / "keep" / "a.txt").read_text() == "new a" and (tmp_path / "new" / "sub" / "b.txt").is_file()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.txt", "keep", "new", "sub"]

    with pytest.raises(RuntimeError, match="interrupted"):
        with OutputSet() as outs:
            outs.temp_path(tmp_path / "keep" / "a.txt").write_text("newer a")
            p = outs.temp_path(tmp_path / "other" / "deep" / "c.bin")
            p.write_bytes(b"c")
            p.with_name(p.name + ".tmp").write_bytes(b"a writer's own temporary file")
            raise RuntimeError("interrupted")
    assert (tmp_path / "keep" / "a.txt").read_text() == "new a"
    assert not (tmp_path / "other").exists()  # the folders it created are gone too
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.txt", "keep", "new", "sub"]
