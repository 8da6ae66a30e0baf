"""Tests for mirage_world.geometry.camera_files: write / read round trips of every format, real files (from
../shared/data/real, skipped when absent) and analytic checks of foreign axes and ViewCrafter orbits."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from mirage_world.errors import InputError
from mirage_world.geometry import camera_files as F
from mirage_world.geometry.camera import invert_pose, project_points
from mirage_world.geometry.camera_files import read_c2w_npy, read_re10k
from mirage_world.geometry.trajectory import load_trajectory

REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "real"
RE10K_DIR = REAL / "re10k_poses"
SPATIA = [REAL / f"spatia_case_{i}" for i in (1, 2, 3)]
K = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)
HSET = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real test data not available: {path}")
    return path


def _pose(R, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


_unit = st.floats(-1.0, 1.0, allow_nan=False)
_coord = st.floats(-50.0, 50.0, allow_nan=False)


@st.composite
def _poses(draw, max_n=5):
    n = draw(st.integers(1, max_n))
    out = []
    for _ in range(n):
        q = np.array([draw(_unit) for _ in range(4)])
        if np.linalg.norm(q) < 1e-3:
            q = np.array([0.0, 0.0, 0.0, 1.0])
        out.append(_pose(Rotation.from_quat(q).as_matrix(), [draw(_coord) for _ in range(3)]))
    return np.stack(out)


_pos = st.floats(0.05, 5.0, allow_nan=False)


# ------------------------------------------------------------------------------------------------ round trips


@HSET
@given(_poses(), st.lists(st.floats(-2, 2), min_size=2, max_size=2), st.tuples(_pos, _pos), st.data())
def test_re10k_write_read_roundtrip(tmp_path_factory, c2w, cxy, fxy, data):
    path = tmp_path_factory.mktemp("re") / "cams.txt"
    n = len(c2w)
    ts = data.draw(st.lists(st.integers(0, 2**53), min_size=n, max_size=n))
    F.write_re10k(path, c2w, [*fxy, *cxy], ts)
    assert F.detect_format(path) == "re10k"
    rp = read_re10k(path)
    assert np.abs(rp.c2w.numpy() - c2w).max() < 1e-9
    assert rp.timestamps_us.tolist() == ts
    assert rp.intrinsics_norm.numpy().tolist() == [[*fxy, *cxy]] * n


@HSET
@given(_poses(), st.tuples(_pos, _pos, _unit, _unit))
def test_spatia_write_read_roundtrip(tmp_path_factory, c2w, intr):
    d = tmp_path_factory.mktemp("sp") / "case"
    F.write_spatia(d, c2w, intr)
    assert F.detect_format(d) == "spatia" and F.detect_format(d / "w2c.txt") == "spatia"
    cf = F.read_spatia(d)
    assert cf.kind == "spatia" and cf.metric
    assert np.abs(cf.c2w.numpy() - c2w).max() < 1e-9
    assert cf.intrinsics_norm.numpy().tolist() == [list(intr)] * len(c2w)
    other = F.write_spatia(d / "poses.txt", c2w)  # another name: detected by content
    assert F.detect_format(other) == "spatia"


@HSET
@given(_poses(), st.tuples(_pos, _pos), st.integers(1, 6), st.integers(1, 6), st.booleans())
def test_geometry_npz_write_read_roundtrip(tmp_path_factory, c2w, f, H, W, with_frames):
    path = tmp_path_factory.mktemp("g") / "geometry.npz"
    n = len(c2w)
    Ks = np.tile(np.array([[100 * f[0], 0, W / 2], [0, 100 * f[1], H / 2], [0, 0, 1]]), (n, 1, 1))
    rng = np.random.default_rng(n * H * W)
    depths = rng.uniform(0.0, 10.0, (n, H, W)).astype(np.float32)
    frames = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8) if with_frames else None
    F.write_geometry_npz(path, c2w, Ks, depths, frames)
    cf = F.read_geometry_npz(path)
    assert F.detect_format(path) == "geometry_npz" and cf.metric and cf.image_hw == (H, W)
    assert np.abs(cf.c2w.numpy() - c2w).max() < 1e-4 * (1 + np.abs(c2w).max())  # stored as float32
    assert np.allclose(cf.K.numpy(), Ks, rtol=1e-6)
    assert np.array_equal(cf.depths, depths)
    assert (cf.frames is None) if frames is None else np.array_equal(cf.frames, frames)


@HSET
@given(_poses(), st.floats(10, 2000))
def test_worldscore_write_read_roundtrip(tmp_path_factory, c2w, focal):
    path = tmp_path_factory.mktemp("ws") / "camera_data.json"
    F.write_worldscore(path, c2w, focal)
    cf = F.read_worldscore(path)
    assert cf.kind == "worldscore" and not cf.metric and cf.focal_px == focal
    assert np.abs(cf.c2w.numpy() - c2w).max() < 1e-12
    raw = json.loads(path.read_text())
    assert np.allclose(np.array(raw["cameras_interp"])[:, :3, 1], -c2w[:, :3, 1])  # stored with flipped y/z


@HSET
@given(_poses(), st.booleans(), st.integers(1, 2000), st.integers(1, 2000))
def test_nerfstudio_write_read_roundtrip(tmp_path_factory, c2w, shared, H, W):
    path = tmp_path_factory.mktemp("ns") / "transforms.json"
    n = len(c2w)
    Ks = np.tile(np.array([[300.0, 0, W / 2], [0, 310.0, H / 2], [0, 0, 1]]), (n, 1, 1))
    if not shared:
        Ks[:, 0, 0] += np.arange(n)
    F.write_nerfstudio(path, c2w, Ks, (H, W))
    cf = F.read_nerfstudio(path)
    assert cf.kind == "nerfstudio" and cf.image_hw == (H, W) and len(cf.file_paths) == n
    assert np.abs(cf.c2w.numpy() - c2w).max() < 1e-12
    assert np.array_equal(cf.K.numpy(), Ks)


@HSET
@given(_poses())
def test_c2w_json_and_npy_roundtrip(tmp_path_factory, c2w):
    d = tmp_path_factory.mktemp("cj")
    F.write_c2w_json(d / "path.json", c2w)
    assert F.detect_format(d / "path.json") == "c2w_json"
    assert np.abs(F.read_c2w_json(d / "path.json").c2w.numpy() - c2w).max() < 1e-12
    (d / "bare.json").write_text(json.dumps(c2w.tolist()))
    assert np.abs(F.read_camera_file(d / "bare.json").c2w.numpy() - c2w).max() < 1e-12
    F.write_c2w_npy(d / "path.npy", c2w)
    assert np.abs(read_c2w_npy(d / "path.npy").numpy() - c2w).max() < 1e-12


_kf = st.lists(st.floats(-90, 90, allow_nan=False), min_size=1, max_size=8)


@HSET
@given(_kf, _kf, st.lists(st.floats(-0.9, 2.0, allow_nan=False), min_size=1, max_size=8))
def test_viewcrafter_write_read_roundtrip(tmp_path_factory, phi, theta, r):
    path = tmp_path_factory.mktemp("vc") / "traj.txt"
    F.write_viewcrafter(path, phi, theta, r)
    assert F.detect_format(path) == "viewcrafter"
    kf = F.read_viewcrafter(path)
    assert kf.phi_deg.tolist() == phi and kf.theta_deg.tolist() == theta and kf.r.tolist() == r
    P = F.viewcrafter_path(kf, 7, 2.0)
    dist = (P[:, :3, 3] - torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)).norm(dim=-1)
    assert bool((dist >= 2.0 * (1 + min(r)) - 1e-9).all() and (dist <= 2.0 * (1 + max(r)) + 1e-9).all())
    R = P[:, :3, :3]
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-12)


# ------------------------------------------------------------------------------------------------ real files


def test_real_spatia_cases():
    counts = []
    for case in SPATIA:
        _need(case)
        cf = F.read_spatia(case)
        counts.append(len(cf.c2w))
        stored = np.array([json.loads(ln) for ln in (case / "w2c.txt").read_text().splitlines() if ln.strip()])
        assert np.abs(invert_pose(cf.c2w).numpy() - stored).max() < 1e-12
        intr = [float(x) for x in (case / "intrinsics.txt").read_text().strip()[1:-1].split()]
        assert cf.intrinsics_norm.shape == (len(stored), 4) and cf.intrinsics_norm[0].tolist() == intr
        assert F.read_spatia(case / "w2c.txt").c2w.equal(cf.c2w)
        tr = load_trajectory(case, 25, None)  # metric: no depth needed
        assert tr.source.startswith("spatia:") and tr.scale == 1.0
        assert torch.equal(tr.c2w[0], torch.eye(4, dtype=torch.float64))
    assert counts == [193, 193, 121]
    # case 3 is a pure rotation, case 1 moves ~1.8 units
    assert load_trajectory(SPATIA[2], 9, None).c2w[:, :3, 3].abs().max() < 1e-12
    assert load_trajectory(SPATIA[0] / "w2c.txt", 193, None).c2w[:, :3, 3].norm(dim=-1).max() > 1.0


def test_real_re10k_detected_and_converted_through_every_format(tmp_path):
    files = sorted(_need(RE10K_DIR).glob("*.txt"))
    assert len(files) == 6
    for f in files:
        assert F.detect_format(f) == "re10k"
    rp = read_re10k(files[0])
    c2w = rp.c2w.numpy()
    F.write_re10k(tmp_path / "re.txt", c2w, rp.intrinsics_norm, rp.timestamps_us, rp.url)
    F.write_spatia(tmp_path / "sp", c2w, rp.intrinsics_norm[0])
    F.write_worldscore(tmp_path / "camera_data.json", c2w)
    F.write_nerfstudio(tmp_path / "transforms.json", c2w)
    F.write_c2w_json(tmp_path / "p.json", c2w)
    F.write_c2w_npy(tmp_path / "p.npy", c2w)
    F.write_geometry_npz(tmp_path / "geometry.npz", c2w, K)
    for name in ("re.txt", "sp", "camera_data.json", "transforms.json", "p.json", "p.npy"):
        back = F.read_camera_file(tmp_path / name)
        assert np.abs(back.c2w.numpy() - c2w).max() < 1e-9, name
    assert np.abs(F.read_camera_file(tmp_path / "geometry.npz").c2w.numpy() - c2w).max() < 1e-5
    # the same real path through load_trajectory from any format gives the same relative path (scale given)
    ref = load_trajectory(files[0], 16, None, scale=1.0).c2w
    for name in ("sp", "camera_data.json", "transforms.json", "p.json", "p.npy"):
        got = load_trajectory(tmp_path / name, 16, None, scale=1.0).c2w
        assert torch.allclose(got, ref, atol=1e-8), name


# ------------------------------------------------------------------------------------------------ analytic


def test_foreign_axes_project_to_known_pixels(tmp_path):
    # Blender / OpenGL camera at (1, 0, 0) looking down world -z (its identity orientation)
    gl = _pose(np.eye(3), [1.0, 0.0, 0.0])
    F.write_c2w_json(tmp_path / "dummy.json", np.eye(4)[None])  # unrelated file in the folder
    ws = tmp_path / "camera_data.json"
    cams = [gl.tolist()]
    ws.write_text(json.dumps({"focal_length": 500, "scale": 1, "cameras": cams, "cameras_interp": cams}))
    ns = tmp_path / "transforms.json"
    ns.write_text(json.dumps({"fl_x": 500, "fl_y": 500, "cx": 320, "cy": 240, "w": 640, "h": 480,
                              "frames": [{"file_path": "a.png", "transform_matrix": gl.tolist()}]}))
    pts = torch.tensor([[1.0, 0.0, -4.0], [2.0, 1.0, -4.0]], dtype=torch.float64)
    for cf in (F.read_worldscore(ws), F.read_nerfstudio(ns)):
        uv, z = project_points(pts, K, cf.c2w[0])
        assert uv.tolist() == [[320.0, 240.0], [320.0 + 125.0, 240.0 - 125.0]]  # world +y (up) -> smaller v
        assert z.tolist() == [4.0, 4.0]
    assert F.read_nerfstudio(ns).K[0].tolist() == K.tolist()
    assert F.read_worldscore(ws).focal_px == 500.0


def test_nerfstudio_frames_sorted_by_file_path(tmp_path):
    c2w = np.stack([_pose(np.eye(3), [i, 0, 0]) for i in range(3)])
    F.write_nerfstudio(tmp_path / "transforms.json", c2w, file_paths=["c.png", "a.png", "b.png"])
    cf = F.read_nerfstudio(tmp_path / "transforms.json")
    assert cf.file_paths == ("a.png", "b.png", "c.png") and cf.c2w[:, 0, 3].tolist() == [1.0, 2.0, 0.0]


def test_nerfstudio_camera_angle_x(tmp_path):
    p = tmp_path / "transforms_train.json"
    p.write_text(json.dumps({"camera_angle_x": 2 * math.atan(0.5), "w": 400, "h": 300,
                             "frames": [{"file_path": "r_0", "transform_matrix": np.eye(4).tolist()}]}))
    cf = F.read_camera_file(p)
    assert cf.kind == "nerfstudio"
    assert np.allclose(cf.K[0].numpy(), [[400.0, 0, 200.0], [0, 400.0, 150.0], [0, 0, 1]], rtol=0, atol=1e-9)


def test_viewcrafter_orbit_geometry_and_interpolation():
    c = 2.0
    P = torch.tensor([[0.0, 0.0, c]], dtype=torch.float64)
    kf = F.ViewCrafterKeyframes(np.array([0.0, 30.0]), np.array([0.0]), np.array([0.0]))
    path = F.viewcrafter_path(kf, 4, c)
    assert torch.allclose(path[0], torch.eye(4, dtype=torch.float64), atol=1e-15)
    uv, z = project_points(P, K, path)
    assert torch.allclose(uv[:, 0], torch.tensor([320.0, 240.0], dtype=torch.float64).expand(4, 2), atol=1e-9)
    assert torch.allclose(z[:, 0], torch.full((4,), c, dtype=torch.float64))
    assert path[-1, 0, 3].item() == pytest.approx(c * math.sin(math.radians(30)))  # positive phi: to the right
    down = F.viewcrafter_path(F.ViewCrafterKeyframes(np.array([0.0]), np.array([0.0, 20.0]), np.array([0.0])), 3, c)
    assert down[-1, 1, 3].item() == pytest.approx(c * math.sin(math.radians(20)))  # positive theta: down (+y)
    closer = F.viewcrafter_path(F.ViewCrafterKeyframes(np.array([0.0]), np.array([0.0]), np.array([0.0, -0.5])), 3, c)
    assert closer[:, 2, 3].tolist() == pytest.approx([0.0, 0.5, 1.0])  # radius c (1 + r)
    # up to 3 keyframes: linear and exact at the keyframes; more: smooth spline with pinned ends
    assert F.interpolate_keyframes([0, 10, 40], 5).tolist() == [0.0, 5.0, 10.0, 25.0, 40.0]
    sp = F.interpolate_keyframes([0, 10, 20, 30, 45], 41)
    assert sp[0] == 0 and sp[-1] == 45 and np.all(np.diff(sp) > 0)
    assert np.abs(np.diff(sp, 2)).max() < 1.0  # smooth: no kinks
    assert F.interpolate_keyframes([7.0], 3).tolist() == [7.0, 7.0, 7.0]


def test_scene_centre_depth():
    d = np.full((40, 40), 5.0)
    d[18:22, 18:22] = 2.0
    d[20, 20] = 0.0
    assert F.scene_centre_depth(d) == 2.0
    d2 = np.full((40, 40), 3.0)
    d2[15:25, 15:25] = 0
    assert F.scene_centre_depth(d2) == 3.0  # falls back to all valid depths
    with pytest.raises(InputError, match="no valid"):
        F.scene_centre_depth(np.zeros((4, 4)))
