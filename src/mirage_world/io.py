"""Reading user inputs (photo, depth map) and writing/reading videos, with validation at the boundary.

Conventions: images are ``np.uint8`` ``(H, W, 3)`` RGB; depth is ``np.float32`` ``(H, W)`` z-depth in metres with
``0`` meaning invalid (the RGB-D sensor convention, e.g. TUM RGB-D / Kinect); intrinsics ``K`` are ``(3, 3)``
float64 tensors in pixels with pixel centres at +0.5 (so the image centre is ``(W/2, H/2)``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from mirage_world.errors import InputError

__all__ = [
    "load_image",
    "load_depth",
    "check_image_depth",
    "default_intrinsics",
    "intrinsics_from_normalized",
    "write_video",
    "read_video",
    "MIN_VALID_DEPTH_FRACTION",
]

#: A depth map with fewer valid (> 0) pixels than this fraction is rejected.
MIN_VALID_DEPTH_FRACTION = 0.01


def _existing_file(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found: {p}")
    if not p.is_file():
        raise InputError(f"{what} is not a file: {p}")
    return p


# ----------------------------------------------------------------------------------------------------------------
# images and depth


def _load_npy(p: Path, what: str, kinds: str, expected: str) -> np.ndarray:
    """``np.load`` without pickles; the array's dtype kind must be one of ``kinds`` (InputError otherwise)."""
    try:
        raw = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"cannot read {what} {p} as a .npy array: {e}") from None
    if not isinstance(raw, np.ndarray) or raw.dtype.kind not in kinds:
        raise InputError(f"{what} {p} must hold {expected}, got {getattr(raw, 'dtype', raw)}")
    return raw


def load_image(path) -> np.ndarray:
    """Load a photo as RGB ``uint8``.

    The EXIF orientation tag is applied (the image comes out the way viewers show it). Grayscale, palette, CMYK
    and 16-bit images are converted to RGB; an alpha channel is dropped (colour kept as stored).

    Args:
        path: image file readable by Pillow (PNG, JPEG, PPM, WebP, ...).

    Returns:
        ``(H, W, 3)`` ``np.uint8`` array.

    Raises:
        InputError: file missing, not a file, or not a readable image.
    """
    p = _existing_file(path, "image file")
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
                a = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
                a = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
                return np.ascontiguousarray(np.repeat(a[..., None], 3, axis=-1))
            if im.mode == "P" and "transparency" in im.info:
                im = im.convert("RGBA")
            rgb = im.convert("RGB")
            arr = np.asarray(rgb, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot read image {p}: {e}") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"image {p} decoded to unexpected shape {arr.shape}")
    return np.ascontiguousarray(arr)


def load_depth(path, depth_scale: float = 1000.0) -> np.ndarray:
    """Load a depth map in metres.

    * Image files (16-bit or 8-bit single-channel PNG, PGM, TIFF, ... decoded by OpenCV): ``metres = value /
      depth_scale``. Typical scales: 1000 (millimetres; Kinect/RealSense/SUN RGB-D after bit shift), 5000 (TUM RGB-D).
    * ``.npy``: a 2-D real array already in metres (``depth_scale`` is not applied).

    Zero means invalid (RGB-D convention) and stays ``0``.

    Args:
        path: depth file.
        depth_scale: raw units per metre for image files, finite and > 0.

    Returns:
        ``(H, W)`` ``np.float32`` depth in metres, ``0`` where invalid.

    Raises:
        InputError: ``depth_scale <= 0`` or not finite; file missing/unreadable; not 2-D (e.g. an RGB PNG); NaN or
            infinite values; negative values; fewer than 1 % valid (> 0) pixels.
    """
    try:
        scale = float(depth_scale)
    except (TypeError, ValueError):
        raise InputError(f"depth_scale must be a positive number, got {depth_scale!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"depth_scale must be finite and > 0, got {depth_scale!r}")
    p = _existing_file(path, "depth file")
    if p.suffix.lower() == ".npy":
        depth = _load_npy(p, "depth", "fiu", "a real numeric array in metres").astype(np.float64)
    else:
        try:
            buf = np.fromfile(p, dtype=np.uint8)
        except OSError as e:
            raise InputError(f"cannot read depth file {p}: {e}") from None
        raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
        if raw is None:
            raise InputError(f"cannot decode depth image {p} (expected a single-channel 8/16-bit PNG or a .npy)")
        depth = raw.astype(np.float64) / scale
    if depth.ndim != 2:
        raise InputError(
            f"depth {p} must be a single-channel 2-D map, got shape {tuple(depth.shape)} "
            "(colour-mapped depth visualisations are not depth)"
        )
    if depth.size == 0:
        raise InputError(f"depth {p} is empty")
    if not np.isfinite(depth).all():
        raise InputError(f"depth {p} contains NaN or infinite values; use 0 for invalid pixels")
    if (depth < 0).any():
        raise InputError(f"depth {p} has negative values (min {depth.min():g}); depth must be >= 0, 0 = invalid")
    frac = float((depth > 0).mean())
    if frac < MIN_VALID_DEPTH_FRACTION:
        raise InputError(
            f"depth {p} is zero/invalid almost everywhere ({100 * frac:.2f} % valid pixels, need >= "
            f"{100 * MIN_VALID_DEPTH_FRACTION:g} %)"
        )
    return depth.astype(np.float32)


def load_mask(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Load a binary mask: any non-zero pixel (of any channel) is True.

    Args:
        path: image file (PNG, ...) or ``.npy`` array (bool or numeric, 2-D).
        shape: expected ``(H, W)`` (e.g. the photo's), checked when given.

    Returns:
        ``(H, W)`` bool array.

    Raises:
        InputError: missing/unreadable file, not 2-D after dropping channels, or a shape other than ``shape``.
    """
    p = _existing_file(path, "mask file")
    if p.suffix.lower() == ".npy":
        raw = _load_npy(p, "mask", "biuf", "a bool or numeric array")
    else:
        raw = cv2.imdecode(np.fromfile(p, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if p.stat().st_size else None
        if raw is None:
            raise InputError(f"cannot decode mask image {p}")
    if raw.ndim == 3:
        raw = raw.any(axis=2)
    if raw.ndim != 2:
        raise InputError(f"mask {p} must be a 2-D image, got shape {tuple(raw.shape)}")
    if shape is not None and tuple(raw.shape) != tuple(shape):
        raise InputError(f"mask {p} is {raw.shape[1]}x{raw.shape[0]} but the photo is {shape[1]}x{shape[0]}")
    return raw != 0


def _shape_of(x, name: str) -> tuple[int, ...]:
    if isinstance(x, (np.ndarray, Tensor)):
        return tuple(int(s) for s in x.shape)
    raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


def check_image_depth(image, depth) -> None:
    """Check that a photo and its depth map belong together pixel for pixel.

    Args:
        image: ``(H, W, 3)`` array/tensor.
        depth: ``(H, W)`` array/tensor.

    Raises:
        InputError: image not ``(H, W, 3)``, depth not 2-D, or sizes differ (message gives both as ``WxH``).
    """
    ishape = _shape_of(image, "image")
    dshape = _shape_of(depth, "depth")
    if len(ishape) != 3 or ishape[2] != 3:
        raise InputError(f"image must have shape (H, W, 3), got {ishape}")
    if len(dshape) != 2:
        raise InputError(f"depth must have shape (H, W), got {dshape}")
    if ishape[:2] != dshape:
        raise InputError(
            f"image is {ishape[1]}x{ishape[0]} (WxH) but depth is {dshape[1]}x{dshape[0]}; "
            "the depth map must be registered to the image and have exactly the same size"
        )


# ----------------------------------------------------------------------------------------------------------------
# intrinsics


def _check_size(width, height) -> tuple[int, int]:
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    return int(width), int(height)


def default_intrinsics(width: int, height: int, fov_deg: float = 60.0) -> Tensor:
    """Pinhole intrinsics for an image of unknown calibration.

    Square pixels, principal point at the image centre ``(W/2, H/2)`` (pixel centres at +0.5), horizontal field of
    view ``fov_deg``: ``fx = fy = (W / 2) / tan(fov / 2)``.

    Args:
        width, height: image size in pixels (positive integers).
        fov_deg: horizontal field of view in degrees, ``0 < fov_deg < 180``.

    Returns:
        ``(3, 3)`` float64 tensor in pixels.

    Raises:
        InputError: bad size or field of view.
    """
    w, h = _check_size(width, height)
    try:
        fov = float(fov_deg)
    except (TypeError, ValueError):
        raise InputError(f"fov_deg must be a number, got {fov_deg!r}") from None
    if not (0.0 < fov < 180.0):
        raise InputError(f"fov_deg must be in (0, 180) degrees, got {fov_deg!r}")
    f = (w / 2.0) / math.tan(math.radians(fov) / 2.0)
    return torch.tensor([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def intrinsics_from_normalized(fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> Tensor:
    """Pixel intrinsics from intrinsics normalised by image size (RealEstate10K / Spatia convention).

    ``fx, cx`` are multiplied by ``width`` and ``fy, cy`` by ``height``; with pixel centres at +0.5 a normalised
    principal point of 0.5 is the image centre.

    Args:
        fx, fy: normalised focal lengths (> 0).
        cx, cy: normalised principal point (finite).
        width, height: image size in pixels.

    Returns:
        ``(3, 3)`` float64 tensor in pixels.

    Raises:
        InputError: non-finite values, non-positive focal lengths, bad size.
    """
    w, h = _check_size(width, height)
    vals = []
    for name, v in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy)):
        try:
            fv = float(v)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number, got {v!r}") from None
        if not math.isfinite(fv):
            raise InputError(f"{name} must be finite, got {v!r}")
        vals.append(fv)
    fx_, fy_, cx_, cy_ = vals
    if fx_ <= 0 or fy_ <= 0:
        raise InputError(f"normalised focal lengths must be > 0, got fx={fx_:g}, fy={fy_:g}")
    return torch.tensor([[fx_ * w, 0.0, cx_ * w], [0.0, fy_ * h, cy_ * h], [0.0, 0.0, 1.0]], dtype=torch.float64)


# ----------------------------------------------------------------------------------------------------------------
# video


def write_video(path, frames: np.ndarray, fps: float, quality: float = 8.0) -> None:
    """Write RGB frames to an H.264 video (imageio + ffmpeg, ``libx264``, ``yuv420p``).

    ``yuv420p`` needs even width and height; odd sizes are padded by one replicated edge row/column at the bottom /
    right (so :func:`read_video` returns the padded size). Parent folders are created.

    Args:
        path: output file (``.mp4`` recommended).
        frames: ``(T, H, W, 3)`` ``np.uint8`` RGB, ``T >= 1``.
        fps: frames per second, finite and > 0.
        quality: imageio quality 1..10 (8 -> x264 CRF 10, visually lossless).

    Raises:
        InputError: bad frames (type, dtype, shape), fps or quality; ffmpeg failing to write the file.
    """
    import imageio.v2 as iio

    if not isinstance(frames, np.ndarray):
        raise InputError(f"frames must be a numpy uint8 array (T, H, W, 3), got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise InputError(f"frames must have dtype uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[3] != 3 or min(frames.shape[:3]) < 1:
        raise InputError(f"frames must have shape (T, H, W, 3) with T, H, W >= 1, got {frames.shape}")
    try:
        fps_v = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {fps!r}") from None
    if not (math.isfinite(fps_v) and fps_v > 0):
        raise InputError(f"fps must be finite and > 0, got {fps!r}")
    if not (isinstance(quality, (int, float)) and 1 <= quality <= 10):
        raise InputError(f"quality must be in [1, 10], got {quality!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"video path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    _, H, W, _ = frames.shape
    ph, pw = H % 2, W % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        writer = iio.get_writer(
            str(p),
            format="FFMPEG",
            mode="I",
            fps=fps_v,
            codec="libx264",
            pixelformat="yuv420p",
            quality=float(quality),
            macro_block_size=1,
            ffmpeg_log_level="error",
        )
        try:
            for f in frames:
                writer.append_data(np.ascontiguousarray(f))
        finally:
            writer.close()
    except (OSError, RuntimeError, ValueError) as e:
        raise InputError(f"cannot write video {p}: {e}") from None


def read_video(path) -> np.ndarray:
    """Read all frames of a video as RGB ``uint8``.

    Args:
        path: video file readable by imageio's ffmpeg plugin.

    Returns:
        ``(T, H, W, 3)`` ``np.uint8`` array.

    Raises:
        InputError: file missing, unreadable, or with no frames.
    """
    import imageio.v2 as iio

    p = _existing_file(path, "video file")
    try:
        reader = iio.get_reader(str(p), format="FFMPEG", mode="I")
        try:
            frames = [np.asarray(f, dtype=np.uint8)[..., :3] for f in reader]
        finally:
            reader.close()
    except (OSError, RuntimeError, ValueError, IndexError, StopIteration) as e:
        raise InputError(f"cannot read video {p}: {e}") from None
    if not frames:
        raise InputError(f"video {p} has no frames")
    return np.ascontiguousarray(np.stack(frames))
