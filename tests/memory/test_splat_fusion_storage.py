"""Issue 3 memory parts: bilinear splat vs loop reference, determinism, keep/confidence masks, voxel fusion,
capacity/eviction, storage dtypes and exact nbytes, input validation."""

from __future__ import annotations

import math

import pytest
import torch

from mirage_world.memory import (
    LatentSpatialMemory,
    deterministic_scatter_sum,
    splat_read,
    splat_read_reference,
    zbuffer_read,
    zbuffer_read_reference,
)


def _K(h, w, f=10.0):
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def _pose(yaw=0.0, t=(0.0, 0.0, 0.0)):
    c, s = math.cos(yaw), math.sin(yaw)
    T = torch.eye(4)
    T[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    T[:3, 3] = torch.tensor(t)
    return T


def _cloud(seed, n, C, dup=True):
    g = torch.Generator().manual_seed(seed)
    pts = torch.randn(n, 3, generator=g) * torch.tensor([1.5, 1.0, 1.0]) + torch.tensor([0, 0, 3.0])
    if dup:
        pts[n // 2 :] = pts[: n - n // 2].clone()
    return pts, torch.randn(n, C, generator=g)


# ------------------------------------------------------------------------------------------------ bilinear splat
@pytest.mark.parametrize("seed", [0, 1])
def test_bilinear_fast_matches_loop_reference(seed):
    pts, vals = _cloud(seed, 250, 3)
    K = torch.stack([_K(9, 13, 6.0), _K(9, 13, 8.0)])
    c2w = torch.stack([_pose(0.0), _pose(0.2, (0.3, 0.1, -0.5))])
    fast = splat_read(pts, vals, K, c2w, (9, 13))
    ref = splat_read_reference(pts, vals, K, c2w, (9, 13))
    assert (fast.mask > 0).sum() > 20
    assert torch.equal(fast.mask > 0, ref.mask > 0)
    torch.testing.assert_close(fast.mask, ref.mask, atol=1e-6, rtol=0)
    torch.testing.assert_close(fast.latent, ref.latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.depth, ref.depth, atol=1e-5, rtol=1e-5)


def test_bilinear_identity_read_and_subpixel_shift():
    h, w, C = 6, 8, 2
    K = _K(h, w, 8.0)
    lat = torch.randn(C, h, w, generator=torch.Generator().manual_seed(3))
    mem = LatentSpatialMemory(C, splat="bilinear")
    mem.write(lat, torch.full((h, w), 4.0), K, torch.eye(4))
    r = mem.read(K, torch.eye(4), (h, w))
    torch.testing.assert_close(r.latent[0], lat, atol=1e-6, rtol=0)
    assert torch.equal(r.mask, torch.ones(1, 1, h, w))
    # half-pixel shift right (fx * tx / z = 8 * 0.25 / 4 = 0.5 px to the left): each inner pixel = mean of 2 tokens
    r = mem.read(K, _pose(0.0, (0.25, 0, 0)), (h, w))
    want = 0.5 * (lat[:, :, :-1] + lat[:, :, 1:])
    torch.testing.assert_close(r.latent[0][:, :, : w - 1], want, atol=1e-5, rtol=0)
    torch.testing.assert_close(r.mask[0, 0, :, : w - 1], torch.ones(h, w - 1))
    # the nearest mode of the same memory is still the v0 hard z-buffer
    assert set(mem.read(K, _pose(0.0, (0.25, 0, 0)), (h, w), mode="nearest").mask.unique().tolist()) <= {0.0, 1.0}


def test_bilinear_occlusion_front_surface_wins():
    # a near plane in front of a far plane: the far plane's tokens are cut by the depth-aware weight
    h, w = 8, 8
    K = _K(h, w, 8.0)
    pts_near = torch.tensor([[0.0, 0.0, 1.0]]) + torch.tensor([[0.0625, 0.0625, 0.0]])  # exactly at pixel (4,4) centre
    pts_far = pts_near * 5
    r = splat_read(torch.cat([pts_far, pts_near]), torch.tensor([[5.0], [1.0]]), K[None], torch.eye(4)[None], (h, w))
    assert r.latent[0, 0, 4, 4] == 1.0 and r.depth[0, 4, 4] == pytest.approx(1.0)


def test_reads_are_deterministic_bitwise():
    pts, vals = _cloud(5, 3000, 8)
    K = _K(16, 16, 8.0)[None].repeat(3, 1, 1)
    c2w = torch.stack([_pose(a) for a in (0.0, 0.1, -0.1)])
    for fn in (zbuffer_read, splat_read):
        a, b = fn(pts, vals, K, c2w, (16, 16)), fn(pts.clone(), vals.clone(), K.clone(), c2w.clone(), (16, 16))
        assert torch.equal(a.latent, b.latent) and torch.equal(a.mask, b.mask) and torch.equal(a.depth, b.depth)


def test_deterministic_scatter_sum_is_order_independent():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(5000, 3, generator=g, dtype=torch.float64) * 1e3
    idx = torch.randint(0, 17, (5000,), generator=g)
    a = deterministic_scatter_sum(src, idx, 17)
    perm = torch.randperm(5000, generator=g)
    b = deterministic_scatter_sum(src[perm], idx[perm], 17)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, torch.zeros(17, 3, dtype=torch.float64).index_add_(0, idx, src), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------------------ analytic scenes
def test_box_corners_project_to_known_pixels():
    # unit cube corners 4 m ahead; f = 18, principal point (8, 8) on a 16x16 grid
    K = _K(16, 16, 18.0)
    corners = torch.tensor([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (4.0, 5.0)])
    r = zbuffer_read(corners, torch.arange(8.0)[:, None], K[None], torch.eye(4)[None], (16, 16))
    for n, (x, y, z) in enumerate(corners.tolist()):
        u, v = 18 * x / z + 8, 18 * y / z + 8
        assert r.mask[0, 0, math.floor(v), math.floor(u)] == 1
        assert r.latent[0, 0, math.floor(v), math.floor(u)] == n
    assert r.mask.sum() == 8


# ------------------------------------------------------------------------------------------------ write, fusion, cap
def _frame(seed, C=4, h=6, w=8, d=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(C, h, w, generator=g), torch.full((h, w), d), _K(h, w, 8.0)


def test_revisiting_same_views_100_times_keeps_token_count_flat():
    poses = [_pose(0.2 * i, (0.1 * i, 0, 0)) for i in range(3)]
    for fusion in ("mean", "newest"):
        mem = LatentSpatialMemory(4, voxel_size=0.05, fusion=fusion)
        counts = []
        for it in range(100):
            for i, p in enumerate(poses):
                lat, d, K = _frame(i)
                mem.write(lat, d, K, p)
            counts.append(mem.num_tokens)
        assert counts[0] == counts[-1] == max(counts) <= 3 * 48
        assert mem.last_write["new"] == 0 and mem.last_write["fused"] == 48


def test_fusion_policies_mean_and_newest():
    lat0, d, K = _frame(0)
    lat1, _, _ = _frame(1)
    conf = torch.full((6, 8), 3.0)
    m = LatentSpatialMemory(4, voxel_size=0.01, fusion="mean")
    m.write(lat0, d, K, torch.eye(4))
    m.write(lat1, d, K, torch.eye(4), confidence=conf)
    r = m.read(K, torch.eye(4), (6, 8))
    torch.testing.assert_close(r.latent[0], (lat0 + 3 * lat1) / 4, atol=1e-6, rtol=0)
    assert torch.all(m.confidence == 4) and torch.all(m.write_ids == 1)
    n = LatentSpatialMemory(4, voxel_size=0.01, fusion="newest")
    n.write(lat0, d, K, torch.eye(4))
    n.write(lat1, d, K, torch.eye(4))
    torch.testing.assert_close(n.read(K, torch.eye(4), (6, 8)).latent[0], lat1, atol=1e-6, rtol=0)
    # several observations of one voxel in one write are averaged (voxel bigger than the frame's footprint)
    b = LatentSpatialMemory(4, voxel_size=100.0)
    assert b.write(lat0, d, K, _pose(0.0, (50.0, 50.0, 0.0))) == 1
    torch.testing.assert_close(b.dequantized()[0], lat0.mean((1, 2)), atol=1e-6, rtol=0)


def test_keep_and_confidence_masks():
    lat, d, K = _frame(2)
    keep = torch.ones(6, 8, dtype=torch.bool)
    keep[:, :3] = False  # e.g. sky / dynamic object
    conf = torch.rand(6, 8, generator=torch.Generator().manual_seed(0))
    m = LatentSpatialMemory(4)
    n = m.write(lat, d, K, torch.eye(4), keep=keep, confidence=conf, min_confidence=0.5)
    assert n == int((keep & (conf >= 0.5)).sum()) == m.num_tokens
    r = m.read(K, torch.eye(4), (6, 8))
    assert torch.equal(r.mask[0, 0] > 0, keep & (conf >= 0.5))


@pytest.mark.parametrize("policy", ["lru", "confidence"])
def test_capacity_cap_and_eviction(policy):
    m = LatentSpatialMemory(4, capacity=60, eviction=policy)
    lat, d, K = _frame(0)
    c_hi = torch.full((6, 8), 2.0)
    m.write(lat, d, K, torch.eye(4), confidence=c_hi)  # 48 tokens, confidence 2
    m.write(lat, d + 1, K, torch.eye(4))  # 48 more, confidence 1 -> 96 > 60
    assert m.num_tokens == 60 and m.last_write["evicted"] == 36
    if policy == "lru":  # the oldest write loses 36 tokens, survivors in insertion order
        assert (m.write_ids == 0).sum() == 12 and torch.all(m.write_ids[12:] == 1)
    else:  # the low-confidence write loses
        assert (m.confidence == 2).sum() == 48 and (m.confidence == 1).sum() == 12
    assert torch.all(m.write_ids[:-1] <= m.write_ids[1:])


# ------------------------------------------------------------------------------------------------ storage dtypes
@pytest.mark.parametrize("dtype, size, atol", [("float32", 4, 0), ("float16", 2, 2e-3), ("bfloat16", 2, 2e-2), ("int8", 1, None)])
def test_storage_dtypes_and_exact_nbytes(dtype, size, atol):
    C = 6
    lat, d, K = _frame(4, C=C)
    m = LatentSpatialMemory(C, dtype=dtype)
    m.write(lat, d, K, torch.eye(4))
    m.write(lat * 3, d + 1, K, torch.eye(4))  # int8: grows the scales, re-quantizes the first write
    N = m.num_tokens
    extra = C * 4 if dtype == "int8" else 0
    assert m.nbytes == N * (12 + C * size + 8) + extra
    r = m.read(K, torch.eye(4), (6, 8))
    assert r.latent.dtype == torch.float32
    tol = (lat.abs().amax((1, 2)) * 3 / 127)[:, None, None] * 1.01 if atol is None else atol + 4e-3 * lat.abs()
    assert torch.all((r.latent[0] - lat).abs() <= tol)


def test_int8_with_fusion_and_cap_nbytes():
    C = 4
    m = LatentSpatialMemory(C, dtype="int8", voxel_size=0.05, capacity=40)
    lat, d, K = _frame(0, C=C)
    m.write(lat, d, K, torch.eye(4))
    assert m.num_tokens == 40 and m.nbytes == 40 * (12 + C + 8 + 4) + C * 4


# ------------------------------------------------------------------------------------------------ bad input
def _bad(**kw):
    lat, d, K = _frame(0)
    args = dict(latent=lat, depth=d, K=K, c2w=torch.eye(4))
    args.update(kw)
    return args


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(depth=torch.full((6, 8), float("nan"))), "finite"),
        (dict(depth=torch.full((6, 8), float("inf"))), "finite"),
        (dict(depth=-torch.ones(6, 8)), ">= 0"),
        (dict(K=torch.zeros(3, 3)), "focal"),
        (dict(c2w=torch.diag(torch.tensor([1.0, 1.0, 0.0, 1.0]))), "orthonormal"),
        (dict(latent=torch.zeros(4, 6, 8, dtype=torch.int64)), "floating"),
        (dict(keep=torch.ones(5, 8, dtype=torch.bool)), "keep"),
        (dict(keep=torch.ones(6, 8)), "bool"),
        (dict(confidence=-torch.ones(6, 8)), "confidence"),
    ],
)
def test_write_rejects_bad_input_clearly(kw, match):
    with pytest.raises(ValueError, match=match):
        LatentSpatialMemory(4).write(**_bad(**kw))


@pytest.mark.parametrize(
    "K, c2w, hw, match",
    [
        (_K(4, 4) * torch.tensor([[0.0], [1], [1]]), torch.eye(4), (4, 4), "focal"),
        (_K(4, 4), torch.zeros(4, 4), (4, 4), "last row"),
        (_K(4, 4), torch.diag(torch.tensor([1.0, 1.0, 0.0, 1.0])), (4, 4), "orthonormal"),
        (_K(4, 4), torch.diag(torch.tensor([1.0, 1.0, -1.0, 1.0])), (4, 4), "reflection"),
        (_K(4, 4), torch.eye(4) * float("nan"), (4, 4), "finite"),
        (_K(4, 4)[None].repeat(2, 1, 1), torch.eye(4)[None], (4, 4), "K must be"),
        (_K(4, 4), torch.eye(4), (0, 4), "hw"),
        (_K(4, 4).long(), torch.eye(4), (4, 4), "floating"),
    ],
)
def test_read_rejects_bad_input_clearly(K, c2w, hw, match):
    with pytest.raises(ValueError, match=match):
        LatentSpatialMemory(4).read(K, c2w, hw)


@pytest.mark.parametrize(
    "kw", [dict(dtype="float64"), dict(splat="cubic"), dict(voxel_size=0.0), dict(capacity=0), dict(eviction="x"), dict(fusion="max")]
)
def test_constructor_rejects_bad_options(kw):
    with pytest.raises(ValueError):
        LatentSpatialMemory(4, **kw)


def test_empty_memory_reads_zeros_in_both_modes():
    for mode in ("nearest", "bilinear"):
        r = LatentSpatialMemory(3, dtype="int8").read(_K(5, 5), torch.eye(4), (5, 5), mode=mode)
        assert r.latent.shape == (1, 3, 5, 5) and r.mask.sum() == 0 and r.depth.sum() == 0


def test_packed_one_scatter_zbuffer_equals_two_pass():
    from mirage_world.memory.splat import _zbuffer_winners_two_pass, zbuffer_winners

    pts, _ = _cloud(7, 4000, 1)
    pts[::7, 2] = -pts[::7, 2]  # some behind the camera
    K = torch.stack([_K(20, 30, 9.0), _K(20, 30, 15.0), _K(20, 30, 4.0)])
    c2w = torch.stack([_pose(0.0), _pose(0.3, (0.2, -0.1, 0.4)), _pose(-1.0)])
    a_w, a_z = zbuffer_winners(pts, K, c2w, (20, 30))
    b_w, b_z = _zbuffer_winners_two_pass(pts, K, c2w, (20, 30))
    assert (a_w >= 0).sum() > 100
    assert torch.equal(a_w, b_w) and torch.equal(a_z, b_z)
    # float64 points take the two-pass path and agree with the loop reference too
    vals = torch.randn(4000, 2, dtype=torch.float64)
    f64 = zbuffer_read(pts[:300].double(), vals[:300], K.double(), c2w.double(), (20, 30))
    ref = zbuffer_read_reference(pts[:300].double(), vals[:300], K.double(), c2w.double(), (20, 30))
    assert torch.equal(f64.latent, ref.latent) and torch.equal(f64.depth, ref.depth)


def test_weighted_gather_sum_chunking_does_not_change_bits():
    from mirage_world.memory.splat import _deterministic_weighted_gather_sum

    g = torch.Generator().manual_seed(1)
    table = torch.randn(50, 5, generator=g)
    rows = torch.randint(0, 50, (400,), generator=g)
    idx = torch.randint(0, 9, (400,), generator=g)
    wgt = torch.rand(400, generator=g, dtype=torch.float64)
    a = _deterministic_weighted_gather_sum(wgt, rows, table, idx, 9)
    b = _deterministic_weighted_gather_sum(wgt, rows, table, idx, 9, chunk=7)
    assert torch.equal(a, b)
    want = torch.zeros(9, 5, dtype=torch.float64).index_add_(0, idx, wgt[:, None] * table[rows].double())
    torch.testing.assert_close(a, want, atol=1e-5, rtol=0)  # float32 products
    a64 = _deterministic_weighted_gather_sum(wgt, rows, table.double(), idx, 9, chunk=7)
    torch.testing.assert_close(a64, want, atol=1e-9, rtol=0)


def test_integer_keep_mask_is_accepted():
    lat, d, K = _frame(0)
    keep = torch.zeros(6, 8, dtype=torch.uint8)
    keep[0] = 1
    assert LatentSpatialMemory(4).write(lat, d, K, torch.eye(4), keep=keep) == 8

