"""Shared fixtures: offline mode, real-data location, a micro random-init pipeline saved with save_pretrained."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before diffusers/transformers are imported anywhere

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / ".." / "shared" / "data" / "real"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread for the whole suite: its models and renders are tiny, and on a small shared CPU torch's
    default pool oversubscribes the cores (a 0.3 s run takes 5-10 s). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``../shared/data/real`` (skips when the shared data is not beside the repo)."""
    if not REAL.is_dir():
        pytest.skip("../shared/data/real not available")
    return REAL


def make_micro_pipeline():
    """A random-init pipeline with the tiny model's architecture at a fraction of its width (fast tests)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    from mirage_world.models.tiny import make_tiny_transformer, make_tiny_vae
    from mirage_world.pipelines import MiragePipeline

    torch.manual_seed(0)
    vae = make_tiny_vae(base_dim=8)
    tr = make_tiny_transformer(16, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=1, freq_dim=32)
    return MiragePipeline(vae=vae, transformer=tr, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))


def make_micro_taef2_pipeline():
    """A random-init pipeline with a per-frame TAEF2-architecture VAE (8x, temporal factor 1) at width 8."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    from mirage_world.models.taef2 import AutoencoderTAEF2
    from mirage_world.models.tiny import make_tiny_transformer
    from mirage_world.pipelines import MiragePipeline

    torch.manual_seed(0)
    vae = AutoencoderTAEF2(latent_channels=8, width=8)
    tr = make_tiny_transformer(8, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=1, freq_dim=32)
    return MiragePipeline(vae=vae, transformer=tr, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))


@pytest.fixture(scope="session")
def micro_taef2_pipeline_dir(tmp_path_factory) -> Path:
    """The per-frame micro pipeline written with ``save_pretrained``."""
    d = tmp_path_factory.mktemp("micro_taef2_pipeline")
    make_micro_taef2_pipeline().save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def micro_pipeline_dir(tmp_path_factory) -> Path:
    """The micro pipeline written with ``save_pretrained`` (reloaded through ``from_pretrained`` by users)."""
    d = tmp_path_factory.mktemp("micro_pipeline")
    make_micro_pipeline().save_pretrained(d)
    return d
