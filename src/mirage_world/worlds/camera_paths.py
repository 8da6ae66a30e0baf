"""Native random camera paths in a scene (:func:`random_camera_path`).

Motion kinds: pan, dolly, truck, orbit around the nearest object, tilt+pan, dolly+pan, truck+counter-pan,
dolly+truck and arc (driving forward while turning). In 16 frames a path translates 0.2-1.0 m and/or rotates
5-40 deg; longer clips keep the rate per frame. The start and every frame keep :data:`CAMERA_CLEARANCE` metres of
horizontal clearance from walls and object footprints (``Scene.clearance``). Presets, RealEstate10K paths and closed
loops placed in scenes are in :mod:`~mirage_world.worlds.paths`, which builds on this module.

Poses are built by :func:`mirage_world.geometry.rotations.look_at_poses` (yaw / pitch, OpenCV axes, world up
``-y``); the field-of-view intrinsics of the package are :func:`mirage_world.geometry.camera.intrinsics_from_fov`.

Imports :mod:`~mirage_world.worlds.scene` only (and :mod:`mirage_world.geometry`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from mirage_world.geometry.rotations import look_at_poses
from mirage_world.worlds.scene import Scene, check_positive_int, check_seed

__all__ = [
    "CAMERA_CLEARANCE",
    "motion_amount",
    "random_camera_path",
]

#: Minimum horizontal distance (metres) kept between camera centres and walls / object footprints.
CAMERA_CLEARANCE = 0.5


# ----------------------------------------------------------------------------------------------------------------
# Random camera paths
# ----------------------------------------------------------------------------------------------------------------

_MOTIONS = ("pan", "dolly", "truck", "orbit", "tilt_pan", "dolly_pan", "truck_pan", "dolly_truck", "arc")


def _profile(rng: np.random.Generator, n: int) -> np.ndarray:
    """Monotone progress ``s`` in [0, 1] over n frames: a blend of constant speed and ease-in-out."""
    x = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    a = rng.uniform(0.0, 1.0) if rng.random() < 0.6 else 0.0
    return (1 - a) * x + a * x * x * (3 - 2 * x)


def motion_amount(c2w_a: Tensor, c2w_b: Tensor, steps: int) -> np.ndarray:
    """Translation (m) and rotation (deg) between two poses, rescaled to a 15-step (16-frame) interval."""
    a, b = c2w_a.double(), c2w_b.double()
    tr = float(torch.linalg.vector_norm(b[:3, 3] - a[:3, 3]))
    cos = float(((a[:3, :3].T @ b[:3, :3]).trace() - 1) / 2)
    rot = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
    return np.array([tr, rot]) * 15.0 / max(steps, 1) + 1e-6


def random_camera_path(scene: Scene, n_frames: int, seed: int) -> Tensor:
    """A smooth random camera trajectory inside the scene's free space.

    Motion kinds: pan (yaw), dolly (forward/back), truck (lateral), orbit around an object, tilt (pitch) with pan,
    and combinations (dolly+pan, truck+counter-pan, dolly+truck, arc). Rates are such that 16 frames (15 steps)
    translate 0.2-1.0 m and/or rotate 5-40 degrees; longer clips keep the rate (pans are capped at 90 degrees
    total). Progress along the path is a random blend of constant speed and ease-in-out.

    The start pose has at least :data:`CAMERA_CLEARANCE` metres of horizontal clearance from walls and object
    footprints, and every frame of the path keeps that clearance (paths violating it are shrunk or replaced; the
    final fallback is a pan in place). Camera height is ``y in [-0.15, 0.15]`` (eye height above the floor),
    pitch (positive = looking down) stays within [-10, 16] degrees, roll is zero.

    Args:
        scene: the scene.
        n_frames: number of poses (>= 1).
        seed: non-negative int; path = f(scene, n_frames, seed), deterministic.

    Returns:
        ``(n_frames, 4, 4)`` float32 ``c2w``.

    Raises:
        ValueError: ``n_frames < 1`` or a bad seed.
    """
    n = check_positive_int("n_frames", n_frames)
    seed = check_seed(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, scene.seed, 0xCA3]))
    clear = CAMERA_CLEARANCE
    lo = scene.room_min.double().numpy()
    hi = scene.room_max.double().numpy()
    steps = max(n - 1, 1)

    # ---- start position: prefer the reserved free disc, otherwise rejection-sample the room
    start = None
    for i in range(400):
        if i < 200 and scene.free_radius > 0:
            r = np.sqrt(rng.random()) * scene.free_radius
            a = rng.uniform(0, 2 * np.pi)
            cand = scene.free_center.double().numpy() + r * np.array([np.cos(a), np.sin(a)])
        else:
            cand = rng.uniform(lo[[0, 2]] + clear, hi[[0, 2]] - clear)
        if scene.clearance(cand[None])[0] >= clear + 0.1:
            start = cand
            break
    if start is None:  # tiny or crowded hand-made room: best point on a grid
        gx, gz = np.meshgrid(np.linspace(lo[0], hi[0], 41)[1:-1], np.linspace(lo[2], hi[2], 41)[1:-1])
        grid = np.stack([gx.ravel(), gz.ravel()], -1)
        start = grid[np.argmax(scene.clearance(grid))]
    y0 = float(np.clip(rng.uniform(-0.1, 0.1), lo[1] + 0.3, hi[1] - 0.3))

    centers = scene.object_centers_xz()
    if len(centers) and rng.random() < 0.75:
        tgt = centers[rng.integers(len(centers))]
    else:
        tgt = rng.uniform(lo[[0, 2]], hi[[0, 2]])
        if np.hypot(*(tgt - start)) < 0.5:
            tgt = 0.5 * (lo[[0, 2]] + hi[[0, 2]]) + 1e-3
    yaw0 = float(np.arctan2(tgt[0] - start[0], tgt[1] - start[1]) + rng.normal(0, np.radians(12)))
    pitch0 = float(np.radians(rng.uniform(-6, 12)))

    def trans_total(scale=1.0):
        return rng.uniform(0.2, 1.0) / 15.0 * steps * scale

    def rot_total():
        return float(np.radians(min(rng.uniform(5.0, 40.0) / 15.0 * steps, 90.0)) * rng.choice([-1, 1]))

    def ok(pos: np.ndarray) -> bool:
        return bool((scene.clearance(pos[:, [0, 2]]) >= clear).all())

    def build(kind: str):
        s = _profile(rng, n)
        yaw = np.full(n, yaw0)
        pitch = np.full(n, pitch0)
        pos = np.tile(np.array([start[0], y0, start[1]]), (n, 1))
        fwd = np.array([np.sin(yaw0), 0.0, np.cos(yaw0)])
        right = np.array([np.cos(yaw0), 0.0, -np.sin(yaw0)])
        if kind == "pan":
            yaw = yaw0 + rot_total() * s
            pitch = pitch0 + np.radians(rng.uniform(-3, 3)) * s
        elif kind == "tilt_pan":
            yaw = yaw0 + rot_total() * 0.5 * s
            pitch = pitch0 + np.radians(rng.uniform(4, 12)) * (-1.0 if pitch0 > np.radians(3) else 1.0) * s
        elif kind in ("dolly", "truck", "dolly_pan", "truck_pan", "dolly_truck"):
            if kind == "dolly_truck":
                a = rng.uniform(0, 2 * np.pi)
                vec = np.cos(a) * fwd + np.sin(a) * right
            elif kind.startswith("dolly"):
                vec = fwd * rng.choice([-1.0, 1.0], p=[0.3, 0.7])
            else:
                vec = right * rng.choice([-1.0, 1.0])
            pos = pos + np.outer(s * trans_total(), vec)
            pos[:, 1] += rng.uniform(-0.05, 0.05) * s
            if kind == "dolly_pan":
                yaw = yaw0 + rot_total() * 0.6 * s
            elif kind == "truck_pan":  # counter-pan keeps the subject roughly centred
                side = np.sign(vec @ right)
                yaw = yaw0 - side * abs(rot_total()) * 0.5 * s
        elif kind == "arc":  # drive forward while turning (heading follows the motion)
            turn = rot_total()
            ds = np.diff(s)
            mid = 0.5 * (s[1:] + s[:-1])
            ang = yaw0 + turn * mid
            step = trans_total() * ds
            disp = np.stack([np.sin(ang) * step, np.zeros(n - 1), np.cos(ang) * step], -1)
            pos = pos + np.concatenate([np.zeros((1, 3)), np.cumsum(disp, 0)], 0)
            yaw = yaw0 + turn * s
        elif kind == "orbit":
            if not len(centers):
                return None
            dist = np.hypot(centers[:, 0] - start[0], centers[:, 1] - start[1])
            k = int(np.argmin(dist))
            c, R = centers[k], dist[k]
            if R > 4.5 or R < 0.6:
                return None
            a0 = np.arctan2(start[0] - c[0], start[1] - c[1])
            arc = trans_total()
            ang = arc / R
            ang = float(np.clip(ang, np.radians(5) * steps / 15, np.radians(40) * steps / 15)) * rng.choice([-1, 1])
            a = a0 + ang * s
            pos = np.stack([c[0] + R * np.sin(a), np.full(n, y0), c[1] + R * np.cos(a)], -1)
            yaw = np.arctan2(c[0] - pos[:, 0], c[1] - pos[:, 2]) + rng.normal(0, np.radians(5))
            hgt = scene.floor_y - scene.object_heights()[k] * 0.5
            pitch = np.full(n, np.clip(np.arctan2(hgt - y0, R), np.radians(-5), np.radians(15)))
        return pos, yaw, pitch

    def enough_motion(pos, yaw, pitch) -> bool:
        if n == 1:
            return True
        ends = look_at_poses(pos[[0, -1]], np.asarray(yaw, np.float64)[[0, -1]], np.asarray(pitch, np.float64)[[0, -1]])
        return (motion_amount(ends[0], ends[1], steps) >= (0.2, 5.0)).any()

    w = np.array([0.17, 0.16, 0.12, 0.13, 0.07, 0.12, 0.09, 0.07, 0.07])
    result = None
    for _ in range(12):
        kind = _MOTIONS[int(rng.choice(len(_MOTIONS), p=w / w.sum()))]
        out = build(kind)
        if out is None:
            continue
        pos, yaw, pitch = out
        base = np.array([start[0], y0, start[1]])
        for shrink in (1.0, 0.7, 0.45):  # shrink the translation towards the start if it leaves free space
            p2 = base + (pos - base) * shrink
            if ok(p2) and enough_motion(p2, yaw, pitch):
                result = (p2, yaw, pitch)
                break
        if result is not None:
            break
    if result is None:
        s = _profile(rng, n)
        result = (np.tile(np.array([start[0], y0, start[1]]), (n, 1)), yaw0 + rot_total() * s, np.full(n, pitch0))
    pos, yaw, pitch = result
    return look_at_poses(pos, np.asarray(yaw, np.float64), np.asarray(pitch, np.float64))
