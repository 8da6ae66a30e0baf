"""Resumable training state shared by the training scripts: model weights (safetensors), optimiser, progress.

A checkpoint folder holds ``model.safetensors``, ``optim.pt`` (the optimiser's tensors, loaded with
``weights_only=True``) and ``state.json`` (``step``, ``elapsed`` seconds of training, ``log``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def new_state() -> dict:
    """Fresh progress record: ``{"step": 0, "elapsed": 0.0, "log": []}``."""
    return {"step": 0, "elapsed": 0.0, "log": []}


def load_checkpoint(ck: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict | None:
    """Restore ``model`` and ``opt`` from ``ck`` in place; returns the saved state, or ``None`` if there is none."""
    if not (ck / "state.json").exists():
        return None
    model.load_state_dict(load_file(ck / "model.safetensors"))
    opt.load_state_dict(torch.load(ck / "optim.pt", weights_only=True))
    state = json.loads((ck / "state.json").read_text())
    print(f"resumed at step {state['step']} ({state['elapsed'] / 60:.1f} min)", flush=True)
    return state


def save_checkpoint(ck: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict, t_start: float) -> None:
    """Write the checkpoint; ``state['elapsed']`` becomes the training time since ``t_start`` (``time.time()``)."""
    ck.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, ck / "model.safetensors")
    torch.save(opt.state_dict(), ck / "optim.pt")
    state["elapsed"] = time.time() - t_start
    (ck / "state.json").write_text(json.dumps(state))
