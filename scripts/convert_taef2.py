"""Convert the published TAEF2 weights (``taef2_encoder.pth`` / ``taef2_decoder.pth``) into the embedded model's VAE.

Usage: ``python scripts/convert_taef2.py [SRC_DIR] [DEST_DIR]``; defaults ``../shared/weights/taef2`` and
``src/mirage_world/weights/mirage-tiny/vae``. Writes a diffusers folder (``config.json`` +
``diffusion_pytorch_model.safetensors``, float16) and the MIT licence notice beside it, then reloads it through
``from_pretrained`` and checks it reproduces the original weights' output on a random image.

Latent normalisation stored in the config: mean 0 and std 0.8 on every channel (TAEF2 latents are roughly
zero-mean with a std of 0.55-1.2 per channel on photos and procedural rooms alike, and the per-channel means differ
between images by more than they differ from 0, so one scale is used).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from mirage_world.models.taef2 import AutoencoderTAEF2, load_taef2_state_dicts

REPO = Path(__file__).resolve().parents[1]
LATENT_STD = 0.8


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / ".." / "shared" / "weights" / "taef2"
    dest = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "src" / "mirage_world" / "weights" / "mirage-tiny" / "vae"
    vae = load_taef2_state_dicts(src / "taef2_encoder.pth", src / "taef2_decoder.pth",
                                 latents_mean=[0.0] * 32, latents_std=[LATENT_STD] * 32).eval()
    dest.mkdir(parents=True, exist_ok=True)
    vae.to(torch.float16).save_pretrained(dest)
    shutil.copy(src / "LICENSE", dest / "LICENSE.taef2")
    back = AutoencoderTAEF2.from_pretrained(dest).float().eval()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        a = vae.float()(x).sample
        b = back(x).sample
    print(f"wrote {dest}; max |original - reloaded float16| = {(a - b).abs().max():.2e}")


if __name__ == "__main__":
    main()
