"""Long runs: ``mirage eval long-run --out DIR`` -- 100 segments along a closed path that comes back many times.

The promise checked: the memory stays bounded, the per-segment cost stays flat and what the camera sees on coming
back does not degrade, however long the generation runs. One generation of ``--segments`` segments (16 new frames
each) with the embedded model along a camera path that repeats one closed loop of a procedural world (the worlds'
closed-loop split: ``orbit_360`` around an object by default; ``out_and_back`` and ``look_away_and_back`` too),
``--loop-segments`` segments per loop. The scene is static, so the ground truth of frame ``k`` is the rendered frame
``k mod P`` of one loop of ``P`` frames, and every frame after the first loop revisits a view of the first loop.

Recorded per segment (JSON rows):

* ``seconds`` and its split ``read / denoise / decode / write`` (:class:`~mirage_world.pipelines.SegmentInfo`);
* ``memory_tokens`` and ``memory_bytes`` after the segment's write;
* ``psnr``: mean PSNR of the segment's frames against the ground truth; ``revisit_psnr``: the same over the
  segment's revisit frames (frames ``k >= P``; ``None`` during the first loop); ``photo_psnr``: the frame at the
  photo's camera (``k`` a multiple of ``P``) against the photo, when the segment holds one; ``first_loop_psnr``:
  the segment's revisit frames against the frames generated at the same cameras in the first loop;
* ``finite``: no NaN / inf in the segment's frames and in the memory after its write.

Summary: ``nan_free``; tokens after the first loop, at half time and at the end (``token_growth_second_half`` =
end / half: 1.0 on a plateau); ``time_ratio_last10_first10`` = mean seconds of the last 10 segments / the first 10
(target <= 1.2; the median ratio too, less sensitive to other jobs on a shared machine); revisit PSNR over the first
and the last whole loops within 10 segments, from the second loop on (``revisit_psnr_window_segments``: 8 for 4-segment loops,
so both windows see the same views) and the slope of a line fit (dB per 100 segments); "not falling": the last
window at most 0.5 dB below the first.

Checkpoints: the generation runs through :func:`mirage_world.resume.run_with_resume`, which saves the state after
every segment in ``OUT/long_run.partial/`` (memory, last latent, RNG state, frames); ``--resume`` continues a killed
run from its last finished segment (same frames as one run), and the folder is removed once the outputs are written.
``OUT/long_run.progress.json`` holds the rows so far (rewritten atomically after each segment).
"""

from __future__ import annotations

import json
import math
import textwrap
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import typer

from mirage_world.defaults import DEFAULT_MODEL, DEFAULT_STEPS
from mirage_world.errors import InputError
from mirage_world.eval.cases import WORLD_FOV_DEG
from mirage_world.eval.closed_loop import MEMORIES, check_common_options, load_pipeline
from mirage_world.eval.metrics import psnr

__all__ = ["SEGMENT_FRAMES", "LOOP_PATHS", "SCENES", "TIME_RATIO_TARGET", "PSNR_DROP_TOLERANCE_DB", "LongRunCase",
           "looped_path", "long_run_case", "segment_rows", "summarize", "plot_long_run", "run_long_run", "long_run"]

SEGMENT_FRAMES = 16
DEFAULT_SEGMENTS = 100
DEFAULT_SIZE = "128x96"
DEFAULT_LOOP_SEGMENTS = 4
LOOP_PATHS = ("orbit_360", "out_and_back", "look_away_and_back")
MAX_SEGMENTS = 1000
#: Target of the per-segment time ratio (last 10 / first 10 segments).
TIME_RATIO_TARGET = 1.2
#: Revisit PSNR counts as "not falling" when the last window's mean is at most this far (dB) below the first's.
PSNR_DROP_TOLERANCE_DB = 0.5
#: Scenes of the worlds' closed-loop split usable here (name -> (seed, kind)).
SCENES = {"room": (30_000_001, "room"), "indoor": (30_000_002, "indoor"), "courtyard": (30_000_003, "courtyard"),
          "street": (30_000_004, "street")}
_PROGRESS = "long_run.progress.json"


class LongRunCase:
    """The photo, the looped camera path and one loop of ground truth.

    Attributes:
        image: ``(H, W, 3)`` float32 in ``[0, 1]``, frame 0 of the loop; depth: ``(H, W)`` float32 metres (sky 0).
        K: ``(3, 3)`` float64 pixels; c2w: ``(N, 4, 4)`` float32, ``N = 1 + 16 segments``.
        loop_frames: ``(P, H, W, 3)`` float32, the ground truth of frames ``0 .. P-1`` (frame ``k`` shows
            ``loop_frames[k % P]``).
        period: ``P``, frames per loop; meta: JSON-ready description.
    """

    def __init__(self, image, depth, K, c2w, loop_frames, period: int, meta: dict):
        self.image, self.depth, self.K, self.c2w = image, depth, K, c2w
        self.loop_frames, self.period, self.meta = loop_frames, int(period), meta

    def ground_truth(self, k: int) -> np.ndarray:
        """``(H, W, 3)`` ground truth of frame ``k``."""
        return self.loop_frames[k % self.period]


def looped_path(loop_c2w, n_frames: int) -> torch.Tensor:
    """Repeat one closed loop: ``c2w[k] = loop_c2w[k mod P]`` for ``P = len(loop_c2w) - 1`` (its last pose, equal
    to the first, is dropped).

    Args:
        loop_c2w: ``(P + 1, 4, 4)`` with ``loop_c2w[P] == loop_c2w[0]`` (a closed loop), ``P >= 1``.
        n_frames: frames of the long path, >= 1.

    Returns:
        ``(n_frames, 4, 4)`` float32.

    Raises:
        InputError: not a closed ``(P + 1, 4, 4)`` loop, or ``n_frames < 1``.
    """
    loop = torch.as_tensor(loop_c2w).float()
    if loop.dim() != 3 or loop.shape[1:] != (4, 4) or loop.shape[0] < 2:
        raise InputError(f"loop_c2w must be (P + 1, 4, 4) with P >= 1, got {tuple(loop.shape)}")
    if not torch.allclose(loop[0], loop[-1], atol=1e-6):
        raise InputError("loop_c2w is not closed: its last pose differs from its first")
    if n_frames < 1:
        raise InputError(f"n_frames must be >= 1, got {n_frames}")
    P = loop.shape[0] - 1
    return loop[torch.arange(n_frames) % P].clone()


def long_run_case(segments: int, loop_segments: int, width: int, height: int, *, path: str = "orbit_360",
                  scene: str = "room") -> LongRunCase:
    """Render one loop of ``16 loop_segments`` frames in a closed-loop scene and repeat it for ``segments`` segments.

    Raises:
        InputError: unknown path / scene, bad counts, a path that does not fit.
    """
    from mirage_world.worlds.dataset import render_world

    if path not in LOOP_PATHS:
        raise InputError(f"--path must be one of {', '.join(LOOP_PATHS)}, got {path!r}")
    if scene not in SCENES:
        raise InputError(f"--scene must be one of {', '.join(SCENES)}, got {scene!r}")
    if not 1 <= segments <= MAX_SEGMENTS:
        raise InputError(f"--segments must be in 1..{MAX_SEGMENTS}, got {segments}")
    if not 1 <= loop_segments <= segments:
        raise InputError(f"--loop-segments must be in 1..--segments ({segments}), got {loop_segments}")
    seed, kind = SCENES[scene]
    P = SEGMENT_FRAMES * loop_segments
    clip = render_world(seed, path, P + 1, width, height, kind=kind, fov_deg=WORLD_FOV_DEG, path_seed=seed)
    n = 1 + SEGMENT_FRAMES * segments
    c2w = looped_path(clip.c2w, n)
    depth = clip.depth[0].clone()
    depth[clip.sky_mask[0]] = 0.0  # sky depth is a sentinel: invalid
    meta = {"scene": scene, "seed": seed, "kind": kind, "path": path, "fov_deg": WORLD_FOV_DEG, "frames": n,
            "period_frames": P, "loops": (n - 1) / P, "trajectory": clip.meta["trajectory"]}
    return LongRunCase(clip.rgb[0].numpy(), depth.numpy(), clip.K.double().numpy(), c2w, clip.rgb[:P].numpy(), P,
                       meta)


def _r(x, n=4):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), n)


def _capped_mean(values) -> Optional[float]:
    v = np.minimum(np.asarray(values, dtype=np.float64), 100.0)
    return float(v.mean()) if v.size else None


def segment_rows(frames, segments, case: LongRunCase, memory_finite: dict | None = None) -> list[dict]:
    """Per-segment rows (module doc) from the frames and :class:`~mirage_world.pipelines.SegmentInfo` so far.

    Args:
        frames: ``(M, H, W, 3)`` float in ``[0, 1]`` (numpy) or a list of ``(3, H, W)`` tensors, frames ``0..M-1``.
        segments: the :class:`SegmentInfo` of the segments those frames come from.
        case: the :class:`LongRunCase`.
        memory_finite: ``{segment index: bool}`` from the checks after each write (missing: ``None``).
    """
    def frame(k):
        f = frames[k]
        if torch.is_tensor(f):
            f = f.detach().cpu().permute(1, 2, 0).numpy()
        return np.asarray(f, dtype=np.float32)

    P = case.period
    rows = []
    for s in segments:
        a, b = s.frames
        ks = list(range(a, b + 1))
        gen = np.stack([frame(k) for k in ks])
        finite = bool(np.isfinite(gen).all())
        gen = np.clip(np.nan_to_num(gen), 0.0, 1.0)
        p = psnr(gen, np.stack([case.ground_truth(k) for k in ks]))
        rev = [i for i, k in enumerate(ks) if k >= P]
        photo = [i for i, k in enumerate(ks) if k % P == 0]
        first = psnr(gen[rev], np.stack([np.clip(frame(ks[i] % P), 0, 1) for i in rev])) if rev else []
        mf = None if memory_finite is None else memory_finite.get(s.index)
        rows.append({
            "segment": s.index, "frames": [a, b], "seconds": _r(s.seconds), "read_seconds": _r(s.read_seconds),
            "denoise_seconds": _r(s.denoise_seconds), "decode_seconds": _r(s.decode_seconds),
            "write_seconds": _r(s.write_seconds), "memory_tokens": int(s.memory_tokens),
            "memory_bytes": int(s.memory_bytes), "coverage": _r(s.coverage),
            "psnr": _r(_capped_mean(p)), "revisit_psnr": _r(_capped_mean(p[rev])) if rev else None,
            "photo_psnr": _r(_capped_mean(p[photo])) if photo else None,
            "first_loop_psnr": _r(_capped_mean(first)) if rev else None,
            "finite": finite and mf is not False, "memory_finite": mf,
        })
    return rows


def _memory_is_finite(memory) -> bool:
    if memory is None:
        return True
    ok = bool(torch.isfinite(memory.positions).all())
    if hasattr(memory, "dequantized"):
        ok &= bool(torch.isfinite(memory.dequantized()).all())
    return ok


def summarize(rows: list[dict], loop_segments: int) -> dict:
    """The long run's verdicts (module doc) from :func:`segment_rows`."""
    n = len(rows)
    secs = np.array([r["seconds"] for r in rows], dtype=np.float64)
    tokens = [r["memory_tokens"] for r in rows]
    k = min(10, n)
    out = {"segments": n, "nan_free": all(r["finite"] for r in rows)}
    if n:
        out.update({
            "tokens_after_first_loop": tokens[min(loop_segments, n) - 1], "tokens_at_half": tokens[(n - 1) // 2],
            "tokens_end": tokens[-1], "tokens_max": max(tokens), "bytes_end": rows[-1]["memory_bytes"],
            "token_growth_second_half": _r(tokens[-1] / max(1, tokens[(n - 1) // 2])),
            "seconds_first10_mean": _r(secs[:k].mean()), "seconds_last10_mean": _r(secs[-k:].mean()),
            "time_ratio_last10_first10": _r(secs[-k:].mean() / secs[:k].mean()),
            "time_ratio_last10_first10_median": _r(np.median(secs[-k:]) / np.median(secs[:k])),
            "seconds_total": _r(secs.sum(), 1),
        })
        out["time_flat"] = bool(out["time_ratio_last10_first10"] <= TIME_RATIO_TARGET)
        for key in ("read", "denoise", "decode", "write"):
            v = np.array([r[f"{key}_seconds"] for r in rows])
            out[f"{key}_ratio_last10_first10"] = _r(v[-k:].mean() / max(v[:k].mean(), 1e-9))
    # segments made only of revisit frames (from the second loop on)
    rev = [(r["segment"], r["revisit_psnr"]) for r in rows
           if r["revisit_psnr"] is not None and r["segment"] >= loop_segments]
    if rev:
        seg, val = np.array(rev, dtype=np.float64).T
        # whole loops (the largest multiple of the loop length up to 10 segments), so that both windows see the
        # same views (they differ in difficulty) when the run is a whole number of loops
        m = min(len(val), max(loop_segments, (10 // loop_segments) * loop_segments))
        out.update({"revisit_psnr_window_segments": int(m), "revisit_psnr_first": _r(val[:m].mean()),
                    "revisit_psnr_last": _r(val[-m:].mean()),
                    "revisit_psnr_slope_db_per_100_segments": _r(100 * np.polyfit(seg, val, 1)[0]) if len(val) > 1
                    else None})
        out["revisit_psnr_not_falling"] = bool(out["revisit_psnr_last"] >= out["revisit_psnr_first"]
                                               - PSNR_DROP_TOLERANCE_DB)
    photo = [r["photo_psnr"] for r in rows if r["photo_psnr"] is not None]
    if photo:
        out.update({"photo_psnr_first": photo[0], "photo_psnr_last": photo[-1], "photo_psnr_min": min(photo)})
    return out


def plot_long_run(rows: list[dict], path, title: str = "") -> None:
    """Three panels against the segment index: memory tokens (and MB), seconds per segment (total and split),
    revisit PSNR (and the frame at the photo's camera against the photo). Written as a PNG with matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = [r["segment"] for r in rows]
    fig, ax = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    ax[0].plot(seg, [r["memory_tokens"] for r in rows], color="C0")
    ax[0].set_ylabel("memory tokens")
    ax[0].set_ylim(bottom=0)
    mb = ax[0].twinx()
    mb.plot(seg, [r["memory_bytes"] / 1e6 for r in rows], color="C0", alpha=0)
    mb.set_ylabel("MB")
    mb.set_ylim(0, ax[0].get_ylim()[1] * (rows[-1]["memory_bytes"] / max(1, rows[-1]["memory_tokens"])) / 1e6)
    ax[1].plot(seg, [r["seconds"] for r in rows], color="k", label="total")
    for key, c in (("read", "C0"), ("denoise", "C1"), ("decode", "C2"), ("write", "C3")):
        ax[1].plot(seg, [r[f"{key}_seconds"] for r in rows], color=c, lw=0.8, label=key)
    ax[1].set_ylabel("seconds / segment")
    ax[1].set_ylim(bottom=0)
    ax[1].legend(ncol=5, fontsize=8, loc="upper left")
    rp = [(r["segment"], r["revisit_psnr"]) for r in rows if r["revisit_psnr"] is not None]
    pp = [(r["segment"], r["photo_psnr"]) for r in rows if r["photo_psnr"] is not None]
    fp = [(r["segment"], r["first_loop_psnr"]) for r in rows if r["first_loop_psnr"] is not None]
    ax[2].plot(seg, [r["psnr"] for r in rows], color="0.6", lw=0.8, label="all frames vs ground truth")
    if rp:
        ax[2].plot(*zip(*rp), color="C0", label="revisit frames vs ground truth")
    if fp:
        ax[2].plot(*zip(*fp), color="C2", lw=0.8, label="revisit frames vs first loop")
    if pp:
        ax[2].plot(*zip(*pp), "o", color="C3", ms=3, label="back at the photo vs photo")
    ax[2].set_ylabel("PSNR (dB)")
    ax[2].set_xlabel("segment")
    ax[2].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle("\n".join(textwrap.fill(t, 110) for t in title.split("\n")), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_long_run(pipe, case: LongRunCase, *, width: int, height: int, steps: int, seed: int = 0,
                 memory: str = "latent", work: Path, resume: bool = False, args: dict | None = None,
                 log: Callable[[str], None] = lambda m: None):
    """Generate along ``case.c2w`` with per-segment checkpoints in ``work`` and score every segment.

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline`.
        case: from :func:`long_run_case`.
        width, height, steps, seed, memory: generation settings (``memory`` in :data:`MEMORIES`).
        work: folder for ``long_run.partial/`` (the checkpoints) and ``long_run.progress.json``.
        resume: continue from the checkpoints in ``work`` when they exist.
        args: the caller's options (part of the checkpoint's fingerprint).
        log: progress messages.

    Returns:
        ``(rows, frames (N, H, W, 3) float32)``; the checkpoint folder is left for the caller to remove
        (:class:`mirage_world.resume.ResumeStore` ``(work / "long_run").remove()``) once the outputs are written.

    Raises:
        ValueError: checkpoints written with other settings (``resume``), the pipeline's input errors.
    """
    from mirage_world.io import OutputSet
    from mirage_world.resume import run_with_resume

    if memory not in MEMORIES:
        raise InputError(f"memory must be one of {MEMORIES}, got {memory!r}")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    progress_path = work / _PROGRESS
    memory_finite: dict[int, bool] = {}
    if resume and progress_path.is_file():
        try:
            memory_finite = {int(k): v for k, v in json.loads(progress_path.read_text())["memory_finite"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            memory_finite = {}
    t0 = time.perf_counter()

    def on_state(state) -> None:
        s = state.segments[-1]
        memory_finite[s.index] = _memory_is_finite(state.memory)
        row = segment_rows(state.frames, [s], case, memory_finite)[0]
        rows_so_far.append(row)
        with OutputSet() as outs:
            outs.temp_path(progress_path).write_text(json.dumps(
                {"rows": rows_so_far, "memory_finite": {str(k): v for k, v in memory_finite.items()}}))
            outs.commit()
        rp = "--" if row["revisit_psnr"] is None else f"{row['revisit_psnr']:.2f}"
        log(f"segment {s.index + 1}/{n_seg}: {s.seconds:.2f} s (read {s.read_seconds:.3f}, denoise "
            f"{s.denoise_seconds:.2f}, decode {s.decode_seconds:.2f}, write {s.write_seconds:.3f}), "
            f"{s.memory_tokens} tokens, PSNR {row['psnr']:.2f} dB, revisit {rp} dB "
            f"[{time.perf_counter() - t0:.0f} s]")

    rows_so_far: list[dict] = []
    n_seg = pipe.num_segments(case.c2w.shape[0], SEGMENT_FRAMES)
    out = run_with_resume(
        pipe, work / "long_run", args, resume, remove_when_done=False,
        on_resume=lambda k: log(f"resuming after segment {k}"),
        image=case.image, depth=case.depth, K=case.K, c2w=case.c2w, height=height, width=width,
        num_inference_steps=steps, generator=torch.Generator().manual_seed(seed), memory_kind=memory,
        segment_frames=SEGMENT_FRAMES, progress=False, state_callback=on_state)
    frames = np.asarray(out.frames, dtype=np.float32)
    return segment_rows(frames, out.segments, case, memory_finite), frames


def long_run(
    out: Path = typer.Option(..., "--out", help="Output folder: long_run.json, long_run.png (plot), long_run_revisits.png (the photo's view, once per loop). Checkpoints go to OUT/long_run.partial/ during the run."),
    segments: int = typer.Option(DEFAULT_SEGMENTS, "--segments", help=f"Segments of 16 frames, 1..{MAX_SEGMENTS}."),
    loop_segments: int = typer.Option(DEFAULT_LOOP_SEGMENTS, "--loop-segments", help="Segments per loop of the closed path (1..--segments)."),
    path: str = typer.Option("orbit_360", "--path", help=f"The closed loop repeated: {', '.join(LOOP_PATHS)}."),
    scene: str = typer.Option("room", "--scene", help=f"Closed-loop scene: {', '.join(SCENES)}."),
    size: str = typer.Option(DEFAULT_SIZE, "--size", help="Output WxH, multiples of the model's size multiple."),
    steps: int = typer.Option(DEFAULT_STEPS, "--steps", help="Sampler steps per segment."),
    seed: int = typer.Option(0, "--seed", help="Noise seed, 0..2^63-1."),
    memory: str = typer.Option("latent", "--memory", help="latent, rgb or none."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/long_run.partial/ (same options) instead of starting over."),
    model: Optional[Path] = typer.Option(None, "--model", help="Pipeline folder (default: the bundled mirage-tiny)."),
    threads: int = typer.Option(1, "--threads", help="Torch threads."),
) -> None:
    """A long generation along a repeated closed loop: tokens bounded, time per segment flat, revisits not degrading."""
    import cv2

    from mirage_world.eval.consistency import contact_sheet
    from mirage_world.io import OutputSet
    from mirage_world.resume import ResumeStore

    t_start = time.perf_counter()
    args = {"segments": segments, "loop_segments": loop_segments, "path": path, "scene": scene, "size": size,
            "steps": steps, "seed": seed, "memory": memory, "model": str(model or DEFAULT_MODEL)}
    try:
        width, height, model_dir = check_common_options(out, size, steps, threads, model)
        if memory not in MEMORIES:
            raise InputError(f"--memory must be one of {', '.join(MEMORIES)}, got {memory!r}")
        if not 0 <= seed < 2**63:
            raise InputError(f"--seed must be in 0..2^63-1, got {seed}")
        case = long_run_case(segments, loop_segments, width, height, path=path, scene=scene)
        pipe = load_pipeline(model_dir, threads)
        rows, frames = run_long_run(pipe, case, width=width, height=height, steps=steps, seed=seed, memory=memory,
                                    work=Path(out), resume=resume, args=args, log=lambda m: typer.echo(m, err=True))
    except (InputError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code=2)
    summary = summarize(rows, loop_segments)
    out = Path(out)
    command = (f"mirage eval long-run --out {out} --segments {segments} --loop-segments {loop_segments} --path {path} "
               f"--scene {scene} --size {size} --steps {steps} --seed {seed} --memory {memory}")
    res = {"command": command, "config": {**args, "width": width, "height": height, "segment_frames": SEGMENT_FRAMES,
                                          "torch_threads": torch.get_num_threads(), **case.meta},
           "targets": {"time_ratio_last10_first10": f"<= {TIME_RATIO_TARGET}",
                       "revisit_psnr": f"last whole loops >= first whole loops - {PSNR_DROP_TOLERANCE_DB} dB"},
           "summary": summary, "seconds_wall": round(time.perf_counter() - t_start, 1), "rows": rows}
    P = case.period
    at_photo = frames[::P]  # the photo's camera, once per loop
    sheet = contact_sheet(at_photo, every=1, labels=True)
    try:
        with OutputSet() as outputs:
            plot_long_run(rows, outputs.temp_path(out / "long_run.png"),
                          title=f"{command}\n{memory} memory, {case.meta['scene']} {path}, {width}x{height}, "
                                f"{steps} steps")
            ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            if not ok:
                raise OSError("PNG encoding failed")
            outputs.temp_path(out / "long_run_revisits.png").write_bytes(buf.tobytes())
            outputs.temp_path(out / "long_run.json").write_text(json.dumps(res, indent=1) + "\n")
            written = list(outputs.finals)
            outputs.commit()
    except OSError as e:
        typer.echo(f"error: cannot write the outputs: {e}", err=True)
        raise typer.Exit(code=2)
    ResumeStore(out / "long_run").remove()
    (out / _PROGRESS).unlink(missing_ok=True)
    typer.echo(json.dumps(summary, indent=1))
    typer.echo(f"wrote {', '.join(str(p) for p in written)} ({res['seconds_wall']:.0f} s)", err=True)

