"""The Mirage memory adapter: zero-init memory channels + peft LoRA on a stock Wan DiT; save / load round trip."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import WanTransformer3DModel
from safetensors.torch import load_file, save_file

from mirage_world.models.adapter import (
    ADAPTER_CONFIG,
    ADAPTER_TARGETS,
    LORA_WEIGHTS,
    PATCH_EMBEDDING_WEIGHTS,
    add_memory_adapter,
    is_adapter_folder,
    load_adapter,
    prepare_for_training,
    save_adapter,
    widen_in_place,
)
from mirage_world.models.tiny import memory_channels, widen_patch_embedding

C = 16


def _base(in_ch=C, seed=0):
    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=in_ch, out_channels=in_ch,
        text_dim=8, freq_dim=16, ffn_dim=32, num_layers=2, rope_max_seq_len=64,
    ).eval()


def _inputs(seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, C, 2, 4, 4, generator=g)
    read = torch.randn(1, C, 2, 4, 4, generator=g)
    cov = torch.rand(1, 1, 2, 4, 4, generator=g)
    return x, torch.cat([x, read, cov], 1), torch.tensor([500.0]), torch.randn(1, 3, 8, generator=g)


def _run(model, x, t, ctx):
    with torch.no_grad():
        return model(x, t, ctx).sample


def _train_step(model, seed=2):
    """One real optimiser step on the adapter's parameters (LoRA B leaves zero, the read channels leave zero)."""
    params = prepare_for_training(model)
    opt = torch.optim.SGD(params, lr=0.5)
    model.train()
    _, xw, t, ctx = _inputs(seed)
    loss = (model(xw, t, ctx).sample ** 2).mean()
    loss.backward()
    opt.step()
    model.eval()


def test_zero_init_output_equals_base_for_any_read():
    x, xw, t, ctx = _inputs()
    y0 = _run(_base(), x, t, ctx)
    m = add_memory_adapter(_base(), C, rank=4)
    assert m.config.in_channels == C + memory_channels(C) and m.config.out_channels == C
    assert list(m.peft_config) == ["mirage"]
    assert torch.equal(_run(m, xw, t, ctx), y0)
    xw2 = xw.clone()
    xw2[:, C:] = 100 * torch.randn_like(xw2[:, C:])  # any read, any coverage
    assert torch.equal(_run(m, xw2, t, ctx), y0)


def test_in_place_widening_matches_widen_patch_embedding_and_is_not_repeated():
    ref = widen_patch_embedding(_base(), memory_channels(C))
    wide = widen_in_place(_base(), C)
    assert wide.config.in_channels == ref.config.in_channels and wide.config.out_channels == ref.config.out_channels
    sa, sb = ref.state_dict(), wide.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    w = wide.patch_embedding.weight.clone()
    again = add_memory_adapter(wide, C, lora=False)  # already 2C + 1: not widened again
    assert again.patch_embedding.in_channels == 2 * C + 1 and torch.equal(again.patch_embedding.weight, w)


def test_trainable_parameters_are_exactly_lora_and_patch_embedding():
    m = add_memory_adapter(_base(), C, rank=4)
    params = prepare_for_training(m)
    names = {n for n, p in m.named_parameters() if p.requires_grad}
    lora_modules = {n for n, mod in m.named_modules() if hasattr(mod, "lora_A") and "mirage" in mod.lora_A}
    # 2 blocks x (attn1 + attn2: to_q, to_k, to_v, to_out.0; ffn: net.0.proj, net.2) = 20 adapted Linears
    assert len(lora_modules) == 2 * 10
    assert {n.split(".")[-1] for n in lora_modules} >= {"to_q", "to_k", "to_v", "0", "proj", "2"}
    expect = {"patch_embedding.weight", "patch_embedding.bias"}
    expect |= {f"{n}.lora_{ab}.mirage.weight" for n in lora_modules for ab in "AB"}
    assert names == expect and len(params) == len(expect)
    assert all(p.dtype == torch.float32 for p in params)


def test_lora_save_load_round_trip_after_a_training_step(tmp_path):
    m = add_memory_adapter(_base(), C, rank=4, alpha=8)
    _train_step(m)
    assert m.patch_embedding.weight[:, C:].abs().sum() > 0  # the step moved the read channels and the LoRA
    assert any(p.abs().sum() > 0 for n, p in m.named_parameters() if "lora_B" in n)
    _, xw, t, ctx = _inputs(3)
    y = _run(m, xw, t, ctx)
    assert not torch.allclose(y, _run(_base(), xw[:, :C], t, ctx), atol=1e-4)
    save_adapter(m, tmp_path, C)
    cfg = json.loads((tmp_path / ADAPTER_CONFIG).read_text())
    assert cfg == {"format": "mirage-adapter", "version": 1, "latent_channels": C, "base_in_channels": C, "rank": 4,
                   "alpha": 8.0, "targets": sorted(ADAPTER_TARGETS), "lora": True}
    assert is_adapter_folder(tmp_path)
    lora = load_file(tmp_path / LORA_WEIGHTS)
    assert all(k.startswith("transformer.blocks.") and ".lora_" in k for k in lora) and len(lora) == 40
    fresh = load_adapter(_base(), tmp_path)
    assert not fresh.training
    assert torch.equal(_run(fresh, xw, t, ctx), y)
    # diffusers' own loader reads the same file (metadata carries rank and alpha)
    other = widen_in_place(_base(), C)
    other.load_lora_adapter(str(tmp_path), weight_name=LORA_WEIGHTS, prefix="transformer", adapter_name="x")
    other.load_state_dict(load_file(tmp_path / PATCH_EMBEDDING_WEIGHTS), strict=False)
    assert torch.equal(_run(other, xw, t, ctx), y)
    fused = load_adapter(_base(), tmp_path, fuse=True)
    assert torch.allclose(_run(fused, xw, t, ctx), y, atol=1e-5)


def test_memory_channels_only_adapter(tmp_path):
    m = add_memory_adapter(_base(), C, lora=False)
    params = prepare_for_training(m)
    assert [p.shape for p in params] == [m.patch_embedding.weight.shape, m.patch_embedding.bias.shape]
    _train_step(m)
    (tmp_path / LORA_WEIGHTS).write_bytes(b"stale")  # a LoRA file from an earlier save must go
    save_adapter(m, tmp_path, C)
    assert not (tmp_path / LORA_WEIGHTS).exists()
    assert json.loads((tmp_path / ADAPTER_CONFIG).read_text())["lora"] is False
    _, xw, t, ctx = _inputs(4)
    fresh = load_adapter(_base(), tmp_path)
    assert not getattr(fresh, "peft_config", None)
    assert torch.equal(_run(fresh, xw, t, ctx), _run(m, xw, t, ctx))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("adapter")
    m = add_memory_adapter(_base(), C, rank=4)
    _train_step(m)
    save_adapter(m, d, C)
    return d


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_load_errors(saved, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_adapter(_base(), tmp_path / "nope")
    with pytest.raises(ValueError, match="adapter_config.json is missing"):
        load_adapter(_base(), tmp_path)
    assert not is_adapter_folder(tmp_path) and not is_adapter_folder(tmp_path / "nope")

    bad = _copy(saved, tmp_path / "fmt")
    (bad / ADAPTER_CONFIG).write_text(json.dumps({"format": "peft", "version": 1}))
    with pytest.raises(ValueError, match="format must be 'mirage-adapter'"):
        load_adapter(_base(), bad)
    assert not is_adapter_folder(bad)

    with pytest.raises(ValueError, match="16-channel latents .* transformer takes 8"):
        load_adapter(_base(in_ch=8), saved)

    bad = _copy(saved, tmp_path / "noemb")
    (bad / PATCH_EMBEDDING_WEIGHTS).unlink()
    with pytest.raises(ValueError, match="adapter file missing: .*memory_patch_embedding"):
        load_adapter(_base(), bad)

    bad = _copy(saved, tmp_path / "nolora")
    (bad / LORA_WEIGHTS).unlink()
    with pytest.raises(ValueError, match="adapter file missing: .*pytorch_lora_weights"):
        load_adapter(_base(), bad)

    bad = _copy(saved, tmp_path / "rank")
    cfg = json.loads((bad / ADAPTER_CONFIG).read_text())
    (bad / ADAPTER_CONFIG).write_text(json.dumps({**cfg, "rank": 8}))
    base = _base()
    before = base.patch_embedding.weight.clone()
    with pytest.raises(ValueError, match=r"lora_A.weight has shape \(4, 16\), the transformer needs \(8, 16\)"):
        load_adapter(base, bad)
    assert base.config.in_channels == C and torch.equal(base.patch_embedding.weight, before)  # left untouched

    bad = _copy(saved, tmp_path / "emb")
    emb = load_file(bad / PATCH_EMBEDDING_WEIGHTS)
    save_file({**emb, "patch_embedding.weight": emb["patch_embedding.weight"][:, :-1].contiguous()},
              bad / PATCH_EMBEDDING_WEIGHTS)
    with pytest.raises(ValueError, match="patch_embedding.weight has shape"):
        load_adapter(_base(), bad)

    bad = _copy(saved, tmp_path / "keys")
    lora = load_file(bad / LORA_WEIGHTS)
    save_file({k: v for k, v in lora.items() if "blocks.1." not in k}, bad / LORA_WEIGHTS)
    with pytest.raises(ValueError, match="LoRA keys do not match"):
        load_adapter(_base(), bad)

    other = add_memory_adapter(_base(), C, rank=2)
    with pytest.raises(ValueError, match="already has a 'mirage' adapter with another configuration"):
        load_adapter(other, saved)


def test_reload_into_the_same_adapter_replaces_its_weights(saved):
    """How the trainer resumes: the adapted model in training gets the checkpoint's adapter weights back."""
    _, xw, t, ctx = _inputs(5)
    want = _run(load_adapter(_base(), saved), xw, t, ctx)
    live = add_memory_adapter(_base(), C, rank=4)
    prepare_for_training(live)
    assert not torch.allclose(_run(live, xw, t, ctx), want, atol=1e-4)
    assert load_adapter(live, saved) is live
    assert torch.equal(_run(live, xw, t, ctx), want)


def test_add_and_save_errors(tmp_path):
    with pytest.raises(ValueError, match="takes 8 input channels"):
        add_memory_adapter(_base(in_ch=8), C)
    with pytest.raises(ValueError, match="not found"):
        add_memory_adapter(_base(), C, targets=("to_qq",))
    with pytest.raises(ValueError, match="rank must be >= 1"):
        add_memory_adapter(_base(), C, rank=0)
    m = add_memory_adapter(_base(), C, rank=2)
    with pytest.raises(ValueError, match="already has a 'mirage' adapter"):
        add_memory_adapter(m, C)
    with pytest.raises(ValueError, match="add the memory adapter"):
        save_adapter(_base(), tmp_path, C)
    with pytest.raises(ValueError, match="WanTransformer3DModel"):
        add_memory_adapter(torch.nn.Linear(2, 2), C)
