"""The tiny model: zero-initialised widening leaves the backbone unchanged; save/load through from_pretrained."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from mirage_world.models.tiny import make_tiny_vae, memory_channels, widen_patch_embedding


def _small_transformer(in_ch=16):
    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=in_ch, out_channels=in_ch,
        text_dim=8, freq_dim=16, ffn_dim=32, num_layers=1, rope_max_seq_len=64,
    ).eval()


def test_widened_model_ignores_memory_channels_at_init():
    base = _small_transformer()
    wide = widen_patch_embedding(base, memory_channels(16)).eval()
    assert wide.config.in_channels == 33 and wide.config.out_channels == 16
    x = torch.randn(1, 16, 2, 4, 4)
    extra = torch.randn(1, 17, 2, 4, 4)
    t, ctx = torch.tensor([500.0]), torch.zeros(1, 1, 8)
    with torch.no_grad():
        y0 = base(x, t, ctx).sample
        y1 = wide(torch.cat([x, extra], 1), t, ctx).sample
        y2 = wide(torch.cat([x, torch.zeros_like(extra)], 1), t, ctx).sample
    assert torch.allclose(y0, y1, atol=1e-6) and torch.allclose(y1, y2, atol=1e-6)
    # and it is a real widening: non-zero extra weights would change the output
    with torch.no_grad():
        # random, not constant: a constant shift of every feature would be removed by the LayerNorm
        wide.patch_embedding.weight[:, 16:] = 0.1 * torch.randn_like(wide.patch_embedding.weight[:, 16:])
        y3 = wide(torch.cat([x, extra], 1), t, ctx).sample
    assert not torch.allclose(y3, y1, atol=1e-4)


def test_tiny_vae_geometry_and_reload(tmp_path):
    vae = make_tiny_vae(base_dim=8).eval()
    x = torch.rand(1, 3, 5, 32, 48) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mode()
    assert z.shape == (1, 16, 2, 4, 6)  # 4x temporal (1 + 4 frames -> 2), 8x spatial
    vae.save_pretrained(tmp_path)
    again = AutoencoderKLWan.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(again.encode(x).latent_dist.mode(), z)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
