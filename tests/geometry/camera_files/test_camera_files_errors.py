"""Tests for mirage_world.geometry.camera_files: format detection, boundary errors of every reader / writer and
the dispatch of mirage_world.geometry.trajectory.load_trajectory over the formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mirage_world.errors import InputError
from mirage_world.geometry import camera_files as F
from mirage_world.geometry.camera import project_points
from mirage_world.geometry.trajectory import load_trajectory

K = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)


def _pose(R, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T



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


def test_malformed_viewcrafter_reported_as_viewcrafter(tmp_path):
    # a ViewCrafter file with a bad line used to be taken for a RealEstate10K file ("expected 19 numbers")
    p = tmp_path / "vc.txt"
    depth = np.full((8, 8), 4.0)
    for text, frags in [
        ("0 10\n0 x\n0\n", [f"{p}:2", "ViewCrafter theta value 2", "not a number"]),
        ("0 x 10\n0 0\n0\n", [f"{p}:1", "ViewCrafter phi value 2", "not a number"]),
        ("0, 10, 20\n0 0 0\n0 0.1 abc\n", [f"{p}:3", "ViewCrafter r value 3"]),
        ("0 10\n0 0\n", ["ViewCrafter trajectory has exactly 3 lines", "found 2"]),
        ("0 10\n0 0\n0 0\n0 0\n", ["ViewCrafter trajectory has exactly 3 lines", "found 4"]),
    ]:
        p.write_text(text)
        assert F.detect_format(p) == "viewcrafter", text
        _raises(lambda: load_trajectory(p, 5, depth), *frags)
        with pytest.raises(InputError) as ei:
            load_trajectory(p, 5, depth)
        assert "19 numbers" not in str(ei.value) and "RealEstate10K" not in str(ei.value)
    # malformed RealEstate10K files (a URL line first, or 19-field lines) stay RealEstate10K
    for text in ("https://www.youtube.com/watch?v=x\n1 2 3 nonsense\n", "hello\n",
                 " ".join(["1"] * 19) + "\n" + " ".join(["1"] * 18) + "\n"):
        p.write_text(text)
        assert F.detect_format(p) == "re10k", text


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
