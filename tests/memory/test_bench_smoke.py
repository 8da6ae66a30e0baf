"""The memory benchmark's scene helpers and a tiny end-to-end run (no timing assertions)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from mirage_world.bench import app, box_depth, loop_pose, run_memory_benchmark


def test_box_depth_is_exact_for_an_axis_aligned_view():
    K = torch.tensor([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]])
    d = box_depth(K, torch.eye(4), (4, 4))  # from the centre of an 8 x 4 x 8 room, looking at the z = 4 wall
    assert torch.allclose(d[1:3, 1:3], torch.full((2, 2), 4.0))
    assert torch.allclose(d[0, 1], torch.tensor(2.0 / 0.75))  # ray (., -0.75, 1) hits the ceiling y = -2 first
    assert torch.equal(loop_pose(3, 10), loop_pose(13, 10))


def test_tiny_benchmark_runs_and_writes_json(tmp_path):
    res = run_memory_benchmark(width=128, height=64, channels=4, segments=3, early=2, loop=2, views=2, repeats=1,
                               vae="none", log=lambda m: None)
    assert set(res["goals"]) == {"read_ratio", "bytes_ratio_fp16", "bytes_ratio_int8", "flat_ratio", "gather_ratio"}
    assert res["flat"]["tokens_early"] == res["flat"]["tokens_late"]  # the loop closed: no growth
    out = tmp_path / "b.json"
    r = CliRunner().invoke(app, ["memory", "--json", str(out), "--width", "128", "--height", "64", "--channels", "4",
                                 "--segments", "2", "--early", "1", "--loop", "1", "--views", "1", "--repeats", "1",
                                 "--vae", "none"])
    assert r.exit_code == 0, r.output
    assert "read_ratio" in r.output and json.loads(out.read_text())["settings"]["width"] == 128
