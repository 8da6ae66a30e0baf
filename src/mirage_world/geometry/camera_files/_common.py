"""Shared parts of the camera-file readers and writers: the :class:`CameraFile` result and boundary validation.

Everything here is format-agnostic: reading text / JSON with file-naming errors, 4x4 matrix parsing, cleaning of
validated poses, and writer-side validation of poses and intrinsics. Poses and intrinsics are checked by the
package's one check (:func:`~mirage_world.geometry.camera.check_c2w`, :func:`~mirage_world.geometry.camera.
check_intrinsics`; :class:`~mirage_world.errors.InputError` naming the file and the line or pose index). Conventions
as in :mod:`mirage_world.geometry.camera`: OpenCV camera axes, camera-to-world ``c2w``, ``K`` in pixels.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w, check_intrinsics
from mirage_world.geometry.rotations import nearest_rotation


@dataclass(frozen=True)
class CameraFile:
    """A camera path read from a file, in the package convention.

    Attributes:
        c2w: ``(N, 4, 4)`` float64 camera-to-world poses, OpenCV axes, in the file's units.
        kind: the format (one of :data:`mirage_world.geometry.camera_files.FORMATS`).
        metric: whether the translations are metres (see :data:`~mirage_world.geometry.camera_files.METRIC_FORMATS`).
        path: the file (or folder) read.
        K: ``(N, 3, 3)`` float64 intrinsics in pixels, when the file gives them fully in pixels.
        intrinsics_norm: ``(N, 4)`` float64 ``fx fy cx cy`` normalised by width / height (RealEstate10K, Spatia).
        image_hw: ``(H, W)`` when the file states the image size.
        focal_px: focal length in pixels when the file gives only that (WorldScore).
        depths: ``(N, H, W)`` float32 metres (``geometry.npz``).
        frames: ``(N, H, W, 3)`` uint8 RGB (``geometry.npz``).
        file_paths: per-frame image paths (nerfstudio).
        frame_numbers: per-frame frame numbers stated by the file (``trajectory.log``: the third metadata number).
        arrays: every array of the file exactly as stored (``geometry.npz``: dtypes kept, extra arrays included).
    """

    c2w: Tensor
    kind: str
    metric: bool
    path: str
    K: Tensor | None = None
    intrinsics_norm: Tensor | None = None
    image_hw: tuple[int, int] | None = None
    focal_px: float | None = None
    depths: np.ndarray | None = field(default=None, repr=False)
    frames: np.ndarray | None = field(default=None, repr=False)
    file_paths: tuple[str, ...] | None = None
    frame_numbers: tuple[int, ...] | None = None
    arrays: Mapping[str, np.ndarray] | None = field(default=None, repr=False)


# ----------------------------------------------------------------------------------------------------------------
# poses


def clean_poses(arr: np.ndarray) -> Tensor:
    """Validated poses ``(N, 4, 4)`` -> float64 tensor with rotations projected exactly onto SO(3)
    (:func:`~mirage_world.geometry.rotations.nearest_rotation`) and last rows set to ``0 0 0 1``."""
    out = np.array(arr, dtype=np.float64, copy=True)
    out[:, :3, :3] = nearest_rotation(out[:, :3, :3])
    out[:, 3, :] = np.array([0.0, 0.0, 0.0, 1.0])
    return torch.from_numpy(np.ascontiguousarray(out))


# ----------------------------------------------------------------------------------------------------------------
# parsing


def finite_float(v, where: str, what: str) -> float:
    """A JSON-decoded number -> finite float, else InputError (booleans refused)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: {what} must be a number, got {str(v)[:40]!r}")
    f = float(v)
    if not math.isfinite(f):
        raise InputError(f"{where}: {what} is not finite ({v!r})")
    return f


def parse_finite_floats(tokens, where: str, label: str = "value") -> list[float]:
    """Parse text tokens as finite floats.

    Raises:
        InputError: ``"{where}: {label} {k} ('tok') is not a number"`` / ``"... is not finite"`` (1-based ``k``).
    """
    values = []
    for k, tok in enumerate(tokens):
        try:
            v = float(tok)
        except ValueError:
            raise InputError(f"{where}: {label} {k + 1} ({tok[:40]!r}) is not a number") from None
        if not math.isfinite(v):
            raise InputError(f"{where}: {label} {k + 1} ({tok[:40]!r}) is not finite")
        values.append(v)
    return values


def matrix44(obj, where: str) -> np.ndarray:
    """A JSON-decoded 4x4 nested list -> float64 array (finite values), else InputError."""
    if not (isinstance(obj, list) and len(obj) == 4 and all(isinstance(r, list) and len(r) == 4 for r in obj)):
        raise InputError(f"{where}: expected a 4x4 matrix as a nested list [[...4 numbers], x4]")
    return np.array([[finite_float(v, where, "matrix entry") for v in row] for row in obj], dtype=np.float64)


def pose_list(obj, p: Path, key: str) -> np.ndarray:
    """A JSON-decoded non-empty list of 4x4 nested lists -> ``(N, 4, 4)`` float64 (entries named ``key[i]``)."""
    if not isinstance(obj, list) or not obj:
        raise InputError(f"{p}: {key!r} must be a non-empty list of 4x4 matrices")
    return np.stack([matrix44(m, f"{p}: {key}[{i}]") for i, m in enumerate(obj)])


# ----------------------------------------------------------------------------------------------------------------
# files


def open_existing(path, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` of an existing file, else InputError naming ``what``."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if not p.is_file():
        raise InputError(f"{what} is not a file: {p}")
    return p


def read_text(p: Path) -> str:
    """UTF-8 text of a file, else InputError naming it."""
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{p}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read file ({e.strerror or e})") from None


def read_json(p: Path):
    """Decoded JSON of a file, else InputError naming the file and line."""
    text = read_text(p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None


def prepare_out(path) -> Path:
    """An output path with its parent folders created."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"output path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create folder {p.parent}: {e}") from None
    return p


# ----------------------------------------------------------------------------------------------------------------
# writer-side validation


def poses_in(c2w, name: str = "c2w") -> np.ndarray:
    """Writer-side validation of ``(N, 4, 4)`` rigid poses (tensor or array) -> float64 numpy."""
    if isinstance(c2w, Tensor):
        arr = c2w.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            arr = np.asarray(c2w, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a numeric (N, 4, 4) array, got {type(c2w).__name__}") from None
    if arr.ndim != 3 or arr.shape[1:] != (4, 4) or arr.shape[0] < 1:
        raise InputError(f"{name} must have shape (N, 4, 4) with N >= 1, got {tuple(arr.shape)}")
    for i in range(arr.shape[0]):
        check_c2w(arr[i], f"{name}: pose {i}")
    return arr


def intr_norm_in(intr, n: int, name: str = "intrinsics_norm") -> np.ndarray:
    """``(4,)`` or ``(n, 4)`` normalised ``fx fy cx cy`` -> ``(n, 4)`` float64 (finite, positive focals)."""
    arr = intr.detach().to("cpu", torch.float64).numpy() if isinstance(intr, Tensor) else np.asarray(intr, float)
    if arr.shape == (4,):
        arr = np.tile(arr, (n, 1))
    if arr.shape != (n, 4):
        raise InputError(f"{name} must have shape (4,) or ({n}, 4) to match {n} poses, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if not (arr[:, :2] > 0).all():
        raise InputError(f"{name}: focal lengths fx, fy must be > 0")
    return arr


def K_in(K, n: int, name: str = "K") -> np.ndarray:
    """``(3, 3)`` or ``(n, 3, 3)`` pixel intrinsics -> ``(n, 3, 3)`` float64, checked by
    :func:`~mirage_world.geometry.camera.check_intrinsics` (finite, positive focals, last row ``0 0 1``)."""
    arr = K.detach().to("cpu", torch.float64).numpy() if isinstance(K, Tensor) else np.asarray(K, float)
    if arr.shape == (3, 3):
        arr = np.tile(arr, (n, 1, 1))
    if arr.shape != (n, 3, 3):
        raise InputError(f"{name} must have shape (3, 3) or ({n}, 3, 3) to match {n} poses, got {tuple(arr.shape)}")
    check_intrinsics(arr, name)
    return arr
