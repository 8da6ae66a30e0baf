"""Spatia camera paths (``w2c.txt`` + ``intrinsics.txt``, or their folder): reader and writer.

Source: the test cases shipped in the Spatia repository (``w2c.txt`` and ``intrinsics.txt`` per case). ``w2c.txt``
holds one world-to-camera 4x4 per non-blank line as a nested list in JSON syntax
(``[[r00, r01, r02, t0], [..], [..], [0.0, 0.0, 0.0, 1.0]]``); ``intrinsics.txt`` (optional, next to it) holds one
line ``[fx, fy, cx, cy]`` normalised by image width / height (commas optional, as numpy prints arrays), the same for
every frame.

Axes: OpenCV camera axes (+x right, +y down, +z forward); the world-to-camera matrices are inverted with
:func:`mirage_world.geometry.convert.w2c_to_c2w`. Translations are metres (``metric=True``, see :func:`read_spatia`).

Returns: :func:`read_spatia` gives a :class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w``
``(N, 4, 4)`` float64 and, when ``intrinsics.txt`` exists, ``intrinsics_norm`` ``(N, 4)`` float64 (no ``K`` in
pixels: the image size is not in the files).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import torch

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    clean_poses,
    intr_norm_in,
    matrix44,
    open_existing,
    parse_finite_floats,
    poses_in,
    prepare_out,
    read_text,
)
from mirage_world.geometry.convert import c2w_to_w2c, w2c_to_c2w
from mirage_world.geometry.rotations import nearest_rotation

__all__ = ["read_spatia", "write_spatia"]


def _spatia_paths(path) -> tuple[Path, Path]:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"Spatia camera path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        return p / "w2c.txt", p / "intrinsics.txt"
    return p, p.parent / "intrinsics.txt"


def _parse_spatia_intrinsics(p: Path) -> np.ndarray:
    text = read_text(p)
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if len(lines) != 1:
        raise InputError(f"{p}: expected exactly one line [fx, fy, cx, cy] (normalised), found {len(lines)} lines")
    lineno, line = lines[0]
    body = line.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    toks = [t for t in re.split(r"[,\s]+", body.strip()) if t]
    if len(toks) != 4:
        raise InputError(f"{p}:{lineno}: expected 4 numbers [fx, fy, cx, cy], found {len(toks)}")
    vals = parse_finite_floats(toks, f"{p}:{lineno}")
    if not (vals[0] > 0 and vals[1] > 0):
        raise InputError(f"{p}:{lineno}: focal lengths must be positive, got fx={vals[0]:g}, fy={vals[1]:g}")
    return np.array(vals)


def read_spatia(path) -> CameraFile:
    """Read a Spatia camera path: a folder with ``w2c.txt`` (+ ``intrinsics.txt``), or a ``w2c.txt`` file.

    ``w2c.txt``: one OpenCV world-to-camera 4x4 per non-blank line, a nested list (JSON syntax,
    ``[[r00, r01, r02, t0], [..], [..], [0.0, 0.0, 0.0, 1.0]]``). ``intrinsics.txt`` (optional, next to it): one
    line ``[fx, fy, cx, cy]`` normalised by image width / height (commas optional, as numpy prints arrays), the same
    for every frame.

    Translations are taken as metres (``metric=True``): Spatia's paths live in the frame of its metric point cloud,
    and the shipped cases show it -- case 1 moves 1.8 units, case 2 is a pan with ~1 mm jitter, case 3 has none; the
    up-to-scale rule (farthest camera at 0.25 x median depth) would blow case 2's jitter up ~10^4 times into a
    0.75 m walk. Pass an explicit ``scale`` to :func:`~mirage_world.geometry.trajectory.load_trajectory` to override.

    Returns:
        :class:`CameraFile` with ``kind="spatia"``, ``metric=True``, ``c2w`` (N, 4, 4) and, if ``intrinsics.txt``
        exists, ``intrinsics_norm`` (N, 4).

    Raises:
        InputError: missing file, a line that is not a 4x4 nested list, NaN/inf, last row not ``0 0 0 1``, rotation
            singular / not orthonormal / reflected (message ``FILE:LINE``); bad ``intrinsics.txt``.
    """
    w2c_path, intr_path = _spatia_paths(path)
    p = open_existing(w2c_path, "Spatia w2c.txt")
    text = read_text(p)
    mats = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(
                f"{where}: expected a 4x4 nested list like [[1, 0, 0, 0], ...], got {line[:60]!r}"
            ) from None
        M = matrix44(obj, where)
        check_c2w(M, f"{where}: world-to-camera")
        mats.append(M)
    if not mats:
        raise InputError(f"{p}: no poses (expected one 4x4 world-to-camera nested list per line)")
    W = np.stack(mats)
    W[:, :3, :3] = nearest_rotation(W[:, :3, :3])
    c2w = clean_poses(w2c_to_c2w(W))
    intr = None
    if intr_path.is_file():
        intr = torch.from_numpy(np.tile(_parse_spatia_intrinsics(intr_path), (len(mats), 1)))
    return CameraFile(c2w=c2w, kind="spatia", metric=True, path=str(path), intrinsics_norm=intr)


def write_spatia(path, c2w, intrinsics_norm=None) -> Path:
    """Write a Spatia camera path (format: :func:`read_spatia`).

    Args:
        path: a folder (created; ``w2c.txt`` and ``intrinsics.txt`` written in it) or a ``.txt`` file for the poses
            (``intrinsics.txt`` written next to it).
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world poses (stored inverted).
        intrinsics_norm: ``(4,)`` or ``(N, 4)`` normalised ``fx fy cx cy`` (Spatia has one line: the first row is
            written, and all rows must be equal), or ``None`` for no ``intrinsics.txt``.

    Returns:
        The ``w2c.txt`` path.
    """
    arr = poses_in(c2w)
    intr = None
    if intrinsics_norm is not None:
        intr = intr_norm_in(intrinsics_norm, arr.shape[0])
        if not np.allclose(intr, intr[0], rtol=0, atol=0):
            raise InputError("Spatia stores one intrinsics line for all frames; intrinsics_norm rows differ")
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"output path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.suffix.lower() == ".txt":
        w2c_path, intr_path = p, p.parent / "intrinsics.txt"
    else:
        w2c_path, intr_path = p / "w2c.txt", p / "intrinsics.txt"
    prepare_out(w2c_path)
    W = c2w_to_w2c(arr)
    W[:, 3] = np.array([0.0, 0.0, 0.0, 1.0])
    w2c_path.write_text("".join(json.dumps(M.tolist()) + "\n" for M in W), encoding="utf-8")
    if intr is not None:
        intr_path.write_text("[" + ", ".join(repr(float(v)) for v in intr[0]) + "]\n", encoding="utf-8")
    return w2c_path
