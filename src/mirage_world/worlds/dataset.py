"""World clips with exact ground truth, written in Mirage's ``geometry.npz`` layout, and datasets of them.

One clip = a procedural scene (:mod:`mirage_world.worlds.layouts`) + a camera path placed in it
(:mod:`mirage_world.worlds.paths`) + optional moving objects, rendered by :func:`~mirage_world.worlds.scenes.render`.

Clip folder layout (:func:`save_world_clip`)::

    DIR/geometry.npz      depths (N,H,W) float32 metres (z-depth; sky = SKY_DEPTH = 1000 m, mask it out)
                          intrinsics (N,3,3) float32 pixels (pixel centres at +0.5)
                          poses_c2w (N,4,4) float32 camera-to-world, OpenCV axes (+x right, +y down, +z forward)
                          frames (N,H,W,3) uint8 RGB
                          sky_mask (N,H,W) bool, dynamic_mask (N,H,W) bool
                          instance (N,H,W) uint8 (0 floor, 1 ceiling, 2-5 walls, 6.. objects, then dynamic objects,
                          254 exterior ground, 255 sky)
                          times (N,) float32 frame times of the dynamic objects (frame-index units)
    DIR/frames/000000.png ...   the RGB frames
    DIR/video.mp4               the RGB frames as H.264 (``mirage_world.io.write_video``)
    DIR/meta.json               seed, kind, camera-path source and scale, fov, fps, ids of the dynamic objects, ...

The ``.npz`` is a plain uncompressed NumPy archive (``np.load`` reads it) written with fixed zip timestamps, so the
same arguments give the same bytes (``np.savez`` stamps the current time into the archive).

Dataset layout (:func:`make_dataset`)::

    OUT/index.json                 splits -> clips (folder, scene seed, kind, path source, ...)
    OUT/{train,val,test}/s<seed>_c<clip>/   clip folders
    OUT/closed_loop/<kind>_<path>/          fixed closed-loop clips (CLOSED_LOOP_SCENES x CLOSED_LOOPS), static

Seeds of the splits are disjoint by construction: scene ``i`` of ``train`` / ``val`` / ``test`` has seed
``seed + i``, ``seed + 10_000_000 + i``, ``seed + 20_000_000 + i``; the closed-loop scenes use seeds from
30_000_001 on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import intrinsics_from_fov
from mirage_world.geometry.camera_files.geometry_npz import read_geometry_npz, write_geometry_npz
from mirage_world.worlds.dynamic import MAX_DYNAMIC, add_dynamic_objects
from mirage_world.worlds.layouts import SCENE_KINDS, generate_scene
from mirage_world.worlds.paths import CLOSED_LOOPS, world_path
from mirage_world.worlds.render import AA_MODES, render
from mirage_world.worlds.scene import GROUND_ID, ROOM_SURFACES, SKY_DEPTH, SKY_ID, Scene

__all__ = [
    "WorldClip",
    "render_world",
    "save_world_clip",
    "load_world_clip",
    "make_dataset",
    "closed_loop_specs",
    "CLOSED_LOOP_SCENES",
    "SPLIT_SEED_OFFSETS",
    "DEFAULT_RE10K_DIR",
    "FORMAT_VERSION",
]

#: Version of the clip folder format written by :func:`save_world_clip`.
FORMAT_VERSION = 1
#: Seed offsets of the dataset splits (disjoint as long as ``seed + scenes < 10_000_000``).
SPLIT_SEED_OFFSETS = {"train": 0, "val": 10_000_000, "test": 20_000_000}
_SEED_SPAN = 10_000_000
#: Fixed scenes of the closed-loop split: ``(seed, kind)``.
CLOSED_LOOP_SCENES = ((30_000_001, "room"), (30_000_002, "indoor"), (30_000_003, "courtyard"), (30_000_004, "street"))
#: Where :func:`make_dataset` looks for RealEstate10K paths by default (relative to the working directory, i.e.
#: the project root).
DEFAULT_RE10K_DIR = Path("..") / "shared" / "data" / "real" / "re10k_poses"


@dataclass
class WorldClip:
    """A rendered clip with its ground truth (all CPU tensors).

    Attributes:
        rgb: ``(T, H, W, 3)`` float32 in [0, 1].
        depth: ``(T, H, W)`` float32 metric z-depth; :data:`SKY_DEPTH` on sky.
        instance: ``(T, H, W)`` int32 ids (see module doc).
        sky_mask, dynamic_mask: ``(T, H, W)`` bool.
        c2w: ``(T, 4, 4)`` float32 camera-to-world (OpenCV). K: ``(3, 3)`` float32 pixels (same for all frames).
        times: ``(T,)`` float32 frame times of the dynamic objects.
        scene: the scene (with its dynamic objects).
        meta: JSON-ready description (seed, kind, path info, fov, ...).
    """

    rgb: Tensor
    depth: Tensor
    instance: Tensor
    sky_mask: Tensor
    dynamic_mask: Tensor
    c2w: Tensor
    K: Tensor
    times: Tensor
    scene: Scene
    meta: dict = field(default_factory=dict)

    @property
    def frames_uint8(self) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB (rounded)."""
        return (self.rgb.numpy() * 255.0 + 0.5).astype(np.uint8)


def _check_int(name: str, v, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise InputError(f"{name} must be an int {rng}, got {v!r}")
    return int(v)


def render_world(
    seed: int,
    trajectory="random",
    n_frames: int = 16,
    width: int = 256,
    height: int = 256,
    *,
    kind: str = "any",
    dynamic: int = 0,
    fov_deg: float = 60.0,
    aa: str = "quincunx",
    ss: int = 2,
    photos: Tensor | None = None,
    trajectory_scale: float | None = None,
    size_factor: float = 1.0,
    reverse: bool = False,
    path_seed: int | None = None,
    chunk_frames: int = 4,
) -> WorldClip:
    """Generate a scene from ``seed``, place a camera path in it, add moving objects and render every frame.

    Args:
        seed: scene seed (non-negative int); everything is a deterministic function of the arguments.
        trajectory: ``"random"``, a closed loop (:data:`~mirage_world.worlds.paths.CLOSED_LOOPS`), a preset name,
            a RealEstate10K ``.txt``, a c2w ``.npy`` or an ``(N, 4, 4)`` array (see
            :func:`~mirage_world.worlds.paths.world_path`).
        n_frames: number of frames (>= 1; >= 2 for closed loops).
        width, height: frame size in pixels (1..4096).
        kind: scene family (:data:`~mirage_world.worlds.layouts.SCENE_KINDS`).
        dynamic: number of moving objects, 0..8 (fewer when they do not fit; see ``meta["dynamic_ids"]``).
        fov_deg: horizontal field of view in degrees, in (0, 180).
        aa: anti-aliasing, ``"quincunx"`` (default, ~2 rays per pixel) or ``"box"`` (``ss x ss`` rays per pixel).
        ss: supersampling of ``aa="box"``.
        photos: texture photos (:func:`~mirage_world.worlds.layouts.load_texture_photos`) or ``None``.
        trajectory_scale: explicit translation scale of the path instead of the automatic rule.
        size_factor: multiplies the automatic path scale.
        reverse: play a file / array path backwards.
        path_seed: seed of the start pose / random path / dynamic objects (default ``seed``).
        chunk_frames: frames rendered together (speed / memory only).

    Returns:
        :class:`WorldClip`.

    Raises:
        InputError: any bad parameter (message names it), a path that does not fit in the scene.
    """
    seed = _check_int("seed", seed, 0)
    n_frames = _check_int("frames", n_frames, 1, 100_000)
    width = _check_int("width", width, 1, 4096)
    height = _check_int("height", height, 1, 4096)
    dynamic = _check_int("dynamic", dynamic, 0, MAX_DYNAMIC)
    ss = _check_int("ss", ss, 1, 8)
    chunk_frames = _check_int("chunk_frames", chunk_frames, 1)
    path_seed = seed if path_seed is None else _check_int("path_seed", path_seed, 0)
    try:
        fov = float(fov_deg)
    except (TypeError, ValueError):
        raise InputError(f"fov must be a number of degrees, got {fov_deg!r}") from None
    if not (0.0 < fov < 180.0):
        raise InputError(f"fov must be in (0, 180) degrees, got {fov_deg!r}")
    if aa not in AA_MODES:
        raise InputError(f"aa must be one of {', '.join(AA_MODES)}, got {aa!r}")
    if trajectory_scale is not None:
        try:
            trajectory_scale = float(trajectory_scale)
        except (TypeError, ValueError):
            raise InputError(f"trajectory scale must be a number, got {trajectory_scale!r}") from None
        if not (math.isfinite(trajectory_scale) and trajectory_scale > 0):
            raise InputError(f"trajectory scale must be finite and > 0, got {trajectory_scale!r}")
    if isinstance(trajectory, str) and trajectory in CLOSED_LOOPS and n_frames < 2:
        raise InputError(f"closed-loop path {trajectory} needs at least 2 frames")

    scene = generate_scene(seed, kind, photos=photos)
    K = intrinsics_from_fov(fov, height, width)
    c2w, info = world_path(
        scene, trajectory, n_frames, K, height, width, path_seed,
        scale=trajectory_scale, size_factor=size_factor, reverse=reverse,
    )
    times = torch.arange(n_frames, dtype=torch.float64)
    if dynamic:
        scene = add_dynamic_objects(scene, dynamic, path_seed, c2w, times)
    out = render(scene, c2w, K, height, width, ss=ss, aa=aa, times=times, chunk_frames=chunk_frames)
    inst = out["instance"]
    dyn = torch.zeros_like(inst, dtype=torch.bool)
    for i in scene.dynamic_ids:
        dyn |= inst == i
    meta = {
        "format": "mirage geometry.npz",
        "format_version": FORMAT_VERSION,
        "generator": "mirage_world.worlds",
        "seed": seed,
        "path_seed": path_seed,
        "kind": scene.kind,
        "kind_requested": kind,
        "frames": n_frames,
        "width": width,
        "height": height,
        "fov_deg": fov,
        "aa": aa if aa == "quincunx" else f"box{ss}",
        "trajectory": {k: (v if not isinstance(v, float) else round(v, 9)) for k, v in info.items()},
        "dynamic_requested": dynamic,
        "dynamic_ids": scene.dynamic_ids,
        "n_static_objects": scene.n_objects,
        "sky_depth_m": SKY_DEPTH,
        "ids": {
            **{str(i): name for i, name in enumerate(ROOM_SURFACES)},
            "6..": "static objects (boxes, spheres, cylinders), then dynamic objects",
            str(GROUND_ID): "exterior ground",
            str(SKY_ID): "sky",
        },
        "has_sky": scene.has_exterior,
    }
    return WorldClip(
        rgb=out["rgb"],
        depth=out["depth"],
        instance=inst,
        sky_mask=inst == SKY_ID,
        dynamic_mask=dyn,
        c2w=c2w.float(),
        K=K.float(),
        times=times.float(),
        scene=scene,
        meta=meta,
    )


# ----------------------------------------------------------------------------------------------------------------
# files


def save_world_clip(clip: WorldClip, out_dir, *, fps: float = 16.0, png: bool = True, video: bool = True) -> list[str]:
    """Write a clip folder (layout in the module doc).

    Args:
        clip: a :class:`WorldClip`.
        out_dir: folder (created; existing files of the same names are overwritten).
        fps: frame rate of the mp4 (and recorded in ``meta.json``), finite and > 0.
        png: write ``frames/*.png``.
        video: write ``video.mp4``.

    Returns:
        The paths written.

    Raises:
        InputError: bad ``fps``, folder not creatable, video not writable.
    """
    from PIL import Image

    from mirage_world.io import write_video

    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be finite and > 0, got {fps!r}")
    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder {d}: {e}") from None
    if not d.is_dir():
        raise InputError(f"output path {d} is not a folder")
    frames = clip.frames_uint8
    T = frames.shape[0]
    written = []
    extra = {
        "sky_mask": clip.sky_mask.numpy(),
        "dynamic_mask": clip.dynamic_mask.numpy(),
        "instance": clip.instance.numpy().astype(np.uint8),
        "times": clip.times.numpy().astype(np.float32),
    }
    K = np.repeat(clip.K.numpy().astype(np.float32)[None], T, axis=0)
    write_geometry_npz(d / "geometry.npz", clip.c2w.numpy(), K, clip.depth.numpy(), frames, extra=extra)
    written.append(str(d / "geometry.npz"))
    if png:
        fd = d / "frames"
        fd.mkdir(exist_ok=True)
        for i, f in enumerate(frames):
            p = fd / f"{i:06d}.png"
            Image.fromarray(f).save(p, format="PNG", compress_level=6)
        written.append(str(fd))
    if video:
        write_video(d / "video.mp4", frames, fps)
        written.append(str(d / "video.mp4"))
    meta = dict(clip.meta, fps=fps, files={"geometry": "geometry.npz", "frames": "frames/%06d.png" if png else None,
                                             "video": "video.mp4" if video else None})
    (d / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    written.append(str(d / "meta.json"))
    return written


def load_world_clip(clip_dir) -> dict:
    """Read a clip folder's ``geometry.npz`` and ``meta.json``.

    Returns:
        dict of numpy arrays (keys of the module doc) plus ``"meta"``.

    Raises:
        InputError: folder or files missing / unreadable, missing keys.
    """
    d = Path(clip_dir)
    g = d / "geometry.npz"
    if not g.is_file():
        raise InputError(f"no geometry.npz in {d}")
    out = dict(read_geometry_npz(g).arrays)
    if "depths" not in out:
        raise InputError(f"{g} lacks the array 'depths'")
    m = d / "meta.json"
    out["meta"] = json.loads(m.read_text()) if m.is_file() else {}
    return out


# ----------------------------------------------------------------------------------------------------------------
# datasets


def closed_loop_specs() -> list[dict]:
    """The fixed closed-loop clips: one dict per (scene, path) with ``name``, ``seed``, ``kind``, ``trajectory``."""
    return [
        {"name": f"{kind}_{path}", "seed": seed, "kind": kind, "trajectory": path}
        for seed, kind in CLOSED_LOOP_SCENES
        for path in CLOSED_LOOPS
    ]


def _re10k_files(re10k_dir) -> tuple[list[Path], str]:
    if re10k_dir is None:
        d = DEFAULT_RE10K_DIR
        if not d.is_dir():
            return [], f"{d} not found: presets and random paths only"
    else:
        d = Path(re10k_dir)
        if not d.is_dir():
            raise InputError(f"RealEstate10K folder not found: {d}")
    files = sorted(d.glob("*.txt"))
    if not files:
        if re10k_dir is not None:
            raise InputError(f"no RealEstate10K .txt files in {d}")
        return [], f"no .txt in {d}: presets and random paths only"
    return files, str(d)


_PRESET_CHOICES = ("pan_left", "pan_right", "push_in", "pull_out", "move_left", "move_right", "move_up",
                   "move_down", "orbit_left", "orbit_right")


def _clip_plan(scene_seed: int, clip: int, re10k: list[Path], dynamic_prob: float) -> dict:
    """Per-clip random choices (path family, fov, moving objects), a function of (scene seed, clip index)."""
    rng = np.random.default_rng(np.random.SeedSequence([scene_seed, clip, 0xC11B]))
    path_seed = int(rng.integers(0, 2**31 - 1))
    fov = float(rng.uniform(50.0, 75.0))
    p = [0.35, 0.4, 0.25] if re10k else [0.6, 0.0, 0.4]
    fam = ("preset", "re10k", "random")[int(rng.choice(3, p=p))]
    plan = {"path_seed": path_seed, "fov_deg": fov, "reverse": False, "size_factor": 1.0}
    if fam == "preset":
        plan["trajectory"] = _PRESET_CHOICES[int(rng.integers(len(_PRESET_CHOICES)))]
        plan["size_factor"] = float(rng.uniform(0.5, 1.5))
    elif fam == "re10k":
        plan["trajectory"] = str(re10k[int(rng.integers(len(re10k)))])
        plan["reverse"] = bool(rng.random() < 0.5)
        plan["size_factor"] = float(rng.uniform(0.6, 1.6))
    else:
        plan["trajectory"] = "random"
    plan["dynamic"] = int(rng.integers(1, 4)) if rng.random() < dynamic_prob else 0
    return plan


def _render_job(job: dict) -> dict:
    """Render and write one clip (runs in worker processes too)."""
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    clip = render_world(
        job["seed"], job["trajectory"], job["frames"], job["width"], job["height"],
        kind=job["kind"], dynamic=job["dynamic"], fov_deg=job["fov_deg"], aa=job["aa"], photos=job.get("photos"),
        size_factor=job["size_factor"], reverse=job["reverse"], path_seed=job["path_seed"],
    )
    meta_extra = {"split": job["split"], "clip": job["clip"]}
    if job.get("pairs") is not None or "pairs" in clip.meta["trajectory"]:
        meta_extra["closed_loop"] = {"path": job["trajectory"], "pairs": clip.meta["trajectory"].get("pairs", [])}
    clip.meta.update(meta_extra)
    save_world_clip(clip, job["dir"], fps=job["fps"], png=job["png"], video=job["video"])
    return {
        "dir": job["rel"],
        "scene_seed": job["seed"],
        "clip": job["clip"],
        "kind": clip.meta["kind"],
        "trajectory": clip.meta["trajectory"]["source"],
        "dynamic": len(clip.meta["dynamic_ids"]),
        "frames": job["frames"],
    }


def make_dataset(
    out,
    scenes: int,
    clips_per_scene: int,
    *,
    frames: int = 16,
    width: int = 256,
    height: int = 256,
    seed: int = 0,
    kind: str = "any",
    dynamic_prob: float = 0.3,
    re10k_dir=None,
    photos: Tensor | None = None,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    closed_loop: bool = True,
    closed_loop_frames: int = 48,
    aa: str = "quincunx",
    fps: float = 16.0,
    png: bool = True,
    video: bool = True,
    workers: int = 1,
    progress=None,
) -> dict:
    """Render a dataset of world clips with train / val / test splits and a closed-loop split.

    ``scenes`` scenes are split into ``round(scenes * val_frac)`` val, ``round(scenes * test_frac)`` test (at least
    one each when ``scenes >= 3`` and the fraction is > 0) and the rest train (seeds: :data:`SPLIT_SEED_OFFSETS`); each scene gets ``clips_per_scene`` clips whose camera path is
    drawn per clip from the preset families (size 0.5-1.5x the preset rule), the RealEstate10K paths in
    ``re10k_dir`` (rescaled to the scene by the 0.25 x median depth rule, times 0.6-1.6, played backwards half of
    the time) and the renderer's own random motions, with a horizontal FOV of 50-75 deg and, with probability
    ``dynamic_prob``, 1-3 moving objects. The closed-loop split renders :func:`closed_loop_specs` (static scenes,
    ``closed_loop_frames`` frames, FOV 65 deg).

    Args:
        out: output folder (created).
        scenes: number of scenes (>= 1, < 10_000_000 - seed).
        clips_per_scene: clips per scene (>= 1).
        frames, width, height: clip length and frame size.
        seed: first scene seed (>= 0).
        kind: scene family of every scene (``"any"`` mixes them).
        dynamic_prob: probability that a clip has moving objects, in [0, 1].
        re10k_dir: folder of RealEstate10K ``.txt`` paths; ``None`` = :data:`DEFAULT_RE10K_DIR` if it exists.
        photos: optional texture photos.
        val_frac, test_frac: split fractions, each in [0, 1], summing to <= 1.
        closed_loop: also write the closed-loop split.
        closed_loop_frames: frames of each closed-loop clip (>= 3).
        aa: anti-aliasing mode; fps / png / video: see :func:`save_world_clip`.
        workers: processes rendering in parallel (each with one torch thread); results do not depend on it.
        progress: optional callable ``progress(done, total, entry)``.

    Returns:
        The index written to ``OUT/index.json``.

    Raises:
        InputError: bad parameters.
    """
    scenes = _check_int("scenes", scenes, 1)
    clips_per_scene = _check_int("clips-per-scene", clips_per_scene, 1)
    frames = _check_int("frames", frames, 1, 100_000)
    width = _check_int("width", width, 1, 4096)
    height = _check_int("height", height, 1, 4096)
    seed = _check_int("seed", seed, 0)
    workers = _check_int("workers", workers, 1, 256)
    closed_loop_frames = _check_int("closed-loop-frames", closed_loop_frames, 3, 100_000)
    if seed + scenes > _SEED_SPAN:
        raise InputError(f"seed + scenes must be <= {_SEED_SPAN} so that the split seeds stay disjoint")
    if kind not in SCENE_KINDS:
        raise InputError(f"unknown scene kind {kind!r}; kinds: {', '.join(SCENE_KINDS)}")
    if aa not in AA_MODES:
        raise InputError(f"aa must be one of {', '.join(AA_MODES)}, got {aa!r}")
    for name, v in (("dynamic-prob", dynamic_prob), ("val-frac", val_frac), ("test-frac", test_frac)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0):
            raise InputError(f"{name} must be a number in [0, 1], got {v!r}")
    if val_frac + test_frac > 1.0:
        raise InputError(f"val-frac + test-frac must be <= 1, got {val_frac} + {test_frac}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be finite and > 0, got {fps!r}")
    re10k, re10k_note = _re10k_files(re10k_dir)
    n_val, n_test = (int(math.floor(scenes * f + 0.5)) for f in (val_frac, test_frac))
    if scenes >= 3:  # small datasets still get one val and one test scene when asked for
        n_val = max(n_val, 1 if val_frac > 0 else 0)
        n_test = max(n_test, 1 if test_frac > 0 else 0)
    n_train = scenes - n_val - n_test
    if n_train < 0:
        raise InputError("the split fractions leave no scenes")
    root = Path(out)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create output folder {root}: {e}") from None

    common = dict(frames=frames, width=width, height=height, aa=aa, fps=float(fps), png=png, video=video,
                  photos=photos, threads=1 if workers > 1 else None)
    jobs = []
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        for i in range(n):
            s = seed + SPLIT_SEED_OFFSETS[split] + i
            for c in range(clips_per_scene):
                plan = _clip_plan(s, c, re10k, float(dynamic_prob))
                rel = f"{split}/s{s:08d}_c{c:02d}"
                jobs.append(dict(common, **plan, split=split, seed=s, clip=c, kind=kind, rel=rel, dir=str(root / rel)))
    if closed_loop:
        for spec in closed_loop_specs():
            rel = f"closed_loop/{spec['name']}"
            jobs.append(dict(common, frames=closed_loop_frames, split="closed_loop", seed=spec["seed"], clip=0,
                             kind=spec["kind"], trajectory=spec["trajectory"], path_seed=spec["seed"], fov_deg=65.0,
                             reverse=False, size_factor=1.0, dynamic=0, rel=rel, dir=str(root / rel), pairs=True))
    entries: list[dict] = []
    if workers == 1:
        for k, job in enumerate(jobs):
            entries.append(_render_job(job))
            if progress:
                progress(k + 1, len(jobs), entries[-1])
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for k, entry in enumerate(ex.map(_render_job, jobs)):
                entries.append(entry)
                if progress:
                    progress(k + 1, len(jobs), entry)
    index = {
        "format": "mirage world dataset",
        "format_version": FORMAT_VERSION,
        "args": {
            "scenes": scenes, "clips_per_scene": clips_per_scene, "frames": frames, "width": width,
            "height": height, "seed": seed, "kind": kind, "dynamic_prob": dynamic_prob, "val_frac": val_frac,
            "test_frac": test_frac, "closed_loop_frames": closed_loop_frames if closed_loop else None, "aa": aa,
            "fps": fps, "photos": 0 if photos is None else int(photos.shape[0]),
        },
        "re10k": {"source": re10k_note, "files": [p.name for p in re10k]},
        "split_seed_offsets": SPLIT_SEED_OFFSETS,
        "splits": {s: [e for e, j in zip(entries, jobs) if j["split"] == s] for s in ("train", "val", "test")},
        "closed_loop": [e for e, j in zip(entries, jobs) if j["split"] == "closed_loop"],
    }
    (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    return index
