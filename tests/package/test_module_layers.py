"""Split packages keep one job per module and import each other one way (no cycle, no back edge),
and their public names stay importable from the package, as from the module they replaced."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

# each package's modules, lowest first: a module may import only the modules before it
LAYERS: dict[str, list[str]] = {
    "sfs_kit.capture.convert": [
        "result",
        "progress",
        "plan",
        "frame",
        "trees",
        "video",
        "notes",
        "radar",
        "build",
        "to_sfs",
        "to_frames",
        "check",
        "__init__",
    ],
    "sfs_kit.models.validate": [
        "_base",
        "_points",
        "_cameras",
        "_annotations",
        "_scene",
        "__init__",
    ],
    "sfs_kit.codecs.frame_json": ["_records", "_encode", "_decode", "__init__"],
}


def _folder(package: str) -> Path:
    return Path(importlib.import_module(package).__file__ or "").parent


def _siblings(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prefix = package + "."
    return {
        node.module.removeprefix(prefix)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix)
    }


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_module_is_placed_in_the_order(package: str) -> None:
    assert sorted(p.stem for p in _folder(package).glob("*.py")) == sorted(LAYERS[package])


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_modules_import_only_lower_ones(package: str) -> None:
    order = LAYERS[package]
    for i, name in enumerate(order):
        higher = _siblings(_folder(package) / f"{name}.py", package) - set(order[:i])
        assert not higher, f"{package}/{name}.py imports {sorted(higher)}, which come after it"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_modules_stay_under_800_lines(package: str) -> None:
    for path in _folder(package).glob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 800, f"{path.name} has {lines} lines"


def test_converter_names_stay_importable_from_the_package() -> None:
    import sfs_kit.capture.convert as convert
    from sfs_kit.capture import ConvertResult, convert_capture, read_capture_scene

    assert convert.convert_capture is convert_capture
    assert convert.read_capture_scene is read_capture_scene
    assert convert.ConvertResult is ConvertResult
    assert {"ConvertOptions", "Format", "ProgressCallback"} <= set(convert.__all__)


def test_validation_names_stay_importable_from_the_package() -> None:
    import sfs_kit
    from sfs_kit.models.validate import QUAT_NORM_TOLERANCE, Issue, validate, validate_tree

    assert sfs_kit.validate is validate
    assert sfs_kit.Issue is Issue
    assert QUAT_NORM_TOLERANCE == 1e-3
    tree = {"version": "1.0", "sensors": []}
    assert [i.code for i in validate_tree(tree)] == ["V-S2"]


def test_frame_names_stay_importable_from_the_package() -> None:
    import sfs_kit
    import sfs_kit.codecs.frame_json as frame_json

    for name in frame_json.__all__:
        assert getattr(frame_json, name) is not None, name
    assert sfs_kit.encode_frame is frame_json.encode_frame
    assert sfs_kit.read_frame is frame_json.read_frame
    assert frame_json.decode_frame.__module__ == "sfs_kit.codecs.frame_json._decode"
