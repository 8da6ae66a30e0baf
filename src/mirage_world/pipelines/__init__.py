"""Diffusers side: the Mirage pipeline."""

from .pipeline_mirage import MiragePipeline, MiragePipelineOutput, SegmentInfo

__all__ = ["MiragePipeline", "MiragePipelineOutput", "SegmentInfo"]
