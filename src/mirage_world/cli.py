"""The ``mirage`` command line.

``mirage generate`` turns one photo + its depth + a camera path into a video through the latent spatial memory
(see :class:`mirage_world.pipelines.MiragePipeline`).

The boundary: every option, every input file (kind, size limits) and the writability of every output path is
checked before a model is loaded or any work starts; bad input, usage errors (unknown / missing options, an int that
is not an int) and unwritable outputs end with one ``error: ...`` line on stderr and exit code 2. The outputs (video,
JSON, side-by-side video, memory file) are written under temporary names beside their final ones and renamed
together at the end: a failed or interrupted run leaves all of them or none.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Optional

import typer

from .defaults import (
    DEFAULT_GUIDANCE_END,
    DEFAULT_MODEL,
    DEFAULT_START_SIGMA,
    DEFAULT_STEPS,
    EXAMPLES_DIR,
    MAX_FPS,
    MAX_FRAMES,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MAX_THREADS,
    MAX_TRAJECTORY_SCALE,
)
from .errors import InputError, cli_group_class, fail
from .loading import MAX_CFG, MIN_CFG

app = typer.Typer(cls=cli_group_class(), add_completion=False, no_args_is_help=True,
                  help="Camera-controlled video world model with latent spatial memory (Mirage).")


# Limits of the options (documented in their help).
MAX_PIXEL_FRAMES = MAX_FRAMES * 256 * 256  #: frames x W x H (the video is held in memory as float32)
MIN_PHOTO_SIDE = 16  #: the photo's smallest side in pixels (one latent pixel of a 16x model)
MIN_FOV, MAX_FOV = 1.0, 179.0  #: --fov in degrees
MIN_FOCAL, MAX_FOCAL = 1e-3, 1e3  #: --intrinsics fx, fy as multiples of the photo's long side
MAX_PRINCIPAL = 100.0  #: --intrinsics |cx|, |cy| as multiples of the photo's long side


@app.callback()
def _root() -> None:
    """Camera-controlled video world model with latent spatial memory (Mirage)."""
    # A callback makes ``app`` a command group, so the command is ``mirage generate ...`` (Typer collapses an app
    # with a single command and no callback into ``mirage ...`` and rejects ``generate`` as an extra argument).


def _parse_size(size: str | None, width: int, height: int, multiple: int, long_side: int = 256) -> tuple[int, int]:
    """Output ``(W, H)``: ``--size WxH`` if given, else the photo's aspect with the long side ``long_side``."""
    from .io import parse_size
    from .pipelines.pipeline_mirage import default_size

    if size:
        w, h = parse_size(size, max_side=MAX_SIDE)
        if w % multiple or h % multiple:
            raise InputError(f"--size {size} must be positive multiples of {multiple} (this model's size multiple)")
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
    side = max(width, height)
    lo, hi = MIN_FOCAL * side, MAX_FOCAL * side
    if not (lo <= fx <= hi and lo <= fy <= hi):
        raise InputError(f"--intrinsics focal lengths must be in {MIN_FOCAL:g}..{MAX_FOCAL:g} x the photo's long side "
                         f"({lo:g}..{hi:g} pixels for {width}x{height}), got {text!r}")
    if not (abs(cx) <= MAX_PRINCIPAL * side and abs(cy) <= MAX_PRINCIPAL * side):
        raise InputError(f"--intrinsics principal point must be within {MAX_PRINCIPAL:g} x the photo's long side of "
                         f"its corner, got {text!r}")
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
    out: Path = typer.Option(..., "--out", help="Output video (.mp4); OUT.json is written beside it. Checked for writability before anything runs; all outputs appear together at the end."),
    image: Optional[Path] = typer.Option(None, "--image", help=f"The photo (PNG/JPEG/PPM...): 8-bit colour or grey, at least {MIN_PHOTO_SIDE}x{MIN_PHOTO_SIDE}, at most 16384 pixels per side and 64 megapixels (a single-channel 16-bit image is a depth map, refused)."),
    depth: Optional[Path] = typer.Option(None, "--depth", help="Its depth: 16-bit PNG (see --depth-scale) or .npy in metres; 0 = invalid. Same size as the photo. 'auto': estimate it with Depth Anything V2 (--depth-model; weights must be downloaded, see 'mirage depth')."),
    depth_model: str = typer.Option("indoor", "--depth-model", help="With --depth auto: 'indoor' / 'outdoor' (metric Depth-Anything-V2-Small), 'relative' (needs --median-depth), a hub id in the local cache or a folder."),
    median_depth: Optional[float] = typer.Option(None, "--median-depth", help="With --depth auto: scale the estimated depth so its median is this many metres (required for relative models; approximate)."),
    filter: str = typer.Option("none", "--filter", help="'auto': segment the photo and every generated segment (ADE20K SegFormer, --filter-model) and never store sky, people or vehicles in the memory (the paper's write filter); 'none': store everything (--exclude-mask still applies)."),
    filter_model: str = typer.Option("ade20k", "--filter-model", help="With --filter auto: 'ade20k' (nvidia/segformer-b0-finetuned-ade-512-512), a hub id in the local cache or a folder."),
    filter_classes: Optional[str] = typer.Option(None, "--filter-classes", help="With --filter auto: comma-separated class names to keep out of the memory (default: sky and moving things: person, car, bus, truck, bicycle ...)."),
    depth_scale: Optional[float] = typer.Option(None, "--depth-scale", help="PNG depth units per metre, finite and > 0 (TUM: 5000, most Kinect data: 1000; default 1000, or the example's)."),
    intrinsics: Optional[str] = typer.Option(None, "--intrinsics", help=f"fx,fy,cx,cy in pixels of the photo: fx, fy in {MIN_FOCAL:g}..{MAX_FOCAL:g} x its long side, |cx|, |cy| at most {MAX_PRINCIPAL:g} x (default: --fov)."),
    fov: float = typer.Option(60.0, "--fov", help=f"Horizontal field of view in degrees, {MIN_FOV:g}..{MAX_FOV:g}, used when --intrinsics is not given."),
    trajectory: str = typer.Option("orbit_left", "--trajectory", help="Preset name, RealEstate10K .txt or (N,4,4) c2w .npy."),
    trajectory_scale: Optional[float] = typer.Option(None, "--trajectory-scale", help=f"Multiply the path's translations by this (0..{MAX_TRAJECTORY_SCALE:g}; > 0 for presets) instead of the automatic rule."),
    frames: int = typer.Option(49, "--frames", min=1, help=f"Number of frames to generate (the photo is frame 0): 1..{MAX_FRAMES}, and frames x W x H at most {MAX_FRAMES} x 256 x 256 (e.g. 128 frames at 1024x1024)."),
    size: Optional[str] = typer.Option(None, "--size", help=f"Output WxH (multiples of the model's size multiple, 16 for mirage-tiny; at most {MAX_SIDE} per side); default: photo aspect, long side 256."),
    steps: int = typer.Option(DEFAULT_STEPS, "--steps", min=1, help=f"Denoising steps per segment, 1..{MAX_STEPS} (before --start-sigma skips the noisiest)."),
    guidance: str = typer.Option("replace", "--guidance", help="Memory-guided sampling: 'replace' (covered tokens follow the memory read, noised to each step's level, until --guidance-end: what the memory shows stays put) or 'none' (the denoiser sees the memory only through its input channels; freer, drifts)."),
    guidance_end: float = typer.Option(DEFAULT_GUIDANCE_END, "--guidance-end", help="Noise level (sigma, 0..1) where guidance stops and the model runs free: 0 keeps exactly what the memory shows; higher blends seams but lets the model repaint remembered content."),
    start_sigma: float = typer.Option(DEFAULT_START_SIGMA, "--start-sigma", help="Start each segment at this noise level (0 < sigma <= 1) from the memory read with holes filled by the nearest covered token (1: from pure noise). Lower keeps the layout, costs fewer steps, invents less."),
    memory: str = typer.Option("on", "--memory", help="'off': no memory read, guidance or write-back (a baseline without memory)."),
    seed: int = typer.Option(0, "--seed", help="Random seed, 0..2^64-1."),
    fps: float = typer.Option(16.0, "--fps", min=1.0, help=f"Frame rate of the video, 1..{MAX_FPS:g}."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Pipeline folder (diffusers layout), or a Hugging Face hub id already in the local cache, e.g. Wan-AI/Wan2.2-TI2V-5B-Diffusers (never downloaded: see 'hf download'). Default: the embedded tiny model."),
    side_by_side: bool = typer.Option(False, "--side-by-side", help="Also write OUT_sbs.mp4: (memory read, decoded | generated)."),
    example: Optional[str] = typer.Option(None, "--example", help="Use a bundled example for image, depth, intrinsics and path: 'tum_desk' (a real RGB-D photo) or 'room' (procedural)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=f"CPU threads for torch, 1..{MAX_THREADS} (default: torch's choice)."),
    exclude_mask: Optional[Path] = typer.Option(None, "--exclude-mask", help="Image/.npy of the photo's size: non-zero pixels (sky, people, moving objects) are not stored in the memory."),
    memory_dtype: str = typer.Option("float16", "--memory-dtype", help="Token storage: float32, float16, bfloat16 or int8."),
    voxel_size: str = typer.Option("auto", "--voxel-size", help="Voxel fusion edge in metres (> 0; the grid spans 2^20 voxels each way, which must hold the scene and the path), 'auto' (one latent pixel at the photo's 5th-percentile depth) or 'off' (append-only)."),
    fusion: str = typer.Option("mean", "--fusion", help="Voxel fusion policy: mean (confidence-weighted) or newest."),
    capacity: Optional[int] = typer.Option(None, "--capacity", min=1, help="Maximum memory tokens, 1..2^31-1 (least recently seen evicted first)."),
    splat: str = typer.Option("nearest", "--splat", help="Memory read: nearest (z-buffer) or bilinear (soft splatting)."),
    save_memory: Optional[Path] = typer.Option(None, "--save-memory", help="Write the final memory to this .safetensors file (needs --memory on)."),
    adapter: Optional[Path] = typer.Option(None, "--adapter", help="A Mirage memory adapter folder (memory input channels + LoRA, written by the trainer) for a base model such as Wan2.2-TI2V-5B. Without it a base model runs training-free (memory-guided sampling)."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Text prompt (models with a text encoder, e.g. Wan2.2; default: empty, the photo alone)."),
    negative_prompt: Optional[str] = typer.Option(None, "--negative-prompt", help="Negative prompt of classifier-free guidance (default: Wan's own negative prompt)."),
    guidance_scale: Optional[float] = typer.Option(None, "--guidance-scale", help=f"Classifier-free guidance scale, {MIN_CFG:g}..{MAX_CFG:g} (1: off; > 1 runs the transformer twice per step). Default: 5 for models with a text encoder (Wan2.2-TI2V-5B's), else 1."),
    offload: bool = typer.Option(False, "--offload", help="Keep the models on the CPU and move each to the GPU only while it runs (diffusers enable_model_cpu_offload): with --vae-tiling, Wan2.2-TI2V-5B at 1280x704 needs an estimated ~11 GiB of VRAM instead of ~24 GiB (README). Needs --device cuda."),
    vae_tiling: bool = typer.Option(False, "--vae-tiling", help="Decode / encode in spatial tiles (diffusers vae.enable_tiling()): VAE memory independent of the frame size (Wan2.2 at 1280x704: decoding a segment takes an estimated ~23 GiB untiled, ~1.7 GiB tiled)."),
    dtype: str = typer.Option("auto", "--dtype", help="Weights of the transformer and text encoder: bf16, fp16, fp32 or auto (bf16 on a GPU, fp32 on the CPU). The VAE stays fp32."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda, cuda:N or auto (cuda when available). The memory is stored and read on this device too."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of this same command from OUT.partial/ (kept beside --out while generating: frames, memory, last latent and RNG state after each segment), giving the frames of an uninterrupted run. A run with other inputs or options is refused. Without --resume an old OUT.partial/ is replaced; it is removed once the outputs are written."),
) -> None:
    """Generate a video from one photo + depth along a camera path, through latent spatial memory."""
    try:
        _generate(**locals())
    except (InputError, FileNotFoundError) as e:
        fail(str(e))


def _check_voxel_range(mem_cfg, voxel_text: str, dep, K, c2w, spatial: int) -> None:
    """The memory's fused voxel grid spans +-2^20 voxels: check that the photo's points and everything seen from the
    camera path stay inside it (``dep (H, W)`` output-size depth, ``K`` output intrinsics, ``c2w (N, 4, 4)``)."""
    import numpy as np
    import torch

    from .geometry.camera import rescale_intrinsics
    from .memory.latent_memory import pool_depth_to_grid

    H, W = dep.shape
    d = torch.from_numpy(np.ascontiguousarray(dep, dtype=np.float32))
    K_lat = rescale_intrinsics(K.double(), (H, W), (H // spatial, W // spatial))
    voxel = mem_cfg.resolve_voxel_size(pool_depth_to_grid(d, spatial), K_lat)
    if voxel is None:
        return
    Kd = K.double().numpy()
    x = (np.arange(W) + 0.5 - Kd[0, 2]) / Kd[0, 0]
    y = (np.arange(H) + 0.5 - Kd[1, 2]) / Kd[1, 1]
    ray = np.sqrt(1.0 + x[None, :] ** 2 + y[:, None] ** 2)
    photo = float((dep.astype(np.float64) * ray).max())  # farthest photo point from its camera (the origin)
    cams = float(torch.linalg.vector_norm(c2w[:, :3, 3].double(), dim=-1).max())
    reach = photo + 2 * cams  # a point seen from a camera of the path lies within photo + cams of that camera
    limit = (1 << 20) * voxel
    if not (math.isfinite(voxel) and voxel > 0 and reach < limit):
        raise InputError(
            f"--voxel-size {voxel_text} ({voxel:.3g} m) is too small for this scene: the memory's voxel grid reaches "
            f"+-{limit:.3g} m (2^20 voxels) but the photo's points and the camera path reach {reach:.3g} m "
            "(pass a larger --voxel-size, or 'off')"
        )


def _check_depth_and_filter(auto_depth: bool, depth_model: str, median_depth, filter: str, filter_model: str,
                            filter_classes) -> list[str] | None:
    """Check ``--depth auto`` / ``--filter auto`` and their models from config files alone (nothing loaded); return
    the classes to keep out of the memory (``None``: the filter's defaults)."""
    if median_depth is not None and not (math.isfinite(median_depth) and 0 < median_depth <= 1e4):
        raise InputError(f"--median-depth must be in (0, 1e4] metres, got {median_depth}")
    if median_depth is not None and not auto_depth:
        raise InputError("--median-depth applies to --depth auto only")
    if auto_depth:
        from .models.depth import depth_model_info

        info = depth_model_info(depth_model)  # ModelNotFoundError (an InputError) with the download command
        if info.kind == "relative" and median_depth is None:
            raise InputError(f"--depth-model {depth_model} predicts relative depth: give --median-depth M (metres)")
    if filter not in ("none", "auto"):
        raise InputError(f"--filter must be none or auto, got {filter!r}")
    classes = None
    if filter_classes is not None:
        classes = [c.strip() for c in filter_classes.split(",") if c.strip()]
        if not classes or filter != "auto":
            raise InputError("--filter-classes needs --filter auto and at least one class name")
    if filter == "auto":
        from .models.segmentation import check_segmentation_model

        check_segmentation_model(filter_model, classes)
    return classes


def _check_options(out, depth_scale, fov, trajectory_scale, frames, steps, guidance, guidance_end, start_sigma,
                   memory, seed, fps, threads, save_memory, side_by_side):
    """Checks of the option values alone (no file read), and of the output paths (nothing written)."""
    from .io import check_output_path

    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out must end in .mp4, got {out}")
    if save_memory is not None and save_memory.suffix.lower() != ".safetensors":
        raise InputError(f"--save-memory must end in .safetensors, got {save_memory}")
    if not (depth_scale > 0 and math.isfinite(depth_scale)):
        raise InputError(f"--depth-scale must be > 0, got {depth_scale}")
    if not MIN_FOV <= fov <= MAX_FOV:
        raise InputError(f"--fov must be in {MIN_FOV:g}..{MAX_FOV:g} degrees, got {fov}")
    if trajectory_scale is not None and not 0 <= trajectory_scale <= MAX_TRAJECTORY_SCALE:
        raise InputError(f"--trajectory-scale must be in 0..{MAX_TRAJECTORY_SCALE:g}, got {trajectory_scale}")
    if not 1 <= frames <= MAX_FRAMES:
        raise InputError(f"--frames must be in 1..{MAX_FRAMES}, got {frames}")
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be in 1..{MAX_STEPS}, got {steps}")
    if not (math.isfinite(fps) and 1.0 <= fps <= MAX_FPS):
        raise InputError(f"--fps must be finite and in 1..{MAX_FPS:g}, got {fps}")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed must be in 0..2^64-1, got {seed}")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise InputError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")
    if guidance not in ("none", "replace"):
        raise InputError(f"--guidance must be none or replace, got {guidance!r}")
    if memory not in ("on", "off"):
        raise InputError(f"--memory must be on or off, got {memory!r}")
    if not 0.0 <= guidance_end <= 1.0:
        raise InputError(f"--guidance-end must be a noise level in [0, 1], got {guidance_end}")
    if not 0.0 < start_sigma <= 1.0:
        raise InputError(f"--start-sigma must be in (0, 1], got {start_sigma}")
    if save_memory is not None and memory == "off":
        raise InputError("--save-memory needs --memory on (with --memory off there is no memory to save)")
    # outputs: checked now, written at the end
    check_output_path(out, "--out", extra_name_chars=len("_sbs") if side_by_side else 0)
    check_output_path(out.with_suffix(".json"), "--out's JSON")
    if side_by_side:
        check_output_path(out.with_name(out.stem + "_sbs.mp4"), "--side-by-side video")
    if save_memory is not None:
        check_output_path(save_memory, "--save-memory")


def _generate(out, image, depth, depth_scale, intrinsics, fov, trajectory, trajectory_scale, frames, size, steps, guidance,
              guidance_end, start_sigma, memory, seed, fps, model, side_by_side, example, threads,
              exclude_mask, memory_dtype, voxel_size, fusion, capacity, splat, save_memory,
              adapter, prompt, negative_prompt, guidance_scale, offload, vae_tiling, dtype, device,
              depth_model="indoor", median_depth=None, filter="none", filter_model="ade20k", filter_classes=None,
              resume=False):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import cv2
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from .geometry.camera import rescale_intrinsics
    from .geometry.trajectory import load_trajectory
    from .io import (
        OutputSet,
        check_image_depth,
        check_output_path,
        load_depth,
        load_image,
        load_mask,
        parse_size,
        write_video,
    )
    from .loading import (
        check_model_against_configs,
        check_model_options,
        load_pipeline,
        memory_config,
        model_geometry,
        resolve_model,
    )
    from .pipelines.pipeline_mirage import default_size
    from .resume import ResumeStore, check_resume, run_with_resume, sidecar_path

    # ---------------------------------------------------------------- 1. options (nothing read, nothing loaded)
    if example is not None:
        ex = EXAMPLES_DIR / example
        meta_path = ex / "example.json"
        if "/" in example or "\\" in example or example in ("", ".", "..") or not meta_path.is_file():
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
    depth_scale = 1000.0 if depth_scale is None else depth_scale
    _check_options(out, depth_scale, fov, trajectory_scale, frames, steps, guidance, guidance_end, start_sigma,
                   memory, seed, fps, threads, save_memory, side_by_side)
    mem_cfg = memory_config(memory_dtype, voxel_size, fusion, capacity, splat)
    size_wh = parse_size(size, max_side=MAX_SIDE) if size else None
    if size_wh is not None and frames * size_wh[0] * size_wh[1] > MAX_PIXEL_FRAMES:
        raise InputError(
            f"--frames {frames} at --size {size} is {frames * size_wh[0] * size_wh[1] / 1e6:.0f} M pixel-frames, over "
            f"the limit of {MAX_PIXEL_FRAMES / 1e6:.0f} M ({MAX_FRAMES} frames at 256x256): fewer frames or a smaller size"
        )
    auto_depth = depth is not None and str(depth) == "auto"
    seg_classes = _check_depth_and_filter(auto_depth, depth_model, median_depth, filter, filter_model, filter_classes)
    run = check_model_options(device, dtype, offload, guidance_scale, adapter)  # values only
    model_dir = resolve_model(model)  # a folder; a hub id only from the local cache (nothing downloaded)
    geometry = model_geometry(model_dir)  # configs only
    run = check_model_against_configs(run, model_dir, prompt, negative_prompt, vae_tiling)
    multiple, spatial = geometry if geometry is not None else (None, None)
    if size_wh is not None and multiple is not None:
        _parse_size(size, 0, 0, multiple)

    # ---------------------------------------------------------------- 2. input files (read, nothing loaded)
    img = load_image(image, min_side=MIN_PHOTO_SIDE, allow_depth_like=False)
    H0, W0 = img.shape[:2]
    excl = load_mask(exclude_mask, (H0, W0)) if exclude_mask is not None else None
    K0 = _parse_intrinsics(intrinsics, fov, W0, H0)
    if auto_depth:  # the path file is read and checked now; the depth model runs after every other check
        load_trajectory(trajectory, frames, depth_m=np.ones((H0, W0), np.float32), scale=trajectory_scale)
        from .models.depth import DepthEstimator

        dep = DepthEstimator(depth_model, device=run.device)(img, median_depth=median_depth)
    else:
        dep = load_depth(depth, depth_scale=depth_scale)
    check_image_depth(img, dep)
    traj = load_trajectory(trajectory, frames, depth_m=dep, scale=trajectory_scale)
    seg_filter = None
    if filter == "auto":
        from .models.segmentation import SemanticFilter

        seg_filter = SemanticFilter(filter_model, exclude_classes=seg_classes, device=run.device)
        keep_photo = np.asarray(seg_filter.keep_mask(img), dtype=bool)
        excl = ~keep_photo if excl is None else (excl.astype(bool) | ~keep_photo)
        if not (~excl & (dep > 0)).any():
            raise InputError(f"--filter auto ({filter_model}) marks every pixel of the photo that has depth as sky or a "
                             "moving object: nothing to remember (use --filter none or other --filter-classes)")
    if not bool(torch.isfinite(traj.c2w.float()).all()):
        raise InputError(f"camera path {trajectory}: its poses overflow float32 (translations too large: "
                         f"--trajectory-scale {traj.scale:g})")
    # what the frames depend on (a resumed run must match; the pipeline adds hashes of the arrays and the seed's state)
    resume_args = {k: (os.path.abspath(v) if k in ("image", "depth", "exclude_mask") and v is not None
                       else str(v) if isinstance(v, Path) else v)
                   for k, v in dict(image=image, depth=depth, depth_scale=depth_scale, intrinsics=intrinsics, fov=fov,
                                    trajectory=trajectory, trajectory_scale=trajectory_scale, frames=frames, size=size,
                                    steps=steps, guidance=guidance, guidance_end=guidance_end, start_sigma=start_sigma,
                                    memory=memory, seed=seed, model=model, side_by_side=side_by_side,
                                    exclude_mask=exclude_mask, memory_dtype=memory_dtype, voxel_size=voxel_size,
                                    fusion=fusion, capacity=capacity, splat=splat, adapter=adapter, prompt=prompt,
                                    negative_prompt=negative_prompt, guidance_scale=guidance_scale,
                                    vae_tiling=vae_tiling, dtype=dtype, device=device, depth_model=depth_model,
                                    median_depth=median_depth, filter=filter, filter_model=filter_model,
                                    filter_classes=filter_classes).items()}
    check_output_path(sidecar_path(out), "--out's resume folder", folder=True)
    if resume:
        check_resume(out, resume_args)  # ResumeError (an InputError) when OUT.partial/ was written with other options

    def check_output_size(W, H, spatial):
        """What depends on the output size: depth and mask left after resizing, the memory's voxel grid range."""
        dep_r = cv2.resize(dep, (W, H), interpolation=cv2.INTER_NEAREST)
        if not (dep_r > 0).any():
            raise InputError(
                f"depth {depth} has no valid (> 0) pixel left after resizing {W0}x{H0} -> {W}x{H} (nearest sampling); "
                "the depth map is too sparse for this --size (try a larger --size or a denser depth map)"
            )
        if excl is not None and not (~cv2.resize(excl.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
                                     & (dep_r > 0)).any():
            raise InputError(f"--exclude-mask {exclude_mask} covers every pixel with depth: nothing to remember")
        if memory == "on":
            _check_voxel_range(mem_cfg, voxel_size, dep_r, rescale_intrinsics(K0, (H0, W0), (H, W)), traj.c2w, spatial)

    if multiple is not None:
        W, H = size_wh if size_wh is not None else default_size(W0, H0, multiple)
        check_output_size(W, H, spatial)

    # ---------------------------------------------------------------- 3. the model
    if threads is not None:
        torch.set_num_threads(threads)
    from .pipelines import MiragePipeline

    pipe = load_pipeline(MiragePipeline, model, model_dir, run)
    pipe.set_progress_bar_config(disable=True)
    if multiple != pipe.size_multiple or spatial != pipe.vae_scale_factor_spatial:  # configs did not tell: now
        W, H = _parse_size(size, W0, H0, pipe.size_multiple)
        check_output_size(W, H, pipe.vae_scale_factor_spatial)
    K = rescale_intrinsics(K0, (H0, W0), (H, W))  # output pixels, for OUT.json

    # ---------------------------------------------------------------- 4. generate
    gen = torch.Generator().manual_seed(seed)
    n_seg = pipe.num_segments(frames)
    bar = tqdm(total=n_seg, desc="segments", unit="seg", disable=n_seg == 0)
    t0 = time.perf_counter()

    def resumed(done: int) -> None:
        bar.update(done)
        typer.echo(f"resuming from {sidecar_path(out)}: {done} of {n_seg} segments done", err=True)

    result = run_with_resume(
        pipe, out, resume_args, resume, remove_when_done=False, on_resume=resumed,  # OUT.partial/ after each segment
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
        segment_filter=seg_filter,
        **run.call_kwargs(prompt),
    )
    bar.close()
    total = time.perf_counter() - t0

    # ---------------------------------------------------------------- 5. outputs: temporary names, renamed together
    video = (result.frames * 255).round().astype(np.uint8)
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
        "inputs": {"image": str(image), "depth": str(depth), "depth_scale": None if auto_depth else depth_scale,
                   "K_input": K0.tolist(),
                   "depth_model": {"model": depth_model, "median_depth": median_depth} if auto_depth else None},
        "filter": {"mode": filter, "model": filter_model, "classes": seg_classes} if filter == "auto" else None,
        "memory": {"config": {"dtype": mem_cfg.dtype, "voxel_size": voxel_size, "fusion": fusion, "capacity": capacity,
                              "splat": splat, "exclude_mask": None if exclude_mask is None else str(exclude_mask)},
                   **(result.memory.stats() if result.memory is not None else {})},
        "seconds": round(total, 3),
        "run": run.describe(prompt, adapter),
    }
    with OutputSet() as outputs:
        try:
            write_video(outputs.temp_path(out), video, fps)
            if side_by_side and result.memory_frames is not None:
                sbs = out.with_name(out.stem + "_sbs.mp4")
                write_video(outputs.temp_path(sbs), _side_by_side(result.memory_frames, result.frames), fps)
            if save_memory is not None and result.memory is not None:
                result.memory.save(outputs.temp_path(save_memory))
            outputs.temp_path(out.with_suffix(".json")).write_text(json.dumps(meta, indent=1))
        except OSError as e:
            raise InputError(f"cannot write the outputs of {out}: {type(e).__name__}: {e}") from None
        written = [str(p) for p in outputs.finals]
        outputs.commit()
    ResumeStore(out).remove()  # the outputs are in place: nothing left to resume
    typer.echo(f"wrote {', '.join(written)} ({video.shape[0]} frames {W}x{H}, {total:.1f} s)")


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             add_help_option=False,
             help="Train the memory adapter (Wan2.2 + LoRA) or the embedded tiny model: --config CONFIG.json "
                  "(see 'mirage train --help'; multi-GPU: accelerate launch -m mirage_world.training.train_adapter).")
def train(ctx: typer.Context) -> None:
    from .training.train_adapter import main as train_main

    train_main(list(ctx.args))


def _register_subcommands() -> None:
    from . import bench, depth_cli
    from .eval import cli as eval_cli
    from .worlds import cli as worlds_cli

    app.add_typer(worlds_cli.app, name="world", help="Render procedural worlds with exact ground truth.")
    app.add_typer(bench.app, name="bench", help="Benchmarks that print ratios measured in one run.")
    app.add_typer(eval_cli.app, name="eval", help="Evaluation: closed-loop consistency, long runs, WorldScore "
                                                  "export, offline camera / consistency proxies.")
    app.command("depth", help="Depth of a photo in metres (Depth Anything V2): IMG --out D.npy [--png16 D.png].")(
        depth_cli.depth)


_register_subcommands()


def main() -> None:
    """Entry point of the ``mirage`` console script."""
    app()


if __name__ == "__main__":
    main()
