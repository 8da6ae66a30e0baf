"""Shading of ray hits: surface normals and texture coordinates, Lambert lighting of the textured albedo, the sky,
the exterior ground and distance fog.

Each surface (6 room faces, the objects, then the exterior ground and the sky) is shaded densely over its own
ray-grid window and written where ``instance == id``, which avoids gather / scatter (``nonzero`` is the slowest op
on CPU). Light is Lambert from a point light with ``1 / (1 + d^2 / 6)`` fall-off, an optional directional light and
a hemispheric ambient term, gamma-2 encoded and multiplied with the sRGB albedo, then tint and exposure. Objects
are the tuples of :func:`~mirage_world.worlds.raycast.object_list`.

Imports :mod:`~mirage_world.worlds.scene` and :mod:`~mirage_world.worlds.textures`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mirage_world.geometry.rotations import rotate_y, unrotate_y
from mirage_world.worlds.scene import GROUND_ID, SKY_ID, Scene
from mirage_world.worlds.textures import albedo, noise

__all__ = ["Shader", "shade"]


def _room_surface(scene: Scene, sid: int, p: Tensor) -> tuple[tuple[int, float], Tensor, Tensor]:
    """Constant inward normal ``(axis, sign)`` and surface coordinates ``(u, v)`` of points ``p`` on room face
    ``sid``."""
    lo, hi = scene.room_min.tolist(), scene.room_max.tolist()
    if sid in (0, 1):
        return (1, -1.0 if sid == 0 else 1.0), p[..., 0], p[..., 2]
    if sid in (2, 3):
        return (0, 1.0 if sid == 2 else -1.0), p[..., 2] - lo[2], p[..., 1] - hi[1]
    return (2, 1.0 if sid == 4 else -1.0), p[..., 0] - lo[0], p[..., 1] - hi[1]


def _object_surface(obj: tuple, p: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Outward unit normals ``(..., 3)`` and surface coordinates ``(u, v)`` of points ``p`` on one object."""
    kind, c = obj[0], obj[1]
    if isinstance(c, Tensor):  # dynamic object: (F, 3) centres
        c = [c[:, 0].view(-1, 1, 1), c[:, 1].view(-1, 1, 1), c[:, 2].view(-1, 1, 1)]
    qx, qy, qz = p[..., 0] - c[0], p[..., 1] - c[1], p[..., 2] - c[2]
    if kind == "box":
        _, _, h, cs, sn = obj
        lx, lz = unrotate_y(qx, qz, cs, sn)
        ax_ = (lx * (1.0 / h[0])).abs()
        ay_ = (qy * (1.0 / h[1])).abs()
        az_ = (lz * (1.0 / h[2])).abs()
        is_x = (ax_ >= ay_) & (ax_ >= az_)
        is_y = (~is_x) & (ay_ >= az_)
        is_z = ~(is_x | is_y)
        nlx = torch.where(is_x, torch.sign(lx), 0.0)
        nlz = torch.where(is_z, torch.sign(lz), 0.0)
        nly = torch.where(is_y, torch.sign(qy), 0.0)
        nwx, nwz = rotate_y(nlx, nlz, cs, sn)
        n = torch.stack([nwx, nly, nwz], -1)
        return n, torch.where(is_x, lz + 3.1, lx), torch.where(is_y, lz + 5.3, qy)
    if kind == "sphere":
        r = obj[2]
        ang = torch.atan2(qx, qz)
        return torch.stack([qx, qy, qz], -1) * (1.0 / r), ang * r, qy
    _, _, r, hh = obj
    cap = qy <= -hh + 1e-4 * max(1.0, hh)
    n = torch.stack([torch.where(cap, 0.0, qx * (1.0 / r)), torch.where(cap, -1.0, 0.0).expand_as(qx),
                     torch.where(cap, 0.0, qz * (1.0 / r))], -1)
    ang = torch.atan2(qx, qz)
    return n, torch.where(cap, qx + 7.7, ang * r), torch.where(cap, qz + 7.7, qy)


class Shader:
    """Per-render cache of material and light constants."""

    def __init__(self, scene: Scene):
        self.scene = scene
        self.types = scene.mat_type.tolist()
        self.params = scene.mat_params.double().tolist()
        self.pal = scene.mat_colors.float()
        self.lp = scene.point_pos.tolist()
        self.ld = scene.dir_to_light.tolist()
        self.gain = (scene.tint.float() * scene.exposure).sqrt()  # gamma-2 encode of the light colour
        self.photos = scene.photos
        self.focal = None  # set by render for scenes with openings (texture fade on distant planes)
        self._means: dict[int, Tensor] = {}
        if scene.has_exterior:  # the exterior ground's material is looked up under GROUND_ID
            self.types = self.types + [0] * (GROUND_ID + 1 - len(self.types))
            self.params = self.params + [self.params[0]] * (GROUND_ID + 1 - len(self.params))
            self.types[GROUND_ID] = int(scene.ground_mat_type)
            self.params[GROUND_ID] = scene.ground_params.double().tolist()
            pal = torch.zeros(GROUND_ID + 1, 3, 3)
            pal[: self.pal.shape[0]] = self.pal
            pal[GROUND_ID] = scene.ground_colors.float()
            self.pal = pal

    def mean_albedo(self, sid: int) -> Tensor:
        """``(3,)`` average albedo of the material of surface ``sid`` over an 8 m x 8 m patch (cached)."""
        if sid not in self._means:
            g = (torch.arange(64, dtype=torch.float32) + 0.5) * (8.0 / 64)
            gv, gu = torch.meshgrid(g, g, indexing="ij")
            alb = albedo(self.types[sid], self.pal[sid], self.params[sid], gu, gv, self.photos)
            self._means[sid] = alb.reshape(-1, 3).double().mean(0).float()
        return self._means[sid]

    def shade(self, sid: int, p: Tensor, normal, uu: Tensor, vv: Tensor, view=None) -> Tensor:
        """sRGB colour ``(..., 3)`` of points ``p`` ``(..., 3)`` on surface ``sid``.

        ``normal`` is a constant ``(axis, sign)`` or a ``(..., 3)`` tensor. Light is Lambert (point light with
        ``1 / (1 + d^2 / 6)`` fall-off, optional directional light) plus a hemispheric ambient term, then encoded
        with gamma 2 before multiplying the (sRGB) albedo.

        ``view = (o, focal)`` (camera centres ``(F, 1, 1, 3)``, focal length in ray-grid pixels; planes only) fades
        the texture to its mean where one pixel covers more than 3 % of the material scale (fully at 15 %), a
        cheap stand-in for mip-mapping on distant and grazing surfaces.
        """
        sc = self.scene
        lx, ly, lz = self.lp[0] - p[..., 0], self.lp[1] - p[..., 1], self.lp[2] - p[..., 2]
        dist2 = lx * lx + ly * ly + lz * lz
        if isinstance(normal, tuple):
            ax, sgn = normal
            ndl = (lx, ly, lz)[ax] * sgn
            ny = sgn if ax == 1 else 0.0
            amb_dir = sc.ambient * (0.8 - 0.2 * ny) + sc.dir_power * max(sgn * self.ld[ax], 0.0)
        else:
            nx, ny, nz = normal[..., 0], normal[..., 1], normal[..., 2]
            ndl = nx * lx + ny * ly + nz * lz
            amb_dir = ny * (-0.2 * sc.ambient) + 0.8 * sc.ambient
            if sc.dir_power > 0:
                nd = nx * self.ld[0] + ny * self.ld[1] + nz * self.ld[2]
                amb_dir = amb_dir + nd.clamp_(min=0) * sc.dir_power
        lam = (ndl * torch.rsqrt(dist2)).clamp_(min=0)
        L = (lam * sc.point_power / (dist2 * (1 / 6.0) + 1.0) + amb_dir).clamp_(min=0).sqrt_()
        alb = albedo(self.types[sid], self.pal[sid], self.params[sid], uu, vv, self.photos)
        if view is not None and isinstance(normal, tuple):
            o, focal = view
            v = p - o
            d2 = (v * v).sum(-1)
            fp = d2 / (focal * v[..., normal[0]].abs().clamp_min(1e-6))  # metres per pixel on the plane
            w = ((fp * (1.0 / self.params[sid][0]) - 0.03) * (1.0 / 0.12)).clamp_(0, 1)
            alb = alb + w[..., None] * (self.mean_albedo(sid) - alb)
        return (alb * L[..., None] * self.gain).clamp_(0, 1)


def _sky_color(scene: Scene, d: Tensor) -> Tensor:
    """sRGB sky colour ``(..., 3)`` of world ray directions ``d`` ``(..., 3)`` (any length).

    A gradient from ``sky_horizon`` (elevation 0) to ``sky_zenith`` (straight up, ``-y``), a sun glow around
    ``dir_to_light`` and fBm clouds on a plane above the camera that fade out towards the horizon.
    """
    dn = d * torch.rsqrt((d * d).sum(-1, keepdim=True))
    up = -dn[..., 1]
    e = up.clamp(0, 1)
    hz, zn = scene.sky_horizon.float(), scene.sky_zenith.float()
    col = hz + (zn - hz) * e.sqrt()[..., None]
    cover, cscale, glow, coff = scene.sky_params.tolist()
    if cover > 0:
        inv = 1.0 / up.clamp_min(0.05)
        u = dn[..., 0] * inv * cscale + coff
        v = dn[..., 2] * inv * cscale + 0.37 * coff
        n = noise((u, v))[0, 0]
        c = ((n - (1.0 - cover)) * 4.0).clamp_(0, 1) * ((up - 0.02) * 6.0).clamp_(0, 1)
        cloud = hz * 0.35 + 0.65
        col = col + c[..., None] * (cloud - col)
    if glow > 0:
        sd = scene.dir_to_light.float()
        cosang = (dn * sd).sum(-1)
        g = glow * (torch.exp((cosang - 1.0) * 400.0) + 0.35 * torch.exp((cosang - 1.0) * 6.0))
        col = col + g[..., None] * scene.tint.float()
    return col.clamp_(0, 1)


def shade(
    scene: Scene, shader: Shader, objs: list, p: Tensor, inst: Tensor, wins: list[tuple], o: Tensor | None = None
) -> Tensor:
    """Shade hit points ``p`` ``(F, h, w, 3)`` with instance ids ``inst`` ``(F, h, w)``.

    Each surface is evaluated densely over its ray window (no gather / scatter) and written where ``inst`` matches.
    With openings, the exterior ground and the sky follow (``o`` ``(F, 3)``: camera centres), then fog.
    Returns rgb ``(F, h, w, 3)`` in [0, 1].
    """
    rgb = torch.zeros_like(p)
    sids = list(range(6 + len(objs)))
    if scene.has_exterior:
        sids += [GROUND_ID, SKY_ID]
    for k, sid in enumerate(sids):
        r0, r1, c0, c1 = wins[k]
        if r1 <= r0 or c1 <= c0:
            continue
        m = inst[:, r0:r1, c0:c1] == sid
        if not bool(m.any()):
            continue
        if sid >= GROUND_ID:  # whole-grid window: shrink it to the bounding box of the pixels to shade
            rows = torch.nonzero(m.any(2).any(0)).squeeze(1)
            cols = torch.nonzero(m.any(1).any(0)).squeeze(1)
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            m = m[:, r0:r1, c0:c1]
        pc = p[:, r0:r1, c0:c1]
        if sid == SKY_ID:
            col = _sky_color(scene, pc - o.view(-1, 1, 1, 3))
        else:
            if sid == GROUND_ID:
                normal, uu, vv = (1, -1.0), pc[..., 0], pc[..., 2]
            elif sid < 6:
                normal, uu, vv = _room_surface(scene, sid, pc)
            else:
                normal, uu, vv = _object_surface(objs[sid - 6], pc)
            view = None
            if shader.focal is not None and isinstance(normal, tuple):
                view = (o.view(-1, 1, 1, 3), shader.focal)
            col = shader.shade(sid, pc, normal, uu, vv, view)
        rc = rgb[:, r0:r1, c0:c1]
        rc.copy_(torch.where(m[..., None], col, rc))
    if scene.fog_length > 0:
        dist = torch.linalg.vector_norm(p - o.view(-1, 1, 1, 3), dim=-1)
        f = 1.0 - torch.exp(-(dist - scene.fog_start).clamp_(min=0) * (1.0 / scene.fog_length))
        f = torch.where(inst == SKY_ID, 0.0, f)
        rgb = rgb + f[..., None] * (scene.sky_horizon.float() - rgb)
    return rgb
