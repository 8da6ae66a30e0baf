"""Model and memory options shared by the commands (``mirage generate``, ``mirage eval ...``): resolve ``--model``,
check the model options against its config files before anything loads, load and place the pipeline, and build the
memory configuration from option strings. Every check raises :class:`~mirage_world.errors.InputError`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

from .defaults import DEFAULT_MODEL
from .errors import InputError

__all__ = ["MIN_CFG", "MAX_CFG", "DTYPES", "MAX_CAPACITY", "ModelRun", "memory_config", "model_geometry",
           "check_model_options", "resolve_model", "check_model_against_configs", "load_pipeline"]

MIN_CFG, MAX_CFG = 1.0, 50.0  #: --guidance-scale
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}  #: --dtype (besides "auto")
MAX_CAPACITY = 2**31 - 1  #: --capacity


def memory_config(memory_dtype: str, voxel_size: str, fusion: str, capacity, splat: str):
    """The pipeline's :class:`~mirage_world.pipelines.MemoryConfig` from the CLI options (``InputError`` if bad)."""
    from .memory.latent_memory import FUSION_POLICIES, STORAGE_DTYPES
    from .memory.splat import SPLAT_MODES
    from .pipelines.pipeline_mirage import MemoryConfig

    for name, value, allowed in (("--memory-dtype", memory_dtype, STORAGE_DTYPES), ("--fusion", fusion, FUSION_POLICIES),
                                 ("--splat", splat, SPLAT_MODES)):
        if value not in allowed:
            raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        raise InputError(f"--capacity must be in 1..{MAX_CAPACITY}, got {capacity}")
    if voxel_size in ("auto", "off"):
        vs = None if voxel_size == "off" else "auto"
    else:
        try:
            vs = float(voxel_size)
        except ValueError:
            raise InputError(f"--voxel-size must be metres, 'auto' or 'off', got {voxel_size!r}") from None
        if not (vs > 0 and math.isfinite(vs)):
            raise InputError(f"--voxel-size must be > 0 metres, 'auto' or 'off', got {voxel_size!r}")
    return MemoryConfig(dtype=memory_dtype, voxel_size=vs, fusion=fusion, capacity=capacity, splat=splat)


def model_geometry(model: Path) -> Optional[tuple[int, int]]:
    """Check a pipeline folder from its config files alone (nothing loaded) and return its output size multiple
    (VAE spatial factor x transformer patch) and VAE spatial factor, or ``None`` when the configs do not tell them
    (checked after loading).

    Raises:
        InputError: not a folder, no ``model_index.json``, a component or its config missing or unreadable.
    """
    from types import SimpleNamespace

    try:
        ok = model.is_dir() and (model / "model_index.json").is_file()
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"model directory not found or not a diffusers pipeline: {model}")
    configs = {}
    try:
        index = json.loads((model / "model_index.json").read_text())
        if not isinstance(index, dict):
            raise ValueError("not a JSON object")
        for comp, name in (("vae", "config.json"), ("transformer", "config.json"), ("scheduler", "scheduler_config.json")):
            if comp not in index:
                raise InputError(f"cannot load the pipeline from {model}: model_index.json lists no {comp!r}")
            cfg = model / comp / name
            if not cfg.is_file():
                raise InputError(f"cannot load the pipeline from {model}: {comp}/{name} is missing")
            configs[comp] = json.loads(cfg.read_text())
    except InputError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"cannot load the pipeline from {model}: {type(e).__name__}: {e}") from None
    try:
        from diffusers.configuration_utils import FrozenDict

        from .pipelines.pipeline_mirage import vae_scale_factors

        spatial, _ = vae_scale_factors(SimpleNamespace(config=FrozenDict(configs["vae"])))
        patch = configs["transformer"].get("patch_size")
        return int(spatial) * int(patch[1]), int(spatial)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


class ModelRun:
    """What the model options resolve to (device, dtypes, text and adapter settings), checked before any load."""

    def __init__(self, device, dtype_name: str, offload: bool, guidance_scale, adapter):
        self.device, self.dtype_name, self.offload = device, dtype_name, offload
        self.guidance_scale, self.adapter = guidance_scale, adapter
        self.text_encoder = False
        self.negative_prompt = None
        self.vae_tiling = False

    def call_kwargs(self, prompt) -> dict:
        if not self.text_encoder:
            return {}
        return {"prompt": prompt or "", "negative_prompt": self.negative_prompt,
                "guidance_scale": self.guidance_scale}

    def describe(self, prompt, adapter) -> dict:
        return {"device": str(self.device), "dtype": self.dtype_name, "offload": self.offload,
                "vae_tiling": self.vae_tiling, "adapter": None if adapter is None else str(adapter),
                "text_encoder": self.text_encoder, "prompt": prompt if self.text_encoder else None,
                "negative_prompt": self.negative_prompt, "guidance_scale": self.guidance_scale}


def check_model_options(device: str, dtype: str, offload: bool, guidance_scale, adapter) -> ModelRun:
    """Check the model options' values alone (no file read, nothing loaded): device, dtype, --offload,
    --guidance-scale range, --adapter folder."""
    import torch

    text = str(device).strip().lower()
    if text == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(text)
        except (RuntimeError, TypeError, ValueError):
            raise InputError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}") from None
        if dev.type not in ("cpu", "cuda"):
            raise InputError(f"--device must be cpu, cuda, cuda:N or auto, got {device!r}")
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise InputError(f"--device {device}: no CUDA GPU is available to torch {torch.__version__} here "
                                 "(torch.cuda.is_available() is False); use --device cpu")
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise InputError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
    if dtype not in ("auto", *DTYPES):
        raise InputError(f"--dtype must be one of auto, {', '.join(DTYPES)}, got {dtype!r}")
    name = ("bf16" if dev.type == "cuda" else "fp32") if dtype == "auto" else dtype
    if name == "fp16" and dev.type == "cpu":
        raise InputError("--dtype fp16 needs --device cuda (3D convolutions have no float16 CPU kernels); use bf16 or fp32")
    if offload and dev.type != "cuda":
        raise InputError(f"--offload moves models between the CPU and a GPU: it needs --device cuda (device here: {dev})")
    if guidance_scale is not None and not (math.isfinite(guidance_scale) and MIN_CFG <= guidance_scale <= MAX_CFG):
        raise InputError(f"--guidance-scale must be in {MIN_CFG:g}..{MAX_CFG:g} (1: no classifier-free guidance), "
                         f"got {guidance_scale}")
    from .models.adapter import is_adapter_folder

    if adapter is not None and not is_adapter_folder(adapter):
        raise InputError(f"--adapter {adapter} is not a Mirage adapter folder (no adapter_config.json of format "
                         "'mirage-adapter'; the trainer writes one)")
    return ModelRun(dev, name, offload, guidance_scale, adapter)


def resolve_model(model: Path) -> Path:
    """``--model`` as a folder: the embedded model's, a user's folder, or a hub id's snapshot in the local Hugging Face
    cache (``ModelNotFoundError`` with the ``hf download`` command when it is not there)."""
    from .models.wan import resolve_pretrained

    if model == DEFAULT_MODEL:
        return model
    return resolve_pretrained(model)


def check_model_against_configs(run: ModelRun, model: Path, prompt, negative_prompt, vae_tiling) -> ModelRun:
    """Checks that need the model's config files (read, nothing loaded): text options need a text encoder, an
    adapter must fit the VAE's latent width and a base transformer, --vae-tiling a VAE that tiles."""
    from .models.adapter import ADAPTER_CONFIG
    from .models.tiny import memory_channels
    from .models.wan import WAN_NEGATIVE_PROMPT

    try:
        index = json.loads((model / "model_index.json").read_text())
        vae_cfg = json.loads((model / "vae" / "config.json").read_text())
        tr_cfg = json.loads((model / "transformer" / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load the pipeline from {model}: {type(e).__name__}: {e}") from None

    def listed(name: str) -> bool:
        entry = index.get(name)
        return isinstance(entry, list) and len(entry) == 2 and entry[0] is not None and (model / name).is_dir()

    if listed("transformer_2"):
        raise InputError(f"{model} is a two-expert model (transformer_2, e.g. Wan2.2-A14B); mirage runs "
                         "single-transformer models such as Wan2.2-TI2V-5B")
    run.text_encoder = listed("text_encoder") and listed("tokenizer")
    if not run.text_encoder:
        given = [o for o, v in (("--prompt", prompt), ("--negative-prompt", negative_prompt)) if v is not None]
        if run.guidance_scale is not None and run.guidance_scale > 1:
            given.append(f"--guidance-scale {run.guidance_scale:g}")
        if given:
            raise InputError(f"{' and '.join(given)} need(s) a model with a text encoder; {model} has none "
                             "(the embedded tiny model is image-only)")
        run.guidance_scale = None
    else:
        if run.guidance_scale is None:
            run.guidance_scale = 5.0
        run.negative_prompt = WAN_NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
    C = vae_cfg.get("z_dim") or vae_cfg.get("latent_channels")
    if run.adapter is not None:
        try:
            acfg = json.loads((run.adapter / ADAPTER_CONFIG).read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"--adapter {run.adapter}: cannot read {ADAPTER_CONFIG}: {e}") from None
        if isinstance(C, int) and acfg.get("latent_channels") != C:
            raise InputError(f"--adapter {run.adapter} is for {acfg.get('latent_channels')}-channel latents; the VAE "
                             f"of {model} has {C}")
        if isinstance(C, int) and tr_cfg.get("in_channels") == C + memory_channels(C):
            raise InputError(f"--adapter: the transformer of {model} already takes the memory as input (a trained "
                             "Mirage model); adapters load into a base model")
    if vae_tiling:
        cls = vae_cfg.get("_class_name")
        if cls not in ("AutoencoderKLWan", "AutoencoderKL", "AutoencoderKLCogVideoX", "AutoencoderKLHunyuanVideo",
                       "AutoencoderKLLTXVideo", "AutoencoderKLMochi"):
            raise InputError(f"--vae-tiling: the VAE of {model} ({cls}) has no tiled decoding (the embedded model's "
                             "per-frame TAEF2 needs none)")
        run.vae_tiling = True
    return run


def load_pipeline(pipeline_class, model: Path, model_dir: Path, run: ModelRun):
    """Load the pipeline in the requested dtypes, add the adapter, then place it (device or CPU offload, tiling)."""
    import torch

    dtype = getattr(torch, DTYPES[run.dtype_name])
    try:
        pipe = pipeline_class.from_pretrained(str(model_dir), dtype={"default": dtype, "vae": torch.float32})
    except (OSError, KeyError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise InputError(f"cannot load the pipeline from {model}: {type(e).__name__}: {e}") from None
    if run.adapter is not None:
        try:
            pipe.load_mirage_adapter(run.adapter)
        except ValueError as e:
            raise InputError(f"--adapter {run.adapter}: {e}") from None
    if run.vae_tiling:
        pipe.enable_vae_tiling()
    if run.offload:
        pipe.enable_model_cpu_offload(device=run.device)
    elif run.device.type != "cpu":
        pipe.to(run.device)
    return pipe
