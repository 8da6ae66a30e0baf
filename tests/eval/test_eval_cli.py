"""``mirage eval worldscore`` / ``mirage eval proxies`` in-process (Typer's CliRunner), with the micro pipeline."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_proxies import K as PLANE_K  # tests/eval is on sys.path (pytest's rootdir-less "prepend" import mode)
from test_proxies import plane_clip
from test_worldscore import check_like_worldscore_evaluator, worldscore_camera_data
from testing_utils import cli_runner, stderr_of

from mirage_world.eval.cli import app
from mirage_world.geometry.trajectory import make_preset
from mirage_world.io import write_video


def _invoke(*args):
    return cli_runner().invoke(app, [str(a) for a in args])


def _ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{stderr_of(result)}\n{result.exception!r}"
    return result


@pytest.fixture(scope="module")
def ws_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ws_inputs")
    (d / "camera_data.json").write_text(json.dumps(worldscore_camera_data("pan_left", 9)))
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (96, 64), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(d / "img.png"), img)
    np.save(d / "depth.npy", np.full((64, 96), 2.0, np.float32))
    np.save(d / "depth_small.npy", np.full((10, 10), 2.0, np.float32))
    entry = {"image": "static/photorealistic/indoor/room/003.png", "visual_movement": "static",
             "visual_style": "photorealistic", "scene_type": "indoor", "camera_path": ["pan_left"],
             "prompt_list": ["a room", "a room"], "content_list": [["table"], ["chair"]]}
    (d / "image_data.json").write_text(json.dumps(entry))
    return d


def _ws_args(d, model, out, *extra):
    return ["worldscore", "--cameras", d / "camera_data.json", "--image", d / "img.png", "--out", out,
            "--model", model, "--steps", 1, "--size", "32x32", "--resolution", "64x64", "--threads", 1, *extra]


def test_worldscore_command_writes_an_instance(ws_inputs, micro_taef2_pipeline_dir, tmp_path):
    out = tmp_path / "inst"
    r = _ok(_invoke(*_ws_args(ws_inputs, micro_taef2_pipeline_dir, out, "--frames", 5, "--depth",
                              ws_inputs / "depth.npy", "--image-data", ws_inputs / "image_data.json")))
    assert "wrote" in r.stdout and "WorldScore" in stderr_of(r)  # 64x64 frames: the calibration warning
    seen = check_like_worldscore_evaluator(out)
    assert len(seen["images"]) == 5 and cv2.imread(seen["images"][0]).shape == (64, 64, 3)
    assert seen["image_data"]["content_list"] == [["table"], ["chair"]]  # the dataset entry kept
    assert np.allclose(seen["cameras"][0], np.diag([-1.0, 1, -1, 1]), atol=1e-9)
    meta = json.loads((out / "mirage.json").read_text())
    assert meta["trajectory"]["frames"] == 5 and meta["trajectory"]["frames_in_file"] == 9
    assert meta["generator"]["size"] == [32, 32] and meta["inputs"]["depth"].endswith("depth.npy")
    # again into the same folder: refused without --overwrite, replaced with it (9 frames, plane depth)
    r = _invoke(*_ws_args(ws_inputs, micro_taef2_pipeline_dir, out, "--layout", "pan_left"))
    assert r.exit_code == 2 and "--overwrite" in stderr_of(r)
    _ok(_invoke(*_ws_args(ws_inputs, micro_taef2_pipeline_dir, out, "--layout", "pan_left", "--overwrite")))
    seen = check_like_worldscore_evaluator(out)
    assert len(seen["images"]) == 9 and seen["image_data"]["prompt_list"] == ["", ""]
    assert json.loads((out / "mirage.json").read_text())["inputs"]["depth"].startswith("plane")


WS_BAD = {
    "no layout": ([], "camera movement"),
    "unknown layout": (["--layout", "spin"], "unknown WorldScore camera movement"),
    "one frame": (["--layout", "pan_left", "--frames", 1], "--frames"),
    "bad resolution": (["--layout", "pan_left", "--resolution", "64"], "--resolution"),
    "depth size": (["--layout", "pan_left", "--depth", "DIR/depth_small.npy"], "same size"),
    "missing cameras": (["--layout", "pan_left", "--cameras", "DIR/nope.json"], "not found"),
    "memory value": (["--layout", "pan_left", "--memory", "maybe"], "--memory"),
}


@pytest.mark.parametrize("case", list(WS_BAD), ids=lambda c: c.replace(" ", "-"))
def test_worldscore_bad_input_before_model_load(case, ws_inputs, micro_taef2_pipeline_dir, tmp_path, monkeypatch):
    from mirage_world.pipelines import MiragePipeline

    loads = []
    monkeypatch.setattr(MiragePipeline, "from_pretrained", classmethod(lambda cls, *a, **k: loads.append(a)))
    extra, needle = WS_BAD[case]
    extra = [str(e).replace("DIR", str(ws_inputs)) for e in extra]
    r = _invoke(*_ws_args(ws_inputs, micro_taef2_pipeline_dir, tmp_path / "inst", *extra))
    err = stderr_of(r).strip().splitlines()
    assert r.exit_code == 2 and len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert loads == [] and not (tmp_path / "inst").exists()


def test_proxies_command(tmp_path):
    frames, c2w = plane_clip("move_right", n=5)
    video = tmp_path / "v.mp4"
    write_video(video, (frames * 255).round().astype(np.uint8), 10)
    np.save(tmp_path / "c2w.npy", c2w)
    fx, fy, cx, cy = PLANE_K[0, 0], PLANE_K[1, 1], PLANE_K[0, 2], PLANE_K[1, 2]
    r = _ok(_invoke("proxies", video, "--cameras", tmp_path / "c2w.npy", "--intrinsics", f"{fx},{fy},{cx},{cy}",
                    "--json", tmp_path / "p.json"))
    assert "camera control" in r.stdout and "reprojection: no depth" in r.stdout
    rep = json.loads((tmp_path / "p.json").read_text())
    assert rep["camera_control"]["rotation_error_deg"]["median"] < 1.0
    assert rep["camera_control"]["translation_error_deg"]["median"] < 5.0
    assert rep["photometric"]["consistent_fraction"] > 0.5 and rep["reprojection"] is None
    # a 'mirage generate' OUT.json: cameras with K, and the photo's depth it names
    np.save(tmp_path / "d.npy", np.full(frames.shape[1:3], 5.0, np.float32))
    meta = {"width": frames.shape[2], "height": frames.shape[1],
            "cameras": [{"c2w": c.tolist(), "K": PLANE_K.tolist()} for c in c2w],
            "inputs": {"depth": "d.npy", "depth_scale": 1000.0}}
    (tmp_path / "v.json").write_text(json.dumps(meta))
    r = _ok(_invoke("proxies", video, "--cameras", tmp_path / "v.json", "--json", tmp_path / "q.json"))
    q = json.loads((tmp_path / "q.json").read_text())
    assert q["depth"].endswith("d.npy") and q["reprojection"]["scored"] > 0
    assert q["camera_control"]["rotation_error_deg"]["median"] < 1.0


@pytest.mark.parametrize("extra, needle", [
    (["--intrinsics", "1,2,3"], "fx,fy,cx,cy"),
    (["--step", "9"], "--step"),
    (["--features", "surf"], "--features"),
    (["--json", "out.txt"], "--json"),
])  # fmt: skip
def test_proxies_bad_input(extra, needle, tmp_path):
    write_video(tmp_path / "v.mp4", np.zeros((3, 32, 32, 3), np.uint8), 10)
    np.save(tmp_path / "c2w.npy", make_preset("pan_left", 3, 1.0).numpy())
    r = _invoke("proxies", tmp_path / "v.mp4", "--cameras", tmp_path / "c2w.npy", "--intrinsics", "30,30,16,16",
                *extra)
    err = stderr_of(r).strip().splitlines()
    assert r.exit_code == 2 and len(err) == 1 and needle in err[0], err
    np.save(tmp_path / "c2w4.npy", make_preset("pan_left", 4, 1.0).numpy())
    r = _invoke("proxies", tmp_path / "v.mp4", "--cameras", tmp_path / "c2w4.npy", "--intrinsics", "30,30,16,16")
    assert r.exit_code == 2 and "4 poses but the video has 3 frames" in stderr_of(r)
