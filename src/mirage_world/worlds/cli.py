"""``mirage world``: render procedural worlds with exact ground truth (a typer sub-app).

Register it in the main CLI with ``app.add_typer(worlds_cli.app, name="world")``; it also runs on its own:
``python -m mirage_world.worlds.cli render --seed 3 --trajectory orbit_left --out out/w3``.

Bad input ends with ``error: ...`` on stderr and exit code 2, like ``mirage generate``: every option and the output
folder are checked before any scene is rendered (usage errors too: one ``error:`` line, see
:func:`mirage_world.errors.cli_group_class`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import typer

from mirage_world.errors import InputError, cli_group_class, fail

app = typer.Typer(
    cls=cli_group_class(),
    add_completion=False,
    no_args_is_help=True,
    help="Procedural worlds (rooms, courtyards, streets) with exact depth, cameras, sky and dynamic masks.",
)


@app.callback()
def _root() -> None:
    """Procedural worlds with exact ground truth: single clips (render) and datasets (dataset)."""


# Limits of the options (documented in their help).
MAX_SIDE = 4096  #: --size: pixels per side
MAX_FRAMES = 2049  #: --frames / --closed-loop-frames
MAX_PIXEL_FRAMES = MAX_FRAMES * 256 * 256  #: frames x W x H of one clip (held in memory while rendering)
MAX_FPS = 1000.0  #: --fps
MAX_THREADS = 1024  #: --threads
MAX_CLIPS_PER_SCENE = 1000  #: --clips-per-scene
MAX_CLIPS = 1_000_000  #: --scenes x --clips-per-scene
MIN_FOV, MAX_FOV = 1.0, 179.0  #: --fov in degrees


def _check_threads(threads: Optional[int]) -> None:
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise InputError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")


def _threads(threads: Optional[int]) -> None:
    _check_threads(threads)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _check_frames(name: str, frames: int, w: int, h: int, lo: int = 1) -> None:
    if not lo <= frames <= MAX_FRAMES:
        raise InputError(f"{name} must be in {lo}..{MAX_FRAMES}, got {frames}")
    if frames * w * h > MAX_PIXEL_FRAMES:
        raise InputError(
            f"{name} {frames} at {w}x{h} is {frames * w * h / 1e6:.0f} M pixel-frames, over the limit of "
            f"{MAX_PIXEL_FRAMES / 1e6:.0f} M ({MAX_FRAMES} frames at 256x256): fewer frames or a smaller --size"
        )


def _check_fps(fps: float) -> None:
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise InputError(f"--fps must be finite and in (0, {MAX_FPS:g}], got {fps}")


def _check_out_folder(out: Path) -> None:
    from mirage_world.io import check_output_path

    check_output_path(out, "--out", folder=True)


def _photos(textures: Optional[Path]):
    if textures is None:
        return None
    from mirage_world.worlds.photos import load_texture_photos

    return load_texture_photos(textures)


@app.command("render")
def render_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder: geometry.npz, frames/*.png, video.mp4, meta.json."),
    seed: int = typer.Option(0, "--seed", help="Scene seed (>= 0); the same arguments give the same bytes."),
    trajectory: str = typer.Option(
        "random", "--trajectory",
        help="'random', a preset (pan_left, push_in, orbit_left, ...), a closed loop (out_and_back, orbit_360, "
        "look_away_and_back), a RealEstate10K .txt or an (N,4,4) c2w .npy.",
    ),
    frames: int = typer.Option(16, "--frames", help=f"Number of frames, 1..{MAX_FRAMES}; frames x W x H at most {MAX_FRAMES} x 256 x 256 (e.g. 128 frames at 1024x1024)."),
    size: str = typer.Option("256x256", "--size", help=f"Frame size WxH in pixels, 1..{MAX_SIDE} per side."),
    kind: str = typer.Option("any", "--kind", help="room, indoor, courtyard, street, outdoor or any (drawn from the seed)."),
    dynamic: int = typer.Option(0, "--dynamic", help="Moving objects, 0-3 typical (at most 8)."),
    fov: float = typer.Option(60.0, "--fov", help=f"Horizontal field of view in degrees, {MIN_FOV:g}..{MAX_FOV:g}."),
    aa: str = typer.Option("quincunx", "--aa", help="Anti-aliasing: quincunx (fast) or box (2x2 rays per pixel)."),
    textures: Optional[Path] = typer.Option(None, "--textures", help="Folder of photos used as textures on some surfaces."),
    trajectory_scale: Optional[float] = typer.Option(
        None, "--trajectory-scale", help="Metres per path unit (presets: the depth unit d) instead of the automatic rule."
    ),
    fps: float = typer.Option(16.0, "--fps", help=f"Frame rate of the mp4, in (0, {MAX_FPS:g}]."),
    png: bool = typer.Option(True, "--png/--no-png", help="Write frames/*.png."),
    video: bool = typer.Option(True, "--video/--no-video", help="Write video.mp4."),
    threads: Optional[int] = typer.Option(None, "--threads", help=f"CPU threads for torch, 1..{MAX_THREADS} (default: torch's choice)."),
) -> None:
    """Render one clip of a procedural world with its ground truth (depth, cameras, sky / dynamic masks, ids)."""
    try:
        from mirage_world.io import parse_size
        from mirage_world.worlds.dataset import render_world, save_world_clip

        _check_threads(threads)
        w, h = parse_size(size, max_side=MAX_SIDE)
        _check_frames("--frames", frames, w, h)
        if seed < 0:
            raise InputError(f"--seed must be >= 0, got {seed}")
        if not MIN_FOV <= fov <= MAX_FOV:
            raise InputError(f"--fov must be in {MIN_FOV:g}..{MAX_FOV:g} degrees, got {fov}")
        _check_fps(fps)
        _check_out_folder(out)
        _threads(threads)
        t0 = time.perf_counter()
        clip = render_world(
            seed, trajectory, frames, w, h, kind=kind, dynamic=dynamic, fov_deg=fov, aa=aa,
            photos=_photos(textures), trajectory_scale=trajectory_scale,
        )
        t1 = time.perf_counter()
        save_world_clip(clip, out, fps=fps, png=png, video=video)
    except InputError as e:
        fail(str(e))
        return
    tr = clip.meta["trajectory"]
    typer.echo(
        f"wrote {out} ({frames} frames {w}x{h}, {clip.meta['kind']}, path {tr['source']} x{tr['shrink']:g}, "
        f"{len(clip.meta['dynamic_ids'])} moving objects, sky {100 * float(clip.sky_mask.float().mean()):.1f} %; "
        f"render {t1 - t0:.1f} s, {frames / max(t1 - t0, 1e-9):.1f} frames/s)"
    )


@app.command("dataset")
def dataset_cmd(
    out: Path = typer.Option(..., "--out", help="Output folder (index.json, train/, val/, test/, closed_loop/)."),
    scenes: int = typer.Option(..., "--scenes", help=f"Number of scenes over all splits (>= 1; scenes x clips at most {MAX_CLIPS})."),
    clips_per_scene: int = typer.Option(1, "--clips-per-scene", help=f"Clips (camera paths) per scene, 1..{MAX_CLIPS_PER_SCENE}."),
    frames: int = typer.Option(16, "--frames", help=f"Frames per clip, 1..{MAX_FRAMES}; frames x W x H at most {MAX_FRAMES} x 256 x 256."),
    size: str = typer.Option("256x256", "--size", help=f"Frame size WxH, 1..{MAX_SIDE} per side."),
    seed: int = typer.Option(0, "--seed", help="First scene seed; splits use disjoint seed ranges."),
    kind: str = typer.Option("any", "--kind", help="Scene family for every scene (any mixes them)."),
    dynamic_prob: float = typer.Option(0.3, "--dynamic-prob", help="Probability that a clip has 1-3 moving objects."),
    re10k: Optional[Path] = typer.Option(
        None, "--re10k", help="Folder of RealEstate10K .txt paths (default ../shared/data/real/re10k_poses if present)."
    ),
    textures: Optional[Path] = typer.Option(None, "--textures", help="Folder of photos used as textures."),
    val_frac: float = typer.Option(0.1, "--val-frac", help="Fraction of scenes in val."),
    test_frac: float = typer.Option(0.1, "--test-frac", help="Fraction of scenes in test."),
    closed_loop: bool = typer.Option(True, "--closed-loop/--no-closed-loop", help="Also write the fixed closed-loop split."),
    closed_loop_frames: int = typer.Option(48, "--closed-loop-frames", help=f"Frames per closed-loop clip, 3..{MAX_FRAMES} (same pixel-frame limit)."),
    aa: str = typer.Option("quincunx", "--aa", help="Anti-aliasing: quincunx or box."),
    fps: float = typer.Option(16.0, "--fps", help=f"Frame rate of the mp4s, in (0, {MAX_FPS:g}]."),
    png: bool = typer.Option(True, "--png/--no-png", help="Write frames/*.png."),
    video: bool = typer.Option(True, "--video/--no-video", help="Write video.mp4."),
    workers: int = typer.Option(1, "--workers", help="Parallel rendering processes (1 torch thread each), 1..256."),
    threads: Optional[int] = typer.Option(None, "--threads", help=f"CPU threads for torch with --workers 1, 1..{MAX_THREADS}."),
) -> None:
    """Render a dataset: train/val/test splits with disjoint seeds plus a closed-loop split for evaluation."""
    try:
        from mirage_world.io import parse_size
        from mirage_world.worlds.dataset import make_dataset

        _check_threads(threads)
        w, h = parse_size(size, max_side=MAX_SIDE)
        _check_frames("--frames", frames, w, h)
        if closed_loop:
            _check_frames("--closed-loop-frames", closed_loop_frames, w, h, lo=3)
        if not 1 <= clips_per_scene <= MAX_CLIPS_PER_SCENE:
            raise InputError(f"--clips-per-scene must be in 1..{MAX_CLIPS_PER_SCENE}, got {clips_per_scene}")
        if scenes < 1 or scenes * clips_per_scene > MAX_CLIPS:
            raise InputError(f"--scenes must be >= 1 and --scenes x --clips-per-scene at most {MAX_CLIPS}, got "
                             f"{scenes} x {clips_per_scene}")
        _check_fps(fps)
        _check_out_folder(out)
        _threads(threads)
        t0 = time.perf_counter()

        def progress(done: int, total: int, entry: dict) -> None:
            typer.echo(f"[{done}/{total}] {entry['dir']} ({entry['kind']}, {entry['trajectory']})")

        index = make_dataset(
            out, scenes, clips_per_scene, frames=frames, width=w, height=h, seed=seed, kind=kind,
            dynamic_prob=dynamic_prob, re10k_dir=re10k, photos=_photos(textures), val_frac=val_frac,
            test_frac=test_frac, closed_loop=closed_loop, closed_loop_frames=closed_loop_frames, aa=aa, fps=fps,
            png=png, video=video, workers=workers, progress=progress,
        )
    except InputError as e:
        fail(str(e))
        return
    n = {k: len(v) for k, v in index["splits"].items()}
    typer.echo(
        f"wrote {out}/index.json: train {n['train']}, val {n['val']}, test {n['test']}, closed loop "
        f"{len(index['closed_loop'])} clips in {time.perf_counter() - t0:.1f} s ({index['re10k']['source']})"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
