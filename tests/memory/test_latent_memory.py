"""Latent spatial memory v0: identity read, z-buffer, determinism, fast path vs loop reference, errors."""

from __future__ import annotations

import pytest
import torch

from mirage_world.geometry.camera import downsample_depth, rescale_intrinsics, unproject_depth
from mirage_world.memory import (
    LatentSpatialMemory,
    pool_depth_to_grid,
    zbuffer_read,
    zbuffer_read_reference,
)


def _K(h: int, w: int, f: float = 10.0) -> torch.Tensor:
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def _pose(yaw: float = 0.0, t=(0.0, 0.0, 0.0)) -> torch.Tensor:
    c, s = torch.cos(torch.tensor(yaw)), torch.sin(torch.tensor(yaw))
    T = torch.eye(4)
    T[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    T[:3, 3] = torch.tensor(t)
    return T


def test_identity_read_returns_stored_latents():
    g = torch.Generator().manual_seed(0)
    h, w, C = 12, 16, 5
    lat = torch.randn(C, h, w, generator=g)
    depth = 1 + 3 * torch.rand(h, w, generator=g)
    depth[2, 3] = 0  # invalid: no token
    c2w = _pose(0.3, (0.5, -0.2, 1.0))
    mem = LatentSpatialMemory(C)
    added = mem.write(lat, depth, _K(h, w), c2w)
    assert added == h * w - 1
    r = mem.read(_K(h, w), c2w, (h, w))
    covered = r.mask[0, 0] > 0
    assert not covered[2, 3] and covered.sum() == h * w - 1
    assert torch.allclose(r.latent[0][:, covered], lat[:, covered])
    assert torch.allclose(r.depth[0][covered], depth[covered], rtol=1e-5)
    assert torch.all(r.latent[0][:, ~covered] == 0)


def test_zbuffer_nearest_of_two_tokens_wins_in_either_write_order():
    K = _K(4, 4, f=4.0)
    ray = torch.tensor([[0.0, 0.0, 1.0]])  # through the principal point -> pixel (2, 2)
    near, far = torch.full((1, 3), 1.0), torch.full((1, 3), 7.0)
    for order in ([(near, 1.0), (far, 3.0)], [(far, 3.0), (near, 1.0)]):
        pts = torch.cat([ray * z for _, z in order])
        vals = torch.cat([v for v, _ in order])
        r = zbuffer_read(pts, vals, K[None], torch.eye(4)[None], (4, 4))
        assert r.mask[0, 0].sum() == 1
        assert torch.equal(r.latent[0, :, 2, 2], torch.ones(3))
        assert r.depth[0, 2, 2] == 1.0


def test_equal_depth_tie_goes_to_newest_token():
    K = _K(4, 4, f=4.0)
    pts = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]])
    vals = torch.tensor([[1.0], [2.0]])
    r = zbuffer_read(pts, vals, K[None], torch.eye(4)[None], (4, 4))
    assert r.latent[0, 0, 2, 2] == 2.0


def _random_cloud(seed: int, n: int, C: int):
    g = torch.Generator().manual_seed(seed)
    pts = torch.randn(n, 3, generator=g) * torch.tensor([1.5, 1.0, 1.0]) + torch.tensor([0, 0, 3.0])
    # many exact duplicates of depth on shared pixels to stress tie-breaking
    pts[n // 2 :] = pts[: n - n // 2].clone()
    vals = torch.randn(n, C, generator=g)
    return pts, vals


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_read_matches_loop_reference(seed):
    pts, vals = _random_cloud(seed, 300, 4)
    K = torch.stack([_K(9, 13, 6.0), _K(9, 13, 8.0)])
    c2w = torch.stack([_pose(0.0), _pose(0.2, (0.3, 0.1, -0.5))])
    fast = zbuffer_read(pts, vals, K, c2w, (9, 13))
    ref = zbuffer_read_reference(pts, vals, K, c2w, (9, 13))
    assert fast.mask.sum() > 10
    assert torch.equal(fast.mask, ref.mask)
    assert torch.equal(fast.latent, ref.latent)
    assert torch.equal(fast.depth, ref.depth)


def test_read_is_deterministic():
    pts, vals = _random_cloud(5, 2000, 8)
    K = _K(16, 16, 8.0)[None].repeat(3, 1, 1)
    c2w = torch.stack([_pose(a) for a in (0.0, 0.1, -0.1)])
    a = zbuffer_read(pts, vals, K, c2w, (16, 16))
    b = zbuffer_read(pts.clone(), vals.clone(), K, c2w, (16, 16))
    assert torch.equal(a.latent, b.latent) and torch.equal(a.mask, b.mask) and torch.equal(a.depth, b.depth)


def test_read_at_moved_camera_lands_tokens_at_reprojected_pixels():
    # a fronto-parallel plane at z = 4 seen from the origin, read from a camera shifted right by 1 m
    h, w, C = 8, 8, 2
    K = _K(h, w, 8.0)
    depth = torch.full((h, w), 4.0)
    lat = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w).repeat(C, 1, 1)
    mem = LatentSpatialMemory(C)
    mem.write(lat, depth, K, torch.eye(4))
    r = mem.read(K, _pose(0.0, (1.0, 0.0, 0.0)), (h, w))
    # shift of fx * tx / z = 8 * 1 / 4 = 2 pixels to the left
    assert torch.equal(r.latent[0, 0, :, : w - 2], lat[0, :, 2:])
    assert r.mask[0, 0, :, w - 2 :].sum() == 0


def test_write_keep_mask_and_growth_accounting():
    h, w, C = 4, 6, 3
    mem = LatentSpatialMemory(C)
    keep = torch.zeros(h, w, dtype=torch.bool)
    keep[:2] = True
    n = mem.write(torch.randn(C, h, w), torch.ones(h, w), _K(h, w), torch.eye(4), keep=keep)
    assert n == 2 * w == mem.num_tokens
    assert mem.nbytes == mem.num_tokens * (3 * 4 + C * 4 + 8)
    mem.write(torch.randn(2, C, h, w), torch.ones(2, h, w), _K(h, w)[None].repeat(2, 1, 1), torch.eye(4)[None].repeat(2, 1, 1))
    assert mem.num_tokens == 2 * w + 2 * h * w


def test_empty_memory_reads_nothing():
    r = LatentSpatialMemory(4).read(_K(5, 5), torch.eye(4), (5, 5))
    assert r.latent.shape == (1, 4, 5, 5) and r.mask.sum() == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(latent=torch.randn(3, 4, 4)), "latent must be"),
        (dict(depth=torch.ones(5, 4)), "depth must be"),
        (dict(K=torch.eye(4)), "K must be"),
        (dict(latent=torch.full((4, 4, 4), float("nan"))), "finite"),
    ],
)
def test_write_rejects_bad_input(kwargs, match):
    args = dict(latent=torch.randn(4, 4, 4), depth=torch.ones(4, 4), K=_K(4, 4), c2w=torch.eye(4))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LatentSpatialMemory(4).write(**args)


def test_pool_depth_median_does_not_float_tokens_at_a_step_edge():
    # left 5 columns of each 8x8 block at 1 m (foreground), right 3 at 9 m (background)
    d = torch.full((16, 16), 9.0)
    d[:, 0:5] = 1.0
    d[:, 8:13] = 1.0
    pooled = pool_depth_to_grid(d, 8)
    assert torch.equal(pooled, torch.ones(2, 2))  # a real surface, not the 4 m mean in mid-air
    d[:8, :8] = 0  # a fully invalid block gets no token
    d[8:, 8:][::2] = 0  # half the samples invalid: median of the valid ones
    pooled = pool_depth_to_grid(d, 8)
    assert pooled[0, 0] == 0 and pooled[1, 1] == 1.0
    # one implementation (geometry.camera.downsample_depth): a size the factor does not divide keeps the top-left
    # window of whole blocks, like a stride-8 encoder
    assert pool_depth_to_grid is downsample_depth
    assert torch.equal(pool_depth_to_grid(d[:, :13], 8), pool_depth_to_grid(d[:, :8], 8))


def test_latent_grid_tokens_follow_image_geometry():
    # tokens placed with the latent-grid K are the points seen through latent pixel centres in the image
    H, W, f = 64, 96, 8
    K = torch.tensor([[70.0, 0, 47.0], [0, 72.0, 33.0], [0, 0, 1]], dtype=torch.float64)
    K_lat = rescale_intrinsics(K, (H, W), (H // f, W // f))
    d = torch.full((H // f, W // f), 3.0, dtype=torch.float64)
    pts = unproject_depth(d, K_lat, torch.eye(4, dtype=torch.float64))
    # latent pixel (i, j) centre = image point ((i + .5) * 8, (j + .5) * 8)
    u = (pts[..., 0] / pts[..., 2]) * K[0, 0] + K[0, 2]
    assert torch.allclose(u[0], (torch.arange(W // f, dtype=torch.float64) + 0.5) * f)
