"""Save / load a :class:`~mirage_world.memory.LatentSpatialMemory` as safetensors (never pickle).

File layout: the standard safetensors container -- an 8-byte little-endian header length, a JSON header, raw tensor
bytes. Tensors: ``positions`` F32 ``(N, 3)``, ``latents`` ``(N, C)`` in the storage dtype (F32, F16, BF16, I8),
``write_ids`` I64 ``(N,)``, and when present ``confidence`` F32 ``(N,)`` and ``scale`` F32 ``(C,)`` (int8). String
metadata (``__metadata__``): ``format`` = ``"mirage-latent-memory"``, ``format_version`` = ``"1"``, ``channels``,
``dtype``, ``voxel_size`` (``"none"`` or metres), ``fusion``, ``max_confidence``, ``capacity``, ``eviction``,
``splat``, ``depth_tolerance``, ``near``, ``writes`` and ``latent_spec`` (JSON).

Loading checks, before building anything: the file size against the header length and the tensors' byte ranges
(truncation), the header JSON, the format name and version, the exact tensor set, every dtype and shape, finiteness,
value ranges (int8 in ``[-127, 127]``, scales and confidences ``>= 0``, write ids in ``[0, writes)``, ``N <=
capacity``) and the options themselves. Anything else raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import torch

from .latent_memory import STORAGE_DTYPES, LatentSpatialMemory

__all__ = ["save_memory", "load_memory", "FORMAT", "FORMAT_VERSION"]

FORMAT = "mirage-latent-memory"
FORMAT_VERSION = 1
_ST_DTYPE = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "int8": "I8"}
_MAX_HEADER = 1 << 24


def _opt(v) -> str:
    return "none" if v is None else repr(v)


def save_memory(mem: LatentSpatialMemory, path) -> None:
    """Write ``mem`` to ``path`` (safetensors, atomic replace via a temporary file beside it).

    Raises:
        ValueError: if the memory's latent_spec is not JSON-serialisable.
    """
    from safetensors.torch import save

    tensors = {"positions": mem.positions, "latents": mem.latents, "write_ids": mem.write_ids}
    if mem.confidence is not None:
        tensors["confidence"] = mem.confidence
    if mem.scale is not None:
        tensors["scale"] = mem.scale
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "channels": str(mem.channels),
        "dtype": mem.dtype_name,
        "voxel_size": _opt(mem.voxel_size),
        "fusion": mem.fusion,
        "max_confidence": _opt(mem.max_confidence),
        "capacity": _opt(mem.capacity),
        "eviction": mem.eviction,
        "splat": mem.splat,
        "depth_tolerance": repr(mem.depth_tolerance),
        "near": repr(mem.near),
        "writes": str(mem.num_writes),
        "latent_spec": json.dumps(mem.latent_spec),
    }
    data = save(tensors, metadata=meta)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _num(meta: dict, key: str, kind):
    text = meta.get(key)
    if text is None:
        raise ValueError(f"memory file: metadata {key!r} is missing")
    if text == "none":
        return None
    try:
        v = kind(text)
    except ValueError:
        raise ValueError(f"memory file: metadata {key}={text!r} is not a valid {kind.__name__}") from None
    if kind is float and not math.isfinite(v):
        raise ValueError(f"memory file: metadata {key}={text!r} is not finite")
    return v


def load_memory(path, device: torch.device | str = "cpu") -> LatentSpatialMemory:
    """Load and validate a memory file written by :func:`save_memory`.

    Args:
        path: the ``.safetensors`` file.
        device: where to put the tokens.

    Returns:
        The :class:`LatentSpatialMemory`, bit-identical to the one saved.

    Raises:
        ValueError: on a missing, truncated, malformed or hostile file (see the module docstring for the checks).
    """
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"memory file {path} does not exist")
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"memory file {path} is truncated ({len(raw)} bytes)")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > _MAX_HEADER or 8 + hlen > len(raw):
        raise ValueError(f"memory file {path}: header length {hlen} does not fit in the file ({len(raw)} bytes); truncated or not safetensors")
    try:
        header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"memory file {path}: malformed header ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"memory file {path}: malformed header (not a JSON object)")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"memory file {path}: not a {FORMAT} file (metadata 'format' missing or wrong)")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ValueError(f"memory file {path}: unsupported format_version {meta.get('format_version')!r} (this build reads {FORMAT_VERSION})")
    data_len = len(raw) - 8 - hlen
    end = 0
    for name, info in header.items():
        try:
            a, b = (int(x) for x in info["data_offsets"])
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"memory file {path}: malformed entry for tensor {name!r}") from None
        if not (0 <= a <= b):
            raise ValueError(f"memory file {path}: bad byte range for tensor {name!r}")
        end = max(end, b)
    if end != data_len:
        raise ValueError(f"memory file {path}: tensor data is {data_len} bytes but the header describes {end}; truncated or padded")
    try:
        tensors = load(raw)
    except Exception as e:  # safetensors raises its own error type
        raise ValueError(f"memory file {path}: unreadable safetensors data ({e})") from None

    dtype = meta.get("dtype")
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"memory file {path}: unknown storage dtype {dtype!r}")
    channels = _num(meta, "channels", int)
    writes = _num(meta, "writes", int)
    if channels is None or channels <= 0 or writes is None or writes < 0:
        raise ValueError(f"memory file {path}: bad channels or writes in metadata")
    try:
        spec = json.loads(meta.get("latent_spec", "null"))
    except json.JSONDecodeError:
        raise ValueError(f"memory file {path}: latent_spec is not valid JSON") from None
    try:
        mem = LatentSpatialMemory(
            channels,
            device,
            dtype=dtype,
            splat=meta.get("splat", ""),
            depth_tolerance=_num(meta, "depth_tolerance", float),
            voxel_size=_num(meta, "voxel_size", float),
            fusion=meta.get("fusion", ""),
            max_confidence=_num(meta, "max_confidence", float),
            capacity=_num(meta, "capacity", int),
            eviction=meta.get("eviction", ""),
            near=_num(meta, "near", float),
            latent_spec=spec,
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"memory file {path}: invalid options ({e})") from None

    want = {"positions", "latents", "write_ids"}
    if mem.confidence is not None:
        want.add("confidence")
    if mem.scale is not None:
        want.add("scale")
    if set(tensors) != want:
        raise ValueError(f"memory file {path}: tensors {sorted(tensors)} but expected {sorted(want)}")
    pos, lat, wid = tensors["positions"], tensors["latents"], tensors["write_ids"]
    N = pos.shape[0] if pos.dim() == 2 else -1
    checks = [
        ("positions", pos, torch.float32, (N, 3)),
        ("latents", lat, STORAGE_DTYPES[dtype], (N, channels)),
        ("write_ids", wid, torch.int64, (N,)),
    ]
    if "confidence" in want:
        checks.append(("confidence", tensors["confidence"], torch.float32, (N,)))
    if "scale" in want:
        checks.append(("scale", tensors["scale"], torch.float32, (channels,)))
    for name, t, dt, shape in checks:
        if t.dtype != dt:
            raise ValueError(f"memory file {path}: tensor {name!r} has dtype {t.dtype}, expected {dt}")
        if tuple(t.shape) != shape:
            raise ValueError(f"memory file {path}: tensor {name!r} has shape {tuple(t.shape)}, expected {shape}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"memory file {path}: tensor {name!r} has non-finite values")
    if dtype == "int8" and N > 0 and int(lat.min()) < -127:
        raise ValueError(f"memory file {path}: int8 latents outside [-127, 127]")
    if "scale" in want and (tensors["scale"] < 0).any():
        raise ValueError(f"memory file {path}: negative int8 scales")
    if "confidence" in want and (tensors["confidence"] < 0).any():
        raise ValueError(f"memory file {path}: negative confidences")
    if N > 0 and (int(wid.min()) < 0 or int(wid.max()) >= writes):
        raise ValueError(f"memory file {path}: write ids outside [0, {writes})")
    if mem.capacity is not None and N > mem.capacity:
        raise ValueError(f"memory file {path}: {N} tokens exceed the capacity {mem.capacity}")
    dev = mem.device
    mem.positions, mem.latents, mem.write_ids = pos.to(dev), lat.to(dev), wid.to(dev)
    if "confidence" in want:
        mem.confidence = tensors["confidence"].to(dev)
    if "scale" in want:
        mem.scale = tensors["scale"].to(dev)
    mem._writes = writes
    return mem
