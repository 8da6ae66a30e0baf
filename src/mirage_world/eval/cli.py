"""``mirage eval``: evaluation commands (a typer sub-app).

* ``mirage eval worldscore``: generate along a WorldScore ``camera_data.json`` with the embedded model and write the
  instance folder WorldScore's evaluator reads (:mod:`mirage_world.eval.worldscore`).
* ``mirage eval proxies``: the offline camera-control / photometric / 3D-consistency proxies of a video
  (:mod:`mirage_world.eval.proxies`).

Registered in the main CLI with ``app.add_typer(eval_cli.app, name="eval")``; it also runs on its own:
``python -m mirage_world.eval.cli proxies out.mp4 --cameras out.json``. The boundary, as for ``mirage generate``:
every option and input file and the writability of the outputs are checked before a model loads or any work starts;
errors end with one ``error: ...`` line on stderr and exit code 2; outputs appear together at the end or not at all.
Heavy imports happen inside the commands (``mirage --help`` stays fast).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Optional

import typer

from mirage_world.defaults import (
    DEFAULT_MODEL,
    MAX_FPS,
    MAX_FRAMES,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MAX_THREADS,
    MAX_TRAJECTORY_SCALE,
)
from mirage_world.errors import InputError, cli_group_class, fail

__all__ = ["app", "worldscore", "proxies"]

app = typer.Typer(cls=cli_group_class(), add_completion=False, no_args_is_help=True,
                  help="Evaluation: WorldScore export, offline consistency proxies.")

MIN_PHOTO_SIDE = 16  #: the photo's smallest side
PLANE_DEPTH_M = 1.0  #: depth of the fronto-parallel plane used without --depth (the path is scaled to it)


@app.callback()
def _root() -> None:
    """Evaluation commands: WorldScore export (worldscore) and offline proxies (proxies)."""


def _read_json_file(path: Path, what: str):
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {what} {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{what} {path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _threads(threads: Optional[int]) -> None:
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise InputError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")


# ------------------------------------------------------------------------------------------------ worldscore


@app.command()
def worldscore(
    cameras: Path = typer.Option(..., "--cameras", help="WorldScore camera_data.json of the instance (cameras_interp: one Blender camera-to-world per frame; focal_length in pixels of 512x512 frames)."),
    image: Path = typer.Option(..., "--image", help="The instance's input image (centre-cropped to the --resolution aspect, as WorldScore does)."),
    out: Path = typer.Option(..., "--out", help="The instance folder to write: $MODEL_PATH/<model>/worldscore_output/static/<visual_style>/<scene_type>/<category>/<name> (frames/, camera_data.json, image_data.json, input_image.png, videos/output.mp4, mirage.json)."),
    depth: Optional[Path] = typer.Option(None, "--depth", help="Depth of the image (16-bit PNG, see --depth-scale, or .npy in metres), same size as the image. Without it a fronto-parallel plane is used (exact for pans, not for moves); 'mirage depth IMG --out D.npy' estimates one."),
    depth_scale: float = typer.Option(1000.0, "--depth-scale", help="PNG depth units per metre, finite and > 0."),
    image_data: Optional[Path] = typer.Option(None, "--image-data", help="The instance's entry of the WorldScore dataset (JSON: camera_path, prompt_list, content_list, ...); completed with num_scenes, total_frames, anchor_frame_idx."),
    layout: Optional[str] = typer.Option(None, "--layout", help="WorldScore camera movement (pan_left, orbit_right, push_in, ...) when --image-data is not given."),
    prompt: str = typer.Option("", "--prompt", help="Text for image_data's prompt_list when --image-data is not given (the model itself takes no text)."),
    frames: Optional[int] = typer.Option(None, "--frames", help=f"Frames to generate, 2..{MAX_FRAMES} (default: one per camera of the file; otherwise the path is resampled and camera_data.json written for the new count)."),
    size: Optional[str] = typer.Option(None, "--size", help="Generation WxH (multiples of the model's size multiple, 16 for mirage-tiny); default: the --resolution aspect with long side 256."),
    resolution: str = typer.Option("512x512", "--resolution", help="WxH of the stored frames; WorldScore's camera scorers assume 512x512 with fx = fy = 500, cx = cy = 256."),
    steps: int = typer.Option(10, "--steps", help=f"Denoising steps per segment, 1..{MAX_STEPS}."),
    seed: int = typer.Option(0, "--seed", help="Random seed, 0..2^64-1."),
    memory: str = typer.Option("on", "--memory", help="'off': no memory (a baseline)."),
    trajectory_scale: Optional[float] = typer.Option(None, "--trajectory-scale", help=f"Multiply the path's translations by this (0..{MAX_TRAJECTORY_SCALE:g}) instead of the automatic rule (farthest camera at 0.25 x the median depth)."),
    fps: float = typer.Option(10.0, "--fps", help=f"Frame rate of videos/output.mp4 (WorldScore's default 10), 1..{MAX_FPS:g}."),
    model: Path = typer.Option(DEFAULT_MODEL, "--model", help="Pipeline directory (diffusers layout)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=f"CPU threads for torch, 1..{MAX_THREADS}."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export in --out (its extra frame files are removed)."),
) -> None:
    """Generate along a WorldScore camera path and write the instance folder its evaluator scores unchanged."""
    try:
        _worldscore(**locals())
    except (InputError, FileNotFoundError) as e:
        fail(str(e))


def _worldscore(cameras, image, out, depth, depth_scale, image_data, layout, prompt, frames, size, resolution, steps,
                seed, memory, trajectory_scale, fps, model, threads, overwrite):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import cv2
    import numpy as np
    import torch

    from mirage_world.eval.worldscore import (
        center_crop_box,
        export_worldscore,
        read_worldscore_cameras,
        worldscore_image_data,
    )
    from mirage_world.geometry.camera import rescale_intrinsics
    from mirage_world.geometry.trajectory import load_trajectory
    from mirage_world.io import check_image_depth, check_output_path, load_depth, load_image, parse_size

    # ---------------------------------------------------------------- 1. options (nothing read, nothing loaded)
    res_w, res_h = parse_size(resolution, "--resolution", max_side=MAX_SIDE)
    size_wh = parse_size(size, "--size", max_side=MAX_SIDE) if size else None
    if frames is not None and not 2 <= frames <= MAX_FRAMES:
        raise InputError(f"--frames must be in 2..{MAX_FRAMES}, got {frames}")
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be in 1..{MAX_STEPS}, got {steps}")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"--seed must be in 0..2^64-1, got {seed}")
    if memory not in ("on", "off"):
        raise InputError(f"--memory must be on or off, got {memory!r}")
    if not (math.isfinite(depth_scale) and depth_scale > 0):
        raise InputError(f"--depth-scale must be finite and > 0, got {depth_scale}")
    if trajectory_scale is not None and not 0 <= trajectory_scale <= MAX_TRAJECTORY_SCALE:
        raise InputError(f"--trajectory-scale must be in 0..{MAX_TRAJECTORY_SCALE:g}, got {trajectory_scale}")
    if not (math.isfinite(fps) and 1.0 <= fps <= MAX_FPS):
        raise InputError(f"--fps must be in 1..{MAX_FPS:g}, got {fps}")
    _threads(threads)
    if not (model.is_dir() and (model / "model_index.json").is_file()):
        raise InputError(f"model directory not found or not a diffusers pipeline: {model}")
    out_dir = check_output_path(out, "--out", folder=True)
    if not overwrite and (out_dir / "frames").is_dir() and any((out_dir / "frames").iterdir()):
        raise InputError(f"--out {out_dir} already holds an export (frames/); pass --overwrite to replace it")

    # ---------------------------------------------------------------- 2. input files (read, nothing loaded)
    data_in = _read_json_file(image_data, "--image-data") if image_data is not None else None
    c2w_file, K_file, _ = read_worldscore_cameras(cameras, (res_h, res_w))
    n = len(c2w_file) if frames is None else frames
    data = worldscore_image_data(n, data_in, layout, prompt)  # checks layout / camera_path before the model
    photo = load_image(image, min_side=MIN_PHOTO_SIDE, allow_depth_like=False)
    l, t, r, b = center_crop_box(photo.shape[1], photo.shape[0], res_w, res_h)
    img = photo[t:b, l:r]
    if depth is not None:
        dep_full = load_depth(depth, depth_scale=depth_scale)
        check_image_depth(photo, dep_full)
        dep = dep_full[t:b, l:r]
        if not (dep > 0).any():
            raise InputError(f"depth {depth} has no valid pixel inside the centre crop of the image")
        depth_note = str(depth)
    else:
        dep = np.full(img.shape[:2], PLANE_DEPTH_M, dtype=np.float32)
        depth_note = f"plane at {PLANE_DEPTH_M:g} m (no --depth)"
    Hc, Wc = img.shape[:2]
    K_res = K_file  # (3, 3) pixels of the stored frames
    K_photo = rescale_intrinsics(K_res, (res_h, res_w), (Hc, Wc))  # the crop covers the frames' field of view
    traj = load_trajectory(str(cameras), n, depth_m=dep, scale=trajectory_scale)
    if not bool(torch.isfinite(traj.c2w.float()).all()):
        raise InputError(f"camera path {cameras}: its poses overflow float32 (--trajectory-scale {traj.scale:g})")

    # ---------------------------------------------------------------- 3. the model
    from mirage_world.eval.closed_loop import load_pipeline

    pipe = load_pipeline(model, torch.get_num_threads() if threads is None else threads)
    m = pipe.size_multiple
    if size_wh is None:
        s = 256 / max(res_w, res_h)
        size_wh = (max(m, round(res_w * s / m) * m), max(m, round(res_h * s / m) * m))
    W, H = size_wh
    if W % m or H % m:
        raise InputError(f"--size {W}x{H} must be positive multiples of {m} (this model's size multiple)")
    if not (cv2.resize(dep, (W, H), interpolation=cv2.INTER_NEAREST) > 0).any():
        raise InputError(f"depth {depth} has no valid pixel left at --size {W}x{H}")

    # ---------------------------------------------------------------- 4. generate and export
    t0 = time.perf_counter()
    result = pipe(image=img, depth=dep, K=K_photo, c2w=traj.c2w.float(), height=H, width=W,
                  num_inference_steps=steps, use_memory=memory == "on",
                  generator=torch.Generator().manual_seed(seed), progress=False)
    seconds = time.perf_counter() - t0
    K_gen = rescale_intrinsics(K_res, (res_h, res_w), (H, W))
    info = export_worldscore(
        out_dir, result.frames, traj.c2w, K_gen, input_image=img, image_data=data, fps=fps, size=(res_h, res_w),
        overwrite=overwrite,
        extra={"generator": {"model": str(model.name if model == DEFAULT_MODEL else model), "seed": seed,
                             "steps": steps, "memory": memory, "size": [H, W], "seconds": round(seconds, 3)},
               "inputs": {"cameras": str(cameras), "image": str(image), "depth": depth_note,
                          "image_data": None if image_data is None else str(image_data)},
               "trajectory": {"frames": n, "frames_in_file": len(c2w_file), "scale": traj.scale,
                              "source": traj.source}},
    )
    for w in info["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out_dir} ({n} frames {res_w}x{res_h}, generated at {W}x{H} in {seconds:.1f} s)")


# ------------------------------------------------------------------------------------------------ proxies


@app.command()
def proxies(
    video: Path = typer.Argument(..., help="The video (.mp4, any format imageio's ffmpeg reads)."),
    cameras: Path = typer.Option(..., "--cameras", help="The cameras of its frames: a 'mirage generate' OUT.json (c2w and K per frame) or any camera-path file 'mirage generate --trajectory' reads (one pose per frame, no resampling)."),
    intrinsics: Optional[str] = typer.Option(None, "--intrinsics", help="fx,fy,cx,cy in pixels of the video (default: from --cameras: K, normalised intrinsics or a focal length with a centred principal point)."),
    depth: Optional[Path] = typer.Option(None, "--depth", help="Depth of frame 0 (16-bit PNG, see --depth-scale, or .npy in metres; resized to the video by nearest sampling) for the reprojection proxy; default: the depth named in a 'mirage generate' OUT.json, else the proxy is skipped."),
    depth_scale: Optional[float] = typer.Option(None, "--depth-scale", help="PNG depth units per metre (default: from the OUT.json, else 1000)."),
    step: int = typer.Option(1, "--step", help="Frames between the two frames of a pair (camera control, flow) and between scored frames (reprojection)."),
    features: str = typer.Option("sift", "--features", help="sift or orb."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all figures (with per-pair values) to this JSON file."),
) -> None:
    """Camera control, photometric consistency and reprojection error of a video against its requested cameras."""
    try:
        _proxies(**locals())
    except (InputError, FileNotFoundError) as e:
        fail(str(e))


def _cameras_for_video(cameras: Path, n: int, hw: tuple[int, int], intrinsics: Optional[str]):
    """``(c2w (n, 4, 4) float64, K (3, 3) float64 numpy, mirage_meta or None)`` for an ``n``-frame ``(H, W)`` video."""
    import numpy as np

    from mirage_world.geometry.camera import check_c2w, check_intrinsics
    from mirage_world.geometry.camera_files import read_camera_file

    H, W = hw
    meta = None
    K = None
    if cameras.suffix.lower() == ".json" and cameras.is_file():
        data = _read_json_file(cameras, "--cameras")
        if isinstance(data, dict) and isinstance(data.get("cameras"), list):  # mirage generate's OUT.json
            meta = data
            try:
                c2w = np.array([c["c2w"] for c in data["cameras"]], dtype=np.float64)
                Ks = np.array([c["K"] for c in data["cameras"]], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise InputError(f"--cameras {cameras}: 'cameras' must be a list of {{'c2w': 4x4, 'K': 3x3}}") from None
            if c2w.ndim != 3 or c2w.shape[1:] != (4, 4) or Ks.shape != (len(c2w), 3, 3):
                raise InputError(f"--cameras {cameras}: 'cameras' must hold a 4x4 c2w and a 3x3 K per frame")
            if not np.isfinite(c2w).all() or not np.isfinite(Ks).all():
                raise InputError(f"--cameras {cameras}: NaN or infinite values")
            check_c2w(c2w, f"--cameras {cameras}: c2w")
            vw, vh = data.get("width"), data.get("height")
            K = Ks[0]
            if isinstance(vw, int) and isinstance(vh, int) and (vw, vh) != (W, H):
                K = K * np.array([[W / vw], [H / vh], [1.0]])
    if meta is None:
        cf = read_camera_file(cameras)
        c2w = cf.c2w.double().numpy()
        if cf.K is not None:
            K = cf.K[0].double().numpy()
        elif cf.intrinsics_norm is not None:
            fx, fy, cx, cy = cf.intrinsics_norm[0].tolist()
            K = np.array([[fx * W, 0, cx * W], [0, fy * H, cy * H], [0, 0, 1.0]])
        elif cf.focal_px is not None:
            K = np.array([[cf.focal_px, 0, W / 2], [0, cf.focal_px, H / 2], [0, 0, 1.0]])
    if len(c2w) != n:
        raise InputError(f"--cameras {cameras} has {len(c2w)} poses but the video has {n} frames (one pose per frame)")
    if intrinsics is not None:
        try:
            fx, fy, cx, cy = (float(v) for v in intrinsics.replace(" ", "").split(","))
        except ValueError:
            raise InputError(f"--intrinsics must be 'fx,fy,cx,cy' in pixels, got {intrinsics!r}") from None
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    if K is None:
        raise InputError(f"--cameras {cameras} holds no intrinsics: pass --intrinsics fx,fy,cx,cy")
    if not np.isfinite(K).all():
        raise InputError(f"intrinsics must be finite, got {K[:2].tolist()}")
    check_intrinsics(K, "intrinsics")
    return c2w, K, meta


def _proxies(video, cameras, intrinsics, depth, depth_scale, step, features, json_out):
    import cv2

    from mirage_world.eval.proxies import FEATURES, camera_control_error, flow_consistency, reprojection_error
    from mirage_world.io import OutputSet, check_output_path, load_depth, read_video

    if features not in FEATURES:
        raise InputError(f"--features must be one of {', '.join(FEATURES)}, got {features!r}")
    if depth_scale is not None and not (math.isfinite(depth_scale) and depth_scale > 0):
        raise InputError(f"--depth-scale must be finite and > 0, got {depth_scale}")
    if json_out is not None:
        if json_out.suffix.lower() != ".json":
            raise InputError(f"--json must end in .json, got {json_out}")
        check_output_path(json_out, "--json")
    frames = read_video(video)
    n, H, W = frames.shape[:3]
    if n < 2:
        raise InputError(f"video {video} has {n} frame: the proxies need at least 2")
    if not 1 <= step < n:
        raise InputError(f"--step must be in 1..{n - 1} for a {n}-frame video, got {step}")
    c2w, K, meta = _cameras_for_video(cameras, n, (H, W), intrinsics)
    dep, depth_note = None, "no depth: reprojection not computed (pass --depth)"
    if depth is None and meta is not None and isinstance(meta.get("inputs"), dict) and meta["inputs"].get("depth"):
        depth = Path(meta["inputs"]["depth"])
        if depth_scale is None and isinstance(meta["inputs"].get("depth_scale"), (int, float)):
            depth_scale = float(meta["inputs"]["depth_scale"])
        if not depth.is_file() and not depth.is_absolute():
            depth = cameras.parent / depth  # a relative path in the JSON: try beside it
    if depth is not None:
        d = load_depth(depth, depth_scale=1000.0 if depth_scale is None else depth_scale)
        if d.shape != (H, W):
            d = cv2.resize(d, (W, H), interpolation=cv2.INTER_NEAREST)
        dep, depth_note = d, str(depth)

    cam = camera_control_error(frames, c2w, K, step=step, method=features)
    flow = flow_consistency(frames, step=step)
    rep = reprojection_error(frames, dep, c2w, K, step=step, method=features) if dep is not None else None
    report = {"video": str(video), "cameras": str(cameras), "frames": n, "width": W, "height": H, "K": K.tolist(),
              "depth": depth_note, "camera_control": cam, "photometric": flow, "reprojection": rep}

    def fmt(v, unit=""):
        return "n/a" if v is None else f"{v:.3f}{unit}"

    c = cam["counts"]
    typer.echo(f"camera control: rotation error median {fmt(cam['rotation_error_deg']['median'], ' deg')} "
               f"({c['rotation_scored']}/{c['pairs']} pairs), translation direction error median "
               f"{fmt(cam['translation_error_deg']['median'], ' deg')} ({c['translation_scored']} pairs; "
               f"{c['no_parallax']} without parallax, {c['skipped_few_matches']} with too few matches)")
    typer.echo(f"photometric: forward-backward flow error {fmt(flow['fb_error_px'], ' px')}, consistent "
               f"{fmt(flow['consistent_fraction'])} (< {flow['threshold_px']:g} px), mean flow {fmt(flow['flow_px'], ' px')}")
    if rep is None:
        typer.echo(f"reprojection: {depth_note}")
    else:
        typer.echo(f"reprojection: median {fmt(rep['median_px'], ' px')} over {rep['scored']} features, "
                   f"within {rep['within_px']:g} px {fmt(rep['within_fraction'])}")
    if json_out is not None:
        with OutputSet() as outs:
            try:
                outs.temp_path(json_out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
            except OSError as e:
                raise InputError(f"cannot write {json_out}: {e}") from None
            outs.commit()
        typer.echo(f"wrote {json_out}")


def _register() -> None:
    from mirage_world.eval import closed_loop, long_run

    app.command("closed-loop")(closed_loop.closed_loop)
    app.command("long-run")(long_run.long_run)


_register()

if __name__ == "__main__":
    app()
