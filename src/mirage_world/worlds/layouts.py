"""Random scene layouts: the scene families (the original room, furnished rooms with windows and doorways,
courtyards and streets open to the sky) and the entry points :func:`random_scene` and :func:`generate_scene`.

Everything here builds :class:`~mirage_world.worlds.scene.Scene` objects for the renderer
(:mod:`mirage_world.worlds.render`) and uses their conventions (OpenCV axes, world up ``-y``, the floor is the plane
``y = room_max[1]`` at eye height above ``y = 0``, lengths in metres). Every generator is a pure function of its
arguments: randomness comes from ``numpy.random.default_rng(SeedSequence([seed, tag]))`` with a tag per purpose, so
adding a new option never changes what the existing ones draw.

Kinds (:data:`SCENE_KINDS`):

* ``"room"``: the original closed room of :func:`~mirage_world.worlds.rooms.random_room` (unchanged).
* ``"indoor"``: a 4-9 m room, 2.6-3.6 m high, with 1-3 windows and 0-2 doorways through which the exterior ground
  and the sky are seen, furnished with boxes, spheres, cylinders and composites of them (tables on four legs,
  stools, floor lamps, shelves, cabinets, sofas).
* ``"courtyard"``: 8-20 m square-ish yard enclosed by 4-12 m facades, no ceiling (sky), 0-2 arches in the walls;
  crates, benches, planters, pillars, trees (trunk + crown), bushes, fountains, lamp posts.
* ``"street"``: 7-14 m wide, 40-90 m long, facades of 6-18 m on both sides, open ends and 0-2 side alleys; cars,
  kiosks, lamp posts, bollards, trees, bushes mostly along the sidewalks.
* ``"outdoor"``: courtyard or street, ``"any"``: one of the four concrete kinds, drawn from the seed.

Photo textures (:mod:`~mirage_world.worlds.photos`) are applied on request; moving objects are added afterwards by
:mod:`~mirage_world.worlds.dynamic`, once the camera path is known.

Imports :mod:`~mirage_world.worlds.scene`, :mod:`~mirage_world.worlds.textures`, :mod:`~mirage_world.worlds.rooms`
and :mod:`~mirage_world.worlds.photos`.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math

import numpy as np
import torch

from mirage_world.errors import InputError
from mirage_world.geometry.rotations import rotate_y
from mirage_world.worlds.photos import apply_photos, check_photos
from mirage_world.worlds.rooms import make_scene, random_room
from mirage_world.worlds.scene import MAX_OBJECTS_EXT, Scene, as_f32, check_seed
from mirage_world.worlds.textures import random_material

__all__ = [
    "SCENE_KINDS",
    "CONCRETE_KINDS",
    "resolve_kind",
    "random_scene",
    "generate_scene",
]

#: Accepted values of ``kind``.
SCENE_KINDS = ("room", "indoor", "courtyard", "street", "outdoor", "any")
#: Kinds that name one generator.
CONCRETE_KINDS = ("room", "indoor", "courtyard", "street")

_WHOLE = 1.0e4  # opening bound meaning "the whole face"


def _rng(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(tag)]))


def resolve_kind(seed: int, kind: str) -> str:
    """The concrete kind (:data:`CONCRETE_KINDS`) that ``kind`` means for ``seed``.

    ``"outdoor"`` is courtyard or street (1:1), ``"any"`` is room 30 %, indoor 30 %, courtyard 20 %, street 20 %.

    Raises:
        InputError: unknown kind (the message lists :data:`SCENE_KINDS`).
    """
    if not isinstance(kind, str) or kind not in SCENE_KINDS:
        raise InputError(f"unknown scene kind {kind!r}; kinds: {', '.join(SCENE_KINDS)}")
    seed = check_seed(seed)
    if kind == "outdoor":
        return ("courtyard", "street")[int(_rng(seed, 0x0D7).integers(2))]
    if kind == "any":
        return CONCRETE_KINDS[int(_rng(seed, 0xA1B).choice(4, p=[0.3, 0.3, 0.2, 0.2]))]
    return kind


# ----------------------------------------------------------------------------------------------------------------
# object placement


class _Layout:
    """Collects primitives (boxes, spheres, cylinders) and groups of them that share a material."""

    def __init__(self):
        self.boxes: list = []
        self.spheres: list = []
        self.cylinders: list = []
        self.groups: list[list[tuple[str, int]]] = []

    def box(self, c, half, yaw=0.0) -> tuple[str, int]:
        self.boxes.append((tuple(float(v) for v in c), tuple(float(v) for v in half), float(yaw)))
        return ("b", len(self.boxes) - 1)

    def sphere(self, c, r) -> tuple[str, int]:
        self.spheres.append((tuple(float(v) for v in c), float(r)))
        return ("s", len(self.spheres) - 1)

    def cylinder(self, c, r, hh) -> tuple[str, int]:
        self.cylinders.append((tuple(float(v) for v in c), float(r), float(hh)))
        return ("c", len(self.cylinders) - 1)

    def instance_id(self, ref: tuple[str, int]) -> int:
        kind, k = ref
        off = {"b": 0, "s": len(self.boxes), "c": len(self.boxes) + len(self.spheres)}[kind]
        return 6 + off + k


def _furniture(rng: np.random.Generator, name: str, floor: float, height_cap: float):
    """A piece: returns ``(footprint radius, builder(layout, cx, cz, yaw) -> list of refs)``."""
    u = rng.uniform
    if name == "cabinet":
        h = np.array([u(0.2, 0.6), min(u(0.3, 1.0), height_cap / 2), u(0.2, 0.5)])
    elif name == "sofa":
        h = np.array([u(0.6, 1.0), u(0.2, 0.4), u(0.35, 0.5)])
    elif name == "shelf":
        h = np.array([u(0.35, 0.8), min(u(0.8, 1.1), height_cap / 2), u(0.14, 0.22)])
    elif name == "crate":
        s = u(0.2, 0.55)
        h = np.array([s, s * u(0.7, 1.0), s * u(0.8, 1.0)])
    elif name == "bench":
        h = np.array([u(0.6, 1.1), u(0.18, 0.25), u(0.18, 0.28)])
    elif name == "planter":
        h = np.array([u(0.35, 0.8), u(0.25, 0.5), u(0.35, 0.8)])
    elif name == "kiosk":
        h = np.array([u(0.8, 1.4), u(1.1, 1.5), u(0.8, 1.4)])
    elif name == "car":
        h = np.array([u(0.8, 0.95), u(0.55, 0.75), u(1.9, 2.4)])
    else:
        h = None
    if h is not None:
        def build(L: _Layout, cx, cz, yaw, h=h):
            refs = [L.box((cx, floor - h[1], cz), h, yaw)]
            if name == "car":  # cabin on top
                ch = np.array([h[0] * 0.85, u(0.25, 0.35), h[2] * u(0.45, 0.6)])
                ox, oz = rotate_y(0.0, h[2] * u(-0.2, 0.1), math.cos(yaw), math.sin(yaw))
                refs.append(L.box((cx + ox, floor - 2 * h[1] - ch[1], cz + oz), ch, yaw))
            return refs

        return float(np.hypot(h[0], h[2])), build
    if name == "table":
        hx, hz, top = u(0.4, 0.8), u(0.3, 0.6), min(u(0.7, 0.78), height_cap - 0.1)
        th, lr = u(0.02, 0.035), u(0.02, 0.04)
        inset = u(0.04, 0.08)

        def build(L: _Layout, cx, cz, yaw):
            refs = [L.box((cx, floor - top + th, cz), (hx, th, hz), yaw)]
            leg_hh = (top - 2 * th) / 2
            for sx in (-1, 1):
                for sz in (-1, 1):
                    ox, oz = rotate_y(sx * (hx - inset), sz * (hz - inset), math.cos(yaw), math.sin(yaw))
                    refs.append(L.cylinder((cx + ox, floor - leg_hh, cz + oz), lr, leg_hh))
            return refs

        return float(np.hypot(hx, hz)), build
    if name == "stool":
        r, top = u(0.14, 0.22), u(0.42, 0.65)

        def build(L: _Layout, cx, cz, yaw):
            seat = L.cylinder((cx, floor - top + 0.03, cz), r, 0.03)
            leg_hh = (top - 0.06) / 2
            return [seat, L.cylinder((cx, floor - leg_hh, cz), 0.035, leg_hh)]

        return r, build
    if name in ("lamp", "lamppost"):
        if name == "lamp":
            pole, pr, shade = min(u(1.2, 1.7), height_cap - 0.4), 0.02, u(0.13, 0.22)
        else:
            pole, pr, shade = min(u(2.8, 4.5), height_cap + 2.0), u(0.05, 0.09), u(0.15, 0.22)

        def build(L: _Layout, cx, cz, yaw):
            return [L.cylinder((cx, floor - pole / 2, cz), pr, pole / 2), L.sphere((cx, floor - pole - shade * 0.8, cz), shade)]

        return max(pr, shade), build
    if name == "tree":
        trunk, tr, crown = u(1.2, 2.2), u(0.08, 0.2), u(0.5, 1.1)

        def build(L: _Layout, cx, cz, yaw):
            return [L.cylinder((cx, floor - trunk / 2, cz), tr, trunk / 2), L.sphere((cx, floor - trunk - 0.6 * crown, cz), crown)]

        return crown, build
    if name in ("ball", "bush"):
        r = u(0.15, 0.5) if name == "ball" else u(0.3, 0.8)

        def build(L: _Layout, cx, cz, yaw):
            return [L.sphere((cx, floor - r * (1.0 if name == "ball" else 0.8), cz), r)]

        return r, build
    if name in ("vase", "pillar", "fountain", "bollard"):
        r, hh = {
            "vase": (u(0.1, 0.4), u(0.2, 0.9)),
            "pillar": (u(0.15, 0.4), min(u(1.0, 2.5), height_cap / 2)),
            "fountain": (u(0.8, 1.6), u(0.2, 0.4)),
            "bollard": (u(0.07, 0.12), u(0.35, 0.5)),
        }[name]

        def build(L: _Layout, cx, cz, yaw):
            return [L.cylinder((cx, floor - hh, cz), r, hh)]

        return r, build
    raise AssertionError(name)


_INDOOR_ITEMS = (("cabinet", 0.18), ("sofa", 0.1), ("shelf", 0.1), ("table", 0.16), ("stool", 0.09),
                 ("lamp", 0.07), ("ball", 0.1), ("vase", 0.12), ("crate", 0.08))
_COURT_ITEMS = (("crate", 0.15), ("bench", 0.13), ("planter", 0.12), ("pillar", 0.1), ("tree", 0.15),
                ("bush", 0.12), ("fountain", 0.05), ("lamppost", 0.1), ("ball", 0.08))
_STREET_ITEMS = (("car", 0.2), ("kiosk", 0.07), ("lamppost", 0.16), ("bollard", 0.12), ("tree", 0.15),
                 ("bush", 0.1), ("bench", 0.1), ("crate", 0.1))


def _place_items(rng, L: _Layout, catalogue, n_target, lo, hi, fc, free_r, height_cap, side_band=None):
    """Rejection-sample non-overlapping pieces inside ``[lo, hi]`` (x, z) away from the free disc.

    ``side_band``: optional width (m) of bands along the x walls where 70 % of the pieces go (sidewalks).
    Returns the list of ``(piece name, refs)`` placed.
    """
    names = [n for n, _ in catalogue]
    w = np.array([p for _, p in catalogue])
    floor = hi[1]
    placed: list[tuple[np.ndarray, float]] = []
    out = []
    attempts = 0
    while len(out) < n_target and attempts < 500:
        attempts += 1
        name = names[int(rng.choice(len(names), p=w / w.sum()))]
        rb, build = _furniture(rng, name, floor, height_cap)
        if 2 * rb + 0.2 > min(hi[0] - lo[0], hi[2] - lo[2]):
            continue
        if side_band is not None and rng.random() < 0.7:
            side = rng.integers(2)
            x0 = lo[0] + 0.15 + rb if side == 0 else hi[0] - side_band + rb
            x1 = lo[0] + side_band - rb if side == 0 else hi[0] - 0.15 - rb
            if x1 <= x0:
                continue
            c = np.array([rng.uniform(x0, x1), rng.uniform(lo[2] + rb + 0.1, hi[2] - rb - 0.1)])
            yaw = float(rng.choice([0.0, np.pi])) + rng.normal(0, 0.05) if name in ("car", "bench") else rng.uniform(-np.pi, np.pi)
        else:
            c = np.array([rng.uniform(lo[0] + rb + 0.05, hi[0] - rb - 0.05), rng.uniform(lo[2] + rb + 0.05, hi[2] - rb - 0.05)])
            yaw = 0.0 if rng.random() < 0.35 else rng.uniform(-np.pi / 4, np.pi / 4)
            if name == "shelf":  # against the nearest x wall, facing the room
                c[0] = lo[0] + rb + 0.03 if c[0] < 0.5 * (lo[0] + hi[0]) else hi[0] - rb - 0.03
                yaw = 0.5 * np.pi
        if np.hypot(*(c - fc)) < free_r + rb:
            continue
        if any(np.hypot(*(c - pc)) < pr + rb + 0.08 for pc, pr in placed):
            continue
        placed.append((c, rb))
        out.append((name, build(L, float(c[0]), float(c[1]), float(yaw))))
    return out


# ----------------------------------------------------------------------------------------------------------------
# openings, sky, lights, materials


def _wall_opening(face: int, h0: float, h1: float, y0: float, y1: float) -> list[float]:
    """Opening row for wall ``face`` (2, 3: x walls; 4, 5: z walls) spanning ``[h0, h1]`` along the wall and
    ``[y0, y1]`` vertically."""
    if face in (2, 3):
        return [face, y0, y1, h0, h1]  # (a, b) = (y, z)
    return [face, h0, h1, y0, y1]  # (a, b) = (x, y)


def _random_openings(rng, lo, hi, n_windows: int, n_doors: int, door_h: tuple, door_w: tuple, win_h: tuple) -> list:
    floor, ceil = hi[1], lo[1]
    rows: list = []
    used: dict[int, list[tuple[float, float]]] = {}
    for k in range(n_windows + n_doors):
        door = k >= n_windows
        for _ in range(30):
            face = int(rng.integers(2, 6))
            a_lo, a_hi = (lo[2], hi[2]) if face in (2, 3) else (lo[0], hi[0])
            L = a_hi - a_lo
            w = rng.uniform(*door_w) if door else rng.uniform(0.8, min(2.6, max(0.9, L - 0.8)))
            if w > L - 0.6:
                continue
            c = rng.uniform(a_lo + 0.3 + w / 2, a_hi - 0.3 - w / 2)
            h0, h1 = c - w / 2, c + w / 2
            if any(h0 < u1 + 0.25 and h1 > u0 - 0.25 for u0, u1 in used.get(face, [])):
                continue
            if door:
                h = min(rng.uniform(*door_h), (floor - ceil) - 0.25)
                y0, y1 = floor - h, floor + 1.0
            else:
                sill = rng.uniform(0.5, 1.1)
                h = min(rng.uniform(*win_h), (floor - ceil) - sill - 0.2)
                if h < 0.4:
                    continue
                y0, y1 = floor - sill - h, floor - sill
            used.setdefault(face, []).append((h0, h1))
            rows.append(_wall_opening(face, h0, h1, y0, y1))
            break
    return rows


def _random_sky(rng) -> dict:
    """Sky colours and parameters: clear (50 %), overcast (20 %) or dusk (30 %)."""
    style = int(rng.choice(3, p=[0.5, 0.2, 0.3]))
    if style == 0:
        zen = np.array(colorsys.hsv_to_rgb(rng.uniform(0.55, 0.64), rng.uniform(0.45, 0.75), rng.uniform(0.65, 0.9)))
        hor = zen + (np.ones(3) - zen) * rng.uniform(0.5, 0.8)
        cover, glow = rng.uniform(0.0, 0.6), rng.uniform(0.3, 0.9)
        tint = np.array([1.0, 1.0, 1.0]) * rng.uniform(0.97, 1.03, 3)
    elif style == 1:
        v = rng.uniform(0.6, 0.85)
        zen = np.array([v * 0.95, v * 0.97, v]) * rng.uniform(0.97, 1.03, 3)
        hor = zen + (np.ones(3) - zen) * rng.uniform(0.2, 0.5)
        cover, glow = rng.uniform(0.6, 0.9), rng.uniform(0.0, 0.2)
        tint = np.array([0.95, 0.97, 1.02])
    else:
        zen = np.array(colorsys.hsv_to_rgb(rng.uniform(0.6, 0.72), rng.uniform(0.35, 0.6), rng.uniform(0.4, 0.65)))
        hor = np.array(colorsys.hsv_to_rgb(rng.uniform(0.02, 0.1), rng.uniform(0.35, 0.7), rng.uniform(0.8, 0.95)))
        cover, glow = rng.uniform(0.0, 0.5), rng.uniform(0.6, 1.0)
        tint = np.array([1.1, 0.98, 0.85])
    return {
        "sky_zenith": as_f32(np.clip(zen, 0, 1), (3,)),
        "sky_horizon": as_f32(np.clip(hor, 0, 1), (3,)),
        "sky_params": as_f32([cover, rng.uniform(0.15, 0.6), glow, rng.uniform(0, 100)], (3 + 1,)),
        "tint": tint,
        "dusk": style == 2,
    }


def _sun_direction(rng, dusk: bool) -> np.ndarray:
    az = rng.uniform(0, 2 * np.pi)
    el = rng.uniform(np.radians(5), np.radians(18)) if dusk else rng.uniform(np.radians(20), np.radians(70))
    return np.array([np.cos(el) * np.sin(az), -np.sin(el), np.cos(el) * np.cos(az)])


def _set_material(mt: np.ndarray, mc: np.ndarray, mp: np.ndarray, i: int, m) -> None:
    mt[i], mc[i], mp[i] = m[0], m[1], m[2]


def _share_materials(scene: Scene, L: _Layout, pieces, rng) -> Scene:
    """Parts of one piece of furniture share the material of its first part with probability 0.6."""
    mt = scene.mat_type.clone()
    mc = scene.mat_colors.clone()
    mp = scene.mat_params.clone()
    for _, refs in pieces:
        if len(refs) > 1 and rng.random() < 0.6:
            i0 = L.instance_id(refs[0])
            for r in refs[1:]:
                i = L.instance_id(r)
                mt[i], mc[i], mp[i] = mt[i0], mc[i0], mp[i0]
    return dataclasses.replace(scene, mat_type=mt, mat_colors=mc, mat_params=mp)


# ----------------------------------------------------------------------------------------------------------------
# generators


def _finish(seed, kind, lo, hi, L, pieces, fc, free_r, openings, rng, outdoor: bool, ground_like_floor: bool) -> Scene:
    if len(L.boxes) + len(L.spheres) + len(L.cylinders) > MAX_OBJECTS_EXT:
        raise AssertionError("too many objects")
    scene = make_scene(lo, hi, L.boxes, L.spheres, L.cylinders, seed=seed, free_center=fc, free_radius=free_r)
    scene = _share_materials(scene, L, pieces, rng)
    sky = _random_sky(rng)
    mt = scene.mat_type.numpy().copy()
    mc = scene.mat_colors.double().numpy().copy()
    mp = scene.mat_params.double().numpy().copy()
    if outdoor:  # larger patterns: outdoor surfaces are seen from farther away
        _set_material(mt, mc, mp, 0, random_material(rng, "ground"))
        for i in range(2, 6):
            _set_material(mt, mc, mp, i, random_material(rng, "facade"))
        mp[:6, 0] *= rng.uniform(1.5, 3.0, 6)
    g = (mt[0], mc[0], mp[0]) if ground_like_floor else random_material(rng, "ground")
    if not ground_like_floor:
        g[2][0] *= rng.uniform(1.5, 3.0)
    sun = _sun_direction(rng, sky["dusk"])
    upd = dict(
        mat_type=torch.as_tensor(mt, dtype=torch.int64),
        mat_colors=as_f32(mc, (-1, 3, 3)),
        mat_params=as_f32(mp, (-1, 8)),
        openings=as_f32(np.asarray(openings, dtype=np.float64), (-1, 5)),
        sky_zenith=sky["sky_zenith"],
        sky_horizon=sky["sky_horizon"],
        sky_params=sky["sky_params"],
        ground_mat_type=int(g[0]),
        ground_colors=as_f32(g[1], (3, 3)),
        ground_params=as_f32(g[2], (8,)),
        kind=kind,
    )
    if outdoor:
        upd.update(
            ambient=float(rng.uniform(0.3, 0.5)),
            point_power=0.0,
            dir_to_light=as_f32(sun, (3,)),
            dir_power=float(rng.uniform(0.45, 0.85)),
            tint=as_f32(sky["tint"] * rng.uniform(0.97, 1.03, 3), (3,)),
            exposure=float(rng.uniform(0.95, 1.15)),
            fog_length=float(rng.uniform(60.0, 250.0)),
            fog_start=15.0,
        )
    else:
        if scene.dir_power == 0:  # the sun is only seen (glow) through the openings
            upd["dir_to_light"] = as_f32(sun, (3,))
        upd.update(fog_length=float(rng.uniform(150.0, 400.0)), fog_start=10.0)
    return dataclasses.replace(scene, **upd)


def _indoor(seed: int) -> Scene:
    rng = _rng(seed, 0x1D0)
    sx, sz = rng.uniform(4.0, 9.0, 2)
    h = rng.uniform(2.6, 3.6)
    eye = rng.uniform(1.3, 1.7)
    ox, oz = rng.uniform(-1.0, 1.0, 2)
    lo = np.array([ox - sx / 2, eye - h, oz - sz / 2])
    hi = np.array([ox + sx / 2, eye, oz + sz / 2])
    free_r = 1.1
    fc = np.array([rng.uniform(lo[0] + 1.6, hi[0] - 1.6), rng.uniform(lo[2] + 1.6, hi[2] - 1.6)])
    L = _Layout()
    pieces = _place_items(rng, L, _INDOOR_ITEMS, int(rng.integers(4, 11)), lo, hi, fc, free_r, h - 0.2)
    n_win = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    n_door = int(rng.choice([0, 1, 2], p=[0.35, 0.5, 0.15]))
    openings = _random_openings(rng, lo, hi, n_win, n_door, (1.95, 2.3), (0.8, 1.5), (0.9, 1.8))
    return _finish(seed, "indoor", lo, hi, L, pieces, fc, free_r, openings, rng, outdoor=False, ground_like_floor=False)


def _courtyard(seed: int) -> Scene:
    rng = _rng(seed, 0xC0A)
    sx, sz = rng.uniform(8.0, 20.0, 2)
    h = rng.uniform(4.0, 12.0)
    eye = rng.uniform(1.4, 1.8)
    ox, oz = rng.uniform(-2.0, 2.0, 2)
    lo = np.array([ox - sx / 2, eye - h, oz - sz / 2])
    hi = np.array([ox + sx / 2, eye, oz + sz / 2])
    free_r = 1.5
    fc = np.array([rng.uniform(lo[0] + 2.5, hi[0] - 2.5), rng.uniform(lo[2] + 2.5, hi[2] - 2.5)])
    L = _Layout()
    pieces = _place_items(rng, L, _COURT_ITEMS, int(rng.integers(5, 15)), lo, hi, fc, free_r, h - 0.5)
    openings = [[1, -_WHOLE, _WHOLE, -_WHOLE, _WHOLE]]  # no ceiling
    n_arch = int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))
    openings += _random_openings(rng, lo, hi, 0, n_arch, (2.6, min(4.0, h - 0.5)), (2.0, 4.0), (1.0, 1.0))
    return _finish(seed, "courtyard", lo, hi, L, pieces, fc, free_r, openings, rng, outdoor=True, ground_like_floor=False)


def _street(seed: int) -> Scene:
    rng = _rng(seed, 0x57E)
    sx, sz = rng.uniform(7.0, 14.0), rng.uniform(40.0, 90.0)
    h = rng.uniform(6.0, 18.0)
    eye = rng.uniform(1.4, 1.8)
    ox, oz = rng.uniform(-1.0, 1.0), rng.uniform(-5.0, 5.0)
    lo = np.array([ox - sx / 2, eye - h, oz - sz / 2])
    hi = np.array([ox + sx / 2, eye, oz + sz / 2])
    free_r = 1.3
    fc = np.array([ox + rng.uniform(-0.5, 0.5), rng.uniform(lo[2] + 0.3 * sz, hi[2] - 0.3 * sz)])
    L = _Layout()
    band = min(3.0, 0.5 * sx - free_r - 0.3)
    pieces = _place_items(rng, L, _STREET_ITEMS, int(rng.integers(10, 24)), lo, hi, fc, free_r, h - 0.5, side_band=band)
    openings = [[1, -_WHOLE, _WHOLE, -_WHOLE, _WHOLE], [4, -_WHOLE, _WHOLE, -_WHOLE, _WHOLE],
                [5, -_WHOLE, _WHOLE, -_WHOLE, _WHOLE]]  # sky and both street ends
    for _ in range(int(rng.choice([0, 1, 2], p=[0.4, 0.4, 0.2]))):  # side alleys, full height
        face = int(rng.integers(2, 4))
        w = rng.uniform(3.0, 6.0)
        c = rng.uniform(lo[2] + 5 + w / 2, hi[2] - 5 - w / 2)
        openings.append([face, -_WHOLE, _WHOLE, c - w / 2, c + w / 2])
    return _finish(seed, "street", lo, hi, L, pieces, fc, free_r, openings, rng, outdoor=True, ground_like_floor=True)


def random_scene(seed: int, kind: str = "room", *, photos=None) -> Scene:
    """Deterministically generate a random scene; by default a closed room with 3-8 objects resting on the floor.

    Room (``kind="room"``, the original generator :func:`~mirage_world.worlds.rooms.random_room`, unchanged):
    4-9 m wide and deep, 2.5-3.5 m high, floor at ``y = eye height in [1.3, 1.7]`` so cameras at ``y ~ 0`` are at
    eye height. A disc of radius ``1.1 m`` around ``scene.free_center`` (at least 1.6 m from every wall) is kept free
    of objects so that camera paths have room to start; objects do not overlap each other.

    Other kinds (see the module doc): ``"indoor"`` (a furnished room with windows and doorways showing the sky and
    the ground outside), ``"courtyard"`` and ``"street"`` (outdoor, open to the sky), ``"outdoor"`` (courtyard or
    street, drawn from the seed) and ``"any"`` (any of the four, drawn from the seed).

    Args:
        seed: non-negative int; the same arguments always give the same scene (no global RNG is used).
        kind: scene family, one of :data:`SCENE_KINDS`.
        photos: optional ``(P, 3, S, S)`` float tensor of texture photos in [0, 1] (see
            :func:`mirage_world.worlds.photos.load_texture_photos`); some surfaces then show photos.

    Raises:
        ValueError: if ``seed`` is not a non-negative int, ``kind`` is unknown or ``photos`` is malformed
            (:class:`~mirage_world.errors.InputError`).
    """
    seed = check_seed(seed)
    if kind != "room" or photos is not None:
        return generate_scene(seed, kind, photos=photos)
    return random_room(seed)


def generate_scene(seed: int, kind: str = "any", *, photos=None) -> Scene:
    """Generate a scene of a family (see module doc); deterministic in ``(seed, kind, photos)``.

    ``generate_scene(seed, "room")`` is exactly :func:`random_scene` ``(seed)``
    (:func:`~mirage_world.worlds.rooms.random_room`).

    Args:
        seed: non-negative int.
        kind: one of :data:`SCENE_KINDS`.
        photos: optional ``(P, 3, S, S)`` float tensor in [0, 1]
            (:func:`~mirage_world.worlds.photos.load_texture_photos`): about a third of the surfaces then get a photo
            texture (drawn from a separate random stream, so the geometry is the same as without photos).

    Returns:
        A :class:`~mirage_world.worlds.scene.Scene` whose ``kind`` is the concrete kind.

    Raises:
        InputError: bad seed, unknown kind, malformed photos.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative int, got {seed!r}")
    photos = check_photos(photos)
    k = resolve_kind(seed, kind)
    scene = {"room": random_room, "indoor": _indoor, "courtyard": _courtyard, "street": _street}[k](int(seed))
    if photos is not None:
        scene = apply_photos(scene, photos, int(seed))
    return scene
