"""Speed of the procedural world renderer (issue 4 goal: >= 20 frames/s at 256x256 on a 2-core CPU).

Renders ``--clips`` clips per scene kind with :func:`mirage_world.worlds.render_world` (scene generation, camera path
placement with its first-frame depth probe, moving objects and the render itself, all in memory, no files) and
prints frames/s per kind and overall, end to end and for the ``render`` call alone. A warm-up clip (noise tables)
is not counted.

Usage::

    nice -n 19 python benchmarks/bench_worlds.py [--size 256x256] [--frames 16] [--clips 4] [--threads 1]
        [--aa quincunx|box] [--kinds room,indoor,courtyard,street] [--dynamic 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

import mirage_world.worlds.dataset as wd
from mirage_world.worlds import render_world


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="256x256")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--clips", type=int, default=4, help="clips per kind")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--aa", default="quincunx", choices=["quincunx", "box"])
    p.add_argument("--kinds", default="room,indoor,courtyard,street")
    p.add_argument("--dynamic", type=int, default=1)
    p.add_argument("--trajectory", default="random")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    w, h = (int(v) for v in a.size.lower().split("x"))

    render_time = [0.0]
    inner = wd.render

    def timed_render(*args, **kw):  # measure the render call alone
        t = time.perf_counter()
        out = inner(*args, **kw)
        render_time[0] += time.perf_counter() - t
        return out

    wd.render = timed_render
    render_world(0, a.trajectory, 2, w, h, kind="room", aa=a.aa)  # warm-up: noise tables
    results = {}
    tot_frames, tot_time, tot_render = 0, 0.0, 0.0
    for kind in a.kinds.split(","):
        render_time[0] = 0.0
        t0 = time.perf_counter()
        for s in range(a.clips):
            render_world(1000 + s, a.trajectory, a.frames, w, h, kind=kind, dynamic=a.dynamic, aa=a.aa)
        dt = time.perf_counter() - t0
        n = a.clips * a.frames
        results[kind] = {"fps_end_to_end": n / dt, "fps_render": n / render_time[0]}
        tot_frames, tot_time, tot_render = tot_frames + n, tot_time + dt, tot_render + render_time[0]
        print(f"{kind:10s} {n / dt:6.1f} frames/s end to end, {n / render_time[0]:6.1f} frames/s render only")
    summary = {
        "size": f"{w}x{h}", "frames_per_clip": a.frames, "clips_per_kind": a.clips, "threads": a.threads,
        "aa": a.aa, "dynamic": a.dynamic, "trajectory": a.trajectory, "torch": torch.__version__,
        "machine": platform.machine(), "fps_end_to_end": tot_frames / tot_time, "fps_render": tot_frames / tot_render,
        "per_kind": results,
    }
    print(f"all kinds  {summary['fps_end_to_end']:6.1f} frames/s end to end, {summary['fps_render']:6.1f} frames/s "
          f"render only ({w}x{h}, aa={a.aa}, {a.threads} thread(s))")
    print(json.dumps(summary))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
