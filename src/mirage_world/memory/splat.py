"""Splatting tokens onto camera grids: the read side of the latent memory, as a functional core in pure torch.

Mirage (arXiv 2606.09828, Sec. 3.2) reads its cache by projecting the stored tokens onto the target camera's
*latent* grid. Both splat modes project with :func:`~mirage_world.geometry.camera.project_with_matrices` (one 3x4
matrix per camera from :func:`~mirage_world.geometry.camera.projection_matrices`, elementwise arithmetic, so a
token's pixel and depth do not depend on which other tokens are projected with it -- spatial culling cannot change
a result by a bit). Cameras are validated by the geometry checks (:func:`check_cameras`).

* ``"nearest"`` (v0 behaviour): the pixel containing the projection (``floor(u), floor(v)``, pixel centres at
  +0.5) receives the token; per pixel the smallest z-depth wins, equal z goes to the largest token index (the newest
  write). For float32 points one ``scatter_reduce(amin)`` on the int64 key
  ``(float32 bits of z) << 32 | (N - 1 - index)`` does both (positive float bits order like the floats); other
  dtypes use ``amin`` on z then ``amax`` on the index. Loop reference: :func:`zbuffer_read_reference`.
* ``"bilinear"`` (soft splatting): a token at continuous pixel position ``(u, v)`` contributes to the 4 pixels whose
  centres surround it with bilinear weights ``b``; per pixel ``zmin`` is the smallest contributing depth and each
  contribution is weighted ``w = b * exp(-(z / zmin - 1) / tol)``, dropped when ``z / zmin - 1 > 4 tol`` (a surface
  behind the front one). Latent and depth are the ``w``-normalised sums, the mask the soft coverage
  ``min(1, sum w)``. Loop reference: :func:`splat_read_reference`.

Determinism: nothing depends on the order in which a scatter executes. ``amin`` reductions are order-free. Sums on
CPU use kernels that add in a fixed order (1-D ``index_add_``, and a CSR sparse-dense product whose rows are sorted
by a stable sort); on other devices (atomics) sums are 64-bit fixed-point integer additions
(:func:`deterministic_scatter_sum`), which are associative.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..geometry.camera import check_c2w, check_intrinsics, project_with_matrices, projection_matrices

__all__ = [
    "MemoryRead",
    "check_cameras",
    "camera_arrays",
    "check_hw",
    "zbuffer_winners",
    "zbuffer_core",
    "gather_read",
    "border_matrices",
    "read_matrices",
    "bilinear_contributions",
    "bilinear_sums",
    "splat_core",
    "zbuffer_read",
    "zbuffer_read_reference",
    "splat_read",
    "splat_read_reference",
    "deterministic_scatter_sum",
    "SPLAT_MODES",
]

SPLAT_MODES = ("nearest", "bilinear")
_BIG = torch.iinfo(torch.int64).max


@dataclass
class MemoryRead:
    """Result of reading a memory at ``V`` cameras on an ``(h, w)`` grid.

    Attributes:
        latent: ``(V, C, h, w)`` warped latent map; zero where not covered. The nearest read returns it in
            ``torch.channels_last`` memory format (a token's ``C`` values are contiguous, as gathered); use
            ``.contiguous()`` if a consumer needs the default layout.
        mask: ``(V, 1, h, w)`` coverage, 1.0 where a token landed, else 0.0 (``"bilinear"``: soft, in ``[0, 1]``).
        depth: ``(V, h, w)`` z-depth of the winning token in metres; 0 where not covered.
    """

    latent: Tensor
    mask: Tensor
    depth: Tensor


# ---------------------------------------------------------------------------------------------------- validation
def check_hw(hw) -> tuple[int, int]:
    """A grid size ``(h, w)`` as two positive ints.

    Raises:
        InputError (a ``ValueError``): not a pair of positive ints.
    """
    try:
        h, w = (int(v) for v in hw)
    except (TypeError, ValueError):
        raise InputError(f"hw must be a pair of positive ints (h, w), got {hw!r}") from None
    if h <= 0 or w <= 0:
        raise InputError(f"hw must be positive, got {(h, w)}")
    return h, w


def _batch_cameras(K: Tensor, c2w: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(K, Tensor) or not isinstance(c2w, Tensor):
        raise InputError("K and c2w must be torch tensors")
    if not K.is_floating_point() or not c2w.is_floating_point():
        raise InputError(f"K and c2w must be floating point, got {K.dtype} and {c2w.dtype}")
    if K.dim() == 2:
        K = K[None]
    if c2w.dim() == 2:
        c2w = c2w[None]
    if K.dim() != 3 or c2w.dim() != 3 or K.shape[1:] != (3, 3) or c2w.shape[1:] != (4, 4) or K.shape[0] != c2w.shape[0]:
        raise InputError(f"K must be (V, 3, 3) and c2w (V, 4, 4), got {tuple(K.shape)} and {tuple(c2w.shape)}")
    if K.shape[0] == 0:
        raise InputError("need at least one camera (V >= 1)")
    return K, c2w


def camera_arrays(K: Tensor, c2w: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Validate cameras (see :func:`check_cameras`) and return them as float64 numpy ``(V, 3, 3)``, ``(V, 4, 4)``.

    The checks run in numpy on the host (:func:`~mirage_world.geometry.camera.check_intrinsics`,
    :func:`~mirage_world.geometry.camera.check_c2w`): a handful of 3x3 / 4x4 matrices, where each torch op would cost
    more in dispatch than the whole check does in numpy."""
    K, c2w = _batch_cameras(K, c2w)
    Kn = K.detach().to("cpu", torch.float64).numpy()
    Cn = c2w.detach().to("cpu", torch.float64).numpy()
    check_intrinsics(Kn, "K")
    check_c2w(Cn, "c2w")
    return Kn, Cn


def check_cameras(K: Tensor, c2w: Tensor) -> tuple[Tensor, Tensor]:
    """Validate and batch cameras.

    Args:
        K: ``(V, 3, 3)`` or ``(3, 3)`` intrinsics in pixels; ``fx, fy`` finite and ``> 0``, last row ``[0, 0, 1]``.
        c2w: ``(V, 4, 4)`` or ``(4, 4)`` rigid camera-to-world poses.

    Returns:
        ``K (V, 3, 3)`` and ``c2w (V, 4, 4)``.

    Raises:
        InputError (a ``ValueError``): bad shapes or dtypes, and the geometry checks: non-finite values,
            zero/negative focal lengths, a ``K`` whose last row is not ``[0, 0, 1]``, a ``c2w`` whose rotation is not
            orthonormal (singular or scaled) or a reflection, or whose last row is not ``[0, 0, 0, 1]``.
    """
    camera_arrays(K, c2w)
    return _batch_cameras(K, c2w)


def _view_offsets(V: int, hw: tuple[int, int], dtype, device) -> Tensor:
    """``(V, 1)`` offset of each view's first pixel in the flat ``V * h * w`` buffer."""
    return (torch.arange(V, device=device, dtype=torch.float64) * (hw[0] * hw[1])).to(dtype)[:, None]


# ---------------------------------------------------------------------------------------------------- nearest
def border_matrices(P):
    """Bordered-grid matrices of a read: ``P`` with rows 0 and 1 plus row 2 (the principal point moved by
    ``(+1, +1)``, so ``X' / Z = u + 1``). ``P`` ``(V, 3, 4)`` numpy array or tensor; returns a new one."""
    P_pad = P.copy() if isinstance(P, np.ndarray) else P.clone()
    P_pad[:, :2] += P[:, 2:3]
    return P_pad


def read_matrices(K: Tensor, c2w: Tensor, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Projection matrices of a read: ``P`` for the grid and ``P_pad`` for the grid with a one-pixel border.

    ``P = K [R^T | -R^T t]`` (:func:`~mirage_world.geometry.camera.projection_matrices`) maps a world point to
    homogeneous pixels (``u = X / Z``, pixel centres at +0.5, ``Z`` the z-depth). ``P_pad`` is
    :func:`border_matrices` of ``P``: the nearest read clamps ``floor(u) + 1`` to ``[0, w + 1]`` and lets every
    off-grid token fall into the border cells, which are cropped (no validity masks to build). Both are computed in
    float64 (on the host: a few 3x4 matrices) and cast, so every caller gets bit-identical matrices.

    Args:
        K: ``(V, 3, 3)`` intrinsics of the ``(h, w)`` grid in pixels; c2w: ``(V, 4, 4)``.

    Returns:
        ``P, P_pad``, each ``(V, 3, 4)`` in ``dtype`` on ``c2w``'s device.
    """
    Kn = K.detach().to("cpu", torch.float64).numpy()
    Cn = c2w.detach().to("cpu", torch.float64).numpy()
    P = projection_matrices(Kn.reshape(-1, 3, 3), Cn.reshape(-1, 4, 4))
    return tuple(torch.from_numpy(m).to(device=c2w.device, dtype=dtype) for m in (P, border_matrices(P)))


def zbuffer_core(
    xyz: Tensor,  # (3, n) shared or (3, V, n) per view; float32 world points, NaN = padding
    low: Tensor,  # (n,) or (V, n) int32, N - 1 - token index
    P_pad: Tensor,  # (V, 3, 4) float32, padded-grid matrices from read_matrices
    hw: tuple[int, int],
    near: float,
    all_front: bool = False,
) -> tuple[Tensor, Tensor]:
    """One-scatter z-buffer of float32 points: the packed-key ``scatter_reduce(amin)`` on the bordered grid.

    Args:
        xyz: ``(3, n)`` float32 points in metres shared by all views, or ``(3, V, n)`` per view (NaN columns are
            padding and never land).
        low: ``(n,)`` or ``(V, n)`` int32 tie-break key ``N - 1 - token`` in ``[0, 2**31)`` (smaller wins, so the
            largest token index wins ties).
        P_pad: ``(V, 3, 4)`` float32 bordered-grid projection matrices (:func:`read_matrices`).
        hw: grid ``(h, w)``; near: min z-depth in metres.
        all_front: the caller guarantees that every point is finite with ``Z > near`` in its view (the frustum test
            of :class:`~mirage_world.memory.index.ChunkIndex` proves it for whole chunks), so the near-plane
            test is skipped.

    Returns:
        ``low_win (V * h * w,)`` the winning ``low`` key (-1 where nothing landed) and ``zbuf (V * h * w,)`` float32
        (``inf`` where nothing landed).
    """
    h, w = hw
    V = P_pad.shape[0]
    hp, wp = h + 2, w + 2
    Pn = V * hp * wp
    X, Y, Z = project_with_matrices(xyz, P_pad)  # (V, n) views of one fresh tensor; X / Z = u + 1, Y / Z = v + 1
    # bordered-grid cell (in place): column floor(u) + 1 clamped to [0, w + 1], the border cells collect every
    # projection off the grid and are cropped below; likewise rows
    a = X.div_(Z).clamp_(0, w + 1).floor_()
    b = Y.div_(Z).clamp_(0, h + 1).floor_()
    if Pn < 2**24:  # flat cell index exact in float32
        pix = b.mul_(wp).add_(a).add_(_view_offsets(V, (hp, wp), torch.float32, xyz.device))
    else:
        pix = b.double() * wp + a.double() + _view_offsets(V, (hp, wp), torch.float64, xyz.device)
    if not all_front:  # behind the near plane or NaN padding -> the dump slot Pn
        pix = torch.where(Z > near, pix, torch.full((), Pn, dtype=pix.dtype, device=pix.device))
    flat = pix.to(torch.int64)
    key = _pack_keys(Z, low)  # (V, n) int64: (bits of z) << 32 | low
    buf = torch.full((Pn + 1,), _BIG, dtype=torch.int64, device=xyz.device)
    buf.scatter_reduce_(0, flat.reshape(-1), key.reshape(-1), reduce="amin")
    # crop the border (contiguous: for a 1x1 grid and V > 1 the crop is a strided view, which .view(int32) refuses)
    buf = buf[:Pn].view(V, hp, wp)[:, 1:-1, 1:-1].reshape(-1).contiguous()
    covered = buf != _BIG
    if sys.byteorder == "little":
        pair = buf.view(torch.int32).view(-1, 2)  # (low word, high word) = (low key, bits of z)
        low_w, z_bits = pair[:, 0].to(torch.int64), pair[:, 1]
    else:
        low_w, z_bits = buf & 0xFFFFFFFF, (buf >> 32).to(torch.int32)
    low_win = torch.where(covered, low_w, -1)
    zbuf = torch.where(covered, z_bits.view(torch.float32), math.inf)
    return low_win, zbuf


def _pack_keys(Z: Tensor, low: Tensor) -> Tensor:
    """int64 keys ``(float32 bits of Z) << 32 | low`` (``low`` int32 in ``[0, 2**31)``), by interleaving the two
    32-bit words (one copy) on little-endian hosts; shift-or elsewhere."""
    if sys.byteorder == "little":
        lo = low.expand(Z.shape) if low.shape != Z.shape else low
        return torch.stack([lo, Z.view(torch.int32)], dim=-1).view(torch.int64).squeeze(-1)
    return (Z.view(torch.int32).to(torch.int64) << 32) | low.to(torch.int64)


def zbuffer_winners(points: Tensor, K: Tensor, c2w: Tensor, hw: tuple[int, int], near: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Index of the nearest token per pixel (the core of the ``"nearest"`` read), no spatial culling.

    float32 points take the one-scatter path (:func:`zbuffer_core`); other dtypes the two-scatter rule
    (:func:`_zbuffer_winners_two_pass`); both are tested bit-equal to each other and to the loop reference.

    Args:
        points: ``(N, 3)`` world positions in metres.
        K: ``(V, 3, 3)`` intrinsics in pixels; c2w: ``(V, 4, 4)``; hw: ``(h, w)``; near: min z in metres.

    Returns:
        ``winner (V, h, w)`` int64 token index, ``-1`` where no token landed, and ``zbuf (V, h, w)`` the winning
        z-depth (``inf`` where none).
    """
    h, w = hw
    V = K.shape[0]
    N = points.shape[0]
    if points.dtype != torch.float32 or N >= 2**31 or near < 0:
        return _zbuffer_winners_two_pass(points, K, c2w, hw, near)
    if N == 0:
        return (torch.full((V, h, w), -1, dtype=torch.int64, device=points.device),
                torch.full((V, h, w), math.inf, dtype=points.dtype, device=points.device))
    low = N - 1 - torch.arange(N, device=points.device, dtype=torch.int32)
    low_win, zbuf = zbuffer_core(points.T.contiguous(), low, read_matrices(K, c2w)[1], hw, near)
    winner = torch.where(low_win >= 0, N - 1 - low_win, -1)
    return winner.reshape(V, h, w), zbuf.reshape(V, h, w)


def _zbuffer_winners_two_pass(points: Tensor, K: Tensor, c2w: Tensor, hw: tuple[int, int], near: float = 1e-3):
    """Two-scatter version of :func:`zbuffer_winners` (any float dtype): ``amin`` on z, then ``amax`` on the token
    index among the projections at the minimum."""
    h, w = hw
    V = K.shape[0]
    N = points.shape[0]
    dev = points.device
    zbuf = torch.full((V * h * w,), math.inf, dtype=points.dtype, device=dev)
    winner = torch.full((V * h * w,), -1, dtype=torch.int64, device=dev)
    if N == 0:
        return winner.reshape(V, h, w), zbuf.reshape(V, h, w)
    X, Y, Z = project_with_matrices(points.T.contiguous(), read_matrices(K, c2w, points.dtype)[1])
    a = (X / Z).clamp_(0, w + 1).floor_()  # same bordered-grid cells as zbuffer_core
    b = (Y / Z).clamp_(0, h + 1).floor_()
    valid = (Z > near) & (a >= 1) & (a <= w) & (b >= 1) & (b <= h)
    pix = (b.double() - 1) * w + (a.double() - 1) + _view_offsets(V, hw, torch.float64, dev)
    flat = pix[valid].to(torch.int64)  # (M,)
    zv = Z[valid]  # (M,)
    tok = valid.nonzero()[:, 1]  # (M,) token index of each valid projection (row-major, same order as flat)
    zbuf.scatter_reduce_(0, flat, zv, reduce="amin")
    is_min = zv == zbuf[flat]
    winner.scatter_reduce_(0, flat[is_min], tok[is_min], reduce="amax")
    return winner.reshape(V, h, w), zbuf.reshape(V, h, w)


def gather_read(table: Tensor, winner: Tensor, zbuf: Tensor, out_dtype=None, scale: Tensor | None = None) -> MemoryRead:
    """Build a :class:`MemoryRead` from per-pixel winners: one gather of the winning rows.

    Args:
        table: ``(N, C)`` stored token values (any dtype; int8 with ``scale``).
        winner: ``(V, h, w)`` int64 row of ``table`` per pixel, -1 where none; zbuf: ``(V, h, w)`` depth.
        out_dtype: latent and mask dtype (default ``table.dtype``); scale: ``(C,)`` int8 dequantisation scales.

    Returns:
        :class:`MemoryRead`, latent ``(V, C, h, w)`` in channels-last memory format.
    """
    V, h, w = winner.shape
    C = table.shape[1]
    out_dtype = table.dtype if out_dtype is None else out_dtype
    win = winner.reshape(-1)
    covered = win >= 0
    if table.shape[0] == 0:
        rows = torch.zeros(win.shape[0], C, dtype=out_dtype, device=table.device)
    else:
        rows = table.index_select(0, win.clamp_min(0)).to(out_dtype)  # (V h w, C)
        if scale is not None:
            rows = rows * scale.to(out_dtype)
        rows.index_fill_(0, (~covered).nonzero().squeeze(1), 0)  # (much faster than a broadcast masked_fill_)
    depth = torch.where(covered, zbuf.reshape(-1), torch.zeros((), dtype=zbuf.dtype, device=zbuf.device))
    mask = covered.to(out_dtype).reshape(V, 1, h, w)
    return MemoryRead(rows.view(V, h, w, C).permute(0, 3, 1, 2), mask, depth.reshape(V, h, w))


def zbuffer_read(
    points: Tensor,  # (N, 3)
    values: Tensor,  # (N, C)
    K: Tensor,  # (V, 3, 3)
    c2w: Tensor,  # (V, 4, 4)
    hw: tuple[int, int],
    near: float = 1e-3,
) -> MemoryRead:
    """Z-buffered nearest-token splat of ``N`` valued points into ``V`` cameras (fast, vectorised path).

    Each point goes to the pixel that contains its projection; per pixel the smallest z wins; equal z is broken
    by the larger point index. See :func:`zbuffer_read_reference` for the slow loop it must match bit for bit.

    Args:
        points: ``(N, 3)`` world positions in metres.
        values: ``(N, C)`` token values.
        K: ``(V, 3, 3)`` intrinsics of the ``(h, w)`` grid, in pixels.
        c2w: ``(V, 4, 4)`` camera-to-world poses.
        hw: ``(h, w)`` output grid.
        near: minimum z-depth in metres for a point to count as in front of the camera.

    Returns:
        :class:`MemoryRead` with ``latent (V, C, h, w)``, ``mask (V, 1, h, w)``, ``depth (V, h, w)`` (latent and mask
        in ``values.dtype``, depth in ``points.dtype``).
    """
    winner, zbuf = zbuffer_winners(points, K, c2w, hw, near)
    return gather_read(values, winner, zbuf)


def zbuffer_read_reference(
    points: Tensor, values: Tensor, K: Tensor, c2w: Tensor, hw: tuple[int, int], near: float = 1e-3
) -> MemoryRead:
    """Slow, obviously correct reference of :func:`zbuffer_read`: Python loops over views and points.

    It projects with the same bordered-grid matrices (:func:`read_matrices`) and
    :func:`~mirage_world.geometry.camera.project_with_matrices` (itself tested against
    :func:`~mirage_world.geometry.camera.project_points` in float64), one camera at a time, so the comparison
    checks the pixel assignment and the z-buffer rule bit for bit.
    """
    h, w = hw
    V = K.shape[0]
    N, C = values.shape
    lat = torch.zeros(V, C, h, w, dtype=values.dtype)
    mask = torch.zeros(V, 1, h, w, dtype=values.dtype)
    depth = torch.zeros(V, h, w, dtype=points.dtype)
    P_pad = read_matrices(K, c2w, points.dtype)[1]
    for v in range(V):
        X, Y, Z = project_with_matrices(points.T.contiguous(), P_pad[v : v + 1])
        u_all, v_all = (X / Z)[0].tolist(), (Y / Z)[0].tolist()  # u + 1, v + 1
        z_all = Z[0].tolist()
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for n in range(N):
            zn, u, vv = z_all[n], u_all[n], v_all[n]
            if not (zn > near) or not (math.isfinite(u) and math.isfinite(vv)):
                continue
            x, y = math.floor(u) - 1, math.floor(vv) - 1
            if not (0 <= x < w and 0 <= y < h):
                continue
            cur = best.get((y, x))
            if cur is None or zn < cur[0] or (zn == cur[0] and n > cur[1]):
                best[(y, x)] = (zn, n)
        for (y, x), (zn, n) in best.items():
            lat[v, :, y, x] = values[n]
            mask[v, 0, y, x] = 1
            depth[v, y, x] = zn
    return MemoryRead(lat, mask, depth)


# ---------------------------------------------------------------------------------------------------- bilinear
def deterministic_scatter_sum(src: Tensor, index: Tensor, n: int) -> Tensor:
    """Order-independent ``out[index[i]] += src[i]``: 64-bit fixed-point accumulation.

    Floating-point scatter-add depends on the order in which atomics execute on parallel devices. Here each
    column is scaled by a power of two ``2**e`` (``e <= 40``, chosen so the column's total absolute sum stays
    below ``2**60``), rounded to int64 and summed as integers, which is associative: the result is bit-identical
    whatever the order. Absolute error per term ``<= 2**-(e+1)`` (``~5e-13`` for sums below ``2**20``).

    Args:
        src: ``(M,)`` or ``(M, C)`` floating values.
        index: ``(M,)`` int64 destinations in ``[0, n)``.
        n: number of destinations.

    Returns:
        ``(n,)`` or ``(n, C)`` float64 sums.
    """
    s = src.double()
    squeeze = s.dim() == 1
    if squeeze:
        s = s[:, None]
    total = s.abs().sum(0).clamp_min(2.0**-20)  # (C,)
    e = (60 - torch.ceil(torch.log2(total))).clamp(max=40)
    scale = torch.exp2(e)
    q = torch.round(s * scale).to(torch.int64)
    out = torch.zeros(n, s.shape[1], dtype=torch.int64, device=s.device).index_add_(0, index, q)
    res = out.double() / scale
    return res[:, 0] if squeeze else res


def _deterministic_weighted_gather_sum(weight: Tensor, rows: Tensor, table: Tensor, index: Tensor, n: int,
                                       chunk: int = 1 << 17) -> Tensor:
    """``out[index[i]] += weight[i] * table[rows[i]]`` in 64-bit fixed point, in chunks of ``chunk`` terms.

    Same arithmetic idea as :func:`deterministic_scatter_sum`, with the per-column exponent taken from the bound
    ``sum(|weight|) * max|table[:, c]|`` so that the ``(M, C)`` products never exist all at once. Integer sums
    are exact, so chunking does not change the result. Products are formed in the table's precision (float32 or
    float64). Returns ``(n, C)`` float64.
    """
    C = table.shape[1]
    w = weight.double()
    bound = (w.abs().sum() * table.abs().amax(0).double()).clamp_min(2.0**-20) if table.shape[0] else torch.ones(C, dtype=torch.float64, device=table.device)
    scale = torch.exp2((60 - torch.ceil(torch.log2(bound))).clamp(max=40))
    out = torch.zeros(n, C, dtype=torch.int64, device=table.device)
    ft = torch.float32 if table.dtype == torch.float32 else torch.float64
    ws = w.to(ft)
    sc = scale.to(ft)
    for a in range(0, w.shape[0], chunk):
        q = torch.round(table[rows[a : a + chunk]].to(ft) * sc * ws[a : a + chunk, None]).to(torch.int64)
        out.index_add_(0, index[a : a + chunk], q)
    return out.double() / scale


def bilinear_contributions(
    xyz: Tensor,  # (3, n) or (3, V, n) points, NaN = padding
    P: Tensor,  # (V, 3, 4) projection matrices, xyz's dtype
    hw: tuple[int, int],
    near: float,
    depth_tolerance: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Every (view, point, corner) contribution of the bilinear splat, weighted by the depth test.

    Args:
        xyz: ``(3, n)`` points shared by the views or ``(3, V, n)`` per view (NaN = padding).

    Returns:
        ``flat (M,)`` int64 pixel in the ``V * h * w`` buffer, ``col (M,)`` int64 column of ``xyz`` (per-view
        points: flat index ``view * n + column``), ``z (M,)`` float64 depth and ``wgt (M,)`` float64 weight
        ``b * exp(-(z / zmin - 1) / tol)``, 0 where ``z / zmin - 1 > 4 tol``; in (corner, view, point) order.
    """
    h, w = hw
    V, n = P.shape[0], xyz.shape[-1]
    X, Y, Z = project_with_matrices(xyz, P)  # (V, n)
    u = X.div_(Z).sub_(0.5)  # continuous coordinates in units of pixel centres
    v = Y.div_(Z).sub_(0.5)
    front = Z > near  # NaN padding fails
    bx, by = torch.floor(u), torch.floor(v)
    fx, fy = u.sub_(bx), v.sub_(by)  # in [0, 1)
    # per axis: is the corner column / row on the grid (and, for the +1 corner, is its weight > 0)
    okx = ((bx >= 0) & (bx < w), (fx > 0) & (bx >= -1) & (bx < w - 1))
    oky = (front & (by >= 0) & (by < h), front & (fy > 0) & (by >= -1) & (by < h - 1))
    wxs, wys = (1 - fx, fx), (1 - fy, fy)
    ft = torch.float32 if V * h * w < 2**24 else torch.float64  # flat pixel index exact
    base = by.to(ft) * w + bx.to(ft) + _view_offsets(V, hw, ft, xyz.device)  # (V, n) pixel of the (0, 0) corner
    flats, bs = [], []
    for dy in (0, 1):
        for dx in (0, 1):
            flats.append(torch.where(okx[dx] & oky[dy], base + (dy * w + dx), -1.0))
            bs.append(wxs[dx] * wys[dy])
    flat = torch.stack(flats).view(-1)  # (4 V n,)
    nz = (flat >= 0).nonzero().squeeze(1)
    flat = flat.index_select(0, nz).to(torch.int64)
    b = torch.stack(bs).view(-1).index_select(0, nz).double()
    vn = nz % (V * n)
    z = Z.reshape(-1).index_select(0, vn).double()
    col = vn if xyz.dim() == 3 else vn % n
    zmin = torch.full((V * h * w,), math.inf, dtype=torch.float64, device=xyz.device)
    zmin.scatter_reduce_(0, flat, z, reduce="amin")
    r = z / zmin.index_select(0, flat) - 1.0
    # contributions behind the front surface get weight 0 (adding exact zeros changes no sum)
    wgt = torch.where(r <= 4 * depth_tolerance, b * torch.exp(r.mul_(-1.0 / depth_tolerance)), 0.0)
    return flat, col, z, wgt


def bilinear_sums(flat: Tensor, col: Tensor, z: Tensor, wgt: Tensor, table: Tensor, n_pix: int,
                  fixed_point: bool | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Normalised sums of the bilinear splat.

    Args:
        flat, col, z, wgt: contributions from :func:`bilinear_contributions`.
        table: ``(n, C)`` float values, row ``col`` per contribution.
        n_pix: number of pixels ``V * h * w``.
        fixed_point: use the 64-bit fixed-point sums (default: on non-CPU devices, where scatter-adds use atomics).

    Returns:
        ``latent (n_pix, C)`` in ``table.dtype`` (0 where uncovered), ``wsum (n_pix,)`` float64 and
        ``depth (n_pix,)`` float64 (0 where uncovered).
    """
    dev = table.device
    if fixed_point is None:
        fixed_point = dev.type != "cpu"
    if fixed_point:
        wsum = deterministic_scatter_sum(wgt, flat, n_pix)
        dsum = deterministic_scatter_sum(wgt * z, flat, n_pix)
        vsum = _deterministic_weighted_gather_sum(wgt, col, table, flat, n_pix)
        den = torch.where(wsum > 0, wsum, torch.ones_like(wsum))
        return (vsum / den[:, None]).to(table.dtype), wsum, torch.where(wsum > 0, dsum / den, 0.0)
    # CPU: 1-D index_add_ adds in index order; the CSR product sums each row in its (stably sorted) order
    wsum = torch.zeros(n_pix, dtype=torch.float64, device=dev).index_add_(0, flat, wgt)
    dsum = torch.zeros(n_pix, dtype=torch.float64, device=dev).index_add_(0, flat, wgt * z)
    order = torch.argsort(flat, stable=True)
    crow = torch.zeros(n_pix + 1, dtype=torch.int64, device=dev)
    crow[1:] = torch.cumsum(torch.bincount(flat, minlength=n_pix), 0)
    vals = (wgt / wsum[flat])[order].to(table.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        A = torch.sparse_csr_tensor(crow, col[order], vals, size=(n_pix, table.shape[0]), check_invariants=False)
        lat = A @ table  # (n_pix, C)
    den = torch.where(wsum > 0, wsum, torch.ones_like(wsum))
    return lat, wsum, torch.where(wsum > 0, dsum / den, 0.0)


def splat_read(
    points: Tensor,
    values: Tensor,
    K: Tensor,
    c2w: Tensor,
    hw: tuple[int, int],
    near: float = 1e-3,
    depth_tolerance: float = 0.05,
    fixed_point: bool | None = None,
) -> MemoryRead:
    """Bilinear soft splatting of ``N`` valued points into ``V`` cameras (fast, vectorised path).

    See the module docstring for the weights. Loop reference: :func:`splat_read_reference`.

    Args:
        points: ``(N, 3)`` world positions in metres.
        values: ``(N, C)`` float token values.
        K: ``(V, 3, 3)`` intrinsics in pixels of the ``(h, w)`` grid; c2w: ``(V, 4, 4)``.
        hw: ``(h, w)`` output grid.
        near: minimum z in metres.
        depth_tolerance: relative depth band ``tol`` of the depth-aware weight (0.05 = 5 % of the front depth).
        fixed_point: force (True) or forbid (False) the fixed-point sums; default: only off the CPU.

    Returns:
        :class:`MemoryRead` in ``values.dtype`` (depth in ``points.dtype``); mask is the soft coverage.

    Raises:
        ValueError: if ``depth_tolerance <= 0``.
    """
    if not depth_tolerance > 0:
        raise ValueError(f"depth_tolerance must be > 0, got {depth_tolerance}")
    P = read_matrices(K, c2w, points.dtype)[0]
    return splat_core(points.T.contiguous(), None, values, P, hw, near, depth_tolerance, values.dtype, points.dtype,
                      fixed_point=fixed_point)


def splat_core(xyz: Tensor, rows: Tensor | None, table: Tensor, P: Tensor, hw: tuple[int, int], near: float,
               depth_tolerance: float, out_dtype, depth_dtype, scale: Tensor | None = None,
               fixed_point: bool | None = None) -> MemoryRead:
    """Bilinear read of the columns of ``xyz`` (``(3, n)``, NaN columns are padding) whose values are
    ``table[rows]`` (``rows=None``: ``table`` itself, one row per column), dequantised with ``scale`` for int8."""
    h, w = hw
    V = P.shape[0]
    n_pix = V * h * w
    C = table.shape[1]
    flat, col, z, wgt = bilinear_contributions(xyz, P, hw, near, depth_tolerance)
    ft = torch.float64 if table.dtype == torch.float64 else torch.float32
    tab = (table if rows is None else table.index_select(0, rows)).to(ft)  # (n, C), one row per column of xyz
    if scale is not None:
        tab = tab * scale.to(ft)
    lat, wsum, depth = bilinear_sums(flat, col, z, wgt, tab, n_pix, fixed_point)
    lat = lat.to(out_dtype).reshape(V, h, w, C).permute(0, 3, 1, 2).contiguous()
    mask = wsum.clamp(0, 1).to(out_dtype).reshape(V, 1, h, w)
    return MemoryRead(lat, mask, depth.to(depth_dtype).reshape(V, h, w))


def splat_read_reference(
    points: Tensor, values: Tensor, K: Tensor, c2w: Tensor, hw: tuple[int, int], near: float = 1e-3,
    depth_tolerance: float = 0.05,
) -> MemoryRead:
    """Slow, obviously correct reference of :func:`splat_read`: Python loops over views, points and corners, float64
    sums (projection by the same :func:`~mirage_world.geometry.camera.project_with_matrices`)."""
    h, w = hw
    V = K.shape[0]
    N, C = values.shape
    lat = torch.zeros(V, C, h, w, dtype=torch.float64)
    mask = torch.zeros(V, 1, h, w, dtype=torch.float64)
    depth = torch.zeros(V, h, w, dtype=torch.float64)
    P = read_matrices(K, c2w, points.dtype)[0]
    for v in range(V):
        X, Y, Z = project_with_matrices(points.T.contiguous(), P[v : v + 1])
        u_all, v_all, z_all = (X / Z)[0].tolist(), (Y / Z)[0].tolist(), Z[0].tolist()
        contrib: list[tuple[int, int, int, float, float]] = []  # (y, x, n, z, bilinear weight)
        for n in range(N):
            zn, u, vv = z_all[n], u_all[n] - 0.5, v_all[n] - 0.5
            if not (zn > near) or not (math.isfinite(u) and math.isfinite(vv)):
                continue
            x0, y0 = math.floor(u), math.floor(vv)
            fx, fy = u - x0, vv - y0
            for x, y, b in ((x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                            (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)):
                if b > 0 and 0 <= x < w and 0 <= y < h:
                    contrib.append((y, x, n, zn, b))
        zmin: dict[tuple[int, int], float] = {}
        for y, x, n, zn, b in contrib:
            zmin[(y, x)] = min(zmin.get((y, x), math.inf), zn)
        acc: dict[tuple[int, int], list] = {}
        for y, x, n, zn, b in contrib:
            r = zn / zmin[(y, x)] - 1
            if r > 4 * depth_tolerance:
                continue
            wt = b * math.exp(-r / depth_tolerance)
            a = acc.setdefault((y, x), [0.0, torch.zeros(C, dtype=torch.float64), 0.0])
            a[0] += wt
            a[1] += wt * values[n].double()
            a[2] += wt * zn
        for (y, x), (ws, vs, ds) in acc.items():
            if ws > 0:
                lat[v, :, y, x] = vs / ws
                depth[v, y, x] = ds / ws
                mask[v, 0, y, x] = min(1.0, ws)
    return MemoryRead(lat.to(values.dtype), mask.to(values.dtype), depth.to(points.dtype))
