"""Long-run benchmark: the looped path, per-segment rows and verdicts on hand-made cases, a 3-segment run on the micro
random pipeline (JSON + plot), and a run killed after a segment that resumes to the same frames."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from mirage_world.eval.long_run import (
    LongRunCase,
    long_run,
    long_run_case,
    looped_path,
    run_long_run,
    segment_rows,
    summarize,
)
from mirage_world.pipelines import MiragePipeline


def test_looped_path_repeats_the_loop_and_refuses_open_ones():
    loop = torch.eye(4).repeat(4, 1, 1)
    loop[:, 0, 3] = torch.tensor([0.0, 1.0, 2.0, 0.0])
    c2w = looped_path(loop, 8)
    assert c2w[:, 0, 3].tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="not closed"):
        looped_path(loop[:3], 5)
    with pytest.raises(ValueError, match=r"\(P \+ 1, 4, 4\)"):
        looped_path(torch.eye(4)[None], 5)


def _info(i, seconds=1.0, tokens=10, frames_per=4):
    return SimpleNamespace(index=i, frames=(i * frames_per + 1, (i + 1) * frames_per), seconds=seconds,
                           read_seconds=0.1, denoise_seconds=seconds - 0.3, decode_seconds=0.1, write_seconds=0.1,
                           memory_tokens=tokens, memory_bytes=tokens * 70, coverage=1.0)


def test_segment_rows_against_a_hand_made_case():
    """Period 8, segments of 4 frames: segment 0 has no revisit; from segment 1 on frames 8.. revisit the first loop.
    Generated frames equal the ground truth except frame 9, off by 0.1 (MSE 0.01: 20 dB)."""
    rng = np.random.default_rng(0)
    loop = rng.uniform(0.2, 0.8, (8, 6, 8, 3)).astype(np.float32)
    case = LongRunCase(loop[0], np.ones((6, 8), np.float32), np.eye(3), None, loop, 8, {})
    frames = loop[np.arange(13) % 8].copy()
    frames[9] += 0.1
    rows = segment_rows(frames, [_info(0), _info(1), _info(2)], case, {0: True, 1: True, 2: False})
    assert [r["revisit_psnr"] for r in rows][0] is None
    assert rows[0]["psnr"] == 100.0 and rows[0]["photo_psnr"] is None  # frames 1-4: exact (capped)
    assert rows[1]["photo_psnr"] == 100.0  # frame 8 is at the photo's camera
    assert rows[1]["revisit_psnr"] == pytest.approx(100.0)  # frames 5-8: only frame 8 revisits, exact
    assert rows[2]["revisit_psnr"] == pytest.approx((20.0 + 3 * 100.0) / 4, abs=1e-3)  # frames 9-12
    assert rows[2]["first_loop_psnr"] == pytest.approx((20.0 + 3 * 100.0) / 4, abs=1e-3)
    assert [r["finite"] for r in rows] == [True, True, False]  # the memory check of segment 2 failed
    frames[10, 0, 0, 0] = np.nan
    assert segment_rows(frames, [_info(2)], case)[0]["finite"] is False


def test_summary_verdicts():
    rows = [{"segment": i, "seconds": 1.0 + (0.5 if i >= 20 else 0.0), "read_seconds": 0.1, "denoise_seconds": 0.5,
             "decode_seconds": 0.3, "write_seconds": 0.1, "memory_tokens": min(100 + 10 * i, 200),
             "memory_bytes": 1000, "finite": True, "revisit_psnr": None if i < 4 else 20.0 - 0.1 * i,
             "photo_psnr": None} for i in range(30)]
    s = summarize(rows, loop_segments=4)
    assert s["nan_free"] and s["tokens_after_first_loop"] == 130 and s["tokens_end"] == 200
    assert s["token_growth_second_half"] == pytest.approx(200 / 200)
    assert s["time_ratio_last10_first10"] == pytest.approx(1.5) and not s["time_flat"]
    assert s["revisit_psnr_window_segments"] == 8  # two whole loops of 4 segments
    assert s["revisit_psnr_first"] == pytest.approx(20.0 - 0.1 * np.mean(range(4, 12)))
    assert s["revisit_psnr_last"] == pytest.approx(20.0 - 0.1 * np.mean(range(22, 30)))
    assert s["revisit_psnr_slope_db_per_100_segments"] == pytest.approx(-10.0)
    assert not s["revisit_psnr_not_falling"]  # 1.8 dB lower at the end


def _app():
    app = typer.Typer()
    app.command("long-run")(long_run)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_three_segments_on_the_micro_pipeline(micro_pipeline_dir, tmp_path):
    out = tmp_path / "res"
    r = CliRunner().invoke(_app(), ["long-run", "--out", str(out), "--model", str(micro_pipeline_dir), "--segments",
                                    "3", "--loop-segments", "1", "--size", "64x48", "--steps", "1"])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "long_run.json").read_text())
    rows, s = res["rows"], res["summary"]
    assert [x["segment"] for x in rows] == [0, 1, 2] and [x["frames"] for x in rows] == [[1, 16], [17, 32], [33, 48]]
    for x in rows:
        parts = sum(x[f"{k}_seconds"] for k in ("read", "denoise", "decode", "write"))
        assert abs(parts - x["seconds"]) < 1e-3 and x["memory_tokens"] > 0 and x["finite"] and x["memory_finite"]
        assert x["revisit_psnr"] is not None and x["photo_psnr"] is not None  # period 16: frames 16, 32, 48
    assert s["nan_free"] and s["segments"] == 3 and s["tokens_end"] == rows[-1]["memory_tokens"]
    plot = cv2.imread(str(out / "long_run.png"))
    assert plot is not None and plot.shape[0] > 500  # three stacked panels
    sheet = cv2.imread(str(out / "long_run_revisits.png"))
    assert sheet is not None and sheet.shape[1] == 2 * 64  # frames 0, 16, 32, 48 on a 2 x 2 grid
    assert not (out / "long_run.partial").exists() and not (out / "long_run.progress.json").exists()


def test_a_killed_run_resumes_to_the_same_frames(micro_pipeline_dir, tmp_path):
    pipe = MiragePipeline.from_pretrained(str(micro_pipeline_dir))
    pipe.set_progress_bar_config(disable=True)
    case = long_run_case(3, 1, 64, 48)
    kw = dict(width=64, height=48, steps=1, seed=3, args={"test": 1})
    rows_full, full = run_long_run(pipe, case, work=tmp_path / "a", **kw)

    def crash(msg):
        if msg.startswith("segment 2/3"):
            raise KeyboardInterrupt  # killed after segment 2 was saved

    with pytest.raises(KeyboardInterrupt):
        run_long_run(pipe, case, work=tmp_path / "b", log=crash, **kw)
    assert (tmp_path / "b" / "long_run.partial" / "state.json").is_file()
    seen = []
    rows, frames = run_long_run(pipe, case, work=tmp_path / "b", resume=True, log=seen.append, **kw)
    assert seen[0] == "resuming after segment 2" and len(seen) == 2  # only segment 3 was generated again
    assert np.array_equal(frames, full)
    assert [r["psnr"] for r in rows] == [r["psnr"] for r in rows_full]
