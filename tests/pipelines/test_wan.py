"""Wan2.2-TI2V-5B through MiragePipeline, on a tiny random model of the same classes and configuration shape.

The folder is written in the layout of ``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` (``model_index.json`` naming
``WanPipeline`` with ``expand_timesteps``, UniPC scheduler, UMT5 text encoder + T5 tokenizer) by
``mirage_world.models.wan.save_tiny_wan22`` and loaded with ``MiragePipeline.from_pretrained`` as a user loads the
real one. 64x64 frames (the 16x VAE and 2x2 patches need multiples of 32), one 8-frame segment, 2 steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import make_micro_pipeline

from mirage_world.models.wan import (
    TEXT_MAX_SEQUENCE_LENGTH,
    WAN22_MODEL_INDEX,
    WAN22_PARAMETERS,
    WAN22_TRANSFORMER_CONFIG,
    WAN22_VAE_ARCH,
    estimate_peak_memory,
    save_tiny_wan22,
    tiny_wan22_components,
)

S = 64  # output size
N = 9  # frames: the photo + one segment of 8


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory):
    return save_tiny_wan22(tmp_path_factory.mktemp("tiny_wan22"))


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory):
    """A memory adapter (memory input channels + LoRA) for the tiny model, its new weights made non-zero so that
    it changes the output (a freshly added adapter is an exact no-op)."""
    from mirage_world.models.adapter import add_memory_adapter, save_adapter

    tr = tiny_wan22_components()["transformer"]
    add_memory_adapter(tr, 48, rank=4)
    torch.manual_seed(1)
    with torch.no_grad():
        tr.patch_embedding.weight[:, 48:].normal_(0, 0.2)
        for name, p in tr.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    return save_adapter(tr, tmp_path_factory.mktemp("tiny_adapter"), 48)


def _load(folder):
    from mirage_world.pipelines import MiragePipeline

    pipe = MiragePipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _inputs():
    rng = np.random.default_rng(0)
    img = (rng.random((S, S, 3)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    depth = 2.0 + yy / S + 0.1 * np.sin(xx / 5)
    K = torch.tensor([[60.0, 0, S / 2], [0, 60.0, S / 2], [0, 0, 1]], dtype=torch.float64)
    c2w = torch.eye(4).repeat(N, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.15, N)
    return img, depth, K, c2w


def _run(pipe, seed=0, **kw):
    img, depth, K, c2w = _inputs()
    return pipe(img, depth, K, c2w, height=S, width=S, num_inference_steps=2, segment_frames=8,
                generator=torch.Generator().manual_seed(seed), progress=False, **kw)


# ------------------------------------------------------------------------------------------------ layout


def test_folder_has_the_wan22_layout_and_loads_as_mirage(tiny_wan_dir):
    index = json.loads((tiny_wan_dir / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline" and index["expand_timesteps"] is True
    assert {k: v for k, v in index.items() if not k.startswith("_")} == {
        k: v for k, v in WAN22_MODEL_INDEX.items() if not k.startswith("_")}
    vae_cfg = json.loads((tiny_wan_dir / "vae" / "config.json").read_text())
    for key in ("z_dim", "is_residual", "in_channels", "out_channels", "patch_size", "scale_factor_spatial",
                "scale_factor_temporal", "dim_mult", "temperal_downsample"):
        assert vae_cfg[key] == WAN22_VAE_ARCH[key], key

    pipe = _load(tiny_wan_dir)
    assert type(pipe).__name__ == "MiragePipeline"
    assert type(pipe.text_encoder).__name__ == "UMT5EncoderModel" and pipe.has_text_encoder
    assert type(pipe.scheduler).__name__ == "UniPCMultistepScheduler"  # the folder's own, kept
    assert pipe.latent_channels == 48
    assert (pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal) == (16, 4)
    assert pipe.size_multiple == 32
    assert tuple(pipe.transformer.config.patch_size) == (1, 2, 2)
    assert pipe.transformer.config.text_dim == pipe.text_encoder.config.d_model
    assert not pipe.memory_conditioned  # a base model: training-free
    # the VAE really is 16x / 4x with 48 channels
    z = pipe.encode_frames(torch.rand(1, 3, 5, S, S))
    assert z.shape == (1, 48, 2, S // 16, S // 16)


def test_parameter_counts_of_the_real_configs():
    """The counts behind the memory estimate are those of the real configurations (built on the meta device)."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    with init_empty_weights():
        tr = WanTransformer3DModel(**WAN22_TRANSFORMER_CONFIG)
        vae = AutoencoderKLWan(**WAN22_VAE_ARCH)
    assert sum(p.numel() for p in tr.parameters()) == WAN22_PARAMETERS["transformer"]
    assert sum(p.numel() for p in vae.parameters()) == WAN22_PARAMETERS["vae"]


# ------------------------------------------------------------------------------------------------ text


def test_prompt_encoding_matches_diffusers_wan_pipeline(tiny_wan_dir):
    from diffusers import WanPipeline

    pipe = _load(tiny_wan_dir)
    ref = WanPipeline(**{k: getattr(pipe, k) for k in ("vae", "transformer", "text_encoder", "tokenizer",
                                                        "scheduler")})
    prompts = ["a camera moves through a quiet room", "  a wooden   desk &amp; lamp "]
    ours = pipe.encode_prompt(prompts, TEXT_MAX_SEQUENCE_LENGTH, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        theirs = ref._get_t5_prompt_embeds(prompts, max_sequence_length=TEXT_MAX_SEQUENCE_LENGTH,
                                           device=torch.device("cpu"), dtype=torch.float32)
    assert ours.shape == (2, 512, 32)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    used = (ours.abs().sum(-1) > 0).sum(1).tolist()  # zero after each prompt's last token (+ </s>)
    assert used[0] == 8 and 4 <= used[1] < 30  # 7 words + </s>; 4 words + "&" + </s>


def test_prompt_and_cfg_reach_the_transformer(tiny_wan_dir):
    """Per step: one pass (no CFG) or two (CFG, prompt and negative prompt); the timestep is per token,
    ``(1, T * h/2 * w/2)``, zero on latent frame 0 (Wan2.2-TI2V's ``expand_timesteps``)."""
    pipe = _load(tiny_wan_dir)
    calls = []

    def record(module, args, kwargs):
        calls.append((kwargs["timestep"].clone(), kwargs["encoder_hidden_states"].clone()))

    handle = pipe.transformer.register_forward_pre_hook(record, with_kwargs=True)
    try:
        _run(pipe, prompt="a quiet room", guidance_scale=1.0)
        single = len(calls)
        calls.clear()
        _run(pipe, prompt="a quiet room", negative_prompt="dark", guidance_scale=4.0)
    finally:
        handle.remove()
    assert single == 2 and len(calls) == 4  # 2 steps x 1 segment, doubled by CFG
    T, tok = 3, (S // 16 // 2) ** 2  # 8 frames / 4 + 1 latent frames; 2x2 tokens per latent frame
    ts, ctx = calls[0]
    assert ts.shape == (1, T * tok) and (ts[0, :tok] == 0).all() and (ts[0, tok:] > 900).all()
    assert ctx.shape == (1, 512, 32)
    assert not torch.equal(calls[0][1], calls[1][1])  # prompt, then negative prompt
    assert torch.equal(calls[0][1], calls[2][1]) and torch.equal(calls[0][0], calls[1][0])


def test_generation_depends_on_prompt_and_guidance_scale(tiny_wan_dir):
    """(Memory guidance off: with ``guidance="replace"`` and full coverage the output is the memory read.)"""
    pipe = _load(tiny_wan_dir)
    a = _run(pipe, prompt="a quiet room", guidance_scale=5.0, guidance="none")
    b = _run(pipe, prompt="a quiet room", guidance_scale=5.0, guidance="none")
    c = _run(pipe, prompt="a street with a car", guidance_scale=5.0, guidance="none")
    d = _run(pipe, prompt="a quiet room", guidance_scale=1.0, guidance="none")
    assert a.frames.shape == (N, S, S, 3) and np.isfinite(a.frames).all()
    np.testing.assert_array_equal(a.frames, b.frames)  # same seed, same video
    # random weights: the text moves the frames by ~1e-3, far above float rounding (1e-7)
    assert np.abs(a.frames[1:] - c.frames[1:]).max() > 1e-5  # the prompt matters
    assert np.abs(a.frames[1:] - d.frames[1:]).max() > 1e-5  # so does the guidance scale
    np.testing.assert_array_equal(a.frames[0], c.frames[0])  # frame 0 is the photo's round trip either way
    assert a.segments[0].coverage > 0.5  # the memory was read


def test_text_options_need_a_text_encoder():
    pipe = make_micro_pipeline()
    assert not pipe.has_text_encoder
    for kw in ({"prompt": "a room"}, {"negative_prompt": "x"}, {"guidance_scale": 2.0}):
        with pytest.raises(ValueError, match="text encoder"):
            pipe.check_text_inputs(**kw)
    for bad in (0.5, float("nan"), 51.0):
        with pytest.raises(ValueError, match="guidance_scale"):
            pipe.check_text_inputs(guidance_scale=bad)
    pipe.check_text_inputs()  # nothing given: fine
    with pytest.raises(ValueError, match="text encoder"):
        pipe.encode_prompt("a room")


# ------------------------------------------------------------------------------------------------ adapter


def test_adapter_round_trip_changes_the_model(tiny_wan_dir, tiny_adapter_dir):
    base = _load(tiny_wan_dir)
    adapted = _load(tiny_wan_dir).load_mirage_adapter(tiny_adapter_dir)
    assert adapted.memory_conditioned and adapted.transformer.config.in_channels == 97
    assert "mirage" in adapted.transformer.peft_config
    with pytest.raises(ValueError, match="already"):
        adapted.load_mirage_adapter(tiny_adapter_dir)
    kw = dict(prompt="a room", guidance_scale=2.0, guidance="none")
    a, b = _run(base, **kw), _run(adapted, **kw)
    assert np.isfinite(b.frames).all() and b.frames.shape == a.frames.shape
    assert np.abs(a.frames[1:] - b.frames[1:]).max() > 1e-3


def test_fresh_adapter_is_a_no_op(tiny_wan_dir, tmp_path):
    """Zero-initialised memory channels and LoRA B: the adapted model generates what the base model does."""
    from mirage_world.models.adapter import add_memory_adapter, save_adapter

    tr = tiny_wan22_components()["transformer"]
    folder = save_adapter(add_memory_adapter(tr, 48, rank=4), tmp_path / "fresh", 48)
    base = _load(tiny_wan_dir)
    adapted = _load(tiny_wan_dir).load_mirage_adapter(folder)
    a, b = _run(base, guidance="none"), _run(adapted, guidance="none")
    np.testing.assert_allclose(a.frames, b.frames, atol=1e-5)


# ------------------------------------------------------------------------------------------------ memory cost


def test_vae_tiling_decodes_in_tiles(tiny_wan_dir, monkeypatch):
    pipe = _load(tiny_wan_dir)
    pipe.enable_vae_tiling(tile_sample_min_height=32, tile_sample_min_width=32, tile_sample_stride_height=16,
                           tile_sample_stride_width=16)
    seen = []
    original = type(pipe.vae).tiled_decode
    monkeypatch.setattr(type(pipe.vae), "tiled_decode", lambda self, *a, **k: seen.append(1) or original(self, *a, **k))
    out = _run(pipe)
    assert seen and out.frames.shape == (N, S, S, 3) and np.isfinite(out.frames).all()


def test_model_cpu_offload_runs_and_offloads_early(tiny_wan_dir):
    """The offload hooks on the CPU (no GPU here): the pipeline runs through them, the text encoder is offloaded
    right after the prompts are encoded and the VAE before each segment's denoising -- not only when the next
    model of diffusers' chain runs -- and every model is offloaded at the end."""
    pipe = _load(tiny_wan_dir)
    ref = _run(pipe, prompt="a room", guidance_scale=2.0)
    pipe.enable_model_cpu_offload(device="cpu")
    events = []
    names = {id(pipe.vae): "vae", id(pipe.text_encoder): "text_encoder", id(pipe.transformer): "transformer"}
    for hook in pipe._all_hooks:
        original = hook.offload
        hook.offload = lambda o=original, n=names[id(hook.model)]: events.append(n) or o()
    pipe.transformer.register_forward_pre_hook(lambda *a: events.append("transformer runs"))
    out = _run(pipe, prompt="a room", guidance_scale=2.0)
    np.testing.assert_array_equal(out.frames, ref.frames)
    first_run = events.index("transformer runs")
    assert {"text_encoder", "vae"} <= set(events[:first_run])


def test_peak_memory_estimate_arithmetic():
    one = estimate_peak_memory(1280, 704, 121, segment_frames=None)  # Wan's own: the whole clip in one segment
    seg = estimate_peak_memory(1280, 704, 121)  # MiragePipeline's 16-frame segments
    assert one.tokens == 31 * 22 * 40 == 27280 and seg.tokens == 5 * 22 * 40
    assert one.transformer == pytest.approx(WAN22_PARAMETERS["transformer"] * 2 / 2**30, abs=0.01)
    assert one.dit_activations == pytest.approx(27280 * 234 / 2**20, abs=0.01)
    assert seg.dit_activations < one.dit_activations and seg.peak_offload < one.peak_offload
    tiled = estimate_peak_memory(1280, 704, 121, vae_tiling=True)
    assert tiled.vae_decode < seg.vae_decode / 10 and tiled.peak_offload < seg.peak_offload
    # offloading + tiling: the largest single model (the 5.7 B UMT5 encoder) sets the peak
    assert tiled.peak_offload == pytest.approx(tiled.text_encoder + 0.1 + tiled.latent_memory, abs=0.01)
    assert tiled.peak_offload < tiled.peak_resident
    assert estimate_peak_memory(lora_rank=64).lora > 0.5
    with pytest.raises(ValueError):
        estimate_peak_memory(1280, 700, 121)
