"""Tests for mirage_world.geometry.trajectory (camera path readers, resampling, scale rule, presets)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from mirage_world.errors import InputError
from mirage_world.geometry.camera import invert_pose, project_points
from mirage_world.geometry.trajectory import (
    PRESETS,
    Trajectory,
    auto_trajectory_scale,
    load_trajectory,
    make_preset,
    read_c2w_npy,
    read_re10k,
    relative_to_first,
    resample_path,
    scale_translation,
)

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
RE10K = REAL / "re10k_poses" / "0bf152ef84195293.txt"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data not available: {path}")
    return path


def _rot_y(deg: float) -> np.ndarray:
    return Rotation.from_euler("y", deg, degrees=True).as_matrix()


def _pose(R: np.ndarray, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def _angle_deg(R: np.ndarray) -> float:
    return float(np.degrees(np.linalg.norm(Rotation.from_matrix(R).as_rotvec())))


def _write_re10k(path: Path, stamps, intr, w2c) -> None:
    lines = ["https://www.youtube.com/watch?v=test"]
    for ts, k, M in zip(stamps, intr, w2c):
        nums = [repr(float(x)) for x in k] + ["0", "0"] + [repr(float(x)) for x in np.asarray(M)[:3, :4].ravel()]
        lines.append(" ".join([str(int(ts))] + nums))
    path.write_text("\n".join(lines) + "\n")


K = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)


# ------------------------------------------------------------------------------------------------ RealEstate10K


def test_read_real_re10k_file():
    rp = read_re10k(_need(RE10K))
    assert rp.c2w.shape == (16, 4, 4) and rp.c2w.dtype == torch.float64
    assert rp.intrinsics_norm.shape == (16, 4)
    assert rp.timestamps_us.dtype == torch.int64 and rp.timestamps_us[0].item() == 158692025
    assert rp.url.startswith("https://")
    R = rp.c2w[:, :3, :3]
    eye = torch.eye(3, dtype=torch.float64).expand(16, 3, 3)
    assert torch.allclose(R @ R.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(16, dtype=torch.float64), atol=1e-12)
    assert torch.equal(rp.c2w[:, 3], torch.tensor([0.0, 0, 0, 1], dtype=torch.float64).expand(16, 4))
    # Round trip: inverting c2w gives back the stored w2c (stored with 9 decimals).
    stored = np.array([[float(x) for x in line.split()] for line in RE10K.read_text().splitlines()[1:] if line.strip()])
    w2c = invert_pose(rp.c2w).numpy()[:, :3, :4].reshape(16, 12)
    assert np.abs(w2c - stored[:, 7:19]).max() < 1e-6
    assert np.allclose(rp.intrinsics_norm.numpy(), stored[:, 1:5])


def test_relative_to_first_identity_and_relative_motion():
    c2w = read_re10k(_need(RE10K)).c2w
    rel = relative_to_first(c2w)
    assert torch.equal(rel[0], torch.eye(4, dtype=torch.float64))
    # relative poses between frames are unchanged by the change of world frame
    a = invert_pose(c2w[3]) @ c2w[9]
    b = invert_pose(rel[3]) @ rel[9]
    assert torch.allclose(a, b, atol=1e-10)


_unit = st.floats(-1.0, 1.0, allow_nan=False)


@st.composite
def _frames(draw):
    n = draw(st.integers(1, 5))
    stamps, intr, w2c = [], [], []
    for _ in range(n):
        q = np.array([draw(_unit) for _ in range(4)])
        if np.linalg.norm(q) < 1e-3:
            q = np.array([0.0, 0.0, 0.0, 1.0])
        R = Rotation.from_quat(q).as_matrix()
        t = [draw(st.floats(-100, 100, allow_nan=False)) for _ in range(3)]
        w2c.append(np.hstack([R, np.array(t)[:, None]]))
        intr.append([draw(st.floats(0.05, 5.0)), draw(st.floats(0.05, 5.0)), draw(_unit), draw(_unit)])
        stamps.append(draw(st.integers(0, 2**53)))
    return stamps, intr, w2c


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_frames())
def test_re10k_roundtrip_property(tmp_path_factory, frames):
    stamps, intr, w2c = frames
    path = tmp_path_factory.mktemp("re10k") / "cams.txt"
    _write_re10k(path, stamps, intr, w2c)
    rp = read_re10k(path)
    assert rp.timestamps_us.tolist() == stamps
    assert np.allclose(rp.intrinsics_norm.numpy(), np.array(intr), rtol=0, atol=0)
    back = invert_pose(rp.c2w).numpy()[:, :3, :4]
    assert np.abs(back - np.stack(w2c)).max() < 1e-9


_token = st.one_of(
    st.sampled_from(["0", "1", "-1", "0.5", "nan", "inf", "-inf", "1e400", "abc", "0x10", "1,5", "--1", "", "1.2.3"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
_line = st.one_of(
    st.lists(_token, min_size=0, max_size=22).map(" ".join),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_line, min_size=0, max_size=4), st.booleans())
def test_re10k_garbage_only_raises_input_error(tmp_path_factory, lines, with_url):
    path = tmp_path_factory.mktemp("garbage") / "cams.txt"
    header = ["https://example.com/v"] if with_url else []
    path.write_text("\n".join(header + lines), encoding="utf-8")
    try:
        rp = read_re10k(path)
    except InputError as e:
        assert str(path) in str(e)
    else:  # by chance valid: then it really must be valid
        R = rp.c2w[:, :3, :3]
        assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-9)


def _valid_line(R=np.eye(3), t=(0, 0, 0), ts="100"):
    M = np.hstack([R, np.asarray(t, float)[:, None]])
    return " ".join([ts, "0.5", "0.8", "0.5", "0.5", "0", "0"] + [repr(float(x)) for x in M.ravel()])


@pytest.mark.parametrize(
    "body, lineno, fragment",
    [
        ([_valid_line(), "1 2 3"], 3, "expected 19 numbers"),
        ([_valid_line().replace("0.8", "abc", 1)], 2, "not a number"),
        ([_valid_line().replace("0.8", "nan", 1)], 2, "not finite"),
        ([_valid_line(R=np.zeros((3, 3)))], 2, "not orthonormal"),
        ([_valid_line(R=2 * np.eye(3))], 2, "not orthonormal"),
        ([_valid_line(R=np.diag([1.0, 1.0, -1.0]))], 2, "reflection"),
        ([_valid_line(ts="1.5")], 2, "timestamp"),
        ([_valid_line().replace(" 0.5 0.8", " -0.5 0.8", 1)], 2, "focal"),
    ],
)
def test_re10k_malformed_lines(tmp_path, body, lineno, fragment):
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(["https://x"] + body) + "\n")
    with pytest.raises(InputError, match=fragment) as ei:
        read_re10k(path)
    assert f"{path}:{lineno}" in str(ei.value)


def test_re10k_empty_missing_noframes_binary(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_re10k(empty)
    url_only = tmp_path / "url.txt"
    url_only.write_text("https://x\n\n")
    with pytest.raises(InputError, match="no frame"):
        read_re10k(url_only)
    with pytest.raises(InputError, match="not found"):
        read_re10k(tmp_path / "nope.txt")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match="UTF-8"):
        read_re10k(binary)


# ------------------------------------------------------------------------------------------------ .npy


def test_read_c2w_npy_valid_and_invalid(tmp_path):
    poses = np.stack([_pose(_rot_y(a), [a, 0, 1]) for a in (0, 10, 20)])
    good = tmp_path / "good.npy"
    np.save(good, poses)
    out = read_c2w_npy(good)
    assert out.dtype == torch.float64 and torch.allclose(out, torch.from_numpy(poses), atol=1e-12)

    def bad(arr, fragment):
        f = tmp_path / "bad.npy"
        np.save(f, arr)
        with pytest.raises(InputError, match=fragment):
            read_c2w_npy(f)

    bad(poses[:, :3], r"shape \(N, 4, 4\)")
    nan = poses.copy()
    nan[1, 0, 3] = np.nan
    bad(nan, "pose 1 contains NaN")
    row = poses.copy()
    row[2, 3, 0] = 0.5
    bad(row, "pose 2 last row")
    scaled = poses.copy()
    scaled[0, :3, :3] *= 1.1
    bad(scaled, "not orthonormal")
    refl = poses.copy()
    refl[0, :3, :3] = np.diag([1.0, -1.0, 1.0])
    bad(refl, "reflection")
    bad(np.array(["a"] * 16).reshape(1, 4, 4), "numeric")
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy")
    with pytest.raises(InputError, match="cannot read"):
        read_c2w_npy(junk)


# ------------------------------------------------------------------------------------------------ resampling


def test_resample_endpoints_and_slerp_midpoint():
    c2w = np.stack([_pose(np.eye(3), [0, 0, 0]), _pose(_rot_y(60), [2, -4, 6])])
    out = resample_path(c2w, 3)
    assert out.shape == (3, 4, 4)
    assert np.array_equal(out[0].numpy(), c2w[0]) and np.array_equal(out[-1].numpy(), c2w[1])
    mid = out[1].numpy()
    assert math.isclose(_angle_deg(mid[:3, :3]), 30.0, abs_tol=1e-9)
    assert np.allclose(mid[:3, :3], _rot_y(30), atol=1e-12)
    assert np.allclose(mid[:3, 3], [1, -2, 3])


def test_resample_real_path_endpoints_and_counts():
    c2w = relative_to_first(read_re10k(_need(RE10K)).c2w)
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
    one = _pose(_rot_y(5), [1, 2, 3])[None]
    out = resample_path(one, 4)
    assert out.shape == (4, 4, 4) and np.allclose(out.numpy(), one[0])
    for n in (0, -1, 2.5, True):
        with pytest.raises(InputError):
            resample_path(one, n)
    with pytest.raises(InputError, match="shape"):
        resample_path(np.eye(4), 3)


# ------------------------------------------------------------------------------------------------ scale


def test_auto_trajectory_scale_synthetic():
    c2w = np.stack([np.eye(4), _pose(np.eye(3), [1, 0, 0]), _pose(_rot_y(10), [0, 2, 0])])
    depth = np.full((8, 8), 4.0)
    depth[:2] = 0.0  # invalid pixels are ignored
    s = auto_trajectory_scale(c2w, depth)
    assert isinstance(s, float) and math.isclose(s, 0.25 * 4.0 / 2.0)
    scaled = scale_translation(c2w, s)
    assert math.isclose(float(scaled[:, :3, 3].norm(dim=-1).max()), 0.25 * 4.0)
    assert torch.allclose(scaled[:, :3, :3], torch.from_numpy(c2w[:, :3, :3]))
    # pure rotation: no translation to scale
    assert auto_trajectory_scale(np.stack([np.eye(4), _pose(_rot_y(20), [0, 0, 0])]), depth) == 1.0
    with pytest.raises(InputError, match="no valid"):
        auto_trajectory_scale(c2w, np.zeros((4, 4)))
    with pytest.raises(InputError):
        scale_translation(c2w, -1.0)
    with pytest.raises(InputError):
        scale_translation(c2w, float("nan"))


def test_load_trajectory_re10k_auto_and_explicit_scale():
    path = _need(RE10K)
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
    poses = np.stack([_pose(_rot_y(a), [0.1 * a, 0, 5]) for a in (0, 5, 10)])
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
