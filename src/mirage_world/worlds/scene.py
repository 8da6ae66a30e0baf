"""Scene description of the procedural worlds: the :class:`Scene` dataclass, the ground-truth conventions that
every module shares (instance ids, the sky / ground sentinels) and the argument checks the other modules use.

A scene is the inside of an axis-aligned room (floor, ceiling, four walls) plus objects resting on the floor: boxes
(optionally rotated about the vertical axis), spheres and vertical cylinders, one material per surface, and the
lights. Scenes are built by :func:`~mirage_world.worlds.rooms.make_scene` (explicit geometry),
:func:`~mirage_world.worlds.rooms.random_room` (the original closed room) and the families of
:mod:`~mirage_world.worlds.layouts`, and rendered by :func:`~mirage_world.worlds.render.render`.

Conventions (same as :mod:`mirage_world.geometry.camera`):

* OpenCV camera axes (+x right, +y down, +z forward); poses are camera-to-world ``c2w``; ``K`` is in pixels;
  pixel ``(i, j)`` is sampled through ``(i + 0.5, j + 0.5)``; depth is metric z-depth.
* World up is ``-y``: the floor is the plane ``y = room_max[1] > 0`` and the ceiling ``y = room_min[1] < 0``.
  Generated cameras sit near ``y = 0`` (eye height = ``room_max[1]``).

Instance ids: ``0`` floor, ``1`` ceiling, ``2`` wall at ``x = room_min``, ``3`` wall at ``x = room_max``,
``4`` wall at ``z = room_min``, ``5`` wall at ``z = room_max``, then ``6 + k`` for object ``k`` in the order
boxes, spheres, cylinders, then ``6 + n_objects + j`` for dynamic object ``j``; :data:`GROUND_ID` and
:data:`SKY_ID` for the exterior ground and the sky.

Extensions (all off for the original room and for :func:`~mirage_world.worlds.rooms.make_scene` without the new
keyword arguments, whose renders are unchanged byte for byte):

* **Openings** (``Scene.openings``): axis-aligned rectangles in the walls or the ceiling where the face is absent
  (windows, doorways, an open sky above a courtyard, the open ends of a street). A ray that leaves the room box
  through an opening continues outside, where there is only the **exterior ground** (the floor plane ``y = floor_y``
  extended to infinity, instance :data:`GROUND_ID`, its own material, hits farther than :data:`GROUND_MAX_DEPTH`
  z-depth are dropped) and the **sky** (instance :data:`SKY_ID`, a colour gradient with sun glow and clouds, depth
  set to :data:`SKY_DEPTH` = 1000 m: a sentinel, not a measurement; consumers must mask sky out with
  ``instance == SKY_ID``).
* **Dynamic objects** (``Scene.dyn_*``): boxes, spheres, cylinders whose centre moves on an ellipse (a line segment
  when it is degenerate) as a function of the frame time ``t`` passed to :func:`~mirage_world.worlds.render.render`
  (``times``, default the frame index).
* **Photo textures** (``Scene.photos``): material type ``"photo"`` maps a user photo, mirrored-repeated, on a surface.
* **Fog** (``Scene.fog_length > 0``): distance haze towards the sky's horizon colour beyond ``fog_start`` metres.

Imports nothing from :mod:`mirage_world.worlds`; every other module of the package may import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from mirage_world.geometry.rotations import unrotate_y

__all__ = [
    "Scene",
    "ROOM_SURFACES",
    "SKY_ID",
    "GROUND_ID",
    "SKY_DEPTH",
    "GROUND_MAX_DEPTH",
    "MAX_OBJECTS_EXT",
    "as_f32",
    "check_seed",
    "check_positive_int",
]

#: Names of the six room surfaces, indexed by instance id.
ROOM_SURFACES = ("floor", "ceiling", "wall_x_min", "wall_x_max", "wall_z_min", "wall_z_max")
#: Instance id of the sky (rays that leave the scene through an opening and miss the exterior ground).
SKY_ID = 255
#: Instance id of the exterior ground (the floor plane outside the room box, seen through openings).
GROUND_ID = 254
#: Depth (metres, z-depth) written for sky pixels: a far sentinel, not a measurement (mask sky out with SKY_ID).
SKY_DEPTH = 1000.0
#: Exterior ground hits farther than this z-depth (metres) count as sky (the horizon).
GROUND_MAX_DEPTH = 300.0
#: Largest number of static + dynamic objects when a scene has openings or dynamic objects (ids 254/255 reserved).
MAX_OBJECTS_EXT = 248


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
        mat_type: ``(S,)`` int64 index into :data:`~mirage_world.worlds.textures.TEXTURE_TYPES`.
        mat_colors: ``(S, 3, 3)`` palette of three sRGB colours in [0, 1].
        mat_params: ``(S, 8)`` ``[scale, rotation(rad), offset_u, offset_v, p0, p1, p2, p3]`` (meaning of ``p*``
            depends on the type, see :mod:`~mirage_world.worlds.textures`).

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
            lx, lz = unrotate_y(q[:, 0], q[:, 1], math.cos(yaw), math.sin(yaw))
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


# ----------------------------------------------------------------------------------------------------------------
# Argument checks shared by the scene builders, the camera paths and the renderer
# ----------------------------------------------------------------------------------------------------------------


def as_f32(x, shape) -> Tensor:
    """``x`` (array-like) as a float32 CPU tensor reshaped to ``shape``.

    Raises:
        ValueError: a non-finite value ("scene parameters must be finite").
    """
    t = torch.as_tensor(np.asarray(x, dtype=np.float32).reshape(shape))
    if not torch.isfinite(t).all():
        raise ValueError("scene parameters must be finite")
    return t


def check_seed(seed) -> int:
    """``seed`` as an int. Raises :class:`ValueError` unless it is a non-negative int (bools are refused)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def check_positive_int(name: str, v) -> int:
    """``v`` as an int. Raises :class:`ValueError` (naming the argument ``name``) unless it is an int > 0."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)
