"""Planning a .sfs write: one pass over the tree gives the header bytes, the items and the size.

The planner checks every value against spec D4 (str keys, no ``$items`` key, finite floats,
int64 ints, allow-listed dtypes) and computes each item's offset from ``nbytes`` alone, so the
total size is known before a byte is written (D2).
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Final, Protocol, cast

import numpy as np
import numpy.typing as npt

from sfs_kit.codecs._sfs_common import (
    ALIGNMENTS,
    ALLOWED_DTYPES,
    KeyPath,
    SfsItem,
    check_align,
    format_keys,
    padding,
)
from sfs_kit.errors import InputError

__all__ = [
    "CHUNK_BYTES",
    "LargeIntegerWarning",
    "SfsArrayRef",
    "SfsPlan",
    "iter_array_chunks",
    "plan_sfs",
    "write_all",
]

#: Largest temporary buffer used to convert a non-contiguous or big-endian array (D2).
CHUNK_BYTES: Final[int] = 16 * 1024 * 1024

_INT64_MIN: Final[int] = -(2**63)
_INT64_MAX: Final[int] = 2**63 - 1
_JS_SAFE_MAX: Final[int] = 2**53 - 1
_ALLOWED_TEXT: Final[str] = ", ".join(sorted(ALLOWED_DTYPES))

Array = npt.NDArray[np.generic]
_FLOAT: Final[frozenset[type]] = frozenset({float})
_INT: Final[frozenset[type]] = frozenset({int})


class LargeIntegerWarning(UserWarning):
    """A header integer exceeds 2**53 - 1; JavaScript readers will lose precision."""


class SfsArrayRef:
    """Opaque placeholder for an array already spooled by an ``SfsAppendWriter``.

    Put it in the tree where the array belongs; only the writer that made it can finish the tree.
    """

    __slots__ = ("_owner", "dtype", "index", "length", "shape", "spool_offset")

    def __init__(  # noqa: PLR0917 - built only by SfsAppendWriter
        self,
        owner: object,
        index: int,
        dtype: str,
        shape: tuple[int, ...],
        length: int,
        spool_offset: int,
    ) -> None:
        self._owner = owner
        self.index = index
        self.dtype = dtype
        self.shape = shape
        self.length = length
        self.spool_offset = spool_offset

    def __repr__(self) -> str:
        return f"<SfsArrayRef #{self.index} {self.dtype} {self.shape}>"

    def owned_by(self, owner: object) -> bool:
        """Whether ``owner`` (an append writer) made this placeholder."""
        return self._owner is owner


Substitute = Callable[[SfsItem, Array], Iterator[bytes | memoryview] | None]
"""(item, array) -> the item's bytes in chunks, or None to write the array as it is."""


class _Writable(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...


@dataclass(frozen=True, slots=True)
class SfsPlan:
    """Everything needed to write a .sfs file: ``size`` is the exact byte count before writing.

    ``header`` holds the padded JSON header (H bytes); ``items`` mirror ``$items``; ``sources``
    hold the arrays (or append-writer placeholders) in item order.
    """

    header: bytes
    items: tuple[SfsItem, ...]
    size: int
    align: int
    sources: tuple[Array | SfsArrayRef, ...] = field(repr=False)

    def iter_chunks(self, substitute: Substitute | None = None) -> Iterator[bytes | memoryview]:
        """Yield the file's bytes in order: header, sentinel, then each item and its padding.

        C-contiguous little-endian arrays are yielded as zero-copy memoryviews; others are
        converted in chunks of at most ``CHUNK_BYTES`` through one reused buffer, so each chunk
        is valid only until the next is requested (write it, don't keep it). ``substitute``
        may supply an item's bytes instead (same dtype and shape: a writer posing points as it
        writes them); it returns None for items written as they are.
        """
        for chunk, _ in self._chunks(substitute):
            yield chunk

    def _chunks(self, substitute: Substitute | None) -> Iterator[tuple[bytes | memoryview, bool]]:
        """``iter_chunks``, each chunk marked stable (valid after the next one is made: the
        header, padding, views of the arrays themselves) or not (a reused buffer)."""
        yield self.header, True
        yield bytes(self.align), True
        for item, source in zip(self.items, self.sources, strict=True):
            if isinstance(source, SfsArrayRef):
                msg = (
                    f"Value at {format_keys(item.keys)} is an SfsAppendWriter placeholder; "
                    "pass the tree to that writer's finish()."
                )
                raise InputError(msg, field=format_keys(item.keys))
            replaced = substitute(item, source) if substitute is not None else None
            if replaced is not None:
                for chunk in replaced:
                    yield chunk, False
            else:
                stable = _as_is(source)
                for chunk in iter_array_chunks(source):
                    yield chunk, stable
            yield _ZEROS[: padding(item.length, self.align)], True

    def write_to(self, stream: IO[bytes] | _Writable, substitute: Substitute | None = None) -> int:
        """Write the whole file to a binary stream (not closed); return the bytes written.

        To a raw unbuffered file (``open(..., buffering=0)``, what paths are written through)
        the chunks go out gathered in ``os.writev`` calls: a scene of a few hundred arrays is
        then a few system calls rather than one per array and per padding (each costs several
        microseconds in the kernel, more than the checks of the array)."""
        if type(stream) is io.FileIO and _WRITEV is not None:
            _gathered(stream.fileno(), self._chunks(substitute), _WRITEV)
        else:
            for chunk in self.iter_chunks(substitute):
                write_all(stream, chunk)
        return self.size


_ZEROS: Final[bytes] = bytes(max(ALIGNMENTS))
_WRITEV: Final = getattr(os, "writev", None)
_IOV_MAX: Final[int] = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16


def _gathered(fd: int, chunks: Iterator[tuple[bytes | memoryview, bool]],
              writev: Callable[[int, list[memoryview]], int]) -> None:
    """Write ``chunks`` to ``fd`` in order, up to ``_IOV_MAX`` per ``writev``; a chunk in a
    reused buffer is written (with those gathered before it) before the next is made."""
    pending: list[memoryview] = []
    for chunk, stable in chunks:
        view = memoryview(chunk)
        if view.nbytes:
            pending.append(view)
        if pending and (not stable or len(pending) >= _IOV_MAX):
            _writev_all(fd, pending, writev)
            pending = []
    if pending:
        _writev_all(fd, pending, writev)


def _writev_all(fd: int, views: list[memoryview],
                writev: Callable[[int, list[memoryview]], int]) -> None:
    """``writev`` until every byte of ``views`` is written (a call may write only a part)."""
    while views:
        done = writev(fd, views)
        if done <= 0:
            raise OSError(errno.EIO, "the file took no bytes")
        first = 0
        while first < len(views) and done >= views[first].nbytes:
            done -= views[first].nbytes
            first += 1
        views = views[first:]
        if views and done:
            views[0] = views[0][done:]


def write_all(stream: IO[bytes] | _Writable, chunk: bytes | memoryview) -> None:
    """Write ``chunk`` fully, looping over the short writes raw streams may make."""
    view = memoryview(chunk)
    while view.nbytes:
        written = stream.write(view)
        if not isinstance(written, int) or written >= view.nbytes:
            return
        view = view[written:]


def iter_array_chunks(arr: Array) -> Iterator[memoryview]:
    """Yield an array's bytes in C order, little-endian, copying at most ``CHUNK_BYTES`` at once.

    Converted chunks share one reusable buffer: consume (write) each chunk before asking for
    the next one.
    """
    if arr.nbytes == 0:
        return
    if _as_is(arr):
        yield arr.data.cast("B")
        return
    yield from _converted_chunks(arr, arr.dtype.newbyteorder("<"))


def _as_is(arr: Array) -> bool:
    """Whether ``arr``'s own buffer holds its .sfs bytes (C order, little-endian)."""
    return bool(arr.flags.c_contiguous) and arr.dtype == arr.dtype.newbyteorder("<")


def _converted_chunks(arr: Array, target: np.dtype[Any]) -> Iterator[memoryview]:
    if arr.nbytes <= CHUNK_BYTES or arr.ndim == 0:
        yield np.array(arr, dtype=target, order="C").data.cast("B")
        return
    rows = arr.shape[0]
    per_chunk = CHUNK_BYTES // (arr.nbytes // rows)
    if per_chunk >= 1:
        buffer = np.empty((per_chunk, *arr.shape[1:]), dtype=target)
        for start in range(0, rows, per_chunk):
            block = arr[start : start + per_chunk]
            out = buffer[: block.shape[0]]
            np.copyto(out, block, casting="equiv")
            yield out.data.cast("B")
    else:
        for row in range(rows):
            yield from _converted_chunks(arr[row], target)


class _Planner:
    """Walks a tree once: checks values, replaces arrays by ``""`` and lays out the items."""

    def __init__(self, align: int, ref_owner: object | None) -> None:
        self.align = align
        self.ref_owner = ref_owner
        self.items: list[SfsItem] = []
        self.sources: list[Array | SfsArrayRef] = []
        self.next_offset = align
        self._open: set[int] = set()

    def add(self, keys: KeyPath, source: Array | SfsArrayRef) -> str:
        if isinstance(source, SfsArrayRef):
            dtype, shape, length = source.dtype, source.shape, source.length
        else:
            dtype, shape, length = _dtype_name(source.dtype), tuple(source.shape), source.nbytes
        self.items.append(SfsItem(keys, self.next_offset, length, dtype, shape))
        self.sources.append(source)
        self.next_offset += length + padding(length, self.align)
        return ""

    def value(self, obj: object, keys: KeyPath) -> object:
        kind = type(obj)  # exact-type fast paths for the common nodes: no ABC checks
        if kind is dict or kind is list:
            return self._container(cast(dict[str, Any] | list[Any], obj), keys)
        if kind is np.ndarray:
            return self.add(keys, check_array(cast(Array, obj), keys))
        if obj is None or isinstance(obj, str):
            return obj
        if isinstance(obj, bool):
            return obj
        if isinstance(obj, int):
            return self._int(int(obj), keys)
        if isinstance(obj, float):
            return self._float(float(obj), keys)
        if isinstance(obj, np.ndarray):
            return self.add(keys, check_array(np.asarray(obj), keys))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self.add(keys, bytes_as_array(obj))
        if isinstance(obj, np.generic):
            return self._scalar(obj, keys)
        if isinstance(obj, SfsArrayRef):
            return self._ref(obj, keys)
        if isinstance(obj, Mapping):
            return self._container(obj, keys)
        if isinstance(obj, (list, tuple)):
            return self._container(obj, keys)
        msg = f"Value at {format_keys(keys)} has unsupported type {type(obj).__name__!r}."
        raise InputError(msg, field=format_keys(keys))

    def _container(
        self, obj: Mapping[Any, Any] | list[Any] | tuple[Any, ...], keys: KeyPath
    ) -> object:
        marker = id(obj)
        if marker in self._open:
            msg = f"Value at {format_keys(keys)} contains itself."
            raise InputError(msg, field=format_keys(keys))
        self._open.add(marker)
        try:
            if type(obj) is dict or isinstance(obj, Mapping):
                out: dict[str, object] = {}
                for key, val in obj.items():
                    name = key if type(key) is str and key != "$items" else self._key(key, keys)
                    kind = type(val)  # leaves that need no check are taken as they are
                    if kind is str or val is None or kind is bool or (
                        kind is int and -_JS_SAFE_MAX <= val <= _JS_SAFE_MAX
                    ):
                        out[name] = val
                    else:
                        out[name] = self.value(val, (*keys, key))
                return out
            types = set(map(type, obj))
            if types <= _FLOAT and all(map(math.isfinite, obj)):
                return list(obj)  # a row of finite numbers (pose values): the common case
            if types <= _INT and min(obj) >= -_JS_SAFE_MAX and max(obj) <= _JS_SAFE_MAX:
                return list(obj)  # timestamps
            return [self.value(val, (*keys, i)) for i, val in enumerate(obj)]
        finally:
            self._open.discard(marker)

    def _key(self, key: object, keys: KeyPath) -> str:
        if not isinstance(key, str):
            msg = (
                f"Dict key {key!r} at {format_keys(keys)} is {type(key).__name__!r}; "
                ".sfs dict keys must be str."
            )
            raise InputError(msg, field=format_keys(keys))
        if key == "$items":
            msg = f"Key '$items' at {format_keys(keys)} is reserved for the .sfs item table."
            raise InputError(msg, field=format_keys((*keys, key)))
        return str(key)

    def _int(self, value: int, keys: KeyPath) -> int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            where = format_keys(keys)
            msg = f"Integer at {where} is {value}, outside the int64 range of .sfs headers."
            raise InputError(msg, field=format_keys(keys))
        if abs(value) > _JS_SAFE_MAX:
            warnings.warn(
                f"Integer at {format_keys(keys)} is {value}, beyond 2**53 - 1; "
                "JavaScript readers will lose precision.",
                LargeIntegerWarning,
                stacklevel=5,
            )
        return value

    def _float(self, value: float, keys: KeyPath) -> float:
        if not math.isfinite(value):
            where = format_keys(keys)
            msg = f"Value at {where} is {value!r}; .sfs headers allow only finite numbers."
            raise InputError(msg, field=format_keys(keys))
        return value

    def _scalar(self, obj: np.generic, keys: KeyPath) -> object:
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return self.value(obj.item(), keys)
        msg = f"Value at {format_keys(keys)} has unsupported numpy type {type(obj).__name__!r}."
        raise InputError(msg, field=format_keys(keys))

    def _ref(self, ref: SfsArrayRef, keys: KeyPath) -> str:
        if self.ref_owner is None:
            msg = (
                f"Value at {format_keys(keys)} is an SfsAppendWriter placeholder; "
                "pass the tree to that writer's finish()."
            )
            raise InputError(msg, field=format_keys(keys))
        if not ref.owned_by(self.ref_owner):
            msg = f"Placeholder at {format_keys(keys)} belongs to a different SfsAppendWriter."
            raise InputError(msg, field=format_keys(keys))
        return self.add(keys, ref)


_ALLOWED_NAMES: dict[np.dtype[Any], str] = {}


def _dtype_name(dtype: np.dtype[Any]) -> str:
    """``dtype.name``, memoised for allow-listed dtypes (numpy computes it in Python, ~4 us: a
    scene of a few hundred arrays spent over a millisecond on it per write)."""
    name = _ALLOWED_NAMES.get(dtype)
    if name is None:
        name = dtype.name
        if name in ALLOWED_DTYPES and dtype.fields is None and dtype.subdtype is None:
            _ALLOWED_NAMES[dtype] = name
    return name


def check_array(arr: Array, keys: KeyPath | str) -> Array:
    """Return ``arr`` if its dtype is allow-listed (D4), else raise ``InputError``."""
    dtype = arr.dtype
    if dtype in _ALLOWED_NAMES:
        return arr
    if (_dtype_name(dtype) not in ALLOWED_DTYPES or dtype.fields is not None
            or dtype.subdtype is not None):
        where = keys if isinstance(keys, str) else f"Array at {format_keys(keys)}"
        msg = f"{where} has dtype {dtype.str!r}; .sfs stores only {_ALLOWED_TEXT}."
        raise InputError(msg, field=keys if isinstance(keys, str) else format_keys(keys))
    return arr


def bytes_as_array(obj: bytes | bytearray | memoryview) -> Array:
    """View bytes-like data as a 1-D uint8 array (copies only a non-contiguous memoryview)."""
    if isinstance(obj, memoryview) and not obj.c_contiguous:
        return np.frombuffer(obj.tobytes(), dtype=np.uint8)
    return np.frombuffer(obj, dtype=np.uint8)


def build_plan(tree: Mapping[str, Any], align: int, ref_owner: object | None) -> SfsPlan:
    """Plan ``tree`` (shared by ``plan_sfs`` and the append writer)."""
    align = check_align(align)
    root: object = tree
    if not isinstance(root, Mapping):
        msg = f"The .sfs root must be a dict, not {type(root).__name__!r}."
        raise InputError(msg, field="()")
    planner = _Planner(align, ref_owner)
    try:
        header_tree = planner.value(tree, ())
    except RecursionError as err:
        msg = "The tree is nested too deeply to be written as a .sfs header."
        raise InputError(msg, field="()") from err
    header = cast(dict[str, object], header_tree)
    header["$items"] = [
        {
            "keys": list(item.keys),
            "length": item.length,
            "offset": item.offset,
            "dtype": item.dtype,
            "shape": list(item.shape or ()),
        }
        for item in planner.items
    ]
    # The planner built ``header`` afresh (and refuses a tree that contains itself): no cycle
    # for the encoder to look for.
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
                      check_circular=False)
    raw = text.encode("ascii")
    padded = raw + b" " * padding(len(raw), align)
    return SfsPlan(
        header=padded,
        items=tuple(planner.items),
        size=len(padded) + planner.next_offset,
        align=align,
        sources=tuple(planner.sources),
    )


def plan_sfs(tree: Mapping[str, Any], *, align: int = 64) -> SfsPlan:
    """Check ``tree`` and lay it out as a .sfs file without writing anything.

    ``plan.size`` is the exact file size (for a ``Content-Length``); ``plan.write_to(stream)``
    or ``plan.iter_chunks()`` produce the bytes. Raises ``InputError`` naming the key path of a
    value that cannot be written.
    """
    return build_plan(tree, align, None)
