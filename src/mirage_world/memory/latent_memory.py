"""Latent spatial memory v0: VAE latent tokens placed in 3D, read by one z-buffered projection.

Mirage (arXiv 2606.09828, Sec. 3.2) stores the video VAE's latent tokens -- one token per latent pixel, a
``C``-vector -- at the 3D point seen through that latent pixel's centre, and reads the cache at a new camera by
projecting every token onto the camera's *latent* grid, keeping the nearest token per latent pixel. The read gives
a warped latent map that conditions the denoiser, plus a coverage mask and the rendered depth.

Determinism: the nearest token per pixel is found with ``scatter_reduce(amin)`` on depth, and ties (equal depth)
are broken by the largest token index (the newest write) with ``scatter_reduce(amax)``. No step depends on the
order in which a scatter executes, so a read is bit-identical across runs and devices.

This module is pure torch (no diffusers import).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..geometry.camera import project_points, unproject_depth

__all__ = ["LatentSpatialMemory", "MemoryRead", "pool_depth_to_grid", "zbuffer_read", "zbuffer_read_reference"]


@dataclass
class MemoryRead:
    """Result of reading the memory at ``V`` cameras on an ``(h, w)`` latent grid.

    Attributes:
        latent: ``(V, C, h, w)`` warped latent map; zero where not covered.
        mask: ``(V, 1, h, w)`` coverage, 1.0 where a token landed, else 0.0.
        depth: ``(V, h, w)`` z-depth of the winning token in metres; 0 where not covered.
    """

    latent: Tensor
    mask: Tensor
    depth: Tensor


def pool_depth_to_grid(depth: Tensor, factor: int) -> Tensor:
    """Downsample a z-depth map to a latent grid by the median of the valid depths in each block.

    The median of valid (``> 0``) samples picks a depth that exists in the block: at a depth edge it returns the
    majority surface instead of an average that would put the token in mid-air between foreground and background.
    Blocks without any valid sample get 0 (no token).

    Args:
        depth: ``(..., H, W)`` z-depth in metres, 0 = invalid. ``H`` and ``W`` divisible by ``factor``.
        factor: block size in pixels (the VAE's spatial compression, e.g. 8).

    Returns:
        ``(..., H // factor, W // factor)`` depth in metres.

    Raises:
        ValueError: if ``H`` or ``W`` is not divisible by ``factor``.
    """
    H, W = depth.shape[-2:]
    if H % factor or W % factor:
        raise ValueError(f"depth size {(H, W)} is not divisible by the latent factor {factor}")
    h, w = H // factor, W // factor
    blocks = depth.reshape(*depth.shape[:-2], h, factor, w, factor).movedim(-3, -2)
    blocks = blocks.reshape(*depth.shape[:-2], h, w, factor * factor)
    valid = blocks > 0
    # NaN-out the invalid samples and take the lower median of the rest.
    vals = torch.where(valid, blocks, torch.full_like(blocks, float("nan")))
    med = torch.nanmedian(vals, dim=-1).values
    return torch.nan_to_num(med, nan=0.0)


def _pixel_index(uv: Tensor, z: Tensor, h: int, w: int, near: float) -> tuple[Tensor, Tensor]:
    """Latent pixel containing each projection (pixel centres at +0.5, so the index is ``floor``) and validity."""
    ij = torch.floor(uv).to(torch.int64)  # (V, N, 2)
    x, y = ij[..., 0], ij[..., 1]
    valid = (z > near) & (x >= 0) & (x < w) & (y >= 0) & (y < h) & torch.isfinite(uv).all(-1)
    return y * w + x, valid


def zbuffer_read(
    points: Tensor,  # (N, 3)
    values: Tensor,  # (N, C)
    K: Tensor,  # (V, 3, 3)
    c2w: Tensor,  # (V, 4, 4)
    hw: tuple[int, int],
    near: float = 1e-3,
) -> MemoryRead:
    """Z-buffered nearest-token splat of ``N`` valued points into ``V`` cameras (fast, vectorised path).

    Each point goes to the pixel that contains its projection; per pixel the smallest z wins; equal z is broken
    by the larger point index. See :func:`zbuffer_read_reference` for the slow loop it must match.

    Args:
        points: ``(N, 3)`` world positions in metres.
        values: ``(N, C)`` token values.
        K: ``(V, 3, 3)`` intrinsics of the ``(h, w)`` grid, in pixels.
        c2w: ``(V, 4, 4)`` camera-to-world poses.
        hw: ``(h, w)`` output grid.
        near: minimum z-depth in metres for a point to count as in front of the camera.

    Returns:
        :class:`MemoryRead` with ``latent (V, C, h, w)``, ``mask (V, 1, h, w)``, ``depth (V, h, w)``.
    """
    h, w = hw
    V = K.shape[0]
    N, C = values.shape
    dev = values.device
    out_lat = torch.zeros(V, h * w, C, dtype=values.dtype, device=dev)
    out_depth = torch.zeros(V * h * w, dtype=points.dtype, device=dev)
    if N == 0:
        return MemoryRead(
            out_lat.permute(0, 2, 1).reshape(V, C, h, w),
            torch.zeros(V, 1, h, w, dtype=values.dtype, device=dev),
            out_depth.reshape(V, h, w),
        )
    uv, z = project_points(points.unsqueeze(0).expand(V, N, 3), K, c2w)  # (V, N, 2), (V, N)
    pix, valid = _pixel_index(uv, z, h, w, near)
    flat = (pix + torch.arange(V, device=dev).unsqueeze(1) * (h * w))[valid]  # (M,)
    zv = z[valid]  # (M,)
    tok = torch.arange(N, device=dev).unsqueeze(0).expand(V, N)[valid]  # (M,)
    zbuf = torch.full((V * h * w,), float("inf"), dtype=z.dtype, device=dev)
    zbuf.scatter_reduce_(0, flat, zv, reduce="amin")
    is_min = zv == zbuf[flat]
    winner = torch.full((V * h * w,), -1, dtype=torch.int64, device=dev)
    winner.scatter_reduce_(0, flat[is_min], tok[is_min], reduce="amax")
    covered = winner >= 0
    lat = out_lat.reshape(V * h * w, C)
    lat[covered] = values[winner[covered]]
    out_depth[covered] = zbuf[covered]
    mask = covered.to(values.dtype).reshape(V, 1, h, w)
    return MemoryRead(lat.reshape(V, h, w, C).permute(0, 3, 1, 2).contiguous(), mask, out_depth.reshape(V, h, w))


def zbuffer_read_reference(
    points: Tensor, values: Tensor, K: Tensor, c2w: Tensor, hw: tuple[int, int], near: float = 1e-3
) -> MemoryRead:
    """Slow, obviously correct reference of :func:`zbuffer_read`: a Python loop over views and points."""
    h, w = hw
    V = K.shape[0]
    N, C = values.shape
    lat = torch.zeros(V, C, h, w, dtype=values.dtype)
    mask = torch.zeros(V, 1, h, w, dtype=values.dtype)
    depth = torch.zeros(V, h, w, dtype=points.dtype)
    for v in range(V):
        uv, z = project_points(points, K[v], c2w[v])
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for n in range(N):
            zn = float(z[n])
            u, vv = float(uv[n, 0]), float(uv[n, 1])
            if not (zn > near) or not (u == u and vv == vv):
                continue
            x, y = int(torch.floor(uv[n, 0])), int(torch.floor(uv[n, 1]))
            if not (0 <= x < w and 0 <= y < h):
                continue
            cur = best.get((y, x))
            if cur is None or zn < cur[0] or (zn == cur[0] and n > cur[1]):
                best[(y, x)] = (zn, n)
        for (y, x), (zn, n) in best.items():
            lat[v, :, y, x] = values[n]
            mask[v, 0, y, x] = 1
            depth[v, y, x] = z[n]
    return MemoryRead(lat, mask, depth)


class LatentSpatialMemory:
    """A growing cache of latent tokens in 3D (v0: append-only, float32 storage).

    Tokens are written from latent frames ``(C, h, w)`` with a z-depth map on the same latent grid, the latent
    grid's intrinsics and the frame's camera; each kept latent pixel becomes one token at the world point seen
    through its centre. Reads project all tokens at once (:func:`zbuffer_read`).

    Args:
        channels: latent channels ``C`` (16 for the tiny model and Wan2.1, 48 for Wan2.2-TI2V-5B).
        device: where tokens are stored.

    Example:
        >>> mem = LatentSpatialMemory(channels=4)
        >>> K = torch.tensor([[4.0, 0, 4], [0, 4.0, 4], [0, 0, 1]])
        >>> lat = torch.randn(4, 8, 8)
        >>> mem.write(lat, torch.full((8, 8), 2.0), K, torch.eye(4))
        >>> r = mem.read(K[None], torch.eye(4)[None], (8, 8))
        >>> bool(torch.equal(r.latent[0], lat)), int(r.mask.sum())
        (True, 64)
    """

    def __init__(self, channels: int, device: torch.device | str = "cpu"):
        if channels <= 0:
            raise ValueError(f"channels must be positive, got {channels}")
        self.channels = int(channels)
        self.device = torch.device(device)
        self.positions = torch.zeros(0, 3, dtype=torch.float32, device=self.device)  # (N, 3) metres
        self.latents = torch.zeros(0, self.channels, dtype=torch.float32, device=self.device)  # (N, C)
        self.write_ids = torch.zeros(0, dtype=torch.int64, device=self.device)  # (N,) which write made it
        self._writes = 0

    # ------------------------------------------------------------------ stats
    @property
    def num_tokens(self) -> int:
        """Number of stored tokens ``N``."""
        return int(self.positions.shape[0])

    @property
    def nbytes(self) -> int:
        """Exact bytes held by the token tensors (positions, latents, write ids)."""
        return sum(t.numel() * t.element_size() for t in (self.positions, self.latents, self.write_ids))

    # ------------------------------------------------------------------ write
    def write(
        self,
        latent: Tensor,  # (C, h, w) or (T, C, h, w)
        depth: Tensor,  # (h, w) or (T, h, w), metres, 0 = no token
        K: Tensor,  # (3, 3) or (T, 3, 3), latent-grid pixels
        c2w: Tensor,  # (4, 4) or (T, 4, 4)
        keep: Tensor | None = None,  # (h, w) or (T, h, w) bool
    ) -> int:
        """Store latent frames as tokens. Returns the number of tokens added.

        A latent pixel becomes a token when its depth is finite and ``> 0`` and ``keep`` (if given) is true.

        Raises:
            ValueError: on mismatched shapes, wrong channel count, non-finite latents or poses.
        """
        if latent.dim() == 3:
            latent, depth, K, c2w = latent[None], depth[None], K[None], c2w[None]
            keep = None if keep is None else keep[None]
        if latent.dim() != 4 or latent.shape[1] != self.channels:
            raise ValueError(f"latent must be (T, {self.channels}, h, w) or ({self.channels}, h, w), got {tuple(latent.shape)}")
        T, C, h, w = latent.shape
        if depth.shape != (T, h, w):
            raise ValueError(f"depth must be {(T, h, w)} to match the latent, got {tuple(depth.shape)}")
        if K.shape != (T, 3, 3) or c2w.shape != (T, 4, 4):
            raise ValueError(f"K must be (T, 3, 3) and c2w (T, 4, 4) with T={T}, got {tuple(K.shape)}, {tuple(c2w.shape)}")
        if keep is not None and keep.shape != (T, h, w):
            raise ValueError(f"keep must be {(T, h, w)}, got {tuple(keep.shape)}")
        if not torch.isfinite(latent).all() or not torch.isfinite(c2w).all() or not torch.isfinite(K).all():
            raise ValueError("latent, K and c2w must be finite")
        dev = self.device
        depth = depth.to(dev, torch.float32)
        pts = unproject_depth(depth, K.to(dev, torch.float32), c2w.to(dev, torch.float32))  # (T, h, w, 3)
        ok = torch.isfinite(depth) & (depth > 0)
        if keep is not None:
            ok &= keep.to(dev, torch.bool)
        new_pos = pts[ok]  # (M, 3)
        new_lat = latent.to(dev, torch.float32).permute(0, 2, 3, 1)[ok]  # (M, C)
        self.positions = torch.cat([self.positions, new_pos])
        self.latents = torch.cat([self.latents, new_lat])
        self.write_ids = torch.cat([self.write_ids, torch.full((new_pos.shape[0],), self._writes, dtype=torch.int64, device=dev)])
        self._writes += 1
        return int(new_pos.shape[0])

    # ------------------------------------------------------------------ read
    def read(self, K: Tensor, c2w: Tensor, hw: tuple[int, int]) -> MemoryRead:
        """Read the memory at ``V`` cameras on an ``(h, w)`` latent grid (z-buffered, nearest token wins).

        Args:
            K: ``(V, 3, 3)`` or ``(3, 3)`` latent-grid intrinsics in pixels.
            c2w: ``(V, 4, 4)`` or ``(4, 4)`` camera-to-world poses.
            hw: latent grid ``(h, w)``.

        Returns:
            :class:`MemoryRead` (``latent (V, C, h, w)``, ``mask (V, 1, h, w)``, ``depth (V, h, w)``).

        Raises:
            ValueError: on bad shapes or non-finite cameras.
        """
        if K.dim() == 2:
            K = K[None]
        if c2w.dim() == 2:
            c2w = c2w[None]
        if K.shape[1:] != (3, 3) or c2w.shape[1:] != (4, 4) or K.shape[0] != c2w.shape[0]:
            raise ValueError(f"K must be (V, 3, 3) and c2w (V, 4, 4), got {tuple(K.shape)} and {tuple(c2w.shape)}")
        if not torch.isfinite(K).all() or not torch.isfinite(c2w).all():
            raise ValueError("K and c2w must be finite")
        dev = self.device
        return zbuffer_read(self.positions, self.latents, K.to(dev, torch.float32), c2w.to(dev, torch.float32), hw)
