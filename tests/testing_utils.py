"""Helpers shared by test modules (importable as ``testing_utils``: pytest puts ``tests/`` on ``sys.path`` for the
root ``conftest.py``). Independent of the package on purpose: poses are built with scipy, not with our geometry."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
RE10K = REAL / "re10k_poses" / "0bf152ef84195293.txt"


def need(path: Path) -> Path:
    """``path``, or skip the test when the real test data is not beside the repo."""
    if not path.exists():
        pytest.skip(f"real test data not available: {path}")
    return path


def rot_y(deg: float) -> np.ndarray:
    """``(3, 3)`` rotation about +y by ``deg`` degrees (scipy)."""
    return Rotation.from_euler("y", deg, degrees=True).as_matrix()


def pose(R: np.ndarray, t) -> np.ndarray:
    """``(4, 4)`` rigid transform with rotation ``R (3, 3)`` and translation ``t (3,)``."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


MAX_DEPTH = 10  # an int: DepthAnythingConfig.max_depth is typed int in transformers 5


def save_tiny_depth_model(folder, kind: str = "metric", seed: int = 0) -> None:
    """A random Depth Anything (DINOv2 backbone: width 32, 2 layers, patch 14, image 56) and a DPT image processor
    configured like the published V2 checkpoints' (keep aspect, multiple of 14, bicubic, ImageNet normalisation) at
    a short side of 56 instead of 518, both written with ``save_pretrained`` to ``folder``."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_indices=[1, 2], reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, reassemble_factors=[2, 1],
                              neck_hidden_sizes=[8, 16], fusion_hidden_size=16, head_hidden_size=8,
                              depth_estimation_type=kind, max_depth=MAX_DEPTH)
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(cfg).eval()
    with torch.no_grad():
        # The default init gives a constant map. Wider random weights give a varying one; the head's last conv is
        # then standardised on a noise image so that its output is about N(0, 1) (metric: sigmoid not saturated)
        # or N(2, 1) (relative: ReLU mostly positive).
        for p in model.parameters():
            p.normal_(0.0, 0.15)
        last = model.head.conv3
        seen = []
        hook = last.register_forward_hook(lambda mod, i, o: seen.append(o))
        model(pixel_values=torch.randn(1, 3, 42, 56, generator=torch.Generator().manual_seed(1)))
        hook.remove()
        mean, std = seen[0].mean(), seen[0].std()
        last.weight /= std
        last.bias.copy_((last.bias - mean) / std + (2.0 if kind == "relative" else 0.0))
    model.save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14, resample=3,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                      do_pad=False).save_pretrained(folder)


ID2LABEL = {0: "wall", 1: "sky", 2: "person;individual;someone", 3: "floor", 4: "car"}


def save_tiny_segformer(folder, id2label=None) -> None:
    """A random SegFormer (4 stages of width 8-16, one block each) with ``id2label`` and a SegFormer image processor
    at 64x64, written with ``save_pretrained``."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    id2label = id2label or ID2LABEL
    cfg = SegformerConfig(depths=[1, 1, 1, 1], hidden_sizes=[8, 8, 16, 16], num_attention_heads=[1, 1, 1, 1],
                          decoder_hidden_size=16, num_labels=len(id2label), id2label=id2label,
                          label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(0)
    SegformerForSemanticSegmentation(cfg).save_pretrained(folder)
    SegformerImageProcessor(size={"height": 64, "width": 64}, do_reduce_labels=False).save_pretrained(folder)


def cli_runner():
    """A typer ``CliRunner`` that keeps stderr apart (click < 8.2 mixes it into stdout unless told not to)."""
    from typer.testing import CliRunner

    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)
    return CliRunner()


def stderr_of(result) -> str:
    """A ``CliRunner`` result's stderr (its output where stderr was not captured separately)."""
    try:
        return result.stderr
    except ValueError:
        return result.output
