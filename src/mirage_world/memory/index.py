"""Spatial index of the memory's tokens for reads: Morton-ordered chunks with bounding boxes (frustum culling).

A read only has to project the tokens that can land on the target grid. The index sorts the tokens along a Morton
(Z-order) curve of their quantised positions, cuts the sorted list into chunks of ``chunk`` tokens and keeps each
chunk's axis-aligned bounding box. A read tests the 8 corners of every box against each camera and projects only
the tokens of chunks that may be visible in at least one camera.

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

__all__ = ["ChunkIndex", "morton_codes"]


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


class ChunkIndex:
    """Morton-ordered chunks of token positions with bounding boxes.

    The heavy arrays (positions, keys) live on the memory's device; the boxes are a few floats per chunk and the
    visibility test runs on the host in numpy (it is a handful of small matrix products, where torch's per-op
    dispatch would cost more than the arithmetic).

    Args:
        positions: ``(N, 3)`` float32 token positions in metres (``1 <= N < 2**31``).
        chunk: tokens per chunk; the last chunk is padded by repeating its last token (``pad`` slots).

    Attributes:
        xyz: ``(3, n_chunks, chunk)`` float32 positions in Morton order (structure of arrays).
        low: ``(n_chunks, chunk)`` int32 z-buffer tie-break key ``N - 1 - token`` of each slot (token =
            ``N - 1 - low``).
        lo, hi: ``(n_chunks, 3)`` float64 numpy box corners of each chunk.
        key: ``(data_ptr, version, N)`` of the positions it was built from (stale when they change).
    """

    def __init__(self, positions: Tensor, chunk: int = 256):
        N = positions.shape[0]
        if N == 0 or N >= 2**31:
            raise ValueError(f"can index 1 .. 2**31 - 1 tokens, got {N}")
        order = torch.sort(morton_codes(positions), stable=True).indices
        nc = -(-N // chunk)
        pad = nc * chunk - N
        if pad:
            order = torch.cat([order, order[-1:].expand(pad)])
        xyz = positions.index_select(0, order).T.contiguous().view(3, nc, chunk)
        # boxes (padding repeats the last point, so they are unaffected), on the host in float64
        self.lo = xyz.amin(2).T.double().cpu().numpy()  # (nc, 3)
        self.hi = xyz.amax(2).T.double().cpu().numpy()
        self.xyz = xyz  # padding slots of the last chunk repeat its last token: harmless for a z-buffer (same key)
        self.low = ((N - 1) - order).to(torch.int32).view(nc, chunk)
        self.pad = pad
        self.chunk = chunk
        self.num_tokens = N
        bits = np.array([[(c >> k) & 1 for k in range(3)] for c in range(8)], dtype=bool)
        corners = np.where(bits[None], self.hi[:, None], self.lo[:, None]).reshape(-1, 3)  # (nc * 8, 3)
        self._corners_h = np.concatenate([corners, np.ones((corners.shape[0], 1))], 1).T.copy()  # (4, nc * 8)
        self._mag = np.maximum(np.abs(self.lo), np.abs(self.hi))  # (nc, 3)
        self.key = (positions.data_ptr(), positions._version, N)

    @property
    def num_chunks(self) -> int:
        return int(self.lo.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the index (not part of the memory's saved state; rebuilt from the positions)."""
        dev = sum(t.numel() * t.element_size() for t in (self.xyz, self.low))  # on the memory's device
        return dev + sum(a.nbytes for a in (self.lo, self.hi, self._corners_h, self._mag))

    def classify(self, P: np.ndarray, hw: tuple[int, int], near: float, margin: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Which chunks may hold a token that lands on the grid of each camera, and which lie wholly in front.

        Args:
            P: ``(V, 3, 4)`` float64 projection matrices of the ``(h, w)`` grid (numpy, from
                :func:`~mirage_world.memory.splat.read_matrices_np`).
            hw: grid ``(h, w)``; near: min z-depth in metres; margin: pixels beyond the borders still kept (1 covers
                the bilinear footprint).

        Returns:
            ``visible (V, n_chunks)`` and ``front (V, n_chunks)`` bool numpy arrays; ``front``: every token of the
            chunk has float32 ``Z > near`` in that camera.
        """
        h, w = hw
        m = float(margin)
        # each test is "cull if f(p) < -tol at every corner" for a linear f = A [X, Y, Z] (+ const)
        A = np.array([[0, 0, 1], [1, 0, m], [-1, 0, w + m], [0, 1, m], [0, -1, h + m]], dtype=np.float64)
        F = A @ P  # (V, 5, 4): behind, left, right, top, bottom
        F[:, 0, 3] -= near
        vals = (F @ self._corners_h).reshape(P.shape[0], 5, -1, 8)  # (V, 5, nc, 8)
        B = np.abs(P[:, :, :3]) @ self._mag.T + np.abs(P[:, :, 3:])  # (V, 3, nc) bound on |terms| of X, Y, Z
        tol = (1e-6 * (np.abs(A) @ B) + 1e-6 * near)[..., None]  # (V, 5, nc, 1), above float32 rounding
        culled = (vals < -tol).all(-1).any(1)  # (V, nc)
        front = (vals[:, 0] > tol[:, 0]).all(-1)  # (V, nc): Z - near > tol at every corner
        return ~culled, front

    def visible(self, P: np.ndarray, hw: tuple[int, int], near: float, margin: float = 1.0) -> np.ndarray:
        """``(V, n_chunks)`` bool: the ``visible`` half of :meth:`classify`."""
        return self.classify(P, hw, near, margin)[0]

    def gather(self, chunks: np.ndarray) -> tuple[Tensor, Tensor]:
        """Positions ``(3, n)`` and int32 keys ``low (n,)`` of the given chunk ids (``n = len * chunk``); the padding
        slots of the last chunk are set to NaN here (so a sum over the points counts every token once)."""
        chunks = np.ascontiguousarray(chunks, dtype=np.int64)
        ids = torch.from_numpy(chunks).to(self.xyz.device)
        xyz = self.xyz.index_select(1, ids)  # (3, len, chunk), a copy
        if self.pad and chunks.size and chunks[-1] == self.num_chunks - 1:  # ids are sorted
            xyz[:, -1, self.chunk - self.pad :] = math.nan
        return xyz.reshape(3, -1), self.low.index_select(0, ids).reshape(-1)

    def gather_views(self, visible: np.ndarray) -> tuple[Tensor, Tensor]:
        """Per-view candidates: positions ``(3, V, n)`` and int32 keys ``low (V, n)`` of each view's visible
        chunks, each list padded to the longest by repeating the view's first chunk (duplicates change no
        z-buffer result; a view with no visible chunk gets chunk 0, none of whose tokens land on its grid).

        Args:
            visible: ``(V, n_chunks)`` bool from :meth:`classify`.
        """
        V, nc = visible.shape
        count = visible.sum(1)
        cmax = max(int(count.max()), 1)
        ids = np.zeros((V, cmax), dtype=np.int64)
        for v in range(V):
            nz = np.flatnonzero(visible[v])
            ids[v, : nz.size] = nz
            ids[v, nz.size :] = nz[0] if nz.size else 0
        t = torch.from_numpy(ids.reshape(-1)).to(self.xyz.device)
        xyz = self.xyz.index_select(1, t).view(3, V, cmax * self.chunk)
        return xyz, self.low.index_select(0, t).view(V, cmax * self.chunk)
