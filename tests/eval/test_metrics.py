"""PSNR / SSIM / LPIPS and the closed-loop revisit scores against hand-computed cases."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from mirage_world.errors import InputError
from mirage_world.eval import metrics
from mirage_world.eval.metrics import PSNR_CAP_DB, lpips, lpips_available, psnr, revisit_scores, ssim


def _texture(h=48, w=64, seed=0) -> np.ndarray:
    """Smooth random RGB texture in [0.1, 0.9] (SSIM of shifted copies then degrades smoothly with the shift)."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 4, w // 4, 3)).astype(np.float32)
    return 0.1 + 0.8 * np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float64)


def test_identical_frames_psnr_inf_ssim_one():
    a = _texture()
    assert psnr(a, a) == math.inf
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    frames = np.stack([a, a[::-1].copy()])
    assert np.all(np.isinf(psnr(frames, frames)))
    assert np.allclose(ssim(frames, frames), 1.0)


def test_constant_offset_psnr_by_hand():
    a = _texture()
    for d in (0.01, 0.05, 0.1):
        b = a + d  # a stays within [0.1, 0.9]: no clipping, MSE = d^2 exactly
        assert psnr(a, b) == pytest.approx(10 * math.log10(1 / d**2), abs=1e-9)
    # uint8 input: divided by 255; an offset of 3 levels -> MSE (3/255)^2
    u = (a * 255).round().astype(np.uint8)
    assert psnr(u, u + 3) == pytest.approx(10 * math.log10(255**2 / 9), abs=1e-9)
    # torch input and per-frame values
    frames = np.stack([a, a])
    vals = psnr(torch.from_numpy(frames), torch.from_numpy(frames + np.array([0.1, 0.01])[:, None, None, None]))
    assert vals.shape == (2,) and np.allclose(vals, [20.0, 40.0])


def test_masked_psnr_and_ssim_select_pixels():
    a = _texture()
    b = a.copy()
    b[:, 32:] += 0.1  # right half off by 0.1
    left = np.zeros(a.shape[:2], bool)
    left[:, :32] = True
    right = ~left
    assert psnr(a, b, left) == math.inf
    assert psnr(a, b, right) == pytest.approx(20.0, abs=1e-9)
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / (0.01 / 2)), abs=1e-9)
    # SSIM on the far-left columns (window of 11 px does not reach the changed half) is exactly 1
    far_left = np.zeros(a.shape[:2], bool)
    far_left[:, :20] = True
    assert ssim(a, b, far_left) == pytest.approx(1.0, abs=1e-12)
    assert ssim(a, b, right) < 1.0
    assert ssim(a, b, right) < ssim(a, b)  # the unchanged pixels raise the unmasked mean
    # a per-frame (F, H, W) mask
    m = np.stack([left, right])
    assert np.allclose(psnr(np.stack([a, a]), np.stack([b, b]), m), [math.inf, 20.0])


def test_ssim_decreases_with_shift():
    big = _texture(48, 96, seed=1)
    ref = big[:, :64]
    vals = [ssim(ref, big[:, s:s + 64]) for s in (0, 1, 2, 4, 8)]
    assert vals[0] == pytest.approx(1.0)
    assert all(v1 > v2 for v1, v2 in zip(vals, vals[1:])), vals
    assert vals[-1] < 0.8


def test_bad_inputs():
    a = _texture()
    with pytest.raises(InputError, match="same shape"):
        psnr(a, a[:, :10])
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        psnr(a * 2, a)
    with pytest.raises(InputError, match="NaN"):
        ssim(a * np.nan, a)
    with pytest.raises(InputError, match="no pixel"):
        psnr(a, a, np.zeros(a.shape[:2], bool))
    with pytest.raises(InputError, match="mask must have shape"):
        psnr(a, a, np.ones((3, 3), bool))
    with pytest.raises(InputError, match="at least 11x11"):
        ssim(a[:8, :8], a[:8, :8])
    with pytest.raises(InputError, match="shape"):
        psnr(a[..., :2], a[..., :2])


def test_revisit_scores_means_and_cap():
    a = _texture()
    gt = np.stack([a, a, a, a])
    offsets = [0.0, 0.1, 0.01, 0.1]  # frame 0 identical (inf -> capped), others known
    gen = gt + np.array(offsets)[:, None, None, None]
    r = revisit_scores(gen, gt, [0, 2])
    assert r["PSNR_C"] == pytest.approx((PSNR_CAP_DB + 40.0) / 2)
    assert r["PSNR_all"] == pytest.approx((PSNR_CAP_DB + 20.0 + 40.0 + 20.0) / 4)
    assert r["per_frame"]["psnr"][0] is None and r["per_frame"]["psnr"][1] == pytest.approx(20.0)
    s = ssim(gen, gt)
    assert r["SSIM_C"] == pytest.approx((s[0] + s[2]) / 2) and r["SSIM_all"] == pytest.approx(s.mean())
    assert r["num_frames"] == 4 and r["revisit_frames"] == [0, 2]
    ok, reason = lpips_available()
    assert (r["LPIPS_C"] is None) == (not ok)
    assert (r["lpips_note"] is None) == ok
    if not ok:
        assert reason.startswith("LPIPS not computed") and lpips(a, a) is None
    # no revisit frames: the _C figures are undefined
    assert revisit_scores(gen, gt, [])["PSNR_C"] is None
    with pytest.raises(InputError, match=r"in \[0, 4\)"):
        revisit_scores(gen, gt, [4])
    with pytest.raises(InputError, match="repeated"):
        revisit_scores(gen, gt, [1, 1])
    with pytest.raises(InputError, match=r"\(F, H, W, 3\)"):
        revisit_scores(a, a, [0])


def test_revisit_scores_lpips_means_when_available(monkeypatch):
    """The LPIPS means follow the per-frame values (LPIPS itself stubbed: its weights are not on this machine)."""
    monkeypatch.setattr(metrics, "lpips_available", lambda: (True, ""))
    monkeypatch.setattr(metrics, "lpips", lambda a, b: np.array([0.0, 0.2, 0.4]))
    a = _texture()
    gt = np.stack([a, a, a])
    r = revisit_scores(gt, gt, [1, 2])
    assert r["LPIPS_C"] == pytest.approx(0.3) and r["LPIPS_all"] == pytest.approx(0.2)
    assert r["lpips_note"] is None and r["per_frame"]["lpips"] == [0.0, 0.2, 0.4]
