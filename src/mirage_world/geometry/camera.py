"""Pinhole camera geometry in one convention: OpenCV axes, camera-to-world poses, pixel centres at +0.5.

Conventions (used everywhere in the package):

* Camera axes are OpenCV: +x right, +y down, +z forward (the viewing direction).
* A pose ``c2w`` is a 4x4 camera-to-world matrix; ``w2c`` is its inverse.
* ``K`` is the 3x3 intrinsic matrix in pixels. Pixel ``(i, j)`` (column ``i``, row ``j``) covers the square
  ``[i, i+1) x [j, j+1)``; its centre is at ``(i + 0.5, j + 0.5)``. With this convention a resize by a factor
  ``s`` maps a continuous image coordinate ``u`` to ``s * u``, so ``K`` rescales by multiplying its first two rows.
* Depth is z-depth (distance along +z), in metres, strictly positive where valid.

All functions are pure torch, accept any leading batch dimensions ``...`` and keep dtype and device.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "pixel_centers",
    "unproject_depth",
    "project_points",
    "transform_points",
    "invert_pose",
    "rescale_intrinsics",
]


def pixel_centers(height: int, width: int, *, dtype=torch.float32, device=None) -> Tensor:
    """Pixel-centre coordinates of an ``(H, W)`` grid.

    Returns:
        ``(H, W, 2)`` tensor of ``(u, v) = (i + 0.5, j + 0.5)`` in pixels.
    """
    v, u = torch.meshgrid(
        torch.arange(height, dtype=dtype, device=device) + 0.5,
        torch.arange(width, dtype=dtype, device=device) + 0.5,
        indexing="ij",
    )
    return torch.stack([u, v], dim=-1)


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
    fx = K[..., 0, 0, None, None]
    fy = K[..., 1, 1, None, None]
    cx = K[..., 0, 2, None, None]
    cy = K[..., 1, 2, None, None]
    x = (uv[..., 0] - cx) / fx * depth  # (..., H, W)
    y = (uv[..., 1] - cy) / fy * depth
    pts_cam = torch.stack([x, y, depth], dim=-1)  # (..., H, W, 3)
    flat = pts_cam.reshape(*pts_cam.shape[:-3], H * W, 3)
    world = transform_points(c2w, flat)
    return world.reshape(pts_cam.shape)


def project_points(points: Tensor, K: Tensor, c2w: Tensor) -> tuple[Tensor, Tensor]:
    """Project world points into cameras.

    Args:
        points: ``(..., N, 3)`` world points in metres.
        K: ``(..., 3, 3)`` intrinsics in pixels.
        c2w: ``(..., 4, 4)`` camera-to-world poses.

    Returns:
        ``uv`` ``(..., N, 2)`` continuous pixel coordinates (pixel centres at +0.5) and ``z`` ``(..., N)`` camera
        z-depth in metres. Points with ``z <= 0`` are behind the camera; their ``uv`` is meaningless (computed with
        ``z`` clamped to a tiny positive value so it stays finite).
    """
    w2c = invert_pose(c2w)
    cam = transform_points(w2c, points)  # (..., N, 3)
    z = cam[..., 2]
    zc = z.clamp_min(1e-8)
    u = K[..., 0, 0, None] * cam[..., 0] / zc + K[..., 0, 2, None]
    v = K[..., 1, 1, None] * cam[..., 1] / zc + K[..., 1, 2, None]
    return torch.stack([u, v], dim=-1), z


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
