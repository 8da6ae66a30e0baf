"""Camera paths placed in procedural scenes: presets, RealEstate10K / ``.npy`` paths and closed loops.

The presets and file paths of :mod:`mirage_world.geometry.trajectory` are relative to their first camera. Here the
first camera is put at a free position of the scene (the start pose of
:func:`~mirage_world.worlds.camera_paths.random_camera_path`: horizontal clearance from walls and objects, eye
height, looking roughly at an object) and the path is expressed in world coordinates:
``c2w_world = c2w_start @ c2w_rel``.

Sizing follows the package rules, with the scene's depth standing in for the photo's: presets move by a fraction
of the median depth ``d`` of the first frame (sky excluded), RealEstate10K paths (up to scale) are rescaled so the
farthest camera is ``0.25 * d`` from the first (:func:`~mirage_world.geometry.trajectory.auto_trajectory_scale`),
``.npy`` paths are metric. A path that would leave the free space (closer than ``clearance`` metres to a wall or
an object footprint, or within 0.2 m of the floor / ceiling plane) is tried from up to 8 start poses, then its
translations are shrunk towards the first camera (factors 1, 0.75, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05); the
factor used is reported.

Closed loops (:data:`CLOSED_LOOPS`, for measuring spatial consistency; the last frame's pose equals the first):

* ``out_and_back``: walk 1-2 m forward while turning up to 20 deg, then back along the same poses in reverse
  (pose ``k`` equals pose ``n - 1 - k``).
* ``orbit_360``: a full circle around an object (radius: its footprint + 0.9-1.6 m) looking at it, or, when no
  object has a free ring around it, a 0.6 m circle around the scene's free centre looking at the centre.
* ``look_away_and_back``: pan 100-180 deg to one side and back (pose ``k`` equals pose ``n - 1 - k``).

Imports :mod:`~mirage_world.worlds.scene`, :mod:`~mirage_world.worlds.camera_paths` (start poses, native random
paths) and :mod:`~mirage_world.worlds.render` (the first frame's median depth).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.rotations import look_at_poses, rot_y
from mirage_world.geometry.trajectory import (
    PRESETS,
    auto_trajectory_scale,
    load_trajectory,
    read_c2w_npy,
    read_re10k,
    relative_to_first,
    resample_path,
    scale_translation,
)
from mirage_world.worlds.camera_paths import random_camera_path
from mirage_world.worlds.render import render
from mirage_world.worlds.scene import SKY_ID, Scene

__all__ = [
    "CLOSED_LOOPS",
    "PATH_CLEARANCE",
    "SHRINK_FACTORS",
    "path_fits",
    "start_pose",
    "first_frame_median_depth",
    "place_relative_path",
    "world_path",
    "closed_loop_path",
]

#: Closed-loop path names (see module doc).
CLOSED_LOOPS = ("out_and_back", "orbit_360", "look_away_and_back")
#: Default minimum horizontal distance (m) between a placed camera and walls / object footprints.
PATH_CLEARANCE = 0.3
#: Translation shrink factors tried, in order, when a path does not fit.
SHRINK_FACTORS = (1.0, 0.75, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05)
_N_STARTS = 8
_VERTICAL_MARGIN = 0.2


def _seed_k(seed: int, k: int) -> int:
    """Seed of the ``k``-th start candidate (``k = 0`` is ``seed`` itself)."""
    if k == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), k, 0x57A]).generate_state(1)[0] & 0x7FFFFFFF)


def path_fits(scene: Scene, c2w, clearance: float = PATH_CLEARANCE) -> bool:
    """Whether every camera centre of ``c2w`` ``(n, 4, 4)`` keeps ``clearance`` metres of horizontal distance from
    walls and static object footprints and stays 0.2 m away from the floor and ceiling planes."""
    c = torch.as_tensor(c2w).double()[:, :3, 3].numpy()
    lo, hi = scene.room_min.double().numpy(), scene.room_max.double().numpy()
    if not ((c[:, 1] > lo[1] + _VERTICAL_MARGIN) & (c[:, 1] < hi[1] - _VERTICAL_MARGIN)).all():
        return False
    return bool((scene.clearance(c[:, [0, 2]]) >= clearance).all())


def start_pose(scene: Scene, seed: int, k: int = 0) -> Tensor:
    """The ``k``-th candidate start pose ``(4, 4)`` float64 (``k = 0``: the first pose of
    ``random_camera_path(scene, n, seed)``)."""
    return random_camera_path(scene, 1, _seed_k(seed, k))[0].double()


def first_frame_median_depth(scene: Scene, c2w0, K, height: int, width: int) -> tuple[float, np.ndarray]:
    """Median z-depth (m) of the non-sky pixels seen from ``c2w0``, rendered at a long side of at most 64 px.

    Returns:
        ``(median, depth)`` with ``depth`` the low-resolution map, sky set to 0 (invalid). ``median`` falls back to
        5 m when everything is sky.
    """
    K = torch.as_tensor(K, dtype=torch.float64)
    s = min(1.0, 64.0 / max(height, width))
    h, w = max(1, round(height * s)), max(1, round(width * s))
    Kl = K.clone()
    Kl[0] *= w / width
    Kl[1] *= h / height
    out = render(scene, torch.as_tensor(c2w0).float(), Kl.float(), h, w, ss=1)
    d = out["depth"][0].double().numpy().copy()
    d[out["instance"][0].numpy() == SKY_ID] = 0.0
    valid = d[d > 0]
    return (float(np.median(valid)) if valid.size else 5.0), d


def place_relative_path(
    scene: Scene, rel, starts: list[Tensor], clearance: float = PATH_CLEARANCE
) -> tuple[Tensor, float, int] | None:
    """Put a path relative to its first camera into the scene.

    Tries every start pose at full size first, then smaller :data:`SHRINK_FACTORS` (translations only).

    Args:
        rel: ``(n, 4, 4)`` poses relative to the first (``rel[0]`` = identity), metres.
        starts: candidate start poses ``(4, 4)`` (world).

    Returns:
        ``(c2w_world (n, 4, 4) float32, factor, start index)`` or ``None`` when nothing fits.
    """
    rel = torch.as_tensor(rel).double()
    for f in SHRINK_FACTORS:
        r = rel if f == 1.0 else scale_translation(rel, f)
        for k, st in enumerate(starts):
            c2w = st.double() @ r
            if path_fits(scene, c2w, clearance):
                return c2w.float(), f, k
    return None


def _as_path_array(spec) -> Tensor | None:
    if isinstance(spec, (np.ndarray, Tensor)):
        arr = torch.as_tensor(spec).double()
        if arr.ndim != 3 or arr.shape[1:] != (4, 4) or arr.shape[0] < 1:
            raise InputError(f"a camera path array must have shape (N, 4, 4), got {tuple(arr.shape)}")
        return arr
    return None


def world_path(
    scene: Scene,
    spec,
    n_frames: int,
    K,
    height: int,
    width: int,
    seed: int,
    *,
    scale: float | None = None,
    size_factor: float = 1.0,
    reverse: bool = False,
    clearance: float = PATH_CLEARANCE,
) -> tuple[Tensor, dict]:
    """A camera path of ``n_frames`` world poses in ``scene``.

    Args:
        scene: the (static) scene.
        spec: ``"random"`` (:func:`~mirage_world.worlds.camera_paths.random_camera_path`), a closed loop
            (:data:`CLOSED_LOOPS`), a preset (:data:`~mirage_world.geometry.trajectory.PRESETS`), a RealEstate10K
            ``.txt``, a ``(N, 4, 4)`` c2w ``.npy`` (metric), or an ``(N, 4, 4)`` array (treated like RealEstate10K:
            up to scale).
        n_frames: number of poses (>= 1).
        K, height, width: the camera (for the first-frame median depth).
        seed: seed of the start poses (and of random / closed-loop paths).
        scale: explicit translation scale (metres per path unit; for presets the depth unit ``d``) instead of the
            automatic rule.
        size_factor: multiplies the automatic scale (dataset variety); ignored with ``scale``.
        reverse: play a file / array path backwards.
        clearance: see :func:`path_fits`.

    Returns:
        ``(c2w (n_frames, 4, 4) float32, info)``; ``info`` has ``source``, ``scale`` (metres per path unit
        applied, after shrinking), ``shrink`` (factor applied to fit), ``start`` (start candidate index) and
        ``median_depth`` (m, when measured).

    Raises:
        InputError: unknown preset / missing or malformed file, bad ``n_frames`` / ``scale``, or a path that does
            not fit in the scene even shrunk to 5 %.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise InputError(f"the number of frames must be an int >= 1, got {n_frames!r}")
    n = int(n_frames)
    if not (isinstance(size_factor, (int, float)) and math.isfinite(size_factor) and size_factor > 0):
        raise InputError(f"size_factor must be a finite positive number, got {size_factor!r}")
    if isinstance(spec, str) and spec == "random":
        return random_camera_path(scene, n, seed), {"source": "random", "scale": 1.0, "shrink": 1.0, "start": 0}
    if isinstance(spec, str) and spec in CLOSED_LOOPS:
        return closed_loop_path(scene, spec, n, seed, clearance=clearance)

    starts = [start_pose(scene, seed, k) for k in range(_N_STARTS)]
    arr = _as_path_array(spec)
    preset = isinstance(spec, str) and spec.strip().lower().replace("-", "_").replace(" ", "_") in PRESETS
    median, depth = first_frame_median_depth(scene, starts[0], K, height, width)
    info: dict = {"median_depth": median}
    if preset and not reverse:
        d = scale if scale is not None else median * size_factor
        traj = load_trajectory(spec, n, scale=d)
        rel, info["source"], unit = traj.c2w, traj.source, traj.scale
    else:
        if arr is not None:
            raw, kind, metric = arr, "array", False
        elif preset:
            raise InputError("reverse is only supported for file and array paths")
        else:
            if not isinstance(spec, (str, os.PathLike)):
                raise InputError(f"camera path must be a name, a file path or an (N, 4, 4) array, got {type(spec).__name__}")
            if not Path(spec).is_file():
                raise InputError(
                    f"camera path {str(spec)!r} is neither a known path nor an existing file; names: random, "
                    f"{', '.join(CLOSED_LOOPS)}, {', '.join(PRESETS)}; files: RealEstate10K .txt or (N, 4, 4) "
                    "camera-to-world .npy"
                )
            p = Path(spec)
            if p.suffix.lower() == ".txt":
                raw, kind, metric = read_re10k(p).c2w, "re10k", False
            elif p.suffix.lower() == ".npy":
                raw, kind, metric = read_c2w_npy(p), "npy", True
            else:
                load_trajectory(spec, n, scale=1.0)  # raises: unsupported extension
                raise AssertionError
            kind = f"{kind}:{p}"
        if reverse:
            raw = torch.flip(raw, [0])
        rel = resample_path(relative_to_first(raw), n)
        if scale is not None:
            unit = float(scale)
        elif metric:
            unit = 1.0
        else:
            unit = auto_trajectory_scale(rel, depth) * size_factor
        rel = scale_translation(rel, unit)
        info["source"] = kind + (":reversed" if reverse else "")
    placed = place_relative_path(scene, rel, starts, clearance)
    if placed is None:
        raise InputError(
            f"camera path {info['source']} does not fit in scene (seed {scene.seed}, {scene.kind}) even with its "
            f"translations shrunk to {SHRINK_FACTORS[-1]:g}x; use a smaller --trajectory-scale"
        )
    c2w, f, k = placed
    info.update(scale=float(unit) * f, shrink=f, start=k)
    return c2w, info


# ----------------------------------------------------------------------------------------------------------------
# closed loops


def _ease(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def _there_and_back(n: int) -> np.ndarray:
    """Progress ``s`` in [0, 1] over n frames going 0 -> 1 -> 0 (eased) with ``s[k] == s[n-1-k]`` exactly."""
    if n == 1:
        return np.zeros(1)
    k = np.arange(n, dtype=np.float64)
    s = _ease(1.0 - np.abs(2.0 * k / (n - 1) - 1.0))
    for i in range(n // 2):
        s[n - 1 - i] = s[i]
    return s


def _mirror(c2w: Tensor) -> Tensor:
    """Make pose ``n-1-k`` exactly equal to pose ``k``."""
    n = c2w.shape[0]
    out = c2w.clone()
    for k in range(n // 2):
        out[n - 1 - k] = out[k]
    return out


def closed_loop_path(scene: Scene, name: str, n_frames: int, seed: int, *, clearance: float = PATH_CLEARANCE):
    """A closed-loop path (see module doc) of ``n_frames`` world poses; the last pose equals the first.

    Returns:
        ``(c2w (n, 4, 4) float32, info)`` with ``source = "closed_loop:<name>"``, ``shrink``, ``start`` and
        ``pairs``: frame index pairs ``[i, j]`` with identical poses.

    Raises:
        InputError: unknown name or bad ``n_frames``.
    """
    if name not in CLOSED_LOOPS:
        raise InputError(f"unknown closed-loop path {name!r}; closed loops: {', '.join(CLOSED_LOOPS)}")
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 2:
        raise InputError(f"a closed-loop path needs an int >= 2 frames, got {n_frames!r}")
    n = int(n_frames)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), scene.seed, 0xC10]))
    info: dict = {"source": f"closed_loop:{name}", "shrink": 1.0, "start": 0}
    if name in ("out_and_back", "look_away_and_back"):
        s = _there_and_back(n)
        rel = np.tile(np.eye(4), (n, 1, 1))
        if name == "out_and_back":
            dist = rng.uniform(1.0, 2.0)
            turn = math.radians(rng.uniform(-20, 20))
            side = rng.uniform(-0.3, 0.3)
            ang = turn * s
        else:
            ang = math.radians(rng.uniform(100, 180)) * rng.choice([-1.0, 1.0]) * s
        rel[:, :3, :3] = rot_y(ang)  # R_y(ang) in camera axes
        if name == "out_and_back":
            rel[:, 0, 3] = side * dist * s
            rel[:, 2, 3] = dist * s
        starts = [start_pose(scene, seed, k) for k in range(_N_STARTS)]
        placed = place_relative_path(scene, torch.from_numpy(rel), starts, clearance)
        if placed is None:
            raise InputError(f"closed-loop path {name} does not fit in scene seed {scene.seed}")
        c2w, f, k = placed
        info.update(shrink=f, start=k)
        c2w = _mirror(c2w)
        info["pairs"] = [[k, n - 1 - k] for k in range(n // 2)]
        return c2w, info

    # orbit_360
    cen = scene.object_centers_xz()
    rad = scene.object_radii_xz()
    hts = scene.object_heights()
    fc = scene.free_center.double().numpy()
    order = np.argsort(np.hypot(cen[:, 0] - fc[0], cen[:, 1] - fc[1])) if len(cen) else []
    lo, hi = scene.room_min.double().numpy(), scene.room_max.double().numpy()
    y0 = float(np.clip(rng.uniform(-0.1, 0.1), lo[1] + 0.3, hi[1] - 0.3))
    phi0 = rng.uniform(0, 2 * np.pi)
    sign = rng.choice([-1.0, 1.0])
    ring = phi0 + sign * np.linspace(0, 2 * np.pi, 96)
    target, R, look_y = None, None, y0
    for i in order:
        r = rad[i] + rng.uniform(0.9, 1.6)
        pts = cen[i] + r * np.stack([np.sin(ring), np.cos(ring)], -1)
        if (scene.clearance(pts) >= clearance).all() and hts[i] < 3.0:
            target, R = cen[i], r
            look_y = scene.floor_y - 0.5 * hts[i]
            info["target"] = f"object {6 + int(i)}"
            break
    if target is None:
        target, R = fc, 0.6
        info["target"] = "free_center"
        pts = target + R * np.stack([np.sin(ring), np.cos(ring)], -1)
        if not (scene.clearance(pts) >= clearance).all():
            raise InputError(f"closed-loop path orbit_360 does not fit in scene seed {scene.seed}")
    phi = phi0 + sign * 2 * np.pi * np.arange(n) / (n - 1)
    pos = np.stack([target[0] + R * np.sin(phi), np.full(n, y0), target[1] + R * np.cos(phi)], -1)
    yaw = np.arctan2(target[0] - pos[:, 0], target[1] - pos[:, 2])
    pitch = np.full(n, float(np.clip(np.arctan2(look_y - y0, R), np.radians(-10), np.radians(10))))
    c2w = look_at_poses(pos, yaw, pitch)
    c2w[-1] = c2w[0]
    info["pairs"] = [[0, n - 1]]
    return c2w, info
