"""Mirage ``geometry.npz``: the one reader and the one writer of the file (geometry and :mod:`mirage_world.worlds`).

Source: Mirage's own clip layout (written by :func:`mirage_world.worlds.dataset.save_world_clip`, documented in
``worlds/design.md``). A plain uncompressed NumPy archive (``np.load`` reads it) with the arrays

* ``poses_c2w`` ``(N, 4, 4)`` camera-to-world, metres (required; float32 as written);
* ``intrinsics`` ``(N, 3, 3)`` pixels, pixel centres at +0.5 (required; ``(3, 3)`` accepted on reading);
* ``depths`` ``(N, H, W)`` metric z-depth, ``0`` = invalid (optional here; values are not checked);
* ``frames`` ``(N, H, W, 3)`` uint8 RGB (optional);
* any other arrays (the world clips add ``sky_mask``, ``dynamic_mask``, ``instance``, ``times``), kept as stored.

Axes: the package's own, OpenCV camera axes (+x right, +y down, +z forward): no conversion. Translations are metres.

Returns: :func:`read_geometry_npz` gives a :class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w``
``(N, 4, 4)`` float64 (rotations projected onto SO(3)), ``K`` ``(N, 3, 3)`` float64, ``image_hw``, ``depths``
float32 / ``frames`` uint8 when present, and ``arrays``: every array exactly as stored (dtypes kept).

The writer is deterministic: the same arrays give the same bytes (fixed zip timestamps, where ``np.savez`` stamps
the current time), written to a temporary name and renamed.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    K_in,
    clean_poses,
    open_existing,
    poses_in,
    prepare_out,
)

__all__ = ["read_geometry_npz", "write_geometry_npz", "GEOMETRY_NPZ_ARRAYS"]

#: The arrays this module gives a meaning to (any other array is carried along as is).
GEOMETRY_NPZ_ARRAYS = ("depths", "intrinsics", "poses_c2w", "frames")
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def read_geometry_npz(path) -> CameraFile:
    """Read a ``geometry.npz`` (layout: module doc).

    Returns:
        :class:`~mirage_world.geometry.camera_files.CameraFile` with ``kind="geometry_npz"``, ``metric=True``,
        ``K`` (N, 3, 3), ``image_hw`` (from ``depths`` / ``frames``), ``depths`` float32 and ``frames`` when
        present, ``arrays`` (read-only mapping of every array as stored).

    Raises:
        InputError: not a readable npz; missing ``poses_c2w`` / ``intrinsics``; wrong shapes or lengths that
            disagree; NaN/inf poses or intrinsics; zero focal; non-rigid pose (message names the pose index).
    """
    p = open_existing(path, "geometry .npz file")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"{p}: cannot read as a .npz archive ({e})") from None
    for key in ("poses_c2w", "intrinsics"):
        if key not in arrays:
            raise InputError(f"{p}: lacks the array {key!r} (has: {', '.join(sorted(arrays)) or 'nothing'})")
    poses = arrays["poses_c2w"]
    if poses.dtype.kind not in "fiu" or poses.ndim != 3 or poses.shape[1:] != (4, 4) or poses.shape[0] < 1:
        raise InputError(f"{p}: poses_c2w must be a numeric (N, 4, 4) array, got {poses.dtype} {poses.shape}")
    n = poses.shape[0]
    poses = poses.astype(np.float64)
    for i in range(n):
        check_c2w(poses[i], f"{p}: poses_c2w[{i}]")
    Kraw = arrays["intrinsics"]
    if Kraw.dtype.kind not in "fiu":
        raise InputError(f"{p}: intrinsics must be numeric, got {Kraw.dtype}")
    try:
        K = K_in(Kraw.astype(np.float64), n, "intrinsics")
    except InputError as e:
        raise InputError(f"{p}: {e}") from None
    hw = None
    depths = arrays.get("depths")
    if depths is not None:
        if depths.dtype.kind not in "fiu" or depths.ndim != 3 or depths.shape[0] != n:
            raise InputError(f"{p}: depths must be a numeric (N, H, W) array with N = {n} poses, got {depths.shape}")
        depths = depths.astype(np.float32)
        hw = (int(depths.shape[1]), int(depths.shape[2]))
    frames = arrays.get("frames")
    if frames is not None:
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != n or frames.shape[3] != 3:
            raise InputError(f"{p}: frames must be uint8 (N, H, W, 3) with N = {n}, got {frames.dtype} {frames.shape}")
        fhw = (int(frames.shape[1]), int(frames.shape[2]))
        if hw is not None and fhw != hw:
            raise InputError(f"{p}: frames are {fhw[1]}x{fhw[0]} but depths are {hw[1]}x{hw[0]} (WxH)")
        hw = fhw
    return CameraFile(
        c2w=clean_poses(poses), kind="geometry_npz", metric=True, path=str(p), K=torch.from_numpy(K),
        image_hw=hw, depths=depths, frames=frames, arrays=MappingProxyType(arrays),
    )


def _extra_arrays(extra, reserved: set[str]) -> dict[str, np.ndarray]:
    out = {}
    for name, v in (extra or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"extra array names must be identifiers, got {name!r}")
        if name in reserved:
            raise InputError(f"extra array {name!r} clashes with a geometry.npz array ({', '.join(sorted(reserved))})")
        a = v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v)
        if a.dtype.kind not in "biuf":
            raise InputError(f"extra array {name!r} must be boolean or numeric, got {a.dtype}")
        out[name] = a
    return out


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed ``.npz`` with fixed zip timestamps (identical bytes for identical arrays), written to a
    temporary name and renamed."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, arr in arrays.items():
                info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_ZIP_TIME)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
        os.replace(tmp, path)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e}") from None


def write_geometry_npz(path, poses_c2w, intrinsics, depths=None, frames=None, extra=None) -> Path:
    """Write a ``geometry.npz`` (layout: module doc; float32 poses / intrinsics / depths, deterministic bytes).

    Args:
        path: output ``.npz`` (parent folders created; an existing file is replaced).
        poses_c2w: ``(N, 4, 4)`` OpenCV camera-to-world, metres.
        intrinsics: ``(3, 3)`` or ``(N, 3, 3)`` pixels (written as (N, 3, 3)).
        depths: ``(N, H, W)`` z-depth metres or ``None``.
        frames: ``(N, H, W, 3)`` uint8 or ``None``.
        extra: other arrays to store as given (name -> boolean / numeric array), after the four above.

    Returns:
        The path written.

    Raises:
        InputError: bad / inconsistent shapes, NaN/inf poses or intrinsics, zero focal, non-rigid poses, bad
            ``extra`` arrays, file not writable.
    """
    arr = poses_in(poses_c2w, "poses_c2w")
    n = arr.shape[0]
    out = {}
    Ks = K_in(intrinsics, n, "intrinsics").astype(np.float32)
    hw = None
    if depths is not None:
        d = depths.detach().cpu().numpy() if isinstance(depths, Tensor) else np.asarray(depths)
        if d.ndim != 3 or d.shape[0] != n:
            raise InputError(f"depths must have shape ({n}, H, W) to match {n} poses, got {tuple(d.shape)}")
        out["depths"] = d.astype(np.float32)
        hw = d.shape[1:]
    out["intrinsics"] = Ks
    out["poses_c2w"] = arr.astype(np.float32)
    if frames is not None:
        f = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[0] != n or f.shape[3] != 3:
            raise InputError(f"frames must be uint8 ({n}, H, W, 3), got {f.dtype} {tuple(f.shape)}")
        if hw is not None and f.shape[1:3] != hw:
            raise InputError(f"frames size {f.shape[1:3]} differs from depths size {hw}")
        out["frames"] = f
    out.update(_extra_arrays(extra, set(GEOMETRY_NPZ_ARRAYS)))
    p = prepare_out(path)
    _write_npz(p, out)
    return p
