"""Atomic writes shared by every layer: a temp file beside the target, then ``os.replace``.

A failed write (any exception, including KeyboardInterrupt) removes the temp file, so nothing
half-written is ever left at the destination. Imports nothing from sfs_kit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_output", "write_bytes_atomic"]


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
