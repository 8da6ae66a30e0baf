"""Conversions from foreign camera conventions to the package's one convention (the single boundary).

The package convention (:mod:`mirage_world.geometry.camera`): OpenCV camera axes (+x right, +y down, +z forward),
camera-to-world ``c2w`` 4x4 poses. Every file reader in :mod:`mirage_world.geometry.camera_files` converts through
the functions here, and every writer converts back through them, so a convention is spelled out in exactly one
place.

Foreign conventions handled:

* **OpenGL / Blender / nerfstudio / NeRF-synthetic camera axes**: +x right, +y up, +z backward (the camera looks
  along -z). Blender's camera object uses the same local axes. The world frame is left as it is (Blender's world is
  Z-up, OpenCV-style worlds are often Y-down): paths are made relative to their first camera before use
  (:func:`mirage_world.geometry.trajectory.relative_to_first`), which removes any fixed world rotation. The camera
  axis flip is a right-multiplication: ``c2w_cv = c2w_gl @ diag(1, -1, -1, 1)``; it is its own inverse.
* **World-to-camera** matrices (RealEstate10K, Spatia ``w2c.txt``, COLMAP): ``c2w = inv(w2c)``, computed rigidly
  (``R^T``) after :func:`~mirage_world.geometry.camera.check_c2w`.

All functions accept numpy arrays or torch tensors with any leading dims ``(..., 4, 4)`` and return the same type,
dtype and device.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w, invert_pose

__all__ = [
    "OPENGL_TO_OPENCV",
    "opengl_to_opencv_c2w",
    "opencv_to_opengl_c2w",
    "blender_to_opencv_c2w",
    "opencv_to_blender_c2w",
    "w2c_to_c2w",
    "c2w_to_w2c",
]

#: ``diag(1, -1, -1, 1)``: flips the camera's y and z axes (OpenGL/Blender camera <-> OpenCV camera).
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


def _check_44(T, name: str):
    """Type and shape check of the axis flips (which apply to any ``(..., 4, 4)`` matrix, rigid or not)."""
    if isinstance(T, Tensor):
        if not T.is_floating_point():
            raise InputError(f"{name} must be a floating-point tensor, got {T.dtype}")
    elif isinstance(T, np.ndarray):
        if T.dtype.kind != "f":
            raise InputError(f"{name} must be a floating-point array, got {T.dtype}")
    else:
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(T).__name__}")
    if T.ndim < 2 or tuple(T.shape[-2:]) != (4, 4):
        raise InputError(f"{name} must have shape (..., 4, 4), got {tuple(T.shape)}")


def _flip_camera_axes(T, name: str):
    _check_44(T, name)
    if isinstance(T, Tensor):
        out = T.clone()
        out[..., :, 1] = -T[..., :, 1]
        out[..., :, 2] = -T[..., :, 2]
        return out
    out = T.copy()
    out[..., :, 1] = -T[..., :, 1]
    out[..., :, 2] = -T[..., :, 2]
    return out


def opengl_to_opencv_c2w(c2w_gl):
    """OpenGL-camera c2w (x right, y up, looking along -z) -> OpenCV-camera c2w: ``c2w_gl @ diag(1, -1, -1, 1)``.

    Args:
        c2w_gl: ``(..., 4, 4)`` float ndarray or tensor.

    Returns:
        Same shape/type/dtype/device; the camera centre (translation column) is unchanged, the camera's y and z axis
        columns are negated.
    """
    return _flip_camera_axes(c2w_gl, "c2w_gl")


def opencv_to_opengl_c2w(c2w_cv):
    """Inverse of :func:`opengl_to_opencv_c2w` (the same flip: it is an involution)."""
    return _flip_camera_axes(c2w_cv, "c2w_cv")


def blender_to_opencv_c2w(c2w_blender):
    """Blender camera-object ``matrix_world`` (camera axes as OpenGL) -> OpenCV c2w. See the module doc."""
    return _flip_camera_axes(c2w_blender, "c2w_blender")


def opencv_to_blender_c2w(c2w_cv):
    """OpenCV c2w -> Blender camera ``matrix_world`` (inverse of :func:`blender_to_opencv_c2w`)."""
    return _flip_camera_axes(c2w_cv, "c2w_cv")


def w2c_to_c2w(w2c):
    """World-to-camera -> camera-to-world for rigid ``(..., 4, 4)`` matrices (``R^T``, ``-R^T t``).

    Raises:
        InputError: not a floating ``(..., 4, 4)`` array / tensor of rigid transforms
            (:func:`~mirage_world.geometry.camera.check_c2w`).
    """
    check_c2w(w2c, "w2c")
    if isinstance(w2c, Tensor):
        return invert_pose(w2c)
    return invert_pose(torch.from_numpy(np.ascontiguousarray(w2c))).numpy()


def c2w_to_w2c(c2w):
    """Camera-to-world -> world-to-camera (same rigid inverse and checks as :func:`w2c_to_c2w`)."""
    check_c2w(c2w, "c2w")
    if isinstance(c2w, Tensor):
        return invert_pose(c2w)
    return invert_pose(torch.from_numpy(np.ascontiguousarray(c2w))).numpy()
