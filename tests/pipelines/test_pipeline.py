"""MiragePipeline on the micro random model: loop structure, memory growth, determinism, input checks."""

from __future__ import annotations

import pytest
import torch

from mirage_world.pipelines import MiragePipeline
from mirage_world.pipelines.pipeline_mirage import fill_depth_nearest


@pytest.fixture(scope="module")
def pipe(micro_pipeline_dir):
    p = MiragePipeline.from_pretrained(str(micro_pipeline_dir))
    p.set_progress_bar_config(disable=True)
    return p


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
    seen = []
    out = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(1),
               return_memory_frames=True, callback=seen.append, progress=False)
    assert out.frames.shape == (21, 32, 48, 3) and out.memory_frames.shape == (21, 32, 48, 3)
    assert [s.frames for s in out.segments] == [(1, 16), (17, 20)] and len(seen) == 2
    tokens = [s.memory_tokens for s in out.segments]
    assert tokens[0] > 4 * 6 and tokens[1] > tokens[0]  # the photo's 24 tokens + written latent frames
    assert out.memory.num_tokens == tokens[-1] and out.segments[-1].memory_bytes == out.memory.nbytes
    # frame 0 is the VAE round trip of the photo: decoding the photo's latent directly gives the same
    z0 = pipe.encode_frames(img.permute(2, 0, 1)[None, :, None])
    assert torch.allclose(torch.from_numpy(out.frames[0]), pipe.decode_latents(z0)[0, :, 0].permute(1, 2, 0), atol=1e-5)


def test_same_seed_same_video(pipe):
    img, depth, K, c2w = _inputs(9)
    a = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(3), progress=False)
    b = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(3), progress=False)
    c = pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(4), progress=False)
    assert (a.frames == b.frames).all()
    assert not (a.frames[1:] == c.frames[1:]).all()


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda i: i.update(image=torch.rand(30, 48, 3)), "divisible"),
        (lambda i: i.update(depth=torch.ones(16, 48)), "depth must be"),
        (lambda i: i.update(depth=torch.full((32, 48), float("nan"))), "finite"),
        (lambda i: i.update(depth=torch.zeros(32, 48)), "no valid"),
        (lambda i: i.update(K=torch.zeros(3, 3)), "positive focal"),
        (lambda i: i.update(c2w=torch.eye(4)), "c2w must be"),
    ],
)
def test_check_inputs(pipe, change, match):
    img, depth, K, c2w = _inputs(5)
    kw = dict(image=img, depth=depth, K=K, c2w=c2w)
    change(kw)
    with pytest.raises(ValueError, match=match):
        pipe(**kw, num_inference_steps=1, progress=False)


def test_fill_depth_nearest():
    d = torch.tensor([[1.0, 0, 0, 5.0]])
    m = torch.tensor([[True, False, False, True]])
    assert fill_depth_nearest(d, m).tolist() == [[1.0, 1.0, 5.0, 5.0]]
    assert fill_depth_nearest(d, torch.zeros_like(m)) is None
