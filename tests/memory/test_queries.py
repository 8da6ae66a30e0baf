"""Query API: visible tokens, rendered depth, occupancy, stats, PLY export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirage_world.memory import LatentSpatialMemory


def _K(h, w, f=8.0):
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def _plane_memory(**kw):
    m = LatentSpatialMemory(4, **kw)
    m.write(torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(0)), torch.full((6, 8), 2.0), _K(6, 8), torch.eye(4))
    return m


def test_visible_tokens_and_rendered_depth():
    m = _plane_memory()
    back = torch.eye(4)
    back[2, 2], back[0, 0] = -1, -1  # looking the other way: nothing visible
    vis = m.visible_tokens(torch.stack([_K(6, 8), _K(6, 8)]), torch.stack([torch.eye(4), back]), (6, 8))
    assert torch.equal(vis[0], torch.arange(48)) and vis[1].numel() == 0
    d = m.render_depth(_K(6, 8), torch.eye(4), (6, 8))
    assert torch.allclose(d, torch.full((1, 6, 8), 2.0))
    assert torch.equal(d, m.read(_K(6, 8), torch.eye(4), (6, 8)).depth)
    assert torch.allclose(m.render_depth(_K(6, 8), torch.eye(4), (6, 8), mode="bilinear"), d)


def test_occupancy_and_stats():
    m = _plane_memory(voxel_size=0.1)
    on = m.positions[:5] + 0.001
    off = torch.tensor([[0.0, 0.0, 5.0], [3.0, 3.0, 2.0]])
    occ = m.occupancy(torch.cat([on, off]))
    assert occ.tolist() == [True] * 5 + [False, False]
    assert bool(m.occupancy(torch.tensor([0.0, 0.0, 9.0]))) is False
    with pytest.raises(ValueError, match="voxel size"):
        _plane_memory().occupancy(off)
    with pytest.raises(ValueError, match="finite"):
        m.occupancy(torch.tensor([[float("nan"), 0, 0]]))
    s = m.stats()
    assert s["tokens"] == m.num_tokens and s["bytes"] == m.nbytes and s["writes"] == 1
    assert s["bounds"][0][2] == pytest.approx(2.0) and s["bounds"][1][2] == pytest.approx(2.0)
    assert LatentSpatialMemory(3).stats()["bounds"] is None


def test_export_ply_round_trip(tmp_path):
    m = _plane_memory(dtype="int8")
    p = tmp_path / "m.ply"
    m.export_ply(p)
    raw = p.read_bytes()
    head, body = raw.split(b"end_header\n", 1)
    assert b"element vertex 48" in head and b"format binary_little_endian 1.0" in head
    rec = np.frombuffer(body, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    assert rec.shape == (48,)
    assert np.array_equal(np.stack([rec["x"], rec["y"], rec["z"]], 1), m.positions.numpy())
    assert torch.equal(m.pca_colors(), m.pca_colors())  # deterministic
    LatentSpatialMemory(3).export_ply(tmp_path / "empty.ply")
    assert b"element vertex 0" in (tmp_path / "empty.ply").read_bytes()
