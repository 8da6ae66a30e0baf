"""Camera-path files: one module per format (reader + writer), format detection and one entry point.

Everything returned is in the package convention (OpenCV camera axes, camera-to-world ``c2w`` ``(N, 4, 4)``
float64, ``K`` in pixels with pixel centres at +0.5); foreign axes are converted through
:mod:`mirage_world.geometry.convert` only. Readers validate at the boundary and raise
:class:`mirage_world.errors.InputError` naming the file (and the 1-based line or the pose index) for: unreadable /
malformed files, wrong shapes, NaN or inf, zero or negative focal lengths, singular / scaled / reflected rotations,
last rows other than ``0 0 0 1``, arrays whose lengths disagree.

Formats (``kind`` as returned by :func:`detect_format`; "metric": translations are metres, else up to scale):

* ``re10k`` (:mod:`.re10k`): RealEstate10K ``.txt``, a URL line then 19 numbers per frame (w2c). Up to scale.
* ``spatia`` (:mod:`.spatia`): Spatia ``w2c.txt`` (+ ``intrinsics.txt``) or their folder. Metric.
* ``geometry_npz`` (:mod:`.geometry_npz`): Mirage ``geometry.npz`` or its clip folder. Metric.
* ``worldscore`` (:mod:`.worldscore`): WorldScore ``camera_data.json``, Blender camera axes. Up to scale.
* ``nerfstudio`` (:mod:`.nerfstudio`): nerfstudio ``transforms.json``, OpenGL camera axes. Up to scale.
* ``c2w_json`` / ``npy`` (:mod:`.c2w`): ``(N, 4, 4)`` OpenCV camera-to-world ``.json`` / ``.npy``. Metric.
* ``viewcrafter`` (:mod:`.viewcrafter`): ViewCrafter keyframe ``.txt`` (azimuth / elevation / radius lines).
* ``trajectory_log`` (:mod:`.trajectory_log`): Open3D / Redwood / ICL-NUIM ``trajectory.log`` (metadata line +
  4x4 camera-to-world per frame). Metric.

ViewCrafter files hold keyframes, not poses: :func:`read_viewcrafter` + :func:`viewcrafter_path` build the orbit in
metres around the scene-centre depth. Up-to-scale paths are rescaled by
:func:`~mirage_world.geometry.trajectory.auto_trajectory_scale` in
:func:`~mirage_world.geometry.trajectory.load_trajectory`; metric ones are used as is.

Dependency direction: :mod:`mirage_world.geometry.trajectory` imports this package, never the reverse.
"""

from __future__ import annotations

import os
from pathlib import Path

from mirage_world.errors import InputError
from mirage_world.geometry.camera_files._common import CameraFile, read_json
from mirage_world.geometry.camera_files.c2w import read_c2w_json, read_c2w_npy, write_c2w_json, write_c2w_npy
from mirage_world.geometry.camera_files.geometry_npz import read_geometry_npz, write_geometry_npz
from mirage_world.geometry.camera_files.nerfstudio import read_nerfstudio, write_nerfstudio
from mirage_world.geometry.camera_files.re10k import ReadPath, read_re10k, write_re10k
from mirage_world.geometry.camera_files.spatia import read_spatia, write_spatia
from mirage_world.geometry.camera_files.trajectory_log import (
    looks_like_trajectory_log,
    read_trajectory_log,
    write_trajectory_log,
)
from mirage_world.geometry.camera_files.viewcrafter import (
    ViewCrafterKeyframes,
    interpolate_keyframes,
    looks_like_viewcrafter,
    read_viewcrafter,
    scene_centre_depth,
    viewcrafter_path,
    write_viewcrafter,
)
from mirage_world.geometry.camera_files.worldscore import WORLDSCORE_FOCAL, read_worldscore, write_worldscore

__all__ = [
    "FORMATS",
    "METRIC_FORMATS",
    "CameraFile",
    "ReadPath",
    "ViewCrafterKeyframes",
    "detect_format",
    "read_camera_file",
    "read_re10k",
    "write_re10k",
    "read_spatia",
    "write_spatia",
    "read_geometry_npz",
    "write_geometry_npz",
    "read_worldscore",
    "write_worldscore",
    "WORLDSCORE_FOCAL",
    "read_nerfstudio",
    "write_nerfstudio",
    "read_c2w_json",
    "write_c2w_json",
    "read_c2w_npy",
    "write_c2w_npy",
    "read_viewcrafter",
    "write_viewcrafter",
    "interpolate_keyframes",
    "viewcrafter_path",
    "scene_centre_depth",
    "read_trajectory_log",
    "write_trajectory_log",
]

#: Every format :func:`detect_format` can return.
FORMATS = ("re10k", "spatia", "geometry_npz", "worldscore", "nerfstudio", "c2w_json", "npy", "viewcrafter",
           "trajectory_log")
#: Formats whose translations are metres (the others are up to scale; ViewCrafter orbits are built in metres).
METRIC_FORMATS = ("spatia", "geometry_npz", "c2w_json", "npy", "trajectory_log")

#: Files that make a folder a camera path, in priority order.
_FOLDER_FILES = (("w2c.txt", "spatia"), ("transforms.json", "nerfstudio"), ("camera_data.json", "worldscore"),
                 ("geometry.npz", "geometry_npz"))


def _sniff_txt(p: Path) -> str:
    try:
        text = p.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return "re10k"  # let the RealEstate10K reader report the problem
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return "re10k"
    if lines[0].lstrip().startswith("[["):
        return "spatia"
    if looks_like_trajectory_log(lines):
        return "trajectory_log"
    if looks_like_viewcrafter(lines):
        return "viewcrafter"
    return "re10k"


def detect_format(path) -> str:
    """Which camera-path format a file or folder holds (one of :data:`FORMATS`), by name, extension and content.

    * folder: ``spatia`` if it holds ``w2c.txt``; else ``transforms.json`` -> ``nerfstudio``, ``camera_data.json``
      -> ``worldscore``, ``geometry.npz`` -> ``geometry_npz``.
    * ``w2c.txt`` -> ``spatia``; ``camera_data.json`` -> ``worldscore``; ``transforms.json`` -> ``nerfstudio``;
      ``.npz`` -> ``geometry_npz``; ``.npy`` -> ``npy``; ``.log`` -> ``trajectory_log``.
    * other ``.json``: by keys: ``cameras_interp`` -> ``worldscore``, ``frames`` -> ``nerfstudio``, a list or
      ``c2w`` / ``poses_c2w`` -> ``c2w_json``.
    * other ``.txt``: by content (non-blank lines): first line starting ``[[`` -> ``spatia``; a line of 3 integers
      then four lines of 4 fields -> ``trajectory_log``; exactly 3 lines all made of numbers, or a first line with a
      number in it and no line of 19 or more fields -> ``viewcrafter`` (so a malformed ViewCrafter file is reported
      by the ViewCrafter reader; a RealEstate10K file starts with a URL line and has 19 numbers per frame line, so
      it never matches); otherwise ``re10k`` (its reader reports anything else).

    Raises:
        InputError: missing path, unsupported extension, folder or JSON of no known format (message says
            "unsupported").
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"camera path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        for name, kind in _FOLDER_FILES:
            if (p / name).is_file():
                return kind
        raise InputError(
            f"unsupported camera path folder {str(p)!r}: expected w2c.txt (Spatia), transforms.json, "
            "camera_data.json or geometry.npz in it"
        )
    if not p.is_file():
        raise InputError(f"camera path file not found: {p}")
    name, suffix = p.name.lower(), p.suffix.lower()
    by_name = {"w2c.txt": "spatia", "camera_data.json": "worldscore", "transforms.json": "nerfstudio"}
    by_suffix = {".npz": "geometry_npz", ".npy": "npy", ".log": "trajectory_log"}
    if name in by_name:
        return by_name[name]
    if suffix in by_suffix:
        return by_suffix[suffix]
    if suffix == ".txt":
        return _sniff_txt(p)
    if suffix == ".json":
        data = read_json(p)
        if isinstance(data, dict):
            if "cameras_interp" in data:
                return "worldscore"
            if "frames" in data:
                return "nerfstudio"
            if "c2w" in data or "poses_c2w" in data:
                return "c2w_json"
        elif isinstance(data, list):
            return "c2w_json"
        raise InputError(
            f"unsupported camera path JSON {str(p)!r}: not a WorldScore camera_data.json ('cameras_interp'), a "
            "nerfstudio transforms.json ('frames') or a list of c2w 4x4 matrices ('c2w')"
        )
    raise InputError(
        f"unsupported camera path file {str(p)!r}: expected RealEstate10K / ViewCrafter / Spatia .txt, .npy, "
        "geometry .npz, camera_data.json, transforms.json, a c2w .json or an Open3D trajectory .log"
    )


def read_camera_file(path, kind: str | None = None) -> CameraFile:
    """Read any pose file (every format but ``viewcrafter``, which holds keyframes, not poses).

    Args:
        path: file or folder.
        kind: format (:data:`FORMATS`); detected with :func:`detect_format` when ``None``.

    Returns:
        :class:`CameraFile` (``c2w`` ``(N, 4, 4)`` float64 OpenCV camera-to-world, plus what the format holds).

    Raises:
        InputError: see the readers; ``viewcrafter`` asks for :func:`read_viewcrafter` + :func:`viewcrafter_path`.
    """
    kind = detect_format(path) if kind is None else kind
    if kind == "re10k":
        rp = read_re10k(path)
        return CameraFile(c2w=rp.c2w, kind="re10k", metric=False, path=rp.path, intrinsics_norm=rp.intrinsics_norm)
    if kind == "npy":
        return CameraFile(c2w=read_c2w_npy(path), kind="npy", metric=True, path=str(path))
    readers = {"spatia": read_spatia, "geometry_npz": read_geometry_npz, "worldscore": read_worldscore,
               "nerfstudio": read_nerfstudio, "c2w_json": read_c2w_json, "trajectory_log": read_trajectory_log}
    if kind in readers:
        p = Path(path)
        if kind != "spatia" and p.is_dir():
            p = p / {v: k for k, v in _FOLDER_FILES}.get(kind, "")
        return readers[kind](p)
    if kind == "viewcrafter":
        raise InputError(f"{path}: ViewCrafter keyframes need a scene-centre depth: use read_viewcrafter + "
                         "viewcrafter_path (or load_trajectory)")
    raise InputError(f"unknown camera file format {kind!r}; formats: {', '.join(FORMATS)}")
