"""Procedural training worlds: analytic indoor scenes with exact depth, cameras and instance ids."""

from mirage_world.worlds.scenes import (
    CAMERA_CLEARANCE,
    ROOM_SURFACES,
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
    "CAMERA_CLEARANCE",
    "ROOM_SURFACES",
    "TEXTURE_TYPES",
    "Scene",
    "intrinsics_from_fov",
    "look_at_c2w",
    "make_scene",
    "random_camera_path",
    "random_scene",
    "render",
    "render_clip",
]
