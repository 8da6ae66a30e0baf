"""Tests for mirage_world.geometry.trajectory (relative-to-first, resampling, scale rule, presets, closed loops,
load_trajectory). The readers are tested in tests/geometry/camera_files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation
from testing_utils import RE10K, need, pose, rot_y

from mirage_world.errors import InputError
from mirage_world.geometry.camera import invert_pose, project_points
from mirage_world.geometry.camera_files import read_re10k
from mirage_world.geometry.trajectory import (
    CLOSED_LOOP_PRESETS,
    PRESETS,
    Trajectory,
    auto_trajectory_scale,
    load_trajectory,
    make_preset,
    relative_to_first,
    resample_path,
    scale_translation,
)


def _angle_deg(R: np.ndarray) -> float:
    return float(np.degrees(np.linalg.norm(Rotation.from_matrix(R).as_rotvec())))


K = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)


# ------------------------------------------------------------------------------------------------ relative_to_first


def test_relative_to_first_identity_and_relative_motion():
    c2w = read_re10k(need(RE10K)).c2w
    rel = relative_to_first(c2w)
    assert torch.equal(rel[0], torch.eye(4, dtype=torch.float64))
    # relative poses between frames are unchanged by the change of world frame
    a = invert_pose(c2w[3]) @ c2w[9]
    b = invert_pose(rel[3]) @ rel[9]
    assert torch.allclose(a, b, atol=1e-10)


# ------------------------------------------------------------------------------------------------ resampling


def test_resample_endpoints_and_slerp_midpoint():
    c2w = np.stack([pose(np.eye(3), [0, 0, 0]), pose(rot_y(60), [2, -4, 6])])
    out = resample_path(c2w, 3)
    assert out.shape == (3, 4, 4)
    assert np.array_equal(out[0].numpy(), c2w[0]) and np.array_equal(out[-1].numpy(), c2w[1])
    mid = out[1].numpy()
    assert math.isclose(_angle_deg(mid[:3, :3]), 30.0, abs_tol=1e-9)
    assert np.allclose(mid[:3, :3], rot_y(30), atol=1e-12)
    assert np.allclose(mid[:3, 3], [1, -2, 3])


def test_resample_real_path_endpoints_and_counts():
    c2w = relative_to_first(read_re10k(need(RE10K)).c2w)
    for n in (1, 7, 16, 49):
        out = resample_path(c2w, n)
        assert out.shape == (n, 4, 4)
        assert torch.equal(out[0], c2w[0])
        if n > 1:
            assert torch.equal(out[-1], c2w[-1])
    assert torch.equal(resample_path(c2w, 16), c2w)  # same count: unchanged
    R = resample_path(c2w, 49)[:, :3, :3]
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-12)


def test_resample_single_pose_and_bad_n():
    one = pose(rot_y(5), [1, 2, 3])[None]
    out = resample_path(one, 4)
    assert out.shape == (4, 4, 4) and np.allclose(out.numpy(), one[0])
    for n in (0, -1, 2.5, True):
        with pytest.raises(InputError):
            resample_path(one, n)
    with pytest.raises(InputError, match="shape"):
        resample_path(np.eye(4), 3)


# ------------------------------------------------------------------------------------------------ scale


def test_auto_trajectory_scale_synthetic():
    c2w = np.stack([np.eye(4), pose(np.eye(3), [1, 0, 0]), pose(rot_y(10), [0, 2, 0])])
    depth = np.full((8, 8), 4.0)
    depth[:2] = 0.0  # invalid pixels are ignored
    s = auto_trajectory_scale(c2w, depth)
    assert isinstance(s, float) and math.isclose(s, 0.25 * 4.0 / 2.0)
    scaled = scale_translation(c2w, s)
    assert math.isclose(float(scaled[:, :3, 3].norm(dim=-1).max()), 0.25 * 4.0)
    assert torch.allclose(scaled[:, :3, :3], torch.from_numpy(c2w[:, :3, :3]))
    # pure rotation: no translation to scale
    assert auto_trajectory_scale(np.stack([np.eye(4), pose(rot_y(20), [0, 0, 0])]), depth) == 1.0
    with pytest.raises(InputError, match="no valid"):
        auto_trajectory_scale(c2w, np.zeros((4, 4)))
    with pytest.raises(InputError):
        scale_translation(c2w, -1.0)
    with pytest.raises(InputError):
        scale_translation(c2w, float("nan"))


def test_load_trajectory_re10k_auto_and_explicit_scale():
    path = need(RE10K)
    depth = np.linspace(1.0, 5.0, 100).reshape(10, 10)  # median 3 m
    tr = load_trajectory(str(path), 25, depth)
    assert isinstance(tr, Trajectory) and tr.source.startswith("re10k:")
    assert tr.c2w.shape == (25, 4, 4) and torch.equal(tr.c2w[0], torch.eye(4, dtype=torch.float64))
    assert math.isclose(float(tr.c2w[:, :3, 3].norm(dim=-1).max()), 0.25 * 3.0, rel_tol=1e-9)
    tr2 = load_trajectory(path, 25, None, scale=2.0)
    assert tr2.scale == 2.0
    unit = load_trajectory(path, 25, None, scale=1.0).c2w
    assert torch.allclose(tr2.c2w[:, :3, 3], 2.0 * unit[:, :3, 3])
    with pytest.raises(InputError, match="depth_m"):
        load_trajectory(path, 25, None)


def test_load_trajectory_npy_defaults_to_metric(tmp_path):
    poses = np.stack([pose(rot_y(a), [0.1 * a, 0, 5]) for a in (0, 5, 10)])
    f = tmp_path / "path.npy"
    np.save(f, poses)
    tr = load_trajectory(f, 5, np.ones((4, 4)))
    assert tr.scale == 1.0 and tr.source.startswith("npy:")
    assert torch.allclose(tr.c2w[-1], torch.from_numpy(np.linalg.inv(poses[0]) @ poses[-1]), atol=1e-12)
    assert torch.equal(tr.c2w[0], torch.eye(4, dtype=torch.float64))


def test_load_trajectory_errors(tmp_path):
    with pytest.raises(InputError, match="pan_left") as ei:
        load_trajectory("spin_wildly", 10, np.ones((4, 4)))
    assert "neither a preset nor an existing file" in str(ei.value)
    with pytest.raises(InputError, match="orbit_right"):
        load_trajectory(str(tmp_path / "missing.txt"), 10, None)
    other = tmp_path / "cams.json"
    other.write_text("{}")
    with pytest.raises(InputError, match="unsupported"):
        load_trajectory(other, 10, None)
    with pytest.raises(InputError, match="n_frames"):
        load_trajectory("static", 0, None)
    with pytest.raises(InputError, match="depth_m or scale"):
        load_trajectory("push_in", 10, None)
    with pytest.raises(InputError, match="scale"):
        load_trajectory("push_in", 10, None, scale=float("inf"))
    with pytest.raises(InputError, match="presets"):
        make_preset("nope", 3, 1.0)


# ------------------------------------------------------------------------------------------------ presets


def test_all_presets_shape_identity_and_rigid():
    for name in PRESETS:
        P = make_preset(name, 9, 2.0)
        assert P.shape == (9, 4, 4) and P.dtype == torch.float64, name
        assert torch.equal(P[0], torch.eye(4, dtype=torch.float64)), name
        R = P[:, :3, :3]
        assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-12)
        tr = load_trajectory(name, 9, np.full((5, 5), 2.0))
        assert torch.allclose(tr.c2w, P) and tr.scale == 2.0 and tr.source == f"preset:{name}"
    assert make_preset("pan_left", 1, 1.0).shape == (1, 4, 4)
    assert torch.allclose(load_trajectory("Pan-Left", 4, None).c2w, make_preset("pan_left", 4, 1.0))


def test_pan_left_moves_axis_point_right_in_image():
    P = make_preset("pan_left", 5, 3.0)
    point = torch.tensor([[0.0, 0.0, 3.0]], dtype=torch.float64)
    u = [project_points(point, K, P[i])[0][0, 0].item() for i in range(5)]
    assert u[0] == pytest.approx(320.0)
    assert all(b > a for a, b in zip(u, u[1:]))  # the scene slides right as the view turns left
    # 30 deg total yaw: the point sits 30 deg right of the optical axis at the end
    assert u[-1] == pytest.approx(320.0 + 500.0 * math.tan(math.radians(30)))
    forward = P[-1, :3, 2]
    assert forward[0] < 0  # the camera looks towards -x
    u_right = project_points(point, K, make_preset("pan_right", 5, 3.0)[-1])[0][0, 0].item()
    assert u_right == pytest.approx(320.0 - 500.0 * math.tan(math.radians(30)))


def test_translation_presets_directions():
    d = 4.0
    assert make_preset("push_in", 5, d)[:, 2, 3].tolist() == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])
    # push_in brings a point on the axis closer; pull_out moves it away
    point = torch.tensor([[0.0, 0.0, d]], dtype=torch.float64)
    z_in = project_points(point, K, make_preset("push_in", 5, d)[-1])[1].item()
    z_out = project_points(point, K, make_preset("pull_out", 5, d)[-1])[1].item()
    assert z_in == pytest.approx(d - 0.5 * d) and z_out == pytest.approx(d + 0.5 * d)
    expect = {"move_left": (0, -1), "move_right": (0, 1), "move_up": (1, -1), "move_down": (1, 1)}
    for name, (axis, sign) in expect.items():
        t = make_preset(name, 3, d)[-1, :3, 3]
        want = torch.zeros(3, dtype=torch.float64)
        want[axis] = sign * 0.25 * d
        assert torch.allclose(t, want), name
    # moving up makes scene content move down in the image (+v)
    below = point + torch.tensor([[0.0, 0.5, 0.0]], dtype=torch.float64)
    uv, _ = project_points(below, K, make_preset("move_up", 3, d)[-1])
    assert uv[0, 1].item() > 240.0 + 500.0 * 0.5 / d


def test_orbit_keeps_target_centred_and_moves_sideways():
    d = 2.0
    target = torch.tensor([[0.0, 0.0, d]], dtype=torch.float64)
    for name, side in (("orbit_left", -1), ("orbit_right", 1)):
        P = make_preset(name, 7, d)
        uv, z = project_points(target, K, P)
        assert torch.allclose(uv[:, 0], torch.tensor([320.0, 240.0], dtype=torch.float64).expand(7, 2), atol=1e-9)
        assert torch.allclose(z, torch.full((7, 1), d, dtype=torch.float64))
        assert side * P[-1, 0, 3].item() == pytest.approx(d * math.sin(math.radians(30)))
        assert _angle_deg(P[-1, :3, :3].numpy()) == pytest.approx(30.0)


# ------------------------------------------------------------------------------------------------ closed loops


def test_closed_loop_presets():
    d = 2.0
    assert set(CLOSED_LOOP_PRESETS) <= set(PRESETS)
    for name in CLOSED_LOOP_PRESETS:
        for n in (1, 2, 8, 9):
            P = make_preset(name, n, d)
            assert P.shape == (n, 4, 4)
            assert torch.equal(P[0], torch.eye(4, dtype=torch.float64)) and torch.equal(P[-1], P[0]), (name, n)
            R = P[:, :3, :3]
            assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-12)
            if name != "orbit_360":
                assert torch.equal(P, torch.flip(P, [0])), name  # pose k == pose n-1-k
    oab = make_preset("out_and_back", 9, d)
    assert oab[:, 2, 3].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0])
    orb = make_preset("orbit_360", 9, d)
    uv, z = project_points(torch.tensor([[0.0, 0.0, d]], dtype=torch.float64), K, orb)
    assert torch.allclose(uv[:, 0], torch.tensor([320.0, 240.0], dtype=torch.float64).expand(9, 2), atol=1e-9)
    assert torch.allclose(z[:, 0], torch.full((9,), d, dtype=torch.float64))
    assert orb[4, :3, 3].tolist() == pytest.approx([0.0, 0.0, 2 * d], abs=1e-12)  # behind the centre halfway
    assert orb[2, 0, 3].item() < 0  # goes left first, like orbit_left
    la = make_preset("look_away_and_back", 9, d)
    assert la[4, :3, 2].tolist() == pytest.approx([0.0, 0.0, -1.0], abs=1e-12)  # looking backwards at the middle
    assert la[2, 0, 2].item() > 0 and torch.all(la[:, :3, 3] == 0)
    # rotation-only: no depth needed; the others need it
    assert torch.equal(load_trajectory("look_away_and_back", 9, None).c2w, make_preset("look_away_and_back", 9, 1.0))
    with pytest.raises(InputError, match="depth_m or scale"):
        load_trajectory("orbit_360", 9, None)


def test_original_presets_unchanged():
    # frozen values of the pre-existing presets (d = 2, n = 3): adding presets must not change them
    c, s = math.cos(math.radians(15)), math.sin(math.radians(15))
    want = [[c, 0, -s], [0, 1, 0], [s, 0, c]]
    assert np.allclose(make_preset("pan_left", 3, 2.0)[1, :3, :3].numpy(), want, rtol=0, atol=1e-15)
    assert make_preset("orbit_right", 3, 2.0)[1, :3, 3].tolist() == pytest.approx([2 * s, 0, 2 - 2 * c])
    assert make_preset("move_down", 3, 2.0)[2, :3, 3].tolist() == [0, 0.5, 0]
    assert list(PRESETS)[:11] == ["static", "pan_left", "pan_right", "push_in", "pull_out", "move_left",
                                  "move_right", "move_up", "move_down", "orbit_left", "orbit_right"]
