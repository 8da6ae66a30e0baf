"""Wan2.2-TI2V-5B: the facts the pipeline relies on, a tiny random model of the same architecture, and helpers.

The real model is ``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` (Apache-2.0), a diffusers folder::

    model_index.json   WanPipeline, expand_timesteps=true (per-token timesteps, first latent frame held clean)
    vae/               AutoencoderKLWan: z_dim 48, patch_size 2 + 3 spatial downsamples = 16x, 4x temporal
    transformer/       WanTransformer3DModel: in/out 48 channels, patch (1, 2, 2), 30 blocks of width 3072
    text_encoder/      UMT5EncoderModel (umt5-xxl encoder, d_model 4096), bf16
    tokenizer/         T5TokenizerFast (umt5-xxl, 256k pieces)
    scheduler/         UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                       flow_shift=5.0)

Sources: diffusers ``scripts/convert_wan_to_diffusers.py`` (``"Wan2.2-TI2V-5B"`` transformer config,
``vae22_diffusers_config``, the UniPC scheduler with ``flow_shift=5.0`` and ``WanPipeline(..., expand_timesteps=True)``);
diffusers ``pipelines/wan/pipeline_wan.py`` / ``pipeline_wan_i2v.py`` (prompt encoding, ``expand_timesteps``);
Wan2.2 ``wan/configs/shared_config.py`` and ``wan_ti2v_5B.py`` (text length 512, negative prompt, 1280x704, 121
frames at 24 fps, 50 steps, guidance 5.0, shift 5.0) and the Wan2.2 README (24 GB on an RTX 4090 with offloading).

:func:`tiny_wan22_components` builds the same component classes with the same configuration *shape* (48 latent
channels, 16x / 4x, patch (1, 2, 2), residual VAE with 12-channel patchified input, a UMT5 text encoder and a T5
tokenizer) at a width that runs in a second on a CPU: tests and ``scripts/device_check.sh`` use it. It has random
weights and produces noise; it checks the plumbing, not the picture.

:func:`resolve_pretrained` turns ``--model PATH_OR_HUB_ID`` into a local folder without loading anything (hub ids
only from the local Hugging Face cache); :func:`estimate_peak_memory` is the arithmetic behind the README's VRAM
figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .depth import ModelNotFoundError, resolve_model_source

__all__ = [
    "WAN22_TI2V_5B",
    "WAN22_VAE_ARCH",
    "WAN22_TRANSFORMER_CONFIG",
    "WAN22_TEXT_ENCODER",
    "WAN22_PARAMETERS",
    "WAN22_SAMPLING",
    "WAN_NEGATIVE_PROMPT",
    "TEXT_MAX_SEQUENCE_LENGTH",
    "TINY_WAN22_VAE_CONFIG",
    "TINY_WAN22_TRANSFORMER_CONFIG",
    "TINY_UMT5_CONFIG",
    "WAN22_MODEL_INDEX",
    "tiny_wan22_components",
    "save_tiny_wan22",
    "tiny_t5_tokenizer",
    "resolve_pretrained",
    "download_command",
    "DIT_BYTES_PER_TOKEN",
    "VAE_DECODE_GIB_PER_MPIXEL",
    "VAE_DECODE_GIB_PER_MPIXEL_PER_EXTRA_FRAME",
    "VAE_ENCODE_GIB_PER_MPIXEL",
    "VAE_TILE",
    "MemoryEstimate",
    "estimate_peak_memory",
]

#: Hub id of the diffusers-format weights.
WAN22_TI2V_5B = "Wan-AI/Wan2.2-TI2V-5B-Diffusers"

#: ``AutoencoderKLWan`` config of Wan2.2's VAE (diffusers ``vae22_diffusers_config``, without the 48 latent means /
#: stds): 12 input channels = RGB patchified 2x2, then 3 spatial downsamples (8x) -> 16x; 2 temporal -> 4x.
WAN22_VAE_ARCH: dict = dict(
    base_dim=160,
    decoder_base_dim=256,
    z_dim=48,
    dim_mult=[1, 2, 4, 4],
    num_res_blocks=2,
    attn_scales=[],
    temperal_downsample=[False, True, True],
    is_residual=True,
    in_channels=12,
    out_channels=12,
    patch_size=2,
    scale_factor_spatial=16,
    scale_factor_temporal=4,
)

#: ``WanTransformer3DModel`` config of Wan2.2-TI2V-5B (diffusers' conversion script): 30 blocks, 24 heads x 128.
WAN22_TRANSFORMER_CONFIG: dict = dict(
    added_kv_proj_dim=None,
    attention_head_dim=128,
    cross_attn_norm=True,
    eps=1e-6,
    ffn_dim=14336,
    freq_dim=256,
    in_channels=48,
    num_attention_heads=24,
    num_layers=30,
    out_channels=48,
    patch_size=[1, 2, 2],
    qk_norm="rms_norm_across_heads",
    text_dim=4096,
)

#: The text encoder: the encoder half of google/umt5-xxl (``UMT5EncoderModel``), stored in bf16.
WAN22_TEXT_ENCODER: dict = dict(d_model=4096, num_layers=24, num_heads=64, d_kv=64, d_ff=10240, vocab_size=256384)

#: Parameter counts of the three models (``sum(p.numel())`` of the configs above built on the meta device; the
#: text encoder counted with its input embedding tied to ``shared``, 256384 x 4096).
WAN22_PARAMETERS: dict = dict(transformer=4_999_787_712, vae=704_688_668, text_encoder=5_680_910_336)

#: Wan2.2-TI2V-5B's own sampling settings (wan/configs/wan_ti2v_5B.py).
WAN22_SAMPLING: dict = dict(width=1280, height=704, frames=121, fps=24, steps=50, guidance_scale=5.0, flow_shift=5.0)

#: Tokens per prompt: prompts are padded / truncated to this many and embedded with zeros after their end
#: (Wan's ``text_len``; diffusers' ``_get_t5_prompt_embeds``).
TEXT_MAX_SEQUENCE_LENGTH = 512

#: Wan's default negative prompt (wan/configs/shared_config.py ``sample_neg_prompt``), used by ``mirage generate``
#: for models with a text encoder when ``--negative-prompt`` is not given.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，"
    "杂乱的背景，三条腿，背景人很多，倒着走"
)

#: Tiny VAE of the Wan2.2 layout: same keys as :data:`WAN22_VAE_ARCH`, widths 16 / 24 instead of 160 / 256, one
#: residual block per level, latent mean 0 / std 1 (5 M parameters).
TINY_WAN22_VAE_CONFIG: dict = {
    **WAN22_VAE_ARCH,
    "base_dim": 16,
    "decoder_base_dim": 24,
    "num_res_blocks": 1,
    "latents_mean": [0.0] * 48,
    "latents_std": [1.0] * 48,
}

#: Tiny DiT of the Wan2.2-TI2V-5B layout: 1 block, 2 heads x 16, cross-attention over 32-d text tokens.
TINY_WAN22_TRANSFORMER_CONFIG: dict = {
    **WAN22_TRANSFORMER_CONFIG,
    "attention_head_dim": 16,
    "num_attention_heads": 2,
    "ffn_dim": 64,
    "freq_dim": 32,
    "num_layers": 1,
    "text_dim": 32,
    "rope_max_seq_len": 1024,
}

#: Tiny UMT5 encoder: ``d_model`` = the tiny DiT's ``text_dim``.
TINY_UMT5_CONFIG: dict = dict(
    vocab_size=128,
    d_model=32,
    d_kv=8,
    d_ff=64,
    num_layers=1,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
    feed_forward_proj="gated-gelu",
    dropout_rate=0.0,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)

_TINY_WORDS = (
    "a the of and camera moves slowly through quiet room with wooden desk chair window light walls floor table "
    "lamp book plant door street car tree sky cloud sun house kitchen office forward left right turn orbit "
    "bright dark warm cold photo scene video"
).split()


def tiny_t5_tokenizer(vocab_size: int = TINY_UMT5_CONFIG["vocab_size"]):
    """A T5 tokenizer (transformers' ``T5TokenizerFast``, a tokenizers ``Unigram`` model) with a few dozen English
    words as whole pieces plus the letters, built offline without sentencepiece.

    Ids: ``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2 as in T5 / UMT5; all ids ``< vocab_size``.

    Raises:
        ValueError: ``vocab_size`` too small for the pieces.
    """
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + w, -3.0 - 0.01 * i) for i, w in enumerate(_TINY_WORDS)]
    pieces += [(c, -8.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    if len(pieces) > vocab_size:
        raise ValueError(f"vocab_size must be >= {len(pieces)}, got {vocab_size}")
    return T5TokenizerFast(vocab=pieces, extra_ids=0, model_max_length=TEXT_MAX_SEQUENCE_LENGTH)


def tiny_wan22_components(seed: int = 0) -> dict:
    """Random-init components of Wan2.2-TI2V-5B's classes and configuration shape, tiny widths.

    Returns:
        ``{"vae": AutoencoderKLWan, "transformer": WanTransformer3DModel, "text_encoder": UMT5EncoderModel,
        "tokenizer": T5TokenizerFast, "scheduler": UniPCMultistepScheduler}`` -- pass them to
        ``MiragePipeline(**components)``. The transformer is the base model (48 input channels: training-free
        memory guidance); add the memory adapter with :func:`mirage_world.models.adapter.add_memory_adapter`.
        The scheduler is the one the real folder ships (UniPC, flow sigmas, shift 5).
    """
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(**TINY_WAN22_VAE_CONFIG)
    transformer = WanTransformer3DModel(**TINY_WAN22_TRANSFORMER_CONFIG)
    text_encoder = UMT5EncoderModel(UMT5Config(**TINY_UMT5_CONFIG)).eval()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        num_train_timesteps=1000, flow_shift=WAN22_SAMPLING["flow_shift"])
    return dict(vae=vae, transformer=transformer, text_encoder=text_encoder, tokenizer=tiny_t5_tokenizer(),
                scheduler=scheduler)


#: ``model_index.json`` of ``Wan-AI/Wan2.2-TI2V-5B-Diffusers`` (as diffusers' conversion script writes it).
WAN22_MODEL_INDEX: dict = {
    "_class_name": "WanPipeline",
    "boundary_ratio": None,
    "expand_timesteps": True,
    "scheduler": ["diffusers", "UniPCMultistepScheduler"],
    "text_encoder": ["transformers", "UMT5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "WanTransformer3DModel"],
    "transformer_2": [None, None],
    "vae": ["diffusers", "AutoencoderKLWan"],
}


def save_tiny_wan22(folder, seed: int = 0) -> Path:
    """Write :func:`tiny_wan22_components` as a diffusers folder in the layout of ``Wan2.2-TI2V-5B-Diffusers``
    (``model_index.json`` naming ``WanPipeline`` with ``expand_timesteps``, UniPC scheduler, ``transformer_2``
    null; each component written with its own ``save_pretrained``, weights as safetensors).

    Both ``diffusers.WanPipeline.from_pretrained(folder)`` and ``MiragePipeline.from_pretrained(folder)`` load it,
    as they load the real folder.

    Returns:
        ``Path(folder)``.
    """
    import json

    import diffusers

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, component in tiny_wan22_components(seed).items():
        component.save_pretrained(folder / name)
    index = {**WAN22_MODEL_INDEX, "_diffusers_version": diffusers.__version__}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


def download_command(repo_id: str) -> str:
    """The shell command that downloads a hub model into a folder to pass as ``--model``."""
    return f"hf download {repo_id} --local-dir {Path(repo_id).name}"


def resolve_pretrained(model) -> Path:
    """A pipeline folder for ``model``: a local folder as is, a hub id (``owner/name``) from the local Hugging Face
    cache only -- nothing is downloaded (``mirage generate`` never fetches ~35 GB on its own).

    Args:
        model: a folder (holding ``model_index.json``) or a hub id such as :data:`WAN22_TI2V_5B`.

    Returns:
        the folder (for a hub id: its snapshot in the cache).

    Raises:
        ModelNotFoundError (an ``InputError``): no such folder, or a hub id that is not in the cache; the message
            says where it was looked for and the ``hf download`` command that fetches it.
    """
    source = resolve_model_source(model, "model")
    p = Path(source)
    if p.is_dir():
        return p
    import huggingface_hub.constants as hub
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, local_files_only=True))
    except (OSError, ValueError):  # LocalEntryNotFoundError (an OSError), HFValidationError (a ValueError)
        pass
    raise ModelNotFoundError(
        f"model {source!r} not found: no folder of that name and not in the Hugging Face cache {hub.HF_HUB_CACHE} "
        f"(mirage does not download models). Download it with: {download_command(source)} and pass "
        f"--model {Path(source).name}"
    )


#: Measured activation costs (random weights, real widths, float32 VAE / bf16 DiT, one forward pass without
#: gradients; peak resident memory growth of the process on a CPU, ``scripts/device_check.sh`` does not measure
#: them -- see models/design.md): DiT bytes per token (1,100 tokens: 237.6 KiB, 2,200: 230.8 KiB); VAE decoder
#: GiB per megapixel of frame area for 2 latent frames (320x176: 1.291 GiB) and per further latent frame
#: (3 frames: 1.349 GiB); VAE encoder GiB per megapixel for one frame (320x176: 0.186 GiB).
DIT_BYTES_PER_TOKEN = 234 * 1024
VAE_DECODE_GIB_PER_MPIXEL = 22.93
VAE_DECODE_GIB_PER_MPIXEL_PER_EXTRA_FRAME = 1.03
VAE_ENCODE_GIB_PER_MPIXEL = 3.31
#: diffusers' AutoencoderKLWan tile (``tile_sample_min_height`` x ``tile_sample_min_width``).
VAE_TILE = (256, 256)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated GPU memory of one generation in GiB (``2^30`` bytes), see :func:`estimate_peak_memory`.

    Attributes:
        tokens: DiT tokens per segment (``T x h/2 x w/2``).
        transformer, text_encoder, vae, lora: weights (``lora``: an unfused adapter LoRA, float32).
        dit_activations: transient peak of a DiT forward pass (inference).
        vae_decode, vae_encode: transient peak of decoding a segment / encoding one frame.
        latent_memory: the latent spatial memory after the whole video (upper bound: one token per latent pixel
            of every latent frame, no fusion).
        peak_resident: every model on the GPU.
        peak_offload: ``enable_model_cpu_offload``: one model on the GPU at a time.
    """

    tokens: int
    transformer: float
    text_encoder: float
    vae: float
    lora: float
    dit_activations: float
    vae_decode: float
    vae_encode: float
    latent_memory: float
    peak_resident: float
    peak_offload: float


def estimate_peak_memory(
    width: int = 1280,
    height: int = 704,
    frames: int = 121,
    segment_frames: int | None = 16,
    weight_bytes: int = 2,
    vae_tiling: bool = False,
    lora_rank: int = 0,
) -> MemoryEstimate:
    """Estimate of the GPU memory Wan2.2-TI2V-5B needs in :class:`~mirage_world.pipelines.MiragePipeline` -- from
    parameter counts and activation costs measured on a CPU, not a GPU measurement.

    Weights: :data:`WAN22_PARAMETERS` x ``weight_bytes`` (transformer, text encoder), the VAE in float32 (as
    ``mirage generate`` loads it), the LoRA of an unfused adapter in float32 (rank ``r``: ``r (in + out)`` per
    adapted Linear, 8 attention projections of 3072 x 3072 and the 3072 <-> 14336 feed-forward per block).
    Activations: :data:`DIT_BYTES_PER_TOKEN` x tokens (memory-efficient attention, no ``L x L`` matrix); VAE decode
    and encode per megapixel of frame area (:data:`VAE_DECODE_GIB_PER_MPIXEL` ...), of the whole frame or, with
    tiling, of one :data:`VAE_TILE` tile; the memory ~120 bytes per token (48 float16 channels, xyz, write id,
    confidence). Not counted: the CUDA context (~0.5 GiB), allocator fragmentation, the decoded video (kept on the
    CPU by the pipeline).

    Args:
        width, height, frames: the video (1280x704 x 121 is Wan2.2-TI2V-5B's native clip).
        segment_frames: new frames per denoised segment (the pipeline's default 16; ``None``: the whole clip in one
            segment, as Wan samples it).
        weight_bytes: 2 (bf16 / fp16) or 4 (fp32) for the transformer and text encoder.
        vae_tiling: decode / encode in tiles (``vae.enable_tiling()``).
        lora_rank: rank of an unfused adapter LoRA (0: none, e.g. training-free).

    Raises:
        ValueError: sizes that are not positive multiples of 32, ``frames - 1`` or ``segment_frames`` not a
            multiple of 4, a negative rank.
    """
    if width % 32 or height % 32 or width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive multiples of 32, got {width}x{height}")
    seg = frames - 1 if segment_frames is None else int(segment_frames)
    if frames < 1 or (frames - 1) % 4 or seg % 4 or seg <= 0 or lora_rank < 0:
        raise ValueError(f"frames - 1 and segment_frames must be positive multiples of 4 and lora_rank >= 0, got "
                         f"{frames}, {segment_frames}, {lora_rank}")
    gib = float(2**30)
    h, w = height // 16, width // 16
    T = seg // 4 + 1
    L = T * (h // 2) * (w // 2)
    transformer = WAN22_PARAMETERS["transformer"] * weight_bytes / gib
    text_encoder = WAN22_PARAMETERS["text_encoder"] * weight_bytes / gib
    vae = WAN22_PARAMETERS["vae"] * 4 / gib
    D, F, blocks = 3072, 14336, WAN22_TRANSFORMER_CONFIG["num_layers"]
    lora = lora_rank * (8 * 2 * D + 2 * (D + F)) * blocks * 4 / gib
    dit = L * DIT_BYTES_PER_TOKEN / gib
    area = (min(VAE_TILE[0], height) * min(VAE_TILE[1], width) if vae_tiling else height * width) / 1e6
    vae_decode = area * (VAE_DECODE_GIB_PER_MPIXEL + max(0, T - 2) * VAE_DECODE_GIB_PER_MPIXEL_PER_EXTRA_FRAME)
    vae_encode = area * VAE_ENCODE_GIB_PER_MPIXEL
    latent_memory = ((frames - 1) // 4 + 1) * h * w * 120 / gib
    peak_resident = transformer + text_encoder + vae + lora + latent_memory + max(dit, vae_decode, vae_encode)
    peak_offload = latent_memory + max(text_encoder + 0.1, transformer + lora + dit,
                                       vae + max(vae_decode, vae_encode))  # 0.1: 512 UMT5 tokens' activations
    r = lambda v: round(v, 2)  # noqa: E731
    return MemoryEstimate(tokens=int(L), transformer=r(transformer), text_encoder=r(text_encoder), vae=r(vae),
                          lora=r(lora), dit_activations=r(dit), vae_decode=r(vae_decode), vae_encode=r(vae_encode),
                          latent_memory=r(latent_memory), peak_resident=r(peak_resident),
                          peak_offload=r(peak_offload))
