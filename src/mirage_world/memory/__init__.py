"""Latent spatial memory (pure torch, no diffusers import)."""

from .latent_memory import STORAGE_DTYPES, LatentSpatialMemory, pool_depth_to_grid
from .rgb_memory import RGBPointCloudMemory, encode_with_vae
from .serialization import load_memory, save_memory
from .splat import (
    SPLAT_MODES,
    MemoryRead,
    check_cameras,
    deterministic_scatter_sum,
    splat_read,
    splat_read_reference,
    zbuffer_read,
    zbuffer_read_reference,
    zbuffer_winners,
)

__all__ = [
    "LatentSpatialMemory",
    "MemoryRead",
    "RGBPointCloudMemory",
    "SPLAT_MODES",
    "STORAGE_DTYPES",
    "check_cameras",
    "deterministic_scatter_sum",
    "encode_with_vae",
    "load_memory",
    "pool_depth_to_grid",
    "save_memory",
    "splat_read",
    "splat_read_reference",
    "zbuffer_read",
    "zbuffer_read_reference",
    "zbuffer_winners",
]
