"""The Mirage memory adapter for a pretrained Wan DiT: zero-initialised memory input channels + LoRA (peft).

Mirage (paper Sec. 3.3) conditions a pretrained video model on the memory read. Here the read enters a stock
diffusers ``WanTransformer3DModel`` (e.g. Wan2.2-TI2V-5B) as ``C + 1`` extra input channels of its patch embedding,
``[noisy latent (C), warped memory latent (C), coverage (1)]``
(:func:`~mirage_world.pipelines.conditioning.denoiser_input`), the new weights zero-initialised so that the adapted
model's output equals the base model's at the start of training for any read (tested). The backbone adapts through
a LoRA (peft) on the attention projections and the feed-forward layers of every block; training updates the LoRA
and the whole patch embedding, nothing else.

An adapter folder (:func:`save_adapter` / :func:`load_adapter`)::

    adapter_config.json                 {"format": "mirage-adapter", "version": 1, "latent_channels", ...}
    memory_patch_embedding.safetensors  patch_embedding.weight (D, 2C + 1, pt, ph, pw), patch_embedding.bias (D,)
    pytorch_lora_weights.safetensors    the LoRA in diffusers' convention (keys ``transformer.<module>.lora_A.weight``,
                                        peft ``LoraConfig`` in the ``lora_adapter_metadata`` header), written by
                                        ``WanLoraLoaderMixin.save_lora_weights`` as diffusers' LoRA training
                                        scripts do, so ``transformer.load_lora_adapter(folder, prefix="transformer")``
                                        also reads it

Widening happens in place (only the patch embedding is replaced): a copy of a 5B-parameter model, as
:func:`~mirage_world.models.tiny.widen_patch_embedding` makes, would double the memory it needs. The result is the
same as that function's (tested).

Sources: LoRA (Hu et al., ICLR 2022) through peft's ``LoraConfig``; diffusers' ``PeftAdapterMixin.add_adapter`` and
``WanLoraLoaderMixin.save_lora_weights`` (diffusers 0.35+); zero-initialised input channels as in ControlNet /
InstructPix2Pix's input widening.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel

from .tiny import memory_channels

__all__ = ["ADAPTER_TARGETS", "ADAPTER_NAME", "ADAPTER_CONFIG", "PATCH_EMBEDDING_WEIGHTS", "LORA_WEIGHTS",
           "add_memory_adapter", "prepare_for_training", "save_adapter", "load_adapter", "is_adapter_folder",
           "widen_in_place"]

#: LoRA target modules (peft suffix match) in every Wan DiT block: self-attention ``attn1`` and cross-attention
#: ``attn2`` (``to_q``, ``to_k``, ``to_v``, ``to_out.0``) and the feed-forward ``FeedForward`` (``net.0.proj``:
#: the GELU input projection, ``net.2``: the output projection). Names as in diffusers' ``WanTransformerBlock``.
ADAPTER_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2")
#: The peft adapter name of the Mirage LoRA.
ADAPTER_NAME = "mirage"
ADAPTER_CONFIG = "adapter_config.json"
PATCH_EMBEDDING_WEIGHTS = "memory_patch_embedding.safetensors"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
FORMAT = "mirage-adapter"
VERSION = 1


def _check_transformer(transformer) -> None:
    if not isinstance(transformer, WanTransformer3DModel):
        raise ValueError(f"expected a diffusers WanTransformer3DModel, got {type(transformer).__name__}")


def widen_in_place(transformer: WanTransformer3DModel, latent_channels: int) -> WanTransformer3DModel:
    """Widen the patch embedding of ``transformer`` in place from ``C`` to ``2C + 1`` input channels.

    The new ``C + 1`` input channels (``[warped latent, coverage]``) get zero weights, the old ones keep theirs;
    the config's ``in_channels`` becomes ``2C + 1`` and ``out_channels`` stays ``C``. A transformer that already
    takes ``2C + 1`` channels is returned unchanged.

    Args:
        transformer: ``WanTransformer3DModel`` with ``in_channels`` ``C`` or ``2C + 1``.
        latent_channels: ``C``, the VAE's latent channels.

    Returns:
        the same ``transformer`` object.

    Raises:
        ValueError: ``in_channels`` is neither ``C`` nor ``2C + 1``, or ``latent_channels < 1``.
    """
    _check_transformer(transformer)
    C = int(latent_channels)
    if C < 1:
        raise ValueError(f"latent_channels must be >= 1, got {latent_channels}")
    old = transformer.patch_embedding
    wide_channels = C + memory_channels(C)
    if old.in_channels == wide_channels:
        return transformer
    if old.in_channels != C:
        raise ValueError(f"the transformer takes {old.in_channels} input channels; a memory adapter for "
                         f"{C}-channel latents needs {C} (base) or {wide_channels} (already widened)")
    new = torch.nn.Conv3d(wide_channels, old.out_channels, kernel_size=old.kernel_size, stride=old.stride,
                          device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :C] = old.weight  # (D, C, pt, ph, pw)
        new.bias.copy_(old.bias)
    new.requires_grad_(old.weight.requires_grad)
    transformer.patch_embedding = new
    transformer.register_to_config(in_channels=wide_channels, out_channels=transformer.config.out_channels or C)
    return transformer


def _lora_config(rank: int, alpha: float, targets):
    from peft import LoraConfig

    return LoraConfig(r=int(rank), lora_alpha=float(alpha), init_lora_weights=True, target_modules=list(targets))


def add_memory_adapter(
    transformer: WanTransformer3DModel,
    latent_channels: int,
    rank: int = 16,
    alpha: float | None = None,
    targets=ADAPTER_TARGETS,
    lora: bool = True,
) -> WanTransformer3DModel:
    """Add the Mirage memory adapter to a Wan DiT: memory input channels (zero-init) and, optionally, a LoRA.

    The patch embedding is widened in place to ``2C + 1`` input channels ``[noisy, read, coverage]``
    (:func:`widen_in_place`; not again if already widened); with ``lora`` a peft LoRA named ``"mirage"`` is added
    through diffusers' ``transformer.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank,
    init_lora_weights=True, target_modules=targets))``. LoRA's ``B`` starts at zero, so the output equals the base
    model's for any memory read until training changes it (tested).

    Args:
        transformer: a ``WanTransformer3DModel`` taking ``C`` (or ``2C + 1``) input channels.
        latent_channels: ``C`` (Wan2.2-TI2V-5B: 48).
        rank: LoRA rank (``>= 1``).
        alpha: LoRA alpha (scale ``alpha / rank``); default ``rank``.
        targets: module name suffixes to adapt (default :data:`ADAPTER_TARGETS`).
        lora: add the LoRA (``False``: memory channels only).

    Returns:
        the same ``transformer`` object, adapted.

    Raises:
        ValueError: bad channel counts (see :func:`widen_in_place`), ``rank < 1``, ``alpha <= 0``, no target
            module found, or a ``"mirage"`` adapter already present.
    """
    _check_transformer(transformer)
    if lora:
        if int(rank) < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        if alpha is not None and not float(alpha) > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        targets = tuple(targets)
        names = [n for n, _ in transformer.named_modules()]
        missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
        if not targets or missing:
            raise ValueError(f"LoRA target modules not found in the transformer: {missing or 'none given'}")
        if ADAPTER_NAME in (getattr(transformer, "peft_config", None) or {}):
            raise ValueError(f"the transformer already has a {ADAPTER_NAME!r} adapter")
    widen_in_place(transformer, latent_channels)
    if lora:
        transformer.add_adapter(_lora_config(rank, alpha or rank, targets), adapter_name=ADAPTER_NAME)
    return transformer


def prepare_for_training(transformer: WanTransformer3DModel, upcast: bool = True) -> list[torch.nn.Parameter]:
    """Freeze everything but the memory adapter: the ``"mirage"`` LoRA parameters and the whole patch embedding
    train (another LoRA loaded beside it stays frozen).

    Args:
        transformer: a transformer after :func:`add_memory_adapter` (or :func:`load_adapter`).
        upcast: cast the trainable parameters to float32 (the frozen backbone may stay bf16 / fp16, as diffusers'
            LoRA scripts do with ``cast_training_params``); mixed-precision autocast handles the forward pass.

    Returns:
        the trainable parameters, in ``named_parameters`` order (for the optimiser).
    """
    _check_transformer(transformer)
    transformer.requires_grad_(False)
    params = []
    for name, p in transformer.named_parameters():
        if (".lora_" in name and f".{ADAPTER_NAME}." in name) or name.startswith("patch_embedding."):
            if upcast and p.dtype != torch.float32:
                p.data = p.data.float()
            p.requires_grad_(True)
            params.append(p)
    return params


def _expected_lora_shapes(transformer, rank: int, targets) -> dict[str, tuple[int, int]]:
    """``{"<module>.lora_A.weight": (r, in), "<module>.lora_B.weight": (out, r)}`` for every ``Linear`` that peft's
    own matcher (``check_target_module_exists``) selects for ``targets``."""
    from peft.tuners.tuners_utils import BaseTunerLayer, check_target_module_exists

    pc = _lora_config(rank, rank, targets)
    out = {}
    for name, module in transformer.named_modules():
        if isinstance(module, BaseTunerLayer):  # a layer that already carries a LoRA: its wrapped Linear
            module = module.get_base_layer()
        if isinstance(module, torch.nn.Linear) and check_target_module_exists(pc, name):
            out[f"{name}.lora_A.weight"] = (int(rank), module.in_features)
            out[f"{name}.lora_B.weight"] = (module.out_features, int(rank))
    return out


def _has_lora(transformer) -> bool:
    return ADAPTER_NAME in (getattr(transformer, "peft_config", None) or {})


def save_adapter(transformer: WanTransformer3DModel, folder, latent_channels: int) -> Path:
    """Write the memory adapter of ``transformer`` to ``folder`` (created; files overwritten).

    Files: ``adapter_config.json`` (``format``, ``version``, ``latent_channels``, ``base_in_channels``, ``rank``,
    ``alpha``, ``targets``, ``lora``), ``memory_patch_embedding.safetensors`` (the widened patch embedding's
    ``weight (D, 2C + 1, pt, ph, pw)`` and ``bias (D,)``) and, with a LoRA, ``pytorch_lora_weights.safetensors``
    (diffusers' convention, see the module doc). Pass the unwrapped model (``accelerator.unwrap_model``).

    Returns:
        ``Path(folder)``.

    Raises:
        ValueError: the transformer is not widened to ``2C + 1`` input channels.
    """
    from diffusers.loaders import WanLoraLoaderMixin
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    _check_transformer(transformer)
    C = int(latent_channels)
    pe = transformer.patch_embedding
    if pe.in_channels != C + memory_channels(C):
        raise ValueError(f"the transformer takes {pe.in_channels} input channels, not {C + memory_channels(C)}: "
                         "add the memory adapter (add_memory_adapter) before saving it")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lora = _has_lora(transformer)
    cfg = {"format": FORMAT, "version": VERSION, "latent_channels": C, "base_in_channels": C,
           "rank": None, "alpha": None, "targets": None, "lora": lora}
    save_file({"patch_embedding.weight": pe.weight.detach().contiguous().cpu(),
               "patch_embedding.bias": pe.bias.detach().contiguous().cpu()}, folder / PATCH_EMBEDDING_WEIGHTS)
    if lora:
        pc = transformer.peft_config[ADAPTER_NAME]
        targets = pc.target_modules
        targets = sorted(targets) if isinstance(targets, (set, frozenset)) else list(targets)
        cfg.update(rank=int(pc.r), alpha=float(pc.lora_alpha), targets=targets)
        layers = {k: v.detach().contiguous().cpu()
                  for k, v in get_peft_model_state_dict(transformer, adapter_name=ADAPTER_NAME).items()}
        meta = pc.to_dict()
        meta = {k: sorted(v) if isinstance(v, (set, frozenset)) else v for k, v in meta.items()}
        WanLoraLoaderMixin.save_lora_weights(folder, transformer_lora_layers=layers, weight_name=LORA_WEIGHTS,
                                             transformer_lora_adapter_metadata=meta)
    elif (folder / LORA_WEIGHTS).exists():
        (folder / LORA_WEIGHTS).unlink()  # a stale LoRA from an earlier save must not be picked up
    (folder / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=1))
    return folder


def _read_config(folder: Path) -> dict:
    path = folder / ADAPTER_CONFIG
    if not folder.is_dir():
        raise ValueError(f"adapter folder {folder} does not exist or is not a folder")
    if not path.is_file():
        raise ValueError(f"{folder} is not a Mirage adapter folder: {ADAPTER_CONFIG} is missing")
    try:
        cfg = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        got = cfg.get("format") if isinstance(cfg, dict) else cfg
        raise ValueError(f"{path}: format must be {FORMAT!r}, got {got!r}")
    if cfg.get("version") != VERSION:
        raise ValueError(f"{path}: version {cfg.get('version')!r} is not supported (this library reads {VERSION})")
    C = cfg.get("latent_channels")
    if not isinstance(C, int) or isinstance(C, bool) or C < 1:
        raise ValueError(f"{path}: latent_channels must be a positive integer, got {C!r}")
    if not isinstance(cfg.get("lora"), bool):
        raise ValueError(f"{path}: lora must be true or false, got {cfg.get('lora')!r}")
    if cfg["lora"]:
        r, a, t = cfg.get("rank"), cfg.get("alpha"), cfg.get("targets")
        if not isinstance(r, int) or r < 1 or not isinstance(a, (int, float)) or not a > 0:
            raise ValueError(f"{path}: a LoRA adapter needs rank >= 1 and alpha > 0, got rank={r!r}, alpha={a!r}")
        if not isinstance(t, list) or not t or not all(isinstance(x, str) for x in t):
            raise ValueError(f"{path}: targets must be a non-empty list of module names, got {t!r}")
    return cfg


def is_adapter_folder(path) -> bool:
    """Whether ``path`` is a folder holding a Mirage adapter (an ``adapter_config.json`` of format
    ``"mirage-adapter"``). Never raises."""
    try:
        cfg = json.loads((Path(path) / ADAPTER_CONFIG).read_text())
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(cfg, dict) and cfg.get("format") == FORMAT


def _load_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise ValueError(f"adapter file missing: {path} ({what})")
    try:
        return load_file(path)
    except Exception as e:  # safetensors raises its own error types for truncated / foreign files
        raise ValueError(f"cannot read {path} ({what}): {e}") from None


def load_adapter(transformer: WanTransformer3DModel, folder, fuse: bool = False) -> WanTransformer3DModel:
    """Load a Mirage adapter folder (written by :func:`save_adapter`) into a base Wan DiT, in place.

    Checks the folder first (config, files, shapes), then widens the patch embedding
    (:func:`widen_in_place`), loads its weights and, if the adapter has a LoRA, adds a peft LoRA ``"mirage"`` with
    the saved rank / alpha / targets and loads its weights with ``set_peft_model_state_dict`` (every key must
    match, no key may be left out).

    Args:
        transformer: ``WanTransformer3DModel`` with ``in_channels`` ``C`` (or ``2C + 1``), ``C`` the adapter's
            ``latent_channels``.
        folder: the adapter folder.
        fuse: merge the LoRA into the base weights (diffusers' ``fuse_lora``): faster inference, same output up
            to rounding.

    Returns:
        the same ``transformer`` object, in eval mode.

    A transformer that already carries a ``"mirage"`` adapter of the same configuration (rank, alpha, targets) gets
    its adapter weights replaced (how the trainer resumes from a checkpoint).

    Raises:
        ValueError: missing files, a config of another format / version, ``latent_channels`` not matching the
            transformer's ``in_channels``, weights whose names or shapes do not match the transformer, or a
            ``"mirage"`` adapter of another configuration already there.
    """
    from peft import set_peft_model_state_dict

    _check_transformer(transformer)
    folder = Path(folder)
    cfg = _read_config(folder)
    C = cfg["latent_channels"]
    wide = C + memory_channels(C)
    pe = transformer.patch_embedding
    if pe.in_channels not in (C, wide):
        raise ValueError(f"adapter {folder} is for {C}-channel latents (a transformer with {C} input channels), "
                         f"but the transformer takes {pe.in_channels}")
    reload = _has_lora(transformer)
    if reload:  # e.g. resuming training: the same adapter is there already, only its weights are replaced
        pc = transformer.peft_config[ADAPTER_NAME]
        same = cfg["lora"] and int(pc.r) == cfg["rank"] and float(pc.lora_alpha) == float(cfg["alpha"]) and \
            set(pc.target_modules) == set(cfg["targets"]) and pe.in_channels == wide
        if not same:
            raise ValueError(f"the transformer already has a {ADAPTER_NAME!r} adapter with another configuration "
                             f"than {folder}; load into a fresh base model")
    emb = _load_tensors(folder / PATCH_EMBEDDING_WEIGHTS, "patch embedding")
    want = {"patch_embedding.weight": (pe.out_channels, wide, *pe.kernel_size),
            "patch_embedding.bias": (pe.out_channels,)}
    if set(emb) != set(want):
        raise ValueError(f"{folder / PATCH_EMBEDDING_WEIGHTS}: expected tensors {sorted(want)}, found {sorted(emb)}")
    for k, shape in want.items():
        if tuple(emb[k].shape) != shape:
            raise ValueError(f"{folder / PATCH_EMBEDDING_WEIGHTS}: {k} has shape {tuple(emb[k].shape)}, "
                             f"the transformer needs {shape}")
        if not torch.isfinite(emb[k]).all():
            raise ValueError(f"{folder / PATCH_EMBEDDING_WEIGHTS}: {k} has non-finite values")
    lora_sd = None
    if cfg["lora"]:
        raw = _load_tensors(folder / LORA_WEIGHTS, "LoRA weights")
        bad = [k for k in raw if not k.startswith("transformer.")]
        if bad:
            raise ValueError(f"{folder / LORA_WEIGHTS}: keys must start with 'transformer.', e.g. {bad[0]!r}")
        lora_sd = {k.removeprefix("transformer."): v for k, v in raw.items()}
        expected = _expected_lora_shapes(transformer, cfg["rank"], cfg["targets"])
        problem = None
        if set(expected) != set(lora_sd):
            extra, lacking = sorted(set(lora_sd) - set(expected)), sorted(set(expected) - set(lora_sd))
            problem = f"LoRA keys do not match the transformer (unexpected: {extra[:3]}, missing: {lacking[:3]})"
        else:
            wrong = [k for k in expected if tuple(lora_sd[k].shape) != expected[k]]
            if wrong:
                k = wrong[0]
                problem = f"LoRA tensor {k} has shape {tuple(lora_sd[k].shape)}, the transformer needs {expected[k]}"
        if problem is None and not all(torch.isfinite(v).all() for v in lora_sd.values()):
            problem = "LoRA weights have non-finite values"
        if problem is not None:
            raise ValueError(f"{folder / LORA_WEIGHTS}: {problem}")

    widen_in_place(transformer, C)
    with torch.no_grad():
        transformer.patch_embedding.weight.copy_(emb["patch_embedding.weight"])
        transformer.patch_embedding.bias.copy_(emb["patch_embedding.bias"])
    if lora_sd is not None:
        if not reload:
            transformer.add_adapter(_lora_config(cfg["rank"], cfg["alpha"], cfg["targets"]),
                                    adapter_name=ADAPTER_NAME)
        result = set_peft_model_state_dict(transformer, lora_sd, adapter_name=ADAPTER_NAME)
        lacking = [k for k in result.missing_keys if ".lora_" in k and ADAPTER_NAME in k]
        if result.unexpected_keys or lacking:  # cannot happen after the checks above; a peft naming change would
            raise ValueError(f"{folder / LORA_WEIGHTS}: peft did not load every LoRA tensor "
                             f"(unexpected: {result.unexpected_keys[:3]}, missing: {lacking[:3]})")
        if fuse:
            transformer.fuse_lora(adapter_names=[ADAPTER_NAME])
    return transformer.eval()
