"""Materials and procedural textures: the texture kinds, the random draw of a surface's material and the evaluation
of its albedo at surface coordinates (pure torch, independent of the output resolution).

A material is ``(type, palette, params)``: ``type`` indexes :data:`TEXTURE_TYPES`, ``palette`` is three sRGB colours
``(3, 3)`` in [0, 1] and ``params`` is ``[scale, rotation(rad), offset_u, offset_v, p0, p1, p2, p3]``, where the
meaning of ``p*`` depends on the type. :func:`random_material` draws them and :func:`albedo` reads them; both live
here so that the parameter layout is defined in one file. A scene stores its materials in ``Scene.mat_type``,
``Scene.mat_colors`` and ``Scene.mat_params``, one per instance id.

Palettes mix a list of natural material colours (woods, brick, concrete, plaster, sage, ...) with low-saturation
HSV draws and variants of them. Noise comes from four fixed periodic fBm tables built once per process from a fixed
:class:`torch.Generator` (:func:`noise`), so textures do not depend on the torch thread count.

Imports nothing from :mod:`mirage_world.worlds`; the scene builders (:mod:`~mirage_world.worlds.rooms`,
:mod:`~mirage_world.worlds.layouts`, :mod:`~mirage_world.worlds.photos`, :mod:`~mirage_world.worlds.dynamic`) use
the material draws, :mod:`~mirage_world.worlds.shading` uses :func:`albedo` and :func:`noise`.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "TEXTURE_TYPES",
    "random_palette",
    "random_material",
    "albedo",
    "noise",
    "clear_noise_cache",
]

#: Procedural texture kinds, indexed by ``Scene.mat_type``.
TEXTURE_TYPES = ("fbm", "marble", "bricks", "wood", "tiles", "stripes", "checker", "gradient", "plaster", "photo")


# ----------------------------------------------------------------------------------------------------------------
# Random materials
# ----------------------------------------------------------------------------------------------------------------

_NATURAL = np.array(
    [
        (0.55, 0.38, 0.22), (0.35, 0.22, 0.12), (0.76, 0.60, 0.42), (0.62, 0.28, 0.20), (0.80, 0.46, 0.30),
        (0.55, 0.55, 0.53), (0.88, 0.86, 0.80), (0.82, 0.74, 0.60), (0.55, 0.62, 0.50), (0.45, 0.45, 0.25),
        (0.20, 0.25, 0.40), (0.35, 0.40, 0.45), (0.85, 0.78, 0.60), (0.92, 0.92, 0.90), (0.14, 0.14, 0.14),
        (0.70, 0.16, 0.15), (0.80, 0.65, 0.22), (0.20, 0.50, 0.50), (0.55, 0.70, 0.85), (0.60, 0.30, 0.15),
        (0.93, 0.90, 0.84), (0.70, 0.70, 0.68), (0.40, 0.30, 0.25), (0.30, 0.35, 0.25),
    ],
    dtype=np.float64,
)

# Texture-type probabilities per surface kind (order of TEXTURE_TYPES).
_TEX_WEIGHTS = {
    #            fbm  marble bricks wood tiles stripes checker gradient plaster
    "floor": [0.14, 0.08, 0.05, 0.30, 0.20, 0.04, 0.09, 0.02, 0.08],
    "ceiling": [0.20, 0.02, 0.00, 0.10, 0.12, 0.02, 0.02, 0.17, 0.35],
    "wall": [0.14, 0.05, 0.16, 0.08, 0.09, 0.14, 0.04, 0.14, 0.16],
    "object": [0.14, 0.11, 0.09, 0.16, 0.10, 0.13, 0.10, 0.08, 0.09],
    # outdoor surfaces (used by mirage_world.worlds.layouts only)
    "ground": [0.30, 0.02, 0.15, 0.00, 0.25, 0.03, 0.05, 0.05, 0.15],
    "facade": [0.08, 0.04, 0.30, 0.02, 0.12, 0.10, 0.02, 0.07, 0.25],
}


def _random_color(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.55:
        c = _NATURAL[rng.integers(len(_NATURAL))] * rng.uniform(0.85, 1.12) + rng.normal(0, 0.03, 3)
    else:
        h = rng.random()
        s = min(rng.beta(1.6, 3.0), 0.85)
        v = rng.uniform(0.25, 0.95)
        c = np.array(colorsys.hsv_to_rgb(h, s, v))
    return np.clip(c, 0.03, 0.97)


def _shift_color(rng: np.random.Generator, c: np.ndarray, amount: float) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*np.clip(c, 0, 1))
    h = (h + rng.normal(0, 0.04 * amount)) % 1.0
    s = np.clip(s * rng.uniform(1 - 0.4 * amount, 1 + 0.3 * amount), 0, 0.9)
    v = np.clip(v * rng.uniform(1 - 0.55 * amount, 1 + 0.35 * amount), 0.04, 0.97)
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def random_palette(rng: np.random.Generator) -> np.ndarray:
    """Three natural-ish sRGB colours: a base, a variant of it, and either a further variant or a contrast."""
    c0 = _random_color(rng)
    c1 = _shift_color(rng, c0, rng.uniform(0.3, 1.0))
    c2 = _random_color(rng) if rng.random() < 0.4 else _shift_color(rng, c1, rng.uniform(0.3, 1.0))
    return np.clip(np.stack([c0, c1, c2]), 0.02, 0.98)


def random_material(rng: np.random.Generator, kind: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Draw a random material ``(type, palette (3, 3), params (8,))`` (float64 arrays) for a surface of ``kind``.

    ``kind`` is ``"floor"``, ``"ceiling"``, ``"wall"``, ``"object"`` or, for outdoor scenes, ``"ground"`` /
    ``"facade"``; it sets the probabilities of the texture types and the orientation of the pattern. Never draws
    ``"photo"`` (see :func:`~mirage_world.worlds.photos.photo_material`).
    """
    w = np.asarray(_TEX_WEIGHTS[kind], dtype=np.float64)
    t = int(rng.choice(len(w), p=w / w.sum()))
    name = TEXTURE_TYPES[t]
    pal = random_palette(rng)
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    if kind == "wall" and name in ("bricks", "wood", "tiles", "stripes", "checker"):
        rot = float(rng.choice([0.0, 0.5 * np.pi])) if name != "bricks" else 0.0
    elif kind == "floor":
        rot = float(rng.integers(4) * 0.5 * np.pi + rng.normal(0, 0.03))
    else:
        rot = float(rng.uniform(0, 2 * np.pi))
    off = rng.uniform(0, 200.0, 2)
    p = np.zeros(4)
    if name == "fbm":
        p[:] = [rng.choice([0, 2, 3]), rng.uniform(0.3, 2.5), rng.uniform(1.0, 2.5), 0.0]
        # noise channel, base frequency (cells/m), contrast, unused
    elif name == "marble":
        p[:] = [rng.uniform(1.0, 6.0), rng.uniform(1.0, 4.0), rng.uniform(0.5, 3.0), rng.uniform(1.0, 4.0)]
        # stripe frequency, warp strength, noise frequency, sharpness (> 2.5: squared profile)
    elif name == "bricks":
        bw = rng.uniform(0.18, 0.32)
        p[:] = [bw, bw * rng.uniform(0.28, 0.45), rng.uniform(0.006, 0.018), rng.uniform(0.3, 1.0)]
        # brick width, brick height, mortar, colour variation
        pal[2] = np.clip(rng.uniform(0.55, 0.85) + rng.normal(0, 0.03, 3), 0, 1)  # mortar greyish
    elif name == "wood":
        p[:] = [rng.uniform(0.08, 0.25), rng.uniform(15.0, 60.0), rng.uniform(0.6, 2.4), rng.uniform(0.6, 2.0)]
        # plank width, ring frequency (1/m), plank length, grain warp
        base = _NATURAL[rng.choice([0, 1, 2, 22, 12])] * rng.uniform(0.8, 1.15)
        if rng.random() < 0.7:
            pal[0] = np.clip(base, 0, 1)
            pal[1] = np.clip(base * rng.uniform(0.55, 0.8), 0, 1)
    elif name == "tiles":
        p[:] = [rng.uniform(0.12, 0.6), rng.uniform(0.003, 0.012), rng.uniform(0.0, 0.35), rng.integers(0, 2)]
        # tile size, grout width, per-tile variation, alternate colours (0/1)
    elif name == "stripes":
        p[:] = [rng.uniform(0.04, 0.5), rng.integers(2, 4), rng.uniform(0.0, 0.3), rng.uniform(0, 1)]
        # period, number of colours, edge softness, jitter
    elif name == "checker":
        p[:] = [rng.uniform(0.08, 0.6), rng.uniform(0.0, 0.2), 0.0, 0.0]  # square size, noise amount
    elif name == "gradient":
        p[:] = [rng.uniform(1.0, 6.0), rng.uniform(-2.0, 2.0), rng.uniform(0.0, 0.25), rng.uniform(0.3, 1.5)]
        # length, start, noise amount, noise frequency
    elif name == "plaster":
        p[:] = [rng.uniform(0.5, 6.0), rng.uniform(0.03, 0.15), rng.uniform(0.0, 1.0), 0.0]
        # noise frequency, mottling amplitude, mix towards colour 1
    params = np.array([scale, rot, off[0], off[1], *p], dtype=np.float64)
    return t, pal, params


# ----------------------------------------------------------------------------------------------------------------
# Procedural textures
# ----------------------------------------------------------------------------------------------------------------

_NOISE_RES = 512  # table pixels per period
_NOISE_PERIOD = 16  # base-octave lattice cells per period
_NOISE_CACHE: dict[str, Tensor] = {}
_LUT_N = 256


def _noise_tables() -> dict[str, Tensor]:
    """Fixed periodic fBm tables (built once, deterministic).

    ``"fbm"``: ``(1, 4, P+1, P+1)`` four independent fBm fields over one period of ``_NOISE_PERIOD`` base cells
    (channel 0: 5 octaves gain 0.5; 1: 3 octaves (smooth); 2: 5 octaves gain 0.65 (rough); 3: 4 octaves gain 0.5),
    each a sum of bicubic-interpolated random lattices, standardised and mapped to ~uniform [0, 1] by the
    Gaussian CDF; one wrapped row/column is appended for bilinear look-ups. ``"cell"``: ``(256*256,)`` uniform per-cell random values.
    """
    if not _NOISE_CACHE:
        g = torch.Generator().manual_seed(0x9E3779B9)
        P, L = _NOISE_RES, _NOISE_PERIOD

        def octave(n: int) -> Tensor:
            lat = torch.rand(1, 1, n, n, generator=g)
            pad = F.pad(lat, (2, 2, 2, 2), mode="circular")
            s = P // n
            up = F.interpolate(pad, scale_factor=s, mode="bicubic", align_corners=False)
            return up[0, 0, 2 * s:2 * s + P, 2 * s:2 * s + P]

        chans = []
        for n_oct, gain in ((5, 0.5), (3, 0.5), (5, 0.65), (4, 0.5)):
            acc = sum(gain**k * octave(L * 2**k) for k in range(n_oct))
            a64 = acc.double().numpy()  # numpy statistics: independent of the torch thread count
            z = (acc - float(a64.mean())) / float(a64.std(ddof=1))
            chans.append(0.5 * (1 + torch.erf(z / math.sqrt(2))))
        tab = torch.stack(chans)[None]  # (1,4,P,P)
        tab = torch.cat([tab, tab[:, :, :1]], 2)
        tab = torch.cat([tab, tab[:, :, :, :1]], 3)
        _NOISE_CACHE["fbm"] = tab.contiguous()
        _NOISE_CACHE["cell"] = torch.rand(256 * 256, generator=g)
    return _NOISE_CACHE


def noise(*coords: tuple[Tensor, Tensor]) -> Tensor:
    """Sample the four fBm channels at ``G`` coordinate sets ``(u, v)`` (same shape ``S`` each, base-cell units).

    Returns ``(4, G, *S)`` values in [0, 1] (continuous, periodic with period ``_NOISE_PERIOD`` cells).
    """
    tab = _noise_tables()["fbm"]
    shape = coords[0][0].shape
    grid = torch.stack([torch.stack(c, -1).reshape(-1, 2) for c in coords], 0)  # (G,M,2)
    grid = torch.remainder(grid, float(_NOISE_PERIOD)).mul_(2.0 / _NOISE_PERIOD).sub_(1.0)
    out = F.grid_sample(tab, grid[None], mode="bilinear", padding_mode="border", align_corners=True)[0]
    return out.view(4, len(coords), *shape)


def _cell_rand(iu: Tensor, iv: Tensor, salt: float = 0.0) -> Tensor:
    """Deterministic uniform value per integer cell ``(iu, iv)`` (float tensors holding integers)."""
    tab = _noise_tables()["cell"]
    h = torch.remainder(iu * 7919.0 + iv * 104729.0 + salt * 1237.0 + 17.0, 65536.0)
    return tab[h.long()]


def _lut(c0: Tensor, c1: Tensor, c2: Tensor | None = None) -> Tensor:
    """``(_LUT_N, 3)`` colour ramp c0 -> c1 (-> c2)."""
    x = torch.linspace(0, 1, _LUT_N)[:, None]
    if c2 is None:
        return c0 + x * (c1 - c0)
    x2 = 2 * x
    return torch.where(x2 <= 1, c0 + x2 * (c1 - c0), c1 + (x2 - 1) * (c2 - c1))


def _look(lut: Tensor, t: Tensor) -> Tensor:
    """Colour ramp look-up, ``t`` ``(M,)`` in [0, 1] -> ``(M, 3)``."""
    return lut[(t * (_LUT_N - 1) + 0.5).clamp_(0, _LUT_N - 1).long()]


def _photo_albedo(photo: Tensor, u: Tensor, v: Tensor, tint: Tensor, amount: float) -> Tensor:
    """Sample a ``(3, S, S)`` photo at texture coordinates ``(u, v)`` (one photo per unit, mirrored repeat, so the
    tiling has no seams), bilinearly; optionally tinted towards ``tint`` by ``amount``. Returns ``(..., 3)``."""
    shape = u.shape
    gu = 1.0 - (torch.remainder(u, 2.0) - 1.0).abs()  # triangle wave in [0, 1]
    gv = 1.0 - (torch.remainder(v, 2.0) - 1.0).abs()
    grid = torch.stack([gu, gv], -1).reshape(1, 1, -1, 2).mul(2.0).sub(1.0)
    col = F.grid_sample(photo[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    col = col[0, :, 0].transpose(0, 1).reshape(*shape, 3)
    if amount > 0:
        col = col * ((1 - amount) + amount * tint)
    return col


def albedo(mtype: int, pal: Tensor, prm: list[float], uu: Tensor, vv: Tensor, photos: Tensor | None = None) -> Tensor:
    """Procedural sRGB albedo ``(..., 3)`` of one material at surface coordinates ``(uu, vv)`` in metres.

    The surface coordinates are rotated by ``prm[1]``, divided by the scale ``prm[0]`` and offset by
    ``prm[2:4]`` before the pattern is evaluated; a low-amplitude multiplicative fBm "grain" is added to all kinds.
    ``"photo"`` materials map ``photos[int(p0)]`` (``p1``: amount of tint towards palette colour 0).
    """
    scale, rot, ou, ov, p0, p1, p2, p3 = prm
    cr, sr = math.cos(rot) / scale, math.sin(rot) / scale
    u = uu * cr - vv * sr + ou
    v = uu * sr + vv * cr + ov
    name = TEXTURE_TYPES[mtype]
    grain_amp = 0.05
    gset = (u * 9.0, v * 9.0)
    if name == "photo":
        if photos is None or not 0 <= int(p0) < photos.shape[0]:
            raise ValueError("a 'photo' material needs scene.photos with that index")
        return _photo_albedo(photos[int(p0)], u, v, pal[0], p1)
    if name == "fbm":
        nz = noise((u * p1, v * p1), gset)
        n = nz[int(p0), 0]
        col = _look(_lut(pal[0], pal[1], pal[2]), (n - 0.5) * p2 + 0.5)
        grain = nz[1, 1]
    elif name == "marble":
        nz = noise((u * p2, v * p2), gset)
        s = torch.sin(u * (p0 * math.pi) + nz[2, 0] * (p1 * 6.0)).mul_(0.5).add_(0.5)
        if p3 > 2.5:
            s = s * s
        col = _look(_lut(pal[0], pal[1], pal[2]), s * 0.7 + 0.15)
        grain = nz[1, 1]
    elif name == "bricks":
        bw, bh, mort, var = p0, p1, p2, p3
        row = torch.floor(v * (1.0 / bh))
        u2 = u + torch.remainder(row, 2.0) * (0.5 * bw)
        ci = torch.floor(u2 * (1.0 / bw))
        fu = u2 - ci * bw
        fv = v - row * bh
        nz = noise((u * 3.0, v * 3.0), gset)
        r = _cell_rand(ci, row, 1.0)
        t = r * (var * 0.8) + nz[0, 0] * 0.2
        col = _look(_lut(pal[0], pal[1]), t)
        is_m = (fu < mort) | (fv < mort)
        col = torch.where(is_m[..., None], pal[2], col)
        grain = nz[3, 1]
    elif name == "wood":
        pw, ring_f, plen, warp = p0, p1, p2, p3
        k = torch.floor(v * (1.0 / pw))
        shift = _cell_rand(k, k, 3.0) * plen
        us = u + shift
        seg = torch.floor(us * (1.0 / plen))
        fv = v - k * pw
        fu = us - seg * plen
        r = _cell_rand(seg, k, 4.0)
        nz = noise((us * 0.4, v * 6.0), (u * 0.8, v * 40.0))
        g = (fv + r * pw + nz[0, 0] * (warp * 0.04)) * ring_f
        ring = torch.cos(g * (2 * math.pi)).add_(1.0).mul_(0.5)
        ring = ring * ring
        t = (ring * 0.55 + nz[2, 1] * 0.45) * (r * 0.5 + 0.75)
        col = _look(_lut(pal[0], pal[1]), t)
        seam = (fv < 0.003) | (fu < 0.003)
        col = torch.where(seam[..., None], col * 0.55, col)
        grain_amp = 0.0
        grain = None
    elif name == "tiles":
        ts, grout, var, alt = p0, p1, p2, p3
        iu, iv = torch.floor(u * (1.0 / ts)), torch.floor(v * (1.0 / ts))
        fu, fv = u - iu * ts, v - iv * ts
        r = _cell_rand(iu, iv, 7.0)
        if alt > 0.5:
            t = torch.remainder(iu + iv, 2.0) * 0.85 + r * var
        else:
            t = r * (var * 2.0)
        col = _look(_lut(pal[0], pal[1]), t)
        is_g = (fu < grout) | (fv < grout)
        col = torch.where(is_g[..., None], pal[2], col)
        grain = noise(gset)[1, 0]
    elif name == "stripes":
        period, ncol, soft, jit = p0, int(p1), p2, p3
        nz = noise((u * 0.7, v * 0.7), gset)
        x = u * (1.0 / period) + nz[1, 0] * (jit * 0.6)
        k = torch.floor(x)
        idx = torch.remainder(k, float(ncol)).long()
        col = pal[idx]
        if soft > 0.01:
            w = ((x - k - (1 - soft)) * (1.0 / soft)).clamp_(0, 1)
            cb = pal[torch.remainder(k + 1, float(ncol)).long()]
            col = col + w[..., None] * (cb - col)
        grain = nz[3, 1]
    elif name == "checker":
        s, namt = p0, p1
        t = torch.remainder(torch.floor(u * (1.0 / s)) + torch.floor(v * (1.0 / s)), 2.0)
        nz = noise((u * 2.0, v * 2.0), gset)
        col = _look(_lut(pal[0], pal[2]), t * (1 - namt) + nz[0, 0] * namt)
        grain = nz[1, 1]
    elif name == "gradient":
        length, start, namt, nf = p0, p1, p2, p3
        t = ((uu * math.sin(rot) + vv * math.cos(rot)) - start) * (1.0 / length)
        nz = noise((u * nf, v * nf), gset)
        col = _look(_lut(pal[0], pal[1]), t + (nz[0, 0] - 0.5) * (2 * namt))
        grain = nz[1, 1]
    else:  # plaster
        nf, amp, mix = p0, p1, p2
        nz = noise((u * nf, v * nf))
        base = pal[0] + mix * 0.3 * (pal[1] - pal[0])
        col = base * (nz[0, 0] * (2 * amp) + (1 - amp))[..., None]
        grain_amp = 0.0
        grain = None
    if grain is not None and grain_amp > 0:
        col = col * (grain * (2 * grain_amp) + (1 - grain_amp))[..., None]
    return col


def clear_noise_cache() -> None:
    """Drop the fBm noise tables, so that the next :func:`noise` call builds them again (the tests use it to check
    that the tables do not depend on the torch thread count)."""
    _NOISE_CACHE.clear()
