"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README should show the Python API"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert (tmp_path / "scene.safetensors").is_file() and (tmp_path / "scene.ply").is_file()


def test_readme_results_are_the_measured_ones():
    """The README's closed-loop, end-to-end and long-run tables are copied from docs/results (written by the
    commands named above them) by scripts/readme_results.py, not typed by hand."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_results", README.parent / "scripts" / "readme_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = README.read_text()
    assert mod.render(text) == text, "README.md is out of date: run python scripts/readme_results.py"
    assert "| latent |" in text and "| rgb |" in text and "| none |" in text
