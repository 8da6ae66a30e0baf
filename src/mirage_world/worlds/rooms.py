"""Scenes from explicit geometry and the original random room.

:func:`make_scene` builds a :class:`~mirage_world.worlds.scene.Scene` from boxes, spheres and cylinders (and
optionally openings and moving objects) and draws its materials and lights from ``seed``. :func:`random_room` is
the original generator, a closed room with 3-8 objects: what :func:`~mirage_world.worlds.layouts.random_scene`
returns for its default ``kind="room"`` without photos.

Imports :mod:`~mirage_world.worlds.scene` and :mod:`~mirage_world.worlds.textures` (material draws).
"""

from __future__ import annotations

import numpy as np
import torch

from mirage_world.worlds.scene import MAX_OBJECTS_EXT, Scene, as_f32, check_seed
from mirage_world.worlds.textures import random_material

__all__ = ["make_scene", "random_room"]


def make_scene(
    room_min,
    room_max,
    boxes=(),
    spheres=(),
    cylinders=(),
    *,
    seed: int = 0,
    free_center=None,
    free_radius: float = 0.0,
    openings=(),
    dynamic=(),
) -> Scene:
    """Build a :class:`Scene` from explicit geometry; materials and lights are drawn from ``seed``.

    Args:
        room_min, room_max: 3-vectors, ``room_min < room_max`` componentwise (floor is ``room_max[1]``).
        boxes: iterable of ``(center(3), half(3), yaw_rad)``.
        spheres: iterable of ``(center(3), radius)``.
        cylinders: iterable of ``(center(3), radius, half_height)`` (vertical axis).
        seed: seed of materials and lights.
        free_center, free_radius: optional camera region (x, z) disc, stored for path generation.
        openings: iterable of ``(face_id, a0, a1, b0, b1)`` holes (see :class:`Scene`; face 1 or 2-5).
        dynamic: iterable of ``(kind, shape(4), motion(11))`` moving objects, ``kind`` in ``"box"``, ``"sphere"``,
            ``"cylinder"`` (see :class:`Scene`); their materials come from a separate stream of ``seed``.

    Raises:
        ValueError: non-finite values, an empty/inverted room, non-positive sizes, more than 250 objects (248 with
            openings or dynamic objects), a bad opening face or dynamic kind.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5CE7E]))
    rmin = as_f32(room_min, (3,))
    rmax = as_f32(room_max, (3,))
    if not (rmin < rmax).all():
        raise ValueError(f"room_min must be < room_max componentwise, got {rmin.tolist()} / {rmax.tolist()}")
    boxes, spheres, cylinders = list(boxes), list(spheres), list(cylinders)
    bc = as_f32([b[0] for b in boxes], (-1, 3))
    bh = as_f32([b[1] for b in boxes], (-1, 3))
    by = as_f32([b[2] for b in boxes], (-1,))
    sc = as_f32([s[0] for s in spheres], (-1, 3))
    sr = as_f32([s[1] for s in spheres], (-1,))
    cc = as_f32([c[0] for c in cylinders], (-1, 3))
    cr = as_f32([c[1] for c in cylinders], (-1,))
    chh = as_f32([c[2] for c in cylinders], (-1,))
    if (bh <= 0).any() or (sr <= 0).any() or (cr <= 0).any() or (chh <= 0).any():
        raise ValueError("object sizes must be positive")
    if len(boxes) + len(spheres) + len(cylinders) > 250:
        raise ValueError("at most 250 objects (instance ids are 6 + k < 256)")

    n_obj = len(boxes) + len(spheres) + len(cylinders)
    kinds = ["floor", "ceiling", "wall", "wall", "wall", "wall"] + ["object"] * n_obj
    types, pals, params = [], [], []
    for k in kinds:
        t, pal, prm = random_material(rng, k)
        types.append(t)
        pals.append(pal)
        params.append(prm)

    # Lights: a point light under the ceiling, an optional directional light, hemispheric ambient.
    lo, hi = rmin.double().numpy(), rmax.double().numpy()
    pp = np.array(
        [rng.uniform(lo[0] + 0.3 * (hi[0] - lo[0]), hi[0] - 0.3 * (hi[0] - lo[0])),
         lo[1] + rng.uniform(0.2, 0.5) * min(1.0, hi[1] - lo[1]),
         rng.uniform(lo[2] + 0.3 * (hi[2] - lo[2]), hi[2] - 0.3 * (hi[2] - lo[2]))]
    )
    if rng.random() < 0.6:
        az, el = rng.uniform(0, 2 * np.pi), rng.uniform(np.radians(20), np.radians(70))
        dl = np.array([np.cos(el) * np.sin(az), -np.sin(el), np.cos(el) * np.cos(az)])
        dp = rng.uniform(0.2, 0.55)
    else:
        dl, dp = np.array([0.0, -1.0, 0.0]), 0.0
    temp = rng.uniform(-1, 1)
    tint = np.array([1.0 + 0.08 * temp, 1.0, 1.0 - 0.10 * temp]) * rng.uniform(0.97, 1.03, 3)
    fc = np.zeros(2) if free_center is None else np.asarray(free_center, dtype=np.float64)
    if free_center is None:
        fc = 0.5 * (lo[[0, 2]] + hi[[0, 2]])
    ext = _extension_fields(seed, openings, dynamic, n_obj)
    if ext:
        types += ext.pop("_types")
        pals += ext.pop("_pals")
        params += ext.pop("_params")
    return Scene(
        room_min=rmin,
        room_max=rmax,
        box_center=bc,
        box_half=bh,
        box_yaw=by,
        sph_center=sc,
        sph_radius=sr,
        cyl_center=cc,
        cyl_radius=cr,
        cyl_half_height=chh,
        mat_type=torch.tensor(types, dtype=torch.int64),
        mat_colors=as_f32(np.stack(pals), (-1, 3, 3)),
        mat_params=as_f32(np.stack(params), (-1, 8)),
        ambient=float(rng.uniform(0.22, 0.42)),
        point_pos=as_f32(pp, (3,)),
        point_power=float(rng.uniform(0.6, 1.2)),
        dir_to_light=as_f32(dl, (3,)),
        dir_power=float(dp),
        tint=as_f32(tint, (3,)),
        exposure=float(rng.uniform(0.9, 1.2)),
        free_center=as_f32(fc, (2,)),
        free_radius=float(free_radius),
        seed=int(seed),
        **ext,
    )


_DYN_KINDS = ("box", "sphere", "cylinder")


def _extension_fields(seed, openings, dynamic, n_obj: int) -> dict:
    """Scene fields for :func:`make_scene`'s ``openings`` / ``dynamic`` (empty dict when both are empty)."""
    openings, dynamic = list(openings), list(dynamic)
    if not openings and not dynamic:
        return {}
    if n_obj + len(dynamic) > MAX_OBJECTS_EXT:
        raise ValueError(f"at most {MAX_OBJECTS_EXT} objects with openings or dynamic objects (ids 254, 255 reserved)")
    out: dict = {"_types": [], "_pals": [], "_params": []}
    if openings:
        op = as_f32(openings, (-1, 5))
        if not all(int(f) == f and int(f) in (1, 2, 3, 4, 5) for f in op[:, 0].tolist()):
            raise ValueError("opening faces must be 1 (ceiling) or 2-5 (walls)")
        out["openings"] = op
    if dynamic:
        kinds = []
        for d in dynamic:
            if d[0] not in _DYN_KINDS:
                raise ValueError(f"dynamic object kind must be one of {_DYN_KINDS}, got {d[0]!r}")
            kinds.append(_DYN_KINDS.index(d[0]))
        shape = as_f32([d[1] for d in dynamic], (-1, 4))
        motion = as_f32([d[2] for d in dynamic], (-1, 11))
        k = torch.tensor(kinds, dtype=torch.int64)
        need = torch.where(k == 0, shape[:, :3].amin(1), torch.where(k == 1, shape[:, 0], shape[:, :2].amin(1)))
        if (need <= 0).any():
            raise ValueError("dynamic object sizes must be positive")
        out.update(dyn_kind=k, dyn_shape=shape, dyn_motion=motion)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD7]))
        for _ in dynamic:
            t, pal, prm = random_material(rng, "object")
            out["_types"].append(t)
            out["_pals"].append(pal)
            out["_params"].append(prm)
    return out


def random_room(seed: int) -> Scene:
    """Deterministically generate a closed room with 3-8 objects resting on the floor (the original generator).

    The room is 4-9 m wide and deep, 2.5-3.5 m high, with the floor at ``y = eye height in [1.3, 1.7]`` so cameras
    at ``y ~ 0`` are at eye height. A disc of radius ``1.1 m`` around ``scene.free_center`` (at least 1.6 m from
    every wall) is kept free of objects so that camera paths have room to start; objects do not overlap each other.

    Args:
        seed: non-negative int; the same seed always gives the same scene (no global RNG is used).

    Raises:
        ValueError: if ``seed`` is not a non-negative int.
    """
    seed = check_seed(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6E0]))
    sx, sz = rng.uniform(4.0, 9.0, 2)
    h = rng.uniform(2.5, 3.5)
    eye = rng.uniform(1.3, 1.7)
    ox, oz = rng.uniform(-1.0, 1.0, 2)
    lo = np.array([ox - sx / 2, eye - h, oz - sz / 2])
    hi = np.array([ox + sx / 2, eye, oz + sz / 2])
    floor = hi[1]
    free_r = 1.1
    fc = np.array([rng.uniform(lo[0] + 1.6, hi[0] - 1.6), rng.uniform(lo[2] + 1.6, hi[2] - 1.6)])

    n_target = int(rng.integers(3, 9))
    placed: list[tuple[np.ndarray, float]] = []  # (xz centre, bounding radius)
    boxes, spheres, cylinders = [], [], []
    attempts = 0
    while len(placed) < n_target and attempts < 400:
        attempts += 1
        shrink = 1.0 if attempts < 200 else 0.6
        kind = rng.choice(3, p=[0.45, 0.25, 0.30])
        if kind == 0:
            half = np.array([rng.uniform(0.15, 0.75), rng.uniform(0.15, 1.0), rng.uniform(0.15, 0.75)]) * shrink
            yaw = 0.0 if rng.random() < 0.35 else rng.uniform(-np.pi / 4, np.pi / 4)
            rb = float(np.hypot(half[0], half[2]))
        elif kind == 1:
            r = rng.uniform(0.18, 0.6) * shrink
            rb = r
        else:
            r = rng.uniform(0.12, 0.5) * shrink
            hh = rng.uniform(0.15, 1.1) * shrink
            rb = r
        if 2 * rb + 0.1 > min(sx, sz):
            continue
        c = np.array([rng.uniform(lo[0] + rb + 0.02, hi[0] - rb - 0.02),
                      rng.uniform(lo[2] + rb + 0.02, hi[2] - rb - 0.02)])
        if np.hypot(*(c - fc)) < free_r + rb:
            continue
        if any(np.hypot(*(c - pc)) < pr + rb + 0.05 for pc, pr in placed):
            continue
        placed.append((c, rb))
        if kind == 0:
            boxes.append(((c[0], floor - half[1], c[1]), half, yaw))
        elif kind == 1:
            spheres.append(((c[0], floor - r, c[1]), r))
        else:
            cylinders.append(((c[0], floor - hh, c[1]), r, hh))
    return make_scene(lo, hi, boxes, spheres, cylinders, seed=seed, free_center=fc, free_radius=free_r)
