"""Tests for the Open3D / Redwood / ICL-NUIM trajectory.log reader and writer, written by hand from the published
spec (http://redwood-data.org/indoor/fileformat.html; Open3D's FileLOG.cpp), and load_trajectory on such files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from mirage_world.errors import InputError
from mirage_world.geometry import camera_files as F
from mirage_world.geometry.camera import invert_pose, project_points
from mirage_world.geometry.trajectory import load_trajectory

K = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)

# The example .log of the Redwood format page, verbatim: 3 frames, metadata "i i frame" with frames from 1.
REDWOOD_EXAMPLE = """\
0    0   1
1.0000000000    0.0000000000    0.0000000000    2.0000000000
0.0000000000    1.0000000000    0.0000000000    2.0000000000
0.0000000000    0.0000000000    1.0000000000    -0.3000000000
0.0000000000    0.0000000000    0.0000000000    1.0000000000
1   1   2
0.9999880000    0.0000308668    0.0049181000    1.9996200000
-0.0000884184   0.9999320000    0.0117022000    1.9770400000
-0.0049174000   -0.0117024000   0.9999190000    -0.3004860000
0.0000000000    0.0000000000    0.0000000000    1.0000000000
2   2   3
0.9999540000    -0.0000789780   0.0096394000    1.9993500000
-0.0001493510   0.9997200000    0.0236841000    1.9535300000
-0.0096385700   -0.0236844000   0.9996730000    -0.3015860000
0.0000000000    0.0000000000    0.0000000000    1.0000000000
"""


def _pose(R, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


# Three known camera-to-world poses with exact entries: a camera at (1, 0, 0) looking along world +z, the same
# camera turned 90 deg about +y (looking along world +x) at (1, 0, 2), and one rolled 90 deg about +z.
KNOWN = np.stack([
    _pose(np.eye(3), [1.0, 0.0, 0.0]),
    _pose([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], [1.0, 0.0, 2.0]),
    _pose([[0, -1, 0], [1, 0, 0], [0, 0, 1]], [0.5, -0.25, 3.0]),
])


def _open3d_style(c2w: np.ndarray, comment: bool = True) -> str:
    """What Open3D's WritePinholeCameraTrajectoryToLOG prints ("%d %d %d" then "%.8f" rows), plus a comment line."""
    out = ["# written by hand from the Redwood .log spec"] if comment else []
    for i, T in enumerate(c2w):
        out.append(f"{i} {i} {i + 1}")
        out += [" ".join(f"{v:.8f}" for v in row) for row in T]
    return "\n".join(out) + "\n"


def test_redwood_spec_example(tmp_path):
    p = tmp_path / "trajectory.log"
    p.write_text(REDWOOD_EXAMPLE)
    assert F.detect_format(p) == "trajectory_log"
    cf = F.read_trajectory_log(p)
    stored = np.array([[float(x) for x in ln.split()] for ln in REDWOOD_EXAMPLE.splitlines()
                       if len(ln.split()) == 4]).reshape(3, 4, 4)
    assert cf.kind == "trajectory_log" and cf.metric and cf.K is None
    assert cf.frame_numbers == (1, 2, 3)
    assert cf.c2w.shape == (3, 4, 4) and cf.c2w.dtype == torch.float64
    # the matrices are camera-to-world, used as stored: translation = camera centre, exactly
    assert cf.c2w[:, :3, 3].numpy().tolist() == stored[:, :3, 3].tolist()
    assert cf.c2w[0, :3, 3].tolist() == [2.0, 2.0, -0.3]
    # rotations (stored with ~7 digits) are projected onto SO(3): within the file's precision
    assert np.abs(cf.c2w[:, :3, :3].numpy() - stored[:, :3, :3]).max() < 1e-5
    R = cf.c2w[:, :3, :3]
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(3, 3, 3), atol=1e-12)


def test_known_c2w_axes_and_load_trajectory(tmp_path):
    p = tmp_path / "trajectory.log"
    p.write_text(_open3d_style(KNOWN))
    cf = F.read_camera_file(p)
    assert cf.kind == "trajectory_log" and cf.frame_numbers == (1, 2, 3)
    assert np.abs(cf.c2w.numpy() - KNOWN).max() < 1e-12
    # OpenCV camera axes, no conversion: a point 2 m along camera 1's +z is at the principal point, one at
    # camera (+0.5, +0.25, 2) is right of and below it
    T1 = torch.from_numpy(KNOWN[1])
    pts = (T1 @ torch.tensor([[0.0, 0.0, 2.0, 1.0], [0.5, 0.25, 2.0, 1.0]], dtype=torch.float64).T).T[:, :3]
    assert pts[0].tolist() == [3.0, 0.0, 2.0]  # camera 1 at (1, 0, 2) looks along world +x
    uv, z = project_points(pts, K, cf.c2w[1])
    assert np.allclose(uv.numpy(), [[320.0, 240.0], [320.0 + 125.0, 240.0 + 62.5]], rtol=0, atol=1e-9)
    assert np.allclose(z.numpy(), [2.0, 2.0], rtol=0, atol=1e-12)
    # load_trajectory as the CLI calls it (spec, frames, depth_m=..., scale=--trajectory-scale or None): metric
    depth = np.full((8, 8), 4.0)
    for kwargs in ({"depth_m": depth, "scale": None}, {"depth_m": None}):
        tr = load_trajectory(p, 3, **kwargs)
        assert tr.source == f"trajectory_log:{p}" and tr.scale == 1.0
        want = invert_pose(torch.from_numpy(KNOWN[0])) @ torch.from_numpy(KNOWN)
        assert torch.equal(tr.c2w[0], torch.eye(4, dtype=torch.float64))
        assert torch.allclose(tr.c2w, want, atol=1e-12)
    tr = load_trajectory(str(p), 5, depth_m=depth, scale=2.0)
    assert tr.c2w.shape == (5, 4, 4) and tr.scale == 2.0
    assert torch.allclose(tr.c2w[-1, :3, 3], 2.0 * want[-1, :3, 3], atol=1e-12)


def test_detected_by_suffix_and_by_content(tmp_path):
    text = _open3d_style(KNOWN, comment=False)
    for name in ("poses.log", "livingroom1-traj.txt"):  # augmented ICL-NUIM ships its .log trajectories as -traj.txt
        (tmp_path / name).write_text(text)
        assert F.detect_format(tmp_path / name) == "trajectory_log", name
        assert load_trajectory(tmp_path / name, 3, None).source.startswith("trajectory_log:")
    # other .txt formats keep their detection
    F.write_viewcrafter(tmp_path / "vc.txt", [0, 10, 20], [0, 0, 5], [0, 0, -0.1])
    assert F.detect_format(tmp_path / "vc.txt") == "viewcrafter"
    F.write_re10k(tmp_path / "re.txt", KNOWN, [0.5, 0.8, 0.5, 0.5])
    assert F.detect_format(tmp_path / "re.txt") == "re10k"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.floats(-1, 1), min_size=4, max_size=4),
                          st.lists(st.floats(-50, 50), min_size=3, max_size=3)), min_size=1, max_size=5),
       st.integers(0, 10_000))
def test_write_read_roundtrip(tmp_path_factory, frames, first):
    c2w = []
    for q, t in frames:
        q = np.array(q) if np.linalg.norm(q) > 1e-3 else np.array([0.0, 0.0, 0.0, 1.0])
        c2w.append(_pose(Rotation.from_quat(q).as_matrix(), t))
    c2w = np.stack(c2w)
    p = tmp_path_factory.mktemp("log") / "trajectory.log"
    numbers = list(range(first, first + len(c2w)))
    F.write_trajectory_log(p, c2w, numbers)
    cf = F.read_trajectory_log(p)
    assert np.abs(cf.c2w.numpy() - c2w).max() < 1e-12 and cf.frame_numbers == tuple(numbers)
    assert F.read_trajectory_log(F.write_trajectory_log(p, c2w)).frame_numbers == tuple(range(1, len(c2w) + 1))


def _raises(fn, *fragments):
    with pytest.raises(InputError) as ei:
        fn()
    for frag in fragments:
        assert frag in str(ei.value), (frag, str(ei.value))


def test_bad_files(tmp_path):
    p = tmp_path / "trajectory.log"
    good = _open3d_style(KNOWN[:1], comment=False).splitlines()  # 5 lines

    def check(lines, *frags):
        p.write_text("\n".join(lines) + "\n")
        _raises(lambda: F.read_trajectory_log(p), str(p), *frags)
        _raises(lambda: load_trajectory(p, 4, None), str(p), *frags)

    check(["0 0"] + good[1:], f"{p}:1", "3 integers")
    check(["0 0 1.5"] + good[1:], f"{p}:1", "3 integers")
    check(good + ["1 1 2"] + good[1:4], f"{p}:6", "frame 1 has 3 of the 4")
    check(good[:2] + ["0 1 0"] + good[3:], f"{p}:3", "expected 4 numbers")
    check(good[:2] + ["0 1 x 0"] + good[3:], f"{p}:3", "not a number")
    check(good[:2] + ["0 1 nan 0"] + good[3:], f"{p}:3", "not finite")
    check(good + ["1 1 2", "2 0 0 0", "0 1 0 0", "0 0 1 0", "0 0 0 1"], f"{p}:6", "pose 1", "not orthonormal")
    check(good + ["1 1 2", "1 0 0 0", "0 1 0 0", "0 0 -1 0", "0 0 0 1"], "pose 1", "reflection")
    check(good[:4] + ["0 0 0.5 1"], f"{p}:1", "last row")
    check(["# only a comment", ""], "no frames")
    _raises(lambda: F.read_trajectory_log(tmp_path / "missing.log"), "not found")
    _raises(lambda: F.write_trajectory_log(p, KNOWN, [1, 2]), "3 integers")
    _raises(lambda: F.write_trajectory_log(p, np.eye(4)), "(N, 4, 4)")
