"""Render the bundled example scene(s) into ``src/mirage_world/examples/`` (made by this project, no outside data).

Usage: ``python scripts/make_example.py``. Writes, per example, ``image.png`` (RGB), ``depth.png`` (uint16,
millimetres: ``--depth-scale 1000``) and ``example.json`` (file names, intrinsics in pixels, depth scale, the
camera-path preset, the seed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from mirage_world.worlds import intrinsics_from_fov, random_camera_path, random_scene, render

OUT = Path(__file__).resolve().parents[1] / "src" / "mirage_world" / "examples"


def make(name: str, seed: int, width: int = 512, height: int = 384, fov: float = 65.0, trajectory: str = "orbit_left") -> None:
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    scene = random_scene(seed)
    c2w = random_camera_path(scene, 1, seed)
    K = intrinsics_from_fov(fov, height, width)
    r = render(scene, c2w, K, height, width, ss=3)
    rgb = (r["rgb"][0].numpy() * 255).round().astype(np.uint8)
    depth_mm = np.clip(np.round(r["depth"][0].numpy() * 1000), 1, 65535).astype(np.uint16)
    Image.fromarray(rgb).save(d / "image.png")
    Image.fromarray(depth_mm).save(d / "depth.png")
    meta = {
        "image": "image.png",
        "depth": "depth.png",
        "depth_scale": 1000.0,
        "intrinsics": [float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])],
        "trajectory": trajectory,
        "seed": seed,
        "made_by": "scripts/make_example.py (mirage_world.worlds procedural renderer)",
    }
    (d / "example.json").write_text(json.dumps(meta, indent=1) + "\n")
    print("wrote", d)


if __name__ == "__main__":
    make("room", seed=7)
