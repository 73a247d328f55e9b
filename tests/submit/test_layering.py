"""The submitter knows nothing of scenes: it imports only sfs_kit.errors, _version and _redact."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sfs_kit
import sfs_kit.submit

ALLOWED = {"sfs_kit.errors", "sfs_kit._version", "sfs_kit._redact"}


def test_submit_imports_only_errors_and_version() -> None:
    package = Path(sfs_kit.submit.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("sfs_kit") and not name.startswith("sfs_kit.submit"):
                    assert name in ALLOWED, f"{path.name} imports {name}"


def test_import_leaves_numpy_and_boto3_out() -> None:
    code = ("import sys, sfs_kit.submit; "
            "print(sorted(m for m in ('numpy', 'boto3', 'sfs_kit.models') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names() -> None:
    assert sfs_kit.submit.__all__ == ["DryRunRequest", "ScaleClient", "Task", "TaskRequest"]
    for name in sfs_kit.submit.__all__:
        assert name in sfs_kit.__all__
        assert getattr(sfs_kit, name) is getattr(sfs_kit.submit, name)
