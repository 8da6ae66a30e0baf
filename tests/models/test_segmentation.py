"""Sky / moving-object filter (``mirage_world.models.segmentation``): a tiny random SegFormer of the real classes,
written with ``save_pretrained`` and loaded back through ``from_pretrained``, run on a real photo; the exclusion
logic checked with logits forced to known classes and regions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from testing_utils import ID2LABEL, save_tiny_segformer

from mirage_world.errors import InputError
from mirage_world.io import load_image
from mirage_world.models.depth import ModelNotFoundError
from mirage_world.models.segmentation import (
    DEFAULT_EXCLUDE_CLASSES,
    SemanticFilter,
    check_segmentation_model,
    resolve_exclude_classes,
)

H, W = 40, 56


@pytest.fixture(scope="module")
def seg_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("segformer")
    save_tiny_segformer(d)
    return d


@pytest.fixture(scope="module")
def filt(seg_dir):
    return SemanticFilter(seg_dir, device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def frames(real_data):
    """Three real photos at ``H x W``, float in [0, 1]: ``(3, H, W, 3)``."""
    paths = [real_data / "spatia_case_1" / "img.jpg", real_data / "spatia_case_2" / "img.jpg",
             real_data / "rgbd" / "TUM_color.png"]
    imgs = [cv2.resize(load_image(p), (W, H), interpolation=cv2.INTER_AREA) for p in paths]
    return np.stack(imgs).astype(np.float32) / 255.0


def _force_class(model, cls: int | None):
    """Make the decode head predict ``cls`` everywhere (zero weights, one-hot bias); ``None`` restores random."""
    head = model.decode_head.classifier
    with torch.no_grad():
        if cls is None:
            torch.manual_seed(1)
            head.weight.normal_(0, 0.5)
            head.bias.zero_()
        else:
            head.weight.zero_()
            head.bias.copy_(torch.nn.functional.one_hot(torch.tensor(cls), head.bias.numel()).float() * 10)


def test_excluded_classes_from_id2label(filt):
    assert filt.excluded == {1: "sky", 2: "person;individual;someone", 4: "car"}
    assert resolve_exclude_classes(ID2LABEL, ["SKY", "individual"]) == {1: "sky", 2: "person;individual;someone"}
    with pytest.raises(InputError, match="skyy"):  # an explicit list is strict
        resolve_exclude_classes(ID2LABEL, ["sky", "skyy"])
    with pytest.raises(InputError, match="none of the classes"):
        resolve_exclude_classes({0: "wall", 1: "floor"})
    with pytest.raises(InputError):
        resolve_exclude_classes(ID2LABEL, [""])
    # the names the ADE20K checkpoint has (its config.id2label) are all in the default list
    ade_moving = ["sky", "person", "car", "bus", "truck", "van", "boat", "ship", "airplane", "minibike", "bicycle",
                  "animal"]
    assert set(ade_moving) <= set(DEFAULT_EXCLUDE_CLASSES)


def test_shapes_and_types(filt, frames):
    keep = filt(frames)
    assert isinstance(keep, np.ndarray) and keep.dtype == bool and keep.shape == (3, H, W)
    lab = filt.labels(frames)
    assert lab.shape == (3, H, W) and lab.dtype == torch.int64
    assert lab.min() >= 0 and lab.max() < len(ID2LABEL)
    np.testing.assert_array_equal(keep, ~np.isin(lab.numpy(), [1, 2, 4]))
    # uint8 single image -> (H, W); the same answer as in the batch
    one = filt.keep_mask((frames[1] * 255).round().astype(np.uint8))
    assert one.shape == (H, W) and one.dtype == bool
    np.testing.assert_array_equal(one, keep[1])
    # tensors in -> a tensor out (batches of 2 and 3 frames give the same per-frame answers)
    kt = filt(torch.from_numpy(frames))
    assert torch.is_tensor(kt) and kt.dtype == torch.bool
    np.testing.assert_array_equal(kt.numpy(), keep)
    # a bfloat16 tensor (a decoder's output dtype on a GPU) is accepted: same shape, mostly the same answer
    kb = filt(torch.from_numpy(frames).to(torch.bfloat16))
    assert kb.shape == (3, H, W) and kb.dtype == torch.bool and (kb.numpy() == keep).mean() > 0.9


def test_forced_sky_is_excluded_and_wall_kept(seg_dir, frames):
    f = SemanticFilter(seg_dir, device="cpu")
    _force_class(f.model, 1)  # sky everywhere
    assert not f(frames).any()
    _force_class(f.model, 0)  # wall everywhere
    assert f(frames).all()
    _force_class(f.model, 2)  # person (an alias label)
    assert not f(frames).any()
    g = SemanticFilter(seg_dir, exclude_classes=["car"], device="cpu")
    _force_class(g.model, 1)  # sky, but only cars are excluded
    assert g(frames).all()


def test_a_sky_region_is_excluded_where_it_is(seg_dir, frames, monkeypatch):
    """Logits with sky on the left half, wall on the right: the mask is False on the left and True on the right
    (at the photo's size, after the processor's resize and the logits' upsampling)."""
    from transformers.modeling_outputs import SemanticSegmenterOutput

    f = SemanticFilter(seg_dir, device="cpu")

    def fake_forward(pixel_values):
        B, _, h, w = pixel_values.shape
        logits = torch.zeros(B, len(ID2LABEL), h // 4, w // 4)
        logits[:, 1, :, : w // 8] = 5.0  # sky left
        logits[:, 0, :, w // 8:] = 5.0  # wall right
        return SemanticSegmenterOutput(logits=logits)

    monkeypatch.setattr(f, "model", fake_forward)
    keep = f(frames)
    assert not keep[:, :, : W // 2 - 2].any()
    assert keep[:, :, W // 2 + 2:].all()


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8), np.float32), np.full((1, 8, 8, 3), 1.5, np.float32),
                                 np.zeros((1, 8, 8, 3), np.int64), np.zeros((0, 8, 8, 3), np.float32)])
def test_bad_frames(filt, bad):
    with pytest.raises(InputError):
        filt(bad)


def test_single_image_needs_keep_mask_not_call(filt, frames):
    with pytest.raises(InputError, match=r"\(F, H, W, 3\)"):
        filt(frames[0])


def test_missing_weights_and_bad_options(tmp_path, seg_dir, monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as e:
        SemanticFilter("mirage-test/no-such-segmentation-model")
    assert "hf download mirage-test/no-such-segmentation-model" in str(e.value) and hub.HF_HUB_CACHE in str(e.value)
    with pytest.raises(ModelNotFoundError, match="hf download nvidia/segformer-b0-finetuned-ade-512-512"):
        SemanticFilter()  # the default, not cached here
    with pytest.raises(ModelNotFoundError, match="folder not found"):
        SemanticFilter(tmp_path / "missing")
    with pytest.raises(InputError, match="batch_size"):
        SemanticFilter(seg_dir, batch_size=0)
    with pytest.raises(InputError, match="skyy"):
        SemanticFilter(seg_dir, exclude_classes=["skyy"])
    # the config-only check (before any weights load) gives what the filter uses
    assert check_segmentation_model(seg_dir, ["sky"]) == (str(seg_dir), {1: "sky"})
    with pytest.raises(ModelNotFoundError, match="hf download nvidia/segformer-b0-finetuned-ade-512-512"):
        check_segmentation_model("ade20k")
