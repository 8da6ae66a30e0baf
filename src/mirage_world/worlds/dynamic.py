"""Moving (dynamic) objects: boxes, spheres and cylinders added to a scene so that they avoid a given camera path.

An object's centre follows ``base + a sin(w t + p) + b cos(w t + p)`` (an ellipse, or a segment), ``t`` being the
frame time passed to :func:`~mirage_world.worlds.render.render` (``Scene.dyn_*``, instance ids
``6 + n_objects + j``). Objects translate but do not rotate.

Imports :mod:`~mirage_world.worlds.scene`, :mod:`~mirage_world.worlds.textures` and
:mod:`~mirage_world.worlds.photos` (material draws).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from mirage_world.errors import InputError
from mirage_world.worlds.photos import photo_material
from mirage_world.worlds.scene import MAX_OBJECTS_EXT, Scene, as_f32
from mirage_world.worlds.textures import random_material

__all__ = ["MAX_DYNAMIC", "add_dynamic_objects"]

#: Largest number of dynamic objects :func:`add_dynamic_objects` accepts.
MAX_DYNAMIC = 8


def add_dynamic_objects(scene: Scene, n: int, seed: int, c2w, times=None, *, clearance: float = 0.45) -> Scene:
    """Add ``n`` moving primitives that avoid the walls, the static objects, each other and the camera path.

    Each object rests on the floor and moves periodically on an ellipse or back and forth on a segment (see
    ``Scene.dyn_motion``) at 0.015-0.06 m per frame indoors, up to 0.12 outdoors; 70 % of them are placed in front
    of the first camera so that they are seen. Along the whole clip (checked at the frame times and in between)
    their footprints keep 5 cm from walls, static objects and each other, and ``clearance`` metres (horizontal
    distance) from the camera centre of the same frame. An object that cannot be placed in 80 tries is left out,
    so the result may have fewer than ``n`` (check ``scene.n_dynamic``).

    Args:
        scene: a scene without dynamic objects.
        n: number of objects, ``0 <= n <= MAX_DYNAMIC``.
        seed: non-negative int.
        c2w: ``(T, 4, 4)`` camera path the objects must avoid (world coordinates).
        times: ``(T,)`` frame times of the poses (default ``0..T-1``).
        clearance: minimum horizontal distance (m) between a camera centre and an object's footprint.

    Returns:
        A new scene with ``dyn_*`` set and materials appended.

    Raises:
        InputError: bad ``n``, seed, path or times, or the scene already has dynamic objects.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_DYNAMIC:
        raise InputError(f"the number of dynamic objects must be an int in [0, {MAX_DYNAMIC}], got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    if scene.n_dynamic:
        raise InputError("the scene already has dynamic objects")
    c2w = torch.as_tensor(c2w).detach().double()
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4) or c2w.shape[0] < 1 or not torch.isfinite(c2w).all():
        raise InputError(f"c2w must be a finite (T, 4, 4) camera path, got shape {tuple(c2w.shape)}")
    T = c2w.shape[0]
    tt = np.arange(T, dtype=np.float64) if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
    if tt.shape != (T,) or not np.isfinite(tt).all():
        raise InputError(f"times must be {T} finite values")
    if n == 0:
        return scene
    if 6 + scene.n_objects + n > MAX_OBJECTS_EXT + 6:
        raise InputError("too many objects for instance ids")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(scene.seed), 0xD1A]))
    cams = c2w[:, [0, 2], 3].numpy()
    fwd = c2w[0, [0, 2], 2].numpy()
    fwd = fwd / max(np.linalg.norm(fwd), 1e-9)
    right = np.array([fwd[1], -fwd[0]])
    dense = np.linspace(tt.min(), tt.max(), max(4 * T, 8)) if T > 1 else tt
    lo, hi = scene.room_min.double().numpy(), scene.room_max.double().numpy()
    floor = scene.floor_y
    outdoor = scene.kind in ("courtyard", "street")
    kinds, shapes, motions, paths, radii = [], [], [], [], []
    for _ in range(n):
        for _attempt in range(80):
            k = int(rng.choice(3, p=[0.35, 0.35, 0.3]))
            if k == 0:
                half = rng.uniform([0.15, 0.15, 0.15], [0.45, 0.5, 0.45])
                shape = [half[0], half[1], half[2], rng.uniform(-np.pi, np.pi)]
                rb, hy = float(np.hypot(half[0], half[2])), half[1]
            elif k == 1:
                r = rng.uniform(0.15, 0.45)
                shape, rb, hy = [r, 0.0, 0.0, 0.0], r, r
            else:
                r, hh = rng.uniform(0.12, 0.35), rng.uniform(0.2, 0.8)
                shape, rb, hy = [r, hh, 0.0, 0.0], r, hh
            speed = rng.uniform(0.015, 0.12 if outdoor else 0.06)
            ang = rng.uniform(0, 2 * np.pi)
            e1 = np.array([np.cos(ang), np.sin(ang)])
            e2 = np.array([-e1[1], e1[0]])
            if rng.random() < 0.5:  # back and forth on a segment
                A = rng.uniform(0.4, 2.0)
                a, b, om = A * e1, np.zeros(2), speed / A
            else:  # ellipse
                A1, A2 = rng.uniform(0.4, 1.8, 2)
                a, b, om = A1 * e1, A2 * e2, speed / max(A1, A2)
            phase = rng.uniform(0, 2 * np.pi)
            if rng.random() < 0.7:
                dist = rng.uniform(1.2, 5.0)
                base = cams[0] + fwd * dist + right * rng.uniform(-0.5, 0.5) * dist
            else:
                base = rng.uniform(lo[[0, 2]], hi[[0, 2]])

            def centres(ts, base=base, a=a, b=b, om=om, phase=phase):
                th = om * ts + phase
                return base + np.outer(np.sin(th), a) + np.outer(np.cos(th), b)

            pd = centres(dense)
            if (scene.clearance(pd) < rb + 0.05).any():
                continue
            pf = centres(tt)
            if (np.linalg.norm(pf - cams, axis=1) < rb + clearance).any():
                continue
            if any((np.linalg.norm(pd - q, axis=1) < rb + rq + 0.05).any() for q, rq in zip(paths, radii)):
                continue
            kinds.append(k)
            shapes.append(shape)
            motions.append([base[0], floor - hy, base[1], a[0], 0.0, a[1], b[0], 0.0, b[1], om, phase])
            paths.append(pd)
            radii.append(rb)
            break
    if not kinds:
        return scene
    mats = [random_material(rng, "object") for _ in kinds]
    if scene.photos is not None:
        mats = [photo_material(rng, len(scene.photos), "object") if rng.random() < 0.3 else m for m in mats]
    return dataclasses.replace(
        scene,
        dyn_kind=torch.tensor(kinds, dtype=torch.int64),
        dyn_shape=as_f32(shapes, (-1, 4)),
        dyn_motion=as_f32(motions, (-1, 11)),
        mat_type=torch.cat([scene.mat_type, torch.tensor([m[0] for m in mats], dtype=torch.int64)]),
        mat_colors=torch.cat([scene.mat_colors, as_f32(np.stack([m[1] for m in mats]), (-1, 3, 3))]),
        mat_params=torch.cat([scene.mat_params, as_f32(np.stack([m[2] for m in mats]), (-1, 8))]),
    )
