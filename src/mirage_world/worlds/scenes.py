"""Procedural indoor scenes rendered by vectorised analytic ray casting (pure torch, CPU friendly).

A scene is the inside of an axis-aligned room (floor, ceiling, four walls) plus 3-8 objects resting on the floor:
boxes (optionally rotated about the vertical axis), spheres and vertical cylinders. Every surface carries a
procedural texture evaluated at the hit point in surface coordinates (metres), so the texture is resolution
independent. Shading is Lambert with a point light, an optional directional light and a hemispheric ambient term.

Conventions (same as :mod:`mirage_world.geometry.camera`):

* OpenCV camera axes (+x right, +y down, +z forward); poses are camera-to-world ``c2w``; ``K`` is in pixels;
  pixel ``(i, j)`` is sampled through ``(i + 0.5, j + 0.5)``; depth is metric z-depth.
* World up is ``-y``: the floor is the plane ``y = room_max[1] > 0`` and the ceiling ``y = room_min[1] < 0``.
  Cameras generated here sit near ``y = 0`` (eye height = ``room_max[1]``).

Instance ids: ``0`` floor, ``1`` ceiling, ``2`` wall at ``x = room_min``, ``3`` wall at ``x = room_max``,
``4`` wall at ``z = room_min``, ``5`` wall at ``z = room_max``, then ``6 + k`` for object ``k`` in the order
boxes, spheres, cylinders.

``depth`` and ``instance`` come from one ray through each pixel centre (exact z-depth of the surface seen through
the centre); ``rgb`` is the box-filtered average of an ``ss x ss`` grid of sub-pixel rays at
``i + (k + 0.5) / ss`` (or, with ``aa="quincunx"``, a 5-tap quincunx filter of the centre ray and the four pixel
corners, about twice as fast as ``ss = 2``).

Extensions (all off for the scenes of :func:`random_scene` with its default ``kind="room"`` and for
:func:`make_scene` without the new keyword arguments, whose renders are unchanged byte for byte):

* **Openings** (``Scene.openings``): axis-aligned rectangles in the walls or the ceiling where the face is absent
  (windows, doorways, an open sky above a courtyard, the open ends of a street). A ray that leaves the room box
  through an opening continues outside, where there is only the **exterior ground** (the floor plane ``y = floor_y``
  extended to infinity, instance :data:`GROUND_ID`, its own material, hits farther than :data:`GROUND_MAX_DEPTH`
  z-depth are dropped) and the **sky** (instance :data:`SKY_ID`, a colour gradient with sun glow and clouds, depth
  set to :data:`SKY_DEPTH` = 1000 m: a sentinel, not a measurement; consumers must mask sky out with
  ``instance == SKY_ID``).
* **Dynamic objects** (``Scene.dyn_*``): boxes, spheres, cylinders whose centre moves on an ellipse (a line segment
  when it is degenerate) as a function of the frame time ``t`` passed to :func:`render` (``times``, default the
  frame index). Their instance ids follow the static objects: ``6 + n_objects + j``.
* **Photo textures** (``Scene.photos``): material type ``"photo"`` maps a user photo, mirrored-repeated, on a surface.
* **Fog** (``Scene.fog_length > 0``): distance haze towards the sky's horizon colour beyond ``fog_start`` metres.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mirage_world.geometry.camera import pixel_centers

__all__ = [
    "Scene",
    "make_scene",
    "random_scene",
    "render",
    "random_camera_path",
    "render_clip",
    "look_at_c2w",
    "intrinsics_from_fov",
    "ROOM_SURFACES",
    "TEXTURE_TYPES",
    "CAMERA_CLEARANCE",
    "SKY_ID",
    "GROUND_ID",
    "SKY_DEPTH",
    "GROUND_MAX_DEPTH",
    "AA_MODES",
]

#: Names of the six room surfaces, indexed by instance id.
ROOM_SURFACES = ("floor", "ceiling", "wall_x_min", "wall_x_max", "wall_z_min", "wall_z_max")
#: Procedural texture kinds, indexed by ``Scene.mat_type``.
TEXTURE_TYPES = ("fbm", "marble", "bricks", "wood", "tiles", "stripes", "checker", "gradient", "plaster", "photo")
#: Minimum horizontal distance (metres) kept between camera centres and walls / object footprints.
CAMERA_CLEARANCE = 0.5

#: Instance id of the sky (rays that leave the scene through an opening and miss the exterior ground).
SKY_ID = 255
#: Instance id of the exterior ground (the floor plane outside the room box, seen through openings).
GROUND_ID = 254
#: Depth (metres, z-depth) written for sky pixels: a far sentinel, not a measurement (mask sky out with SKY_ID).
SKY_DEPTH = 1000.0
#: Exterior ground hits farther than this z-depth (metres) count as sky (the horizon).
GROUND_MAX_DEPTH = 300.0
#: Anti-aliasing modes of :func:`render`: ``"box"`` (``ss x ss`` box filter, the default) and ``"quincunx"``.
AA_MODES = ("box", "quincunx")
#: Largest number of static + dynamic objects when a scene has openings or dynamic objects (ids 254/255 reserved).
_MAX_OBJECTS_EXT = 248

_EPS_T = 1e-4  # minimum ray parameter accepted as a hit (rays are unnormalised, t = z-depth)
_INF = float("inf")


# ----------------------------------------------------------------------------------------------------------------
# Scene
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """Parameters of one procedural room (all tensors float32 on CPU unless noted; lengths in metres).

    Geometry:
        room_min, room_max: ``(3,)`` opposite corners of the room box; ``room_max[1]`` is the floor (y down),
            ``room_min[1]`` the ceiling.
        box_center: ``(nb, 3)``; box_half: ``(nb, 3)`` half extents in the box frame; box_yaw: ``(nb,)`` radians,
            rotation about the world y axis (box frame -> world is ``Ry(yaw)``, ``Ry = [[c,0,s],[0,1,0],[-s,0,c]]``).
        sph_center: ``(ns, 3)``; sph_radius: ``(ns,)``.
        cyl_center: ``(nc, 3)`` centre of the axis segment; cyl_radius: ``(nc,)``; cyl_half_height: ``(nc,)``
            (axis is the world y axis; the cylinder spans ``y in [cy - hh, cy + hh]``).

    Appearance (one material per instance id, ``S = 6 + n_objects``):
        mat_type: ``(S,)`` int64 index into :data:`TEXTURE_TYPES`.
        mat_colors: ``(S, 3, 3)`` palette of three sRGB colours in [0, 1].
        mat_params: ``(S, 8)`` ``[scale, rotation(rad), offset_u, offset_v, p0, p1, p2, p3]`` (meaning of ``p*``
            depends on the type, see ``_albedo``).

    Lighting:
        ambient: hemispheric ambient strength; point_pos ``(3,)`` / point_power; dir_to_light ``(3,)`` unit vector
        towards a directional light / dir_power (0 disables it); tint ``(3,)`` light colour; exposure.

    Camera region:
        free_center ``(2,)`` (x, z) and free_radius: a disc kept free of objects when the scene was generated
        (``free_radius = 0`` for hand-made scenes).

    seed: the seed the scene was built from (used to decorrelate camera paths).

    Extensions (defaults: a closed room, no sky, no dynamic objects, no photos):
        openings: ``(no, 5)`` rows ``[face_id, a0, a1, b0, b1]``: the part of room face ``face_id`` (1 ceiling, 2-5
            walls; the floor cannot be opened) with ``a in [a0, a1]`` and ``b in [b0, b1]`` is absent, where
            ``(a, b)`` are the two world axes other than the face's normal axis, in increasing axis order (walls
            ``x = const``: ``(y, z)``; ceiling: ``(x, z)``; walls ``z = const``: ``(x, y)``).
        sky_zenith, sky_horizon: ``(3,)`` sRGB sky colours; sky_params: ``(4,)`` ``[cloud cover in [0, 1], cloud
            scale (1/m on a plane 1 m above the eye), sun glow strength, cloud offset]``.
        ground_mat_type / ground_colors ``(3, 3)`` / ground_params ``(8,)``: material of the exterior ground.
        fog_length, fog_start: haze ``1 - exp(-max(dist - fog_start, 0) / fog_length)`` towards ``sky_horizon``
            (metres along the ray); ``fog_length = 0`` disables it.
        dyn_kind: ``(nd,)`` int64 ``0`` box, ``1`` sphere, ``2`` cylinder; dyn_shape: ``(nd, 4)`` ``[hx, hy, hz,
            yaw]`` (box) / ``[r, 0, 0, 0]`` (sphere) / ``[r, half_height, 0, 0]`` (cylinder); dyn_motion: ``(nd,
            11)`` ``[base(3), a(3), b(3), omega, phase]``: centre at frame time ``t`` is ``base + a sin(omega t +
            phase) + b cos(omega t + phase)`` (``omega`` in rad per frame). Materials of dynamic objects follow the
            static ones in ``mat_*`` (``S = 6 + n_objects + n_dynamic``).
        photos: ``(P, 3, S, S)`` float32 sRGB images in [0, 1] used by ``"photo"`` materials (``p0`` = index), or
            ``None``.
        kind: the generator that made the scene (``"room"``, ``"indoor"``, ``"courtyard"``, ``"street"``, ...).
    """

    room_min: Tensor
    room_max: Tensor
    box_center: Tensor
    box_half: Tensor
    box_yaw: Tensor
    sph_center: Tensor
    sph_radius: Tensor
    cyl_center: Tensor
    cyl_radius: Tensor
    cyl_half_height: Tensor
    mat_type: Tensor
    mat_colors: Tensor
    mat_params: Tensor
    ambient: float = 0.35
    point_pos: Tensor = field(default_factory=lambda: torch.zeros(3))
    point_power: float = 0.8
    dir_to_light: Tensor = field(default_factory=lambda: torch.tensor([0.0, -1.0, 0.0]))
    dir_power: float = 0.0
    tint: Tensor = field(default_factory=lambda: torch.ones(3))
    exposure: float = 1.0
    free_center: Tensor = field(default_factory=lambda: torch.zeros(2))
    free_radius: float = 0.0
    seed: int = 0
    openings: Tensor = field(default_factory=lambda: torch.zeros(0, 5))
    sky_zenith: Tensor = field(default_factory=lambda: torch.tensor([0.30, 0.50, 0.85]))
    sky_horizon: Tensor = field(default_factory=lambda: torch.tensor([0.78, 0.85, 0.93]))
    sky_params: Tensor = field(default_factory=lambda: torch.tensor([0.0, 0.3, 0.5, 0.0]))
    ground_mat_type: int = 0
    ground_colors: Tensor = field(default_factory=lambda: torch.full((3, 3), 0.4))
    ground_params: Tensor = field(default_factory=lambda: torch.tensor([1.0, 0, 0, 0, 0, 1.0, 1.0, 0]))
    fog_length: float = 0.0
    fog_start: float = 0.0
    dyn_kind: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    dyn_shape: Tensor = field(default_factory=lambda: torch.zeros(0, 4))
    dyn_motion: Tensor = field(default_factory=lambda: torch.zeros(0, 11))
    photos: Tensor | None = None
    kind: str = "room"

    @property
    def has_exterior(self) -> bool:
        """True when the scene has openings, so rays can reach the exterior ground and the sky."""
        return int(self.openings.shape[0]) > 0

    @property
    def n_dynamic(self) -> int:
        return int(self.dyn_kind.shape[0])

    @property
    def dynamic_ids(self) -> list[int]:
        """Instance ids of the dynamic objects."""
        return [6 + self.n_objects + j for j in range(self.n_dynamic)]

    def dynamic_centers(self, times) -> Tensor:
        """Centres of the dynamic objects at frame times.

        Args:
            times: ``(T,)`` frame times (frame-index units, any real values).

        Returns:
            ``(T, n_dynamic, 3)`` float32 (computed in float64).
        """
        t = torch.as_tensor(times, dtype=torch.float64).reshape(-1, 1)
        m = self.dyn_motion.double()
        ang = t * m[:, 9] + m[:, 10]  # (T, nd)
        c = m[:, 0:3] + torch.sin(ang)[..., None] * m[:, 3:6] + torch.cos(ang)[..., None] * m[:, 6:9]
        return c.float()

    def dynamic_radii_xz(self) -> np.ndarray:
        """``(n_dynamic,)`` radius of a disc bounding each dynamic object's footprint."""
        sh = self.dyn_shape.double().numpy().reshape(-1, 4)
        k = self.dyn_kind.numpy()
        return np.where(k == 0, np.hypot(sh[:, 0], sh[:, 2]), sh[:, 0])

    @property
    def n_boxes(self) -> int:
        return int(self.box_center.shape[0])

    @property
    def n_spheres(self) -> int:
        return int(self.sph_center.shape[0])

    @property
    def n_cylinders(self) -> int:
        return int(self.cyl_center.shape[0])

    @property
    def n_objects(self) -> int:
        return self.n_boxes + self.n_spheres + self.n_cylinders

    @property
    def floor_y(self) -> float:
        return float(self.room_max[1])

    @property
    def ceiling_y(self) -> float:
        return float(self.room_min[1])

    def contains(self, points: Tensor) -> Tensor:
        """``(..., 3)`` world points -> ``(...,)`` bool, strictly inside the room box."""
        lo = self.room_min.to(points)
        hi = self.room_max.to(points)
        return ((points > lo) & (points < hi)).all(-1)

    def clearance(self, xz) -> np.ndarray:
        """Horizontal free distance at ground positions.

        Args:
            xz: ``(M, 2)`` array-like of (x, z) positions in metres.

        Returns:
            ``(M,)`` float64 distance to the nearest wall or object footprint (negative inside an obstacle or
            outside the room). Object footprints are exact (rotated rectangles, discs), independent of height.
        """
        p = np.asarray(xz, dtype=np.float64).reshape(-1, 2)
        lo = self.room_min.double().numpy()
        hi = self.room_max.double().numpy()
        d = np.minimum.reduce([p[:, 0] - lo[0], hi[0] - p[:, 0], p[:, 1] - lo[2], hi[2] - p[:, 1]])
        for c, h, yaw in zip(self.box_center.double().numpy(), self.box_half.double().numpy(),
                             self.box_yaw.double().numpy()):
            q = p - c[[0, 2]]
            cs, sn = math.cos(yaw), math.sin(yaw)
            lx = cs * q[:, 0] - sn * q[:, 1]
            lz = sn * q[:, 0] + cs * q[:, 1]
            ax, az = np.abs(lx) - h[0], np.abs(lz) - h[2]
            outside = np.hypot(np.maximum(ax, 0), np.maximum(az, 0))
            inside = np.minimum(np.maximum(ax, az), 0)
            d = np.minimum(d, outside + inside)
        for c, r in zip(self.sph_center.double().numpy(), self.sph_radius.double().numpy()):
            d = np.minimum(d, np.hypot(p[:, 0] - c[0], p[:, 1] - c[2]) - r)
        for c, r in zip(self.cyl_center.double().numpy(), self.cyl_radius.double().numpy()):
            d = np.minimum(d, np.hypot(p[:, 0] - c[0], p[:, 1] - c[2]) - r)
        return d

    def object_centers_xz(self) -> np.ndarray:
        """``(n_objects, 2)`` float64 footprint centres in instance order (boxes, spheres, cylinders)."""
        cs = [self.box_center, self.sph_center, self.cyl_center]
        return torch.cat([c[:, [0, 2]] for c in cs], 0).double().numpy().reshape(-1, 2)

    def object_radii_xz(self) -> np.ndarray:
        """``(n_objects,)`` radius of a disc bounding each footprint."""
        rb = torch.linalg.vector_norm(self.box_half[:, [0, 2]], dim=-1)
        return torch.cat([rb, self.sph_radius, self.cyl_radius]).double().numpy()

    def object_heights(self) -> np.ndarray:
        """``(n_objects,)`` object heights above the floor (metres)."""
        hb = 2 * self.box_half[:, 1]
        return torch.cat([hb, 2 * self.sph_radius, 2 * self.cyl_half_height]).double().numpy()


def _as_f32(x, shape) -> Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(shape))
    if not torch.isfinite(t).all():
        raise ValueError("scene parameters must be finite")
    return t


# ----------------------------------------------------------------------------------------------------------------
# Materials and lights
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


def _random_palette(rng: np.random.Generator) -> np.ndarray:
    """Three natural-ish sRGB colours: a base, a variant of it, and either a further variant or a contrast."""
    c0 = _random_color(rng)
    c1 = _shift_color(rng, c0, rng.uniform(0.3, 1.0))
    c2 = _random_color(rng) if rng.random() < 0.4 else _shift_color(rng, c1, rng.uniform(0.3, 1.0))
    return np.clip(np.stack([c0, c1, c2]), 0.02, 0.98)


def _random_material(rng: np.random.Generator, kind: str) -> tuple[int, np.ndarray, np.ndarray]:
    w = np.asarray(_TEX_WEIGHTS[kind], dtype=np.float64)
    t = int(rng.choice(len(w), p=w / w.sum()))
    name = TEXTURE_TYPES[t]
    pal = _random_palette(rng)
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
    rmin = _as_f32(room_min, (3,))
    rmax = _as_f32(room_max, (3,))
    if not (rmin < rmax).all():
        raise ValueError(f"room_min must be < room_max componentwise, got {rmin.tolist()} / {rmax.tolist()}")
    boxes, spheres, cylinders = list(boxes), list(spheres), list(cylinders)
    bc = _as_f32([b[0] for b in boxes], (-1, 3))
    bh = _as_f32([b[1] for b in boxes], (-1, 3))
    by = _as_f32([b[2] for b in boxes], (-1,))
    sc = _as_f32([s[0] for s in spheres], (-1, 3))
    sr = _as_f32([s[1] for s in spheres], (-1,))
    cc = _as_f32([c[0] for c in cylinders], (-1, 3))
    cr = _as_f32([c[1] for c in cylinders], (-1,))
    chh = _as_f32([c[2] for c in cylinders], (-1,))
    if (bh <= 0).any() or (sr <= 0).any() or (cr <= 0).any() or (chh <= 0).any():
        raise ValueError("object sizes must be positive")
    if len(boxes) + len(spheres) + len(cylinders) > 250:
        raise ValueError("at most 250 objects (instance ids are 6 + k < 256)")

    n_obj = len(boxes) + len(spheres) + len(cylinders)
    kinds = ["floor", "ceiling", "wall", "wall", "wall", "wall"] + ["object"] * n_obj
    types, pals, params = [], [], []
    for k in kinds:
        t, pal, prm = _random_material(rng, k)
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
        mat_colors=_as_f32(np.stack(pals), (-1, 3, 3)),
        mat_params=_as_f32(np.stack(params), (-1, 8)),
        ambient=float(rng.uniform(0.22, 0.42)),
        point_pos=_as_f32(pp, (3,)),
        point_power=float(rng.uniform(0.6, 1.2)),
        dir_to_light=_as_f32(dl, (3,)),
        dir_power=float(dp),
        tint=_as_f32(tint, (3,)),
        exposure=float(rng.uniform(0.9, 1.2)),
        free_center=_as_f32(fc, (2,)),
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
    if n_obj + len(dynamic) > _MAX_OBJECTS_EXT:
        raise ValueError(f"at most {_MAX_OBJECTS_EXT} objects with openings or dynamic objects (ids 254, 255 reserved)")
    out: dict = {"_types": [], "_pals": [], "_params": []}
    if openings:
        op = _as_f32(openings, (-1, 5))
        if not all(int(f) == f and int(f) in (1, 2, 3, 4, 5) for f in op[:, 0].tolist()):
            raise ValueError("opening faces must be 1 (ceiling) or 2-5 (walls)")
        out["openings"] = op
    if dynamic:
        kinds = []
        for d in dynamic:
            if d[0] not in _DYN_KINDS:
                raise ValueError(f"dynamic object kind must be one of {_DYN_KINDS}, got {d[0]!r}")
            kinds.append(_DYN_KINDS.index(d[0]))
        shape = _as_f32([d[1] for d in dynamic], (-1, 4))
        motion = _as_f32([d[2] for d in dynamic], (-1, 11))
        k = torch.tensor(kinds, dtype=torch.int64)
        need = torch.where(k == 0, shape[:, :3].amin(1), torch.where(k == 1, shape[:, 0], shape[:, :2].amin(1)))
        if (need <= 0).any():
            raise ValueError("dynamic object sizes must be positive")
        out.update(dyn_kind=k, dyn_shape=shape, dyn_motion=motion)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD7]))
        for _ in dynamic:
            t, pal, prm = _random_material(rng, "object")
            out["_types"].append(t)
            out["_pals"].append(pal)
            out["_params"].append(prm)
    return out


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def random_scene(seed: int, kind: str = "room", *, photos=None) -> Scene:
    """Deterministically generate a random scene; by default a closed room with 3-8 objects resting on the floor.

    Room (``kind="room"``, the original generator, unchanged): 4-9 m wide and deep, 2.5-3.5 m high, floor at
    ``y = eye height in [1.3, 1.7]`` so cameras at ``y ~ 0`` are at eye height. A disc of radius ``1.1 m`` around
    ``scene.free_center`` (at least 1.6 m from every wall) is kept free of objects so that camera paths have room
    to start; objects do not overlap each other.

    Other kinds (see :mod:`mirage_world.worlds.layouts`): ``"indoor"`` (a furnished room with windows and doorways
    showing the sky and the ground outside), ``"courtyard"`` and ``"street"`` (outdoor, open to the sky),
    ``"outdoor"`` (courtyard or street, drawn from the seed) and ``"any"`` (any of the four, drawn from the seed).

    Args:
        seed: non-negative int; the same arguments always give the same scene (no global RNG is used).
        kind: scene family, one of :data:`mirage_world.worlds.layouts.SCENE_KINDS`.
        photos: optional ``(P, 3, S, S)`` float tensor of texture photos in [0, 1] (see
            :func:`mirage_world.worlds.layouts.load_texture_photos`); some surfaces then show photos.

    Raises:
        ValueError: if ``seed`` is not a non-negative int, ``kind`` is unknown or ``photos`` is malformed
            (:class:`~mirage_world.errors.InputError`).
    """
    seed = _check_seed(seed)
    if kind != "room" or photos is not None:
        from mirage_world.worlds.layouts import generate_scene

        return generate_scene(seed, kind, photos=photos)
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


# ----------------------------------------------------------------------------------------------------------------
# Ray casting
# ----------------------------------------------------------------------------------------------------------------

# Face instance id by (axis, direction sign >= 0): x-:2, x+:3, y-:1 (ceiling), y+:0 (floor), z-:4, z+:5.
_FACE_ID = ((2, 3), (1, 0), (4, 5))
_U8 = [torch.tensor(i, dtype=torch.uint8) for i in range(6)]


def _object_list(scene: Scene) -> list[tuple]:
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
        cs, sn = torch.cos(yaw)[:, None], torch.sin(yaw)[:, None]
        wx = cs * loc[..., 0] + sn * loc[..., 2]
        wz = -sn * loc[..., 0] + cs * loc[..., 2]
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
    z = pts[..., 2].clamp_min(eps)
    Kd = K.double()
    u = (Kd[0, 0] * pts[..., 0] / z + Kd[0, 2]) * ss - half
    v = (Kd[1, 1] * pts[..., 1] / z + Kd[1, 2]) * ss - half
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


def _surface_windows(
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
            cs, sn = math.cos(float(row[3])), math.sin(float(row[3]))
            wx = cs * loc[:, 0] + sn * loc[:, 2]
            wz = -sn * loc[:, 0] + cs * loc[:, 2]
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


def _union_windows(win: Tensor) -> list[tuple[int, int, int, int]]:
    """Union over frames of ``(F, S, 4)`` windows -> per surface ``(r0, r1, c0, c1)``."""
    empty = (win[..., 1] <= win[..., 0]) | (win[..., 3] <= win[..., 2])
    big = 1 << 30
    r0 = torch.where(empty, big, win[..., 0]).amin(0)
    r1 = torch.where(empty, -big, win[..., 1]).amax(0)
    c0 = torch.where(empty, big, win[..., 2]).amin(0)
    c1 = torch.where(empty, -big, win[..., 3]).amax(0)
    return list(zip(r0.tolist(), r1.tolist(), c0.tolist(), c1.tolist()))


def _dynamic_objects(scene: Scene, times: Tensor) -> list[tuple]:
    """Dynamic objects in the format of :func:`_object_list`, with ``(F, 3)`` float32 centres at ``times``."""
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


def _camera_inside_dynamic(scene: Scene, o: Tensor, times: Tensor) -> Tensor:
    """``(T,)`` bool: camera centre ``o`` ``(T, 3)`` inside (or within 1 cm of) a dynamic object at its time."""
    inside = torch.zeros(o.shape[0], dtype=torch.bool)
    if not scene.n_dynamic:
        return inside
    cen = scene.dynamic_centers(times).double()
    q = o.double()[:, None, :] - cen  # (T, nd, 3)
    for j, (k, sh) in enumerate(zip(scene.dyn_kind.tolist(), scene.dyn_shape.tolist())):
        x, y, z = q[:, j, 0], q[:, j, 1], q[:, j, 2]
        if k == 0:
            cs, sn = math.cos(sh[3]), math.sin(sh[3])
            lx, lz = x * cs - z * sn, x * sn + z * cs
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
            lx = dx * cs - dz * sn
            lz = dx * sn + dz * cs
            ex, ez = cs * ex - sn * ez, sn * ex + cs * ez
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


def _trace(scene: Scene, objs: list, o: Tensor, d: Tensor, wins: list[tuple]) -> tuple[Tensor, Tensor]:
    """Nearest hits of rays ``o[f] + t d[f]``.

    Args:
        o: ``(F, 3)`` camera centres; d: ``(F, h, w, 3)`` unnormalised world directions (camera z = 1, so ``t`` is
            z-depth); wins: per surface ray windows (union over the F frames, see :func:`_union_windows`).

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


def _noise(*coords: tuple[Tensor, Tensor]) -> Tensor:
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


def _albedo(mtype: int, pal: Tensor, prm: list[float], uu: Tensor, vv: Tensor, photos: Tensor | None = None) -> Tensor:
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
        nz = _noise((u * p1, v * p1), gset)
        n = nz[int(p0), 0]
        col = _look(_lut(pal[0], pal[1], pal[2]), (n - 0.5) * p2 + 0.5)
        grain = nz[1, 1]
    elif name == "marble":
        nz = _noise((u * p2, v * p2), gset)
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
        nz = _noise((u * 3.0, v * 3.0), gset)
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
        nz = _noise((us * 0.4, v * 6.0), (u * 0.8, v * 40.0))
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
        grain = _noise(gset)[1, 0]
    elif name == "stripes":
        period, ncol, soft, jit = p0, int(p1), p2, p3
        nz = _noise((u * 0.7, v * 0.7), gset)
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
        nz = _noise((u * 2.0, v * 2.0), gset)
        col = _look(_lut(pal[0], pal[2]), t * (1 - namt) + nz[0, 0] * namt)
        grain = nz[1, 1]
    elif name == "gradient":
        length, start, namt, nf = p0, p1, p2, p3
        t = ((uu * math.sin(rot) + vv * math.cos(rot)) - start) * (1.0 / length)
        nz = _noise((u * nf, v * nf), gset)
        col = _look(_lut(pal[0], pal[1]), t + (nz[0, 0] - 0.5) * (2 * namt))
        grain = nz[1, 1]
    else:  # plaster
        nf, amp, mix = p0, p1, p2
        nz = _noise((u * nf, v * nf))
        base = pal[0] + mix * 0.3 * (pal[1] - pal[0])
        col = base * (nz[0, 0] * (2 * amp) + (1 - amp))[..., None]
        grain_amp = 0.0
        grain = None
    if grain is not None and grain_amp > 0:
        col = col * (grain * (2 * grain_amp) + (1 - grain_amp))[..., None]
    return col


# ----------------------------------------------------------------------------------------------------------------
# Shading
# ----------------------------------------------------------------------------------------------------------------


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
        lx = qx * cs - qz * sn
        lz = qx * sn + qz * cs
        ax_ = (lx * (1.0 / h[0])).abs()
        ay_ = (qy * (1.0 / h[1])).abs()
        az_ = (lz * (1.0 / h[2])).abs()
        is_x = (ax_ >= ay_) & (ax_ >= az_)
        is_y = (~is_x) & (ay_ >= az_)
        is_z = ~(is_x | is_y)
        nlx = torch.where(is_x, torch.sign(lx), 0.0)
        nlz = torch.where(is_z, torch.sign(lz), 0.0)
        nly = torch.where(is_y, torch.sign(qy), 0.0)
        n = torch.stack([nlx * cs + nlz * sn, nly, nlz * cs - nlx * sn], -1)
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


class _Shader:
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
            alb = _albedo(self.types[sid], self.pal[sid], self.params[sid], gu, gv, self.photos)
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
        alb = _albedo(self.types[sid], self.pal[sid], self.params[sid], uu, vv, self.photos)
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
        n = _noise((u, v))[0, 0]
        c = ((n - (1.0 - cover)) * 4.0).clamp_(0, 1) * ((up - 0.02) * 6.0).clamp_(0, 1)
        cloud = hz * 0.35 + 0.65
        col = col + c[..., None] * (cloud - col)
    if glow > 0:
        sd = scene.dir_to_light.float()
        cosang = (dn * sd).sum(-1)
        g = glow * (torch.exp((cosang - 1.0) * 400.0) + 0.35 * torch.exp((cosang - 1.0) * 6.0))
        col = col + g[..., None] * scene.tint.float()
    return col.clamp_(0, 1)


def _shade(
    scene: Scene, shader: _Shader, objs: list, p: Tensor, inst: Tensor, wins: list[tuple], o: Tensor | None = None
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


# ----------------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------------


def _check_pos_int(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def _camera_dirs(K: Tensor, height: int, width: int, ss: int) -> Tensor:
    """Unnormalised camera-frame ray directions (z = 1) through sub-pixel samples: ``(H*ss, W*ss, 3)``.

    Sample ``(r, c)`` goes through pixel coordinate ``((c + 0.5) / ss, (r + 0.5) / ss)``; for ``ss = 1`` these are
    exactly the pixel centres of :func:`~mirage_world.geometry.camera.pixel_centers`.
    """
    if ss == 1:
        uv = pixel_centers(height, width, dtype=torch.float32)
    else:
        uu = (torch.arange(width * ss, dtype=torch.float32) + 0.5) / ss
        vv = (torch.arange(height * ss, dtype=torch.float32) + 0.5) / ss
        gv, gu = torch.meshgrid(vv, uu, indexing="ij")
        uv = torch.stack([gu, gv], -1)
    x = (uv[..., 0] - K[0, 2]) / K[0, 0]
    y = (uv[..., 1] - K[1, 2]) / K[1, 1]
    return torch.stack([x, y, torch.ones_like(x)], -1)


def _box_downsample(x: Tensor) -> Tensor:
    """Mean over axes 2 and 4 of ``(F, H, ss, W, ss, C)``, summed in a fixed order (bitwise reproducible for any
    thread count, unlike a parallel reduction)."""
    ss = x.shape[2]
    acc = None
    for a in range(ss):
        for b in range(ss):
            acc = x[:, :, a, :, b].clone() if acc is None else acc.add_(x[:, :, a, :, b])
    return acc.mul_(1.0 / (ss * ss))


def render(
    scene: Scene,
    c2w: Tensor,
    K: Tensor,
    height: int,
    width: int,
    ss: int = 2,
    *,
    chunk_frames: int = 4,
    times=None,
    aa: str = "box",
) -> dict[str, Tensor]:
    """Ray-cast a scene from one or more cameras.

    Args:
        scene: a :class:`Scene`.
        c2w: ``(4, 4)`` or ``(T, 4, 4)`` camera-to-world poses (OpenCV axes); camera centres must lie strictly
            inside the room box (and outside the dynamic objects at their frame times).
        K: ``(3, 3)`` intrinsics in pixels of the ``(height, width)`` output grid (shared by all frames).
        height, width: output size in pixels (> 0).
        ss: supersampling factor per axis for ``rgb`` with ``aa="box"`` (``ss * ss`` rays per pixel at
            ``i + (k + 0.5) / ss``, box-filtered); >= 1. Ignored by ``aa="quincunx"``.
        chunk_frames: frames traced together (memory / speed trade-off only; results do not depend on it).
        times: ``(T,)`` frame times of the dynamic objects (frame-index units); default ``0, 1, ..., T-1``.
        aa: ``"box"`` (default) or ``"quincunx"``: ``rgb = 0.5 * centre + 0.125 * (4 pixel corners)``, the corner
            rays shared by neighbouring pixels (about 2 shaded rays per pixel instead of ``ss * ss``).

    Returns:
        dict with ``rgb`` float32 ``(T, H, W, 3)`` in [0, 1]; ``depth`` float32 ``(T, H, W)`` metric z-depth of
        the surface hit by the single ray through each pixel centre (> 0 everywhere; :data:`SKY_DEPTH` on sky);
        ``instance`` int32 ``(T, H, W)`` id of that surface (see module doc). ``T = 1`` for a ``(4, 4)`` pose.

    Raises:
        ValueError: bad sizes, ``ss < 1``, wrong shapes, non-finite ``c2w`` / ``K`` / ``times``, non-positive
            focal lengths, an unknown ``aa``, a camera centre outside the room or inside a dynamic object.
    """
    height = _check_pos_int("height", height)
    width = _check_pos_int("width", width)
    ss = _check_pos_int("ss", ss)
    chunk_frames = _check_pos_int("chunk_frames", chunk_frames)
    if aa not in AA_MODES:
        raise ValueError(f"aa must be one of {AA_MODES}, got {aa!r}")
    c2w = torch.as_tensor(c2w)
    K = torch.as_tensor(K)
    if c2w.ndim == 2:
        c2w = c2w.unsqueeze(0)
    if c2w.ndim != 3 or c2w.shape[-2:] != (4, 4) or c2w.shape[0] < 1:
        raise ValueError(f"c2w must be (4,4) or (T,4,4) with T >= 1, got {tuple(c2w.shape)}")
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3,3), got {tuple(K.shape)}")
    c2w = c2w.detach().to("cpu", torch.float32)
    K = K.detach().to("cpu", torch.float32)
    if not torch.isfinite(c2w).all():
        raise ValueError("c2w must be finite")
    if not torch.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError("K must be finite with positive focal lengths")
    if not scene.contains(c2w[:, :3, 3]).all():
        raise ValueError("every camera centre must lie strictly inside the room box")
    T = c2w.shape[0]
    if times is None:
        times = torch.arange(T, dtype=torch.float64)
    else:
        times = torch.as_tensor(times).detach().to("cpu", torch.float64).reshape(-1)
        if times.shape[0] != T or not torch.isfinite(times).all():
            raise ValueError(f"times must be {T} finite values (one per pose), got shape {tuple(times.shape)}")
    if scene.n_dynamic and bool(_camera_inside_dynamic(scene, c2w[:, :3, 3], times).any()):
        raise ValueError("a camera centre lies inside a dynamic object at its frame time")
    if aa == "quincunx":
        return _render_quincunx(scene, c2w, K, height, width, chunk_frames, times)

    hs, ws = height * ss, width * ss
    objs = _object_list(scene)
    shader = _Shader(scene)
    if scene.has_exterior:
        shader.focal = float(K[0, 0]) * ss
    dirs_ss = _camera_dirs(K, height, width, ss).reshape(-1, 3)
    dirs_c = dirs_ss if ss == 1 else _camera_dirs(K, height, width, 1).reshape(-1, 3)
    win_ss = _surface_windows(scene, c2w, K, hs, ws, ss, times)
    win_c = win_ss if ss == 1 else _surface_windows(scene, c2w, K, height, width, 1, times)
    rgb_out = torch.empty(T, height, width, 3)
    depth_out = torch.empty(T, height, width)
    inst_out = torch.empty(T, height, width, dtype=torch.int32)
    for s in range(0, T, chunk_frames):
        e = min(T, s + chunk_frames)
        Fr = e - s
        Rt = c2w[s:e, :3, :3].transpose(-1, -2)
        o = c2w[s:e, :3, 3].contiguous()  # (F,3)
        objs_f = objs + _dynamic_objects(scene, times[s:e]) if scene.n_dynamic else objs
        d = (dirs_ss @ Rt).view(Fr, hs, ws, 3)
        wins = _union_windows(win_ss[s:e])
        t, inst = _trace(scene, objs_f, o, d, wins)
        p = torch.addcmul(o[:, None, None, :], t[..., None], d)
        rgb = _shade(scene, shader, objs_f, p, inst, wins, o)
        if ss > 1:
            rgb = _box_downsample(rgb.view(Fr, height, ss, width, ss, 3))
            dc = (dirs_c @ Rt).view(Fr, height, width, 3)
            t, inst = _trace(scene, objs_f, o, dc, _union_windows(win_c[s:e]))
        rgb_out[s:e] = rgb
        depth_out[s:e] = t
        inst_out[s:e] = inst
    return {"rgb": rgb_out.clamp_(0, 1), "depth": depth_out, "instance": inst_out}


def _corner_dirs(K: Tensor, height: int, width: int) -> Tensor:
    """Camera-frame ray directions (z = 1) through the pixel corners ``(c, r)``: ``(H+1, W+1, 3)``."""
    uu = torch.arange(width + 1, dtype=torch.float32)
    vv = torch.arange(height + 1, dtype=torch.float32)
    gv, gu = torch.meshgrid(vv, uu, indexing="ij")
    x = (gu - K[0, 2]) / K[0, 0]
    y = (gv - K[1, 2]) / K[1, 1]
    return torch.stack([x, y, torch.ones_like(x)], -1)


def _render_quincunx(
    scene: Scene, c2w: Tensor, K: Tensor, height: int, width: int, chunk_frames: int, times: Tensor
) -> dict[str, Tensor]:
    """:func:`render` with ``aa="quincunx"`` (arguments already validated)."""
    T = c2w.shape[0]
    objs = _object_list(scene)
    shader = _Shader(scene)
    if scene.has_exterior:
        shader.focal = float(K[0, 0])
    dirs_c = _camera_dirs(K, height, width, 1).reshape(-1, 3)
    dirs_k = _corner_dirs(K, height, width).reshape(-1, 3)
    win_c = _surface_windows(scene, c2w, K, height, width, 1, times)
    win_k = _surface_windows(scene, c2w, K, height + 1, width + 1, 1, times, half=0.0)
    rgb_out = torch.empty(T, height, width, 3)
    depth_out = torch.empty(T, height, width)
    inst_out = torch.empty(T, height, width, dtype=torch.int32)
    for s in range(0, T, chunk_frames):
        e = min(T, s + chunk_frames)
        Fr = e - s
        Rt = c2w[s:e, :3, :3].transpose(-1, -2)
        o = c2w[s:e, :3, 3].contiguous()
        objs_f = objs + _dynamic_objects(scene, times[s:e]) if scene.n_dynamic else objs
        cols = []
        for dirs, win, h, w in ((dirs_c, win_c, height, width), (dirs_k, win_k, height + 1, width + 1)):
            d = (dirs @ Rt).view(Fr, h, w, 3)
            wins = _union_windows(win[s:e])
            t, inst = _trace(scene, objs_f, o, d, wins)
            p = torch.addcmul(o[:, None, None, :], t[..., None], d)
            cols.append(_shade(scene, shader, objs_f, p, inst, wins, o))
            if h == height:
                depth_out[s:e] = t
                inst_out[s:e] = inst
        k = cols[1]
        acc = k[:, :-1, :-1] + k[:, :-1, 1:]
        acc = acc.add_(k[:, 1:, :-1]).add_(k[:, 1:, 1:])
        rgb_out[s:e] = cols[0].mul(0.5).add_(acc, alpha=0.125)
    return {"rgb": rgb_out.clamp_(0, 1), "depth": depth_out, "instance": inst_out}


# ----------------------------------------------------------------------------------------------------------------
# Cameras
# ----------------------------------------------------------------------------------------------------------------


def look_at_c2w(position, yaw: float, pitch: float = 0.0) -> Tensor:
    """Camera-to-world pose from a position and yaw/pitch (radians), roll 0, OpenCV axes, world up = -y.

    ``yaw = 0`` looks along +z, positive yaw turns towards +x; positive pitch looks down (towards +y).

    Returns:
        ``(4, 4)`` float32 ``c2w``.
    """
    return _poses(np.asarray(position, np.float64)[None], np.array([yaw]), np.array([pitch]))[0]


def _poses(pos: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> Tensor:
    """Vectorised :func:`look_at_c2w`: ``(n,3)``, ``(n,)``, ``(n,)`` -> ``(n,4,4)`` float32."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    fwd = np.stack([sy * cp, sp, cy * cp], -1)
    right = np.stack([cy, np.zeros_like(cy), -sy], -1)
    down = np.cross(fwd, right)
    out = np.zeros((len(pos), 4, 4))
    out[:, :3, 0] = right
    out[:, :3, 1] = down
    out[:, :3, 2] = fwd
    out[:, :3, 3] = pos
    out[:, 3, 3] = 1.0
    return torch.from_numpy(out.astype(np.float32))


def intrinsics_from_fov(fov_deg: float, height: int, width: int) -> Tensor:
    """Pinhole ``K`` (3,3) float32 with horizontal field of view ``fov_deg``, square pixels, ``c = (W/2, H/2)``."""
    if not (0 < fov_deg < 180):
        raise ValueError(f"fov_deg must be in (0, 180), got {fov_deg}")
    height = _check_pos_int("height", height)
    width = _check_pos_int("width", width)
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=torch.float32)


_MOTIONS = ("pan", "dolly", "truck", "orbit", "tilt_pan", "dolly_pan", "truck_pan", "dolly_truck", "arc")


def _profile(rng: np.random.Generator, n: int) -> np.ndarray:
    """Monotone progress ``s`` in [0, 1] over n frames: a blend of constant speed and ease-in-out."""
    x = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    a = rng.uniform(0.0, 1.0) if rng.random() < 0.6 else 0.0
    return (1 - a) * x + a * x * x * (3 - 2 * x)


def _motion_amount(c2w_a: Tensor, c2w_b: Tensor, steps: int) -> np.ndarray:
    """Translation (m) and rotation (deg) between two poses, rescaled to a 15-step (16-frame) interval."""
    a, b = c2w_a.double(), c2w_b.double()
    tr = float(torch.linalg.vector_norm(b[:3, 3] - a[:3, 3]))
    cos = float(((a[:3, :3].T @ b[:3, :3]).trace() - 1) / 2)
    rot = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
    return np.array([tr, rot]) * 15.0 / max(steps, 1) + 1e-6


def random_camera_path(scene: Scene, n_frames: int, seed: int) -> Tensor:
    """A smooth random camera trajectory inside the scene's free space.

    Motion kinds: pan (yaw), dolly (forward/back), truck (lateral), orbit around an object, tilt (pitch) with pan,
    and combinations (dolly+pan, truck+counter-pan, dolly+truck, arc). Rates are such that 16 frames (15 steps)
    translate 0.2-1.0 m and/or rotate 5-40 degrees; longer clips keep the rate (pans are capped at 90 degrees
    total). Progress along the path is a random blend of constant speed and ease-in-out.

    The start pose has at least :data:`CAMERA_CLEARANCE` metres of horizontal clearance from walls and object
    footprints, and every frame of the path keeps that clearance (paths violating it are shrunk or replaced; the
    final fallback is a pan in place). Camera height is ``y in [-0.15, 0.15]`` (eye height above the floor),
    pitch (positive = looking down) stays within [-10, 16] degrees, roll is zero.

    Args:
        scene: the scene.
        n_frames: number of poses (>= 1).
        seed: non-negative int; path = f(scene, n_frames, seed), deterministic.

    Returns:
        ``(n_frames, 4, 4)`` float32 ``c2w``.

    Raises:
        ValueError: ``n_frames < 1`` or a bad seed.
    """
    n = _check_pos_int("n_frames", n_frames)
    seed = _check_seed(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, scene.seed, 0xCA3]))
    clear = CAMERA_CLEARANCE
    lo = scene.room_min.double().numpy()
    hi = scene.room_max.double().numpy()
    steps = max(n - 1, 1)

    # ---- start position: prefer the reserved free disc, otherwise rejection-sample the room
    start = None
    for i in range(400):
        if i < 200 and scene.free_radius > 0:
            r = np.sqrt(rng.random()) * scene.free_radius
            a = rng.uniform(0, 2 * np.pi)
            cand = scene.free_center.double().numpy() + r * np.array([np.cos(a), np.sin(a)])
        else:
            cand = rng.uniform(lo[[0, 2]] + clear, hi[[0, 2]] - clear)
        if scene.clearance(cand[None])[0] >= clear + 0.1:
            start = cand
            break
    if start is None:  # tiny or crowded hand-made room: best point on a grid
        gx, gz = np.meshgrid(np.linspace(lo[0], hi[0], 41)[1:-1], np.linspace(lo[2], hi[2], 41)[1:-1])
        grid = np.stack([gx.ravel(), gz.ravel()], -1)
        start = grid[np.argmax(scene.clearance(grid))]
    y0 = float(np.clip(rng.uniform(-0.1, 0.1), lo[1] + 0.3, hi[1] - 0.3))

    centers = scene.object_centers_xz()
    if len(centers) and rng.random() < 0.75:
        tgt = centers[rng.integers(len(centers))]
    else:
        tgt = rng.uniform(lo[[0, 2]], hi[[0, 2]])
        if np.hypot(*(tgt - start)) < 0.5:
            tgt = 0.5 * (lo[[0, 2]] + hi[[0, 2]]) + 1e-3
    yaw0 = float(np.arctan2(tgt[0] - start[0], tgt[1] - start[1]) + rng.normal(0, np.radians(12)))
    pitch0 = float(np.radians(rng.uniform(-6, 12)))

    def trans_total(scale=1.0):
        return rng.uniform(0.2, 1.0) / 15.0 * steps * scale

    def rot_total():
        return float(np.radians(min(rng.uniform(5.0, 40.0) / 15.0 * steps, 90.0)) * rng.choice([-1, 1]))

    def ok(pos: np.ndarray) -> bool:
        return bool((scene.clearance(pos[:, [0, 2]]) >= clear).all())

    def build(kind: str):
        s = _profile(rng, n)
        yaw = np.full(n, yaw0)
        pitch = np.full(n, pitch0)
        pos = np.tile(np.array([start[0], y0, start[1]]), (n, 1))
        fwd = np.array([np.sin(yaw0), 0.0, np.cos(yaw0)])
        right = np.array([np.cos(yaw0), 0.0, -np.sin(yaw0)])
        if kind == "pan":
            yaw = yaw0 + rot_total() * s
            pitch = pitch0 + np.radians(rng.uniform(-3, 3)) * s
        elif kind == "tilt_pan":
            yaw = yaw0 + rot_total() * 0.5 * s
            pitch = pitch0 + np.radians(rng.uniform(4, 12)) * (-1.0 if pitch0 > np.radians(3) else 1.0) * s
        elif kind in ("dolly", "truck", "dolly_pan", "truck_pan", "dolly_truck"):
            if kind == "dolly_truck":
                a = rng.uniform(0, 2 * np.pi)
                vec = np.cos(a) * fwd + np.sin(a) * right
            elif kind.startswith("dolly"):
                vec = fwd * rng.choice([-1.0, 1.0], p=[0.3, 0.7])
            else:
                vec = right * rng.choice([-1.0, 1.0])
            pos = pos + np.outer(s * trans_total(), vec)
            pos[:, 1] += rng.uniform(-0.05, 0.05) * s
            if kind == "dolly_pan":
                yaw = yaw0 + rot_total() * 0.6 * s
            elif kind == "truck_pan":  # counter-pan keeps the subject roughly centred
                side = np.sign(vec @ right)
                yaw = yaw0 - side * abs(rot_total()) * 0.5 * s
        elif kind == "arc":  # drive forward while turning (heading follows the motion)
            turn = rot_total()
            ds = np.diff(s)
            mid = 0.5 * (s[1:] + s[:-1])
            ang = yaw0 + turn * mid
            step = trans_total() * ds
            disp = np.stack([np.sin(ang) * step, np.zeros(n - 1), np.cos(ang) * step], -1)
            pos = pos + np.concatenate([np.zeros((1, 3)), np.cumsum(disp, 0)], 0)
            yaw = yaw0 + turn * s
        elif kind == "orbit":
            if not len(centers):
                return None
            dist = np.hypot(centers[:, 0] - start[0], centers[:, 1] - start[1])
            k = int(np.argmin(dist))
            c, R = centers[k], dist[k]
            if R > 4.5 or R < 0.6:
                return None
            a0 = np.arctan2(start[0] - c[0], start[1] - c[1])
            arc = trans_total()
            ang = arc / R
            ang = float(np.clip(ang, np.radians(5) * steps / 15, np.radians(40) * steps / 15)) * rng.choice([-1, 1])
            a = a0 + ang * s
            pos = np.stack([c[0] + R * np.sin(a), np.full(n, y0), c[1] + R * np.cos(a)], -1)
            yaw = np.arctan2(c[0] - pos[:, 0], c[1] - pos[:, 2]) + rng.normal(0, np.radians(5))
            hgt = scene.floor_y - scene.object_heights()[k] * 0.5
            pitch = np.full(n, np.clip(np.arctan2(hgt - y0, R), np.radians(-5), np.radians(15)))
        return pos, yaw, pitch

    def enough_motion(pos, yaw, pitch) -> bool:
        if n == 1:
            return True
        ends = _poses(pos[[0, -1]], np.asarray(yaw, np.float64)[[0, -1]], np.asarray(pitch, np.float64)[[0, -1]])
        return (_motion_amount(ends[0], ends[1], steps) >= (0.2, 5.0)).any()

    w = np.array([0.17, 0.16, 0.12, 0.13, 0.07, 0.12, 0.09, 0.07, 0.07])
    result = None
    for _ in range(12):
        kind = _MOTIONS[int(rng.choice(len(_MOTIONS), p=w / w.sum()))]
        out = build(kind)
        if out is None:
            continue
        pos, yaw, pitch = out
        base = np.array([start[0], y0, start[1]])
        for shrink in (1.0, 0.7, 0.45):  # shrink the translation towards the start if it leaves free space
            p2 = base + (pos - base) * shrink
            if ok(p2) and enough_motion(p2, yaw, pitch):
                result = (p2, yaw, pitch)
                break
        if result is not None:
            break
    if result is None:
        s = _profile(rng, n)
        result = (np.tile(np.array([start[0], y0, start[1]]), (n, 1)), yaw0 + rot_total() * s, np.full(n, pitch0))
    pos, yaw, pitch = result
    return _poses(pos, np.asarray(yaw, np.float64), np.asarray(pitch, np.float64))


def render_clip(
    seed: int,
    n_frames: int = 16,
    height: int = 128,
    width: int = 128,
    fov_deg: tuple[float, float] | float = (50.0, 75.0),
    ss: int = 2,
) -> dict[str, Tensor]:
    """Render a random clip: :func:`random_scene` + :func:`random_camera_path` + random horizontal FOV.

    Args:
        seed: non-negative int; everything is a deterministic function of the arguments.
        n_frames: clip length (>= 1).
        height, width: frame size in pixels.
        fov_deg: horizontal field of view in degrees, a ``(lo, hi)`` range sampled uniformly or a fixed value.
        ss: supersampling factor for ``rgb``.

    Returns:
        dict with ``rgb`` float32 ``(T,H,W,3)`` in [0,1], ``depth`` float32 ``(T,H,W)`` metric z-depth,
        ``instance`` int32 ``(T,H,W)``, ``c2w`` float32 ``(T,4,4)``, ``K`` float32 ``(3,3)`` (square pixels,
        principal point ``(W/2, H/2)``).

    Raises:
        ValueError: bad seed, sizes, ``n_frames < 1`` or FOV outside (0, 180).
    """
    seed = _check_seed(seed)
    n_frames = _check_pos_int("n_frames", n_frames)
    height = _check_pos_int("height", height)
    width = _check_pos_int("width", width)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF0F]))
    if isinstance(fov_deg, (tuple, list)):
        lo_f, hi_f = float(fov_deg[0]), float(fov_deg[1])
        if not (0 < lo_f <= hi_f < 180):
            raise ValueError(f"fov_deg range must satisfy 0 < lo <= hi < 180, got {fov_deg}")
        fov = float(rng.uniform(lo_f, hi_f))
    else:
        fov = float(fov_deg)
    K = intrinsics_from_fov(fov, height, width)
    scene = random_scene(seed)
    c2w = random_camera_path(scene, n_frames, seed)
    out = render(scene, c2w, K, height, width, ss=ss)
    out["c2w"] = c2w
    out["K"] = K
    return out
