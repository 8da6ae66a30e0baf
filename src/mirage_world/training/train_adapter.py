"""Train the Mirage memory adapter (memory input channels + LoRA) on a Wan DiT, or a whole memory-conditioned DiT.

Usage (one process, or any number of GPUs / machines through accelerate; the code has no distribution of its own)::

    python -m mirage_world.training.train_adapter --config CONFIG.json [--data DIR] [--output-dir DIR]
    accelerate launch -m mirage_world.training.train_adapter --config CONFIG.json

Two modes (:attr:`~mirage_world.training.config.TrainConfig.base`):

* ``"adapter"`` (the paper's system): a base Wan DiT (e.g. Wan2.2-TI2V-5B, ``C = 48`` latent channels) gets the
  memory adapter (:func:`~mirage_world.models.adapter.add_memory_adapter`: ``C + 1`` zero-initialised input
  channels ``[read, coverage]`` + a peft LoRA); only the LoRA and the patch embedding train; the result is an adapter
  folder (:func:`~mirage_world.models.adapter.save_adapter`) for ``mirage generate --adapter``.
* ``"full"``: every weight of an already memory-conditioned DiT (``2C + 1`` input channels) trains -- the embedded
  tiny model (``configs/tiny_full.json``); the result is a pipeline folder with the new transformer.

This module holds the accelerate loop (:func:`train`), its checkpoints and the command line (:func:`main`); the
settings and their checks are in :mod:`mirage_world.training.config`, one training sample (memory built and read
with the pipeline's own functions, rectified-flow loss) in :mod:`mirage_world.training.samples`.

Everything random in a sample (clip, window, crop, segment, dropout, noise level, noise) is a function of the data
seed and the sample's index, so a resumed run repeats the interrupted one exactly (tested: bit-equal parameters).
Accelerate does device placement, mixed precision, gradient accumulation, checkpoints (``accelerator.save_state``;
in adapter mode only the adapter and the optimiser are written) and logging (tensorboard when installed, always
the console and ``OUTPUT_DIR/train_log.jsonl``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import typer

from ..errors import InputError, cli_group_class
from .config import (
    CONFIG_DIR,
    ModelInfo,
    TrainConfig,
    check_against_model,
    check_config,
    inspect_model,
    load_config,
    parse_set,
    read_json_object,
    weight_dtype,
)
from .samples import batch_samples, flow_matching_loss

__all__ = ["CONFIG_DIR", "train", "latest_checkpoint", "app", "main"]


# ----------------------------------------------------------------------------------------------------------------
# checkpoints


def _checkpoint_dirs(output_dir: Path) -> list[Path]:
    d = output_dir / "checkpoints"
    found = [p for p in d.glob("step-*") if (p / "trainer_state.json").is_file()] if d.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output_dir) -> Path | None:
    """The newest complete checkpoint (``checkpoints/step-N`` with its ``trainer_state.json``) or ``None``."""
    found = _checkpoint_dirs(Path(output_dir))
    return found[-1] if found else None


# ----------------------------------------------------------------------------------------------------------------
# training


def _load_models(cfg: TrainConfig, info: ModelInfo, dtype: torch.dtype):
    from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

    from ..pipelines import MiragePipeline

    vae = info.vae_class.from_pretrained(info.path / "vae", torch_dtype=torch.float32).eval().requires_grad_(False)
    tr_dtype = dtype if cfg.base == "adapter" else torch.float32
    transformer = WanTransformer3DModel.from_pretrained(info.path / "transformer", torch_dtype=tr_dtype)
    text_encoder = tokenizer = None
    if info.has_text_encoder:
        import transformers
        from transformers import AutoTokenizer

        te_cfg = read_json_object(info.path / "text_encoder" / "config.json", "model text encoder")
        arch = (te_cfg.get("architectures") or ["UMT5EncoderModel"])[0]
        te_class = getattr(transformers, arch, None)
        if te_class is None:
            raise InputError(f"{info.path / 'text_encoder'}: unknown transformers class {arch!r}")
        major, minor = (int(v) for v in transformers.__version__.split(".")[:2])
        kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        text_encoder = te_class.from_pretrained(info.path / "text_encoder", **{kw: dtype}).eval()
        tokenizer = AutoTokenizer.from_pretrained(info.path / "tokenizer")
    pipe = MiragePipeline(vae=vae, transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                          text_encoder=text_encoder, tokenizer=tokenizer)
    return pipe, transformer


def train(cfg: TrainConfig, resume: str | None = "auto") -> Path:
    """Run training; returns the result folder (``OUTPUT_DIR/adapter`` or ``OUTPUT_DIR/pipeline``).

    Args:
        cfg: the settings (checked again here).
        resume: ``"auto"``: from the newest checkpoint in ``output_dir`` if any; ``None`` / ``"none"``: from the
            start (an output folder with checkpoints is refused); a path: that checkpoint folder.

    Raises:
        InputError: bad settings, model folder, data or output folder -- all checked before any model loads.
    """
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed
    from diffusers.optimization import get_scheduler

    from ..io import check_output_path
    from ..models.adapter import add_memory_adapter, load_adapter, prepare_for_training, save_adapter
    from ..pipelines import MemoryConfig
    from .data import ClipWindows

    check_config(cfg)
    info = inspect_model(cfg.model)
    check_against_model(cfg, info)
    out = check_output_path(cfg.output_dir, "output_dir", folder=True)
    resume = "none" if resume is None else str(resume)
    if resume == "auto":
        start_ckpt = latest_checkpoint(out)
    elif resume == "none":
        start_ckpt = None
        if latest_checkpoint(out) is not None:
            raise InputError(f"{out} holds checkpoints: resume them (--resume auto) or use another output_dir")
    else:
        start_ckpt = Path(resume)
        if not (start_ckpt / "trainer_state.json").is_file():
            raise InputError(f"--resume {resume}: not a trainer checkpoint folder (no trainer_state.json)")

    log_with = None
    if cfg.log_with == "tensorboard":
        if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
            log_with = "tensorboard"
        else:
            print("tensorboard is not installed (pip install tensorboard): logging to the console and "
                  "train_log.jsonl only", file=sys.stderr)
    accelerator = Accelerator(
        gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision, log_with=log_with,
        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / "logs")),
    )
    n_proc = accelerator.num_processes
    T_window = 1 + cfg.segment_frames * cfg.segments
    dataset = ClipWindows(cfg.data, T_window, tuple(cfg.crop), seed=cfg.seed, frame_stride=cfg.frame_stride,
                          resize_hw=None if cfg.resize is None else tuple(cfg.resize),
                          length=cfg.steps * cfg.grad_accum * cfg.batch_size * n_proc)
    if dataset.skipped:
        accelerator.print(f"{len(dataset.skipped)} clip files skipped, e.g. {dataset.skipped[0]}")
    mem_cfg = MemoryConfig(**cfg.memory)

    set_seed(cfg.seed)
    w_dtype = weight_dtype(cfg)
    pipe, transformer = _load_models(cfg, info, w_dtype)
    device = accelerator.device
    pipe.vae.to(device)
    C = info.latent_channels
    if pipe.has_text_encoder:  # the prompt is encoded once, by the pipeline's own encoder, and cached
        pipe.text_encoder.to(device)
        context = pipe.encode_prompt(cfg.prompt, cfg.max_sequence_length, device, w_dtype)  # (1, L, D)
        if context.shape[-1] != transformer.config.text_dim:
            raise InputError(f"the text encoder gives {context.shape[-1]}-d states, the transformer takes "
                             f"text_dim {transformer.config.text_dim}")
        pipe.text_encoder = pipe.tokenizer = None  # its memory goes back before training
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    else:
        context = torch.zeros(1, 1, transformer.config.text_dim, device=device, dtype=w_dtype)
    shift = cfg.shift or info.shift or 3.0

    if cfg.base == "adapter":
        if cfg.init_adapter:
            load_adapter(transformer, cfg.init_adapter)
        else:
            add_memory_adapter(transformer, C, cfg.rank, cfg.alpha, tuple(cfg.targets), cfg.lora)
        params = prepare_for_training(transformer)
    else:
        transformer.requires_grad_(True)
        params = list(transformer.parameters())
    if cfg.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.to(device).train()
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_epsilon,
                                  weight_decay=cfg.weight_decay)
    lr_scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=cfg.lr_warmup_steps * n_proc,
                                 num_training_steps=cfg.steps * n_proc)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, shuffle=False,
                                         num_workers=cfg.num_workers)
    transformer, optimizer, loader, lr_scheduler = accelerator.prepare(transformer, optimizer, loader, lr_scheduler)

    if cfg.base == "adapter":  # checkpoints hold the adapter (a few MB), not the frozen 5B backbone
        def save_hook(models, weights, output_dir):
            if accelerator.is_main_process:
                for m in models:
                    save_adapter(accelerator.unwrap_model(m), Path(output_dir) / "adapter", C)
            weights.clear()

        def load_hook(models, input_dir):
            while models:
                m = accelerator.unwrap_model(models.pop())
                load_adapter(m, Path(input_dir) / "adapter")
                prepare_for_training(m)
                m.train()

        accelerator.register_save_state_pre_hook(save_hook)
        accelerator.register_load_state_pre_hook(load_hook)

    step = 0
    log: list[dict] = []
    if start_ckpt is not None:
        try:
            accelerator.load_state(str(start_ckpt))
        except ValueError as e:  # e.g. an adapter of another rank: the settings changed since the checkpoint
            raise InputError(f"cannot resume from {start_ckpt}: {e}") from None
        state = json.loads((start_ckpt / "trainer_state.json").read_text())
        step = int(state["step"])
        accelerator.print(f"resumed from {start_ckpt} at step {step}")
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1) + "\n")
        if log_with:
            accelerator.init_trackers("mirage_train", config={k: str(v) for k, v in dataclasses.asdict(cfg).items()})

    def save_checkpoint(at: int) -> None:
        d = out / "checkpoints" / f"step-{at:07d}"
        accelerator.save_state(str(d))
        if accelerator.is_main_process:
            (d / "trainer_state.json").write_text(json.dumps({"step": at, "base": cfg.base}) + "\n")
            for old in _checkpoint_dirs(out)[: -cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()

    batches = accelerator.skip_first_batches(loader, step * cfg.grad_accum) if step else loader
    t0, loss_sum, loss_n = time.time(), 0.0, 0
    for batch in batches if step < cfg.steps else []:
        with accelerator.accumulate(transformer):
            z, reads, masks, u, noise = batch_samples(pipe, batch, cfg.segments, cfg.segment_frames,
                                                      cfg.memory_dropout, mem_cfg)
            B = z.shape[0]
            loss = flow_matching_loss(transformer, z, reads.to(device), masks.to(device), context.expand(B, -1, -1),
                                      u.to(device), noise.to(device), shift)
            accelerator.backward(loss)
            if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        loss_sum += float(accelerator.gather(loss.detach().reshape(1)).mean())
        loss_n += 1
        if not accelerator.sync_gradients:
            continue
        step += 1
        if step % cfg.log_every == 0 or step == cfg.steps:
            rec = {"step": step, "loss": round(loss_sum / loss_n, 6), "lr": lr_scheduler.get_last_lr()[0],
                   "seconds": round(time.time() - t0, 2)}
            accelerator.log({"loss": rec["loss"], "lr": rec["lr"]}, step=step)
            accelerator.print(json.dumps(rec), flush=True)
            if accelerator.is_main_process:
                with open(out / "train_log.jsonl", "a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            log.append(rec)
            loss_sum, loss_n = 0.0, 0
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save_checkpoint(step)
        if step >= cfg.steps:
            break

    accelerator.wait_for_everyone()
    model = accelerator.unwrap_model(transformer)
    result = out / ("adapter" if cfg.base == "adapter" else "pipeline")
    if accelerator.is_main_process:
        tmp = out / f".{result.name}-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if cfg.base == "adapter":
            save_adapter(model, tmp, C)
        else:  # the source model's components and model_index.json, the trained transformer in place of its own
            tmp.mkdir(parents=True)
            for src in info.path.iterdir():
                if src.is_dir() and src.name != "transformer" and (src / "config.json").exists() or \
                        src.is_dir() and src.name in ("scheduler", "tokenizer"):
                    shutil.copytree(src, tmp / src.name)
            if (info.path / "model_index.json").is_file():
                shutil.copy2(info.path / "model_index.json", tmp / "model_index.json")
            model.save_pretrained(tmp / "transformer")
        (tmp / "train_summary.json").write_text(json.dumps(
            {"config": dataclasses.asdict(cfg), "steps": step, "log": log}, indent=1) + "\n")
        if result.exists():
            shutil.rmtree(result)
        os.replace(tmp, result)
        accelerator.print(f"saved {result}")
    accelerator.end_training()
    return result


# ----------------------------------------------------------------------------------------------------------------
# command line

app = typer.Typer(cls=cli_group_class(), add_completion=False, no_args_is_help=True,
                  help="Train the Mirage memory adapter (LoRA + memory channels) or a whole memory-conditioned DiT.")


@app.callback(invoke_without_command=True)
def _command(
    config: Path = typer.Option(..., "--config", help="JSON config (keys: TrainConfig; see configs/*.json)."),
    data: Optional[list[str]] = typer.Option(None, "--data", help="Clip folder (repeatable); replaces the config's."),
    model: Optional[str] = typer.Option(None, "--model", help="Diffusers model folder; replaces the config's."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Output folder; replaces the config's."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE (JSON value) setting, repeatable."),
    resume: str = typer.Option("auto", "--resume", help="'auto' (newest checkpoint in the output folder), 'none', "
                               "or a checkpoint folder."),
) -> None:
    """Train (settings: --config, then --set, --data, --model, --output-dir)."""
    try:
        overrides = parse_set(set_ or [])
        if data:
            overrides["data"] = list(data)
        if model:
            overrides["model"] = model
        if output_dir:
            overrides["output_dir"] = output_dir
        cfg = load_config(config, overrides)
        train(cfg, resume)
    except InputError as e:
        typer.echo(f"error: {' '.join(str(e).split())}", err=True)
        raise typer.Exit(code=2) from None


def main(argv=None) -> None:
    """Entry point of ``python -m mirage_world.training.train_adapter`` / ``accelerate launch -m ...``."""
    app(args=argv, prog_name="mirage_world.training.train_adapter")


if __name__ == "__main__":
    main()
