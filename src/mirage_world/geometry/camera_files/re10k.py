"""RealEstate10K camera files (``.txt``): reader and writer.

Source: RealEstate10K (Zhou et al., "Stereo Magnification", SIGGRAPH 2018), in the format documented with the dataset
and redistributed by CameraCtrl. Line 1 is the source video URL; every further non-blank line is one frame of 19
whitespace-separated numbers: timestamp in microseconds (integer), ``fx fy cx cy`` normalised by image width /
height, two zeros (ignored), then the 3x4 world-to-camera matrix ``[R|t]`` row-major.

Axes: OpenCV camera axes (+x right, +y down, +z forward), as in the package; the world-to-camera matrices are
inverted with :func:`mirage_world.geometry.convert.w2c_to_c2w`. Translations are up to scale (structure from
motion): :func:`~mirage_world.geometry.trajectory.load_trajectory` rescales them.

Returns: :func:`read_re10k` gives a :class:`ReadPath` with ``c2w`` ``(N, 4, 4)`` float64, ``intrinsics_norm``
``(N, 4)`` float64 and ``timestamps_us`` ``(N,)`` int64 (no ``K`` in pixels: the image size is not in the file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    intr_norm_in,
    open_existing,
    parse_finite_floats,
    poses_in,
    prepare_out,
    read_text,
)
from mirage_world.geometry.convert import c2w_to_w2c, w2c_to_c2w
from mirage_world.geometry.rotations import nearest_rotation

__all__ = ["ReadPath", "read_re10k", "write_re10k"]


@dataclass(frozen=True)
class ReadPath:
    """A RealEstate10K camera path as read from its file.

    Attributes:
        c2w: ``(N, 4, 4)`` float64 camera-to-world poses (OpenCV axes), in the file's own units.
        intrinsics_norm: ``(N, 4)`` float64 ``fx, fy, cx, cy`` normalised by image width (``fx, cx``) and height
            (``fy, cy``); multiply by the image size to get pixels (:func:`mirage_world.io.intrinsics_from_normalized`).
        timestamps_us: ``(N,)`` int64 frame timestamps in microseconds.
        url: the source video URL from line 1, stripped.
        path: the file that was read.
    """

    c2w: Tensor
    intrinsics_norm: Tensor
    timestamps_us: Tensor
    url: str = ""
    path: str = ""


def read_re10k(path) -> ReadPath:
    """Read a RealEstate10K camera file (format: module doc).

    Rotations are checked to be orthonormal within 1e-3 with determinant +1 and then projected exactly onto SO(3)
    (the files store 9 decimals), so :func:`mirage_world.geometry.camera.invert_pose` is exact on the result;
    translations are kept as stored.

    Args:
        path: ``str`` or ``os.PathLike`` of the ``.txt`` file.

    Returns:
        :class:`ReadPath` with ``c2w`` ``(N, 4, 4)`` float64, ``intrinsics_norm`` ``(N, 4)`` float64,
        ``timestamps_us`` ``(N,)`` int64.

    Raises:
        InputError: file missing or not UTF-8 text; empty file or no frame lines; a line without exactly 19 numbers,
            with a non-numeric or non-finite value, a non-integer timestamp, non-positive ``fx``/``fy``, or a
            rotation that is singular / not orthonormal / a reflection. The message names the file and the 1-based
            line number.
    """
    p = open_existing(path, "RealEstate10K camera file")
    lines = read_text(p).splitlines()
    if not lines or not any(line.strip() for line in lines):
        raise InputError(f"{p}: file is empty (expected a URL line followed by one line of 19 numbers per frame)")
    url = lines[0].strip()

    stamps: list[int] = []
    intr: list[list[float]] = []
    w2c: list[np.ndarray] = []
    for lineno, line in enumerate(lines[1:], start=2):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{p}:{lineno}"
        if len(tokens) != 19:
            raise InputError(
                f"{where}: expected 19 numbers (timestamp, fx fy cx cy, 0 0, 3x4 world-to-camera matrix), "
                f"found {len(tokens)}"
            )
        values = parse_finite_floats(tokens, where)
        ts = values[0]
        if not ts.is_integer() or abs(ts) >= 2.0**63:
            raise InputError(f"{where}: timestamp {tokens[0][:40]!r} is not an integer number of microseconds")
        try:
            ts_int = int(tokens[0])  # exact for long integer strings
        except ValueError:
            ts_int = int(ts)
        if abs(ts_int) >= 2**63:
            raise InputError(f"{where}: timestamp {tokens[0][:40]!r} does not fit in int64")
        fx, fy, cx, cy = values[1:5]
        if not (fx > 0 and fy > 0):
            raise InputError(f"{where}: focal lengths must be positive, got fx={fx:g}, fy={fy:g}")
        M = np.asarray(values[7:19], dtype=np.float64).reshape(3, 4)
        check_c2w(np.vstack([M, [0.0, 0.0, 0.0, 1.0]]), f"{where}: world-to-camera")
        stamps.append(ts_int)
        intr.append([fx, fy, cx, cy])
        w2c.append(M)

    if not w2c:
        raise InputError(f"{p}: no frame lines after the URL line (expected 19 numbers per frame)")

    W = np.tile(np.eye(4), (len(w2c), 1, 1))
    W[:, :3, :] = np.stack(w2c)
    W[:, :3, :3] = nearest_rotation(W[:, :3, :3])
    c2w = w2c_to_c2w(W)
    c2w[:, 3, :] = np.array([0.0, 0.0, 0.0, 1.0])
    return ReadPath(
        c2w=torch.from_numpy(np.ascontiguousarray(c2w, dtype=np.float64)),
        intrinsics_norm=torch.tensor(intr, dtype=torch.float64),
        timestamps_us=torch.tensor(stamps, dtype=torch.int64),
        url=url,
        path=str(p),
    )


def write_re10k(path, c2w, intrinsics_norm, timestamps_us=None, url: str = "https://www.youtube.com/watch?v=unknown"):
    """Write a RealEstate10K camera file (format: module doc; read back by :func:`read_re10k`).

    Args:
        path: output ``.txt``.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world poses (stored inverted, as 3x4 world-to-camera).
        intrinsics_norm: ``(4,)`` or ``(N, 4)`` ``fx fy cx cy`` normalised by width / height.
        timestamps_us: ``(N,)`` integer microseconds (default ``0, 33333, ...`` at 30 fps).
        url: line 1 (must be a single line).

    Returns:
        The path written.

    Raises:
        InputError: bad poses / intrinsics / timestamps / url.
    """
    arr = poses_in(c2w)
    n = arr.shape[0]
    intr = intr_norm_in(intrinsics_norm, n)
    if timestamps_us is None:
        ts = [int(round(i * 1e6 / 30.0)) for i in range(n)]
    else:
        ts_arr = np.asarray(timestamps_us.tolist() if isinstance(timestamps_us, Tensor) else timestamps_us)
        if ts_arr.shape != (n,) or ts_arr.dtype.kind not in "iu":
            raise InputError(f"timestamps_us must be {n} integers, got shape {ts_arr.shape} dtype {ts_arr.dtype}")
        ts = [int(t) for t in ts_arr]
    if not isinstance(url, str) or "\n" in url or "\r" in url or not url.strip():
        raise InputError("url must be a non-empty single-line string")
    w2c = c2w_to_w2c(arr)
    lines = [url.strip()]
    for i in range(n):
        nums = [repr(float(x)) for x in intr[i]] + ["0", "0"] + [repr(float(x)) for x in w2c[i, :3, :4].ravel()]
        lines.append(" ".join([str(ts[i])] + nums))
    p = prepare_out(path)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
