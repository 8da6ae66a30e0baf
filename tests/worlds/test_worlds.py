"""Tests of the procedural worlds (issue 4): openings / sky, dynamic objects, placed camera paths, clip files,
datasets and the ``mirage world`` sub-app. Small sizes: the file runs in a few seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor
from typer.testing import CliRunner

from mirage_world.errors import InputError
from mirage_world.geometry.camera import project_points, unproject_depth
from mirage_world.geometry.trajectory import make_preset
from mirage_world.worlds import (
    GROUND_ID,
    SKY_DEPTH,
    SKY_ID,
    closed_loop_path,
    generate_scene,
    intrinsics_from_fov,
    load_texture_photos,
    load_world_clip,
    look_at_c2w,
    make_dataset,
    make_scene,
    random_scene,
    render,
    render_world,
    save_world_clip,
    world_path,
)
from mirage_world.worlds.cli import app
from mirage_world.worlds.dataset import SPLIT_SEED_OFFSETS
from mirage_world.worlds.paths import path_fits

REPO = Path(__file__).resolve().parents[2]
RE10K = REPO / ".." / "shared" / "data" / "real" / "re10k_poses"
H, W = 36, 48


def _re10k_file() -> Path:
    files = sorted(RE10K.glob("*.txt")) if RE10K.is_dir() else []
    if not files:
        pytest.skip("../shared/data/real/re10k_poses not available")
    return files[0]


# ----------------------------------------------------------------------------------------------------------------
# depth consistency


def _reprojection_errors(depth, inst, K, c2w, i: int, j: int, exclude_j) -> tuple[Tensor, Tensor]:
    """Unproject frame i, project into frame j, compare with depth j (bilinear in inverse depth, exact on planes).

    Points are kept where the z-test at the nearest pixel passes, the 2x2 neighbourhood in j shows the source
    instance, and the source is neither sky nor excluded (dynamic). Returns relative errors and source ids.
    """
    D, K, c2w = depth.double(), K.double(), c2w.double()
    h, w = D.shape[1:]
    pts = unproject_depth(D[i], K, c2w[i]).reshape(-1, 3)
    src = inst[i].reshape(-1)
    keep0 = (src != SKY_ID) & ~exclude_j[i].reshape(-1)
    pts, src = pts[keep0], src[keep0]
    uv, z = project_points(pts, K, c2w[j])
    x, y = uv[:, 0] - 0.5, uv[:, 1] - 0.5
    keep = (z > 1e-6) & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    x, y, z, src = x[keep], y[keep], z[keep], src[keep]
    keep = z <= D[j][torch.round(y).long(), torch.round(x).long()] * 1.05
    x, y, z, src = x[keep], y[keep], z[keep], src[keep]
    x0 = x.floor().long().clamp(max=w - 2)
    y0 = y.floor().long().clamp(max=h - 2)
    Ij = inst[j]
    keep = (Ij[y0, x0] == src) & (Ij[y0, x0 + 1] == src) & (Ij[y0 + 1, x0] == src) & (Ij[y0 + 1, x0 + 1] == src)
    x, y, z, src, x0, y0 = x[keep], y[keep], z[keep], src[keep], x0[keep], y0[keep]
    fx, fy = x - x0, y - y0
    inv = 1.0 / D[j]
    invz = (inv[y0, x0] * (1 - fx) * (1 - fy) + inv[y0, x0 + 1] * fx * (1 - fy)
            + inv[y0 + 1, x0] * (1 - fx) * fy + inv[y0 + 1, x0 + 1] * fx * fy)
    return (z * invz - 1).abs(), src


@pytest.mark.parametrize(
    "seed,kind,trajectory,dynamic",
    [(1, "indoor", "orbit_left", 0), (2, "courtyard", "re10k", 0), (4, "street", "random", 0),
     (5, "indoor", "move_left", 2)],
)
def test_reprojection_matches_gt_depth(seed, kind, trajectory, dynamic):
    traj = str(_re10k_file()) if trajectory == "re10k" else trajectory
    clip = render_world(seed, traj, 6, W, H, kind=kind, dynamic=dynamic, fov_deg=70.0)
    assert clip.scene.kind == kind and clip.scene.has_exterior
    rng = np.random.default_rng(seed)
    pairs = [(0, 5), (5, 0)] + [tuple(int(v) for v in rng.choice(6, 2, replace=False)) for _ in range(2)]
    for i, j in pairs:
        rel, src = _reprojection_errors(clip.depth, clip.instance, clip.K, clip.c2w, i, j, clip.dynamic_mask)
        assert rel.numel() > 0.2 * H * W, (i, j, rel.numel())
        assert float((rel < 1e-3).double().mean()) >= 0.9, (i, j)
        planes = rel[(src < 6) | (src == GROUND_ID)]  # room faces and exterior ground: exact
        assert float((planes < 1e-3).double().mean()) >= 0.995, (i, j)
        assert float(rel.median()) < 1e-5


def test_depth_sky_and_masks_consistent():
    clip = render_world(3, "pan_right", 4, W, H, kind="street", dynamic=2)
    assert clip.depth.shape == (4, H, W) and clip.depth.dtype == torch.float32
    assert torch.isfinite(clip.depth).all() and (clip.depth > 0).all()
    assert torch.equal(clip.sky_mask, clip.instance == SKY_ID)
    assert (clip.depth[clip.sky_mask] == SKY_DEPTH).all()
    assert (clip.depth[~clip.sky_mask] < SKY_DEPTH).all()
    assert clip.sky_mask.any()  # a street is open to the sky
    ids = torch.tensor(clip.meta["dynamic_ids"], dtype=clip.instance.dtype)
    assert torch.equal(clip.dynamic_mask, torch.isin(clip.instance, ids))
    assert clip.rgb.min() >= 0 and clip.rgb.max() <= 1


# ----------------------------------------------------------------------------------------------------------------
# constructed cases


def _ray_dirs(K: Tensor, h: int, w: int) -> Tensor:
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5, torch.arange(w, dtype=torch.float64) + 0.5,
                          indexing="ij")
    Kd = K.double()
    return torch.stack([(u - Kd[0, 2]) / Kd[0, 0], (v - Kd[1, 2]) / Kd[1, 1], torch.ones_like(u)], -1)


def test_window_sky_and_ground_exact():
    # window in the wall z = 4: x in [-1, 1], y in [-0.5, 0.5]; floor at y = 1.5; camera at the origin looking +z
    scene = make_scene((-3.0, -1.5, -3.0), (3.0, 1.5, 4.0), seed=1, openings=[(5, -1.0, 1.0, -0.5, 0.5)])
    h = w = 41
    K = intrinsics_from_fov(40.0, h, w)
    out = render(scene, look_at_c2w((0.0, 0.0, 0.0), 0.0), K, h, w, ss=1)
    d = _ray_dirs(K, h, w)  # world = camera frame here
    x, y = 4.0 * d[..., 0], 4.0 * d[..., 1]  # every pixel's ray leaves the room through the plane z = 4
    assert (x.abs() < 3.0).all() and (y.abs() < 1.5).all()
    in_win = (x.abs() <= 1.0) & (y.abs() <= 0.5)
    edge = ((x.abs() - 1.0).abs() < 1e-4) | ((y.abs() - 0.5).abs() < 1e-4)
    sky = in_win & (d[..., 1] <= 0)
    ground = in_win & (d[..., 1] > 0)
    inst, dep = out["instance"][0], out["depth"][0].double()
    ok = ~edge
    assert torch.equal((inst == SKY_ID)[ok], sky[ok])
    assert torch.equal((inst == GROUND_ID)[ok], ground[ok])
    assert torch.equal((inst == 5)[ok], (~in_win)[ok])
    assert (dep[sky & ok] == SKY_DEPTH).all()
    torch.testing.assert_close(dep[ground & ok], (1.5 / d[..., 1])[ground & ok], rtol=1e-5, atol=0)
    torch.testing.assert_close(dep[~in_win & ok], torch.full_like(dep, 4.0)[~in_win & ok], rtol=1e-6, atol=0)
    # a closed room with the same seed has no sky anywhere
    closed = render(make_scene((-3.0, -1.5, -3.0), (3.0, 1.5, 4.0), seed=1), look_at_c2w((0, 0, 0), 0.0), K, h, w)
    assert not (closed["instance"] == SKY_ID).any()


def test_open_ceiling_is_sky_and_quincunx_keeps_depth():
    scene = make_scene((-3.0, -4.0, -3.0), (3.0, 1.5, 3.0), seed=2, openings=[(1, -1e4, 1e4, -1e4, 1e4)])
    K = intrinsics_from_fov(50.0, 21, 21)
    up = look_at_c2w((0.0, 0.0, 0.0), 0.0, -math.pi / 2)  # looking straight up (-y)
    box = render(scene, up, K, 21, 21, ss=2)
    q = render(scene, up, K, 21, 21, aa="quincunx")
    assert (box["instance"] == SKY_ID).all() and (box["depth"] == SKY_DEPTH).all()
    assert torch.equal(box["depth"], q["depth"]) and torch.equal(box["instance"], q["instance"])
    assert (box["rgb"] - q["rgb"]).abs().mean() < 0.02


def test_dynamic_mask_and_depth_exact():
    # a sphere of radius 0.5 moving along x: centre (sin(0.3 t), 0, 2.5); camera at the origin looking +z
    motion = [0.0, 0.0, 2.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0]
    scene = make_scene((-3.0, -1.5, -3.0), (3.0, 1.5, 6.0), seed=3, dynamic=[("sphere", (0.5, 0, 0, 0), motion)])
    assert scene.n_dynamic == 1 and scene.dynamic_ids == [6]
    h = w = 33
    K = intrinsics_from_fov(60.0, h, w)
    times = torch.tensor([0.0, 2.0, 5.0])
    out = render(scene, look_at_c2w((0.0, 0.0, 0.0), 0.0).expand(3, 4, 4), K, h, w, ss=1, times=times)
    d = _ray_dirs(K, h, w)
    for f, t in enumerate(times.tolist()):
        c = torch.tensor([math.sin(0.3 * t), 0.0, 2.5], dtype=torch.float64)
        b = (d * c).sum(-1)
        a = (d * d).sum(-1)
        disc = b * b - a * ((c * c).sum() - 0.25)
        hit = disc > 1e-6
        edge = disc.abs() <= 1e-6
        dyn = out["instance"][f] == 6
        assert torch.equal(dyn[~edge], hit[~edge]), t
        tz = (b - disc.clamp_min(0).sqrt()) / a
        torch.testing.assert_close(out["depth"][f].double()[hit], tz[hit], rtol=1e-5, atol=0)
    assert not torch.equal(out["instance"][0], out["instance"][2])  # it moved
    inside = look_at_c2w((math.sin(0.0), 0.0, 2.5), 0.0)
    with pytest.raises(ValueError, match="dynamic object"):
        render(scene, inside, K, 8, 8)


# ----------------------------------------------------------------------------------------------------------------
# paths


def test_preset_placed_in_world_and_sized_by_median_depth():
    scene = generate_scene(7, "indoor")
    K = intrinsics_from_fov(60.0, H, W)
    c2w, info = world_path(scene, "move_right", 9, K, H, W, seed=7)
    assert c2w.shape == (9, 4, 4) and path_fits(scene, c2w)
    rel = torch.linalg.inv(c2w[0].double()) @ c2w.double()
    expect = make_preset("move_right", 9, info["scale"])
    torch.testing.assert_close(rel, expect, atol=1e-5, rtol=0)
    if info["shrink"] == 1.0:
        assert abs(info["scale"] - info["median_depth"]) < 1e-9


def test_re10k_path_rescaled_to_scene():
    f = _re10k_file()
    scene = generate_scene(8, "room")
    K = intrinsics_from_fov(60.0, H, W)
    c2w, info = world_path(scene, str(f), 12, K, H, W, seed=8)
    assert info["source"].startswith("re10k:") and path_fits(scene, c2w)
    dist = (c2w[:, :3, 3] - c2w[0, :3, 3]).norm(dim=-1).max()
    assert abs(float(dist) - 0.25 * info["median_depth"] * info["shrink"]) < 1e-4


@pytest.mark.parametrize("name", ["out_and_back", "orbit_360", "look_away_and_back"])
def test_closed_loops_return_exactly(name):
    scene = generate_scene(30_000_002, "indoor")
    c2w, info = closed_loop_path(scene, name, 9, seed=1)
    assert torch.equal(c2w[0], c2w[-1])
    for i, j in info["pairs"]:
        assert torch.equal(c2w[i], c2w[j])
    assert path_fits(scene, c2w)
    if name == "look_away_and_back":
        fwd0, fwd_mid = c2w[0, :3, 2], c2w[4, :3, 2]
        assert float(fwd0 @ fwd_mid) < math.cos(math.radians(95))
    out = render(scene, c2w[[0, -1]], intrinsics_from_fov(60, 16, 16), 16, 16, aa="quincunx")
    assert torch.equal(out["rgb"][0], out["rgb"][1])


# ----------------------------------------------------------------------------------------------------------------
# determinism, files


def test_same_seed_identical_bytes(tmp_path):
    paths = []
    for k in range(2):
        clip = render_world(11, "orbit_right", 4, 24, 16, kind="any", dynamic=1)
        save_world_clip(clip, tmp_path / f"c{k}", video=True)
        paths.append(tmp_path / f"c{k}")
    a, b = paths
    for name in ("geometry.npz", "meta.json", "frames/000000.png", "frames/000003.png", "video.mp4"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    g = load_world_clip(a)
    assert g["depths"].shape == (4, 16, 24) and g["depths"].dtype == np.float32
    assert g["intrinsics"].shape == (4, 3, 3) and g["poses_c2w"].shape == (4, 4, 4)
    assert g["frames"].shape == (4, 16, 24, 3) and g["frames"].dtype == np.uint8
    assert g["sky_mask"].dtype == bool and g["dynamic_mask"].shape == (4, 16, 24)
    np.testing.assert_array_equal(g["depths"], clip.depth.numpy())
    np.testing.assert_array_equal(g["poses_c2w"], clip.c2w.numpy())
    assert g["meta"]["seed"] == 11 and g["meta"]["sky_depth_m"] == SKY_DEPTH
    other = render_world(12, "orbit_right", 4, 24, 16, kind="any", dynamic=1)
    assert not torch.equal(other.rgb, clip.rgb)


def test_default_kind_room_unchanged_and_photos(tmp_path):
    from PIL import Image

    a, b = random_scene(5), generate_scene(5, "room")
    assert torch.equal(a.mat_params, b.mat_params) and torch.equal(a.box_center, b.box_center)
    for k in range(2):
        img = (np.random.default_rng(k).random((20, 30, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / f"p{k}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    photos = load_texture_photos(tmp_path, size=16)
    assert photos.shape == (2, 3, 16, 16)
    s = generate_scene(5, "indoor", photos=photos)
    assert (s.mat_type == 9).any() or s.ground_mat_type == 9
    plain = generate_scene(5, "indoor")
    assert torch.equal(s.box_center, plain.box_center)  # photos change materials only
    out = render(s, world_path(s, "pan_left", 2, intrinsics_from_fov(60, 12, 12), 12, 12, seed=5)[0],
                 intrinsics_from_fov(60, 12, 12), 12, 12, aa="quincunx")
    assert torch.isfinite(out["rgb"]).all()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="no images"):
        load_texture_photos(empty)
    with pytest.raises(InputError, match="not found"):
        load_texture_photos(tmp_path / "missing")


def test_dataset_splits_disjoint_and_readable(tmp_path):
    re10k = RE10K if RE10K.is_dir() else None
    index = make_dataset(tmp_path / "ds", 3, 2, frames=3, width=20, height=16, seed=5, re10k_dir=re10k,
                         val_frac=0.34, test_frac=0.34, closed_loop=False, video=False, png=False)
    seeds = {s: {e["scene_seed"] for e in v} for s, v in index["splits"].items()}
    assert all(len(v) == 1 for v in seeds.values())
    assert seeds["train"] == {5} and seeds["val"] == {5 + SPLIT_SEED_OFFSETS["val"]}
    assert not (seeds["train"] & seeds["val"]) and not (seeds["val"] & seeds["test"])
    saved = json.loads((tmp_path / "ds" / "index.json").read_text())
    assert saved["splits"] == index["splits"]
    for e in index["splits"]["train"]:
        g = load_world_clip(tmp_path / "ds" / e["dir"])
        assert g["depths"].shape == (3, 16, 20)
    sources = [e["trajectory"] for v in index["splits"].values() for e in v]
    assert len(sources) == 6


def test_closed_loop_split_written(tmp_path):
    from mirage_world.worlds.dataset import closed_loop_specs

    specs = closed_loop_specs()
    assert len(specs) == 12 and len({s["seed"] for s in specs}) == 4
    index = make_dataset(tmp_path, 1, 1, frames=2, width=12, height=8, val_frac=0, test_frac=0, closed_loop=True,
                         closed_loop_frames=5, png=False, video=False, kind="room")
    assert len(index["closed_loop"]) == 12
    g = load_world_clip(tmp_path / index["closed_loop"][1]["dir"])
    assert g["meta"]["closed_loop"]["pairs"] == [[0, 4]]
    np.testing.assert_array_equal(g["frames"][0], g["frames"][-1])


# ----------------------------------------------------------------------------------------------------------------
# errors and CLI


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(seed=-1), "seed"),
        (dict(n_frames=0), "frames"),
        (dict(width=0), "width"),
        (dict(kind="moon"), "kind"),
        (dict(dynamic=9), "dynamic"),
        (dict(fov_deg=200.0), "fov"),
        (dict(aa="fxaa"), "aa"),
        (dict(trajectory="spin_around"), "orbit_left"),
        (dict(trajectory="closed.json"), "neither a known path nor an existing file"),
        (dict(trajectory_scale=-1.0), "scale"),
        (dict(trajectory="orbit_360", n_frames=1), "at least 2"),
    ],
)
def test_bad_parameters_raise_input_error(kwargs, match):
    args = dict(seed=0, trajectory="random", n_frames=2, width=8, height=8)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        render_world(args.pop("seed"), args.pop("trajectory"), args.pop("n_frames"), args.pop("width"),
                     args.pop("height"), **args)


def test_bad_dataset_parameters():
    with pytest.raises(InputError, match="scenes"):
        make_dataset("/tmp/unused_ds", 0, 1)
    with pytest.raises(InputError, match="val-frac"):
        make_dataset("/tmp/unused_ds", 2, 1, val_frac=0.8, test_frac=0.5)
    with pytest.raises(InputError, match="RealEstate10K folder not found"):
        make_dataset("/tmp/unused_ds", 2, 1, re10k_dir="/nonexistent/re10k")


def test_cli_render_and_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "clip"
    r = runner.invoke(app, ["render", "--seed", "2", "--trajectory", "pan_left", "--frames", "3", "--size", "20x12",
                            "--out", str(out), "--kind", "courtyard", "--no-video", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "geometry.npz").is_file() and len(list((out / "frames").glob("*.png"))) == 3
    assert json.loads((out / "meta.json").read_text())["kind"] == "courtyard"
    bad = runner.invoke(app, ["render", "--size", "20", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "error: --size must look like" in bad.output
    bad = runner.invoke(app, ["render", "--kind", "moon", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown scene kind" in bad.output
    bad = runner.invoke(app, ["dataset", "--scenes", "0", "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "error:" in bad.output
