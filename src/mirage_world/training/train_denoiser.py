"""Train the tiny memory-conditioned Wan denoiser in the TAEF2 latent space (CPU friendly, time-bounded, resumable).

Usage::

    python -m mirage_world.training.train_denoiser prepare --out runs/den --clips 400 --threads 1
    python -m mirage_world.training.train_denoiser train --out runs/den --minutes 60 --threads 1

``prepare`` renders procedural clips (:func:`mirage_world.worlds.render_clip`, ``2 * 16 + 1`` frames at 256x192 with
exact depth and cameras), cuts one random 128x96 window (a multiple of 16 pixels, ``K``'s principal point moved with
it: same pixel scale as inference, half the tokens), encodes every frame with the pipeline's VAE and makes two
training segments with the pipeline's own memory functions:

* segment 1 (frames 0..16): memory from frame 0 (:func:`~mirage_world.pipelines.pipeline_mirage.build_photo_memory`),
  read at the segment's cameras (the raw z-buffered read; ``train`` closes its cracks with
  :func:`~mirage_world.pipelines.conditioning.fill_cracks` when loading, the first step of the pipeline's
  :func:`~mirage_world.pipelines.pipeline_mirage.read_memory`; its coarse-read fill is not in the training data);
* segment 2 (frames 16..32): the same memory after segment 1's latent frames were written back with
  :func:`~mirage_world.pipelines.pipeline_mirage.write_generated` (depth from the memory read, as at inference).

``train`` fits the rectified-flow velocity (Wan's objective): ``x_s = (1 - s) x0 + s eps``, target ``eps - x0``,
``s`` uniform then shifted by ``shift``; the input is :func:`~mirage_world.pipelines.conditioning.denoiser_input`
and the timesteps :func:`~mirage_world.pipelines.conditioning.per_token_timesteps` (latent frame 0 clean) -- the
functions the pipeline samples with. Memory conditioning is dropped for 10% of samples. The data folder is
re-scanned every few minutes, so training can start while ``prepare`` still runs.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from safetensors.torch import load_file, save_file

from ..geometry.camera import rescale_intrinsics
from ..memory.splat import MemoryRead
from ..models.tiny import make_tiny_transformer
from ..pipelines.conditioning import denoiser_input, fill_cracks, per_token_timesteps
from ..pipelines.pipeline_mirage import MemoryConfig, MiragePipeline, build_photo_memory, write_generated
from .checkpoint import load_checkpoint, new_state, save_checkpoint

SEG = 16  # new frames per segment
SHIFT = 3.0
CROP = (96, 128)  # training window (H, W) in pixels


def load_vae(path: Path):
    from ..models.taef2 import AutoencoderTAEF2

    return AutoencoderTAEF2.from_pretrained(path).eval()


def prepare(args) -> None:
    """Render, crop, encode and read: one ``clip_XXXXX.safetensors`` per clip with two segments."""
    from ..worlds import render_clip

    torch.set_num_threads(args.threads)
    vae = load_vae(args.vae)
    pipe = MiragePipeline(vae=vae, transformer=make_tiny_transformer(vae.z_dim),
                          scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT))
    cfg = MemoryConfig()
    out = args.out / "data"
    out.mkdir(parents=True, exist_ok=True)
    f = pipe.vae_scale_factor_spatial
    ch, cw = CROP
    h, w = ch // f, cw // f
    t0 = time.time()
    k, n = (int(v) for v in args.shard.split("/"))
    for i in range(k, args.clips, n):
        path = out / f"clip_{i:05d}.safetensors"
        if path.exists():
            continue
        clip = render_clip(args.seed + i, 2 * SEG + 1, args.height, args.width)
        g = torch.Generator().manual_seed(args.seed + i)
        y0 = 16 * int(torch.randint((args.height - ch) // 16 + 1, (1,), generator=g))
        x0 = 16 * int(torch.randint((args.width - cw) // 16 + 1, (1,), generator=g))
        rgb = torch.as_tensor(clip["rgb"])[:, y0 : y0 + ch, x0 : x0 + cw]
        depth = torch.as_tensor(clip["depth"])[:, y0 : y0 + ch, x0 : x0 + cw]
        c2w = torch.as_tensor(clip["c2w"]).float()
        K = torch.as_tensor(clip["K"]).double().clone()
        K[0, 2] -= x0
        K[1, 2] -= y0
        K_lat = rescale_intrinsics(K, (ch, cw), (h, w)).float()
        z = torch.cat([pipe.encode_frames(rgb[j : j + 11].permute(3, 0, 1, 2)[None].float())[0]
                       for j in range(0, rgb.shape[0], 11)], dim=1)  # (C, 33, h, w)
        mem = build_photo_memory(z[:, 0], depth[0], K_lat, c2w[0], f, cfg)
        tensors = {}
        for s in range(2):
            a = s * SEG
            idx = list(range(a, a + SEG + 1))
            read = mem.read(K_lat.expand(len(idx), 3, 3), c2w[idx], (h, w))
            tensors[f"z{s}"] = z[:, a : a + SEG + 1].half()
            tensors[f"warp{s}"] = read.latent.contiguous().half()
            tensors[f"mask{s}"] = (read.mask * 255).round().to(torch.uint8)
            if s == 0:  # segment 1's frames written back the way the pipeline writes generated frames
                write_generated(mem, z[:, a + 1 : a + SEG + 1].permute(1, 0, 2, 3),
                                MemoryRead(read.latent[1:], read.mask[1:], read.depth[1:]), K_lat, c2w[idx[1:]], cfg)
        save_file({kk: v.contiguous() for kk, v in tensors.items()}, path)
        if i % 10 == 0:
            print(f"clip {i}/{args.clips} {time.time() - t0:.0f}s", flush=True)


def _load_samples(data_dir: Path, skip: set[str]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    samples = []
    for p in sorted(data_dir.glob("clip_*.safetensors")):
        if p.name in skip:
            continue
        try:
            d = load_file(p)
        except Exception:  # a file being written by a running `prepare`
            continue
        skip.add(p.name)
        for s in range(2):
            samples.append((d[f"z{s}"], d[f"warp{s}"], d[f"mask{s}"]))
    return samples


def batch_loss(model, items, gen: torch.Generator, train: bool = True, drop: float = 0.1):
    """Velocity MSE on latent frames 1.. of a batch of segments; returns (mean, per-sample (B,) mean)."""
    z = torch.stack([it[0] for it in items]).float()  # (B, C, T, h, w)
    warp = torch.stack([it[1] for it in items]).float()  # (B, T, C, h, w)
    mask = torch.stack([it[2] for it in items]).float() / 255  # (B, T, 1, h, w)
    for b in range(len(items)):  # the pipeline's read_memory = raw read + fill_cracks (stored reads are raw)
        warp[b], mask[b] = fill_cracks(warp[b], mask[b])
    B, _, T, h, w = z.shape
    if train:
        flip = torch.rand(B, generator=gen) < 0.5
        z[flip], warp[flip], mask[flip] = z[flip].flip(-1), warp[flip].flip(-1), mask[flip].flip(-1)
        dropped = torch.rand(B, generator=gen) < drop
        warp[dropped], mask[dropped] = 0, 0
        s = torch.rand(B, generator=gen)
    else:
        s = (torch.arange(B) + 0.5) / B
    s = SHIFT * s / (1 + (SHIFT - 1) * s)  # Wan's timestep shift
    eps = torch.randn(z.shape, generator=gen)
    sv = s.view(B, 1, 1, 1, 1)
    x = (1 - sv) * z + sv * eps
    x[:, :, 0] = z[:, :, 0]
    ts = per_token_timesteps(s * 1000, T, h, w, tuple(model.config.patch_size))
    ctx = torch.zeros(B, 1, model.config.text_dim)
    v = model(denoiser_input(x, warp, mask), timestep=ts, encoder_hidden_states=ctx, return_dict=False)[0]
    err = (v - (eps - z))[:, :, 1:] ** 2
    return err.mean(), err.mean(dim=(1, 2, 3, 4))


def train(args) -> None:
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    seen: set[str] = set()
    samples = _load_samples(args.out / "data", seen)
    n_val = 16
    val, samples = samples[:n_val], samples[n_val:]
    print(f"{len(samples)} training segments, {n_val} validation segments", flush=True)
    C = samples[0][0].shape[0]
    model = make_tiny_transformer(C)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ck = args.out / "ckpt"
    state = load_checkpoint(ck, model, opt) or new_state()
    if state["step"]:
        g.manual_seed(args.seed + state["step"])
    budget = args.minutes * 60
    t_start = time.time() - state["elapsed"]
    last_ck = last_scan = time.time()
    model.train()
    while time.time() - t_start < budget:
        if time.time() - last_scan > 180:
            samples += _load_samples(args.out / "data", seen)
            last_scan = time.time()
        frac = (time.time() - t_start) / budget
        lr = args.lr * min(1.0, (state["step"] + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for grp in opt.param_groups:
            grp["lr"] = lr
        idx = torch.randint(len(samples), (args.batch,), generator=g).tolist()
        loss, _ = batch_loss(model, [samples[i] for i in idx], g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        if state["step"] % 50 == 0:
            model.eval()
            with torch.no_grad():
                vl, per = batch_loss(model, val, torch.Generator().manual_seed(0), train=False)
                vn, _ = batch_loss(model, val, torch.Generator().manual_seed(0), train=False, drop=1.0)
            model.train()
            rec = {"step": state["step"], "min": round((time.time() - t_start) / 60, 2), "loss": round(loss.item(), 4),
                   "val": round(vl.item(), 4), "val_low_noise": round(per[: n_val // 2].mean().item(), 4),
                   "segments": len(samples), "lr": round(lr, 6)}
            state["log"].append(rec)
            print(json.dumps(rec), flush=True)
        if time.time() - last_ck > args.ckpt_minutes * 60:
            save_checkpoint(ck, model, opt, state, t_start)
            last_ck = time.time()
    save_checkpoint(ck, model, opt, state, t_start)
    pipe = MiragePipeline(vae=load_vae(args.vae), transformer=model.eval(),
                          scheduler=FlowMatchEulerDiscreteScheduler(shift=SHIFT))
    pipe.save_pretrained(args.out / "pipeline")
    log = {"args": {k: str(v) for k, v in vars(args).items()}, **state}
    (args.out / "pipeline" / "train_log.json").write_text(json.dumps(log, indent=1))
    print("saved", args.out / "pipeline", flush=True)


def main(argv=None) -> None:
    from ..defaults import DEFAULT_MODEL

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("cmd", choices=["prepare", "train"])
    p.add_argument("--vae", type=Path, default=DEFAULT_MODEL / "vae", help="VAE folder (default: the bundled TAEF2)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--clips", type=int, default=400)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    p.add_argument("--shard", default="0/1", help="prepare only clips i with i %% n == k ('k/n'), for parallel runs")
    args = p.parse_args(argv)
    {"prepare": prepare, "train": train}[args.cmd](args)


if __name__ == "__main__":
    main()
