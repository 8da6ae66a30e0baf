"""TAEF2: the tiny autoencoder of the FLUX.2 latent space, as a diffusers model (the embedded model's VAE).

TAEF2 (Ollin Boer Bohan, github.com/madebyollin/taesd, MIT) is a 2 x 1.34 M-parameter convolutional autoencoder
distilled from the FLUX.2 VAE: 8x spatial compression, 32 latent channels, one latent frame per video frame (no
temporal compression). This module writes the architecture out (the published weights are two ``nn.Sequential``
state dicts, whose indices are kept as module names here so they load unchanged) and wraps it in diffusers'
``ModelMixin`` / ``ConfigMixin`` so it saves and loads with ``save_pretrained`` / ``from_pretrained`` like any
diffusers VAE.

Interface (the one :class:`~mirage_world.pipelines.MiragePipeline` uses for every VAE):

* ``encode(x)`` with ``x`` in ``[-1, 1]``, ``(B, 3, H, W)`` images or ``(B, 3, F, H, W)`` videos, returns
  ``AutoencoderTinyOutput(latents)`` of shape ``(B, 32, h, w)`` / ``(B, 32, F, h, w)`` (raw TAEF2 latents).
* ``decode(z)`` returns ``DecoderOutput(sample)`` in ``[-1, 1]`` with the same layout.
* ``config.scale_factor_spatial = 8``, ``config.scale_factor_temporal = 1``; ``config.latents_mean`` /
  ``config.latents_std`` (per channel) normalise latents to about zero mean, unit variance for the denoiser.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.autoencoder_tiny import AutoencoderTinyOutput
from diffusers.models.autoencoders.vae import DecoderOutput
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

__all__ = ["AutoencoderTAEF2", "load_taef2_state_dicts"]


def _conv(cin: int, cout: int, **kw) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, **kw)


class _Clamp(nn.Module):
    """``tanh(x / 3) * 3``: soft clamp of the latents to (-3, 3) before decoding."""

    def forward(self, x):
        return torch.tanh(x / 3) * 3


class _Block(nn.Module):
    """Residual block ``relu(conv-relu-conv-relu-conv(x) + x)``; with ``gn``, ``x`` first gets a GroupNorm branch."""

    def __init__(self, c: int, gn: bool = False, gn_width: int = 256, gn_groups: int = 4):
        super().__init__()
        self.conv = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), _conv(c, c))
        self.pool = (
            nn.Sequential(nn.Conv2d(c, gn_width, 1, bias=False), nn.GroupNorm(gn_groups, gn_width), nn.ReLU(),
                          nn.Conv2d(gn_width, c, 1, bias=False))
            if gn else None
        )

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return torch.relu(self.conv(x) + x)


def _encoder(width: int, z: int) -> nn.Sequential:
    layers: list[nn.Module] = [_conv(3, width), _Block(width)]
    for stage in range(3):
        gn = stage == 2
        layers += [_conv(width, width, stride=2, bias=False), _Block(width, gn), _Block(width, gn), _Block(width, gn)]
    layers.append(_conv(width, z))
    return nn.Sequential(*layers)


def _decoder(width: int, z: int) -> nn.Sequential:
    layers: list[nn.Module] = [_Clamp(), _conv(z, width), nn.ReLU()]
    layers += [_Block(width, True), _Block(width, True), _Block(width, True)]
    for stage in range(3):
        n = 1 if stage == 2 else 3
        layers += [nn.Upsample(scale_factor=2), _conv(width, width, bias=False)] + [_Block(width) for _ in range(n)]
    layers.append(_conv(width, 3))
    return nn.Sequential(*layers)


class AutoencoderTAEF2(ModelMixin, ConfigMixin):
    r"""Tiny autoencoder of the FLUX.2 latent space (TAEF2), per frame.

    Args:
        latent_channels: latent channels (32).
        width: feature width of every conv (64).
        scale_factor_spatial: pixels per latent pixel along each axis (8; fixed by the architecture).
        scale_factor_temporal: frames per latent frame (1: per-frame autoencoder).
        latents_mean, latents_std: per-channel statistics used by the pipeline to normalise latents
            (``(z - mean) / std``); default 0 and 1.

    Shapes: images ``(B, 3, H, W)`` <-> latents ``(B, C, H/8, W/8)``; videos ``(B, 3, F, H, W)`` <->
    ``(B, C, F, H/8, W/8)`` (frames are folded into the batch). ``H, W`` must be multiples of 8.

    Example:
        >>> vae = AutoencoderTAEF2()
        >>> vae.encode(torch.zeros(1, 3, 2, 16, 24)).latents.shape
        torch.Size([1, 32, 2, 2, 3])
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        latent_channels: int = 32,
        width: int = 64,
        scale_factor_spatial: int = 8,
        scale_factor_temporal: int = 1,
        latents_mean: list[float] | None = None,
        latents_std: list[float] | None = None,
    ):
        super().__init__()
        if scale_factor_spatial != 8 or scale_factor_temporal != 1:
            raise ValueError("TAEF2 compresses 8x in space and 1x in time")
        self.encoder = _encoder(width, latent_channels)
        self.decoder = _decoder(width, latent_channels)

    @property
    def z_dim(self) -> int:
        return int(self.config.latent_channels)

    @staticmethod
    def _fold(x: torch.Tensor):
        if x.dim() == 4:
            return x, None
        if x.dim() != 5:
            raise ValueError(f"expected (B, C, H, W) or (B, C, F, H, W), got {tuple(x.shape)}")
        B, C, F, H, W = x.shape
        return x.permute(0, 2, 1, 3, 4).reshape(B * F, C, H, W), (B, F)

    @staticmethod
    def _unfold(y: torch.Tensor, bf):
        if bf is None:
            return y
        B, F = bf
        return y.reshape(B, F, *y.shape[1:]).permute(0, 2, 1, 3, 4)

    def encode(self, x: torch.Tensor, return_dict: bool = True):
        """Encode ``x`` in ``[-1, 1]`` (``(B, 3, H, W)`` or ``(B, 3, F, H, W)``) to raw latents.

        Raises:
            ValueError: wrong rank, not 3 channels, or ``H, W`` not multiples of 8.
        """
        if x.shape[1] != 3 or x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"encode needs 3 channels and H, W multiples of 8, got {tuple(x.shape)}")
        flat, bf = self._fold(x)
        z = self._unfold(self.encoder(flat * 0.5 + 0.5), bf)  # TAEF2 reads RGB in [0, 1]
        return AutoencoderTinyOutput(latents=z) if return_dict else (z,)

    def decode(self, z: torch.Tensor, return_dict: bool = True):
        """Decode raw latents ``(B, C, h, w)`` or ``(B, C, F, h, w)`` to RGB in ``[-1, 1]``."""
        if z.shape[1] != self.config.latent_channels:
            raise ValueError(f"decode needs {self.config.latent_channels} channels, got {tuple(z.shape)}")
        flat, bf = self._fold(z)
        x = self._unfold(self.decoder(flat).clamp(0, 1) * 2 - 1, bf)
        return DecoderOutput(sample=x) if return_dict else (x,)

    def forward(self, sample: torch.Tensor, return_dict: bool = True):
        """Round trip ``decode(encode(sample))``."""
        x = self.decode(self.encode(sample).latents).sample
        return DecoderOutput(sample=x) if return_dict else (x,)


def load_taef2_state_dicts(encoder_pth: str, decoder_pth: str, **config) -> AutoencoderTAEF2:
    """Build :class:`AutoencoderTAEF2` from the published ``taef2_encoder.pth`` / ``taef2_decoder.pth``.

    The files are plain ``state_dict`` s of ``nn.Sequential`` s (loaded with ``weights_only=True``); every key
    must match (strict).

    Raises:
        RuntimeError: missing or unexpected keys / shapes.
    """
    vae = AutoencoderTAEF2(**config)
    vae.encoder.load_state_dict(torch.load(encoder_pth, map_location="cpu", weights_only=True))
    vae.decoder.load_state_dict(torch.load(decoder_pth, map_location="cpu", weights_only=True))
    return vae
