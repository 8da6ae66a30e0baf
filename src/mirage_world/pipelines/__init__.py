"""Diffusers side: the Mirage pipeline and its memory conditioning / guidance."""

from .conditioning import GUIDANCE_MODES, denoiser_input, fill_cracks, guide, neighbour_fill, per_token_timesteps
from .pipeline_mirage import MemoryConfig, MiragePipeline, MiragePipelineOutput, SegmentInfo, read_memory

__all__ = ["GUIDANCE_MODES", "MemoryConfig", "MiragePipeline", "MiragePipelineOutput", "SegmentInfo", "denoiser_input",
           "fill_cracks", "guide", "neighbour_fill", "per_token_timesteps", "read_memory"]
