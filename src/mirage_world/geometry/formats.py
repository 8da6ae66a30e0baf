"""Camera-path file formats: readers and writers for every format users bring, plus format detection.

Everything returned is in the package convention (OpenCV camera axes, camera-to-world ``c2w``, ``K`` in pixels
with pixel centres at +0.5); foreign axes are converted through :mod:`mirage_world.geometry.convert` only. Readers
validate at the boundary and raise :class:`mirage_world.errors.InputError` naming the file (and the 1-based line or
the pose index) for: unreadable / malformed files, wrong shapes, NaN or inf, zero or negative focal lengths,
singular / scaled / reflected rotations, last rows other than ``0 0 0 1``, arrays whose lengths disagree.

Formats (``kind`` names as returned by :func:`detect_format`; "metric" says whether translations are metres):

* ``re10k`` -- RealEstate10K ``.txt``: line 1 the video URL, then 19 numbers per frame (timestamp in us,
  ``fx fy cx cy`` normalised, ``0 0``, 3x4 w2c row-major). ``read_re10k`` (in :mod:`~mirage_world.geometry.
  trajectory`) / :func:`write_re10k`. Up to scale.
* ``spatia`` -- Spatia folder or ``w2c.txt``: one OpenCV w2c 4x4 per line as a nested list
  ``[[r00, r01, r02, t0], ...]``; ``intrinsics.txt``: one line ``[fx, fy, cx, cy]`` normalised by width / height
  (commas optional). :func:`read_spatia` / :func:`write_spatia`. Metric.
* ``geometry_npz`` -- Mirage ``geometry.npz``: ``poses_c2w`` (N,4,4) OpenCV c2w, ``intrinsics`` (N,3,3) or (3,3)
  pixels, ``depths`` (N,H,W) metres z-depth, optional ``frames`` (N,H,W,3) uint8. :func:`read_geometry_npz` /
  :func:`write_geometry_npz`. Metric.
* ``worldscore`` -- WorldScore ``camera_data.json``: ``cameras_interp`` list of 4x4 Blender c2w (camera looks along
  -z, +y up), ``focal_length`` (pixels, 500), ``cameras`` keyframes, ``scale``. :func:`read_worldscore` /
  :func:`write_worldscore`. Up to scale.
* ``nerfstudio`` -- nerfstudio ``transforms.json``: ``frames[i].transform_matrix`` 4x4 OpenGL c2w; ``fl_x fl_y cx
  cy w h`` at top level or per frame (per frame wins), or NeRF-synthetic ``camera_angle_x``.
  :func:`read_nerfstudio` / :func:`write_nerfstudio`. Up to scale.
* ``c2w_json`` -- JSON ``(N, 4, 4)`` OpenCV c2w, a bare nested list or ``{"c2w": ...}`` / ``{"poses_c2w": ...}``.
  :func:`read_c2w_json` / :func:`write_c2w_json`. Metric.
* ``npy`` -- ``.npy`` ``(N, 4, 4)`` OpenCV c2w. ``read_c2w_npy`` / :func:`write_c2w_npy`. Metric.
* ``viewcrafter`` -- ViewCrafter keyframe ``.txt``: 3 lines (azimuth degrees, elevation degrees, radius offsets),
  see :func:`viewcrafter_path`. :func:`read_viewcrafter` / :func:`write_viewcrafter`. Built in metres from the
  scene-centre depth.

Up-to-scale paths are rescaled by :func:`~mirage_world.geometry.trajectory.auto_trajectory_scale` in
:func:`~mirage_world.geometry.trajectory.load_trajectory`; metric ones are used as is.

Sources: RealEstate10K (Zhou et al. 2018, format as redistributed by CameraCtrl); Spatia test cases (w2c.txt and
intrinsics.txt as shipped in its repository); WorldScore (Duan et al. 2025, ``camera_data.json`` written by its
camera generator: ``focal_length`` 500, ``cameras``, ``cameras_interp``); nerfstudio data conventions
(docs.nerf.studio, "Data conventions": OpenGL camera axes, ``transform_matrix`` camera-to-world); ViewCrafter
(Yu et al. 2024, ``docs/render_help.md`` and ``generate_traj_txt``: positive ``d_phi`` moves the camera right,
positive ``d_theta`` moves it down, radius ``r * (1 + d_r)`` around the point at the centre pixel's depth; keyframes
interpolated linearly for up to 3, by a cubic smoothing spline with pinned endpoints for more).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import UnivariateSpline
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.convert import (
    blender_to_opencv_c2w,
    c2w_to_w2c,
    opencv_to_blender_c2w,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    w2c_to_c2w,
)
from mirage_world.geometry.trajectory import (
    _LAST_ROW_TOL,
    _nearest_rotation,
    _open_existing,
    _rotation_problem,
    parse_finite_floats,
    read_c2w_npy,
    read_re10k,
)

__all__ = [
    "FORMATS",
    "METRIC_FORMATS",
    "CameraFile",
    "ViewCrafterKeyframes",
    "detect_format",
    "read_camera_file",
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
    "write_c2w_npy",
    "read_viewcrafter",
    "write_viewcrafter",
    "interpolate_keyframes",
    "viewcrafter_path",
    "scene_centre_depth",
]

#: Every format :func:`detect_format` can return.
FORMATS = ("re10k", "spatia", "geometry_npz", "worldscore", "nerfstudio", "c2w_json", "npy", "viewcrafter")
#: Formats whose translations are metres (the others are up to scale).
METRIC_FORMATS = ("spatia", "geometry_npz", "c2w_json", "npy")
#: WorldScore's focal length in pixels (its camera generator's default ``focal_length``).
WORLDSCORE_FOCAL = 500.0


@dataclass(frozen=True)
class CameraFile:
    """A camera path read from a file, in the package convention.

    Attributes:
        c2w: ``(N, 4, 4)`` float64 camera-to-world poses, OpenCV axes, in the file's units.
        kind: the format (one of :data:`FORMATS`).
        metric: whether the translations are metres (see :data:`METRIC_FORMATS`).
        path: the file (or folder) read.
        K: ``(N, 3, 3)`` float64 intrinsics in pixels, when the file gives them fully in pixels.
        intrinsics_norm: ``(N, 4)`` float64 ``fx fy cx cy`` normalised by width / height (RealEstate10K, Spatia).
        image_hw: ``(H, W)`` when the file states the image size.
        focal_px: focal length in pixels when the file gives only that (WorldScore).
        depths: ``(N, H, W)`` float32 metres (``geometry.npz``).
        frames: ``(N, H, W, 3)`` uint8 RGB (``geometry.npz``).
        file_paths: per-frame image paths (nerfstudio).
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


# ----------------------------------------------------------------------------------------------------------------
# shared validation


def _finite_float(v, where: str, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"{where}: {what} must be a number, got {str(v)[:40]!r}")
    f = float(v)
    if not math.isfinite(f):
        raise InputError(f"{where}: {what} is not finite ({v!r})")
    return f


def _matrix44(obj, where: str) -> np.ndarray:
    """A JSON-decoded 4x4 nested list -> float64 array (finite values), else InputError."""
    if not (isinstance(obj, list) and len(obj) == 4 and all(isinstance(r, list) and len(r) == 4 for r in obj)):
        raise InputError(f"{where}: expected a 4x4 matrix as a nested list [[...4 numbers], x4]")
    return np.array([[_finite_float(v, where, "matrix entry") for v in row] for row in obj], dtype=np.float64)


def _check_rigid(M: np.ndarray, where: str, what: str) -> None:
    """Raise if a single 4x4 is not a rigid transform (last row, orthonormal rotation, det > 0)."""
    if not np.isfinite(M).all():
        raise InputError(f"{where}: {what} contains NaN or infinite values")
    if np.max(np.abs(M[3] - np.array([0.0, 0.0, 0.0, 1.0]))) > _LAST_ROW_TOL:
        raise InputError(f"{where}: {what} last row is {M[3].tolist()}, expected [0, 0, 0, 1]")
    problem = _rotation_problem(M[:3, :3])
    if problem is not None:
        raise InputError(f"{where}: {what} {problem}")


def _clean_poses(arr: np.ndarray) -> Tensor:
    """Project rotations exactly onto SO(3), set last rows, return float64 tensor."""
    out = np.array(arr, dtype=np.float64, copy=True)
    out[:, :3, :3] = _nearest_rotation(out[:, :3, :3])
    out[:, 3, :] = np.array([0.0, 0.0, 0.0, 1.0])
    return torch.from_numpy(np.ascontiguousarray(out))


def _poses_in(c2w, name: str = "c2w") -> np.ndarray:
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
        _check_rigid(arr[i], name, f"pose {i}")
    return arr


def _intr_norm_in(intr, n: int, name: str = "intrinsics_norm") -> np.ndarray:
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


def _K_in(K, n: int, name: str = "K") -> np.ndarray:
    arr = K.detach().to("cpu", torch.float64).numpy() if isinstance(K, Tensor) else np.asarray(K, float)
    if arr.shape == (3, 3):
        arr = np.tile(arr, (n, 1, 1))
    if arr.shape != (n, 3, 3):
        raise InputError(f"{name} must have shape (3, 3) or ({n}, 3, 3) to match {n} poses, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if not ((arr[:, 0, 0] > 0) & (arr[:, 1, 1] > 0)).all():
        raise InputError(f"{name}: focal lengths fx, fy must be > 0 pixels (got a zero or negative focal)")
    return arr


def _read_text(p: Path) -> str:
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{p}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read file ({e.strerror or e})") from None


def _read_json(p: Path):
    text = _read_text(p)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{p}:{e.lineno}: not valid JSON ({e.msg})") from None


def _prepare_out(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"output path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create folder {p.parent}: {e}") from None
    return p


# ----------------------------------------------------------------------------------------------------------------
# RealEstate10K (reader: mirage_world.geometry.trajectory.read_re10k)


def write_re10k(path, c2w, intrinsics_norm, timestamps_us=None, url: str = "https://www.youtube.com/watch?v=unknown"):
    """Write a RealEstate10K camera file (format: see :func:`mirage_world.geometry.trajectory.read_re10k`).

    Args:
        path: output ``.txt``.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world poses (stored inverted, as 3x4 world-to-camera).
        intrinsics_norm: ``(4,)`` or ``(N, 4)`` ``fx fy cx cy`` normalised by width / height.
        timestamps_us: ``(N,)`` integer microseconds (default ``0, 33333, ...`` at 30 fps).
        url: line 1 (must be a single line).

    Raises:
        InputError: bad poses / intrinsics / timestamps / url.
    """
    arr = _poses_in(c2w)
    n = arr.shape[0]
    intr = _intr_norm_in(intrinsics_norm, n)
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
    p = _prepare_out(path)
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


# ----------------------------------------------------------------------------------------------------------------
# Spatia


def _spatia_paths(path) -> tuple[Path, Path]:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"Spatia camera path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        return p / "w2c.txt", p / "intrinsics.txt"
    return p, p.parent / "intrinsics.txt"


def _parse_spatia_intrinsics(p: Path) -> np.ndarray:
    text = _read_text(p)
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
    p = _open_existing(w2c_path, "Spatia w2c.txt")
    text = _read_text(p)
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
        M = _matrix44(obj, where)
        _check_rigid(M, where, "world-to-camera")
        mats.append(M)
    if not mats:
        raise InputError(f"{p}: no poses (expected one 4x4 world-to-camera nested list per line)")
    W = np.stack(mats)
    W[:, :3, :3] = _nearest_rotation(W[:, :3, :3])
    c2w = _clean_poses(w2c_to_c2w(W))
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
    arr = _poses_in(c2w)
    intr = None
    if intrinsics_norm is not None:
        intr = _intr_norm_in(intrinsics_norm, arr.shape[0])
        if not np.allclose(intr, intr[0], rtol=0, atol=0):
            raise InputError("Spatia stores one intrinsics line for all frames; intrinsics_norm rows differ")
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"output path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.suffix.lower() == ".txt":
        w2c_path, intr_path = p, p.parent / "intrinsics.txt"
    else:
        w2c_path, intr_path = p / "w2c.txt", p / "intrinsics.txt"
    _prepare_out(w2c_path)
    W = c2w_to_w2c(arr)
    W[:, 3] = np.array([0.0, 0.0, 0.0, 1.0])
    w2c_path.write_text("".join(json.dumps(M.tolist()) + "\n" for M in W), encoding="utf-8")
    if intr is not None:
        intr_path.write_text("[" + ", ".join(repr(float(v)) for v in intr[0]) + "]\n", encoding="utf-8")
    return w2c_path


# ----------------------------------------------------------------------------------------------------------------
# Mirage geometry.npz


def read_geometry_npz(path) -> CameraFile:
    """Read Mirage's ``geometry.npz`` (layout of :mod:`mirage_world.worlds.dataset`).

    Arrays: ``poses_c2w`` (N, 4, 4) OpenCV camera-to-world, metres (required); ``intrinsics`` (N, 3, 3) or (3, 3)
    pixels (required); ``depths`` (N, H, W) z-depth metres (optional here; values are not checked, 0 = invalid);
    ``frames`` (N, H, W, 3) uint8 (optional). Other arrays are ignored.

    Returns:
        :class:`CameraFile` with ``kind="geometry_npz"``, ``metric=True``, ``K`` (N, 3, 3), ``image_hw`` (from
        ``depths`` / ``frames``), ``depths`` float32 and ``frames`` when present.

    Raises:
        InputError: not a readable npz; missing ``poses_c2w`` / ``intrinsics``; wrong shapes or lengths that
            disagree; NaN/inf poses or intrinsics; zero focal; non-rigid pose (message names the pose index).
    """
    import zipfile

    p = _open_existing(path, "geometry .npz file")
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
        _check_rigid(poses[i], str(p), f"poses_c2w[{i}]")
    Kraw = arrays["intrinsics"]
    if Kraw.dtype.kind not in "fiu":
        raise InputError(f"{p}: intrinsics must be numeric, got {Kraw.dtype}")
    try:
        K = _K_in(Kraw.astype(np.float64), n, "intrinsics")
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
        c2w=_clean_poses(poses), kind="geometry_npz", metric=True, path=str(p), K=torch.from_numpy(K),
        image_hw=hw, depths=depths, frames=frames,
    )


def write_geometry_npz(path, poses_c2w, intrinsics, depths=None, frames=None) -> Path:
    """Write Mirage's ``geometry.npz`` (uncompressed ``np.savez``; float32 as in the dataset layout).

    Args:
        path: output ``.npz`` (parent folders created).
        poses_c2w: ``(N, 4, 4)`` OpenCV camera-to-world, metres.
        intrinsics: ``(3, 3)`` or ``(N, 3, 3)`` pixels (written as (N, 3, 3)).
        depths: ``(N, H, W)`` z-depth metres or ``None``.
        frames: ``(N, H, W, 3)`` uint8 or ``None``.

    Raises:
        InputError: bad / inconsistent shapes, NaN/inf poses or intrinsics, zero focal, non-rigid poses.
    """
    arr = _poses_in(poses_c2w, "poses_c2w")
    n = arr.shape[0]
    out = {"poses_c2w": arr.astype(np.float32), "intrinsics": _K_in(intrinsics, n, "intrinsics").astype(np.float32)}
    hw = None
    if depths is not None:
        d = depths.detach().cpu().numpy() if isinstance(depths, Tensor) else np.asarray(depths)
        if d.ndim != 3 or d.shape[0] != n:
            raise InputError(f"depths must have shape ({n}, H, W) to match {n} poses, got {tuple(d.shape)}")
        out["depths"] = d.astype(np.float32)
        hw = d.shape[1:]
    if frames is not None:
        f = np.asarray(frames)
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[0] != n or f.shape[3] != 3:
            raise InputError(f"frames must be uint8 ({n}, H, W, 3), got {f.dtype} {tuple(f.shape)}")
        if hw is not None and f.shape[1:3] != hw:
            raise InputError(f"frames size {f.shape[1:3]} differs from depths size {hw}")
        out["frames"] = f
    p = _prepare_out(path)
    with open(p, "wb") as fh:
        np.savez(fh, **out)
    return p


# ----------------------------------------------------------------------------------------------------------------
# WorldScore camera_data.json


def _pose_list(obj, p: Path, key: str) -> np.ndarray:
    if not isinstance(obj, list) or not obj:
        raise InputError(f"{p}: {key!r} must be a non-empty list of 4x4 matrices")
    mats = [_matrix44(m, f"{p}: {key}[{i}]") for i, m in enumerate(obj)]
    return np.stack(mats)


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
    p = _open_existing(path, "WorldScore camera_data.json")
    data = _read_json(p)
    if not isinstance(data, dict) or "cameras_interp" not in data:
        raise InputError(f"{p}: expected a JSON object with 'cameras_interp' (WorldScore camera_data.json)")
    gl = _pose_list(data["cameras_interp"], p, "cameras_interp")
    for i in range(len(gl)):
        _check_rigid(gl[i], f"{p}: cameras_interp[{i}]", "camera-to-world")
    focal = _finite_float(data.get("focal_length", WORLDSCORE_FOCAL), str(p), "focal_length")
    if focal <= 0:
        raise InputError(f"{p}: focal_length must be > 0 pixels, got {focal:g}")
    return CameraFile(
        c2w=_clean_poses(blender_to_opencv_c2w(gl)), kind="worldscore", metric=False, path=str(p), focal_px=focal
    )


def write_worldscore(path, c2w, focal_length: float = WORLDSCORE_FOCAL, keyframes=None) -> Path:
    """Write a WorldScore ``camera_data.json`` (format: :func:`read_worldscore`).

    Args:
        path: output file.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world (written as Blender c2w in ``cameras_interp``).
        focal_length: pixels, > 0.
        keyframes: indices written to ``cameras`` (default: first and last).
    """
    arr = _poses_in(c2w)
    f = _finite_float(focal_length, "write_worldscore", "focal_length")
    if f <= 0:
        raise InputError(f"focal_length must be > 0 pixels, got {f:g}")
    bl = opencv_to_blender_c2w(arr)
    idx = [0, len(arr) - 1] if keyframes is None else [int(i) for i in keyframes]
    if any(not 0 <= i < len(arr) for i in idx):
        raise InputError(f"keyframes must be indices in [0, {len(arr)}), got {idx}")
    data = {"focal_length": f, "scale": 1, "cameras": [bl[i].tolist() for i in idx],
            "cameras_interp": [M.tolist() for M in bl]}
    p = _prepare_out(path)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p


# ----------------------------------------------------------------------------------------------------------------
# nerfstudio transforms.json

_NS_INTR = ("fl_x", "fl_y", "cx", "cy", "w", "h")


def read_nerfstudio(path) -> CameraFile:
    """Read a nerfstudio ``transforms.json`` (also NeRF-synthetic / instant-ngp style files).

    ``frames`` (sorted by ``file_path`` as nerfstudio's dataparser does, file order if any frame lacks one) each
    hold ``transform_matrix``: a 4x4 camera-to-world with OpenGL camera
    axes, converted with :func:`~mirage_world.geometry.convert.opengl_to_opencv_c2w`. Intrinsics ``fl_x fl_y cx cy``
    (pixels) and ``w h`` are read per frame, falling back to the top level; ``fl_x`` may come from
    ``camera_angle_x`` (``fl_x = w / 2 / tan(angle / 2)``), ``fl_y`` defaults to ``fl_x``, ``cx, cy`` to ``w/2,
    h/2``. nerfstudio's pixel convention matches ours (pixel centres at +0.5). Distortion coefficients are ignored.
    ``applied_transform`` / ``applied_scale`` (a fixed world change) are ignored: paths are used relative to their
    first camera. Translations are up to scale.

    Returns:
        :class:`CameraFile` ``kind="nerfstudio"``, ``metric=False``; ``K`` (N, 3, 3) when every frame's intrinsics
        are complete, ``image_hw`` when all frames share ``w, h``, ``file_paths``.

    Raises:
        InputError: invalid JSON, no ``frames``, malformed matrix, NaN/inf, non-rigid poses, non-positive focal
            (message names ``frames[i]``).
    """
    p = _open_existing(path, "nerfstudio transforms.json")
    data = _read_json(p)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
        raise InputError(f"{p}: expected a JSON object with a non-empty 'frames' list (nerfstudio transforms.json)")
    mats, Ks, sizes, files = [], [], [], []
    for i, fr in enumerate(data["frames"]):
        where = f"{p}: frames[{i}]"
        if not isinstance(fr, dict) or "transform_matrix" not in fr:
            raise InputError(f"{where}: expected an object with 'transform_matrix'")
        M = _matrix44(fr["transform_matrix"], where)
        _check_rigid(M, where, "transform_matrix")
        mats.append(M)
        files.append(str(fr.get("file_path", "")))
        vals = {}
        for k in _NS_INTR + ("camera_angle_x",):
            v = fr.get(k, data.get(k))
            if v is not None:
                vals[k] = _finite_float(v, where, k)
        w, h = vals.get("w"), vals.get("h")
        fx = vals.get("fl_x")
        if fx is None and "camera_angle_x" in vals and w is not None:
            fx = 0.5 * w / math.tan(0.5 * vals["camera_angle_x"])
        fy = vals.get("fl_y", fx)
        for name, v in (("fl_x", fx), ("fl_y", fy)):
            if v is not None and not v > 0:
                raise InputError(f"{where}: focal length {name} must be > 0 pixels, got {v:g}")
        cx = vals.get("cx", None if w is None else w / 2.0)
        cy = vals.get("cy", None if h is None else h / 2.0)
        Ks.append(None if None in (fx, fy, cx, cy) else np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]))
        sizes.append(None if w is None or h is None else (int(h), int(w)))
    if all(fr.get("file_path") is not None for fr in data["frames"]):
        order = sorted(range(len(files)), key=lambda i: files[i])  # nerfstudio's dataparser sorts by file_path
        mats, Ks, sizes, files = ([seq[i] for i in order] for seq in (mats, Ks, sizes, files))
    c2w = _clean_poses(opengl_to_opencv_c2w(np.stack(mats)))
    K = None if any(k is None for k in Ks) else torch.from_numpy(np.stack(Ks))
    hw = sizes[0] if sizes[0] is not None and all(s == sizes[0] for s in sizes) else None
    return CameraFile(c2w=c2w, kind="nerfstudio", metric=False, path=str(p), K=K, image_hw=hw,
                      file_paths=tuple(files))


def write_nerfstudio(path, c2w, K=None, image_hw=None, file_paths=None) -> Path:
    """Write a nerfstudio ``transforms.json`` (format: :func:`read_nerfstudio`; ``camera_model`` ``PINHOLE``).

    Intrinsics equal for all frames go to the top level, otherwise per frame.

    Args:
        path: output file.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world (written as OpenGL ``transform_matrix``).
        K: ``(3, 3)`` / ``(N, 3, 3)`` pixels, or ``None``.
        image_hw: ``(H, W)`` or ``None``.
        file_paths: N image paths (default ``images/frame_00001.png`` ...).
    """
    arr = _poses_in(c2w)
    n = arr.shape[0]
    gl = opencv_to_opengl_c2w(arr)
    if file_paths is None:
        file_paths = [f"images/frame_{i + 1:05d}.png" for i in range(n)]
    if len(file_paths) != n:
        raise InputError(f"file_paths must have {n} entries, got {len(file_paths)}")
    data: dict = {"camera_model": "PINHOLE"}
    if image_hw is not None:
        if not (len(image_hw) == 2 and all(isinstance(v, (int, np.integer)) and v > 0 for v in image_hw)):
            raise InputError(f"image_hw must be two positive integers, got {image_hw!r}")
        data["h"], data["w"] = int(image_hw[0]), int(image_hw[1])
    frames = [{"file_path": str(fp), "transform_matrix": gl[i].tolist()} for i, fp in enumerate(file_paths)]
    if K is not None:
        Ka = _K_in(K, n)
        per = [{"fl_x": float(k[0, 0]), "fl_y": float(k[1, 1]), "cx": float(k[0, 2]), "cy": float(k[1, 2])} for k in Ka]
        if all(d == per[0] for d in per):
            data.update(per[0])
        else:
            for fr, d in zip(frames, per):
                fr.update(d)
    data["frames"] = frames
    p = _prepare_out(path)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p


# ----------------------------------------------------------------------------------------------------------------
# plain c2w JSON / npy


def read_c2w_json(path) -> CameraFile:
    """Read a JSON file of OpenCV camera-to-world 4x4 matrices, taken as metres.

    Accepted: a bare list ``[[[...4], x4], ...]`` or an object with ``"c2w"`` or ``"poses_c2w"`` holding that list.

    Raises:
        InputError: invalid JSON, other structure, malformed matrix, NaN/inf, non-rigid pose (names the index).
    """
    p = _open_existing(path, "camera path .json file")
    data = _read_json(p)
    key = "c2w"
    if isinstance(data, dict):
        key = next((k for k in ("c2w", "poses_c2w") if k in data), None)
        if key is None:
            raise InputError(f"{p}: expected a list of 4x4 c2w matrices or an object with 'c2w' / 'poses_c2w'")
        data = data[key]
    arr = _pose_list(data, p, key)
    for i in range(len(arr)):
        _check_rigid(arr[i], f"{p}: {key}[{i}]", "camera-to-world")
    return CameraFile(c2w=_clean_poses(arr), kind="c2w_json", metric=True, path=str(p))


def write_c2w_json(path, c2w) -> Path:
    """Write ``{"convention": ..., "c2w": [...]}`` (OpenCV camera-to-world, metres); read by :func:`read_c2w_json`."""
    arr = _poses_in(c2w)
    data = {"convention": "OpenCV camera axes (+x right, +y down, +z forward), camera-to-world, metres",
            "c2w": [M.tolist() for M in arr]}
    p = _prepare_out(path)
    p.write_text(json.dumps(data) + "\n", encoding="utf-8")
    return p


def write_c2w_npy(path, c2w) -> Path:
    """Write an ``(N, 4, 4)`` float64 ``.npy`` of OpenCV camera-to-world poses (read by ``read_c2w_npy``)."""
    arr = _poses_in(c2w)
    p = _prepare_out(path)
    with open(p, "wb") as fh:
        np.save(fh, arr)
    return p


# ----------------------------------------------------------------------------------------------------------------
# ViewCrafter keyframes


@dataclass(frozen=True)
class ViewCrafterKeyframes:
    """ViewCrafter keyframes (each line may have its own count).

    Attributes:
        phi_deg: ``(A,)`` azimuth in degrees (rotation about the vertical axis; positive moves the camera right).
        theta_deg: ``(B,)`` elevation in degrees (positive moves the camera down, as in ViewCrafter).
        r: ``(C,)`` radius offsets as a fraction of the scene-centre depth (radius ``c * (1 + r)``; negative = closer).
        path: the file read.
    """

    phi_deg: np.ndarray
    theta_deg: np.ndarray
    r: np.ndarray
    path: str = ""


def _parse_numbers(line: str) -> list[float] | None:
    toks = line.replace(",", " ").split()
    try:
        return [float(t) for t in toks] if toks else None
    except ValueError:
        return None


def read_viewcrafter(path) -> ViewCrafterKeyframes:
    """Read a ViewCrafter trajectory ``.txt``: exactly 3 non-blank lines of whitespace-separated numbers.

    Line 1: azimuth ``phi`` keyframes (degrees), line 2: elevation ``theta`` keyframes (degrees), line 3: radius
    offsets ``r`` (fraction of the scene-centre depth, ``> -1``). Each line has its own number of keyframes (>= 1).

    Raises:
        InputError: not 3 lines, a non-number, NaN/inf, ``r <= -1`` (camera at or past the centre); ``FILE:LINE``.
    """
    p = _open_existing(path, "ViewCrafter trajectory .txt")
    lines = [(i, ln) for i, ln in enumerate(_read_text(p).splitlines(), start=1) if ln.strip()]
    if len(lines) != 3:
        raise InputError(
            f"{p}: a ViewCrafter trajectory has exactly 3 lines (phi degrees, theta degrees, r), found {len(lines)}"
        )
    out = []
    for (lineno, line), name in zip(lines, ("phi", "theta", "r")):
        vals = parse_finite_floats(line.replace(",", " ").split(), f"{p}:{lineno}", f"{name} value")
        out.append(np.array(vals, dtype=np.float64))
    if (out[2] <= -1).any():
        raise InputError(f"{p}:{lines[2][0]}: radius offsets r must be > -1 (radius (1 + r) x centre depth)")
    return ViewCrafterKeyframes(out[0], out[1], out[2], str(p))


def write_viewcrafter(path, phi_deg, theta_deg, r) -> Path:
    """Write a ViewCrafter trajectory ``.txt`` (format: :func:`read_viewcrafter`); values written with ``repr``."""
    rows = []
    for name, v in (("phi_deg", phi_deg), ("theta_deg", theta_deg), ("r", r)):
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if a.ndim != 1 or a.size < 1:
            raise InputError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or infinite values")
        rows.append(" ".join(repr(float(x)) for x in a))
    if (np.atleast_1d(np.asarray(r, float)) <= -1).any():
        raise InputError("radius offsets r must be > -1")
    p = _prepare_out(path)
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return p


def interpolate_keyframes(values, n: int) -> np.ndarray:
    """Interpolate keyframes placed uniformly on ``[0, 1]`` to ``n`` uniform samples (ViewCrafter's rule).

    One keyframe: constant. Up to 3: piecewise linear (``np.interp``), so keyframes are hit exactly. More than 3: a
    cubic smoothing spline (``scipy.interpolate.UnivariateSpline(k=3)`` with its default smoothing, as ViewCrafter's
    ``txt_interpolation``), first and last samples pinned to the first and last keyframes.

    Returns:
        ``(n,)`` float64.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 1 or not np.isfinite(v).all():
        raise InputError("keyframes must be a non-empty sequence of finite numbers")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be an integer >= 1, got {n!r}")
    xs = np.linspace(0.0, 1.0, int(n)) if n > 1 else np.zeros(1)
    if v.size == 1:
        return np.full(int(n), v[0])
    x = np.linspace(0.0, 1.0, v.size)
    if v.size <= 3:
        return np.interp(xs, x, v)
    with warnings.catch_warnings():  # FITPACK's "maxit reached" on near-degenerate keyframes: the fit is still usable
        warnings.simplefilter("ignore", UserWarning)
        out = UnivariateSpline(x, v, k=3)(xs)
    out[0] = v[0]
    if n > 1:
        out[-1] = v[-1]
    return np.asarray(out, dtype=np.float64)


def viewcrafter_path(keyframes: ViewCrafterKeyframes, n: int, centre_depth: float) -> Tensor:
    """Camera path of ViewCrafter keyframes: an orbit about the scene centre ``P = (0, 0, c)``.

    Each line is interpolated to ``n`` frames (:func:`interpolate_keyframes`); the radius offsets are clipped to the
    range of their keyframes (a smoothing spline can overshoot, and ``r <= -1`` would put the camera at or past
    ``P``; ViewCrafter itself does not clip). Frame ``k`` looks at ``P`` from
    radius ``c * (1 + r_k)`` with ``R_k = R_y(-phi_k) @ R_x(theta_k)`` (OpenCV axes, no roll) and centre
    ``C_k = P - c (1 + r_k) R_k[:, 2]``. So ``phi = theta = r = 0`` is the photo's camera (identity; ViewCrafter
    files start every line at 0 -- :func:`~mirage_world.geometry.trajectory.load_trajectory` makes the path
    relative to its first camera in any case), positive
    ``phi`` moves the camera right (+x) around the vertical axis, positive ``theta`` moves it down (+y), negative
    ``r`` moves it towards ``P``.

    Args:
        keyframes: from :func:`read_viewcrafter`.
        n: number of frames (>= 1).
        centre_depth: ``c`` in metres (> 0), e.g. :func:`scene_centre_depth` of the photo's depth.

    Returns:
        ``(n, 4, 4)`` float64 OpenCV camera-to-world, metres.
    """
    try:
        c = float(centre_depth)
    except (TypeError, ValueError):
        raise InputError(f"centre_depth must be a positive number, got {centre_depth!r}") from None
    if not (math.isfinite(c) and c > 0):
        raise InputError(f"centre_depth must be finite and > 0, got {centre_depth!r}")
    phi = np.radians(interpolate_keyframes(keyframes.phi_deg, n))
    th = np.radians(interpolate_keyframes(keyframes.theta_deg, n))
    kr = np.asarray(keyframes.r, dtype=np.float64).ravel()
    # the smoothing spline can overshoot its keyframes; for the radius that could put the camera through the centre
    r = np.clip(interpolate_keyframes(kr, n), kr.min(), kr.max())
    if (r <= -1).any():
        raise InputError("interpolated radius offsets reach -1 or below (camera at or past the scene centre)")
    cp, sp, ct, st = np.cos(phi), np.sin(phi), np.cos(th), np.sin(th)
    Ry = np.zeros((len(phi), 3, 3))
    Ry[:, 0, 0], Ry[:, 0, 2], Ry[:, 1, 1], Ry[:, 2, 0], Ry[:, 2, 2] = cp, -sp, 1.0, sp, cp
    Rx = np.zeros((len(phi), 3, 3))
    Rx[:, 0, 0], Rx[:, 1, 1], Rx[:, 1, 2], Rx[:, 2, 1], Rx[:, 2, 2] = 1.0, ct, -st, st, ct
    R = Ry @ Rx
    out = np.tile(np.eye(4), (len(phi), 1, 1))
    out[:, :3, :3] = R
    out[:, :3, 3] = np.array([0.0, 0.0, c]) - (c * (1.0 + r))[:, None] * R[:, :, 2]
    return torch.from_numpy(out)


def scene_centre_depth(depth, window_fraction: float = 1 / 8) -> float:
    """Depth of the scene centre: median of the valid depths in a central window of the depth map.

    ViewCrafter uses the single centre pixel ``(H // 2, W // 2)``; the median over a central window of
    ``max(1, round(H * f)) x max(1, round(W * f))`` pixels (``f = window_fraction``) is robust to a hole or an edge
    there. Falls back to the median of all valid depths if the window has none.

    Raises:
        InputError: not 2-D, or no valid (finite, > 0) depth at all.
    """
    arr = depth.detach().to("cpu", torch.float64).numpy() if isinstance(depth, Tensor) else np.asarray(depth, float)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"depth must be a 2-D map, got shape {tuple(arr.shape)}")
    H, W = arr.shape
    h, w = max(1, round(H * window_fraction)), max(1, round(W * window_fraction))
    y0, x0 = H // 2 - h // 2, W // 2 - w // 2
    win = arr[y0 : y0 + h, x0 : x0 + w]
    for a in (win, arr):
        v = a[np.isfinite(a) & (a > 0)]
        if v.size:
            return float(np.median(v))
    raise InputError("depth has no valid (finite, > 0) values; cannot find the scene-centre depth")


# ----------------------------------------------------------------------------------------------------------------
# detection and dispatch


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
    if len(lines) == 3 and all(_parse_numbers(ln) is not None for ln in lines):
        return "viewcrafter"
    return "re10k"


def detect_format(path) -> str:
    """Which camera-path format a file or folder holds (one of :data:`FORMATS`), by name, extension and content.

    * folder: ``spatia`` if it holds ``w2c.txt``; else ``transforms.json`` -> ``nerfstudio``, ``camera_data.json``
      -> ``worldscore``, ``geometry.npz`` -> ``geometry_npz``.
    * ``w2c.txt`` -> ``spatia``; ``camera_data.json`` -> ``worldscore``; ``transforms.json`` -> ``nerfstudio``;
      ``.npz`` -> ``geometry_npz``; ``.npy`` -> ``npy``.
    * other ``.json``: by keys: ``cameras_interp`` -> ``worldscore``, ``frames`` -> ``nerfstudio``, a list or
      ``c2w`` / ``poses_c2w`` -> ``c2w_json``.
    * other ``.txt``: by content: first non-blank line starting ``[[`` -> ``spatia``; exactly 3 non-blank lines all
      made of numbers -> ``viewcrafter`` (a RealEstate10K file starts with a URL line and has 19 numbers per frame
      line, so it never matches); otherwise ``re10k``.

    Raises:
        InputError: missing path, unsupported extension, folder or JSON of no known format (message says
            "unsupported").
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"camera path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.is_dir():
        for name, kind in (("w2c.txt", "spatia"), ("transforms.json", "nerfstudio"),
                           ("camera_data.json", "worldscore"), ("geometry.npz", "geometry_npz")):
            if (p / name).is_file():
                return kind
        raise InputError(
            f"unsupported camera path folder {str(p)!r}: expected w2c.txt (Spatia), transforms.json, "
            "camera_data.json or geometry.npz in it"
        )
    if not p.is_file():
        raise InputError(f"camera path file not found: {p}")
    name, suffix = p.name.lower(), p.suffix.lower()
    if name == "w2c.txt":
        return "spatia"
    if name == "camera_data.json":
        return "worldscore"
    if name == "transforms.json":
        return "nerfstudio"
    if suffix == ".npz":
        return "geometry_npz"
    if suffix == ".npy":
        return "npy"
    if suffix == ".txt":
        return _sniff_txt(p)
    if suffix == ".json":
        data = _read_json(p)
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
        "geometry .npz, camera_data.json, transforms.json or a c2w .json"
    )


def read_camera_file(path, kind: str | None = None) -> CameraFile:
    """Read any pose file (every format but ``viewcrafter``, which holds keyframes, not poses).

    Args:
        path: file or folder.
        kind: format (:data:`FORMATS`); detected with :func:`detect_format` when ``None``.

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
               "nerfstudio": read_nerfstudio, "c2w_json": read_c2w_json}
    if kind in readers:
        p = Path(path)
        if kind != "spatia" and p.is_dir():
            p = p / {"geometry_npz": "geometry.npz", "worldscore": "camera_data.json",
                     "nerfstudio": "transforms.json"}.get(kind, "")
        return readers[kind](p)
    if kind == "viewcrafter":
        raise InputError(f"{path}: ViewCrafter keyframes need a scene-centre depth: use read_viewcrafter + "
                         "viewcrafter_path (or load_trajectory)")
    raise InputError(f"unknown camera file format {kind!r}; formats: {', '.join(FORMATS)}")
