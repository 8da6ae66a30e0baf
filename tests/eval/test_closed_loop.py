"""Closed-loop benchmark: revisit frame selection on hand-made paths, and the whole benchmark end to end on the micro
random pipeline (all three memories, valid JSON and Markdown, contact sheets)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from mirage_world.eval.cases import (
    load_rgbd,
    pairwise_pose_distances,
    revisit_frames,
    revisits_from_pairs,
    world_cases,
)
from mirage_world.eval.closed_loop import closed_loop, format_markdown
from mirage_world.eval.consistency import pose_distance
from mirage_world.geometry.rotations import rot_y


def _path(z=None, yaw_deg=None):
    """Poses moving along +z by ``z`` metres and turning by ``yaw_deg`` degrees (one value per frame)."""
    n = len(z if z is not None else yaw_deg)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    if z is not None:
        c2w[:, 2, 3] = z
    if yaw_deg is not None:
        c2w[:, :3, :3] = rot_y(np.radians(np.asarray(yaw_deg, dtype=np.float64)))
    return c2w


def test_revisits_of_an_out_and_back_path():
    c2w = _path(z=[0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0])
    assert revisit_frames(c2w) == {5: 3, 6: 2, 7: 1, 8: 0}


def test_revisits_of_a_look_away_path_and_a_slow_start():
    assert revisit_frames(_path(yaw_deg=[0, 60, 120, 60, 0])) == {3: 1, 4: 0}
    # a slow start (frame 1 within the tolerance of frame 0) is not a revisit: the camera had not left yet
    assert revisit_frames(_path(z=[0.0, 0.005, 0.3, 0.6, 0.3, 0.0])) == {4: 2, 5: 0}
    # a camera that never moves never revisits; one that leaves and stays away neither
    assert revisit_frames(_path(z=[0.0] * 5)) == {}
    assert revisit_frames(_path(z=[0.0, 0.5, 1.0, 1.5])) == {}
    # a return just outside the tolerance is not a revisit
    assert revisit_frames(_path(z=[0.0, 0.5, 0.02])) == {}
    assert revisit_frames(_path(z=[0.0, 0.5, 0.02]), tol_m=0.03) == {2: 0}


def test_pairwise_distances_match_pose_distance():
    g = torch.Generator().manual_seed(0)
    yaw = torch.rand(6, generator=g).numpy() * 300
    c2w = _path(z=torch.rand(6, generator=g).numpy(), yaw_deg=yaw)
    dt, ang = pairwise_pose_distances(c2w)
    for i in range(6):
        for j in range(6):
            t, a = pose_distance(c2w[i], c2w[j])
            assert dt[i, j] == pytest.approx(t, abs=1e-12) and ang[i, j] == pytest.approx(a, abs=1e-6)


def test_revisits_from_pairs_and_errors():
    assert revisits_from_pairs([[0, 8], [1, 7], [3, 3], [8, 2]]) == {7: 1, 8: 0}
    for bad in ([[0]], [[0, -1]], [["a", 1]], 5):
        with pytest.raises(ValueError):
            revisits_from_pairs(bad)
    with pytest.raises(ValueError, match="leave"):
        revisit_frames(_path(z=[0.0, 1.0]), tol_m=0.2, leave_m=0.1)


def test_world_case_revisits_agree_with_the_poses():
    """The world's out-and-back metadata pairs every frame with its mirror; the pose rule (which needs the camera to
    have left) finds a subset of them with the same first visits, always including the return to the photo."""
    case = world_cases(1, 17, 64, 48)[0]
    assert case.name == "room_out_and_back" and case.ground_truth.shape == (17, 48, 64, 3)
    assert case.revisits == {16 - k: k for k in range(8)}
    by_pose = revisit_frames(case.c2w)
    assert by_pose and by_pose[16] == 0 and all(case.revisits[j] == i for j, i in by_pose.items())
    assert np.array_equal(case.image, case.ground_truth[0]) and (case.depth > 0).all()  # the room has no sky


def test_real_photo_depths_are_metric(real_data):
    for name, (lo, hi) in {"tum": (0.3, 10.0), "nyu": (0.3, 10.0), "sun": (0.3, 10.0)}.items():
        img, dep, K = load_rgbd(name, real_data)
        valid = dep[dep > 0]
        assert img.shape == (480, 640, 3) and dep.shape == (480, 640) and K[0, 0] == 525.0
        assert valid.size > 0.7 * dep.size and lo < np.median(valid) < hi, name


def _app():
    app = typer.Typer()
    app.command("closed-loop")(closed_loop)

    @app.callback()
    def _root() -> None:
        pass

    return app


def _strict_json(text):
    def refuse(c):
        raise ValueError(f"non-standard JSON constant {c}")

    return json.loads(text, parse_constant=refuse)


def test_benchmark_end_to_end_on_the_micro_pipeline(micro_pipeline_dir, real_data, tmp_path):
    out = tmp_path / "res"
    r = CliRunner().invoke(_app(), [
        "closed-loop", "--out", str(out), "--model", str(micro_pipeline_dir), "--clips", "2", "--frames", "9",
        "--size", "64x48", "--steps", "1", "--photos", "tum", "--trajectories", "out_and_back",
        "--real-data", str(real_data)])
    assert r.exit_code == 0, r.output
    res = _strict_json((out / "closed_loop.json").read_text())
    rows = res["rows"]
    assert {(x["case"], x["memory"]) for x in rows} == {
        (c, m) for c in ("room_out_and_back", "room_orbit_360", "tum_out_and_back") for m in ("latent", "rgb", "none")}
    by = {(x["case"], x["memory"]): x for x in rows}
    for m in ("latent", "rgb", "none"):
        w = by["room_out_and_back", m]
        assert w["revisit_frames"] == [5, 6, 7, 8] and len(w["per_frame_psnr"]) == 9
        assert math.isfinite(w["PSNR_C"]) and -1 <= w["SSIM_C"] <= 1
        # PSNR_C is the mean of the per-frame PSNRs over the revisit frames
        assert w["PSNR_C"] == pytest.approx(np.mean([w["per_frame_psnr"][i] for i in w["revisit_frames"]]), abs=2e-3)
        assert by["room_orbit_360", m]["revisit_frames"] == [8]
        assert math.isfinite(by["tum_out_and_back", m]["PSNR_last"])
    # same generator and seed: frame 0 (the photo's round trip) is identical for every memory
    assert len({by["room_out_and_back", m]["per_frame_psnr"][0] for m in ("latent", "rgb", "none")}) == 1
    assert by["room_out_and_back", "none"]["memory_tokens"] == 0
    assert 0 < by["room_out_and_back", "latent"]["memory_tokens"] < by["room_out_and_back", "rgb"]["memory_tokens"]
    s = res["summary"]
    assert s["latent"]["world"]["clips"] == 2 and s["latent"]["real"]["cases"] == 1
    assert s["rgb"]["world"]["PSNR_C"] == pytest.approx(np.mean([by[c, "rgb"]["PSNR_C"] for c in (
        "room_out_and_back", "room_orbit_360")]), abs=2e-4)
    assert set(res["targets"]) == {"latent_minus_none_db", "latent_minus_rgb_db"}
    md = (out / "closed_loop.md").read_text()
    assert md == format_markdown(res, command=res["command"]) + "".join(
        line + "\n" for line in md.splitlines() if line.startswith("- contact sheets"))
    for m in ("latent", "rgb", "none"):
        assert f"| {m} |" in md
    sheets = sorted(p.name for p in out.glob("*.png"))
    assert sheets == sorted(res["contact_sheets"]) and len(sheets) == 4
    assert not list(out.glob(".mirage-tmp-*"))


def test_options_are_checked_before_any_model_loads(tmp_path):
    runner = CliRunner()
    for args, msg in ((["--size", "60x48"], "multiples of 16"), (["--memories", "latent,voxels"], "--memories"),
                      (["--frames", "2"], "--frames"), (["--clips", "13"], "--clips"),
                      (["--model", str(tmp_path / "nope")], "not a diffusers pipeline"),
                      (["--real-data", str(tmp_path)], "no rgbd/"), (["--sheet", "nope"], "--sheet")):
        r = runner.invoke(_app(), ["closed-loop", "--out", str(tmp_path / "o"), "--clips", "1", "--frames", "5",
                                   "--size", "64x48", *args])
        assert r.exit_code == 2 and "error:" in r.output and msg in r.output, (args, r.output)
    assert not (tmp_path / "o").exists()
