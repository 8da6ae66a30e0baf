"""Tests for mirage_world.geometry.camera and .convert: analytic projections, batching, latent grids, depth pooling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from mirage_world.errors import InputError
from mirage_world.geometry.camera import (
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
    project_points,
    rescale_intrinsics,
    unproject_depth,
)
from mirage_world.geometry.convert import (
    blender_to_opencv_c2w,
    c2w_to_w2c,
    opencv_to_opengl_c2w,
    opengl_to_opencv_c2w,
    w2c_to_c2w,
)

K64 = torch.tensor([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], dtype=torch.float64)


def _pose(R, t, dtype=torch.float64):
    T = torch.eye(4, dtype=dtype)
    T[:3, :3] = torch.as_tensor(R, dtype=dtype)
    T[:3, 3] = torch.as_tensor(t, dtype=dtype)
    return T


# ------------------------------------------------------------------------------------------------ analytic cases


def test_known_pixels_identity_and_translated_camera():
    pts = torch.tensor([[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, -1.0, 4.0]], dtype=torch.float64)
    uv, z = project_points(pts, K64, torch.eye(4, dtype=torch.float64))
    assert uv.tolist() == [[320.0, 240.0], [570.0, 240.0], [320.0, 115.0]]  # +x right, -y up
    assert z.tolist() == [2.0, 2.0, 4.0]
    # a camera moved 1 m right sees the axis point 250 px to the left
    uv, _ = project_points(pts[:1], K64, _pose(np.eye(3), [1.0, 0, 0]))
    assert uv[0].tolist() == [70.0, 240.0]
    # camera yawed +90 deg about +y (OpenCV: +z turns towards +x) looks along world +x
    R = Rotation.from_euler("y", 90, degrees=True).as_matrix()
    uv, z = project_points(torch.tensor([[3.0, 0.0, 0.0]], dtype=torch.float64), K64, _pose(R, [0, 0, 0]))
    assert uv[0].tolist() == pytest.approx([320.0, 240.0]) and z.item() == pytest.approx(3.0)


def test_pixel_centre_convention_and_unproject_project_roundtrip():
    assert pixel_centers(2, 3)[1, 2].tolist() == [2.5, 1.5]
    K = torch.tensor([[4.0, 0, 3], [0, 4.0, 2], [0, 0, 1]], dtype=torch.float64)
    depth = torch.rand(4, 6, dtype=torch.float64) + 0.5
    c2w = _pose(Rotation.from_euler("xyz", [5, -10, 20], degrees=True).as_matrix(), [0.3, -0.2, 0.1])
    pts = unproject_depth(depth, K, c2w)
    uv, z = project_points(pts.reshape(-1, 3), K, c2w)
    assert torch.allclose(uv, pixel_centers(4, 6, dtype=torch.float64).reshape(-1, 2), atol=1e-10)
    assert torch.allclose(z, depth.reshape(-1), atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_leading_dims_keep_dtype(dtype):
    B, T = 2, 3
    K = K64.to(dtype).expand(B, T, 3, 3)
    c2w = torch.eye(4, dtype=dtype).expand(B, T, 4, 4).clone()
    c2w[..., 0, 3] = torch.arange(T, dtype=dtype)
    depth = torch.full((B, T, 5, 7), 2.0, dtype=dtype)
    pts = unproject_depth(depth, K, c2w)
    assert pts.shape == (B, T, 5, 7, 3) and pts.dtype == dtype
    uv, z = project_points(pts.reshape(B, T, 35, 3), K, c2w)
    assert uv.shape == (B, T, 35, 2) and z.dtype == dtype
    Kl = latent_intrinsics(K, (480, 640), 16)
    assert Kl.shape == (B, T, 3, 3) and Kl.dtype == dtype
    assert downsample_depth(depth, 2).shape == (B, T, 2, 3)
    assert invert_pose(c2w).dtype == dtype


# ------------------------------------------------------------------------------------------------ intrinsics


def test_crop_and_latent_intrinsics_divisible_matches_rescale():
    assert torch.equal(latent_intrinsics(K64, (480, 640), 16), rescale_intrinsics(K64, (480, 640), (30, 40)))
    Kc = crop_intrinsics(K64, 10, 20)
    assert Kc[0, 2].item() == 310 and Kc[1, 2].item() == 220 and Kc[0, 0].item() == 500
    assert torch.equal(K64[0, 2], torch.tensor(320.0, dtype=torch.float64))  # input untouched


@pytest.mark.parametrize("align", ["topleft", "center"])
def test_latent_intrinsics_non_divisible_cell_centres(align):
    H, W, f = 83, 101, 8
    h, w, y0, x0 = latent_grid(H, W, f, align)
    assert (h, w) == (10, 12)
    assert (y0, x0) == ((0, 0) if align == "topleft" else (1, 2))
    Kl = latent_intrinsics(K64, (H, W), f, align)
    # a point seen at the centre of latent cell (i, j) is at image pixel (x0 + f (i + .5), y0 + f (j + .5))
    for i, j in [(0, 0), (11, 9), (5, 3)]:
        pix = torch.tensor([x0 + f * (i + 0.5), y0 + f * (j + 0.5)], dtype=torch.float64)
        ray = torch.tensor([(pix[0] - 320) / 500, (pix[1] - 240) / 500, 1.0], dtype=torch.float64) * 3.0
        uv, _ = project_points(ray[None], Kl, torch.eye(4, dtype=torch.float64))
        assert uv[0].tolist() == pytest.approx([i + 0.5, j + 0.5], abs=1e-12)


def test_latent_grid_errors():
    with pytest.raises(InputError, match="smaller than one latent cell"):
        latent_grid(7, 100, 8)
    with pytest.raises(InputError, match="factor"):
        latent_grid(64, 64, 0)
    with pytest.raises(InputError, match="align"):
        latent_grid(64, 64, 8, "middle")
    with pytest.raises(InputError, match="finite"):
        crop_intrinsics(K64, float("nan"), 0)


# ------------------------------------------------------------------------------------------------ depth pooling


def _step_edge(H=8, W=12, col=5, near=1.0, far=9.0):
    d = torch.full((H, W), far, dtype=torch.float64)
    d[:, :col] = near
    return d


def test_downsample_depth_step_edge_never_mid_air():
    d = _step_edge()  # near for x < 5, far for x >= 5; block [4, 8) of factor 4 straddles the edge (1 near col)
    avg = torch.nn.functional.avg_pool2d(d[None, None], 4)[0, 0]
    assert 1.0 < avg[0, 1].item() < 9.0  # the failure mode we avoid: a depth between the surfaces
    med = downsample_depth(d, 4, "median")
    mn = downsample_depth(d, 4, "min")
    ne = downsample_depth(d, 4, "nearest")
    for out in (med, mn, ne):
        assert out.shape == (2, 3)
        assert set(out.unique().tolist()) <= {1.0, 9.0}  # every value is one of the two surfaces
    assert med[:, 1].tolist() == [9.0, 9.0]  # majority (12 of 16 far) wins
    assert mn[:, 1].tolist() == [1.0, 1.0]  # nearest surface wins
    assert ne[:, 1].tolist() == [9.0, 9.0]  # sample at block offset (2, 2) = column 6: far
    assert med[:, 0].tolist() == [1.0, 1.0] and med[:, 2].tolist() == [9.0, 9.0]
    # a 50/50 block: lower median picks a real sample (the near one), never the 5 m average
    d2 = _step_edge(4, 4, col=2)
    assert downsample_depth(d2, 4).item() == 1.0


def test_downsample_depth_invalid_and_non_divisible():
    d = _step_edge(9, 13, col=5)
    d[0, 0] = 0.0
    d[1, 1] = float("nan")
    d[2, 2] = -1.0
    d[:4, 8:12] = 0.0  # a whole block invalid
    out = downsample_depth(d, 4)  # 9x13 -> 2x3, crop to rows 0..7, cols 0..11 (topleft)
    assert out.shape == (2, 3)
    assert out[0, 0].item() == 1.0 and out[0, 2].item() == 0.0
    assert torch.isfinite(out).all()
    d3 = torch.arange(1, 37, dtype=torch.float32).reshape(6, 6)  # value = 6 * row + col + 1
    # f = 4: one cell; topleft window rows/cols 0..3, centre window 1..4; "nearest" takes block offset (2, 2)
    assert latent_grid(6, 6, 4, "center") == (1, 1, 1, 1)
    assert downsample_depth(d3, 4, "nearest").tolist() == [[15.0]]
    assert downsample_depth(d3, 4, "nearest", align="center").tolist() == [[22.0]]
    assert downsample_depth(d3, 4, "min", align="center").tolist() == [[8.0]]
    with pytest.raises(InputError, match="mode"):
        downsample_depth(d3, 2, "mean")
    with pytest.raises(InputError, match="floating"):
        downsample_depth(torch.ones(4, 4, dtype=torch.int64), 2)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
    st.lists(st.floats(0.1, 100.0), min_size=4, max_size=4),
    st.sampled_from(["median", "min", "nearest"]),
)
def test_downsample_depth_returns_block_samples_property(f, h, w, vals, mode):
    g = torch.Generator().manual_seed(h * 31 + w)
    idx = torch.randint(0, 4, (h * f + (f - 1), w * f + f // 2), generator=g)  # remainders are dropped
    d = torch.tensor(vals, dtype=torch.float64)[idx]
    out = downsample_depth(d, f, mode)
    assert out.shape == (h, w)
    blocks = d[: h * f, : w * f].reshape(h, f, w, f).permute(0, 2, 1, 3).reshape(h, w, -1)
    assert bool((blocks == out[..., None]).any(-1).all())  # every output is a sample of its own block
    if mode == "min":
        assert torch.equal(out, blocks.min(-1).values)


# ------------------------------------------------------------------------------------------------ validation


def test_check_intrinsics_and_c2w_errors():
    check_intrinsics(K64)
    check_c2w(torch.eye(4).expand(3, 4, 4))
    bad = K64.clone()
    bad[0, 0] = 0
    with pytest.raises(InputError, match="focal"):
        check_intrinsics(bad)
    with pytest.raises(InputError, match="NaN"):
        check_intrinsics(K64 * float("nan"))
    with pytest.raises(InputError, match=r"\(\.\.\., 3, 3\)"):
        check_intrinsics(torch.eye(4))
    sing = torch.eye(4)
    sing[:3, :3] = 0
    with pytest.raises(InputError, match="orthonormal"):
        check_c2w(sing)
    inf = torch.eye(4)
    inf[0, 3] = float("inf")
    with pytest.raises(InputError, match="NaN or infinite"):
        check_c2w(inf)
    refl = torch.diag(torch.tensor([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(InputError, match="reflection"):
        check_c2w(refl)
    assert issubclass(InputError, ValueError)


def test_checks_take_numpy_and_torch_and_name_the_bad_pose():
    poses = np.tile(np.eye(4), (2, 3, 1, 1))
    assert check_c2w(poses) is poses and check_intrinsics(K64.numpy()) is not None
    poses[1, 2, :3, :3] = 2 * np.eye(3)
    with pytest.raises(InputError, match=r"c2w\[1, 2\] rotation part is not orthonormal"):
        check_c2w(poses)
    with pytest.raises(InputError, match=r"c2w\[1, 2\] rotation part is not orthonormal"):
        check_c2w(torch.from_numpy(poses).float())
    poses[1, 2] = np.eye(4)
    poses[0, 1, 3, 2] = 0.5
    with pytest.raises(InputError, match=r"c2w\[0, 1\] last row is \[0.0, 0.0, 0.5, 1.0\]"):
        check_c2w(poses)
    Ks = np.stack([K64.numpy(), K64.numpy()])
    Ks[1, 2, 0] = 0.1
    with pytest.raises(InputError, match=r"K\[1\] last row must be"):
        check_intrinsics(Ks)
    with pytest.raises(InputError, match="floating-point array"):
        check_c2w(np.eye(4, dtype=int))
    with pytest.raises(InputError, match="torch.Tensor or numpy array"):
        check_intrinsics([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert check_c2w(np.zeros((0, 4, 4))).shape == (0, 4, 4)  # an empty batch has nothing wrong


def test_intrinsics_from_fov_and_pixel_rays():
    K = intrinsics_from_fov(90.0, 48, 64)
    assert K.dtype == torch.float32 and K.tolist() == [[32.0, 0.0, 32.0], [0.0, 32.0, 24.0], [0.0, 0.0, 1.0]]
    assert intrinsics_from_fov(60, 3, 5, dtype=torch.float64).dtype == torch.float64
    for bad, match in (((0.0, 4, 4), "fov"), ((180, 4, 4), "fov"), (("x", 4, 4), "fov"), ((60.0, 0, 4), "height"),
                       ((60.0, 4, True), "width")):
        with pytest.raises(InputError, match=match):
            intrinsics_from_fov(*bad)
    # a ray through a pixel, scaled to depth d, projects back to that pixel at depth d
    uv = pixel_centers(3, 4, ss=2, dtype=torch.float64)
    assert uv.shape == (6, 8, 2) and uv[0, 0].tolist() == [0.25, 0.25] and uv[5, 7].tolist() == [3.75, 2.75]
    rays = pixel_rays(uv, K64)
    assert torch.equal(rays[..., 2], torch.ones(6, 8, dtype=torch.float64))
    back, z = project_points(2.5 * rays.reshape(-1, 3), K64, torch.eye(4, dtype=torch.float64))
    assert torch.allclose(back, uv.reshape(-1, 2), atol=1e-9) and torch.allclose(z, torch.full_like(z, 2.5))
    assert pixel_corners(2, 3)[2, 3].tolist() == [3.0, 2.0]


# ------------------------------------------------------------------------------------------------ conversions


def test_opengl_blender_to_opencv():
    # an OpenGL camera at the origin looking down world -z with +y up == OpenCV camera looking along -z, y down
    gl = np.eye(4)
    cv = opengl_to_opencv_c2w(gl)
    assert np.array_equal(cv, np.diag([1.0, -1.0, -1.0, 1.0]))
    # a point in front of the OpenGL camera (world z = -2) projects to the image centre, upward point to smaller v
    pts = torch.tensor([[0.0, 0.0, -2.0], [0.0, 0.5, -2.0]], dtype=torch.float64)
    uv, z = project_points(pts, K64, torch.from_numpy(cv))
    assert uv[0].tolist() == [320.0, 240.0] and z[0].item() == 2.0 and uv[1, 1].item() < 240.0
    t = torch.randn(2, 3, 4, 4)
    assert torch.equal(opencv_to_opengl_c2w(opengl_to_opencv_c2w(t)), t)
    assert torch.equal(blender_to_opencv_c2w(t), opengl_to_opencv_c2w(t))
    with pytest.raises(InputError, match="4, 4"):
        opengl_to_opencv_c2w(np.eye(3))


def test_w2c_c2w_inverse():
    c2w = _pose(Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix(), [1, 2, 3])
    w2c = c2w_to_w2c(c2w)
    assert torch.allclose(w2c @ c2w, torch.eye(4, dtype=torch.float64), atol=1e-12)
    assert np.allclose(w2c_to_c2w(w2c.numpy()), c2w.numpy(), atol=1e-12)
    assert math.isclose(float(torch.linalg.det(w2c[:3, :3])), 1.0)
