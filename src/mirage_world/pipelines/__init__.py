"""Diffusers side: the Mirage pipeline, its memory steps and backends, and its conditioning / guidance."""

from .conditioning import GUIDANCE_MODES, denoiser_input, fill_cracks, guide, neighbour_fill, per_token_timesteps
from .memory_backends import (
    MEMORY_KINDS,
    LatentMemoryBackend,
    MemoryBackend,
    NoMemoryBackend,
    PhotoContext,
    RGBMemoryBackend,
    SegmentWrite,
    make_backend,
)
from .memory_io import MemoryConfig, build_photo_memory, empty_read, read_memory, write_generated
from .pipeline_mirage import GenerationState, MiragePipeline, MiragePipelineOutput, SegmentInfo

__all__ = ["GUIDANCE_MODES", "MEMORY_KINDS", "GenerationState", "LatentMemoryBackend", "MemoryBackend",
           "MemoryConfig", "MiragePipeline", "MiragePipelineOutput", "NoMemoryBackend", "PhotoContext",
           "RGBMemoryBackend", "SegmentInfo", "SegmentWrite", "build_photo_memory", "denoiser_input", "empty_read",
           "fill_cracks", "guide", "make_backend", "neighbour_fill", "per_token_timesteps", "read_memory",
           "write_generated"]
