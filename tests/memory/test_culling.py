"""Spatially culled reads (Morton-chunk index) equal the unculled fast path and the loop references; the projection
helpers agree with ``project_points``; the index follows every change of the positions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mirage_world.geometry.camera import project_points, project_with_matrices, projection_matrices
from mirage_world.memory import LatentSpatialMemory, splat_read, zbuffer_read_reference, zbuffer_winners
from mirage_world.memory.index import ChunkIndex, morton_codes
from mirage_world.memory.splat import read_matrices, splat_read_reference


def _K(h, w, f):
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def _pose(yaw=0.0, t=(0.0, 0.0, 0.0), pitch=0.0):
    c, s = math.cos(yaw), math.sin(yaw)
    Ry = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    c, s = math.cos(pitch), math.sin(pitch)
    Rx = torch.tensor([[1, 0, 0], [0, c, -s], [0, s, c]])
    T = torch.eye(4)
    T[:3, :3] = Ry @ Rx
    T[:3, 3] = torch.tensor(t)
    return T


def _room_memory(n_tok: int, seed: int, C: int = 3, chunk: int = 32, sub: int = 8, **kw) -> LatentSpatialMemory:
    """Tokens on the walls of a 6 x 3 x 6 m box (and duplicated points, for z ties), cameras go inside it."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n_tok, 3, generator=g) * torch.tensor([6.0, 3.0, 6.0]) - torch.tensor([3.0, 1.5, 3.0])
    axis = torch.randint(0, 3, (n_tok,), generator=g)
    side = torch.randint(0, 2, (n_tok,), generator=g).float() * 2 - 1
    half = torch.tensor([3.0, 1.5, 3.0])
    p[torch.arange(n_tok), axis] = side * half[axis]
    p[n_tok // 3 : n_tok // 3 + 50] = p[:50]  # exact duplicates: equal z, the newest must win
    mem = LatentSpatialMemory(C, **kw)
    mem.INDEX_CHUNK, mem.INDEX_SUB = chunk, sub
    mem.positions = p
    mem.latents = torch.randn(n_tok, C, generator=g).to(mem.storage_dtype)
    mem.write_ids = torch.zeros(n_tok, dtype=torch.int64)
    return mem


def _cameras(V: int, seed: int, h: int, w: int):
    g = torch.Generator().manual_seed(seed)
    K = torch.stack([_K(h, w, float(4 + 8 * torch.rand((), generator=g))) for _ in range(V)])
    c2w = torch.stack([
        _pose(float(torch.rand((), generator=g)) * 6.3, tuple((torch.rand(3, generator=g) * 2 - 1).tolist()),
              float(torch.rand((), generator=g) - 0.5))
        for _ in range(V)
    ])
    return K, c2w


@pytest.mark.parametrize("seed,flat_max", [(0, 4096), (1, 4096), (2, 0), (3, 0)])
def test_culled_nearest_read_is_bit_equal_to_unculled_and_reference(seed, flat_max, monkeypatch):
    monkeypatch.setattr(ChunkIndex, "FLAT_TEST_MAX_RUNS", flat_max)  # 0: the two-level test
    h, w = 9, 13
    mem = _room_memory(3000, seed)
    K, c2w = _cameras(3, seed, h, w)
    r = mem.read(K, c2w, (h, w))
    idx = mem.read_index()
    assert idx is not None and idx.num_chunks > 50 and idx.num_runs == 4 * idx.num_chunks
    vis, _ = idx.classify(read_matrices(K, c2w, torch.float64)[0].numpy(), (h, w), mem.near)
    assert 0 < vis.sum() < vis.size  # culling dropped something and kept something
    win, zbuf = zbuffer_winners(mem.positions, K, c2w, (h, w), mem.near)
    covered = win >= 0
    assert covered.sum() > 50
    assert torch.equal(r.mask[:, 0] > 0, covered)
    assert torch.equal(r.depth, torch.where(covered, zbuf, torch.zeros_like(zbuf)))
    assert torch.equal(r.latent.permute(0, 2, 3, 1)[covered], mem.latents[win[covered]].float())
    ref = zbuffer_read_reference(mem.positions, mem.latents, K, c2w, (h, w), mem.near)
    assert torch.equal(r.latent, ref.latent) and torch.equal(r.mask, ref.mask) and torch.equal(r.depth, ref.depth)
    # the queries go through the same culled path
    assert torch.equal(mem.render_depth(K, c2w, (h, w)), r.depth)
    vt = mem.visible_tokens(K, c2w, (h, w))
    assert all(torch.equal(t, torch.unique(wv[wv >= 0])) for t, wv in zip(vt, win.reshape(3, -1)))


@pytest.mark.parametrize("seed", [0, 1])
def test_culled_bilinear_read_matches_unculled_and_reference(seed):
    h, w = 9, 13
    mem = _room_memory(1500, seed, splat="bilinear")
    K, c2w = _cameras(2, seed + 10, h, w)
    r = mem.read(K, c2w, (h, w))
    full = splat_read(mem.positions, mem.latents, K, c2w, (h, w), mem.near, mem.depth_tolerance)
    assert (r.mask > 0).sum() > 50
    assert torch.equal(r.mask > 0, full.mask > 0)
    torch.testing.assert_close(r.latent, full.latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r.depth, full.depth, atol=1e-5, rtol=1e-5)
    ref = splat_read_reference(mem.positions[:400], mem.latents[:400], K, c2w, (h, w), mem.near, mem.depth_tolerance)
    sub = splat_read(mem.positions[:400], mem.latents[:400], K, c2w, (h, w), mem.near, mem.depth_tolerance)
    torch.testing.assert_close(sub.latent, ref.latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sub.mask, ref.mask, atol=1e-6, rtol=0)


def test_camera_inside_a_chunk_and_tokens_on_the_near_plane():
    # tokens all around the camera, some exactly at z = 0 and at the camera centre (X = Y = Z = 0 -> NaN pixel)
    h, w = 8, 8
    mem = _room_memory(2000, 5)
    mem.positions[:20] = torch.tensor([0.0, 0.0, 0.0])
    mem.positions[20:40, 2] = 0.0
    mem.positions[40:60] = torch.randn(20, 3) * 0.01
    K = _K(h, w, 4.0)[None]
    c2w = torch.eye(4)[None]
    r = mem.read(K, c2w, (h, w))
    win, zbuf = zbuffer_winners(mem.positions, K, c2w, (h, w), mem.near)
    assert torch.equal(r.mask[:, 0] > 0, win >= 0)
    assert torch.equal(r.depth, torch.where(win >= 0, zbuf, torch.zeros_like(zbuf)))


def test_all_front_shortcut_equals_the_near_plane_test():
    from mirage_world.memory.splat import zbuffer_core

    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(3, 500, generator=g) * 2 + torch.tensor([[-1.0], [-1.0], [2.0]])  # in front of the origin
    low = torch.arange(500, dtype=torch.int32)
    Kf = _K(10, 12, 6.0)[None].expand(2, 3, 3)
    cf = torch.eye(4)[None].expand(2, 4, 4)
    Pf = read_matrices(Kf, cf)[1]
    a = zbuffer_core(xyz, low, Pf, (10, 12), 1e-3, all_front=False)
    b = zbuffer_core(xyz, low, Pf, (10, 12), 1e-3, all_front=True)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and (a[0] >= 0).sum() > 20


def test_index_is_rebuilt_when_positions_change():
    h, w = 9, 13
    mem = LatentSpatialMemory(2, voxel_size=0.2, capacity=1500)
    mem.INDEX_CHUNK, mem.INDEX_SUB = 16, 4
    K = _K(h, w, 6.0)
    g = torch.Generator().manual_seed(0)
    for i in range(6):
        d = 2.0 + torch.rand(h, w, generator=g)
        mem.write(torch.randn(2, h, w, generator=g), d, K, _pose(0.3 * i))
        Kv, cv = K[None].expand(2, 3, 3), torch.stack([_pose(0.3 * i), _pose(0.3 * i + 0.1)])
        r = mem.read(Kv, cv, (h, w))
        win, zbuf = zbuffer_winners(mem.positions, Kv, cv, (h, w), mem.near)
        assert torch.equal(r.mask[:, 0] > 0, win >= 0)
        assert torch.equal(r.latent.permute(0, 2, 3, 1)[win >= 0], mem.latents[win[win >= 0]])
    # an in-place edit of the positions (version bump) is seen too
    mem.positions.add_(torch.tensor([0.0, 0.0, 0.5]))
    r = mem.read(Kv, cv, (h, w))
    win, zbuf = zbuffer_winners(mem.positions, Kv, cv, (h, w), mem.near)
    assert torch.equal(r.depth, torch.where(win >= 0, zbuf, torch.zeros_like(zbuf)))
    assert mem.read_index().key[1] == mem.positions._version


def test_index_runs_cover_every_token_once_with_tight_boxes():
    g = torch.Generator().manual_seed(1)
    pos = torch.randn(1000, 3, generator=g) * 3
    idx = ChunkIndex(pos, chunk=64, sub=16)
    assert idx.num_runs == 4 * idx.num_chunks and 63 <= idx.num_runs <= 63 + 8 * 2  # padding per octree cell
    tok = (999 - idx.low.long())[idx.valid]
    assert torch.equal(torch.sort(tok).values, torch.arange(1000))
    xyz = idx.xyz.permute(1, 2, 0)[idx.valid]
    assert torch.equal(xyz, pos[tok])
    pad_tok = (999 - idx.low.long())[~idx.valid]  # padding repeats real tokens
    assert ((pad_tok >= 0) & (pad_tok < 1000)).all()
    for boxes, run in ((idx.level1, 64), (idx.level2, 16)):
        for c in range(boxes.lo.shape[0]):
            pts = idx.xyz.reshape(3, -1)[:, c * run : (c + 1) * run].T.double().numpy()
            assert np.array_equal(pts.min(0), boxes.lo[c]) and np.array_equal(pts.max(0), boxes.hi[c])
    # Morton order keeps neighbours together: mean box volume is far below the whole cloud's, and the level-2
    # boxes are tighter still
    whole = float(torch.prod(pos.amax(0) - pos.amin(0)))
    v1 = np.prod(idx.level1.hi - idx.level1.lo, axis=1).mean()
    v2 = np.prod(idx.level2.hi - idx.level2.lo, axis=1).mean()
    assert v2 < v1 < 0.1 * whole
    with pytest.raises(ValueError, match="multiple"):
        ChunkIndex(pos, chunk=64, sub=24)


def test_morton_codes_interleave_bits():
    pts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    c = morton_codes(pts)
    full = (1 << 63) - 1  # every bit of 3 x 21 bits set
    assert c[0] == 0 and c[1] == full
    assert c[2] == full & 0x4924924924924924 and c[3] == full & 0x2492492492492492 and c[4] == full & 0x1249249249249249


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.floats(0.5, 20.0), st.booleans())
def test_culling_never_drops_a_landing_token(seed, V, f, two_level):
    h, w = 7, 11
    g = torch.Generator().manual_seed(seed)
    mem = LatentSpatialMemory(1)
    mem.INDEX_CHUNK, mem.INDEX_SUB = 8, 2
    mem.positions = torch.randn(400, 3, generator=g) * torch.rand(3, generator=g) * 4
    mem.latents = torch.randn(400, 1, generator=g)
    mem.write_ids = torch.zeros(400, dtype=torch.int64)
    K = torch.stack([_K(h, w, f)] * V)
    c2w = torch.stack([_pose(float(torch.rand((), generator=g)) * 6.3, tuple(torch.randn(3, generator=g).tolist()),
                             float(torch.rand((), generator=g)) * 3 - 1.5) for _ in range(V)])
    old = ChunkIndex.FLAT_TEST_MAX_RUNS
    ChunkIndex.FLAT_TEST_MAX_RUNS = 0 if two_level else 4096
    try:
        r = mem.read(K, c2w, (h, w))
        rb = mem.read(K, c2w, (h, w), mode="bilinear")
    finally:
        ChunkIndex.FLAT_TEST_MAX_RUNS = old
    win, zbuf = zbuffer_winners(mem.positions, K, c2w, (h, w), mem.near)
    assert torch.equal(r.mask[:, 0] > 0, win >= 0)
    assert torch.equal(r.depth, torch.where(win >= 0, zbuf, torch.zeros_like(zbuf)))
    fb = splat_read(mem.positions, mem.latents, K, c2w, (h, w), mem.near, mem.depth_tolerance)
    assert torch.equal(rb.mask > 0, fb.mask > 0)


def test_project_with_matrices_matches_project_points():
    g = torch.Generator().manual_seed(2)
    pts = torch.randn(500, 3, generator=g, dtype=torch.float64) * 2 + torch.tensor([0, 0, 5.0], dtype=torch.float64)
    K = torch.stack([_K(40, 60, 50.0), _K(40, 60, 30.0)]).double()
    c2w = torch.stack([_pose(0.2, (0.1, -0.2, 0.3)), _pose(-0.4, (0.5, 0.0, -1.0), 0.2)]).double()
    X, Y, Z = project_with_matrices(pts.T.contiguous(), projection_matrices(K, c2w))
    uv, z = project_points(pts[None].expand(2, -1, -1), K, c2w)
    front = z > 0.1  # project_points clamps z behind the camera
    assert front.sum() > 900
    torch.testing.assert_close(torch.stack([X / Z, Y / Z], -1)[front], uv[front], rtol=0, atol=1e-9)
    torch.testing.assert_close(Z, z, rtol=0, atol=1e-12)
    # float32, per-view layout: bit-identical to the shared layout, element by element
    P32 = projection_matrices(K, c2w, torch.float32)
    p32 = pts.float().T.contiguous()
    a = project_with_matrices(p32, P32)
    b = project_with_matrices(p32[:, None].expand(3, 2, 500).contiguous(), P32)
    c = project_with_matrices(p32[:, 123:124], P32)  # one point alone
    for x, y, s in zip(a, b, c):
        assert torch.equal(x, y) and torch.equal(x[:, 123:124], s)


def test_read_returns_channels_last_latents_equal_to_contiguous():
    mem = _room_memory(1200, 9, C=5, dtype="float16")
    K, c2w = _cameras(2, 9, 6, 10)
    r = mem.read(K, c2w, (6, 10))
    assert r.latent.shape == (2, 5, 6, 10) and r.latent.dtype == torch.float32
    assert r.latent.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(r.latent.contiguous(), r.latent)


@pytest.mark.parametrize("threads", [1, 2])
def test_bilinear_cpu_sums_are_deterministic_and_match_fixed_point(threads):
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(3)
        pts = torch.randn(20000, 3, generator=g) + torch.tensor([0, 0, 4.0])
        vals = torch.randn(20000, 8, generator=g)
        K = torch.stack([_K(30, 40, 25.0)] * 2)
        c2w = torch.stack([_pose(0.0), _pose(0.1)])
        a = splat_read(pts, vals, K, c2w, (30, 40))
        b = splat_read(pts, vals, K, c2w, (30, 40))
        fp = splat_read(pts, vals, K, c2w, (30, 40), fixed_point=True)
    finally:
        torch.set_num_threads(old)
    assert torch.equal(a.latent, b.latent) and torch.equal(a.mask, b.mask) and torch.equal(a.depth, b.depth)
    torch.testing.assert_close(a.latent, fp.latent, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.depth, fp.depth, atol=1e-6, rtol=1e-6)


def test_cameras_in_any_float_dtype():
    mem = _room_memory(1200, 4)
    K, c2w = _cameras(2, 4, 6, 10)
    ref = mem.read(K, c2w, (6, 10))
    r16 = mem.read(K.half(), c2w.half(), (6, 10))  # half-precision cameras are accepted
    assert r16.latent.shape == ref.latent.shape and r16.mask.sum() > 0
    with pytest.raises(ValueError, match="orthonormal"):  # bfloat16 rotations are off by ~1e-2: refused, clearly
        mem.read(K.bfloat16(), c2w.bfloat16(), (6, 10))
    r64 = mem.read(K.double(), c2w.double(), (6, 10))
    assert torch.equal(r64.latent, ref.latent)  # float32 -> float64 cameras: same matrices


def test_camera_looking_away_reads_nothing_in_both_modes():
    mem = LatentSpatialMemory(4)
    mem.write(torch.randn(4, 32, 32), torch.full((32, 32), 2.0), _K(32, 32, 16.0), torch.eye(4))
    assert mem.read_index() is not None  # 1024 tokens: indexed, and every run is culled below
    back = _pose(math.pi)
    for mode in ("nearest", "bilinear"):
        r = mem.read(_K(16, 16, 8.0), back, (16, 16), mode=mode)
        assert r.latent.shape == (1, 4, 16, 16) and r.mask.sum() == 0 and r.latent.abs().sum() == 0
        assert r.depth.abs().sum() == 0


@pytest.mark.parametrize("hw", [(1, 1), (1, 3), (3, 1)])
def test_reads_on_degenerate_grids_match_the_reference(hw):
    # a 1x1 grid read at several cameras crops the z-buffer border into a strided view (regression: it crashed)
    mem = _room_memory(600, 4, C=3)
    K, c2w = _cameras(3, 4, *hw)
    for mode in ("nearest", "bilinear"):
        r = mem.read(K, c2w, hw, mode=mode)
        assert r.latent.shape == (3, 3, *hw)
    r = mem.read(K, c2w, hw)
    ref = zbuffer_read_reference(mem.positions, mem.latents, K, c2w, hw, mem.near)
    assert torch.equal(r.latent, ref.latent) and torch.equal(r.depth, ref.depth) and torch.equal(r.mask, ref.mask)
