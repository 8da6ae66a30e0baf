"""Latent spatial memory (pure torch, no diffusers import)."""

from .latent_memory import STORAGE_DTYPES, LatentSpatialMemory, pool_depth_to_grid
from .rgb_memory import RGBPointCloudMemory, encode_with_vae
from .serialization import read_memory_state, write_memory_state
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
    "read_memory_state",
    "pool_depth_to_grid",
    "write_memory_state",
    "splat_read",
    "splat_read_reference",
    "zbuffer_read",
    "zbuffer_read_reference",
    "zbuffer_winners",
]
