"""TAEF2 as a diffusers model: architecture, save/load round trip, the shipped weights on a real photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mirage_world.defaults import DEFAULT_MODEL
from mirage_world.models.taef2 import AutoencoderTAEF2, load_taef2_state_dicts

#: Round-trip PSNR of the shipped (float16-stored) TAEF2 on the TUM RGB-D photo, 256x192 (INTER_AREA), measured
#: once when the weights were converted (scripts/convert_taef2.py) and stored here; the model card quotes it.
TUM_ROUND_TRIP_DB = 29.274


def test_shapes_images_and_videos():
    vae = AutoencoderTAEF2(latent_channels=8, width=8).eval()
    with torch.no_grad():
        assert vae.encode(torch.zeros(2, 3, 16, 24)).latents.shape == (2, 8, 2, 3)
        z = vae.encode(torch.zeros(1, 3, 5, 16, 24)).latents
        assert z.shape == (1, 8, 5, 2, 3)
        x = vae.decode(z).sample
        assert x.shape == (1, 3, 5, 16, 24) and x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match="multiples of 8"):
        vae.encode(torch.zeros(1, 3, 12, 16))
    with pytest.raises(ValueError, match="channels"):
        vae.decode(torch.zeros(1, 4, 2, 2))


def test_video_is_per_frame():
    vae = AutoencoderTAEF2(latent_channels=8, width=8).eval()
    video = torch.rand(1, 3, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        z = vae.encode(video).latents
        for f in range(3):
            assert torch.allclose(z[:, :, f], vae.encode(video[:, :, f]).latents, atol=1e-6)


def test_save_and_load_pretrained(tmp_path):
    vae = AutoencoderTAEF2(latent_channels=8, width=8, latents_std=[0.5] * 8).eval()
    vae.save_pretrained(tmp_path)
    back = AutoencoderTAEF2.from_pretrained(tmp_path).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(vae(x).sample, back(x).sample)
    assert back.config.latents_std == [0.5] * 8 and back.config.scale_factor_temporal == 1


def test_published_state_dicts_load_strictly():
    src = DEFAULT_MODEL.parents[3] / ".." / "shared" / "weights" / "taef2"
    if not src.is_dir():
        pytest.skip("../shared/weights/taef2 not available")
    vae = load_taef2_state_dicts(src / "taef2_encoder.pth", src / "taef2_decoder.pth")
    shipped = AutoencoderTAEF2.from_pretrained(DEFAULT_MODEL / "vae")
    for k, v in shipped.state_dict().items():  # the shipped copy is the published weights in float16
        assert torch.equal(v, vae.state_dict()[k].to(v.dtype)), k


def test_shipped_weights_reproduce_the_stored_round_trip(real_data):
    from mirage_world.io import load_image

    vae = AutoencoderTAEF2.from_pretrained(DEFAULT_MODEL / "vae", torch_dtype=torch.float32).eval()
    img = cv2.resize(load_image(real_data / "rgbd" / "TUM_color.png"), (256, 192), interpolation=cv2.INTER_AREA)
    img = img.astype(np.float32) / 255
    with torch.no_grad():
        out = (vae(torch.from_numpy(img).permute(2, 0, 1)[None] * 2 - 1).sample[0].permute(1, 2, 0).numpy() + 1) / 2
    psnr = 10 * np.log10(1 / ((out - img) ** 2).mean())
    assert psnr == pytest.approx(TUM_ROUND_TRIP_DB, abs=0.01)
    assert (DEFAULT_MODEL / "vae" / "LICENSE.taef2").read_text().startswith("MIT License")
