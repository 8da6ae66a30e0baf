"""Offline proxies of WorldScore's control and consistency aspects, computed with OpenCV alone (no learned models).

WorldScore (https://github.com/haoyi-duan/WorldScore) scores camera control and 3D consistency with DROID-SLAM and
photometric consistency with SEA-RAFT optical flow, all with downloaded weights. These proxies measure the same
three things with classical tools, so they run anywhere; they are not WorldScore's numbers.

* **Camera control** (:func:`camera_control_error`): for frame pairs ``(i, i + step)``: SIFT (or ORB) features,
  ratio-test matches, then the relative pose from the images (:func:`relative_pose`): ``cv2.findEssentialMat``
  (RANSAC), the cheirality test of ``cv2.recoverPose`` over its decompositions and a homography's, and a robust
  refinement; or, when the matches show no parallax (a homography explains as many of them and ``K^-1 H K`` is a
  rotation up to scale, as for a camera turning in place, where the essential matrix is degenerate), the rotation
  ``K^-1 H K`` projected onto SO(3). Compared with the requested relative pose
  ``inv(c2w[i + step]) @ c2w[i]``: rotation error (geodesic angle, degrees) and, for pairs with parallax and a
  requested translation, the angle between the estimated and requested translation directions (degrees; the scale
  of ``t`` is not observable from two images). Two-view limits: small baselines confuse a small translation with
  a small rotation (a larger ``step`` helps), forward motion has little parallax near the image centre, and
  repetitive textures (bricks, checkerboards) give consistent *wrong* matches; read the per-pair inlier counts.
* **Photometric consistency** (:func:`flow_consistency`): OpenCV DIS optical flow forward and backward between
  consecutive frames, forward-backward error ``|f(x) + b(x + f(x))|`` in pixels (``b`` sampled bilinearly) at every
  pixel whose forward target lies inside the frame, and the fraction of those below a threshold -- the quantity of
  WorldScore's ``optical_flow_aepe`` (``metrics/third_party/flow_aepe_metrics.py`` ``compute_epe``) with DIS in
  place of SEA-RAFT.
* **3D consistency** (:func:`reprojection_error`): features of frame 0 matched to frame ``i``, back-projected with
  frame 0's depth (the photo's depth: what the memory is built from) and projected into frame ``i`` with the
  requested cameras; the distance to the matched feature in pixels (median per frame, then over frames).

Conventions: OpenCV camera axes, ``c2w`` camera-to-world ``(F, 4, 4)``, ``K`` ``(3, 3)`` pixels with pixel centres at
+0.5 (OpenCV's feature coordinates put pixel centres at integers: +0.5 is added to every keypoint). Frames
``(F, H, W, 3)`` RGB float in ``[0, 1]`` or ``uint8``. Invalid input raises :class:`mirage_world.errors.InputError`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from scipy.linalg import svdvals
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.eval.consistency import pose_distance
from mirage_world.eval.metrics import to_uint8_frames
from mirage_world.geometry.camera import (
    check_c2w,
    check_intrinsics,
    invert_pose,
    pixel_rays,
    project_points,
    transform_points,
)
from mirage_world.geometry.rotations import nearest_rotation

__all__ = [
    "FEATURES",
    "DIS_PRESETS",
    "match_features",
    "relative_pose",
    "camera_control_error",
    "dis_flow",
    "flow_consistency",
    "reprojection_error",
]

#: Feature detectors of :func:`match_features` (SIFT: float descriptors, ratio test 0.75; ORB: binary, 0.8).
FEATURES = ("sift", "orb")
#: DIS optical-flow presets of :func:`dis_flow`.
DIS_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
_RATIO = {"sift": 0.75, "orb": 0.8}


# ----------------------------------------------------------------------------------------------------------------
# input checks


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)


def _K(K) -> np.ndarray:
    a = K.detach().cpu().double().numpy() if isinstance(K, Tensor) else np.asarray(K, dtype=np.float64)
    if a.shape != (3, 3):
        raise InputError(f"K must be a (3, 3) matrix in pixels, got shape {a.shape}")
    check_intrinsics(a, "K")
    return a


def _poses(c2w, n: int) -> np.ndarray:
    a = c2w.detach().cpu().double().numpy() if isinstance(c2w, Tensor) else np.asarray(c2w, dtype=np.float64)
    if a.shape != (n, 4, 4):
        raise InputError(f"c2w must have shape ({n}, 4, 4): one camera-to-world pose per frame, got {a.shape}")
    check_c2w(a, "c2w")
    return a


def _step(step, n: int) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 1 <= step < max(n, 2):
        raise InputError(f"step must be an integer in 1..{max(n - 1, 1)} (frames apart), got {step!r}")
    return int(step)


def _summary(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None, "max": None}
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "median": float(np.median(v)), "max": float(v.max())}


# ----------------------------------------------------------------------------------------------------------------
# features and relative pose


def _detector(method: str, max_features: int):
    if method == "sift":
        return cv2.SIFT_create(nfeatures=max_features), cv2.NORM_L2
    if method == "orb":
        return cv2.ORB_create(nfeatures=max_features), cv2.NORM_HAMMING
    raise InputError(f"features must be one of {', '.join(FEATURES)}, got {method!r}")


def _keypoints(gray: np.ndarray, method: str, max_features: int):
    det, _ = _detector(method, max_features)
    kp, desc = det.detectAndCompute(gray, None)
    pts = np.array([k.pt for k in kp], dtype=np.float64).reshape(-1, 2) + 0.5  # OpenCV centres -> +0.5
    return pts, desc


def _match(kp_a, kp_b, method: str) -> tuple[np.ndarray, np.ndarray]:
    (pa, da), (pb, db) = kp_a, kp_b
    if da is None or db is None or len(pa) < 2 or len(pb) < 2:
        return np.zeros((0, 2)), np.zeros((0, 2))
    _, norm = _detector(method, 1)
    pairs = cv2.BFMatcher(norm).knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < _RATIO[method] * p[1].distance]
    ia = np.array([m.queryIdx for m in good], dtype=np.int64)
    ib = np.array([m.trainIdx for m in good], dtype=np.int64)
    return pa[ia].reshape(-1, 2), pb[ib].reshape(-1, 2)


def match_features(a, b, method: str = "sift", max_features: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Feature matches between two images (OpenCV SIFT or ORB, brute force, Lowe's ratio test).

    Args:
        a, b: ``(H, W, 3)`` RGB images, float in ``[0, 1]`` or ``uint8`` (sizes may differ).
        method: one of :data:`FEATURES`.
        max_features: detector budget per image.

    Returns:
        ``pts_a``, ``pts_b``: ``(M, 2)`` float64 pixel coordinates ``(u, v)`` of the matches (pixel centres at
        +0.5), row ``k`` of one matching row ``k`` of the other.

    Raises:
        InputError: bad images or method.
    """
    x = to_uint8_frames(a[None] if isinstance(a, Tensor) else np.asarray(a)[None], "a")[0]
    y = to_uint8_frames(b[None] if isinstance(b, Tensor) else np.asarray(b)[None], "b")[0]
    _detector(method, 1)
    return _match(_keypoints(_gray(x), method, max_features), _keypoints(_gray(y), method, max_features), method)


def _rotation_from_homography(H: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, float]:
    """``K^-1 H K`` scaled to unit singular values and projected onto SO(3), and its singular-value spread
    ``s_max / s_min - 1`` (0 for a camera turning in place)."""
    M = np.linalg.solve(K, H @ K)
    s = svdvals(M)
    M = M / s.mean()
    if np.dot(np.cross(M[0], M[1]), M[2]) < 0:  # H is defined up to sign
        M = -M
    return nearest_rotation(M), float(s.max() / max(s.min(), 1e-300) - 1.0)


def relative_pose(pts_a: np.ndarray, pts_b: np.ndarray, K, *, threshold_px: float = 1.0,
                  rotation_tol: float = 0.02, min_matches: int = 15) -> dict | None:
    """Relative camera pose from matched pixels: ``x_b = R x_a + t`` (camera ``a`` coordinates -> camera ``b``).

    Two models, fitted with RANSAC at ``threshold_px``: the essential matrix (``cv2.findEssentialMat``) and a
    homography (``cv2.findHomography``).

    * Rotation only (``t = None``): when the homography has at least 95 % of the essential matrix's inliers and
      ``K^-1 H K`` is a rotation up to scale (singular values within ``rotation_tol``), the views show no parallax
      (a camera turning in place, or moving very little for the scene's depth); the essential matrix is then
      degenerate (measured: ~1 deg error on a pure 4 deg pan) and ``t`` unobservable, so ``R`` is ``K^-1 H K``
      projected onto SO(3).
    * Otherwise, with parallax: the candidates are the four ``(R, +-t)`` of each essential matrix
      (``cv2.decomposeEssentialMat``) and the decompositions of the homography (``cv2.decomposeHomographyMat``; a
      mostly planar scene can make RANSAC return the essential matrix of the planar twin solution); the one with
      the most matches that are within ``threshold_px`` (Sampson distance) *and* triangulate in front of both
      cameras wins -- the cheirality test ``cv2.recoverPose`` applies to one essential matrix -- and is refined by
      robust least squares over those matches (Huber loss on the Sampson distances, scipy ``least_squares``).

    Args:
        pts_a, pts_b: ``(M, 2)`` matched pixel coordinates (pixel centres at +0.5).
        K: ``(3, 3)`` intrinsics in pixels, the same for both images.
        threshold_px: RANSAC inlier threshold in pixels.
        rotation_tol: singular-value spread below which ``K^-1 H K`` counts as a rotation.
        min_matches: fewer matches (or RANSAC inliers) than this -> ``None``.

    Returns:
        ``{"R" (3, 3), "t" (3,) unit or None, "model" ("essential" | "rotation"), "matches", "inliers"}`` or
        ``None`` when there are too few matches / inliers or OpenCV finds no model.
    """
    Kn = _K(K)
    pa = np.ascontiguousarray(pts_a, dtype=np.float64).reshape(-1, 2)
    pb = np.ascontiguousarray(pts_b, dtype=np.float64).reshape(-1, 2)
    if pa.shape != pb.shape:
        raise InputError(f"pts_a and pts_b must have the same shape (M, 2), got {pa.shape} and {pb.shape}")
    n = len(pa)
    if n < max(min_matches, 5):
        return None
    try:
        E, emask = cv2.findEssentialMat(pa, pb, Kn, method=cv2.RANSAC, prob=0.999, threshold=threshold_px)
    except cv2.error:  # degenerate samples (e.g. all matches on a line) make its polynomial solver assert
        E, emask = None, None
    H, hmask = cv2.findHomography(pa, pb, cv2.RANSAC, threshold_px)
    e_in = int(emask.sum()) if emask is not None else 0
    h_in = int(hmask.sum()) if hmask is not None else 0
    if H is not None and h_in >= min_matches and h_in >= 0.95 * e_in:
        R, spread = _rotation_from_homography(H, Kn)
        if spread <= rotation_tol:
            return {"R": R, "t": None, "model": "rotation", "matches": n, "inliers": h_in}
    candidates = []  # (R, unit t): every decomposition of the essential matrices and of the homography
    for k in range(0, 0 if E is None else E.shape[0] - 2, 3):
        R1, R2, t = cv2.decomposeEssentialMat(E[k:k + 3])
        candidates += [(R, sign * t.reshape(3)) for R in (R1, R2) for sign in (1.0, -1.0)]
    if H is not None:
        _, Rs, ts, _ = cv2.decomposeHomographyMat(H, Kn)
        candidates += [(R, t.reshape(3) / np.linalg.norm(t)) for R, t in zip(Rs, ts) if np.linalg.norm(t) > 1e-12]
    best, best_in = None, np.zeros(n, dtype=bool)
    for R, t in candidates:
        inl = _pose_inliers(R, t, pa, pb, Kn, threshold_px)
        if inl.sum() > best_in.sum():
            best, best_in = (R, t), inl
    if best is None or best_in.sum() < min_matches:
        return None
    R, t = _refine_pose(best[0], best[1], pa[best_in], pb[best_in], Kn, threshold_px)
    return {"R": R, "t": t, "model": "essential", "matches": n, "inliers": int(best_in.sum())}


def _pose_inliers(R: np.ndarray, t: np.ndarray, pa: np.ndarray, pb: np.ndarray, K: np.ndarray,
                  threshold_px: float) -> np.ndarray:
    """``(M,)`` bool: matches within ``threshold_px`` (Sampson) of the epipolar geometry of ``(R, t)`` whose
    triangulated point lies in front of both cameras (the cheirality test that picks among decompositions)."""
    P0 = K @ np.c_[np.eye(3), np.zeros(3)]
    P1 = K @ np.c_[R, t]
    X = cv2.triangulatePoints(P0, P1, pa.T, pb.T)  # (4, M) homogeneous
    with np.errstate(divide="ignore", invalid="ignore"):
        Xa = (X[:3] / X[3]).T  # (M, 3) in camera a
    za = Xa[:, 2]
    zb = Xa @ R[2] + t[2]
    front = np.isfinite(za) & (za > 0) & (zb > 0)
    return front & (np.abs(_sampson(R, t, pa, pb, K)) < threshold_px)


def _sampson(R: np.ndarray, t: np.ndarray, pa: np.ndarray, pb: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Signed Sampson distances in pixels of matches to the epipolar geometry of ``(R, t)`` (``F = K^-T [t]x R K^-1``)."""
    tx = np.array([[0.0, -t[2], t[1]], [t[2], 0.0, -t[0]], [-t[1], t[0], 0.0]])
    Ki = np.linalg.inv(K)
    Fm = Ki.T @ tx @ R @ Ki
    xa = np.c_[pa, np.ones(len(pa))]  # (M, 3)
    xb = np.c_[pb, np.ones(len(pb))]
    Fa = xa @ Fm.T  # (M, 3) epipolar lines in b
    Fb = xb @ Fm  # (M, 3) epipolar lines in a
    num = np.sum(xb * Fa, axis=1)
    den = np.sqrt(Fa[:, 0] ** 2 + Fa[:, 1] ** 2 + Fb[:, 0] ** 2 + Fb[:, 1] ** 2) + 1e-300
    return num / den


def _refine_pose(R0: np.ndarray, t0: np.ndarray, pa: np.ndarray, pb: np.ndarray, K: np.ndarray,
                 threshold_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the robust (Huber, scale ``threshold_px``) Sampson error of the RANSAC inliers over the rotation
    (rotation vector on top of ``R0``) and the unit translation (two tangent coordinates around ``t0``): the
    minimal-sample RANSAC model is only as good as its 5 matches."""
    t0 = t0 / np.linalg.norm(t0)
    e1 = np.cross(t0, [1.0, 0.0, 0.0] if abs(t0[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(t0, e1)

    def unpack(p):
        t = t0 + p[3] * e1 + p[4] * e2
        return Rotation.from_rotvec(p[:3]).as_matrix() @ R0, t / np.linalg.norm(t)

    if len(pa) < 6:
        return R0, t0
    sol = least_squares(lambda p: _sampson(*unpack(p), pa, pb, K), np.zeros(5), loss="huber", f_scale=threshold_px)
    R, t = unpack(sol.x)
    return nearest_rotation(R), t


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two 3-vectors in degrees (``atan2`` form: accurate near 0 and 180)."""
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(u, v))), float(np.dot(u, v))))


def _rotation_error_deg(R_a: np.ndarray, R_b: np.ndarray) -> float:
    Ta, Tb = np.eye(4), np.eye(4)
    Ta[:3, :3], Tb[:3, :3] = nearest_rotation(R_a), nearest_rotation(R_b)
    return pose_distance(Ta, Tb)[1]


def camera_control_error(frames, c2w, K, *, step: int = 1, method: str = "sift", threshold_px: float = 1.0,
                         min_matches: int = 20, min_translation: float = 1e-9) -> dict:
    """How well the cameras seen in the frames follow the requested cameras (relative poses, pair by pair).

    For each pair ``(i, i + step)``: :func:`match_features`, :func:`relative_pose`, compared with the requested
    ``T = inv(c2w[i + step]) @ c2w[i]`` (camera ``i`` -> camera ``i + step``, the convention of
    ``cv2.recoverPose``). Rotation error: geodesic angle between the estimated and requested rotations. Translation
    error: angle between the estimated and requested translation directions, only for pairs with parallax (the
    essential-matrix model) whose requested translation is longer than ``min_translation``.

    Args:
        frames: ``(F, H, W, 3)`` frames (``F >= 2``), float in ``[0, 1]`` or ``uint8``.
        c2w: ``(F, 4, 4)`` requested camera-to-world poses (OpenCV axes; translation units do not matter).
        K: ``(3, 3)`` intrinsics in pixels of the frames.
        step: frames between the two views of a pair.
        method: features, one of :data:`FEATURES`.
        threshold_px: RANSAC threshold in pixels.
        min_matches: pairs with fewer matches / inliers are skipped.
        min_translation: requested translations up to this length (``c2w`` units) count as none.

    Returns:
        JSON-ready dict: ``rotation_error_deg`` and ``translation_error_deg`` (``mean``, ``median``, ``max``; ``None``
        when nothing was scored), ``counts`` (``pairs``, ``rotation_scored``, ``translation_scored``,
        ``skipped_few_matches``, ``no_parallax`` (rotation-only model: translation not observable),
        ``no_requested_translation``) and ``pairs`` (per pair: ``i``, ``j``, ``model``, ``matches``, ``inliers``,
        ``rotation_error_deg``, ``translation_error_deg`` or ``None``).

    Raises:
        InputError: bad frames, poses, intrinsics, step or method.
    """
    video = to_uint8_frames(frames, min_frames=2)
    F = len(video)
    poses = torch.from_numpy(_poses(c2w, F))
    Kn = _K(K)
    s = _step(step, F)
    _detector(method, 1)
    kps = [_keypoints(_gray(f), method, 4000) for f in video]
    counts = {"pairs": 0, "rotation_scored": 0, "translation_scored": 0, "skipped_few_matches": 0, "no_parallax": 0,
              "no_requested_translation": 0}
    rot_err, trans_err, pairs = [], [], []
    for i in range(0, F - s):
        j = i + s
        counts["pairs"] += 1
        pa, pb = _match(kps[i], kps[j], method)
        est = relative_pose(pa, pb, Kn, threshold_px=threshold_px, min_matches=min_matches)
        rec = {"i": i, "j": j, "matches": len(pa), "model": None, "inliers": 0, "rotation_error_deg": None,
               "translation_error_deg": None}
        if est is None:
            counts["skipped_few_matches"] += 1
            pairs.append(rec)
            continue
        T = (invert_pose(poses[j]) @ poses[i]).numpy()  # camera i -> camera j
        rec.update(model=est["model"], inliers=est["inliers"])
        rec["rotation_error_deg"] = _rotation_error_deg(est["R"], T[:3, :3])
        rot_err.append(rec["rotation_error_deg"])
        counts["rotation_scored"] += 1
        t_req = T[:3, 3]
        if est["t"] is None:
            counts["no_parallax"] += 1
        elif np.linalg.norm(t_req) <= min_translation:
            counts["no_requested_translation"] += 1
        else:
            rec["translation_error_deg"] = _angle_deg(est["t"], t_req)
            trans_err.append(rec["translation_error_deg"])
            counts["translation_scored"] += 1
        pairs.append(rec)
    return {"rotation_error_deg": _summary(rot_err), "translation_error_deg": _summary(trans_err),
            "counts": counts, "step": s, "features": method, "pairs": pairs}


# ----------------------------------------------------------------------------------------------------------------
# optical flow


def dis_flow(a, b, preset: str = "medium") -> np.ndarray:
    """Dense optical flow from ``a`` to ``b`` with OpenCV's DIS (Kroeger et al. 2016) on grey levels.

    Args:
        a, b: ``(H, W, 3)`` RGB images of the same size, float in ``[0, 1]`` or ``uint8``.
        preset: one of :data:`DIS_PRESETS`.

    Returns:
        ``(H, W, 2)`` float32 flow in pixels: the content at pixel ``(u, v)`` of ``a`` is at ``(u + fx, v + fy)``
        in ``b``.

    Raises:
        InputError: bad images, different sizes, unknown preset.
    """
    x = to_uint8_frames(a[None] if isinstance(a, Tensor) else np.asarray(a)[None], "a")[0]
    y = to_uint8_frames(b[None] if isinstance(b, Tensor) else np.asarray(b)[None], "b")[0]
    if x.shape != y.shape:
        raise InputError(f"a and b must have the same size, got {x.shape} and {y.shape}")
    if preset not in DIS_PRESETS:
        raise InputError(f"preset must be one of {', '.join(DIS_PRESETS)}, got {preset!r}")
    return _dis(x, y, preset)


def _dis(a: np.ndarray, b: np.ndarray, preset: str) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return dis.calc(_gray(a), _gray(b), None)


def _fb_error(fwd: np.ndarray, bwd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-backward error ``|f(x) + b(x + f(x))|`` ``(H, W)`` and the mask of pixels whose target is inside."""
    H, W = fwd.shape[:2]
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float32)
    mx, my = gx + fwd[..., 0], gy + fwd[..., 1]
    inside = (mx >= -0.5) & (mx <= W - 0.5) & (my >= -0.5) & (my <= H - 0.5)  # the frame's area, in index coords
    back = cv2.remap(bwd, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.linalg.norm(fwd + back, axis=-1), inside


def flow_consistency(frames, *, step: int = 1, threshold_px: float = 1.0, preset: str = "medium") -> dict:
    """Photometric consistency: forward-backward optical-flow error between frames ``i`` and ``i + step``.

    For every pixel whose forward flow lands inside the next frame, the forward-backward error
    ``|f(x) + b(x + f(x))|`` (DIS flow, :func:`dis_flow`; ``b`` sampled bilinearly) is 0 when both flows agree
    (content that persists and moves consistently) and large at occlusions, flicker and content that changes.

    Args:
        frames: ``(F, H, W, 3)`` frames (``F >= 2``), float in ``[0, 1]`` or ``uint8``.
        step: frames between the two frames of a pair.
        threshold_px: a pixel is consistent when its forward-backward error is below this (pixels).
        preset: DIS preset (:data:`DIS_PRESETS`).

    Returns:
        JSON-ready dict: ``fb_error_px`` (mean over pairs of the per-pair mean error), ``consistent_fraction``
        (mean over pairs), ``flow_px`` (mean forward flow magnitude), ``pairs`` (per pair: ``i``, ``j``,
        ``fb_error_px``, ``consistent_fraction``, ``inside_fraction``, ``flow_px``, ``median_flow`` ``[dx, dy]``).

    Raises:
        InputError: bad frames, step, threshold or preset.
    """
    video = to_uint8_frames(frames, min_frames=2)
    F = len(video)
    s = _step(step, F)
    if not (isinstance(threshold_px, (int, float)) and math.isfinite(threshold_px) and threshold_px > 0):
        raise InputError(f"threshold_px must be a positive number of pixels, got {threshold_px!r}")
    if preset not in DIS_PRESETS:
        raise InputError(f"preset must be one of {', '.join(DIS_PRESETS)}, got {preset!r}")
    pairs = []
    for i in range(0, F - s):
        fwd = _dis(video[i], video[i + s], preset)  # (H, W, 2)
        bwd = _dis(video[i + s], video[i], preset)
        err, inside = _fb_error(fwd, bwd)
        e = err[inside]
        pairs.append({
            "i": i, "j": i + s,
            "fb_error_px": float(e.mean()) if e.size else None,
            "consistent_fraction": float((e < threshold_px).mean()) if e.size else 0.0,
            "inside_fraction": float(inside.mean()),
            "flow_px": float(np.linalg.norm(fwd, axis=-1).mean()),
            "median_flow": [float(np.median(fwd[..., 0])), float(np.median(fwd[..., 1]))],
        })  # fmt: skip
    scored = [p for p in pairs if p["fb_error_px"] is not None]
    return {
        "fb_error_px": float(np.mean([p["fb_error_px"] for p in scored])) if scored else None,
        "consistent_fraction": float(np.mean([p["consistent_fraction"] for p in pairs])),
        "flow_px": float(np.mean([p["flow_px"] for p in pairs])),
        "threshold_px": float(threshold_px), "step": s, "preset": preset, "pairs": pairs,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# reprojection


def reprojection_error(frames, depth, c2w, K, *, step: int = 1, method: str = "sift", max_depth: float | None = None,
                       within_px: float = 2.0) -> dict:
    """3D consistency: frame 0's features, lifted with its depth, land where frame ``i`` shows them.

    Frames ``i = step, 2 step, ...``: features of frame 0 matched to frame ``i`` (:func:`match_features`, no
    geometric filtering); each frame-0 feature is back-projected along its ray (:func:`~mirage_world.geometry.camera.
    pixel_rays`) at the depth of the pixel that contains it, moved to the world with ``c2w[0]`` and projected into
    camera ``i`` (:func:`~mirage_world.geometry.camera.project_points`); its error is the distance in pixels to the
    matched feature of frame ``i``. Features without depth (``0``), beyond ``max_depth`` (e.g. sky) or behind camera
    ``i`` are not scored. Medians resist the few wrong matches a ratio test lets through.

    Args:
        frames: ``(F, H, W, 3)`` frames (``F >= 2``), float in ``[0, 1]`` or ``uint8``.
        depth: ``(H, W)`` z-depth of frame 0 in metres (``0`` = unknown), in the units of ``c2w``'s translations.
        c2w: ``(F, 4, 4)`` requested camera-to-world poses (OpenCV axes).
        K: ``(3, 3)`` intrinsics in pixels of the frames.
        step: frames between the scored frames.
        method: features, one of :data:`FEATURES`.
        max_depth: depths above this are not scored (``None``: no limit).
        within_px: also report the fraction of scored features with an error below this.

    Returns:
        JSON-ready dict: ``median_px`` (median over all scored features), ``mean_of_frame_medians_px``,
        ``within_fraction``, ``scored`` (features), ``frames`` (per frame: ``i``, ``matches``, ``scored``,
        ``median_px``).

    Raises:
        InputError: bad frames, depth (shape, NaN, negative), poses, intrinsics, step or method.
    """
    video = to_uint8_frames(frames, min_frames=2)
    F, H, W = video.shape[:3]
    d = depth.detach().cpu().numpy() if isinstance(depth, Tensor) else np.asarray(depth)
    if d.shape != (H, W) or d.dtype.kind not in "fiu":
        raise InputError(f"depth must be a real ({H}, {W}) map like the frames, got {d.shape} {d.dtype}")
    d = d.astype(np.float64)
    if not np.isfinite(d).all() or (d < 0).any():
        raise InputError("depth must be finite and >= 0 metres (0 = unknown)")
    poses = torch.from_numpy(_poses(c2w, F))
    Kt = torch.from_numpy(_K(K))
    s = _step(step, F)
    _detector(method, 1)
    kp0 = _keypoints(_gray(video[0]), method, 4000)
    all_err, per_frame = [], []
    for i in range(s, F, s):
        p0, pi = _match(kp0, _keypoints(_gray(video[i]), method, 4000), method)
        rec = {"i": i, "matches": len(p0), "scored": 0, "median_px": None}
        if len(p0):
            col = np.clip(np.floor(p0[:, 0]).astype(np.int64), 0, W - 1)
            row = np.clip(np.floor(p0[:, 1]).astype(np.int64), 0, H - 1)
            z = d[row, col]
            ok = z > 0 if max_depth is None else (z > 0) & (z <= max_depth)
            rays = pixel_rays(torch.from_numpy(p0[ok])[None], Kt)[0]  # (M, 3) camera-0 rays with z = 1
            world = transform_points(poses[0], rays * torch.from_numpy(z[ok])[:, None])  # (M, 3)
            uv, zi = project_points(world, Kt, poses[i])  # (M, 2), (M,)
            front = (zi > 0).numpy()
            err = np.linalg.norm(uv.numpy()[front] - pi[ok][front], axis=-1)
            if err.size:
                rec.update(scored=int(err.size), median_px=float(np.median(err)))
                all_err.append(err)
        per_frame.append(rec)
    errs = np.concatenate(all_err) if all_err else np.zeros(0)
    meds = [r["median_px"] for r in per_frame if r["median_px"] is not None]
    return {
        "median_px": float(np.median(errs)) if errs.size else None,
        "mean_of_frame_medians_px": float(np.mean(meds)) if meds else None,
        "within_fraction": float((errs < within_px).mean()) if errs.size else None,
        "within_px": float(within_px), "scored": int(errs.size), "step": s, "features": method,
        "frames": per_frame,
    }  # fmt: skip
