"""Photo textures: load a folder of photos as square textures (:func:`load_texture_photos`) and give some surfaces
of a scene photo materials (:func:`apply_photos`).

A photo material has type ``"photo"`` (:data:`~mirage_world.worlds.textures.TEXTURE_TYPES`), ``p0`` = index into
``Scene.photos`` and ``p1`` = amount of tint towards palette colour 0; the photo is mapped with a mirrored repeat,
so the tiling has no seams (:func:`~mirage_world.worlds.textures.albedo`). Photo materials are drawn from their own
random streams, so a scene has the same geometry and lights with and without photos.

Imports :mod:`~mirage_world.worlds.scene` and :mod:`~mirage_world.worlds.textures`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.worlds.scene import Scene, as_f32
from mirage_world.worlds.textures import TEXTURE_TYPES, random_palette

__all__ = ["PHOTO_EXTENSIONS", "load_texture_photos", "check_photos", "photo_material", "apply_photos"]

#: Image files picked up by :func:`load_texture_photos`.
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".webp", ".tif", ".tiff")

_PHOTO_ID = TEXTURE_TYPES.index("photo")


def photo_material(rng: np.random.Generator, n_photos: int, kind: str) -> tuple[int, np.ndarray, np.ndarray]:
    """Draw a photo material ``(type, palette (3, 3), params (8,))`` showing one of ``n_photos`` photos on a surface
    of ``kind`` (``"floor"``, ``"ceiling"``, ``"wall"`` or ``"object"``: sets the scale and the rotation)."""
    pal = random_palette(rng)
    scale = rng.uniform(0.6, 2.5) if kind != "object" else rng.uniform(0.3, 1.2)
    rot = 0.0 if kind == "wall" else float(rng.uniform(0, 2 * np.pi))
    params = np.array([scale, rot, rng.uniform(0, 10), rng.uniform(0, 10), rng.integers(n_photos),
                       rng.uniform(0.0, 0.3), 0.0, 0.0])
    return _PHOTO_ID, pal, params


def check_photos(photos) -> Tensor | None:
    """Validate texture photos: ``None``, or a ``(P, 3, S, S)`` tensor in [0, 1] returned as float32 CPU contiguous.

    Raises:
        InputError: a malformed tensor or values outside [0, 1].
    """
    if photos is None:
        return None
    if not isinstance(photos, Tensor) or photos.ndim != 4 or photos.shape[1] != 3 or photos.shape[0] < 1:
        raise InputError("photos must be a (P, 3, S, S) float tensor in [0, 1] (see load_texture_photos)")
    photos = photos.detach().to("cpu", torch.float32).contiguous()
    if not torch.isfinite(photos).all() or photos.min() < 0 or photos.max() > 1:
        raise InputError("photos must hold finite values in [0, 1]")
    return photos


def apply_photos(scene: Scene, photos: Tensor, seed: int, first: int = 0) -> Scene:
    """Give some surfaces (ids >= ``first``, and the exterior ground) photo materials drawn from their own stream.

    A room face gets a photo with probability 0.35, an object with 0.3 and, in a scene with openings, the exterior
    ground with 0.3; ``photos`` (already checked by :func:`check_photos`) is stored in ``Scene.photos``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(0xF070 + first)]))
    mt = scene.mat_type.numpy().copy()
    mc = scene.mat_colors.double().numpy().copy()
    mp = scene.mat_params.double().numpy().copy()
    n = len(photos)
    for i in range(first, len(mt)):
        kind = "floor" if i == 0 else "ceiling" if i == 1 else "wall" if i < 6 else "object"
        if rng.random() < (0.35 if i < 6 else 0.3):
            mt[i], mc[i], mp[i] = photo_material(rng, n, kind)
    extra = {}
    if scene.has_exterior and first == 0 and rng.random() < 0.3:
        t, pal, prm = photo_material(rng, n, "floor")
        extra = {"ground_mat_type": t, "ground_colors": as_f32(pal, (3, 3)), "ground_params": as_f32(prm, (8,))}
    return dataclasses.replace(
        scene,
        mat_type=torch.as_tensor(mt, dtype=torch.int64),
        mat_colors=as_f32(mc, (-1, 3, 3)),
        mat_params=as_f32(mp, (-1, 8)),
        photos=photos,
        **extra,
    )


def load_texture_photos(folder, size: int = 128, max_photos: int = 64) -> Tensor:
    """Load a folder of photos as square textures.

    Files with an extension in :data:`PHOTO_EXTENSIONS` are read in sorted name order (at most ``max_photos``),
    centre-cropped to a square and resized to ``size x size`` (Pillow, Lanczos).

    Args:
        folder: directory of images.
        size: texture side in pixels (8..1024).
        max_photos: largest number of photos used (>= 1).

    Returns:
        ``(P, 3, size, size)`` float32 sRGB in [0, 1].

    Raises:
        InputError: folder missing / not a folder, no readable image in it, unreadable image, bad size.
    """
    from PIL import Image

    from mirage_world.io import load_image

    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 1024:
        raise InputError(f"texture size must be an int in [8, 1024], got {size!r}")
    if isinstance(max_photos, bool) or not isinstance(max_photos, (int, np.integer)) or max_photos < 1:
        raise InputError(f"max_photos must be an int >= 1, got {max_photos!r}")
    if not isinstance(folder, (str, os.PathLike)):
        raise InputError(f"texture folder must be a path, got {type(folder).__name__}")
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"texture folder not found or not a folder: {d}")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS)[:max_photos]
    if not files:
        raise InputError(f"no images ({', '.join(PHOTO_EXTENSIONS)}) in texture folder {d}")
    out = []
    for f in files:
        a = load_image(f)
        h, w = a.shape[:2]
        s = min(h, w)
        a = a[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        im = Image.fromarray(a).resize((size, size), Image.Resampling.LANCZOS)
        out.append(torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0).permute(2, 0, 1))
    return torch.stack(out).contiguous()
