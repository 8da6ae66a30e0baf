"""Depth from a model: Depth Anything V2 through transformers, for photos that come without depth.

``DepthAnythingForDepthEstimation`` + ``AutoImageProcessor`` (transformers docs, "Depth Anything" / "Depth Anything
V2"; Yang et al., Depth Anything V2, arXiv 2406.09414), loaded with ``from_pretrained`` from a hub id or a local
folder (``config.json``, ``model.safetensors``, ``preprocessor_config.json``). Two kinds of checkpoints, told apart by
``config.depth_estimation_type``:

* ``"metric"`` (e.g. ``depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf``, Hypersim, ``max_depth = 20``;
  ``...-Metric-Outdoor-Small-hf``, Virtual KITTI 2, ``max_depth = 80``): the head ends in ``sigmoid * max_depth``,
  so the output is z-depth in metres in ``(0, max_depth)``.
* ``"relative"`` (``depth-anything/Depth-Anything-V2-Small-hf``): the head ends in a ReLU and outputs an
  affine-invariant *inverse* depth (disparity up to an unknown scale and shift). :func:`align_relative_depth` turns
  it into metres with one user number, the median depth of the photo: it assumes the shift is zero
  (``depth = s / disparity``) and picks ``s`` so that the median valid depth is the number given. The shift is not
  zero in general, so depth ratios between near and far are approximate (documented, not corrected); pixels with
  zero disparity (sky, "infinitely far") or more than :data:`MAX_RELATIVE_DEPTH_RATIO` x the median away become
  ``0`` (invalid, the RGB-D convention of :mod:`mirage_world.io`).

The prediction (at the processor's size, short side 518 for the published checkpoints) is resized back to the photo's
``(H, W)`` bilinearly (``post_process_depth_estimation`` uses bicubic, whose overshoot can make depth negative or
exceed ``max_depth`` at edges). Loading problems end in :class:`ModelNotFoundError` (an :class:`InputError`) saying
what was looked for, where, and the exact ``hf download`` command.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import InputError, ModelNotFoundError

__all__ = [
    "DEPTH_MODELS",
    "DEFAULT_DEPTH_MODEL",
    "MAX_RELATIVE_DEPTH_RATIO",
    "ModelNotFoundError",
    "DepthModelInfo",
    "DepthEstimator",
    "resolve_model_source",
    "load_pretrained",
    "depth_model_info",
    "estimate_depth",
    "align_relative_depth",
    "scale_to_median",
    "image_to_uint8",
    "default_device",
]

#: Short names accepted wherever a depth model id or folder is (``--model indoor``).
DEPTH_MODELS = {
    "indoor": "depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf",
    "outdoor": "depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf",
    "relative": "depth-anything/Depth-Anything-V2-Small-hf",
}
#: The default depth model: metric, indoor (Hypersim-trained, 0..20 m), 24.8 M parameters.
DEFAULT_DEPTH_MODEL = "indoor"
#: Relative depth: pixels farther than this multiple of the median depth are set to 0 (invalid).
MAX_RELATIVE_DEPTH_RATIO = 100.0

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def default_device(device=None) -> torch.device:
    """``device`` as a :class:`torch.device`; ``None`` or ``"auto"``: CUDA when available, else CPU.

    Raises:
        InputError: a device string torch does not know.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise InputError(f"unknown device {device!r}: {e}") from None


def resolve_model_source(model, what: str = "model", aliases: dict[str, str] | None = None) -> str:
    """The ``from_pretrained`` argument for ``model``: a local folder's path, or a Hugging Face hub id.

    Args:
        model: a short name from ``aliases``, a local folder, or a hub id (``owner/name``).
        what: how messages name the model (``"depth model"``).
        aliases: short names -> hub ids (a local folder of the same name wins).

    Returns:
        The folder's path or the hub id.

    Raises:
        ModelNotFoundError: ``model`` looks like a path (absolute, ``./``, ``~``, more than one ``/``) but no such
            folder exists, or names a file.
    """
    if not isinstance(model, (str, os.PathLike)) or not str(model).strip():
        raise InputError(f"{what} must be a hub id or a folder, got {model!r}")
    text = str(model)
    try:
        p = Path(text).expanduser()
    except RuntimeError:  # "~user" of an unknown user
        p = Path(text)
    if p.is_dir():
        return str(p)
    if aliases and text in aliases:
        return aliases[text]
    if p.exists():
        raise ModelNotFoundError(f"{what} {text!r} is a file; give the folder holding config.json and the weights")
    if not _REPO_ID.match(text) or text.startswith((".", "~")):
        raise ModelNotFoundError(f"{what} folder not found: {text}")
    return text


def _not_found(what: str, source: str, e: Exception) -> ModelNotFoundError:
    if Path(source).is_dir():
        return ModelNotFoundError(
            f"cannot load the {what} from the folder {source}: {type(e).__name__}: {' '.join(str(e).split())[:300]} "
            "(a model folder holds config.json, model.safetensors and preprocessor_config.json, as written by "
            "save_pretrained or hf download)"
        )
    import huggingface_hub.constants as hub

    is_offline = hub.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    offline = (" while offline (HF_HUB_OFFLINE=1; HF_HUB_OFFLINE=0 lets it download on first use)"
               if is_offline else f" and could not be downloaded ({' '.join(str(e).split())[:200]})")
    return ModelNotFoundError(
        f"{what} {source!r} not found: no local folder of that name, and the hub id is not in the Hugging Face cache "
        f"{hub.HF_HUB_CACHE}{offline}. Download it with: hf download {source} "
        f"(or pass a folder holding its config.json, model.safetensors and preprocessor_config.json)"
    )


def load_pretrained(loader: Callable, source: str, what: str = "model", **kwargs):
    """``loader(source, **kwargs)`` (a transformers ``from_pretrained``) with its errors made one clear message.

    Args:
        loader: e.g. ``AutoConfig.from_pretrained``, ``AutoImageProcessor.from_pretrained``.
        source: from :func:`resolve_model_source`.
        what: how the message names the model.

    Raises:
        ModelNotFoundError: ``OSError`` (offline and not cached, ``LocalEntryNotFoundError``, missing files) or a
            ``ValueError`` from a folder that is not a model; the message has the ``hf download`` command.
    """
    try:
        return loader(source, **kwargs)
    except (OSError, ValueError) as e:  # LocalEntryNotFoundError / EntryNotFoundError / HFValidationError included
        if isinstance(e, InputError):
            raise
        raise _not_found(what, source, e) from None


@dataclass(frozen=True)
class DepthModelInfo:
    """What a depth checkpoint's config says, read without loading weights.

    Attributes:
        source: the folder or hub id ``from_pretrained`` loads.
        kind: ``"metric"`` (metres) or ``"relative"`` (inverse depth up to scale and shift).
        max_depth: metres, the metric head's upper bound (``None`` for relative checkpoints).
    """

    source: str
    kind: str
    max_depth: float | None


def depth_model_info(model=DEFAULT_DEPTH_MODEL) -> DepthModelInfo:
    """Read a depth checkpoint's config only (no weights): which kind it is, so that options (a median depth for a
    relative checkpoint) can be checked before the model loads.

    Args:
        model: ``"indoor"`` / ``"outdoor"`` / ``"relative"`` (:data:`DEPTH_MODELS`), a hub id or a local folder.

    Raises:
        ModelNotFoundError: missing offline / not a folder (with the download command).
        InputError: the config is not a Depth Anything config (``model_type`` other than ``depth_anything``).
    """
    from transformers import AutoConfig

    source = resolve_model_source(model, "depth model", DEPTH_MODELS)
    cfg = load_pretrained(AutoConfig.from_pretrained, source, "depth model")
    if getattr(cfg, "model_type", None) != "depth_anything":
        raise InputError(f"depth model {model!r} is a {getattr(cfg, 'model_type', type(cfg).__name__)!r} model, "
                         "not Depth Anything (DepthAnythingForDepthEstimation)")
    kind = str(getattr(cfg, "depth_estimation_type", "relative"))
    max_depth = float(cfg.max_depth) if kind == "metric" and getattr(cfg, "max_depth", None) else None
    return DepthModelInfo(source=source, kind=kind, max_depth=max_depth)


def image_to_uint8(image, name: str = "image") -> np.ndarray:
    """One RGB image as ``(H, W, 3)`` ``np.uint8``.

    Args:
        image: ``(H, W, 3)`` numpy array or tensor, ``uint8`` or float in ``[0, 1]`` (rounded to 8 bits).

    Raises:
        InputError: another shape or dtype, non-finite values or floats outside ``[0, 1]`` (1e-3 slack, clipped).
    """
    if torch.is_tensor(image):
        image = image.detach().cpu()
        image = (image.float() if image.is_floating_point() else image).numpy()  # numpy has no bfloat16
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a numpy array or tensor (H, W, 3), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InputError(f"{name} must have shape (H, W, 3), got {tuple(image.shape)}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype.kind != "f":
        raise InputError(f"{name} must be uint8 or float in [0, 1], got {image.dtype}")
    if not np.isfinite(image).all():
        raise InputError(f"{name} contains NaN or infinite values")
    if image.min() < -1e-3 or image.max() > 1 + 1e-3:
        raise InputError(f"{name} floats must be in [0, 1], got {image.min():g}..{image.max():g}")
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _check_median(median_depth) -> float | None:
    if median_depth is None:
        return None
    try:
        m = float(median_depth)
    except (TypeError, ValueError):
        raise InputError(f"median depth must be a number of metres, got {median_depth!r}") from None
    if not (math.isfinite(m) and m > 0):
        raise InputError(f"median depth must be finite and > 0 metres, got {median_depth!r}")
    return m


def align_relative_depth(disparity, median_depth: float,
                         max_ratio: float = MAX_RELATIVE_DEPTH_RATIO) -> np.ndarray:
    """Relative inverse depth -> metres, with the median depth set to ``median_depth``.

    ``depth = s / disparity`` (the unknown shift of the affine-invariant disparity taken as 0), with ``s`` such that
    the median of the valid depths is ``median_depth``. Approximate: a non-zero shift bends near/far ratios.

    Args:
        disparity: ``(H, W)`` non-negative inverse depth up to scale (a relative Depth Anything output).
        median_depth: metres, finite and > 0.
        max_ratio: pixels with zero disparity or farther than ``max_ratio`` x the median become ``0`` (invalid).

    Returns:
        ``(H, W)`` ``np.float32`` metres, ``0`` where invalid.

    Raises:
        InputError: not 2-D, non-finite or negative values, no positive disparity, bad ``median_depth``.
    """
    m = _check_median(median_depth)
    if m is None:
        raise InputError("a relative depth model needs a median depth in metres (e.g. --median-depth 2.5)")
    d = disparity.detach().cpu().numpy() if torch.is_tensor(disparity) else np.asarray(disparity)
    d = d.astype(np.float64)
    if d.ndim != 2:
        raise InputError(f"disparity must be a 2-D (H, W) map, got shape {tuple(d.shape)}")
    if not np.isfinite(d).all() or (d < 0).any():
        raise InputError("disparity must be finite and >= 0")
    pos = d > 0
    if not pos.any():
        raise InputError("the depth model predicted zero disparity everywhere: no depth can be aligned")
    valid = d >= np.median(d[pos]) / max_ratio  # drops 0 too: farther than max_ratio x the median -> invalid
    inv = 1.0 / d[valid]
    out = np.zeros(d.shape, np.float64)
    out[valid] = inv * (m / np.median(inv))
    return out.astype(np.float32)


def scale_to_median(depth, median_depth: float) -> np.ndarray:
    """Metric ``depth (H, W)`` multiplied so that the median of its valid (> 0) pixels is ``median_depth`` metres.

    Raises:
        InputError: bad ``median_depth``, no valid pixel.
    """
    m = _check_median(median_depth)
    d = np.asarray(depth, dtype=np.float64)
    valid = d > 0
    if not valid.any():
        raise InputError("depth has no valid (> 0) pixel to scale")
    return (d * (m / np.median(d[valid]))).astype(np.float32)


class DepthEstimator:
    """A Depth Anything checkpoint, loaded once, that turns RGB photos into depth in metres.

    Args:
        model: ``"indoor"`` (default) / ``"outdoor"`` / ``"relative"`` (:data:`DEPTH_MODELS`), a hub id or a folder.
        device: ``None`` / ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        dtype: weights and inputs dtype (``torch.float32``; ``torch.float16`` / ``bfloat16`` on a GPU).

    Attributes:
        info: :class:`DepthModelInfo` (``kind``, ``max_depth``, ``source``).

    Raises:
        ModelNotFoundError, InputError: see :func:`depth_model_info`.
    """

    def __init__(self, model=DEFAULT_DEPTH_MODEL, device=None, dtype: torch.dtype = torch.float32):
        from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

        self.info = depth_model_info(model)
        self.device = default_device(device)
        self.dtype = dtype
        self.processor = load_pretrained(AutoImageProcessor.from_pretrained, self.info.source, "depth model")
        net = load_pretrained(DepthAnythingForDepthEstimation.from_pretrained, self.info.source, "depth model")
        self.model = net.to(self.device, dtype).eval()

    @property
    def kind(self) -> str:
        """``"metric"`` or ``"relative"``."""
        return self.info.kind

    @torch.inference_mode()
    def predict(self, image) -> torch.Tensor:
        """The model's raw output at the photo's size: metres (metric) or disparity up to scale (relative).

        Args:
            image: ``(H, W, 3)`` ``uint8`` or float in ``[0, 1]``, numpy or tensor.

        Returns:
            ``(H, W)`` float32 tensor on the CPU, bilinearly resized from the processor's size, ``>= 0``.
        """
        img = image_to_uint8(image)
        H, W = img.shape[:2]
        inputs = self.processor(images=img, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device, self.dtype)  # (1, 3, h, w)
        pred = self.model(pixel_values=pixel_values).predicted_depth  # (1, h, w)
        pred = torch.nn.functional.interpolate(pred[:, None].float(), size=(H, W), mode="bilinear",
                                               align_corners=False)[0, 0]  # (H, W)
        return pred.clamp_min(0).cpu()

    def __call__(self, image, median_depth: float | None = None) -> np.ndarray:
        """Depth of one photo in metres.

        Args:
            image: ``(H, W, 3)`` ``uint8`` or float in ``[0, 1]``.
            median_depth: metres. Relative checkpoints: required, see :func:`align_relative_depth`. Metric
                checkpoints: optional, rescales the prediction so that its median is this (a known scene scale).

        Returns:
            ``(H, W)`` ``np.float32`` z-depth in metres, ``0`` where invalid.

        Raises:
            InputError: bad image, a relative checkpoint without ``median_depth``, a bad ``median_depth``.
        """
        m = _check_median(median_depth)
        if self.kind == "relative" and m is None:
            raise InputError(f"depth model {self.info.source!r} predicts relative depth: give a median depth in metres "
                             "(e.g. --median-depth 2.5) or use a metric model (indoor / outdoor)")
        raw = self.predict(image).numpy()
        if self.kind == "relative":
            return align_relative_depth(raw, m)
        depth = raw.astype(np.float32)
        if self.info.max_depth is not None:
            depth = np.minimum(depth, np.float32(self.info.max_depth))
        return depth if m is None else scale_to_median(depth, m)


def estimate_depth(image, model=DEFAULT_DEPTH_MODEL, median_depth: float | None = None, device=None) -> np.ndarray:
    """Depth of one photo in metres with a Depth Anything checkpoint (loaded for this call; keep a
    :class:`DepthEstimator` to run several photos).

    Args:
        image: ``(H, W, 3)`` ``uint8`` or float in ``[0, 1]``, numpy or tensor.
        model: ``"indoor"`` / ``"outdoor"`` / ``"relative"``, a hub id or a local folder.
        median_depth: metres; required for relative checkpoints, optional rescale for metric ones.
        device: ``None`` / ``"auto"``, ``"cpu"``, ``"cuda"``, ...

    Returns:
        ``(H, W)`` ``np.float32`` metres, ``0`` where invalid.

    Raises:
        ModelNotFoundError: weights missing offline (the message has the ``hf download`` command).
        InputError: bad image or options.
    """
    img = image_to_uint8(image)
    _check_median(median_depth)
    return DepthEstimator(model, device=device)(img, median_depth=median_depth)
