"""safetensors save/load: bit-exact round trips, truncated and hostile files refused with clear ValueErrors."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from safetensors.torch import save

from mirage_world.memory import LatentSpatialMemory


def _K(h, w, f=8.0):
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float32)


def _filled(**kw) -> LatentSpatialMemory:
    g = torch.Generator().manual_seed(0)
    m = LatentSpatialMemory(5, latent_spec={"vae": "AutoencoderKLWan", "scale_factor_spatial": 16}, **kw)
    for i in range(3):
        c2w = torch.eye(4)
        c2w[0, 3] = 0.1 * i
        m.write(torch.randn(5, 6, 8, generator=g) * (i + 1), 2 + torch.rand(6, 8, generator=g), _K(6, 8), c2w)
    return m


CONFIGS = [
    dict(),
    dict(dtype="float16"),
    dict(dtype="bfloat16", splat="bilinear"),
    dict(dtype="int8", voxel_size=0.05, fusion="newest"),
    dict(voxel_size=0.02, max_confidence=10.0, capacity=100, eviction="confidence"),
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_round_trip_is_bit_exact(tmp_path, kw):
    m = _filled(**kw)
    p = tmp_path / "m.safetensors"
    m.save(p)
    n = LatentSpatialMemory.load(p)
    for name in ("positions", "latents", "write_ids", "confidence", "scale"):
        a, b = getattr(m, name), getattr(n, name)
        assert (a is None and b is None) or (a.dtype == b.dtype and torch.equal(a, b)), name
    for attr in ("channels", "dtype_name", "splat", "voxel_size", "fusion", "max_confidence", "capacity", "eviction",
                 "depth_tolerance", "near", "latent_spec", "num_writes", "nbytes"):
        assert getattr(m, attr) == getattr(n, attr), attr
    r1, r2 = m.read(_K(6, 8), torch.eye(4), (6, 8)), n.read(_K(6, 8), torch.eye(4), (6, 8))
    assert torch.equal(r1.latent, r2.latent) and torch.equal(r1.depth, r2.depth)
    # the loaded memory keeps working (write ids continue)
    n.write(torch.randn(5, 6, 8), torch.ones(6, 8), _K(6, 8), torch.eye(4))
    assert n.num_writes == m.num_writes + 1


def test_empty_memory_round_trip(tmp_path):
    p = tmp_path / "e.safetensors"
    LatentSpatialMemory(3, dtype="int8").save(p)
    assert LatentSpatialMemory.load(p).num_tokens == 0


def test_truncated_files_are_refused(tmp_path):
    p = tmp_path / "m.safetensors"
    _filled(dtype="int8").save(p)
    raw = p.read_bytes()
    q = tmp_path / "t.safetensors"
    for cut in (0, 4, 8, 20, len(raw) // 2, len(raw) - 1):
        q.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|header|malformed"):
            LatentSpatialMemory.load(q)
    q.write_bytes(raw + b"\0" * 8)
    with pytest.raises(ValueError, match="padded"):
        LatentSpatialMemory.load(q)


def _write(path, tensors, meta):
    path.write_bytes(save(tensors, metadata=meta))


def _good(m: LatentSpatialMemory):
    t = {"positions": m.positions, "latents": m.latents, "write_ids": m.write_ids}
    meta = {"format": "mirage-latent-memory", "format_version": "1", "channels": "5", "dtype": "float32",
            "voxel_size": "none", "fusion": "mean", "max_confidence": "none", "capacity": "none", "eviction": "lru",
            "splat": "nearest", "depth_tolerance": "0.05", "near": "0.001", "writes": "3", "latent_spec": "null"}
    return t, meta


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t, m: m.update(format="other"), "not a mirage-latent-memory"),
        (lambda t, m: m.update(format_version="2"), "unsupported format_version"),
        (lambda t, m: m.update(channels="abc"), "channels"),
        (lambda t, m: m.update(dtype="float64"), "dtype"),
        (lambda t, m: m.update(voxel_size="-1.0"), "invalid options"),
        (lambda t, m: m.update(near="nan"), "not finite"),
        (lambda t, m: m.update(writes="1"), "write ids"),
        (lambda t, m: m.update(latent_spec="{"), "latent_spec"),
        (lambda t, m: m.update(capacity="10"), "expected"),  # capacity implies a confidence tensor
        (lambda t, m: t.update(extra=torch.zeros(1)), "expected"),
        (lambda t, m: t.pop("write_ids"), "expected"),
        (lambda t, m: t.update(latents=t["latents"].double()), "dtype"),
        (lambda t, m: t.update(latents=t["latents"][:, :4].contiguous()), "shape"),
        (lambda t, m: t.update(positions=t["positions"][:-1].contiguous()), "shape"),
        (lambda t, m: t["positions"].__setitem__((0, 0), float("nan")), "non-finite"),
        (lambda t, m: t["latents"].__setitem__((1, 1), float("inf")), "non-finite"),
    ],
)
def test_hostile_files_are_refused(tmp_path, edit, match):
    t, meta = _good(_filled())
    t = {k: v.clone() for k, v in t.items()}
    edit(t, meta)
    p = tmp_path / "h.safetensors"
    _write(p, t, meta)
    with pytest.raises(ValueError, match=match):
        LatentSpatialMemory.load(p)


def test_garbage_pickles_and_lying_headers_are_refused(tmp_path):
    p = tmp_path / "x.safetensors"
    torch.save({"positions": torch.zeros(1, 3)}, p)  # a pickle is never unpickled
    with pytest.raises(ValueError):
        LatentSpatialMemory.load(p)
    p.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(ValueError, match="header too large"):
        LatentSpatialMemory.load(p)
    hdr = json.dumps({"__metadata__": {"format": "mirage-latent-memory", "format_version": "1"},
                      "positions": {"dtype": "F32", "shape": [1000, 3], "data_offsets": [0, 12000]}}).encode()
    p.write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\0" * 12)
    with pytest.raises(ValueError, match="truncated"):
        LatentSpatialMemory.load(p)
    p.write_bytes(struct.pack("<Q", 3) + b"\xff\xfe{")
    with pytest.raises(ValueError, match="malformed"):
        LatentSpatialMemory.load(p)
    with pytest.raises(ValueError, match="does not exist"):
        LatentSpatialMemory.load(tmp_path / "nope.safetensors")


def test_public_state_api_round_trip_and_checks():
    m = _filled(voxel_size=0.05, dtype="int8")
    st = m.state_dict()
    assert set(st) == {"options", "num_writes", "tensors"} and st["num_writes"] == 3
    assert LatentSpatialMemory(**st["options"]).num_tokens == 0  # the options build an empty twin
    n = LatentSpatialMemory.from_state(st)
    r1, r2 = m.read(_K(6, 8), torch.eye(4), (6, 8)), n.read(_K(6, 8), torch.eye(4), (6, 8))
    assert torch.equal(r1.latent, r2.latent) and torch.equal(r1.depth, r2.depth) and n.num_writes == 3
    before = m.positions.clone()
    n.write(torch.randn(5, 6, 8), 2 + torch.rand(6, 8), _K(6, 8), torch.eye(4))  # fuses in place
    assert torch.equal(m.positions, before)  # the copy shares nothing with the source
    bad = {**st, "tensors": {k: v for k, v in st["tensors"].items() if k != "scale"}}
    with pytest.raises(ValueError, match="expected"):
        LatentSpatialMemory.from_state(bad)
    with pytest.raises(ValueError, match="write ids"):
        LatentSpatialMemory.from_state({**st, "num_writes": 1})
    with pytest.raises(ValueError, match="invalid options"):
        LatentSpatialMemory.from_state({**st, "options": {**st["options"], "fusion": "max"}})
    with pytest.raises(ValueError, match="state must be"):
        LatentSpatialMemory.from_state({"tensors": {}})
