"""Resume an interrupted generation (``mirage generate --resume``): a sidecar folder beside the output.

While a generation runs, :class:`ResumeStore` keeps ``OUT.partial/`` beside the output ``OUT`` (``video.mp4`` ->
``video.mp4.partial/``). After each segment (the pipeline's ``state_callback``,
:class:`~mirage_world.pipelines.GenerationState`) it writes:

* ``frames_SSSSS.npy`` -- the frames new since the last save, float32 ``(n, 3, H, W)`` in ``[0, 1]`` (the first
  file also holds frame 0); ``memory_frames_SSSSS.npy`` the same for the decoded memory reads when they are kept;
* ``memory_SSSSS.safetensors`` -- the memory: a :class:`~mirage_world.memory.LatentSpatialMemory` through its
  public state API (:meth:`~mirage_world.memory.LatentSpatialMemory.save`, i.e.
  :func:`~mirage_world.memory.write_memory_state`), or the RGB point cloud (``positions`` float32 ``(N, 3)``,
  ``colors`` uint8 ``(N, 3)``) of :class:`~mirage_world.memory.RGBPointCloudMemory`; none without memory;
* ``latent_SSSSS.safetensors`` -- the next segment's first latent ``(1, C, 1, h, w)`` float32 and the noise
  generator's state (uint8, ``torch.Generator.get_state()``);
* ``state.json`` -- the commit point: the last finished segment, the files above that belong to it, and the
  segments' :class:`~mirage_world.pipelines.SegmentInfo`;
* ``args.json`` (once, at the start) -- the generation's fingerprint: the caller's arguments (e.g. the command
  line's options) plus what the pipeline is called with (SHA-256 of the photo, depth, ``K``, camera path and keep
  mask, the generator's initial state -- i.e. the seed --, scalar options, the memory configuration, the model's
  classes and geometry). Resuming with a different fingerprint is refused with a :class:`ResumeError` (a
  ``ValueError``) naming what differs.

Every file is written under a temporary name in the folder and renamed with ``os.replace`` (atomic on POSIX), and
``state.json`` is replaced last, naming the segment's files by their segment number: a run killed at any instant
leaves either the previous segment's committed state or the new one, never a mix. Files of older segments that
``state.json`` no longer names (and stray temporaries of a killed write) are removed after each commit and when a
resumed run starts. Durability against a power loss is not attempted (no ``fsync``); a killed *process* loses
nothing that was committed.

Resuming gives frames identical to an uninterrupted run with the same inputs, seed and machine (memory, last latent
and RNG state are stored exactly; tested with ``np.array_equal``, also after a ``SIGKILL``), for
``memory_kind="latent"``, ``"rgb"`` and ``"none"``. Bit-identical frames also need the same torch build, device and
thread count (floating-point reductions may differ otherwise); those are not part of the fingerprint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .errors import InputError

__all__ = ["SIDECAR_SUFFIX", "ResumeError", "ResumeStore", "sidecar_path", "generation_fingerprint", "check_resume",
           "run_with_resume"]

SIDECAR_SUFFIX = ".partial"  #: the sidecar folder is ``OUT`` + this
FORMAT = "mirage-resume"
FORMAT_VERSION = 1
_TMP = ".tmp-"  # temporary files: ``.tmp-<random>-<final name>``
_RGB_FORMAT = "mirage-rgb-point-cloud"
_STATE_KEYS = frozenset({"next_segment", "num_frames", "frame_files", "memory_frame_files", "num_memory_frames",
                         "memory_type", "memory_file", "latent_file", "segments"})
_FILE_NAME = re.compile(r"[a-z_]+_[0-9]{5}\.(npy|safetensors)")  # the names save() writes
# pipeline arguments that do not change the frames (never part of the fingerprint)
_NOT_FINGERPRINTED = frozenset({"callback", "state_callback", "progress", "resume"})


class ResumeError(InputError):
    """A sidecar that cannot be resumed: written with other inputs, or missing / corrupt files. An
    :class:`~mirage_world.errors.InputError` (so a ``ValueError``): the command line shows it as one ``error:`` line."""


def sidecar_path(out_path) -> Path:
    """The sidecar folder of output ``out_path``: ``OUT.partial`` beside it (``a/v.mp4`` -> ``a/v.mp4.partial``)."""
    p = Path(out_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


# ---------------------------------------------------------------------------------------------------- fingerprint
def _digest(x) -> dict:
    """``{"sha256", "shape", "dtype"}`` of an array / tensor's contents."""
    a = x.detach().cpu().contiguous().numpy() if torch.is_tensor(x) else np.ascontiguousarray(np.asarray(x))
    return {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "shape": list(a.shape), "dtype": str(a.dtype)}


def _jsonable(v):
    """A JSON round trip of ``v`` (paths and other objects as strings, tuples as lists)."""
    return json.loads(json.dumps(v, default=str, sort_keys=True))


def _fingerprint_value(name: str, v):
    from .memory import LatentSpatialMemory
    from .pipelines import MemoryBackend

    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, torch.Generator):
        return {"generator_state": _digest(v.get_state())}
    if torch.is_tensor(v) or isinstance(v, np.ndarray):
        return _digest(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _jsonable(dataclasses.asdict(v))
    if isinstance(v, LatentSpatialMemory):
        st = v.state_dict()
        return {"options": _jsonable(st["options"]), "num_writes": st["num_writes"],
                "tensors": {k: _digest(t) for k, t in sorted(st["tensors"].items())}}
    if isinstance(v, MemoryBackend):
        raise ValueError(f"resume: {name}= a MemoryBackend object cannot be saved and restored; pass memory_kind= "
                         "(or a LatentSpatialMemory) instead")
    if callable(v):  # e.g. segment_filter: its class only (its behaviour cannot be hashed)
        return f"callable {type(v).__module__}.{type(v).__qualname__}"
    if isinstance(v, (list, tuple)):
        return [_fingerprint_value(name, x) for x in v]
    if isinstance(v, dict):
        return {str(k): _fingerprint_value(f"{name}.{k}", x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    text = repr(v)  # other objects: their repr when it is stable, else their class
    return f"object {type(v).__module__}.{type(v).__qualname__}" if " at 0x" in text else text


def generation_fingerprint(pipe, args: dict | None, pipe_kwargs: dict) -> dict:
    """What a generation's frames depend on, JSON-ready (see the module doc).

    Args:
        pipe: the :class:`~mirage_world.pipelines.MiragePipeline`.
        args: the caller's own description (e.g. the command line's options; paths as given), or ``None``.
        pipe_kwargs: the keyword arguments of ``pipe(...)``; arrays and tensors are hashed (SHA-256), the generator
            by its state before the run, callables by their class.

    Raises:
        ValueError: an argument that cannot be restored on resume (a ``MemoryBackend`` object as ``memory``).
    """
    call = {k: _fingerprint_value(k, v) for k, v in sorted(pipe_kwargs.items()) if k not in _NOT_FINGERPRINTED}
    model = {
        "pipeline": type(pipe).__name__,
        "vae": type(pipe.vae).__name__,
        "transformer": type(pipe.transformer).__name__,
        "latent_channels": int(pipe.latent_channels),
        "scale_factors": [int(pipe.vae_scale_factor_spatial), int(pipe.vae_scale_factor_temporal)],
    }
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "args": _jsonable(args or {}), "model": model,
            "call": call}


def _flatten(d, prefix="") -> dict:
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def _differences(old: dict, new: dict, limit: int = 6) -> str:
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))

    def short(v):
        s = json.dumps(v) if not isinstance(v, str) else v
        return s if len(s) <= 40 else s[:37] + "..."

    parts = [f"{k}: {short(a.get(k, '<absent>'))} -> {short(b.get(k, '<absent>'))}" for k in keys[:limit]]
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return "; ".join(parts) + more


# ---------------------------------------------------------------------------------------------------- the store
def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{_TMP}{secrets.token_hex(4)}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{_TMP}{secrets.token_hex(4)}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ResumeStore:
    """The sidecar folder of one output: saves a generation's state after each segment and loads it back.

    Args:
        out_path: the generation's output (e.g. ``video.mp4``); the folder is :func:`sidecar_path` of it.

    Usage (what :func:`run_with_resume` does)::

        store = ResumeStore(out)
        store.start(fingerprint)                     # a fresh run: replaces any old sidecar
        pipe(..., state_callback=store.save)         # one commit per segment
        store.remove()                               # once the outputs are written

        state = store.load(fingerprint, device)      # a resumed run (ValueError if the fingerprint differs)
    """

    def __init__(self, out_path):
        self.out_path = Path(out_path)
        self.path = sidecar_path(out_path)
        self._saved_frames = 0
        self._saved_memory_frames = 0
        self._frame_files: list[str] = []
        self._memory_frame_files: list[str] | None = None

    # ------------------------------------------------------------------ queries
    def exists(self) -> bool:
        """Whether a committed state (at least one finished segment) is there to resume from."""
        return (self.path / "state.json").is_file() and (self.path / "args.json").is_file()

    def fingerprint(self) -> dict | None:
        """The fingerprint saved by :meth:`start` (``None`` when there is none)."""
        f = self.path / "args.json"
        if not f.is_file():
            return None
        try:
            return json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ResumeError(f"resume folder {self.path}: args.json is unreadable ({e})") from None

    def check(self, fingerprint: dict, only: tuple[str, ...] | None = None) -> None:
        """Refuse a resume whose fingerprint differs from the saved one.

        Args:
            fingerprint: :func:`generation_fingerprint` of the new call.
            only: compare only these top-level keys (e.g. ``("args",)`` before the model is loaded).

        Raises:
            ResumeError: naming what differs (and how to start over).
        """
        old = self.fingerprint()
        if old is None:
            raise ResumeError(f"resume folder {self.path} has no args.json: not a resumable run")
        if old.get("format") != FORMAT or old.get("format_version") != FORMAT_VERSION:
            raise ResumeError(f"resume folder {self.path}: unsupported format {old.get('format')!r} version "
                             f"{old.get('format_version')!r} (this build writes {FORMAT} {FORMAT_VERSION})")
        keys = only if only is not None else tuple(sorted(set(old) | set(fingerprint)))
        a = {k: old.get(k) for k in keys}
        b = _jsonable({k: fingerprint.get(k) for k in keys})
        if a != b:
            raise ResumeError(f"cannot resume from {self.path}: it was written by a generation with different inputs "
                             f"({_differences(a, b)}); run without --resume to start over")

    # ------------------------------------------------------------------ writing
    def start(self, fingerprint: dict) -> None:
        """Begin a fresh run: remove any old sidecar, create the folder, write ``args.json``."""
        self.remove()
        self.path.mkdir(parents=True)
        self._saved_frames = self._saved_memory_frames = 0
        self._frame_files, self._memory_frame_files = [], None
        _atomic_write_bytes(self.path / "args.json", json.dumps(_jsonable(fingerprint), indent=1).encode())

    def save(self, state) -> None:
        """Commit the state after one segment (a :class:`~mirage_world.pipelines.GenerationState`; the
        pipeline's ``state_callback``). Writes the new frames, the memory, the latent + RNG state, then
        ``state.json``; removes the previous segment's memory / latent files.

        Raises:
            TypeError: a memory type that cannot be stored. RuntimeError: a non-finite first latent.
        """
        from .memory import LatentSpatialMemory, RGBPointCloudMemory

        s = int(state.next_segment) - 1
        tag = f"{s:05d}"
        # 1. frames new since the last save (the first file also holds frame 0)
        new = state.frames[self._saved_frames:]
        if new:
            name = f"frames_{tag}.npy"
            _atomic_save_npy(self.path / name, torch.stack(list(new)).float().cpu().numpy())
            if name not in self._frame_files:
                self._frame_files.append(name)
            self._saved_frames = len(state.frames)
        if state.memory_frames is not None:
            if self._memory_frame_files is None:
                self._memory_frame_files = []
            new = state.memory_frames[self._saved_memory_frames:]
            if new:
                name = f"memory_frames_{tag}.npy"
                _atomic_save_npy(self.path / name, torch.stack(list(new)).float().cpu().numpy())
                if name not in self._memory_frame_files:
                    self._memory_frame_files.append(name)
                self._saved_memory_frames = len(state.memory_frames)
        # 2. the memory
        mem = state.memory
        memory_file = memory_type = None
        if isinstance(mem, LatentSpatialMemory):
            memory_file, memory_type = f"memory_{tag}.safetensors", "latent"
            # LatentSpatialMemory.save writes beside the file and renames (atomic); its temporary name ends in .tmp
            mem.save(self.path / memory_file)
        elif isinstance(mem, RGBPointCloudMemory):
            from safetensors.torch import save

            memory_file, memory_type = f"memory_{tag}.safetensors", "rgb"
            data = save({"positions": mem.positions.detach().cpu().contiguous(),
                         "colors": mem.colors.detach().cpu().contiguous()},
                        metadata={"format": _RGB_FORMAT, "format_version": "1", "factor": str(mem.factor)})
            _atomic_write_bytes(self.path / memory_file, data)
        elif mem is not None:
            raise TypeError(f"resume: cannot store a memory of type {type(mem).__name__}")
        # 3. the next segment's first latent and the RNG state
        from safetensors.torch import save

        z = state.first_latent.detach().float().cpu().contiguous()
        if not bool(torch.isfinite(z).all()):
            raise RuntimeError("resume: the first latent of the next segment is not finite")
        tensors = {"first_latent": z}
        if state.generator_state is not None:
            tensors["generator_state"] = state.generator_state.detach().cpu().contiguous()
        latent_file = f"latent_{tag}.safetensors"
        _atomic_write_bytes(self.path / latent_file, save(tensors, metadata={"format": FORMAT}))
        # 4. commit
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "next_segment": s + 1,
            "num_frames": len(state.frames),
            "frame_files": list(self._frame_files),
            "memory_frame_files": None if self._memory_frame_files is None else list(self._memory_frame_files),
            "num_memory_frames": None if state.memory_frames is None else len(state.memory_frames),
            "memory_type": memory_type,
            "memory_file": memory_file,
            "latent_file": latent_file,
            "segments": [_jsonable(dataclasses.asdict(i)) for i in state.segments],
        }
        _atomic_write_bytes(self.path / "state.json", json.dumps(meta, indent=1).encode())
        self._prune(meta)

    def _prune(self, meta: dict) -> None:
        """Remove files that ``state.json`` does not name (older segments, temporaries of a killed write)."""
        keep = {"args.json", "state.json", meta.get("memory_file"), meta.get("latent_file"),
                *meta.get("frame_files", []), *(meta.get("memory_frame_files") or [])}
        for p in self.path.iterdir():
            if p.name not in keep and p.is_file():
                p.unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the sidecar folder (after the outputs are written, or to start over)."""
        if self.path.is_dir():
            shutil.rmtree(self.path)
        elif self.path.exists():
            raise ResumeError(f"resume folder {self.path} exists and is not a folder")

    # ------------------------------------------------------------------ reading
    def load(self, fingerprint: dict | None = None, device: torch.device | str = "cpu"):
        """The committed state as a :class:`~mirage_world.pipelines.GenerationState` (frames and memory on
        ``device``), after checking ``fingerprint`` against the saved one (``None``: no check).

        Continues saving into the same folder afterwards (:meth:`save`).

        Raises:
            ResumeError: no committed state, a different fingerprint, or missing / inconsistent / corrupt files.
        """
        from .memory import LatentSpatialMemory, RGBPointCloudMemory
        from .pipelines import GenerationState, SegmentInfo

        if not self.exists():
            raise ResumeError(f"nothing to resume: {self.path} has no committed segment")
        if fingerprint is not None:
            self.check(fingerprint)
        where = f"resume folder {self.path}"
        try:
            meta = json.loads((self.path / "state.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ResumeError(f"{where}: state.json is unreadable ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ResumeError(f"{where}: state.json has an unsupported format")
        missing = sorted(_STATE_KEYS - set(meta))
        if missing:
            raise ResumeError(f"{where}: state.json lacks {', '.join(missing)}")
        names = [meta["latent_file"], meta["memory_file"], *meta["frame_files"], *(meta["memory_frame_files"] or [])]
        bad = [n for n in names if n is not None and not (isinstance(n, str) and _FILE_NAME.fullmatch(n))]
        if bad:
            raise ResumeError(f"{where}: state.json names files outside the folder or with odd names: {bad[:3]}")
        self._prune(meta)

        def npy_list(names) -> list:
            out = []
            for n in names:
                try:
                    a = np.load(self.path / n, allow_pickle=False)
                except (OSError, ValueError) as e:
                    raise ResumeError(f"{where}: {n} is unreadable ({e})") from None
                if a.ndim != 4 or a.shape[1] != 3 or a.dtype != np.float32 or not np.isfinite(a).all():
                    raise ResumeError(f"{where}: {n} is not a finite float32 (n, 3, H, W) array")
                out.extend(torch.from_numpy(a).to(device).unbind(0))
            return out

        frames = npy_list(meta["frame_files"])
        if len(frames) != meta["num_frames"]:
            raise ResumeError(f"{where}: {len(frames)} frames on disk, state.json says {meta['num_frames']}")
        mem_frames = None
        if meta.get("memory_frame_files") is not None:
            mem_frames = npy_list(meta["memory_frame_files"])
            if len(mem_frames) != meta["num_memory_frames"]:
                raise ResumeError(f"{where}: memory frames on disk do not match state.json")
        segments = []
        try:
            for d in meta["segments"]:
                d = dict(d)
                d["frames"] = tuple(d["frames"])
                segments.append(SegmentInfo(**d))
        except (KeyError, TypeError, ValueError) as e:
            raise ResumeError(f"{where}: state.json's segments are malformed ({e})") from None
        if len(segments) != meta["next_segment"] or (segments and segments[-1].frames[1] + 1 != len(frames)):
            raise ResumeError(f"{where}: segments and frames in state.json do not agree")

        from safetensors import SafetensorError, safe_open

        def tensors_of(name: str) -> tuple[dict, dict]:
            try:
                with safe_open(str(self.path / name), framework="pt", device="cpu") as f:
                    return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})
            except (SafetensorError, OSError) as e:
                raise ResumeError(f"{where}: {name} is unreadable ({e})") from None

        memory = None
        if meta["memory_type"] == "latent":
            try:
                memory = LatentSpatialMemory.load(self.path / meta["memory_file"], device)
            except ValueError as e:
                raise ResumeError(f"{where}: {e}") from None
        elif meta["memory_type"] == "rgb":
            t, m = tensors_of(meta["memory_file"])
            pos, col = t.get("positions"), t.get("colors")
            if (m.get("format") != _RGB_FORMAT or set(t) != {"positions", "colors"} or pos.dtype != torch.float32
                    or col.dtype != torch.uint8 or pos.dim() != 2 or pos.shape[1] != 3 or col.shape != pos.shape
                    or not bool(torch.isfinite(pos).all())):
                raise ResumeError(f"{where}: {meta['memory_file']} is not an RGB point cloud (float32 positions and "
                                 "uint8 colors, (N, 3) each)")
            memory = RGBPointCloudMemory(None, int(m.get("factor", "1")), device, video_vae=False)
            memory.positions, memory.colors = pos.to(device), col.to(device)
        elif meta["memory_type"] is not None:
            raise ResumeError(f"{where}: unknown memory type {meta['memory_type']!r}")
        t, _ = tensors_of(meta["latent_file"])
        z = t.get("first_latent")
        if z is None or z.dim() != 5 or z.dtype != torch.float32 or not bool(torch.isfinite(z).all()):
            raise ResumeError(f"{where}: {meta['latent_file']} has no finite (1, C, 1, h, w) first_latent")
        gen = t.get("generator_state")
        if gen is not None and gen.dtype != torch.uint8:
            raise ResumeError(f"{where}: generator_state must be uint8")
        self._saved_frames, self._saved_memory_frames = len(frames), len(mem_frames or [])
        self._frame_files = list(meta["frame_files"])
        self._memory_frame_files = None if mem_frames is None else list(meta["memory_frame_files"])
        return GenerationState(next_segment=int(meta["next_segment"]), first_latent=z.to(device),
                               generator_state=gen, memory=memory, frames=frames, memory_frames=mem_frames,
                               segments=segments)


# ---------------------------------------------------------------------------------------------------- entry points
def check_resume(out_path, args: dict | None) -> bool:
    """Before any model loads: whether ``OUT.partial`` holds a committed state, refusing (:class:`ResumeError`) one that
    was written with other ``args`` (the caller's options only; the full fingerprint is checked by
    :func:`run_with_resume`)."""
    store = ResumeStore(out_path)
    if not store.exists():
        return False
    store.check({"args": _jsonable(args or {})}, only=("args",))
    return True


def run_with_resume(
    pipe,
    out_path,
    args: dict | None = None,
    resume: bool = False,
    *,
    remove_when_done: bool = True,
    on_resume: Callable[[int], None] | None = None,
    **pipe_kwargs: Any,
):
    """``pipe(**pipe_kwargs)`` with its state saved after every segment in ``OUT.partial/``, continuing from there
    with ``resume=True`` (see the module doc).

    Args:
        pipe: a :class:`~mirage_world.pipelines.MiragePipeline`.
        out_path: the output the sidecar belongs to (``OUT`` -> ``OUT.partial/``); nothing is written at ``OUT``.
        args: the caller's description of the run (e.g. the command line's options), part of the fingerprint.
        resume: continue from ``OUT.partial/`` when it holds a committed segment (else start fresh); ``False``
            starts fresh and replaces an old sidecar.
        remove_when_done: delete the sidecar when the pipeline returns. Pass ``False`` when the caller still has to
            write the outputs, and call ``ResumeStore(out_path).remove()`` once they are in place.
        on_resume: called with the number of segments already done when a run resumes.
        pipe_kwargs: keyword arguments of ``pipe(...)`` (``image``, ``depth``, ``K``, ``c2w`` by name). A
            ``state_callback`` given here is called after each save.

    Returns:
        the pipeline's :class:`~mirage_world.pipelines.MiragePipelineOutput` (all frames, also those generated
        before the interruption).

    Raises:
        ResumeError: a sidecar written with a different fingerprint (``resume=True``) or corrupt sidecar files.
        ValueError: the pipeline's own input errors; a ``MemoryBackend`` object as ``memory``.
    """

    if "resume" in pipe_kwargs:
        raise ValueError("run_with_resume: pass resume=True/False, not a GenerationState")
    fingerprint = generation_fingerprint(pipe, args, pipe_kwargs)
    store = ResumeStore(out_path)
    user_state_callback = pipe_kwargs.pop("state_callback", None)
    state = None
    if resume and store.exists():
        state = store.load(fingerprint, pipe._execution_device)
        kind = pipe_kwargs.get("memory_kind", "latent") if pipe_kwargs.get("use_memory", True) else "none"
        if kind == "rgb" and state.memory is None:
            raise ResumeError(f"cannot resume from {store.path}: it holds no RGB point cloud")
        if on_resume is not None:
            on_resume(state.next_segment)
    else:
        try:
            store.start(fingerprint)
        except OSError as e:
            raise InputError(f"cannot write the resume folder {store.path}: {type(e).__name__}: {e}") from None

    def state_callback(s) -> None:
        try:
            store.save(s)
        except OSError as e:  # disk full, folder removed ...: one clear error, not a traceback
            raise InputError(f"cannot write the resume folder {store.path}: {type(e).__name__}: {e}") from None
        if user_state_callback is not None:
            user_state_callback(s)

    out = pipe(**pipe_kwargs, resume=state, state_callback=state_callback)
    if remove_when_done:
        store.remove()
    return out
