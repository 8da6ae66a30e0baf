"""WorldScore export: write generated frames in the folder layout WorldScore's evaluator reads, and read its cameras.

WorldScore (Duan et al., "WorldScore: A Unified Evaluation Benchmark for World Generation", ICCV 2025,
https://github.com/haoyi-duan/WorldScore) scores a model from files only. Everything here follows its code at
commit ``344983c`` (2025-12-09), read for this module; files below are relative to
https://github.com/haoyi-duan/WorldScore/blob/344983c1be7d515c1e4ecb167d40d622adf502bc/ :

* Layout (``world_generators/README.md`` "Output Format"; ``worldscore/benchmark/helpers/evaluator.py``
  ``Evaluator.data_exists`` / ``process_batch`` / ``calculate_metrics``; ``worldscore/benchmark/helpers/
  dataloader.py`` ``DataLoader.load_data``): one folder per instance,
  ``$MODEL_PATH/<model>/worldscore_output/static/<visual_style>/<scene_type>/<category>/<name>/`` (``category`` and
  ``name`` from the dataset entry's ``image`` path: :func:`worldscore_instance_dir`), holding

  - ``frames/000.png, 001.png, ...``: every frame, read in sorted file-name order
    (``worldscore/benchmark/helpers/helper.py`` ``Helper.save`` -> ``worldscore/benchmark/utils/utils.py``
    ``save_frames``: ``f"{i:03d}.png"``); the evaluator needs exactly ``total_frames`` of them;
  - ``camera_data.json``: ``focal_length``, ``scale``, ``cameras`` (keyframes) and ``cameras_interp`` (one 4x4
    camera-to-world matrix per frame, Blender camera axes; ``worldscore/benchmark/helpers/camera_generator.py``
    ``CameraGen.save_cameras``); the evaluator needs ``len(cameras_interp) == total_frames == number of frames``;
  - ``image_data.json``: the dataset entry plus ``num_scenes``, ``total_frames`` and ``anchor_frame_idx``
    (``helper.py`` ``Helper.store_data``); the evaluator reads ``camera_path[0]`` (a key of ``utils.py``
    ``layout_info``), ``total_frames``, ``prompt_list`` and ``content_list`` (``num_scenes + 1`` entries each),
    ``num_scenes`` and ``anchor_frame_idx``;
  - ``input_image.png``: the input image centre-cropped to the output aspect and resized (``utils.py``
    ``center_crop``), the style reference;
  - ``videos/output.mp4`` (``utils.py`` ``merge_video``; for people, not read by the scorers).

* Cameras (``camera_generator.py``): poses are built as PyTorch3D world-to-camera matrices ``RT`` with the first
  camera at the identity, then stored as Blender camera-to-world ``inv(diag(-1, 1, -1, 1) @ RT)``. So in
  WorldScore's world frame the first camera's Blender ``c2w`` is ``diag(-1, 1, -1, 1)``, i.e. its OpenCV ``c2w`` is
  :data:`WORLDSCORE_FIRST_C2W` ``= diag(-1, -1, 1, 1)``. The camera-error scorer compares rotations in that world
  frame without aligning them (only the translation scale is fitted), so exports re-express a path relative to its
  first camera and then put that camera at :data:`WORLDSCORE_FIRST_C2W`. Axis conversion: the reader / writer of
  :mod:`mirage_world.geometry.camera_files.worldscore` (through :mod:`mirage_world.geometry.convert`).

* Intrinsics (``worldscore/benchmark/metrics/third_party/camera_error_metrics.py`` and
  ``reprojection_error_metrics.py``): DROID-SLAM runs with ``calib = [500, 500, 256, 256]`` (``fx, fy, cx, cy``)
  in the pixels of the frames as stored, for every model. That is a centred pinhole only for 512 x 512 frames, so
  exports default to 512 x 512 (:data:`WORLDSCORE_SIZE`) with ``K = [[500, 0, 256], [0, 500, 256], [0, 0, 1]]`` and
  report a warning when the frames' own intrinsics differ from that calibration.

Conventions inside the package: OpenCV camera axes, camera-to-world ``c2w``, ``K`` in pixels with pixel centres at
+0.5; frames ``(F, H, W, 3)`` float in ``[0, 1]`` or ``uint8``. Invalid input raises
:class:`mirage_world.errors.InputError`.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.eval.metrics import to_uint8_frames
from mirage_world.geometry.camera import check_c2w, check_intrinsics, rescale_intrinsics
from mirage_world.geometry.camera_files import WORLDSCORE_FOCAL, read_worldscore, write_worldscore
from mirage_world.geometry.trajectory import relative_to_first
from mirage_world.io import OutputSet, check_output_path, write_video

__all__ = [
    "WORLDSCORE_SIZE",
    "WORLDSCORE_CALIB",
    "WORLDSCORE_FIRST_C2W",
    "WORLDSCORE_LAYOUTS",
    "worldscore_K",
    "read_worldscore_cameras",
    "worldscore_image_data",
    "worldscore_instance_dir",
    "center_crop_box",
    "export_worldscore",
]

#: ``(H, W)`` of frames for which WorldScore's DROID calibration :data:`WORLDSCORE_CALIB` is a centred pinhole.
WORLDSCORE_SIZE = (512, 512)
#: ``(fx, fy, cx, cy)`` pixels that WorldScore's camera-error and reprojection scorers assume for every video.
WORLDSCORE_CALIB = (500.0, 500.0, 256.0, 256.0)
#: OpenCV ``c2w`` of the first camera in WorldScore's world frame (Blender ``c2w`` ``diag(-1, 1, -1, 1)``).
WORLDSCORE_FIRST_C2W = np.diag([-1.0, -1.0, 1.0, 1.0])
#: WorldScore's camera movements (``worldscore/benchmark/utils/utils.py`` ``layout_info``) -> scenes each adds.
WORLDSCORE_LAYOUTS = {
    "push_in": 1, "pull_out": 1, "move_left": 1, "move_right": 1, "orbit_left": 1, "orbit_right": 1,
    "pan_left": 1, "pan_right": 1, "pull_left": 1, "pull_right": 1, "fixed": 1,
}  # fmt: skip
#: Relative difference between a frame's intrinsics and :data:`WORLDSCORE_CALIB` above which exports warn.
CALIB_TOL = 0.01


# ----------------------------------------------------------------------------------------------------------------
# cameras


def _size_hw(size, name: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair of positive integers (H, W), got {size!r}") from None
    if h < 1 or w < 1:
        raise InputError(f"{name} must be positive, got {size!r}")
    return h, w


def worldscore_K(focal_length: float = WORLDSCORE_FOCAL, size=WORLDSCORE_SIZE) -> Tensor:
    """Pinhole intrinsics of WorldScore frames of size ``(H, W)``: square pixels, principal point at the centre.

    ``camera_data.json``'s ``focal_length`` (500) is in pixels of WorldScore's 512 x 512 frames (the DROID
    calibration :data:`WORLDSCORE_CALIB`); for another size the horizontal field of view is kept:
    ``fx = fy = focal_length * W / 512`` (for 512 x 512: exactly ``[[500, 0, 256], [0, 500, 256], [0, 0, 1]]``).

    Args:
        focal_length: pixels of a 512-pixel-wide frame (> 0).
        size: ``(H, W)`` of the frames the intrinsics are for.

    Returns:
        ``(3, 3)`` float64 tensor in pixels (pixel centres at +0.5, so the centre is ``(W / 2, H / 2)``).

    Raises:
        InputError: non-positive or non-finite focal length, bad size.
    """
    H, W = _size_hw(size, "size")
    try:
        f = float(focal_length)
    except (TypeError, ValueError):
        raise InputError(f"focal_length must be a number, got {focal_length!r}") from None
    if not (math.isfinite(f) and f > 0):
        raise InputError(f"focal_length must be finite and > 0 pixels, got {focal_length!r}")
    f = f * W / WORLDSCORE_SIZE[1]
    return torch.tensor([[f, 0.0, W / 2], [0.0, f, H / 2], [0.0, 0.0, 1.0]], dtype=torch.float64)


def read_worldscore_cameras(path, size=WORLDSCORE_SIZE) -> tuple[Tensor, Tensor, tuple[int, int]]:
    """Read a WorldScore ``camera_data.json`` in the package convention.

    Reads with :func:`mirage_world.geometry.camera_files.read_worldscore` (Blender -> OpenCV camera axes through
    :mod:`mirage_world.geometry.convert`). The world frame is WorldScore's (the first camera is
    :data:`WORLDSCORE_FIRST_C2W`); use :func:`mirage_world.geometry.trajectory.relative_to_first` for a path that
    starts at the identity. Translations are in the file's units (up to scale).

    Args:
        path: the ``camera_data.json`` file.
        size: ``(H, W)`` of the frames the intrinsics are for (WorldScore's scorers: 512 x 512).

    Returns:
        ``c2w`` ``(N, 4, 4)`` float64 OpenCV camera-to-world, ``K`` ``(3, 3)`` float64 pixels of ``size`` frames
        (:func:`worldscore_K` of the file's focal length) and ``size`` ``(H, W)``.

    Raises:
        InputError: see :func:`~mirage_world.geometry.camera_files.read_worldscore`; bad ``size``.
    """
    hw = _size_hw(size, "size")
    cf = read_worldscore(path)
    return cf.c2w, worldscore_K(cf.focal_px, hw), hw


def worldscore_image_data(num_frames: int, image_data: dict | None = None, layout: str | None = None,
                          prompt: str = "") -> dict:
    """The ``image_data.json`` of an instance: the dataset entry completed the way WorldScore's generator does it.

    ``num_scenes`` is the number of camera movements in ``camera_path`` (each adds one scene), ``total_frames`` is
    ``num_frames`` and ``anchor_frame_idx`` splits the frames evenly into the scenes (``[0, F - 1]`` for one;
    WorldScore's generator produces ``k * (frames - 1)``, which this equals when ``F - 1`` divides evenly).

    Args:
        num_frames: frames of the video (>= 2).
        image_data: the instance's entry of the WorldScore dataset (kept; ``camera_path`` etc. read from it), or
            ``None`` to build a minimal one from ``layout`` and ``prompt``.
        layout: a camera movement of :data:`WORLDSCORE_LAYOUTS`; required without ``image_data`` (its
            ``camera_path`` wins otherwise, and must then agree if both are given).
        prompt: text for ``prompt_list`` when ``image_data`` has none (the prompt-based aspects of WorldScore, CLIP
            score and object detection, are only meaningful with the dataset's own prompts and contents).

    Returns:
        A new dict (``image_data`` is not modified).

    Raises:
        InputError: ``num_frames < 2``; no layout; unknown movement names; ``prompt_list`` / ``content_list``
            shorter than ``num_scenes + 1``; ``image_data`` not a dict.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 2:
        raise InputError(f"a WorldScore video needs at least 2 frames, got {num_frames!r}")
    if image_data is not None and not isinstance(image_data, dict):
        raise InputError(f"image_data must be a JSON object (dict), got {type(image_data).__name__}")
    data = copy.deepcopy(image_data) if image_data is not None else {}
    path = data.get("camera_path")
    if path is None:
        if layout is None:
            raise InputError("WorldScore's image_data needs a camera movement: give the dataset's image_data.json "
                             f"or a layout, one of {', '.join(WORLDSCORE_LAYOUTS)}")
        path = [layout]
    if isinstance(path, str):
        path = [path]
    if not isinstance(path, list) or not path or not all(isinstance(p, str) for p in path):
        raise InputError(f"camera_path must be a non-empty list of movement names, got {path!r}")
    bad = [p for p in path if p not in WORLDSCORE_LAYOUTS]
    if bad:
        raise InputError(f"unknown WorldScore camera movement(s) {bad}; known: {', '.join(WORLDSCORE_LAYOUTS)}")
    if layout is not None and path[0] != layout:
        raise InputError(f"layout {layout!r} disagrees with image_data's camera_path {path}")
    scenes = int(sum(WORLDSCORE_LAYOUTS[p] for p in path))
    if num_frames - 1 < scenes:
        raise InputError(f"{num_frames} frames cannot hold {scenes} scenes (need at least {scenes + 1})")
    data["camera_path"] = path
    data.setdefault("visual_movement", "static")
    data.setdefault("prompt_list", [str(prompt)] * (scenes + 1))
    data.setdefault("content_list", [[] for _ in range(scenes + 1)])
    for key in ("prompt_list", "content_list"):
        if not isinstance(data[key], list) or len(data[key]) < scenes + 1:
            raise InputError(f"image_data {key!r} must be a list of at least num_scenes + 1 = {scenes + 1} entries")
    data["num_scenes"] = scenes
    data["total_frames"] = int(num_frames)
    data["anchor_frame_idx"] = [int(round(k * (num_frames - 1) / scenes)) for k in range(scenes + 1)]
    return data


def worldscore_instance_dir(root, image_data: dict) -> Path:
    """Where WorldScore looks for an instance: ``root/<visual_movement>/<visual_style>/<scene_type>/<category>/<name>``.

    ``root`` is the model's ``worldscore_output`` folder; ``category`` and ``name`` come from the dataset entry's
    ``image`` path (its parent folder and its stem), as in WorldScore's ``DataLoader.load_data``.

    Raises:
        InputError: a key missing from ``image_data`` (static instances only).
    """
    need = ("visual_movement", "visual_style", "scene_type", "image")
    missing = [k for k in need if not isinstance(image_data.get(k), str)]
    if missing:
        raise InputError(f"image_data lacks {missing}: cannot tell the WorldScore instance folder")
    if image_data["visual_movement"] != "static":
        raise InputError(f"only static instances are exported, got visual_movement {image_data['visual_movement']!r}")
    parts = image_data["image"].split("/")
    if len(parts) < 2:
        raise InputError(f"image_data 'image' must look like <...>/<category>/<name>.png, got {image_data['image']!r}")
    name = parts[-1].split(".")[0]
    return Path(root) / "static" / image_data["visual_style"] / image_data["scene_type"] / parts[-2] / name


def center_crop_box(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the centre crop of a ``width x height`` image to the aspect
    ``target_w : target_h``, with WorldScore's integer arithmetic (``utils.py`` ``center_crop``)."""
    ratio = target_w / target_h
    if width / height > ratio:
        new_w, new_h = int(height * ratio), height
    else:
        new_w, new_h = width, int(width / ratio)
    left, top = (width - new_w) // 2, (height - new_h) // 2
    return left, top, left + new_w, top + new_h


# ----------------------------------------------------------------------------------------------------------------
# export


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    H, W = hw
    if img.shape[:2] == (H, W):
        return img
    shrink = H <= img.shape[0] and W <= img.shape[1]
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def _calib_warning(K: np.ndarray, hw: tuple[int, int]) -> str | None:
    ref = np.array(WORLDSCORE_CALIB)
    got = np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]])
    if np.all(np.abs(got - ref) <= CALIB_TOL * ref):
        return None
    return (f"WorldScore's camera-error and reprojection scorers assume fx, fy, cx, cy = {list(WORLDSCORE_CALIB)} in "
            f"frame pixels; these {hw[1]}x{hw[0]} frames have {[round(float(v), 3) for v in got]}: their camera "
            "scores mix the model's error with this calibration difference (export at 512x512 with a 500-pixel "
            "focal length to match)")


def export_worldscore(out_dir, frames, c2w, K, *, input_image=None, image_data: dict | None = None,
                      layout: str | None = None, prompt: str = "", fps: float = 10.0, size=None,
                      overwrite: bool = False, extra: dict | None = None) -> dict:
    """Write one WorldScore instance folder (layout: module doc) that WorldScore's evaluator scores unchanged.

    The frames are stored as ``frames/000.png ...`` (8-bit RGB; resized to ``size`` if given), the cameras as
    ``camera_data.json`` (the path relative to its first camera, placed at :data:`WORLDSCORE_FIRST_C2W`, written by
    :func:`~mirage_world.geometry.camera_files.write_worldscore` with Blender axes; ``focal_length`` = the frames'
    ``fx``; keyframes = the scene anchors), ``image_data.json`` from :func:`worldscore_image_data`,
    ``input_image.png`` and ``videos/output.mp4``; ``mirage.json`` records ``K``, sizes, warnings and ``extra``. All
    files are written under temporary names and renamed together at the end (:class:`mirage_world.io.OutputSet`).

    Args:
        out_dir: the instance folder (see :func:`worldscore_instance_dir`); created if missing.
        frames: ``(F, H, W, 3)`` generated frames (``F >= 2``), float in ``[0, 1]`` or ``uint8``.
        c2w: ``(F, 4, 4)`` OpenCV camera-to-world of every frame (any world frame, any translation unit).
        K: ``(3, 3)`` intrinsics in pixels of the ``(H, W)`` frames.
        input_image: ``(H0, W0, 3)`` the input photo (centre-cropped to the output aspect and resized, like
            WorldScore's ``center_crop``); default: frame 0.
        image_data, layout, prompt: see :func:`worldscore_image_data`.
        fps: frame rate of ``videos/output.mp4`` (WorldScore's default 10).
        size: ``(H, W)`` of the stored frames (default: as given); :data:`WORLDSCORE_SIZE` matches its scorers.
        overwrite: replace an existing export (old frame files not rewritten are removed); otherwise a folder
            that already holds frames is refused (the evaluator would read stale frames).
        extra: JSON-ready provenance written into ``mirage.json``.

    Returns:
        ``{"out_dir", "files", "K" (3x3 list, stored frames), "size" [H, W], "warnings" [str]}``.

    Raises:
        InputError: bad frames / poses / intrinsics / sizes, frame and pose counts that differ, an unwritable or
            non-empty folder (without ``overwrite``), and everything :func:`worldscore_image_data` raises.
    """
    video = to_uint8_frames(frames)
    F, H0, W0 = video.shape[:3]
    if F < 2:
        raise InputError(f"a WorldScore video needs at least 2 frames, got {F}")
    poses = c2w.detach().cpu().numpy() if isinstance(c2w, Tensor) else np.asarray(c2w)
    if poses.shape != (F, 4, 4) or poses.dtype.kind != "f":
        raise InputError(f"c2w must be a float ({F}, 4, 4) array (one pose per frame), got {tuple(poses.shape)}")
    check_c2w(poses.astype(np.float64), "c2w")
    Kt = K.detach().cpu().double() if isinstance(K, Tensor) else torch.as_tensor(np.asarray(K, dtype=np.float64))
    if tuple(Kt.shape) != (3, 3):
        raise InputError(f"K must be (3, 3), got {tuple(Kt.shape)}")
    check_intrinsics(Kt, "K")
    hw = (H0, W0) if size is None else _size_hw(size, "size")
    K_out = rescale_intrinsics(Kt, (H0, W0), hw).numpy()
    data = worldscore_image_data(F, image_data, layout, prompt)
    try:
        fps_v = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if not (math.isfinite(fps_v) and fps_v > 0):
        raise InputError(f"fps must be finite and > 0, got {fps!r}")
    if input_image is None:
        photo = video[0]
    else:
        if not isinstance(input_image, (np.ndarray, Tensor)) or input_image.ndim != 3:
            raise InputError(f"input_image must be an (H, W, 3) array, got {getattr(input_image, 'shape', input_image)!r}")
        photo = to_uint8_frames(input_image[None], "input_image")[0]
        l, t, r, b = center_crop_box(photo.shape[1], photo.shape[0], hw[1], hw[0])
        photo = photo[t:b, l:r]
    out = check_output_path(out_dir, "WorldScore instance folder", folder=True)
    frames_dir = out / "frames"
    old = sorted(p for p in frames_dir.iterdir() if p.suffix in (".png", ".jpg")) if frames_dir.is_dir() else []
    if old and not overwrite:
        raise InputError(f"{frames_dir} already holds {len(old)} frame files; WorldScore would read them too "
                         "(choose another folder, or overwrite)")

    ws_c2w = torch.from_numpy(WORLDSCORE_FIRST_C2W) @ relative_to_first(poses.astype(np.float64))  # (F, 4, 4)
    digits = max(3, len(str(F - 1)))
    names = [f"{i:0{digits}d}.png" for i in range(F)]
    warnings = [w for w in (_calib_warning(K_out, hw),) if w]
    stored = np.stack([_resize(f, hw) for f in video])  # (F, H, W, 3) uint8
    meta = {"K": K_out.tolist(), "size": list(hw), "frames_input_size": [H0, W0], "fps": fps_v,
            "camera_convention": "camera_data.json: Blender camera-to-world, first camera diag(-1, 1, -1, 1)",
            "worldscore_calib_assumed": list(WORLDSCORE_CALIB), "warnings": warnings, **(extra or {})}
    with OutputSet() as outs:
        try:
            for name, f in zip(names, stored):
                if not cv2.imwrite(str(outs.temp_path(frames_dir / name)), np.ascontiguousarray(f[..., ::-1])):
                    raise OSError(f"OpenCV could not write {frames_dir / name}")
            if not cv2.imwrite(str(outs.temp_path(out / "input_image.png")), _resize(photo, hw)[..., ::-1].copy()):
                raise OSError(f"OpenCV could not write {out / 'input_image.png'}")
            write_worldscore(outs.temp_path(out / "camera_data.json"), ws_c2w, focal_length=float(K_out[0, 0]),
                             keyframes=data["anchor_frame_idx"])
            outs.temp_path(out / "image_data.json").write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
            outs.temp_path(out / "mirage.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            write_video(outs.temp_path(out / "videos" / "output.mp4"), stored, fps_v)
        except OSError as e:
            raise InputError(f"cannot write the WorldScore export in {out}: {e}") from None
        files = [str(p) for p in outs.finals]
        outs.commit()
    keep = set(names)
    for p in old:
        if p.name not in keep:
            try:
                os.remove(p)
            except OSError as e:
                raise InputError(f"cannot remove the stale frame {p}: {e}") from None
    return {"out_dir": str(out), "files": files, "K": K_out.tolist(), "size": list(hw), "warnings": warnings}
