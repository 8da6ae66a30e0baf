"""``mirage bench``: benchmarks (not timed tests). ``mirage bench memory --json OUT.json``.

The memory benchmark measures, in one run on the current machine, at the Wan2.2-TI2V-5B geometry (1280x704 frames,
16x spatial / 4x temporal compression, 48 latent channels):

* ``read_ratio``: time of an RGB point-cloud read (z-buffered render of the full-resolution cloud at every camera +
  VAE encode of the renders with the real ``AutoencoderKLWan`` architecture of Wan2.2, random weights) / time of a
  latent memory read at the same cameras, both memories holding the same video frames. A full-size encode takes a
  minute on a laptop-class CPU, so ``--encode-views`` (default 1) views are encoded and the encode time is scaled
  to all views (linear in the number of one-frame encodes); the JSON says how.
* ``bytes_ratio_fp16`` / ``bytes_ratio_int8``: RGB cloud bytes (float32 xyz + uint8 RGB per pixel of every video
  frame) / latent cache bytes (one token per latent pixel of every latent frame, ``nbytes`` exactly) for the same
  video frames (one segment: ``1 + 4 k`` frames -> ``1 + k`` latent frames). ``*_per_stored_frame`` compares one
  stored frame of each, without the temporal compression.
* ``flat_ratio``: latent read time after 100 written segments of a closed-loop camera path / after 10 (voxel
  fusion on, float16 storage); the loop closes after ``--loop`` segments. The memory after 10 segments is kept and
  the two are read alternately, so both are timed in the same cache state.
* ``gather_ratio``: latent read time / a plain gather of the same bytes (every token's position -- what a read
  without a spatial index touches once -- plus the winning latent rows it outputs), the two timed alternately so
  that both start from the same cache state. ``gather_ratio_hot_loop`` (info) times the gather alone in a tight
  loop, where its 2 MB stay in cache: a lower bound no read that touches ~10 MB reaches on a CPU.

The scene is an analytic box room (exact depth); latents are random (content does not change the cost).

``mirage bench e2e --json OUT.json --md OUT.md`` (issue 11): one generation of N segments with each memory of the
pipeline (``latent`` / ``rgb`` / ``none``, :mod:`mirage_world.pipelines.memory_backends`), the same generator and
seed, timed per segment by the pipeline itself (``SegmentInfo``: read / denoise / decode / write seconds, memory
bytes after the segment), at two scales in one run:

* ``embedded``: the bundled model end to end at its size (256x192 for the bundled photo), real denoising;
* ``wan2.2``: the Wan2.2-TI2V-5B geometry (1280x704, 48 channels, 16x / 4x, 16-frame segments = 5 latent frames
  per read) where the denoiser is NOT run (no weights; denoise / decode are stand-ins, not reported) but the
  pipeline's own loop calls each memory's read and write, the RGB cache encoding its full-resolution renders with
  a random-init ``AutoencoderKLWan`` of the Wan2.2 architecture (:func:`make_wan22_vae`).

Ratios RGB / latent are computed from the per-segment medians of the same run (:func:`e2e_ratios`); the goal is a
Wan2.2-geometry ``read_write_ratio >= 10``.

Layout: :mod:`~mirage_world.bench.common` (scene, camera paths, timing, shared option limits),
:mod:`~mirage_world.bench.memory_bench` (``mirage bench memory``) and :mod:`~mirage_world.bench.e2e_bench`
(``mirage bench e2e``); this package holds the typer ``app`` and re-exports their public names. The commands look
their runners up in their own module, so a test that replaces a runner patches it there
(``memory_bench.run_memory_benchmark``, ``e2e_bench.run_e2e_benchmark``).
"""

from __future__ import annotations

import typer

from mirage_world.errors import cli_group_class

from . import e2e_bench, memory_bench
from .common import (
    MAX_LOOP,
    MAX_RENDER_PIXELS,
    MAX_REPEATS,
    MAX_SIDE,
    MAX_THREADS,
    WAN22_VAE,
    box_depth,
    interleaved_median_times,
    loop_pose,
    median_time,
    yaw_pose,
)
from .e2e_bench import (
    E2E_GOAL,
    E2E_KINDS,
    E2E_SCALES,
    EMBEDDED_MODEL,
    EXAMPLES,
    MAX_E2E_SEGMENTS,
    check_e2e_options,
    e2e,
    e2e_ratios,
    format_e2e_markdown,
    format_e2e_text,
    make_wan22_vae,
    run_e2e_benchmark,
    run_e2e_embedded,
    run_e2e_geometry,
)
from .memory_bench import (
    GOALS,
    MAX_CHANNELS,
    MAX_FACTOR,
    MAX_LATENT_VALUES,
    MAX_SEGMENTS,
    MAX_VIEWS,
    check_memory_options,
    format_table,
    memory,
    run_memory_benchmark,
)

__all__ = [
    "app",
    # common
    "MAX_LOOP", "MAX_RENDER_PIXELS", "MAX_REPEATS", "MAX_SIDE", "MAX_THREADS", "WAN22_VAE", "box_depth",
    "interleaved_median_times", "loop_pose", "median_time", "yaw_pose",
    # mirage bench memory
    "GOALS", "MAX_CHANNELS", "MAX_FACTOR", "MAX_LATENT_VALUES", "MAX_SEGMENTS", "MAX_VIEWS", "check_memory_options",
    "format_table", "memory", "run_memory_benchmark",
    # mirage bench e2e
    "E2E_GOAL", "E2E_KINDS", "E2E_SCALES", "EMBEDDED_MODEL", "EXAMPLES", "MAX_E2E_SEGMENTS", "check_e2e_options", "e2e",
    "e2e_ratios", "format_e2e_markdown", "format_e2e_text", "make_wan22_vae", "run_e2e_benchmark", "run_e2e_embedded",
    "run_e2e_geometry",
]

app = typer.Typer(cls=cli_group_class(), add_completion=False, no_args_is_help=True, help="Benchmarks (not tests).")


@app.callback()
def _root() -> None:
    """Benchmarks (not tests)."""


app.command("memory")(memory_bench.memory)
app.command("e2e")(e2e_bench.e2e)
