"""What the pipeline remembers between segments: the latent memory (Mirage), an RGB point cloud (peers), or nothing.

:class:`~mirage_world.pipelines.MiragePipeline` talks to its memory through three calls, so that the same generator,
seed and sampler run with each memory and only the memory differs (the closed-loop and end-to-end benchmarks):

* ``start(photo)`` -- store the photo (:class:`PhotoContext`);
* ``read(K_lat, c2w) -> MemoryRead`` -- latent ``(T, C, h, w)``, coverage ``(T, 1, h, w)``, depth ``(T, h, w)`` on
  the latent grid, the denoiser's conditioning;
* ``write(segment)`` -- store a generated segment (:class:`SegmentWrite`), after the sky / moving-object filter.

Backends:

* :class:`LatentMemoryBackend` -- Mirage (paper Sec. 3): VAE latent tokens back-projected in 3D, read by one
  z-buffered projection at latent resolution (:func:`~.memory_io.read_memory`), generated latents written back
  (:func:`~.memory_io.write_generated`). No VAE call on the read or the write.
* :class:`RGBMemoryBackend` -- the Spatia / Voyager / GEN3C design: every pixel of the photo and of the generated
  frames stored as a coloured 3D point (:class:`~mirage_world.memory.RGBPointCloudMemory`), read by rendering at full
  resolution and VAE-encoding the render; the same read post-processing (cracks, coarse reads) and the same write
  policy (only what the read did not cover, depth extended from the covered surface) as the latent backend.
* :class:`NoMemoryBackend` -- reads nothing, stores nothing (``--memory off``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..geometry.camera import rescale_intrinsics
from ..memory.latent_memory import LatentSpatialMemory, pool_depth_to_grid
from ..memory.rgb_memory import RGBPointCloudMemory
from ..memory.splat import MemoryRead
from .memory_io import (
    MemoryConfig,
    build_photo_memory,
    empty_read,
    fill_depth_nearest,
    pool_keep_to_grid,
    read_memory,
    write_generated,
)

__all__ = ["PhotoContext", "SegmentWrite", "MemoryBackend", "LatentMemoryBackend", "RGBMemoryBackend",
           "NoMemoryBackend", "MEMORY_KINDS", "make_backend"]

#: Names of the backends, as the CLI and the benchmarks spell them.
MEMORY_KINDS = ("latent", "rgb", "none")


@dataclass
class PhotoContext:
    """The photo as the pipeline prepared it, at output size.

    Attributes:
        latent: ``(C, h, w)`` normalised latent of the photo.
        image: ``(H, W, 3)`` float in ``[0, 1]``.
        depth: ``(H, W)`` metres, 0 = invalid.
        K: ``(3, 3)`` intrinsics in output pixels; ``K_lat``: the same on the latent grid.
        c2w: ``(4, 4)`` the photo's camera.
        keep: ``(H, W)`` bool or ``None`` (False: never store).
        factor: the VAE's spatial factor (``H = factor * h``).
        latent_spec: what produced the latents (stored in the memory file).
    """

    latent: torch.Tensor
    image: torch.Tensor
    depth: torch.Tensor
    K: torch.Tensor
    K_lat: torch.Tensor
    c2w: torch.Tensor
    keep: torch.Tensor | None
    factor: int
    latent_spec: dict


@dataclass
class SegmentWrite:
    """One generated segment's new content, as handed to :meth:`MemoryBackend.write`.

    Attributes:
        latents: ``(T, C, h, w)`` the new latent frames.
        frames: ``(T, 3, H, W)`` in ``[0, 1]``: the decoded frame at each new latent frame's camera.
        read: the :class:`MemoryRead` they were generated from, ``T`` frames.
        K_lat: ``(3, 3)`` latent-grid intrinsics; ``K``: ``(3, 3)`` output-pixel intrinsics.
        c2w: ``(T, 4, 4)`` camera of each new latent frame.
        keep: ``(T, H, W)`` bool or ``None``: the segment filter's verdict (False: sky, people, cars ...).
    """

    latents: torch.Tensor
    frames: torch.Tensor
    read: MemoryRead
    K_lat: torch.Tensor
    K: torch.Tensor
    c2w: torch.Tensor
    keep: torch.Tensor | None = None


class MemoryBackend:
    """Interface of a pipeline memory (see the module doc). ``memory`` is the stored object, returned to the user."""

    name = "base"
    memory: Any = None

    def start(self, photo: PhotoContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def read(self, K_lat: torch.Tensor, c2w: torch.Tensor, hw: tuple[int, int]) -> MemoryRead:  # pragma: no cover
        raise NotImplementedError

    def write(self, seg: SegmentWrite) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def num_tokens(self) -> int:
        return 0 if self.memory is None else int(self.memory.num_tokens)

    @property
    def nbytes(self) -> int:
        return 0 if self.memory is None else int(self.memory.nbytes)


class LatentMemoryBackend(MemoryBackend):
    """Mirage's latent spatial memory (see the module doc).

    Args:
        config: how the memory is built, read and written (default :class:`~.memory_io.MemoryConfig`).
        memory: continue from this :class:`~mirage_world.memory.LatentSpatialMemory` instead of building one from the
            photo (resume, or a memory loaded from a file).
    """

    name = "latent"

    def __init__(self, config: MemoryConfig | None = None, memory: LatentSpatialMemory | None = None):
        self.config = MemoryConfig() if config is None else config
        self.memory = memory

    def start(self, photo: PhotoContext) -> None:
        if self.memory is None:
            self.memory = build_photo_memory(photo.latent, photo.depth, photo.K_lat, photo.c2w, photo.factor,
                                             self.config, photo.keep, photo.latent_spec)

    def read(self, K_lat, c2w, hw):
        return read_memory(self.memory, K_lat, c2w, hw)

    def write(self, seg: SegmentWrite) -> None:
        f = seg.frames.shape[-1] // seg.latents.shape[-1]
        keep = None if seg.keep is None else pool_keep_to_grid(seg.keep, f)
        write_generated(self.memory, seg.latents, seg.read, seg.K_lat, seg.c2w, self.config, keep)


class RGBMemoryBackend(MemoryBackend):
    """The peers' RGB point-cloud cache behind the pipeline's memory interface (see the module doc).

    Args:
        encode: ``(V, 3, H, W)`` in ``[0, 1]`` -> normalised latents ``(V, C, h, w)`` (the pipeline's VAE encoder).
        factor: VAE spatial factor.
        config: the write policy's numbers (``fill_falloff``, ``min_confidence``, ``covered_confidence``) are taken
            from it, so both memories store the same pixels.
        device: where points live.
    """

    name = "rgb"

    def __init__(self, encode: Callable[[torch.Tensor], torch.Tensor], factor: int,
                 config: MemoryConfig | None = None, device: torch.device | str = "cpu"):
        self.config = MemoryConfig() if config is None else config
        self.factor = int(factor)
        self._encode = encode
        # points only: the read renders with holes filled (render_filled) and encodes here, not through the cloud
        self.memory = RGBPointCloudMemory(None, self.factor, device)

    def _write_frames(self, rgb, depth, covered, K, c2w, keep, confidence_scale: float) -> None:
        """Store frames ``(T, 3, H, W)`` where not ``covered``; depth extended by nearest fill, cut by confidence."""
        cfg = self.config
        for t in range(rgb.shape[0]):
            filled = fill_depth_nearest(depth[t], covered[t] if bool(covered[t].any()) else depth[t] > 0)
            if filled is None:
                continue
            d, dist = filled
            conf = torch.exp(-dist / (cfg.fill_falloff * self.factor))  # falloff in latent pixels, as the latent side
            ok = conf >= cfg.min_confidence
            if confidence_scale <= 0:
                ok &= ~covered[t]
            if keep is not None:
                ok &= keep[t]
            self.memory.write(rgb[t], torch.where(ok, d, torch.zeros_like(d)), K, c2w[t])

    def start(self, photo: PhotoContext) -> None:
        # pixels without sensor depth get the nearest measured depth, kept near a measured pixel (the falloff), as
        # the latent memory does with the photo
        nothing = torch.zeros_like(photo.depth, dtype=torch.bool)[None]
        keep = None if photo.keep is None else photo.keep[None]
        self._write_frames(photo.image.permute(2, 0, 1)[None].float(), photo.depth[None].float(), nothing,
                           photo.K.float(), photo.c2w[None].float(), keep, 1.0)

    def render_filled(self, K: torch.Tensor, c2w: torch.Tensor, hw: tuple[int, int]) -> MemoryRead:
        """Full-resolution render ``(T, 3, H, W)`` with its magnification holes closed as the latent read closes them.

        A point cloud rendered at full resolution shows black cracks between its points wherever the view magnifies
        what was stored (the camera moved closer or turned); encoded as they are, the cracks become dark latents
        that guidance then holds. They are closed by :func:`~.memory_io.read_memory`'s push-pull run on the pixel
        grid: cracks, then ``log2(factor) + 2`` coarser renders (the latent read's two coarse levels, counted in
        pixels), so both memories fill the same extent. ``mask`` is halved per coarse level (``1 / 2^level``).
        """
        render = self.memory.render

        class _Renderer:  # read_memory wants an object with ``read(K, c2w, hw)``
            read = staticmethod(render)

        levels = int(math.log2(self.factor)) + 2
        return read_memory(_Renderer, K.float(), c2w.float(), hw, levels=levels)

    def read(self, K_lat, c2w, hw):
        """Render at full resolution (holes closed, :meth:`render_filled`), VAE-encode, pool coverage and depth.

        Coverage of a latent pixel: the largest pixel coverage in its block x ``factor`` (at most 1), so holes
        closed within one latent pixel's size count as covered and coarser fills are halved per level, as on the
        latent side.
        """
        T = c2w.shape[0]
        h, w = hw
        f = self.factor
        K_img = rescale_intrinsics(K_lat.expand(T, 3, 3).double(), (h, w), (h * f, w * f)).float()
        r = self.render_filled(K_img, c2w, (h * f, w * f))
        latent = self._encode(r.latent.clamp(0, 1)).float()  # (T, C, h, w)
        mask = (r.mask.reshape(T, 1, h, f, w, f).amax((3, 5)) * f).clamp(max=1.0)  # (T, 1, h, w)
        depth = pool_depth_to_grid(torch.where(r.mask[:, 0] > 0, r.depth, torch.zeros_like(r.depth)), f)
        return MemoryRead(latent, mask, depth)

    def write(self, seg: SegmentWrite) -> None:
        T, _, H, W = seg.frames.shape
        r = self.render_filled(seg.K.expand(T, 3, 3), seg.c2w, (H, W))  # full-resolution coverage, holes closed
        covered = r.mask[:, 0] > 0
        depth = r.depth
        if not bool(covered.any()):  # nothing seen at full resolution: take the latent read's depth, upsampled
            depth = seg.read.depth.repeat_interleave(self.factor, -2).repeat_interleave(self.factor, -1)
            covered = depth > 0
        self._write_frames(seg.frames.float(), depth, covered, seg.K.float(), seg.c2w.float(), seg.keep,
                           self.config.covered_confidence)


class NoMemoryBackend(MemoryBackend):
    """No memory: every read is empty, nothing is stored (the baseline without memory)."""

    name = "none"

    def __init__(self, channels: int):
        self.channels = int(channels)

    def start(self, photo: PhotoContext) -> None:
        return None

    def read(self, K_lat, c2w, hw):
        return empty_read(c2w.shape[0], self.channels, hw[0], hw[1], c2w.device)

    def write(self, seg: SegmentWrite) -> None:
        return None


def make_backend(kind: str, pipe, config: MemoryConfig | None = None, memory: Any = None) -> MemoryBackend:
    """The backend named ``kind`` (one of :data:`MEMORY_KINDS`) for pipeline ``pipe``.

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind == "latent":
        return LatentMemoryBackend(config, memory)
    if kind == "rgb":
        backend = RGBMemoryBackend(lambda x: pipe.encode_images(x), pipe.vae_scale_factor_spatial, config,
                                   pipe._execution_device)
        if memory is not None:  # continue from a stored cloud (resume)
            backend.memory.positions, backend.memory.colors = memory.positions, memory.colors
        return backend
    if kind == "none":
        return NoMemoryBackend(pipe.latent_channels)
    raise ValueError(f"memory must be one of {MEMORY_KINDS}, got {kind!r}")
