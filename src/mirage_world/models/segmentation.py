"""Sky and moving-object filter: a semantic segmentation model decides which pixels may be written to the memory.

The paper removes the sky and moving objects before each memory write (the official code filters nothing at
inference). Any transformers semantic segmentation checkpoint works (``AutoModelForSemanticSegmentation`` +
``AutoImageProcessor``, ``post_process_semantic_segmentation``; transformers docs, "Semantic segmentation"); the
default is SegFormer-B0 fine-tuned on ADE20K (``nvidia/segformer-b0-finetuned-ade-512-512``, 3.8 M parameters,
150 classes; Xie et al., SegFormer, arXiv 2105.15203), whose ``config.id2label`` has ``sky``, ``person``, ``car``,
``bus``, ``truck``, ``van``, ``boat``, ``ship``, ``airplane``, ``minibike``, ``bicycle``, ``animal``.

Class names come from the checkpoint's ``config.id2label`` and are matched case-insensitively; a label with aliases
(``"person;individual;someone"``) matches any of them. :data:`DEFAULT_EXCLUDE_CLASSES` also lists Cityscapes names
(``rider``, ``motorcycle``, ``train``) so a Cityscapes model works unchanged: names the model does not have are
skipped, and it is an error only if none is found. A list given by the caller is strict (every name must exist),
so a misspelt class is not silently kept.

:meth:`SemanticFilter.__call__` is the pipeline's write hook: frames ``(F, H, W, 3)`` float in ``[0, 1]`` ->
keep ``(F, H, W)`` bool, True where a pixel may be stored.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import torch

from ..errors import InputError
from .depth import default_device, image_to_uint8, load_pretrained, resolve_model_source

__all__ = [
    "DEFAULT_SEGMENTATION_MODEL",
    "SEGMENTATION_MODELS",
    "DEFAULT_EXCLUDE_CLASSES",
    "SemanticFilter",
    "check_segmentation_model",
    "resolve_exclude_classes",
]

#: Short names accepted wherever a segmentation model id or folder is.
SEGMENTATION_MODELS = {"ade20k": "nvidia/segformer-b0-finetuned-ade-512-512"}
#: The default filter model: SegFormer-B0, ADE20K (150 classes), 512x512 input.
DEFAULT_SEGMENTATION_MODEL = "ade20k"
#: Sky and things that move (ADE20K and Cityscapes names; those a model lacks are skipped).
DEFAULT_EXCLUDE_CLASSES = (
    "sky", "person", "rider", "car", "bus", "truck", "van", "train", "bicycle", "motorcycle", "motorbike", "minibike",
    "animal", "boat", "ship", "airplane",
)


def _aliases(label: str) -> set[str]:
    return {a.strip().lower() for a in re.split(r"[;,]", str(label)) if a.strip()}


def resolve_exclude_classes(id2label: dict, names: Sequence[str] | None = None) -> dict[int, str]:
    """Class ids of ``id2label`` to exclude.

    Args:
        id2label: the checkpoint's ``config.id2label`` (int or str keys).
        names: class names, case-insensitive; ``None``: :data:`DEFAULT_EXCLUDE_CLASSES`, names the model lacks
            skipped. Given names must all exist.

    Returns:
        ``{class id: label}`` of the excluded classes, at least one.

    Raises:
        InputError: an explicitly given name not among the labels, or none of the default names found; the
            message lists the model's labels.
    """
    labels = {int(k): str(v) for k, v in id2label.items()}
    strict = names is not None
    if names is None:
        names = DEFAULT_EXCLUDE_CLASSES
    if isinstance(names, str):
        names = [names]
    wanted = [str(n).strip().lower() for n in names]
    if not wanted or not all(wanted):
        raise InputError(f"exclude classes must be non-empty names, got {list(names)!r}")
    out = {i: lab for i, lab in labels.items() if _aliases(lab) & set(wanted)}
    found = set().union(*(_aliases(lab) for lab in out.values())) if out else set()
    missing = [n for n in wanted if n not in found]
    shown = ", ".join(labels[i] for i in sorted(labels)[:200])
    if strict and missing:
        raise InputError(f"segmentation classes not in this model's labels: {', '.join(missing)} (its labels: {shown})")
    if not out:
        raise InputError(f"none of the classes {', '.join(wanted)} is among this segmentation model's labels "
                         f"({shown})")
    return out


def _frames_uint8(images) -> tuple[np.ndarray, bool]:
    """``(F, H, W, 3)`` uint8 frames and whether the input was a single ``(H, W, 3)`` image."""
    arr = images
    if torch.is_tensor(images):
        arr = images.detach().cpu()
        arr = (arr.float() if arr.is_floating_point() else arr).numpy()  # numpy has no bfloat16
    if not isinstance(arr, np.ndarray):
        raise InputError(f"images must be a numpy array or tensor, got {type(images).__name__}")
    if arr.ndim == 3:
        return image_to_uint8(arr)[None], True
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise InputError(f"images must have shape (F, H, W, 3) or (H, W, 3), got {tuple(arr.shape)}")
    return np.stack([image_to_uint8(f, f"frame {i}") for i, f in enumerate(arr)]), False


def check_segmentation_model(model=DEFAULT_SEGMENTATION_MODEL,
                             exclude_classes: Sequence[str] | None = None) -> tuple[str, dict[int, str]]:
    """Read a segmentation checkpoint's config only (no weights) and resolve the classes to exclude, so that the
    options can be checked before any model loads.

    Args:
        model: ``"ade20k"`` (:data:`SEGMENTATION_MODELS`), a hub id or a local folder.
        exclude_classes: see :func:`resolve_exclude_classes`.

    Returns:
        ``(source, {class id: label})``: what ``from_pretrained`` loads, and the excluded classes.

    Raises:
        ModelNotFoundError: missing offline / not a folder (with the ``hf download`` command).
        InputError: no ``id2label`` in the config, unknown class names.
    """
    from transformers import AutoConfig

    what = "segmentation model"
    source = resolve_model_source(model, what, SEGMENTATION_MODELS)
    cfg = load_pretrained(AutoConfig.from_pretrained, source, what)
    if not getattr(cfg, "id2label", None):
        raise InputError(f"{what} {model!r} has no id2label in its config: class names are needed")
    return source, resolve_exclude_classes(cfg.id2label, exclude_classes)


class SemanticFilter:
    """Keep masks from a semantic segmentation checkpoint: False on the sky and on things that move.

    Args:
        model: ``"ade20k"`` (default, :data:`SEGMENTATION_MODELS`), a hub id or a local folder.
        exclude_classes: class names to exclude (``None``: :data:`DEFAULT_EXCLUDE_CLASSES`); see
            :func:`resolve_exclude_classes`.
        device: ``None`` / ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"``, ...
        dtype: weights and inputs dtype.
        batch_size: frames per forward pass.

    Attributes:
        excluded: ``{class id: label}`` of the excluded classes.

    Raises:
        ModelNotFoundError: weights missing offline (the message has the ``hf download`` command).
        InputError: not a semantic segmentation model, unknown class names, ``batch_size < 1``.
    """

    def __init__(self, model=DEFAULT_SEGMENTATION_MODEL, exclude_classes: Sequence[str] | None = None, device=None,
                 dtype: torch.dtype = torch.float32, batch_size: int = 8):
        from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise InputError(f"batch_size must be an int >= 1, got {batch_size!r}")
        what = "segmentation model"
        self.source, self.excluded = check_segmentation_model(model, exclude_classes)  # before loading weights
        self.device = default_device(device)
        self.dtype = dtype
        self.batch_size = batch_size
        self.processor = load_pretrained(AutoImageProcessor.from_pretrained, self.source, what)
        net = load_pretrained(AutoModelForSemanticSegmentation.from_pretrained, self.source, what)
        self.model = net.to(self.device, dtype).eval()
        self.id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}

    @torch.inference_mode()
    def labels(self, images) -> torch.Tensor:
        """Per-pixel class ids.

        Args:
            images: ``(F, H, W, 3)`` or ``(H, W, 3)``, ``uint8`` or float in ``[0, 1]``, numpy or tensor.

        Returns:
            ``(F, H, W)`` (or ``(H, W)``) int64 tensor on the CPU; logits upsampled bilinearly to ``(H, W)`` before
            the argmax (``post_process_semantic_segmentation``).
        """
        frames, single = _frames_uint8(images)
        H, W = frames.shape[1:3]
        out = []
        for a in range(0, len(frames), self.batch_size):
            chunk = list(frames[a:a + self.batch_size])
            inputs = self.processor(images=chunk, return_tensors="pt")
            pixel_values = inputs["pixel_values"].to(self.device, self.dtype)  # (B, 3, h, w)
            outputs = self.model(pixel_values=pixel_values)  # logits (B, C, h', w')
            outputs.logits = outputs.logits.float()
            maps = self.processor.post_process_semantic_segmentation(outputs, target_sizes=[(H, W)] * len(chunk))
            out += [m.to("cpu", torch.int64) for m in maps]  # (H, W) each
        lab = torch.stack(out)  # (F, H, W)
        return lab[0] if single else lab

    def keep_mask(self, images):
        """True where a pixel may be stored (not one of :attr:`excluded`).

        Args:
            images: ``(F, H, W, 3)`` or one ``(H, W, 3)`` image, ``uint8`` or float in ``[0, 1]``, numpy or tensor.

        Returns:
            bool ``(F, H, W)`` (or ``(H, W)``): a numpy array for numpy input, a tensor on the input's device for
            tensor input.

        Raises:
            InputError: bad shape, dtype or values.
        """
        lab = self.labels(images)
        keep = ~torch.isin(lab, torch.tensor(sorted(self.excluded), dtype=torch.int64))
        if torch.is_tensor(images):
            return keep.to(images.device)
        return keep.numpy()

    def __call__(self, frames):
        """The pipeline's write hook: frames ``(F, H, W, 3)`` float in ``[0, 1]`` (or uint8) -> keep ``(F, H, W)``
        bool (numpy in, numpy out; tensor in, tensor out on the same device).

        Raises:
            InputError: not 4-D, or bad values.
        """
        if getattr(frames, "ndim", None) != 4:
            raise InputError(f"frames must have shape (F, H, W, 3), got {tuple(getattr(frames, 'shape', ()))}")
        return self.keep_mask(frames)
