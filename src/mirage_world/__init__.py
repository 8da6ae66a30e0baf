"""mirage-world: camera-controlled video world models with latent spatial memory (Mirage, arXiv 2606.09828)."""

__version__ = "0.1.0"
