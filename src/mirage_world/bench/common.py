"""What both benchmarks of ``mirage bench`` use: the analytic box-room scene (:func:`box_depth`), its camera paths
(:func:`yaw_pose`, :func:`loop_pose`), the Wan2.2-TI2V-5B VAE configuration, timing helpers and the option limits
shared by ``mirage bench memory`` and ``mirage bench e2e``.

Imports only lower layers (never :mod:`mirage_world.bench` itself); torch is the only heavy import at module level,
as before the split (``mirage --help`` loads this module).
"""

from __future__ import annotations

import math
import statistics
import time

import torch

WAN22_VAE = dict(
    base_dim=160, decoder_base_dim=256, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
    temperal_downsample=[False, True, True], is_residual=True, patch_size=2, in_channels=12, out_channels=12,
    scale_factor_spatial=16, scale_factor_temporal=4,
)


# Limits of the options of ``mirage bench memory`` and ``mirage bench e2e`` (documented in their help).
MAX_SIDE = 4096  #: --width / --height
MAX_LOOP = 1000  #: --loop
MAX_REPEATS = 1000  #: --repeats (memory), --steps (e2e)
MAX_THREADS = 1024  #: --threads
MAX_RENDER_PIXELS = 2**26  #: --views x --width x --height (full-resolution renders of the RGB baseline)


def yaw_pose(yaw: float, pos) -> torch.Tensor:
    """Camera-to-world ``(4, 4)`` float32 pose at ``pos`` (3 numbers, metres, world frame) turned by ``yaw``
    radians about the world y axis (OpenCV axes, +y down): yaw 0 looks along +z, yaw pi/2 along +x."""
    c, s = math.cos(yaw), math.sin(yaw)
    T = torch.eye(4)
    T[:3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    T[:3, 3] = torch.tensor(pos, dtype=torch.float32)
    return T


def loop_pose(i: int, period: int, radius: float = 0.6) -> torch.Tensor:
    """Camera ``i`` of a closed loop of ``period`` cameras: a circle of ``radius`` m at the room centre, looking out
    along the radius (a full 360 degree turn per loop)."""
    a = 2 * math.pi * (i % period) / period
    return yaw_pose(a, (radius * math.sin(a), 0.0, radius * math.cos(a)))


def box_depth(K: torch.Tensor, c2w: torch.Tensor, hw, lo=(-4.0, -2.0, -4.0), hi=(4.0, 2.0, 4.0)) -> torch.Tensor:
    """Exact z-depth ``(h, w)`` of the inside of an axis-aligned box room seen by a camera inside it."""
    from mirage_world.geometry.camera import pixel_centers

    h, w = hw
    uv = pixel_centers(h, w, dtype=torch.float64)
    Kd, c = K.double(), c2w.double()
    d_cam = torch.stack([(uv[..., 0] - Kd[0, 2]) / Kd[0, 0], (uv[..., 1] - Kd[1, 2]) / Kd[1, 1], torch.ones(h, w, dtype=torch.float64)], -1)
    d = d_cam @ c[:3, :3].T  # world direction with camera z = 1, so the ray parameter is the z-depth
    o = c[:3, 3]
    lo_t, hi_t = torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)
    with torch.no_grad():
        t = torch.where(d > 0, (hi_t - o) / d, torch.where(d < 0, (lo_t - o) / d, torch.full_like(d, math.inf)))
    return t.amin(-1).float()


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``fn()`` (after ``warmup`` untimed calls;
    ``time.perf_counter``)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def interleaved_median_times(fa, fb, repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median times of ``fa`` and ``fb`` called alternately (A/B interleaving: neither runs with a cache that only
    it has warmed)."""
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        fa()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        fb()
        tb.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)
