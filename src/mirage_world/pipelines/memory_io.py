"""The pipeline's memory steps: build from the photo, read for the denoiser, write generated latents back.

Shared by :class:`~mirage_world.pipelines.MiragePipeline` (through
:class:`~mirage_world.pipelines.memory_backends.LatentMemoryBackend`) and the trainers, so that training sees memory
reads made exactly as at inference (Mirage, arXiv 2606.09828, Sec. 3.2: write; Sec. 3.3: read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..memory.latent_memory import LatentSpatialMemory, pool_depth_to_grid
from ..memory.splat import MemoryRead
from .conditioning import fill_cracks, nearest_covered

__all__ = ["MemoryConfig", "fill_depth_nearest", "pool_keep_to_grid", "build_photo_memory", "write_generated",
           "read_memory", "empty_read"]


@dataclass
class MemoryConfig:
    """How the pipeline builds and writes its :class:`~mirage_world.memory.LatentSpatialMemory`.

    Attributes:
        dtype: token storage (``"float32"``, ``"float16"``, ``"bfloat16"``, ``"int8"``).
        voxel_size: metres; ``"auto"``: the footprint of one latent pixel at the photo's 5th-percentile valid depth
            (``d5 / fx_latent``); ``None``: append-only (the paper's cache).
        fusion: ``"mean"`` (confidence-weighted) or ``"newest"``, see the memory.
        capacity: maximum tokens (``None``: unbounded); eviction: ``"lru"`` or ``"confidence"``.
        splat: read mode, ``"nearest"`` (the trained tiny model's) or ``"bilinear"``.
        photo_confidence: confidence of the photo's tokens (generated tokens have at most 1).
        fill_falloff: latent pixels; confidence of an extrapolated-depth pixel at distance ``d`` from the covered
            region is ``exp(-d / fill_falloff)``.
        min_confidence: generated latent pixels below this confidence are not written.
        covered_confidence: factor on the confidence of generated latent pixels the read already covered. 0 (the
            default): they are not written back -- under guidance they hold what the memory gave, and re-writing
            them each frame lets magnified, re-sampled copies outweigh the photo's tokens in the voxel fusion (a
            closed loop came back at 20.1 dB instead of 2x dB on TUM). 1: everything is written back (the paper).
    """

    dtype: str = "float16"
    voxel_size: float | str | None = "auto"
    fusion: str = "mean"
    capacity: int | None = None
    eviction: str = "lru"
    splat: str = "nearest"
    photo_confidence: float = 4.0
    fill_falloff: float = 2.0
    min_confidence: float = 0.05
    covered_confidence: float = 0.0

    def resolve_voxel_size(self, depth_lat: torch.Tensor, K_lat: torch.Tensor) -> float | None:
        """Voxel edge in metres for a photo whose latent-grid depth is ``depth_lat (h, w)`` (0 = invalid)."""
        if self.voxel_size is None:
            return None
        if self.voxel_size == "auto":
            d = depth_lat[depth_lat > 0].double()
            return float(torch.quantile(d, 0.05) / K_lat[0, 0].double())
        v = float(self.voxel_size)
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"voxel_size must be > 0 metres, 'auto' or None, got {self.voxel_size!r}")
        return v

    def make_memory(self, channels: int, device, voxel_size: float | None, latent_spec: dict | None = None):
        """A new :class:`~mirage_world.memory.LatentSpatialMemory` with these settings."""
        return LatentSpatialMemory(channels, device=device, dtype=self.dtype, splat=self.splat, voxel_size=voxel_size,
                                   fusion=self.fusion, capacity=self.capacity, eviction=self.eviction,
                                   latent_spec=latent_spec)


def fill_depth_nearest(depth: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Fill uncovered pixels of a depth map with the depth of the nearest covered pixel.

    Args:
        depth: ``(h, w)`` metres; mask: ``(h, w)`` bool, covered pixels.

    Returns:
        ``(h, w)`` filled depth and ``(h, w)`` float32 distance in pixels to the nearest covered pixel (0 where
        covered), or ``None`` if nothing is covered.
    """
    m = mask.cpu().numpy().astype(bool)
    if not m.any():
        return None
    if m.all():
        return depth.clone(), torch.zeros(depth.shape, dtype=torch.float32, device=depth.device)
    dist, iy, ix = nearest_covered(m)
    d = depth.cpu().numpy()[iy, ix]
    return torch.from_numpy(d).to(depth), torch.from_numpy(dist.astype(np.float32)).to(depth.device)


def pool_keep_to_grid(keep: torch.Tensor, factor: int) -> torch.Tensor:
    """A latent pixel is kept when at least half of its ``factor x factor`` pixel block is. ``(..., H, W)`` ->
    ``(..., h, w)`` (any leading dims, e.g. ``T`` frames of a segment)."""
    *lead, H, W = keep.shape
    blocks = keep.float().reshape(*lead, H // factor, factor, W // factor, factor)
    return blocks.mean(dim=(-3, -1)) >= 0.5


def build_photo_memory(
    latent: torch.Tensor,  # (C, h, w) normalised latent of the photo
    depth: torch.Tensor,  # (H, W) metres, 0 = invalid
    K_lat: torch.Tensor,  # (3, 3) latent-grid intrinsics
    c2w: torch.Tensor,  # (4, 4)
    factor: int,
    cfg: MemoryConfig,
    keep: torch.Tensor | None = None,  # (H, W) bool
    latent_spec: dict | None = None,
) -> LatentSpatialMemory:
    """A new memory holding the photo's tokens (pipeline step 1; the trainer builds its memories with this too).

    The depth is pooled to the latent grid (median of valid depths per block). Latent pixels without depth -- RGB-D
    sensors leave holes at edges, glass and far walls -- still get a token where a plausible depth exists: the
    depth of the nearest pixel with depth, at confidence ``photo_confidence * exp(-d / fill_falloff)`` for a pixel
    ``d`` latent pixels away (not stored below ``min_confidence``). ``keep`` False pixels are never stored.
    """
    h, w = latent.shape[-2:]
    d_lat = pool_depth_to_grid(depth.float(), factor)
    memory = cfg.make_memory(latent.shape[0], latent.device, cfg.resolve_voxel_size(d_lat, K_lat), latent_spec)
    keep_lat = None if keep is None else pool_keep_to_grid(keep, factor)
    filled = fill_depth_nearest(d_lat, d_lat > 0)
    if filled is None:
        raise ValueError(f"no latent pixel of the {h}x{w} grid has depth: the depth map is too sparse for this size")
    d_fill, dist = filled
    conf = cfg.photo_confidence * torch.exp(-dist / cfg.fill_falloff)
    memory.write(latent, d_fill, K_lat, c2w, keep_lat, confidence=conf,
                 min_confidence=cfg.min_confidence * cfg.photo_confidence)
    return memory


def write_generated(
    memory: LatentSpatialMemory,
    latents: torch.Tensor,  # (T, C, h, w) generated latent frames
    read: MemoryRead,  # the reads they were generated from, (T, ...)
    K_lat: torch.Tensor,  # (3, 3)
    c2w: torch.Tensor,  # (T, 4, 4)
    cfg: MemoryConfig,
    keep: torch.Tensor | None = None,  # (T, h, w) bool: False = never store (sky, moving objects)
) -> None:
    """Write generated latent frames back (pipeline step 5; the trainer's second-segment memories use it too).

    Depth of a generated latent pixel: the memory's rendered depth where the read covered it, else the depth of the
    nearest covered pixel; confidence: ``covered_confidence`` x the read's coverage where covered (0 by default:
    only new content is written), ``exp(-d / fill_falloff)`` elsewhere, not written below ``min_confidence``. A
    frame with no coverage at all is not written. ``keep`` (latent grid) False pixels are not written.
    """
    for t in range(latents.shape[0]):
        covered = read.mask[t, 0] > 0
        filled = fill_depth_nearest(read.depth[t], covered)
        if filled is None:
            continue
        d, dist = filled
        conf = torch.where(covered, cfg.covered_confidence * read.mask[t, 0], torch.exp(-dist / cfg.fill_falloff))
        memory.write(latents[t], d, K_lat, c2w[t], None if keep is None else keep[t], confidence=conf,
                     min_confidence=cfg.min_confidence)


def read_memory(
    memory: LatentSpatialMemory,
    K_lat: torch.Tensor,  # (3, 3) or (T, 3, 3)
    c2w: torch.Tensor,  # (T, 4, 4)
    hw: tuple[int, int],
    levels: int = 2,
    min_neighbours: int = 4,
) -> MemoryRead:
    """The memory read the denoiser is conditioned on: a z-buffered projection with magnification holes closed.

    A point read leaves holes between tokens wherever the view magnifies what was stored (the camera moved closer
    or turned): surfaces the memory holds, just too sparsely for this grid. They are closed in two ways, a
    push-pull in the spirit of point-based rendering:

    1. cracks: :func:`~.conditioning.fill_cracks` (an uncovered latent pixel with at least ``min_neighbours`` of 8
       covered neighbours takes their mean);
    2. coarser reads: the memory is read again at ``1/2, 1/4 ...`` of the grid (``levels`` of them; ``K`` scaled
       by the same factor), where the same tokens are dense enough, and a pixel still uncovered takes the coarse
       read's latent, depth and coverage halved per level. A coarse pixel that holds a token
       covers its whole ``s x s`` block, so at the frame border and at disocclusion edges the read reaches up to
       ``s - 1`` latent pixels past the last token (a stretch of the known surface). Restricting the fill to holes
       enclosed by coverage was tried and measured worse: on TUM + ``out_and_back`` the last frame came back at
       20.4 dB instead of 28.2 dB (border gaps went to the denoiser and were written back).

    Disocclusions wider than the coarsest level's pixel and the frame border stay uncovered for the denoiser. The
    trainer stores raw reads and applies step 1 (:func:`~.conditioning.fill_cracks`) when it loads them; step 2
    needs the memory itself and is not in the training data.

    Returns:
        :class:`~mirage_world.memory.splat.MemoryRead` with ``latent (T, C, h, w)``, ``mask (T, 1, h, w)``,
        ``depth (T, h, w)``.
    """
    T = c2w.shape[0]
    K_lat = K_lat.expand(T, 3, 3) if K_lat.dim() == 2 else K_lat
    h, w = hw
    read = memory.read(K_lat, c2w, hw)
    lat, mask, depth = fill_cracks(read.latent.contiguous(), read.mask, min_neighbours, read_depth=read.depth)
    for level in range(1, levels + 1):
        if bool((mask > 0).all()):
            break
        s = 2**level
        K_s = K_lat.clone()
        K_s[:, :2] = K_s[:, :2] / s  # u' = u / s with pixel centres at +0.5: fx, fy, cx, cy all scale by 1 / s
        coarse = memory.read(K_s, c2w, (-(-h // s), -(-w // s)))

        def up(x):
            return x.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)[..., :h, :w]

        hole = (mask <= 0) & (up(coarse.mask) > 0)  # (T, 1, h, w)
        lat = torch.where(hole, up(coarse.latent.contiguous()).to(lat.dtype), lat)
        depth = torch.where(hole[:, 0], up(coarse.depth).to(depth.dtype), depth)
        mask = torch.where(hole, up(coarse.mask).to(mask.dtype) / s, mask)
    return MemoryRead(lat, mask, depth)


def empty_read(T: int, C: int, h: int, w: int, device=None) -> MemoryRead:
    """A read that covers nothing (``--memory off``): zero latents, zero coverage, zero depth."""
    z = torch.zeros(T, C, h, w, device=device)
    return MemoryRead(latent=z, mask=torch.zeros(T, 1, h, w, device=device), depth=torch.zeros(T, h, w, device=device))
