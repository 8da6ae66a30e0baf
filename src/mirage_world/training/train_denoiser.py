"""Train the tiny memory-conditioned Wan denoiser on procedural clips (CPU friendly, time-bounded, resumable).

Usage::

    python -m mirage_world.training.train_denoiser render --out runs/den --clips 100
    python -m mirage_world.training.train_denoiser prepare --vae runs/vae/final --out runs/den --clips 100
    python -m mirage_world.training.train_denoiser train --vae runs/vae/final --out runs/den --minutes 35

``prepare`` renders procedural clips of ``2 * 16 + 1`` frames with exact depth and cameras and turns each into two
training segments exactly as :class:`~mirage_world.pipelines.MiragePipeline` sees them at inference:

* segment 1 (frames 0..16): memory built from frame 0's latent with its depth;
* segment 2 (frames 16..32): memory holding segment 1's five latent frames, placed with ground-truth depth.

Each segment's latents are the VAE encoding of its 17 frames (latent frame 0 = its first frame alone); the
conditioning is the memory read at the cameras of frames ``a + 4t``.

``train`` fits the velocity of rectified flow (Wan's objective): ``x_s = (1 - s) x0 + s eps``, target
``eps - x0``, ``s`` drawn uniformly and shifted by ``shift`` as Wan's sampler does; latent frame 0 stays clean with
timestep 0; the loss covers latent frames 1..4. Memory conditioning is dropped for 10% of samples.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler
from safetensors.torch import load_file, save_file

from ..geometry.camera import rescale_intrinsics
from ..memory.latent_memory import LatentSpatialMemory, pool_depth_to_grid
from ..models.tiny import make_tiny_transformer
from ..pipelines.pipeline_mirage import MiragePipeline
from .checkpoint import load_checkpoint, new_state, save_checkpoint

SEG = 16  # new frames per segment
SHIFT = 3.0


def _encode(pipe: MiragePipeline, rgb: torch.Tensor) -> torch.Tensor:
    """rgb (F, H, W, 3) in [0, 1] -> normalised latents (C, T, h, w)."""
    return pipe.encode_frames(rgb.permute(3, 0, 1, 2)[None].float())[0]


def _raw_clip(args, i: int) -> dict[str, torch.Tensor]:
    """Render (or load the cached render of) clip ``i``: rgb uint8, depth, c2w, K."""
    from ..worlds import render_clip

    path = args.out / "raw" / f"clip_{i:05d}.safetensors"
    if path.exists():
        return load_file(path)
    clip = render_clip(args.seed + i, 2 * SEG + 1, args.height, args.width)
    raw = {
        "rgb": (torch.as_tensor(clip["rgb"]) * 255).round().to(torch.uint8),
        "depth": torch.as_tensor(clip["depth"]).float(),
        "c2w": torch.as_tensor(clip["c2w"]).float(),
        "K": torch.as_tensor(clip["K"]).float(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in raw.items()}, path)
    return raw


def render(args) -> None:
    """Render the raw clips only (needs no VAE; can run while the VAE trains)."""
    torch.set_num_threads(args.threads)
    t0 = time.time()
    for i in range(args.clips):
        _raw_clip(args, i)
        if i % 10 == 0:
            print(f"rendered {i}/{args.clips} {time.time() - t0:.0f}s", flush=True)


def prepare(args) -> None:
    torch.set_num_threads(args.threads)
    vae = AutoencoderKLWan.from_pretrained(args.vae)
    pipe = MiragePipeline(vae=vae, transformer=make_tiny_transformer(), scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT))
    out = args.out / "data"
    out.mkdir(parents=True, exist_ok=True)
    H, W = args.height, args.width
    f = pipe.vae_scale_factor_spatial
    h, w = H // f, W // f
    t0 = time.time()
    k, n = (int(v) for v in args.shard.split("/"))
    for i in range(k, args.clips, n):
        path = out / f"clip_{i:05d}.safetensors"
        if path.exists():
            continue
        clip = _raw_clip(args, i)
        rgb, depth, c2w, K = clip["rgb"].float() / 255, clip["depth"], clip["c2w"], clip["K"]
        K_lat = rescale_intrinsics(K.double(), (H, W), (h, w)).float()
        tensors = {}
        mem = LatentSpatialMemory(pipe.latent_channels)
        for s in range(2):
            a = s * SEG
            z = _encode(pipe, rgb[a : a + SEG + 1])  # (C, 5, h, w)
            idx = [a + 4 * t for t in range(z.shape[1])]
            if s == 0:
                mem.write(z[:, 0], pool_depth_to_grid(depth[a], f), K_lat, c2w[a])
            read = mem.read(K_lat.expand(len(idx), 3, 3), c2w[idx], (h, w))
            tensors[f"z{s}"] = z.half()
            tensors[f"warp{s}"] = read.latent.half()
            tensors[f"mask{s}"] = read.mask.to(torch.uint8)
            # after segment 1, the memory holds its latent frames at ground-truth depth
            d = pool_depth_to_grid(depth[idx], f)
            mem.write(z.permute(1, 0, 2, 3)[1:], d[1:], K_lat.expand(len(idx) - 1, 3, 3), c2w[idx[1:]])
        save_file({k: v.contiguous() for k, v in tensors.items()}, path)
        if i % 10 == 0:
            print(f"clip {i}/{args.clips} {time.time() - t0:.0f}s", flush=True)


def _load_samples(data_dir: Path) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    samples = []
    for p in sorted(data_dir.glob("clip_*.safetensors")):
        d = load_file(p)
        for s in range(2):
            samples.append((d[f"z{s}"].float(), d[f"warp{s}"].float(), d[f"mask{s}"].float()))
    return samples


def train(args) -> None:
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    samples = _load_samples(args.out / "data")
    n_val = max(2, len(samples) // 20)
    val, samples = samples[:n_val], samples[n_val:]
    print(f"{len(samples)} training segments, {n_val} validation segments")
    C = samples[0][0].shape[0]
    model = make_tiny_transformer(C)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ck = args.out / "ckpt"
    state = load_checkpoint(ck, model, opt) or new_state()
    if state["step"]:
        g.manual_seed(args.seed + state["step"])
    pt, ph, pw = model.config.patch_size
    ctx_dim = model.config.text_dim

    def batch_loss(items, gen):
        z = torch.stack([it[0] for it in items])  # (B, C, T, h, w)
        warp = torch.stack([it[1] for it in items])  # (B, T, C, h, w)
        mask = torch.stack([it[2] for it in items])  # (B, T, 1, h, w)
        B, _, T, h, w = z.shape
        if gen is not None:
            flip = torch.rand(B, generator=gen) < 0.5
            z[flip], warp[flip], mask[flip] = z[flip].flip(-1), warp[flip].flip(-1), mask[flip].flip(-1)
            drop = torch.rand(B, generator=gen) < 0.1
            warp[drop], mask[drop] = 0, 0
            s = torch.rand(B, generator=gen)
        else:
            s = torch.linspace(0.1, 0.9, B)
        s = SHIFT * s / (1 + (SHIFT - 1) * s)  # Wan's timestep shift
        eps = torch.randn(z.shape, generator=gen) if gen is not None else torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
        sv = s.view(B, 1, 1, 1, 1)
        x = (1 - sv) * z + sv * eps
        x[:, :, 0] = z[:, :, 0]
        cond = torch.cat([warp, mask], dim=2).permute(0, 2, 1, 3, 4)  # (B, C + 1, T, h, w)
        x_in = torch.cat([x, cond], dim=1)
        tpf = (h // ph) * (w // pw)
        ts = (s * 1000).view(B, 1).expand(B, T * tpf).clone()
        ts[:, :tpf] = 0
        v = model(x_in, timestep=ts, encoder_hidden_states=torch.zeros(B, 1, ctx_dim), return_dict=False)[0]
        target = eps - z
        err = (v - target)[:, :, 1:] ** 2
        return err.mean(), err.mean(dim=(1, 3, 4))

    budget = args.minutes * 60
    t_start = time.time() - state["elapsed"]
    last_ck = time.time()

    model.train()
    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = args.lr * min(1.0, (state["step"] + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.randint(len(samples), (args.batch,), generator=g).tolist()
        loss, _ = batch_loss([samples[i] for i in idx], g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        if state["step"] % 50 == 0:
            model.eval()
            with torch.no_grad():
                vl, _ = batch_loss(val, None)
            model.train()
            rec = {"step": state["step"], "min": round((time.time() - t_start) / 60, 2), "loss": round(loss.item(), 4), "val": round(vl.item(), 4), "lr": lr}
            state["log"].append(rec)
            print(json.dumps(rec), flush=True)
        if time.time() - last_ck > args.ckpt_minutes * 60:
            save_checkpoint(ck, model, opt, state, t_start)
            last_ck = time.time()
    save_checkpoint(ck, model, opt, state, t_start)
    # assemble a full pipeline directory (diffusers layout) with the trained denoiser
    vae = AutoencoderKLWan.from_pretrained(args.vae)
    pipe = MiragePipeline(vae=vae, transformer=model.eval(), scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT))
    pipe.save_pretrained(args.out / "pipeline")
    (args.out / "pipeline" / "train_log.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **state}, indent=1))
    print("saved", args.out / "pipeline")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cmd", choices=["render", "prepare", "train"])
    p.add_argument("--vae", type=Path, default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, default=100)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--minutes", type=float, default=35.0)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--shard", default="0/1", help="prepare only clips i with i %% n == k ('k/n'), for parallel runs")
    args = p.parse_args(argv)
    {"render": render, "prepare": prepare, "train": train}[args.cmd](args)


if __name__ == "__main__":
    main()
