"""``mirage bench memory``: latent memory vs RGB point-cloud baseline at the Wan2.2-TI2V-5B geometry (read, bytes,
flat and gather ratios; what each measures: see :mod:`mirage_world.bench`).

:func:`run_memory_benchmark` runs it, :func:`format_table` prints the goal table (:data:`GOALS`),
:func:`check_memory_options` checks the options before any work, and :func:`memory` is the command (registered on
``mirage bench`` by the package). Imports only :mod:`mirage_world.bench.common` and lower layers.
"""

from __future__ import annotations

import copy
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Optional

import torch
import typer

from mirage_world.errors import InputError

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
)

GOALS = {"read_ratio": (">=", 100), "bytes_ratio_fp16": (">=", 55), "bytes_ratio_int8": (">=", 100),
         "flat_ratio": ("<=", 1.2), "gather_ratio": ("<=", 5)}


def run_memory_benchmark(
    width: int = 1280, height: int = 704, channels: int = 48, factor: int = 16, segment_latents: int = 4,
    segments: int = 100, early: int = 10, loop: int = 10, views: int = 4, voxel_size: float = 0.05,
    repeats: int = 15, vae: str = "wan2.2", encode_views: int = 1, threads: int = 1, log=print,
) -> dict:
    """Run the memory benchmark; returns the JSON-ready result (see the module docstring)."""
    from mirage_world.geometry.camera import rescale_intrinsics
    from mirage_world.memory import LatentSpatialMemory, RGBPointCloudMemory

    torch.set_num_threads(threads)
    H, W = height, width
    h, w = H // factor, W // factor
    f_img = W / 2  # 90 degree horizontal field of view
    K_img = torch.tensor([[f_img, 0, W / 2], [0, f_img, H / 2], [0, 0, 1]], dtype=torch.float32)
    K_lat = rescale_intrinsics(K_img.double(), (H, W), (h, w)).float()
    period = loop * segment_latents  # latent cameras per loop
    g = torch.Generator().manual_seed(0)
    depth_cache: dict[int, torch.Tensor] = {}

    def lat_depth(i):
        j = i % period
        if j not in depth_cache:
            depth_cache[j] = box_depth(K_lat, loop_pose(j, period), (h, w))
        return depth_cache[j]

    res: dict = {"settings": dict(width=W, height=H, channels=channels, factor_spatial=factor, factor_temporal=4,
                                  latent_hw=[h, w], segment_latent_frames=segment_latents, segments=segments,
                                  early_segments=early, loop_segments=loop, views=views, voxel_size=voxel_size,
                                  repeats=repeats, threads=threads, vae=vae, encode_views=encode_views,
                                  torch=torch.__version__, machine=platform.platform(), processor=platform.processor())}
    read_cams = torch.arange(1, views + 1)  # the latent cameras of the first segment
    Kv = K_lat[None].expand(views, 3, 3).contiguous()
    cv = torch.stack([loop_pose(int(i), period) for i in read_cams])

    # ---------------------------------------------------------------- flat_ratio / gather_ratio (fused, fp16)
    log(f"[flat] writing {segments} segments x {segment_latents} latent frames at {h}x{w}x{channels}, voxel {voxel_size} m")
    mem = LatentSpatialMemory(channels, dtype="float16", voxel_size=voxel_size, fusion="mean")
    mem.write(torch.randn(channels, h, w, generator=g), lat_depth(0), K_lat, loop_pose(0, period))
    t_write = []
    times = {}
    for s in range(segments):
        idx = [1 + s * segment_latents + t for t in range(segment_latents)]
        lat = torch.randn(segment_latents, channels, h, w, generator=g)
        d = torch.stack([lat_depth(i) for i in idx])
        c = torch.stack([loop_pose(i, period) for i in idx])
        t0 = time.perf_counter()
        mem.write(lat, d, K_lat[None].expand(segment_latents, 3, 3), c)
        t_write.append(time.perf_counter() - t0)
        if s + 1 in (early, segments):
            times[s + 1] = (mem.num_tokens, mem.nbytes)
            log(f"[flat] after {s + 1} segments: {mem.num_tokens} tokens, {mem.nbytes / 1e6:.2f} MB")
        if s + 1 == early:
            early_mem = copy.deepcopy(mem)  # read later, alternating with the late memory
    # early and late memories read alternately: the same cache state and machine noise for both
    t_late, t_early = interleaved_median_times(lambda: mem.read(Kv, cv, (h, w)),
                                               lambda: early_mem.read(Kv, cv, (h, w)), repeats * 3)
    log(f"[flat] read after {early} segments {t_early * 1e3:.2f} ms, after {segments} {t_late * 1e3:.2f} ms")
    early_mem = None  # free it
    res["flat"] = {"read_s_early": t_early, "read_s_late": t_late, "tokens_early": times[early][0],
                   "tokens_late": times[segments][0], "bytes_late": times[segments][1],
                   "write_s_median": statistics.median(t_write), "timing": "early and late reads alternated, medians"}
    res["flat_ratio"] = t_late / t_early
    # gather of the same bytes
    r = mem.read(Kv, cv, (h, w))
    from mirage_world.memory.splat import zbuffer_winners

    win = zbuffer_winners(mem.positions, Kv, cv, (h, w))[0].reshape(-1)
    win = win[win >= 0]
    perm = torch.randperm(mem.num_tokens, generator=g)

    def plain_gather():
        mem.positions.index_select(0, perm)
        mem.latents.index_select(0, win)

    def read():
        mem.read(Kv, cv, (h, w))

    t_read_i, t_gather_i = interleaved_median_times(read, plain_gather, repeats * 3)
    t_gather_hot = median_time(plain_gather, repeats * 3)
    t_read = median_time(read, repeats)
    t_bil = median_time(lambda: mem.read(Kv, cv, (h, w), mode="bilinear"), max(3, repeats // 3))
    index = mem.read_index()  # built by the reads above
    from mirage_world.memory.index import ChunkIndex

    t_build = median_time(lambda: ChunkIndex(mem.positions, mem.INDEX_CHUNK, mem.INDEX_SUB), 3, warmup=0)
    res["gather"] = {"read_s": t_read_i, "gather_s": t_gather_i, "read_s_loop": t_read, "gather_s_hot_loop": t_gather_hot,
                     "gather_bytes": perm.numel() * 12 + win.numel() * channels * 2, "read_bilinear_s": t_bil,
                     "coverage": float(r.mask.mean()), "index_build_s": t_build,
                     "index_bytes": index.nbytes if index is not None else 0, "memory_bytes": mem.nbytes,
                     "timing": "gather_ratio: read and gather alternated, medians (both start from the same cache "
                               "state); gather_ratio_hot_loop: gather repeated alone in a tight loop (its 2 MB stay "
                               "in cache), read repeated alone"}
    res["gather_ratio"] = t_read_i / t_gather_i
    res["gather_ratio_hot_loop"] = t_read / t_gather_hot
    log(f"[gather] alternated: read {t_read_i * 1e3:.2f} ms, plain gather {t_gather_i * 1e3:.3f} ms; "
        f"tight loops: read {t_read * 1e3:.2f} ms, gather {t_gather_hot * 1e3:.3f} ms; bilinear read {t_bil * 1e3:.1f} ms; "
        f"index build {t_build * 1e3:.1f} ms")
    mem = None  # free it

    # ---------------------------------------------------------------- bytes and read_ratio on one segment's frames
    n_lat = 1 + segment_latents
    n_vid = 1 + 4 * segment_latents
    vid_poses = [loop_pose(i, period * 4) for i in range(n_vid)]  # video-rate cameras; latent frame t = video 4t
    lat_poses = torch.stack([vid_poses[4 * t] for t in range(n_lat)])
    lat_d = torch.stack([box_depth(K_lat, p, (h, w)) for p in lat_poses])
    lat_x = torch.randn(n_lat, channels, h, w, generator=g)
    out_bytes = {}
    lat_mems = {}
    for dt in ("float32", "float16", "int8"):
        m = LatentSpatialMemory(channels, dtype=dt)
        m.write(lat_x, lat_d, K_lat[None].expand(n_lat, 3, 3), lat_poses)
        out_bytes[dt] = m.nbytes
        lat_mems[dt] = m
    log(f"[bytes] building the RGB cloud of {n_vid} frames at {W}x{H}")
    rgbm = RGBPointCloudMemory(None, scale_factor_spatial=factor)
    for i, p in enumerate(vid_poses):
        rgb = torch.randint(0, 256, (3, H, W), generator=g, dtype=torch.uint8)
        rgbm.write(rgb, box_depth(K_img, p, (H, W)), K_img, p)
    rgb_bytes = rgbm.nbytes
    res["bytes"] = {"rgb_cloud": rgb_bytes, "rgb_points": rgbm.num_tokens, "video_frames": n_vid, "latent_frames": n_lat,
                    **{f"latent_{k}": v for k, v in out_bytes.items()},
                    "rgb_bytes_per_point": 15, "latent_tokens": lat_mems["float16"].num_tokens}
    res["bytes_ratio_fp16"] = rgb_bytes / out_bytes["float16"]
    res["bytes_ratio_int8"] = rgb_bytes / out_bytes["int8"]
    res["bytes_ratio_fp16_per_stored_frame"] = (rgb_bytes / n_vid) / (out_bytes["float16"] / n_lat)
    res["bytes_ratio_int8_per_stored_frame"] = (rgb_bytes / n_vid) / (out_bytes["int8"] / n_lat)

    # read at the cameras of the next latent frames (between the written ones), same cameras for both memories
    rc = torch.stack([vid_poses[min(4 * t + 2, n_vid - 1)] for t in range(views)])
    Kr = K_lat[None].expand(views, 3, 3).contiguous()
    t_lat = median_time(lambda: lat_mems["float16"].read(Kr, rc, (h, w)), repeats)
    K_full = K_img[None].expand(views, 3, 3).contiguous()
    log(f"[read] rendering {rgbm.num_tokens / 1e6:.1f} M points into {views} views at {W}x{H}")
    t_render = median_time(lambda: rgbm.render(K_full, rc, (H, W)), max(1, repeats // 5), warmup=0)
    rend = rgbm.render(K_full, rc, (H, W))
    enc = {"vae": vae}
    if vae == "wan2.2":
        from diffusers import AutoencoderKLWan  # the benchmark may use diffusers; memory/ does not

        from mirage_world.memory.rgb_memory import encode_with_vae

        torch.manual_seed(0)
        model = AutoencoderKLWan(**WAN22_VAE).eval()
        n_enc = max(1, min(encode_views, views))
        x = rend.latent[:n_enc] * 2 - 1
        log(f"[read] encoding {n_enc} render(s) at {W}x{H} with AutoencoderKLWan (Wan2.2 config, random weights)")
        with torch.no_grad():
            t0 = time.perf_counter()
            for i in range(n_enc):
                z = encode_with_vae(model, x[i : i + 1])
            t_enc_each = (time.perf_counter() - t0) / n_enc
        enc.update(encode_s_per_view=t_enc_each, encoded_views=n_enc, latent_shape=list(z.shape),
                   params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                   note=f"encode time measured on {n_enc} view(s) and scaled x{views / n_enc:g} to {views} views")
        t_rgb = t_render + t_enc_each * views
    else:
        enc["note"] = "no VAE: render time only (a lower bound of the RGB read)"
        t_rgb = t_render
    res["read"] = {"latent_read_s": t_lat, "rgb_render_s": t_render, "rgb_read_s": t_rgb, **enc}
    res["read_ratio"] = t_rgb / t_lat
    res["goals"] = {k: {"goal": f"{op} {v}", "value": res[k], "met": (res[k] >= v) if op == ">=" else (res[k] <= v)}
                    for k, (op, v) in GOALS.items()}
    return res


def format_table(res: dict) -> str:
    """The goal table as text."""
    lines = [f"{'metric':<20} {'value':>12} {'goal':>8}  met", "-" * 48]
    for k, g in res["goals"].items():
        lines.append(f"{k:<20} {g['value']:>12.4g} {g['goal']:>8}  {'yes' if g['met'] else 'NO'}")
    for k in ("gather_ratio_hot_loop", "bytes_ratio_fp16_per_stored_frame", "bytes_ratio_int8_per_stored_frame"):
        lines.append(f"{k:<20} {res[k]:>12.4g}   (info)")
    return "\n".join(lines)


# Limits of ``mirage bench memory``'s own options (documented in their help; the shared ones are in ``common``).
MAX_CHANNELS = 1024  #: --channels
MAX_FACTOR = 64  #: --factor
MAX_SEGMENTS = 10_000  #: --segments (and --early < --segments)
MAX_VIEWS = 64  #: --views (and 1 <= --encode-views <= --views)
MAX_LATENT_VALUES = 2**30  #: 4 x min(--loop, --segments) x latent pixels x --channels (the fused memory's size)


def check_memory_options(width: int, height: int, channels: int, factor: int, segments: int, early: int, loop: int,
                         views: int, voxel_size: float, repeats: int, vae: str, encode_views: int, threads: int) -> None:
    """Check the options of ``mirage bench memory`` before any work (``InputError`` naming the option)."""
    for name, v, lo, hi in (("--factor", factor, 1, MAX_FACTOR), ("--width", width, 1, MAX_SIDE),
                            ("--height", height, 1, MAX_SIDE), ("--channels", channels, 1, MAX_CHANNELS),
                            ("--segments", segments, 2, MAX_SEGMENTS), ("--loop", loop, 1, MAX_LOOP),
                            ("--views", views, 1, MAX_VIEWS), ("--repeats", repeats, 1, MAX_REPEATS),
                            ("--threads", threads, 1, MAX_THREADS)):
        if not lo <= v <= hi:
            raise InputError(f"{name} must be in {lo}..{hi}, got {v}")
    for name, v in (("--width", width), ("--height", height)):
        if v % factor:
            raise InputError(f"{name} {v} must be a multiple of --factor {factor}")
    if not 1 <= early < segments:
        raise InputError(f"--early must be in 1..{segments - 1} (below --segments {segments}), got {early}")
    if not 1 <= encode_views <= views:
        raise InputError(f"--encode-views must be in 1..{views} (at most --views), got {encode_views}")
    if not (math.isfinite(voxel_size) and voxel_size > 0):
        raise InputError(f"--voxel-size must be finite and > 0 metres, got {voxel_size}")
    if vae not in ("wan2.2", "none"):
        raise InputError(f"--vae must be wan2.2 or none, got {vae!r}")
    if views * width * height > MAX_RENDER_PIXELS:
        raise InputError(f"--views x --width x --height = {views * width * height} is over the limit of "
                         f"{MAX_RENDER_PIXELS} (2^26) pixels rendered per read")
    latent = 4 * min(loop, segments) * (width // factor) * (height // factor) * channels
    if latent > MAX_LATENT_VALUES:
        raise InputError(f"4 x min(--loop, --segments) x latent pixels x --channels = {latent} is over the limit of "
                         f"{MAX_LATENT_VALUES} (2^30) memory values (a larger --factor or fewer channels)")


def memory(
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the results here (checked for writability before the run; written at the end)"),
    width: int = typer.Option(1280, help=f"frame width, a multiple of --factor, at most {MAX_SIDE}"),
    height: int = typer.Option(704, help=f"frame height, a multiple of --factor, at most {MAX_SIDE}"),
    channels: int = typer.Option(48, help=f"latent channels, 1..{MAX_CHANNELS}"),
    factor: int = typer.Option(16, help=f"VAE spatial compression, 1..{MAX_FACTOR}"),
    segments: int = typer.Option(100, help=f"segments written, 2..{MAX_SEGMENTS}"),
    early: int = typer.Option(10, help="the early read is after this many segments (1 <= early < segments)"),
    loop: int = typer.Option(10, help=f"segments per closed loop, 1..{MAX_LOOP}"),
    views: int = typer.Option(4, help=f"cameras per read (a segment's latent frames), 1..{MAX_VIEWS}"),
    voxel_size: float = typer.Option(0.05, help="metres (> 0), for the fused memory of flat_ratio / gather_ratio"),
    repeats: int = typer.Option(15, help=f"timed repeats, 1..{MAX_REPEATS}"), vae: str = typer.Option("wan2.2", help="wan2.2 or none"),
    encode_views: int = typer.Option(1, help="views actually VAE-encoded, 1..--views (time scaled to all views)"),
    threads: int = typer.Option(1, help=f"torch threads, 1..{MAX_THREADS} (keep 1 on a shared machine)"),
) -> None:
    """Latent memory vs RGB point-cloud baseline at the Wan2.2-TI2V-5B geometry: read/bytes/flat/gather ratios."""
    from mirage_world.io import OutputSet, check_output_path

    try:
        check_memory_options(width, height, channels, factor, segments, early, loop, views, voxel_size, repeats, vae,
                             encode_views, threads)
        if json_out is not None:
            check_output_path(json_out, "--json")
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    res = run_memory_benchmark(width, height, channels, factor, 4, segments, early, loop, views, voxel_size, repeats,
                               vae, encode_views, threads, log=lambda m: typer.echo(m, err=True))
    typer.echo(format_table(res))
    if json_out is not None:
        try:
            with OutputSet() as outputs:
                try:
                    outputs.temp_path(json_out).write_text(json.dumps(res, indent=2))
                except OSError as e:
                    raise InputError(f"cannot write --json {json_out}: {e}") from None
                outputs.commit()
        except InputError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(code=2)
        typer.echo(f"wrote {json_out}")
