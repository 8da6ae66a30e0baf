"""Tests of the procedural scene renderer (mirage_world.worlds: scene, rooms, raycast, shading, render, camera_paths).
Small sizes: the whole file runs in seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from mirage_world.geometry.camera import project_points, unproject_depth
from mirage_world.worlds import (
    CAMERA_CLEARANCE,
    intrinsics_from_fov,
    look_at_c2w,
    make_scene,
    random_camera_path,
    random_scene,
    render,
    render_clip,
)
from mirage_world.worlds.camera_paths import motion_amount

H, W = 40, 56


@pytest.fixture(scope="module")
def clip():
    return render_clip(3, n_frames=8, height=H, width=W)


def test_clip_shapes_dtypes_ranges(clip):
    assert clip["rgb"].shape == (8, H, W, 3) and clip["rgb"].dtype == torch.float32
    assert clip["depth"].shape == (8, H, W) and clip["depth"].dtype == torch.float32
    assert clip["instance"].shape == (8, H, W) and clip["instance"].dtype == torch.int32
    assert clip["c2w"].shape == (8, 4, 4) and clip["c2w"].dtype == torch.float32
    assert clip["K"].shape == (3, 3) and clip["K"].dtype == torch.float32
    rgb = clip["rgb"]
    assert torch.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1
    assert rgb.std() > 0.02  # not constant
    assert (rgb.reshape(8, -1, 3).std(1) > 0.01).all()  # every frame has structure
    assert (clip["depth"] > 0).all() and torch.isfinite(clip["depth"]).all()
    K = clip["K"]
    assert K[0, 2] == W / 2 and K[1, 2] == H / 2 and K[0, 0] == K[1, 1]
    fov = math.degrees(2 * math.atan(W / 2 / float(K[0, 0])))
    assert 50 - 1e-3 <= fov <= 75 + 1e-3


def test_same_seed_identical_bytes(clip):
    again = render_clip(3, n_frames=8, height=H, width=W)
    for k in ("rgb", "depth", "instance", "c2w", "K"):
        assert clip[k].numpy().tobytes() == again[k].numpy().tobytes(), k


def test_different_seeds_differ(clip):
    other = render_clip(4, n_frames=8, height=H, width=W)
    assert not torch.equal(clip["rgb"], other["rgb"])
    assert not torch.equal(clip["c2w"], other["c2w"])
    s1, s2 = random_scene(10), random_scene(11)
    assert not torch.equal(s1.room_max, s2.room_max)


def _reprojection_errors(out, i: int, j: int) -> tuple[Tensor, Tensor]:
    """Unproject frame i with its depth, project into frame j and compare with frame j's depth.

    Visibility is a z-test against ``depth_j`` at the nearest pixel (5 % slack, so grazing surfaces count as
    visible while occluded points, which lie behind by more, do not). The projected z is then compared with
    ``depth_j`` interpolated at the exact projected position, bilinearly in inverse depth, which is exact on planes
    (1/z is affine in the image). That removes the sampling offset of the nearest pixel (up to half a pixel of
    depth gradient, far above 1e-3 on slanted floors), so the test measures rendering consistency. Interpolation is
    only meaningful when the 2x2 neighbourhood shows the same surface, so points whose neighbourhood has another
    instance id than the source pixel (silhouettes, room corners) are left out.

    Returns:
        relative errors ``(M,)`` of the kept points and their source instance ids ``(M,)``.
    """
    D, K, c2w = out["depth"].double(), out["K"].double(), out["c2w"].double()
    inst = out["instance"]
    h, w = D.shape[1:]
    pts = unproject_depth(D[i], K, c2w[i]).reshape(-1, 3)
    src = inst[i].reshape(-1)
    uv, z = project_points(pts, K, c2w[j])
    x, y = uv[:, 0] - 0.5, uv[:, 1] - 0.5  # continuous index of the pixel-centre grid
    keep = (z > 1e-6) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    x, y, z, src = x[keep], y[keep], z[keep], src[keep]
    ni, nj = torch.round(x).long(), torch.round(y).long()
    keep = z <= D[j][nj, ni] * 1.05  # z-test at the nearest pixel
    x, y, z, src = x[keep], y[keep], z[keep], src[keep]
    x0 = x.floor().long().clamp(max=w - 2)
    y0 = y.floor().long().clamp(max=h - 2)
    Ij = inst[j]
    keep = (Ij[y0, x0] == src) & (Ij[y0, x0 + 1] == src) & (Ij[y0 + 1, x0] == src) & (Ij[y0 + 1, x0 + 1] == src)
    x, y, z, src, x0, y0 = x[keep], y[keep], z[keep], src[keep], x0[keep], y0[keep]
    fx, fy = x - x0, y - y0
    inv = 1.0 / D[j]
    invz = (
        inv[y0, x0] * (1 - fx) * (1 - fy)
        + inv[y0, x0 + 1] * fx * (1 - fy)
        + inv[y0 + 1, x0] * (1 - fx) * fy
        + inv[y0 + 1, x0 + 1] * fx * fy
    )
    return (z * invz - 1).abs(), src


@pytest.mark.parametrize("seed", [3, 21])
def test_depth_reprojection_consistency(seed, clip):
    out = clip if seed == 3 else render_clip(seed, n_frames=8, height=H, width=W)
    rng = np.random.default_rng(seed)
    pairs = [(0, 7), (7, 0)] + [tuple(int(v) for v in rng.choice(8, 2, replace=False)) for _ in range(4)]
    for i, j in pairs:
        rel, src = _reprojection_errors(out, i, j)
        assert rel.numel() > 0.3 * H * W, (i, j, rel.numel())
        assert float((rel < 1e-3).double().mean()) >= 0.9, (i, j)
        # planar room surfaces: inverse-depth interpolation is exact, so every point must agree
        room = rel[src < 6]
        assert float((room < 1e-3).double().mean()) >= 0.999, (i, j)
        assert float(rel.median()) < 1e-5


def test_depth_exact_along_rays(clip):
    """Exact check at continuous positions: the ray from camera j through a point unprojected from frame i must
    hit that point (or something in front of it). A 1x1 render whose optical axis is that ray returns its length."""
    scene = random_scene(3)  # the scene of render_clip(3)
    D, K, c2w = clip["depth"], clip["K"], clip["c2w"]
    rng = np.random.default_rng(0)
    for i, j in ((0, 7), (5, 1)):
        pts = unproject_depth(D[i].double(), K.double(), c2w[i].double()).reshape(-1, 3)
        pts = pts[torch.from_numpy(rng.choice(pts.shape[0], 200, replace=False))]
        o = c2w[j, :3, 3].double()
        v = pts - o
        dist = v.norm(dim=-1)
        yaw = torch.atan2(v[:, 0], v[:, 2])
        pitch = torch.asin(v[:, 1] / dist)
        cams = torch.stack([look_at_c2w(o.tolist(), float(a), float(b)) for a, b in zip(yaw, pitch)])
        K1 = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
        d = render(scene, cams, K1, 1, 1, ss=1)["depth"][:, 0, 0].double()
        ratio = d / dist
        visible = (ratio - 1).abs() < 1e-4
        occluded = ratio < 1 - 1e-4
        # nothing may be seen behind the surface; a few points can fail where camera j sees their face exactly
        # edge-on (camera in the face plane), where the hit is ill-conditioned
        assert float((visible | occluded).double().mean()) >= 0.97, (i, j)
        assert float(visible.double().mean()) > 0.3, (i, j)


def test_constructed_wall_depth_exact():
    scene = make_scene((-2.0, -1.5, -3.0), (2.0, 1.5, 4.0), seed=1)
    h = w = 33  # odd: the centre pixel's ray is the optical axis
    K = intrinsics_from_fov(60.0, h, w)
    c2w = torch.stack([look_at_c2w((0.0, 0.0, 0.0), 0.0), look_at_c2w((0.3, 0.2, -1.0), 0.0)])
    out = render(scene, c2w, K, h, w)
    assert out["depth"][0, 16, 16] == 4.0 and out["depth"][1, 16, 16] == 5.0
    wall = out["instance"] == 5  # wall at z = room_max
    assert wall.float().mean() > 0.3
    expected = torch.tensor([4.0, 5.0])[:, None, None].expand_as(out["depth"])
    torch.testing.assert_close(out["depth"][wall], expected[wall], rtol=1e-6, atol=0)
    # looking straight down from y = 0: the floor (y = 1.5) at depth 1.5
    down = render(scene, look_at_c2w((0.0, 0.0, 0.0), 0.0, math.pi / 2), K, h, w)
    assert down["instance"][0, 16, 16] == 0
    assert abs(float(down["depth"][0, 16, 16]) - 1.5) < 1e-6


def test_constructed_objects_depth():
    scene = make_scene(
        (-3.0, -1.5, -3.0),
        (3.0, 1.5, 6.0),
        boxes=[((0.0, 0.0, 3.0), (0.5, 0.5, 0.5), math.pi / 4), ((-2.0, 1.0, 0.0), (0.3, 0.5, 0.3), 0.0)],
        spheres=[((2.0, 0.0, 0.0), 0.5)],
        cylinders=[((0.0, 0.0, -2.0), 0.4, 1.0)],
        seed=2,
    )
    h = w = 21
    K = intrinsics_from_fov(40.0, h, w)
    o = (0.0, 0.0, 0.0)
    cams = torch.stack(
        [look_at_c2w(o, 0.0), look_at_c2w(o, math.pi / 2), look_at_c2w(o, math.pi), look_at_c2w(o, -math.pi / 2)]
    )
    out = render(scene, cams, K, h, w)
    c = h // 2
    # rotated box (yaw 45 deg): nearest vertical edge at z = 3 - 0.5 * sqrt(2); sphere at x = 2, r 0.5;
    # cylinder at z = -2, r 0.4 (instance ids: boxes 6, 7, sphere 8, cylinder 9)
    expect = [(6, 3 - 0.5 * math.sqrt(2)), (8, 1.5), (9, 1.6)]
    for f, (inst, dep) in enumerate(expect):
        assert out["instance"][f, c, c] == inst
        assert abs(float(out["depth"][f, c, c]) - dep) < 1e-5, (f, float(out["depth"][f, c, c]), dep)
    # the low box at x = -2 (y in [0.5, 1.5], floor at 1.5) is below the optical axis: the ray at y = 0 hits
    # the wall x = -3 behind it
    assert out["instance"][3, c, c] == 2 and abs(float(out["depth"][3, c, c]) - 3.0) < 1e-6
    # ... but rays below the axis hit the box's front face x = -1.7
    rows = torch.nonzero(out["instance"][3, :, c] == 7).squeeze(1)
    assert rows.numel() > 0
    r = int(rows[-1])  # lowest row: front face (upper rows see the top face)
    assert abs(float(out["depth"][3, r, c]) - 1.7) < 1e-5


def test_camera_path_free_space_and_speed():
    for seed in range(25):
        scene = random_scene(seed)
        n = 16
        path = random_camera_path(scene, n, seed)
        assert path.shape == (n, 4, 4) and path.dtype == torch.float32
        assert torch.equal(path, random_camera_path(scene, n, seed))
        pos = path[:, :3, 3].double().numpy()
        clr = scene.clearance(pos[:, [0, 2]])
        assert clr[0] >= CAMERA_CLEARANCE and clr.min() >= CAMERA_CLEARANCE - 1e-5, (seed, clr.min())
        assert scene.contains(path[:, :3, 3]).all()
        R = path[:, :3, :3].double()
        torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(n, 3, 3),
                                   atol=1e-5, rtol=0)
        assert abs(float(path[0, 1, 2])) < math.sin(math.radians(20))  # roughly horizontal start
        assert (path[:, 1, 0].abs() < 1e-5).all()  # no roll: camera x axis stays horizontal
        tr, rot = motion_amount(path[0], path[-1], n - 1)
        assert tr <= 1.0 + 1e-4 and rot <= 41.0, (seed, tr, rot)
        assert tr >= 0.2 - 1e-4 or rot >= 5.0 - 1e-3, (seed, tr, rot)
        steps = path[1:, :3, 3] - path[:-1, :3, 3]
        assert float(steps.norm(dim=-1).max()) < 0.2  # smooth: no jumps


def test_scene_objects_on_floor_and_count():
    for seed in range(10):
        s = random_scene(seed)
        assert 3 <= s.n_objects <= 8
        floor = s.floor_y
        bottoms = torch.cat([s.box_center[:, 1] + s.box_half[:, 1], s.sph_center[:, 1] + s.sph_radius,
                             s.cyl_center[:, 1] + s.cyl_half_height])
        torch.testing.assert_close(bottoms, torch.full_like(bottoms, floor), atol=1e-5, rtol=0)
        assert s.ceiling_y < 0 < floor


def test_bad_parameters_raise():
    scene = random_scene(0)
    K = intrinsics_from_fov(60, 8, 8)
    pose = random_camera_path(scene, 1, 0)
    with pytest.raises(ValueError):
        render(scene, pose, K, 0, 8)
    with pytest.raises(ValueError):
        render(scene, pose, K, 8, -1)
    with pytest.raises(ValueError):
        render(scene, pose, K, 8, 8, ss=0)
    bad = pose.clone()
    bad[0, 0, 3] = float("nan")
    with pytest.raises(ValueError):
        render(scene, bad, K, 8, 8)
    bad = pose.clone()
    bad[0, 0, 0] = float("inf")
    with pytest.raises(ValueError):
        render(scene, bad, K, 8, 8)
    outside = pose.clone()
    outside[0, 0, 3] = 100.0
    with pytest.raises(ValueError):
        render(scene, outside, K, 8, 8)
    with pytest.raises(ValueError):
        render(scene, torch.eye(3), K, 8, 8)
    with pytest.raises(ValueError):
        random_camera_path(scene, 0, 0)
    with pytest.raises(ValueError):
        render_clip(0, n_frames=0)
    with pytest.raises(ValueError):
        render_clip(0, n_frames=2, height=0)
    with pytest.raises(ValueError):
        random_scene(-1)


def test_supersampling_keeps_centre_depth():
    scene = random_scene(5)
    path = random_camera_path(scene, 2, 5)
    K = intrinsics_from_fov(65, 24, 24)
    a = render(scene, path, K, 24, 24, ss=1)
    b = render(scene, path, K, 24, 24, ss=2)
    c = render(scene, path, K, 24, 24, ss=3)
    assert torch.equal(a["depth"], b["depth"]) and torch.equal(a["instance"], b["instance"])
    torch.testing.assert_close(a["depth"], c["depth"], rtol=1e-6, atol=0)
    assert (a["rgb"] - b["rgb"]).abs().mean() < 0.05  # same image, anti-aliased


def test_bitwise_identical_across_thread_counts():
    from mirage_world.worlds.textures import clear_noise_cache

    prev = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            clear_noise_cache()  # the noise tables are rebuilt under this thread count
            outs.append(render_clip(9, n_frames=2, height=24, width=32))
    finally:
        torch.set_num_threads(prev)
    for k in ("rgb", "depth", "instance"):
        assert outs[0][k].numpy().tobytes() == outs[1][k].numpy().tobytes(), k
