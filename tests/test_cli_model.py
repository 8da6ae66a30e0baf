"""``mirage generate`` with a Wan2.2-architecture model: ``--model DIR / HUB_ID``, ``--adapter``, ``--prompt``,
``--negative-prompt``, ``--guidance-scale``, ``--offload``, ``--vae-tiling``, ``--dtype``, ``--device``.

The model is the tiny random Wan2.2-TI2V-5B-layout folder (``save_tiny_wan22``); runs are 64x64, 5 frames, 1 step.
Every bad option ends with one ``error:`` line, exit code 2, before any model is loaded.
"""

from __future__ import annotations

import inspect
import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mirage_world.cli import app
from mirage_world.io import read_video
from mirage_world.models.wan import WAN22_TI2V_5B, WAN_NEGATIVE_PROMPT, save_tiny_wan22, tiny_wan22_components

S = 64


def _invoke(args):
    kw = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}
    return CliRunner(**kw).invoke(app, ["generate", *[str(a) for a in args]])


def _stderr(result) -> str:
    try:
        return result.stderr
    except ValueError:
        return result.output


def _ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{_stderr(result)}\n{result.exception!r}"
    return result


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory):
    return save_tiny_wan22(tmp_path_factory.mktemp("cli_tiny_wan22"))


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    from mirage_world.models.adapter import add_memory_adapter, save_adapter

    tr = add_memory_adapter(tiny_wan22_components()["transformer"], 48, rank=4)
    return save_adapter(tr, tmp_path_factory.mktemp("cli_adapter"), 48)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_model_inputs")
    rng = np.random.default_rng(0)
    cv2.imwrite(str(d / "img.png"), (rng.random((S, S, 3)) * 255).astype(np.uint8))
    yy = np.mgrid[0:S, 0:S][0].astype(np.float32)
    np.save(d / "depth.npy", (2.0 + yy / S).astype(np.float32))
    return d / "img.png", d / "depth.npy"


def _args(photo, model, out, *extra):
    img, dep = photo
    return ["--out", out, "--image", img, "--depth", dep, "--model", model, "--steps", 1, "--frames", 5,
            "--size", f"{S}x{S}", "--seed", 3, "--threads", 1, *extra]


@pytest.fixture
def no_model_load(monkeypatch):
    from mirage_world.pipelines import MiragePipeline

    calls = []
    original = MiragePipeline.from_pretrained.__func__
    monkeypatch.setattr(MiragePipeline, "from_pretrained",
                        classmethod(lambda cls, *a, **k: calls.append(a) or original(cls, *a, **k)))
    return calls


def test_generate_with_wan_layout_model_and_prompt(photo, wan_dir, tmp_path):
    out = tmp_path / "wan.mp4"
    _ok(_invoke(_args(photo, wan_dir, out, "--prompt", "a quiet room", "--guidance-scale", 3, "--device", "cpu",
                      "--dtype", "fp32")))
    video = read_video(out)
    assert video.shape == (5, S, S, 3)
    meta = json.loads(out.with_suffix(".json").read_text())
    run = meta["run"]
    assert run["text_encoder"] is True and run["prompt"] == "a quiet room" and run["guidance_scale"] == 3.0
    assert run["negative_prompt"] == WAN_NEGATIVE_PROMPT  # Wan's own default
    assert run["device"] == "cpu" and run["dtype"] == "fp32" and run["adapter"] is None
    assert meta["model"] == str(wan_dir)


def test_generate_with_adapter_and_vae_tiling(photo, wan_dir, adapter_dir, tmp_path):
    out = tmp_path / "adapted.mp4"
    _ok(_invoke(_args(photo, wan_dir, out, "--adapter", adapter_dir, "--negative-prompt", "blurry", "--vae-tiling")))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["run"]["adapter"] == str(adapter_dir) and meta["run"]["vae_tiling"] is True
    assert meta["run"]["guidance_scale"] == 5.0 and meta["run"]["negative_prompt"] == "blurry"
    assert read_video(out).shape == (5, S, S, 3)


def test_missing_hub_model_offline_is_one_clear_error(photo, tmp_path, monkeypatch, no_model_load):
    """A hub id that is not in the (empty) Hugging Face cache: what to download and where it was looked for."""
    import huggingface_hub.constants as hub

    cache = tmp_path / "hf_cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    result = _invoke(_args(photo, WAN22_TI2V_5B, tmp_path / "o.mp4"))
    assert result.exit_code == 2
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"hf download {WAN22_TI2V_5B} --local-dir" in lines[0] and str(cache) in lines[0]
    assert no_model_load == [] and not (tmp_path / "o.mp4").exists()


def test_cached_hub_id_resolves_to_its_snapshot(tmp_path, monkeypatch):
    """A hub id present in the cache (layout models--owner--name/snapshots/REV + refs/main) is used offline."""
    import huggingface_hub.constants as hub

    from mirage_world.models.wan import resolve_pretrained

    repo = tmp_path / "models--Wan-AI--Wan2.2-TI2V-5B-Diffusers"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path))
    assert resolve_pretrained(WAN22_TI2V_5B) == snap


BAD = {
    "device unknown": (["--device", "tpu"], "--device"),
    "dtype unknown": (["--dtype", "fp8"], "--dtype"),
    "fp16 on cpu": (["--dtype", "fp16", "--device", "cpu"], "fp16"),
    "offload on cpu": (["--offload", "--device", "cpu"], "--offload"),
    "cfg below 1": (["--guidance-scale", "0.5"], "--guidance-scale"),
    "cfg nan": (["--guidance-scale", "nan"], "--guidance-scale"),
    "cfg huge": (["--guidance-scale", "100"], "--guidance-scale"),
    "adapter not a folder": (["--adapter", "NOPE"], "adapter"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_model_options(case, photo, wan_dir, tmp_path, no_model_load):
    extra, needle = BAD[case]
    extra = [str(tmp_path / "nope") if a == "NOPE" else a for a in extra]
    result = _invoke(_args(photo, wan_dir, tmp_path / "o.mp4", *extra))
    assert result.exit_code == 2, result.stdout
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert no_model_load == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu(photo, wan_dir, tmp_path, no_model_load):
    result = _invoke(_args(photo, wan_dir, tmp_path / "o.mp4", "--device", "cuda"))
    assert result.exit_code == 2 and "no CUDA GPU" in _stderr(result) and no_model_load == []


@pytest.mark.parametrize("extra, needle", [
    (["--prompt", "a room"], "text encoder"),
    (["--guidance-scale", "2"], "text encoder"),
    (["--vae-tiling"], "tiled"),  # the per-frame TAEF2-architecture VAE
    (["--adapter", "ADAPTER"], "48-channel"),  # an adapter of another latent width
])
def test_model_capability_errors(extra, needle, photo, micro_taef2_pipeline_dir, adapter_dir, tmp_path,
                                 no_model_load):
    extra = [str(adapter_dir) if a == "ADAPTER" else a for a in extra]
    result = _invoke(_args(photo, micro_taef2_pipeline_dir, tmp_path / "o.mp4", *extra))
    assert result.exit_code == 2
    lines = _stderr(result).strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert no_model_load == []
