"""The package's shape: the public names, the one-way import direction, and lazy heavy imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sfs_kit

PACKAGE = Path(sfs_kit.__file__).parent

# What each layer may import from sfs_kit (house style, section 4). `_version` and `errors` are
# importable by everyone.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "models": set(),
    "codecs": {"models"},
    "readers": {"models", "codecs"},
    "capture": {"readers", "models", "codecs"},
    "storage": set(),
    "submit": set(),
    "pipeline": {"capture", "readers", "models", "codecs", "storage", "submit"},
    "preview": {"capture", "readers", "models", "codecs"},
    "batch": {"pipeline", "capture", "readers", "models", "codecs", "storage", "submit"},
    "cli": {"batch", "pipeline", "preview", "capture", "readers", "models", "codecs", "storage",
            "submit"},
}
EVERYONE = {"errors", "_version", "_redact", "_atomic", "_paths", "_excerpt", "_documents",
            "_lazy"}


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _sfs_kit_imports(path: Path) -> set[str]:
    """The first-level sfs_kit modules that ``path`` imports (absolute or relative)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.relative_to(PACKAGE).parts[: -node.level]
                names = [".".join(("sfs_kit", *base, *(node.module or "").split(".")))]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "sfs_kit" and len(parts) > 1 and parts[1]:
                found.add(parts[1])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path: Path) -> None:
    layer = _layer(path)
    allowed = ALLOWED[layer] | EVERYONE | {layer}
    forbidden = _sfs_kit_imports(path) - allowed
    assert not forbidden, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(forbidden)}"


def test_every_layer_is_known() -> None:
    layers = {_layer(p) for p in PACKAGE.rglob("*.py")}
    assert layers - set(ALLOWED) == {
        "__init__", "__main__", "_version", "_redact", "_atomic", "_paths", "_excerpt",
        "_documents", "_lazy",
    }


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("sfs_kit", ["boto3", "botocore", "urllib3", "pydantic", "numpy"]),
        ("sfs_kit.codecs", ["boto3", "botocore", "urllib3"]),
        ("sfs_kit.models", ["boto3", "botocore", "urllib3"]),
        ("sfs_kit.readers", ["boto3", "botocore", "urllib3"]),
        ("sfs_kit.submit", ["boto3", "botocore", "numpy"]),
        ("sfs_kit.batch", ["ray"]),
        ("sfs_kit.storage", ["numpy", "pydantic"]),
    ],
)
def test_heavy_dependencies_stay_out(module: str, absent: list[str]) -> None:
    code = (
        f"import sys, {module}\n"
        f"loaded = [m for m in {absent!r} if m in sys.modules]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"import {module} loaded {out}"


def test_library_code_never_prints() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if _layer(path) == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
