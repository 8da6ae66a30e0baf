"""Train the tiny Wan VAE on synthetic images and clips (CPU friendly, time-bounded, resumable).

Usage::

    python -m mirage_world.training.train_vae --out runs/vae --minutes 30

Data: dead-leaves images and pan/zoom clips (:mod:`mirage_world.training.images`) mixed with frames and clips of
procedural scenes (:mod:`mirage_world.worlds`). Loss: L1 + MSE reconstruction + a tiny KL term. Every few minutes
the model and optimiser are checkpointed to ``OUT/ckpt``; a rerun with the same ``--out`` resumes. At the end the
latent statistics (per-channel mean and std, as Wan's VAE config stores them) are measured and the model is saved
with ``save_pretrained`` to ``OUT/final``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..models.tiny import make_tiny_vae
from .checkpoint import load_checkpoint, new_state, save_checkpoint
from .images import dead_leaves, dead_leaves_clip


def _scene_frames(seed: int, n_frames: int, size: int) -> np.ndarray | None:
    try:
        from ..worlds import render_clip
    except Exception:  # renderer unavailable: dead leaves only
        return None
    out = render_clip(seed, n_frames, size, size)
    return out["rgb"].numpy() if torch.is_tensor(out["rgb"]) else out["rgb"]


class Batches:
    """Deterministic stream of training batches ``(B, 3, T, H, W)`` in ``[-1, 1]``.

    Scene samples are random crops of procedural clips: pre-rendered ones from ``clip_dir`` (the raw clips of
    :mod:`mirage_world.training.train_denoiser`) when given, else rendered on the fly; each crop is taken at a
    random scale in ``[0.5, 1]`` so textures appear at several sizes.
    """

    def __init__(self, seed: int, size: int, scene_frac: float = 0.5, clip_dir: Path | None = None):
        self.scene_frac = scene_frac
        self.rng = np.random.default_rng(seed)
        self.size = size
        self.pool: list[np.ndarray] = []  # scene clips (T, H, W, 3)
        self.files = sorted(clip_dir.glob("clip_*.safetensors")) if clip_dir else []

    def _stored(self, n_frames: int) -> np.ndarray:
        from safetensors.torch import load_file

        rgb = load_file(self.files[int(self.rng.integers(len(self.files)))])["rgb"]  # (F, H, W, 3) uint8
        t0 = int(self.rng.integers(rgb.shape[0] - n_frames + 1))
        clip = rgb[t0 : t0 + n_frames].permute(0, 3, 1, 2).float() / 255
        s = self.rng.uniform(0.5, 1.0)
        if s < 0.99:
            clip = torch.nn.functional.interpolate(clip, scale_factor=s, mode="area")
        c = self.size
        y, x = self.rng.integers(0, clip.shape[2] - c + 1), self.rng.integers(0, clip.shape[3] - c + 1)
        return clip[:, :, y : y + c, x : x + c].permute(0, 2, 3, 1).numpy()

    def _scene(self, n_frames: int) -> np.ndarray | None:
        if self.files:
            return self._stored(n_frames)
        if len(self.pool) < 64 or self.rng.uniform() < 0.1:
            clip = _scene_frames(int(self.rng.integers(1 << 30)), 5, self.size * 2)
            if clip is None:
                return None
            self.pool.append(clip)
            self.pool = self.pool[-256:]
        clip = self.pool[int(self.rng.integers(len(self.pool)))]
        s = self.size
        y, x = self.rng.integers(0, clip.shape[1] - s + 1), self.rng.integers(0, clip.shape[2] - s + 1)
        return clip[:n_frames, y : y + s, x : x + s]

    def get(self, batch: int, n_frames: int) -> torch.Tensor:
        items = []
        for _ in range(batch):
            kind = self.rng.uniform()
            item = self._scene(n_frames) if kind < self.scene_frac else None
            if item is None:
                seed = int(self.rng.integers(1 << 30))
                item = dead_leaves(seed, self.size, self.size)[None] if n_frames == 1 else dead_leaves_clip(seed, n_frames, self.size, self.size)
            if self.rng.uniform() < 0.5:
                item = item[:, :, ::-1]
            items.append(np.ascontiguousarray(item))
        x = torch.from_numpy(np.stack(items)).permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
        return x * 2 - 1


def decode_unclamped(vae, z: torch.Tensor) -> torch.Tensor:
    """``AutoencoderKLWan.decode`` without its final ``clamp(-1, 1)``, for training.

    The clamp has zero gradient wherever the output is out of range, which at initialisation is most pixels: the
    decoder then only learns the mean colour. Same frame-by-frame causal loop as diffusers' ``_decode``.
    """
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    outs = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        outs.append(vae.decoder(x[:, :, i : i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx, first_chunk=i == 0))
    vae.clear_cache()
    out = torch.cat(outs, 2)
    if vae.config.patch_size is not None:
        from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

        out = unpatchify(out, patch_size=vae.config.patch_size)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--clip-batch", type=int, default=2)
    p.add_argument("--clip-every", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--kl", type=float, default=1e-6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scene-frac", type=float, default=0.5, help="fraction of samples from procedural scenes")
    p.add_argument("--clip-dir", type=Path, default=None, help="pre-rendered clips (train_denoiser render)")
    p.add_argument("--init", type=Path, default=None, help="initial weights (safetensors) for a fresh run")
    p.add_argument(
        "--decoder-only",
        action="store_true",
        help="freeze the encoder (and the latent statistics): improves reconstructions without moving the latent "
        "space a denoiser was trained in",
    )
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    vae = make_tiny_vae()
    if args.decoder_only and args.init is not None and args.init.is_dir():
        from diffusers import AutoencoderKLWan

        vae = AutoencoderKLWan.from_pretrained(args.init)  # keeps its latent statistics
        args.init = None
    if args.decoder_only:
        for m in (vae.encoder, vae.quant_conv):
            m.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    ck = args.out / "ckpt"
    state = load_checkpoint(ck, vae, opt)
    if state is None:
        state = new_state()
        if args.init is not None:
            from safetensors.torch import load_file

            vae.load_state_dict(load_file(args.init))
            print(f"initialised from {args.init}")
    data = Batches(args.seed + state["step"], args.size, args.scene_frac, args.clip_dir)
    budget = args.minutes * 60
    t_start = time.time() - state["elapsed"]
    last_ck = time.time()

    vae.train()
    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = args.lr * min(1.0, (state["step"] + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        clip = state["step"] % args.clip_every == 1
        x = data.get(args.clip_batch, 5) if clip else data.get(args.batch, 1)
        with torch.set_grad_enabled(not args.decoder_only):
            post = vae.encode(x).latent_dist
        # the posterior mean (a plain autoencoder, KL as a weak regulariser): sampling with the initial unit
        # variance drowns the signal and the decoder collapses to the mean colour for hundreds of steps
        z = post.mode()
        y = decode_unclamped(vae, z)
        rec_l1 = (y - x).abs().mean()
        mse = ((y.clamp(-1, 1) - x) ** 2).mean()
        kl = post.kl().mean() / z[0].numel()
        loss = rec_l1 + mse + args.kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        if state["step"] % 20 == 0:
            psnr = 10 * math.log10(4.0 / max(mse.item(), 1e-10))
            rec = {"step": state["step"], "min": round((time.time() - t_start) / 60, 2), "l1": round(rec_l1.item(), 4), "psnr": round(psnr, 2), "clip": clip, "lr": lr}
            state["log"].append(rec)
            print(json.dumps(rec), flush=True)
        if time.time() - last_ck > args.ckpt_minutes * 60:
            save_checkpoint(ck, vae, opt, state, t_start)
            last_ck = time.time()
    save_checkpoint(ck, vae, opt, state, t_start)
    # latent statistics for normalisation (Wan stores them in the VAE config); unchanged when the encoder is frozen
    vae.eval()
    if not args.decoder_only:
        with torch.no_grad():
            zs = [vae.encode(data.get(4, 5)).latent_dist.mode() for _ in range(8)]
        z = torch.cat([zz.transpose(0, 1).reshape(zz.shape[1], -1) for zz in zs], dim=1)
        vae.register_to_config(latents_mean=z.mean(1).tolist(), latents_std=z.std(1).clamp_min(1e-3).tolist())
    vae.save_pretrained(args.out / "final")
    (args.out / "final" / "train_log.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **state}, indent=1))
    print("saved", args.out / "final")


if __name__ == "__main__":
    main()
