"""The converter's modules, one job each, import each other one way (no cycle, no back edge)."""

from __future__ import annotations

import ast
from pathlib import Path

import sfs_kit.capture.convert as convert

PACKAGE = Path(convert.__file__).parent
# lowest first: a module may import only the modules before it
ORDER = ["result", "progress", "plan", "frame", "trees", "video", "notes", "build", "to_sfs",
         "to_frames", "check", "__init__"]


def _siblings(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prefix = "sfs_kit.capture.convert."
    return {
        node.module.removeprefix(prefix)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix)
    }


def test_every_module_is_placed_in_the_order() -> None:
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted(ORDER)


def test_modules_import_only_lower_ones() -> None:
    for i, name in enumerate(ORDER):
        higher = _siblings(PACKAGE / f"{name}.py") - set(ORDER[:i])
        assert not higher, f"convert/{name}.py imports {sorted(higher)}, which come after it"


def test_public_names_stay_importable_from_the_package() -> None:
    from sfs_kit.capture import ConvertResult, convert_capture, read_capture_scene

    assert convert.convert_capture is convert_capture
    assert convert.read_capture_scene is read_capture_scene
    assert convert.ConvertResult is ConvertResult
    assert {"ConvertOptions", "Format", "ProgressCallback"} <= set(convert.__all__)
