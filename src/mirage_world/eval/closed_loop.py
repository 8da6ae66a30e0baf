"""Closed-loop consistency benchmark: ``mirage eval closed-loop --out DIR``.

When the camera comes back, is the scene still there? The same generator, the same seed and the same sampler run
with each memory of :mod:`mirage_world.pipelines.memory_backends` -- ``latent`` (Mirage), ``rgb`` (the peers' RGB
point cloud read by full-resolution rendering + VAE encoding) and ``none`` -- along closed camera paths, and the
frames where the camera revisits an earlier view are scored (Mirage, arXiv 2606.09828, Sec. 4: PSNR_C / SSIM_C /
LPIPS_C; computed by :func:`mirage_world.eval.metrics.revisit_scores`).

Cases (built by :mod:`mirage_world.eval.cases`, which also decides the revisit frames):

* **Procedural worlds** (exact ground truth): up to 12 clips of the worlds' closed-loop split (4 static scenes x
  ``out_and_back``, ``orbit_360``, ``look_away_and_back``), rendered at the benchmark's size; every generated frame
  is compared with the rendered ground truth of its camera.
* **Real photos** (no ground truth beyond the photo): TUM RGB-D, NYU Depth v2 and SUN RGB-D along closed presets
  that return exactly to the photo's camera. Scored: the last frame against the photo (PSNR / SSIM / LPIPS), and
  every frame against the photo warped by its depth on the pixels the warp covers
  (:func:`mirage_world.eval.consistency.consistency_metrics`).

This module generates (:func:`generate`), scores and summarises (:func:`run_closed_loop`), writes the Markdown
tables (:func:`format_markdown`) and holds the typer command (:func:`closed_loop`) with the option checks it shares
with the other eval commands (:func:`check_common_options`, :func:`load_pipeline`, :func:`write_outputs`).

Also reported for every case: ``PSNR_self``, the mean PSNR of each revisit frame against the frame generated at its
first visit (does the model show the same thing twice, right or wrong), and the time per generation split into
read / denoise / decode / write.

Figures are means over cases (each case weighs the same; within a case, over its revisit frames). ``PSNR_all``
etc. are over all frames of a video, frame 0 (the photo's VAE round trip, identical for all memories) included.
Full frames are scored (sky too). LPIPS needs the ``lpips`` package and its AlexNet weights on this machine
(:func:`mirage_world.eval.metrics.lpips_available`); without them the LPIPS figures are ``None`` and the JSON says
why.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import typer

from mirage_world.defaults import DEFAULT_MODEL, DEFAULT_STEPS
from mirage_world.errors import InputError
from mirage_world.eval.cases import (
    DEFAULT_REAL_DATA,
    LEAVE_DEG,
    LEAVE_M,
    REAL_PHOTOS,
    REAL_TRAJECTORIES,
    REVISIT_TOL_DEG,
    REVISIT_TOL_M,
    ClosedLoopCase,
    real_cases,
    world_cases,
)
from mirage_world.eval.consistency import consistency_metrics, save_contact_sheet
from mirage_world.eval.metrics import lpips_available, psnr, revisit_scores

__all__ = [
    "MEMORIES",
    "TARGETS",
    "generate",
    "run_closed_loop",
    "format_markdown",
    "check_common_options",
    "load_pipeline",
    "write_outputs",
    "closed_loop",
]

#: Memories compared, as ``MiragePipeline(memory_kind=...)`` spells them.
MEMORIES = ("latent", "rgb", "none")
#: The issue's targets on the worlds' revisit PSNR_C (dB): latent - none >= 6, latent - rgb >= -1.
TARGETS = {"latent_minus_none_db": 6.0, "latent_minus_rgb_db": -1.0}

DEFAULT_FRAMES = 33
DEFAULT_SIZE = "128x96"
MAX_FRAMES = 1025
MAX_SIDE = 1024
MAX_STEPS = 1000
MAX_THREADS = 256


# ----------------------------------------------------------------------------------------------------------------
# generation and scoring


def generate(pipe, case: ClosedLoopCase, memory: str, *, width: int, height: int, steps: int, seed: int):
    """Generate along ``case.c2w`` with memory ``memory`` (the ``mirage generate`` defaults otherwise).

    Returns:
        ``(frames (N, H, W, 3) float32 in [0, 1], segments (list of SegmentInfo), seconds)``.
    """
    t0 = time.perf_counter()
    out = pipe(case.image, case.depth, case.K, case.c2w, height=height, width=width, num_inference_steps=steps,
               generator=torch.Generator().manual_seed(seed), memory_kind=memory, progress=False)
    return np.clip(out.frames, 0.0, 1.0), out.segments, time.perf_counter() - t0


def _round(x, n=4):
    return None if x is None else round(float(x), n)


def _self_psnr(frames: np.ndarray, revisits: dict) -> Optional[float]:
    """Mean PSNR (each frame capped at 100 dB) of every revisit frame against the frame generated at its first visit."""
    if not revisits:
        return None
    j = sorted(revisits)
    vals = np.minimum(psnr(frames[j], frames[[revisits[k] for k in j]]), 100.0)
    return float(np.mean(vals))


def _timing(segments, seconds: float) -> dict:
    n = max(1, len(segments))
    per = {k: sum(getattr(s, f"{k}_seconds") for s in segments) / n for k in ("read", "denoise", "decode", "write")}
    return {"seconds": _round(seconds, 3), "segments": len(segments),
            **{f"{k}_s_per_segment": _round(v, 4) for k, v in per.items()},
            "memory_tokens": segments[-1].memory_tokens if segments else 0,
            "memory_bytes": segments[-1].memory_bytes if segments else 0}


def _score_world(frames: np.ndarray, case: ClosedLoopCase) -> dict:
    r = revisit_scores(frames, case.ground_truth, sorted(case.revisits))
    row = {k: _round(r[k]) for k in ("PSNR_C", "SSIM_C", "LPIPS_C", "PSNR_all", "SSIM_all", "LPIPS_all")}
    row["PSNR_self"] = _round(_self_psnr(frames, case.revisits))
    row["per_frame_psnr"] = [_round(v, 3) for v in r["per_frame"]["psnr"]]
    row["per_frame_ssim"] = [_round(v, 4) for v in r["per_frame"]["ssim"]]
    return row


def _score_real(frames: np.ndarray, case: ClosedLoopCase, photo: np.ndarray, depth: np.ndarray, K) -> dict:
    last = revisit_scores(frames[-1:], photo[None], [0])
    cm = consistency_metrics(frames, photo, depth, K, case.c2w.double().numpy())
    return {"PSNR_last": _round(last["PSNR_C"]), "SSIM_last": _round(last["SSIM_C"]),
            "LPIPS_last": _round(last["LPIPS_C"]), "PSNR_covered": _round(cm["covered_psnr_mean"]),
            "covered_fraction": _round(cm["covered_fraction_mean"]), "PSNR_self": _round(_self_psnr(frames, case.revisits)),
            "per_frame_covered_psnr": [_round(v, 3) for v in cm["per_frame_covered_psnr"]]}


def _mean(rows, key) -> Optional[float]:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return _round(np.mean(vals)) if vals else None


_WORLD_KEYS = ("PSNR_C", "SSIM_C", "LPIPS_C", "PSNR_all", "SSIM_all", "LPIPS_all", "PSNR_self")
_REAL_KEYS = ("PSNR_last", "SSIM_last", "LPIPS_last", "PSNR_covered", "PSNR_self")


def _summary(rows: list[dict], memories) -> dict:
    out = {}
    for m in memories:
        mine = [r for r in rows if r["memory"] == m]
        world = [r for r in mine if r["source"] == "world"]
        real = [r for r in mine if r["source"] == "real"]
        paths = sorted({r["path"] for r in world})
        out[m] = {
            "world": {"clips": len(world), **{k: _mean(world, k) for k in _WORLD_KEYS},
                      "by_path": {p: {k: _mean([r for r in world if r["path"] == p], k) for k in ("PSNR_C", "SSIM_C")}
                                  for p in paths}},
            "real": {"cases": len(real), **{k: _mean(real, k) for k in _REAL_KEYS}},
            "seconds_per_generation": _mean(mine, "seconds"),
            "read_plus_write_s_per_segment": _round(np.mean([r["read_s_per_segment"] + r["write_s_per_segment"]
                                                              for r in mine]), 4) if mine else None,
        }
    return out


def _targets(summary: dict) -> dict:
    def psnr_c(m):
        return summary.get(m, {}).get("world", {}).get("PSNR_C")

    lat, rgb, none = psnr_c("latent"), psnr_c("rgb"), psnr_c("none")
    out = {}
    if lat is not None and none is not None:
        d = lat - none
        out["latent_minus_none_db"] = {"value": _round(d, 2), "target": f">= {TARGETS['latent_minus_none_db']}",
                                       "met": bool(d >= TARGETS["latent_minus_none_db"])}
    if lat is not None and rgb is not None:
        d = lat - rgb
        out["latent_minus_rgb_db"] = {"value": _round(d, 2), "target": f">= {TARGETS['latent_minus_rgb_db']}",
                                      "met": bool(d >= TARGETS["latent_minus_rgb_db"])}
    return out


def run_closed_loop(pipe, cases: list[ClosedLoopCase], memories=MEMORIES, *, width: int, height: int, steps: int,
                    seed: int = 0, keep_frames_of: Optional[str] = None,
                    log: Callable[[str], None] = lambda m: None) -> dict:
    """Generate every case with every memory (same seed) and score it.

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline`.
        cases: from :func:`~mirage_world.eval.cases.world_cases` / :func:`~mirage_world.eval.cases.real_cases`.
        memories: subset of :data:`MEMORIES`.
        width, height: output size (multiples of ``pipe.size_multiple``).
        steps: sampler steps per segment; seed: noise seed (the same for every memory).
        keep_frames_of: name of one case whose generated videos are returned (for contact sheets).
        log: progress messages.

    Returns:
        JSON-ready dict: ``config``, ``rows`` (one per case x memory: scores, timing, memory size), ``summary`` (per
        memory: means over world clips, over real cases, and by path), ``targets`` (the issue's, on the worlds'
        PSNR_C), ``lpips_note``; plus ``"frames"``: ``{memory: (N, H, W, 3)}`` of ``keep_frames_of`` (not JSON).

    Raises:
        ValueError: unknown memory; the pipeline's own input errors.
    """
    bad = [m for m in memories if m not in MEMORIES]
    if bad or not memories:
        raise InputError(f"memories must be a non-empty subset of {MEMORIES}, got {list(memories)}")
    rows, kept = [], {}
    for case in cases:
        photo = depth = K = None
        if case.source == "real":
            photo, depth, K, _ = pipe.prepare_inputs(case.image, case.depth, torch.as_tensor(case.K), None,
                                                     height, width)
            photo, depth, K = photo.numpy(), depth.numpy(), K.double().numpy()
        for m in memories:
            frames, segments, seconds = generate(pipe, case, m, width=width, height=height, steps=steps, seed=seed)
            if not np.isfinite(frames).all():
                raise RuntimeError(f"{case.name} / {m}: the generated frames contain NaN or inf")
            row = {"case": case.name, "source": case.source, "path": case.path, "memory": m,
                   "frames": int(frames.shape[0]), "revisit_frames": sorted(case.revisits),
                   **_timing(segments, seconds)}
            if case.source == "world":
                row.update(_score_world(frames, case))
                msg = f"PSNR_C {row['PSNR_C']:.2f} dB, all {row['PSNR_all']:.2f} dB"
            else:
                row.update(_score_real(frames, case, photo, depth, K))
                msg = f"last frame {row['PSNR_last']:.2f} dB, covered {row['PSNR_covered']:.2f} dB"
            rows.append(row)
            if case.name == keep_frames_of:
                kept[m] = frames
            log(f"{case.name:28s} {m:6s} {msg} ({seconds:.1f} s)")
    summary = _summary(rows, memories)
    ok, note = lpips_available()
    return {
        "config": {"width": width, "height": height, "steps": steps, "seed": seed, "memories": list(memories),
                   "cases": [{"name": c.name, "source": c.source, "path": c.path, "frames": int(c.c2w.shape[0]),
                              "revisit_frames": sorted(c.revisits), **c.meta} for c in cases],
                   "revisit_rule": {"tol_m": REVISIT_TOL_M, "tol_deg": REVISIT_TOL_DEG, "leave_m": LEAVE_M,
                                    "leave_deg": LEAVE_DEG},
                   "torch_threads": torch.get_num_threads()},
        "summary": summary,
        "targets": _targets(summary),
        "lpips_note": None if ok else note,
        "rows": rows,
        "frames": kept,
    }


# ----------------------------------------------------------------------------------------------------------------
# report


def _fmt(x, n=2) -> str:
    return "--" if x is None else f"{x:.{n}f}"


def format_markdown(result: dict, command: str | None = None) -> str:
    """The Markdown tables of a :func:`run_closed_loop` result (what the README shows)."""
    s, cfg = result["summary"], result["config"]
    mems = cfg["memories"]
    n_world = max((s[m]["world"]["clips"] for m in mems), default=0)
    n_real = max((s[m]["real"]["cases"] for m in mems), default=0)
    lines = []
    if command:
        lines += [f"`{command}`", ""]
    lines += [f"{cfg['width']}x{cfg['height']}, {cfg['steps']} steps, seed {cfg['seed']}, the same generator and "
              f"seed for every memory; {n_world} procedural closed-loop clips, {n_real} real photo x path cases.", ""]
    if n_world:
        lines += ["Procedural worlds (ground truth for every frame): PSNR_C / SSIM_C / LPIPS_C on the frames where "
                  "the camera revisits an earlier view, the same on all frames, and revisit frames against the frame "
                  "generated at the first visit (self).", "",
                  "| memory | PSNR_C (dB) | SSIM_C | LPIPS_C | PSNR all (dB) | SSIM all | LPIPS all | PSNR self (dB) "
                  "| s / video | read+write s / segment |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for m in mems:
            w = s[m]["world"]
            lines.append(f"| {m} | {_fmt(w['PSNR_C'])} | {_fmt(w['SSIM_C'], 3)} | {_fmt(w['LPIPS_C'], 3)} | "
                         f"{_fmt(w['PSNR_all'])} | {_fmt(w['SSIM_all'], 3)} | {_fmt(w['LPIPS_all'], 3)} | "
                         f"{_fmt(w['PSNR_self'])} | {_fmt(s[m]['seconds_per_generation'], 1)} | "
                         f"{_fmt(s[m]['read_plus_write_s_per_segment'], 3)} |")
        paths = sorted({p for m in mems for p in s[m]["world"]["by_path"]})
        lines += ["", "PSNR_C (dB) by path: " + "; ".join(
            f"{p}: " + ", ".join(f"{m} {_fmt(s[m]['world']['by_path'].get(p, {}).get('PSNR_C'))}" for m in mems)
            for p in paths), ""]
    if n_real:
        lines += ["Real photos (TUM / NYU / SUN RGB-D; the camera comes back to the photo): last frame against the "
                  "photo, and all frames against the photo warped by its depth (covered pixels).", "",
                  "| memory | last frame PSNR (dB) | last frame SSIM | last frame LPIPS | covered PSNR (dB) "
                  "| PSNR self (dB) |", "| --- | --- | --- | --- | --- | --- |"]
        for m in mems:
            r = s[m]["real"]
            lines.append(f"| {m} | {_fmt(r['PSNR_last'])} | {_fmt(r['SSIM_last'], 3)} | {_fmt(r['LPIPS_last'], 3)} | "
                         f"{_fmt(r['PSNR_covered'])} | {_fmt(r['PSNR_self'])} |")
        lines.append("")
    labels = {"latent_minus_none_db": "latent - none", "latent_minus_rgb_db": "latent - rgb"}
    for name, t in result["targets"].items():
        lines.append(f"- target, worlds' PSNR_C {labels.get(name, name)} {t['target']} dB: {_fmt(t['value'])} dB, "
                     f"{'met' if t['met'] else 'missed'}")
    if result.get("lpips_note"):
        lines.append(f"- {result['lpips_note']}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------------------
# command


def _parse_list(text: str, allowed, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items or len(set(items)) != len(items):
        raise InputError(f"{what} must be a comma-separated list of distinct names from {', '.join(allowed)}, "
                         f"got {text!r}")
    return items


def check_common_options(out: Path, size: str, steps: int, threads: int, model: Optional[Path]) -> tuple[int, int, Path]:
    """Checks shared by the eval commands (nothing read but config files, nothing written).

    Returns:
        ``(width, height, model folder)``.

    Raises:
        InputError: bad option values, an unwritable ``--out`` folder, a model folder without configs.
    """
    from mirage_world.io import check_output_path, parse_size
    from mirage_world.loading import model_geometry

    check_output_path(out, "--out", folder=True)
    w, h = parse_size(size, "--size", min_side=16, max_side=MAX_SIDE)
    if not 1 <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be in 1..{MAX_STEPS}, got {steps}")
    if not 1 <= threads <= MAX_THREADS:
        raise InputError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")
    model = DEFAULT_MODEL if model is None else Path(model)
    geometry = model_geometry(model)  # config files only
    multiple = None if geometry is None else geometry[0]
    if multiple is not None and (w % multiple or h % multiple):
        raise InputError(f"--size {size} must be multiples of {multiple} (this model's size multiple)")
    return w, h, model


def load_pipeline(model: Path, threads: int):
    """The pipeline of ``model`` in float32 on the CPU, progress bars off (the embedded model as ``mirage generate``
    loads it by default; :func:`mirage_world.loading.load_pipeline` places larger models on devices).

    Raises:
        InputError: it cannot be loaded.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(threads)
    from mirage_world.pipelines import MiragePipeline

    try:
        pipe = MiragePipeline.from_pretrained(str(model), dtype=torch.float32)
    except (OSError, KeyError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise InputError(f"cannot load the pipeline from {model}: {type(e).__name__}: {e}") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_outputs(files: dict, texts: dict) -> list[Path]:
    """Write PNG contact sheets (``{path: frames}``) and text files (``{path: str}``) under temporary names, then
    rename them together (:class:`mirage_world.io.OutputSet`).

    Raises:
        InputError: a write failed (nothing is left behind).
    """
    from mirage_world.io import OutputSet

    with OutputSet() as outputs:
        try:
            for path, (frames, every) in files.items():
                save_contact_sheet(frames, outputs.temp_path(path), every=every)
            for path, text in texts.items():
                outputs.temp_path(path).write_text(text)
        except OSError as e:
            raise InputError(f"cannot write the outputs: {type(e).__name__}: {e}") from None
        finals = list(outputs.finals)
        outputs.commit()
    return finals


def closed_loop(
    out: Path = typer.Option(..., "--out", help="Output folder: closed_loop.json, closed_loop.md and contact sheets "
                             "closed_loop_<clip>_<memory>.png (checked for writability first, written together at the end)."),
    clips: int = typer.Option(12, "--clips", help="Procedural closed-loop clips, 0..12 (4 scenes x 3 paths, in that order)."),
    frames: int = typer.Option(DEFAULT_FRAMES, "--frames", help=f"Frames per video, 3..{MAX_FRAMES} (1 + 16 k fills whole segments)."),
    size: str = typer.Option(DEFAULT_SIZE, "--size", help="Output WxH, multiples of the model's size multiple."),
    steps: int = typer.Option(DEFAULT_STEPS, "--steps", help=f"Sampler steps per segment, 1..{MAX_STEPS}."),
    seed: int = typer.Option(0, "--seed", help="Noise seed (the same for every memory), 0..2^63-1."),
    memories: str = typer.Option(",".join(MEMORIES), "--memories", help="Comma-separated subset of latent,rgb,none."),
    real: bool = typer.Option(True, "--real/--no-real", help="Also run the real photos (skipped with a note when the default data folder is absent)."),
    real_data: Optional[Path] = typer.Option(None, "--real-data", help=f"Folder with rgbd/ (default {DEFAULT_REAL_DATA}, relative to the working directory)."),
    photos: str = typer.Option("tum,nyu,sun", "--photos", help="Comma-separated real photos: tum, nyu, sun."),
    trajectories: str = typer.Option(",".join(REAL_TRAJECTORIES), "--trajectories", help="Closed presets for the real photos: out_and_back, orbit_360, look_away_and_back."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Case whose videos get contact sheets (default: the first case)."),
    every: int = typer.Option(8, "--every", help="Contact sheet frame step, >= 1."),
    model: Optional[Path] = typer.Option(None, "--model", help="Pipeline folder (default: the bundled mirage-tiny)."),
    threads: int = typer.Option(1, "--threads", help=f"Torch threads, 1..{MAX_THREADS}."),
) -> None:
    """Closed-loop consistency: latent vs RGB point-cloud vs no memory, same generator and seed (PSNR_C / SSIM_C / LPIPS_C)."""
    t_start = time.perf_counter()
    try:
        from mirage_world.geometry.trajectory import CLOSED_LOOP_PRESETS

        width, height, model_dir = check_common_options(out, size, steps, threads, model)
        if not 3 <= frames <= MAX_FRAMES:
            raise InputError(f"--frames must be in 3..{MAX_FRAMES}, got {frames}")
        if not 0 <= seed < 2**63:
            raise InputError(f"--seed must be in 0..2^63-1, got {seed}")
        if every < 1:
            raise InputError(f"--every must be >= 1, got {every}")
        mems = _parse_list(memories, MEMORIES, "--memories")
        photo_list = _parse_list(photos, tuple(REAL_PHOTOS), "--photos") if real else []
        traj_list = _parse_list(trajectories, CLOSED_LOOP_PRESETS, "--trajectories") if real else []
        root = DEFAULT_REAL_DATA if real_data is None else Path(real_data)
        real_note = None
        if real and not (root / "rgbd").is_dir():
            if real_data is not None:
                raise InputError(f"--real-data {real_data}: no rgbd/ folder there")
            real_note, photo_list = f"real photos skipped: {root / 'rgbd'} not found", []
        cases = world_cases(clips, frames, width, height) + real_cases(root, photo_list, traj_list, frames)
        if not cases:
            raise InputError("nothing to run: --clips 0 and no real photos")
        names = [c.name for c in cases]
        sheet_case = names[0] if sheet is None else sheet
        if sheet_case not in names:
            raise InputError(f"--sheet {sheet!r} is not one of the cases: {', '.join(names)}")
        pipe = load_pipeline(model_dir, threads)
        if width % pipe.size_multiple or height % pipe.size_multiple:
            raise InputError(f"--size {size} must be multiples of {pipe.size_multiple} (this model's size multiple)")
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)

    res = run_closed_loop(pipe, cases, mems, width=width, height=height, steps=steps, seed=seed,
                          keep_frames_of=sheet_case, log=lambda m: typer.echo(m, err=True))
    kept = res.pop("frames")
    res["real_note"] = real_note
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    out = Path(out)
    res["command"] = f"mirage eval closed-loop --out {out} " + _options_text(
        clips, frames, size, steps, seed, memories, real, photos, trajectories)
    sheets = {out / f"closed_loop_{sheet_case}_{m}.png": (kept[m], every) for m in mems}
    case = next(c for c in cases if c.name == sheet_case)
    if case.ground_truth is not None:
        sheets[out / f"closed_loop_{sheet_case}_ground_truth.png"] = (case.ground_truth, every)
    res["contact_sheets"] = sorted(p.name for p in sheets)
    md = format_markdown(res, command=res["command"])
    if real_note:
        md += f"- {real_note}\n"
    md += f"- contact sheets ({sheet_case}, every {every}th frame): " + ", ".join(res["contact_sheets"]) + "\n"
    try:
        written = write_outputs(sheets, {out / "closed_loop.json": json.dumps(res, indent=1) + "\n",
                                         out / "closed_loop.md": md})
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    typer.echo(md)
    typer.echo(f"wrote {', '.join(str(p) for p in written)} ({res['seconds_total']:.0f} s)", err=True)


def _options_text(clips, frames, size, steps, seed, memories, real, photos, trajectories) -> str:
    parts = [f"--clips {clips}", f"--frames {frames}", f"--size {size}", f"--steps {steps}", f"--seed {seed}",
             f"--memories {memories}"]
    parts += [f"--photos {photos}", f"--trajectories {trajectories}"] if real else ["--no-real"]
    return " ".join(parts)
