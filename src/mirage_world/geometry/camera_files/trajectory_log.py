"""Open3D / Redwood / ICL-NUIM ``trajectory.log`` camera trajectories: reader and writer.

Source: the Redwood trajectory file format (http://redwood-data.org/indoor/fileformat.html), read and written by
Open3D's ``o3d.io.read_pinhole_camera_trajectory`` / ``write_pinhole_camera_trajectory`` (``FileLOG.cpp``) and used
by the augmented ICL-NUIM and Redwood datasets. Every frame is a block of five lines: a metadata line of three
integers (``id id frame``; in a camera trajectory the third is the frame number, from 1 in Redwood files, Open3D
writes ``i i i+1``), then a 4x4 matrix in 4 lines of 4 numbers. Open3D skips lines starting with ``#``; so does this
reader, and blank lines too.

Axes: the 4x4 maps camera coordinates to world coordinates (``p_world = T p_cam``), i.e. it is the camera-to-world
pose; Open3D inverts it to get its extrinsic (world-to-camera) and projects with OpenCV camera axes (+x right,
+y down, +z forward), which is the package convention: no conversion. Translations are metres (Open3D's RGB-D
integration and the Redwood / ICL-NUIM trajectories are metric).

Returns: :func:`read_trajectory_log` gives a :class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w``
``(N, 4, 4)`` float64 in file order and ``frame_numbers`` (the third metadata integers); no ``K`` (the file has no
intrinsics).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    clean_poses,
    open_existing,
    parse_finite_floats,
    poses_in,
    prepare_out,
    read_text,
)

__all__ = ["read_trajectory_log", "write_trajectory_log", "looks_like_trajectory_log"]


def _content_lines(text: str) -> list[tuple[int, str]]:
    """``(1-based line number, line)`` of the lines that are neither blank nor ``#`` comments."""
    lines = enumerate(text.splitlines(), start=1)
    return [(i, ln) for i, ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _ints(tokens: list[str]) -> list[int] | None:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        return None


def looks_like_trajectory_log(lines: list[str]) -> bool:
    """Whether the non-blank lines of a text file start like a ``trajectory.log``: a line of 3 integers followed by
    four lines of 4 fields (used to recognise the format in a ``.txt``; a ``.log`` is taken by its suffix)."""
    lines = [ln for ln in lines if not ln.lstrip().startswith("#")]
    if len(lines) < 5 or len(lines[0].split()) != 3 or _ints(lines[0].split()) is None:
        return False
    return all(len(ln.split()) == 4 for ln in lines[1:5])


def read_trajectory_log(path) -> CameraFile:
    """Read a ``trajectory.log`` (format: module doc).

    Rotations are checked (orthonormal within 1e-3, determinant +1, last row ``0 0 0 1``) and projected exactly
    onto SO(3); translations are kept as stored.

    Returns:
        :class:`~mirage_world.geometry.camera_files.CameraFile` with ``kind="trajectory_log"``, ``metric=True``,
        ``c2w`` ``(N, 4, 4)`` float64, ``frame_numbers``.

    Raises:
        InputError: missing / non-UTF-8 file; no frames; a metadata line that is not 3 integers; a matrix line that
            is not 4 finite numbers; a file that ends inside a frame; a non-rigid pose. The message names the file
            and the 1-based line (and the pose index for a non-rigid pose).
    """
    p = open_existing(path, "trajectory.log file")
    lines = _content_lines(read_text(p))
    if not lines:
        raise InputError(f"{p}: no frames (expected blocks of a metadata line 'id id frame' and 4 lines of a 4x4)")
    mats, frames = [], []
    for k in range(0, len(lines), 5):
        lineno, meta = lines[k]
        toks = meta.split()
        ids = _ints(toks)
        if len(toks) != 3 or ids is None:
            raise InputError(
                f"{p}:{lineno}: expected a metadata line of 3 integers (id id frame) starting frame "
                f"{len(mats)}, got {meta.strip()[:60]!r}"
            )
        rows = lines[k + 1 : k + 5]
        if len(rows) < 4:
            raise InputError(f"{p}:{lineno}: frame {len(mats)} has {len(rows)} of the 4 matrix lines (file ends)")
        M = np.empty((4, 4))
        for r, (rl, row) in enumerate(rows):
            vals = row.split()
            if len(vals) != 4:
                raise InputError(f"{p}:{rl}: expected 4 numbers (a row of the 4x4 camera-to-world), found {len(vals)}")
            M[r] = parse_finite_floats(vals, f"{p}:{rl}")
        check_c2w(M, f"{p}:{lineno}: pose {len(mats)} (camera-to-world)")
        mats.append(M)
        frames.append(ids[2])
    return CameraFile(
        c2w=clean_poses(np.stack(mats)), kind="trajectory_log", metric=True, path=str(p), frame_numbers=tuple(frames)
    )


def write_trajectory_log(path, c2w, frame_numbers=None) -> Path:
    """Write a ``trajectory.log`` (format: module doc; numbers written with ``repr``, so reading back is exact).

    Args:
        path: output file (parent folders created).
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world poses, metres.
        frame_numbers: ``N`` integers for the third metadata number (default ``1 .. N``, as Open3D writes);
            the first two are the frame's index ``0 .. N-1``.

    Returns:
        The path written.

    Raises:
        InputError: bad poses, or ``frame_numbers`` not ``N`` integers.
    """
    arr = poses_in(c2w)
    n = arr.shape[0]
    if frame_numbers is None:
        frame_numbers = range(1, n + 1)
    fn = list(frame_numbers)
    if len(fn) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in fn):
        raise InputError(f"frame_numbers must be {n} integers, got {fn!r}"[:200])
    out = []
    for i in range(n):
        out.append(f"{i} {i} {int(fn[i])}")
        out.extend(" ".join(repr(float(x)) for x in row) for row in arr[i])
    p = prepare_out(path)
    p.write_text("\n".join(out) + "\n", encoding="utf-8")
    return p
