"""``mirage world render`` / ``dataset`` at the boundary: every option and the output folder are checked before a
scene is rendered; errors end with one ``error:`` line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mirage_world.worlds.cli import app


def _one_error_line(r, needle: str) -> str:
    assert r.exit_code == 2, f"exit {r.exit_code}\n{r.output}\n{r.exception!r}"
    assert "Traceback" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], r.stderr
    return lines[0]


@pytest.fixture
def no_render(monkeypatch):
    import mirage_world.worlds.dataset as dataset

    calls = []

    def fail(*a, **k):
        calls.append(a)
        raise AssertionError("rendered despite bad options")

    monkeypatch.setattr(dataset, "render_world", fail)
    monkeypatch.setattr(dataset, "make_dataset", fail)
    return calls


RENDER_BAD = [
    (["--frames", "0"], "--frames"),
    (["--frames", "100000"], "--frames"),
    (["--frames", "2049", "--size", "1024x1024"], "pixel-frames"),
    (["--size", "100000x100000"], "--size"),
    (["--size", "0x16"], "--size"),
    (["--threads", "0"], "--threads"),
    (["--threads", "-1"], "--threads"),
    (["--fps", "0"], "--fps"),
    (["--fps", "inf"], "--fps"),
    (["--fps", "nan"], "--fps"),
    (["--seed", "-1"], "--seed"),
    (["--fov", "1e-140"], "--fov"),  # found by benchmarks/fuzz_cli.py: K overflowed after the render
    (["--frames", "many"], "--frames"),  # click's own usage error
]


@pytest.mark.parametrize("args, needle", RENDER_BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_render_bad_options(args, needle, tmp_path, no_render):
    _one_error_line(CliRunner().invoke(app, ["render", "--out", str(tmp_path / "clip"), *args]), needle)
    assert no_render == [] and not (tmp_path / "clip").exists()


def test_render_out_is_a_file(tmp_path, no_render):
    f = tmp_path / "clip"
    f.write_text("x")
    _one_error_line(CliRunner().invoke(app, ["render", "--out", str(f)]), "not a folder")
    _one_error_line(CliRunner().invoke(app, ["render", "--out", str(f / "sub")]), "output folder")
    assert no_render == []


DATASET_BAD = [
    (["--scenes", "0"], "--scenes"),
    (["--scenes", "10", "--clips-per-scene", "0"], "--clips-per-scene"),
    (["--scenes", "100000", "--clips-per-scene", "1000"], "--clips-per-scene"),
    (["--scenes", "2", "--frames", "100000"], "--frames"),
    (["--scenes", "2", "--closed-loop-frames", "2"], "--closed-loop-frames"),
    (["--scenes", "2", "--size", "4096x4096", "--frames", "16"], "pixel-frames"),
    (["--scenes", "2", "--fps", "-1"], "--fps"),
    (["--scenes", "2", "--threads", "0"], "--threads"),
    (["--scenes", "x"], "--scenes"),
]


@pytest.mark.parametrize("args, needle", DATASET_BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_dataset_bad_options(args, needle, tmp_path, no_render):
    _one_error_line(CliRunner().invoke(app, ["dataset", "--out", str(tmp_path / "ds"), *args]), needle)
    assert no_render == [] and not (tmp_path / "ds").exists()


def test_dataset_out_is_a_file(tmp_path, no_render):
    f = tmp_path / "ds"
    f.write_text("x")
    _one_error_line(CliRunner().invoke(app, ["dataset", "--scenes", "2", "--out", str(f)]), "not a folder")
    assert no_render == []
