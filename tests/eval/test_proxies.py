"""Offline proxies (camera control, flow consistency, reprojection) against scenes with known cameras."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mirage_world.errors import InputError
from mirage_world.eval.proxies import (
    camera_control_error,
    dis_flow,
    flow_consistency,
    match_features,
    relative_pose,
    reprojection_error,
)
from mirage_world.geometry.rotations import rot_x, rot_y
from mirage_world.geometry.trajectory import make_preset

H, W = 144, 192
K = np.array([[150.0, 0.0, W / 2], [0.0, 150.0, H / 2], [0.0, 0.0, 1.0]])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


def texture(seed: int, n: int = 512) -> np.ndarray:
    """Multi-scale random RGB texture ``(n, n, 3)`` float32 in [0, 1] (rich in SIFT features, not periodic)."""
    rng = np.random.default_rng(seed)
    t = np.zeros((n, n, 3), np.float32)
    for k, w in ((8, 0.5), (32, 0.3), (128, 0.2)):
        t += w * cv2.resize(rng.random((k, k, 3)).astype(np.float32), (n, n), interpolation=cv2.INTER_CUBIC)
    return np.clip(t, 0, 1)


def render_planes(c2w: np.ndarray, d_bg: float = 5.0, d_fg: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact ray casting of two textured planes in the world frame of camera 0 (OpenCV axes): a rectangle
    ``|x| < 0.7, |y| < 0.5`` at ``z = d_fg`` in front of an infinite plane at ``z = d_bg``. Pixel centres at +0.5.
    Returns the ``(H, W, 3)`` image and the ``(H, W)`` mask of the rectangle."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1) @ c2w[:3, :3].T
    C = c2w[:3, 3]

    def hit(d):
        s = (d - C[2]) / rays[..., 2]
        return C[:2] + s[..., None] * rays[..., :2], s

    def sample(tex, xy, extent):
        n = tex.shape[0]
        mx = ((xy[..., 0] / extent + 0.5) * n - 0.5).astype(np.float32)
        my = ((xy[..., 1] / extent + 0.5) * n - 0.5).astype(np.float32)
        return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    xy_bg, _ = hit(d_bg)
    xy_fg, s_fg = hit(d_fg)
    fg = (np.abs(xy_fg[..., 0]) < 0.7) & (np.abs(xy_fg[..., 1]) < 0.5) & (s_fg > 0)
    return np.where(fg[..., None], sample(TEX_FG, xy_fg, 2.0), sample(TEX_BG, xy_bg, 8.0)), fg


TEX_BG, TEX_FG = texture(1), texture(2)


def plane_clip(preset: str, n: int = 5, d: float = 3.0):
    c2w = make_preset(preset, n, d).numpy()
    return np.stack([render_planes(c)[0] for c in c2w]), c2w


# ------------------------------------------------------------------------------------------------ camera control


def test_pure_rotation_homography_true_pose_small_wrong_pose_large():
    """Frames made by cv2.warpPerspective with H = K R K^-1 (a camera turning about its centre)."""
    img = (texture(3)[:H, :W] * 255).astype(np.uint8)
    K_cv = K.copy()
    K_cv[:2, 2] -= 0.5  # OpenCV's warp puts pixel centres at integers
    c2w = np.tile(np.eye(4), (3, 1, 1))
    c2w[1:, :3, :3] = rot_y(np.radians([3.0, 6.0]))
    frames = [img]
    for k in (1, 2):
        Hm = K_cv @ c2w[k, :3, :3].T @ np.linalg.inv(K_cv)  # camera 0 -> camera k: R_k0 = R_k^T
        frames.append(cv2.warpPerspective(img, Hm, (W, H), flags=cv2.INTER_LINEAR))
    frames = np.stack(frames)
    r = camera_control_error(frames, c2w, K)
    assert r["counts"]["pairs"] == 2 and r["counts"]["rotation_scored"] == 2
    assert r["rotation_error_deg"]["max"] < 1.0, r
    assert [p["model"] for p in r["pairs"]] == ["rotation", "rotation"]  # no parallax: translation not scored
    assert r["counts"]["no_parallax"] == 2 and r["translation_error_deg"]["median"] is None
    wrong = c2w.copy()
    wrong[1:, :3, :3] = rot_x(np.radians([3.0, 6.0]))  # a tilt instead of a pan
    assert camera_control_error(frames, wrong, K)["rotation_error_deg"]["median"] > 3.0
    # a pan of the wrong size (2x) is caught too
    double = c2w.copy()
    double[1:, :3, :3] = rot_y(np.radians([6.0, 12.0]))
    assert camera_control_error(frames, double, K)["rotation_error_deg"]["median"] > 2.0


@pytest.mark.parametrize("preset", ["move_right", "orbit_left"])
def test_translation_direction_with_parallax(preset):
    frames, c2w = plane_clip(preset)
    r = camera_control_error(frames, c2w, K)
    assert r["counts"]["translation_scored"] == r["counts"]["pairs"] == 4
    assert r["rotation_error_deg"]["median"] < 0.5 and r["translation_error_deg"]["median"] < 3.0, r
    reversed_t = c2w.copy()
    reversed_t[:, :3, 3] *= -1  # same rotations, opposite travel
    assert camera_control_error(frames, reversed_t, K)["translation_error_deg"]["median"] > 150.0


def test_textureless_pairs_are_skipped_and_counted():
    frames = np.full((3, H, W, 3), 0.5)
    r = camera_control_error(frames, make_preset("pan_left", 3, 1.0), K)
    assert r["counts"]["skipped_few_matches"] == 2 and r["counts"]["rotation_scored"] == 0
    assert r["rotation_error_deg"] == {"mean": None, "median": None, "max": None}


def test_relative_pose_conventions():
    """``x_b = R x_a + t``: for camera b moved by +x in the world, points move by -x in its frame."""
    frames, c2w = plane_clip("move_right", n=2)
    pa, pb = match_features(frames[0], frames[1])
    assert len(pa) >= 20 and np.all((pa >= 0) & (pa <= [W, H]))
    est = relative_pose(pa, pb, K)
    assert est["model"] == "essential" and est["t"][0] < -0.99


# ------------------------------------------------------------------------------------------------ flow


def test_flow_identical_frames_zero():
    img = texture(4)[:H, :W]
    r = flow_consistency(np.stack([img, img, img]))
    assert r["fb_error_px"] < 1e-3 and r["flow_px"] < 1e-3 and r["consistent_fraction"] == 1.0
    assert len(r["pairs"]) == 2


def test_flow_known_shift():
    big = texture(5)[:H, : W + 8]
    a, b = big[:, :W], big[:, 3 : W + 3]  # content moves 3 px to the left
    f = dis_flow(a, b)
    assert f.shape == (H, W, 2)
    assert np.median(f[..., 0]) == pytest.approx(-3.0, abs=0.1) and abs(np.median(f[..., 1])) < 0.1
    r = flow_consistency(np.stack([a, b]))
    assert r["pairs"][0]["median_flow"][0] == pytest.approx(-3.0, abs=0.1)
    assert r["fb_error_px"] < 0.2 and r["consistent_fraction"] > 0.9
    assert r["flow_px"] == pytest.approx(3.0, abs=0.3)
    # the 3 columns leaving the frame on the left are not scored
    assert r["pairs"][0]["inside_fraction"] == pytest.approx(1 - 3 / W, abs=0.01)


def test_flow_inconsistent_content_scores_worse():
    a = texture(6)[:H, :W]
    r_new = flow_consistency(np.stack([a, texture(7)[:H, :W]]))  # unrelated content: flicker / hallucination
    assert r_new["fb_error_px"] > 1.0 and r_new["consistent_fraction"] < 0.7


# ------------------------------------------------------------------------------------------------ reprojection


def test_reprojection_procedural_world():
    from mirage_world.worlds import render_world

    torch.set_num_threads(1)
    clip = render_world(3, "move_right", n_frames=3, width=192, height=144, kind="indoor", aa="box", ss=2)
    r = reprojection_error(clip.frames_uint8, clip.depth[0], clip.c2w, clip.K)
    assert r["scored"] > 100 and r["median_px"] < 0.5 and r["within_fraction"] > 0.8, r
    wrong = clip.c2w.clone()
    wrong[:, :3, 3] *= 2.0  # the cameras travel twice as far as the frames show
    assert reprojection_error(clip.frames_uint8, clip.depth[0], wrong, clip.K)["median_px"] > 2.0


def test_reprojection_two_planes_exact_depth():
    frames, c2w = plane_clip("orbit_left", n=3)
    depth = np.where(render_planes(c2w[0])[1], 2.0, 5.0)  # camera 0 is the world frame: exact z-depth
    r = reprojection_error(frames, depth, c2w, K, step=2)
    assert [f["i"] for f in r["frames"]] == [2] and r["median_px"] < 0.5, r
    # without depth on the foreground (0 = unknown) those features are not scored
    r_bg = reprojection_error(frames, np.where(depth == 2.0, 0.0, depth), c2w, K, step=2)
    assert 0 < r_bg["scored"] < r["scored"]


def test_bad_inputs():
    frames, c2w = plane_clip("pan_left", n=3)
    with pytest.raises(InputError, match="step"):
        camera_control_error(frames, c2w, K, step=3)
    with pytest.raises(InputError, match=r"\(3, 4, 4\)"):
        camera_control_error(frames, c2w[:2], K)
    with pytest.raises(InputError, match="features"):
        camera_control_error(frames, c2w, K, method="surf")
    with pytest.raises(InputError, match="depth"):
        reprojection_error(frames, np.ones((10, 10)), c2w, K)
    with pytest.raises(InputError, match="F >= 2"):
        flow_consistency(frames[:1])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        flow_consistency(frames * 3)
