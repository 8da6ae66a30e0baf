"""Procedural worlds with exact ground truth: rooms, furnished rooms with windows, courtyards and streets open to
the sky, moving objects, camera paths placed in them, clip files in Mirage's ``geometry.npz`` layout, datasets.

Modules: :mod:`~mirage_world.worlds.scenes` (scene representation and the vectorised torch ray caster),
:mod:`~mirage_world.worlds.layouts` (scene families, photo textures, dynamic objects),
:mod:`~mirage_world.worlds.paths` (presets / RealEstate10K / closed-loop paths placed in a scene),
:mod:`~mirage_world.worlds.dataset` (clips, files, datasets), :mod:`~mirage_world.worlds.cli` (``mirage world``).
"""

from mirage_world.worlds.dataset import (  # noqa: E402
    WorldClip,
    closed_loop_specs,
    load_world_clip,
    make_dataset,
    render_world,
    save_world_clip,
)
from mirage_world.worlds.layouts import (  # noqa: E402  (after scenes: layouts builds on it)
    SCENE_KINDS,
    add_dynamic_objects,
    generate_scene,
    load_texture_photos,
)
from mirage_world.worlds.paths import CLOSED_LOOPS, closed_loop_path, world_path  # noqa: E402
from mirage_world.worlds.scenes import (
    AA_MODES,
    CAMERA_CLEARANCE,
    GROUND_ID,
    GROUND_MAX_DEPTH,
    ROOM_SURFACES,
    SKY_DEPTH,
    SKY_ID,
    TEXTURE_TYPES,
    Scene,
    intrinsics_from_fov,
    look_at_c2w,
    make_scene,
    random_camera_path,
    random_scene,
    render,
    render_clip,
)

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
