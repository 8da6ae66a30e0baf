"""``MiragePipeline``: segment-by-segment camera-controlled video generation through latent spatial memory.

One photo + its depth + a camera path in, a video out (Mirage, arXiv 2606.09828, Sec. 3). The loop:

1. **Build** the memory: VAE-encode the photo (one latent frame), place one token per latent pixel in 3D with the
   photo's depth pooled to the latent grid (:func:`~mirage_world.memory.pool_depth_to_grid`) and ``K`` rescaled
   to the latent grid.
2. For each **segment** (``segment_frames`` new frames, 4 per latent frame), **read** the memory at the segment's
   latent-frame cameras -- one z-buffered projection at latent resolution -> warped latents + coverage mask.
3. **Denoise** conditioned on ``[warped latent, coverage]`` (extra input channels of the Wan DiT), with the segment's
   first latent frame held clean (the last frame so far, re-encoded alone; Wan2.2-TI2V style per-token timesteps).
4. **Decode** the segment; 5. **write** the new latent frames back to the memory and go on.

Camera of a latent frame: latent frame ``t >= 1`` of a segment starting at frame ``a`` summarises frames
``a + 4t - 3 .. a + 4t`` (Wan's causal VAE); it is read and written at the camera of frame ``a + 4t``.

Depth of generated frames (v0, before depth backends exist): where the read covered a latent pixel, the memory's
rendered depth there; elsewhere the depth of the nearest covered latent pixel (a fronto-parallel extension of the
known surface, documented as approximate). A latent frame with no coverage at all is not written.

The memory (:class:`MemoryConfig`): float16 tokens, voxel fusion (``voxel_size="auto"``: one latent pixel's
footprint at the photo's 5th-percentile depth) so that revisited places do not add tokens, an optional capacity cap.
Write filtering (the official code filters nothing at inference): the photo's tokens skip pixels without depth and
pixels of an optional ``keep`` mask set to False (sky, people, moving objects); a generated latent pixel is written
with confidence ``read coverage`` where the read covered it and ``exp(-d / fill_falloff)`` at distance ``d`` (latent
pixels) from the covered region elsewhere (its depth is extrapolated), and not at all below ``min_confidence``. The
photo's tokens have confidence ``photo_confidence``, so in the confidence-weighted fusion a generated
re-observation moves a photo token by ``1 / (1 + photo_confidence)`` of the difference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import cv2
import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
from diffusers.utils import BaseOutput

from ..geometry.camera import rescale_intrinsics
from ..memory.splat import MemoryRead
from ..models.taef2 import AutoencoderTAEF2
from .conditioning import GUIDANCE_MODES, denoiser_input, guide, neighbour_fill, per_token_timesteps
from .memory_backends import MEMORY_KINDS, MemoryBackend, PhotoContext, SegmentWrite, make_backend
from .memory_io import (
    MemoryConfig,
    build_photo_memory,
    empty_read,
    fill_depth_nearest,
    pool_keep_to_grid,
    read_memory,
    write_generated,
)

# memory steps live in memory_io.py and are re-exported here for the trainers and older imports
__all__ = ["MiragePipeline", "MiragePipelineOutput", "MemoryConfig", "SegmentInfo", "GenerationState",
           "fill_depth_nearest", "pool_keep_to_grid", "vae_scale_factors", "build_photo_memory", "write_generated",
           "empty_read", "default_size", "read_memory"]


@dataclass
class SegmentInfo:
    """What one segment did: its frame range, wall time (total and per step) and the memory size after its write."""

    index: int
    frames: tuple[int, int]  # [first new frame, last new frame] (inclusive)
    seconds: float
    memory_tokens: int
    memory_bytes: int
    coverage: float  # mean coverage of the segment's memory reads (new latent frames)
    read_seconds: float = 0.0
    denoise_seconds: float = 0.0
    decode_seconds: float = 0.0  # the segment's frames (and re-encoding the next first frame)
    write_seconds: float = 0.0  # segment filter + memory write


@dataclass
class GenerationState:
    """Everything a generation needs to go on after segment ``next_segment - 1`` (resume, see ``mirage generate``).

    Attributes:
        next_segment: index of the next segment to generate.
        first_latent: ``(1, C, 1, h, w)`` normalised latent the next segment starts from.
        generator_state: the noise generator's ``get_state()`` after the last segment (``None``: no generator).
        memory: the stored memory object (e.g. :class:`~mirage_world.memory.LatentSpatialMemory`).
        frames: frames so far, each ``(3, H, W)`` in ``[0, 1]``.
        memory_frames: decoded reads so far (only with ``return_memory_frames``).
        segments: :class:`SegmentInfo` of the segments so far.
    """

    next_segment: int
    first_latent: torch.Tensor
    generator_state: torch.Tensor | None
    memory: Any
    frames: list
    memory_frames: list | None
    segments: list


@dataclass
class MiragePipelineOutput(BaseOutput):
    """Output of :class:`MiragePipeline`.

    Attributes:
        frames: ``(N, H, W, 3)`` float32 in ``[0, 1]``, the generated video (frame 0 is the photo's VAE round trip).
        memory_frames: ``(N, H, W, 3)`` float32, the decoded memory reads (only with ``return_memory_frames``).
        segments: per-segment :class:`SegmentInfo`.
        memory: the :class:`LatentSpatialMemory` after the last write.
    """

    frames: np.ndarray
    memory_frames: np.ndarray | None
    segments: list = field(default_factory=list)
    memory: Any = None


def vae_scale_factors(vae) -> tuple[int, int]:
    """``(spatial, temporal)`` compression of a VAE, from its config.

    VAEs that state them (``scale_factor_spatial`` / ``scale_factor_temporal`` in the config, e.g.
    :class:`~mirage_world.models.AutoencoderTAEF2`: 8 and 1) are read directly; diffusers' ``AutoencoderKLWan`` is
    derived from its layout (Wan2.1: 8 and 4; Wan2.2-TI2V-5B with ``patch_size=2``: 16 and 4).

    Raises:
        ValueError: a VAE whose factors cannot be found.
    """
    cfg = vae.config
    if "scale_factor_spatial" in cfg and "scale_factor_temporal" in cfg:
        return int(cfg.scale_factor_spatial), int(cfg.scale_factor_temporal)
    if "dim_mult" in cfg and "temperal_downsample" in cfg:
        spatial = 2 ** (len(cfg.dim_mult) - 1) * (cfg.get("patch_size") or 1)
        return spatial, 2 ** sum(bool(v) for v in cfg.temperal_downsample)
    raise ValueError(f"cannot tell the spatial / temporal factors of {type(vae).__name__}")


def default_size(width: int, height: int, multiple: int, long_side: int = 256) -> tuple[int, int]:
    """Output ``(W, H)`` keeping a ``width x height`` photo's aspect, long side ``long_side``, multiples of ``multiple``."""
    s = long_side / max(width, height)
    return (max(multiple, int(round(width * s / multiple)) * multiple),
            max(multiple, int(round(height * s / multiple)) * multiple))


class MiragePipeline(DiffusionPipeline):
    r"""Camera-controlled video generation with a latent spatial memory (Mirage).

    Components:
        vae: any diffusers VAE whose spatial / temporal factors :func:`vae_scale_factors` can tell -- the embedded
            model's :class:`~mirage_world.models.AutoencoderTAEF2` (8x, per frame, 32 channels) or
            ``AutoencoderKLWan`` (Wan2.1: 8x / 4x; Wan2.2-TI2V-5B: 16x / 4x). The memory's latent grid, the read
            camera of each latent frame and the write-back follow from those two numbers.
        transformer (`WanTransformer3DModel`): denoiser whose input has ``2C + 1`` channels
            ``[noisy latent, warped memory latent, coverage]`` (:func:`~.conditioning.denoiser_input`), or ``C``
            channels (a base model without the memory add-on: it then sees the memory only through guidance).
        scheduler: a flow-matching scheduler (Wan's training objective): ``FlowMatchEulerDiscreteScheduler`` (the
            embedded model) or the ``UniPCMultistepScheduler(use_flow_sigmas=True, flow_shift=5)`` Wan2.2's folders
            ship. Its noise levels (``sigmas``) and ``timesteps`` are used as they are; the update is always the
            first-order Euler step ``x += (sigma_next - sigma) v`` (:meth:`denoise_segment`), because memory
            guidance edits the sample between steps and a multistep solver's history (UniPC's corrector recomputes
            the current sample from the previous one) would undo part of each edit.
        text_encoder (`UMT5EncoderModel`, optional): Wan's text encoder; prompts are encoded as diffusers'
            ``WanPipeline`` does (:meth:`encode_prompt`). Without it (the embedded tiny model) the cross-attention
            sees a single zero context token.
        tokenizer (`T5TokenizerFast`, optional): the text encoder's tokenizer.

    ``MiragePipeline.from_pretrained("Wan-AI/Wan2.2-TI2V-5B-Diffusers")`` (or its downloaded folder) loads the
    real model: its ``model_index.json`` names ``WanPipeline``; the components are the same, and
    ``expand_timesteps`` (Wan2.2-TI2V's first latent frame held clean with per-token timesteps) is what this
    pipeline always does. :meth:`load_mirage_adapter` adds a trained memory adapter; without one a base model
    (``C`` input channels) runs training-free, guided by the memory.
    """

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    _optional_components = ["text_encoder", "tokenizer"]

    def __init__(self, vae: Union[AutoencoderTAEF2, AutoencoderKLWan], transformer: WanTransformer3DModel,
                 scheduler: FlowMatchEulerDiscreteScheduler, text_encoder: Any = None, tokenizer: Any = None):
        super().__init__()
        self.register_modules(vae=vae, transformer=transformer, scheduler=scheduler, text_encoder=text_encoder,
                              tokenizer=tokenizer)
        self.vae_scale_factor_spatial, self.vae_scale_factor_temporal = (
            vae_scale_factors(vae) if vae is not None else (8, 1))

    @staticmethod
    def num_segments(num_frames: int, segment_frames: int = 16) -> int:
        """Segments needed for ``num_frames`` frames: frame 0 is the photo, each segment adds ``segment_frames``."""
        return (num_frames - 1 + segment_frames - 1) // segment_frames

    @property
    def latent_channels(self) -> int:
        cfg = self.vae.config
        return int(cfg.get("z_dim") or cfg.get("latent_channels"))

    @property
    def size_multiple(self) -> int:
        """Output sizes must be multiples of this: VAE factor x patch size."""
        return self.vae_scale_factor_spatial * self.transformer.config.patch_size[1]

    @property
    def memory_conditioned(self) -> bool:
        """Whether the denoiser takes the memory as input channels (``2C + 1``) or is a base model (``C``)."""
        return self.transformer.config.in_channels == 2 * self.latent_channels + 1

    # ------------------------------------------------------------------ latents
    def _latent_stats(self, device, dtype):
        C = self.latent_channels
        cfg = self.vae.config
        mean = cfg.get("latents_mean") or [0.0] * C
        std = cfg.get("latents_std") or [1.0] * C
        shape = (1, C, 1, 1, 1)
        return (torch.tensor(mean, device=device, dtype=dtype).view(shape),
                torch.tensor(std, device=device, dtype=dtype).view(shape))

    @torch.no_grad()
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE-encode frames ``(B, 3, F, H, W)`` in ``[0, 1]`` to normalised latents ``(B, C, 1 + (F-1)//ft, h, w)``."""
        out = self.vae.encode((frames * 2 - 1).to(self.vae.dtype))
        z = (out.latent_dist.mode() if hasattr(out, "latent_dist") else out.latents).float()
        mean, std = self._latent_stats(z.device, z.dtype)
        return (z - mean) / std

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Decode normalised latents ``(B, C, T, h, w)`` to frames ``(B, 3, 1 + ft(T-1), H, W)`` in ``[0, 1]``."""
        mean, std = self._latent_stats(latents.device, latents.dtype)
        x = self.vae.decode((latents * std + mean).to(self.vae.dtype)).sample.float()
        return ((x + 1) / 2).clamp(0, 1)

    # ------------------------------------------------------------------ inputs
    def check_inputs(self, image, depth, K, c2w, segment_frames, keep=None, guidance="replace", guidance_end=0.0,
                     start_sigma=1.0, height=None, width=None):
        """Validate shapes, dtypes and finiteness at the public boundary (photo pixels).

        Raises:
            ValueError: with a message naming the offending input.
        """
        if image is None or image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < 8:
            raise ValueError(f"image must be an (H, W, 3) array, H, W >= 8, got {tuple(getattr(image, 'shape', ()))}")
        H, W = image.shape[:2]
        if depth is None or tuple(depth.shape) != (H, W):
            raise ValueError(f"depth must be ({H}, {W}) like the image, got {tuple(getattr(depth, 'shape', ()))}")
        d = torch.as_tensor(depth)
        if not torch.isfinite(d).all() or (d < 0).any():
            raise ValueError("depth must be finite and non-negative (0 = invalid)")
        if not (d > 0).any():
            raise ValueError("depth has no valid (> 0) pixel")
        K = torch.as_tensor(K)
        if K.shape != (3, 3) or not torch.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError(f"K must be a finite (3, 3) matrix with positive focal lengths, got {K.tolist()}")
        c2w = torch.as_tensor(c2w)
        if c2w.dim() != 3 or c2w.shape[1:] != (4, 4) or c2w.shape[0] < 1 or not torch.isfinite(c2w).all():
            raise ValueError(f"c2w must be a finite (N, 4, 4) path, got {tuple(c2w.shape)}")
        if keep is not None and (tuple(keep.shape) != (H, W) or torch.as_tensor(keep).dtype != torch.bool):
            raise ValueError(f"keep must be a ({H}, {W}) bool mask, got {tuple(getattr(keep, 'shape', ()))}")
        if keep is not None and not (torch.as_tensor(keep) & (d > 0)).any():
            raise ValueError("keep masks out every pixel that has depth: nothing would be stored")
        if segment_frames % self.vae_scale_factor_temporal or segment_frames <= 0:
            raise ValueError(f"segment_frames must be a positive multiple of {self.vae_scale_factor_temporal}")
        if guidance not in GUIDANCE_MODES:
            raise ValueError(f"guidance must be one of {GUIDANCE_MODES}, got {guidance!r}")
        if not (0.0 <= guidance_end <= 1.0) or not (0.0 < start_sigma <= 1.0):
            raise ValueError(f"need 0 <= guidance_end <= 1 and 0 < start_sigma <= 1, got {guidance_end}, {start_sigma}")
        m = self.size_multiple
        for name, v in (("height", height), ("width", width)):
            if v is not None and (v <= 0 or v % m or v > 4096):
                raise ValueError(f"{name} must be a positive multiple of {m} up to 4096, got {v}")

    def check_text_inputs(self, prompt=None, negative_prompt=None, guidance_scale: float = 1.0) -> None:
        """Check the text options against the model (no text encoder: no prompt, no classifier-free guidance).

        Raises:
            ValueError: with a message naming the option.
        """
        for name, v in (("prompt", prompt), ("negative_prompt", negative_prompt)):
            if v is not None and not isinstance(v, str):
                raise ValueError(f"{name} must be a string, got {type(v).__name__}")
        try:
            gs = float(guidance_scale)
        except (TypeError, ValueError):
            raise ValueError(f"guidance_scale must be a number, got {guidance_scale!r}") from None
        if not (math.isfinite(gs) and 1.0 <= gs <= 50.0):
            raise ValueError(f"guidance_scale must be in [1, 50] (1: no classifier-free guidance), got {guidance_scale}")
        if not self.has_text_encoder:
            given = [n for n, v in (("prompt", prompt), ("negative_prompt", negative_prompt)) if v is not None]
            if gs > 1.0:
                given.append(f"guidance_scale {gs:g} > 1")
            if given:
                raise ValueError(f"{' and '.join(given)} need(s) a model with a text encoder; this one has none "
                                 "(the embedded tiny model)")

    def prepare_inputs(self, image, depth, K, keep=None, height=None, width=None):
        """Resize a photo, its depth and ``keep`` mask to the output size and rescale ``K`` (photo pixels in).

        ``image``: ``(H0, W0, 3)`` uint8 or float in ``[0, 1]`` (numpy or torch); ``depth``: ``(H0, W0)`` metres;
        ``K``: ``(3, 3)`` in photo pixels. Output size: ``height x width``, or the photo's aspect with a long side of
        256 (multiples of :attr:`size_multiple`). The photo is area-averaged, depth and ``keep`` take the nearest
        sample (depths are never mixed across an edge).

        Returns:
            ``image (H, W, 3)`` float32 in ``[0, 1]``, ``depth (H, W)`` float32, ``K (3, 3)`` float64 in output
            pixels, ``keep (H, W)`` bool or ``None``.

        Raises:
            ValueError: no valid depth left after resizing.
        """
        img = image.cpu().numpy() if torch.is_tensor(image) else np.asarray(image)
        img = img.astype(np.float32) / 255 if img.dtype == np.uint8 else img.astype(np.float32)
        dep = depth.cpu().numpy() if torch.is_tensor(depth) else np.asarray(depth)
        H0, W0 = img.shape[:2]
        if height is None or width is None:
            width, height = default_size(W0, H0, self.size_multiple)
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
        dep = cv2.resize(dep.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)
        if not (dep > 0).any():
            raise ValueError(f"the depth map has no valid pixel left after resizing {W0}x{H0} -> {width}x{height}")
        K = rescale_intrinsics(torch.as_tensor(K).double(), (H0, W0), (height, width))
        if keep is not None:
            k = keep.cpu().numpy() if torch.is_tensor(keep) else np.asarray(keep)
            keep = torch.from_numpy(cv2.resize(k.astype(np.uint8), (width, height),
                                               interpolation=cv2.INTER_NEAREST).astype(bool))
            if not (keep & torch.from_numpy(dep > 0)).any():
                raise ValueError("keep masks out every pixel that has depth after resizing: nothing would be stored")
        return torch.from_numpy(img), torch.from_numpy(dep), K, keep

    def _null_context(self, batch: int, device, dtype) -> torch.Tensor:
        return torch.zeros(batch, 1, self.transformer.config.text_dim, device=device, dtype=dtype)

    # ------------------------------------------------------------------ text, adapter, memory saving
    @property
    def has_text_encoder(self) -> bool:
        """Whether prompts can be encoded (a text encoder and its tokenizer are loaded)."""
        return getattr(self, "text_encoder", None) is not None and getattr(self, "tokenizer", None) is not None

    @torch.no_grad()
    def encode_prompt(self, prompt: str | list[str], max_sequence_length: int = 512, device=None,
                      dtype=None) -> torch.Tensor:
        """Text embeddings ``(B, max_sequence_length, d_model)`` of ``prompt`` (diffusers' ``WanPipeline``
        ``_get_t5_prompt_embeds``): the prompt cleaned (``prompt_clean``: ftfy when installed, HTML unescaped,
        whitespace collapsed), tokenized to ``max_sequence_length`` tokens (padded, truncated, ``</s>`` added),
        encoded with the attention mask, and the embeddings after the prompt's last token set to zero.

        Raises:
            ValueError: the pipeline has no text encoder, or ``prompt`` is not a string / list of strings.
        """
        from diffusers.pipelines.wan.pipeline_wan import prompt_clean

        if not self.has_text_encoder:
            raise ValueError("this model has no text encoder (the embedded tiny model): prompts cannot be used")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(prompts, (list, tuple)) or not all(isinstance(p, str) for p in prompts) or not prompts:
            raise ValueError(f"prompt must be a string or a non-empty list of strings, got {type(prompt).__name__}")
        if not 1 <= int(max_sequence_length) <= 4096:
            raise ValueError(f"max_sequence_length must be in 1..4096, got {max_sequence_length}")
        device = device or self._execution_device
        dtype = dtype or self.transformer.dtype
        inputs = self.tokenizer([prompt_clean(p) for p in prompts], padding="max_length",
                                max_length=max_sequence_length, truncation=True, add_special_tokens=True,
                                return_attention_mask=True, return_tensors="pt")
        ids, mask = inputs.input_ids, inputs.attention_mask  # (B, L)
        lengths = mask.gt(0).sum(dim=1).long()
        try:  # recent diffusers: the device the text encoder runs on, also when offloaded to the CPU
            from diffusers.utils.torch_utils import get_module_execution_device

            te_device = get_module_execution_device(self.text_encoder)
        except ImportError:
            te_device = device
        emb = self.text_encoder(ids.to(te_device), mask.to(te_device)).last_hidden_state  # (B, L, d)
        emb = emb.to(dtype=dtype, device=device)
        keep = torch.arange(max_sequence_length, device=device)[None, :] < lengths.to(device)[:, None]  # (B, L)
        return emb * keep[..., None].to(dtype)

    def load_mirage_adapter(self, folder, fuse: bool = False) -> "MiragePipeline":
        """Load a Mirage memory adapter (memory input channels + LoRA, :mod:`mirage_world.models.adapter`) into
        :attr:`transformer`, in place; afterwards the denoiser takes ``[noisy, read, coverage]``
        (:attr:`memory_conditioned`). Call before ``to(device)`` / ``enable_model_cpu_offload()``.

        Args:
            folder: an adapter folder written by :func:`~mirage_world.models.adapter.save_adapter`.
            fuse: merge the LoRA into the base weights (faster sampling).

        Raises:
            ValueError: not an adapter folder, an adapter for another latent width than this VAE's, or weights
                that do not fit the transformer (see :func:`~mirage_world.models.adapter.load_adapter`).
        """
        from ..models.adapter import load_adapter

        if self.memory_conditioned:
            raise ValueError("the transformer already takes the memory as input (a trained Mirage model or an "
                             "adapter already loaded): load adapters into a base model")
        load_adapter(self.transformer, folder, fuse=fuse)
        if not self.memory_conditioned:
            raise ValueError(f"adapter {folder} does not make the transformer take {2 * self.latent_channels + 1} "
                             "input channels (latent width of another VAE?)")
        return self

    def _offload(self, model) -> None:
        """With ``enable_model_cpu_offload``: move ``model`` back to the CPU now. diffusers' hook chain
        (text_encoder -> transformer -> vae) offloads a model only when the *next* one in the chain runs, so the text
        encoder would stay on the GPU while the VAE encodes the photo, and in the segment loop (vae -> transformer ->
        vae ...) the VAE would stay beside the transformer. Without offloading: nothing happens."""
        for hook in getattr(self, "_all_hooks", None) or []:
            if getattr(hook, "model", None) is model and hasattr(hook, "offload"):
                hook.offload()

    def enable_vae_tiling(self, **tile_options) -> None:
        """Decode / encode in overlapping spatial tiles (diffusers ``vae.enable_tiling(**tile_options)``; Wan's
        default tiles: 256 x 256 pixels, stride 192): the VAE's memory no longer grows with the frame size.

        Raises:
            ValueError: a VAE without tiling (the embedded TAEF2 works per frame and needs none).
        """
        if not hasattr(self.vae, "enable_tiling"):
            raise ValueError(f"{type(self.vae).__name__} has no tiled decoding")
        self.vae.enable_tiling(**tile_options)

    # ------------------------------------------------------------------ denoise one segment
    @torch.no_grad()
    def denoise_segment(
        self,
        first_latent: torch.Tensor,  # (1, C, 1, h, w)
        read: MemoryRead,  # T latent frames
        num_inference_steps: int,
        generator: torch.Generator | None,
        guidance: str = "replace",
        guidance_end: float = 0.0,
        start_sigma: float = 1.0,
        prompt_embeds: torch.Tensor | None = None,  # (1, L, text_dim)
        negative_prompt_embeds: torch.Tensor | None = None,  # (1, L, text_dim)
        guidance_scale: float = 1.0,
    ) -> torch.Tensor:
        """Sample one segment's latents ``(1, C, T, h, w)`` with latent frame 0 held at ``first_latent``.

        ``guidance="replace"``: while the noise level is ``>= guidance_end``, covered tokens are set to the memory
        read noised to that level (:func:`~.conditioning.guide`). ``start_sigma < 1``: sampling starts at that
        level from the read with its holes filled by the nearest covered token (:func:`~.conditioning.neighbour_fill`)
        instead of from pure noise (SDEdit-style), keeping the layout of what the memory shows.

        Latent frame 0 is held clean as Wan2.2-TI2V does with ``expand_timesteps``: its tokens get timestep 0, the
        others the step's timestep, a ``(1, T * h/2 * w/2)`` tensor (:func:`~.conditioning.per_token_timesteps`).
        The context is ``prompt_embeds`` (default: one zero token); with ``guidance_scale > 1`` and
        ``negative_prompt_embeds`` the velocity is ``v_neg + guidance_scale (v - v_neg)`` (classifier-free
        guidance, two transformer passes per step as diffusers' ``WanPipeline``).
        """
        T, C, h, w = read.latent.shape
        device = first_latent.device
        dtype = self.transformer.dtype
        noise = torch.randn((1, C, T, h, w), generator=generator, dtype=torch.float32).to(device)
        read_latent = read.latent.contiguous().float()
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        sigmas = self.scheduler.sigmas.tolist()  # num_inference_steps noise levels, then 0
        euler = isinstance(self.scheduler, FlowMatchEulerDiscreteScheduler)
        if not euler and (len(sigmas) != num_inference_steps + 1 or sigmas[-1] != 0.0
                          or not self.scheduler.config.get("use_flow_sigmas")):
            raise ValueError(f"{type(self.scheduler).__name__} is not a flow-matching scheduler with "
                             "num_inference_steps noise levels (use_flow_sigmas); MiragePipeline samples flow matching")
        begin = 0
        latents = noise.clone()
        if start_sigma < 1.0:
            begin = min(i for i, s in enumerate(sigmas[:-1] + [0.0]) if s <= start_sigma)
            begin = min(begin, num_inference_steps - 1)
            fill = neighbour_fill(read_latent, read.mask, fallback=first_latent[0, :, 0])
            s0 = sigmas[begin]
            latents = (1 - s0) * fill.permute(1, 0, 2, 3)[None] + s0 * noise
        if hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(begin)
        use_guidance = guidance == "replace"
        ctx = self._null_context(1, device, dtype) if prompt_embeds is None else prompt_embeds.to(device, dtype)
        cfg = negative_prompt_embeds is not None and guidance_scale > 1.0
        neg = negative_prompt_embeds.to(device, dtype) if cfg else None
        patch = tuple(self.transformer.config.patch_size)
        for i in range(begin, num_inference_steps):
            t, sigma = self.scheduler.timesteps[i], sigmas[i]
            if use_guidance and sigma >= guidance_end:
                latents = guide(latents, read_latent, read.mask, noise, sigma)
            latents[:, :, :1] = first_latent
            x_in = denoiser_input(latents, read_latent, read.mask) if self.memory_conditioned else latents
            ts = per_token_timesteps(t.view(1), T, h, w, patch).to(device)
            v = self.transformer(x_in.to(dtype), timestep=ts, encoder_hidden_states=ctx, return_dict=False)[0]
            if cfg:
                v_neg = self.transformer(x_in.to(dtype), timestep=ts, encoder_hidden_states=neg, return_dict=False)[0]
                v = v_neg.float() + guidance_scale * (v.float() - v_neg.float())
            if euler:
                latents = self.scheduler.step(v.float(), t, latents, return_dict=False)[0]
            else:  # the folder's scheduler (e.g. UniPC) gives the noise levels; the step is Euler's, as above
                latents = latents + (sigmas[i + 1] - sigma) * v.float()
        if use_guidance and guidance_end <= 0.0:
            latents = guide(latents, read_latent, read.mask, noise, 0.0)
        latents[:, :, :1] = first_latent
        return latents

    def _decode_read(self, read: MemoryRead, frames: slice) -> torch.Tensor:
        """Decoded memory read ``(F, 3, H, W)`` for a side-by-side view: uncovered pixels black, covered ones (also
        those filled at partial coverage) at full brightness, never faded."""
        ft, f = self.vae_scale_factor_temporal, self.vae_scale_factor_spatial
        latent, mask = read.latent.contiguous(), (read.mask[:, 0] > 0).float()  # (T, C, h, w), (T, h, w) covered
        if ft == 1:  # per-frame VAE: decode only the frames shown
            latent, mask, frames = latent[frames], mask[frames], slice(None)
        else:  # a causal video VAE decodes the whole latent sequence
            mask = torch.cat([mask[:1], mask[1:].repeat_interleave(ft, dim=0)])  # per decoded frame
        video = self.decode_latents(latent.permute(1, 0, 2, 3)[None])[0].permute(1, 0, 2, 3)  # (F, 3, H, W)
        mask = mask.repeat_interleave(f, dim=1).repeat_interleave(f, dim=2)[:, None]
        return (video * mask)[frames]

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """VAE-encode ``(V, 3, H, W)`` images in ``[0, 1]`` one by one to normalised latents ``(V, C, h, w)``.

        Each image is a one-frame video, so a causal video VAE (Wan) gives its first-frame latent."""
        return torch.cat([self.encode_frames(images[i : i + 1, :, None])[:, :, 0] for i in range(images.shape[0])])

    # ------------------------------------------------------------------ main loop
    @torch.no_grad()
    def __call__(
        self,
        image,  # (H0, W0, 3) uint8 or float in [0, 1], numpy or torch
        depth,  # (H0, W0) metres, 0 = invalid
        K,  # (3, 3) pixels of the photo
        c2w: torch.Tensor,  # (N, 4, 4); c2w[0] is the photo's camera
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 20,
        guidance: str = "replace",
        guidance_end: float = 0.0,
        start_sigma: float = 1.0,
        use_memory: bool = True,
        segment_frames: int = 16,
        generator: torch.Generator | None = None,
        return_memory_frames: bool = False,
        memory: Any = None,
        callback: Callable[[SegmentInfo], None] | None = None,
        progress: bool = True,
        memory_config: MemoryConfig | None = None,
        keep=None,  # (H0, W0) bool
        memory_kind: str = "latent",
        segment_filter: Callable[[torch.Tensor], torch.Tensor] | None = None,
        resume: GenerationState | None = None,
        state_callback: Callable[[GenerationState], None] | None = None,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        guidance_scale: float = 1.0,
        max_sequence_length: int = 512,
    ) -> MiragePipelineOutput:
        """Generate ``N = len(c2w)`` frames along the camera path.

        Args:
            image: ``(H0, W0, 3)`` photo, uint8 or float in ``[0, 1]``.
            depth: ``(H0, W0)`` z-depth of the photo in metres, 0 where unknown.
            K: ``(3, 3)`` intrinsics of the photo in its own pixels.
            c2w: ``(N, 4, 4)`` camera-to-world path, OpenCV axes, metres; ``c2w[0]`` is the photo's camera.
            height, width: output size (multiples of :attr:`size_multiple`); default: the photo's aspect, long
                side 256. The pipeline resizes the photo, depth and ``keep`` and rescales ``K`` itself.
            num_inference_steps: flow-matching Euler steps per segment (fewer with ``start_sigma < 1``).
            guidance: ``"replace"`` (memory-guided sampling: covered tokens follow the memory read down to
                ``guidance_end``) or ``"none"`` (the denoiser sees the memory only through its input channels).
            guidance_end: noise level (sigma in ``[0, 1]``) below which guidance stops and the model runs free:
                0 keeps exactly what the memory shows on covered tokens; higher values let the model blend seams
                and repaint what the memory shows.
            start_sigma: start sampling at this noise level from the read with holes neighbour-filled (1: pure
                noise, the standard sampler).
            use_memory: ``False`` switches the memory off (same as ``memory_kind="none"``): a baseline.
            segment_frames: new frames per segment (a multiple of the VAE's temporal factor).
            generator: torch generator for the initial noise (determinism).
            return_memory_frames: also decode the memory reads, for a side-by-side view (uncovered pixels black).
            memory: an existing :class:`LatentSpatialMemory` to continue from, or a
                :class:`~.memory_backends.MemoryBackend` (default: a new memory built from the photo).
            callback: called with each :class:`SegmentInfo` after its write.
            progress: show a progress bar over segments.
            memory_config: how the memory is built and written (default :class:`MemoryConfig`).
            keep: optional ``(H0, W0)`` bool mask of the photo's pixels that may be stored (False: sky, people,
                moving objects); a latent pixel is stored when at least half of its block is kept.
            memory_kind: ``"latent"`` (Mirage), ``"rgb"`` (an RGB point cloud read by render + VAE encode, the
                peers' design) or ``"none"``; see :mod:`~.memory_backends`.
            segment_filter: called on each segment's frames at the written cameras, ``(T, H, W, 3)`` float in
                ``[0, 1]`` -> ``(T, H, W)`` bool, False where nothing may be stored (e.g.
                :class:`~mirage_world.models.segmentation.SemanticFilter`: sky, people, cars).
            resume: continue from a :class:`GenerationState` (same inputs and seed: the same frames as one run).
            state_callback: called with the :class:`GenerationState` after each segment (to save it).
            prompt: text for a model with a text encoder (Wan2.2: default ``""``, the photo alone); encoded once
                (:meth:`encode_prompt`).
            negative_prompt: the unconditional text of classifier-free guidance (default ``""``, as diffusers;
                ``mirage generate`` passes Wan's own, :data:`~mirage_world.models.wan.WAN_NEGATIVE_PROMPT`).
            guidance_scale: classifier-free guidance scale in ``[1, 50]``; above 1 each step runs the transformer
                twice (prompt and negative prompt). Wan2.2-TI2V-5B uses 5.
            max_sequence_length: text tokens per prompt (Wan: 512).

        Returns:
            :class:`MiragePipelineOutput`; frames at the output size.

        Raises:
            ValueError: on invalid inputs (see :meth:`check_inputs`); a prompt, negative prompt or
                ``guidance_scale > 1`` for a model without a text encoder.
        """
        self.check_inputs(image, depth, K, c2w, segment_frames, keep, guidance, guidance_end, start_sigma,
                          height, width)
        self.check_text_inputs(prompt, negative_prompt, guidance_scale)
        if memory_kind not in MEMORY_KINDS:
            raise ValueError(f"memory_kind must be one of {MEMORY_KINDS}, got {memory_kind!r}")
        image, depth, K, keep = self.prepare_inputs(image, depth, K, keep, height, width)
        cfg = MemoryConfig() if memory_config is None else memory_config
        device = self._execution_device
        H, W = image.shape[:2]
        f, ft = self.vae_scale_factor_spatial, self.vae_scale_factor_temporal
        h, w = H // f, W // f
        c2w = torch.as_tensor(c2w).float().to(device)
        N = c2w.shape[0]
        C = self.latent_channels
        K = K.float().to(device)
        K_lat = rescale_intrinsics(K.double(), (H, W), (h, w)).float().to(device)
        T = segment_frames // ft + 1
        if not use_memory:
            memory_kind = "none"
        if isinstance(memory, MemoryBackend):
            backend = memory
        else:
            backend = make_backend(memory_kind, self, cfg, memory if resume is None else resume.memory)
        use_guidance = guidance if backend.name != "none" else "none"
        text = {}
        if self.has_text_encoder:  # encoded once for all segments
            text["prompt_embeds"] = self.encode_prompt(prompt or "", max_sequence_length, device)
            if guidance_scale > 1.0:
                text["negative_prompt_embeds"] = self.encode_prompt(negative_prompt or "", max_sequence_length, device)
                text["guidance_scale"] = float(guidance_scale)
            self._offload(self.text_encoder)

        frame0 = image.permute(2, 0, 1)[None, :, None].float().to(device)  # (1, 3, 1, H, W)
        n_seg = self.num_segments(N, segment_frames)
        if resume is None:
            z0 = self.encode_frames(frame0)  # (1, C, 1, h, w)
            spec = {"vae": type(self.vae).__name__, "z_dim": C, "scale_factor_spatial": f,
                    "scale_factor_temporal": ft, "normalised": True}
            backend.start(PhotoContext(z0[0, :, 0], image.to(device), depth.to(device), K, K_lat, c2w[0],
                                       None if keep is None else keep.to(device), f, spec))
            frames = [self.decode_latents(z0)[0, :, 0].cpu()]  # list of (3, H, W), on the CPU (GPU memory)
            mem_frames = [frames[0]] if return_memory_frames else None
            segments: list[SegmentInfo] = []
            first_latent, s_begin = z0, 0
        else:
            frames, segments = list(resume.frames), list(resume.segments)
            mem_frames = list(resume.memory_frames) if return_memory_frames else None
            first_latent, s_begin = resume.first_latent.to(device), resume.next_segment
            if generator is not None and resume.generator_state is not None:
                generator.set_state(resume.generator_state)
        steps = range(s_begin, n_seg)
        for s in self.progress_bar(steps) if progress else steps:
            t0 = time.perf_counter()
            a = s * segment_frames
            idx = [min(a + ft * t, N - 1) for t in range(T)]  # camera per latent frame (last of its group)
            read = backend.read(K_lat, c2w[idx], (h, w)) if backend.name != "none" else empty_read(T, C, h, w, device)
            t1 = time.perf_counter()
            self._offload(self.vae)
            lat = self.denoise_segment(first_latent, read, num_inference_steps, generator, use_guidance,
                                       guidance_end, start_sigma, **text)
            t2 = time.perf_counter()
            n_new = min(segment_frames, N - 1 - a)
            n_lat = -(-n_new // ft)  # latent frames after frame 0 that hold real frames
            if ft == 1:
                video = self.decode_latents(lat[:, :, 1 : 1 + n_new])[0]  # (3, n_new, H, W)
                new = video
            else:
                video = self.decode_latents(lat)[0]  # (3, 1 + segment_frames, H, W)
                new = video[:, 1:]
            frames.extend(new[:, i].cpu() for i in range(n_new))
            # next segment starts from the last new frame: its own latent for a per-frame VAE, else re-encoded
            if ft == 1:
                first_latent = lat[:, :, n_new : n_new + 1]
            else:
                first_latent = self.encode_frames(video[:, n_new][None, :, None])
            if return_memory_frames:
                mem_frames.extend(self._decode_read(read, slice(1, 1 + n_new)).cpu())
            t3 = time.perf_counter()
            if backend.name != "none":
                shown = torch.stack([new[:, min(ft * (t + 1), n_new) - 1] for t in range(n_lat)])  # (n_lat, 3, H, W)
                seg_keep = None
                if segment_filter is not None:
                    seg_keep = torch.as_tensor(segment_filter(shown.permute(0, 2, 3, 1))).to(device).bool()
                sub = slice(1, 1 + n_lat)
                backend.write(SegmentWrite(lat[0, :, sub].permute(1, 0, 2, 3), shown,
                                           MemoryRead(read.latent[sub], read.mask[sub], read.depth[sub]),
                                           K_lat, K, c2w[idx[sub]], seg_keep))
            t4 = time.perf_counter()
            info = SegmentInfo(index=s, frames=(a + 1, a + n_new), seconds=t4 - t0, memory_tokens=backend.num_tokens,
                               memory_bytes=backend.nbytes, coverage=float(read.mask[1:].mean()),
                               read_seconds=t1 - t0, denoise_seconds=t2 - t1, decode_seconds=t3 - t2,
                               write_seconds=t4 - t3)
            segments.append(info)
            if callback is not None:
                callback(info)
            if state_callback is not None:
                state_callback(GenerationState(s + 1, first_latent, None if generator is None else
                                               generator.get_state(), backend.memory, frames, mem_frames, segments))
        self.maybe_free_model_hooks()  # with enable_model_cpu_offload: every model back on the CPU
        out = torch.stack(frames).permute(0, 2, 3, 1).cpu().numpy()
        mem = torch.stack(list(mem_frames)).permute(0, 2, 3, 1).cpu().numpy() if return_memory_frames else None
        return MiragePipelineOutput(frames=out, memory_frames=mem, segments=segments, memory=backend.memory)
