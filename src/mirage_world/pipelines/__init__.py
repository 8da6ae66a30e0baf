"""Diffusers side: the Mirage pipeline."""

from .pipeline_mirage import MemoryConfig, MiragePipeline, MiragePipelineOutput, SegmentInfo

__all__ = ["MemoryConfig", "MiragePipeline", "MiragePipelineOutput", "SegmentInfo"]
