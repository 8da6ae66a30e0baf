"""``mirage bench e2e`` at tiny sizes: every memory in the table, ratios computed from the measured rows."""

from __future__ import annotations

import json
import os
import statistics

import pytest
import torch
from conftest import make_micro_pipeline
from typer.testing import CliRunner

from mirage_world.bench import app, e2e_ratios, format_e2e_markdown, make_wan22_vae, run_e2e_embedded, run_e2e_geometry
from mirage_world.bench import e2e_bench as bench


def _micro_inputs(n=13):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(32, 48, 3, generator=g)
    depth = torch.full((32, 48), 2.0)
    K = torch.tensor([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])
    c2w = torch.eye(4).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 1.5, n)
    return img, depth, K, c2w


@pytest.fixture(scope="module")
def tiny_result():
    pipe = make_micro_pipeline()
    pipe.set_progress_bar_config(disable=True)
    img, depth, K, c2w = _micro_inputs()
    emb = run_e2e_embedded(pipe, img, depth, K, c2w, height=32, width=48, steps=2, segment_frames=4, log=lambda m: None)
    vae = make_wan22_vae(base_dim=16, decoder_base_dim=16, z_dim=8, num_res_blocks=1)  # the Wan2.2 layout, shrunk
    geo = run_e2e_geometry(vae, 64, 32, segments=2, segment_frames=8, loop=4, log=lambda m: None)
    return {"settings": {"threads": 1, "torch": torch.__version__, "machine": "test"}, "embedded": emb, "wan2.2": geo}


def _median(rows, key):
    return statistics.median(r[key] for r in rows)


@pytest.mark.parametrize("scale, n_seg", [("embedded", 3), ("wan2.2", 2)])
def test_every_memory_measured_and_ratios_from_the_rows(tiny_result, scale, n_seg):
    block = tiny_result[scale]
    runs, r = block["runs"], block["ratios"]
    assert set(runs) == {"latent", "rgb", "none"}
    for kind, run in runs.items():
        assert [row["segment"] for row in run["segments"]] == list(range(n_seg)), kind
        assert run["finite"]
        for row in run["segments"]:
            assert row["read_s"] >= 0 and row["write_s"] >= 0
            assert row["read_write_s"] == row["read_s"] + row["write_s"]
    lat, rgb, none = (runs[k]["segments"] for k in ("latent", "rgb", "none"))
    assert r["read_write_ratio"] == _median(rgb, "read_write_s") / _median(lat, "read_write_s")
    assert r["read_ratio"] == _median(rgb, "read_s") / _median(lat, "read_s")
    assert r["write_ratio"] == _median(rgb, "write_s") / _median(lat, "write_s")
    assert r["bytes_ratio"] == rgb[-1]["memory_bytes"] / lat[-1]["memory_bytes"]
    assert r["bytes_ratio_per_segment"] == [b["memory_bytes"] / a["memory_bytes"] for a, b in zip(lat, rgb)]
    # the memories differ as they should: the RGB cloud holds every pixel (15 B) where the latent memory holds one
    # token per latent pixel; no memory stores nothing
    assert all(row["memory_bytes"] == 0 and row["memory_tokens"] == 0 for row in none)
    assert rgb[-1]["memory_tokens"] > lat[-1]["memory_tokens"] > 0 and r["bytes_ratio"] > 1
    if scale == "wan2.2":  # the denoiser is not run: its stand-in's time is not reported
        assert all(row["denoise_s"] is None and row["decode_s"] is None for row in lat + rgb + none)
        assert "total_ratio" not in r
    else:
        assert r["total_ratio"] == _median(rgb, "total_s") / _median(lat, "total_s")
        assert all(row["denoise_s"] > 0 for row in lat)


def test_markdown_table_has_each_memory_and_the_measured_ratio(tiny_result):
    md = format_e2e_markdown(tiny_result)
    for scale in ("embedded", "wan2.2"):
        for kind in ("latent", "rgb", "none"):
            assert sum(line.startswith(f"| {kind} |") for line in md.splitlines()) >= 3  # rows + median row
        assert f"read+write {tiny_result[scale]['ratios']['read_write_ratio']:.1f}x" in md
    assert "denoiser is not run" in md


def test_ratios_of_a_hand_computed_case():
    def rows(rw, b):
        return {"segments": [{"read_s": x / 2, "write_s": x / 2, "read_write_s": x, "denoise_s": 1.0,
                              "decode_s": 1.0, "total_s": 2.0 + x, "memory_bytes": m} for x, m in zip(rw, b)]}

    r = e2e_ratios({"latent": rows([1.0, 2.0, 9.0], [10, 20, 40]), "rgb": rows([10.0, 30.0, 50.0], [100, 300, 800]),
                    "none": rows([0.0, 0.0, 0.0], [0, 0, 0])})
    assert r["read_write_ratio"] == 15.0 and r["read_ratio"] == 15.0  # medians 30 / 2
    assert r["total_ratio"] == 32.0 / 4.0
    assert r["bytes_ratio"] == 20.0 and r["bytes_ratio_per_segment"] == [10.0, 15.0, 20.0]
    assert r["medians"]["none"]["read_write_s"] == 0.0


# ------------------------------------------------------------------------------------------------ the command


@pytest.fixture
def no_run(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "run_e2e_benchmark", lambda *a, **k: calls.append(a) or {})
    return calls


@pytest.mark.parametrize("args, needle", [
    (["--segments", "0"], "--segments"),
    (["--embedded-segments", "100"], "--embedded-segments"),
    (["--width", "1000"], "multiple of 32"),
    (["--example", "nope"], "--example"),
    (["--scales", "embedded,sd"], "--scales"),
    (["--threads", "0"], "--threads"),
])
def test_bad_options_fail_before_the_run(args, needle, no_run):
    r = CliRunner().invoke(app, ["e2e", *args])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0]
    assert no_run == []


def test_command_writes_json_and_markdown_at_the_end(tmp_path, monkeypatch, tiny_result):
    res = {**tiny_result, "goal": {"metric": "wan2.2 read_write_ratio", "goal": ">= 10", "value": 12.0, "met": True}}
    seen = []
    monkeypatch.setattr(bench, "run_e2e_benchmark", lambda *a, **k: seen.append(a) or res)
    out = tmp_path / "new"
    r = CliRunner().invoke(app, ["e2e", "--json", str(out / "e.json"), "--md", str(out / "e.md"), "--segments", "1",
                                 "--scales", "wan2.2"])
    assert r.exit_code == 0, r.output
    assert seen[0][0] == 1 and seen[0][-1] == ("wan2.2",)
    assert json.loads((out / "e.json").read_text())["goal"]["met"] is True
    assert "**Goal** (issue 11)" in (out / "e.md").read_text() and "goal: wan2.2 read_write_ratio" in r.stdout
    assert sorted(os.listdir(out)) == ["e.json", "e.md"]
