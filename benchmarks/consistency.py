"""Geometric consistency of one ``mirage generate`` output with its input photo, plus contact sheets.

Reads ``OUT.mp4`` and the ``OUT.json`` written beside it (``cameras``: one ``{"c2w": 4x4, "K": 3x3}`` per frame,
``K`` in output pixels, ``c2w[0]`` the photo's camera), resizes the photo (``cv2.INTER_AREA``) and its depth
(nearest) to the video size, and prints :func:`mirage_world.eval.consistency.consistency_metrics` as JSON: PSNR of
frame 0 against the photo, mean PSNR of the later frames against the photo forward-warped into their cameras on
the pixels the warp covers, the covered fraction, and for closed loops the PSNR of the last frame against the photo.
Always writes the contact sheet ``OUT_contact.png`` (every ``--every``-th frame and the last one) beside the video;
``--sbs`` also makes ``OUT_sbs_contact.png`` from ``OUT_sbs.mp4`` (``mirage generate --side-by-side``).

Usage::

    python benchmarks/consistency.py --video OUT.mp4 --image PHOTO --depth DEPTH.png --depth-scale 5000
        [--json OUT_METRICS.json] [--sbs] [--every 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from mirage_world.errors import InputError
from mirage_world.eval.consistency import consistency_metrics, save_contact_sheet
from mirage_world.io import check_image_depth, load_depth, load_image, read_video


def _finite_json(x):
    """Replace non-finite floats (a perfect match gives PSNR inf) by strings so the output is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_json(v) for v in x]
    return x


def _read_meta(video: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    meta_path = video.with_suffix(".json")
    if not meta_path.is_file():
        raise InputError(f"{meta_path} not found: the JSON that `mirage generate` writes beside the video is needed")
    try:
        meta = json.loads(meta_path.read_text())
        cams = meta["cameras"]
        c2w = np.asarray([c["c2w"] for c in cams], dtype=np.float64)
        K = np.asarray([c["K"] for c in cams], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"cannot read the cameras of {meta_path}: {type(e).__name__}: {e}") from None
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4) or K.ndim != 3 or K.shape[1:] != (3, 3) or len(cams) < 1:
        raise InputError(f"{meta_path}: cameras must be a non-empty list of {{'c2w': 4x4, 'K': 3x3}}")
    if not np.allclose(K, K[0]):
        raise InputError(f"{meta_path}: per-frame intrinsics differ; this probe assumes one K for the whole video")
    return meta, c2w, K[0]


def _frames_at(video_frames: np.ndarray, height: int, width: int, path: Path) -> np.ndarray:
    """Undo the one-pixel edge padding that ``write_video`` adds to odd sizes; reject other size mismatches."""
    _, H, W, _ = video_frames.shape
    if (H, W) == (height, width):
        return video_frames
    if height <= H <= height + 1 and width <= W <= width + 1:
        return np.ascontiguousarray(video_frames[:, :height, :width])
    raise InputError(f"video {path} is {W}x{H} but its JSON says {width}x{height}")


def run(args: argparse.Namespace) -> dict:
    video = Path(args.video)
    meta, c2w, K = _read_meta(video)
    frames = read_video(video)
    H = int(meta.get("height", frames.shape[1]))
    W = int(meta.get("width", frames.shape[2]))
    frames = _frames_at(frames, H, W, video)
    if frames.shape[0] != c2w.shape[0]:
        raise InputError(f"video {video} has {frames.shape[0]} frames but its JSON has {c2w.shape[0]} cameras")

    img = load_image(args.image)
    dep = load_depth(args.depth, depth_scale=args.depth_scale)
    check_image_depth(img, dep)
    img_r = cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)
    dep_r = cv2.resize(dep, (W, H), interpolation=cv2.INTER_NEAREST)
    if not (dep_r > 0).any():
        raise InputError(f"depth {args.depth} has no valid pixel left after resizing to {W}x{H}")

    res = consistency_metrics(frames, img_r, dep_r, K, c2w, min_covered_fraction=args.min_covered)
    res["video"] = str(video)
    sheet = save_contact_sheet(frames, video.with_name(video.stem + "_contact.png"), every=args.every)
    res["contact_sheet"] = str(sheet)
    if args.sbs:
        sbs = video.with_name(video.stem + "_sbs.mp4")
        sheet = save_contact_sheet(read_video(sbs), video.with_name(video.stem + "_sbs_contact.png"), every=args.every)
        res["sbs_contact_sheet"] = str(sheet)
    return _finite_json(res)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", required=True, help="OUT.mp4 written by `mirage generate` (OUT.json beside it)")
    p.add_argument("--image", required=True, help="the input photo")
    p.add_argument("--depth", required=True, help="its depth: 16-bit PNG (see --depth-scale) or .npy in metres")
    p.add_argument("--depth-scale", type=float, default=1000.0, help="PNG depth units per metre (TUM: 5000)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--sbs", action="store_true", help="also make a contact sheet of OUT_sbs.mp4")
    p.add_argument("--every", type=int, default=8, help="contact sheet frame step")
    p.add_argument("--min-covered", type=float, default=0.01, help="skip frames with a smaller covered fraction")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        res = run(a)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(text + "\n")
    return res


if __name__ == "__main__":
    main()
