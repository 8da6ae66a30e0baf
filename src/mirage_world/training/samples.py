"""One training sample of the adapter trainer, made with the pipeline's own functions (so training sees what
inference does); :mod:`mirage_world.training.train_adapter` runs the loop around it.

1. a window of ``1 + segment_frames x segments`` frames of a ``geometry.npz`` clip with a random crop
   (:class:`~mirage_world.training.data.ClipWindows`); one segment ``s`` of it is the target;
2. the memory: :func:`~mirage_world.pipelines.build_photo_memory` from frame 0 (its depth; pixels of the clip's
   sky / moving-object masks are not stored), then for every earlier segment a read at its latent-frame cameras
   (:func:`~mirage_world.pipelines.read_memory`) and the write-back of its latents
   (:func:`~mirage_world.pipelines.write_generated`, the clip's masks as ``keep``), as the pipeline writes a
   generated segment (:func:`memory_sample`);
3. the read of segment ``s`` at its latent-frame cameras (latent frame ``t`` at frame ``a + ft * t``), the same
   :func:`~mirage_world.pipelines.read_memory` as at inference; dropped (read and coverage zero) with probability
   ``memory_dropout`` (:func:`batch_samples`);
4. the rectified-flow loss (Wan's objective, :func:`flow_matching_loss`): ``x_s = (1 - s) z + s eps`` with ``s``
   uniform then shifted by the scheduler's shift, per-token timesteps with latent frame 0 held clean
   (:func:`~mirage_world.pipelines.per_token_timesteps`), input :func:`~mirage_world.pipelines.denoiser_input`, MSE
   to the velocity ``eps - z`` on latent frames ``>= 1``.

Everything random in a sample (segment, dropout, noise level, noise; the clip, window and crop come from
:class:`~mirage_world.training.data.ClipWindows`) is a function of the sample's seed, so a resumed run repeats the
interrupted one exactly.
"""

from __future__ import annotations

import torch

__all__ = ["memory_sample", "batch_samples", "flow_matching_loss"]


def memory_sample(pipe, item: dict, segment: int, segment_frames: int, memory_config):
    """Latents and memory read of one training segment, made with the pipeline's own functions.

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline` (its VAE encodes; its factors give the geometry).
        item: one sample of :class:`~mirage_world.training.data.ClipWindows` (unbatched tensors, any device):
            ``frames (F, H, W, 3)`` uint8, ``depth (H, W)``, ``keep (F, H, W)``, ``K (3, 3)``, ``c2w (F, 4, 4)``.
        segment: which segment of the window is the target (``0 <= segment``, ``F >= 1 + (segment + 1) *
            segment_frames``).
        segment_frames: new frames per segment.
        memory_config: :class:`~mirage_world.pipelines.MemoryConfig`.

    Returns:
        ``z (C, T, h, w)`` normalised latents of the segment (latent frame 0 = its first frame alone),
        ``read_latent (T, C, h, w)`` and ``read_mask (T, 1, h, w)`` (coverage) of the memory read.
    """
    from ..geometry.camera import rescale_intrinsics
    from ..memory.splat import MemoryRead
    from ..pipelines import build_photo_memory, read_memory, write_generated
    from ..pipelines.memory_io import pool_keep_to_grid

    f, ft = pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal
    device = pipe.vae.device
    frames = item["frames"].to(device)
    F, H, W = frames.shape[:3]
    if F < 1 + (segment + 1) * segment_frames:
        raise ValueError(f"a window of {F} frames has no segment {segment} of {segment_frames} frames")
    h, w = H // f, W // f
    K_lat = rescale_intrinsics(item["K"].double().cpu(), (H, W), (h, w)).float().to(device)
    c2w = item["c2w"].float().to(device)
    keep = item["keep"].to(device)
    T = segment_frames // ft + 1
    latents = []
    for s in range(segment + 1):
        a = s * segment_frames
        clip = frames[a : a + segment_frames + 1].permute(3, 0, 1, 2)[None].float() / 255  # (1, 3, 1 + seg, H, W)
        latents.append(pipe.encode_frames(clip)[0])  # (C, T, h, w)
    memory = build_photo_memory(latents[0][:, 0], item["depth"].float().to(device), K_lat, c2w[0], f,
                                memory_config, keep[0])
    for s in range(segment + 1):
        idx = [s * segment_frames + ft * t for t in range(T)]  # the camera of each latent frame
        read = read_memory(memory, K_lat, c2w[idx], (h, w))
        if s == segment:
            return latents[s], read.latent, read.mask
        keep_lat = torch.stack([pool_keep_to_grid(keep[i], f) for i in idx[1:]])  # (T - 1, h, w)
        write_generated(memory, latents[s][:, 1:].permute(1, 0, 2, 3),
                        MemoryRead(read.latent[1:], read.mask[1:], read.depth[1:]), K_lat, c2w[idx[1:]],
                        memory_config, keep=keep_lat)
    raise AssertionError("unreachable")


def batch_samples(pipe, batch: dict, segments: int, segment_frames: int, memory_dropout: float, memory_config):
    """The clean latents, memory reads, noise levels and noises of one batch of clip windows (:func:`memory_sample`
    per window; the random choices drawn from a generator seeded with the window's ``sample_seed``, in the order
    segment, dropout, noise level, noise).

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline`.
        batch: a collated batch of :class:`~mirage_world.training.data.ClipWindows` (``frames (B, F, H, W, 3)``,
            ``depth``, ``keep``, ``K``, ``c2w``, ``sample_seed (B,)``).
        segments: segments per window (the target segment is drawn uniformly from them).
        segment_frames: new frames per segment.
        memory_dropout: probability that a window's read is dropped (read and coverage zero).
        memory_config: :class:`~mirage_world.pipelines.MemoryConfig`.

    Returns:
        float32 tensors ``z (B, C, T, h, w)``, ``read_latent (B, T, C, h, w)``, ``read_mask (B, T, 1, h, w)``
        (these three on the VAE's device), ``u (B,)`` uniform in ``[0, 1)`` and ``noise (B, C, T, h, w)`` (on the
        CPU).
    """
    zs, reads, masks, us, noises = [], [], [], [], []
    for b in range(batch["frames"].shape[0]):
        g = torch.Generator().manual_seed(int(batch["sample_seed"][b]))
        segment = int(torch.randint(segments, (1,), generator=g))
        drop = bool(torch.rand(1, generator=g) < memory_dropout)
        us.append(torch.rand(1, generator=g))
        item = {k: v[b] for k, v in batch.items() if k in ("frames", "depth", "keep", "K", "c2w")}
        z, rl, rm = memory_sample(pipe, item, segment, segment_frames, memory_config)
        if drop:
            rl, rm = torch.zeros_like(rl), torch.zeros_like(rm)
        noises.append(torch.randn(z.shape, generator=g))
        zs.append(z.float())
        reads.append(rl.float())
        masks.append(rm.float())
    return torch.stack(zs), torch.stack(reads), torch.stack(masks), torch.cat(us), torch.stack(noises)


def flow_matching_loss(
    transformer,
    z: torch.Tensor,  # (B, C, T, h, w) clean normalised latents
    read_latent: torch.Tensor,  # (B, T, C, h, w)
    read_mask: torch.Tensor,  # (B, T, 1, h, w)
    context: torch.Tensor,  # (B, L, text_dim)
    u: torch.Tensor,  # (B,) uniform in [0, 1)
    noise: torch.Tensor,  # (B, C, T, h, w)
    shift: float,
) -> torch.Tensor:
    """Rectified-flow velocity MSE on latent frames ``>= 1`` (latent frame 0 held clean, timestep 0).

    ``s = shift u / (1 + (shift - 1) u)`` (Wan's shift), ``x = (1 - s) z + s noise``, target ``noise - z``;
    timestep ``1000 s`` per token (:func:`~mirage_world.pipelines.per_token_timesteps`); a transformer with
    ``2C + 1`` inputs gets :func:`~mirage_world.pipelines.denoiser_input`.

    Returns:
        the scalar mean loss (float32).
    """
    from ..pipelines import denoiser_input, per_token_timesteps

    B, C, T, h, w = z.shape
    s = shift * u / (1 + (shift - 1) * u)  # (B,)
    sv = s.view(B, 1, 1, 1, 1)
    x = (1 - sv) * z + sv * noise  # (B, C, T, h, w)
    x[:, :, 0] = z[:, :, 0]
    cfg = transformer.config if hasattr(transformer, "config") else transformer.module.config
    ts = per_token_timesteps(s * 1000, T, h, w, tuple(cfg.patch_size)).to(z.device)  # (B, tokens)
    inp = denoiser_input(x, read_latent, read_mask) if cfg.in_channels == 2 * C + 1 else x
    v = transformer(inp, timestep=ts, encoder_hidden_states=context, return_dict=False)[0]  # (B, C, T, h, w)
    return ((v.float() - (noise - z)) ** 2)[:, :, 1:].mean()
