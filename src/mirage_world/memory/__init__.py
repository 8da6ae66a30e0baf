"""Latent spatial memory (pure torch, no diffusers import)."""

from .latent_memory import (
    SPLAT_MODES,
    STORAGE_DTYPES,
    LatentSpatialMemory,
    MemoryRead,
    check_cameras,
    deterministic_scatter_sum,
    pool_depth_to_grid,
    splat_read,
    splat_read_reference,
    zbuffer_read,
    zbuffer_read_reference,
    zbuffer_winners,
)
from .rgb_memory import RGBPointCloudMemory, encode_with_vae
from .serialization import load_memory, save_memory

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
