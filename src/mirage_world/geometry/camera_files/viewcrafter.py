"""ViewCrafter keyframe trajectories (``.txt``): reader, writer, keyframe interpolation and the orbit they describe.

Source: ViewCrafter (Yu et al. 2024), ``docs/render_help.md`` and ``generate_traj_txt``: 3 lines of numbers, the
azimuth ``phi`` keyframes (degrees), the elevation ``theta`` keyframes (degrees) and the radius offsets ``r``
(fraction of the scene-centre depth). Positive ``d_phi`` moves the camera right, positive ``d_theta`` moves it down,
the radius is ``c * (1 + r)`` around the point at the centre pixel's depth ``c``; keyframes are interpolated linearly
for up to 3, by a cubic smoothing spline with pinned endpoints for more.

Axes: the orbit is built directly in OpenCV camera axes (+x right, +y down, +z forward) around ``P = (0, 0, c)``,
in metres (no foreign convention to convert: the file holds angles, not matrices).

Returns: :func:`read_viewcrafter` gives :class:`ViewCrafterKeyframes` (three 1-D float64 arrays, not poses);
:func:`viewcrafter_path` turns them into ``(n, 4, 4)`` float64 camera-to-world poses for a given ``c``
(:func:`scene_centre_depth` of the photo's depth). No ``K``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.interpolate import UnivariateSpline
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera_files._common import open_existing, parse_finite_floats, prepare_out, read_text
from mirage_world.geometry.rotations import rot_x, rot_y

__all__ = [
    "ViewCrafterKeyframes",
    "read_viewcrafter",
    "write_viewcrafter",
    "interpolate_keyframes",
    "viewcrafter_path",
    "scene_centre_depth",
    "looks_like_viewcrafter",
]


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


def _has_number(line: str) -> bool:
    for tok in line.replace(",", " ").split():
        try:
            float(tok)
            return True
        except ValueError:
            pass
    return False


def looks_like_viewcrafter(lines: list[str]) -> bool:
    """Whether the non-blank lines of a ``.txt`` are a ViewCrafter keyframe file, well-formed or not.

    Well-formed: exactly 3 lines, all made of numbers. Malformed (so that :func:`read_viewcrafter` reports the
    problem): the first line has a number in it and no line has 19 or more fields. A RealEstate10K file never
    matches: its first line is a URL (no number) and its frame lines have 19 fields.
    """
    if not lines:
        return False
    if len(lines) == 3 and all(_parse_numbers(ln) is not None for ln in lines):
        return True
    return _has_number(lines[0]) and all(len(ln.replace(",", " ").split()) < 19 for ln in lines)


def read_viewcrafter(path) -> ViewCrafterKeyframes:
    """Read a ViewCrafter trajectory ``.txt``: exactly 3 non-blank lines of whitespace-separated numbers.

    Line 1: azimuth ``phi`` keyframes (degrees), line 2: elevation ``theta`` keyframes (degrees), line 3: radius
    offsets ``r`` (fraction of the scene-centre depth, ``> -1``). Each line has its own number of keyframes (>= 1).

    Raises:
        InputError: not 3 lines, a non-number, NaN/inf, ``r <= -1`` (camera at or past the centre); ``FILE:LINE``.
    """
    p = open_existing(path, "ViewCrafter trajectory .txt")
    lines = [(i, ln) for i, ln in enumerate(read_text(p).splitlines(), start=1) if ln.strip()]
    if len(lines) != 3:
        raise InputError(
            f"{p}: a ViewCrafter trajectory has exactly 3 lines (phi degrees, theta degrees, r), found {len(lines)}"
        )
    out = []
    for (lineno, line), name in zip(lines, ("phi", "theta", "r")):
        vals = parse_finite_floats(line.replace(",", " ").split(), f"{p}:{lineno}", f"ViewCrafter {name} value")
        out.append(np.array(vals, dtype=np.float64))
    if (out[2] <= -1).any():
        raise InputError(
            f"{p}:{lines[2][0]}: ViewCrafter radius offsets r must be > -1 (radius (1 + r) x centre depth)"
        )
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
    p = prepare_out(path)
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
    R = rot_y(-phi) @ rot_x(th)
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
