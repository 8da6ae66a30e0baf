"""mirage-world: camera-controlled video world models with latent spatial memory (Mirage, arXiv 2606.09828)."""

__version__ = "0.1.0"

__all__ = ["AutoencoderTAEF2", "MiragePipeline"]


def __getattr__(name):
    # Lazy: ``import mirage_world`` stays free of diffusers; diffusers finds the pipeline's components here when it
    # loads a saved pipeline (model_index.json names them as ``["mirage_world", "AutoencoderTAEF2"]``).
    if name == "AutoencoderTAEF2":
        from .models.taef2 import AutoencoderTAEF2

        return AutoencoderTAEF2
    if name == "MiragePipeline":
        from .pipelines import MiragePipeline

        return MiragePipeline
    raise AttributeError(f"module 'mirage_world' has no attribute {name!r}")
