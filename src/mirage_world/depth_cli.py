"""``mirage depth``: depth of one photo in metres from a Depth Anything V2 checkpoint (a typer command).

``mirage depth IMG --out D.npy [--model indoor|outdoor|relative|ID|FOLDER] [--median-depth M] [--png16 D.png
--png-scale 1000]`` writes ``(H, W)`` float32 z-depth in metres (``0`` = invalid) at the photo's size and
orientation (EXIF applied, as :func:`mirage_world.io.load_image` reads it), ready for ``mirage generate --depth``.
See :mod:`mirage_world.models.depth` for the checkpoints and how relative depth is aligned to ``--median-depth``.

Registered in the main CLI with ``app.command("depth")(depth_cli.depth)``; it also runs on its own:
``python -m mirage_world.depth_cli depth photo.jpg --out photo_depth.npy``.

The boundary, as for ``mirage generate``: every option, the photo and the writability of the outputs are checked,
and the checkpoint's config read (to know whether it needs ``--median-depth``), before the weights load; errors end
with one ``error: ...`` line and exit code 2; the outputs appear together at the end or not at all. Like
``mirage generate``, the command runs offline (``HF_HUB_OFFLINE=1`` unless set): download the weights first with
``hf download ID`` (the error says which).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Optional

import typer

from .errors import InputError, cli_group_class, fail

__all__ = ["app", "depth", "MIN_PHOTO_SIDE", "MAX_MEDIAN_DEPTH", "MAX_PNG_SCALE", "MAX_THREADS"]

app = typer.Typer(cls=cli_group_class(), add_completion=False, no_args_is_help=True,
                  help="Depth of a photo in metres from a Depth Anything V2 checkpoint.")

MIN_PHOTO_SIDE = 16  #: the photo's smallest side in pixels (as for ``mirage generate``)
MAX_MEDIAN_DEPTH = 1e4  #: --median-depth, metres
MAX_PNG_SCALE = 1e6  #: --png-scale, units per metre
MAX_THREADS = 1024  #: --threads


@app.callback()
def _root() -> None:
    """Depth of a photo in metres from a Depth Anything V2 checkpoint."""
    # a callback keeps ``depth`` a named sub-command when this app runs on its own, as in ``mirage depth``


def depth(
    image: Path = typer.Argument(..., help="The photo (PNG/JPEG/PPM...): 8-bit colour or grey, at least 16x16, at most 16384 pixels per side and 64 megapixels."),
    out: Path = typer.Option(..., "--out", help="Depth map .npy: (H, W) float32 metres at the photo's size, 0 = invalid."),
    model: str = typer.Option("indoor", "--model", help="'indoor' (Depth-Anything-V2-Metric-Indoor-Small, 0-20 m), 'outdoor' (Metric-Outdoor-Small, 0-80 m), 'relative' (Depth-Anything-V2-Small, needs --median-depth), a Hugging Face id or a local folder."),
    median_depth: Optional[float] = typer.Option(None, "--median-depth", help=f"Metres, 0 < M <= {MAX_MEDIAN_DEPTH:g}: the photo's median depth. Required for relative models (depth = s / disparity, s set so the median is M: approximate); with a metric model, rescales its output."),
    png16: Optional[Path] = typer.Option(None, "--png16", help="Also write a 16-bit PNG: round(metres x --png-scale), 0 = invalid, clipped at 65535."),
    png_scale: Optional[float] = typer.Option(None, "--png-scale", help=f"PNG units per metre, 0 < S <= {MAX_PNG_SCALE:g} (default 1000: millimetres, max 65.5 m); read it back with --depth-scale S."),
    device: str = typer.Option("auto", "--device", help="'auto' (CUDA if available, else CPU), 'cpu', 'cuda', 'cuda:1', ..."),
    threads: Optional[int] = typer.Option(None, "--threads", help=f"CPU threads for torch, 1..{MAX_THREADS} (default: torch's choice)."),
) -> None:
    """Estimate the depth of one photo in metres (Depth Anything V2) and write it as .npy (and a 16-bit PNG)."""
    try:
        _depth(image, out, model, median_depth, png16, png_scale, device, threads)
    except (InputError, FileNotFoundError) as e:
        fail(str(e))


app.command("depth")(depth)


def _check_options(out: Path, median_depth, png16, png_scale, device: str, threads):
    from .io import check_output_path

    if out.suffix.lower() != ".npy":
        raise InputError(f"--out must end in .npy, got {out}")
    if png16 is not None and png16.suffix.lower() != ".png":
        raise InputError(f"--png16 must end in .png, got {png16}")
    if png_scale is not None and png16 is None:
        raise InputError("--png-scale needs --png16 (the PNG it scales)")
    scale = 1000.0 if png_scale is None else png_scale
    if not (math.isfinite(scale) and 0 < scale <= MAX_PNG_SCALE):
        raise InputError(f"--png-scale must be in (0, {MAX_PNG_SCALE:g}] units per metre, got {png_scale}")
    if median_depth is not None and not (math.isfinite(median_depth) and 0 < median_depth <= MAX_MEDIAN_DEPTH):
        raise InputError(f"--median-depth must be in (0, {MAX_MEDIAN_DEPTH:g}] metres, got {median_depth}")
    if threads is not None and not (1 <= threads <= MAX_THREADS):
        raise InputError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")
    dev = device.strip().lower()
    if not (dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise InputError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    check_output_path(out, "--out")
    if png16 is not None:
        check_output_path(png16, "--png16")
        if png16.resolve() == out.resolve():
            raise InputError(f"--png16 and --out are the same file: {out}")
    return scale, dev


def _depth(image, out, model, median_depth, png16, png_scale, device, threads):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # as mirage generate: weights come from the cache or a folder

    # ---------------------------------------------------------------- 1. options, outputs, photo (nothing loaded)
    scale, dev = _check_options(out, median_depth, png16, png_scale, device, threads)
    import numpy as np
    import torch

    from .io import OutputSet, load_image

    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")
    img = load_image(image, min_side=MIN_PHOTO_SIDE, allow_depth_like=False)

    # ---------------------------------------------------------------- 2. the checkpoint's config (no weights)
    from .models.depth import DepthEstimator, depth_model_info

    info = depth_model_info(model)
    if info.kind == "relative" and median_depth is None:
        raise InputError(f"--model {model} predicts relative depth (up to scale): give --median-depth M (the photo's "
                         "median depth in metres), or use a metric model: --model indoor / outdoor")

    # ---------------------------------------------------------------- 3. the model
    if threads is not None:
        torch.set_num_threads(threads)
    from transformers.utils import logging as hf_logging

    t0 = time.perf_counter()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # transformers' "Loading weights" bar: one summary line is printed instead
    try:
        est = DepthEstimator(model, device=dev)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    dep = est(img, median_depth=median_depth)  # (H, W) float32 metres
    seconds = time.perf_counter() - t0

    # ---------------------------------------------------------------- 4. outputs: temporary names, renamed together
    import cv2

    clipped = 0
    with OutputSet() as outputs:
        try:
            with open(outputs.temp_path(out), "wb") as f:  # a file object: np.save would append .npy to .NPY
                np.save(f, dep)
            if png16 is not None:
                raw = np.round(dep.astype(np.float64) * scale)
                clipped = int((raw > 65535).sum())
                ok, buf = cv2.imencode(".png", np.clip(raw, 0, 65535).astype(np.uint16))
                if not ok:
                    raise OSError("OpenCV could not encode the PNG")
                outputs.temp_path(png16).write_bytes(buf.tobytes())
        except OSError as e:
            raise InputError(f"cannot write the outputs of {out}: {type(e).__name__}: {e}") from None
        written = [str(p) for p in outputs.finals]
        outputs.commit()
    valid = dep[dep > 0]
    stats = (f"{valid.min():.3g}..{valid.max():.3g} m, median {np.median(valid):.3g} m" if valid.size
             else "no valid pixel")
    note = f"; {clipped} pixels beyond {65535 / scale:.4g} m clipped in the PNG" if clipped else ""
    typer.echo(f"wrote {', '.join(written)} ({dep.shape[1]}x{dep.shape[0]}, {info.kind} depth {stats}, "
               f"{(dep > 0).mean() * 100:.1f} % valid; {info.source} on {est.device}, {seconds:.1f} s{note})")


def main() -> None:
    """``python -m mirage_world.depth_cli``."""
    app()


if __name__ == "__main__":
    main()
