"""The adapter trainer on a tiny random Wan2.2-TI2V-shaped model: runs, resumes to the same state, checks its inputs;
its clip windows (deterministic crops with the principal point moved) and memory samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from mirage_world.errors import InputError
from mirage_world.models.adapter import LORA_WEIGHTS, PATCH_EMBEDDING_WEIGHTS, is_adapter_folder
from mirage_world.training.config import load_config
from mirage_world.training.data import ClipWindows
from mirage_world.training.samples import memory_sample
from mirage_world.training.train_adapter import (
    CONFIG_DIR,
    app,
    latest_checkpoint,
    main,
    train,
)

C = 48  # Wan2.2-TI2V-5B's latent channels
SEG = 4  # frames per segment (one latent frame per 4 frames)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two procedural world clips of 9 frames at 64x48 in the geometry.npz layout (sky and dynamic masks)."""
    from mirage_world.worlds import render_world, save_world_clip

    d = tmp_path_factory.mktemp("clips")
    for seed in (0, 1):
        save_world_clip(render_world(seed, "random", 1 + 2 * SEG, width=64, height=48), d / f"c{seed}",
                        png=False, video=False)
    return d


@pytest.fixture(scope="module")
def wan22_tiny(tmp_path_factory):
    """The tiny random model with Wan2.2-TI2V-5B's component classes and configuration shape (48 latent channels,
    16x / 4x, patch 1x2x2, UMT5 + T5 tokenizer, UniPC scheduler with flow shift 5), saved as a diffusers folder."""
    from mirage_world.models.wan import save_tiny_wan22

    return save_tiny_wan22(tmp_path_factory.mktemp("wan22_tiny"))


def _cfg(model, clips, out, **kw):
    base = dict(model=str(model), data=[str(clips)], output_dir=str(out), base="adapter", rank=4, segment_frames=SEG,
                segments=2, crop=[32, 64], steps=3, batch_size=1, lr=1e-2, lr_warmup_steps=0, checkpoint_every=2,
                log_every=1, memory_dropout=0.3, prompt="a room", max_sequence_length=8, log_with="none", seed=1,
                memory={"dtype": "float32"})
    return load_config(None, {**base, **kw})


def _adapter_tensors(folder):
    return {**load_file(folder / PATCH_EMBEDDING_WEIGHTS), **load_file(folder / LORA_WEIGHTS)}


def test_train_three_steps_and_resume_to_the_same_state(wan22_tiny, clips, tmp_path):
    torch.set_num_threads(1)
    # seed 1: steps 1-3 train segments 1, 1, 0 with the memory dropped in steps 1 and 3 (dropout 0.3)
    a = train(_cfg(wan22_tiny, clips, tmp_path / "a"))
    assert a == tmp_path / "a" / "adapter" and is_adapter_folder(a)
    assert [p.name for p in (tmp_path / "a" / "checkpoints").iterdir()] != []
    assert latest_checkpoint(tmp_path / "a").name == "step-0000003"
    final = _adapter_tensors(a)
    # training moved the adapter: the read channels (zero at init) and the LoRA B matrices (zero at init)
    assert final["patch_embedding.weight"][:, C:].abs().sum() > 0
    assert all(v.abs().sum() > 0 for k, v in final.items() if "lora_B" in k)
    log = [json.loads(line) for line in (tmp_path / "a" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in log)

    # interrupted after step 2, started again with the same settings: resumes from its checkpoint automatically
    train(_cfg(wan22_tiny, clips, tmp_path / "b", steps=2))
    ck_a = _adapter_tensors(tmp_path / "a" / "checkpoints" / "step-0000002" / "adapter")
    ck_b = _adapter_tensors(tmp_path / "b" / "checkpoints" / "step-0000002" / "adapter")
    assert all(torch.equal(ck_a[k], ck_b[k]) for k in ck_a)
    assert not all(torch.equal(ck_a[k], final[k]) for k in final)  # step 3 changed something
    b = train(_cfg(wan22_tiny, clips, tmp_path / "b", steps=3))
    resumed = _adapter_tensors(b)
    assert resumed.keys() == final.keys()
    assert all(torch.equal(resumed[k], final[k]) for k in final), "resumed run differs from the uninterrupted one"
    # the checkpoint holds the adapter and the optimiser, not the frozen backbone
    ck = tmp_path / "b" / "checkpoints" / "step-0000002"
    assert not (ck / "model.safetensors").exists() and (ck / "optimizer.bin").exists()
    # an explicit checkpoint into a new folder: the same final state again
    c = train(_cfg(wan22_tiny, clips, tmp_path / "c"), resume=str(ck))
    assert all(torch.equal(_adapter_tensors(c)[k], final[k]) for k in final)
    with pytest.raises(InputError, match="holds checkpoints"):
        train(_cfg(wan22_tiny, clips, tmp_path / "b", steps=4), resume="none")
    with pytest.raises(InputError, match="cannot resume from .*another configuration"):
        train(_cfg(wan22_tiny, clips, tmp_path / "b", steps=4, rank=2))


def test_config_and_input_errors(wan22_tiny, clips, tmp_path):
    with pytest.raises(InputError, match="unknown setting 'ranks'"):
        load_config(None, {"ranks": 3})
    with pytest.raises(InputError, match="rank must be <class 'int'>"):
        load_config(None, {"rank": "3", "model": "m", "data": ["d"]})
    with pytest.raises(InputError, match="data is not set"):
        load_config(None, {"model": "m"})
    with pytest.raises(InputError, match="crop .* must be multiples of 32"):
        train(_cfg(wan22_tiny, clips, tmp_path / "o", crop=[48, 64]))
    with pytest.raises(InputError, match="base 'full' needs a memory-conditioned transformer"):
        train(_cfg(wan22_tiny, clips, tmp_path / "o", base="full"))
    with pytest.raises(InputError, match="model folder not found"):
        train(_cfg(tmp_path / "nope", clips, tmp_path / "o"))
    with pytest.raises(InputError, match="no usable training clip"):
        train(_cfg(wan22_tiny, clips, tmp_path / "o", segments=5))  # 21-frame windows, the clips have 9
    with pytest.raises(InputError, match="segment_frames must be a multiple of .* 4"):
        train(_cfg(wan22_tiny, clips, tmp_path / "o", segment_frames=6))
    assert not (tmp_path / "o").exists()  # nothing written before the inputs are checked


def test_command_line(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"model": "m", "data": ["d"], "crop": [32]}))
    r = CliRunner().invoke(app, ["--config", str(cfg)])
    assert r.exit_code == 2 and r.output.strip().splitlines()[-1].startswith("error: crop must be [H, W]")
    r = CliRunner().invoke(app, ["--config", str(cfg), "--set", "crop=[32,64]"])
    assert r.exit_code == 2 and "error: model folder not found: " + str(tmp_path / "m") in r.output
    r = CliRunner().invoke(app, ["--config", str(tmp_path / "none.json")])
    assert r.exit_code == 2 and "error: config file not found" in r.output
    # main() is what `python -m` / `accelerate launch -m` run
    with pytest.raises(SystemExit) as e:
        main(["--config", str(cfg)])
    assert e.value.code == 2 and capsys.readouterr().err.strip().splitlines()[-1].startswith("error: crop must be")


def test_bundled_configs_load():
    tiny = load_config(CONFIG_DIR / "tiny_full.json", {"data": ["clips"]})
    assert tiny.base == "full" and (CONFIG_DIR / tiny.model / "transformer" / "config.json").is_file()
    wan = load_config(CONFIG_DIR / "wan22_ti2v_5b_adapter.json", {"data": ["clips"], "model": "wan"})
    assert wan.base == "adapter" and wan.crop == [704, 1280] and wan.mixed_precision == "bf16"


def test_clip_windows_are_deterministic_crops_with_the_principal_point_moved(clips):
    from mirage_world.geometry.camera_files import read_geometry_npz

    ds = ClipWindows([clips], 5, (32, 48), seed=7, length=20)
    assert len(ds.clips) == 2 and len(ds) == 20
    a, b, other = ds[3], ds[3], ds[4]
    assert all(torch.equal(a[k], b[k]) for k in ("frames", "depth", "keep", "K", "c2w"))
    assert not torch.equal(a["frames"], other["frames"]) or not torch.equal(a["K"], other["K"])
    assert a["frames"].shape == (5, 32, 48, 3) and a["frames"].dtype == torch.uint8
    assert a["keep"].shape == (5, 32, 48) and a["depth"].shape == (32, 48)
    # find where the crop came from; K's principal point moved by exactly that offset
    found = []
    for ci in ds.clips:
        cam = read_geometry_npz(ci.path)
        for s in range(cam.frames.shape[0] - 4):
            for y0 in range(48 - 32 + 1):
                for x0 in range(64 - 48 + 1):
                    if np.array_equal(cam.frames[s : s + 5, y0 : y0 + 32, x0 : x0 + 48], a["frames"].numpy()):
                        found.append((cam, s, y0, x0))
    assert len(found) == 1
    cam, s, y0, x0 = found[0]
    K = cam.K[s].clone()
    K[0, 2] -= x0
    K[1, 2] -= y0
    assert torch.allclose(a["K"], K)
    assert torch.allclose(a["c2w"], cam.c2w[s : s + 5])
    sky = torch.from_numpy(cam.arrays["sky_mask"][s : s + 5, y0 : y0 + 32, x0 : x0 + 48])
    assert not (a["keep"] & sky).any()  # sky pixels are never kept for the memory


def test_memory_sample_reads_the_photo_back_at_its_own_camera(wan22_tiny, clips):
    """Segment 0's latent frame 0 is read at the photo's camera: the memory gives the photo's own latents there.
    Segment 1 starts from its own first frame, encoded alone (what the pipeline holds clean)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

    from mirage_world.pipelines import MemoryConfig, MiragePipeline

    pipe = MiragePipeline(vae=AutoencoderKLWan.from_pretrained(wan22_tiny / "vae"),
                          transformer=WanTransformer3DModel.from_pretrained(wan22_tiny / "transformer"),
                          scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0))
    ds = ClipWindows([clips], 1 + 2 * SEG, (32, 64), seed=0, length=4)
    item = ds[0]
    cfg = MemoryConfig(dtype="float32", voxel_size=None)
    z, read, mask = memory_sample(pipe, item, 0, SEG, cfg)
    assert z.shape == (C, 2, 2, 4) and read.shape == (2, C, 2, 4) and mask.shape == (2, 1, 2, 4)
    covered = mask[0, 0] > 0
    assert covered.any()
    torch.testing.assert_close(read[0][:, covered], z[:, 0][:, covered], atol=1e-5, rtol=1e-5)
    z1, read1, mask1 = memory_sample(pipe, item, 1, SEG, cfg)
    alone = pipe.encode_frames(item["frames"][SEG : SEG + 1].permute(3, 0, 1, 2)[None].float() / 255)
    torch.testing.assert_close(z1[:, 0], alone[0, :, 0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="no segment 2"):
        memory_sample(pipe, item, 2, SEG, cfg)


def test_gradient_accumulation_and_checkpointing_match_one_large_batch(wan22_tiny, clips, tmp_path):
    """2 micro-batches of 1 accumulated (with gradient checkpointing) = 1 batch of the same 2 samples: accelerate's
    accumulation averages the gradient, and checkpointing recomputes the same activations. The prompt matters."""
    # adam_epsilon 1: the first Adam step is ~ lr * g (not lr * sign(g), which rounding noise in tiny g flips)
    common = dict(steps=1, checkpoint_every=1, memory_dropout=0.0, lr_scheduler="constant", adam_epsilon=1.0,
                  max_grad_norm=0.0, weight_decay=0.0)
    big = _adapter_tensors(train(_cfg(wan22_tiny, clips, tmp_path / "big", batch_size=2, **common)))
    acc = _adapter_tensors(train(_cfg(wan22_tiny, clips, tmp_path / "acc", batch_size=1, grad_accum=2,
                                      gradient_checkpointing=True, **common)))
    one = _adapter_tensors(train(_cfg(wan22_tiny, clips, tmp_path / "one", batch_size=1, **common)))
    assert all(torch.allclose(big[k], acc[k], atol=1e-6) for k in big)
    assert not all(torch.allclose(big[k], one[k], atol=1e-6) for k in big)  # the second sample mattered
    # the prompt reaches the DiT through the text encoder
    silent = _adapter_tensors(train(_cfg(wan22_tiny, clips, tmp_path / "silent", batch_size=1, prompt="", **common)))
    assert not all(torch.allclose(silent[k], one[k], atol=1e-6) for k in one)
