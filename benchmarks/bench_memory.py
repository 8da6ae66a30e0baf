"""Latent memory vs RGB point-cloud baseline (issue 3): read / bytes / flat / gather ratios at the Wan2.2 geometry.

Same as ``mirage bench memory``. Usage::

    nice -n 19 env OMP_NUM_THREADS=1 python benchmarks/bench_memory.py --json out/bench_memory.json
        [--vae wan2.2|none] [--encode-views 1] [--views 4] [--segments 100] [--repeats 15] [--threads 1]

See :mod:`mirage_world.bench` for what each ratio measures.
"""

from __future__ import annotations

import sys

from mirage_world.bench import app

if __name__ == "__main__":
    # through the `mirage bench` group, so bad options end with the same one-line `error:` and exit 2
    app(["memory", *sys.argv[1:]], prog_name="bench_memory.py")
