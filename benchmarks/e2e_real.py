"""End-to-end check on real input (issue: one RGB-D photo + a real camera path -> a video on a CPU).

Runs the user's command -- ``mirage generate`` on TUM RGB-D + a RealEstate10K path resampled to 49 frames -- as a
subprocess, times it, and measures the first frame of the written mp4 against the photo resized to the output size
(PSNR in dB; the VAE round trip plus the mp4 encoding). Prints a JSON line; ``--json OUT`` also writes it.

Usage: ``python benchmarks/e2e_real.py [--json out/e2e_real.json] [--model DIR] [--size WxH] [--extra "--voxel-size off"]``
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from mirage_world.io import load_image, read_video

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / ".." / "shared" / "data" / "real"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--json", type=Path)
    p.add_argument("--model", type=str, default=None)
    p.add_argument("--size", type=str, default=None, help="output WxH (default: the CLI's default)")
    p.add_argument("--out", type=Path, default=REPO / "out" / "e2e_real" / "tum.mp4")
    p.add_argument("--extra", type=str, default="", help="more `mirage generate` options, e.g. '--voxel-size off'")
    args = p.parse_args()
    cmd = [
        sys.executable, "-m", "mirage_world.cli", "generate",
        "--image", str(REAL / "rgbd" / "TUM_color.png"),
        "--depth", str(REAL / "rgbd" / "TUM_depth.png"), "--depth-scale", "5000",
        "--intrinsics", "525,525,319.5,239.5",
        "--trajectory", str(REAL / "re10k_poses" / "0bf152ef84195293.txt"),
        "--frames", "49", "--out", str(args.out), "--side-by-side",
    ]
    if args.size:
        cmd += ["--size", args.size]
    if args.model:
        cmd += ["--model", args.model]
    cmd += args.extra.split()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    video = read_video(args.out)
    meta = json.loads(args.out.with_suffix(".json").read_text())
    photo = load_image(REAL / "rgbd" / "TUM_color.png")
    ref = cv2.resize(photo, (meta["width"], meta["height"]), interpolation=cv2.INTER_AREA).astype(np.float64)
    mse = ((video[0].astype(np.float64) - ref) ** 2).mean()
    res = {
        "frames": int(video.shape[0]),
        "width": int(video.shape[2]),
        "height": int(video.shape[1]),
        "seconds_wall": round(seconds, 1),
        "seconds_pipeline": meta["seconds"],
        "first_frame_psnr_db": round(10 * math.log10(255.0**2 / mse), 2),
        "segments": meta["segments"],
        "trajectory_scale": meta["trajectory"]["scale"],
        "memory": meta["memory"],
        "extra": args.extra,
    }
    print(json.dumps(res))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
