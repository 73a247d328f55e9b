"""Path safety shared by every layer: safe names for ids, and output paths proven inside a root.

A sensor or camera id becomes a folder name (``images/<camera id>/``), so ids are checked where
they are created (``check_name``): non-empty, at most ``MAX_NAME_BYTES`` UTF-8 bytes, no ``/`` or
``\\``, not ``.`` or ``..``, no control character (NUL included). Every writer that builds a
path from data joins it with ``contained(root, rel)``, which refuses a path that would leave
``root`` (``..``, an absolute path, a symlinked folder pointing out) before anything is created.
Imports only ``sfs_kit.errors`` and ``sfs_kit._excerpt``.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError, OutputError

__all__ = ["MAX_NAME_BYTES", "check_name", "contained", "name_problem"]

MAX_NAME_BYTES = 128
"""Longest id (UTF-8 bytes) used as a file or folder name; file systems allow 255."""


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be used as one path component, or ``None`` when it can."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "is empty"
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        return f"is {size} bytes long (at most {MAX_NAME_BYTES})"
    if value in (".", ".."):
        return f"is {value!r}, a relative folder reference"
    for char in value:
        if char in "/\\":
            return f"contains {char!r} (a path separator)"
        if unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            return f"contains the control character U+{ord(char):04X}"
    if value != value.strip():
        return "starts or ends with white space"
    return None


def check_name(
    value: object,
    *,
    what: str = "sensor id",
    source: str | None = None,
    field: str | None = None,
) -> str:
    """``value`` if it is a safe id (see the module docstring), else ``InputError`` naming it."""
    problem = name_problem(value)
    if problem is not None:
        message = (
            f"the {what} {excerpt(value)} {problem}; ids become folder names, so they must be "
            f"1-{MAX_NAME_BYTES} bytes without '/', '\\', control characters, '.' or '..'."
        )
        raise InputError(
            f"{field}: {message}" if field else message[0].upper() + message[1:],
            source=source,
            field=field,
        )
    assert isinstance(value, str)
    return value


def contained(root: str | os.PathLike[str], rel: str | os.PathLike[str]) -> Path:
    """``root / rel``, proven to stay inside ``root``; ``OutputError`` before anything is made.

    ``rel`` is split on ``/`` (and ``\\``): an absolute path, a drive, a ``..`` component, a NUL
    or an empty result is refused, and so is a path whose existing part resolves (through
    symlinks) outside ``root``.
    """
    base = Path(os.fspath(root))
    text = os.fspath(rel).replace("\\", "/")
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    problem = None
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        problem = "is absolute"
    elif not parts:
        problem = "is empty"
    elif ".." in parts:
        problem = "has a '..' component"
    elif "\x00" in text:
        problem = "contains NUL"
    if problem is None:
        target = base.joinpath(*parts)
        try:
            inside = target.resolve().is_relative_to(base.resolve())
        except (OSError, RuntimeError, ValueError):
            inside = False
        if inside:
            return target
        problem = "resolves outside it (a symlink?)"
    raise OutputError(
        f"Refusing to write {excerpt(os.fspath(rel))} under {str(base)!r}: the path {problem}.",
        path=str(base),
    )
