"""Path-or-stream handling for the readers: the only place that opens files, and atomic writes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from sfs_kit._atomic import atomic_output
from sfs_kit._paths import open_input, read_input
from sfs_kit.errors import InputError

__all__ = ["Source", "read_all", "read_capped", "read_capped_text", "source_name", "write_atomic",
           "write_payload"]

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


def read_capped(path: str | os.PathLike[str], *, what: str, limit: int, why: str) -> bytes:
    """A small input file's bytes (regular files only); ``InputError`` naming the file beyond
    ``limit`` bytes (``why`` says why no such file is that big), never reading more."""
    source = os.fspath(path)
    try:
        with open_input(path, what=what) as stream:
            raw = stream.read(limit + 1)
    except OSError as err:
        raise InputError(f"Cannot read {what} {source!r}: {err.strerror or err}.",
                         source=source) from err
    if len(raw) > limit:
        raise InputError(f"{source}: the {what} is larger than {limit} bytes; {why}.",
                         source=source, offset=limit)
    return raw


def read_capped_text(path: str | os.PathLike[str], *, what: str, limit: int, why: str,
                     encoding: str = "utf-8") -> str:
    """``read_capped`` decoded as ``encoding``; bytes that do not decode are an ``InputError``
    naming the file, the line, the byte and its offset."""
    source = os.fspath(path)
    raw = read_capped(path, what=what, limit=limit, why=why)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{source}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
            f"{err.start}).", source=source, line=line, offset=err.start) from err


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
