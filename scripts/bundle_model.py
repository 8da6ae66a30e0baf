"""Copy a trained pipeline into the package as the embedded model (fp16 safetensors + model card).

Usage: ``python scripts/bundle_model.py runs/den/pipeline runs/vae/final``

Weights are stored in float16 to halve the repository size and loaded back as float32 (``torch_dtype``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch

from mirage_world.pipelines import MiragePipeline

DEST = Path(__file__).resolve().parents[1] / "src" / "mirage_world" / "weights" / "mirage-tiny"


def main() -> None:
    src, vae_dir = Path(sys.argv[1]), Path(sys.argv[2])
    pipe = MiragePipeline.from_pretrained(str(src), torch_dtype=torch.float32)
    card = (DEST / "MODEL_CARD.md").read_text() if (DEST / "MODEL_CARD.md").exists() else None
    if DEST.exists():
        shutil.rmtree(DEST)
    pipe.to(torch.float16).save_pretrained(DEST)
    logs = {}
    for name, d in (("vae", vae_dir), ("transformer", src)):
        log = json.loads((d / "train_log.json").read_text())
        logs[name] = {"args": log["args"], "steps": log["step"], "minutes": round(log["elapsed"] / 60, 1), "last": log["log"][-3:]}
    (DEST / "training_summary.json").write_text(json.dumps(logs, indent=1))
    if card:
        (DEST / "MODEL_CARD.md").write_text(card)
    print("bundled into", DEST)


if __name__ == "__main__":
    main()
