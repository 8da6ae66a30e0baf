"""Vectorised analytic ray casting of a :class:`~mirage_world.worlds.scene.Scene` (pure torch, CPU friendly).

Rays are ``o[f] + t d[f]`` with unnormalised directions of camera z = 1, so the ray parameter ``t`` *is* the
z-depth. The room is a slab-exit test on all rays; with openings, rays whose exit point lies in an opening continue
to the exterior ground or the sky (:data:`~mirage_world.worlds.scene.SKY_DEPTH`). For each object, the convex box
enclosing it is clipped to the near plane and projected to get a conservative ray-grid *window*
(:func:`surface_windows`, unioned over the frames of a chunk by :func:`union_windows`); the analytic intersection
(rotated-box slab test, sphere quadratic, cylinder side plus top cap) runs only inside that window (:func:`trace`).

Objects are passed around as tuples (:func:`object_list`, :func:`dynamic_objects`): ``("box", centre, half,
cos(yaw), sin(yaw))``, ``("sphere", centre, radius)`` and ``("cylinder", centre, radius, half_height)``, where
``centre`` is a list of 3 floats, or an ``(F, 3)`` tensor (one centre per frame) for a dynamic object.
:mod:`~mirage_world.worlds.shading` reads the same tuples.

Imports :mod:`~mirage_world.worlds.scene` only (and :mod:`mirage_world.geometry`: yaw rotations, projection).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mirage_world.geometry.camera import project_camera_points
from mirage_world.geometry.rotations import rotate_y, unrotate_y
from mirage_world.worlds.scene import GROUND_ID, GROUND_MAX_DEPTH, SKY_DEPTH, SKY_ID, Scene

__all__ = [
    "object_list",
    "dynamic_objects",
    "surface_windows",
    "union_windows",
    "trace",
    "camera_inside_dynamic",
]

_EPS_T = 1e-4  # minimum ray parameter accepted as a hit (rays are unnormalised, t = z-depth)
_INF = float("inf")

# Face instance id by (axis, direction sign >= 0): x-:2, x+:3, y-:1 (ceiling), y+:0 (floor), z-:4, z+:5.
_FACE_ID = ((2, 3), (1, 0), (4, 5))
_U8 = [torch.tensor(i, dtype=torch.uint8) for i in range(6)]


def object_list(scene: Scene) -> list[tuple]:
    """Per-object Python-scalar parameters in instance order: ``(kind, params...)``."""
    objs = []
    for c, h, yaw in zip(scene.box_center.tolist(), scene.box_half.tolist(), scene.box_yaw.tolist()):
        objs.append(("box", c, h, math.cos(yaw), math.sin(yaw)))
    for c, r in zip(scene.sph_center.tolist(), scene.sph_radius.tolist()):
        objs.append(("sphere", c, r))
    for c, r, hh in zip(scene.cyl_center.tolist(), scene.cyl_radius.tolist(), scene.cyl_half_height.tolist()):
        objs.append(("cylinder", c, r, hh))
    return objs


_BOX_EDGES = torch.tensor(
    [[0, 1], [2, 3], [4, 5], [6, 7], [0, 2], [1, 3], [4, 6], [5, 7], [0, 4], [1, 5], [2, 6], [3, 7]]
)
_QUAD_EDGES = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0]])


def _object_corners(scene: Scene) -> Tensor:
    """``(n_objects, 8, 3)`` corners of a world-space convex box enclosing each object (cartesian-product order)."""
    sx = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    sgn = torch.cartesian_prod(sx, sx, sx)  # (8,3)
    out = []
    if scene.n_boxes:
        loc = scene.box_half.double()[:, None, :] * sgn  # (nb,8,3) in box frame
        yaw = scene.box_yaw.double()
        wx, wz = rotate_y(loc[..., 0], loc[..., 2], torch.cos(yaw)[:, None], torch.sin(yaw)[:, None])
        out.append(torch.stack([wx, loc[..., 1], wz], -1) + scene.box_center.double()[:, None, :])
    if scene.n_spheres:
        out.append(scene.sph_center.double()[:, None, :] + scene.sph_radius.double()[:, None, None] * sgn)
    if scene.n_cylinders:
        ext = torch.stack([scene.cyl_radius, scene.cyl_half_height, scene.cyl_radius], -1).double()
        out.append(scene.cyl_center.double()[:, None, :] + ext[:, None, :] * sgn)
    if not out:
        return torch.zeros(0, 8, 3, dtype=torch.float64)
    return torch.cat(out, 0)


def _room_face_corners(scene: Scene) -> Tensor:
    """``(6, 4, 3)`` corners of the six room faces in instance order, listed around each rectangle."""
    lo, hi = scene.room_min.double(), scene.room_max.double()
    out = []
    for ax, val in ((1, hi[1]), (1, lo[1]), (0, lo[0]), (0, hi[0]), (2, lo[2]), (2, hi[2])):
        a1, a2 = [i for i in range(3) if i != ax]
        quad = []
        for s1, s2 in ((0, 0), (1, 0), (1, 1), (0, 1)):
            q = torch.zeros(3, dtype=torch.float64)
            q[ax] = val
            q[a1] = hi[a1] if s1 else lo[a1]
            q[a2] = hi[a2] if s2 else lo[a2]
            quad.append(q)
        out.append(torch.stack(quad))
    return torch.stack(out)


def _windows(
    verts: Tensor, edges: Tensor, c2w: Tensor, K: Tensor, hs: int, ws: int, ss: int, half: float = 0.5
) -> Tensor:
    """Conservative ray-grid windows of convex polytopes seen by each camera.

    Args:
        verts: ``(n, V, 3)`` (or per frame ``(F, n, V, 3)``) float64 world vertices; edges: ``(E, 2)`` vertex-index
            pairs (the polytope's edges).
        c2w: ``(F, 4, 4)``; K: ``(3, 3)`` of the output pixel grid; ``hs, ws`` ray grid size; ``ss`` its
            supersampling factor (ray ``(r, c)`` passes through pixel coordinate ``((c+half)/ss, (r+half)/ss)``;
            ``half = 0`` for the grid of pixel corners).

    Returns:
        ``(F, n, 4)`` int64 ``(r0, r1, c0, c1)`` half-open windows (empty when ``r1 <= r0`` or ``c1 <= c0``),
        covering the projection of the part of each polytope in front of the camera (near plane clipping).
    """
    cw = c2w.double()
    R, tr = cw[:, :3, :3], cw[:, :3, 3]
    vs = verts if verts.ndim == 4 else verts[None]  # per-frame vertices (F,n,V,3) for moving objects
    cam = torch.einsum("fji,fnkj->fnki", R, vs - tr[:, None, None, :])  # (F,n,V,3)
    eps = 1e-4
    A, B = cam[:, :, edges[:, 0]], cam[:, :, edges[:, 1]]  # (F,n,E,3)
    za, zb = A[..., 2], B[..., 2]
    cross = (za - eps) * (zb - eps) < 0
    s = ((eps - za) / torch.where(cross, zb - za, torch.ones_like(za))).unsqueeze(-1)
    P = A + s * (B - A)
    pts = torch.cat([cam, P], 2)
    valid = torch.cat([cam[..., 2] >= eps, cross], 2)
    uv, _ = project_camera_points(pts, K.double(), min_z=eps)
    u = uv[..., 0] * ss - half
    v = uv[..., 1] * ss - half
    big = 1e12
    c0 = torch.where(valid, u, big).amin(-1)
    c1 = torch.where(valid, u, -big).amax(-1)
    r0 = torch.where(valid, v, big).amin(-1)
    r1 = torch.where(valid, v, -big).amax(-1)
    c0 = (torch.floor(c0.clamp(-2, ws + 2)) - 1).clamp(0, ws)
    c1 = (torch.ceil(c1.clamp(-2, ws + 2)) + 2).clamp(0, ws)
    r0 = (torch.floor(r0.clamp(-2, hs + 2)) - 1).clamp(0, hs)
    r1 = (torch.ceil(r1.clamp(-2, hs + 2)) + 2).clamp(0, hs)
    return torch.stack([r0, r1, c0, c1], -1).long()


def surface_windows(
    scene: Scene, c2w: Tensor, K: Tensor, hs: int, ws: int, ss: int, times: Tensor | None = None, half: float = 0.5
) -> Tensor:
    """``(F, S, 4)`` ray-grid windows of every surface: room faces, static objects, then (extensions) dynamic
    objects at frame ``times``, then the exterior ground and the sky (whole grid) when the scene has openings."""
    parts = [_windows(_room_face_corners(scene), _QUAD_EDGES, c2w, K, hs, ws, ss, half)]
    if scene.n_objects:
        parts.append(_windows(_object_corners(scene), _BOX_EDGES, c2w, K, hs, ws, ss, half))
    if scene.n_dynamic:
        verts = _dynamic_corners(scene, times)  # (F, nd, 8, 3)
        parts.append(_windows(verts, _BOX_EDGES, c2w, K, hs, ws, ss, half))
    if scene.has_exterior:
        full = torch.tensor([0, hs, 0, ws], dtype=torch.int64).expand(c2w.shape[0], 2, 4)
        parts.append(full)
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


def _dynamic_local_corners(scene: Scene) -> Tensor:
    """``(nd, 8, 3)`` float64 corners of a box enclosing each dynamic object, relative to its centre."""
    sx = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    sgn = torch.cartesian_prod(sx, sx, sx)  # (8,3)
    sh = scene.dyn_shape.double()
    out = []
    for k, row in zip(scene.dyn_kind.tolist(), sh):
        if k == 0:
            loc = row[:3] * sgn
            wx, wz = rotate_y(loc[:, 0], loc[:, 2], math.cos(float(row[3])), math.sin(float(row[3])))
            out.append(torch.stack([wx, loc[:, 1], wz], -1))
        elif k == 1:
            out.append(row[0] * sgn)
        else:
            out.append(torch.stack([row[0], row[1], row[0]]) * sgn)
    return torch.stack(out)


def _dynamic_corners(scene: Scene, times: Tensor) -> Tensor:
    """``(T, nd, 8, 3)`` float64 world corners of boxes enclosing the dynamic objects at frame ``times``."""
    c = scene.dynamic_centers(times).double()  # (T, nd, 3)
    return c[:, :, None, :] + _dynamic_local_corners(scene)[None]


def union_windows(win: Tensor) -> list[tuple[int, int, int, int]]:
    """Union over frames of ``(F, S, 4)`` windows -> per surface ``(r0, r1, c0, c1)``."""
    empty = (win[..., 1] <= win[..., 0]) | (win[..., 3] <= win[..., 2])
    big = 1 << 30
    r0 = torch.where(empty, big, win[..., 0]).amin(0)
    r1 = torch.where(empty, -big, win[..., 1]).amax(0)
    c0 = torch.where(empty, big, win[..., 2]).amin(0)
    c1 = torch.where(empty, -big, win[..., 3]).amax(0)
    return list(zip(r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist()))


def dynamic_objects(scene: Scene, times: Tensor) -> list[tuple]:
    """Dynamic objects in the format of :func:`object_list`, with ``(F, 3)`` float32 centres at ``times``."""
    cen = scene.dynamic_centers(times)  # (F, nd, 3)
    objs = []
    for j, (k, sh) in enumerate(zip(scene.dyn_kind.tolist(), scene.dyn_shape.tolist())):
        c = cen[:, j].contiguous()
        if k == 0:
            objs.append(("box", c, sh[:3], math.cos(sh[3]), math.sin(sh[3])))
        elif k == 1:
            objs.append(("sphere", c, sh[0]))
        else:
            objs.append(("cylinder", c, sh[0], sh[1]))
    return objs


def camera_inside_dynamic(scene: Scene, o: Tensor, times: Tensor) -> Tensor:
    """``(T,)`` bool: camera centre ``o`` ``(T, 3)`` inside (or within 1 cm of) a dynamic object at its time."""
    inside = torch.zeros(o.shape[0], dtype=torch.bool)
    if not scene.n_dynamic:
        return inside
    cen = scene.dynamic_centers(times).double()
    q = o.double()[:, None, :] - cen  # (T, nd, 3)
    for j, (k, sh) in enumerate(zip(scene.dyn_kind.tolist(), scene.dyn_shape.tolist())):
        x, y, z = q[:, j, 0], q[:, j, 1], q[:, j, 2]
        if k == 0:
            lx, lz = unrotate_y(x, z, math.cos(sh[3]), math.sin(sh[3]))
            hit = (lx.abs() < sh[0] + 0.01) & (y.abs() < sh[1] + 0.01) & (lz.abs() < sh[2] + 0.01)
        elif k == 1:
            hit = (x * x + y * y + z * z).sqrt() < sh[0] + 0.01
        else:
            hit = ((x * x + z * z).sqrt() < sh[0] + 0.01) & (y.abs() < sh[1] + 0.01)
        inside |= hit
    return inside


def _hit_object(obj: tuple, o: Tensor, d: Tensor) -> Tensor:
    """Nearest-hit ray parameter (``inf`` on a miss) of rays ``o[f] + t d[f]`` with one object.

    ``o`` ``(F, 3)``, ``d`` ``(F, h, w, 3)`` -> ``(F, h, w)``. The camera is assumed outside the object.
    """
    Fr = o.shape[0]
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    kind = obj[0]
    c = obj[1]
    if isinstance(c, Tensor):  # dynamic object: one centre per frame (F, 3)
        e = (o - c).view(Fr, 1, 1, 3)
    else:
        e = (o - torch.tensor(c, dtype=o.dtype)).view(Fr, 1, 1, 3)
    ex, ey, ez = e[..., 0], e[..., 1], e[..., 2]  # (F,1,1)
    if kind == "box":
        _, _, h, cs, sn = obj
        if sn == 0.0 and cs == 1.0:
            lx, lz = dx, dz
        else:
            lx, lz = unrotate_y(dx, dz, cs, sn)
            ex, ez = unrotate_y(ex, ez, cs, sn)
        tn = tf = None
        for dl, el, hl in ((lx, ex, h[0]), (dy, ey, h[1]), (lz, ez, h[2])):
            iv = torch.reciprocal(dl)
            a = iv * (-hl - el)
            b = iv * (hl - el)
            mn, mx = torch.minimum(a, b), torch.maximum(a, b)
            tn = mn if tn is None else torch.maximum(tn, mn)
            tf = mx if tf is None else torch.minimum(tf, mx)
        ok = (tn <= tf) & (tn > _EPS_T)
        return torch.where(ok, tn, _INF)
    if kind == "sphere":
        r = obj[2]
        cc = ex * ex + ey * ey + ez * ez - r * r
        b = dx * ex + dy * ey + dz * ez
        a = dx * dx + dy * dy + dz * dz
        disc = b * b - a * cc
        t = (-b - disc.clamp_min(0).sqrt()) / a
        ok = (disc >= 0) & (t > _EPS_T)
        return torch.where(ok, t, _INF)
    _, _, r, hh = obj
    cc = ex * ex + ez * ez - r * r
    a = dx * dx + dz * dz
    b = dx * ex + dz * ez
    disc = b * b - a * cc
    t_side = (-b - disc.clamp_min(0).sqrt()) / a
    y_rel = ey + t_side * dy
    ok_side = (disc >= 0) & (t_side > _EPS_T) & (y_rel.abs() <= hh)
    t = torch.where(ok_side, t_side, _INF)
    if bool((e[:, 0, 0, 1] < -hh).any()):  # some camera above the top cap (smaller y): the cap can be visible
        t_cap = (-hh - ey) / dy
        qx = ex + t_cap * dx
        qz = ez + t_cap * dz
        ok_cap = (t_cap > _EPS_T) & (qx * qx + qz * qz <= r * r)
        t = torch.minimum(t, torch.where(ok_cap, t_cap, _INF))
    return t


def trace(scene: Scene, objs: list, o: Tensor, d: Tensor, wins: list[tuple]) -> tuple[Tensor, Tensor]:
    """Nearest hits of rays ``o[f] + t d[f]``.

    Args:
        o: ``(F, 3)`` camera centres; d: ``(F, h, w, 3)`` unnormalised world directions (camera z = 1, so ``t`` is
            z-depth); wins: per surface ray windows (union over the F frames, see :func:`union_windows`).

    Returns:
        ``t`` ``(F, h, w)`` float32 and ``inst`` ``(F, h, w)`` uint8 instance ids.
    """
    lo = scene.room_min.tolist()
    hi = scene.room_max.tolist()
    Fr = d.shape[0]
    t = inst = None
    for ax in range(3):
        da = d[..., ax]
        oa = o[:, ax].view(Fr, 1, 1)
        pos = da >= 0
        num = torch.where(pos, hi[ax] - oa, oa - lo[ax])  # > 0 inside the room
        ta = num / da.abs()  # +inf when parallel
        ida = torch.where(pos, _U8[_FACE_ID[ax][1]], _U8[_FACE_ID[ax][0]])
        if t is None:
            t, inst = ta, ida
        else:
            m = ta < t
            t = torch.where(m, ta, t)
            inst = torch.where(m, ida, inst)
    if scene.has_exterior:
        t, inst = _escape(scene, o, d, t, inst)
    for k, obj in enumerate(objs):
        r0, r1, c0, c1 = wins[6 + k]
        if r1 <= r0 or c1 <= c0:
            continue
        tk = _hit_object(obj, o, d[:, r0:r1, c0:c1])
        tv = t[:, r0:r1, c0:c1]
        m = tk < tv
        torch.minimum(tv, tk, out=tv)
        inst[:, r0:r1, c0:c1].masked_fill_(m, 6 + k)
    return t, inst


def _opening_list(scene: Scene) -> dict[int, list[tuple[float, float, float, float] | None]]:
    """Openings grouped by face: ``{face_id: [(a0, a1, b0, b1) or None for "the whole face"]}``."""
    lo, hi = scene.room_min.tolist(), scene.room_max.tolist()
    out: dict[int, list] = {}
    for f, a0, a1, b0, b1 in scene.openings.tolist():
        f = int(f)
        ax = (1, 1, 0, 0, 2, 2)[f]
        ia, ib = [i for i in range(3) if i != ax]
        whole = a0 <= lo[ia] and a1 >= hi[ia] and b0 <= lo[ib] and b1 >= hi[ib]
        out.setdefault(f, []).append(None if whole else (a0, a1, b0, b1))
    return out


def _escape(scene: Scene, o: Tensor, d: Tensor, t: Tensor, inst: Tensor) -> tuple[Tensor, Tensor]:
    """Rays whose exit point from the room box lies in an opening continue outside: they hit the exterior ground
    (``y = floor_y``, when going down and within :data:`GROUND_MAX_DEPTH`) or the sky (depth :data:`SKY_DEPTH`)."""
    Fr = d.shape[0]
    esc = None
    for f, holes in _opening_list(scene).items():
        on = inst == f
        if any(h is None for h in holes):
            m = on
        else:
            ax = (1, 1, 0, 0, 2, 2)[f]
            ia, ib = [i for i in range(3) if i != ax]
            pa = o[:, ia].view(Fr, 1, 1) + t * d[..., ia]
            pb = o[:, ib].view(Fr, 1, 1) + t * d[..., ib]
            m = None
            for a0, a1, b0, b1 in holes:
                h = (pa >= a0) & (pa <= a1) & (pb >= b0) & (pb <= b1)
                m = h if m is None else m | h
            m = m & on
        esc = m if esc is None else esc | m
    if esc is None or not bool(esc.any()):
        return t, inst
    dy = d[..., 1]
    tg = (scene.floor_y - o[:, 1].view(Fr, 1, 1)) / dy
    ground = (dy > 0) & (tg <= GROUND_MAX_DEPTH)
    t_out = torch.where(ground, tg, torch.full_like(t, SKY_DEPTH))
    i_out = torch.where(ground, torch.tensor(GROUND_ID, dtype=torch.uint8), torch.tensor(SKY_ID, dtype=torch.uint8))
    return torch.where(esc, t_out, t), torch.where(esc, i_out, inst)
