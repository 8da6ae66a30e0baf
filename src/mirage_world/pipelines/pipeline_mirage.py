"""``MiragePipeline``: segment-by-segment camera-controlled video generation through latent spatial memory.

One photo + its depth + a camera path in, a video out (Mirage, arXiv 2606.09828, Sec. 3). The loop:

1. **Build** the memory: VAE-encode the photo (one latent frame), place one token per latent pixel in 3D with the
   photo's depth pooled to the latent grid (:func:`~mirage_world.memory.pool_depth_to_grid`) and ``K`` rescaled
   to the latent grid.
2. For each **segment** (``segment_frames`` new frames, 4 per latent frame), **read** the memory at the segment's
   latent-frame cameras -- one z-buffered projection at latent resolution -> warped latents + coverage mask.
3. **Denoise** conditioned on ``[warped latent, coverage]`` (extra input channels of the Wan DiT), with the segment's
   first latent frame held clean (the last frame so far, re-encoded alone; Wan2.2-TI2V style per-token timesteps).
4. **Decode** the segment; 5. **write** the new latent frames back to the memory and go on.

Camera of a latent frame: latent frame ``t >= 1`` of a segment starting at frame ``a`` summarises frames
``a + 4t - 3 .. a + 4t`` (Wan's causal VAE); it is read and written at the camera of frame ``a + 4t``.

Depth of generated frames (v0, before depth backends exist): where the read covered a latent pixel, the memory's
rendered depth there; elsewhere the depth of the nearest covered latent pixel (a fronto-parallel extension of the
known surface, documented as approximate). A latent frame with no coverage at all is not written.

The memory (:class:`MemoryConfig`): float16 tokens, voxel fusion (``voxel_size="auto"``: one latent pixel's
footprint at the photo's 5th-percentile depth) so that revisited places do not add tokens, an optional capacity cap.
Write filtering (the official code filters nothing at inference): the photo's tokens skip pixels without depth and
pixels of an optional ``keep`` mask set to False (sky, people, moving objects); a generated latent pixel is written
with confidence ``read coverage`` where the read covered it and ``exp(-d / fill_falloff)`` at distance ``d`` (latent
pixels) from the covered region elsewhere (its depth is extrapolated), and not at all below ``min_confidence``. The
photo's tokens have confidence ``photo_confidence``, so in the confidence-weighted fusion a generated
re-observation moves a photo token by ``1 / (1 + photo_confidence)`` of the difference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import cv2
import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
from diffusers.utils import BaseOutput

from ..geometry.camera import rescale_intrinsics
from ..memory.latent_memory import LatentSpatialMemory, pool_depth_to_grid
from ..memory.splat import MemoryRead
from ..models.taef2 import AutoencoderTAEF2
from .conditioning import (
    GUIDANCE_MODES,
    denoiser_input,
    fill_cracks,
    guide,
    nearest_covered,
    neighbour_fill,
    per_token_timesteps,
)

__all__ = ["MiragePipeline", "MiragePipelineOutput", "MemoryConfig", "SegmentInfo", "fill_depth_nearest",
           "pool_keep_to_grid", "vae_scale_factors", "build_photo_memory", "write_generated", "empty_read",
           "default_size", "read_memory"]


@dataclass
class SegmentInfo:
    """What one segment did: its frame range, wall time and the memory size after its write."""

    index: int
    frames: tuple[int, int]  # [first new frame, last new frame] (inclusive)
    seconds: float
    memory_tokens: int
    memory_bytes: int
    coverage: float  # mean coverage of the segment's memory reads (new latent frames)


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


@dataclass
class MiragePipelineOutput(BaseOutput):
    """Output of :class:`MiragePipeline`.

    Attributes:
        frames: ``(N, H, W, 3)`` float32 in ``[0, 1]``, the generated video (frame 0 is the photo's VAE round trip).
        memory_frames: ``(N, H, W, 3)`` float32, the decoded memory reads (only with ``return_memory_frames``).
        segments: per-segment :class:`SegmentInfo`.
        memory: the :class:`LatentSpatialMemory` after the last write.
    """

    frames: np.ndarray
    memory_frames: np.ndarray | None
    segments: list = field(default_factory=list)
    memory: Any = None


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
    """A latent pixel is kept when at least half of its ``factor x factor`` pixel block is. ``(H, W)`` -> ``(h, w)``."""
    H, W = keep.shape
    blocks = keep.float().reshape(H // factor, factor, W // factor, factor)
    return blocks.mean(dim=(1, 3)) >= 0.5


def vae_scale_factors(vae) -> tuple[int, int]:
    """``(spatial, temporal)`` compression of a VAE, from its config.

    VAEs that state them (``scale_factor_spatial`` / ``scale_factor_temporal`` in the config, e.g.
    :class:`~mirage_world.models.AutoencoderTAEF2`: 8 and 1) are read directly; diffusers' ``AutoencoderKLWan`` is
    derived from its layout (Wan2.1: 8 and 4; Wan2.2-TI2V-5B with ``patch_size=2``: 16 and 4).

    Raises:
        ValueError: a VAE whose factors cannot be found.
    """
    cfg = vae.config
    if "scale_factor_spatial" in cfg and "scale_factor_temporal" in cfg:
        return int(cfg.scale_factor_spatial), int(cfg.scale_factor_temporal)
    if "dim_mult" in cfg and "temperal_downsample" in cfg:
        spatial = 2 ** (len(cfg.dim_mult) - 1) * (cfg.get("patch_size") or 1)
        return spatial, 2 ** sum(bool(v) for v in cfg.temperal_downsample)
    raise ValueError(f"cannot tell the spatial / temporal factors of {type(vae).__name__}")


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
) -> None:
    """Write generated latent frames back (pipeline step 5; the trainer's second-segment memories use it too).

    Depth of a generated latent pixel: the memory's rendered depth where the read covered it, else the depth of the
    nearest covered pixel; confidence: ``covered_confidence`` x the read's coverage where covered (0 by default:
    only new content is written), ``exp(-d / fill_falloff)`` elsewhere, not written below ``min_confidence``. A
    frame with no coverage at all is not written.
    """
    for t in range(latents.shape[0]):
        covered = read.mask[t, 0] > 0
        filled = fill_depth_nearest(read.depth[t], covered)
        if filled is None:
            continue
        d, dist = filled
        conf = torch.where(covered, cfg.covered_confidence * read.mask[t, 0], torch.exp(-dist / cfg.fill_falloff))
        memory.write(latents[t], d, K_lat, c2w[t], confidence=conf, min_confidence=cfg.min_confidence)


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


def default_size(width: int, height: int, multiple: int, long_side: int = 256) -> tuple[int, int]:
    """Output ``(W, H)`` keeping a ``width x height`` photo's aspect, long side ``long_side``, multiples of ``multiple``."""
    s = long_side / max(width, height)
    return (max(multiple, int(round(width * s / multiple)) * multiple),
            max(multiple, int(round(height * s / multiple)) * multiple))


class MiragePipeline(DiffusionPipeline):
    r"""Camera-controlled video generation with a latent spatial memory (Mirage).

    Components:
        vae: any diffusers VAE whose spatial / temporal factors :func:`vae_scale_factors` can tell -- the embedded
            model's :class:`~mirage_world.models.AutoencoderTAEF2` (8x, per frame, 32 channels) or
            ``AutoencoderKLWan`` (Wan2.1: 8x / 4x; Wan2.2-TI2V-5B: 16x / 4x). The memory's latent grid, the read
            camera of each latent frame and the write-back follow from those two numbers.
        transformer (`WanTransformer3DModel`): denoiser whose input has ``2C + 1`` channels
            ``[noisy latent, warped memory latent, coverage]`` (:func:`~.conditioning.denoiser_input`), or ``C``
            channels (a base model without the memory add-on: it then sees the memory only through guidance).
        scheduler (`FlowMatchEulerDiscreteScheduler`): flow-matching sampler (Wan's training objective).

    The tiny model has no text encoder; its cross-attention sees a single zero context token.
    """

    model_cpu_offload_seq = "transformer->vae"

    def __init__(self, vae: Union[AutoencoderTAEF2, AutoencoderKLWan], transformer: WanTransformer3DModel,
                 scheduler: FlowMatchEulerDiscreteScheduler):
        super().__init__()
        self.register_modules(vae=vae, transformer=transformer, scheduler=scheduler)
        self.vae_scale_factor_spatial, self.vae_scale_factor_temporal = (
            vae_scale_factors(vae) if vae is not None else (8, 1))

    @staticmethod
    def num_segments(num_frames: int, segment_frames: int = 16) -> int:
        """Segments needed for ``num_frames`` frames: frame 0 is the photo, each segment adds ``segment_frames``."""
        return (num_frames - 1 + segment_frames - 1) // segment_frames

    @property
    def latent_channels(self) -> int:
        cfg = self.vae.config
        return int(cfg.get("z_dim") or cfg.get("latent_channels"))

    @property
    def size_multiple(self) -> int:
        """Output sizes must be multiples of this: VAE factor x patch size."""
        return self.vae_scale_factor_spatial * self.transformer.config.patch_size[1]

    @property
    def memory_conditioned(self) -> bool:
        """Whether the denoiser takes the memory as input channels (``2C + 1``) or is a base model (``C``)."""
        return self.transformer.config.in_channels == 2 * self.latent_channels + 1

    # ------------------------------------------------------------------ latents
    def _latent_stats(self, device, dtype):
        C = self.latent_channels
        cfg = self.vae.config
        mean = cfg.get("latents_mean") or [0.0] * C
        std = cfg.get("latents_std") or [1.0] * C
        shape = (1, C, 1, 1, 1)
        return (torch.tensor(mean, device=device, dtype=dtype).view(shape),
                torch.tensor(std, device=device, dtype=dtype).view(shape))

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE-encode frames ``(B, 3, F, H, W)`` in ``[0, 1]`` to normalised latents ``(B, C, 1 + (F-1)//ft, h, w)``."""
        out = self.vae.encode((frames * 2 - 1).to(self.vae.dtype))
        z = (out.latent_dist.mode() if hasattr(out, "latent_dist") else out.latents).float()
        mean, std = self._latent_stats(z.device, z.dtype)
        return (z - mean) / std

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Decode normalised latents ``(B, C, T, h, w)`` to frames ``(B, 3, 1 + ft(T-1), H, W)`` in ``[0, 1]``."""
        mean, std = self._latent_stats(latents.device, latents.dtype)
        x = self.vae.decode((latents * std + mean).to(self.vae.dtype)).sample.float()
        return ((x + 1) / 2).clamp(0, 1)

    # ------------------------------------------------------------------ inputs
    def check_inputs(self, image, depth, K, c2w, segment_frames, keep=None, guidance="replace", guidance_end=0.0,
                     start_sigma=1.0, height=None, width=None):
        """Validate shapes, dtypes and finiteness at the public boundary (photo pixels).

        Raises:
            ValueError: with a message naming the offending input.
        """
        if image is None or image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 8:
            raise ValueError(f"image must be an (H, W, 3) array, H, W >= 8, got {tuple(getattr(image, 'shape', ()))}")
        H, W = image.shape[:2]
        if depth is None or tuple(depth.shape) != (H, W):
            raise ValueError(f"depth must be ({H}, {W}) like the image, got {tuple(getattr(depth, 'shape', ()))}")
        d = torch.as_tensor(depth)
        if not torch.isfinite(d).all() or (d < 0).any():
            raise ValueError("depth must be finite and non-negative (0 = invalid)")
        if not (d > 0).any():
            raise ValueError("depth has no valid (> 0) pixel")
        K = torch.as_tensor(K)
        if K.shape != (3, 3) or not torch.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError(f"K must be a finite (3, 3) matrix with positive focal lengths, got {K.tolist()}")
        c2w = torch.as_tensor(c2w)
        if c2w.dim() != 3 or c2w.shape[1:] != (4, 4) or c2w.shape[0] < 1 or not torch.isfinite(c2w).all():
            raise ValueError(f"c2w must be a finite (N, 4, 4) path, got {tuple(c2w.shape)}")
        if keep is not None and (tuple(keep.shape) != (H, W) or torch.as_tensor(keep).dtype != torch.bool):
            raise ValueError(f"keep must be a ({H}, {W}) bool mask, got {tuple(getattr(keep, 'shape', ()))}")
        if keep is not None and not (torch.as_tensor(keep) & (d > 0)).any():
            raise ValueError("keep masks out every pixel that has depth: nothing would be stored")
        if segment_frames % self.vae_scale_factor_temporal or segment_frames <= 0:
            raise ValueError(f"segment_frames must be a positive multiple of {self.vae_scale_factor_temporal}")
        if guidance not in GUIDANCE_MODES:
            raise ValueError(f"guidance must be one of {GUIDANCE_MODES}, got {guidance!r}")
        if not (0.0 <= guidance_end <= 1.0) or not (0.0 < start_sigma <= 1.0):
            raise ValueError(f"need 0 <= guidance_end <= 1 and 0 < start_sigma <= 1, got {guidance_end}, {start_sigma}")
        m = self.size_multiple
        for name, v in (("height", height), ("width", width)):
            if v is not None and (v <= 0 or v % m or v > 4096):
                raise ValueError(f"{name} must be a positive multiple of {m} up to 4096, got {v}")

    def prepare_inputs(self, image, depth, K, keep=None, height=None, width=None):
        """Resize a photo, its depth and ``keep`` mask to the output size and rescale ``K`` (photo pixels in).

        ``image``: ``(H0, W0, 3)`` uint8 or float in ``[0, 1]`` (numpy or torch); ``depth``: ``(H0, W0)`` metres;
        ``K``: ``(3, 3)`` in photo pixels. Output size: ``height x width``, or the photo's aspect with a long side of
        256 (multiples of :attr:`size_multiple`). The photo is area-averaged, depth and ``keep`` take the nearest
        sample (depths are never mixed across an edge).

        Returns:
            ``image (H, W, 3)`` float32 in ``[0, 1]``, ``depth (H, W)`` float32, ``K (3, 3)`` float64 in output
            pixels, ``keep (H, W)`` bool or ``None``.

        Raises:
            ValueError: no valid depth left after resizing.
        """
        img = image.cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
        img = img.astype(np.float32) / 255 if img.dtype == np.uint8 else img.astype(np.float32)
        dep = depth.cpu().numpy() if torch.is_tensor(depth) else np.asarray(depth)
        H0, W0 = img.shape[:2]
        if height is None or width is None:
            width, height = default_size(W0, H0, self.size_multiple)
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
        dep = cv2.resize(dep.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
        if not (dep > 0).any():
            raise ValueError(f"the depth map has no valid pixel left after resizing {W0}x{H0} -> {width}x{height}")
        K = rescale_intrinsics(torch.as_tensor(K).double(), (H0, W0), (height, width))
        if keep is not None:
            k = keep.cpu().numpy() if torch.is_tensor(keep) else np.asarray(keep)
            keep = torch.from_numpy(cv2.resize(k.astype(np.uint8), (width, height),
                                               interpolation=cv2.INTER_NEAREST).astype(bool))
            if not (keep & torch.from_numpy(dep > 0)).any():
                raise ValueError("keep masks out every pixel that has depth after resizing: nothing would be stored")
        return torch.from_numpy(img), torch.from_numpy(dep), K, keep

    def _null_context(self, batch: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch, 1, self.transformer.config.text_dim, device=device, dtype=dtype)

    # ------------------------------------------------------------------ denoise one segment
    @torch.no_grad()
    def denoise_segment(
        self,
        first_latent: torch.Tensor,  # (1, C, 1, h, w)
        read: MemoryRead,  # T latent frames
        num_inference_steps: int,
        generator: torch.Generator | None,
        guidance: str = "replace",
        guidance_end: float = 0.0,
        start_sigma: float = 1.0,
    ) -> torch.Tensor:
        """Sample one segment's latents ``(1, C, T, h, w)`` with latent frame 0 held at ``first_latent``.

        ``guidance="replace"``: while the noise level is ``>= guidance_end``, covered tokens are set to the memory
        read noised to that level (:func:`~.conditioning.guide`). ``start_sigma < 1``: sampling starts at that
        level from the read with its holes filled by the nearest covered token (:func:`~.conditioning.neighbour_fill`)
        instead of from pure noise (SDEdit-style), keeping the layout of what the memory shows.
        """
        T, C, h, w = read.latent.shape
        device = first_latent.device
        dtype = self.transformer.dtype
        noise = torch.randn((1, C, T, h, w), generator=generator, dtype=torch.float32).to(device)
        read_latent = read.latent.contiguous().float()
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        sigmas = self.scheduler.sigmas.tolist()
        begin = 0
        latents = noise.clone()
        if start_sigma < 1.0:
            begin = min(i for i, s in enumerate(sigmas[:-1] + [0.0]) if s <= start_sigma)
            begin = min(begin, num_inference_steps - 1)
            fill = neighbour_fill(read_latent, read.mask, fallback=first_latent[0, :, 0])
            s0 = sigmas[begin]
            latents = (1 - s0) * fill.permute(1, 0, 2, 3)[None] + s0 * noise
        if hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(begin)
        use_guidance = guidance == "replace"
        ctx = self._null_context(1, device, dtype)
        patch = tuple(self.transformer.config.patch_size)
        for i in range(begin, num_inference_steps):
            t, sigma = self.scheduler.timesteps[i], sigmas[i]
            if use_guidance and sigma >= guidance_end:
                latents = guide(latents, read_latent, read.mask, noise, sigma)
            latents[:, :, :1] = first_latent
            x_in = denoiser_input(latents, read_latent, read.mask) if self.memory_conditioned else latents
            ts = per_token_timesteps(t.view(1), T, h, w, patch).to(device)
            v = self.transformer(x_in.to(dtype), timestep=ts, encoder_hidden_states=ctx, return_dict=False)[0]
            latents = self.scheduler.step(v.float(), t, latents, return_dict=False)[0]
        if use_guidance and guidance_end <= 0.0:
            latents = guide(latents, read_latent, read.mask, noise, 0.0)
        latents[:, :, :1] = first_latent
        return latents

    def _decode_read(self, read: MemoryRead, frames: slice) -> torch.Tensor:
        """Decoded memory read ``(F, 3, H, W)`` for a side-by-side view: uncovered pixels black, covered ones (also
        those filled at partial coverage) at full brightness, never faded."""
        ft, f = self.vae_scale_factor_temporal, self.vae_scale_factor_spatial
        latent, mask = read.latent.contiguous(), (read.mask[:, 0] > 0).float()  # (T, C, h, w), (T, h, w) covered
        if ft == 1:  # per-frame VAE: decode only the frames shown
            latent, mask, frames = latent[frames], mask[frames], slice(None)
        else:  # a causal video VAE decodes the whole latent sequence
            mask = torch.cat([mask[:1], mask[1:].repeat_interleave(ft, dim=0)])  # per decoded frame
        video = self.decode_latents(latent.permute(1, 0, 2, 3)[None])[0].permute(1, 0, 2, 3)  # (F, 3, H, W)
        mask = mask.repeat_interleave(f, dim=1).repeat_interleave(f, dim=2)[:, None]
        return (video * mask)[frames]

    # ------------------------------------------------------------------ main loop
    @torch.no_grad()
    def __call__(
        self,
        image,  # (H0, W0, 3) uint8 or float in [0, 1], numpy or torch
        depth,  # (H0, W0) metres, 0 = invalid
        K,  # (3, 3) pixels of the photo
        c2w: torch.Tensor,  # (N, 4, 4); c2w[0] is the photo's camera
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 20,
        guidance: str = "replace",
        guidance_end: float = 0.0,
        start_sigma: float = 1.0,
        use_memory: bool = True,
        segment_frames: int = 16,
        generator: torch.Generator | None = None,
        return_memory_frames: bool = False,
        memory: LatentSpatialMemory | None = None,
        callback: Callable[[SegmentInfo], None] | None = None,
        progress: bool = True,
        memory_config: MemoryConfig | None = None,
        keep=None,  # (H0, W0) bool
    ) -> MiragePipelineOutput:
        """Generate ``N = len(c2w)`` frames along the camera path.

        Args:
            image: ``(H0, W0, 3)`` photo, uint8 or float in ``[0, 1]``.
            depth: ``(H0, W0)`` z-depth of the photo in metres, 0 where unknown.
            K: ``(3, 3)`` intrinsics of the photo in its own pixels.
            c2w: ``(N, 4, 4)`` camera-to-world path, OpenCV axes, metres; ``c2w[0]`` is the photo's camera.
            height, width: output size (multiples of :attr:`size_multiple`); default: the photo's aspect, long
                side 256. The pipeline resizes the photo, depth and ``keep`` and rescales ``K`` itself.
            num_inference_steps: flow-matching Euler steps per segment (fewer with ``start_sigma < 1``).
            guidance: ``"replace"`` (memory-guided sampling: covered tokens follow the memory read down to
                ``guidance_end``) or ``"none"`` (the denoiser sees the memory only through its input channels).
            guidance_end: noise level (sigma in ``[0, 1]``) below which guidance stops and the model runs free:
                0 keeps exactly what the memory shows on covered tokens; higher values let the model blend seams
                and repaint what the memory shows.
            start_sigma: start sampling at this noise level from the read with holes neighbour-filled (1: pure
                noise, the standard sampler).
            use_memory: ``False`` switches the memory off (no read, no guidance, no write): a baseline.
            segment_frames: new frames per segment (a multiple of the VAE's temporal factor).
            generator: torch generator for the initial noise (determinism).
            return_memory_frames: also decode the memory reads, for a side-by-side view (uncovered pixels black).
            memory: an existing memory to continue from (default: a new one built from the photo).
            callback: called with each :class:`SegmentInfo` after its write.
            progress: show a progress bar over segments.
            memory_config: how the memory is built and written (default :class:`MemoryConfig`).
            keep: optional ``(H0, W0)`` bool mask of the photo's pixels that may be stored (False: sky, people,
                moving objects); a latent pixel is stored when at least half of its block is kept.

        Returns:
            :class:`MiragePipelineOutput`; frames at the output size.

        Raises:
            ValueError: on invalid inputs (see :meth:`check_inputs`).
        """
        self.check_inputs(image, depth, K, c2w, segment_frames, keep, guidance, guidance_end, start_sigma,
                          height, width)
        image, depth, K, keep = self.prepare_inputs(image, depth, K, keep, height, width)
        cfg = MemoryConfig() if memory_config is None else memory_config
        device = self._execution_device
        H, W = image.shape[:2]
        f, ft = self.vae_scale_factor_spatial, self.vae_scale_factor_temporal
        h, w = H // f, W // f
        c2w = torch.as_tensor(c2w).float().to(device)
        N = c2w.shape[0]
        C = self.latent_channels
        K_lat = rescale_intrinsics(K.double(), (H, W), (h, w)).float().to(device)
        T = segment_frames // ft + 1

        frame0 = image.permute(2, 0, 1)[None, :, None].float().to(device)  # (1, 3, 1, H, W)
        z0 = self.encode_frames(frame0)  # (1, C, 1, h, w)
        if memory is None and use_memory:
            spec = {"vae": type(self.vae).__name__, "z_dim": C, "scale_factor_spatial": f,
                    "scale_factor_temporal": ft, "normalised": True}
            memory = build_photo_memory(z0[0, :, 0], depth.to(device), K_lat, c2w[0], f, cfg,
                                        None if keep is None else keep.to(device), spec)

        frames = [self.decode_latents(z0)[0, :, 0]]  # list of (3, H, W)
        mem_frames = [frames[0]] if return_memory_frames else None
        segments: list[SegmentInfo] = []
        n_seg = self.num_segments(N, segment_frames)
        first_latent = z0
        for s in self.progress_bar(range(n_seg)) if progress else range(n_seg):
            t0 = time.perf_counter()
            a = s * segment_frames
            idx = [min(a + ft * t, N - 1) for t in range(T)]  # camera per latent frame (last of its group)
            if use_memory:
                read = read_memory(memory, K_lat, c2w[idx], (h, w))
            else:
                read = empty_read(T, C, h, w, device)
            lat = self.denoise_segment(first_latent, read, num_inference_steps, generator,
                                       guidance if use_memory else "none", guidance_end, start_sigma)
            n_new = min(segment_frames, N - 1 - a)
            n_lat = -(-n_new // ft)  # latent frames after frame 0 that hold real frames
            if ft == 1:
                video = self.decode_latents(lat[:, :, 1 : 1 + n_new])[0]  # (3, n_new, H, W)
                frames.extend(video[:, i] for i in range(n_new))
            else:
                video = self.decode_latents(lat)[0]  # (3, 1 + segment_frames, H, W)
                frames.extend(video[:, 1 + i] for i in range(n_new))
            if return_memory_frames:
                mv = self._decode_read(read, slice(1, 1 + n_new))
                mem_frames.extend(mv)
            if use_memory:
                write_generated(memory, lat[0, :, 1 : 1 + n_lat].permute(1, 0, 2, 3),
                                MemoryRead(read.latent[1 : 1 + n_lat], read.mask[1 : 1 + n_lat],
                                           read.depth[1 : 1 + n_lat]),
                                K_lat, c2w[idx[1 : 1 + n_lat]], cfg)
            # next segment starts from the last new frame: its own latent for a per-frame VAE, else re-encoded
            if ft == 1:
                first_latent = lat[:, :, n_new : n_new + 1]
            else:
                first_latent = self.encode_frames(video[:, n_new][None, :, None])
            info = SegmentInfo(
                index=s,
                frames=(a + 1, a + n_new),
                seconds=time.perf_counter() - t0,
                memory_tokens=memory.num_tokens if use_memory else 0,
                memory_bytes=memory.nbytes if use_memory else 0,
                coverage=float(read.mask[1:].mean()),
            )
            segments.append(info)
            if callback is not None:
                callback(info)
        out = torch.stack(frames).permute(0, 2, 3, 1).cpu().numpy()
        mem = torch.stack(list(mem_frames)).permute(0, 2, 3, 1).cpu().numpy() if return_memory_frames else None
        return MiragePipelineOutput(frames=out, memory_frames=mem, segments=segments, memory=memory)
