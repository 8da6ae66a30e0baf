"""The embedded tiny model's denoiser (a small Wan DiT) and a micro Wan video VAE, built from diffusers classes.

The denoiser follows the architecture of Wan's DiT (``WanTransformer3DModel``) at a size that trains and runs on a
laptop CPU; the embedded model pairs it with TAEF2 (:mod:`mirage_world.models.taef2`, 32 latent channels). Its
input is widened, the Mirage way (paper Sec. 3.3, "memory-conditioned denoiser"), from the ``C`` noisy-latent
channels to ``C + C + 1``: ``[noisy latent, warped memory latent, coverage mask]``, the extra input channels
zero-initialised so a pretrained backbone starts out unchanged. :func:`make_tiny_vae` builds a small
``AutoencoderKLWan`` (8x spatial, 4x temporal), used by tests of a temporally compressing VAE.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

__all__ = [
    "TINY_VAE_CONFIG",
    "TINY_TRANSFORMER_CONFIG",
    "make_tiny_vae",
    "make_tiny_transformer",
    "widen_patch_embedding",
    "memory_channels",
]

#: Tiny VAE: Wan2.1 VAE layout (8x spatial via 3 downsamples, 4x temporal, z_dim 16) with 1/3 of the width.
TINY_VAE_CONFIG: dict = dict(
    base_dim=32,
    z_dim=16,
    dim_mult=[1, 2, 4, 4],
    num_res_blocks=1,
    attn_scales=[],
    temperal_downsample=[False, True, True],
    latents_mean=[0.0] * 16,
    latents_std=[1.0] * 16,
)

#: Tiny denoiser: 6 Wan DiT blocks of width 128 (4 heads x 32), patch (1, 2, 2), 16-d dummy text context.
TINY_TRANSFORMER_CONFIG: dict = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=4,
    attention_head_dim=32,
    in_channels=16,
    out_channels=16,
    text_dim=16,
    freq_dim=64,
    ffn_dim=512,
    num_layers=6,
    rope_max_seq_len=256,
)


def memory_channels(latent_channels: int) -> int:
    """Number of extra denoiser input channels for memory conditioning: warped latent (C) + coverage mask (1)."""
    return latent_channels + 1


def make_tiny_vae(**overrides) -> AutoencoderKLWan:
    """Random-init tiny ``AutoencoderKLWan`` (see :data:`TINY_VAE_CONFIG`)."""
    return AutoencoderKLWan(**{**TINY_VAE_CONFIG, **overrides})


def widen_patch_embedding(transformer: WanTransformer3DModel, extra_channels: int) -> WanTransformer3DModel:
    """Return a copy of ``transformer`` whose input takes ``extra_channels`` more channels, zero-initialised.

    The new channels are appended after the original ones, so ``hidden_states = cat([x, extra], dim=1)`` with
    ``x`` ``(B, C, T, h, w)`` and ``extra`` ``(B, extra_channels, T, h, w)``. With zero weights on the extra
    channels the widened model's output equals the original's for any ``extra`` (tested), which is how Mirage
    adds memory conditioning to a pretrained Wan backbone without disturbing it.

    Args:
        transformer: a ``WanTransformer3DModel`` with ``in_channels = C``.
        extra_channels: number of channels to add (``> 0``).

    Raises:
        ValueError: if ``extra_channels <= 0``.
    """
    if extra_channels <= 0:
        raise ValueError(f"extra_channels must be > 0, got {extra_channels}")
    cfg = dict(transformer.config)
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    old = transformer.patch_embedding
    cfg["in_channels"] = old.in_channels + extra_channels
    cfg["out_channels"] = transformer.config.out_channels or old.in_channels
    wide = WanTransformer3DModel(**cfg).to(dtype=old.weight.dtype, device=old.weight.device)
    state = transformer.state_dict()
    w = state.pop("patch_embedding.weight")  # (D, C, pt, ph, pw)
    zeros = torch.zeros(w.shape[0], extra_channels, *w.shape[2:], dtype=w.dtype, device=w.device)
    state["patch_embedding.weight"] = torch.cat([w, zeros], dim=1)
    wide.load_state_dict(state)
    return wide


def make_tiny_transformer(latent_channels: int = 32, **overrides) -> WanTransformer3DModel:
    """Random-init tiny memory-conditioned denoiser: a Wan DiT widened by :func:`widen_patch_embedding`."""
    cfg = {**TINY_TRANSFORMER_CONFIG, "in_channels": latent_channels, "out_channels": latent_channels, **overrides}
    base = WanTransformer3DModel(**cfg)
    return widen_patch_embedding(base, memory_channels(latent_channels))
