"""RGBPointCloudMemory: full-resolution render + VAE encode behind the latent memory's read interface."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from mirage_world.geometry.camera import rescale_intrinsics
from mirage_world.memory import LatentSpatialMemory
from mirage_world.memory.rgb_memory import RGBPointCloudMemory


class PoolVAE:
    """A stand-in with a diffusers-like encode: (B, 3, 1, H, W) -> latent_dist.mode() = 4x4 average pool."""

    def __init__(self, f=4):
        self.f = f
        self.calls = 0

    def encode(self, x):
        self.calls += 1
        z = F.avg_pool2d(x[:, :, 0], self.f)[:, :, None]
        return SimpleNamespace(latent_dist=SimpleNamespace(mode=lambda: z))


def _K(h, w, f):
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def test_render_and_read_at_the_written_camera():
    H, W, f = 16, 24, 4
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (3, H, W), generator=g, dtype=torch.uint8)
    depth = torch.full((H, W), 2.0)
    depth[0, 0] = 0  # no point there
    K = _K(H, W, 20.0)
    mem = RGBPointCloudMemory(PoolVAE(f), scale_factor_spatial=f)
    assert mem.write(rgb, depth, K, torch.eye(4)) == H * W - 1
    assert mem.nbytes == (H * W - 1) * 15
    r = mem.render(K, torch.eye(4), (H, W))
    assert torch.equal((r.latent[0] * 255).round().to(torch.uint8)[:, 1:, 1:], rgb[:, 1:, 1:])
    assert r.mask[0, 0, 0, 0] == 0 and r.mask.sum() == H * W - 1
    K_lat = rescale_intrinsics(K, (H, W), (H // f, W // f))
    lr = mem.read(K_lat, torch.eye(4), (H // f, W // f))
    want = F.avg_pool2d(r.latent * 2 - 1, f)
    assert lr.latent.shape == (1, 3, H // f, W // f)
    torch.testing.assert_close(lr.latent, want)
    assert torch.equal(lr.mask, torch.ones(1, 1, H // f, W // f))
    torch.testing.assert_close(lr.depth, torch.full((1, H // f, W // f), 2.0))


def test_same_read_interface_as_latent_memory():
    H, W, f = 8, 8, 4
    K = _K(H, W, 8.0)
    K_lat = rescale_intrinsics(K, (H, W), (2, 2))
    rgb_mem = RGBPointCloudMemory(PoolVAE(f), scale_factor_spatial=f)
    rgb_mem.write(torch.rand(3, H, W), torch.full((H, W), 3.0), K, torch.eye(4))
    lat_mem = LatentSpatialMemory(3)
    lat_mem.write(torch.rand(3, 2, 2), torch.full((2, 2), 3.0), K_lat, torch.eye(4))
    for m in (rgb_mem, lat_mem):
        r = m.read(K_lat[None].repeat(2, 1, 1), torch.eye(4)[None].repeat(2, 1, 1), (2, 2))
        assert r.latent.shape == (2, 3, 2, 2) and r.mask.shape == (2, 1, 2, 2) and r.depth.shape == (2, 2, 2)
        assert m.num_tokens > 0 and m.nbytes > 0


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(depth=torch.full((8, 8), float("nan"))), "finite"),
        (dict(rgb=torch.full((3, 8, 8), 2.0)), r"\[0, 1\]"),
        (dict(rgb=torch.rand(4, 8, 8)), "rgb must be"),
        (dict(K=torch.zeros(3, 3)), "focal"),
    ],
)
def test_rgb_write_rejects_bad_input(kw, match):
    args = dict(rgb=torch.rand(3, 8, 8), depth=torch.ones(8, 8), K=_K(8, 8, 8.0), c2w=torch.eye(4))
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        RGBPointCloudMemory(PoolVAE()).write(**args)


def test_read_without_vae_is_refused():
    with pytest.raises(ValueError, match="needs a VAE"):
        RGBPointCloudMemory().read(_K(2, 2, 2.0), torch.eye(4), (2, 2))
