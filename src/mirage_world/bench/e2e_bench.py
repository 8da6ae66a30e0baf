"""``mirage bench e2e`` (issue 11): end-to-end cost per segment, latent memory vs RGB point-cloud cache vs no memory.

One generation of N segments with each memory (latent / rgb / none), same generator and seed, timed per segment
by the pipeline itself (``SegmentInfo``): read / denoise / decode / write seconds and memory bytes after each
segment, at two scales (the embedded model; the Wan2.2-TI2V-5B geometry with the denoiser not run -- see
:mod:`mirage_world.bench`). :func:`run_e2e_benchmark` runs both, :func:`e2e_ratios` computes the RGB / latent
ratios, :func:`format_e2e_markdown` / :func:`format_e2e_text` report them, :func:`check_e2e_options` checks the
options before any work and :func:`e2e` is the command (registered on ``mirage bench`` by the package). Imports
only :mod:`mirage_world.bench.common` and lower layers; the pipeline and diffusers are imported inside functions.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import typer

from mirage_world.defaults import DEFAULT_MODEL, DEFAULT_STEPS, EXAMPLES_DIR
from mirage_world.errors import InputError

from .common import MAX_LOOP, MAX_RENDER_PIXELS, MAX_REPEATS, MAX_SIDE, MAX_THREADS, WAN22_VAE, box_depth, loop_pose

EMBEDDED_MODEL = DEFAULT_MODEL  #: the bundled model (``mirage generate``'s default)
EXAMPLES = EXAMPLES_DIR
E2E_KINDS = ("latent", "rgb", "none")  #: the pipeline's memory backends (``memory_backends.MEMORY_KINDS``)
E2E_GOAL = ("read_write_ratio", ">=", 10.0)  #: at Wan2.2 geometry: RGB read+write / latent read+write per segment
E2E_SCALES = ("embedded", "wan2.2")


def make_wan22_vae(seed: int = 0, **overrides):
    """Random-init ``AutoencoderKLWan`` with the Wan2.2-TI2V-5B architecture (:data:`WAN22_VAE`; no weights are
    downloaded: its cost, not its output, is what the benchmarks use). ``overrides`` shrink it for tests."""
    from diffusers import AutoencoderKLWan

    cfg = {**WAN22_VAE, **overrides}
    z = cfg["z_dim"]  # identity latent normalisation (the published per-channel statistics belong to the weights)
    cfg = {"latents_mean": [0.0] * z, "latents_std": [1.0] * z, **cfg}
    torch.manual_seed(seed)
    return AutoencoderKLWan(**cfg).eval()


def _segment_rows(segments) -> list[dict]:
    return [{"segment": s.index, "frames": list(s.frames), "read_s": s.read_seconds, "denoise_s": s.denoise_seconds,
             "decode_s": s.decode_seconds, "write_s": s.write_seconds, "read_write_s": s.read_seconds + s.write_seconds,
             "total_s": s.seconds, "memory_tokens": s.memory_tokens, "memory_bytes": s.memory_bytes,
             "coverage": s.coverage} for s in segments]


def e2e_ratios(runs: dict) -> dict:
    """Ratios RGB cache / latent memory from the measured rows of one run (``runs[kind]["segments"]``).

    Per-segment medians of each memory's ``read_s``, ``denoise_s``, ``decode_s``, ``write_s``, ``read_write_s`` and
    ``total_s`` (``None`` where the rows hold no measurement); ``read_ratio``, ``write_ratio``,
    ``read_write_ratio``, ``total_ratio`` = RGB median / latent median (when both are measured); ``bytes_ratio`` =
    RGB bytes / latent bytes after the last segment, ``bytes_ratio_per_segment`` after each one. A ratio whose
    latent value is 0 is ``inf``.
    """
    def median(rows, m):
        vals = [r[m] for r in rows]
        return None if any(v is None for v in vals) else statistics.median(vals)

    med = {k: {m: median(runs[k]["segments"], m)
               for m in ("read_s", "denoise_s", "decode_s", "write_s", "read_write_s", "total_s")}
           for k in runs if runs[k]["segments"]}

    def ratio(a, b):
        return a / b if b > 0 else math.inf

    out: dict = {"medians": med}
    if "latent" in med and "rgb" in med:
        lat, rgb = runs["latent"]["segments"], runs["rgb"]["segments"]
        for m in ("read", "write", "read_write", "total"):
            if med["rgb"][f"{m}_s"] is not None and med["latent"][f"{m}_s"] is not None:
                out[f"{m}_ratio"] = ratio(med["rgb"][f"{m}_s"], med["latent"][f"{m}_s"])
        out["bytes_ratio"] = ratio(rgb[-1]["memory_bytes"], lat[-1]["memory_bytes"])
        out["bytes_ratio_per_segment"] = [ratio(b["memory_bytes"], a["memory_bytes"]) for a, b in zip(lat, rgb)]
    return out


def _run_kinds(pipe, kinds, seed: int, log, **call) -> dict:
    runs = {}
    for kind in kinds:
        gen = torch.Generator().manual_seed(seed)  # the same generator and seed for every memory
        t0 = time.perf_counter()
        out = pipe(**call, memory_kind=kind, generator=gen, progress=False,
                   callback=lambda s, k=kind: log(f"  [{k}] segment {s.index}: read {s.read_seconds:.3f} s, denoise "
                                                  f"{s.denoise_seconds:.3f} s, decode {s.decode_seconds:.3f} s, "
                                                  f"write {s.write_seconds:.3f} s, {s.memory_bytes / 1e6:.2f} MB"))
        runs[kind] = {"segments": _segment_rows(out.segments), "wall_s": time.perf_counter() - t0,
                      "frames": int(out.frames.shape[0]), "finite": bool(np.isfinite(out.frames).all())}
    return runs


def run_e2e_embedded(pipe, image, depth, K, c2w, *, height: int, width: int, steps: int = DEFAULT_STEPS, seed: int = 0,
                     segment_frames: int = 16, memory_config=None, kinds=E2E_KINDS, log=print) -> dict:
    """Scale (a): the whole pipeline, real denoising, once per memory kind (same generator seed).

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline` (the embedded model, or a micro one in tests).
        image: ``(H0, W0, 3)`` photo; depth: ``(H0, W0)`` metres; K: ``(3, 3)`` photo pixels; c2w: ``(N, 4, 4)``.
        height, width: output size.

    Returns:
        ``{"settings", "runs": {kind: {"segments": [row, ...], "wall_s", "frames", "finite"}}, "ratios"}`` with the
        rows of :func:`_segment_rows` (the pipeline's own per-step timings) and :func:`e2e_ratios`.
    """
    log(f"[embedded] {len(c2w)} frames at {width}x{height}, {steps} steps, memories {', '.join(kinds)}")
    runs = _run_kinds(pipe, kinds, seed, log, image=image, depth=depth, K=K, c2w=c2w, height=height, width=width,
                      num_inference_steps=steps, segment_frames=segment_frames, memory_config=memory_config)
    settings = {"width": width, "height": height, "frames": int(len(c2w)), "segment_frames": segment_frames,
                "steps": steps, "seed": seed, "vae": type(pipe.vae).__name__,
                "latent_channels": int(pipe.latent_channels), "factor_spatial": pipe.vae_scale_factor_spatial,
                "factor_temporal": pipe.vae_scale_factor_temporal, "denoiser": "run (real sampling)"}
    return {"settings": settings, "runs": runs, "ratios": e2e_ratios(runs)}


def _geometry_only_pipeline(vae):
    """A :class:`~mirage_world.pipelines.MiragePipeline` on ``vae`` whose denoiser and decoder are stand-ins.

    The pipeline's own loop runs unchanged (photo -> memory, then per segment read -> denoise -> decode -> write,
    timed into :class:`~mirage_world.pipelines.SegmentInfo`), so each memory's read and write are exactly the
    pipeline's. Stand-ins (no weights): ``denoise_segment`` returns the read where covered and seeded noise
    elsewhere (what ``guidance="replace"`` with ``guidance_end=0`` keeps), ``decode_latents`` upsamples three
    latent channels to frames, ``encode_frames`` (the photo and each next segment's first frame) pools pixels to
    the latent grid. ``encode_images`` -- the RGB cache's encode of its renders -- is the real ``vae``.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler

    from mirage_world.models.tiny import make_tiny_transformer
    from mirage_world.pipelines import MiragePipeline

    class GeometryOnlyPipeline(MiragePipeline):
        @torch.no_grad()
        def denoise_segment(self, first_latent, read, num_inference_steps, generator, guidance="replace",
                            guidance_end=0.0, start_sigma=1.0):
            T, C, h, w = read.latent.shape
            noise = torch.randn((1, C, T, h, w), generator=generator)  # (1, C, T, h, w)
            covered = (read.mask > 0).permute(1, 0, 2, 3)[None]  # (1, 1, T, h, w)
            lat = torch.where(covered, read.latent.permute(1, 0, 2, 3)[None].float(), noise)  # (1, C, T, h, w)
            lat[:, :, :1] = first_latent
            return lat

        @torch.no_grad()
        def decode_latents(self, latents):
            f, ft = self.vae_scale_factor_spatial, self.vae_scale_factor_temporal
            x = torch.sigmoid(latents[:, :3].float())  # (B, 3, T, h, w)
            x = torch.cat([x[:, :, :1], x[:, :, 1:].repeat_interleave(ft, 2)], 2)  # (B, 3, 1 + ft (T - 1), h, w)
            return x.repeat_interleave(f, -2).repeat_interleave(f, -1)  # (B, 3, F, H, W)

        @torch.no_grad()
        def encode_frames(self, frames):
            f, ft = self.vae_scale_factor_spatial, self.vae_scale_factor_temporal
            x = torch.nn.functional.avg_pool3d(frames[:, :, ::ft].float(), (1, f, f)) * 2 - 1  # (B, 3, T, h, w)
            C = self.latent_channels
            return x.repeat(1, -(-C // 3), 1, 1, 1)[:, :C]  # (B, C, T, h, w)

        @torch.no_grad()
        def encode_images(self, images):
            return torch.cat([super(GeometryOnlyPipeline, self).encode_frames(images[i : i + 1, :, None])[:, :, 0]
                              for i in range(images.shape[0])])  # (V, C, h, w), the real VAE

    C = int(vae.config.z_dim)
    tr = make_tiny_transformer(C, num_attention_heads=1, attention_head_dim=8, ffn_dim=8, num_layers=1, freq_dim=8)
    pipe = GeometryOnlyPipeline(vae=vae, transformer=tr, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_e2e_geometry(vae, width: int = 1280, height: int = 704, segments: int = 2, segment_frames: int = 16,
                     loop: int = 10, seed: int = 0, memory_config=None, kinds=E2E_KINDS, log=print) -> dict:
    """Scale (b): the pipeline's loop at a large model's geometry with the denoiser and decoder NOT run (no
    weights), each memory's read and write run exactly as in the pipeline (see :func:`_geometry_only_pipeline`).

    Scene: the analytic box room of ``mirage bench memory`` (exact depth), a random photo at ``width x height``
    with a 90 degree horizontal field of view, the closed loop :func:`loop_pose` with one full turn per ``loop``
    segments (a turn of ``360 / loop`` degrees per segment: each segment sees new walls).

    Returns:
        like :func:`run_e2e_embedded`.
    """
    pipe = _geometry_only_pipeline(vae)
    f = pipe.vae_scale_factor_spatial
    n = 1 + segments * segment_frames
    K = torch.tensor([[width / 2, 0, width / 2], [0, width / 2, height / 2], [0, 0, 1]], dtype=torch.float32)
    c2w = torch.stack([loop_pose(i, loop * segment_frames) for i in range(n)])
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (height, width, 3), generator=g, dtype=torch.uint8).numpy()
    depth = box_depth(K, c2w[0], (height, width))
    log(f"[{vae.__class__.__name__} geometry] {n} frames at {width}x{height} ({height // f}x{width // f} latent grid, "
        f"{pipe.latent_channels} channels), denoiser and decoder not run; memories {', '.join(kinds)}")
    runs = _run_kinds(pipe, kinds, seed, log, image=image, depth=depth, K=K, c2w=c2w, height=height, width=width,
                      num_inference_steps=1, segment_frames=segment_frames, memory_config=memory_config)
    for r in runs.values():
        for row in r["segments"]:
            row["denoise_s"] = row["decode_s"] = row["total_s"] = None  # stand-ins: not a measurement of a model
    settings = {"width": width, "height": height, "frames": n, "segment_frames": segment_frames,
                "latent_frames_per_read": segment_frames // pipe.vae_scale_factor_temporal + 1, "seed": seed,
                "loop_segments": loop, "vae": f"AutoencoderKLWan {dict(vae.config).get('base_dim')}/"
                                               f"{dict(vae.config).get('z_dim')} (random init, real architecture)",
                "latent_channels": int(pipe.latent_channels), "factor_spatial": f,
                "factor_temporal": pipe.vae_scale_factor_temporal,
                "denoiser": "NOT run (no weights): denoise and decode are stand-ins; read and write are the "
                            "pipeline's, the RGB cache's encode is the VAE above"}
    return {"settings": settings, "runs": runs, "ratios": e2e_ratios(runs)}


def _embedded_inputs(example: str, trajectory: str | None, frames: int):
    """Photo (uint8), depth (m), ``K`` (photo pixels) and camera path of a bundled example."""
    from mirage_world.geometry.trajectory import load_trajectory
    from mirage_world.io import load_depth, load_image

    ex = EXAMPLES / example
    meta = json.loads((ex / "example.json").read_text())
    img = load_image(ex / meta["image"])
    dep = load_depth(ex / meta["depth"], depth_scale=float(meta.get("depth_scale", 1000.0)))
    fx, fy, cx, cy = (float(v) for v in meta["intrinsics"])
    K = torch.tensor([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=torch.float64)
    spec = trajectory or meta.get("trajectory", "orbit_left")
    if (ex / spec).is_file():
        spec = str(ex / spec)
    traj = load_trajectory(spec, frames, depth_m=dep)
    return img, dep, K, traj.c2w.float(), spec


def run_e2e_benchmark(segments: int = 2, embedded_segments: int = 3, example: str = "tum_desk",
                      trajectory: str | None = None, steps: int = DEFAULT_STEPS, seed: int = 0, width: int = 1280,
                      height: int = 704, loop: int = 10, threads: int = 1, scales=E2E_SCALES, log=print) -> dict:
    """``mirage bench e2e``: both scales in one run (see :func:`run_e2e_embedded`, :func:`run_e2e_geometry`).

    Returns:
        ``{"settings", "embedded", "wan2.2", "goal"}``; ``goal`` compares the Wan2.2-geometry ``read_write_ratio``
        with :data:`E2E_GOAL` (only when that scale ran).
    """
    import os

    torch.set_num_threads(threads)
    res: dict = {"settings": {"threads": threads, "torch": torch.__version__, "machine": platform.platform(),
                              "processor": platform.processor(), "cpus": os.cpu_count(), "scales": list(scales),
                              "load_average_start": os.getloadavg()[0]}}
    if "embedded" in scales:
        from mirage_world.pipelines import MiragePipeline
        from mirage_world.pipelines.pipeline_mirage import default_size

        img, dep, K, c2w, spec = _embedded_inputs(example, trajectory, 1 + 16 * embedded_segments)
        pipe = MiragePipeline.from_pretrained(str(EMBEDDED_MODEL), dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
        W, H = default_size(img.shape[1], img.shape[0], pipe.size_multiple)
        res["embedded"] = run_e2e_embedded(pipe, img, dep, K, c2w, height=H, width=W, steps=steps, seed=seed, log=log)
        res["embedded"]["settings"].update(model="mirage-tiny (bundled)", example=example, trajectory=spec)
    if "wan2.2" in scales:
        res["wan2.2"] = run_e2e_geometry(make_wan22_vae(), width, height, segments, 16, loop, seed, log=log)
        name, op, goal = E2E_GOAL
        v = res["wan2.2"]["ratios"][name]
        res["goal"] = {"metric": f"wan2.2 {name}", "goal": f"{op} {goal:g}", "value": v, "met": v >= goal}
    res["settings"]["load_average_end"] = os.getloadavg()[0]
    return res


def _fmt(v, digits=3) -> str:
    if v is None:
        return "--"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _scale_table(block: dict) -> list[str]:
    lines = ["| memory | segment | read s | denoise s | decode s | write s | read+write s | MB after | tokens after |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind, run in block["runs"].items():
        for r in run["segments"]:
            lines.append(f"| {kind} | {r['segment']} | {_fmt(r['read_s'])} | {_fmt(r['denoise_s'])} | "
                         f"{_fmt(r['decode_s'])} | {_fmt(r['write_s'])} | {_fmt(r['read_write_s'])} | "
                         f"{r['memory_bytes'] / 1e6:.3f} | {r['memory_tokens']} |")
    lines += ["", "| memory | median read s | median write s | median read+write s | median segment s |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for kind, m in block["ratios"]["medians"].items():
        lines.append(f"| {kind} | {_fmt(m['read_s'], 4)} | {_fmt(m['write_s'], 4)} | {_fmt(m['read_write_s'], 4)} | "
                     f"{_fmt(m.get('total_s'), 3)} |")
    r = block["ratios"]
    if "read_write_ratio" in r:
        lines += ["", "RGB cache / latent memory, per-segment medians of this run: "
                  f"read {_fmt(r['read_ratio'], 1)}x, write {_fmt(r['write_ratio'], 1)}x, "
                  f"**read+write {_fmt(r['read_write_ratio'], 1)}x**"
                  + (f", whole segment {_fmt(r['total_ratio'], 2)}x" if "total_ratio" in r else "")
                  + f"; bytes after the last segment {_fmt(r['bytes_ratio'], 1)}x "
                  f"(per segment: {', '.join(_fmt(b, 1) for b in r['bytes_ratio_per_segment'])})."]
    return lines


def format_e2e_markdown(res: dict, command: str = "mirage bench e2e") -> str:
    """The e2e result as Markdown (settings, per-segment tables, ratios, goal)."""
    s = res["settings"]
    lines = ["# End-to-end cost per segment: latent memory vs RGB point-cloud cache vs no memory", "",
             f"Command: `{command}` ({s['threads']} torch thread(s), torch {s['torch']}, {s['machine']}). "
             "Times are the pipeline's own per-step timings (`SegmentInfo`), one generation per memory with the same "
             "generator and seed; ratios are RGB / latent, from the medians below."
             + (f" Machine load (1-minute load average) at start / end: {s['load_average_start']:.1f} / "
                f"{s['load_average_end']:.1f} on {s['cpus']} CPUs" if "load_average_end" in s else "")
             + (": above the thread count, other processes shared the CPUs and single timings (denoise and decode "
                "above all) are noisy; the medians and the ratios of the memory steps are what this table is for."
                if max(s.get("load_average_start", 0), s.get("load_average_end", 0)) > s["threads"] + 0.5
                else "." if "load_average_end" in s else ""), ""]
    if "embedded" in res:
        e = res["embedded"]["settings"]
        lines += [f"## (a) Embedded model end to end: {e['width']}x{e['height']}, {e['frames']} frames, "
                  f"{e['steps']} steps, {e['vae']} ({e['latent_channels']} ch, {e['factor_spatial']}x)", "",
                  f"Model {e.get('model', '')}, example `{e.get('example', '')}`, path `{e.get('trajectory', '')}`. "
                  "Real denoising and decoding; the RGB cache's read renders at full resolution and encodes with "
                  "the model's own VAE.", ""]
        lines += _scale_table(res["embedded"]) + [""]
    if "wan2.2" in res:
        w = res["wan2.2"]["settings"]
        lines += [f"## (b) Wan2.2-TI2V-5B geometry: {w['width']}x{w['height']}, {w['latent_channels']} latent "
                  f"channels, {w['factor_spatial']}x spatial / {w['factor_temporal']}x temporal, "
                  f"{w['segment_frames']}-frame segments ({w['latent_frames_per_read']} latent frames per read)", "",
                  f"**The denoiser is not run** (no Wan2.2 weights here): denoise and decode are stand-ins and are "
                  f"not reported. Read and write are the pipeline's own calls (`MiragePipeline.__call__` with each "
                  f"memory backend); the RGB cache's read renders its point cloud at {w['width']}x{w['height']} "
                  f"and encodes every latent frame's view with {w['vae']}. "
                  f"Camera: a closed loop in a box room, one turn per {w['loop_segments']} segments.", ""]
        lines += _scale_table(res["wan2.2"]) + [""]
    if "goal" in res:
        g = res["goal"]
        lines += [f"**Goal** (issue 11): {g['metric']} {g['goal']} -> measured {_fmt(g['value'], 1)}x: "
                  f"{'met' if g['met'] else 'NOT met'}.", ""]
    return "\n".join(lines)


def format_e2e_text(res: dict) -> str:
    """A short text summary (the command prints it; the Markdown has the tables)."""
    lines = []
    for scale in ("embedded", "wan2.2"):
        if scale not in res:
            continue
        r = res[scale]["ratios"]
        lines.append(f"[{scale}] per-segment medians (s):")
        for kind, m in r["medians"].items():
            lines.append(f"  {kind:<7} read {_fmt(m['read_s'], 4):>9}  write {_fmt(m['write_s'], 4):>9}  "
                         f"read+write {_fmt(m['read_write_s'], 4):>9}")
        if "read_write_ratio" in r:
            lines.append(f"  rgb/latent: read {_fmt(r['read_ratio'], 1)}x, write {_fmt(r['write_ratio'], 1)}x, "
                         f"read+write {_fmt(r['read_write_ratio'], 1)}x, bytes {_fmt(r['bytes_ratio'], 1)}x")
    if "goal" in res:
        g = res["goal"]
        lines.append(f"goal: {g['metric']} {g['goal']}: {_fmt(g['value'], 1)} -> {'met' if g['met'] else 'NOT met'}")
    return "\n".join(lines)


MAX_E2E_SEGMENTS = 64  #: --segments / --embedded-segments


def check_e2e_options(segments: int, embedded_segments: int, example: str, steps: int, seed: int, width: int,
                      height: int, loop: int, threads: int, scales: str) -> tuple[str, ...]:
    """Check the options of ``mirage bench e2e`` before any work (``InputError`` naming the option); returns the
    scales."""
    for name, v, lo, hi in (("--segments", segments, 1, MAX_E2E_SEGMENTS),
                            ("--embedded-segments", embedded_segments, 1, MAX_E2E_SEGMENTS),
                            ("--steps", steps, 1, MAX_REPEATS), ("--seed", seed, 0, 2**63 - 1),
                            ("--width", width, 32, MAX_SIDE), ("--height", height, 32, MAX_SIDE),
                            ("--loop", loop, 1, MAX_LOOP), ("--threads", threads, 1, MAX_THREADS)):
        if not lo <= v <= hi:
            raise InputError(f"{name} must be in {lo}..{hi}, got {v}")
    for name, v in (("--width", width), ("--height", height)):
        if v % 32:
            raise InputError(f"{name} {v} must be a multiple of 32 (16x VAE x 2x2 patches)")
    if width * height > MAX_RENDER_PIXELS // 16:
        raise InputError(f"--width x --height = {width * height} is over the limit of {MAX_RENDER_PIXELS // 16} pixels")
    names = sorted(p.name for p in EXAMPLES.iterdir() if (p / "example.json").is_file()) if EXAMPLES.is_dir() else []
    if example not in names:
        raise InputError(f"--example must be one of {', '.join(names) or 'none'}, got {example!r}")
    out = tuple(s.strip() for s in scales.split(",") if s.strip())
    if not out or any(s not in E2E_SCALES for s in out) or len(set(out)) != len(out):
        raise InputError(f"--scales must be a comma-separated subset of {','.join(E2E_SCALES)}, got {scales!r}")
    return out


def e2e(
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the results here (checked before the run)"),
    md_out: Optional[Path] = typer.Option(None, "--md", help="write the Markdown tables here (checked before the run)"),
    segments: int = typer.Option(2, help=f"segments at Wan2.2 geometry (each RGB read encodes 5+ views at full "
                                         f"size: minutes on a CPU), 1..{MAX_E2E_SEGMENTS}"),
    embedded_segments: int = typer.Option(3, help=f"segments of the embedded model's run, 1..{MAX_E2E_SEGMENTS}"),
    example: str = typer.Option("tum_desk", help="bundled example (photo, depth, K, path) of the embedded run"),
    trajectory: Optional[str] = typer.Option(None, help="camera path of the embedded run (default: the example's)"),
    steps: int = typer.Option(DEFAULT_STEPS, help="denoising steps of the embedded run (as mirage generate)"),
    seed: int = typer.Option(0, help="seed of every run (the same for each memory)"),
    width: int = typer.Option(1280, help="Wan2.2-geometry frame width, a multiple of 32"),
    height: int = typer.Option(704, help="Wan2.2-geometry frame height, a multiple of 32"),
    loop: int = typer.Option(10, help="Wan2.2-geometry camera: one full turn per this many segments"),
    threads: int = typer.Option(1, help=f"torch threads, 1..{MAX_THREADS} (keep 1 on a shared machine)"),
    scales: str = typer.Option("embedded,wan2.2", help="which scales to run: embedded, wan2.2 or both"),
) -> None:
    """End-to-end cost per segment, latent vs RGB cache vs no memory: the embedded model, and Wan2.2 geometry."""
    from mirage_world.io import OutputSet, check_output_path

    try:
        sc = check_e2e_options(segments, embedded_segments, example, steps, seed, width, height, loop, threads, scales)
        for p, what in ((json_out, "--json"), (md_out, "--md")):
            if p is not None:
                check_output_path(p, what)
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    try:
        res = run_e2e_benchmark(segments, embedded_segments, example, trajectory, steps, seed, width, height, loop,
                                threads, sc, log=lambda m: typer.echo(m, err=True))
    except InputError as e:  # e.g. a bad --trajectory, found when the path is read
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    typer.echo(format_e2e_text(res))
    cmd = "mirage bench e2e " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("segments", segments), ("embedded_segments", embedded_segments),
                                                    ("threads", threads)))
    try:
        with OutputSet() as outputs:
            try:
                if json_out is not None:
                    outputs.temp_path(json_out).write_text(json.dumps(res, indent=1))
                if md_out is not None:
                    outputs.temp_path(md_out).write_text(format_e2e_markdown(res, cmd))
            except OSError as e:
                raise InputError(f"cannot write the results: {e}") from None
            outputs.commit()
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    for p in (json_out, md_out):
        if p is not None:
            typer.echo(f"wrote {p}")
