"""Tests for mirage_world.eval.consistency and benchmarks/consistency.py: exact warps, z-buffer, PSNR, sheets."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mirage_world.eval.consistency import (
    consistency_metrics,
    contact_sheet,
    contact_sheet_indices,
    forward_warp,
    forward_warp_reference,
    pose_distance,
    psnr,
    remove_see_through,
    save_contact_sheet,
)

REPO = Path(__file__).resolve().parents[2]


def pose(rotvec_deg=(0.0, 0.0, 0.0), t=(0.0, 0.0, 0.0)) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(np.radians(rotvec_deg)).as_matrix()
    T[:3, 3] = t
    return T


def intrinsics(f, w, h) -> np.ndarray:
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


# ----------------------------------------------------------------------------------------------------------------
# forward warp


def test_identity_warp_returns_the_photo_where_depth_is_valid():
    rng = np.random.default_rng(0)
    img = rng.random((6, 7, 3))
    dep = rng.uniform(0.5, 5.0, (6, 7))
    dep[rng.random((6, 7)) < 0.3] = 0.0
    T = pose((10, -20, 5), (0.3, -1.0, 2.0))  # any pose, same for source and target
    warped, covered = forward_warp(img, dep, intrinsics(5.0, 7, 6), T, T)
    assert np.array_equal(covered, dep > 0)
    assert np.array_equal(warped[dep > 0], img[dep > 0])
    assert not warped[dep == 0].any()


@pytest.mark.parametrize("axis,t,shift", [(0, 0.4, 2), (0, -0.6, -3), (1, 0.2, 1)])
def test_sideways_translation_of_a_plane_shifts_by_f_t_over_z(axis, t, shift):
    # fronto-parallel plane at z = 2 m, f = 10 px: moving the camera by t along its x (y) axis moves the image by
    # -f t / z pixels along u (v).
    rng = np.random.default_rng(1)
    img = rng.random((8, 9, 3))
    src = pose((3, 7, -2), (1.0, 0.5, -0.3))
    move = np.eye(4)
    move[axis, 3] = t
    dst = src @ move  # translation along the source camera's own axis
    warped, covered = forward_warp(img, np.full((8, 9), 2.0), intrinsics(10.0, 9, 8), src, dst)
    assert 10.0 * abs(t) / 2.0 == abs(shift)
    exp = np.roll(img, -shift, axis=1 - axis)
    exp_cov = np.ones((8, 9), dtype=bool)
    sl = [slice(None), slice(None)]
    sl[1 - axis] = slice(-shift, None) if shift > 0 else slice(None, -shift)
    exp_cov[tuple(sl)] = False
    assert np.array_equal(covered, exp_cov)
    assert np.array_equal(warped[exp_cov], exp[exp_cov])


def test_nearest_surface_wins():
    # left half near (1 m), right half far (4 m); the camera moves 0.4 m left: near shifts 4 px right, far 1 px,
    # so the near half lands on top of the far one in target columns 7..9.
    H, W = 3, 12
    img = np.zeros((H, W, 3))
    img[:, :6, 0] = np.linspace(0.1, 0.6, 6)  # near: red ramp
    img[:, 6:, 2] = np.linspace(0.1, 0.6, 6)  # far: blue ramp
    dep = np.where(np.arange(W) < 6, 1.0, 4.0)[None].repeat(H, 0)
    warped, covered, zbuf = forward_warp(img, dep, intrinsics(10.0, W, H), np.eye(4), pose(t=(-0.4, 0, 0)),
                                         return_depth=True)
    assert not covered[:, :4].any() and covered[:, 4:].all()
    assert np.array_equal(warped[:, 4:10], img[:, 0:6])  # near everywhere it lands, including over the far half
    assert np.array_equal(warped[:, 10:12], img[:, 9:11])
    assert np.allclose(zbuf[:, 4:10], 1.0) and np.allclose(zbuf[:, 10:], 4.0) and np.isinf(zbuf[:, :4]).all()
    ref = forward_warp_reference(img, dep, intrinsics(10.0, W, H), np.eye(4), pose(t=(-0.4, 0, 0)), return_depth=True)
    for a, b in zip((warped, covered, zbuf), ref, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_warp_matches_the_loop_reference(seed):
    rng = np.random.default_rng(seed)
    H, W = 9, 11
    img = rng.random((H, W, 3)).astype(np.float32)
    dep = rng.uniform(1.0, 4.0, (H, W))
    dep[rng.random((H, W)) < 0.2] = 0
    K = intrinsics(8.0, W, H)
    src = pose(rng.normal(0, 10, 3), rng.normal(0, 0.5, 3))
    # backwards (many points per target pixel: the z-test matters) and sideways with a rotation
    dst = src @ pose(rng.normal(0, 8, 3), (rng.normal(0, 0.3), rng.normal(0, 0.3), -1.5))
    K_dst = intrinsics(6.0, 10, 7)
    for kw in ({}, {"K_dst": K_dst, "dst_hw": (7, 10)}):
        a = forward_warp(img, dep, K, src, dst, return_depth=True, **kw)
        b = forward_warp_reference(img, dep, K, src, dst, return_depth=True, **kw)
        assert np.array_equal(a[1], b[1]) and a[1].any()
        assert a[1].sum() < (dep > 0).sum()  # collisions happened
        assert np.array_equal(a[0], b[0])
        assert np.allclose(a[2][a[1]], b[2][b[1]], rtol=1e-12)
    # torch inputs give the same result
    t = forward_warp(torch.from_numpy(img), torch.from_numpy(dep), torch.from_numpy(K), torch.from_numpy(src),
                     torch.from_numpy(dst))
    assert np.array_equal(t[0], forward_warp(img, dep, K, src, dst)[0])


def test_points_behind_the_target_camera_are_dropped():
    img = np.full((4, 4, 3), 0.5)
    warped, covered = forward_warp(img, np.full((4, 4), 1.0), intrinsics(4.0, 4, 4), np.eye(4), pose((0, 180, 0)))
    assert not covered.any() and not warped.any()


def test_remove_see_through_drops_far_pixels_next_to_near_ones_only():
    z = np.full((5, 5), 2.0)
    z[2, 2] = 5.0  # background showing through a gap of a 2 m surface
    cov = np.ones((5, 5), dtype=bool)
    keep = remove_see_through(cov, z)
    assert not keep[2, 2] and keep.sum() == 24
    z2 = np.full((5, 5), np.inf)
    z2[:, :3] = 2.0
    z2[:, 3:] = 2.1  # continuous surface within 10 %
    assert np.array_equal(remove_see_through(np.isfinite(z2), z2), np.isfinite(z2))
    with pytest.raises(ValueError):
        remove_see_through(cov, z, window=2)


# ----------------------------------------------------------------------------------------------------------------
# PSNR, poses, sheets


def test_psnr():
    a = np.zeros((4, 5, 3))
    assert psnr(a, a) == math.inf
    assert psnr(a, np.full((4, 5, 3), 0.1)) == pytest.approx(20.0)
    assert psnr(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)) == pytest.approx(0.0)
    b = a.copy()
    b[0, 0] = 1.0
    m = np.ones((4, 5), dtype=bool)
    m[0, 0] = False
    assert psnr(a, b, m) == math.inf
    assert psnr(a, b) == pytest.approx(10 * math.log10(20))  # one pixel of 20 off by 1 in every channel
    with pytest.raises(ValueError):
        psnr(a, b, np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError):
        psnr(a, np.zeros((4, 6, 3)))
    with pytest.raises(ValueError):
        psnr(a, np.full((4, 5, 3), np.nan))
    with pytest.raises(ValueError):
        psnr(a, np.full((4, 5, 3), 2.0))


def test_pose_distance():
    dt, dr = pose_distance(pose((0, 0, 0)), pose((0.03, 0.04, 0), (0.3, 0.4, 0)))
    assert dt == pytest.approx(0.5) and dr == pytest.approx(0.05, rel=1e-6)


def test_contact_sheet_grid_and_last_frame(tmp_path):
    N, H, W = 20, 8, 10
    frames = (np.arange(N, dtype=np.uint8) * 10)[:, None, None, None].repeat(H, 1).repeat(W, 2).repeat(3, 3)
    assert contact_sheet_indices(20) == [0, 8, 16, 19] and contact_sheet_indices(17) == [0, 8, 16]
    assert contact_sheet_indices(1) == [0]
    sheet = contact_sheet(frames, labels=False)
    assert sheet.shape == (2 * H, 2 * W, 3) and sheet.dtype == np.uint8
    for (r, c), f in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0, 8, 16, 19], strict=True):
        assert (sheet[r * H : (r + 1) * H, c * W : (c + 1) * W] == f * 10).all()
    assert contact_sheet(frames, columns=3, labels=False).shape == (2 * H, 3 * W, 3)
    assert contact_sheet(frames, every=5, columns=10, labels=False).shape == (H, 5 * W, 3)  # 0 5 10 15 19, capped
    before = frames.copy()
    labelled = contact_sheet(frames.astype(np.float32) / 255.0)
    assert np.array_equal(contact_sheet(frames), labelled) and np.array_equal(frames, before)  # input untouched
    assert labelled.shape == sheet.shape and not np.array_equal(labelled, sheet)
    p = save_contact_sheet(frames, tmp_path / "sub" / "c.png")
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), contact_sheet(frames))
    with pytest.raises(ValueError):
        contact_sheet(frames[0])
    with pytest.raises(ValueError):
        contact_sheet(frames, every=0)
    with pytest.raises(ValueError):
        save_contact_sheet(frames, tmp_path / "c.jpg")


# ----------------------------------------------------------------------------------------------------------------
# the probe


def texture(X, Y):
    """Smooth colour texture on the plane, wavelengths of about 12 px at the test's scale."""
    return np.stack([0.5 + 0.2 * np.sin(2 * np.pi * X / 1.1 + p) + 0.2 * np.cos(2 * np.pi * Y / 0.9 + 2 * p)
                     for p in (0.0, 1.0, 2.0)], axis=-1)


def render_plane(K, c2w, hw, z0=3.0):
    """Exact ray-traced image of the textured plane Z = z0 (world) seen from ``c2w``, and its z-depth."""
    H, W = hw
    v, u = np.mgrid[0:H, 0:W] + 0.5
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)  # camera, z = 1
    d = rays @ c2w[:3, :3].T
    s = (z0 - c2w[2, 3]) / d[..., 2]
    X = c2w[:3, 3] + s[..., None] * d
    return texture(X[..., 0], X[..., 1]), s  # s is the z-depth since rays have camera z = 1


def plane_video(loop: bool):
    H, W = 48, 64
    K = intrinsics(32.0, W, H)
    c2w = [pose((0, 3 * a, 0), (0.3 * a, -0.1 * a, 0.2 * a)) for a in np.sin(np.linspace(0, np.pi, 9))]
    c2w[-1] = np.eye(4) if loop else pose((0, 2, 1), (0.2, 0, 0))
    frames, depths = zip(*(render_plane(K, T, (H, W)) for T in c2w), strict=True)
    return np.stack(frames), depths[0], K, np.stack(c2w)


def test_metrics_of_a_consistent_video_are_high_and_of_noise_low():
    frames, dep, K, c2w = plane_video(loop=True)
    m = consistency_metrics(frames, frames[0], dep, K, c2w)
    assert m["first_frame_psnr"] == math.inf
    assert m["covered_psnr_mean"] > 27.0, m["per_frame_covered_psnr"]  # ~29.5: nearest-pixel splatting
    assert m["frames_scored"] == 8 and m["frames_skipped"] == 0
    assert 0.6 < m["covered_fraction_mean"] < 1.0 and m["per_frame_covered_fraction"][0] == 1.0
    assert len(m["per_frame_covered_psnr"]) == 9 and m["per_frame_covered_psnr"][0] == math.inf
    assert m["returns_to_start"] and m["last_frame_psnr"] == math.inf
    json.dumps(m)  # plain Python types

    noise = np.random.default_rng(0).random(frames.shape)
    n = consistency_metrics(noise, frames[0], dep, K, c2w)
    assert n["covered_psnr_mean"] < 12.0 and n["first_frame_psnr"] < 12.0

    # a video made by forward-warping the photo itself (noise where nothing lands) is exact on covered pixels
    warped = []
    for T in c2w:
        w, cov = forward_warp(frames[0], dep, K, c2w[0], T)
        warped.append(np.where(cov[..., None], w, noise[0]))
    assert consistency_metrics(np.stack(warped), frames[0], dep, K, c2w)["covered_psnr_mean"] == math.inf


def test_metrics_open_path_and_skipped_frames():
    frames, dep, K, c2w = plane_video(loop=False)
    m = consistency_metrics((frames * 255).round().astype(np.uint8), frames[0], dep, K, c2w)
    assert not m["returns_to_start"] and m["last_frame_psnr"] is None
    assert m["start_end_translation_m"] == pytest.approx(0.2)
    c2w[4] = c2w[0] @ pose((0, 180, 0))  # looks away from the plane: nothing covered, skipped
    m = consistency_metrics(frames, frames[0], dep, K, c2w)
    assert m["frames_skipped"] == 1 and m["frames_scored"] == 7 and m["per_frame_covered_psnr"][4] is None
    assert m["per_frame_covered_fraction"][4] == 0.0
    one = consistency_metrics(frames[:1], frames[0], dep, K, c2w[:1])
    assert one["covered_psnr_mean"] is None and one["covered_fraction_mean"] is None and one["returns_to_start"]


def test_bad_inputs_raise_value_error():
    img, dep, K, T = np.zeros((4, 5, 3)), np.ones((4, 5)), intrinsics(4.0, 5, 4), np.eye(4)
    bad_warps = [
        (img[..., 0], dep, K, T, T),  # image not (H, W, 3)
        (img, dep[:3], K, T, T),  # size mismatch
        (img, dep, K[:2], T, T),  # K shape
        (img, dep, K, T[:3], T),  # c2w shape
        (img, np.full((4, 5), np.nan), K, T, T),  # NaN depth
        (img, -dep, K, T, T),  # negative depth
        (img + 2, dep, K, T, T),  # out of [0, 1]
        (img, dep, np.diag([-1.0, 1, 1]), T, T),  # negative focal length
        (img, dep, K + np.array([[0, 0.5, 0], [0, 0, 0], [0, 0, 0]]), T, T),  # skew
        (img, dep, K, 2 * T, T),  # not rigid
        (img.tolist(), dep, K, T, T),  # not an array
    ]
    for args in bad_warps:
        with pytest.raises(ValueError):
            forward_warp(*args)
        with pytest.raises(ValueError):
            forward_warp_reference(*args)
    frames = np.zeros((3, 4, 5, 3))
    c2w = np.stack([T] * 3)
    for args in [(frames, img, dep, K, c2w[:2]), (frames[:, :3], img, dep, K, c2w), (frames[0], img, dep, K, c2w),
                 (frames, img, dep, K, c2w[0])]:
        with pytest.raises(ValueError):
            consistency_metrics(*args)
    with pytest.raises(ValueError):
        consistency_metrics(frames, img, dep, K, c2w, min_covered_fraction=2.0)


# ----------------------------------------------------------------------------------------------------------------
# benchmarks/consistency.py end to end


def test_benchmark_script_end_to_end(tmp_path, capsys):
    from mirage_world.io import write_video

    spec = importlib.util.spec_from_file_location("bench_consistency", REPO / "benchmarks" / "consistency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    frames, _, K, c2w = plane_video(loop=True)
    # grey: H.264 yuv420p halves the chroma resolution, which alone costs this colourful texture ~10 dB
    frames = frames.mean(-1, keepdims=True).repeat(3, -1)
    video = tmp_path / "out.mp4"
    write_video(video, (frames * 255).round().astype(np.uint8), fps=8)
    write_video(tmp_path / "out_sbs.mp4", (np.concatenate([frames, frames], 2) * 255).round().astype(np.uint8), fps=8)
    cams = [{"c2w": T.tolist(), "K": K.tolist()} for T in c2w]
    video.with_suffix(".json").write_text(json.dumps({"frames": 9, "width": 64, "height": 48, "cameras": cams}))
    # the photo and its depth at twice the video size (the script resizes them)
    K2 = K.copy()
    K2[:2] *= 2
    photo, depth2 = render_plane(K2, c2w[0], (96, 128))
    photo = photo.mean(-1, keepdims=True).repeat(3, -1)
    cv2.imwrite(str(tmp_path / "photo.png"), cv2.cvtColor((photo * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "depth.png"), (depth2 * 5000).round().astype(np.uint16))

    out = tmp_path / "m.json"
    res = mod.main(["--video", str(video), "--image", str(tmp_path / "photo.png"),
                    "--depth", str(tmp_path / "depth.png"), "--depth-scale", "5000", "--json", str(out), "--sbs"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text()) == res
    assert res["covered_psnr_mean"] > 27.0 and res["first_frame_psnr"] > 35.0 and res["returns_to_start"]
    assert isinstance(res["last_frame_psnr"], float) and res["frames_scored"] == 8
    sheet = cv2.imread(str(tmp_path / "out_contact.png"))
    assert sheet.shape == (48, 2 * 64, 3)  # frames 0 and 8 (the last) side by side
    assert cv2.imread(str(tmp_path / "out_sbs_contact.png")).shape == (48, 4 * 64, 3)
