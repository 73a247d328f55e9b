"""Path-or-stream handling for the readers: the only place that opens files, and atomic writes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from sfs_kit._atomic import atomic_output
from sfs_kit._paths import read_input
from sfs_kit.errors import InputError

__all__ = ["Source", "read_all", "source_name", "write_atomic", "write_payload"]

Source = str | os.PathLike[str] | BinaryIO


def source_name(source: Source) -> str:
    """A name for messages: the path, a stream's ``name`` attribute, or ``"<stream>"``."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def read_all(source: Source) -> tuple[bytes, str]:
    """All bytes of a path or a binary stream (from its current position), and its name."""
    name = source_name(source)
    if isinstance(source, str | os.PathLike):
        return read_input(source), name
    data = source.read()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"Stream {name!r} is not binary (read() gave {type(data).__name__}).",
                         source=name)
    return bytes(data), name


def write_atomic(target: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write through a temporary file in the target's directory, then ``os.replace`` it."""
    with atomic_output(target, mode=0o600) as stream:
        write(stream)  # type: ignore[arg-type]  # an unbuffered binary file is a BinaryIO


def write_payload(target: str | os.PathLike[str] | BinaryIO, payload: bytes) -> None:
    """Write encoded bytes: a path atomically (``write_atomic``), a stream as is (left open)."""
    if isinstance(target, str | os.PathLike):

        def write(stream: BinaryIO) -> None:
            stream.write(payload)

        write_atomic(target, write)
    else:
        target.write(payload)
