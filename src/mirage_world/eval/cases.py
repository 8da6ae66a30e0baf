"""The cases of the closed-loop benchmark (:mod:`mirage_world.eval.closed_loop`): a photo with its depth and
intrinsics, a closed camera path starting at the photo's camera, and the frames where the camera revisits an earlier
view.

* **Procedural worlds** (:func:`world_cases`, exact ground truth): the closed-loop split of
  :func:`mirage_world.worlds.make_dataset` (:func:`~mirage_world.worlds.dataset.closed_loop_specs`: 4 fixed static
  scenes x ``out_and_back``, ``orbit_360``, ``look_away_and_back``, FOV 65 deg), rendered at the benchmark's size
  with the dataset's seeds. The photo is frame 0 with its exact depth (sky set to 0 = invalid); the rendered frames
  are the ground truth. *Revisit frames* come from the path's metadata (``pairs`` of frames with identical poses:
  the later frame of each pair, :func:`revisits_from_pairs`); for paths without it, :func:`revisit_frames` decides
  from the poses.
* **Real photos** (:func:`real_cases`, no ground truth beyond the photo): TUM RGB-D, NYU Depth v2 and SUN RGB-D
  from ``../shared/data/real/rgbd`` (:func:`load_rgbd` decodes each dataset's depth) with the closed presets of
  :mod:`mirage_world.geometry.trajectory` (``out_and_back`` and ``orbit_360`` by default; both return exactly to the
  photo's camera); revisit frames from the poses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from mirage_world.errors import InputError

__all__ = [
    "REAL_PHOTOS",
    "REAL_TRAJECTORIES",
    "KINECT_INTRINSICS",
    "DEFAULT_REAL_DATA",
    "REVISIT_TOL_M",
    "REVISIT_TOL_DEG",
    "LEAVE_M",
    "LEAVE_DEG",
    "WORLD_FOV_DEG",
    "ClosedLoopCase",
    "pairwise_pose_distances",
    "revisit_frames",
    "revisits_from_pairs",
    "world_cases",
    "load_rgbd",
    "real_cases",
]

#: Real RGB-D photos of ``../shared/data/real/rgbd`` (see its README): files and depth encoding.
REAL_PHOTOS = {
    "tum": ("TUM_color.png", "TUM_depth.png", "tum"),
    "nyu": ("NYU_color.ppm", "NYU_depth.pgm", "nyu"),
    "sun": ("SUN_color.jpg", "SUN_depth.png", "sun"),
}
#: Closed camera paths for the real photos (presets of :mod:`mirage_world.geometry.trajectory`).
REAL_TRAJECTORIES = ("out_and_back", "orbit_360")
#: The Kinect / PrimeSense default intrinsics of a 640x480 frame (fx, fy, cx, cy in pixels; the data's README).
KINECT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
#: Where the real photos are looked for by default (relative to the working directory, i.e. the project root).
DEFAULT_REAL_DATA = Path("..") / "shared" / "data" / "real"
#: Revisit rule of :func:`revisit_frames` (metres, degrees).
REVISIT_TOL_M, REVISIT_TOL_DEG, LEAVE_M, LEAVE_DEG = 0.01, 1.0, 0.1, 10.0
#: The field of view of the worlds' closed-loop split (degrees).
WORLD_FOV_DEG = 65.0


# ----------------------------------------------------------------------------------------------------------------
# revisit frames


def pairwise_pose_distances(c2w) -> tuple[np.ndarray, np.ndarray]:
    """Distances between all pairs of camera poses.

    Args:
        c2w: ``(N, 4, 4)`` camera-to-world poses (numpy or torch).

    Returns:
        ``(dt, angle)``: ``(N, N)`` float64 translation distances in metres and rotation angles in degrees (the
        angle of ``R_i^T R_j``, computed as ``2 asin(||R_i - R_j||_F / (2 sqrt 2))`` like
        :func:`mirage_world.eval.consistency.pose_distance`).

    Raises:
        InputError: not an ``(N, 4, 4)`` finite array with ``N >= 1``.
    """
    a = c2w.detach().cpu().numpy() if torch.is_tensor(c2w) else np.asarray(c2w)
    if a.ndim != 3 or a.shape[1:] != (4, 4) or a.shape[0] < 1 or not np.isfinite(a).all():
        raise InputError(f"c2w must be a finite (N, 4, 4) array, got shape {tuple(a.shape)}")
    a = a.astype(np.float64)
    t, R = a[:, :3, 3], a[:, :3, :3].reshape(len(a), 9)
    dt = np.linalg.norm(t[:, None] - t[None], axis=-1)
    fro = np.linalg.norm(R[:, None] - R[None], axis=-1)
    angle = np.degrees(2.0 * np.arcsin(np.minimum(1.0, fro / (2.0 * math.sqrt(2.0)))))
    return dt, angle


def revisit_frames(c2w, *, tol_m: float = REVISIT_TOL_M, tol_deg: float = REVISIT_TOL_DEG, leave_m: float = LEAVE_M,
                   leave_deg: float = LEAVE_DEG) -> dict[int, int]:
    """Frames whose camera comes back to an earlier view, from the poses alone.

    Frame ``j`` revisits frame ``i < j`` when its camera is within ``tol_m`` metres and ``tol_deg`` degrees of camera
    ``i`` and, at some frame ``k`` with ``i < k < j``, the camera had left: more than ``leave_m`` metres or
    ``leave_deg`` degrees away from camera ``i``. (Without the second condition a slow start would count frame 1 as
    a revisit of frame 0.) Each revisit frame maps to the earliest frame it revisits.

    Args:
        c2w: ``(N, 4, 4)`` camera-to-world poses, metres.
        tol_m, tol_deg: how close counts as the same view (>= 0).
        leave_m, leave_deg: how far counts as having left (> the tolerances).

    Returns:
        ``{j: i}``, sorted by ``j``.

    Raises:
        InputError: bad poses or thresholds.

    Example:
        >>> c2w = np.tile(np.eye(4), (5, 1, 1)); c2w[:, 2, 3] = [0.0, 0.5, 1.0, 0.5, 0.0]  # out and back
        >>> revisit_frames(c2w)
        {3: 1, 4: 0}
    """
    for name, v in (("tol_m", tol_m), ("tol_deg", tol_deg), ("leave_m", leave_m), ("leave_deg", leave_deg)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise InputError(f"{name} must be a finite number >= 0, got {v!r}")
    if leave_m <= tol_m or leave_deg <= tol_deg:
        raise InputError(f"leave thresholds ({leave_m} m, {leave_deg} deg) must exceed the tolerances ({tol_m} m, "
                         f"{tol_deg} deg)")
    dt, ang = pairwise_pose_distances(c2w)
    N = dt.shape[0]
    near = (dt <= tol_m) & (ang <= tol_deg)
    far = (dt > leave_m) | (ang > leave_deg)
    k = np.arange(N)
    far_after = far & (k[None, :] > k[:, None])  # far[i, k] for k > i
    first_far = np.where(far_after.any(axis=1), far_after.argmax(axis=1), N)  # (N,) first k > i where it had left
    out: dict[int, int] = {}
    for j in range(N):
        cand = np.flatnonzero(near[:j, j] & (first_far[:j] < j))
        if cand.size:
            out[j] = int(cand[0])
    return out


def revisits_from_pairs(pairs) -> dict[int, int]:
    """``{j: i}`` from a path's metadata ``pairs`` (``[i, j]``: frames with identical poses): the later frame of each
    pair revisits the earlier one (the earliest, if several).

    Raises:
        InputError: pairs that are not ``[int, int]`` with indices >= 0.
    """
    out: dict[int, int] = {}
    try:
        for a, b in pairs:
            a, b = int(a), int(b)
            if a < 0 or b < 0:
                raise ValueError
            if a == b:
                continue
            i, j = min(a, b), max(a, b)
            out[j] = min(i, out.get(j, i))
    except (TypeError, ValueError):
        raise InputError(f"pairs must be a list of [i, j] frame index pairs, got {pairs!r}") from None
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------------------------------------------
# cases


@dataclass
class ClosedLoopCase:
    """One photo + closed camera path to generate along.

    Attributes:
        name: e.g. ``"room_out_and_back"`` or ``"tum_orbit_360"``.
        source: ``"world"`` (ground truth for every frame) or ``"real"`` (the photo only).
        path: the closed path's name.
        image: ``(H0, W0, 3)`` uint8 or float in ``[0, 1]``, the photo at its own size.
        depth: ``(H0, W0)`` float32 z-depth in metres, 0 = invalid.
        K: ``(3, 3)`` intrinsics in photo pixels.
        c2w: ``(N, 4, 4)`` float32 camera path, ``c2w[0]`` the photo's camera (OpenCV axes, metres).
        revisits: ``{j: i}``, frame ``j`` revisits frame ``i``.
        ground_truth: ``(N, H, W, 3)`` float32 in ``[0, 1]`` at the output size, or ``None``.
        meta: JSON-ready description.
    """

    name: str
    source: str
    path: str
    image: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    c2w: torch.Tensor
    revisits: dict
    ground_truth: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict)


def world_cases(n_clips: int, frames: int, width: int, height: int) -> list[ClosedLoopCase]:
    """The first ``n_clips`` clips of the worlds' closed-loop split, rendered at ``width x height``.

    Same scenes, paths and seeds as :func:`mirage_world.worlds.make_dataset`'s ``closed_loop/`` folder (FOV 65 deg,
    static), so the clips equal the dataset's at the same size and frame count. The order is that of
    :func:`~mirage_world.worlds.dataset.closed_loop_specs` (scene by scene, the three paths each).

    Raises:
        InputError: ``n_clips`` outside ``0..12``, or what :func:`~mirage_world.worlds.render_world` raises.
    """
    from mirage_world.worlds.dataset import closed_loop_specs, render_world

    specs = closed_loop_specs()
    if not 0 <= n_clips <= len(specs):
        raise InputError(f"--clips must be in 0..{len(specs)}, got {n_clips}")
    out = []
    for spec in specs[:n_clips]:
        clip = render_world(spec["seed"], spec["trajectory"], frames, width, height, kind=spec["kind"],
                            fov_deg=WORLD_FOV_DEG, path_seed=spec["seed"])
        depth = clip.depth[0].clone()
        depth[clip.sky_mask[0]] = 0.0  # sky depth is a sentinel (worlds/design.md): invalid
        pairs = clip.meta["trajectory"].get("pairs")
        revisits = revisits_from_pairs(pairs) if pairs else revisit_frames(clip.c2w)
        out.append(ClosedLoopCase(
            name=spec["name"], source="world", path=spec["trajectory"], image=clip.rgb[0].numpy(),
            depth=depth.numpy(), K=clip.K.double().numpy(), c2w=clip.c2w.float(), revisits=revisits,
            ground_truth=clip.rgb.numpy(),
            meta={"seed": spec["seed"], "kind": spec["kind"], "fov_deg": WORLD_FOV_DEG,
                  "trajectory": clip.meta["trajectory"], "revisit_rule": "pairs" if pairs else "poses"}))
    return out


def load_rgbd(name: str, root) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One real RGB-D photo of ``ROOT/rgbd`` (``../shared/data/real``; encodings from its README).

    * ``tum``: 16-bit PNG, ``depth = value / 5000``.
    * ``sun``: 16-bit PNG with the 3-bit rotation, ``v = (raw >> 3) | (raw << 13)`` (uint16), ``depth = v / 1000``.
    * ``nyu``: binary PGM of little-endian 16-bit Kinect disparity ``d`` (OpenCV reads PGM as big-endian: the bytes
      are swapped back), ``depth = 351.3 / (1092.5 - d)``, invalid where ``d >= 1092.5``. Colour and depth of the
      raw NYU frame are not registered (a few pixels of parallax at edges).

    Returns:
        ``image (480, 640, 3)`` uint8 RGB, ``depth (480, 640)`` float32 metres (0 = invalid), ``K (3, 3)`` float64
        (:data:`KINECT_INTRINSICS`).

    Raises:
        InputError: unknown name, missing or unreadable files.
    """
    from mirage_world.io import load_depth, load_image

    if name not in REAL_PHOTOS:
        raise InputError(f"unknown real photo {name!r}; known: {', '.join(REAL_PHOTOS)}")
    color, depth_file, kind = REAL_PHOTOS[name]
    folder = Path(root) / "rgbd"
    img = load_image(folder / color)
    if kind == "tum":
        dep = load_depth(folder / depth_file, depth_scale=5000.0)
    else:
        raw = load_depth(folder / depth_file, depth_scale=1.0).astype(np.uint16)  # raw 16-bit values, exact
        if kind == "sun":
            v = ((raw >> 3) | (raw << 13)).astype(np.uint16)
            dep = v.astype(np.float32) / 1000.0
        else:
            d = raw.byteswap().astype(np.float64)
            dep = np.where(d < 1092.5, 351.3 / np.maximum(1092.5 - d, 1e-6), 0.0).astype(np.float32)
    if img.shape[:2] != dep.shape:
        raise InputError(f"{name}: colour {img.shape[:2]} and depth {dep.shape} differ in size")
    fx, fy, cx, cy = KINECT_INTRINSICS
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float64)
    return img, dep, K


def real_cases(root, photos, trajectories, frames: int) -> list[ClosedLoopCase]:
    """Real photos x closed presets (camera path sized by the photo's median depth, the package rule).

    Raises:
        InputError: unknown photo or trajectory, missing files.
    """
    from mirage_world.geometry.trajectory import CLOSED_LOOP_PRESETS, load_trajectory

    out = []
    for name in photos:
        img, dep, K = load_rgbd(name, root)
        for traj_name in trajectories:
            if traj_name not in CLOSED_LOOP_PRESETS:
                raise InputError(f"unknown closed trajectory {traj_name!r}; closed presets: "
                                 f"{', '.join(CLOSED_LOOP_PRESETS)}")
            traj = load_trajectory(traj_name, frames, depth_m=dep)
            c2w = traj.c2w.float()
            out.append(ClosedLoopCase(
                name=f"{name}_{traj_name}", source="real", path=traj_name, image=img, depth=dep, K=K, c2w=c2w,
                revisits=revisit_frames(c2w), meta={"photo": name, "trajectory_scale_m": traj.scale,
                                                    "intrinsics": list(KINECT_INTRINSICS), "revisit_rule": "poses"}))
    return out
