"""``mirage eval closed-loop`` as a script (same options), for a checkout without the console script installed.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/closed_loop.py --out docs/results [--clips 12 --frames 33 --size 128x96 --steps 10]

See :mod:`mirage_world.eval.closed_loop`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import typer  # noqa: E402

from mirage_world.eval.closed_loop import closed_loop  # noqa: E402

if __name__ == "__main__":
    typer.run(closed_loop)
