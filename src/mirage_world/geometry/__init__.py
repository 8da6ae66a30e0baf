"""Camera geometry: every camera computation of the package, in one convention (see ``design.md``).

Modules: :mod:`~mirage_world.geometry.camera` (projection, unprojection, intrinsics, latent grids, depth pooling,
the pose / intrinsics checks), :mod:`~mirage_world.geometry.rotations` (axis rotations, yaw rotations of ``(x, z)``
pairs, SO(3) projection, yaw / pitch poses), :mod:`~mirage_world.geometry.convert` (foreign axis conventions),
:mod:`~mirage_world.geometry.camera_files` (camera-path file formats) and
:mod:`~mirage_world.geometry.trajectory` (path operations, presets, ``load_trajectory``). This package re-exports
the first three; import the last two as modules (``camera_files`` must not pull in ``trajectory``).
"""

from mirage_world.geometry.camera import (
    DEPTH_POOL_MODES,
    LAST_ROW_TOL,
    ROT_TOL,
    check_c2w,
    check_intrinsics,
    crop_intrinsics,
    downsample_depth,
    intrinsics_from_fov,
    invert_pose,
    latent_grid,
    latent_intrinsics,
    pixel_centers,
    pixel_corners,
    pixel_rays,
    project_camera_points,
    project_points,
    project_with_matrices,
    projection_matrices,
    rescale_intrinsics,
    transform_points,
    unproject_depth,
)
from mirage_world.geometry.convert import (
    OPENGL_TO_OPENCV,
    blender_to_opencv_c2w,
    c2w_to_w2c,
    opencv_to_blender_c2w,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    w2c_to_c2w,
)
from mirage_world.geometry.rotations import (
    look_at_c2w,
    look_at_poses,
    nearest_rotation,
    rot_x,
    rot_y,
    rotate_y,
    unrotate_y,
)

__all__ = [
    "DEPTH_POOL_MODES",
    "LAST_ROW_TOL",
    "OPENGL_TO_OPENCV",
    "ROT_TOL",
    "blender_to_opencv_c2w",
    "c2w_to_w2c",
    "check_c2w",
    "check_intrinsics",
    "crop_intrinsics",
    "downsample_depth",
    "intrinsics_from_fov",
    "invert_pose",
    "latent_grid",
    "latent_intrinsics",
    "look_at_c2w",
    "look_at_poses",
    "nearest_rotation",
    "opencv_to_blender_c2w",
    "opencv_to_opengl_c2w",
    "opengl_to_opencv_c2w",
    "pixel_centers",
    "pixel_corners",
    "pixel_rays",
    "project_camera_points",
    "project_points",
    "project_with_matrices",
    "projection_matrices",
    "rescale_intrinsics",
    "rot_x",
    "rot_y",
    "rotate_y",
    "transform_points",
    "unproject_depth",
    "unrotate_y",
    "w2c_to_c2w",
]
