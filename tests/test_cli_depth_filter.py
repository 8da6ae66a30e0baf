"""``mirage generate --depth auto`` and ``--filter auto`` end to end on tiny random Depth Anything / SegFormer
checkpoints (saved with ``save_pretrained``, loaded by the CLI through ``from_pretrained``) and the micro pipeline."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from testing_utils import save_tiny_depth_model, save_tiny_segformer
from typer.testing import CliRunner

from mirage_world.cli import app
from mirage_world.memory import LatentSpatialMemory

W, H = 64, 48


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("auto")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(d / "img.png"), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    np.save(d / "depth.npy", np.full((H, W), 2.0, np.float32))
    save_tiny_depth_model(d / "depth_model", "metric")
    save_tiny_depth_model(d / "relative_model", "relative")
    save_tiny_segformer(d / "seg_sky", {0: "sky", 1: "wall"})  # labels chosen below by forcing the head's bias
    save_tiny_segformer(d / "seg_wall", {0: "sky", 1: "wall"})
    import torch
    from transformers import SegformerForSemanticSegmentation

    for name, cls in (("seg_sky", 0), ("seg_wall", 1)):  # one class wins everywhere
        m = SegformerForSemanticSegmentation.from_pretrained(d / name)
        with torch.no_grad():
            m.decode_head.classifier.weight.zero_()
            m.decode_head.classifier.bias.copy_(torch.tensor([10.0, -10.0] if cls == 0 else [-10.0, 10.0]))
        m.save_pretrained(d / name)
    return d


def _run(files, model_dir, out, *extra):
    args = ["generate", "--out", out, "--image", files / "img.png", "--model", model_dir, "--steps", 1,
            "--frames", 5, "--size", f"{W}x{H}", "--threads", 1, "--trajectory", "move_right", *extra]
    return CliRunner().invoke(app, [str(a) for a in args])


def test_depth_auto_runs_the_depth_model(files, micro_pipeline_dir, tmp_path):
    out = tmp_path / "a.mp4"
    r = _run(files, micro_pipeline_dir, out, "--depth", "auto", "--depth-model", files / "depth_model")
    assert r.exit_code == 0, r.output
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["inputs"]["depth"] == "auto" and meta["inputs"]["depth_model"]["model"] == str(files / "depth_model")
    assert meta["segments"][0]["memory_tokens"] > 0
    # a relative model needs --median-depth, refused before anything loads
    r = _run(files, micro_pipeline_dir, tmp_path / "b.mp4", "--depth", "auto", "--depth-model", files / "relative_model")
    assert r.exit_code == 2 and "--median-depth" in r.output and not (tmp_path / "b.mp4").exists()
    r = _run(files, micro_pipeline_dir, tmp_path / "c.mp4", "--depth", "auto", "--depth-model",
             files / "relative_model", "--median-depth", "2.5")
    assert r.exit_code == 0, r.output


def test_depth_auto_without_weights_is_one_error(files, micro_pipeline_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = _run(files, micro_pipeline_dir, tmp_path / "x.mp4", "--depth", "auto", "--depth-model", "nobody/no-such-depth")
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "hf download" in lines[0]


def test_filter_auto_keeps_sky_out_of_the_memory(files, micro_pipeline_dir, tmp_path):
    """All sky: the photo itself has nothing to store -> one clear error. All wall: stored as without the filter."""
    r = _run(files, micro_pipeline_dir, tmp_path / "s.mp4", "--depth", files / "depth.npy", "--filter", "auto",
             "--filter-model", files / "seg_sky", "--filter-classes", "sky")
    assert r.exit_code == 2 and "nothing to remember" in r.output
    tokens = {}
    for name, extra in (("wall", ["--filter", "auto", "--filter-model", files / "seg_wall", "--filter-classes", "sky"]),
                        ("free", [])):
        out = tmp_path / f"{name}.mp4"
        r = _run(files, micro_pipeline_dir, out, "--depth", files / "depth.npy", "--voxel-size", "off",
                 "--save-memory", tmp_path / f"{name}.safetensors", *extra)
        assert r.exit_code == 0, r.output
        tokens[name] = LatentSpatialMemory.load(tmp_path / f"{name}.safetensors").num_tokens
        meta = json.loads(out.with_suffix(".json").read_text())
        assert (meta["filter"] is not None) == (name == "wall")
    assert tokens["wall"] == tokens["free"] > 0


def test_filter_options_checked_first(files, micro_pipeline_dir, tmp_path):
    for extra, msg in ((["--filter", "maybe"], "--filter must be"),
                       (["--filter-classes", "sky"], "--filter-classes needs --filter auto"),
                       (["--filter", "auto", "--filter-model", files / "seg_wall", "--filter-classes", "skyy"], "skyy"),
                       (["--median-depth", "3"], "--median-depth applies")):
        r = _run(files, micro_pipeline_dir, tmp_path / "z.mp4", "--depth", files / "depth.npy", *extra)
        assert r.exit_code == 2 and msg in r.output, (extra, r.output)
