"""Depth from a model (``mirage_world.models.depth``): tiny random Depth Anything checkpoints of the real classes,
written with ``save_pretrained`` and loaded back through the same ``from_pretrained`` path users take, run on a real
photo (TUM RGB-D)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from testing_utils import MAX_DEPTH, save_tiny_depth_model

from mirage_world.errors import InputError
from mirage_world.io import load_image
from mirage_world.models.depth import (
    MAX_RELATIVE_DEPTH_RATIO,
    DepthEstimator,
    ModelNotFoundError,
    align_relative_depth,
    depth_model_info,
    estimate_depth,
    resolve_model_source,
    scale_to_median,
)

H, W = 48, 64


@pytest.fixture(scope="module")
def metric_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("da_metric")
    save_tiny_depth_model(d, "metric")
    return d


@pytest.fixture(scope="module")
def relative_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("da_relative")
    save_tiny_depth_model(d, "relative")
    return d


@pytest.fixture(scope="module")
def photo(real_data):
    img = load_image(real_data / "rgbd" / "TUM_color.png")
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_AREA)


def test_config_only_info(metric_dir, relative_dir):
    m = depth_model_info(metric_dir)
    assert (m.kind, m.max_depth, m.source) == ("metric", MAX_DEPTH, str(metric_dir))
    r = depth_model_info(str(relative_dir))
    assert (r.kind, r.max_depth) == ("relative", None)


def test_metric_depth_on_a_real_photo(metric_dir, photo):
    est = DepthEstimator(metric_dir, device="cpu")
    depth = est(photo)
    assert depth.shape == (H, W) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and (depth > 0).all() and (depth <= MAX_DEPTH).all()
    assert depth.std() > 1e-3  # a map, not a constant
    # float input in [0, 1] is the same photo
    np.testing.assert_allclose(est(photo.astype(np.float32) / 255.0), depth, rtol=1e-5, atol=1e-6)
    # the one-call function loads the same checkpoint and gives the same map
    np.testing.assert_allclose(estimate_depth(photo, model=metric_dir, device="cpu"), depth, rtol=1e-5, atol=1e-6)
    # the photo content matters: a flipped photo gives another map
    assert np.abs(est(photo[:, ::-1].copy()) - depth).max() > 1e-3


def test_metric_depth_is_the_models_output_resized(metric_dir, photo):
    """The map is the network's prediction at the processor's size (56 short side -> 56x42 here), bilinearly
    resized to the photo's size: the area mean is kept within the resize's smoothing."""
    est = DepthEstimator(metric_dir, device="cpu")
    inputs = est.processor(images=photo, return_tensors="pt")
    assert tuple(inputs["pixel_values"].shape[-2:]) == (42, 56)
    with torch.no_grad():
        raw = est.model(**inputs).predicted_depth[0].numpy()  # (42, 56)
    depth = est(photo)
    assert abs(float(depth.mean()) - float(raw.mean())) < 0.02 * float(raw.mean())
    back = cv2.resize(depth, (56, 42), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(back.ravel(), raw.ravel())[0, 1] > 0.9


def test_metric_depth_with_a_median(metric_dir, photo):
    depth = DepthEstimator(metric_dir, device="cpu")(photo, median_depth=3.0)
    assert np.median(depth) == pytest.approx(3.0, rel=1e-5)


def test_relative_depth_aligned_to_the_median(relative_dir, photo):
    est = DepthEstimator(relative_dir, device="cpu")
    assert est.kind == "relative"
    depth = est(photo, median_depth=2.5)
    assert depth.shape == (H, W) and depth.dtype == np.float32 and np.isfinite(depth).all()
    valid = depth > 0
    assert valid.mean() > 0.5
    assert np.median(depth[valid]) == pytest.approx(2.5, rel=1e-4)
    assert depth.max() <= 2.5 * MAX_RELATIVE_DEPTH_RATIO * 1.01
    # depth is inversely proportional to the model's disparity
    disp = est.predict(photo).numpy()[valid]
    prod = depth[valid] * disp
    np.testing.assert_allclose(prod, prod.mean(), rtol=1e-4)
    with pytest.raises(InputError, match="median depth"):
        est(photo)


def test_align_relative_depth_recovers_a_known_depth():
    rng = np.random.default_rng(0)
    z = rng.uniform(1.0, 6.0, size=(31, 17))  # true depth, metres
    disp = 7.0 / z  # inverse depth up to an unknown scale
    disp[0, 0] = 0.0  # the sky: infinitely far
    disp[0, 1] = 7.0 / (np.median(z) * MAX_RELATIVE_DEPTH_RATIO * 2)  # beyond the ratio: invalid too
    m = float(np.median(z[disp > 7.0 / 100]))
    out = align_relative_depth(disp, m)
    assert out[0, 0] == 0 and out[0, 1] == 0
    ok = out > 0
    np.testing.assert_allclose(out[ok], z[ok], rtol=1e-5)
    with pytest.raises(InputError):
        align_relative_depth(np.zeros((4, 4)), 1.0)
    with pytest.raises(InputError):
        align_relative_depth(-disp, 1.0)
    with pytest.raises(InputError):
        align_relative_depth(disp, 0.0)


def test_scale_to_median_keeps_invalid_pixels():
    d = np.array([[0.0, 1.0], [2.0, 4.0]], np.float32)
    out = scale_to_median(d, 4.0)
    np.testing.assert_allclose(out, [[0, 2], [4, 8]])


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.full((8, 8, 3), 2.0, np.float32), np.full((8, 8, 3), np.nan, np.float32),
                                 np.zeros((8, 8, 3), np.int32), [[1, 2, 3]]])
def test_bad_images_are_refused_before_the_model(bad):
    with pytest.raises(InputError):
        estimate_depth(bad, model="no/such-model-needed")


def test_missing_weights_offline(monkeypatch):
    import huggingface_hub.constants as hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as e:
        depth_model_info("mirage-test/no-such-depth-model")
    msg = str(e.value)
    assert "'mirage-test/no-such-depth-model'" in msg and hub.HF_HUB_CACHE in msg
    assert "hf download mirage-test/no-such-depth-model" in msg and "\n" not in msg
    assert isinstance(e.value, InputError)
    with pytest.raises(ModelNotFoundError, match="hf download depth-anything/Depth-Anything-V2-Small-hf"):
        DepthEstimator("relative")  # an alias resolves to its hub id (not cached here)


def test_missing_and_wrong_folders(tmp_path, monkeypatch):
    with pytest.raises(ModelNotFoundError, match="folder not found"):
        resolve_model_source(tmp_path / "nope", "depth model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match="config.json"):
        depth_model_info(empty)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        depth_model_info(tmp_path / "f.txt")
    # a folder of another kind of model
    from transformers import SegformerConfig

    other = tmp_path / "seg"
    SegformerConfig(num_labels=2).save_pretrained(other)
    with pytest.raises(InputError, match="not Depth Anything"):
        depth_model_info(other)
    # a local folder wins over an alias of the same name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "indoor").mkdir()
    assert resolve_model_source("indoor", "depth model", {"indoor": "x/y"}) == "indoor"
