"""Path safety shared by every layer: safe names for ids, and output paths proven inside a root.

A sensor or camera id becomes a folder name (``images/<camera id>/``), so ids are checked where
they are created (``check_name``): non-empty, at most ``MAX_NAME_BYTES`` UTF-8 bytes, no ``/`` or
``\\``, not ``.`` or ``..``, no control character (NUL included). Every writer that builds a
path from data joins it with ``contained(root, rel)``, which refuses a path that would leave
``root`` (``..``, an absolute path, a symlinked folder pointing out) before anything is created.
Every reader opens its input through ``open_input`` / ``read_input``: only regular files are
inputs (a FIFO would block forever, ``/dev/zero`` never ends, ``/proc/self/environ`` holds
secrets), and every OS failure becomes an ``InputError`` naming the file. Imports only
``sfs_kit.errors`` and ``sfs_kit._excerpt``.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError, OutputError

__all__ = [
    "MAX_NAME_BYTES",
    "SPECIAL_ROOTS",
    "check_name",
    "contained",
    "is_inside",
    "name_problem",
    "open_input",
    "read_input",
    "read_input_text",
]

SPECIAL_ROOTS = ("/proc", "/sys", "/dev")
"""Pseudo file systems whose files are never inputs, whatever ``stat`` says about them."""
_SHM = "/dev/shm/"  # noqa: S108 - tmpfs under /dev holds ordinary files; not a temp-file use

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


def is_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path`` resolved (symlinks followed) lies in ``root`` resolved."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError, ValueError):
        return False


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def open_input(path: str | os.PathLike[str], *, what: str = "") -> BinaryIO:
    """Open ``path`` for reading if it is a regular file outside /proc, /sys and /dev.

    A FIFO is opened non-blocking (so the check itself cannot hang) and refused; so are sockets,
    devices, folders and anything that resolves into ``SPECIAL_ROOTS``. ``InputError`` names
    the file (``what`` says which, e.g. ``"pose file"``) and what it is; a missing file, a name
    too long or no permission likewise.
    """
    name = os.fspath(path)
    prefix = _prefix(name, what)
    real = os.path.realpath(name)
    for root in SPECIAL_ROOTS:
        if (real == root or real.startswith(root + "/")) and not real.startswith(_SHM):
            raise InputError(
                f"{prefix}: it is under {root}; only regular files are read as inputs.",
                source=name,
            )
    try:
        mode = os.stat(name).st_mode  # sockets cannot even be opened: say what it is
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{prefix}: it is {_kind(mode)}; only regular files are read as inputs.",
                source=name,
            )
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise InputError(f"{prefix}: {reason}.", source=name) from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(
                f"{prefix}: it is {_kind(mode)}; only regular files are read as inputs.",
                source=name,
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _prefix(name: str, what: str) -> str:
    return f"Cannot read {what + ' ' if what else ''}{excerpt(name, 200)}"


def read_input(path: str | os.PathLike[str], *, what: str = "") -> bytes:
    """All bytes of a regular input file (see ``open_input``)."""
    with open_input(path, what=what) as stream:
        try:
            return stream.read()
        except OSError as err:
            raise InputError(f"{_prefix(os.fspath(path), what)}: {err.strerror or err}.",
                             source=os.fspath(path)) from err


def read_input_text(
    path: str | os.PathLike[str], *, what: str = "", encoding: str = "utf-8"
) -> str:
    """A regular input file decoded as ``encoding``; bytes that do not decode are an
    ``InputError`` giving the byte offset (and line), never a ``UnicodeDecodeError``."""
    data = read_input(path, what=what)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{_prefix(os.fspath(path), what)}: it is not {encoding.upper()} text (byte "
            f"{err.start}, line {line}, is {excerpt(data[err.start:err.start + 4])}).",
            source=os.fspath(path), line=line, offset=err.start,
        ) from err
