"""The denoiser's memory conditioning and memory-guided sampling: one definition, used by the pipeline and the trainer.

Pure torch (no diffusers import). Latents here are normalised VAE latents ``(B, C, T, h, w)``; a memory read is
``latent (T, C, h, w)`` + ``mask (T, 1, h, w)`` (coverage in ``[0, 1]``) as returned by
:meth:`~mirage_world.memory.LatentSpatialMemory.read`.

* :func:`denoiser_input` -- the Mirage conditioning (paper Sec. 3.3): ``[noisy latent, warped latent, coverage]``
  along channels.
* :func:`per_token_timesteps` -- Wan2.2-TI2V's per-token timesteps: the first ``clean_frames`` latent frames are
  held clean (timestep 0), every other token has the sample's timestep.
* :func:`guide` -- training-free memory guidance (``--guidance replace``): covered tokens are pulled to the memory
  read noised to the current level, ``x_sigma = (1 - sigma) read + sigma noise`` (flow matching), weighted by coverage
  -- the RePaint (Lugmayr et al., CVPR 2022) replacement step, applied to a video model with warped views as in
  NVS-Solver (You et al., ICLR 2025).
* :func:`neighbour_fill` -- every uncovered latent pixel takes the latent of its nearest covered pixel, a start
  point for sampling that is closer to the scene than pure noise.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

__all__ = ["denoiser_input", "per_token_timesteps", "guide", "nearest_covered", "neighbour_fill", "fill_cracks",
           "GUIDANCE_MODES"]

#: ``none``: the denoiser sees the memory only through its input channels; ``replace``: plus RePaint-style guidance.
GUIDANCE_MODES = ("none", "replace")


def denoiser_input(
    latents: torch.Tensor,  # (B, C, T, h, w) noisy latents
    read_latent: torch.Tensor,  # (B, T, C, h, w) or (T, C, h, w) warped memory latents
    read_mask: torch.Tensor,  # (B, T, 1, h, w) or (T, 1, h, w) coverage
) -> torch.Tensor:
    """Concatenate noisy latents with the memory conditioning along channels.

    Returns:
        ``(B, 2C + 1, T, h, w)`` = ``[latents, warped latent, coverage]`` in the dtype of ``latents``.
    """
    B = latents.shape[0]
    cond = torch.cat([read_latent, read_mask], dim=-3)  # (..., T, C + 1, h, w)
    if cond.dim() == 4:
        cond = cond.unsqueeze(0).expand(B, -1, -1, -1, -1)
    cond = cond.permute(0, 2, 1, 3, 4).to(latents)  # (B, C + 1, T, h, w)
    return torch.cat([latents, cond], dim=1)


def per_token_timesteps(
    t: torch.Tensor,  # (B,) timesteps in [0, 1000]
    num_frames: int,
    height: int,
    width: int,
    patch_size: tuple[int, int, int],
    clean_frames: int = 1,
) -> torch.Tensor:
    """Per-token timesteps ``(B, num_tokens)`` for a latent video ``(T, h, w)`` patchified by ``(pt, ph, pw)``.

    Tokens of the first ``clean_frames`` latent frames get timestep 0 (held clean, Wan2.2-TI2V); the rest ``t``.
    """
    pt, ph, pw = patch_size
    per_frame = (height // ph) * (width // pw)
    ts = t.float().view(-1, 1).expand(-1, (num_frames // pt) * per_frame).clone()
    ts[:, : (clean_frames // pt) * per_frame] = 0
    return ts


def guide(
    latents: torch.Tensor,  # (B, C, T, h, w) current sample at noise level sigma
    read_latent: torch.Tensor,  # (T, C, h, w)
    read_mask: torch.Tensor,  # (T, 1, h, w) coverage in [0, 1]
    noise: torch.Tensor,  # (B, C, T, h, w) the noise the memory read is noised with
    sigma: float,
) -> torch.Tensor:
    """RePaint-style replacement in flow matching: ``m x_read + (1 - m) x`` with ``x_read = (1 - s) read + s noise``.

    ``m`` is the coverage; with ``m = 1`` everywhere and ``sigma = 0`` the result is the memory read itself.
    """
    read = read_latent.permute(1, 0, 2, 3).unsqueeze(0).to(latents)  # (1, C, T, h, w)
    m = read_mask.permute(1, 0, 2, 3).unsqueeze(0).to(latents)  # (1, 1, T, h, w)
    target = (1.0 - sigma) * read + sigma * noise
    return m * target + (1.0 - m) * latents


def nearest_covered(covered: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pixel of a ``(h, w)`` bool map with at least one covered pixel: the nearest covered pixel.

    Returns:
        ``dist (h, w)`` float64 Euclidean distance in pixels (0 where covered), ``iy, ix (h, w)`` int64 its row and
        column (scipy's exact distance transform).
    """
    dist, (iy, ix) = ndimage.distance_transform_edt(~covered, return_indices=True)
    return dist, iy.astype(np.int64), ix.astype(np.int64)


def neighbour_fill(
    read_latent: torch.Tensor,  # (T, C, h, w)
    read_mask: torch.Tensor,  # (T, 1, h, w)
    fallback: torch.Tensor | None = None,  # (C, h, w) for frames with no coverage
    threshold: float = 0.5,
) -> torch.Tensor:
    """``(T, C, h, w)``: each latent pixel with coverage below ``threshold`` takes its nearest covered pixel's latent.

    A frame with no covered pixel takes ``fallback`` (e.g. the last generated latent frame), or zeros.
    """
    out = read_latent.clone()
    covered = (read_mask[:, 0] >= threshold).cpu().numpy()
    for t in range(read_latent.shape[0]):
        m = covered[t]
        if m.all():
            continue
        if not m.any():
            out[t] = 0 if fallback is None else fallback.to(out)
            continue
        _, iy, ix = nearest_covered(m)
        out[t] = read_latent[t][:, torch.from_numpy(iy).to(out.device), torch.from_numpy(ix).to(out.device)]
    return out


def fill_cracks(
    read_latent: torch.Tensor,  # (T, C, h, w)
    read_mask: torch.Tensor,  # (T, 1, h, w)
    min_neighbours: int = 4,
    read_depth: torch.Tensor | None = None,  # (T, h, w)
) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Close the cracks a z-buffered point read leaves when the view magnifies (camera moving closer or turning).

    An uncovered latent pixel with at least ``min_neighbours`` covered pixels among its 8 neighbours takes their
    coverage-weighted mean latent and becomes covered (its coverage: the neighbours' mean coverage). Larger holes
    (disocclusions, the frame border) are left for the denoiser. One pass, no iteration.

    Returns:
        ``(latent (T, C, h, w), mask (T, 1, h, w))``, plus ``depth (T, h, w)`` (the neighbours' mean depth at a
        filled crack) when ``read_depth`` is given.
    """
    m = read_mask.float()
    covered = (m > 0).float()
    ones = torch.ones(1, 1, 3, 3, dtype=m.dtype, device=m.device)
    ones[0, 0, 1, 1] = 0
    count = torch.nn.functional.conv2d(covered, ones, padding=1)  # (T, 1, h, w) covered neighbours
    wsum = torch.nn.functional.conv2d(m, ones, padding=1)
    C = read_latent.shape[1]
    lat_sum = torch.nn.functional.conv2d((read_latent.float() * m).reshape(-1, 1, *m.shape[-2:]), ones, padding=1)
    lat_sum = lat_sum.reshape(read_latent.shape)
    crack = (covered == 0) & (count >= min_neighbours)  # (T, 1, h, w)
    mean = lat_sum / wsum.clamp_min(1e-6)
    latent = torch.where(crack.expand(-1, C, -1, -1), mean.to(read_latent.dtype), read_latent)
    mask = torch.where(crack, (wsum / count.clamp_min(1)).to(read_mask.dtype), read_mask)
    if read_depth is None:
        return latent, mask
    dsum = torch.nn.functional.conv2d((read_depth.float() * covered[:, 0]).unsqueeze(1), ones, padding=1)[:, 0]
    depth = torch.where(crack[:, 0], (dsum / count[:, 0].clamp_min(1)).to(read_depth.dtype), read_depth)
    return latent, mask, depth
