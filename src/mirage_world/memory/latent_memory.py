"""Latent spatial memory: VAE latent tokens placed in 3D, read by projection onto a camera's latent grid.

Mirage (arXiv 2606.09828, Sec. 3.2) stores the video VAE's latent tokens -- one token per latent pixel, a
``C``-vector -- at the 3D point seen through that latent pixel's centre, and reads the cache at a new camera by
projecting every token onto the camera's *latent* grid. The read gives a warped latent map that conditions the
denoiser, plus a coverage mask and the rendered depth.

Reads splat the tokens with :mod:`mirage_world.memory.splat` (``"nearest"`` z-buffer, v0 behaviour, or
``"bilinear"`` soft splatting; both deterministic, each with a loop reference), after exact frustum culling with the
Morton-chunk index of :mod:`mirage_world.memory.index` (only tokens that can land on the grid are projected).

This module is pure torch (no diffusers import).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import torch
from torch import Tensor

from ..geometry.camera import downsample_depth, projection_matrices, unproject_depth
from .index import ChunkIndex, voxel_keys
from .queries import export_ply, occupancy, pca_colors
from .serialization import read_memory_state, write_memory_state
from .splat import (
    SPLAT_MODES,
    MemoryRead,
    border_matrices,
    camera_arrays,
    check_cameras,
    check_hw,
    deterministic_scatter_sum,
    gather_read,
    splat_core,
    zbuffer_core,
)

__all__ = [
    "LatentSpatialMemory",
    "pool_depth_to_grid",
    "quantize_int8",
    "STORAGE_DTYPES",
    "FUSION_POLICIES",
    "EVICTION_POLICIES",
]

#: name -> torch dtype of the stored latents
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int8": torch.int8}
FUSION_POLICIES = ("mean", "newest")
EVICTION_POLICIES = ("lru", "confidence")


#: Depth pooling to the latent grid: :func:`mirage_world.geometry.camera.downsample_depth` (re-exported under the
#: memory's historical name; ``pool_depth_to_grid(depth, f)`` is the lower median of each block's valid samples).
pool_depth_to_grid = downsample_depth


def _read_matrices(K: Tensor, c2w: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Validated cameras -> float64 ``(V, 3, 4)`` projection matrices of the grid and of the bordered grid."""
    P = projection_matrices(*camera_arrays(K, c2w))
    return P, border_matrices(P)


# ---------------------------------------------------------------------------------------------------- storage
def quantize_int8(x: Tensor, scale: Tensor) -> Tensor:
    """Symmetric per-channel int8: ``round(x / scale)`` clamped to ``[-127, 127]``. ``x (N, C)``, ``scale (C,)``."""
    return torch.round(x / scale).clamp(-127, 127).to(torch.int8)


def _resolve_dtype(dtype) -> tuple[str, torch.dtype]:
    if isinstance(dtype, torch.dtype):
        for k, v in STORAGE_DTYPES.items():
            if v == dtype:
                return k, v
    elif isinstance(dtype, str) and dtype in STORAGE_DTYPES:
        return dtype, STORAGE_DTYPES[dtype]
    raise ValueError(f"storage dtype must be one of {list(STORAGE_DTYPES)}, got {dtype!r}")


class LatentSpatialMemory:
    """A cache of latent tokens in 3D, read by projection onto a camera's latent grid.

    Tokens are written from latent frames ``(C, h, w)`` with a z-depth map on the same latent grid, the latent
    grid's intrinsics and the frame's camera; each kept latent pixel becomes one token at the world point seen
    through its centre. Reads project all tokens at once.

    With the defaults the memory is the v0 one: append-only, float32 storage, nearest z-buffer read; every option
    below is opt-in.

    Args:
        channels: latent channels ``C`` (16 for the tiny model and Wan2.1, 48 for Wan2.2-TI2V-5B).
        device: where tokens are stored.
        dtype: latent storage, ``"float32"`` (default), ``"float16"``, ``"bfloat16"`` or ``"int8"`` (symmetric,
            per-channel scales ``absmax / 127`` over all stored tokens; when a write raises a channel's absmax the
            stored tokens are re-quantized once to the new scale). Positions stay float32. Reads return float32.
        splat: default read mode, ``"nearest"`` or ``"bilinear"`` (see the module docstring).
        depth_tolerance: relative depth band of the bilinear depth-aware weight.
        voxel_size: metres; when set, tokens landing in the same voxel (``floor(p / voxel_size)``) are fused so
            revisiting a view keeps the token count flat.
        fusion: ``"mean"``: confidence-weighted running mean of position and latent, confidences add up (capped at
            ``max_confidence`` if given, which turns it into an exponential moving average); ``"newest"``: the newest
            write replaces the voxel's token. Within one write the observations of a voxel are always averaged
            with their confidences.
        max_confidence: cap of a fused token's confidence (``None``: unbounded).
        capacity: maximum number of tokens; after a write that exceeds it the lowest-priority tokens are evicted.
        eviction: ``"lru"``: least recently written/re-observed first (then lower confidence, then older index);
            ``"confidence"``: lowest confidence first (then least recent, then older index).
        near: minimum z in metres for a token to be read.
        latent_spec: optional JSON-serialisable description of the latent space (VAE name, scale factors,
            normalisation), saved with the memory.

    A per-token ``confidence`` (float32) is stored only when ``voxel_size`` or ``capacity`` is set.

    Example:
        >>> mem = LatentSpatialMemory(channels=4)
        >>> K = torch.tensor([[4.0, 0, 4], [0, 4.0, 4], [0, 0, 1]])
        >>> lat = torch.randn(4, 8, 8)
        >>> mem.write(lat, torch.full((8, 8), 2.0), K, torch.eye(4))
        64
        >>> r = mem.read(K[None], torch.eye(4)[None], (8, 8))
        >>> bool(torch.equal(r.latent[0], lat)), int(r.mask.sum())
        (True, 64)

    Raises:
        ValueError: on invalid options.
    """

    def __init__(
        self,
        channels: int,
        device: torch.device | str = "cpu",
        *,
        dtype: str | torch.dtype = "float32",
        splat: str = "nearest",
        depth_tolerance: float = 0.05,
        voxel_size: float | None = None,
        fusion: str = "mean",
        max_confidence: float | None = None,
        capacity: int | None = None,
        eviction: str = "lru",
        near: float = 1e-3,
        latent_spec: dict | None = None,
    ):
        try:
            ch = operator.index(channels)
        except TypeError:
            raise ValueError(f"channels must be a positive int, got {channels!r}") from None
        if isinstance(channels, bool) or ch <= 0:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        self.channels = int(ch)
        self.device = torch.device(device)
        self.dtype_name, self.storage_dtype = _resolve_dtype(dtype)
        if splat not in SPLAT_MODES:
            raise ValueError(f"splat must be one of {SPLAT_MODES}, got {splat!r}")
        if not (depth_tolerance > 0 and math.isfinite(depth_tolerance)):
            raise ValueError(f"depth_tolerance must be finite and > 0, got {depth_tolerance}")
        if voxel_size is not None and not (voxel_size > 0 and math.isfinite(voxel_size)):
            raise ValueError(f"voxel_size must be finite and > 0 metres, got {voxel_size}")
        if fusion not in FUSION_POLICIES:
            raise ValueError(f"fusion must be one of {FUSION_POLICIES}, got {fusion!r}")
        if max_confidence is not None and not (max_confidence > 0 and math.isfinite(max_confidence)):
            raise ValueError(f"max_confidence must be finite and > 0, got {max_confidence}")
        if capacity is not None and (int(capacity) != capacity or capacity <= 0):
            raise ValueError(f"capacity must be a positive int, got {capacity}")
        if eviction not in EVICTION_POLICIES:
            raise ValueError(f"eviction must be one of {EVICTION_POLICIES}, got {eviction!r}")
        if not (near > 0 and math.isfinite(near)):
            raise ValueError(f"near must be finite and > 0, got {near}")
        self.splat = splat
        self.depth_tolerance = float(depth_tolerance)
        self.voxel_size = None if voxel_size is None else float(voxel_size)
        self.fusion = fusion
        self.max_confidence = None if max_confidence is None else float(max_confidence)
        self.capacity = None if capacity is None else int(capacity)
        self.eviction = eviction
        self.near = float(near)
        if latent_spec is not None:
            import json

            try:
                json.dumps(latent_spec)
            except (TypeError, ValueError) as e:
                raise ValueError(f"latent_spec must be JSON-serialisable: {e}") from None
        self.latent_spec = latent_spec
        dev = self.device
        self.positions = torch.zeros(0, 3, dtype=torch.float32, device=dev)  # (N, 3) metres
        self.latents = torch.zeros(0, self.channels, dtype=self.storage_dtype, device=dev)  # (N, C)
        self.write_ids = torch.zeros(0, dtype=torch.int64, device=dev)  # (N,) last write that made/updated it
        self.confidence: Tensor | None = (
            torch.zeros(0, dtype=torch.float32, device=dev) if (voxel_size is not None or capacity is not None) else None
        )
        self.scale: Tensor | None = (
            torch.zeros(self.channels, dtype=torch.float32, device=dev) if self.storage_dtype == torch.int8 else None
        )
        self._writes = 0
        #: counts of the last write: ``kept`` latent pixels, ``fused`` into existing tokens, ``new`` tokens, ``evicted``
        self.last_write: dict[str, int] = {}
        self._index: ChunkIndex | None = None  # read index, rebuilt lazily when the positions change

    # ------------------------------------------------------------------ stats
    @property
    def num_tokens(self) -> int:
        """Number of stored tokens ``N``."""
        return int(self.positions.shape[0])

    @property
    def num_writes(self) -> int:
        """Number of :meth:`write` calls so far (the next write id)."""
        return self._writes

    def _tensors(self) -> list[Tensor]:
        ts = [self.positions, self.latents, self.write_ids]
        if self.confidence is not None:
            ts.append(self.confidence)
        if self.scale is not None:
            ts.append(self.scale)
        return ts

    @property
    def nbytes(self) -> int:
        """Exact bytes held by the token tensors: positions, latents, write ids, and confidence / int8 scales when
        present."""
        return sum(t.numel() * t.element_size() for t in self._tensors())

    def dequantized(self, rows: Tensor | None = None) -> Tensor:
        """Stored latents (all, or the given ``(M, C)`` stored rows) as float32 ``(N, C)``."""
        x = self.latents if rows is None else rows
        x = x.to(torch.float32)
        return x * self.scale if self.scale is not None else x

    def _encode(self, x: Tensor) -> Tensor:
        """float32 ``(M, C)`` -> storage dtype (the int8 scale must already cover ``x``)."""
        if self.scale is None:
            return x.to(self.storage_dtype)
        return quantize_int8(x, self.scale)

    def _grow_scale(self, x: Tensor) -> None:
        """int8: raise per-channel scales to cover ``x`` and re-quantize the stored tokens if any scale changed."""
        if self.scale is None or x.shape[0] == 0:
            return
        need = x.abs().amax(0) / 127.0
        if bool((need > self.scale).any()):
            new = torch.maximum(self.scale, need).clamp_min(1e-12)
            if self.num_tokens:
                self.latents = quantize_int8(self.latents.to(torch.float32) * self.scale, new)
            self.scale = new

    # ------------------------------------------------------------------ write
    def write(
        self,
        latent: Tensor,  # (C, h, w) or (T, C, h, w)
        depth: Tensor,  # (h, w) or (T, h, w), metres, 0 = no token
        K: Tensor,  # (3, 3) or (T, 3, 3), latent-grid pixels
        c2w: Tensor,  # (4, 4) or (T, 4, 4)
        keep: Tensor | None = None,  # (h, w) or (T, h, w) bool
        *,
        confidence: Tensor | None = None,  # (h, w) or (T, h, w), >= 0
        min_confidence: float = 0.0,
    ) -> int:
        """Store latent frames as tokens. Returns the number of new tokens (fused observations are not new).

        A latent pixel is stored when its depth is ``> 0`` (0 = no depth, the RGB-D convention), ``keep`` (if given)
        is true -- use it for dynamic objects and sky -- and, when ``confidence`` is given, its confidence is ``> 0``
        and ``>= min_confidence``. With ``voxel_size`` set, observations are fused per voxel (see the class doc);
        with ``capacity`` set, tokens are then evicted down to the capacity. ``self.last_write`` has the counts.

        Args:
            latent: ``(T, C, h, w)`` or ``(C, h, w)`` floating latents.
            depth: ``(T, h, w)`` or ``(h, w)`` z-depth in metres on the latent grid.
            K: ``(T, 3, 3)`` or ``(3, 3)`` latent-grid intrinsics in pixels; c2w: ``(T, 4, 4)`` or ``(4, 4)``.
            keep: optional ``(T, h, w)`` or ``(h, w)`` bool mask (integer 0/1 accepted, float refused).
            confidence: optional ``(T, h, w)`` or ``(h, w)`` per-pixel confidence, finite and ``>= 0``.
            min_confidence: pixels with lower confidence are not stored.

        Raises:
            ValueError: on mismatched shapes, wrong channel count or dtype, non-finite latents, NaN/inf/negative
                depth, bad cameras (zero focal, singular c2w), bad confidence.
        """
        for name, t in (("latent", latent), ("depth", depth), ("K", K), ("c2w", c2w)):
            if not isinstance(t, Tensor):
                raise ValueError(f"{name} must be a torch tensor, got {type(t).__name__}")
        if latent.dim() == 3:
            latent, depth = latent[None], depth[None]
            K = K[None] if K.dim() == 2 else K
            c2w = c2w[None] if c2w.dim() == 2 else c2w
            keep = None if keep is None else keep[None]
            confidence = None if confidence is None else confidence[None]
        if latent.dim() != 4 or latent.shape[1] != self.channels:
            raise ValueError(f"latent must be (T, {self.channels}, h, w) or ({self.channels}, h, w), got {tuple(latent.shape)}")
        if not latent.is_floating_point() or not depth.is_floating_point():
            raise ValueError(f"latent and depth must be floating point, got {latent.dtype} and {depth.dtype}")
        T, C, h, w = latent.shape
        if depth.shape != (T, h, w):
            raise ValueError(f"depth must be {(T, h, w)} to match the latent, got {tuple(depth.shape)}")
        if K.shape != (T, 3, 3) or c2w.shape != (T, 4, 4):
            raise ValueError(f"K must be (T, 3, 3) and c2w (T, 4, 4) with T={T}, got {tuple(K.shape)}, {tuple(c2w.shape)}")
        if keep is not None and (not isinstance(keep, Tensor) or keep.shape != (T, h, w)):
            raise ValueError(f"keep must be a {(T, h, w)} tensor, got {getattr(keep, 'shape', type(keep))}")
        if keep is not None and (keep.is_floating_point() or keep.is_complex()):
            raise ValueError(f"keep must be a bool (or integer 0/1) tensor, got {keep.dtype}")
        if not math.isfinite(min_confidence):
            raise ValueError(f"min_confidence must be finite, got {min_confidence}")
        if not torch.isfinite(latent).all() or not torch.isfinite(c2w).all() or not torch.isfinite(K).all():
            raise ValueError("latent, K and c2w must be finite")
        K, c2w = check_cameras(K, c2w)
        if not torch.isfinite(depth).all():
            raise ValueError("depth must be finite (use 0 for 'no depth', not NaN/inf)")
        if (depth < 0).any():
            raise ValueError("depth must be >= 0 metres (0 = no depth)")
        if confidence is not None:
            if not isinstance(confidence, Tensor) or confidence.shape != (T, h, w) or not confidence.is_floating_point():
                raise ValueError(f"confidence must be a floating {(T, h, w)} tensor, got {getattr(confidence, 'shape', type(confidence))}")
            if not torch.isfinite(confidence).all() or (confidence < 0).any():
                raise ValueError("confidence must be finite and >= 0")
        dev = self.device
        depth = depth.to(dev, torch.float32)
        pts = unproject_depth(depth, K.to(dev, torch.float32), c2w.to(dev, torch.float32))  # (T, h, w, 3)
        ok = depth > 0
        if keep is not None:
            ok &= keep.to(dev, torch.bool)
        if confidence is not None:
            conf_map = confidence.to(dev, torch.float32)
            ok &= (conf_map > 0) & (conf_map >= min_confidence)
        new_pos = pts[ok]  # (M, 3)
        new_lat = latent.to(dev, torch.float32).permute(0, 2, 3, 1)[ok]  # (M, C)
        new_conf = conf_map[ok] if confidence is not None else torch.ones(new_pos.shape[0], device=dev)
        kept = int(new_pos.shape[0])
        n_before = self.num_tokens
        fused = 0
        if self.voxel_size is not None:
            fused = self._fuse_and_append(new_pos, new_lat, new_conf)
        else:
            self._grow_scale(new_lat)
            self._append(new_pos, new_lat, new_conf)
        n_new = self.num_tokens - n_before
        evicted = self._evict()
        self.last_write = {"kept": kept, "fused": fused, "new": n_new, "evicted": evicted}
        self._writes += 1
        return n_new

    def _append(self, pos: Tensor, lat: Tensor, conf: Tensor) -> None:
        self.positions = torch.cat([self.positions, pos.to(torch.float32)])
        self.latents = torch.cat([self.latents, self._encode(lat)])
        self.write_ids = torch.cat([self.write_ids, torch.full((pos.shape[0],), self._writes, dtype=torch.int64, device=self.device)])
        if self.confidence is not None:
            self.confidence = torch.cat([self.confidence, conf.to(torch.float32)])

    def _fuse_and_append(self, pos: Tensor, lat: Tensor, conf: Tensor) -> int:
        """Voxel fusion of one write's observations; returns the number of observations fused into old tokens."""
        if pos.shape[0] == 0:
            return 0
        vs = self.voxel_size
        keys = voxel_keys(pos, vs)
        uk, inv = torch.unique(keys, return_inverse=True)  # sorted unique voxels of this write
        G = uk.shape[0]
        c = conf.double()
        csum = deterministic_scatter_sum(c, inv, G)
        gp = deterministic_scatter_sum(c[:, None] * pos.double(), inv, G) / csum[:, None]
        gl = deterministic_scatter_sum(c[:, None] * lat.double(), inv, G) / csum[:, None]
        hit = torch.zeros(G, dtype=torch.bool, device=self.device)
        tgt = torch.zeros(0, dtype=torch.int64, device=self.device)
        if self.num_tokens:
            old_keys = voxel_keys(self.positions, vs)
            order = torch.argsort(old_keys, stable=True)
            sk = old_keys[order]
            j = torch.searchsorted(sk, uk).clamp(max=sk.shape[0] - 1)
            hit = sk[j] == uk
            tgt = order[j[hit]]
        if tgt.numel():
            ch = csum[hit]
            if self.fusion == "mean":
                co = self.confidence[tgt].double()
                tot = co + ch
                up_pos = (co[:, None] * self.positions[tgt].double() + ch[:, None] * gp[hit]) / tot[:, None]
                up_lat = (co[:, None] * self.dequantized(self.latents[tgt]).double() + ch[:, None] * gl[hit]) / tot[:, None]
                up_conf = tot if self.max_confidence is None else tot.clamp(max=self.max_confidence)
            else:
                up_pos, up_lat, up_conf = gp[hit], gl[hit], ch
            up_lat = up_lat.float()
            self._grow_scale(torch.cat([up_lat, gl[~hit].float()]))
            self.positions[tgt] = up_pos.float()
            self.latents[tgt] = self._encode(up_lat)
            self.confidence[tgt] = up_conf.float()
            self.write_ids[tgt] = self._writes
        else:
            self._grow_scale(gl.float())
        miss = ~hit
        self._append(gp[miss].float(), gl[miss].float(), csum[miss].float())
        return int((hit[inv]).sum())

    def _evict(self) -> int:
        """Evict down to ``capacity`` by the eviction policy; survivors keep their order. Returns the count."""
        N = self.num_tokens
        if self.capacity is None or N <= self.capacity:
            return 0
        idx = torch.arange(N, device=self.device)
        conf = self.confidence
        prim, sec = (self.write_ids, conf) if self.eviction == "lru" else (conf, self.write_ids)
        # keep-priority: primary desc, then secondary desc, then index desc (stable sorts, least significant first)
        order = torch.argsort(idx, descending=True, stable=True)
        order = order[torch.argsort(sec[order], descending=True, stable=True)]
        order = order[torch.argsort(prim[order], descending=True, stable=True)]
        survivors = torch.sort(order[: self.capacity]).values
        for name in ("positions", "latents", "write_ids", "confidence"):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t[survivors].contiguous())
        return N - self.capacity

    # ------------------------------------------------------------------ read
    def read(self, K: Tensor, c2w: Tensor, hw: tuple[int, int], mode: str | None = None) -> MemoryRead:
        """Read the memory at ``V`` cameras on an ``(h, w)`` latent grid.

        Args:
            K: ``(V, 3, 3)`` or ``(3, 3)`` latent-grid intrinsics in pixels.
            c2w: ``(V, 4, 4)`` or ``(4, 4)`` camera-to-world poses.
            hw: latent grid ``(h, w)``.
            mode: ``"nearest"`` or ``"bilinear"``; default: the memory's ``splat`` option.

        Only tokens of chunks that can land on the grid are projected (exact culling, see
        :mod:`mirage_world.memory.index`); the result is bit-identical to projecting every token.

        Returns:
            :class:`MemoryRead` (``latent (V, C, h, w)`` float32 -- channels-last memory format in ``"nearest"``
            mode --, ``mask (V, 1, h, w)``, ``depth (V, h, w)`` metres). An empty memory reads all zeros.

        Raises:
            ValueError: on bad shapes, non-finite cameras, zero focal, singular ``c2w``, bad ``hw`` or mode.
        """
        mode = self.splat if mode is None else mode
        if mode not in SPLAT_MODES:
            raise ValueError(f"mode must be one of {SPLAT_MODES}, got {mode!r}")
        hw = check_hw(hw)
        P64, P_pad64 = _read_matrices(K, c2w)  # validates; (V, 3, 4) float64
        if mode == "bilinear":
            xyz, low, _ = self._candidates(P64, hw, per_view=False)
            P = torch.from_numpy(P64.astype(np.float32)).to(self.device)
            return splat_core(xyz, (self.num_tokens - 1) - low.to(torch.int64), self.latents, P, hw, self.near,
                              self.depth_tolerance, torch.float32, torch.float32, self.scale)
        winner, zbuf = self._winners(*self._candidates(P64, hw), P_pad64, hw)
        return gather_read(self.latents, winner, zbuf, torch.float32, self.scale)

    # ------------------------------------------------------------------ read internals
    #: tokens per level-1 box of the read index; memories with fewer than ``2 * INDEX_CHUNK`` tokens are not indexed
    INDEX_CHUNK = 256
    #: tokens per level-2 box (and per gathered run) of the read index; divides ``INDEX_CHUNK``
    INDEX_SUB = 32

    def read_index(self) -> ChunkIndex | None:
        """The Morton-chunk index of the current positions that reads cull with (:class:`ChunkIndex`), built or
        rebuilt here when the positions changed; ``None`` for memories under ``2 * INDEX_CHUNK`` tokens (not
        indexed). Not part of :meth:`state_dict` nor of saved files."""
        N = self.num_tokens
        if N < 2 * self.INDEX_CHUNK:
            return None
        key = (self.positions.data_ptr(), self.positions._version, N)
        idx = self._index
        sub = min(self.INDEX_SUB, self.INDEX_CHUNK)
        if idx is None or idx.key != key or (idx.chunk, idx.sub) != (self.INDEX_CHUNK, sub):
            idx = self._index = ChunkIndex(self.positions, self.INDEX_CHUNK, sub)
        return idx

    def _candidates(self, P: np.ndarray, hw: tuple[int, int], per_view: bool = True) -> tuple[Tensor, Tensor, bool]:
        """The tokens that may land on the grid of the cameras ``P`` (``(V, 3, 4)`` float64 numpy): whole chunks
        that pass the exact frustum test of :class:`ChunkIndex`.

        Returns:
            ``per_view``: positions ``(3, V, n)`` and int32 keys ``low = N - 1 - token`` ``(V, n)`` of each camera's
            own chunks; else ``(3, n)`` / ``(n,)`` for the union (NaN positions are padding). Then ``all_front``:
            whether every candidate is provably in front of the near plane of its camera(s).
        """
        N = self.num_tokens
        idx = self.read_index()
        if idx is None:
            low = (N - 1) - torch.arange(N, device=self.device, dtype=torch.int32)
            return self.positions.T.contiguous(), low, False
        vis, front = idx.classify(P, hw, self.near)
        if per_view:
            all_front = bool(vis.any(1).all() and front[vis].all())
            return (*idx.gather_views(vis), all_front)
        union = vis.any(0)
        return (*idx.gather(np.flatnonzero(union)), bool(front[:, union].all()))

    def _winners(self, xyz: Tensor, low: Tensor, all_front: bool, P_pad: np.ndarray,
                 hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Nearest z-buffer of candidate tokens: ``winner (V, h, w)`` token index (-1: none), ``zbuf (V, h, w)``."""
        V, (h, w), N = P_pad.shape[0], hw, self.num_tokens
        if low.numel() == 0:
            return (torch.full((V, h, w), -1, dtype=torch.int64, device=self.device),
                    torch.full((V, h, w), math.inf, device=self.device))
        Pp = torch.from_numpy(P_pad.astype(np.float32)).to(self.device)
        low_win, zbuf = zbuffer_core(xyz, low, Pp, hw, self.near, all_front)
        winner = torch.where(low_win >= 0, (N - 1) - low_win, -1)
        return winner.reshape(V, h, w), zbuf.reshape(V, h, w)

    # ------------------------------------------------------------------ persistence
    def options(self) -> dict:
        """The constructor's keyword arguments (``channels`` included) that build an empty memory like this one:
        ``LatentSpatialMemory(**mem.options())``. JSON-serialisable values."""
        return {
            "channels": self.channels,
            "dtype": self.dtype_name,
            "splat": self.splat,
            "depth_tolerance": self.depth_tolerance,
            "voxel_size": self.voxel_size,
            "fusion": self.fusion,
            "max_confidence": self.max_confidence,
            "capacity": self.capacity,
            "eviction": self.eviction,
            "near": self.near,
            "latent_spec": self.latent_spec,
        }

    def state_dict(self) -> dict:
        """Everything that defines the memory, for :meth:`from_state` (and the safetensors files of
        :mod:`~mirage_world.memory.serialization`).

        Returns:
            ``{"options": self.options(), "num_writes": int, "tensors": {...}}`` with the stored tensors
            ``positions`` float32 ``(N, 3)``, ``latents`` ``(N, C)`` in the storage dtype, ``write_ids`` int64
            ``(N,)`` and, when present, ``confidence`` float32 ``(N,)`` and ``scale`` float32 ``(C,)`` (int8). The
            tensors are the memory's own (not copies): do not modify them in place.
        """
        tensors = {"positions": self.positions, "latents": self.latents, "write_ids": self.write_ids}
        if self.confidence is not None:
            tensors["confidence"] = self.confidence
        if self.scale is not None:
            tensors["scale"] = self.scale
        return {"options": self.options(), "num_writes": self.num_writes, "tensors": tensors}

    @classmethod
    def from_state(cls, state: dict, device: torch.device | str = "cpu", *, copy: bool = True) -> "LatentSpatialMemory":
        """Rebuild a memory from :meth:`state_dict`, validating everything first.

        Args:
            state: ``{"options": ..., "num_writes": ..., "tensors": ...}`` as returned by :meth:`state_dict`.
            device: where to put the tokens.
            copy: copy the tensors (default) so the new memory shares no storage with ``state`` (writes update
                tensors in place); ``False`` takes them over as they are when they are already on ``device``.

        Returns:
            The memory, bit-identical to the one whose state it was (reads, writes and :attr:`num_writes` continue).

        Raises:
            ValueError: invalid options; a tensor set other than the options imply (``confidence`` exactly when
                ``voxel_size`` or ``capacity`` is set, ``scale`` exactly for int8); a wrong dtype or shape;
                non-finite values; int8 latents outside ``[-127, 127]``; negative scales or confidences; write ids
                outside ``[0, num_writes)``; more tokens than ``capacity``.

        Example:
            >>> mem = LatentSpatialMemory(2)
            >>> _ = mem.write(torch.ones(2, 1, 1), torch.ones(1, 1), torch.eye(3), torch.eye(4))
            >>> LatentSpatialMemory.from_state(mem.state_dict()).num_tokens
            1
        """
        if not isinstance(state, dict) or not {"options", "num_writes", "tensors"} <= set(state):
            raise ValueError("state must be a dict with 'options', 'num_writes' and 'tensors' (see state_dict())")
        opts, tensors = state["options"], state["tensors"]
        writes = state["num_writes"]
        if isinstance(writes, bool) or not isinstance(writes, int) or writes < 0:
            raise ValueError(f"num_writes must be an int >= 0, got {writes!r}")
        if not isinstance(opts, dict) or not isinstance(tensors, dict):
            raise ValueError("state 'options' and 'tensors' must be dicts")
        try:
            mem = cls(**opts, device=device)
        except (TypeError, ValueError) as e:
            raise ValueError(f"invalid options ({e})") from None
        want = {"positions", "latents", "write_ids"}
        if mem.confidence is not None:
            want.add("confidence")
        if mem.scale is not None:
            want.add("scale")
        if set(tensors) != want:
            raise ValueError(f"tensors {sorted(tensors)} but expected {sorted(want)}")
        pos, lat, wid = tensors["positions"], tensors["latents"], tensors["write_ids"]
        if not all(isinstance(t, Tensor) for t in tensors.values()):
            raise ValueError("every state tensor must be a torch tensor")
        N = pos.shape[0] if pos.dim() == 2 else -1
        C = mem.channels
        checks = [
            ("positions", pos, torch.float32, (N, 3)),
            ("latents", lat, mem.storage_dtype, (N, C)),
            ("write_ids", wid, torch.int64, (N,)),
        ]
        if "confidence" in want:
            checks.append(("confidence", tensors["confidence"], torch.float32, (N,)))
        if "scale" in want:
            checks.append(("scale", tensors["scale"], torch.float32, (C,)))
        for name, t, dt, shape in checks:
            if t.dtype != dt:
                raise ValueError(f"tensor {name!r} has dtype {t.dtype}, expected {dt}")
            if tuple(t.shape) != shape:
                raise ValueError(f"tensor {name!r} has shape {tuple(t.shape)}, expected {shape}")
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise ValueError(f"tensor {name!r} has non-finite values")
        if mem.scale is not None and N > 0 and int(lat.min()) < -127:
            raise ValueError("int8 latents outside [-127, 127]")
        if "scale" in want and (tensors["scale"] < 0).any():
            raise ValueError("negative int8 scales")
        if "confidence" in want and (tensors["confidence"] < 0).any():
            raise ValueError("negative confidences")
        if N > 0 and (int(wid.min()) < 0 or int(wid.max()) >= writes):
            raise ValueError(f"write ids outside [0, {writes})")
        if mem.capacity is not None and N > mem.capacity:
            raise ValueError(f"{N} tokens exceed the capacity {mem.capacity}")
        dev = mem.device
        mem.positions, mem.latents, mem.write_ids = (t.to(dev, copy=copy) for t in (pos, lat, wid))
        if "confidence" in want:
            mem.confidence = tensors["confidence"].to(dev, copy=copy)
        if "scale" in want:
            mem.scale = tensors["scale"].to(dev, copy=copy)
        mem._writes = writes
        return mem

    def save(self, path) -> None:
        """Write the memory to a safetensors file (see :mod:`mirage_world.memory.serialization`)."""
        write_memory_state(self.state_dict(), path)

    @classmethod
    def load(cls, path, device: torch.device | str = "cpu") -> "LatentSpatialMemory":
        """Load a memory written by :meth:`save`, validating everything
        (see :mod:`mirage_world.memory.serialization`).

        Raises:
            ValueError: on a missing, truncated, padded, malformed or hostile file.
        """
        state = read_memory_state(path, STORAGE_DTYPES)
        try:
            return cls.from_state(state, device, copy=False)
        except ValueError as e:
            raise ValueError(f"memory file {path}: {e}") from None

    # ------------------------------------------------------------------ queries (no generation needed)
    def visible_tokens(self, K: Tensor, c2w: Tensor, hw: tuple[int, int]) -> list[Tensor]:
        """Tokens visible from each camera: those that win at least one pixel of the nearest z-buffer.

        Args:
            K: ``(V, 3, 3)`` or ``(3, 3)`` intrinsics of the ``hw`` grid in pixels; c2w: ``(V, 4, 4)`` or ``(4, 4)``.
            hw: grid ``(h, w)`` (the latent grid, or finer for a finer visibility test).

        Returns:
            ``V`` sorted int64 tensors of token indices (rows of ``positions`` / ``latents``).

        Raises:
            ValueError: on bad cameras or ``hw``.
        """
        hw = check_hw(hw)
        P, P_pad = _read_matrices(K, c2w)
        winner, _ = self._winners(*self._candidates(P, hw), P_pad, hw)
        return [torch.unique(wv[wv >= 0]) for wv in winner.reshape(winner.shape[0], -1)]

    def render_depth(self, K: Tensor, c2w: Tensor, hw: tuple[int, int], mode: str | None = None) -> Tensor:
        """Rendered z-depth ``(V, h, w)`` in metres at each camera (0 where no token), without touching latents in
        ``"nearest"`` mode. Raises ``ValueError`` like :meth:`read`."""
        mode = self.splat if mode is None else mode
        if mode == "bilinear":
            return self.read(K, c2w, hw, mode="bilinear").depth
        if mode not in SPLAT_MODES:
            raise ValueError(f"mode must be one of {SPLAT_MODES}, got {mode!r}")
        hw = check_hw(hw)
        P, P_pad = _read_matrices(K, c2w)
        winner, zbuf = self._winners(*self._candidates(P, hw), P_pad, hw)
        return torch.where(winner >= 0, zbuf, torch.zeros_like(zbuf))

    def occupancy(self, points: Tensor, voxel_size: float | None = None) -> Tensor:
        """Whether each query point's voxel holds a token: :func:`mirage_world.memory.queries.occupancy`."""
        return occupancy(self, points, voxel_size)

    def stats(self) -> dict:
        """Summary for agents and logs: ``tokens``, ``bytes``, ``writes``, ``channels``, ``dtype``, ``voxel_size``,
        ``capacity``, ``bounds`` (``[[xmin, ymin, zmin], [xmax, ymax, zmax]]`` in metres, ``None`` when empty) and
        ``index_bytes`` (the read index built by the last read, not part of ``bytes`` nor of saved files; 0 if none)."""
        bounds = None
        if self.num_tokens:
            bounds = [self.positions.amin(0).tolist(), self.positions.amax(0).tolist()]
        idx = self._index
        return {"tokens": self.num_tokens, "bytes": self.nbytes, "writes": self.num_writes, "channels": self.channels,
                "dtype": self.dtype_name, "voxel_size": self.voxel_size, "capacity": self.capacity, "bounds": bounds,
                "index_bytes": idx.nbytes if idx is not None else 0}

    def pca_colors(self, max_fit: int = 100_000) -> Tensor:
        """``(N, 3)`` uint8 PCA colours of the tokens: :func:`mirage_world.memory.queries.pca_colors`."""
        return pca_colors(self, max_fit)

    def export_ply(self, path) -> None:
        """Write the tokens as a PLY point cloud: :func:`mirage_world.memory.queries.export_ply`."""
        export_ply(self, path)
