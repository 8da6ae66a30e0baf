"""nerfstudio ``transforms.json`` (also NeRF-synthetic / instant-ngp style files): reader and writer.

Source: nerfstudio data conventions (docs.nerf.studio, "Data conventions"): ``frames[i].transform_matrix`` is a 4x4
camera-to-world matrix; intrinsics ``fl_x fl_y cx cy`` (pixels) and ``w h`` at the top level or per frame (per frame
wins), or NeRF-synthetic's ``camera_angle_x``; the dataparser sorts frames by ``file_path``.

Axes: OpenGL camera axes (+x right, +y up, looking along -z), converted with
:func:`mirage_world.geometry.convert.opengl_to_opencv_c2w` (and back by the writer). nerfstudio's pixel centres are
at +0.5 like ours. Translations are up to scale.

Returns: :func:`read_nerfstudio` gives a :class:`~mirage_world.geometry.camera_files.CameraFile` with ``c2w``
``(N, 4, 4)`` float64 (OpenCV), ``K`` ``(N, 3, 3)`` float64 pixels when every frame's intrinsics are complete,
``image_hw`` when all frames share ``w, h``, and ``file_paths``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from mirage_world.errors import InputError
from mirage_world.geometry.camera import check_c2w
from mirage_world.geometry.camera_files._common import (
    CameraFile,
    K_in,
    clean_poses,
    finite_float,
    matrix44,
    open_existing,
    poses_in,
    prepare_out,
    read_json,
)
from mirage_world.geometry.convert import opencv_to_opengl_c2w, opengl_to_opencv_c2w

__all__ = ["read_nerfstudio", "write_nerfstudio"]

_NS_INTR = ("fl_x", "fl_y", "cx", "cy", "w", "h")


def read_nerfstudio(path) -> CameraFile:
    """Read a nerfstudio ``transforms.json`` (also NeRF-synthetic / instant-ngp style files).

    ``frames`` (sorted by ``file_path`` as nerfstudio's dataparser does, file order if any frame lacks one) each
    hold ``transform_matrix``: a 4x4 camera-to-world with OpenGL camera
    axes, converted with :func:`~mirage_world.geometry.convert.opengl_to_opencv_c2w`. Intrinsics ``fl_x fl_y cx cy``
    (pixels) and ``w h`` are read per frame, falling back to the top level; ``fl_x`` may come from
    ``camera_angle_x`` (``fl_x = w / 2 / tan(angle / 2)``), ``fl_y`` defaults to ``fl_x``, ``cx, cy`` to ``w/2,
    h/2``. nerfstudio's pixel convention matches ours (pixel centres at +0.5). Distortion coefficients are ignored.
    ``applied_transform`` / ``applied_scale`` (a fixed world change) are ignored: paths are used relative to their
    first camera. Translations are up to scale.

    Returns:
        :class:`CameraFile` ``kind="nerfstudio"``, ``metric=False``; ``K`` (N, 3, 3) when every frame's intrinsics
        are complete, ``image_hw`` when all frames share ``w, h``, ``file_paths``.

    Raises:
        InputError: invalid JSON, no ``frames``, malformed matrix, NaN/inf, non-rigid poses, non-positive focal
            (message names ``frames[i]``).
    """
    p = open_existing(path, "nerfstudio transforms.json")
    data = read_json(p)
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
        raise InputError(f"{p}: expected a JSON object with a non-empty 'frames' list (nerfstudio transforms.json)")
    mats, Ks, sizes, files = [], [], [], []
    for i, fr in enumerate(data["frames"]):
        where = f"{p}: frames[{i}]"
        if not isinstance(fr, dict) or "transform_matrix" not in fr:
            raise InputError(f"{where}: expected an object with 'transform_matrix'")
        M = matrix44(fr["transform_matrix"], where)
        check_c2w(M, f"{where}: transform_matrix")
        mats.append(M)
        files.append(str(fr.get("file_path", "")))
        vals = {}
        for k in _NS_INTR + ("camera_angle_x",):
            v = fr.get(k, data.get(k))
            if v is not None:
                vals[k] = finite_float(v, where, k)
        w, h = vals.get("w"), vals.get("h")
        fx = vals.get("fl_x")
        if fx is None and "camera_angle_x" in vals and w is not None:
            fx = 0.5 * w / math.tan(0.5 * vals["camera_angle_x"])
        fy = vals.get("fl_y", fx)
        for name, v in (("fl_x", fx), ("fl_y", fy)):
            if v is not None and not v > 0:
                raise InputError(f"{where}: focal length {name} must be > 0 pixels, got {v:g}")
        cx = vals.get("cx", None if w is None else w / 2.0)
        cy = vals.get("cy", None if h is None else h / 2.0)
        Ks.append(None if None in (fx, fy, cx, cy) else np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]))
        sizes.append(None if w is None or h is None else (int(h), int(w)))
    if all(fr.get("file_path") is not None for fr in data["frames"]):
        order = sorted(range(len(files)), key=lambda i: files[i])  # nerfstudio's dataparser sorts by file_path
        mats, Ks, sizes, files = ([seq[i] for i in order] for seq in (mats, Ks, sizes, files))
    c2w = clean_poses(opengl_to_opencv_c2w(np.stack(mats)))
    K = None if any(k is None for k in Ks) else torch.from_numpy(np.stack(Ks))
    hw = sizes[0] if sizes[0] is not None and all(s == sizes[0] for s in sizes) else None
    return CameraFile(c2w=c2w, kind="nerfstudio", metric=False, path=str(p), K=K, image_hw=hw,
                      file_paths=tuple(files))


def write_nerfstudio(path, c2w, K=None, image_hw=None, file_paths=None) -> Path:
    """Write a nerfstudio ``transforms.json`` (format: :func:`read_nerfstudio`; ``camera_model`` ``PINHOLE``).

    Intrinsics equal for all frames go to the top level, otherwise per frame.

    Args:
        path: output file.
        c2w: ``(N, 4, 4)`` OpenCV camera-to-world (written as OpenGL ``transform_matrix``).
        K: ``(3, 3)`` / ``(N, 3, 3)`` pixels, or ``None``.
        image_hw: ``(H, W)`` or ``None``.
        file_paths: N image paths (default ``images/frame_00001.png`` ...).
    """
    arr = poses_in(c2w)
    n = arr.shape[0]
    gl = opencv_to_opengl_c2w(arr)
    if file_paths is None:
        file_paths = [f"images/frame_{i + 1:05d}.png" for i in range(n)]
    if len(file_paths) != n:
        raise InputError(f"file_paths must have {n} entries, got {len(file_paths)}")
    data: dict = {"camera_model": "PINHOLE"}
    if image_hw is not None:
        if not (len(image_hw) == 2 and all(isinstance(v, (int, np.integer)) and v > 0 for v in image_hw)):
            raise InputError(f"image_hw must be two positive integers, got {image_hw!r}")
        data["h"], data["w"] = int(image_hw[0]), int(image_hw[1])
    frames = [{"file_path": str(fp), "transform_matrix": gl[i].tolist()} for i, fp in enumerate(file_paths)]
    if K is not None:
        Ka = K_in(K, n)
        per = [{"fl_x": float(k[0, 0]), "fl_y": float(k[1, 1]), "cx": float(k[0, 2]), "cy": float(k[1, 2])} for k in Ka]
        if all(d == per[0] for d in per):
            data.update(per[0])
        else:
            for fr, d in zip(frames, per):
                fr.update(d)
    data["frames"] = frames
    p = prepare_out(path)
    p.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return p
