"""Tests for mirage_world.geometry.rotations: the one spelling of the yaw rotation (float / numpy / torch give the
same bits as the matrix and as the other ways it used to be written), axis rotations, SO(3) projection, poses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.rotations import (
    look_at_c2w,
    look_at_poses,
    nearest_rotation,
    rot_x,
    rot_y,
    rotate_y,
    unrotate_y,
)


def test_axis_rotations_match_scipy_and_the_documented_directions():
    a = np.linspace(-7, 7, 29)
    np.testing.assert_allclose(rot_y(a), Rotation.from_euler("y", a[:, None]).as_matrix(), atol=1e-15)
    np.testing.assert_allclose(rot_x(a), Rotation.from_euler("x", a[:, None]).as_matrix(), atol=1e-15)
    check_c2w(np.concatenate([np.concatenate([rot_y(a), np.zeros((29, 3, 1))], 2),
                              np.tile([[[0.0, 0, 0, 1]]], (29, 1, 1))], 1))
    assert rot_y(math.pi / 2)[0] @ [0, 0, 1] == pytest.approx([1, 0, 0])  # +z turns to +x
    assert rot_x(math.pi / 2)[0] @ [0, 0, 1] == pytest.approx([0, -1, 0])  # +z turns to -y (up)


def test_rotate_y_is_the_matrix_and_its_inverse_on_every_type():
    g = np.random.default_rng(0)
    yaw = g.uniform(-4, 4, 200)
    x, z = g.normal(size=200), g.normal(size=200)
    R = rot_y(yaw)
    wx, wz = rotate_y(x, z, np.cos(yaw), np.sin(yaw))
    np.testing.assert_allclose(np.stack([wx, wz], -1), np.einsum("nij,nj->ni", R, np.stack([x, 0 * x, z], -1))[:, [0, 2]],
                               atol=1e-14)
    lx, lz = unrotate_y(wx, wz, np.cos(yaw), np.sin(yaw))
    np.testing.assert_allclose(lx, x, atol=1e-14)
    np.testing.assert_allclose(lz, z, atol=1e-14)
    # the same bits as the forms the renderer and the scene builders used to spell out by hand
    c, s = np.cos(yaw), np.sin(yaw)
    assert np.array_equal(wz, -s * x + c * z) and np.array_equal(wx, x * c + z * s)
    assert np.array_equal(lx, wx * c - wz * s) and np.array_equal(lz, wx * s + wz * c)
    # Python floats and float32 tensors with Python-float cos / sin (the ray caster's objects)
    for i in range(20):
        cf, sf = math.cos(float(yaw[i])), math.sin(float(yaw[i]))
        assert rotate_y(float(x[i]), float(z[i]), cf, sf) == (cf * x[i] + sf * z[i], -sf * x[i] + cf * z[i])
        tx, tz = torch.tensor(x, dtype=torch.float32), torch.tensor(z, dtype=torch.float32)
        ux, uz = unrotate_y(tx, tz, cf, sf)
        assert torch.equal(ux, tx * cf - tz * sf) and torch.equal(uz, tx * sf + tz * cf)


def test_nearest_rotation_projects_onto_so3():
    R = Rotation.from_rotvec([0.3, -0.2, 0.5]).as_matrix()
    noisy = R + 1e-4 * np.random.default_rng(1).normal(size=(3, 3))
    P = nearest_rotation(noisy)
    np.testing.assert_allclose(P @ P.T, np.eye(3), atol=1e-14)
    assert np.linalg.det(P) > 0 and np.abs(P - R).max() < 1e-3
    assert np.linalg.det(nearest_rotation(np.diag([1.0, 1.0, -1.0]))) > 0  # a reflection comes back as a rotation


def test_look_at_poses_are_rigid_and_follow_the_yaw_pitch_convention():
    c2w = look_at_poses(np.zeros((3, 3)), np.array([0.0, math.pi / 2, 0.0]), np.array([0.0, 0.0, 0.3]))
    check_c2w(c2w)
    assert torch.allclose(c2w[0], torch.eye(4))
    assert torch.allclose(c2w[1, :3, 2], torch.tensor([1.0, 0.0, 0.0]), atol=1e-7)  # yaw +90 deg looks along +x
    assert c2w[2, 1, 2] > 0  # positive pitch looks down (+y)
    assert torch.equal(look_at_c2w([0.0, 0.0, 0.0], 0.0, 0.3), c2w[2])
