"""Procedural worlds with exact ground truth: rooms, furnished rooms with windows, courtyards and streets open to
the sky, moving objects, camera paths placed in them, clip files in Mirage's ``geometry.npz`` layout, datasets.

Modules (each imports only the ones listed before it; see ``design.md``):
:mod:`~mirage_world.worlds.scene` (the :class:`Scene` dataclass, id / sky conventions, argument checks),
:mod:`~mirage_world.worlds.textures` (material draws and procedural textures),
:mod:`~mirage_world.worlds.camera_paths` (native random camera paths),
:mod:`~mirage_world.worlds.raycast` (vectorised analytic ray casting),
:mod:`~mirage_world.worlds.shading` (lighting, sky, fog),
:mod:`~mirage_world.worlds.rooms` (``make_scene`` and the original random room),
:mod:`~mirage_world.worlds.photos` (photo textures),
:mod:`~mirage_world.worlds.layouts` (scene families, ``random_scene``, ``generate_scene``),
:mod:`~mirage_world.worlds.dynamic` (moving objects),
:mod:`~mirage_world.worlds.render` (``render``, ``render_clip``),
:mod:`~mirage_world.worlds.paths` (presets / RealEstate10K / closed-loop paths placed in a scene),
:mod:`~mirage_world.worlds.dataset` (clips, files, datasets), :mod:`~mirage_world.worlds.cli` (``mirage world``).

Camera math (projection, ray directions, intrinsics, rotations, poses) is :mod:`mirage_world.geometry`'s;
``intrinsics_from_fov`` and ``look_at_c2w`` are re-exported here from there.
"""

from mirage_world.geometry.camera import intrinsics_from_fov
from mirage_world.geometry.rotations import look_at_c2w
from mirage_world.worlds.camera_paths import CAMERA_CLEARANCE, random_camera_path
from mirage_world.worlds.dataset import (
    WorldClip,
    closed_loop_specs,
    load_world_clip,
    make_dataset,
    render_world,
    save_world_clip,
)
from mirage_world.worlds.dynamic import add_dynamic_objects
from mirage_world.worlds.layouts import SCENE_KINDS, generate_scene, random_scene
from mirage_world.worlds.paths import CLOSED_LOOPS, closed_loop_path, world_path
from mirage_world.worlds.photos import load_texture_photos
from mirage_world.worlds.render import AA_MODES, render, render_clip
from mirage_world.worlds.rooms import make_scene
from mirage_world.worlds.scene import GROUND_ID, GROUND_MAX_DEPTH, ROOM_SURFACES, SKY_DEPTH, SKY_ID, Scene
from mirage_world.worlds.textures import TEXTURE_TYPES

__all__ = [
    "AA_MODES",
    "CAMERA_CLEARANCE",
    "CLOSED_LOOPS",
    "GROUND_ID",
    "GROUND_MAX_DEPTH",
    "ROOM_SURFACES",
    "SCENE_KINDS",
    "SKY_DEPTH",
    "SKY_ID",
    "TEXTURE_TYPES",
    "Scene",
    "WorldClip",
    "add_dynamic_objects",
    "closed_loop_path",
    "closed_loop_specs",
    "generate_scene",
    "intrinsics_from_fov",
    "load_texture_photos",
    "load_world_clip",
    "look_at_c2w",
    "make_dataset",
    "make_scene",
    "random_camera_path",
    "random_scene",
    "render",
    "render_clip",
    "render_world",
    "save_world_clip",
    "world_path",
]
