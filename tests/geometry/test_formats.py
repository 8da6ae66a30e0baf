"""Tests for mirage_world.geometry.formats (readers / writers / detection), closed-loop presets and load_trajectory
dispatch. Real files come from ../shared/data/real (skipped when absent)."""

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
from mirage_world.geometry import formats as F
from mirage_world.geometry.camera import invert_pose, project_points
from mirage_world.geometry.trajectory import (
    CLOSED_LOOP_PRESETS,
    PRESETS,
    load_trajectory,
    make_preset,
    read_c2w_npy,
    read_re10k,
)

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
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


# ------------------------------------------------------------------------------------------------ detection


def test_detection_by_content_keeps_re10k(tmp_path):
    vc = tmp_path / "vc.txt"
    vc.write_text("0 -10 -20\n0 0\n0 0.1 0.2 0.3\n")
    assert F.detect_format(vc) == "viewcrafter"
    # a RealEstate10K file with 2 frames also has 3 non-blank lines, but line 1 is a URL
    re = tmp_path / "re.txt"
    F.write_re10k(re, np.stack([np.eye(4), np.eye(4)]), [0.5, 0.8, 0.5, 0.5])
    assert len(re.read_text().splitlines()) == 3 and F.detect_format(re) == "re10k"
    garbage = tmp_path / "g.txt"
    garbage.write_text("hello\n")
    assert F.detect_format(garbage) == "re10k"  # its reader gives the error
    with pytest.raises(InputError, match=str(garbage)):
        load_trajectory(garbage, 4, None)
    with pytest.raises(InputError, match="unsupported"):
        F.detect_format(tmp_path)  # a folder with none of the known files
    (tmp_path / "x.yaml").write_text("a: 1")
    with pytest.raises(InputError, match="unsupported"):
        F.detect_format(tmp_path / "x.yaml")


# ------------------------------------------------------------------------------------------------ bad inputs


def _raises(fn, *fragments):
    with pytest.raises(InputError) as ei:
        fn()
    for frag in fragments:
        assert frag in str(ei.value), (frag, str(ei.value))


def test_spatia_bad_inputs(tmp_path):
    good = json.dumps(np.eye(4).tolist())
    w = tmp_path / "w2c.txt"

    def check(lines, *frags):
        w.write_text("\n".join(lines) + "\n")
        _raises(lambda: F.read_spatia(w), *frags)

    check([good, good.replace("1.0", "NaN", 1)], f"{w}:2", "not finite")
    check([good.replace("1.0", "Infinity", 1)], f"{w}:1", "not finite")
    check([json.dumps(np.zeros((4, 4)).tolist())], f"{w}:1", "last row")
    sing = np.eye(4)
    sing[:3, :3] = 0
    check([json.dumps(sing.tolist())], f"{w}:1", "not orthonormal")
    check([good, "1 0 0 0"], f"{w}:2", "4x4")
    check([json.dumps(np.eye(3).tolist())], f"{w}:1", "4x4")
    w.write_text("\n\n")
    _raises(lambda: F.read_spatia(w), "no poses")
    w.write_text(good + "\n")
    intr = tmp_path / "intrinsics.txt"
    intr.write_text("[0.0 1.4 0.5 0.5]")
    _raises(lambda: F.read_spatia(tmp_path), f"{intr}:1", "focal")
    intr.write_text("[0.8, 1.4, 0.5]")
    _raises(lambda: F.read_spatia(tmp_path), "4 numbers")
    _raises(lambda: F.read_spatia(tmp_path / "nope"), "not found")


def test_geometry_npz_bad_inputs(tmp_path):
    p = tmp_path / "geometry.npz"
    poses = np.tile(np.eye(4, dtype=np.float32), (3, 1, 1))
    Ks = np.tile(K.numpy().astype(np.float32), (3, 1, 1))

    def check(frags, **arrays):
        np.savez(p, **arrays)
        _raises(lambda: F.read_geometry_npz(p), str(p), *frags)

    check(["lacks the array 'intrinsics'"], poses_c2w=poses)
    check(["N = 3"], poses_c2w=poses, intrinsics=Ks, depths=np.ones((2, 4, 4), np.float32))
    check(["(3, 3) or (3, 3, 3)"], poses_c2w=poses, intrinsics=Ks[:2])
    zero = Ks.copy()
    zero[1, 0, 0] = 0
    check(["focal"], poses_c2w=poses, intrinsics=zero)
    nan = poses.copy()
    nan[2, 0, 3] = np.nan
    check(["poses_c2w[2]", "NaN"], poses_c2w=nan, intrinsics=Ks)
    sing = poses.copy()
    sing[1, :3, :3] = 0
    check(["poses_c2w[1]", "orthonormal"], poses_c2w=sing, intrinsics=Ks)
    check(["frames"], poses_c2w=poses, intrinsics=Ks, frames=np.zeros((3, 4, 4, 3), np.float32))
    p.write_bytes(b"not a zip")
    _raises(lambda: F.read_geometry_npz(p), "cannot read")
    _raises(lambda: F.write_geometry_npz(p, poses, Ks, np.ones((2, 4, 4))), "depths must have shape (3, H, W)")
    _raises(lambda: F.write_geometry_npz(p, poses, zero), "focal")


def test_json_formats_bad_inputs(tmp_path):
    ws = tmp_path / "camera_data.json"
    ws.write_text(json.dumps({"focal_length": 500}))
    _raises(lambda: F.read_worldscore(ws), "cameras_interp")
    ws.write_text(json.dumps({"focal_length": 0, "cameras_interp": [np.eye(4).tolist()]}))
    _raises(lambda: F.read_worldscore(ws), "focal_length must be > 0")
    ws.write_text('{"cameras_interp": [[[1, 0, 0, NaN], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]]}')
    _raises(lambda: F.read_worldscore(ws), "cameras_interp[0]", "not finite")
    ws.write_text("{oops")
    _raises(lambda: F.read_worldscore(ws), f"{ws}:1", "not valid JSON")
    ns = tmp_path / "transforms.json"
    ns.write_text(json.dumps({"frames": [{"transform_matrix": (2 * np.eye(4)).tolist()}]}))
    _raises(lambda: F.read_nerfstudio(ns), "frames[0]", "last row")
    ns.write_text(json.dumps({"fl_x": -1, "frames": [{"transform_matrix": np.eye(4).tolist()}]}))
    _raises(lambda: F.read_nerfstudio(ns), "frames[0]", "fl_x")
    ns.write_text(json.dumps({"frames": []}))
    _raises(lambda: F.read_nerfstudio(ns), "non-empty 'frames'")
    cj = tmp_path / "p.json"
    cj.write_text(json.dumps({"c2w": [np.eye(4).tolist(), np.diag([1.0, 1, -1, 1]).tolist()]}))
    _raises(lambda: F.read_c2w_json(cj), "c2w[1]", "reflection")
    cj.write_text(json.dumps({"poses": []}))
    _raises(lambda: load_trajectory(cj, 4, None), "unsupported")


def test_viewcrafter_bad_inputs(tmp_path):
    p = tmp_path / "vc.txt"
    for text, frags in [
        ("0 10\n0 0\n", ["exactly 3 lines"]),
        ("0 10\n0 x\n0\n", [f"{p}:2", "not a number"]),
        ("0 10\n0 0\n0 inf\n", [f"{p}:3", "not finite"]),
        ("0 10\n0 0\n0 -1\n", [f"{p}:3", "> -1"]),
    ]:
        p.write_text(text)
        _raises(lambda: F.read_viewcrafter(p), *frags)
    p.write_text("0 30\n0 0\n0 0\n")
    _raises(lambda: load_trajectory(p, 5, None), "depth_m or scale")
    _raises(lambda: F.viewcrafter_path(F.read_viewcrafter(p), 5, 0.0), "centre_depth")


def test_writers_reject_bad_poses(tmp_path):
    sing = np.tile(np.eye(4), (2, 1, 1))
    sing[1, :3, :3] = 0
    nan = np.tile(np.eye(4), (2, 1, 1))
    nan[0, 1, 3] = np.nan
    for bad, frag in ((sing, "pose 1"), (nan, "NaN"), (np.eye(4), "(N, 4, 4)")):
        for write in (F.write_c2w_json, F.write_c2w_npy, F.write_worldscore, F.write_nerfstudio, F.write_spatia):
            _raises(lambda: write(tmp_path / "out.json", bad), frag)
    _raises(lambda: F.write_re10k(tmp_path / "r.txt", np.eye(4)[None], [0.0, 1, 0.5, 0.5]), "focal")
    _raises(lambda: F.write_re10k(tmp_path / "r.txt", np.eye(4)[None], [1.0, 1, 0.5]), "shape (4,) or (1, 4)")


# ------------------------------------------------------------------------------------------------ load_trajectory


def test_load_trajectory_dispatch_and_scale_rules(tmp_path):
    c2w = np.stack([_pose(Rotation.from_euler("y", a, degrees=True).as_matrix(), [0.1 * a, 0, 0]) for a in (0, 5, 10)])
    depth = np.full((8, 8), 4.0)
    F.write_worldscore(tmp_path / "camera_data.json", c2w)
    F.write_nerfstudio(tmp_path / "transforms.json", c2w)
    F.write_geometry_npz(tmp_path / "clip" / "geometry.npz", c2w, K)
    F.write_c2w_json(tmp_path / "p.json", c2w)
    for name, kind, metric in [("camera_data.json", "worldscore", False), ("transforms.json", "nerfstudio", False),
                               ("clip/geometry.npz", "geometry_npz", True), ("p.json", "c2w_json", True),
                               ("clip", "geometry_npz", True)]:
        tr = load_trajectory(tmp_path / name, 5, depth)
        assert tr.source.startswith(kind + ":") and tr.c2w.shape == (5, 4, 4), name
        assert torch.equal(tr.c2w[0], torch.eye(4, dtype=torch.float64))
        far = float(tr.c2w[:, :3, 3].norm(dim=-1).max())
        assert far == pytest.approx(1.0 if metric else 0.25 * 4.0), name
    with pytest.raises(InputError, match="WorldScore paths are up to scale"):
        load_trajectory(tmp_path / "camera_data.json", 5, None)
    vc = F.write_viewcrafter(tmp_path / "orbit.txt", [0, 20], [0, 10], [0, -0.2])
    tr = load_trajectory(vc, 9, depth)
    assert tr.source.startswith("viewcrafter:") and tr.scale == 4.0 and tr.c2w.shape == (9, 4, 4)
    uv, _ = project_points(torch.tensor([[0.0, 0.0, 4.0]], dtype=torch.float64), K, tr.c2w)
    assert torch.allclose(uv[:, 0], torch.tensor([320.0, 240.0], dtype=torch.float64).expand(9, 2), atol=1e-9)
    assert load_trajectory(vc, 9, None, scale=2.0).scale == 2.0


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
