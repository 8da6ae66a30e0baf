"""MiragePipeline on the micro random model: loop structure, memory growth, determinism, input checks."""

from __future__ import annotations

import pytest
import torch

from mirage_world.pipelines import MemoryConfig, MiragePipeline
from mirage_world.pipelines.pipeline_mirage import fill_depth_nearest, pool_keep_to_grid


@pytest.fixture(scope="module")
def pipe(micro_pipeline_dir):
    p = MiragePipeline.from_pretrained(str(micro_pipeline_dir))
    p.set_progress_bar_config(disable=True)
    return p


HW = dict(height=32, width=48)  # the micro tests run at the photo's own size


def _inputs(n=21):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(32, 48, 3, generator=g)
    depth = torch.full((32, 48), 2.0)
    K = torch.tensor([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])
    c2w = torch.eye(4).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.4, n)
    return img, depth, K, c2w


def test_segments_frames_and_memory_growth(pipe):
    img, depth, K, c2w = _inputs(21)
    c2w[:, 0, 3] = torch.linspace(0, 2.0, 21)  # 5 latent pixels at 2 m: new content beyond the read's reach
    seen = []
    out = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(1),
               return_memory_frames=True, callback=seen.append, progress=False, **HW,
               memory_config=MemoryConfig(voxel_size=None, dtype="float32"))  # the paper's append-only cache
    assert out.frames.shape == (21, 32, 48, 3) and out.memory_frames.shape == (21, 32, 48, 3)
    assert [s.frames for s in out.segments] == [(1, 16), (17, 20)] and len(seen) == 2
    tokens = [s.memory_tokens for s in out.segments]
    assert tokens[0] > 4 * 6 and tokens[1] >= tokens[0]  # the photo's 24 tokens + new content written back
    assert out.memory.num_tokens == tokens[-1] and out.segments[-1].memory_bytes == out.memory.nbytes
    # frame 0 is the VAE round trip of the photo: decoding the photo's latent directly gives the same
    z0 = pipe.encode_frames(img.permute(2, 0, 1)[None, :, None])
    assert torch.allclose(torch.from_numpy(out.frames[0]), pipe.decode_latents(z0)[0, :, 0].permute(1, 2, 0), atol=1e-5)


def test_same_seed_same_video(pipe):
    img, depth, K, c2w = _inputs(9)
    a = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(3), progress=False, **HW)
    b = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(3), progress=False, **HW)
    c = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(4), progress=False, **HW)
    assert (a.frames == b.frames).all()
    assert not (a.frames[1:] == c.frames[1:]).all()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda i: i.update(height=30), "multiple of 16"),
        (lambda i: i.update(guidance="repaint"), "guidance must be"),
        (lambda i: i.update(guidance_end=1.5), "guidance_end"),
        (lambda i: i.update(depth=torch.ones(16, 48)), "depth must be"),
        (lambda i: i.update(depth=torch.full((32, 48), float("nan"))), "finite"),
        (lambda i: i.update(depth=torch.zeros(32, 48)), "no valid"),
        (lambda i: i.update(K=torch.zeros(3, 3)), "positive focal"),
        (lambda i: i.update(c2w=torch.eye(4)), "c2w must be"),
    ],
)
def test_check_inputs(pipe, change, match):
    img, depth, K, c2w = _inputs(5)
    kw = dict(image=img, depth=depth, K=K, c2w=c2w, **HW)
    change(kw)
    with pytest.raises(ValueError, match=match):
        pipe(**kw, num_inference_steps=1, progress=False)


def test_fill_depth_nearest():
    d = torch.tensor([[1.0, 0, 0, 5.0]])
    m = torch.tensor([[True, False, False, True]])
    filled, dist = fill_depth_nearest(d, m)
    assert filled.tolist() == [[1.0, 1.0, 5.0, 5.0]] and dist.tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert fill_depth_nearest(d, torch.zeros_like(m)) is None


def test_default_memory_is_fused_float16_and_flat_on_an_out_and_back_path(pipe):
    img, depth, K, _ = _inputs(33)
    x = torch.cat([torch.linspace(0, 3.0, 17), torch.linspace(3.0, 0, 17)[1:]])  # out and back, 7.5 latent px
    c2w = torch.eye(4).repeat(33, 1, 1)
    c2w[:, 0, 3] = x
    out = pipe(img, depth, K, c2w, num_inference_steps=1, generator=torch.Generator().manual_seed(0), progress=False, **HW)
    mem = out.memory
    # auto voxel: one latent pixel at the 5th-percentile depth: 2 m / (40 / 8 px) = 0.4 m
    assert mem.storage_dtype == torch.float16 and mem.voxel_size == pytest.approx(0.4)
    assert mem.latent_spec["z_dim"] == 16 and mem.latent_spec["scale_factor_spatial"] == 8
    t = [s.memory_tokens for s in out.segments]
    assert t[1] - t[0] < t[0] - 24  # coming back adds less than going out (only the few pixels the read misses)
    append = pipe(img, depth, K, c2w, num_inference_steps=1, generator=torch.Generator().manual_seed(0),
                  progress=False, **HW, memory_config=MemoryConfig(voxel_size=None)).memory
    assert t[0] > 24 and append.num_tokens >= mem.num_tokens  # new content was written; fusion never adds tokens


def test_keep_mask_keeps_sky_out_of_the_memory(pipe):
    img, depth, K, c2w = _inputs(1)
    keep = torch.ones(32, 48, dtype=torch.bool)
    keep[:, :24] = False  # left half is "sky"
    mem = pipe(img, depth, K, c2w, progress=False, **HW, keep=keep, memory_config=MemoryConfig(voxel_size=None)).memory
    assert mem.num_tokens == 4 * 3  # 4 x 6 latent grid, right half only
    assert (mem.positions[:, 0] > 0).all()
    with pytest.raises(ValueError, match="keep"):
        pipe(img, depth, K, c2w, progress=False, **HW, keep=keep.float())
    with pytest.raises(ValueError, match="nothing would be stored"):
        pipe(img, depth, K, c2w, progress=False, **HW, keep=torch.zeros(32, 48, dtype=torch.bool))


def test_pool_keep_to_grid_majority():
    keep = torch.zeros(4, 8, dtype=torch.bool)
    keep[:2, :4] = True  # block (0, 0): 8 / 16 kept -> kept (ties keep)
    keep[:1, 4:] = True  # block (0, 1): 4 / 16 -> dropped
    assert pool_keep_to_grid(keep, 4).tolist() == [[True, False]]


def test_generated_pixels_far_from_coverage_are_not_written(pipe):
    img, depth, K, _ = _inputs(17)
    c2w = torch.eye(4).repeat(17, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 4.0, 17)  # a large sideways move: most of the new view is uncovered
    cfg = MemoryConfig(voxel_size=None, min_confidence=0.5)
    out = pipe(img, depth, K, c2w, num_inference_steps=1, progress=False, **HW, memory_config=cfg)
    loose = pipe(img, depth, K, c2w, num_inference_steps=1, progress=False, **HW,
                 memory_config=MemoryConfig(voxel_size=None, min_confidence=0.0))
    assert out.memory.num_tokens < loose.memory.num_tokens
