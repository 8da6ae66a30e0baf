"""Reading user inputs (photo, depth map) and writing/reading videos, with validation at the boundary.

Conventions: images are ``np.uint8`` ``(H, W, 3)`` RGB; depth is ``np.float32`` ``(H, W)`` z-depth in metres with
``0`` meaning invalid (the RGB-D sensor convention, e.g. TUM RGB-D / Kinect); intrinsics ``K`` are ``(3, 3)``
float64 tensors in pixels with pixel centres at +0.5 (so the image centre is ``(W/2, H/2)``).
"""

from __future__ import annotations

import errno
import math
import os
import secrets
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from mirage_world.errors import InputError

__all__ = [
    "parse_size",
    "load_image",
    "load_depth",
    "check_image_depth",
    "default_intrinsics",
    "intrinsics_from_normalized",
    "write_video",
    "read_video",
    "check_output_path",
    "OutputSet",
    "MIN_VALID_DEPTH_FRACTION",
    "MAX_IMAGE_SIDE",
    "MAX_IMAGE_PIXELS",
]

#: A depth map with fewer valid (> 0) pixels than this fraction is rejected.
MIN_VALID_DEPTH_FRACTION = 0.01
#: Largest photo / depth map / mask read: pixels per side ...
MAX_IMAGE_SIDE = 16384
#: ... and pixels in all (64 megapixels), checked from the file header before decoding.
MAX_IMAGE_PIXELS = 64 * 2**20
#: Pillow modes of single-channel images with more than 8 bits: depth maps, not photos.
DEPTH_LIKE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _path_error(p, what: str, e: Exception) -> InputError:
    return InputError(f"{what} path {str(p)!r} cannot be used: {e}")


def _existing_file(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} path must be a string or path, got {type(path).__name__}")
    p = Path(path)
    if "\x00" in str(path):
        raise _path_error(p, what, ValueError("embedded NUL byte"))
    try:
        exists, is_file = p.exists(), p.is_file()
    except (OSError, ValueError) as e:  # name too long, embedded NUL byte, ...
        raise _path_error(p, what, e) from None
    if not exists:
        raise InputError(f"{what} not found: {p}")
    if not is_file:
        raise InputError(f"{what} is not a file: {p}")
    return p


def _check_pixels(p: Path, what: str, width: int, height: int) -> None:
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"{what} {p} is {width}x{height}: larger than the limit of {MAX_IMAGE_SIDE} pixels per side and "
            f"{MAX_IMAGE_PIXELS // 2**20} megapixels"
        )


def _peek_image_size(p: Path, what: str) -> tuple[int, int] | None:
    """``(W, H)`` from the file header (Pillow, nothing decoded), or ``None`` if Pillow cannot identify the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                return tuple(int(v) for v in im.size)
    except Image.DecompressionBombError as e:
        raise InputError(f"{what} {p} is too large: {e}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


# ----------------------------------------------------------------------------------------------------------------
# images and depth


def _load_npy(p: Path, what: str, kinds: str, expected: str, max_size: int | None = None) -> np.ndarray:
    """``np.load`` without pickles; the array's dtype kind must be one of ``kinds`` and its element count at most
    ``max_size`` (checked from the header, before reading the data); InputError otherwise."""
    try:
        try:
            raw = np.load(p, allow_pickle=False, mmap_mode="r")  # the header only; data read below
        except ValueError:  # e.g. an empty array cannot be memory-mapped
            raw = np.load(p, allow_pickle=False)
        if isinstance(raw, np.ndarray) and raw.dtype.kind in kinds:
            if max_size is not None and raw.size > max_size:
                raise InputError(f"{what} {p} has shape {tuple(raw.shape)}: more than the limit of {max_size} values")
            raw = np.array(raw)
    except (ValueError, OSError, EOFError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"cannot read {what} {p} as a .npy array: {e}") from None
    if not isinstance(raw, np.ndarray) or raw.dtype.kind not in kinds:
        if hasattr(raw, "close"):
            raw.close()  # an .npz archive
        raise InputError(f"{what} {p} must hold {expected}, got {getattr(raw, 'dtype', type(raw).__name__)}")
    return raw


def load_image(path, *, min_side: int = 1, allow_depth_like: bool = True) -> np.ndarray:
    """Load a photo as RGB ``uint8``.

    The EXIF orientation tag is applied (the image comes out the way viewers show it). Grayscale, palette, CMYK
    and 16-bit images are converted to RGB; an alpha channel is dropped (colour kept as stored).

    Args:
        path: image file readable by Pillow (PNG, JPEG, PPM, WebP, ...), at most :data:`MAX_IMAGE_SIDE` pixels per
            side and :data:`MAX_IMAGE_PIXELS` in all (checked from the header, before decoding).
        min_side: the smallest width / height accepted.
        allow_depth_like: ``False`` refuses single-channel 16/32-bit images (:data:`DEPTH_LIKE_MODES`): depth
            maps given as a photo would become a near-black picture.

    Returns:
        ``(H, W, 3)`` ``np.uint8`` array.

    Raises:
        InputError: file missing, not a file, not a readable image, too large, smaller than ``min_side`` or
            depth-like when not allowed.
    """
    p = _existing_file(path, "image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im_file = Image.open(p)
        with im_file as im:
            _check_pixels(p, "image", *im.size)
            if not allow_depth_like and im.mode in DEPTH_LIKE_MODES:
                bits = "16-bit" if im.mode.startswith("I;16") else "32-bit"
                raise InputError(
                    f"image {p} is a single-channel {bits} image ({im.mode}): it looks like a depth map, not a "
                    "photo (photos are 8-bit colour or grey images)"
                )
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in DEPTH_LIKE_MODES:
                a = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
                a = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
                arr = np.repeat(a[..., None], 3, axis=-1)
            else:
                if im.mode == "P" and "transparency" in im.info:
                    im = im.convert("RGBA")
                rgb = im.convert("RGB")
                arr = np.asarray(rgb, dtype=np.uint8)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"image {p} is too large: {e}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot read image {p}: {e}") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"image {p} decoded to unexpected shape {arr.shape}")
    if min(arr.shape[:2]) < min_side:
        raise InputError(
            f"image {p} is {arr.shape[1]}x{arr.shape[0]}: a photo must be at least {min_side}x{min_side} pixels"
        )
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
        depth = _load_npy(p, "depth", "fiu", "a real numeric array in metres", max_size=MAX_IMAGE_PIXELS)
        depth = depth.astype(np.float64)
    else:
        size = _peek_image_size(p, "depth")
        if size is not None:
            _check_pixels(p, "depth", *size)
        try:
            buf = np.fromfile(p, dtype=np.uint8)
        except OSError as e:
            raise InputError(f"cannot read depth file {p}: {e}") from None
        raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
        if raw is None:
            raise InputError(f"cannot decode depth image {p} (expected a single-channel 8/16-bit PNG or a .npy)")
        depth = raw.astype(np.float64) / scale
    if depth.ndim == 2:
        _check_pixels(p, "depth", depth.shape[1], depth.shape[0])
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
    with np.errstate(over="ignore"):
        out = depth.astype(np.float32)
    if not np.isfinite(out).all():
        raise InputError(f"depth {p} has values too large for float32 (max {depth.max():g} m)")
    return out


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
        raw = _load_npy(p, "mask", "biuf", "a bool or numeric array", max_size=4 * MAX_IMAGE_PIXELS)
    else:
        size = _peek_image_size(p, "mask")
        if size is not None:
            _check_pixels(p, "mask", *size)
        try:
            buf = np.fromfile(p, dtype=np.uint8)
        except OSError as e:
            raise InputError(f"cannot read mask file {p}: {e}") from None
        raw = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
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
    from .geometry.camera import intrinsics_from_fov

    w, h = _check_size(width, height)
    return intrinsics_from_fov(fov_deg, h, w, dtype=torch.float64)  # checks fov_deg


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


# ----------------------------------------------------------------------------------------------------------------
# output paths


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_output_path(path, what: str, *, folder: bool = False, extra_name_chars: int = 0) -> Path:
    """Check, writing nothing, that ``path`` can be written (a file, or with ``folder=True`` a folder).

    The path must not be an existing folder (a file) or an existing file (a folder); the first existing ancestor
    must be a folder this process may write into (missing folders below it are created when writing); no component
    may be longer than the file system allows (``extra_name_chars``: room for a longer sibling, e.g. ``_sbs``).

    Args:
        path: the output path.
        what: how the message names it (e.g. ``"--out"``).

    Returns:
        ``Path(path)``.

    Raises:
        InputError: the path cannot be written, with the reason.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what} must be a path, got {type(path).__name__}")
    p = Path(path)
    if not str(path).strip():
        raise InputError(f"{what} is empty")
    if "\x00" in str(path):
        raise InputError(f"{what} {str(p)!r} cannot be used: embedded NUL byte")
    try:
        if folder:
            if p.exists() and not p.is_dir():
                raise InputError(f"{what} {p} exists and is not a folder")
        elif p.is_dir():
            raise InputError(f"{what} {p} is a folder; give a file name")
        anc = p if folder else p.parent
        while not (anc.exists() or anc.is_symlink()):
            if anc.parent == anc:
                break
            anc = anc.parent
        anc_full = anc if str(anc) else Path(".")
        if not anc_full.is_dir():
            kind = "a broken link" if anc_full.is_symlink() and not anc_full.exists() else "not a folder"
            where = p if folder else p.parent
            raise InputError(f"{what} {p}: cannot create the output folder {where}: {anc_full} is {kind}")
        if not os.access(anc_full, os.W_OK | os.X_OK):
            raise InputError(f"{what} {p}: the folder {anc_full} is not writable")
        limit = _name_max(anc_full)
        for i, part in enumerate(p.parts):
            extra = extra_name_chars if i == len(p.parts) - 1 else 0
            if len(os.fsencode(part)) + extra > limit:
                raise InputError(f"{what} {p}: the name {part[:40]!r}... is longer than {limit} bytes")
    except InputError:
        raise
    except (OSError, ValueError) as e:  # a path too long, an embedded NUL byte, ...
        if isinstance(e, OSError) and e.errno == errno.ENAMETOOLONG:
            raise InputError(f"{what} {str(p)[:80]!r}...: the path or a name in it is longer than the file system "
                             "allows") from None
        raise InputError(f"{what} {str(p)!r} cannot be used: {e}") from None
    return p


class OutputSet:
    """Output files written under temporary names in their final folders, then renamed into place together.

    A run that fails or is interrupted before :meth:`commit` leaves nothing behind: the temporary files (and the
    folders this set created) are removed when the ``with`` block exits without a commit. Files that already had
    the final names are only replaced by :meth:`commit`.

    Usage::

        with OutputSet() as outs:
            write_video(outs.temp_path(out), frames, fps)
            outs.temp_path(out.with_suffix(".json")).write_text(text)
            outs.commit()
    """

    PREFIX = ".mirage-tmp-"

    def __init__(self) -> None:
        self._token = f"{self.PREFIX}{secrets.token_hex(6)}-"
        self._pending: list[tuple[Path, Path]] = []
        self._made: list[Path] = []
        self._folders: list[Path] = []

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        d = folder
        while not d.exists() and d.parent != d:
            missing.append(d)
            d = d.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create the output folder {folder}: {e}") from None
        self._made += reversed(missing)  # shallowest first
        if folder not in self._folders:
            self._folders.append(folder)

    def temp_path(self, final) -> Path:
        """A temporary path beside ``final`` (same suffix: writers that pick the format by extension still work)."""
        final = Path(final)
        self._mkdirs(final.parent)
        tmp = final.parent / f"{self._token}{len(self._pending)}{final.suffix}"
        self._pending.append((tmp, final))
        return tmp

    @property
    def finals(self) -> list[Path]:
        return [f for _, f in self._pending]

    def commit(self) -> None:
        """Rename every temporary file to its final name (a failure removes the new files already renamed)."""
        done: list[Path] = []
        try:
            for tmp, final in self._pending:
                os.replace(tmp, final)
                done.append(final)
        except OSError as e:
            for f in done:
                f.unlink(missing_ok=True)
            self.discard()
            raise InputError(f"cannot write {final}: {e}") from None
        self._pending, self._made, self._folders = [], [], []

    def discard(self) -> None:
        """Remove the temporary files (and anything a writer put beside them under the same temporary name) and
        the folders this set created, if empty."""
        for folder in self._folders:
            try:
                for f in folder.glob(f"{self._token}*"):
                    f.unlink(missing_ok=True)
            except OSError:
                pass
        for d in reversed(self._made):  # deepest first
            try:
                d.rmdir()
            except OSError:
                pass
        self._pending, self._made, self._folders = [], [], []

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, *exc) -> None:
        if self._pending or self._made:
            self.discard()


def parse_size(text: str, name: str = "--size", *, min_side: int = 1, max_side: int = 4096) -> tuple[int, int]:
    """``"WxH"`` (case and spaces ignored) -> ``(W, H)`` in pixels with ``min_side <= W, H <= max_side``.

    Raises:
        InputError: not two integers joined by ``x``, or a side out of range (the message names ``name``).
    """
    try:
        w, h = (int(v) for v in str(text).lower().replace(" ", "").split("x"))
    except (ValueError, AttributeError):
        raise InputError(f"{name} must look like 256x192 (WxH), got {text!r}") from None
    if not (min_side <= w <= max_side and min_side <= h <= max_side):
        raise InputError(f"{name} {text} must have W and H in {min_side}..{max_side}")
    return w, h
