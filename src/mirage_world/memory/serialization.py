"""Save / load a :class:`~mirage_world.memory.LatentSpatialMemory` as safetensors (never pickle).

File layout: the standard safetensors container, written and read with the ``safetensors`` library only (no header
parsed by hand). Tensors: the memory's :meth:`~mirage_world.memory.LatentSpatialMemory.state_dict` tensors --
``positions`` F32 ``(N, 3)``, ``latents`` ``(N, C)`` in the storage dtype (F32, F16, BF16, I8), ``write_ids`` I64
``(N,)``, and when present ``confidence`` F32 ``(N,)`` and ``scale`` F32 ``(C,)`` (int8). String metadata
(``__metadata__``): ``format`` = ``"mirage-latent-memory"``, ``format_version`` = ``"1"``, ``channels``, ``dtype``,
``voxel_size`` (``"none"`` or metres), ``fusion``, ``max_confidence``, ``capacity``, ``eviction``, ``splat``,
``depth_tolerance``, ``near``, ``writes`` and ``latent_spec`` (JSON).

Loading checks: ``safetensors.safe_open`` validates the container (header length and JSON, tensor byte ranges
covering the file exactly: truncated, padded or hostile headers are refused); then the format name and version and
the metadata values are checked here, and the options and tensors by
:meth:`~mirage_world.memory.LatentSpatialMemory.from_state` (exact tensor set, dtypes, shapes, finiteness, value
ranges). Anything else raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["write_memory_state", "read_memory_state", "FORMAT", "FORMAT_VERSION"]

FORMAT = "mirage-latent-memory"
FORMAT_VERSION = 1


def _opt(v) -> str:
    return "none" if v is None else repr(v)


def write_memory_state(state: dict, path) -> None:
    """Write a memory's ``state`` (:meth:`LatentSpatialMemory.state_dict
    <mirage_world.memory.LatentSpatialMemory.state_dict>`) to ``path`` (safetensors, atomic replace via a temporary
    file beside it). This module knows state dicts only, so the memory imports it and not the reverse.

    Raises:
        ValueError: if the memory's latent_spec is not JSON-serialisable.
    """
    from safetensors.torch import save

    o = state["options"]
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state["tensors"].items()}
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "channels": str(o["channels"]),
        "dtype": o["dtype"],
        "voxel_size": _opt(o["voxel_size"]),
        "fusion": o["fusion"],
        "max_confidence": _opt(o["max_confidence"]),
        "capacity": _opt(o["capacity"]),
        "eviction": o["eviction"],
        "splat": o["splat"],
        "depth_tolerance": repr(o["depth_tolerance"]),
        "near": repr(o["near"]),
        "writes": str(state["num_writes"]),
        "latent_spec": json.dumps(o["latent_spec"]),
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


def read_memory_state(path, storage_dtypes: tuple[str, ...]) -> dict:
    """Read and check a memory file written by :func:`write_memory_state`.

    Args:
        path: the ``.safetensors`` file.
        storage_dtypes: the token storage dtypes the memory knows.

    Returns:
        ``{"options", "num_writes", "tensors"}`` for :meth:`LatentSpatialMemory.from_state
        <mirage_world.memory.LatentSpatialMemory.from_state>`, which validates the tensors.

    Raises:
        ValueError: on a missing, truncated, padded, malformed or hostile file (see the module docstring).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"memory file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata()
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"memory file {path}: not a {FORMAT} file (metadata 'format' missing or wrong)")
            if meta.get("format_version") != str(FORMAT_VERSION):
                raise ValueError(f"memory file {path}: unsupported format_version {meta.get('format_version')!r} "
                                 f"(this build reads {FORMAT_VERSION})")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except SafetensorError as e:
        raise ValueError(f"memory file {path}: not a readable safetensors file (truncated, padded or malformed "
                         f"header: {e})") from None

    dtype = meta.get("dtype")
    if dtype not in storage_dtypes:
        raise ValueError(f"memory file {path}: unknown storage dtype {dtype!r}")
    channels = _num(meta, "channels", int)
    writes = _num(meta, "writes", int)
    if channels is None or channels <= 0 or writes is None or writes < 0:
        raise ValueError(f"memory file {path}: bad channels or writes in metadata")
    try:
        spec = json.loads(meta.get("latent_spec", "null"))
    except json.JSONDecodeError:
        raise ValueError(f"memory file {path}: latent_spec is not valid JSON") from None
    options = {
        "channels": channels,
        "dtype": dtype,
        "splat": meta.get("splat", ""),
        "depth_tolerance": _num(meta, "depth_tolerance", float),
        "voxel_size": _num(meta, "voxel_size", float),
        "fusion": meta.get("fusion", ""),
        "max_confidence": _num(meta, "max_confidence", float),
        "capacity": _num(meta, "capacity", int),
        "eviction": meta.get("eviction", ""),
        "near": _num(meta, "near", float),
        "latent_spec": spec,
    }
    return {"options": options, "num_writes": writes, "tensors": tensors}
