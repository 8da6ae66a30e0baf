"""Rotations in the package convention: axis rotations, rotations of ``(x, z)`` pairs about +y, projection onto
SO(3), and yaw / pitch camera poses.

Axes are OpenCV (:mod:`mirage_world.geometry.camera`): +x right, +y down, +z forward. The rotations about the axes
are the right-handed ones,

* ``R_y(a) = [[cos a, 0, sin a], [0, 1, 0], [-sin a, 0, cos a]]``: for ``a > 0`` it turns +z towards +x (a camera
  whose ``c2w`` rotation is ``R_y(a)`` looks to the right of the identity camera: the *yaw* of
  :func:`look_at_c2w`, the ``yaw`` of the objects of :mod:`mirage_world.worlds`);
* ``R_x(a) = [[1, 0, 0], [0, cos a, -sin a], [0, sin a, cos a]]``: for ``a > 0`` it turns +z towards -y (up).

:func:`rotate_y` / :func:`unrotate_y` apply ``R_y`` / ``R_y^T`` to the ``(x, z)`` components of points (``y`` is
unchanged) given ``cos a`` and ``sin a``; they work elementwise on Python floats, numpy arrays and torch tensors
alike and spell the arithmetic out (two products and one sum per output), so every caller gets the same bits.

Pure numpy / torch; no other package module is imported.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "rot_x",
    "rot_y",
    "rotate_y",
    "unrotate_y",
    "nearest_rotation",
    "look_at_c2w",
    "look_at_poses",
]


def rot_y(theta) -> np.ndarray:
    """Rotations about +y: ``(n, 3, 3)`` float64 ``R_y(theta)`` (see the module doc) for ``n`` angles in radians.

    Example:
        >>> rot_y(np.array([np.pi / 2])).round(12)[0] @ [0.0, 0.0, 1.0]  # +z turns to +x
        array([1., 0., 0.])
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    c, s = np.cos(theta), np.sin(theta)
    R = np.zeros((len(theta), 3, 3))
    R[:, 0, 0] = c
    R[:, 0, 2] = s
    R[:, 1, 1] = 1.0
    R[:, 2, 0] = -s
    R[:, 2, 2] = c
    return R


def rot_x(theta) -> np.ndarray:
    """Rotations about +x: ``(n, 3, 3)`` float64 ``R_x(theta)`` (see the module doc) for ``n`` angles in radians.

    Example:
        >>> rot_x(np.array([np.pi / 2])).round(12)[0] @ [0.0, 0.0, 1.0]  # +z turns to -y (up)
        array([ 0., -1.,  0.])
    """
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    c, s = np.cos(theta), np.sin(theta)
    R = np.zeros((len(theta), 3, 3))
    R[:, 0, 0] = 1.0
    R[:, 1, 1] = c
    R[:, 1, 2] = -s
    R[:, 2, 1] = s
    R[:, 2, 2] = c
    return R


def rotate_y(x, z, cos, sin):
    """``(x, z)`` components of ``R_y(a) @ p`` for ``p = (x, y, z)``: ``(cos x + sin z, cos z - sin x)``.

    Object frame -> world for an object yawed by ``a``. Elementwise on floats, numpy arrays or torch tensors
    (broadcasting as the operands do).

    Args:
        x, z: the point's ``x`` and ``z`` (any matching / broadcastable shapes).
        cos, sin: ``cos a`` and ``sin a``.

    Returns:
        ``(x', z')``.

    Example:
        >>> rotate_y(0.0, 1.0, 0.0, 1.0)  # a = 90 deg: +z turns to +x
        (1.0, 0.0)
    """
    return cos * x + sin * z, cos * z - sin * x


def unrotate_y(x, z, cos, sin):
    """``(x, z)`` components of ``R_y(a)^T @ p``: ``(cos x - sin z, sin x + cos z)`` (inverse of :func:`rotate_y`).

    World -> object frame for an object yawed by ``a``. Elementwise on floats, numpy arrays or torch tensors.

    Example:
        >>> unrotate_y(1.0, 0.0, 0.0, 1.0)
        (0.0, 1.0)
    """
    return cos * x - sin * z, sin * x + cos * z


def nearest_rotation(R: np.ndarray) -> np.ndarray:
    """Project ``(..., 3, 3)`` near-rotations onto SO(3) (polar decomposition via SVD, determinant +1).

    Example:
        >>> np.allclose(nearest_rotation(1.001 * np.eye(3)), np.eye(3))
        True
    """
    U, _, Vt = np.linalg.svd(R)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.zeros_like(R)
    D[..., 0, 0] = 1.0
    D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    return U @ D @ Vt


def look_at_c2w(position, yaw: float, pitch: float = 0.0) -> Tensor:
    """Camera-to-world pose from a position and yaw / pitch (radians), roll 0, OpenCV axes, world up = -y.

    ``yaw = 0`` looks along +z, positive yaw turns towards +x; positive pitch looks down (towards +y).

    Returns:
        ``(4, 4)`` float32 ``c2w``.

    Example:
        >>> c2w = look_at_c2w([1.0, 0.0, 2.0], np.pi / 2)  # at (1, 0, 2), yawed 90 deg: looks along +x
        >>> c2w[:3, 2].round(decimals=6).tolist(), c2w[:3, 3].tolist()
        ([1.0, 0.0, 0.0], [1.0, 0.0, 2.0])
    """
    return look_at_poses(np.asarray(position, np.float64)[None], np.array([yaw]), np.array([pitch]))[0]


def look_at_poses(pos: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> Tensor:
    """Vectorised :func:`look_at_c2w`: positions ``(n, 3)``, yaws ``(n,)``, pitches ``(n,)`` (radians) ->
    ``(n, 4, 4)`` float32 ``c2w`` (forward ``(sin yaw cos pitch, sin pitch, cos yaw cos pitch)``, right
    ``(cos yaw, 0, -sin yaw)``, down = forward x right)."""
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
