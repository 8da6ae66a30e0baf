"""Image metrics against ground truth: PSNR, SSIM, LPIPS, and the closed-loop revisit scores built on them.

The closed-loop figures of the paper (Mirage, Sec. 4: PSNR_C / SSIM_C / LPIPS_C on RealEstate10K) compare generated
frames with ground-truth frames *where the camera revisits earlier views*; :func:`revisit_scores` computes them from
a list of revisit frame indices, together with the same figures over all frames.

* PSNR: ``10 log10(1 / MSE)`` in dB for images in ``[0, 1]`` (:func:`mirage_world.eval.consistency.psnr`, reused
  frame by frame); ``inf`` for identical images. Means over frames (:func:`revisit_scores`) cap every frame at
  :data:`PSNR_CAP_DB` so that one identical frame does not make the mean infinite (and the JSON stays valid).
* SSIM: scikit-image's ``structural_similarity`` with the settings of Wang et al. 2004 (Gaussian window
  ``sigma = 1.5``, population covariance, ``K1 = 0.01``, ``K2 = 0.03``, ``data_range = 1``), per channel
  (``channel_axis=-1``) and averaged over channels; masked SSIM is the mean of the full SSIM map over the selected
  pixels. Source: https://scikit-image.org/docs/stable/api/skimage.metrics.html#skimage.metrics.structural_similarity
  (its notes give exactly these settings for "the implementation of Wang et al.").
* LPIPS (Zhang et al. 2018, the ``lpips`` package, AlexNet trunk, v0.1 linear layers): only when the package *and*
  the trunk's ImageNet weights are on this machine (the package ships its linear layers but fetches the torchvision
  AlexNet weights from the network on first use; nothing is downloaded here). :func:`lpips_available` says whether,
  and why not; :func:`lpips` returns ``None`` when it is not available. Neither ``lpips`` nor ``torchvision`` is a
  dependency of the package.

Frames are ``(H, W, 3)`` or ``(F, H, W, 3)`` RGB, float in ``[0, 1]`` or ``uint8`` (divided by 255), numpy arrays or
torch tensors. Masks are ``(H, W)`` (shared by all frames) or ``(F, H, W)`` bool. Invalid input raises
:class:`mirage_world.errors.InputError` (a :class:`ValueError`).
"""

from __future__ import annotations

import functools
import importlib
import math
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import Tensor

from mirage_world.errors import InputError
from mirage_world.eval.consistency import psnr as psnr_image

__all__ = [
    "PSNR_CAP_DB",
    "SSIM_SIGMA",
    "LPIPS_NET",
    "LPIPS_TRUNK_WEIGHTS",
    "psnr",
    "ssim",
    "lpips",
    "lpips_available",
    "revisit_scores",
    "to_uint8_frames",
]

#: Per-frame PSNR cap in dB used by the means of :func:`revisit_scores` (MSE 1e-10: far below the quantisation
#: step of 8-bit video, so only identical frames reach it).
PSNR_CAP_DB = 100.0
#: Gaussian window of SSIM (Wang et al. 2004); the window is 11 x 11 pixels, so frames need sides >= 11.
SSIM_SIGMA = 1.5
#: LPIPS trunk network.
LPIPS_NET = "alex"
#: File name of the trunk's ImageNet weights in torch's hub cache (torchvision's ``AlexNet_Weights.IMAGENET1K_V1``,
#: https://download.pytorch.org/models/alexnet-owt-7be5be79.pth); LPIPS is available only when it is there.
LPIPS_TRUNK_WEIGHTS = "alexnet-owt-7be5be79.pth"
_SSIM_MIN_SIDE = 11


# ----------------------------------------------------------------------------------------------------------------
# input checks


def _frames01(x, name: str) -> tuple[np.ndarray, bool]:
    """``(H, W, 3)`` or ``(F, H, W, 3)`` image(s) -> float64 ``(F, H, W, 3)`` in ``[0, 1]`` and whether one image."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    single = x.ndim == 3
    if x.ndim not in (3, 4) or x.shape[-1] != 3 or min(x.shape) < 1:
        raise InputError(f"{name} must have shape (H, W, 3) or (F, H, W, 3) with non-zero sizes, got {tuple(x.shape)}")
    if x.dtype == np.uint8:
        a = x.astype(np.float64) / 255.0
    elif x.dtype.kind == "f":
        a = x.astype(np.float64)
        if not np.isfinite(a).all():
            raise InputError(f"{name} contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InputError(f"{name} must be in [0, 1] (floats) or uint8, got values in [{lo:g}, {hi:g}]")
        a = np.clip(a, 0.0, 1.0)
    else:
        raise InputError(f"{name} must be uint8 or floating point in [0, 1], got dtype {x.dtype}")
    return (a[None] if single else a), single


def to_uint8_frames(frames, name: str = "frames", min_frames: int = 1) -> np.ndarray:
    """Frames ``(F, H, W, 3)`` (numpy or torch; ``uint8``, or float in ``[0, 1]`` rounded to 8 bits) as ``uint8``.

    Raises:
        InputError (a ValueError): not ``(F, H, W, 3)`` with ``F >= min_frames``, another dtype, NaN/inf, floats
            outside ``[0, 1]``.
    """
    x = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else frames
    if not isinstance(x, np.ndarray):
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:]) < 1 or x.shape[0] < min_frames:
        raise InputError(f"{name} must have shape (F, H, W, 3) with F >= {min_frames}, got {tuple(x.shape)}")
    if x.dtype == np.uint8:
        return x
    return (_frames01(x, name)[0] * 255.0).round().astype(np.uint8)


def _pair(a, b) -> tuple[np.ndarray, np.ndarray, bool]:
    x, single_a = _frames01(a, "a")
    y, single_b = _frames01(b, "b")
    if x.shape != y.shape:
        raise InputError(f"a and b must have the same shape, got {x.shape[single_a:]} and {y.shape[single_b:]}")
    return x, y, single_a


def _masks(mask, shape: tuple[int, int, int]) -> np.ndarray | None:
    """``None``, ``(H, W)`` or ``(F, H, W)`` -> ``(F, H, W)`` bool, each selecting at least one pixel."""
    if mask is None:
        return None
    m = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else mask
    if not isinstance(m, np.ndarray):
        raise InputError(f"mask must be a numpy array or torch tensor, got {type(m).__name__}")
    F, H, W = shape
    if m.shape == (H, W):
        m = np.broadcast_to(m, (F, H, W))
    if m.shape != (F, H, W):
        raise InputError(f"mask must have shape ({H}, {W}) or ({F}, {H}, {W}), got {tuple(m.shape)}")
    m = m.astype(bool)
    empty = np.flatnonzero(~m.reshape(F, -1).any(axis=1))
    if empty.size:
        raise InputError(f"mask selects no pixel in frame {int(empty[0])}; the metric is undefined there")
    return m


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


# ----------------------------------------------------------------------------------------------------------------
# PSNR / SSIM


def psnr(a, b, mask=None):
    """PSNR in dB of frames against reference frames: ``10 log10(1 / MSE)`` for values in ``[0, 1]``.

    Each frame is scored by :func:`mirage_world.eval.consistency.psnr` (MSE over the selected pixels and all three
    channels).

    Args:
        a, b: ``(H, W, 3)`` or ``(F, H, W, 3)`` of the same shape, float in ``[0, 1]`` or ``uint8``.
        mask: optional ``(H, W)`` or ``(F, H, W)`` bool, the pixels scored.

    Returns:
        A float for one image, else ``(F,)`` float64 per frame; ``inf`` where the frames are identical (no cap
        here; see :data:`PSNR_CAP_DB` for the means of :func:`revisit_scores`).

    Raises:
        InputError (a ValueError): shapes differ or are not images, NaN/inf, values outside ``[0, 1]``, a mask of
            the wrong shape or selecting no pixel of a frame.

    Example:
        >>> a = np.zeros((4, 4, 3)); b = np.full((4, 4, 3), 0.1)  # MSE 0.01 -> 20 dB
        >>> round(psnr(a, b), 6)
        20.0
    """
    x, y, single = _pair(a, b)
    m = _masks(mask, x.shape[:3])
    vals = np.array([psnr_image(x[i], y[i], None if m is None else m[i]) for i in range(len(x))], dtype=np.float64)
    return _out(vals, single)


def _ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Full SSIM map ``(H, W, 3)`` of two ``(H, W, 3)`` float64 images in ``[0, 1]`` (settings: module doc)."""
    _, smap = structural_similarity(x, y, channel_axis=-1, data_range=1.0, full=True, gaussian_weights=True,
                                    sigma=SSIM_SIGMA, use_sample_covariance=False)
    return smap


def ssim(a, b, mask=None):
    """Structural similarity (Wang et al. 2004) of frames against reference frames, via scikit-image.

    Settings in the module doc (Gaussian 11 x 11 window, ``sigma = 1.5``, ``data_range = 1``, per channel). Without
    a mask the value is scikit-image's mean SSIM; with a mask it is the mean of the full SSIM map (all channels) over
    the selected pixels (each pixel's value still uses its whole window, masked or not).

    Args:
        a, b: ``(H, W, 3)`` or ``(F, H, W, 3)`` of the same shape, ``H, W >= 11``, float in ``[0, 1]`` or ``uint8``.
        mask: optional ``(H, W)`` or ``(F, H, W)`` bool.

    Returns:
        A float in ``[-1, 1]`` for one image (1 for identical images), else ``(F,)`` float64 per frame.

    Raises:
        InputError (a ValueError): as :func:`psnr`, and frames smaller than 11 pixels on a side.
    """
    x, y, single = _pair(a, b)
    if min(x.shape[1:3]) < _SSIM_MIN_SIDE:
        raise InputError(f"ssim needs frames of at least {_SSIM_MIN_SIDE}x{_SSIM_MIN_SIDE} pixels (its Gaussian "
                         f"window), got {x.shape[2]}x{x.shape[1]}")
    m = _masks(mask, x.shape[:3])
    vals = np.empty(len(x), dtype=np.float64)
    for i in range(len(x)):
        smap = _ssim_map(x[i], y[i])
        vals[i] = float(smap.mean()) if m is None else float(smap[m[i]].mean())
    return _out(vals, single)


# ----------------------------------------------------------------------------------------------------------------
# LPIPS (optional)


def lpips_available() -> tuple[bool, str]:
    """Whether :func:`lpips` can run on this machine without the network, and why not.

    Needs the ``lpips`` package (which imports ``torchvision``) and the AlexNet ImageNet weights
    (:data:`LPIPS_TRUNK_WEIGHTS`) already in torch's hub cache (``torch.hub.get_dir()/checkpoints``). Nothing is
    downloaded.

    Returns:
        ``(True, "")`` or ``(False, reason)`` with a one-line reason meant for reports.
    """
    try:
        importlib.import_module("lpips")
    except ImportError as e:
        return False, f"LPIPS not computed: the lpips package cannot be imported ({e}); pip install lpips torchvision"
    except Exception as e:  # a broken install (e.g. a torchvision built for another torch) is "not available" too
        return False, f"LPIPS not computed: importing lpips failed ({type(e).__name__}: {e})"
    weights = Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_TRUNK_WEIGHTS
    if not weights.is_file():
        return False, (f"LPIPS not computed: the {LPIPS_NET} trunk weights are not in the torch hub cache ({weights}) "
                       "and are not downloaded here")
    return True, ""


@functools.lru_cache(maxsize=1)
def _lpips_model():
    import lpips as lpips_pkg

    model = lpips_pkg.LPIPS(net=LPIPS_NET, version="0.1", verbose=False)
    return model.eval()


def lpips(a, b):
    """LPIPS distance (Zhang et al. 2018; AlexNet trunk, v0.1 linear layers) of frames against reference frames.

    Images are mapped to ``[-1, 1]`` as the package expects; no mask (LPIPS pools over the whole image).

    Args:
        a, b: ``(H, W, 3)`` or ``(F, H, W, 3)`` of the same shape, float in ``[0, 1]`` or ``uint8``.

    Returns:
        A float (0 for identical images, larger is more different) for one image, ``(F,)`` float64 per frame, or
        ``None`` when LPIPS is not available here (:func:`lpips_available` says why).

    Raises:
        InputError (a ValueError): as :func:`psnr`.
    """
    x, y, single = _pair(a, b)
    ok, _ = lpips_available()
    if not ok:
        return None
    model = _lpips_model()
    vals = np.empty(len(x), dtype=np.float64)
    with torch.no_grad():
        for i in range(len(x)):
            ta = torch.from_numpy(x[i]).permute(2, 0, 1)[None].float() * 2 - 1  # (1, 3, H, W) in [-1, 1]
            tb = torch.from_numpy(y[i]).permute(2, 0, 1)[None].float() * 2 - 1  # (1, 3, H, W)
            vals[i] = float(model(ta, tb).reshape(()))
    return _out(vals, single)


# ----------------------------------------------------------------------------------------------------------------
# closed-loop scores


def _mean(values, idx) -> float | None:
    if values is None or len(idx) == 0:
        return None
    return float(np.mean(np.asarray(values)[idx]))


def revisit_scores(generated, ground_truth, revisit_frames, mask=None) -> dict:
    """Closed-loop consistency figures: PSNR_C / SSIM_C / LPIPS_C over the revisit frames, and over all frames.

    Args:
        generated: ``(F, H, W, 3)`` generated frames, float in ``[0, 1]`` or ``uint8``.
        ground_truth: ``(F, H, W, 3)`` ground-truth frames of the same cameras.
        revisit_frames: indices (``0 <= i < F``, no repeats) of the frames whose camera revisits an earlier view;
            may be empty (the ``_C`` figures are then ``None``).
        mask: optional ``(H, W)`` or ``(F, H, W)`` bool of the pixels scored by PSNR and SSIM (e.g. without sky or
            moving objects); LPIPS always uses whole frames.

    Returns:
        JSON-ready dict: ``PSNR_C``, ``SSIM_C``, ``LPIPS_C`` (means over the revisit frames; PSNR per frame capped at
        :data:`PSNR_CAP_DB`; ``LPIPS_*`` ``None`` when LPIPS is not available), ``PSNR_all``, ``SSIM_all``,
        ``LPIPS_all`` (means over all frames), ``revisit_frames``, ``num_frames``, ``lpips_note`` (``None``, or why
        LPIPS is missing), ``psnr_cap_db`` and ``per_frame`` (``psnr`` (uncapped, ``inf`` written as ``None``),
        ``ssim``, ``lpips`` lists of length ``F``).

    Raises:
        InputError (a ValueError): as :func:`psnr` / :func:`ssim`; inputs not ``(F, H, W, 3)``; bad revisit indices.
    """
    x, _ = _frames01(generated, "generated")
    y, _ = _frames01(ground_truth, "ground_truth")
    for name, v in (("generated", generated), ("ground_truth", ground_truth)):
        if len(v.shape) != 4:
            raise InputError(f"{name} must have shape (F, H, W, 3), got {tuple(v.shape)}")
    if x.shape != y.shape:
        raise InputError(f"generated and ground_truth must have the same shape, got {x.shape} and {y.shape}")
    F = x.shape[0]
    try:
        idx = [int(i) for i in revisit_frames]
        if any(i != j for i, j in zip(idx, revisit_frames)):
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"revisit_frames must be a list of frame indices, got {revisit_frames!r}") from None
    bad = [i for i in idx if not 0 <= i < F]
    if bad:
        raise InputError(f"revisit_frames must be in [0, {F}), got {bad}")
    if len(set(idx)) != len(idx):
        raise InputError(f"revisit_frames has repeated indices: {idx}")
    p = psnr(x, y, mask)
    s = ssim(x, y, mask)
    ok, reason = lpips_available()
    lp = lpips(x, y) if ok else None
    p_capped = np.minimum(p, PSNR_CAP_DB)
    everything = list(range(F))
    return {
        "PSNR_C": _mean(p_capped, idx),
        "SSIM_C": _mean(s, idx),
        "LPIPS_C": _mean(lp, idx),
        "PSNR_all": _mean(p_capped, everything),
        "SSIM_all": _mean(s, everything),
        "LPIPS_all": _mean(lp, everything),
        "revisit_frames": idx,
        "num_frames": F,
        "lpips_note": None if ok else reason,
        "psnr_cap_db": PSNR_CAP_DB,
        "per_frame": {
            "psnr": [None if math.isinf(v) else float(v) for v in p],
            "ssim": [float(v) for v in s],
            "lpips": None if lp is None else [float(v) for v in lp],
        },
    }
