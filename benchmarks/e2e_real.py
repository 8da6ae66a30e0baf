"""End-to-end check on real input: one RGB-D photo + a camera path -> a video on a CPU, measured and looked at.

Runs the pipeline in this process the way ``mirage generate`` does (photo, depth and ``K`` in photo pixels; the
pipeline resizes), writes ``OUT.mp4`` (+ ``OUT_sbs.mp4`` with ``--sbs``) and ``OUT.json`` with the cameras, and
measures the written mp4 with :func:`mirage_world.eval.consistency.consistency_metrics`: first frame against the
photo, mean PSNR against the photo forward-warped (pixel space, z-buffered) to each camera on the covered pixels,
and for a path that returns to the photo's camera, the last frame against the photo. Saves contact sheets (every
8th frame) ``OUT_contact.png`` and, with ``--sbs``, ``OUT_sbs_contact.png``. Prints one JSON line.

Defaults: TUM RGB-D photo + depth (scale 5000), Kinect intrinsics, RealEstate10K path ``0bf152ef84195293``
resampled to 49 frames, the bundled model.

Usage::

    python benchmarks/e2e_real.py [--trajectory out_and_back] [--memory off] [--sbs] [--json out/e2e.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / ".." / "shared" / "data" / "real"


def _load_consistency():
    import importlib.util

    spec = importlib.util.spec_from_file_location("consistency", Path(__file__).with_name("consistency.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", type=Path, default=REAL / "rgbd" / "TUM_color.png")
    p.add_argument("--depth", type=Path, default=REAL / "rgbd" / "TUM_depth.png")
    p.add_argument("--depth-scale", type=float, default=5000.0)
    p.add_argument("--intrinsics", type=str, default="525,525,319.5,239.5")
    p.add_argument("--trajectory", type=str, default=str(REAL / "re10k_poses" / "0bf152ef84195293.txt"))
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--size", type=str, default=None, help="WxH (default: long side 256)")
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--guidance", default="replace")
    p.add_argument("--guidance-end", type=float, default=None)
    p.add_argument("--start-sigma", type=float, default=None)
    p.add_argument("--memory", default="on", choices=["on", "off"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sbs", action="store_true", help="also write and look at the side-by-side video")
    p.add_argument("--out", type=Path, default=REPO / "out" / "e2e_real" / "tum.mp4")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch

    from mirage_world import cli
    from mirage_world.geometry.camera import rescale_intrinsics
    from mirage_world.geometry.trajectory import load_trajectory
    from mirage_world.io import load_depth, load_image, write_video
    from mirage_world.pipelines import MiragePipeline

    if args.threads:
        torch.set_num_threads(args.threads)
    t_wall = time.perf_counter()
    img = load_image(args.image)
    dep = load_depth(args.depth, depth_scale=args.depth_scale)
    H0, W0 = img.shape[:2]
    K0 = cli._parse_intrinsics(args.intrinsics, 60.0, W0, H0)
    traj = load_trajectory(args.trajectory, args.frames, depth_m=dep)
    pipe = MiragePipeline.from_pretrained(str(args.model or cli.DEFAULT_MODEL), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    W, H = cli._parse_size(args.size, W0, H0, pipe.size_multiple)
    t0 = time.perf_counter()
    res = pipe(img, dep, K0, traj.c2w.float(), height=H, width=W,
               num_inference_steps=args.steps or cli.DEFAULT_STEPS, guidance=args.guidance,
               guidance_end=cli.DEFAULT_GUIDANCE_END if args.guidance_end is None else args.guidance_end,
               start_sigma=cli.DEFAULT_START_SIGMA if args.start_sigma is None else args.start_sigma,
               use_memory=args.memory == "on", generator=torch.Generator().manual_seed(args.seed),
               return_memory_frames=args.sbs, progress=False)
    seconds_pipeline = time.perf_counter() - t0
    video = (res.frames * 255).round().astype(np.uint8)
    write_video(args.out, video, 16.0)
    if args.sbs:
        write_video(args.out.with_name(args.out.stem + "_sbs.mp4"), cli._side_by_side(res.memory_frames, res.frames), 16.0)
    seconds_wall = time.perf_counter() - t_wall
    K = rescale_intrinsics(K0, (H0, W0), (H, W))
    args.out.with_suffix(".json").write_text(json.dumps(
        {"frames": len(video), "width": W, "height": H, "cameras": [{"c2w": c.tolist(), "K": K.tolist()} for c in traj.c2w]}))

    consistency = _load_consistency()  # the same scoring as `benchmarks/consistency.py` on the written mp4
    m = consistency.run(argparse.Namespace(video=args.out, image=args.image, depth=args.depth,
                                           depth_scale=args.depth_scale, sbs=args.sbs, every=8, min_covered=0.01))
    def r(x, n=2):  # PSNR figures may be None (open path) or "inf" (consistency.py writes strict JSON)
        return round(x, n) if isinstance(x, float) else x

    out = {
        "trajectory": Path(args.trajectory).name, "memory": args.memory, "guidance": args.guidance,
        "frames": int(len(video)), "size": f"{W}x{H}", "seconds_wall": round(seconds_wall, 1),
        "seconds_pipeline": round(seconds_pipeline, 1),
        "first_frame_psnr": r(m["first_frame_psnr"]), "covered_psnr_mean": r(m["covered_psnr_mean"]),
        "covered_fraction_mean": r(m["covered_fraction_mean"], 3), "last_frame_psnr": r(m["last_frame_psnr"]),
        "contact_sheet": m["contact_sheet"],
        "segment_coverage": [round(s.coverage, 3) for s in res.segments],
    }
    print(json.dumps(out))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
