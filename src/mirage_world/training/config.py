"""Settings of the adapter trainer (:mod:`mirage_world.training.train_adapter`) and every check made on them before a
model loads.

* :class:`TrainConfig`: the settings (a JSON object with these keys; ``configs/*.json`` in :data:`CONFIG_DIR`);
* :func:`load_config`: a config file plus overrides (:func:`parse_set` turns ``--set KEY=VALUE`` options into
  them), type-checked key by key, relative input paths resolved;
* :func:`check_config`: ranges and choices that need no file;
* :func:`inspect_model` / :func:`check_against_model`: what a diffusers model folder's JSON configs say (latent
  channels, VAE factors, patch size, text encoder, scheduler shift) and whether the settings fit it -- read without
  loading any weights.

Every failure is an :class:`~mirage_world.errors.InputError` naming the setting.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from ..errors import InputError
from ..models.adapter import ADAPTER_TARGETS
from ..models.wan import TEXT_MAX_SEQUENCE_LENGTH

__all__ = ["CONFIG_DIR", "TrainConfig", "load_config", "parse_set", "check_config", "weight_dtype", "ModelInfo",
           "read_json_object", "inspect_model", "check_against_model"]

#: The bundled config files (``tiny_full.json``, ``wan22_ti2v_5b_adapter.json``).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass
class TrainConfig:
    """Trainer settings (a JSON object with these keys; keys starting with ``_`` are comments). In a config file,
    relative input paths (``model``, ``data``, ``init_adapter``) are relative to the file's folder, ``output_dir``
    to the working folder; on the command line all are relative to the working folder.

    Attributes:
        model: diffusers model folder with ``vae/`` and ``transformer/`` (and optionally ``text_encoder/`` +
            ``tokenizer/``, ``scheduler/``), e.g. a download of ``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` or the bundled
            ``weights/mirage-tiny``.
        base: ``"adapter"``: add the memory adapter to a base DiT (``C`` input channels) and train LoRA + patch
            embedding; ``"full"``: train every weight of a DiT that already takes ``2C + 1`` channels.
        data: folders searched recursively for ``geometry.npz`` clips (or the files).
        output_dir: where checkpoints, logs and the result go.
        rank, alpha, targets, lora: the adapter's LoRA (rank, alpha (default: rank), target module suffixes, on /
            off); adapter mode only.
        init_adapter: an adapter folder to start from instead of a fresh adapter (adapter mode).
        segment_frames: new frames per segment (a multiple of the VAE's temporal factor; the pipeline's
            ``segment_frames``).
        segments: segments per clip window; a window has ``1 + segment_frames * segments`` frames and the target
            segment is drawn uniformly, later segments seeing memories that hold the earlier ones.
        frame_stride: use every ``frame_stride``-th frame of a clip.
        crop: ``[H, W]`` pixels of the random crop (multiples of VAE factor x patch size: 32 for Wan2.2-TI2V-5B,
            16 for the tiny model).
        resize: ``[H, W]`` to resize frames to before cropping, or ``null``.
        steps: optimiser steps.
        batch_size: clip windows per process and micro-step.
        grad_accum: micro-steps per optimiser step (``accelerator.accumulate``).
        lr, lr_scheduler, lr_warmup_steps: learning rate, diffusers scheduler name (``constant``,
            ``constant_with_warmup``, ``linear``, ``cosine``, ...) and warm-up steps.
        adam_beta1, adam_beta2, adam_epsilon, weight_decay: AdamW settings.
        max_grad_norm: gradient clipping (0: none).
        mixed_precision: ``"no"``, ``"bf16"`` or ``"fp16"`` (passed to ``Accelerator``).
        weight_dtype: dtype of the frozen DiT and the text encoder: ``"auto"`` (the mixed-precision dtype in
            adapter mode, else float32), ``"float32"``, ``"bfloat16"``, ``"float16"``; trained weights and the VAE
            are float32 (as diffusers' Wan examples keep the VAE).
        gradient_checkpointing: recompute the DiT's blocks in the backward pass (less memory, ~30% slower).
        memory_dropout: probability that a sample's memory read is dropped (read and coverage zero).
        shift: timestep shift; ``null``: the model scheduler's (``shift`` / ``flow_shift``), else 3.0.
        memory: overrides of :class:`~mirage_world.pipelines.MemoryConfig` (e.g. ``{"dtype": "float32"}``).
        checkpoint_every: save a checkpoint every this many steps (and at the end).
        keep_checkpoints: checkpoints kept (older ones are deleted).
        seed: seed of the data, the noise and the new weights.
        log_with: ``"tensorboard"`` (if installed; the console and ``train_log.jsonl`` always) or ``"none"``.
        log_every: steps between log lines.
        prompt: text for a model with a text encoder, encoded once with the pipeline's own
            :meth:`~mirage_world.pipelines.MiragePipeline.encode_prompt` (``""``, the default, is what
            ``mirage generate`` uses without ``--prompt``); without a text encoder the DiT sees the pipeline's
            single zero context token.
        max_sequence_length: text tokens (Wan: 512, zero after the prompt's end, as the pipeline encodes them).
        num_workers: DataLoader worker processes.
    """

    model: str = ""
    base: str = "adapter"
    data: list[str] = field(default_factory=list)
    output_dir: str = "runs/adapter"
    rank: int = 16
    alpha: Optional[float] = None
    targets: list[str] = field(default_factory=lambda: list(ADAPTER_TARGETS))
    lora: bool = True
    init_adapter: Optional[str] = None
    segment_frames: int = 16
    segments: int = 2
    frame_stride: int = 1
    crop: list[int] = field(default_factory=lambda: [704, 1280])
    resize: Optional[list[int]] = None
    steps: int = 1000
    batch_size: int = 1
    grad_accum: int = 1
    lr: float = 1e-4
    lr_scheduler: str = "constant_with_warmup"
    lr_warmup_steps: int = 50
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    weight_dtype: str = "auto"
    gradient_checkpointing: bool = False
    memory_dropout: float = 0.1
    shift: Optional[float] = None
    memory: dict = field(default_factory=dict)
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    seed: int = 0
    log_with: str = "tensorboard"
    log_every: int = 10
    prompt: str = ""
    max_sequence_length: int = TEXT_MAX_SEQUENCE_LENGTH
    num_workers: int = 0


_PATH_FIELDS = ("model", "init_adapter", "data")  # input paths: relative to the config file
_CHOICES = {"base": ("adapter", "full"), "mixed_precision": ("no", "bf16", "fp16"),
            "weight_dtype": ("auto", "float32", "bfloat16", "float16"), "log_with": ("tensorboard", "none"),
            "lr_scheduler": ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
                             "polynomial")}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _type_ok(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(tp)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, tp)


def _apply(cfg: TrainConfig, values: dict, where: str, base_dir: Path | None) -> TrainConfig:
    hints = typing.get_type_hints(TrainConfig)
    for key, value in values.items():
        if key.startswith("_"):
            continue
        if key not in hints:
            close = [k for k in hints if k.split("_")[0] == key.split("_")[0]]
            raise InputError(f"{where}: unknown setting {key!r}{f' (did you mean {close[0]!r}?)' if close else ''}")
        if not _type_ok(value, hints[key]):
            raise InputError(f"{where}: {key} must be {hints[key]}, got {value!r}")
        if isinstance(value, int) and hints[key] in (float, Optional[float]) and not isinstance(value, bool):
            value = float(value)
        if base_dir is not None and value is not None and key in _PATH_FIELDS:
            fix = (lambda v: v if Path(v).expanduser().is_absolute() else str(base_dir / v))  # noqa: E731
            value = [fix(v) for v in value] if key == "data" else fix(value)
        setattr(cfg, key, value)
    return cfg


def load_config(path=None, overrides: dict | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from a JSON file (relative input paths: from the file's folder) and ``overrides``
    (relative paths: from the working folder), checked with :func:`check_config`.

    Raises:
        InputError: unreadable file, unknown keys, wrong types, values out of range.
    """
    cfg = TrainConfig()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"config file not found: {p}")
        try:
            values = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{p}: not a readable JSON file ({e})") from None
        if not isinstance(values, dict):
            raise InputError(f"{p}: must hold a JSON object of settings")
        _apply(cfg, values, str(p), p.resolve().parent)
    if overrides:
        _apply(cfg, overrides, "command line", None)
    check_config(cfg)
    return cfg


def parse_set(items: list[str]) -> dict:
    """Overrides for :func:`load_config` from ``--set KEY=VALUE`` options: ``VALUE`` parsed as JSON, or taken as a
    bare string when it is not JSON (``--set lr=2e-4``, ``--set crop=[480,832]``, ``--set prompt=a room``).

    Raises:
        InputError: an item without ``=`` or with an empty key.
    """
    out = {}
    for it in items:
        key, sep, raw = it.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set needs KEY=VALUE, got {it!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw  # a bare string
    return out


MAX_STEPS = 10**9  #: the most optimiser steps a config may ask for


def check_config(cfg: TrainConfig) -> None:
    """Value checks that need no file (ranges, choices).

    Raises:
        InputError: naming the setting.
    """
    for key, choices in _CHOICES.items():
        if getattr(cfg, key) not in choices:
            raise InputError(f"{key} must be one of {', '.join(choices)}, got {getattr(cfg, key)!r}")
    for key in ("rank", "segment_frames", "segments", "frame_stride", "steps", "batch_size", "grad_accum",
                "checkpoint_every", "keep_checkpoints", "log_every", "max_sequence_length"):
        if getattr(cfg, key) < 1:
            raise InputError(f"{key} must be >= 1, got {getattr(cfg, key)}")
    for key in ("lr_warmup_steps", "num_workers", "seed", "max_grad_norm", "weight_decay"):
        if getattr(cfg, key) < 0:
            raise InputError(f"{key} must be >= 0, got {getattr(cfg, key)}")
    if cfg.steps > MAX_STEPS:
        raise InputError(f"steps must be <= {MAX_STEPS}, got {cfg.steps}")
    if cfg.seed >= 2**32:
        raise InputError(f"seed must be < 2^32 (accelerate's set_seed), got {cfg.seed}")
    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise InputError("mixed_precision fp16 needs a CUDA GPU (no float16 CPU kernels for this model); use bf16 or no")
    if not cfg.lr > 0 or (cfg.alpha is not None and not cfg.alpha > 0) or (cfg.shift is not None and not cfg.shift > 0):
        raise InputError(f"lr, alpha and shift must be > 0, got {cfg.lr}, {cfg.alpha}, {cfg.shift}")
    if not 0.0 <= cfg.memory_dropout <= 1.0:
        raise InputError(f"memory_dropout must be in [0, 1], got {cfg.memory_dropout}")
    for key in ("crop", "resize"):
        v = getattr(cfg, key)
        if v is not None and (len(v) != 2 or min(v) < 1 or max(v) > 8192):
            raise InputError(f"{key} must be [H, W] with 1 <= H, W <= 8192, got {v}")
    if not cfg.model:
        raise InputError("model is not set: give a diffusers model folder in the config or with --model")
    if not cfg.data:
        raise InputError("data is not set: give clip folders in the config or with --data")
    if cfg.base == "full" and cfg.init_adapter:
        raise InputError("init_adapter is for base 'adapter', not 'full'")
    if cfg.base == "full" and cfg.weight_dtype not in ("auto", "float32"):
        raise InputError("base 'full' trains every weight: weight_dtype must be float32 (mixed_precision does bf16)")
    if cfg.weight_dtype in ("bfloat16", "float16") and cfg.mixed_precision == "no":
        raise InputError(f"weight_dtype {cfg.weight_dtype} needs mixed_precision bf16 or fp16 (autocast)")
    for k in cfg.memory:
        if k not in {f.name for f in dataclasses.fields(_memory_config_class())}:
            raise InputError(f"memory: unknown MemoryConfig setting {k!r}")


def _memory_config_class():
    from ..pipelines import MemoryConfig

    return MemoryConfig


def weight_dtype(cfg: TrainConfig) -> torch.dtype:
    """The dtype of the frozen DiT and the text encoder: ``weight_dtype``, or for ``"auto"`` the mixed-precision
    dtype in adapter mode (bfloat16 / float16) and float32 otherwise (``base "full"`` trains every weight)."""
    if cfg.weight_dtype == "auto":
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision, torch.float32)
        return dtype if cfg.base == "adapter" else torch.float32
    return _DTYPES[cfg.weight_dtype]


# ----------------------------------------------------------------------------------------------------------------
# model folder


@dataclass
class ModelInfo:
    """What the trainer needs to know about a model folder before loading it (from the JSON configs alone)."""

    path: Path
    vae_class: type
    latent_channels: int
    spatial: int  # VAE spatial factor
    temporal: int  # VAE temporal factor
    in_channels: int  # the transformer's
    patch_size: tuple[int, int, int]
    text_dim: int
    has_text_encoder: bool
    shift: float | None  # the scheduler's


def read_json_object(p: Path, what: str) -> dict:
    """The JSON object in file ``p`` (a model component's config); ``what`` names it in errors.

    Raises:
        InputError: missing or unreadable file, or JSON that is not an object.
    """
    if not p.is_file():
        raise InputError(f"{what}: {p} not found")
    try:
        d = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{what}: {p} is not readable JSON ({e})") from None
    if not isinstance(d, dict):
        raise InputError(f"{what}: {p} must hold a JSON object")
    return d


def _vae_class(name: str) -> type:
    """A VAE class named in a config: diffusers' own or this package's (never an arbitrary import)."""
    import diffusers

    from .. import models

    cls = getattr(models, name, None) or getattr(diffusers, name, None)
    if cls is None:
        raise InputError(f"unknown VAE class {name!r} (neither diffusers nor mirage_world.models has it)")
    return cls


def inspect_model(path) -> ModelInfo:
    """Read ``vae/config.json``, ``transformer/config.json`` (and ``scheduler/``, ``text_encoder/``) of a model
    folder without loading weights.

    Raises:
        InputError: not a folder, missing / unreadable configs, a transformer that is not a Wan DiT.
    """
    from diffusers.configuration_utils import FrozenDict

    from ..pipelines.pipeline_mirage import vae_scale_factors

    p = Path(path).expanduser()
    if not p.is_dir():
        raise InputError(f"model folder not found: {p} (download e.g. Wan-AI/Wan2.2-TI2V-5B-Diffusers with "
                         "`huggingface-cli download Wan-AI/Wan2.2-TI2V-5B-Diffusers --local-dir DIR`)")
    vcfg = read_json_object(p / "vae" / "config.json", "model VAE")
    tcfg = read_json_object(p / "transformer" / "config.json", "model transformer")
    if tcfg.get("_class_name") != "WanTransformer3DModel":
        raise InputError(f"{p / 'transformer'}: the trainer needs a WanTransformer3DModel, "
                         f"got {tcfg.get('_class_name')}")
    vae_class = _vae_class(str(vcfg.get("_class_name")))
    C = vcfg.get("z_dim") or vcfg.get("latent_channels")
    if not isinstance(C, int) or C < 1:
        raise InputError(f"{p / 'vae' / 'config.json'}: no latent channel count (z_dim / latent_channels)")
    try:
        spatial, temporal = vae_scale_factors(type("V", (), {"config": FrozenDict(vcfg)})())
    except ValueError as e:
        raise InputError(f"{p / 'vae'}: {e}") from None
    shift = None
    sp = p / "scheduler" / "scheduler_config.json"
    if sp.is_file():
        scfg = read_json_object(sp, "model scheduler")
        shift = scfg.get("shift") if scfg.get("shift") is not None else scfg.get("flow_shift")
    has_te = (p / "text_encoder" / "config.json").is_file() and (p / "tokenizer").is_dir()
    return ModelInfo(p, vae_class, int(C), spatial, temporal, int(tcfg.get("in_channels", 0)),
                     tuple(tcfg.get("patch_size", (1, 2, 2))), int(tcfg.get("text_dim", 0)), has_te,
                     None if shift is None else float(shift))


def check_against_model(cfg: TrainConfig, info: ModelInfo) -> None:
    """Checks of the settings against a model folder (from :func:`inspect_model`): input channels for the mode
    (``C`` or ``2C + 1`` for ``"adapter"``, ``2C + 1`` for ``"full"``), ``segment_frames`` a multiple of the VAE's
    temporal factor, ``crop`` a multiple of VAE factor x patch size, a text encoder for a ``prompt``, an adapter
    folder for ``init_adapter``.

    Raises:
        InputError: naming the setting that does not fit.
    """
    C = info.latent_channels
    wide = 2 * C + 1
    if cfg.base == "full" and info.in_channels != wide:
        raise InputError(f"base 'full' needs a memory-conditioned transformer ({wide} input channels for {C}-channel "
                         f"latents); {info.path} has {info.in_channels}: use base 'adapter'")
    if cfg.base == "adapter" and info.in_channels not in (C, wide):
        raise InputError(f"{info.path}: the transformer takes {info.in_channels} input channels, not {C} or {wide}")
    if cfg.segment_frames % info.temporal:
        raise InputError(f"segment_frames must be a multiple of the VAE's temporal factor {info.temporal}, "
                         f"got {cfg.segment_frames}")
    m = info.spatial * info.patch_size[1]
    if cfg.crop[0] % m or cfg.crop[1] % m:
        raise InputError(f"crop {cfg.crop} must be multiples of {m} (VAE factor {info.spatial} x patch "
                         f"{info.patch_size[1]})")
    if cfg.prompt and not info.has_text_encoder:
        raise InputError(f"prompt is set but {info.path} has no text_encoder/ + tokenizer/")
    if cfg.init_adapter:
        from ..models.adapter import is_adapter_folder

        if not is_adapter_folder(cfg.init_adapter):
            raise InputError(f"init_adapter {cfg.init_adapter} is not a Mirage adapter folder")
