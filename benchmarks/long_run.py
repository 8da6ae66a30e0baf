"""``mirage eval long-run`` as a script (same options), for a checkout without the console script installed.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/long_run.py --out docs/results [--segments 100 --size 128x96 --steps 10] [--resume]

See :mod:`mirage_world.eval.long_run`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import typer  # noqa: E402

from mirage_world.eval.long_run import long_run  # noqa: E402

if __name__ == "__main__":
    typer.run(long_run)
