"""Spatial index of the memory's tokens for reads: Morton-ordered chunks with bounding boxes (frustum culling).

A read only has to project the tokens that can land on the target grid. The index sorts the tokens along a Morton
(Z-order) curve of their quantised positions, cuts the sorted list into runs and keeps each run's axis-aligned
bounding box, at two levels (chunks of 256 tokens, runs of 32 inside them). A read tests the 8 corners of the chunk
boxes against each camera, then the run boxes inside the surviving chunks, and projects only the tokens of runs
that may be visible.

Culling is *exact*, not approximate: a chunk is dropped only if every point of its box provably fails a test that
every landing token must pass -- all of it behind the near plane, or all of it more than ``margin`` pixels beyond
one image border. The tests are linear in the point (``X + m Z < 0`` etc. for the projection rows ``X, Y, Z``), so
checking the corners checks the box. Each test has a slack of ``1e-6`` times a bound on the magnitude of the terms,
above the float32 rounding error of the read's projection, so no token that the unculled read would place is ever
culled (tests compare culled and unculled reads bit for bit).

Pure torch; no diffusers import.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["ChunkIndex", "morton_codes", "voxel_keys"]


def _spread_bits(x: Tensor) -> Tensor:
    """Insert two zero bits between the low 21 bits of ``x`` (int64)."""
    x = x & 0x1FFFFF
    x = (x | (x << 32)) & 0x1F00000000FFFF
    x = (x | (x << 16)) & 0x1F0000FF0000FF
    x = (x | (x << 8)) & 0x100F00F00F00F00F
    x = (x | (x << 4)) & 0x10C30C30C30C30C3
    x = (x | (x << 2)) & 0x1249249249249249
    return x


def morton_codes(points: Tensor) -> Tensor:
    """63-bit Morton codes of ``(N, 3)`` points quantised to 21 bits per axis inside their bounding box.

    Returns:
        ``(N,)`` int64; points close in space tend to have close codes.
    """
    p = points.double()
    lo, hi = p.amin(0), p.amax(0)
    q = ((p - lo) / (hi - lo).clamp_min(1e-12) * (2**21 - 1)).floor().clamp(0, 2**21 - 1).to(torch.int64)
    return (_spread_bits(q[:, 0]) << 2) | (_spread_bits(q[:, 1]) << 1) | _spread_bits(q[:, 2])


class _Boxes:
    """Axis-aligned boxes of runs of ``run`` consecutive slots of ``xyz (3, n_slots)``: float64 numpy corners
    ``lo, hi (n, 3)`` and, stacked for the culling tests, centres, half extents and per-axis magnitude bounds
    ``cem (9, n)``."""

    def __init__(self, xyz: Tensor, run: int):
        r = xyz.view(3, -1, run)
        lo = r.amin(2).double().cpu().numpy()  # (3, n)
        hi = r.amax(2).double().cpu().numpy()
        self.lo, self.hi = lo.T.copy(), hi.T.copy()  # (n, 3)
        self.cem = np.concatenate([(lo + hi) / 2, (hi - lo) / 2, np.maximum(np.abs(lo), np.abs(hi))])  # (9, n)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.lo, self.hi, self.cem))

    def test(self, P: np.ndarray, hw: tuple[int, int], near: float, margin: float,
             ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``visible, front`` ``(V, n)`` bool for the boxes ``ids`` (all if ``None``); see :meth:`ChunkIndex.classify`.

        Each test is "cull if ``f(p) < -tol`` on the whole box" for a linear ``f(p) = a . p + b`` built from the
        projection rows ``X, Y, Z``; the maximum of ``f`` over a box is ``a . centre + b + |a| . half``, the minimum
        ``a . centre + b - |a| . half`` -- the same as testing the 8 corners, in two small matrix products.
        """
        h, w = hw
        m = float(margin)
        cem = self.cem if ids is None else self.cem[:, ids]  # (9, n): centre, half extent, magnitude bound
        A = np.array([[0, 0, 1], [1, 0, m], [-1, 0, w + m], [0, 1, m], [0, -1, h + m]], dtype=np.float64)
        F = A @ P  # (V, 5, 4): behind (Z - near), left, right, top, bottom
        F[:, 0, 3] -= near
        # slack tol = 1e-6 x |A| (|P| [mag; 1]) + 1e-6 near: a bound on the terms, above the read's float32 rounding
        G = 1e-6 * (np.abs(A) @ np.abs(P))  # (V, 5, 4)
        G[:, :, 3] += 1e-6 * near
        # rows 0-4: max of f + tol over the box (< 0: culled); row 5: min of (Z - near) - tol (> 0: wholly in front)
        W = np.concatenate([
            np.concatenate([F[:, :, :3], np.abs(F[:, :, :3]), G[:, :, :3]], 2),
            np.concatenate([F[:, :1, :3], -np.abs(F[:, :1, :3]), -G[:, :1, :3]], 2),
        ], 1)  # (V, 6, 9)
        b = np.concatenate([F[:, :, 3] + G[:, :, 3], F[:, :1, 3] - G[:, :1, 3]], 1)[..., None]  # (V, 6, 1)
        r = W @ cem + b  # (V, 6, n)
        culled = (r[:, :5] < 0).any(1)  # (V, n): some test fails on the whole box
        front = r[:, 5] > 0
        return ~culled, front


class ChunkIndex:
    """Morton-ordered runs of token positions with bounding boxes at two levels.

    Tokens are sorted by Morton code and stored in that order (structure of arrays) as runs of ``sub`` slots; a run
    never straddles a cell of a coarse octree level (so no run spans a Morton jump) and is padded by repeating its
    last token; whole padding runs complete the last ``chunk``. Boxes are kept for every run of ``chunk`` slots (level 1) and of ``sub``
    slots (level 2, ``chunk`` a multiple of ``sub``): a read tests the level-1 boxes, then the level-2 boxes inside
    the surviving chunks only, and gathers surviving runs of ``sub`` tokens -- tight culling at the cost of a coarse
    test. The heavy arrays live on the memory's device; the boxes and the tests are on the host in numpy (a handful
    of small matrix products, where torch's per-op dispatch would cost more than the arithmetic).

    Args:
        positions: ``(N, 3)`` float32 token positions in metres (``1 <= N < 2**31``).
        chunk: slots per level-1 box; sub: slots per level-2 box and per gathered run.

    Attributes:
        xyz: ``(3, n_runs, sub)`` float32 positions in Morton order.
        low: ``(n_runs, sub)`` int32 z-buffer tie-break key ``N - 1 - token`` of each slot (token = ``N - 1 - low``).
        valid: ``(n_runs, sub)`` bool, False on padding slots (repeats of their run's last token: harmless for a
            z-buffer, same key; set to NaN by :meth:`gather` for sums).
        key: ``(data_ptr, version, N)`` of the positions it was built from (stale when they change).
    """

    #: up to this many level-2 boxes, :meth:`classify` tests them all directly (skips level 1)
    FLAT_TEST_MAX_RUNS = 4096

    def __init__(self, positions: Tensor, chunk: int = 256, sub: int = 32):
        N = positions.shape[0]
        if N == 0 or N >= 2**31:
            raise ValueError(f"can index 1 .. 2**31 - 1 tokens, got {N}")
        if chunk % sub:
            raise ValueError(f"chunk ({chunk}) must be a multiple of sub ({sub})")
        dev = positions.device
        codes, order = torch.sort(morton_codes(positions), stable=True)
        # runs never straddle a cell of the octree level L (the deepest level that still holds >= 4 runs of tokens
        # per occupied cell on average): a run crossing a Morton jump would get a box spanning the jump
        seg_start = torch.zeros(N, dtype=torch.bool, device=dev)
        seg_start[0] = True
        for level in range(1, 11):  # occupied cells only grow with the level: stop at the first that is too fine
            cell = codes >> (3 * (21 - level))
            change = torch.cat([torch.ones(1, dtype=torch.bool, device=dev), cell[1:] != cell[:-1]])
            if N < 4 * sub * int(change.sum()):
                break
            seg_start = change
        seg = torch.cumsum(seg_start, 0) - 1  # (N,) segment of each sorted token
        starts = torch.nonzero(seg_start).squeeze(1)  # (S,)
        counts = torch.diff(torch.cat([starts, torch.tensor([N], device=dev)]))
        rank = torch.arange(N, device=dev) - starts[seg]  # position inside its segment
        runs_per_seg = -(-counts // sub)
        run_offset = torch.cumsum(runs_per_seg, 0) - runs_per_seg
        n_runs = int(runs_per_seg.sum())
        k = chunk // sub
        n_runs_padded = -(-n_runs // k) * k  # whole level-1 chunks
        slot = (run_offset[seg] + rank // sub) * sub + rank % sub  # (N,) slot of each sorted token
        tok = torch.full((n_runs_padded * sub,), -1, dtype=torch.int64, device=dev)
        tok[slot] = order
        valid = tok >= 0
        # padding slots repeat the last token of their run (the last token overall for whole padding runs): the
        # same key twice changes no z-buffer result and no box
        last_slot = torch.zeros(n_runs_padded, dtype=torch.int64, device=dev)
        last_slot.scatter_reduce_(0, slot // sub, slot, reduce="amax", include_self=False)
        is_real_run = torch.zeros(n_runs_padded, dtype=torch.bool, device=dev)
        is_real_run[slot // sub] = True
        fill = torch.where(is_real_run, tok[last_slot], order[-1])  # (n_runs_padded,) token repeated in the padding
        tok = torch.where(valid, tok, fill.repeat_interleave(sub))
        xyz = positions.index_select(0, tok).T.contiguous()  # (3, n_runs_padded * sub)
        self.level1 = _Boxes(xyz, chunk)
        self.level2 = _Boxes(xyz, sub)
        self.xyz = xyz.view(3, -1, sub)
        self.low = ((N - 1) - tok).to(torch.int32).view(-1, sub)
        self.valid = valid.view(-1, sub)  # (n_runs, sub): False on padding slots
        self.chunk, self.sub = chunk, sub
        self.key = (positions.data_ptr(), positions._version, N)

    @property
    def num_chunks(self) -> int:
        """Level-1 boxes."""
        return int(self.level1.lo.shape[0])

    @property
    def num_runs(self) -> int:
        """Level-2 boxes (gathered runs of ``sub`` tokens)."""
        return int(self.level2.lo.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the index (not part of the memory's saved state; rebuilt from the positions)."""
        dev = sum(t.numel() * t.element_size() for t in (self.xyz, self.low, self.valid))  # on the memory's device
        return dev + self.level1.nbytes + self.level2.nbytes

    def classify(self, P: np.ndarray, hw: tuple[int, int], near: float, margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Which runs may hold a token that lands on the grid of each camera, and which lie wholly in front.

        A box is dropped for a camera only if all 8 corners fail one linear test (behind the near plane; more than
        ``margin`` pixels beyond a border), with a slack above the float32 rounding of the read's projection.

        Args:
            P: ``(V, 3, 4)`` float64 projection matrices of the ``(h, w)`` grid (numpy, from
                :func:`~mirage_world.geometry.camera.projection_matrices`).
            hw: grid ``(h, w)``; near: min z-depth in metres; margin: pixels beyond the borders still kept (1 covers
                the bilinear footprint).

        Returns:
            ``visible (V, n_runs)`` and ``front (V, n_runs)`` bool numpy arrays; ``front``: every token of the run
            has float32 ``Z > near`` in that camera.
        """
        if self.num_runs <= self.FLAT_TEST_MAX_RUNS:  # few boxes: one test of them all is cheaper
            return self.level2.test(P, hw, near, margin)
        V = P.shape[0]
        k = self.chunk // self.sub
        vis1, _ = self.level1.test(P, hw, near, margin)  # (V, n_chunks)
        chunks = np.flatnonzero(vis1.any(0))
        runs = (chunks[:, None] * k + np.arange(k)).reshape(-1)  # runs of the chunks some camera may see
        vis = np.zeros((V, self.num_runs), dtype=bool)
        front = np.zeros((V, self.num_runs), dtype=bool)
        if runs.size:
            vv, ff = self.level2.test(P, hw, near, margin, runs)
            vis[:, runs] = vv & np.repeat(vis1[:, chunks], k, axis=1)
            front[:, runs] = ff
        return vis, front

    def gather(self, runs: np.ndarray) -> tuple[Tensor, Tensor]:
        """Positions ``(3, n)`` and int32 keys ``low (n,)`` of the given run ids (``n = len * sub``); padding slots
        are set to NaN here (so a sum over the points counts every token once)."""
        runs = np.ascontiguousarray(runs, dtype=np.int64)
        ids = torch.from_numpy(runs).to(self.xyz.device)
        xyz = self.xyz.index_select(1, ids)  # (3, len, sub), a copy
        xyz[:, ~self.valid.index_select(0, ids)] = math.nan
        return xyz.reshape(3, -1), self.low.index_select(0, ids).reshape(-1)

    def gather_views(self, visible: np.ndarray) -> tuple[Tensor, Tensor]:
        """Per-view candidates: positions ``(3, V, n)`` and int32 keys ``low (V, n)`` of each view's visible runs,
        each list padded to the longest by repeating the view's first run (duplicates change no z-buffer result; a
        view with no visible run gets run 0, none of whose tokens land on its grid).

        Args:
            visible: ``(V, n_runs)`` bool from :meth:`classify`.
        """
        V = visible.shape[0]
        count = visible.sum(1)
        cmax = max(int(count.max()), 1)
        ids = np.zeros((V, cmax), dtype=np.int64)
        for v in range(V):
            nz = np.flatnonzero(visible[v])
            ids[v, : nz.size] = nz
            ids[v, nz.size :] = nz[0] if nz.size else 0
        t = torch.from_numpy(ids.reshape(-1)).to(self.xyz.device)
        xyz = self.xyz.index_select(1, t).view(3, V, cmax * self.sub)
        return xyz, self.low.index_select(0, t).view(V, cmax * self.sub)


def voxel_keys(pos: Tensor, voxel: float) -> Tensor:
    """``(N,)`` int64 keys of the voxels holding points ``pos (N, 3)`` (metres) at edge ``voxel`` (metres): the
    integer voxel coordinates ``floor(p / voxel)`` packed into one int64, 21 bits per axis, offset ``2**20``.

    Raises:
        ValueError: a point more than ``2**20`` voxels from the origin.
    """
    ijk = torch.floor(pos.double() / voxel).to(torch.int64) + (1 << 20)
    if ((ijk < 0) | (ijk >= (1 << 21))).any():
        raise ValueError(f"point outside the voxel grid range (+-{(1 << 20) * voxel:g} m at voxel size {voxel} m)")
    return (ijk[:, 0] << 42) | (ijk[:, 1] << 21) | ijk[:, 2]
