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
from typing import Any, Callable

import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
from diffusers.utils import BaseOutput
from scipy import ndimage

from ..geometry.camera import rescale_intrinsics
from ..memory.latent_memory import LatentSpatialMemory, pool_depth_to_grid
from ..memory.splat import MemoryRead

__all__ = ["MiragePipeline", "MiragePipelineOutput", "MemoryConfig", "SegmentInfo", "fill_depth_nearest",
           "denoiser_input", "pool_keep_to_grid"]


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
    dist, (iy, ix) = ndimage.distance_transform_edt(~m, return_indices=True)
    d = depth.cpu().numpy()[iy, ix]
    return torch.from_numpy(d).to(depth), torch.from_numpy(dist.astype(np.float32)).to(depth.device)


def pool_keep_to_grid(keep: torch.Tensor, factor: int) -> torch.Tensor:
    """A latent pixel is kept when at least half of its ``factor x factor`` pixel block is. ``(H, W)`` -> ``(h, w)``."""
    H, W = keep.shape
    blocks = keep.float().reshape(H // factor, factor, W // factor, factor)
    return blocks.mean(dim=(1, 3)) >= 0.5


def denoiser_input(latents: torch.Tensor, read: MemoryRead) -> torch.Tensor:
    """Concatenate the noisy latents with the memory conditioning along channels.

    Args:
        latents: ``(B, C, T, h, w)`` noisy latents.
        read: memory read with ``latent (T, C, h, w)`` and ``mask (T, 1, h, w)`` (shared by the batch).

    Returns:
        ``(B, 2C + 1, T, h, w)`` = ``[latents, warped latent, coverage]``.
    """
    B = latents.shape[0]
    cond = torch.cat([read.latent, read.mask], dim=1).permute(1, 0, 2, 3)  # (C + 1, T, h, w)
    cond = cond.unsqueeze(0).expand(B, -1, -1, -1, -1).to(latents)
    return torch.cat([latents, cond], dim=1)


class MiragePipeline(DiffusionPipeline):
    r"""Camera-controlled video generation with a latent spatial memory (Mirage).

    Components:
        vae (`AutoencoderKLWan`): video VAE (tiny model: 8x spatial, 4x temporal, 16 channels).
        transformer (`WanTransformer3DModel`): denoiser whose input has ``2C + 1`` channels
            ``[noisy latent, warped memory latent, coverage]``.
        scheduler (`FlowMatchEulerDiscreteScheduler`): flow-matching sampler (Wan's training objective).

    The tiny model has no text encoder; its cross-attention sees a single zero context token. Later backbones
    (Wan2.2-TI2V-5B) add a text encoder to this same pipeline.
    """

    model_cpu_offload_seq = "transformer->vae"

    def __init__(
        self,
        vae: AutoencoderKLWan,
        transformer: WanTransformer3DModel,
        scheduler: FlowMatchEulerDiscreteScheduler,
    ):
        super().__init__()
        self.register_modules(vae=vae, transformer=transformer, scheduler=scheduler)
        self.vae_scale_factor_temporal = 2 ** sum(vae.temperal_downsample) if vae is not None else 4
        self.vae_scale_factor_spatial = 2 ** (len(vae.config.dim_mult) - 1) if vae is not None else 8
        if vae is not None and vae.config.patch_size:
            self.vae_scale_factor_spatial *= vae.config.patch_size

    @staticmethod
    def num_segments(num_frames: int, segment_frames: int = 16) -> int:
        """Segments needed for ``num_frames`` frames: frame 0 is the photo, each segment adds ``segment_frames``."""
        return (num_frames - 1 + segment_frames - 1) // segment_frames

    # ------------------------------------------------------------------ latents
    @property
    def latent_channels(self) -> int:
        return int(self.vae.config.z_dim)

    def _latent_stats(self, device, dtype):
        C = self.latent_channels
        mean = torch.tensor(self.vae.config.latents_mean, device=device, dtype=dtype).view(1, C, 1, 1, 1)
        std = torch.tensor(self.vae.config.latents_std, device=device, dtype=dtype).view(1, C, 1, 1, 1)
        return mean, std

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE-encode frames ``(B, 3, F, H, W)`` in ``[0, 1]`` to normalised latents ``(B, C, 1 + (F-1)//4, h, w)``."""
        x = (frames * 2 - 1).to(self.vae.dtype)
        z = self.vae.encode(x).latent_dist.mode().float()
        mean, std = self._latent_stats(z.device, z.dtype)
        return (z - mean) / std

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Decode normalised latents ``(B, C, T, h, w)`` to frames ``(B, 3, 1 + 4(T-1), H, W)`` in ``[0, 1]``."""
        mean, std = self._latent_stats(latents.device, latents.dtype)
        z = (latents * std + mean).to(self.vae.dtype)
        x = self.vae.decode(z).sample.float()
        return ((x + 1) / 2).clamp(0, 1)

    # ------------------------------------------------------------------ inputs
    def check_inputs(self, image, depth, K, c2w, segment_frames, keep=None):
        """Validate shapes, dtypes and finiteness at the public boundary.

        Raises:
            ValueError: with a message naming the offending input.
        """
        if not torch.is_tensor(image) or image.dim() != 3 or image.shape[-1] != 3:
            raise ValueError(f"image must be a (H, W, 3) tensor, got {getattr(image, 'shape', type(image))}")
        H, W = image.shape[:2]
        s = self.vae_scale_factor_spatial * self.transformer.config.patch_size[1]
        if H % s or W % s:
            raise ValueError(f"image size {W}x{H} must be divisible by {s} (VAE factor x patch size)")
        if not torch.is_tensor(depth) or depth.shape != (H, W):
            raise ValueError(f"depth must be ({H}, {W}) like the image, got {tuple(getattr(depth, 'shape', ()))}")
        if not torch.isfinite(depth).all() or (depth < 0).any():
            raise ValueError("depth must be finite and non-negative (0 = invalid)")
        if not (depth > 0).any():
            raise ValueError("depth has no valid (> 0) pixel")
        if K.shape != (3, 3) or not torch.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError(f"K must be a finite (3, 3) matrix with positive focal lengths, got {K.tolist()}")
        if c2w.dim() != 3 or c2w.shape[1:] != (4, 4) or c2w.shape[0] < 1 or not torch.isfinite(c2w).all():
            raise ValueError(f"c2w must be a finite (N, 4, 4) path, got {tuple(c2w.shape)}")
        if keep is not None and (not torch.is_tensor(keep) or keep.shape != (H, W) or keep.dtype != torch.bool):
            raise ValueError(f"keep must be a ({H}, {W}) bool tensor, got {getattr(keep, 'dtype', type(keep))} {tuple(getattr(keep, 'shape', ()))}")
        if keep is not None and not (keep & (depth > 0)).any():
            raise ValueError("keep masks out every pixel that has depth: nothing would be stored")
        if segment_frames % self.vae_scale_factor_temporal or segment_frames <= 0:
            raise ValueError(f"segment_frames must be a positive multiple of {self.vae_scale_factor_temporal}")

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
    ) -> torch.Tensor:
        """Sample one segment's latents ``(1, C, T, h, w)`` with latent frame 0 held at ``first_latent``."""
        T = read.latent.shape[0]
        _, C, _, h, w = first_latent.shape
        device = first_latent.device
        dtype = self.transformer.dtype
        latents = torch.randn((1, C, T, h, w), generator=generator, dtype=torch.float32).to(device)
        latents[:, :, :1] = first_latent
        pt, ph, pw = self.transformer.config.patch_size
        tokens_per_frame = (h // ph) * (w // pw)
        first_tokens = tokens_per_frame * (1 // pt)
        ctx = self._null_context(1, device, dtype)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        for t in self.scheduler.timesteps:
            ts = torch.full((1, T * tokens_per_frame // pt), float(t), device=device)
            ts[:, :first_tokens] = 0  # clean first frame (per-token timesteps, Wan2.2-TI2V)
            x_in = denoiser_input(latents, read).to(dtype)
            v = self.transformer(x_in, timestep=ts, encoder_hidden_states=ctx, return_dict=False)[0].float()
            latents = self.scheduler.step(v, t, latents, return_dict=False)[0]
            latents[:, :, :1] = first_latent
        return latents

    # ------------------------------------------------------------------ main loop
    @torch.no_grad()
    def __call__(
        self,
        image: torch.Tensor,  # (H, W, 3) float in [0, 1]
        depth: torch.Tensor,  # (H, W) metres, 0 = invalid
        K: torch.Tensor,  # (3, 3) pixels of (H, W)
        c2w: torch.Tensor,  # (N, 4, 4); c2w[0] is the photo's camera
        num_inference_steps: int = 20,
        segment_frames: int = 16,
        generator: torch.Generator | None = None,
        return_memory_frames: bool = False,
        memory: LatentSpatialMemory | None = None,
        callback: Callable[[SegmentInfo], None] | None = None,
        progress: bool = True,
        memory_config: MemoryConfig | None = None,
        keep: torch.Tensor | None = None,  # (H, W) bool
    ) -> MiragePipelineOutput:
        """Generate ``N = len(c2w)`` frames along the camera path.

        Args:
            image: ``(H, W, 3)`` photo in ``[0, 1]``; ``H, W`` divisible by 16 for the tiny model.
            depth: ``(H, W)`` z-depth of the photo in metres, 0 where unknown.
            K: ``(3, 3)`` intrinsics of the photo in pixels.
            c2w: ``(N, 4, 4)`` camera-to-world path, OpenCV axes; ``c2w[0]`` is the photo's camera.
            num_inference_steps: flow-matching Euler steps per segment.
            segment_frames: new frames per segment (multiple of 4; 16 = 4 latent frames).
            generator: torch generator for the initial noise (determinism).
            return_memory_frames: also decode the memory reads, for a side-by-side view.
            memory: an existing memory to continue from (default: a new one built from the photo).
            callback: called with each :class:`SegmentInfo` after its write.
            progress: show a progress bar over segments.
            memory_config: how the memory is built and written (default :class:`MemoryConfig`).
            keep: optional ``(H, W)`` bool mask of the photo's pixels that may be stored (False: sky, people,
                moving objects); a latent pixel is stored when at least half of its block is kept.

        Returns:
            :class:`MiragePipelineOutput`.

        Raises:
            ValueError: on invalid inputs (see :meth:`check_inputs`).
        """
        self.check_inputs(image, depth, K, c2w, segment_frames, keep)
        cfg = MemoryConfig() if memory_config is None else memory_config
        device = self._execution_device
        H, W = image.shape[:2]
        f = self.vae_scale_factor_spatial
        h, w = H // f, W // f
        N = c2w.shape[0]
        C = self.latent_channels
        K_lat = rescale_intrinsics(K.double(), (H, W), (h, w)).float().to(device)
        c2w = c2w.float().to(device)
        ft = self.vae_scale_factor_temporal
        T = segment_frames // ft + 1

        frame0 = image.permute(2, 0, 1)[None, :, None].float().to(device)  # (1, 3, 1, H, W)
        z0 = self.encode_frames(frame0)  # (1, C, 1, h, w)
        if memory is None:
            d_lat = pool_depth_to_grid(depth.float().to(device), f)
            spec = {"vae": type(self.vae).__name__, "z_dim": C, "scale_factor_spatial": f,
                    "scale_factor_temporal": self.vae_scale_factor_temporal, "normalised": True}
            memory = cfg.make_memory(C, device, cfg.resolve_voxel_size(d_lat, K_lat), spec)
            keep_lat = None if keep is None else pool_keep_to_grid(keep.to(device), f)
            conf = torch.full_like(d_lat, cfg.photo_confidence) if memory.confidence is not None else None
            memory.write(z0[0, :, 0], d_lat, K_lat, c2w[0], keep_lat, confidence=conf)

        frames = [self.decode_latents(z0)[0, :, 0]]  # list of (3, H, W)
        mem_frames = [frames[0]] if return_memory_frames else None
        segments: list[SegmentInfo] = []
        n_seg = self.num_segments(N, segment_frames)
        first_latent = z0
        for s in self.progress_bar(range(n_seg)) if progress else range(n_seg):
            t0 = time.perf_counter()
            a = s * segment_frames
            idx = [min(a + ft * t, N - 1) for t in range(T)]  # camera per latent frame (last of its group)
            read = memory.read(K_lat.expand(T, 3, 3), c2w[idx], (h, w))
            lat = self.denoise_segment(first_latent, read, num_inference_steps, generator)
            video = self.decode_latents(lat)[0]  # (3, 1 + segment_frames, H, W)
            n_new = min(segment_frames, N - 1 - a)
            frames.extend(video[:, 1 + i] for i in range(n_new))
            if return_memory_frames:
                mv = self.decode_latents(read.latent.permute(1, 0, 2, 3)[None])[0]
                mem_frames.extend(mv[:, 1 + i] for i in range(n_new))
            # write back the new latent frames that belong to real frames of the path
            for t in range(1, T):
                if a + ft * t - (ft - 1) > N - 1:
                    break
                covered = read.mask[t, 0] > 0
                filled = fill_depth_nearest(read.depth[t], covered)
                if filled is not None:
                    d, dist = filled
                    conf = torch.where(covered, read.mask[t, 0], torch.exp(-dist / cfg.fill_falloff))
                    memory.write(lat[0, :, t], d, K_lat, c2w[idx[t]], confidence=conf,
                                 min_confidence=cfg.min_confidence)
            # next segment starts from the last new frame, re-encoded alone (causal first-frame latent)
            last = video[:, n_new][None, :, None]
            first_latent = self.encode_frames(last)
            info = SegmentInfo(
                index=s,
                frames=(a + 1, a + n_new),
                seconds=time.perf_counter() - t0,
                memory_tokens=memory.num_tokens,
                memory_bytes=memory.nbytes,
                coverage=float(read.mask[1:].mean()),
            )
            segments.append(info)
            if callback is not None:
                callback(info)
        out = torch.stack(frames).permute(0, 2, 3, 1).cpu().numpy()
        mem = torch.stack(mem_frames).permute(0, 2, 3, 1).cpu().numpy() if return_memory_frames else None
        return MiragePipelineOutput(frames=out, memory_frames=mem, segments=segments, memory=memory)
