"""The pipeline's memory backends (latent / rgb / none), the segment filter, the per-step timing and resume state,
on the micro random model."""

from __future__ import annotations

import pytest
import torch

from mirage_world.memory import LatentSpatialMemory, RGBPointCloudMemory
from mirage_world.pipelines import (
    LatentMemoryBackend,
    MemoryConfig,
    MiragePipeline,
    NoMemoryBackend,
    RGBMemoryBackend,
    make_backend,
)

HW = dict(height=32, width=48)
CFG = MemoryConfig(voxel_size=None, dtype="float32")


@pytest.fixture(scope="module")
def pipe(micro_pipeline_dir):
    p = MiragePipeline.from_pretrained(str(micro_pipeline_dir))
    p.set_progress_bar_config(disable=True)
    return p


def _inputs(n=21, reach=2.0):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(32, 48, 3, generator=g)
    depth = torch.full((32, 48), 2.0)
    K = torch.tensor([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])
    c2w = torch.eye(4).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, reach, n)  # sideways: new content enters on one side
    return img, depth, K, c2w


def _run(pipe, kind, seed=1, **kw):
    img, depth, K, c2w = _inputs()
    return pipe(img, depth, K, c2w, num_inference_steps=2, generator=torch.Generator().manual_seed(seed),
                progress=False, memory_kind=kind, memory_config=CFG, **HW, **kw)


def test_make_backend_kinds(pipe):
    assert isinstance(make_backend("latent", pipe), LatentMemoryBackend)
    assert isinstance(make_backend("rgb", pipe), RGBMemoryBackend)
    assert isinstance(make_backend("none", pipe), NoMemoryBackend)
    with pytest.raises(ValueError, match="memory must be one of"):
        make_backend("voxels", pipe)
    with pytest.raises(ValueError, match="memory_kind"):
        _run(pipe, "voxels")


def test_none_backend_is_use_memory_false(pipe):
    img, depth, K, c2w = _inputs(9)
    a = _run(pipe, "none")
    b = pipe(img, depth, K, _inputs()[3], num_inference_steps=2, generator=torch.Generator().manual_seed(1),
             progress=False, use_memory=False, memory_config=CFG, **HW)
    assert (a.frames == b.frames).all() and a.memory is None
    assert all(s.memory_tokens == 0 and s.coverage == 0 for s in a.segments)


def test_three_memories_same_generator_different_conditioning(pipe):
    lat, rgb, none = (_run(pipe, k) for k in ("latent", "rgb", "none"))
    assert isinstance(lat.memory, LatentSpatialMemory) and isinstance(rgb.memory, RGBPointCloudMemory)
    # frame 0 (the photo's round trip) is the same; what the memory conditions on differs
    assert (lat.frames[0] == rgb.frames[0]).all() and (lat.frames[0] == none.frames[0]).all()
    assert not (lat.frames[1:] == none.frames[1:]).all() and not (rgb.frames[1:] == none.frames[1:]).all()
    # both memories cover the first segment's reads (the camera starts at the photo); none covers nothing
    assert lat.segments[0].coverage > 0.5 and rgb.segments[0].coverage > 0.5
    # the RGB cache stores a point per pixel (the photo alone: 32 x 48), f^2 = 64 x the latent memory's tokens,
    # and grows past the photo when new content enters (the camera moves 2 m sideways at 2 m depth)
    assert rgb.segments[0].memory_tokens > 32 * 48 > 16 * lat.segments[0].memory_tokens


def test_segment_times_add_up(pipe):
    out = _run(pipe, "rgb")
    for s in out.segments:
        parts = [s.read_seconds, s.denoise_seconds, s.decode_seconds, s.write_seconds]
        assert all(p >= 0 for p in parts) and s.denoise_seconds > 0
        assert abs(sum(parts) - s.seconds) < 1e-3


@pytest.mark.parametrize("kind", ["latent", "rgb"])
def test_segment_filter_keeps_masked_pixels_out(pipe, kind):
    """A filter that refuses every pixel (all sky): nothing generated is stored, only the photo's tokens stay."""
    calls = []

    def all_sky(frames):  # (T, H, W, 3) in [0, 1] -> (T, H, W) bool
        calls.append(tuple(frames.shape))
        assert frames.min() >= 0 and frames.max() <= 1
        return torch.zeros(frames.shape[:3], dtype=torch.bool)

    free = _run(pipe, kind)
    kept = _run(pipe, kind, segment_filter=all_sky)
    assert calls and all(c[1:] == (32, 48, 3) for c in calls)
    assert sum(c[0] for c in calls) == 20 // pipe.vae_scale_factor_temporal  # one frame per written latent frame
    photo_tokens = kept.segments[0].memory_tokens
    assert all(s.memory_tokens == photo_tokens for s in kept.segments)
    assert free.segments[-1].memory_tokens > photo_tokens  # without the filter new content is written


def test_state_callback_then_resume_gives_the_same_frames(pipe):
    snaps = []

    def save(st):  # the state holds live objects: copy at once, as a store on disk does
        snaps.append(type(st)(st.next_segment, st.first_latent.clone(), st.generator_state.clone(),
                              LatentSpatialMemory.from_state(st.memory.state_dict()), list(st.frames), None,
                              list(st.segments)))

    full = _run(pipe, "latent", state_callback=save)
    assert [s.next_segment for s in snaps] == [1, 2] and len(snaps[0].frames) == 17
    resumed = _run(pipe, "latent", resume=snaps[0])
    assert (resumed.frames == full.frames).all()
    assert resumed.memory.num_tokens == full.memory.num_tokens
    assert [s.frames for s in resumed.segments] == [s.frames for s in full.segments]
    other = _run(pipe, "latent", seed=2)
    assert not (other.frames[1:] == full.frames[1:]).all()  # the comparison can fail
