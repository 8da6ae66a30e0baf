"""Tests for the ``mirage`` command line (``mirage_world.cli``), run in-process with Typer's ``CliRunner``.

Runs use the micro random-init pipeline from ``conftest.py`` at 64x48, 2 steps, 5 frames (one segment), so one
generation takes a few seconds on a CPU. Each generation is done once per module and shared by the tests that
inspect its outputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from testing_utils import cli_runner, stderr_of

from mirage_world.cli import app
from mirage_world.io import read_video

W, H = 64, 48
FRAMES = 5
SEED = 7


def _invoke(args: list[str]):
    return cli_runner().invoke(app, ["generate", *[str(a) for a in args]])


def _ok(result):
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{stderr_of(result)}\nexception: {result.exception!r}"
    )
    return result


# ------------------------------------------------------------------------------------------------ inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A 64x48 RGB PNG and matching depths: 16-bit PNG in millimetres and .npy in metres, plus bad variants."""
    d = tmp_path_factory.mktemp("cli_inputs")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.stack([xx / W, yy / H, 0.5 + 0.5 * np.sin(xx / 5) * np.cos(yy / 7)], axis=-1) * 200
    img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(d / "img.png"), img[..., ::-1])
    depth_m = (1.5 + 1.5 * yy / H + 0.2 * np.sin(xx / 9)).astype(np.float32)
    depth_m[:4, :4] = 0.0  # a few invalid pixels, as from a real sensor
    cv2.imwrite(str(d / "depth.png"), np.round(depth_m * 1000).astype(np.uint16))
    np.save(d / "depth.npy", depth_m)

    bad = depth_m.copy()
    bad[10, 10] = np.nan
    np.save(d / "depth_nan.npy", bad)
    bad = depth_m.copy()
    bad[5, 7] = -1.0
    np.save(d / "depth_neg.npy", bad)
    np.save(d / "depth_zero.npy", np.zeros_like(depth_m))
    cv2.imwrite(str(d / "mask_all.png"), np.full((H, W), 255, np.uint8))
    half = np.zeros((H, W), np.uint8)
    half[:, : W // 2] = 255
    cv2.imwrite(str(d / "mask_left.png"), half)
    cv2.imwrite(str(d / "depth_small.png"), np.full((H // 2, W // 2), 2000, np.uint16))  # 32x24: size mismatch
    (d / "pose_garbage.txt").write_text(
        "https://www.youtube.com/watch?v=xxxxxxxx\n" + " ".join(["1", "abc"] + ["0.5"] * 17) + "\n"
    )
    (d / "pose_short.txt").write_text("https://www.youtube.com/watch?v=xxxxxxxx\n1 2 3 nonsense\n")
    # large image with depth valid only off the nearest-resize sampling grid (6 % valid: passes load_depth)
    big = cv2.resize(img, (4 * W, 4 * H), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(d / "big.png"), big[..., ::-1])
    sparse = np.zeros((4 * H, 4 * W), np.float32)
    sparse[1::4, 1::4] = 2.0
    np.save(d / "depth_sparse.npy", sparse)
    cv2.imwrite(str(d / "tiny.png"), img[:1, :1, ::-1])  # a 1x1 photo
    cv2.imwrite(str(d / "small.png"), img[:8, :12, ::-1])  # 12x8: below the 16x16 minimum
    return {p.name: p for p in d.iterdir()}


def _base(inputs, model: Path, out: Path, *extra) -> list:
    return [
        "--out", out, "--image", inputs["img.png"], "--depth", inputs["depth.png"], "--model", model,
        "--steps", 2, "--frames", FRAMES, "--size", f"{W}x{H}", "--seed", SEED, "--threads", 1, *extra,
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------------ smoke run


@pytest.fixture(scope="module")
def smoke(inputs, micro_pipeline_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_smoke") / "sub" / "OUT.mp4"  # parent folder created by the CLI
    result = _ok(_invoke(_base(inputs, micro_pipeline_dir, out, "--side-by-side")))
    return out, result


def test_smoke_video(smoke):
    out, result = smoke
    assert out.is_file()
    video = read_video(out)
    assert video.shape == (FRAMES, H, W, 3)
    assert video.dtype == np.uint8
    assert str(out) in result.stdout and "wrote" in result.stdout


def test_smoke_side_by_side(smoke):
    out, _ = smoke
    sbs = out.with_name("OUT_sbs.mp4")
    assert sbs.is_file()
    v = read_video(sbs)
    assert v.shape == (FRAMES, H, 2 * W, 3)


def test_smoke_json(smoke, micro_pipeline_dir):
    out, _ = smoke
    meta_path = out.with_name("OUT.json")
    assert meta_path.is_file()
    meta = json.loads(meta_path.read_text())
    for key in ("frames", "fps", "cameras", "segments", "model", "seed"):
        assert key in meta, key
    assert isinstance(meta["frames"], int) and meta["frames"] == FRAMES
    assert meta["fps"] == 16.0
    assert meta["seed"] == SEED
    assert meta["steps"] == 2
    assert (meta["width"], meta["height"]) == (W, H)
    assert meta["model"] == str(micro_pipeline_dir)

    cams = meta["cameras"]
    assert len(cams) == FRAMES
    for cam in cams:
        c2w, K = np.asarray(cam["c2w"]), np.asarray(cam["K"])
        assert c2w.shape == (4, 4) and K.shape == (3, 3)
        assert np.isfinite(c2w).all() and np.isfinite(K).all()
        np.testing.assert_allclose(c2w[3], [0, 0, 0, 1])
        np.testing.assert_allclose(c2w[:3, :3] @ c2w[:3, :3].T, np.eye(3), atol=1e-5)
        np.testing.assert_allclose(K[2], [0, 0, 1])
        assert K[0, 0] > 0 and K[1, 1] > 0
    np.testing.assert_array_equal(np.asarray(cams[0]["c2w"]), np.eye(4))
    # the default path (orbit_left) moves: the last camera is not the first one
    assert np.linalg.norm(np.asarray(cams[-1]["c2w"])[:3, 3]) > 0
    assert meta["trajectory"]["source"] == "preset:orbit_left"

    segs = meta["segments"]
    assert len(segs) == 1  # (FRAMES - 1) new frames fit in one 16-frame segment
    for s in segs:
        assert isinstance(s["seconds"], (int, float)) and s["seconds"] >= 0
        assert isinstance(s["memory_tokens"], int) and s["memory_tokens"] > 0
        assert isinstance(s["memory_bytes"], int) and s["memory_bytes"] > 0
    tokens = [s["memory_tokens"] for s in segs]
    assert tokens == sorted(tokens)
    assert segs[0]["frames"] == [1, FRAMES - 1]


def test_two_segments_memory_grows(inputs, micro_pipeline_dir, tmp_path):
    """18 frames = 17 new frames = two segments; the memory only grows between them."""
    out = tmp_path / "long.mp4"
    _ok(_invoke(["--out", out, "--image", inputs["img.png"], "--depth", inputs["depth.npy"],
                 "--model", micro_pipeline_dir, "--steps", 1, "--frames", 18, "--size", f"{W}x{H}",
                 "--trajectory", "move_right"]))  # fmt: skip
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["frames"] == 18 and len(meta["cameras"]) == 18
    assert read_video(out).shape == (18, H, W, 3)
    segs = meta["segments"]
    assert [s["frames"] for s in segs] == [[1, 16], [17, 17]]
    tokens = [s["memory_tokens"] for s in segs]
    assert tokens == sorted(tokens) and tokens[0] > 0
    nbytes = [s["memory_bytes"] for s in segs]
    assert nbytes == sorted(nbytes)
    assert not out.with_name("long_sbs.mp4").exists()


def test_memory_options_exclude_mask_and_saved_memory(inputs, micro_pipeline_dir, tmp_path):
    from mirage_world.memory import LatentSpatialMemory

    out = tmp_path / "m.mp4"
    mem_path = tmp_path / "mem" / "scene.safetensors"
    _ok(_invoke(_base(inputs, micro_pipeline_dir, out, "--memory-dtype", "int8", "--voxel-size", "off",
                      "--splat", "bilinear", "--exclude-mask", inputs["mask_left.png"], "--save-memory", mem_path)))
    meta = json.loads(out.with_suffix(".json").read_text())
    m = meta["memory"]
    assert m["dtype"] == "int8" and m["voxel_size"] is None and m["config"]["splat"] == "bilinear"
    mem = LatentSpatialMemory.load(mem_path)
    assert mem.num_tokens == m["tokens"] == meta["segments"][-1]["memory_tokens"] and mem.nbytes == m["bytes"]
    assert mem.dtype_name == "int8" and mem.splat == "bilinear"
    # the photo's left half is excluded: its first write stored only right-half latent pixels (x > 0 in the camera)
    photo_only = tmp_path / "p.mp4"
    p_mem = tmp_path / "p.safetensors"
    _ok(_invoke(_with(_base(inputs, micro_pipeline_dir, photo_only, "--voxel-size", "off", "--exclude-mask",
                            inputs["mask_left.png"], "--save-memory", p_mem), frames=1)))
    pm = LatentSpatialMemory.load(p_mem)
    assert pm.num_tokens > 0 and bool((pm.positions[:, 0] > 0).all())


@pytest.mark.parametrize("extra, memory_on", [(["--memory", "off"], False),
                                               (["--guidance", "none", "--start-sigma", "0.6"], True)])
def test_per_frame_vae_and_sampling_options(inputs, micro_taef2_pipeline_dir, tmp_path, extra, memory_on):
    """A per-frame (TAEF2-architecture) micro model runs the CLI end to end; the sampling options reach OUT.json."""
    out = tmp_path / "f.mp4"
    _ok(_invoke([*_base(inputs, micro_taef2_pipeline_dir, out), *extra, "--side-by-side"]))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert read_video(out).shape == (FRAMES, H, W, 3)
    assert meta["sampling"]["memory"] == ("on" if memory_on else "off")
    assert (meta["segments"][0]["memory_tokens"] > 0) == memory_on
    assert out.with_name("f_sbs.mp4").exists()


def test_default_memory_is_fused_float16(smoke):
    out, _ = smoke
    m = json.loads(out.with_name("OUT.json").read_text())["memory"]
    assert m["dtype"] == "float16" and m["voxel_size"] > 0 and m["config"]["voxel_size"] == "auto"


# ------------------------------------------------------------------------------------------------ real data


def test_real_tum_with_re10k_path(real_data, micro_pipeline_dir, tmp_path):
    rgbd = real_data / "rgbd"
    pose = real_data / "re10k_poses" / "0bf152ef84195293.txt"
    out = tmp_path / "tum.mp4"
    _ok(_invoke([
        "--out", out, "--image", rgbd / "TUM_color.png", "--depth", rgbd / "TUM_depth.png",
        "--depth-scale", 5000, "--intrinsics", "525,525,319.5,239.5", "--trajectory", pose,
        "--model", micro_pipeline_dir, "--steps", 2, "--frames", FRAMES, "--size", f"{W}x{H}",
    ]))  # fmt: skip
    assert read_video(out).shape == (FRAMES, H, W, 3)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["frames"] == FRAMES
    traj = meta["trajectory"]
    assert traj["source"].startswith("re10k:")
    assert traj["scale"] > 0 and np.isfinite(traj["scale"])
    # automatic scale rule: the farthest camera sits at 0.25 x median valid depth of the photo
    raw = cv2.imread(str(rgbd / "TUM_depth.png"), cv2.IMREAD_UNCHANGED).astype(np.float64) / 5000
    median = float(np.median(raw[raw > 0]))
    dist = max(np.linalg.norm(np.asarray(c["c2w"])[:3, 3]) for c in meta["cameras"])
    assert dist == pytest.approx(0.25 * median, rel=1e-4)
    np.testing.assert_array_equal(np.asarray(meta["cameras"][0]["c2w"]), np.eye(4))
    # intrinsics given for 640x480 are rescaled to the 64x48 output
    K = np.asarray(meta["cameras"][0]["K"])
    assert K[0, 0] == pytest.approx(52.5, rel=1e-5) and K[1, 1] == pytest.approx(52.5, rel=1e-5)
    np.testing.assert_allclose(meta["inputs"]["K_input"], [[525, 0, 319.5], [0, 525, 239.5], [0, 0, 1]])


# ------------------------------------------------------------------------------------------------ determinism


@pytest.fixture(scope="module")
def twin_runs(inputs, micro_pipeline_dir, tmp_path_factory):
    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(f"cli_det_{name}") / "OUT.mp4"
        _ok(_invoke(_base(inputs, micro_pipeline_dir, out)))
        outs.append(out)
    return outs


def test_same_seed_same_video(twin_runs):
    a, b = twin_runs
    va, vb = read_video(a), read_video(b)
    np.testing.assert_array_equal(va, vb)
    assert a.read_bytes() == b.read_bytes()  # x264 output is deterministic for identical frames
    ma, mb = (json.loads(p.with_suffix(".json").read_text()) for p in (a, b))
    assert ma["cameras"] == mb["cameras"]
    assert [s["memory_tokens"] for s in ma["segments"]] == [s["memory_tokens"] for s in mb["segments"]]


def test_side_by_side_does_not_change_the_video(twin_runs, smoke):
    """The smoke run (same seed and inputs, plus --side-by-side) generated the same frames."""
    np.testing.assert_array_equal(read_video(smoke[0]), read_video(twin_runs[0]))
    assert not twin_runs[0].with_name("OUT_sbs.mp4").exists()


def test_other_seed_other_video(twin_runs, inputs, micro_pipeline_dir, tmp_path):
    out = tmp_path / "OUT.mp4"
    args = _base(inputs, micro_pipeline_dir, out)
    args[args.index("--seed") + 1] = SEED + 1
    _ok(_invoke(args))
    va, vc = read_video(twin_runs[0]), read_video(out)
    np.testing.assert_array_equal(va[0], vc[0])  # frame 0 is the photo (through the VAE): no noise involved
    assert not np.array_equal(va[1:], vc[1:])


# ------------------------------------------------------------------------------------------------ bad input


def _assert_input_error(result, needle: str) -> str:
    err = stderr_of(result)
    assert result.exit_code == 2, f"exit {result.exit_code}; stderr:\n{err}\nexception: {result.exception!r}"
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in err and "Traceback" not in result.output
    lines = [ln for ln in re.split(r"[\r\n]", err) if ln.startswith("error:")]
    assert len(lines) == 1, f"expected one 'error:' line on stderr, got:\n{err}"
    assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert not result.stdout.startswith("wrote")
    return lines[0]


def _with(args: list, **opts) -> list:
    """Replace (or add) options in an argument list: ``_with(args, image="x")`` sets ``--image x``."""
    args = list(args)
    for key, value in opts.items():
        flag = "--" + key.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    return args


BAD_CASES = {
    # name: (options to replace, text the error line must contain)
    "missing image": (lambda i, t: {"image": t / "no_such_photo.png"}, "no_such_photo.png"),
    "missing depth": (lambda i, t: {"depth": t / "no_such_depth.png"}, "no_such_depth.png"),
    "depth nan": (lambda i, t: {"depth": i["depth_nan.npy"]}, "NaN"),
    "depth negative": (lambda i, t: {"depth": i["depth_neg.npy"]}, "negative"),
    "depth all zero": (lambda i, t: {"depth": i["depth_zero.npy"]}, "valid"),
    "size mismatch": (lambda i, t: {"depth": i["depth_small.png"]}, "64x48"),
    "pose garbage": (lambda i, t: {"trajectory": i["pose_garbage.txt"]}, "not a number"),
    "pose short line": (lambda i, t: {"trajectory": i["pose_short.txt"]}, "19 numbers"),
    "unknown preset": (lambda i, t: {"trajectory": "spin_around_twice"}, "spin_around_twice"),
    "bad size text": (lambda i, t: {"size": "big"}, "--size"),
    "bad size multiple": (lambda i, t: {"size": "70x48"}, "--size"),
    "bad intrinsics count": (lambda i, t: {"intrinsics": "525,525,319.5"}, "--intrinsics"),
    "bad intrinsics value": (lambda i, t: {"intrinsics": "525,-1,319.5,239.5"}, "--intrinsics"),
    "out not mp4": (lambda i, t: {"out": t / "video.avi"}, ".mp4"),
    "missing model": (lambda i, t: {"model": t / "no_such_model"}, "no_such_model"),
    "model without pipeline": (lambda i, t: {"model": i["img.png"].parent}, "model"),
    "sparse depth after resize": (lambda i, t: {"image": i["big.png"], "depth": i["depth_sparse.npy"]}, "valid"),
    "bad fps": (lambda i, t: {"fps": "inf"}, "--fps"),
    "bad depth scale": (lambda i, t: {"depth_scale": "0"}, "--depth-scale"),
    "bad fov": (lambda i, t: {"fov": "180"}, "fov"),
    "bad memory dtype": (lambda i, t: {"memory_dtype": "float8"}, "--memory-dtype"),
    "bad voxel size": (lambda i, t: {"voxel_size": "-0.1"}, "--voxel-size"),
    "bad voxel text": (lambda i, t: {"voxel_size": "tiny"}, "--voxel-size"),
    "bad fusion": (lambda i, t: {"fusion": "median"}, "--fusion"),
    "bad splat": (lambda i, t: {"splat": "gaussian"}, "--splat"),
    "save memory not safetensors": (lambda i, t: {"save_memory": t / "mem.pt"}, ".safetensors"),
    "missing exclude mask": (lambda i, t: {"exclude_mask": t / "no_mask.png"}, "no_mask.png"),
    "exclude mask wrong size": (lambda i, t: {"exclude_mask": i["depth_small.png"]}, "32x24"),
    "exclude mask covers all": (lambda i, t: {"exclude_mask": i["mask_all.png"]}, "--exclude-mask"),
    "bad guidance": (lambda i, t: {"guidance": "repaint"}, "--guidance"),
    "bad guidance end": (lambda i, t: {"guidance_end": "1.5"}, "--guidance-end"),
    "bad start sigma": (lambda i, t: {"start_sigma": "0"}, "--start-sigma"),
    "bad memory switch": (lambda i, t: {"memory": "maybe"}, "--memory"),
    # the boundary (issue 9, item 5): limits and kinds checked before a model loads
    "threads negative": (lambda i, t: {"threads": "-1"}, "--threads"),
    "threads zero": (lambda i, t: {"threads": "0"}, "--threads"),
    "threads huge": (lambda i, t: {"threads": "100000"}, "--threads"),
    "size huge": (lambda i, t: {"size": "100000x100000"}, "4096"),
    "size zero": (lambda i, t: {"size": "0x48"}, "--size"),
    "size negative": (lambda i, t: {"size": "-64x48"}, "--size"),
    "frames huge": (lambda i, t: {"frames": "100000"}, "--frames"),
    "frames times size over the limit": (lambda i, t: {"frames": "2049", "size": "1024x1024"}, "pixel-frames"),
    "steps huge": (lambda i, t: {"steps": "1000000"}, "--steps"),
    "seed negative": (lambda i, t: {"seed": "-1"}, "--seed"),
    "seed over 64 bits": (lambda i, t: {"seed": str(2**64)}, "--seed"),
    "fps huge": (lambda i, t: {"fps": "1e9"}, "--fps"),
    "fps nan": (lambda i, t: {"fps": "nan"}, "--fps"),
    "fov nan with intrinsics": (lambda i, t: {"fov": "nan", "intrinsics": "60,60,32,24"}, "--fov"),
    "trajectory scale negative": (lambda i, t: {"trajectory_scale": "-1"}, "--trajectory-scale"),
    "trajectory scale huge": (lambda i, t: {"trajectory_scale": "1e300"}, "--trajectory-scale"),
    "fov too small": (lambda i, t: {"fov": "1e-140"}, "--fov"),
    "intrinsics focal tiny": (lambda i, t: {"intrinsics": "1e-300,1e-300,0,0"}, "focal lengths"),
    "intrinsics principal point far": (lambda i, t: {"intrinsics": "60,60,1e300,24"}, "principal point"),
    "voxel size too small for the scene": (lambda i, t: {"voxel_size": "1e-30"}, "too small for this scene"),
    "capacity huge": (lambda i, t: {"capacity": str(2**40)}, "--capacity"),
    "photo 1x1": (lambda i, t: {"image": i["tiny.png"]}, "at least 16x16"),
    "photo 12x8": (lambda i, t: {"image": i["small.png"]}, "at least 16x16"),
    "16-bit depth png as photo": (lambda i, t: {"image": i["depth.png"]}, "depth map"),
    "save memory with memory off": (lambda i, t: {"memory": "off", "save_memory": t / "m.safetensors"}, "--memory on"),
    "out is a folder": (lambda i, t: {"out": _mkdir(t / "video.mp4")}, "is a folder"),
    "out json is a folder": (lambda i, t: {"out": _mkdir(t / "v.json") and t / "v.mp4"}, "JSON"),
    "out parent is a file": (lambda i, t: {"out": i["img.png"] / "sub" / "v.mp4"}, "output folder"),
    "out name too long": (lambda i, t: {"out": t / ("x" * 300 + ".mp4")}, "longer than"),
    "save memory is a folder": (lambda i, t: {"save_memory": _mkdir(t / "m.safetensors")}, "--save-memory"),
    "save memory parent is a file": (lambda i, t: {"save_memory": i["img.png"] / "m.safetensors"}, "output folder"),
    "side by side video is a folder": (lambda i, t: {"out": _mkdir(t / "v_sbs.mp4") and t / "v.mp4",
                                                     "side_by_side": None}, "--side-by-side"),
}


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


@pytest.fixture
def no_model_load(monkeypatch):
    """Counts pipeline loads: input errors must be found before any model is loaded."""
    from mirage_world.pipelines import MiragePipeline

    calls = []
    original = MiragePipeline.from_pretrained.__func__

    def counting(cls, *a, **k):
        calls.append(a)
        return original(cls, *a, **k)

    monkeypatch.setattr(MiragePipeline, "from_pretrained", classmethod(counting))
    return calls


@pytest.mark.parametrize("case", list(BAD_CASES), ids=lambda c: c.replace(" ", "-"))
def test_bad_input(case, inputs, micro_pipeline_dir, tmp_path, no_model_load):
    opts, needle = BAD_CASES[case]
    args = _with(_base(inputs, micro_pipeline_dir, tmp_path / "out.mp4"), **opts(inputs, tmp_path))
    args = [a for a in args if a is not None]  # a flag given as {"flag": None}
    before = sorted(tmp_path.rglob("*"))
    _assert_input_error(_invoke(args), needle)
    assert not (tmp_path / "out.mp4").exists()
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no folder created
    assert no_model_load == [], "the error must come before the model is loaded"


def test_broken_model_dir(inputs, micro_pipeline_dir, tmp_path):
    """A folder with model_index.json but a missing component: a clear error, not a traceback."""
    model = tmp_path / "model"
    shutil.copytree(micro_pipeline_dir, model)
    shutil.rmtree(model / "vae")
    _assert_input_error(_invoke(_base(inputs, model, tmp_path / "out.mp4")), str(model))


def test_out_parent_is_a_file(inputs, micro_pipeline_dir, tmp_path):
    """Fails before generating, not after."""
    _assert_input_error(_invoke(_base(inputs, micro_pipeline_dir, inputs["img.png"] / "out.mp4")), "output folder")


@pytest.mark.parametrize("fresh_folder", [True, False], ids=["new-folder", "existing-outputs"])
def test_failed_memory_save_leaves_no_outputs(inputs, micro_pipeline_dir, tmp_path, monkeypatch, fresh_folder):
    """Outputs appear together or not at all: a memory save that fails after the generation (disk full) leaves no
    mp4 / JSON / side-by-side / partial memory file and no temporary file; files that were there before keep their
    bytes. What was generated stays in the resume folder ``v.mp4.partial/``: ``--resume`` then writes the outputs
    without generating again, and removes it."""
    from mirage_world.memory import LatentSpatialMemory

    real_save = LatentSpatialMemory.save

    def broken_save(self, path):
        if Path(path).parent.name.endswith(".partial"):  # the resume folder's copy is written fine
            return real_save(self, path)
        Path(path).write_bytes(b"half a memory")  # a writer that fails half-way
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LatentSpatialMemory, "save", broken_save)
    if fresh_folder:
        folder = tmp_path / "new" / "deeper"
    else:
        folder = tmp_path / "keep"
        folder.mkdir()
        for name in ("v.mp4", "v.json", "v_sbs.mp4", "m.safetensors"):
            (folder / name).write_text(f"old {name}")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = _base(inputs, micro_pipeline_dir, folder / "v.mp4", "--side-by-side", "--save-memory",
                 folder / "m.safetensors")  # one segment
    line = _assert_input_error(_invoke(args), "No space left")
    assert "cannot write" in line
    sidecar = folder / "v.mp4.partial"
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and sidecar not in p.parents}
    assert after == before
    assert sorted(os.listdir(folder)) == sorted(
        ["v.mp4.partial"] + ([] if fresh_folder else ["v.mp4", "v.json", "v_sbs.mp4", "m.safetensors"]))
    monkeypatch.setattr(LatentSpatialMemory, "save", real_save)
    result = _ok(_invoke([*args, "--resume"]))
    assert "1 of 1 segments done" in stderr_of(result) + result.output  # nothing generated again
    assert sorted(os.listdir(folder)) == ["m.safetensors", "v.json", "v.mp4", "v_sbs.mp4"]
    assert read_video(folder / "v.mp4").shape == (FRAMES, H, W, 3)


def test_outputs_replace_old_ones_and_leave_no_temporary_files(inputs, micro_pipeline_dir, tmp_path):
    out = tmp_path / "v.mp4"
    out.write_text("old video")
    _ok(_invoke(_with(_base(inputs, micro_pipeline_dir, out, "--save-memory", tmp_path / "m.safetensors"), frames=1)))
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors", "v.json", "v.mp4"]
    assert read_video(out).shape == (1, H, W, 3)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_folder_not_writable(inputs, micro_pipeline_dir, tmp_path, no_model_load):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        _assert_input_error(_invoke(_base(inputs, micro_pipeline_dir, ro / "sub" / "v.mp4")), "not writable")
    finally:
        ro.chmod(0o700)
    assert no_model_load == []


@pytest.mark.parametrize("argv, needle", [
    (["generate", "--out", "x.mp4", "--frames", "0"], "--frames"),
    (["generate", "--out", "x.mp4", "--frames", "many"], "--frames"),
    (["generate", "--out", "x.mp4", "--no-such-option"], "--no-such-option"),
    (["generate", "--image", "x.png"], "--out"),
    (["generate", "--out", "x.mp4", "--fps", "0.5"], "--fps"),
    (["generate", "--out", "x.mp4", "--capacity", "0"], "--capacity"),
    (["no-such-command"], "no-such-command"),
    (["world", "render", "--out", "o", "--frames", "x"], "--frames"),
    (["world", "dataset", "--out", "o"], "--scenes"),
    (["bench", "memory", "--width", "wide"], "--width"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_usage_errors_are_one_error_line(argv, needle):
    """Click's own usage errors end like the CLI's: one ``error:`` line and exit 2 (no boxed usage panel)."""
    r = cli_runner().invoke(app, argv)
    _assert_input_error(r, needle)
    err = stderr_of(r)
    assert "Usage:" not in err and "\u256d" not in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv", [["generate", "--out", "", "--example", "room"], ["world", "render", "--out", ""],
                                  ["world", "dataset", "--scenes", "1", "--out="], ["bench", "memory", "--json", ""],
                                  ["generate", "--out", "x.mp4", "--image", "a\x00b.png"]],
                         ids=["generate-out", "render-out", "dataset-out", "bench-json", "nul-byte"])
def test_empty_or_nul_arguments_are_refused(argv, tmp_path, monkeypatch):
    """click turns an empty path into "." (the current folder: a render would write its files there); found by
    benchmarks/fuzz_cli.py."""
    monkeypatch.chdir(tmp_path)
    r = cli_runner().invoke(app, argv)
    _assert_input_error(r, "NUL byte" if any("\x00" in a for a in argv) else "empty argument")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv", [["--help"], ["generate", "--help"], ["world", "render", "--help"],
                                  ["world", "dataset", "--help"], ["bench", "memory", "--help"]])
def test_help_still_works(argv):
    r = cli_runner().invoke(app, argv, env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "--help" in r.stdout


def test_console_script_usage_error_is_one_line(tmp_path):
    proc = subprocess.run([_console_script(), "generate", "--out", str(tmp_path / "x.mp4"), "--frames", "lots"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--frames" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_example(tmp_path):
    line = _assert_input_error(_invoke(["--out", tmp_path / "x.mp4", "--example", "no_such_scene"]), "no_such_scene")
    assert "unknown example" in line


def test_image_and_depth_required(tmp_path):
    _assert_input_error(_invoke(["--out", tmp_path / "x.mp4"]), "--image")


# ------------------------------------------------------------------------------------------------ entry point


def test_generate_help_in_process():
    result = cli_runner().invoke(app, ["generate", "--help"])
    assert result.exit_code == 0, result.output
    for opt in ("--out", "--image", "--depth", "--trajectory", "--side-by-side"):
        assert opt in result.stdout


def _console_script() -> str:
    exe = Path(sys.executable).with_name("mirage")
    if exe.is_file():
        return str(exe)
    found = shutil.which("mirage")
    assert found, "the `mirage` console script is not installed (pip install -e .)"
    return found


def test_console_script_help():
    """The installed ``mirage`` entry point runs and lists the ``generate`` command."""
    exe = _console_script()
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "generate" in proc.stdout
    proc = subprocess.run([exe, "generate", "--help"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "--out" in proc.stdout and "--trajectory" in proc.stdout
