"""Assemble the embedded model from training runs: float16 safetensors + training summary, into the package.

Usage: ``python scripts/bundle_model.py DENOISER_RUN VAE_DIR [VAE_PRETRAIN_DIR]``, e.g.
``python scripts/bundle_model.py runs/den runs/vae/final``.

The denoiser comes from ``DENOISER_RUN/pipeline``, the VAE from ``VAE_DIR`` (its encoder and latent statistics must
be the ones the denoiser was trained with, as after ``train_vae --decoder-only``). Weights are stored in float16 to
halve the repository size; ``mirage generate`` loads them back as float32.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan

from mirage_world.pipelines import MiragePipeline

DEST = Path(__file__).resolve().parents[1] / "src" / "mirage_world" / "weights" / "mirage-tiny"


def _summary(d: Path) -> dict:
    log = json.loads((d / "train_log.json").read_text())
    return {"args": log["args"], "steps": log["step"], "minutes": round(log["elapsed"] / 60, 1), "last_logs": log["log"][-3:]}


def main() -> None:
    run, vae_dir = Path(sys.argv[1]), Path(sys.argv[2])
    pipe = MiragePipeline.from_pretrained(str(run / "pipeline"), dtype=torch.float32)
    vae = AutoencoderKLWan.from_pretrained(vae_dir, dtype=torch.float32)
    if vae.config.latents_mean != pipe.vae.config.latents_mean or vae.config.latents_std != pipe.vae.config.latents_std:
        raise SystemExit("the VAE's latent statistics differ from the ones the denoiser was trained with")
    pipe = MiragePipeline(vae=vae, transformer=pipe.transformer, scheduler=pipe.scheduler)
    card = (DEST / "MODEL_CARD.md").read_text() if (DEST / "MODEL_CARD.md").exists() else None
    if DEST.exists():
        shutil.rmtree(DEST)
    pipe.to(torch.float16).save_pretrained(DEST)
    summary = {"denoiser": _summary(run / "pipeline"), "vae": _summary(vae_dir)}
    if len(sys.argv) > 3:
        summary["vae_pretrain"] = _summary(Path(sys.argv[3]))
    (DEST / "training_summary.json").write_text(json.dumps(summary, indent=1))
    if card:
        (DEST / "MODEL_CARD.md").write_text(card)
    print("bundled into", DEST)


if __name__ == "__main__":
    main()
