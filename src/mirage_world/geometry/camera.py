"""Pinhole camera geometry in one convention: OpenCV axes, camera-to-world poses, pixel centres at +0.5.

Conventions (used everywhere in the package):

* Camera axes are OpenCV: +x right, +y down, +z forward (the viewing direction).
* A pose ``c2w`` is a 4x4 camera-to-world matrix; ``w2c`` is its inverse.
* ``K`` is the 3x3 intrinsic matrix in pixels. Pixel ``(i, j)`` (column ``i``, row ``j``) covers the square
  ``[i, i+1) x [j, j+1)``; its centre is at ``(i + 0.5, j + 0.5)``. With this convention a resize by a factor
  ``s`` maps a continuous image coordinate ``u`` to ``s * u``, so ``K`` rescales by multiplying its first two rows.
* Depth is z-depth (distance along +z), in metres, strictly positive where valid.

All torch functions accept any leading batch dimensions ``...`` and keep dtype and device. The validators
(:func:`check_c2w`, :func:`check_intrinsics`) take torch tensors or numpy arrays and are the package's only pose /
intrinsics checks; they raise :class:`~mirage_world.errors.InputError` (a ``ValueError``).

Two ways to project: :func:`project_points` (the per-point reference: invert the pose, transform, divide) and
:func:`project_with_matrices` with :func:`projection_matrices` (the fast path of the memory reads: one 3x4 matrix
per camera, built in float64, elementwise arithmetic); their agreement is tested.

Latent grids whose factor does not divide the image (:func:`latent_grid`, :func:`latent_intrinsics`,
:func:`downsample_depth`): a ``(H, W)`` image and a spatial factor ``f`` give a latent grid of
``h = floor(H / f)`` by ``w = floor(W / f)`` cells that covers exactly the ``f*h x f*w`` pixel window starting at
``(x0, y0)`` (``align="topleft"``: ``(0, 0)``, the remainder rows/columns at the bottom/right are dropped, which is
what a stride-``f`` encoder without padding sees; ``align="center"``: ``(floor((W - f*w) / 2), floor((H - f*h) / 2))``).
Latent cell ``(i, j)`` is the pixel block ``[x0 + f*i, x0 + f*(i+1)) x [y0 + f*j, y0 + f*(j+1))``, so its centre at
latent coordinate ``i + 0.5`` is the pixel coordinate ``x0 + f*(i + 0.5)``: ``K_latent = S(1/f) @ crop(K, x0, y0)``.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError

__all__ = [
    "pixel_centers",
    "pixel_corners",
    "pixel_rays",
    "unproject_depth",
    "project_camera_points",
    "project_points",
    "projection_matrices",
    "project_with_matrices",
    "transform_points",
    "invert_pose",
    "intrinsics_from_fov",
    "rescale_intrinsics",
    "crop_intrinsics",
    "latent_grid",
    "latent_intrinsics",
    "downsample_depth",
    "DEPTH_POOL_MODES",
    "ROT_TOL",
    "LAST_ROW_TOL",
    "check_intrinsics",
    "check_c2w",
]

#: Tolerance on ``|R R^T - I|`` (max abs entry) for the rotation part of a pose to count as a rotation.
ROT_TOL = 1e-3
#: Tolerance on the last row of a pose (``0 0 0 1``) and of ``K`` (``0 0 1``), max abs deviation.
LAST_ROW_TOL = 1e-6


def pixel_centers(height: int, width: int, *, ss: int = 1, dtype=torch.float32, device=None) -> Tensor:
    """Pixel-centre coordinates of an ``(H, W)`` grid, or of its ``ss x ss`` sub-pixel samples.

    Args:
        height, width: grid size in pixels.
        ss: samples per pixel along each axis; sample ``(r, c)`` of the ``(H*ss, W*ss)`` grid sits at
            ``((c + 0.5) / ss, (r + 0.5) / ss)`` (for ``ss = 1``: the pixel centres ``(i + 0.5, j + 0.5)``).

    Returns:
        ``(H*ss, W*ss, 2)`` tensor of ``(u, v)`` in pixels.

    Example:
        >>> pixel_centers(2, 3)[1, 2].tolist()
        [2.5, 1.5]
    """
    u = torch.arange(width * ss, dtype=dtype, device=device) + 0.5
    v = torch.arange(height * ss, dtype=dtype, device=device) + 0.5
    if ss != 1:
        u, v = u / ss, v / ss
    gv, gu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack([gu, gv], dim=-1)


def pixel_corners(height: int, width: int, *, dtype=torch.float32, device=None) -> Tensor:
    """Pixel-corner coordinates of an ``(H, W)`` grid: ``(H+1, W+1, 2)`` tensor of integer ``(u, v)``."""
    gv, gu = torch.meshgrid(
        torch.arange(height + 1, dtype=dtype, device=device),
        torch.arange(width + 1, dtype=dtype, device=device),
        indexing="ij",
    )
    return torch.stack([gu, gv], dim=-1)


def pixel_rays(uv: Tensor, K: Tensor) -> Tensor:
    """Camera-frame ray directions through pixel coordinates, scaled to camera ``z = 1`` (not unit length).

    A point at z-depth ``d`` on the ray through ``uv`` is ``d * ray`` (:func:`unproject_depth`).

    Args:
        uv: ``(H, W, 2)`` pixel coordinates (e.g. :func:`pixel_centers`).
        K: ``(..., 3, 3)`` intrinsics in pixels.

    Returns:
        ``(..., H, W, 3)`` directions ``((u - cx) / fx, (v - cy) / fy, 1)``.
    """
    fx = K[..., 0, 0, None, None]
    fy = K[..., 1, 1, None, None]
    cx = K[..., 0, 2, None, None]
    cy = K[..., 1, 2, None, None]
    x = (uv[..., 0] - cx) / fx  # (..., H, W)
    y = (uv[..., 1] - cy) / fy
    return torch.stack([x, y, torch.ones_like(x)], dim=-1)


def transform_points(T: Tensor, points: Tensor) -> Tensor:
    """Apply rigid 4x4 transforms to points.

    Args:
        T: ``(..., 4, 4)`` transforms.
        points: ``(..., N, 3)`` points.

    Returns:
        ``(..., N, 3)`` transformed points ``R @ p + t``.
    """
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    return points @ R.transpose(-1, -2) + t.unsqueeze(-2)


def invert_pose(T: Tensor) -> Tensor:
    """Invert rigid 4x4 transforms (``c2w`` <-> ``w2c``) using ``R^T`` rather than a general inverse.

    Args:
        T: ``(..., 4, 4)`` rigid transforms (rotation part orthonormal).

    Returns:
        ``(..., 4, 4)`` inverses.
    """
    R = T[..., :3, :3]
    t = T[..., :3, 3:]
    Rt = R.transpose(-1, -2)
    out = torch.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3:] = -Rt @ t
    out[..., 3, 3] = 1
    return out


def unproject_depth(depth: Tensor, K: Tensor, c2w: Tensor) -> Tensor:
    """Back-project a z-depth map through pixel centres to world points.

    Args:
        depth: ``(..., H, W)`` z-depth in metres.
        K: ``(..., 3, 3)`` intrinsics in pixels of the ``(H, W)`` grid.
        c2w: ``(..., 4, 4)`` camera-to-world poses (OpenCV axes).

    Returns:
        ``(..., H, W, 3)`` world points in metres. Invalid depths are not masked here.

    Example:
        >>> K = torch.tensor([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]])
        >>> p = unproject_depth(torch.ones(4, 4), K, torch.eye(4))
        >>> p[2, 2].tolist()  # pixel centre (2.5, 2.5) at depth 1
        [0.25, 0.25, 1.0]
    """
    H, W = depth.shape[-2:]
    uv = pixel_centers(H, W, dtype=depth.dtype, device=depth.device)  # (H, W, 2)
    pts_cam = pixel_rays(uv, K) * depth[..., None]  # (..., H, W, 3)
    flat = pts_cam.reshape(*pts_cam.shape[:-3], H * W, 3)
    world = transform_points(c2w, flat)
    return world.reshape(pts_cam.shape)


def project_camera_points(cam: Tensor, K: Tensor, min_z: float = 1e-8) -> tuple[Tensor, Tensor]:
    """Project camera-frame points to pixels: ``u = fx * x / z + cx``, ``v = fy * y / z + cy``.

    Args:
        cam: ``(..., N, 3)`` points in camera coordinates (OpenCV axes), metres.
        K: ``(..., 3, 3)`` intrinsics in pixels.
        min_z: ``z`` is clamped to at least this before the division (points behind it get a finite, meaningless
            ``uv``).

    Returns:
        ``uv`` ``(..., N, 2)`` continuous pixel coordinates (pixel centres at +0.5) and ``z`` ``(..., N)`` (not
        clamped).
    """
    z = cam[..., 2]
    zc = z.clamp_min(min_z)
    u = K[..., 0, 0, None] * cam[..., 0] / zc + K[..., 0, 2, None]
    v = K[..., 1, 1, None] * cam[..., 1] / zc + K[..., 1, 2, None]
    return torch.stack([u, v], dim=-1), z


def project_points(points: Tensor, K: Tensor, c2w: Tensor) -> tuple[Tensor, Tensor]:
    """Project world points into cameras (the per-point reference of :func:`project_with_matrices`).

    Args:
        points: ``(..., N, 3)`` world points in metres.
        K: ``(..., 3, 3)`` intrinsics in pixels.
        c2w: ``(..., 4, 4)`` camera-to-world poses.

    Returns:
        ``uv`` ``(..., N, 2)`` continuous pixel coordinates (pixel centres at +0.5) and ``z`` ``(..., N)`` camera
        z-depth in metres. Points with ``z <= 0`` are behind the camera; their ``uv`` is meaningless (computed with
        ``z`` clamped to a tiny positive value so it stays finite).

    Example:
        >>> K = torch.tensor([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]])
        >>> uv, z = project_points(torch.tensor([[0.25, 0.25, 1.0]]), K, torch.eye(4))
        >>> uv.tolist(), z.tolist()
        ([[2.5, 2.5]], [1.0])
    """
    cam = transform_points(invert_pose(c2w), points)  # (..., N, 3)
    return project_camera_points(cam, K)


def projection_matrices(K, c2w, dtype: torch.dtype | None = None):
    """Full 3x4 projection matrices ``P = K [R^T | -R^T t]`` (world -> homogeneous pixels), built in float64 numpy.

    With ``(X, Y, Z) = P [p; 1]`` a world point ``p`` lands at pixel ``(X / Z, Y / Z)`` (pixel centres at +0.5) with
    z-depth ``Z`` in metres (``K``'s last row is ``[0, 0, 1]``). Used by the memory reads, which project many
    points into a few cameras (:func:`project_with_matrices`). The matrices are always computed in float64 on the
    host (a few 3x4 matrices) and then cast, so every caller gets the same bits.

    Args:
        K: ``(..., 3, 3)`` intrinsics in pixels; c2w: ``(..., 4, 4)`` rigid camera-to-world poses (leading dims
            broadcast). Both torch tensors, or both numpy arrays.
        dtype: torch output dtype (default: ``c2w.dtype``); ignored for numpy inputs.

    Returns:
        ``(..., 3, 4)`` projection matrices: a float64 numpy array for numpy inputs, else a tensor in ``dtype`` on
        ``c2w``'s device.
    """
    numpy_in = isinstance(c2w, np.ndarray)
    Kn = np.asarray(K, dtype=np.float64) if numpy_in else K.detach().to("cpu", torch.float64).numpy()
    Cn = np.asarray(c2w, dtype=np.float64) if numpy_in else c2w.detach().to("cpu", torch.float64).numpy()
    R, t = Cn[..., :3, :3], Cn[..., :3, 3:]
    Rt = np.swapaxes(R, -1, -2)
    P = Kn @ np.concatenate([Rt, -Rt @ t], axis=-1)  # K [R^T | -R^T t]
    if numpy_in:
        return P
    return torch.from_numpy(P).to(device=c2w.device, dtype=c2w.dtype if dtype is None else dtype)


def project_with_matrices(xyz: Tensor, P: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Homogeneous pixel coordinates of many points in a few cameras, with elementwise arithmetic only.

    Each output element is ``P[v, r, 0] * x + P[v, r, 1] * y + P[v, r, 2] * z + P[v, r, 3]``, evaluated left to
    right with one rounding per operation (no matrix multiply, whose blocking and fused multiply-adds can change
    the last bit with the batch size). So a point's result does not depend on which other points or cameras are
    in the call -- the property the z-buffer reads rely on to give bit-identical results with or without spatial
    culling, and to match their loop references.

    Args:
        xyz: ``(3, N)`` world points in metres, one row per coordinate (structure of arrays), shared by all cameras;
            or ``(3, V, N)``, a separate set of ``N`` points per camera.
        P: ``(V, 3, 4)`` projection matrices from :func:`projection_matrices`, same dtype as ``xyz``.

    Returns:
        ``X, Y, Z``, each ``(V, N)``; pixel ``u = X / Z``, ``v = Y / Z``; ``Z`` is the z-depth in metres.

    Example:
        >>> K = torch.tensor([[2.0, 0, 2], [0, 2.0, 2], [0, 0, 1]])
        >>> X, Y, Z = project_with_matrices(torch.tensor([[0.0], [0.0], [3.0]]), projection_matrices(K, torch.eye(4))[None])
        >>> (X / Z).item(), (Y / Z).item(), Z.item()
        (2.0, 2.0, 3.0)
    """
    V = P.shape[0]
    if xyz.dim() == 3:  # per-camera points
        m = P.unsqueeze(-1)  # (V, 3, 4, 1)
        x, y, z = xyz[0].unsqueeze(1), xyz[1].unsqueeze(1), xyz[2].unsqueeze(1)  # (V, 1, N)
        out = m[:, :, 0] * x + m[:, :, 1] * y + m[:, :, 2] * z + m[:, :, 3]  # (V, 3, N)
        return out[:, 0], out[:, 1], out[:, 2]
    m = P.transpose(0, 1).reshape(3 * V, 4, 1)  # rows (X of every view, Y of every view, Z of every view)
    out = m[:, 0] * xyz[0] + m[:, 1] * xyz[1] + m[:, 2] * xyz[2] + m[:, 3]  # (3 V, N)
    return out[:V], out[V : 2 * V], out[2 * V :]


def intrinsics_from_fov(fov_deg: float, height: int, width: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Pinhole ``K`` with horizontal field of view ``fov_deg``, square pixels, principal point ``(W/2, H/2)``.

    ``fx = fy = (W / 2) / tan(fov / 2)``; with pixel centres at +0.5 the principal point is the image centre.

    Args:
        fov_deg: horizontal field of view in degrees, ``0 < fov_deg < 180``.
        height, width: image size in pixels (integers >= 1).
        dtype: output dtype.

    Returns:
        ``(3, 3)`` tensor in pixels.

    Raises:
        InputError: bad field of view or size.

    Example:
        >>> intrinsics_from_fov(90.0, 4, 8).tolist()
        [[4.0, 0.0, 4.0], [0.0, 4.0, 2.0], [0.0, 0.0, 1.0]]
    """
    try:
        fov = float(fov_deg)
    except (TypeError, ValueError):
        raise InputError(f"fov_deg must be a number of degrees, got {fov_deg!r}") from None
    if not (0.0 < fov < 180.0):
        raise InputError(f"fov_deg must be in (0, 180) degrees, got {fov_deg!r}")
    height = _check_int(height, "height", 1)
    width = _check_int(width, "width", 1)
    f = 0.5 * width / math.tan(math.radians(fov) / 2)
    return torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=dtype)


def rescale_intrinsics(K: Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> Tensor:
    """Rescale intrinsics from an ``(H, W)`` pixel grid to an ``(h, w)`` grid covering the same field of view.

    With pixel centres at +0.5 the mapping is ``u' = u * w / W`` exactly, so ``fx, cx`` scale by ``w / W`` and
    ``fy, cy`` by ``h / H``. Used to go from image pixels to the VAE latent grid (``h = H / 8`` for the tiny model,
    ``H / 16`` for Wan2.2-TI2V-5B).

    Args:
        K: ``(..., 3, 3)`` intrinsics of the source grid, in pixels.
        src_hw: source ``(H, W)``.
        dst_hw: destination ``(h, w)``.

    Returns:
        ``(..., 3, 3)`` intrinsics of the destination grid.
    """
    sy = dst_hw[0] / src_hw[0]
    sx = dst_hw[1] / src_hw[1]
    S = torch.tensor([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], dtype=K.dtype, device=K.device)
    return S @ K


# ----------------------------------------------------------------------------------------------------------------
# validation


def _as_float_tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor (float32/float64), got {x.dtype}")
    return x


def _host64(x, name: str) -> np.ndarray:
    """A floating tensor or array as float64 numpy on the host (no copy for a float64 array)."""
    if isinstance(x, Tensor):
        _as_float_tensor(x, name)
        return x.detach().to("cpu", torch.float64).numpy()
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise InputError(f"{name} must be a floating-point array, got dtype {x.dtype}")
        return x.astype(np.float64, copy=False)
    raise InputError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _label(bad: np.ndarray, lead: tuple, name: str) -> tuple[str, int]:
    """``(label, flat index)`` of the first flagged matrix of a ``(M,)`` flag vector: ``name`` or ``name[i, j]``."""
    i = int(np.flatnonzero(bad)[0])
    return (f"{name}[{', '.join(str(int(k)) for k in np.unravel_index(i, lead))}]" if lead else name), i


_LAST_ROW_K = np.array([0.0, 0.0, 1.0])
_LAST_ROW_POSE = np.array([0.0, 0.0, 0.0, 1.0])
_EYE3 = np.eye(3)


def check_intrinsics(K, name: str = "K"):
    """Validate pinhole intrinsics ``(..., 3, 3)`` in pixels (torch tensor or numpy array); return them unchanged.

    Raises:
        InputError: not floating point, wrong shape, NaN/inf, ``fx`` or ``fy`` not > 0, last row not ``0 0 1``
            (within :data:`LAST_ROW_TOL`). For a batch the message names the first bad matrix (``K[i]``).
    """
    a = _host64(K, name)
    if a.ndim < 2 or a.shape[-2:] != (3, 3):
        raise InputError(f"{name} must have shape (..., 3, 3), got {tuple(a.shape)}")
    lead = a.shape[:-2]
    m = a.reshape(-1, 3, 3)
    if not m.size:
        return K
    finite = np.isfinite(m)
    if not finite.all():
        label, _ = _label(~finite.reshape(len(m), 9).all(1), lead, name)
        raise InputError(f"{label} contains NaN or infinite values")
    fx, fy = m[:, 0, 0], m[:, 1, 1]
    if not (fx.min() > 0 and fy.min() > 0):
        label, i = _label((fx <= 0) | (fy <= 0), lead, name)
        raise InputError(f"{label} must have focal lengths fx, fy > 0 (pixels), got fx={fx[i]:g}, fy={fy[i]:g}")
    dev = np.abs(m[:, 2] - _LAST_ROW_K).max(1)
    if dev.max() > LAST_ROW_TOL:
        label, i = _label(dev > LAST_ROW_TOL, lead, name)
        raise InputError(f"{label} last row must be [0, 0, 1], got {m[i, 2].tolist()}")
    return K


def check_c2w(c2w, name: str = "c2w", tol: float = ROT_TOL):
    """Validate rigid poses ``(..., 4, 4)`` (torch tensor or numpy array) and return them unchanged.

    The package's one pose check: camera geometry, memory reads and writes, camera files (readers name the file,
    line or pose index in ``name``), trajectories and conversions all call it.

    Args:
        c2w: ``(..., 4, 4)`` camera-to-world (or any rigid) transforms, floating point.
        name: how the message names the input (e.g. ``"c2w"`` or ``"path.json: c2w[3]"``).
        tol: tolerance on ``max |R R^T - I|``.

    Raises:
        InputError: not floating point, wrong shape, NaN/inf, last row not ``0 0 0 1`` (within
            :data:`LAST_ROW_TOL`), rotation part singular / not orthonormal within ``tol`` / a reflection. For a
            batch the message names the first bad pose (``c2w[i]``).

    Example:
        >>> check_c2w(torch.diag(torch.tensor([1.0, 1.0, -1.0, 1.0])))
        Traceback (most recent call last):
        ...
        mirage_world.errors.InputError: c2w rotation part has determinant -1 (a reflection, not a rotation)
    """
    a = _host64(c2w, name)
    if a.ndim < 2 or a.shape[-2:] != (4, 4):
        raise InputError(f"{name} must have shape (..., 4, 4), got {tuple(a.shape)}")
    lead = a.shape[:-2]
    m = a.reshape(-1, 4, 4)
    if not m.size:
        return c2w
    # whole-batch tests first (the common, valid case costs a few numpy calls); per-pose flags only on failure
    finite = np.isfinite(m)
    if not finite.all():
        label, _ = _label(~finite.reshape(len(m), 16).all(1), lead, name)
        raise InputError(f"{label} contains NaN or infinite values")
    dev = np.abs(m[:, 3] - _LAST_ROW_POSE).max(1)
    if dev.max() > LAST_ROW_TOL:
        label, i = _label(dev > LAST_ROW_TOL, lead, name)
        raise InputError(f"{label} last row is {m[i, 3].tolist()}, expected [0, 0, 0, 1]")
    R = m[:, :3, :3]
    err = np.abs(R @ R.transpose(0, 2, 1) - _EYE3).max((1, 2))
    if not err.max() <= tol:
        label, i = _label(~(err <= tol), lead, name)
        raise InputError(
            f"{label} rotation part is not orthonormal (max |R R^T - I| = {err[i]:.3g} > {tol:g}; singular or scaled?)"
        )
    det = np.linalg.det(R)
    if det.min() <= 0:
        label, i = _label(det <= 0, lead, name)
        raise InputError(f"{label} rotation part has determinant {det[i]:.3g} (a reflection, not a rotation)")
    return c2w


def _check_int(v, name: str, minimum: int) -> int:
    if isinstance(v, bool):
        raise InputError(f"{name} must be an integer >= {minimum}, got {v!r}")
    try:
        iv = operator.index(v)  # int and numpy integers
    except TypeError:
        raise InputError(f"{name} must be an integer >= {minimum}, got {v!r}") from None
    if iv < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(iv)


# ----------------------------------------------------------------------------------------------------------------
# crops and latent grids


def crop_intrinsics(K: Tensor, x0: float, y0: float) -> Tensor:
    """Intrinsics of a crop whose top-left corner is at pixel offset ``(x0, y0)`` of the source image.

    The crop's continuous coordinate is ``u' = u - x0`` (pixel centres stay at +0.5 for integer offsets), so only
    the principal point moves: ``cx' = cx - x0``, ``cy' = cy - y0``. The crop size does not enter.

    Args:
        K: ``(..., 3, 3)`` intrinsics in source pixels (any float dtype / device).
        x0, y0: crop offset in pixels (finite; usually integers, may be negative for padding).

    Returns:
        ``(..., 3, 3)`` intrinsics in crop pixels (a new tensor).

    Raises:
        InputError: ``K`` not ``(..., 3, 3)`` float, or offsets not finite numbers.
    """
    _as_float_tensor(K, "K")
    if K.ndim < 2 or tuple(K.shape[-2:]) != (3, 3):
        raise InputError(f"K must have shape (..., 3, 3), got {tuple(K.shape)}")
    try:
        ox, oy = float(x0), float(y0)
    except (TypeError, ValueError):
        raise InputError(f"crop offsets must be numbers, got x0={x0!r}, y0={y0!r}") from None
    if not (ox == ox and oy == oy and abs(ox) != float("inf") and abs(oy) != float("inf")):
        raise InputError(f"crop offsets must be finite, got x0={x0!r}, y0={y0!r}")
    out = K.clone()
    out[..., 0, 2] = K[..., 0, 2] - ox
    out[..., 1, 2] = K[..., 1, 2] - oy
    return out


def latent_grid(height: int, width: int, factor: int, align: str = "topleft") -> tuple[int, int, int, int]:
    """Size and pixel window of the latent grid of an ``(H, W)`` image for spatial factor ``f``.

    ``h = H // f``, ``w = W // f``; the grid covers exactly the ``f*h x f*w`` pixels starting at ``(x0, y0)``:
    ``(0, 0)`` for ``align="topleft"`` (remainder dropped at the bottom/right), ``((W - f*w) // 2, (H - f*h) // 2)``
    for ``align="center"``. See the module doc.

    Returns:
        ``(h, w, y0, x0)``.

    Raises:
        InputError: non-integer or non-positive sizes/factor, an image smaller than one cell, unknown ``align``.
    """
    H = _check_int(height, "height", 1)
    W = _check_int(width, "width", 1)
    f = _check_int(factor, "factor", 1)
    if H < f or W < f:
        raise InputError(f"image {W}x{H} (WxH) is smaller than one latent cell of {f}x{f} pixels")
    if align not in ("topleft", "center"):
        raise InputError(f"align must be 'topleft' or 'center', got {align!r}")
    h, w = H // f, W // f
    if align == "topleft":
        return h, w, 0, 0
    return h, w, (H - f * h) // 2, (W - f * w) // 2


def latent_intrinsics(K: Tensor, image_hw: tuple[int, int], factor: int, align: str = "topleft") -> Tensor:
    """Intrinsics of the latent grid of an ``(H, W)`` image for spatial factor ``f`` (sizes need not divide).

    ``K_latent = rescale_intrinsics(crop_intrinsics(K, x0, y0), (f*h, f*w), (h, w))`` with ``(h, w, y0, x0)`` from
    :func:`latent_grid`: latent cell centre ``i + 0.5`` sits at image pixel coordinate ``x0 + f*(i + 0.5)``. When
    ``f`` divides ``H`` and ``W`` this equals ``rescale_intrinsics(K, (H, W), (H // f, W // f))``.

    Args:
        K: ``(..., 3, 3)`` intrinsics in image pixels.
        image_hw: ``(H, W)`` of the image ``K`` belongs to.
        factor: spatial compression ``f`` of the latent grid (e.g. 8 or 16).
        align: ``"topleft"`` or ``"center"`` (see :func:`latent_grid`).

    Returns:
        ``(..., 3, 3)`` intrinsics in latent-cell units (same dtype/device).

    Raises:
        InputError: bad ``K`` shape/dtype, sizes, factor or ``align``.
    """
    if not (isinstance(image_hw, (tuple, list)) and len(image_hw) == 2):
        raise InputError(f"image_hw must be a pair (H, W), got {image_hw!r}")
    h, w, y0, x0 = latent_grid(image_hw[0], image_hw[1], factor, align)
    f = int(factor)
    return rescale_intrinsics(crop_intrinsics(K, x0, y0), (f * h, f * w), (h, w))


#: Modes of :func:`downsample_depth`.
DEPTH_POOL_MODES = ("median", "min", "nearest")


def downsample_depth(depth: Tensor, factor: int, mode: str = "median", align: str = "topleft") -> Tensor:
    """Downsample a z-depth map to the latent grid without creating depths between foreground and background.

    The image is cropped to the window of :func:`latent_grid` (``f*h x f*w`` pixels, ``h = H // f``, ``w = W // f``,
    same ``align`` as :func:`latent_intrinsics`, so cell ``(i, j)`` is the pixel block the latent token sees) and
    each ``f x f`` block is reduced to one value. Valid samples are finite and ``> 0``; invalid ones (0, negative,
    NaN, inf) are ignored, and a block without any valid sample gives ``0`` (no token).

    Why not average pooling: at a depth edge a block holds foreground (near) and background (far) pixels; their mean
    is a depth where there is no surface, so a token unprojected with it floats in mid-air between the two. Every
    mode here returns a depth that *is* one of the block's samples:

    * ``"median"`` (default): the lower median of the valid samples (the ``(n-1)//2``-th smallest, never an average
      of two). It picks the surface that covers most of the block -- the majority side of an edge.
    * ``"min"``: the nearest valid sample. Conservative for occlusion (foreground always wins, thin foreground
      survives) at the price of dilating foreground by up to one cell.
    * ``"nearest"``: the sample at block offset ``(f // 2, f // 2)`` (the pixel containing the block centre; for
      even ``f`` the lower-right of the four central pixels), ``0`` if that sample is invalid. Matches a nearest
      resize; no robustness to holes.

    Args:
        depth: ``(..., H, W)`` float z-depth in metres, any device.
        factor: block size ``f >= 1`` (the latent spatial compression).
        mode: one of :data:`DEPTH_POOL_MODES`.
        align: ``"topleft"`` or ``"center"``: where the ``f*h x f*w`` window sits when ``f`` does not divide.

    Returns:
        ``(..., h, w)`` depth in metres, same dtype and device.

    Raises:
        InputError: not a float tensor or fewer than 2 dims, bad ``factor``/``mode``/``align``, image smaller than
            one block.

    Example:
        >>> d = torch.tensor([[1.0, 1.0, 1.0, 9.0]]).repeat(2, 1)  # the 2nd 2x2 block straddles a 1 m / 9 m edge
        >>> downsample_depth(d, 2).tolist()  # an average pool would give 5 m, where there is no surface
        [[1.0, 1.0]]
    """
    _as_float_tensor(depth, "depth")
    if depth.ndim < 2:
        raise InputError(f"depth must have shape (..., H, W), got {tuple(depth.shape)}")
    if mode not in DEPTH_POOL_MODES:
        raise InputError(f"mode must be one of {', '.join(DEPTH_POOL_MODES)}, got {mode!r}")
    H, W = int(depth.shape[-2]), int(depth.shape[-1])
    h, w, y0, x0 = latent_grid(H, W, factor, align)
    f = int(factor)
    win = depth[..., y0 : y0 + f * h, x0 : x0 + f * w]
    lead = depth.shape[:-2]
    blocks = win.reshape(*lead, h, f, w, f).movedim(-3, -2).reshape(*lead, h, w, f * f)
    valid = torch.isfinite(blocks) & (blocks > 0)
    zero = torch.zeros((), dtype=depth.dtype, device=depth.device)
    if mode == "nearest":
        c = blocks[..., (f // 2) * f + f // 2]
        return torch.where(valid[..., (f // 2) * f + f // 2], c, zero)
    vals = torch.where(valid, blocks, torch.full_like(blocks, float("inf")))
    n_valid = valid.sum(dim=-1, keepdim=True)
    if mode == "min":
        out = vals.min(dim=-1).values
    else:
        srt = vals.sort(dim=-1).values
        idx = ((n_valid - 1).clamp_min(0)) // 2
        out = srt.gather(-1, idx).squeeze(-1)
    return torch.where(n_valid.squeeze(-1) > 0, out, zero)
