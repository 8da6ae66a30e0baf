"""Synthetic still images and clips with natural-image statistics, for training the tiny VAE.

The dead-leaves model (Lee, Mumford & Huang 2001) -- occluding random shapes with a power-law size distribution --
reproduces the scale invariance and edge statistics of natural photographs, which is why it is a standard source
of training images for models that must generalise to real photos. Leaves here are filled with smooth gradients
and band-limited noise so the VAE also learns texture, and clips pan/zoom across a canvas so its temporal layers
see motion.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["dead_leaves", "dead_leaves_clip"]


def _noise_field(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Smooth value noise in [-1, 1], ``(h, w)``, feature size ``scale`` pixels."""
    gh, gw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    g = torch.from_numpy(rng.uniform(-1, 1, size=(1, 1, gh, gw)).astype(np.float32))
    return F.interpolate(g, size=(h, w), mode="bicubic", align_corners=False)[0, 0].clamp(-1, 1).numpy()


def dead_leaves(seed: int, height: int, width: int, n_leaves: int = 300) -> np.ndarray:
    """One dead-leaves RGB image ``(H, W, 3)`` float32 in ``[0, 1]``, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    filled = np.zeros((height, width), bool)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rmin, rmax = 2.0, 0.6 * max(height, width)
    base = rng.uniform(0, 1, 3)
    for _ in range(n_leaves):
        # radius ~ r^-3 density (scale invariant), sampled by inverse CDF
        u = rng.uniform()
        r = 1.0 / np.sqrt(u / rmin**2 + (1 - u) / rmax**2)
        cx, cy = rng.uniform(-r, width + r), rng.uniform(-r, height + r)
        kind = rng.integers(3)
        if kind == 0:
            m = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        elif kind == 1:
            a = rng.uniform(0, np.pi)
            dx, dy = xx - cx, yy - cy
            rx = np.abs(dx * np.cos(a) + dy * np.sin(a))
            ry = np.abs(-dx * np.sin(a) + dy * np.cos(a))
            m = (rx < r) & (ry < r * rng.uniform(0.2, 1.0))
        else:
            m = np.abs(xx - cx) + np.abs(yy - cy) < r
        m &= ~filled
        if not m.any():
            continue
        col = np.clip(base + rng.normal(0, 0.35, 3), 0, 1) if rng.uniform() < 0.5 else rng.uniform(0, 1, 3)
        col = col.astype(np.float32)
        g = rng.normal(0, 0.3, 2).astype(np.float32) / max(r, 1.0)
        shade = 1 + (xx[m] - cx) * g[0] + (yy[m] - cy) * g[1]
        val = col[None, :] * shade[:, None]
        if rng.uniform() < 0.5:
            amp = rng.uniform(0.05, 0.3)
            nz = _noise_field(rng, height, width, rng.uniform(1.5, 12.0))[m]
            val = val + amp * nz[:, None] * rng.uniform(0.5, 1.0, 3)[None].astype(np.float32)
        img[m] = val
        filled |= m
        if filled.all():
            break
    img[~filled] = base.astype(np.float32)
    if rng.uniform() < 0.5:  # mild blur, as in defocused photos
        t = torch.from_numpy(img).permute(2, 0, 1)[None]
        k = rng.choice([3, 5])
        t = F.avg_pool2d(F.pad(t, (k // 2,) * 4, mode="replicate"), k, stride=1)
        img = t[0].permute(1, 2, 0).numpy()
    return np.clip(img, 0, 1).astype(np.float32)


def dead_leaves_clip(seed: int, n_frames: int, height: int, width: int) -> np.ndarray:
    """A clip ``(T, H, W, 3)`` float32 in ``[0, 1]`` that pans and zooms smoothly across one dead-leaves canvas."""
    rng = np.random.default_rng(seed + 7919)
    canvas = dead_leaves(seed, 2 * height, 2 * width)
    t = torch.from_numpy(canvas).permute(2, 0, 1)[None]
    s0, s1 = rng.uniform(0.45, 0.6, 2)
    x0, y0 = rng.uniform(-0.3, 0.3, 2)
    vx, vy = rng.uniform(-0.25, 0.25, 2)
    frames = []
    for i in range(n_frames):
        a = i / max(n_frames - 1, 1)
        s = s0 + (s1 - s0) * a
        theta = torch.tensor([[s, 0, x0 + vx * a], [0, s, y0 + vy * a]], dtype=torch.float32)[None]
        grid = F.affine_grid(theta, (1, 3, height, width), align_corners=False)
        frames.append(F.grid_sample(t, grid, mode="bilinear", padding_mode="reflection", align_corners=False)[0])
    return torch.stack(frames).permute(0, 2, 3, 1).clamp(0, 1).numpy()
