"""Assemble the embedded model from a denoiser run: float16 safetensors + training summary, into the package.

Usage: ``python scripts/bundle_model.py RUN [--dest DIR] [--ckpt]``, e.g. ``python scripts/bundle_model.py runs/den``.

The denoiser comes from ``RUN/pipeline`` (or, with ``--ckpt``, the latest checkpoint ``RUN/ckpt``, to look at a run
in progress), the VAE is the bundled TAEF2 (``weights/mirage-tiny/vae``, made by ``scripts/convert_taef2.py``; its
licence file is kept). Weights are stored in float16; ``mirage generate`` loads them as float32.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from safetensors.torch import load_file

from mirage_world.models.taef2 import AutoencoderTAEF2
from mirage_world.models.tiny import make_tiny_transformer
from mirage_world.pipelines import MiragePipeline
from mirage_world.training.train_denoiser import SHIFT

DEST = Path(__file__).resolve().parents[1] / "src" / "mirage_world" / "weights" / "mirage-tiny"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("--dest", type=Path, default=DEST)
    p.add_argument("--ckpt", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # the VAE may live inside DEST, which is rewritten
        vae_dir = Path(tmp) / "vae"
        shutil.copytree(DEST / "vae", vae_dir)
        vae = AutoencoderTAEF2.from_pretrained(vae_dir, torch_dtype=torch.float32)
        if args.ckpt:
            tr = make_tiny_transformer(vae.z_dim)
            tr.load_state_dict(load_file(args.run / "ckpt" / "model.safetensors"))
            log = json.loads((args.run / "ckpt" / "state.json").read_text())
        else:
            tr = MiragePipeline.from_pretrained(str(args.run / "pipeline"), dtype=torch.float32).transformer
            log = json.loads((args.run / "pipeline" / "train_log.json").read_text())
        pipe = MiragePipeline(vae=vae, transformer=tr, scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT))
        card = (args.dest / "MODEL_CARD.md").read_text() if (args.dest / "MODEL_CARD.md").exists() else None
        if args.dest.exists():
            shutil.rmtree(args.dest)
        pipe.to(torch.float16).save_pretrained(args.dest)
        shutil.copy(vae_dir / "LICENSE.taef2", args.dest / "vae" / "LICENSE.taef2")
    summary = {"denoiser": {"args": log.get("args"), "steps": log["step"], "minutes": round(log["elapsed"] / 60, 1),
                            "log": log["log"]}}
    (args.dest / "training_summary.json").write_text(json.dumps(summary, indent=1))
    if card:
        (args.dest / "MODEL_CARD.md").write_text(card)
    print("bundled into", args.dest)


if __name__ == "__main__":
    main()
