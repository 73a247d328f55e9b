"""Checking .sfs reader (D5): rules R1-R8 on the header and ``$items``, then zero-copy views.

Every rule is checked for every item before the first view is built, and every violation is an
``SfsFormatError`` (``TruncatedDataError`` when the data ends early) naming the source, the item
index, its keys path and the rule.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeGuard

import numpy as np

from sfs_kit._paths import open_input
from sfs_kit.codecs._sfs_common import (
    ALLOWED_DTYPES,
    SENTINEL_MIN,
    SfsItem,
    format_keys,
)
from sfs_kit.errors import InputError, SfsFormatError, TruncatedDataError

__all__ = ["SfsIndex", "SfsSource", "index_sfs", "read_sfs_dict"]

SfsSource = str | os.PathLike[str] | bytes | bytearray | memoryview
_Buffer = mmap.mmap | bytes | bytearray | memoryview
_Fail = Callable[..., NoReturn]
_BIG_ENDIAN_HOST: Final[bool] = sys.byteorder == "big"
_ALLOWED_TEXT: Final[str] = ", ".join(sorted(ALLOWED_DTYPES))
_ITEMSIZE: Final[dict[str, int]] = {name: np.dtype(name).itemsize for name in ALLOWED_DTYPES}
_BARE_TOKENS: Final[dict[str, float]] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}


@dataclass(frozen=True, slots=True)
class SfsIndex:
    """A .sfs file's header and item table, read without touching any array page.

    ``header`` is the JSON tree without ``$items``; array slots still hold the ``""``
    placeholder, located by ``items[i].keys``. An item's data starts at file byte
    ``header_length + items[i].offset``.
    """

    source: str
    header: dict[str, Any]
    items: tuple[SfsItem, ...]
    header_length: int
    file_size: int


@dataclass(frozen=True, slots=True)
class _Slot:
    """A checked item plus the container and slot its array goes into."""

    item: SfsItem
    container: dict[str, Any] | list[Any]
    slot: str | int


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BareTokenError(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return out


def _strict_constant(token: str) -> NoReturn:
    raise _BareTokenError(token)


def _lenient_constant(token: str) -> float:
    return _BARE_TOKENS[token]


@contextmanager
def _opened(source: SfsSource) -> Iterator[tuple[str, _Buffer]]:
    """Yield ``(name, buffer)``: a read-only memory map for paths, the object itself for bytes."""
    obj: object = source
    if isinstance(obj, (str, os.PathLike)):
        name = os.fspath(obj)
        with open_input(name, what=".sfs file") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                yield name, b""
                return
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        yield name, mapped
    elif isinstance(obj, (bytes, bytearray)):
        yield "<bytes>", obj
    elif isinstance(obj, memoryview):
        view = obj if obj.c_contiguous else memoryview(obj.tobytes())
        yield "<bytes>", view.cast("B") if (view.format != "B" or view.ndim != 1) else view
    else:
        msg = f"Cannot read .sfs from a {type(obj).__name__!r}; pass a path or bytes."
        raise InputError(msg, field="source")


def _find_nul(buffer: _Buffer) -> int:
    if not isinstance(buffer, memoryview):
        return buffer.find(b"\x00")
    start, window = 0, 1 << 16
    while start < buffer.nbytes:
        found = bytes(buffer[start : start + window]).find(b"\x00")
        if found >= 0:
            return start + found
        start += window
        window = min(window * 2, 1 << 24)
    return -1


class _Checker:
    """Applies R1-R8 to one buffer; ``fail`` builds the located error."""

    def __init__(self, name: str, buffer: _Buffer, lenient: bool) -> None:
        self.name = name
        self.buffer = buffer
        self.size = len(buffer) if not isinstance(buffer, memoryview) else buffer.nbytes
        self.lenient = lenient
        self.header_length = 0

    def fail(
        self,
        rule: str,
        message: str,
        *,
        item: int | None = None,
        keys: object = None,
        offset: int | None = None,
        truncated: bool = False,
    ) -> NoReturn:
        cls = TruncatedDataError if truncated else SfsFormatError
        key = format_keys(keys) if isinstance(keys, list) else None
        raise cls(message, source=self.name, offset=offset, key=key, item=item, rule=rule)

    def header(self) -> dict[str, Any]:
        name = self.name
        if self.size == 0:
            self.fail("R1", f"{name!r} is empty; no binary section.")
        end = _find_nul(self.buffer)
        if end < 0:
            self.fail("R1", f"{name!r} contains no 0x00 byte; no binary section.")
        self.header_length = end
        try:
            text = bytes(self.buffer[:end]).decode("utf-8")
        except UnicodeDecodeError as err:
            msg = f"Header of {name!r} is not valid UTF-8 at byte {err.start}."
            self.fail("R2", msg, offset=err.start)
        tree = self._parse(text)
        if self.size < end + SENTINEL_MIN:
            msg = f"{name!r} ends at byte {self.size}, inside the 4-byte sentinel at byte {end}."
            self.fail("R3", msg, offset=end, truncated=True)
        if bytes(self.buffer[end : end + SENTINEL_MIN]) != bytes(SENTINEL_MIN):
            self.fail("R3", f"Sentinel of {name!r} at byte {end} is not 4 zero bytes.", offset=end)
        return tree

    def _parse(self, text: str) -> dict[str, Any]:
        name = self.name
        constant = _lenient_constant if self.lenient else _strict_constant
        try:
            tree = json.loads(text, object_pairs_hook=_pairs, parse_constant=constant)
        except _DuplicateKeyError as err:
            self.fail("R2", f"Header of {name!r} has the duplicate key {err.key!r}.")
        except _BareTokenError as err:
            msg = (
                f"Header of {name!r} contains the bare token {err.token!r}, which is not JSON; "
                "pass lenient=True to read such legacy files."
            )
            self.fail("R2", msg)
        except json.JSONDecodeError as err:
            msg = f"Header of {name!r} is not valid JSON: {err.msg} at character {err.pos}."
            self.fail("R2", msg, offset=err.pos)
        except RecursionError:
            self.fail("R2", f"Header of {name!r} is nested too deeply to parse.")
        except ValueError as err:
            self.fail("R2", f"Header of {name!r} is not valid JSON: {err}.")
        if not isinstance(tree, dict):
            msg = f"Header of {name!r} is a JSON {type(tree).__name__}, not an object."
            self.fail("R2", msg)
        return tree

    def items(self, tree: dict[str, Any]) -> list[_Slot]:
        if "$items" not in tree:
            self.fail("R4", f"Header of {self.name!r} has no '$items' list.")
        entries = tree.pop("$items")
        if not isinstance(entries, list):
            msg = f"'$items' in {self.name!r} is a {type(entries).__name__}, not a list."
            self.fail("R4", msg)
        slots: list[_Slot] = []
        seen: dict[tuple[int, str | int], int] = {}
        for index, entry in enumerate(entries):
            slot = self._entry(index, entry, tree)
            marker = (id(slot.container), slot.slot)
            if marker in seen:
                where = f"Item {index} {format_keys(entry['keys'])} in {self.name!r}"
                msg = f"{where} has the same path as item {seen[marker]}."
                self.fail("R8", msg, item=index, keys=entry["keys"])
            seen[marker] = index
            slots.append(slot)
        return slots

    def _entry(self, index: int, entry: object, tree: dict[str, Any]) -> _Slot:
        if not isinstance(entry, dict):
            msg = f"Item {index} in {self.name!r} is a {type(entry).__name__}, not an object."
            self.fail("R5", msg, item=index)
        keys = entry.get("keys")

        def fail(
            rule: str, message: str, offset: int | None = None, trunc: bool = False
        ) -> NoReturn:
            where = f"Item {index} {format_keys(keys)} in {self.name!r}"
            self.fail(
                rule, f"{where} {message}", item=index, keys=keys, offset=offset, truncated=trunc
            )

        offset, length = entry.get("offset"), entry.get("length")
        if not _is_count(offset):
            fail("R5", f"has offset {offset!r}; expected a non-negative int.")
        if not _is_count(length):
            fail("R5", f"has length {length!r}; expected a non-negative int.")
        start = self.header_length + offset
        if offset < SENTINEL_MIN:
            msg = f"starts at offset {offset}, inside the sentinel; expected at least 4."
            fail("R5", msg, start)
        if start + length > self.size:
            msg = f"ends at byte {start + length} but the file has {self.size} bytes."
            fail("R5", msg, start, trunc=True)
        dtype, shape = self._dtype_shape(entry, length, fail)
        if not isinstance(keys, list) or not keys or not all(_is_step(k) for k in keys):
            fail("R8", f"has keys {keys!r}; expected a non-empty list of str and int.")
        container, slot = _resolve(tree, keys, fail)
        return _Slot(SfsItem(tuple(keys), offset, length, dtype, shape), container, slot)

    def _dtype_shape(
        self, entry: dict[str, Any], length: int, fail: _Fail
    ) -> tuple[str | None, tuple[int, ...] | None]:
        shape = entry.get("shape")
        if "dtype" not in entry:
            if "shape" in entry and shape != [length]:
                msg = f"is raw bytes of length {length} but has shape {shape!r}, not [{length}]."
                fail("R6", msg)
            return None, None
        dtype = entry["dtype"]
        if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
            fail("R6", f"has dtype {dtype!r}; expected one of {_ALLOWED_TEXT}.")
        itemsize = _ITEMSIZE[dtype]
        if "shape" not in entry:
            if length % itemsize:
                fail("R7", f"has no shape and its length {length} is not a multiple of {itemsize}.")
            return dtype, (length // itemsize,)
        if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
            fail("R7", f"has shape {shape!r}; expected a list of non-negative ints.")
        expected = math.prod(shape) * itemsize
        if expected != length:
            fail("R7", f"has shape {shape!r} of {dtype} ({expected} bytes) but length {length}.")
        return dtype, tuple(shape)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_step(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _resolve(
    tree: dict[str, Any], keys: list[str | int], fail: _Fail
) -> tuple[dict[str, Any] | list[Any], str | int]:
    """Follow ``keys`` to the container holding the leaf; apply the int-key rescue (R8)."""
    node: Any = tree
    for depth, step in enumerate(keys):
        if isinstance(node, dict):
            if isinstance(step, int) and step not in node and str(step) in node:
                step = str(step)  # noqa: PLW2901 - Scale's int dict keys are stored as "1"
            if not isinstance(step, str) or step not in node:
                where = format_keys(keys[:depth])
                fail("R8", f"does not resolve: {step!r} is not a key of the dict at {where}.")
        elif isinstance(node, list):
            if not isinstance(step, int) or not 0 <= step < len(node):
                where = format_keys(keys[:depth])
                fail("R8", f"does not resolve: {step!r} is not an index of the list at {where} "
                     f"(length {len(node)}).")
        else:
            where = format_keys(keys[:depth])
            fail("R8", f"does not resolve: {where} holds a {type(node).__name__}, not a container.")
        if depth == len(keys) - 1:
            leaf = node[step]
            if not (isinstance(leaf, str) and leaf == ""):
                fail("R8", f"points at a {type(leaf).__name__} value, not the '' placeholder.")
            return node, step
        node = node[step]
    raise AssertionError("unreachable: keys is non-empty")  # pragma: no cover


def _view(buffer: _Buffer, start: int, item: SfsItem, writable: bool) -> np.ndarray[Any, Any]:
    """Build the array for a checked item: a read-only view unless a copy is unavoidable."""
    dtype = np.dtype(item.dtype or "uint8").newbyteorder("<")
    shape = item.shape if item.shape is not None else (item.length,)
    count = item.length // dtype.itemsize
    if count == 0:
        array: np.ndarray[Any, Any] = np.empty(shape, dtype=dtype.newbyteorder("="))
    else:
        array = np.frombuffer(buffer, dtype=dtype, count=count, offset=start).reshape(shape)
        if writable or start % dtype.itemsize or _BIG_ENDIAN_HOST:
            array = array.astype(dtype.newbyteorder("="), copy=True)
    array.flags.writeable = writable
    return array


def index_sfs(source: SfsSource, *, lenient: bool = False) -> SfsIndex:
    """Parse a .sfs header and check its item table (R1-R8) without touching any array page.

    Fast on huge files: only the header is read. Raises ``SfsFormatError`` like
    ``read_sfs_dict``.
    """
    with _opened(source) as (name, buffer):
        try:
            checker = _Checker(name, buffer, lenient)
            tree = checker.header()
            slots = checker.items(tree)
        finally:
            if isinstance(buffer, mmap.mmap):
                buffer.close()
    return SfsIndex(
        source=name,
        header=tree,
        items=tuple(s.item for s in slots),
        header_length=checker.header_length,
        file_size=checker.size,
    )


def read_sfs_dict(
    source: SfsSource, *, lenient: bool = False, writable: bool = False
) -> dict[str, Any]:
    """Read a .sfs file or bytes into a dict tree whose arrays are read-only zero-copy views.

    Paths are memory-mapped; the views keep the mapping alive. ``writable=True`` copies every
    array. ``lenient=True`` accepts the bare NaN/Infinity tokens scale-json-binary writes.
    Raises ``SfsFormatError`` (``TruncatedDataError`` for short data) naming the item and rule.
    """
    with _opened(source) as (name, buffer):
        checker = _Checker(name, buffer, lenient)
        tree = checker.header()
        slots = checker.items(tree)
        base = checker.header_length
        for slot in slots:
            slot.container[slot.slot] = _view(buffer, base + slot.item.offset, slot.item, writable)  # type: ignore[index]
    return tree
