"""Where the bundled model and examples are, and the sampling defaults of ``mirage generate`` (no heavy imports:
the CLIs read these when they build their options)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGE_DIR", "DEFAULT_MODEL", "EXAMPLES_DIR", "DEFAULT_STEPS", "DEFAULT_GUIDANCE_END",
           "DEFAULT_START_SIGMA", "MAX_SIDE", "MAX_FRAMES", "MAX_STEPS", "MAX_THREADS", "MAX_FPS", "MAX_SEED",
           "MAX_TRAJECTORY_SCALE"]

PACKAGE_DIR = Path(__file__).resolve().parent
#: The embedded tiny model (TAEF2 + a trained tiny Wan DiT with memory channels), a diffusers pipeline folder.
DEFAULT_MODEL = PACKAGE_DIR / "weights" / "mirage-tiny"
#: Bundled examples (``mirage generate --example NAME``), one folder each with an ``example.json``.
EXAMPLES_DIR = PACKAGE_DIR / "examples"
DEFAULT_STEPS = 10  #: denoising steps per segment
DEFAULT_GUIDANCE_END = 0.0  #: memory guidance holds covered tokens down to sigma 0
DEFAULT_START_SIGMA = 1.0  #: segments start from pure noise

# Limits of the commands' options (documented in their help).
MAX_SIDE = 4096  #: --size: pixels per side
MAX_FRAMES = 2049  #: --frames: 1 + 128 segments of 16 frames
MAX_STEPS = 1000  #: --steps
MAX_THREADS = 1024  #: --threads
MAX_FPS = 1000.0  #: --fps
MAX_SEED = 2**64 - 1  #: --seed (torch generators take 64 bits)
MAX_TRAJECTORY_SCALE = 1e6  #: --trajectory-scale
