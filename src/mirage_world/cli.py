"""The ``mirage`` command line.

``mirage generate`` turns one photo + its depth + a camera path into a video through the latent spatial memory
(see :class:`mirage_world.pipelines.MiragePipeline`). Bad input ends with ``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Optional

import typer

from .errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Camera-controlled video world model with latent spatial memory (Mirage).")

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = PACKAGE_DIR / "weights" / "mirage-tiny"
EXAMPLES_DIR = PACKAGE_DIR / "examples"
DEFAULT_STEPS = 10
DEFAULT_GUIDANCE_END = 0.0
DEFAULT_START_SIGMA = 1.0


@app.callback()
def _root() -> None:
    """Camera-controlled video world model with latent spatial memory (Mirage)."""
    # A callback makes ``app`` a command group, so the command is ``mirage generate ...`` (Typer collapses an app
    # with a single command and no callback into ``mirage ...`` and rejects ``generate`` as an extra argument).


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code=2)


def _parse_size(size: str | None, width: int, height: int, multiple: int, long_side: int = 256) -> tuple[int, int]:
    """Output ``(W, H)``: ``--size WxH`` if given, else the photo's aspect with the long side ``long_side``."""
    from .pipelines.pipeline_mirage import default_size

    if size:
        try:
            w, h = (int(v) for v in size.lower().split("x"))
        except ValueError:
            raise InputError(f"--size must look like 256x192, got {size!r}") from None
        if w <= 0 or h <= 0 or w % multiple or h % multiple:
            raise InputError(f"--size {size} must be positive multiples of {multiple}")
        return w, h
    return default_size(width, height, multiple, long_side)


def _parse_intrinsics(text: str | None, fov: float, width: int, height: int):
    import torch

    from .io import default_intrinsics

    if text is None:
        return default_intrinsics(width, height, fov)
    try:
        fx, fy, cx, cy = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise InputError(f"--intrinsics must be 'fx,fy,cx,cy' in pixels, got {text!r}") from None
    if not all(map(lambda v: v == v and abs(v) != float("inf"), (fx, fy, cx, cy))) or fx <= 0 or fy <= 0:
        raise InputError(f"--intrinsics needs finite values and positive focal lengths, got {text!r}")
    return torch.tensor([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=torch.float64)


def _side_by_side(memory_frames, frames):
    import cv2
    import numpy as np

    left = (memory_frames * 255).round().astype(np.uint8)
    right = (frames * 255).round().astype(np.uint8)
    out = np.concatenate([left, right], axis=2).copy()
    for f in out:
        cv2.putText(f, "memory read", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.putText(f, "generated", (left.shape[2] + 4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Output video (.mp4); OUT.json is written beside it."),
    image: Optional[Path] = typer.Option(None, "--image", help="The photo (PNG/JPEG/PPM...)."),
    depth: Optional[Path] = typer.Option(None, "--depth", help="Its depth: 16-bit PNG (see --depth-scale) or .npy in metres; 0 = invalid."),
    depth_scale: Optional[float] = typer.Option(None, "--depth-scale", help="PNG depth units per metre (TUM: 5000, most Kinect data: 1000; default 1000, or the example's)."),
    intrinsics: Optional[str] = typer.Option(None, "--intrinsics", help="fx,fy,cx,cy in pixels of the photo (default: --fov)."),
    fov: float = typer.Option(60.0, "--fov", help="Horizontal field of view in degrees, used when --intrinsics is not given."),
    trajectory: str = typer.Option("orbit_left", "--trajectory", help="Preset name, RealEstate10K .txt or (N,4,4) c2w .npy."),
    trajectory_scale: Optional[float] = typer.Option(None, "--trajectory-scale", help="Multiply the path's translations by this instead of the automatic rule."),
    frames: int = typer.Option(49, "--frames", min=1, help="Number of frames to generate (the photo is frame 0)."),
    size: Optional[str] = typer.Option(None, "--size", help="Output WxH (multiples of 16); default: photo aspect, long side 256."),
    steps: int = typer.Option(DEFAULT_STEPS, "--steps", min=1, help="Denoising steps per segment (before --start-sigma skips the noisiest)."),
    guidance: str = typer.Option("replace", "--guidance", help="Memory-guided sampling: 'replace' (covered tokens follow the memory read, noised to each step's level, until --guidance-end: what the memory shows stays put) or 'none' (the denoiser sees the memory only through its input channels; freer, drifts)."),
    guidance_end: float = typer.Option(DEFAULT_GUIDANCE_END, "--guidance-end", help="Noise level (sigma, 0..1) where guidance stops and the model runs free: 0 keeps exactly what the memory shows; higher blends seams but lets the model repaint remembered content."),
    start_sigma: float = typer.Option(DEFAULT_START_SIGMA, "--start-sigma", help="Start each segment at this noise level from the memory read with holes filled by the nearest covered token (1: from pure noise). Lower keeps the layout, costs fewer steps, invents less."),
    memory: str = typer.Option("on", "--memory", help="'off': no memory read, guidance or write-back (a baseline without memory)."),
    seed: int = typer.Option(0, "--seed"),
    fps: float = typer.Option(16.0, "--fps", min=1.0),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Pipeline directory (diffusers layout)."),
    side_by_side: bool = typer.Option(False, "--side-by-side", help="Also write OUT_sbs.mp4: (memory read, decoded | generated)."),
    example: Optional[str] = typer.Option(None, "--example", help="Use a bundled example for image, depth, intrinsics and path: 'tum_desk' (a real RGB-D photo) or 'room' (procedural)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
    exclude_mask: Optional[Path] = typer.Option(None, "--exclude-mask", help="Image/.npy of the photo's size: non-zero pixels (sky, people, moving objects) are not stored in the memory."),
    memory_dtype: str = typer.Option("float16", "--memory-dtype", help="Token storage: float32, float16, bfloat16 or int8."),
    voxel_size: str = typer.Option("auto", "--voxel-size", help="Voxel fusion edge in metres, 'auto' (one latent pixel at the photo's 5th-percentile depth) or 'off' (append-only)."),
    fusion: str = typer.Option("mean", "--fusion", help="Voxel fusion policy: mean (confidence-weighted) or newest."),
    capacity: Optional[int] = typer.Option(None, "--capacity", min=1, help="Maximum memory tokens (least recently seen evicted first)."),
    splat: str = typer.Option("nearest", "--splat", help="Memory read: nearest (z-buffer) or bilinear (soft splatting)."),
    save_memory: Optional[Path] = typer.Option(None, "--save-memory", help="Write the final memory to this .safetensors file."),
) -> None:
    """Generate a video from one photo + depth along a camera path, through latent spatial memory."""
    try:
        _generate(**locals())
    except (InputError, FileNotFoundError) as e:
        _fail(str(e))


def _memory_config(memory_dtype: str, voxel_size: str, fusion: str, capacity, splat: str):
    """The pipeline's :class:`~mirage_world.pipelines.MemoryConfig` from the CLI options (``InputError`` if bad)."""
    from .memory.latent_memory import FUSION_POLICIES, STORAGE_DTYPES
    from .memory.splat import SPLAT_MODES
    from .pipelines.pipeline_mirage import MemoryConfig

    for name, value, allowed in (("--memory-dtype", memory_dtype, STORAGE_DTYPES), ("--fusion", fusion, FUSION_POLICIES),
                                 ("--splat", splat, SPLAT_MODES)):
        if value not in allowed:
            raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if voxel_size in ("auto", "off"):
        vs = None if voxel_size == "off" else "auto"
    else:
        try:
            vs = float(voxel_size)
        except ValueError:
            raise InputError(f"--voxel-size must be metres, 'auto' or 'off', got {voxel_size!r}") from None
        if not (vs > 0 and math.isfinite(vs)):
            raise InputError(f"--voxel-size must be > 0 metres, 'auto' or 'off', got {voxel_size!r}")
    return MemoryConfig(dtype=memory_dtype, voxel_size=vs, fusion=fusion, capacity=capacity, splat=splat)


def _generate(out, image, depth, depth_scale, intrinsics, fov, trajectory, trajectory_scale, frames, size, steps, guidance,
              guidance_end, start_sigma, memory, seed, fps, model, side_by_side, example, threads,
              exclude_mask, memory_dtype, voxel_size, fusion, capacity, splat, save_memory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import cv2
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from .geometry.camera import rescale_intrinsics
    from .geometry.trajectory import load_trajectory
    from .io import check_image_depth, load_depth, load_image, load_mask, write_video

    if threads:
        torch.set_num_threads(threads)
    if example is not None:
        ex = EXAMPLES_DIR / example
        meta_path = ex / "example.json"
        if not meta_path.is_file():
            names = sorted(p.name for p in EXAMPLES_DIR.iterdir() if (p / "example.json").is_file()) if EXAMPLES_DIR.is_dir() else []
            raise InputError(f"unknown example {example!r}; bundled examples: {', '.join(names) or 'none'}")
        meta = json.loads(meta_path.read_text())
        image = image or ex / meta["image"]
        depth = depth or ex / meta["depth"]
        intrinsics = intrinsics or ",".join(str(v) for v in meta["intrinsics"])
        if depth_scale is None and depth == ex / meta["depth"]:
            depth_scale = float(meta.get("depth_scale", 1000.0))
        if trajectory == "orbit_left" and "trajectory" in meta:
            trajectory = str(ex / meta["trajectory"]) if (ex / meta["trajectory"]).is_file() else meta["trajectory"]
    if image is None or depth is None:
        raise InputError("--image and --depth are required (or use --example room)")
    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out must end in .mp4, got {out}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after generating
    except OSError as e:
        raise InputError(f"cannot create the output folder {out.parent}: {e}") from None
    if not model.is_dir() or not (model / "model_index.json").is_file():
        raise InputError(f"model directory not found or not a diffusers pipeline: {model}")
    depth_scale = 1000.0 if depth_scale is None else depth_scale
    if not (depth_scale > 0 and math.isfinite(depth_scale)):
        raise InputError(f"--depth-scale must be > 0, got {depth_scale}")
    if not math.isfinite(fps):
        raise InputError(f"--fps must be finite, got {fps}")
    mem_cfg = _memory_config(memory_dtype, voxel_size, fusion, capacity, splat)
    if guidance not in ("none", "replace"):
        raise InputError(f"--guidance must be none or replace, got {guidance!r}")
    if memory not in ("on", "off"):
        raise InputError(f"--memory must be on or off, got {memory!r}")
    if not 0.0 <= guidance_end <= 1.0:
        raise InputError(f"--guidance-end must be a noise level in [0, 1], got {guidance_end}")
    if not 0.0 < start_sigma <= 1.0:
        raise InputError(f"--start-sigma must be in (0, 1], got {start_sigma}")
    if save_memory is not None and save_memory.suffix.lower() != ".safetensors":
        raise InputError(f"--save-memory must end in .safetensors, got {save_memory}")

    img = load_image(image)
    dep = load_depth(depth, depth_scale=depth_scale)
    check_image_depth(img, dep)
    H0, W0 = img.shape[:2]
    excl = load_mask(exclude_mask, (H0, W0)) if exclude_mask is not None else None
    K0 = _parse_intrinsics(intrinsics, fov, W0, H0)
    traj = load_trajectory(trajectory, frames, depth_m=dep, scale=trajectory_scale)

    from .pipelines import MiragePipeline

    try:
        pipe = MiragePipeline.from_pretrained(str(model), dtype=torch.float32)
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"cannot load the pipeline from {model}: {type(e).__name__}: {e}") from None
    pipe.set_progress_bar_config(disable=True)
    W, H = _parse_size(size, W0, H0, pipe.size_multiple)
    K = rescale_intrinsics(K0, (H0, W0), (H, W))  # output pixels, for OUT.json
    if not (cv2.resize(dep, (W, H), interpolation=cv2.INTER_NEAREST) > 0).any():
        raise InputError(
            f"depth {depth} has no valid (> 0) pixel left after resizing {W0}x{H0} -> {W}x{H} (nearest sampling); "
            "the depth map is too sparse for this --size (try a larger --size or a denser depth map)"
        )
    if excl is not None and not (~cv2.resize(excl.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
                                 & (cv2.resize(dep, (W, H), interpolation=cv2.INTER_NEAREST) > 0)).any():
        raise InputError(f"--exclude-mask {exclude_mask} covers every pixel with depth: nothing to remember")

    gen = torch.Generator().manual_seed(seed)
    n_seg = pipe.num_segments(frames)
    bar = tqdm(total=n_seg, desc="segments", unit="seg", disable=n_seg == 0)
    t0 = time.perf_counter()
    result = pipe(
        image=img,
        depth=dep,
        K=K0,
        c2w=traj.c2w.float(),
        height=H,
        width=W,
        num_inference_steps=steps,
        guidance=guidance,
        guidance_end=guidance_end,
        start_sigma=start_sigma,
        use_memory=memory == "on",
        generator=gen,
        return_memory_frames=side_by_side,
        callback=lambda info: bar.update(1),
        progress=False,
        memory_config=mem_cfg,
        keep=None if excl is None else ~excl.astype(bool),
    )
    bar.close()
    total = time.perf_counter() - t0

    video = (result.frames * 255).round().astype(np.uint8)
    write_video(out, video, fps)
    written = [str(out)]
    if side_by_side and result.memory_frames is not None:
        sbs = out.with_name(out.stem + "_sbs.mp4")
        write_video(sbs, _side_by_side(result.memory_frames, result.frames), fps)
        written.append(str(sbs))
    if save_memory is not None and result.memory is not None:
        save_memory.parent.mkdir(parents=True, exist_ok=True)
        result.memory.save(save_memory)
        written.append(str(save_memory))
    Kf = K.float().tolist()
    meta = {
        "frames": int(video.shape[0]),
        "fps": fps,
        "width": W,
        "height": H,
        "cameras": [{"c2w": c.tolist(), "K": Kf} for c in traj.c2w.float()],
        "segments": [
            {"index": s.index, "frames": list(s.frames), "seconds": round(s.seconds, 4), "memory_tokens": s.memory_tokens, "memory_bytes": s.memory_bytes, "coverage": round(s.coverage, 4)}
            for s in result.segments
        ],
        "model": str(model.name if model == DEFAULT_MODEL else model),
        "seed": seed,
        "steps": steps,
        "sampling": {"memory": memory, "guidance": guidance, "guidance_end": guidance_end, "start_sigma": start_sigma},
        "trajectory": {"spec": str(trajectory), "source": traj.source, "scale": traj.scale},
        "inputs": {"image": str(image), "depth": str(depth), "depth_scale": depth_scale, "K_input": K0.tolist()},
        "memory": {"config": {"dtype": mem_cfg.dtype, "voxel_size": voxel_size, "fusion": fusion, "capacity": capacity,
                              "splat": splat, "exclude_mask": None if exclude_mask is None else str(exclude_mask)},
                   **(result.memory.stats() if result.memory is not None else {})},
        "seconds": round(total, 3),
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    written.append(str(out.with_suffix(".json")))
    typer.echo(f"wrote {', '.join(written)} ({video.shape[0]} frames {W}x{H}, {total:.1f} s)")


def _register_subcommands() -> None:
    from . import bench
    from .worlds import cli as worlds_cli

    app.add_typer(worlds_cli.app, name="world", help="Render procedural worlds with exact ground truth.")
    app.add_typer(bench.app, name="bench", help="Benchmarks that print ratios measured in one run.")


_register_subcommands()


def main() -> None:
    """Entry point of the ``mirage`` console script."""
    app()


if __name__ == "__main__":
    main()
