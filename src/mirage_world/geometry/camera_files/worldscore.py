"""WorldScore ``camera_data.json``: reader and writer.

Source: WorldScore (Duan et al., "WorldScore: A Unified Evaluation Benchmark for World Generation", 2025),
``camera_data.json`` as written by its camera generator: ``cameras_interp`` (the per-frame path: a list of 4x4
camera-to-world matrices), ``cameras`` (the keyframes), ``focal_length`` (pixels, default 500) and ``scale``.

Axes: Blender camera axes (+x right, +y up, looking along -z), converted with
:func:`mirage_world.geometry.convert.blender_to_opencv_c2w` (and back with
:func:`~mirage_world.geometry.convert.opencv_to_blender_c2w` by the writer). Translations are up to scale.

Returns: :func:`read_worldscore` gives a :class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w``
``(N, 4, 4)`` float64 (OpenCV) and ``focal_px`` (no ``K``: the file has no principal point or image size).
"""

from __future__ import annotations

import json
from pathlib import Path

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    clean_poses,
    finite_float,
    open_existing,
    pose_list,
    poses_in,
    prepare_out,
    read_json,
)
from mirage_world.geometry.convert import blender_to_opencv_c2w, opencv_to_blender_c2w

__all__ = ["WORLDSCORE_FOCAL", "read_worldscore", "write_worldscore"]

#: WorldScore's focal length in pixels (its camera generator's default ``focal_length``).
WORLDSCORE_FOCAL = 500.0


def read_worldscore(path) -> CameraFile:
    """Read WorldScore's ``camera_data.json``.

    Keys: ``cameras_interp`` (the per-frame path, required): list of 4x4 camera-to-world matrices with Blender /
    OpenGL camera axes (+y up, looking along -z), converted with :func:`~mirage_world.geometry.convert.
    blender_to_opencv_c2w`; ``focal_length`` in pixels (default :data:`WORLDSCORE_FOCAL` = 500); ``cameras`` (the
    keyframes) and ``scale`` are not used. Translations are up to scale.

    Returns:
        :class:`CameraFile` with ``kind="worldscore"``, ``metric=False``, ``focal_px``.

    Raises:
        InputError: invalid JSON, not an object, missing / malformed ``cameras_interp``, NaN/inf, non-rigid poses
            (message names the index), ``focal_length`` not > 0.
    """
    p = open_existing(path, "WorldScore camera_data.json")
    data = read_json(p)
    if not isinstance(data, dict) or "cameras_interp" not in data:
        raise InputError(f"{p}: expected a JSON object with 'cameras_interp' (WorldScore camera_data.json)")
    gl = pose_list(data["cameras_interp"], p, "cameras_interp")
    for i in range(len(gl)):
        check_c2w(gl[i], f"{p}: cameras_interp[{i}] camera-to-world")
    focal = finite_float(data.get("focal_length", WORLDSCORE_FOCAL), str(p), "focal_length")
    if focal <= 0:
        raise InputError(f"{p}: focal_length must be > 0 pixels, got {focal:g}")
    return CameraFile(
        c2w=clean_poses(blender_to_opencv_c2w(gl)), kind="worldscore", metric=False, path=str(p), focal_px=focal
    )


def write_worldscore(path, c2w, focal_length: float = WORLDSCORE_FOCAL, keyframes=None) -> Path:
    """Write a WorldScore ``camera_data.json`` (format: :func:`read_worldscore`).

    Args:
        path: output file.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world (written as Blender c2w in ``cameras_interp``).
        focal_length: pixels, > 0.
        keyframes: indices written to ``cameras`` (default: first and last).
    """
    arr = poses_in(c2w)
    f = finite_float(focal_length, "write_worldscore", "focal_length")
    if f <= 0:
        raise InputError(f"focal_length must be > 0 pixels, got {f:g}")
    bl = opencv_to_blender_c2w(arr)
    idx = [0, len(arr) - 1] if keyframes is None else [int(i) for i in keyframes]
    if any(not 0 <= i < len(arr) for i in idx):
        raise InputError(f"keyframes must be indices in [0, {len(arr)}), got {idx}")
    data = {"focal_length": f, "scale": 1, "cameras": [bl[i].tolist() for i in idx],
            "cameras_interp": [M.tolist() for M in bl]}
    p = prepare_out(path)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p
