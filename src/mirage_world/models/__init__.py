"""Diffusers side: the embedded model's VAE (TAEF2) and denoiser (a tiny Wan DiT with memory input channels)."""

from .taef2 import AutoencoderTAEF2, load_taef2_state_dicts
from .tiny import make_tiny_transformer, make_tiny_vae, memory_channels, widen_patch_embedding

__all__ = ["AutoencoderTAEF2", "load_taef2_state_dicts", "make_tiny_transformer", "make_tiny_vae", "memory_channels",
           "widen_patch_embedding"]
