"""End-to-end cost per segment (issue 11): latent memory vs RGB point-cloud cache vs no memory, in one run.

Same as ``mirage bench e2e``: one generation per memory with the same generator and seed, timed per segment by the
pipeline (read / denoise / decode / write seconds, memory bytes after each segment), at two scales -- the embedded
model end to end (real denoising) and the Wan2.2-TI2V-5B geometry (1280x704, 48 channels, 16x / 4x) where the
denoiser is not run but each memory's read and write are the pipeline's own, the RGB cache encoding with the real
``AutoencoderKLWan`` architecture (random weights). Usage::

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/e2e.py --segments 3 --json docs/results/e2e.json \\
        --md docs/results/e2e.md [--scales embedded,wan2.2] [--embedded-segments 3] [--threads 1]

(``benchmarks/e2e_real.py`` is a different check: quality on a real photo.) See :mod:`mirage_world.bench`.
"""

from __future__ import annotations

import typer

from mirage_world.bench import e2e

if __name__ == "__main__":
    typer.run(e2e)
