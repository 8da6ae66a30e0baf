"""Rendering: RGB, exact z-depth and instance ids of a scene seen from one or more cameras (:func:`render`), and
random clips of the original rooms (:func:`render_clip`).

``depth`` and ``instance`` come from one ray through each pixel centre (exact z-depth of the surface seen through
the centre); ``rgb`` is the box-filtered average of an ``ss x ss`` grid of sub-pixel rays at ``i + (k + 0.5) / ss``
(or, with ``aa="quincunx"``, a 5-tap quincunx filter of the centre ray and the four pixel corners, about twice as
fast as ``ss = 2``). Frames are traced in chunks; the output does not depend on the chunk size or on the torch
thread count (no order-dependent parallel reductions).

Imports :mod:`~mirage_world.worlds.scene`, :mod:`~mirage_world.worlds.raycast`, :mod:`~mirage_world.worlds.shading`
and, for :func:`render_clip` only, :mod:`~mirage_world.worlds.rooms` and :mod:`~mirage_world.worlds.camera_paths`;
ray directions and checks come from :mod:`mirage_world.geometry.camera`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from mirage_world.geometry.camera import (
    check_c2w,
    check_intrinsics,
    intrinsics_from_fov,
    pixel_centers,
    pixel_corners,
    pixel_rays,
)
from mirage_world.worlds.camera_paths import random_camera_path
from mirage_world.worlds.raycast import (
    camera_inside_dynamic,
    dynamic_objects,
    object_list,
    surface_windows,
    trace,
    union_windows,
)
from mirage_world.worlds.rooms import random_room
from mirage_world.worlds.scene import Scene, check_positive_int, check_seed
from mirage_world.worlds.shading import Shader, shade

__all__ = ["AA_MODES", "render", "render_clip"]

#: Anti-aliasing modes of :func:`render`: ``"box"`` (``ss x ss`` box filter, the default) and ``"quincunx"``.
AA_MODES = ("box", "quincunx")


def _camera_dirs(K: Tensor, height: int, width: int, ss: int) -> Tensor:
    """Unnormalised camera-frame ray directions (z = 1) through sub-pixel samples: ``(H*ss, W*ss, 3)``.

    Sample ``(r, c)`` goes through pixel coordinate ``((c + 0.5) / ss, (r + 0.5) / ss)``
    (:func:`~mirage_world.geometry.camera.pixel_centers`; the pixel centres for ``ss = 1``).
    """
    return pixel_rays(pixel_centers(height, width, ss=ss, dtype=torch.float32), K)


def _box_downsample(x: Tensor) -> Tensor:
    """Mean over axes 2 and 4 of ``(F, H, ss, W, ss, C)``, summed in a fixed order (bitwise reproducible for any
    thread count, unlike a parallel reduction)."""
    ss = x.shape[2]
    acc = None
    for a in range(ss):
        for b in range(ss):
            acc = x[:, :, a, :, b].clone() if acc is None else acc.add_(x[:, :, a, :, b])
    return acc.mul_(1.0 / (ss * ss))


def render(
    scene: Scene,
    c2w: Tensor,
    K: Tensor,
    height: int,
    width: int,
    ss: int = 2,
    *,
    chunk_frames: int = 4,
    times=None,
    aa: str = "box",
) -> dict[str, Tensor]:
    """Ray-cast a scene from one or more cameras.

    Args:
        scene: a :class:`Scene`.
        c2w: ``(4, 4)`` or ``(T, 4, 4)`` camera-to-world poses (OpenCV axes); camera centres must lie strictly
            inside the room box (and outside the dynamic objects at their frame times).
        K: ``(3, 3)`` intrinsics in pixels of the ``(height, width)`` output grid (shared by all frames).
        height, width: output size in pixels (> 0).
        ss: supersampling factor per axis for ``rgb`` with ``aa="box"`` (``ss * ss`` rays per pixel at
            ``i + (k + 0.5) / ss``, box-filtered); >= 1. Ignored by ``aa="quincunx"``.
        chunk_frames: frames traced together (memory / speed trade-off only; results do not depend on it).
        times: ``(T,)`` frame times of the dynamic objects (frame-index units); default ``0, 1, ..., T-1``.
        aa: ``"box"`` (default) or ``"quincunx"``: ``rgb = 0.5 * centre + 0.125 * (4 pixel corners)``, the corner
            rays shared by neighbouring pixels (about 2 shaded rays per pixel instead of ``ss * ss``).

    Returns:
        dict with ``rgb`` float32 ``(T, H, W, 3)`` in [0, 1]; ``depth`` float32 ``(T, H, W)`` metric z-depth of
        the surface hit by the single ray through each pixel centre (> 0 everywhere;
        :data:`~mirage_world.worlds.scene.SKY_DEPTH` on sky); ``instance`` int32 ``(T, H, W)`` id of that surface
        (see :mod:`~mirage_world.worlds.scene`). ``T = 1`` for a ``(4, 4)`` pose.

    Raises:
        ValueError: bad sizes, ``ss < 1``, wrong shapes, non-finite ``times``, an unknown ``aa``, a camera centre
            outside the room or inside a dynamic object; ``InputError`` (a ``ValueError``) from
            :func:`~mirage_world.geometry.camera.check_c2w` / :func:`~mirage_world.geometry.camera.check_intrinsics`
            for a ``c2w`` that is not rigid or a bad ``K`` (NaN/inf, non-positive focal lengths).
    """
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    ss = check_positive_int("ss", ss)
    chunk_frames = check_positive_int("chunk_frames", chunk_frames)
    if aa not in AA_MODES:
        raise ValueError(f"aa must be one of {AA_MODES}, got {aa!r}")
    c2w = torch.as_tensor(c2w)
    K = torch.as_tensor(K)
    if c2w.ndim == 2:
        c2w = c2w.unsqueeze(0)
    if c2w.ndim != 3 or c2w.shape[-2:] != (4, 4) or c2w.shape[0] < 1:
        raise ValueError(f"c2w must be (4,4) or (T,4,4) with T >= 1, got {tuple(c2w.shape)}")
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3,3), got {tuple(K.shape)}")
    c2w = check_c2w(c2w.detach().to("cpu", torch.float32))
    K = check_intrinsics(K.detach().to("cpu", torch.float32))
    if not scene.contains(c2w[:, :3, 3]).all():
        raise ValueError("every camera centre must lie strictly inside the room box")
    T = c2w.shape[0]
    if times is None:
        times = torch.arange(T, dtype=torch.float64)
    else:
        times = torch.as_tensor(times).detach().to("cpu", torch.float64).reshape(-1)
        if times.shape[0] != T or not torch.isfinite(times).all():
            raise ValueError(f"times must be {T} finite values (one per pose), got shape {tuple(times.shape)}")
    if scene.n_dynamic and bool(camera_inside_dynamic(scene, c2w[:, :3, 3], times).any()):
        raise ValueError("a camera centre lies inside a dynamic object at its frame time")
    if aa == "quincunx":
        return _render_quincunx(scene, c2w, K, height, width, chunk_frames, times)

    hs, ws = height * ss, width * ss
    objs = object_list(scene)
    shader = Shader(scene)
    if scene.has_exterior:
        shader.focal = float(K[0, 0]) * ss
    dirs_ss = _camera_dirs(K, height, width, ss).reshape(-1, 3)
    dirs_c = dirs_ss if ss == 1 else _camera_dirs(K, height, width, 1).reshape(-1, 3)
    win_ss = surface_windows(scene, c2w, K, hs, ws, ss, times)
    win_c = win_ss if ss == 1 else surface_windows(scene, c2w, K, height, width, 1, times)
    rgb_out = torch.empty(T, height, width, 3)
    depth_out = torch.empty(T, height, width)
    inst_out = torch.empty(T, height, width, dtype=torch.int32)
    for s in range(0, T, chunk_frames):
        e = min(T, s + chunk_frames)
        Fr = e - s
        Rt = c2w[s:e, :3, :3].transpose(-1, -2)
        o = c2w[s:e, :3, 3].contiguous()  # (F,3)
        objs_f = objs + dynamic_objects(scene, times[s:e]) if scene.n_dynamic else objs
        d = (dirs_ss @ Rt).view(Fr, hs, ws, 3)
        wins = union_windows(win_ss[s:e])
        t, inst = trace(scene, objs_f, o, d, wins)
        p = torch.addcmul(o[:, None, None, :], t[..., None], d)
        rgb = shade(scene, shader, objs_f, p, inst, wins, o)
        if ss > 1:
            rgb = _box_downsample(rgb.view(Fr, height, ss, width, ss, 3))
            dc = (dirs_c @ Rt).view(Fr, height, width, 3)
            t, inst = trace(scene, objs_f, o, dc, union_windows(win_c[s:e]))
        rgb_out[s:e] = rgb
        depth_out[s:e] = t
        inst_out[s:e] = inst
    return {"rgb": rgb_out.clamp_(0, 1), "depth": depth_out, "instance": inst_out}


def _corner_dirs(K: Tensor, height: int, width: int) -> Tensor:
    """Camera-frame ray directions (z = 1) through the pixel corners ``(c, r)``: ``(H+1, W+1, 3)``."""
    return pixel_rays(pixel_corners(height, width, dtype=torch.float32), K)


def _render_quincunx(
    scene: Scene, c2w: Tensor, K: Tensor, height: int, width: int, chunk_frames: int, times: Tensor
) -> dict[str, Tensor]:
    """:func:`render` with ``aa="quincunx"`` (arguments already validated)."""
    T = c2w.shape[0]
    objs = object_list(scene)
    shader = Shader(scene)
    if scene.has_exterior:
        shader.focal = float(K[0, 0])
    dirs_c = _camera_dirs(K, height, width, 1).reshape(-1, 3)
    dirs_k = _corner_dirs(K, height, width).reshape(-1, 3)
    win_c = surface_windows(scene, c2w, K, height, width, 1, times)
    win_k = surface_windows(scene, c2w, K, height + 1, width + 1, 1, times, half=0.0)
    rgb_out = torch.empty(T, height, width, 3)
    depth_out = torch.empty(T, height, width)
    inst_out = torch.empty(T, height, width, dtype=torch.int32)
    for s in range(0, T, chunk_frames):
        e = min(T, s + chunk_frames)
        Fr = e - s
        Rt = c2w[s:e, :3, :3].transpose(-1, -2)
        o = c2w[s:e, :3, 3].contiguous()
        objs_f = objs + dynamic_objects(scene, times[s:e]) if scene.n_dynamic else objs
        cols = []
        for dirs, win, h, w in ((dirs_c, win_c, height, width), (dirs_k, win_k, height + 1, width + 1)):
            d = (dirs @ Rt).view(Fr, h, w, 3)
            wins = union_windows(win[s:e])
            t, inst = trace(scene, objs_f, o, d, wins)
            p = torch.addcmul(o[:, None, None, :], t[..., None], d)
            cols.append(shade(scene, shader, objs_f, p, inst, wins, o))
            if h == height:
                depth_out[s:e] = t
                inst_out[s:e] = inst
        k = cols[1]
        acc = k[:, :-1, :-1] + k[:, :-1, 1:]
        acc = acc.add_(k[:, 1:, :-1]).add_(k[:, 1:, 1:])
        rgb_out[s:e] = cols[0].mul(0.5).add_(acc, alpha=0.125)
    return {"rgb": rgb_out.clamp_(0, 1), "depth": depth_out, "instance": inst_out}


def render_clip(
    seed: int,
    n_frames: int = 16,
    height: int = 128,
    width: int = 128,
    fov_deg: tuple[float, float] | float = (50.0, 75.0),
    ss: int = 2,
) -> dict[str, Tensor]:
    """Render a random clip of the original room: :func:`~mirage_world.worlds.rooms.random_room` (what
    ``random_scene(seed)`` returns) + :func:`~mirage_world.worlds.camera_paths.random_camera_path` + a random
    horizontal FOV.

    Args:
        seed: non-negative int; everything is a deterministic function of the arguments.
        n_frames: clip length (>= 1).
        height, width: frame size in pixels.
        fov_deg: horizontal field of view in degrees, a ``(lo, hi)`` range sampled uniformly or a fixed value.
        ss: supersampling factor for ``rgb``.

    Returns:
        dict with ``rgb`` float32 ``(T,H,W,3)`` in [0,1], ``depth`` float32 ``(T,H,W)`` metric z-depth,
        ``instance`` int32 ``(T,H,W)``, ``c2w`` float32 ``(T,4,4)``, ``K`` float32 ``(3,3)`` (square pixels,
        principal point ``(W/2, H/2)``).

    Raises:
        ValueError: bad seed, sizes, ``n_frames < 1`` or FOV outside (0, 180).
    """
    seed = check_seed(seed)
    n_frames = check_positive_int("n_frames", n_frames)
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF0F]))
    if isinstance(fov_deg, (tuple, list)):
        lo_f, hi_f = float(fov_deg[0]), float(fov_deg[1])
        if not (0 < lo_f <= hi_f < 180):
            raise ValueError(f"fov_deg range must satisfy 0 < lo <= hi < 180, got {fov_deg}")
        fov = float(rng.uniform(lo_f, hi_f))
    else:
        fov = float(fov_deg)
    K = intrinsics_from_fov(fov, height, width)
    scene = random_room(seed)
    c2w = random_camera_path(scene, n_frames, seed)
    out = render(scene, c2w, K, height, width, ss=ss)
    out["c2w"] = c2w
    out["K"] = K
    return out
