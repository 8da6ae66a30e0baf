"""Geometric consistency of a generated video with its input photo, and contact sheets.

The probe is independent of the model: the input photo is forward-warped with its own depth into every camera of
the generated video (z-buffered point splatting, nearest pixel, nearest surface wins) and each generated frame is
compared to that warp by PSNR on the pixels the warp covers. A model that keeps the photo's content where it is
still visible scores high; one that drifts, hallucinates over visible content or ignores the camera scores low.
Disoccluded regions (nothing of the photo lands there) are not scored.

Conventions are those of :mod:`mirage_world.geometry.camera`: OpenCV camera axes (+x right, +y down, +z forward),
camera-to-world 4x4 poses, intrinsics ``K`` in pixels, pixel centres at +0.5 (the pixel in row ``i``, column ``j``
has its centre at ``(u, v) = (j + 0.5, i + 0.5)`` and covers ``[j, j+1) x [i, i+1)``), z-depth in metres with ``0``
meaning invalid. Images are ``(H, W, 3)`` floats in ``[0, 1]`` (``uint8`` is accepted and divided by 255).

Every function accepts numpy arrays or torch tensors and returns numpy arrays / Python numbers; invalid input
raises :class:`mirage_world.errors.InputError`, a :class:`ValueError`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w, check_intrinsics, project_points, unproject_depth

__all__ = [
    "NEAR_PLANE",
    "forward_warp",
    "forward_warp_reference",
    "remove_see_through",
    "psnr",
    "pose_distance",
    "contact_sheet_indices",
    "contact_sheet",
    "save_contact_sheet",
    "consistency_metrics",
]

#: Points closer to the target camera than this (metres, z-depth) are dropped by the warps.
NEAR_PLANE = 1e-6


# ----------------------------------------------------------------------------------------------------------------
# input checks


def _array(x, name: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


def _image01(x, name: str, ndim: int) -> np.ndarray:
    """``uint8`` or float image(s) with ``ndim`` dims and 3 channels last -> float64 in ``[0, 1]``."""
    a = _array(x, name)
    if a.ndim != ndim or a.shape[-1] != 3 or min(a.shape) < 1:
        want = "(H, W, 3)" if ndim == 3 else "(N, H, W, 3)"
        raise InputError(f"{name} must have shape {want} with non-zero sizes, got {tuple(a.shape)}")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype.kind != "f":
        raise InputError(f"{name} must be uint8 or floating point in [0, 1], got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise InputError(f"{name} must be in [0, 1] (floats) or uint8, got values in [{lo:g}, {hi:g}]")
    return np.clip(a, 0.0, 1.0)


def _depth(x, name: str = "depth") -> np.ndarray:
    a = _array(x, name)
    if a.ndim != 2 or min(a.shape) < 1:
        raise InputError(f"{name} must have shape (H, W) with non-zero sizes, got {tuple(a.shape)}")
    if a.dtype.kind not in "fiu":
        raise InputError(f"{name} must be a real numeric array in metres, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or infinite values; use 0 for invalid pixels")
    if (a < 0).any():
        raise InputError(f"{name} has negative values (min {a.min():g}); depth must be >= 0 metres, 0 = invalid")
    return a


def _intrinsics(x, name: str = "K") -> Tensor:
    a = _array(x, name)
    if a.shape != (3, 3) or a.dtype.kind not in "fiu":
        raise InputError(f"{name} must be a real (3, 3) matrix in pixels, got shape {tuple(a.shape)} dtype {a.dtype}")
    K = check_intrinsics(torch.from_numpy(a.astype(np.float64)), name)
    if float(K[0, 1]) != 0.0 or float(K[1, 0]) != 0.0:
        raise InputError(f"{name} must have zero skew (K[0, 1] == K[1, 0] == 0), got {K[:2, :2].tolist()}")
    return K


def _poses(x, name: str, batched: bool) -> Tensor:
    a = _array(x, name)
    ok = a.ndim == (3 if batched else 2) and a.shape[-2:] == (4, 4) and a.dtype.kind in "fiu"
    if not ok or (batched and a.shape[0] < 1):
        want = "(N, 4, 4) with N >= 1" if batched else "(4, 4)"
        raise InputError(f"{name} must be a real {want} camera-to-world array, got shape {tuple(a.shape)}")
    return check_c2w(torch.from_numpy(a.astype(np.float64)), name)


def _size(dst_hw, default: tuple[int, int]) -> tuple[int, int]:
    if dst_hw is None:
        return default
    try:
        h, w = (int(v) for v in dst_hw)
    except (TypeError, ValueError):
        raise InputError(f"dst_hw must be a pair of positive integers (H, W), got {dst_hw!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"dst_hw must be positive, got {dst_hw!r}")
    return h, w


def _check_warp_inputs(image, depth, K, c2w_src, c2w_dst, K_dst, dst_hw):
    img = _image01(image, "image", 3)
    dep = _depth(depth)
    if img.shape[:2] != dep.shape:
        raise InputError(
            f"image is {img.shape[1]}x{img.shape[0]} (WxH) but depth is {dep.shape[1]}x{dep.shape[0]}; "
            "they must have the same size"
        )
    Ks = _intrinsics(K, "K")
    Kd = Ks if K_dst is None else _intrinsics(K_dst, "K_dst")
    src = _poses(c2w_src, "c2w_src", batched=False)
    dst = _poses(c2w_dst, "c2w_dst", batched=False)
    return img, dep, Ks, Kd, src, dst, _size(dst_hw, dep.shape)


# ----------------------------------------------------------------------------------------------------------------
# forward warp


def _source_points(dep: np.ndarray, K: Tensor, c2w_src: Tensor) -> tuple[Tensor, np.ndarray]:
    """World points ``(M, 3)`` float64 of the valid-depth pixels and their flat source indices (raster order)."""
    valid = dep > 0
    pts = unproject_depth(torch.from_numpy(dep), K, c2w_src)  # (H, W, 3)
    return pts[torch.from_numpy(valid)], np.flatnonzero(valid)


def _splat(
    points: Tensor, src_index: np.ndarray, colors: np.ndarray, K_dst: Tensor, c2w_dst: Tensor, hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffered nearest-pixel splat of world points into one camera.

    Returns ``warped (H, W, 3)`` float64 (0 where uncovered), ``covered (H, W)`` bool and ``zbuf (H, W)`` float64
    (target z-depth in metres, ``inf`` where uncovered). Ties in depth go to the smaller source index.
    """
    H, W = hw
    warped = np.zeros((H * W, 3), dtype=np.float64)
    zbuf = np.full(H * W, np.inf, dtype=np.float64)
    covered = np.zeros(H * W, dtype=bool)
    if points.shape[0]:
        uv, z = project_points(points, K_dst, c2w_dst)
        u, v, z = uv[:, 0].numpy(), uv[:, 1].numpy(), z.numpy()
        ok = (z > NEAR_PLANE) & np.isfinite(u) & np.isfinite(v)
        col = np.floor(np.where(ok, u, -1.0))
        row = np.floor(np.where(ok, v, -1.0))
        ok &= (col >= 0) & (col < W) & (row >= 0) & (row < H)
        tgt = (row[ok] * W + col[ok]).astype(np.int64)
        zs, src = z[ok], src_index[ok]
        # sort by target pixel, then depth, then source index; the first of each target pixel wins the z-test
        order = np.lexsort((src, zs, tgt))
        first = np.ones(order.size, dtype=bool)
        first[1:] = tgt[order][1:] != tgt[order][:-1]
        win = order[first]
        warped[tgt[win]] = colors[src[win]]
        zbuf[tgt[win]] = zs[win]
        covered[tgt[win]] = True
    return warped.reshape(H, W, 3), covered.reshape(H, W), zbuf.reshape(H, W)


def forward_warp(image, depth, K, c2w_src, c2w_dst, K_dst=None, *, dst_hw=None, return_depth: bool = False):
    """Forward-warp a photo with its depth into another camera (z-buffered nearest-pixel point splatting).

    Every source pixel with valid depth is back-projected through its centre, moved to the target camera and
    written to the target pixel that contains its projection (``floor(u), floor(v)``); when several land on the
    same pixel the one with the smallest target z-depth wins (ties: the first in raster order). Pixels nothing
    lands on stay uncovered (zero colour); there is no hole filling, so a forward-moving camera leaves a regular
    pattern of uncovered pixels on magnified surfaces. Points behind the target camera (z <= :data:`NEAR_PLANE`)
    or outside its image are dropped. Geometry in float64 with :func:`~mirage_world.geometry.camera.unproject_depth`
    and :func:`~mirage_world.geometry.camera.project_points`.

    Args:
        image: ``(H, W, 3)`` float in ``[0, 1]`` (or ``uint8``, divided by 255).
        depth: ``(H, W)`` z-depth in metres of the source camera, ``0`` = invalid (not warped).
        K: ``(3, 3)`` source intrinsics in pixels (zero skew), pixel centres at +0.5.
        c2w_src: ``(4, 4)`` source camera-to-world pose (OpenCV axes).
        c2w_dst: ``(4, 4)`` target camera-to-world pose.
        K_dst: ``(3, 3)`` target intrinsics (default ``K``).
        dst_hw: target ``(H', W')`` (default the source ``(H, W)``).
        return_depth: also return the target z-buffer.

    Returns:
        ``warped`` ``(H', W', 3)`` float64 in ``[0, 1]`` (0 where uncovered) and ``covered`` ``(H', W')`` bool;
        with ``return_depth`` also ``zbuf`` ``(H', W')`` float64 target z-depth in metres (``inf`` where uncovered).

    Raises:
        InputError (a ValueError): wrong shapes or dtypes, image and depth of different sizes, NaN/inf anywhere,
            image outside ``[0, 1]``, negative depth, bad intrinsics (non-positive focal length, skew, last row) or
            poses (not rigid, last row).

    Example:
        >>> K = np.array([[10.0, 0, 4], [0, 10.0, 4], [0, 0, 1]])
        >>> img = np.random.default_rng(0).random((8, 8, 3))
        >>> T = np.eye(4); T[0, 3] = 0.4  # 0.4 m to the right, plane at 2 m: shift fx * t / z = 2 px left
        >>> warped, covered = forward_warp(img, np.full((8, 8), 2.0), K, np.eye(4), T)
        >>> bool(np.array_equal(warped[:, :6], img[:, 2:])), covered[:, 6:].any().item()
        (True, False)
    """
    img, dep, Ks, Kd, src, dst, hw = _check_warp_inputs(image, depth, K, c2w_src, c2w_dst, K_dst, dst_hw)
    points, src_index = _source_points(dep, Ks, src)
    warped, covered, zbuf = _splat(points, src_index, img.reshape(-1, 3), Kd, dst, hw)
    return (warped, covered, zbuf) if return_depth else (warped, covered)


def forward_warp_reference(image, depth, K, c2w_src, c2w_dst, K_dst=None, *, dst_hw=None, return_depth: bool = False):
    """Slow per-pixel loop version of :func:`forward_warp` (same arguments, results and errors), for testing.

    Written from the conventions directly (no :mod:`mirage_world.geometry.camera` math): for each source pixel in
    raster order, back-project its centre, transform to world and into the target camera, project, and keep it if
    strictly nearer than what the target pixel already holds.
    """
    img, dep, Ks, Kd, src, dst, (Ho, Wo) = _check_warp_inputs(image, depth, K, c2w_src, c2w_dst, K_dst, dst_hw)
    Ks, Kd, src, dst = Ks.numpy(), Kd.numpy(), src.numpy(), dst.numpy()
    fx, fy, cx, cy = Ks[0, 0], Ks[1, 1], Ks[0, 2], Ks[1, 2]
    gx, gy, ex, ey = Kd[0, 0], Kd[1, 1], Kd[0, 2], Kd[1, 2]
    R_s, t_s = src[:3, :3], src[:3, 3]
    R_d, t_d = dst[:3, :3], dst[:3, 3]
    warped = np.zeros((Ho, Wo, 3), dtype=np.float64)
    zbuf = np.full((Ho, Wo), np.inf, dtype=np.float64)
    covered = np.zeros((Ho, Wo), dtype=bool)
    H, W = dep.shape
    for i in range(H):
        for j in range(W):
            d = dep[i, j]
            if d <= 0:
                continue
            p_cam = np.array([(j + 0.5 - cx) / fx * d, (i + 0.5 - cy) / fy * d, d])
            p_world = R_s @ p_cam + t_s
            q = R_d.T @ (p_world - t_d)
            if q[2] <= NEAR_PLANE:
                continue
            u = gx * q[0] / q[2] + ex
            v = gy * q[1] / q[2] + ey
            c, r = math.floor(u), math.floor(v)
            if not (0 <= c < Wo and 0 <= r < Ho):
                continue
            if q[2] < zbuf[r, c]:
                zbuf[r, c] = q[2]
                warped[r, c] = img[i, j]
                covered[r, c] = True
    return (warped, covered, zbuf) if return_depth else (warped, covered)


def remove_see_through(covered, zbuf, window: int = 3, rel_gap: float = 0.1) -> np.ndarray:
    """Uncover splatted pixels that show a far surface through the holes of a nearer one.

    Point splatting without hole filling lets background points appear in the gaps between the (magnified)
    points of a nearer surface. A covered pixel is kept only if its depth is at most ``(1 + rel_gap)`` times the
    smallest covered depth in its ``window x window`` neighbourhood. Steep but continuous surfaces seen at grazing
    angles can lose a few pixels too; that only lowers the covered fraction.

    Args:
        covered: ``(H, W)`` bool, from :func:`forward_warp`.
        zbuf: ``(H, W)`` target z-depth in metres (``return_depth=True``); ignored where not covered.
        window: odd neighbourhood size >= 1 (1 keeps everything).
        rel_gap: relative depth gap > 0 that counts as another surface.

    Returns:
        ``(H, W)`` bool, a subset of ``covered``.

    Raises:
        InputError (a ValueError): shapes differ or are not 2-D, ``window`` not a positive odd integer, ``rel_gap``
            not finite and > 0, NaN in covered depths.
    """
    cov = _array(covered, "covered")
    z = _array(zbuf, "zbuf")
    if cov.ndim != 2 or cov.shape != z.shape:
        raise InputError(f"covered and zbuf must be (H, W) of the same shape, got {cov.shape} and {z.shape}")
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1 or window % 2 == 0:
        raise InputError(f"window must be a positive odd integer, got {window!r}")
    if not (isinstance(rel_gap, (int, float)) and math.isfinite(rel_gap) and rel_gap > 0):
        raise InputError(f"rel_gap must be finite and > 0, got {rel_gap!r}")
    cov = cov.astype(bool)
    zc = np.where(cov, z.astype(np.float64), np.inf)
    if np.isnan(zc).any():
        raise InputError("zbuf contains NaN at covered pixels")
    if window == 1:
        return cov.copy()
    zmin = cv2.erode(zc, np.ones((window, window), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return cov & (zc <= zmin * (1.0 + rel_gap))


# ----------------------------------------------------------------------------------------------------------------
# PSNR and poses


def psnr(a, b, mask=None) -> float:
    """Peak signal-to-noise ratio ``10 log10(1 / MSE)`` in dB of two images in ``[0, 1]``.

    Args:
        a, b: images of the same shape, ``(H, W, 3)`` (``uint8`` is divided by 255; floats must lie in ``[0, 1]``).
        mask: optional ``(H, W)`` bool; the mean squared error is taken over the selected pixels (all channels).

    Returns:
        PSNR in dB; ``inf`` when the images are identical on the selected pixels.

    Raises:
        InputError (a ValueError): shapes differ or are not ``(H, W, 3)``, NaN/inf, values outside ``[0, 1]``,
            mask of the wrong shape or selecting no pixel.
    """
    x = _image01(a, "a", 3)
    y = _image01(b, "b", 3)
    if x.shape != y.shape:
        raise InputError(f"psnr needs images of the same shape, got {x.shape} and {y.shape}")
    err = (x - y) ** 2
    if mask is not None:
        m = _array(mask, "mask")
        if m.shape != x.shape[:2]:
            raise InputError(f"mask must have shape {x.shape[:2]} (H, W), got {tuple(m.shape)}")
        m = m.astype(bool)
        if not m.any():
            raise InputError("mask selects no pixel; PSNR is undefined")
        err = err[m]
    mse = float(err.mean())
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def pose_distance(c2w_a, c2w_b) -> tuple[float, float]:
    """Distance between two camera poses: ``(translation in metres, rotation angle in degrees)``.

    The angle is that of ``R_a^T R_b``, computed as ``2 asin(||R_a - R_b||_F / (2 sqrt 2))`` (accurate near 0).

    Raises:
        InputError (a ValueError): not rigid ``(4, 4)`` poses.
    """
    A = _poses(c2w_a, "c2w_a", batched=False).numpy()
    B = _poses(c2w_b, "c2w_b", batched=False).numpy()
    dt = float(np.linalg.norm(A[:3, 3] - B[:3, 3]))
    s = min(1.0, float(np.linalg.norm(A[:3, :3] - B[:3, :3])) / (2.0 * math.sqrt(2.0)))
    return dt, math.degrees(2.0 * math.asin(s))


# ----------------------------------------------------------------------------------------------------------------
# contact sheets


def contact_sheet_indices(n: int, every: int = 8) -> list[int]:
    """Frames shown by a contact sheet: ``0, every, 2 every, ...`` and always the last frame ``n - 1``.

    Raises:
        InputError (a ValueError): ``n < 1`` or ``every < 1``.
    """
    for name, v in (("n", n), ("every", every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    idx = list(range(0, int(n), int(every)))
    if idx[-1] != n - 1:
        idx.append(int(n) - 1)
    return idx


def contact_sheet(frames, every: int = 8, columns: int | None = None, labels: bool = True) -> np.ndarray:
    """A grid of every ``every``-th frame (plus the last one), each labelled with its frame index.

    Frames are placed row by row without gaps; unused cells of the last row are black.

    Args:
        frames: ``(N, H, W, 3)`` RGB, ``uint8`` or float in ``[0, 1]``.
        every: frame step (frames ``0, every, 2 every, ...`` and ``N - 1``, see :func:`contact_sheet_indices`).
        columns: grid columns (default ``ceil(sqrt(k))`` for ``k`` shown frames; capped at ``k``).
        labels: draw the frame index in the top-left corner of each cell (white text, black outline).

    Returns:
        ``(rows * H, columns * W, 3)`` ``uint8`` RGB with ``rows = ceil(k / columns)``.

    Raises:
        InputError (a ValueError): bad frames (shape, dtype, NaN/inf, range), ``every`` or ``columns``.
    """
    a = _array(frames, "frames")
    if a.dtype != np.uint8:
        a = (_image01(a, "frames", 4) * 255.0).round().astype(np.uint8)
    elif a.ndim != 4 or a.shape[-1] != 3 or min(a.shape) < 1:
        raise InputError(f"frames must have shape (N, H, W, 3) with non-zero sizes, got {tuple(a.shape)}")
    N, H, W, _ = a.shape
    idx = contact_sheet_indices(N, every)
    k = len(idx)
    if columns is None:
        cols = math.ceil(math.sqrt(k))
    elif isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise InputError(f"columns must be a positive integer, got {columns!r}")
    else:
        cols = min(int(columns), k)
    rows = math.ceil(k / cols)
    sheet = np.zeros((rows * H, cols * W, 3), dtype=np.uint8)
    scale = max(0.3, min(H, W) / 256.0 * 0.5)
    thick = max(1, round(scale * 2))
    for n, f in enumerate(idx):
        r, c = divmod(n, cols)
        cell = a[f].copy()  # putText draws in place: never into the caller's frames
        if labels:
            text = str(f)
            (_, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            org = (3, 3 + th)
            cv2.putText(cell, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
            cv2.putText(cell, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
        sheet[r * H : (r + 1) * H, c * W : (c + 1) * W] = cell
    return sheet


def save_contact_sheet(frames, path, every: int = 8, columns: int | None = None, labels: bool = True) -> Path:
    """Write :func:`contact_sheet` of ``frames`` to a PNG file (parent folders are created).

    Returns:
        the written path.

    Raises:
        InputError (a ValueError): what :func:`contact_sheet` raises; ``path`` not ending in ``.png``; write failure.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"contact sheet path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise InputError(f"contact sheet path must end in .png, got {p}")
    sheet = contact_sheet(frames, every=every, columns=columns, labels=labels)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError("PNG encoding failed")
        p.write_bytes(buf.tobytes())
    except OSError as e:
        raise InputError(f"cannot write contact sheet {p}: {e}") from None
    return p


# ----------------------------------------------------------------------------------------------------------------
# the probe


def consistency_metrics(
    frames,
    image,
    depth,
    K,
    c2w,
    *,
    min_covered_fraction: float = 0.01,
    see_through_gap: float | None = 0.1,
    loop_tol_m: float = 1e-3,
    loop_tol_deg: float = 0.1,
) -> dict:
    """Agreement of a generated video with its input photo where the photo's depth says it must agree.

    The photo's camera is ``c2w[0]`` (the convention of :func:`mirage_world.geometry.trajectory.load_trajectory`:
    the first camera of a path is the photo's). For every frame ``i`` the photo is forward-warped with its depth
    into camera ``i`` (:func:`forward_warp`, source and target intrinsics ``K``); by default covered pixels that
    show a far surface through the gaps of a nearer one are dropped (:func:`remove_see_through` with
    ``rel_gap=see_through_gap``), then frame ``i`` is compared to the warp by PSNR on the covered pixels.

    Args:
        frames: ``(N, H, W, 3)`` generated video, ``uint8`` or float in ``[0, 1]``.
        image: ``(H, W, 3)`` the input photo at the video's size, ``uint8`` or float in ``[0, 1]``.
        depth: ``(H, W)`` its z-depth in metres, ``0`` = invalid.
        K: ``(3, 3)`` intrinsics in pixels of the ``(H, W)`` video (zero skew).
        c2w: ``(N, 4, 4)`` camera-to-world pose of every frame, ``c2w[0]`` the photo's camera.
        min_covered_fraction: frames ``1..N-1`` whose covered fraction is below this are not scored.
        see_through_gap: relative depth gap for :func:`remove_see_through` (``None``: keep every splatted pixel).
        loop_tol_m, loop_tol_deg: tolerance for ``returns_to_start``.

    Returns:
        dict with

        * ``num_frames``, ``height``, ``width``;
        * ``first_frame_psnr``: frame 0 vs the photo, all pixels (dB);
        * ``covered_psnr_mean``: mean over the scored frames ``1..N-1`` of the covered PSNR (dB; ``None`` if no
          frame was scored); ``frames_scored`` and ``frames_skipped`` count them;
        * ``covered_fraction_mean``: mean covered fraction over frames ``1..N-1`` (``None`` when ``N == 1``);
        * ``per_frame_covered_psnr``, ``per_frame_covered_fraction``: lists of length ``N`` (entry ``i`` is frame
          ``i``; entry 0 is frame 0 vs the photo on its valid-depth pixels and is not part of the means; skipped
          frames have PSNR ``None``);
        * ``returns_to_start``: whether the last camera is within ``loop_tol_m`` metres and ``loop_tol_deg``
          degrees of the first (``start_end_translation_m``, ``start_end_rotation_deg`` give the distances);
        * ``last_frame_psnr``: last frame vs the photo, all pixels (dB), only when ``returns_to_start`` (else
          ``None``): a closed loop should come back to the photo.

        PSNRs are ``inf`` for an exact match.

    Raises:
        InputError (a ValueError): wrong shapes (frames/image/depth sizes differ, ``c2w`` count not ``N``), bad
            dtypes, NaN/inf, values out of range, bad intrinsics or poses, bad thresholds.
    """
    vid = _image01(frames, "frames", 4)
    img = _image01(image, "image", 3)
    dep = _depth(depth)
    N, H, W, _ = vid.shape
    if img.shape[:2] != (H, W) or dep.shape != (H, W):
        raise InputError(
            f"frames are {W}x{H} (WxH) but image is {img.shape[1]}x{img.shape[0]} and depth {dep.shape[1]}x"
            f"{dep.shape[0]}; resize the photo and depth to the video size first"
        )
    Kt = _intrinsics(K)
    poses = _poses(c2w, "c2w", batched=True)
    if poses.shape[0] != N:
        raise InputError(f"c2w has {poses.shape[0]} poses but the video has {N} frames")
    if not (isinstance(min_covered_fraction, (int, float)) and 0 <= min_covered_fraction <= 1):
        raise InputError(f"min_covered_fraction must be in [0, 1], got {min_covered_fraction!r}")
    for name, v in (("loop_tol_m", loop_tol_m), ("loop_tol_deg", loop_tol_deg)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise InputError(f"{name} must be finite and >= 0, got {v!r}")

    points, src_index = _source_points(dep, Kt, poses[0])
    colors = img.reshape(-1, 3)
    per_psnr: list[float | None] = []
    per_frac: list[float] = []
    for i in range(N):
        warped, covered, zbuf = _splat(points, src_index, colors, Kt, poses[i], (H, W))
        if see_through_gap is not None:
            covered = remove_see_through(covered, zbuf, rel_gap=see_through_gap)
        frac = float(covered.mean())
        per_frac.append(frac)
        scored = covered.any() and (i == 0 or frac >= min_covered_fraction)
        per_psnr.append(psnr(vid[i], warped, covered) if scored else None)

    rest = [p for p in per_psnr[1:] if p is not None]
    dt, dr = pose_distance(poses[0], poses[-1])
    loop = dt <= loop_tol_m and dr <= loop_tol_deg
    return {
        "num_frames": N,
        "height": H,
        "width": W,
        "first_frame_psnr": psnr(vid[0], img),
        "covered_psnr_mean": float(np.mean(rest)) if rest else None,
        "covered_fraction_mean": float(np.mean(per_frac[1:])) if N > 1 else None,
        "frames_scored": len(rest),
        "frames_skipped": N - 1 - len(rest),
        "per_frame_covered_psnr": per_psnr,
        "per_frame_covered_fraction": per_frac,
        "returns_to_start": loop,
        "start_end_translation_m": dt,
        "start_end_rotation_deg": dr,
        "last_frame_psnr": psnr(vid[-1], img) if loop else None,
    }
