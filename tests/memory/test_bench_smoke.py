"""The memory benchmark's scene helpers and a tiny end-to-end run (no timing assertions)."""

from __future__ import annotations

import json
import os

import pytest
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


# ------------------------------------------------------------------------------------------------ the boundary


def _one_error_line(r, needle: str) -> str:
    err = r.stderr
    assert r.exit_code == 2, f"exit {r.exit_code}\n{r.output}\n{r.exception!r}"
    assert "Traceback" not in r.output
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], err
    return lines[0]


@pytest.fixture
def no_run(monkeypatch):
    """The benchmark must not start for bad options."""
    import mirage_world.bench.memory_bench as bench

    calls = []
    monkeypatch.setattr(bench, "run_memory_benchmark", lambda *a, **k: calls.append(a) or {})
    return calls


@pytest.mark.parametrize("args, needle", [
    (["--width", "0"], "--width"),
    (["--width", "-16"], "--width"),
    (["--width", "100"], "multiple of --factor"),
    (["--height", "100000"], "--height"),
    (["--factor", "0"], "--factor"),
    (["--factor", "-16"], "--factor"),
    (["--channels", "0"], "--channels"),
    (["--voxel-size", "-1"], "--voxel-size"),
    (["--voxel-size", "nan"], "--voxel-size"),
    (["--voxel-size", "inf"], "--voxel-size"),
    (["--encode-views", "0"], "--encode-views"),
    (["--encode-views", "5"], "--encode-views"),  # more than --views 4
    (["--views", "0"], "--views"),
    (["--segments", "10"], "--early"),  # --early 10 is not below --segments 10
    (["--repeats", "0"], "--repeats"),
    (["--threads", "0"], "--threads"),
    (["--vae", "sd"], "--vae"),
    (["--width", "4096", "--height", "4096", "--views", "64"], "--views x --width x --height"),
    (["--factor", "1", "--channels", "1024"], "memory values"),
    (["--width", "wide"], "--width"),  # click's own usage error, same style
])
def test_bad_options_fail_before_the_run(args, needle, no_run):
    r = CliRunner().invoke(app, ["memory", *args])
    _one_error_line(r, needle)
    assert no_run == []


@pytest.mark.parametrize("make", [lambda t: t / "folder.json", lambda t: t / "f.txt" / "b.json"], ids=["folder", "under-a-file"])
def test_json_path_checked_before_the_run(tmp_path, no_run, make):
    (tmp_path / "folder.json").mkdir()
    (tmp_path / "f.txt").write_text("x")
    _one_error_line(CliRunner().invoke(app, ["memory", "--json", str(make(tmp_path))]), "--json")
    assert no_run == []


def test_json_written_at_the_end_without_temporary_files(tmp_path, monkeypatch):
    import mirage_world.bench.memory_bench as bench

    res = {"goals": {}, "gather_ratio_hot_loop": 1.0, "bytes_ratio_fp16_per_stored_frame": 1.0,
           "bytes_ratio_int8_per_stored_frame": 1.0}
    monkeypatch.setattr(bench, "run_memory_benchmark", lambda *a, **k: res)
    out = tmp_path / "new" / "b.json"
    r = CliRunner().invoke(app, ["memory", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text()) == res and os.listdir(out.parent) == ["b.json"]
