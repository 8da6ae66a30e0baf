"""Latent spatial memory (pure torch, no diffusers import)."""

from .latent_memory import LatentSpatialMemory, MemoryRead, pool_depth_to_grid, zbuffer_read, zbuffer_read_reference

__all__ = ["LatentSpatialMemory", "MemoryRead", "pool_depth_to_grid", "zbuffer_read", "zbuffer_read_reference"]
