"""Atomic writes shared by every layer: a temp file beside the target, then ``os.replace``.

A failed write (any exception, including KeyboardInterrupt) removes the temp file, so nothing
half-written is ever left at the destination. A killed process cannot clean up, so every temp
file or folder of ours is named ``.<target name>.<12 hex digits>[.<suffix>]`` and held under an
advisory ``flock`` while it is written (``hold``); ``clean_stale`` removes those of a target
that no live process holds, at the start of the next write. Imports nothing from sfs_kit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_output", "clean_stale", "hold", "write_bytes_atomic"]

_LOCKED_SUFFIXES = (".tmp", ".spool")
"""Temp kinds whose writer holds a ``flock``: unlocked means its writer is gone."""
_UNLOCKED_AGE_S = 600.0
"""Other leftovers of ours (a folder moved aside, video temp files) count as stale only when
untouched this long, since nothing proves their writer is gone."""
_FRESH_S = 2.0  # a temp this new may not be locked yet (created, flock comes next)


def hold(fd: int) -> None:
    """Mark the temp file or folder open as ``fd`` as being written (until ``fd`` is closed)."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _is_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def clean_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove leftovers of earlier, killed writes of ``target`` (see the module docstring);
    returns what was removed. Never raises: cleaning is a courtesy, not part of the write."""
    dest = Path(os.fspath(target))
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.[0-9a-f]{{12}}(\..+)?")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(dest.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        path = Path(entry.path)
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        age = now - info.st_mtime
        locked_kind = (match.group(1) or "") in _LOCKED_SUFFIXES
        if age < _FRESH_S or (not locked_kind and age < _UNLOCKED_AGE_S) or _is_held(path):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        if not os.path.lexists(path):
            removed.append(path)
    return removed


@contextmanager
def atomic_output(
    dest: str | os.PathLike[str], *, mode: int = 0o666, fsync: bool = False
) -> Iterator[IO[bytes]]:
    """Yield an unbuffered file in ``dest``'s directory; on success it replaces ``dest``.

    The temp file is created with ``mode`` minus the umask (``0o666`` is what ``open`` does;
    ``0o600`` for files that hold live URLs). ``fsync`` flushes it to disk before the rename.
    """
    target = Path(os.fspath(dest))
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            hold(fd)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with open(fd, "wb", buffering=0) as stream:
            yield stream
            if fsync:
                os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o666, fsync: bool = False
) -> int:
    """Write ``data`` to ``path`` atomically; returns its length."""
    with atomic_output(path, mode=mode, fsync=fsync) as stream:
        view = memoryview(data)
        while view:  # an unbuffered write may be partial
            view = view[stream.write(view) or 0 :]
    return len(data)
