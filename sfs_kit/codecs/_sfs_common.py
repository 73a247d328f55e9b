"""Shared pieces of the .sfs codec: the dtype allow-list, alignment rules and the item record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sfs_kit.errors import InputError

__all__ = [
    "ALIGNMENTS",
    "ALLOWED_DTYPES",
    "SENTINEL_MIN",
    "SfsItem",
    "check_align",
    "format_keys",
    "padding",
]

#: numpy ``dtype.name`` values an item may carry (spec D4); data is always little-endian (D3).
ALLOWED_DTYPES: Final[frozenset[str]] = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    }
)

#: Alignments the writer accepts (spec D1); 4 reproduces scale-json-binary's layout.
ALIGNMENTS: Final[tuple[int, ...]] = (4, 8, 16, 32, 64)

#: Zero bytes every reader requires after the header (R3); our writer writes ``align`` of them.
SENTINEL_MIN: Final[int] = 4

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SfsItem:
    """One entry of ``$items``: where an array lives and what it is.

    ``offset`` is relative to the header length H (the first 0x00 byte), as stored in the file.
    ``dtype`` and ``shape`` are ``None`` for legacy raw-bytes entries.
    """

    keys: KeyPath
    offset: int
    length: int
    dtype: str | None
    shape: tuple[int, ...] | None


def format_keys(keys: object) -> str:
    """Render a keys path as ``('sensors', 0, 'frames')`` for messages (tuples, lists or junk)."""
    if isinstance(keys, (tuple, list)):
        return "(" + ", ".join(repr(k) for k in keys) + ")"
    return repr(keys)


def check_align(align: object) -> int:
    """Return ``align`` if it is one of ``ALIGNMENTS``, else raise ``InputError``."""
    if isinstance(align, bool) or not isinstance(align, int) or align not in ALIGNMENTS:
        allowed = ", ".join(str(a) for a in ALIGNMENTS)
        msg = f"align must be one of {allowed}, not {align!r}."
        raise InputError(msg, field="align")
    return align


def padding(length: int, align: int) -> int:
    """Bytes of padding after ``length`` bytes: ``align - length % align``, so 1..align, never 0."""
    return align - length % align
