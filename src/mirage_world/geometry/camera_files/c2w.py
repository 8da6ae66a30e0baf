"""Plain camera-to-world paths: ``.npy`` and ``.json`` arrays of 4x4 matrices, readers and writers.

Source: the package's own plain format (no external spec): an ``(N, 4, 4)`` array of camera-to-world matrices, as a
``.npy`` file (real numeric dtype, no pickles) or as JSON (a bare nested list ``[[[...4], x4], ...]`` or an object
with ``"c2w"`` / ``"poses_c2w"`` holding it; the writer adds a ``"convention"`` note).

Axes: the package's own, OpenCV camera axes (+x right, +y down, +z forward): no conversion. Translations are metres.

Returns: :func:`read_c2w_npy` gives the ``(N, 4, 4)`` float64 tensor itself; :func:`read_c2w_json` a
:class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w`` ``(N, 4, 4)`` float64 (no ``K``). Rotations are
validated (orthonormal within 1e-3, det > 0, last row ``0 0 0 1``) and projected exactly onto SO(3).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    clean_poses,
    open_existing,
    pose_list,
    poses_in,
    prepare_out,
    read_json,
)

__all__ = ["read_c2w_npy", "write_c2w_npy", "read_c2w_json", "write_c2w_json"]


def read_c2w_npy(path) -> Tensor:
    """Read a ``.npy`` file of camera-to-world poses.

    Args:
        path: ``str`` or ``os.PathLike`` of a ``.npy`` file holding a real numeric array of shape ``(N, 4, 4)``,
            ``N >= 1``: camera-to-world matrices in OpenCV axes (translations taken as metres by
            :func:`~mirage_world.geometry.trajectory.load_trajectory`).

    Returns:
        ``(N, 4, 4)`` float64 tensor. Rotations are projected exactly onto SO(3) (after validation).

    Raises:
        InputError: file missing or not a readable (non-pickled) ``.npy``; wrong dtype or shape; NaN/inf; last row
            not ``0 0 0 1`` (within 1e-6); rotation not orthonormal within 1e-3 or with determinant <= 0. The message
            names the file and, where relevant, the pose index.
    """
    p = open_existing(path, "camera path .npy file")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"{p}: cannot read as a .npy array ({e})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{p}: expected a single .npy array, got {type(arr).__name__}")
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{p}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1:] != (4, 4) or arr.shape[0] < 1:
        raise InputError(f"{p}: expected shape (N, 4, 4) camera-to-world matrices, got {tuple(arr.shape)}")
    arr = arr.astype(np.float64)
    for i in range(arr.shape[0]):
        check_c2w(arr[i], f"{p}: pose {i}")
    return clean_poses(arr)


def write_c2w_npy(path, c2w) -> Path:
    """Write an ``(N, 4, 4)`` float64 ``.npy`` of OpenCV camera-to-world poses (read by :func:`read_c2w_npy`)."""
    arr = poses_in(c2w)
    p = prepare_out(path)
    with open(p, "wb") as fh:
        np.save(fh, arr)
    return p


def read_c2w_json(path) -> CameraFile:
    """Read a JSON file of OpenCV camera-to-world 4x4 matrices, taken as metres.

    Accepted: a bare list ``[[[...4], x4], ...]`` or an object with ``"c2w"`` or ``"poses_c2w"`` holding that list.

    Raises:
        InputError: invalid JSON, other structure, malformed matrix, NaN/inf, non-rigid pose (names the index).
    """
    p = open_existing(path, "camera path .json file")
    data = read_json(p)
    key = "c2w"
    if isinstance(data, dict):
        key = next((k for k in ("c2w", "poses_c2w") if k in data), None)
        if key is None:
            raise InputError(f"{p}: expected a list of 4x4 c2w matrices or an object with 'c2w' / 'poses_c2w'")
        data = data[key]
    arr = pose_list(data, p, key)
    for i in range(len(arr)):
        check_c2w(arr[i], f"{p}: {key}[{i}] camera-to-world")
    return CameraFile(c2w=clean_poses(arr), kind="c2w_json", metric=True, path=str(p))


def write_c2w_json(path, c2w) -> Path:
    """Write ``{"convention": ..., "c2w": [...]}`` (OpenCV camera-to-world, metres); read by :func:`read_c2w_json`."""
    arr = poses_in(c2w)
    data = {"convention": "OpenCV camera axes (+x right, +y down, +z forward), camera-to-world, metres",
            "c2w": [M.tolist() for M in arr]}
    p = prepare_out(path)
    p.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return p
