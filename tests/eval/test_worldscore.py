"""WorldScore export: cameras as WorldScore's camera generator writes them, and a folder its evaluator accepts."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation, Slerp

from mirage_world.errors import InputError
from mirage_world.eval.worldscore import (
    WORLDSCORE_FIRST_C2W,
    WORLDSCORE_LAYOUTS,
    center_crop_box,
    export_worldscore,
    read_worldscore_cameras,
    worldscore_image_data,
    worldscore_instance_dir,
    worldscore_K,
)
from mirage_world.geometry.trajectory import make_preset, relative_to_first

# ------------------------------------------------------------------------------------------------ WorldScore's side


def worldscore_camera_data(layout: str, n: int) -> dict:
    """``camera_data.json`` as WorldScore's ``CameraGen`` builds it (camera_generator.py at commit 344983c): PyTorch3D
    world-to-camera ``RT`` keyframes (first = identity; ``_pan_left``: ``R @ [[c, 0, -s], [0, 1, 0], [s, 0, c]]``
    with 30 deg; ``_move_left``: ``T[0] -= 0.5``), slerp / linear interpolation, stored as Blender camera-to-world
    ``inv(diag(-1, 1, -1, 1) @ RT)``."""
    RT1 = np.eye(4)
    if layout == "pan_left":
        t = np.radians(30.0)
        RT1[:3, :3] = np.array([[np.cos(t), 0, -np.sin(t)], [0, 1, 0], [np.sin(t), 0, np.cos(t)]])
    elif layout == "move_left":
        RT1[0, 3] -= 0.5
    else:
        raise ValueError(layout)
    slerp = Slerp([0, 1], Rotation.from_matrix([np.eye(3), RT1[:3, :3]]))
    cams = []
    for k in range(n):
        t = k / (n - 1)
        RT = np.eye(4)
        RT[:3, :3] = slerp([t]).as_matrix()[0]
        RT[:3, 3] = t * RT1[:3, 3]
        cams.append(np.linalg.inv(np.diag([-1.0, 1, -1, 1]) @ RT).tolist())
    return {"focal_length": 500, "scale": 1, "cameras": [cams[0], cams[-1]], "cameras_interp": cams}


def check_like_worldscore_evaluator(inst: Path) -> dict:
    """The preconditions WorldScore's evaluator (evaluator.py ``Evaluator.data_exists``, ``process_batch``,
    ``calculate_metrics``) checks before it scores a static instance; returns what it would read."""
    names = set(p.name for p in inst.iterdir())
    assert {"frames", "image_data.json", "camera_data.json", "input_image.png"} <= names
    image_data = json.loads((inst / "image_data.json").read_text())
    camera_data = json.loads((inst / "camera_data.json").read_text())
    images = sorted(str(p) for p in (inst / "frames").iterdir() if p.suffix in (".jpg", ".png"))
    total = image_data["total_frames"]
    assert len(images) >= total  # data_exists
    cams = torch.tensor(camera_data["cameras_interp"])  # [frames, 4, 4]
    assert len(cams) == total == len(images)  # "Number of frames and cameras do not match."
    assert image_data["camera_path"][0] in WORLDSCORE_LAYOUTS
    n_sc = image_data["num_scenes"]
    assert len(image_data["prompt_list"]) >= n_sc + 1 and len(image_data["content_list"]) >= n_sc + 1
    assert len(image_data["anchor_frame_idx"]) == n_sc + 1 and max(image_data["anchor_frame_idx"]) < len(images)
    assert camera_data.get("scale", 1.0) > 0
    return {"images": images, "cameras": cams.double().numpy(), "image_data": image_data,
            "focal_length": camera_data["focal_length"]}


# ------------------------------------------------------------------------------------------------ reading


def test_read_cameras_as_worldscore_writes_them(tmp_path):
    p = tmp_path / "camera_data.json"
    p.write_text(json.dumps(worldscore_camera_data("pan_left", 7)))
    c2w, K, size = read_worldscore_cameras(p)
    assert size == (512, 512) and np.allclose(K.numpy(), [[500, 0, 256], [0, 500, 256], [0, 0, 1]])
    assert np.allclose(c2w[0].numpy(), WORLDSCORE_FIRST_C2W, atol=1e-12)
    # WorldScore's pan_left is the package's pan_left preset (view turns to -x), frame by frame
    assert np.allclose(relative_to_first(c2w).numpy(), make_preset("pan_left", 7, 1.0).numpy(), atol=1e-9)
    p.write_text(json.dumps(worldscore_camera_data("move_left", 5)))
    rel = relative_to_first(read_worldscore_cameras(p)[0]).numpy()
    assert np.allclose(rel[:, :3, :3], np.eye(3), atol=1e-12)
    assert np.allclose(rel[-1, :3, 3], [-0.5, 0, 0], atol=1e-12)  # move_left: towards -x (left)
    # other frame sizes keep the horizontal field of view of 512 px at f = 500
    _, K2, _ = read_worldscore_cameras(p, (240, 256))
    assert np.allclose(K2.numpy(), [[250, 0, 128], [0, 250, 120], [0, 0, 1]])


def test_worldscore_K_and_crop_box():
    assert np.allclose(worldscore_K().numpy(), [[500, 0, 256], [0, 500, 256], [0, 0, 1]])
    with pytest.raises(InputError, match="focal_length"):
        worldscore_K(-1)
    assert center_crop_box(640, 480, 512, 512) == (80, 0, 560, 480)  # WorldScore's integer arithmetic
    assert center_crop_box(480, 640, 720, 480) == (0, 160, 480, 480)


# ------------------------------------------------------------------------------------------------ export


def _frames(n=5, h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_export_round_trip_and_evaluator_checks(tmp_path):
    frames = _frames()
    world = np.eye(4)
    world[:3, :3] = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    world[:3, 3] = [1.0, -2.0, 0.5]
    c2w = world @ make_preset("orbit_left", 5, 2.0).numpy()  # in an arbitrary world frame
    K = np.array([[60.0, 0, 32], [0, 60.0, 24], [0, 0, 1]])
    inst = tmp_path / "worldscore_output/static/photorealistic/indoor/room/000"
    info = export_worldscore(inst, frames, c2w, K, layout="orbit_left", prompt="a room", fps=8)
    seen = check_like_worldscore_evaluator(inst)
    assert [Path(p).name for p in seen["images"]] == [f"{i:03d}.png" for i in range(5)]
    for i, p in enumerate(seen["images"]):  # lossless PNG frames, RGB order
        assert np.array_equal(cv2.imread(p)[..., ::-1], frames[i])
    # cameras: WorldScore's world frame (first camera Blender diag(-1, 1, -1, 1)), same relative path
    assert np.allclose(seen["cameras"][0], np.diag([-1.0, 1, -1, 1]), atol=1e-12)
    back, _, _ = read_worldscore_cameras(inst / "camera_data.json")
    assert np.allclose(relative_to_first(back).numpy(), relative_to_first(c2w).numpy(), atol=1e-9)
    assert seen["focal_length"] == 60.0
    d = seen["image_data"]
    assert d["camera_path"] == ["orbit_left"] and d["num_scenes"] == 1 and d["total_frames"] == 5
    assert d["anchor_frame_idx"] == [0, 4] and d["prompt_list"] == ["a room", "a room"]
    assert cv2.imread(str(inst / "input_image.png")).shape == (48, 64, 3)
    assert (inst / "videos/output.mp4").stat().st_size > 0
    meta = json.loads((inst / "mirage.json").read_text())
    assert meta["K"] == K.tolist() and info["warnings"] and "WorldScore" in info["warnings"][0]
    assert not list(inst.rglob(".mirage-tmp-*"))


def test_export_of_worldscore_cameras_reproduces_the_file(tmp_path):
    """Reading WorldScore's file and exporting those cameras writes its cameras_interp back exactly."""
    src = tmp_path / "camera_data.json"
    data = worldscore_camera_data("pan_left", 6)
    src.write_text(json.dumps(data))
    c2w, K, size = read_worldscore_cameras(src)
    frames = _frames(6, 512, 512)
    info = export_worldscore(tmp_path / "inst", frames, c2w, K, layout="pan_left")
    out = json.loads((tmp_path / "inst/camera_data.json").read_text())
    assert np.allclose(out["cameras_interp"], data["cameras_interp"], atol=1e-12)
    assert out["focal_length"] == 500.0 and info["warnings"] == []  # 512 x 512 at f = 500: WorldScore's calib


def test_export_resizes_and_crops_the_input_image(tmp_path):
    frames = _frames(3, 32, 32)
    photo = np.zeros((40, 80, 3), np.uint8)
    photo[:, 20:60] = 200  # the centre square of a 2:1 photo
    info = export_worldscore(tmp_path / "i", frames, make_preset("pan_left", 3, 1.0), worldscore_K(500, (32, 32)),
                             input_image=photo, layout="pan_left", size=(64, 64))
    assert info["size"] == [64, 64] and np.allclose(info["K"], worldscore_K(500, (64, 64)).numpy())
    inp = cv2.imread(str(tmp_path / "i/input_image.png"))
    assert inp.shape == (64, 64, 3) and inp.min() == 200  # only the centre square is kept
    assert cv2.imread(str(tmp_path / "i/frames/000.png")).shape == (64, 64, 3)


def test_export_refuses_stale_frames_unless_overwrite(tmp_path):
    c2w = make_preset("push_in", 6, 1.0)
    K = worldscore_K(500, (48, 64))
    export_worldscore(tmp_path / "i", _frames(6), c2w, K, layout="push_in")
    with pytest.raises(InputError, match="already holds 6 frame files"):
        export_worldscore(tmp_path / "i", _frames(4), c2w[:4], K, layout="push_in")
    export_worldscore(tmp_path / "i", _frames(4, seed=1), c2w[:4], K, layout="push_in", overwrite=True)
    seen = check_like_worldscore_evaluator(tmp_path / "i")
    assert len(seen["images"]) == 4 and np.array_equal(cv2.imread(seen["images"][3])[..., ::-1], _frames(4, seed=1)[3])


def test_export_bad_inputs(tmp_path):
    c2w = make_preset("pan_left", 3, 1.0)
    K = worldscore_K(500, (48, 64))
    with pytest.raises(InputError, match=r"\(3, 4, 4\)"):
        export_worldscore(tmp_path / "a", _frames(3), c2w[:2], K, layout="pan_left")
    with pytest.raises(InputError, match="layout"):
        export_worldscore(tmp_path / "a", _frames(3), c2w, K)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        export_worldscore(tmp_path / "a", _frames(3) * 2.0, c2w, K, layout="pan_left")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        export_worldscore(tmp_path / "file", _frames(3), c2w, K, layout="pan_left")
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------------------------------------ image_data


def test_image_data_from_dataset_entry_and_scenes():
    entry = {"image": "static/photorealistic/indoor/dining_spaces/007.png", "visual_movement": "static",
             "visual_style": "photorealistic", "scene_type": "indoor", "camera_path": ["pan_left", "move_left"],
             "prompt_list": ["a", "b", "c"], "content_list": [["x"], ["y"], ["z"]], "style": "photo"}
    d = worldscore_image_data(49, entry)
    assert d["num_scenes"] == 2 and d["anchor_frame_idx"] == [0, 24, 48] and d["total_frames"] == 49
    assert d["prompt_list"] == ["a", "b", "c"] and d["style"] == "photo" and "num_scenes" not in entry
    assert worldscore_instance_dir("/m/worldscore_output", entry) == Path(
        "/m/worldscore_output/static/photorealistic/indoor/dining_spaces/007")
    with pytest.raises(InputError, match="num_scenes \\+ 1 = 3"):
        worldscore_image_data(49, {**entry, "prompt_list": ["a"]})
    with pytest.raises(InputError, match="unknown WorldScore camera movement"):
        worldscore_image_data(10, layout="spin")
    with pytest.raises(InputError, match="disagrees"):
        worldscore_image_data(10, entry, layout="pan_right")
    with pytest.raises(InputError, match="at least 2 frames"):
        worldscore_image_data(1, layout="pan_left")
    with pytest.raises(InputError, match="lacks"):
        worldscore_instance_dir("/m", {"image": "a/b.png"})
