"""Camera paths: relative-to-first, resampling, the scale rule, named presets and :func:`load_trajectory`.

Conventions (same as :mod:`mirage_world.geometry.camera`): OpenCV camera axes (+x right, +y down, +z forward),
poses are camera-to-world ``c2w`` 4x4 matrices, translations in metres once a scale has been applied. Every path
returned by :func:`load_trajectory` is relative to its first camera: ``c2w[0]`` is the identity, i.e. the first
camera *is* the camera of the input photo, and the world frame is that camera's frame.

Sources of camera paths:

* Files in any format of :mod:`mirage_world.geometry.camera_files` (RealEstate10K, Spatia, ``geometry.npz``,
  WorldScore ``camera_data.json``, nerfstudio ``transforms.json``, ViewCrafter keyframes, c2w ``.npy`` / ``.json``,
  Open3D ``trajectory.log``); :func:`load_trajectory` dispatches to it by file name, extension and content.
  Up-to-scale paths (RealEstate10K: structure from motion) are rescaled by the rule of :func:`auto_trajectory_scale`.
* Named presets (:data:`PRESETS`), named after WorldScore's camera-motion vocabulary (Duan et al., "WorldScore:
  A Unified Evaluation Benchmark for World Generation", 2025), sized relative to the photo's median depth, plus the
  closed loops :data:`CLOSED_LOOP_PRESETS` (the camera comes back to exactly where it started).

This module imports :mod:`~mirage_world.geometry.camera_files`, never the reverse. ``ReadPath``, ``read_re10k`` and
``read_c2w_npy`` are re-exported from there for existing callers.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation, Slerp
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry import camera_files
from mirage_world.geometry.camera import check_c2w, invert_pose
from mirage_world.geometry.camera_files import ReadPath, read_c2w_npy, read_re10k
from mirage_world.geometry.rotations import nearest_rotation, rot_y

__all__ = [
    "ReadPath",
    "Trajectory",
    "PRESETS",
    "CLOSED_LOOP_PRESETS",
    "AUTO_SCALE_FRACTION",
    "read_re10k",
    "read_c2w_npy",
    "relative_to_first",
    "resample_path",
    "auto_trajectory_scale",
    "scale_translation",
    "make_preset",
    "load_trajectory",
]

#: Fraction of the median scene depth that the farthest camera of an up-to-scale path is placed at
#: (see :func:`auto_trajectory_scale`).
AUTO_SCALE_FRACTION = 0.25

#: Largest camera displacement (in the path's own units) treated as "no translation at all".
_ZERO_TRANSLATION = 1e-8

#: Preset camera motions (name -> description). Names follow WorldScore's camera vocabulary. ``d`` is the median
#: valid depth of the input photo in metres. Motion is linear in frame index from the identity (frame 0) to the
#: final pose given here.
PRESETS: dict[str, str] = {
    "static": "camera does not move",
    "pan_left": "rotate in place 30 deg so the view turns to -x (left); c2w rotation R_y(-30 deg)",
    "pan_right": "rotate in place 30 deg so the view turns to +x (right); c2w rotation R_y(+30 deg)",
    "push_in": "move forward along +z by 0.5 * d",
    "pull_out": "move backward along -z by 0.5 * d",
    "move_left": "translate along -x by 0.25 * d",
    "move_right": "translate along +x by 0.25 * d",
    "move_up": "translate along -y (up in OpenCV axes) by 0.25 * d",
    "move_down": "translate along +y (down in OpenCV axes) by 0.25 * d",
    "orbit_left": "travel 30 deg to the left (-x) on a circle around the point at depth d on the optical axis, "
    "always looking at it",
    "orbit_right": "travel 30 deg to the right (+x) on a circle around the point at depth d on the optical axis, "
    "always looking at it",
    # closed loops (last pose == first pose; pose k == pose n-1-k for the out-and-back ones)
    "out_and_back": "move forward along +z by 0.5 * d (reached at the middle frame) and back the same way",
    "orbit_360": "full 360 deg circle to the left (-x first) around the point at depth d on the optical axis, "
    "always looking at it, ending where it started",
    "look_away_and_back": "pan in place 180 deg to the right (+x; reached at the middle frame) and back",
}

#: The closed-loop presets (a subset of :data:`PRESETS`): the camera comes back to where it started.
CLOSED_LOOP_PRESETS = ("out_and_back", "orbit_360", "look_away_and_back")
#: Presets that only rotate the camera (no depth needed to size them).
_ROTATION_ONLY = ("static", "pan_left", "pan_right", "look_away_and_back")

_PAN_DEG = 30.0
_ORBIT_DEG = 30.0
_PUSH_FRACTION = 0.5
_MOVE_FRACTION = 0.25
_LOOK_AWAY_DEG = 180.0


@dataclass(frozen=True)
class Trajectory:
    """A camera path ready for generation.

    Attributes:
        c2w: ``(n, 4, 4)`` float64 camera-to-world poses, ``c2w[0]`` is the identity (the photo's camera),
            translations in metres.
        scale: the factor that the source path's translations were multiplied by to get metres (for presets: the
            depth unit ``d`` in metres the preset was sized with; for ``.npy``: 1.0 unless overridden).
        source: human-readable origin, e.g. ``"preset:pan_left"``, ``"re10k:/path/x.txt"``, ``"npy:/path/x.npy"``.
    """

    c2w: Tensor
    scale: float
    source: str


# ----------------------------------------------------------------------------------------------------------------
# validation helpers


def _poses_to_numpy(c2w, name: str = "c2w") -> np.ndarray:
    """Validate a ``(N, 4, 4)`` array/tensor of rigid poses (:func:`~mirage_world.geometry.camera.check_c2w`) and
    return it as float64 numpy."""
    if isinstance(c2w, Tensor):
        arr = c2w.detach().to("cpu", torch.float64).numpy()
    elif isinstance(c2w, np.ndarray):
        if c2w.dtype.kind not in "fiu":
            raise InputError(f"{name} must be a real numeric array, got dtype {c2w.dtype}")
        arr = c2w.astype(np.float64)
    else:
        raise InputError(f"{name} must be a torch.Tensor or numpy.ndarray of shape (N, 4, 4), got {type(c2w).__name__}")
    if arr.ndim != 3 or arr.shape[1:] != (4, 4) or arr.shape[0] < 1:
        raise InputError(f"{name} must have shape (N, 4, 4) with N >= 1, got {tuple(arr.shape)}")
    check_c2w(arr, name)
    return arr


def _check_n(n, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError(f"{name} must be an integer >= 1, got {n!r}")
    if n < 1:
        raise InputError(f"{name} must be >= 1, got {n}")
    return int(n)


def _check_positive(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {x!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} must be a finite positive number, got {x!r}")
    return v


def _median_valid_depth(depth) -> float:
    """Median of the valid (finite, > 0) values of a depth map in metres."""
    if isinstance(depth, Tensor):
        arr = depth.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            arr = np.asarray(depth, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"depth must be a numeric array in metres, got {type(depth).__name__}") from None
    valid = arr[np.isfinite(arr) & (arr > 0)]
    if valid.size == 0:
        raise InputError("depth has no valid (finite, > 0) values; cannot size the camera path")
    return float(np.median(valid))


def _pose_list_to_tensor(c2w: np.ndarray) -> Tensor:
    out = torch.from_numpy(np.ascontiguousarray(c2w, dtype=np.float64))
    out[:, 3, :] = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    return out


# ----------------------------------------------------------------------------------------------------------------
# path operations


def relative_to_first(c2w) -> Tensor:
    """Express a path relative to its first camera: ``inv(c2w[0]) @ c2w``.

    After this the first pose is exactly the identity, so the first camera becomes the input photo's camera and the
    world frame is that camera's OpenCV frame.

    Args:
        c2w: ``(N, 4, 4)`` camera-to-world poses (tensor or ndarray), rigid.

    Returns:
        ``(N, 4, 4)`` float64 tensor with ``out[0] == eye(4)``.

    Raises:
        InputError: wrong shape/type or non-finite values.
    """
    arr = torch.from_numpy(_poses_to_numpy(c2w))
    out = invert_pose(arr[0]) @ arr
    out[0] = torch.eye(4, dtype=torch.float64)
    out[:, 3, :] = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    return out


def resample_path(c2w, n: int) -> Tensor:
    """Resample a path of ``M`` poses to ``n`` poses, uniformly in frame index.

    Output pose ``k`` sits at fractional input index ``k * (M - 1) / (n - 1)`` (``0`` when ``n == 1``): rotations
    are interpolated by spherical linear interpolation (``scipy.spatial.transform.Slerp``, shortest arc) and
    translations linearly. Output poses at integer input indices (in particular both endpoints) are copied exactly.
    A single input pose (``M == 1``) is repeated.

    Args:
        c2w: ``(M, 4, 4)`` camera-to-world poses (tensor or ndarray), ``M >= 1``.
        n: number of output poses, ``n >= 1``.

    Returns:
        ``(n, 4, 4)`` float64 tensor.

    Raises:
        InputError: bad shape/values or ``n`` not an integer >= 1.
    """
    arr = _poses_to_numpy(c2w)
    n = _check_n(n)
    M = arr.shape[0]
    if M == 1:
        return _pose_list_to_tensor(np.repeat(arr, n, axis=0))
    q = np.linspace(0.0, M - 1.0, n) if n > 1 else np.zeros(1)
    rots = Rotation.from_matrix(nearest_rotation(arr[:, :3, :3]))
    R = Slerp(np.arange(M, dtype=np.float64), rots)(q).as_matrix()
    t = np.stack([np.interp(q, np.arange(M), arr[:, a, 3]) for a in range(3)], axis=-1)
    out = np.zeros((n, 4, 4))
    out[:, :3, :3] = R
    out[:, :3, 3] = t
    out[:, 3, 3] = 1.0
    exact = np.nonzero(q == np.round(q))[0]
    out[exact] = arr[np.round(q[exact]).astype(int)]
    return _pose_list_to_tensor(out)


def auto_trajectory_scale(c2w_rel, depth) -> float:
    """Scale factor for a path whose translation scale is arbitrary (e.g. RealEstate10K, SfM up to scale).

    Rule: multiply translations by ``s`` so that the largest distance of any camera from the first camera equals
    ``AUTO_SCALE_FRACTION * median(valid depth)`` = ``0.25 * median`` metres, where valid depth is finite and > 0.

    Why: a single photo only supports novel views whose cameras stay well inside the scene it shows. Tying the
    path's extent to a fraction of the typical scene distance keeps every camera in front of most visible surfaces
    (no flying through walls), keeps disocclusions and parallax in the range that the depth and the generator can
    fill, and makes the same path behave alike on a close-up and on a landscape. A quarter of the median depth is
    the same magnitude as the ``move_*`` presets.

    Args:
        c2w_rel: ``(N, 4, 4)`` camera-to-world poses (any units; relative to the first camera or not -- distances
            are measured from ``c2w_rel[0]``).
        depth: depth map (any shape, ndarray or tensor) in metres; values ``<= 0`` or non-finite are invalid.

    Returns:
        ``s`` as a Python float; ``1.0`` if the path has (near) zero translation (max distance <= 1e-8).

    Raises:
        InputError: bad poses, or no valid depth values.
    """
    arr = _poses_to_numpy(c2w_rel, "c2w_rel")
    dist = float(np.max(np.linalg.norm(arr[:, :3, 3] - arr[0, :3, 3], axis=-1)))
    if dist <= _ZERO_TRANSLATION:
        return 1.0
    return float(AUTO_SCALE_FRACTION * _median_valid_depth(depth) / dist)


def scale_translation(c2w, s: float) -> Tensor:
    """Multiply the translations of camera-to-world poses by ``s`` (rotations unchanged).

    For a path relative to its first camera this scales every camera's distance from the photo's camera by ``s``.

    Args:
        c2w: ``(N, 4, 4)`` poses (tensor or ndarray).
        s: finite scale factor ``>= 0``.

    Returns:
        ``(N, 4, 4)`` float64 tensor (a new tensor).

    Raises:
        InputError: bad poses or ``s`` negative / non-finite / not a number.
    """
    arr = _poses_to_numpy(c2w).copy()
    try:
        sv = float(s)
    except (TypeError, ValueError):
        raise InputError(f"scale must be a number, got {s!r}") from None
    if not (math.isfinite(sv) and sv >= 0):
        raise InputError(f"scale must be finite and >= 0, got {s!r}")
    arr[:, :3, 3] *= sv
    return _pose_list_to_tensor(arr)


# ----------------------------------------------------------------------------------------------------------------
# presets


def _normalize_preset_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def _preset_list() -> str:
    return ", ".join(PRESETS)


def make_preset(name: str, n: int, median_depth: float) -> Tensor:
    """Build a named camera motion (see :data:`PRESETS`).

    Poses go linearly in frame index (angle or distance) from the identity at frame 0 to the final pose:

    * ``pan_left`` / ``pan_right``: rotation ``R_y(-/+30 deg)`` in OpenCV axes; ``pan_left`` turns the view to -x,
      so scene content moves to +u (right) in the image.
    * ``push_in`` / ``pull_out``: translate along +z / -z by ``0.5 * median_depth``.
    * ``move_left/right/up/down``: translate along -x / +x / -y / +y by ``0.25 * median_depth`` (up is -y).
    * ``orbit_left`` / ``orbit_right``: the camera centre travels 30 deg along the circle of radius
      ``median_depth`` around ``P = (0, 0, median_depth)`` (on the first camera's optical axis), to -x / +x, with the
      optical axis always through ``P``: ``R = R_y(+/-phi)``, ``C = P - median_depth * R[:, 2]``.

    Closed loops (:data:`CLOSED_LOOP_PRESETS`; the last pose is exactly the identity again), for measuring whether
    the scene stays put when the camera comes back:

    * ``out_and_back``: forward along +z to ``0.5 * median_depth`` and back, ``t_z = 0.5 d * min(k, n-1-k) * 2 /
      (n-1)``; pose ``k`` equals pose ``n-1-k`` exactly (the turning point is reached for odd ``n``).
    * ``orbit_360``: the ``orbit_left`` circle continued to a full turn, ``phi = 360 deg * k / (n-1)`` (the camera
      passes behind ``P`` at the middle frame).
    * ``look_away_and_back``: pan in place to ``R_y(+180 deg)`` (view towards +x, then fully backwards) and back with
      the same profile as ``out_and_back``; pose ``k`` equals pose ``n-1-k``.

    Args:
        name: preset name (case-insensitive, ``-`` accepted for ``_``).
        n: number of poses, ``n >= 1`` (``n == 1`` gives just the identity).
        median_depth: median scene depth in metres (> 0); sets the size of translations.

    Returns:
        ``(n, 4, 4)`` float64 camera-to-world tensor, first pose the identity.

    Raises:
        InputError: unknown name (message lists the presets), bad ``n`` or ``median_depth``.
    """
    if not isinstance(name, str):
        raise InputError(f"preset name must be a string, got {type(name).__name__}; presets: {_preset_list()}")
    key = _normalize_preset_name(name)
    if key not in PRESETS:
        raise InputError(f"unknown camera preset {name!r}; presets: {_preset_list()}")
    n = _check_n(n)
    d = _check_positive(median_depth, "median_depth")
    f = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    out = np.tile(np.eye(4), (n, 1, 1))
    moves = {
        "push_in": (2, +_PUSH_FRACTION),
        "pull_out": (2, -_PUSH_FRACTION),
        "move_left": (0, -_MOVE_FRACTION),
        "move_right": (0, +_MOVE_FRACTION),
        "move_up": (1, -_MOVE_FRACTION),
        "move_down": (1, +_MOVE_FRACTION),
    }
    if key in ("pan_left", "pan_right"):
        sign = -1.0 if key == "pan_left" else 1.0
        out[:, :3, :3] = rot_y(sign * math.radians(_PAN_DEG) * f)
    elif key in moves:
        axis, frac = moves[key]
        out[:, axis, 3] = frac * d * f
    elif key in ("orbit_left", "orbit_right"):
        sign = 1.0 if key == "orbit_left" else -1.0
        R = rot_y(sign * math.radians(_ORBIT_DEG) * f)
        target = np.array([0.0, 0.0, d])
        out[:, :3, :3] = R
        out[:, :3, 3] = target - d * R[:, :, 2]
    elif key in CLOSED_LOOP_PRESETS:
        # out-and-back profile, exactly symmetric in k <-> n-1-k: 0 at both ends, 1 at the middle (odd n).
        k = np.arange(n)
        tri = np.minimum(k, n - 1 - k) * (2.0 / (n - 1)) if n > 1 else np.zeros(1)
        if key == "out_and_back":
            out[:, 2, 3] = _PUSH_FRACTION * d * tri
        elif key == "look_away_and_back":
            out[:, :3, :3] = rot_y(math.radians(_LOOK_AWAY_DEG) * tri)
        else:  # orbit_360
            R = rot_y(2.0 * math.pi * f)
            out[:, :3, :3] = R
            out[:, :3, 3] = np.array([0.0, 0.0, d]) - d * R[:, :, 2]
        out[-1] = np.eye(4)
    out[0] = np.eye(4)
    return _pose_list_to_tensor(out)


# ----------------------------------------------------------------------------------------------------------------
# entry point


def load_trajectory(spec, n_frames: int, depth_m=None, scale: float | None = None) -> Trajectory:
    """Turn a user's camera-path specification into ``n_frames`` metric poses relative to the photo's camera.

    ``spec`` is either a preset name (:data:`PRESETS`) or a file path:

    * a file in any format of :mod:`mirage_world.geometry.camera_files`, detected by name / extension / content
      (:func:`~mirage_world.geometry.camera_files.detect_format`) and read by
      :func:`~mirage_world.geometry.camera_files.read_camera_file` -> :func:`relative_to_first` ->
      :func:`resample_path` to ``n_frames`` -> translations multiplied by ``scale`` if given, else: metric formats
      (``.npy`` / c2w ``.json``, Spatia folder or ``w2c.txt``, ``geometry.npz``, Open3D ``trajectory.log``) by 1.0;
      up-to-scale ones (RealEstate10K ``.txt``, WorldScore ``camera_data.json``, nerfstudio ``transforms.json``) by
      :func:`auto_trajectory_scale` (needs ``depth_m`` unless the path has no translation).
    * ViewCrafter keyframe ``.txt`` (3 lines of numbers): the orbit of
      :func:`~mirage_world.geometry.camera_files.viewcrafter_path` built directly with ``n_frames`` frames around
      the scene centre at depth ``c = scale`` if given, else
      :func:`~mirage_world.geometry.camera_files.scene_centre_depth` of ``depth_m``; ``Trajectory.scale`` records
      ``c``.
    * preset: built with depth unit ``d = scale`` if given, else ``d = median(valid depth_m)``; presets without
      translation (``static``, ``pan_*``, ``look_away_and_back``) need neither (``scale`` is then recorded as
      given, or the median depth, or 1.0).

    Args:
        spec: preset name or path (``str`` / ``os.PathLike``).
        n_frames: number of output poses, >= 1.
        depth_m: depth of the photo in metres (ndarray or tensor, any shape; ``<= 0`` / non-finite = invalid), or
            ``None``.
        scale: explicit translation scale (finite, >= 0 for files, > 0 for presets) overriding the automatic rule.

    Returns:
        :class:`Trajectory` with ``c2w`` ``(n_frames, 4, 4)`` float64 (``c2w[0]`` identity), the ``scale`` applied
        and a ``source`` string.

    Raises:
        InputError: ``spec`` neither a preset nor an existing file (the message lists the presets); unsupported file
            extension; any reader error; bad ``n_frames``/``scale``; depth needed but missing or without valid values.
    """
    n = _check_n(n_frames, "n_frames")
    if scale is not None:
        try:
            sv = float(scale)
        except (TypeError, ValueError):
            raise InputError(f"scale must be a number, got {scale!r}") from None
        if not (math.isfinite(sv) and sv >= 0):
            raise InputError(f"scale must be finite and >= 0, got {scale!r}")
        scale = sv
    if isinstance(spec, str) and _normalize_preset_name(spec) in PRESETS:
        key = _normalize_preset_name(spec)
        needs_depth = key not in _ROTATION_ONLY
        if scale is not None:
            if scale <= 0:
                raise InputError(f"scale for preset {key!r} must be > 0, got {scale!r}")
            d = scale
        elif depth_m is not None:
            d = _median_valid_depth(depth_m)
        elif needs_depth:
            raise InputError(
                f"preset {key!r} moves the camera by a fraction of the photo's median depth: pass depth_m or scale"
            )
        else:
            d = 1.0
        return Trajectory(c2w=make_preset(key, n, d), scale=float(d), source=f"preset:{key}")

    if not isinstance(spec, (str, os.PathLike)):
        raise InputError(f"camera path must be a preset name or a file path, got {type(spec).__name__}")
    p = Path(spec)
    if not (p.is_file() or p.is_dir()):
        raise InputError(
            f"camera path {str(spec)!r} is neither a preset nor an existing file; presets: {_preset_list()}; "
            "files: RealEstate10K .txt, (N, 4, 4) camera-to-world .npy / .json, Spatia folder or w2c.txt, "
            "geometry .npz, WorldScore camera_data.json, nerfstudio transforms.json, ViewCrafter .txt, "
            "Open3D trajectory .log"
        )
    kind = camera_files.detect_format(p)  # raises "unsupported ..." for unknown files
    if kind == "viewcrafter":
        kf = camera_files.read_viewcrafter(p)
        if scale is not None:
            if scale <= 0:
                raise InputError(f"scale for a ViewCrafter path (the scene-centre depth) must be > 0, got {scale!r}")
            c = scale
        elif depth_m is not None:
            c = camera_files.scene_centre_depth(depth_m)
        elif not (kf.phi_deg.any() or kf.theta_deg.any() or kf.r.any()):
            c = 1.0
        else:
            raise InputError(f"{p}: ViewCrafter paths orbit the scene centre: pass depth_m or scale (centre depth)")
        rel = relative_to_first(camera_files.viewcrafter_path(kf, n, c))
        return Trajectory(c2w=rel, scale=float(c), source=f"viewcrafter:{p}")
    cf = camera_files.read_camera_file(p, kind)
    c2w = cf.c2w
    rel = resample_path(relative_to_first(c2w), n)
    if scale is None:
        if cf.metric:
            scale = 1.0
        else:
            dist = float(torch.linalg.vector_norm(rel[:, :3, 3], dim=-1).max())
            if dist <= _ZERO_TRANSLATION:
                scale = 1.0
            elif depth_m is None:
                what = {"re10k": "RealEstate10K", "worldscore": "WorldScore",
                        "nerfstudio": "nerfstudio"}.get(kind, kind)
                raise InputError(
                    f"{p}: {what} paths are up to scale; pass depth_m (for the automatic scale) or scale"
                )
            else:
                scale = auto_trajectory_scale(rel, depth_m)
    return Trajectory(c2w=scale_translation(rel, scale), scale=float(scale), source=f"{kind}:{p}")
