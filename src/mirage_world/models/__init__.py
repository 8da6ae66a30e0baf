"""Diffusers / transformers side: the embedded model's VAE (TAEF2) and denoiser (a tiny Wan DiT with memory input
channels), Wan2.2-TI2V-5B facts and its tiny random twin, the memory adapter (channels + LoRA), and the depth and
segmentation backends (transformers is imported inside their functions)."""

from .adapter import add_memory_adapter, is_adapter_folder, load_adapter, save_adapter
from .depth import DepthEstimator, ModelNotFoundError, estimate_depth
from .segmentation import SemanticFilter
from .taef2 import AutoencoderTAEF2, load_taef2_state_dicts
from .tiny import make_tiny_transformer, make_tiny_vae, memory_channels, widen_patch_embedding
from .wan import estimate_peak_memory, resolve_pretrained, save_tiny_wan22

__all__ = ["AutoencoderTAEF2", "DepthEstimator", "ModelNotFoundError", "SemanticFilter", "add_memory_adapter",
           "estimate_depth", "estimate_peak_memory", "is_adapter_folder", "load_adapter", "load_taef2_state_dicts",
           "make_tiny_transformer", "make_tiny_vae", "memory_channels", "resolve_pretrained", "save_adapter",
           "save_tiny_wan22", "widen_patch_embedding"]
