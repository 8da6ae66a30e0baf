"""Memory-guided sampling and the shared conditioning on the per-frame (TAEF2-architecture) micro pipeline."""

from __future__ import annotations

import pytest
import torch

from mirage_world.pipelines import MemoryConfig, MiragePipeline
from mirage_world.pipelines.conditioning import denoiser_input, guide, neighbour_fill, per_token_timesteps

HW = dict(height=32, width=48)


@pytest.fixture(scope="module")
def pipe(micro_taef2_pipeline_dir):
    p = MiragePipeline.from_pretrained(str(micro_taef2_pipeline_dir))
    p.set_progress_bar_config(disable=True)
    return p


def _inputs(n):
    g = torch.Generator().manual_seed(0)
    return (torch.rand(32, 48, 3, generator=g), torch.full((32, 48), 2.0),
            torch.tensor([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]]), torch.eye(4).repeat(n, 1, 1))


def test_factors_come_from_the_vae(pipe):
    assert (pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal) == (8, 1)
    assert pipe.latent_channels == 8 and pipe.memory_conditioned


def test_full_coverage_and_guidance_end_0_returns_the_memory_read_through_the_decoder(pipe):
    img, depth, K, c2w = _inputs(6)  # a static camera: the read covers every latent pixel with the photo's tokens
    out = pipe(img, depth, K, c2w, num_inference_steps=3, guidance="replace", guidance_end=0.0, progress=False,
               generator=torch.Generator().manual_seed(0), return_memory_frames=True,
               memory_config=MemoryConfig(dtype="float32", voxel_size=None), **HW)
    assert out.segments[0].coverage == 1.0
    for i in range(1, 6):  # every frame is the decoded read = the photo's round trip (frame 0)
        assert torch.allclose(torch.from_numpy(out.frames[i]), torch.from_numpy(out.frames[0]), atol=1e-5)
        assert torch.allclose(torch.from_numpy(out.memory_frames[i]), torch.from_numpy(out.frames[0]), atol=1e-5)
    free = pipe(img, depth, K, c2w, num_inference_steps=3, guidance="none", progress=False,
                generator=torch.Generator().manual_seed(0), memory_config=MemoryConfig(dtype="float32"), **HW)
    assert not torch.allclose(torch.from_numpy(free.frames[1]), torch.from_numpy(free.frames[0]), atol=1e-3)


def test_memory_off_writes_nothing_and_runs(pipe):
    img, depth, K, c2w = _inputs(5)
    out = pipe(img, depth, K, c2w, num_inference_steps=2, use_memory=False, progress=False, return_memory_frames=True,
               **HW)
    assert out.memory is None and out.frames.shape == (5, 32, 48, 3)
    assert (out.memory_frames[1:] == 0).all()  # uncovered pixels of the side-by-side read are black, not faded grey
    assert out.segments[0].coverage == 0.0 and out.segments[0].memory_tokens == 0


def test_start_sigma_runs_fewer_steps_and_stays_deterministic(pipe):
    img, depth, K, c2w = _inputs(5)
    c2w[:, 0, 3] = torch.linspace(0, 0.3, 5)
    calls = []
    hook = pipe.transformer.register_forward_hook(lambda *a: calls.append(1))
    try:
        kw = dict(num_inference_steps=8, start_sigma=0.5, progress=False, **HW)
        a = pipe(img, depth, K, c2w, generator=torch.Generator().manual_seed(1), **kw)
        n = len(calls)
        b = pipe(img, depth, K, c2w, generator=torch.Generator().manual_seed(1), **kw)
    finally:
        hook.remove()
    assert 0 < n < 8 and (a.frames == b.frames).all()


def test_photo_pixels_in_output_size_out(pipe):
    img = torch.rand(60, 80, 3)
    depth = torch.full((60, 80), 2.0)
    depth[:10, :10] = 0  # a sensor hole: still remembered from the nearest depth
    K = torch.tensor([[70.0, 0, 40], [0, 70, 30], [0, 0, 1]])
    out = pipe(img, depth, K, torch.eye(4)[None], progress=False, memory_config=MemoryConfig(voxel_size=None))
    H, W = out.frames.shape[1:3]
    assert (W, H) == (256, 192)  # long side 256, the photo's aspect, multiples of 16
    assert out.memory.num_tokens == (H // 8) * (W // 8)


def test_guide_is_a_coverage_weighted_blend():
    x = torch.zeros(1, 2, 3, 2, 2)
    read = torch.ones(3, 2, 2, 2)
    mask = torch.zeros(3, 1, 2, 2)
    mask[1, 0, 0, 0] = 1.0
    mask[2, 0, 1, 1] = 0.5
    noise = torch.full_like(x, 3.0)
    y = guide(x, read, mask, noise, sigma=0.25)  # covered target: 0.75 * 1 + 0.25 * 3 = 1.5
    assert y[0, :, 1, 0, 0].tolist() == [1.5, 1.5] and y[0, :, 2, 1, 1].tolist() == [0.75, 0.75]
    assert y.abs().sum() == 2 * 1.5 + 2 * 0.75


def test_denoiser_input_and_timesteps_layout():
    lat = torch.randn(2, 4, 3, 4, 6)
    read = torch.randn(3, 4, 4, 6)
    mask = torch.rand(3, 1, 4, 6)
    x = denoiser_input(lat, read, mask)
    assert x.shape == (2, 9, 3, 4, 6)
    assert torch.equal(x[1, 4:8, 2], read[2]) and torch.equal(x[0, 8, 1], mask[1, 0])
    ts = per_token_timesteps(torch.tensor([500.0, 20.0]), 3, 4, 6, (1, 2, 2))
    assert ts.shape == (2, 18) and (ts[:, :6] == 0).all() and (ts[1, 6:] == 20).all()


def test_neighbour_fill_takes_the_nearest_covered_token():
    read = torch.zeros(2, 1, 1, 4)
    read[0, 0, 0] = torch.tensor([5.0, 0, 0, 7.0])
    mask = torch.zeros(2, 1, 1, 4)
    mask[0, 0, 0, 0] = mask[0, 0, 0, 3] = 1
    out = neighbour_fill(read, mask, fallback=torch.full((1, 1, 4), 9.0))
    assert out[0, 0, 0].tolist() == [5.0, 5.0, 7.0, 7.0] and out[1, 0, 0].tolist() == [9.0] * 4


def test_trainer_uses_the_pipelines_conditioning():
    from mirage_world.pipelines import conditioning, pipeline_mirage
    from mirage_world.training import train_denoiser

    assert train_denoiser.denoiser_input is conditioning.denoiser_input is pipeline_mirage.denoiser_input
    assert train_denoiser.per_token_timesteps is conditioning.per_token_timesteps
    assert train_denoiser.build_photo_memory is pipeline_mirage.build_photo_memory
    assert train_denoiser.write_generated is pipeline_mirage.write_generated
