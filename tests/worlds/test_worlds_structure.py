"""Module structure of mirage_world.worlds (issue 9): the imports between its modules form the layered order of
``design.md`` (no module imports one listed after it, not even inside a function), no private name crosses a module
boundary, and no module grows past 700 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import mirage_world.worlds as worlds

PKG = Path(worlds.__file__).resolve().parent
PREFIX = "mirage_world.worlds"
#: Each module may import only modules listed before it (design.md, "Modules and imports").
ORDER = (
    "scene",
    "textures",
    "camera_paths",
    "raycast",
    "shading",
    "rooms",
    "photos",
    "layouts",
    "dynamic",
    "render",
    "paths",
    "dataset",
    "cli",
)


def _worlds_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """``(module, imported names, line)`` of every import of a ``mirage_world.worlds`` module in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith(PREFIX):
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path.name}:{node.lineno}: use absolute imports")
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith(PREFIX)]
    return out


def test_every_module_is_in_the_order():
    mods = {p.stem for p in PKG.glob("*.py")} - {"__init__"}
    assert mods == set(ORDER)


def test_imports_only_go_down_the_order():
    for i, name in enumerate(ORDER):
        for mod, names, line in _worlds_imports(PKG / f"{name}.py"):
            if mod == PREFIX:  # "from mirage_world.worlds import x": a sub-module or a re-export of __init__
                targets = names
            else:
                targets = [mod.removeprefix(PREFIX + ".")]
            for t in targets:
                assert t in ORDER[:i], f"{name}.py:{line} imports {t} (allowed: {ORDER[:i]})"


def test_no_private_names_cross_modules():
    for name in ORDER:
        for mod, names, line in _worlds_imports(PKG / f"{name}.py"):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{name}.py:{line} imports private {private} from {mod}"


def test_public_names_are_documented_and_exported():
    import importlib

    for name in ORDER:
        m = importlib.import_module(f"{PREFIX}.{name}")
        assert m.__doc__, name
        for n in getattr(m, "__all__", []):
            obj = getattr(m, n)  # every listed name exists
            if callable(obj):
                assert obj.__doc__, f"{name}.{n} has no docstring"
    for n in worlds.__all__:
        assert hasattr(worlds, n), n


def test_module_sizes():
    for p in PKG.glob("*.py"):
        n = len(p.read_text().splitlines())
        assert n <= 700, f"{p.name}: {n} lines"
