"""Queries on a latent memory that need no generation: occupancy, PCA colours and a PLY export.

Pure torch (numpy for the PLY records); :class:`~mirage_world.memory.LatentSpatialMemory`'s methods of the same
names call these with the memory as ``memory``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .index import voxel_keys

__all__ = ["occupancy", "pca_colors", "export_ply"]


def occupancy(memory, points: Tensor, voxel_size: float | None = None) -> Tensor:
    """Whether each query point's voxel holds at least one token.

    Args:
        points: ``(M, 3)`` or ``(3,)`` world points in metres, finite.
        voxel_size: voxel edge in metres (default: the memory's ``voxel_size``).

    Returns:
        ``(M,)`` bool (``()`` for a single point).

    Raises:
        ValueError: on a bad shape / non-finite points, or when no voxel size is known.
    """
    vs = memory.voxel_size if voxel_size is None else voxel_size
    if vs is None or not (vs > 0 and math.isfinite(vs)):
        raise ValueError("occupancy needs a voxel size > 0 (pass voxel_size=... or build the memory with one)")
    if not isinstance(points, Tensor) or not points.is_floating_point():
        raise ValueError("points must be a floating tensor of shape (M, 3)")
    single = points.dim() == 1
    p = points[None] if single else points
    if p.dim() != 2 or p.shape[1] != 3:
        raise ValueError(f"points must be (M, 3) or (3,), got {tuple(points.shape)}")
    if not torch.isfinite(p).all():
        raise ValueError("points must be finite")
    p = p.to(memory.device)
    if memory.num_tokens == 0:
        out = torch.zeros(p.shape[0], dtype=torch.bool, device=memory.device)
    else:
        keys = torch.unique(voxel_keys(memory.positions, vs))
        q = voxel_keys(p, vs)
        j = torch.searchsorted(keys, q).clamp(max=keys.shape[0] - 1)
        out = keys[j] == q
    return out[0] if single else out


def pca_colors(memory, max_fit: int = 100_000) -> Tensor:
    """``(N, 3)`` uint8 colours: the latents' top-3 principal components, each stretched from its 1st to 99th
    percentile to 0..255 (signs fixed so each component's largest loading is positive; fit on at most
    ``max_fit`` evenly spaced tokens). Deterministic."""
    N = memory.num_tokens
    if N == 0:
        return torch.zeros(0, 3, dtype=torch.uint8, device=memory.device)
    x = memory.dequantized().double()
    fit = x[torch.linspace(0, N - 1, min(N, max_fit), device=memory.device).long()]
    mean = fit.mean(0)
    _, _, Vh = torch.linalg.svd(fit - mean, full_matrices=False)
    comps = Vh[:3]
    if comps.shape[0] < 3:
        comps = torch.cat([comps, torch.zeros(3 - comps.shape[0], x.shape[1], dtype=comps.dtype, device=comps.device)])
    sign = torch.sign(comps.gather(1, comps.abs().argmax(1, keepdim=True))).clamp_min(0) * 2 - 1
    y = (x - mean) @ (comps * sign).T  # (N, 3)
    lo = torch.quantile(y[:: max(1, N // max_fit)], 0.01, dim=0)
    hi = torch.quantile(y[:: max(1, N // max_fit)], 0.99, dim=0)
    y = (y - lo) / (hi - lo).clamp_min(1e-12)
    return torch.round(y.clamp(0, 1) * 255).to(torch.uint8)


def export_ply(memory, path) -> None:
    """Write the tokens as a binary little-endian PLY point cloud (``x y z`` float32, ``red green blue`` uchar
    from :func:`pca_colors`) for MeshLab / viser / Open3D."""
    pos = memory.positions.detach().cpu().numpy().astype("<f4")
    col = memory.pca_colors().cpu().numpy()
    rec = np.zeros(pos.shape[0], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    rec["x"], rec["y"], rec["z"] = pos[:, 0], pos[:, 1], pos[:, 2]
    rec["r"], rec["g"], rec["b"] = col[:, 0], col[:, 1], col[:, 2]
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment mirage-world latent memory, colours = PCA of latents\n"
        f"element vertex {pos.shape[0]}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(rec.tobytes())
