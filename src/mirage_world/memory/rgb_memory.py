"""RGB point-cloud memory: the Spatia / Voyager / GEN3C baseline behind the latent memory's read interface.

Stores every valid pixel of every written RGB frame as a coloured 3D point (float32 position + uint8 RGB, 15 bytes
per point), and reads at a camera by z-buffered rendering of all points at *full* image resolution followed by a VAE
encode of the render -- the cost the latent memory avoids. Same read signature as
:class:`~mirage_world.memory.LatentSpatialMemory` (latent-grid ``K`` and ``hw``; the render uses ``K`` scaled by the
VAE's spatial factor) and the same :class:`~mirage_world.memory.MemoryRead` result.

Pure torch: the VAE is any object with a diffusers-like ``encode`` passed in by the caller (no diffusers import).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ..geometry.camera import rescale_intrinsics, unproject_depth
from .latent_memory import pool_depth_to_grid
from .splat import MemoryRead, check_cameras, check_hw, zbuffer_winners

__all__ = ["RGBPointCloudMemory", "encode_with_vae"]


def encode_with_vae(vae: Any, images: Tensor, video: bool = True) -> Tensor:
    """Encode ``(V, 3, H, W)`` images in ``[-1, 1]`` to ``(V, C, h, w)`` latents with a diffusers-like VAE.

    ``vae.encode(x)`` may return a tensor, an object with ``latent_dist`` (its ``mode()`` is used), an object with
    ``latents``, or a tuple whose first item is one of those. ``video=True`` feeds ``(V, 3, 1, H, W)`` (one-frame
    videos, e.g. ``AutoencoderKLWan``) and drops the time axis of the result.
    """
    x = images[:, :, None] if video else images
    out = vae.encode(x)
    if isinstance(out, tuple):
        out = out[0]
    if hasattr(out, "latent_dist"):
        out = out.latent_dist
    if hasattr(out, "mode") and not isinstance(out, Tensor):
        out = out.mode()
    elif hasattr(out, "latents"):
        out = out.latents
    if not isinstance(out, Tensor):
        raise ValueError(f"vae.encode returned {type(out).__name__}, expected a tensor or a latent distribution")
    return out[:, :, 0] if video and out.dim() == 5 else out


class RGBPointCloudMemory:
    """Full-resolution coloured point cloud, read by rendering + VAE encoding (the baseline).

    Args:
        vae: object with a diffusers-like ``encode`` (``None``: only :meth:`render` works).
        scale_factor_spatial: VAE spatial compression (16 for Wan2.2-TI2V-5B, 8 for the tiny model).
        device: where points are stored.
        video_vae: feed the encoder one-frame videos ``(V, 3, 1, H, W)`` (True for ``AutoencoderKLWan``).
        normalize: optional callable applied to the encoded latents (e.g. the pipeline's latent normalisation).
        encode_batch: views encoded per ``vae.encode`` call.
        near: minimum z in metres.
    """

    def __init__(
        self,
        vae: Any = None,
        scale_factor_spatial: int = 16,
        device: torch.device | str = "cpu",
        *,
        video_vae: bool = True,
        normalize: Callable[[Tensor], Tensor] | None = None,
        encode_batch: int = 1,
        near: float = 1e-3,
    ):
        if int(scale_factor_spatial) != scale_factor_spatial or scale_factor_spatial <= 0:
            raise ValueError(f"scale_factor_spatial must be a positive int, got {scale_factor_spatial}")
        if encode_batch <= 0:
            raise ValueError(f"encode_batch must be positive, got {encode_batch}")
        self.vae = vae
        self.factor = int(scale_factor_spatial)
        self.device = torch.device(device)
        self.video_vae = video_vae
        self.normalize = normalize
        self.encode_batch = int(encode_batch)
        self.near = float(near)
        self.positions = torch.zeros(0, 3, dtype=torch.float32, device=self.device)  # (N, 3) metres
        self.colors = torch.zeros(0, 3, dtype=torch.uint8, device=self.device)  # (N, 3) sRGB 0..255

    @property
    def num_tokens(self) -> int:
        """Number of stored points (named like the latent memory's for a shared interface)."""
        return int(self.positions.shape[0])

    @property
    def nbytes(self) -> int:
        """Exact bytes of the point tensors (15 per point)."""
        return sum(t.numel() * t.element_size() for t in (self.positions, self.colors))

    def write(self, rgb: Tensor, depth: Tensor, K: Tensor, c2w: Tensor, keep: Tensor | None = None) -> int:
        """Store full-resolution RGB frames as points. Returns the number of points added.

        Args:
            rgb: ``(T, 3, H, W)`` or ``(3, H, W)``: float in ``[0, 1]`` or uint8.
            depth: ``(T, H, W)`` or ``(H, W)`` z-depth in metres, 0 = no point.
            K: ``(T, 3, 3)`` or ``(3, 3)`` image intrinsics in pixels; c2w: ``(T, 4, 4)`` or ``(4, 4)``.
            keep: optional ``(T, H, W)`` bool mask.

        Raises:
            ValueError: on mismatched shapes, NaN/inf/negative depth, float colours outside [0, 1], bad cameras.
        """
        if rgb.dim() == 3:
            rgb, depth = rgb[None], depth[None]
            K = K[None] if K.dim() == 2 else K
            c2w = c2w[None] if c2w.dim() == 2 else c2w
            keep = None if keep is None else keep[None]
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"rgb must be (T, 3, H, W) or (3, H, W), got {tuple(rgb.shape)}")
        T, _, H, W = rgb.shape
        if depth.shape != (T, H, W):
            raise ValueError(f"depth must be {(T, H, W)}, got {tuple(depth.shape)}")
        if K.shape != (T, 3, 3) or c2w.shape != (T, 4, 4):
            raise ValueError(f"K must be (T, 3, 3) and c2w (T, 4, 4) with T={T}, got {tuple(K.shape)}, {tuple(c2w.shape)}")
        if keep is not None and (keep.shape != (T, H, W) or keep.dtype != torch.bool):
            raise ValueError(f"keep must be a bool {(T, H, W)} tensor")
        K, c2w = check_cameras(K, c2w)
        if not depth.is_floating_point() or not torch.isfinite(depth).all() or (depth < 0).any():
            raise ValueError("depth must be floating, finite and >= 0 metres (0 = no point)")
        if rgb.dtype == torch.uint8:
            col = rgb
        elif rgb.is_floating_point():
            if not torch.isfinite(rgb).all() or rgb.min() < 0 or rgb.max() > 1:
                raise ValueError("float rgb must be finite and in [0, 1]")
            col = torch.round(rgb * 255).to(torch.uint8)
        else:
            raise ValueError(f"rgb must be uint8 or floating, got {rgb.dtype}")
        dev = self.device
        d = depth.to(dev, torch.float32)
        pts = unproject_depth(d, K.to(dev, torch.float32), c2w.to(dev, torch.float32))
        ok = d > 0
        if keep is not None:
            ok &= keep.to(dev)
        self.positions = torch.cat([self.positions, pts[ok]])
        self.colors = torch.cat([self.colors, col.to(dev).permute(0, 2, 3, 1)[ok]])
        return int(ok.sum())

    def render(self, K: Tensor, c2w: Tensor, hw: tuple[int, int]) -> MemoryRead:
        """Z-buffered nearest-point render at image resolution.

        Args:
            K: ``(V, 3, 3)`` image intrinsics; c2w: ``(V, 4, 4)``; hw: image ``(H, W)``.

        Returns:
            :class:`MemoryRead` with ``latent`` = RGB ``(V, 3, H, W)`` in ``[0, 1]`` (0 where empty), ``mask``
            ``(V, 1, H, W)``, ``depth`` ``(V, H, W)``.
        """
        K, c2w = check_cameras(K, c2w)
        H, W = check_hw(hw)
        dev = self.device
        V = K.shape[0]
        # one view at a time: a full-resolution cloud has millions of points, (V, N) temporaries would not fit
        imgs, masks, depths = [], [], []
        for v in range(V):
            winner, zbuf = zbuffer_winners(self.positions, K[v : v + 1].to(dev, torch.float32),
                                           c2w[v : v + 1].to(dev, torch.float32), (H, W), self.near)
            win = winner.reshape(-1)
            cov = win >= 0
            img = torch.zeros(H * W, 3, dtype=torch.float32, device=dev)
            img[cov] = self.colors[win[cov]].to(torch.float32) / 255.0
            imgs.append(img.reshape(H, W, 3).permute(2, 0, 1))
            masks.append(cov.float().reshape(1, H, W))
            depths.append(torch.where(cov, zbuf.reshape(-1), torch.zeros((), device=dev)).reshape(H, W))
        return MemoryRead(torch.stack(imgs).contiguous(), torch.stack(masks), torch.stack(depths))

    def read(self, K: Tensor, c2w: Tensor, hw: tuple[int, int]) -> MemoryRead:
        """Read at ``V`` cameras on the latent grid: render at ``(h * f, w * f)``, then VAE-encode the renders.

        Args:
            K: ``(V, 3, 3)`` or ``(3, 3)`` latent-grid intrinsics; c2w: ``(V, 4, 4)`` or ``(4, 4)``; hw: latent ``(h, w)``.

        Returns:
            :class:`MemoryRead`: ``latent (V, C, h, w)`` (the encoded render), ``mask (V, 1, h, w)`` (1 where any
            pixel of the block is covered), ``depth (V, h, w)`` (median of the block's rendered depths).

        Raises:
            ValueError: without a VAE, or on bad cameras / hw.
        """
        if self.vae is None:
            raise ValueError("RGBPointCloudMemory.read needs a VAE (pass vae=...); use render() for RGB")
        K, c2w = check_cameras(K, c2w)
        h, w = check_hw(hw)
        f = self.factor
        H, W = h * f, w * f
        K_img = rescale_intrinsics(K.double(), (h, w), (H, W)).float()
        r = self.render(K_img, c2w, (H, W))
        x = r.latent * 2 - 1
        lats = []
        with torch.no_grad():
            for i in range(0, x.shape[0], self.encode_batch):
                z = encode_with_vae(self.vae, x[i : i + self.encode_batch], self.video_vae)
                lats.append(self.normalize(z) if self.normalize is not None else z)
        lat = torch.cat(lats).float()
        if lat.shape[-2:] != (h, w):
            raise ValueError(f"the VAE encoded {(H, W)} to {tuple(lat.shape[-2:])}, expected {(h, w)}; check scale_factor_spatial")
        V = r.mask.shape[0]
        mask = (r.mask.reshape(V, h, f, w, f).amax((2, 4)) > 0).float()[:, None]
        return MemoryRead(lat, mask, pool_depth_to_grid(r.depth, f))
