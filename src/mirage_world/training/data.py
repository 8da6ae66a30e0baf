"""Training clips: random windows and crops of clips in Mirage's ``geometry.npz`` layout, as a torch ``Dataset``.

A clip is any ``geometry.npz`` (read with the package's one reader,
:func:`~mirage_world.geometry.camera_files.read_geometry_npz`) that holds ``frames (N, H, W, 3)`` uint8,
``depths (N, H, W)`` metres (0 = invalid), ``intrinsics (N, 3, 3)`` pixels and ``poses_c2w (N, 4, 4)`` (OpenCV
axes, metres): procedural worlds (``mirage world render`` / ``mirage world dataset``) or a user's own clips
(RealEstate10K / DL3DV frames with depth from a depth model) written with
:func:`~mirage_world.geometry.camera_files.write_geometry_npz`. Optional ``sky_mask`` / ``dynamic_mask``
``(N, H, W)`` bool arrays (the world clips have them) mark pixels that must not be stored in the memory.

Item ``i`` of :class:`ClipWindows` is a deterministic function of ``(seed, i)`` alone (numpy's
``default_rng([seed, i])``): which clip, which window of ``num_frames`` frames (every ``frame_stride``-th frame),
which crop. A resumed run therefore sees exactly the samples the interrupted one would have seen, whatever the
number of DataLoader workers.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from ..geometry.camera import rescale_intrinsics
from ..geometry.camera_files import read_geometry_npz

__all__ = ["ClipInfo", "ClipWindows", "find_clips", "npz_array_shapes"]

_REQUIRED = ("frames", "depths", "intrinsics", "poses_c2w")


@dataclass(frozen=True)
class ClipInfo:
    """A clip file and its size: ``num_frames`` frames of ``height x width`` pixels."""

    path: Path
    num_frames: int
    height: int
    width: int


def npz_array_shapes(path) -> dict[str, tuple[int, ...]]:
    """Shapes of the arrays of an uncompressed or compressed ``.npz`` from the ``.npy`` headers alone (no data read).

    Raises:
        InputError: not a readable ``.npz`` archive.
    """
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    shape, _, _ = read(f)
                out[info.filename[: -len(".npy")]] = tuple(int(s) for s in shape)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InputError(f"{path}: cannot read as a .npz archive ({e})") from None
    return out


def find_clips(data_dirs, min_frames: int, min_hw: tuple[int, int]) -> tuple[list[ClipInfo], list[str]]:
    """Every ``geometry.npz`` under ``data_dirs`` (searched recursively; a file path is taken as is), sorted by path.

    Clips without frames / depths / intrinsics / poses, with fewer than ``min_frames`` frames or smaller than
    ``min_hw = (H, W)`` are skipped (only the headers are read).

    Returns:
        ``(clips, skipped)``: the usable clips and one reason per skipped file.

    Raises:
        InputError: a data folder that does not exist.
    """
    files: list[Path] = []
    for d in data_dirs:
        d = Path(d)
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files.extend(sorted(d.rglob("geometry.npz")))
        else:
            raise InputError(f"data folder not found: {d}")
    clips, skipped = [], []
    for p in sorted(set(files)):
        try:
            shapes = npz_array_shapes(p)
        except InputError as e:
            skipped.append(str(e))
            continue
        lacking = [k for k in _REQUIRED if k not in shapes]
        if lacking:
            skipped.append(f"{p}: lacks {', '.join(lacking)}")
            continue
        n, H, W = shapes["frames"][:3]
        if n < min_frames or H < min_hw[0] or W < min_hw[1]:
            skipped.append(f"{p}: {n} frames of {W}x{H}, need >= {min_frames} frames of >= {min_hw[1]}x{min_hw[0]}")
            continue
        clips.append(ClipInfo(p, n, H, W))
    return clips, skipped


def _resize(a: np.ndarray, hw: tuple[int, int], interpolation: int) -> np.ndarray:
    """``(N, H, W[, 3])`` -> ``(N, h, w[, 3])`` frame by frame with OpenCV."""
    return np.stack([cv2.resize(x, (hw[1], hw[0]), interpolation=interpolation) for x in a])


class ClipWindows(Dataset):
    """Random clip windows and crops (deterministic in ``(seed, index)``), for the trainers.

    Args:
        data_dirs: folders searched recursively for ``geometry.npz`` clips (or the files themselves).
        num_frames: frames per window (the trainer's ``1 + segment_frames * segments``).
        crop_hw: ``(H, W)`` of the random crop, in pixels (after ``resize_hw``).
        seed: data seed.
        length: number of items (the trainer asks for ``steps x batch x accumulation x processes``).
        frame_stride: take every ``frame_stride``-th frame of the clip (>= 1).
        resize_hw: resize every frame to ``(H, W)`` before cropping (area for shrinking, linear for enlarging;
            depth and masks nearest; ``K`` rescaled); ``None``: crop from the stored size.

    Items (a dict, default-collatable):
        ``frames`` ``(F, H, W, 3)`` uint8; ``depth`` ``(H, W)`` float32 metres of frame 0 (0 = invalid);
        ``keep`` ``(F, H, W)`` bool (valid depth, not sky, not moving); ``K`` ``(3, 3)`` float64 pixels of the
        crop (principal point moved by the crop offset); ``c2w`` ``(F, 4, 4)`` float64; ``index`` int;
        ``sample_seed`` int64 (for the trainer's per-sample noise).

    Raises:
        InputError: no usable clip (the message lists why files were skipped), bad arguments; when reading an
            item: a clip whose intrinsics change within the window.
    """

    def __init__(self, data_dirs, num_frames: int, crop_hw: tuple[int, int], seed: int = 0, length: int = 1,
                 frame_stride: int = 1, resize_hw: tuple[int, int] | None = None):
        if num_frames < 1 or frame_stride < 1 or length < 1:
            raise InputError(f"need num_frames, frame_stride, length >= 1, got {num_frames}, {frame_stride}, {length}")
        if len(crop_hw) != 2 or min(crop_hw) < 1:
            raise InputError(f"crop must be (H, W) with positive sides, got {crop_hw}")
        self.num_frames, self.frame_stride, self.length = int(num_frames), int(frame_stride), int(length)
        self.crop_hw = (int(crop_hw[0]), int(crop_hw[1]))
        self.resize_hw = None if resize_hw is None else (int(resize_hw[0]), int(resize_hw[1]))
        if self.resize_hw is not None and (self.resize_hw[0] < self.crop_hw[0] or self.resize_hw[1] < self.crop_hw[1]):
            raise InputError(f"resize {self.resize_hw} is smaller than the crop {self.crop_hw}")
        self.seed = int(seed)
        span = (self.num_frames - 1) * self.frame_stride + 1
        self.clips, self.skipped = find_clips(data_dirs, span, (1, 1) if self.resize_hw else self.crop_hw)
        if not self.clips:
            why = "; ".join(self.skipped[:3]) or "no geometry.npz found"
            raise InputError(f"no usable training clip in {', '.join(str(d) for d in data_dirs)} "
                             f"({span} frames of at least {self.crop_hw[1]}x{self.crop_hw[0]} needed): {why}")

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, int(index)])
        clip = self.clips[int(rng.integers(len(self.clips)))]
        span = (self.num_frames - 1) * self.frame_stride + 1
        start = int(rng.integers(clip.num_frames - span + 1))
        idx = start + self.frame_stride * np.arange(self.num_frames)
        cam = read_geometry_npz(clip.path)
        frames = cam.frames[idx]  # (F, H, W, 3) uint8
        depth = cam.depths[idx[0]]  # (H, W)
        keep = np.isfinite(cam.depths[idx]) & (cam.depths[idx] > 0)  # (F, H, W)
        for name in ("sky_mask", "dynamic_mask"):
            m = cam.arrays.get(name)
            if m is not None and m.shape == cam.depths.shape:
                keep &= ~m[idx].astype(bool)
        K = cam.K[idx].double()  # (F, 3, 3)
        if not torch.allclose(K, K[:1].expand_as(K), rtol=1e-4, atol=1e-3):
            raise InputError(f"{clip.path}: the intrinsics change within frames {idx[0]}..{idx[-1]}; the trainer "
                             "needs one K per window")
        K = K[0].clone()
        H, W = frames.shape[1:3]
        if self.resize_hw is not None and (H, W) != self.resize_hw:
            shrink = self.resize_hw[0] * self.resize_hw[1] < H * W
            frames = _resize(frames, self.resize_hw, cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            depth = cv2.resize(depth, (self.resize_hw[1], self.resize_hw[0]), interpolation=cv2.INTER_NEAREST)
            keep = _resize(keep.astype(np.uint8), self.resize_hw, cv2.INTER_NEAREST).astype(bool)
            K = rescale_intrinsics(K, (H, W), self.resize_hw)
            H, W = self.resize_hw
        ch, cw = self.crop_hw
        y0, x0 = int(rng.integers(H - ch + 1)), int(rng.integers(W - cw + 1))
        K[0, 2] -= x0  # pixel u of the crop = u - x0: only the principal point moves
        K[1, 2] -= y0
        depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(frames[:, y0 : y0 + ch, x0 : x0 + cw])),
            "depth": torch.from_numpy(np.ascontiguousarray(depth[y0 : y0 + ch, x0 : x0 + cw])),
            "keep": torch.from_numpy(np.ascontiguousarray(keep[:, y0 : y0 + ch, x0 : x0 + cw])),
            "K": K,
            "c2w": cam.c2w[idx].double().clone(),
            "index": int(index),
            "sample_seed": int(rng.integers(2**62)),
        }
