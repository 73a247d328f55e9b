"""Incremental .sfs writer for converters that produce arrays one frame at a time.

Two ways to place the binary section, chosen by ``reserve_header_bytes``:

- **Reserved header** (``reserve_header_bytes=n``): the writer opens the final temp file in the
  destination directory at once, keeps ``[0, R)`` free (R = n rounded up to a multiple of
  ``align``), writes the ``align`` sentinel zero bytes at R and each array after it as it is
  added. ``finish(tree)`` writes the header into ``[0, R)``, padded with ASCII spaces (JSON
  whitespace, so more than ``align`` of them is legal), and renames the file into place: every
  array byte is written once. Item offsets stay relative to H = R, so only the header padding
  differs from ``write_sfs_dict`` of the same tree (byte-identical when R equals its H).
- **Spool** (no reservation, or the finished header needs more than R bytes, or the tree does not
  use the added arrays once each in the order they were added): the added arrays sit in a spool
  file (or in the reserved file), and ``finish`` writes the header to a new temp file and appends
  the spooled bytes in tree order with ``os.copy_file_range`` (an in-kernel copy, a reflink on
  btrfs/xfs), falling back to ``pread``/``write``. The result is byte-identical to
  ``write_sfs_dict`` of the same tree.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import numpy as np

from sfs_kit._atomic import atomic_output, hold
from sfs_kit.codecs._output import check_output_file, output_errors
from sfs_kit.codecs._sfs_common import check_align, padding
from sfs_kit.codecs._sfs_plan import (
    CHUNK_BYTES,
    SfsArrayRef,
    SfsPlan,
    build_plan,
    bytes_as_array,
    check_array,
    iter_array_chunks,
    write_all,
)
from sfs_kit.errors import InputError

__all__ = ["SfsAppendWriter"]

logger = logging.getLogger(__name__)

_FALLBACK_ERRNOS: Final[frozenset[int]] = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}
)


def _remove_data_file(stream: IO[bytes], path: Path) -> None:
    stream.close()
    path.unlink(missing_ok=True)


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """Append ``count`` bytes of ``src`` from ``offset`` at ``dst``'s position."""
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is not None:
        try:
            while count:
                done = copy_file_range(src, dst, count, offset)
                if done == 0:
                    break
                offset += done
                count -= done
        except OSError as err:
            if err.errno not in _FALLBACK_ERRNOS:
                raise
    while count:
        data = os.pread(src, min(count, CHUNK_BYTES), offset)
        if not data:
            raise OSError(errno.EIO, "The .sfs spool file ended early.")
        view = memoryview(data)
        while view.nbytes:
            view = view[os.write(dst, view) :]
        offset += len(data)
        count -= len(data)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view.nbytes:
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done


def _check_reserve(reserve: object, align: int) -> int:
    """The reserved header length R: ``reserve`` rounded up to a multiple of ``align`` (0: none)."""
    if reserve is None:
        return 0
    if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 1:
        msg = f"reserve_header_bytes must be a positive int or None, not {reserve!r}."
        raise InputError(msg, field="reserve_header_bytes")
    return -(-reserve // align) * align


class SfsAppendWriter:
    """Write a .sfs file whose arrays arrive one at a time, without holding them in memory.

    ``ref = w.add_array(arr)`` writes the array now and returns a placeholder to put in the
    tree; ``w.finish(tree)`` writes the file atomically and returns its size. ``abort()`` (or
    leaving a ``with`` block without ``finish``) removes everything. ``reserve_header_bytes``
    (an estimate of the header's JSON length, generous is fine) lets the arrays be written in
    place after the header instead of being copied at ``finish`` (see the module docstring).
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        align: int = 64,
        reserve_header_bytes: int | None = None,
    ) -> None:
        self._align = check_align(align)
        self._reserved = _check_reserve(reserve_header_bytes, self._align)
        self._dest = check_output_file(dest)
        token = secrets.token_hex(6)
        if self._reserved:
            # the future output itself: created like atomic_output's temp file (0o666 - umask)
            self._data_path = self._dest.with_name(f".{self._dest.name}.{token}.tmp")
            mode = 0o666
        else:
            self._data_path = self._dest.with_name(f".{self._dest.name}.{token}.spool")
            mode = 0o600
        with output_errors(self._dest):
            fd = os.open(self._data_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        hold(fd)  # a killed writer's file is then known stale (sfs_kit._atomic.clean_stale)
        self._data: IO[bytes] = open(fd, "w+b", buffering=0)  # noqa: SIM115 - closed by finish/abort
        self._cleanup = weakref.finalize(self, _remove_data_file, self._data, self._data_path)
        self._state = "open"
        # file offset of spool offset 0: after the reserved header and the sentinel
        self._data_start = self._reserved + self._align if self._reserved else 0
        if self._reserved:
            try:
                with output_errors(self._dest):
                    self._data.seek(self._reserved)
                    write_all(self._data, bytes(self._align))
            except BaseException:
                self.abort()
                raise
        self._spool_size = 0
        self._count = 0

    def __enter__(self) -> SfsAppendWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._state == "open":
            if exc_type is None:
                logger.warning("SfsAppendWriter for %s left without finish().", self._dest)
            self.abort()

    def _check_open(self, action: str) -> None:
        if self._state != "open":
            dest = str(self._dest)
            msg = f"Cannot {action}: the SfsAppendWriter for {dest!r} is already {self._state}."
            raise InputError(msg, source=str(self._dest))

    def add_array(
        self, array: np.ndarray[Any, Any] | bytes | bytearray | memoryview
    ) -> SfsArrayRef:
        """Write ``array`` (little-endian, C order, padded) and return its placeholder."""
        self._check_open("add_array")
        value: object = array
        if isinstance(value, (bytes, bytearray, memoryview)):
            checked = bytes_as_array(value)
        elif isinstance(value, np.ndarray):
            checked = check_array(np.asarray(value), f"Array #{self._count}")
        else:
            msg = f"Array #{self._count} is a {type(value).__name__!r}, not an ndarray or bytes."
            raise InputError(msg, field=f"#{self._count}")
        start = self._spool_size
        pad = padding(checked.nbytes, self._align)
        try:
            with output_errors(self._dest):
                for chunk in iter_array_chunks(checked):
                    write_all(self._data, chunk)
                write_all(self._data, bytes(pad))
        except BaseException:
            self.abort()
            raise
        self._spool_size += checked.nbytes + pad
        ref = SfsArrayRef(
            self, self._count, checked.dtype.name, tuple(checked.shape), checked.nbytes, start
        )
        self._count += 1
        return ref

    def add_file(self, path: str | os.PathLike[str]) -> SfsArrayRef:
        """Copy a file's bytes in as one uint8 item (e.g. an encoded MP4), without reading it
        into memory: an in-kernel ``copy_file_range`` where the OS has it, else 1 MiB chunks."""
        self._check_open("add_file")
        name = os.fspath(path)
        try:
            src = os.open(name, os.O_RDONLY)
        except OSError as err:
            raise InputError(
                f"Cannot read {name!r} to add it: {err.strerror}.", source=name
            ) from err
        start = self._spool_size
        try:
            size = os.fstat(src).st_size
            if size == 0:
                raise InputError(f"{name!r} is empty; an item needs bytes.", source=name)
            pad = padding(size, self._align)
            with output_errors(self._dest):
                _copy_range(src, self._data.fileno(), 0, size)
                write_all(self._data, bytes(pad))
        except BaseException:
            self.abort()
            raise
        finally:
            os.close(src)
        self._spool_size += size + pad
        ref = SfsArrayRef(self, self._count, "uint8", (size,), size, start)
        self._count += 1
        return ref

    def finish(self, tree: Mapping[str, Any]) -> int:
        """Write the header (and any arrays given directly in ``tree``) atomically; return the size.

        An ``InputError`` from checking the tree leaves the writer open (fix the tree and call
        again); any failure while writing aborts it.
        """
        self._check_open("finish")
        plan = build_plan(tree, self._align, self)
        try:
            with output_errors(self._dest):
                if self._reserved and self._fits_in_place(plan):
                    size = self._finish_in_place(plan)
                else:
                    if self._reserved:
                        logger.info(
                            "The .sfs header for %s needs %d bytes (%d reserved) or the tree "
                            "reorders the arrays; copying the data after the header instead.",
                            self._dest,
                            len(plan.header),
                            self._reserved,
                        )
                    size = self._finish_by_copy(plan)
        except BaseException:
            self.abort()
            raise
        self._close("finished")
        return size

    def _fits_in_place(self, plan: SfsPlan) -> bool:
        """Whether the header fits in R and every item's planned offset is where it was written."""
        if len(plan.header) > self._reserved:
            return False
        written_end = self._align + self._spool_size
        for item, source in zip(plan.items, plan.sources, strict=True):
            if isinstance(source, SfsArrayRef):
                if item.offset != self._align + source.spool_offset:
                    return False
            elif item.offset < written_end:
                return False
        return True

    def _finish_in_place(self, plan: SfsPlan) -> int:
        out = self._data
        for item, source in zip(plan.items, plan.sources, strict=True):
            if not isinstance(source, SfsArrayRef):
                out.seek(self._reserved + item.offset)
                for chunk in iter_array_chunks(source):
                    write_all(out, chunk)
                write_all(out, bytes(padding(item.length, self._align)))
        size = self._reserved + plan.size - len(plan.header)
        fd = out.fileno()
        os.ftruncate(fd, size)  # drops arrays added after the last one the tree uses
        header = plan.header + b" " * (self._reserved - len(plan.header))
        _pwrite_all(fd, header, 0)
        out.close()
        os.replace(self._data_path, self._dest)
        return size

    def _finish_by_copy(self, plan: SfsPlan) -> int:
        with atomic_output(self._dest) as out:
            write_all(out, plan.header)
            write_all(out, bytes(self._align))
            src, dst, base = self._data.fileno(), out.fileno(), self._data_start
            run_start, run_end = 0, 0
            for item, source in zip(plan.items, plan.sources, strict=True):
                pad = padding(item.length, self._align)
                if isinstance(source, SfsArrayRef):
                    if source.spool_offset != run_end:
                        _copy_range(src, dst, base + run_start, run_end - run_start)
                        run_start = source.spool_offset
                    run_end = source.spool_offset + item.length + pad
                    continue
                _copy_range(src, dst, base + run_start, run_end - run_start)
                run_start = run_end = 0
                for chunk in iter_array_chunks(source):
                    write_all(out, chunk)
                write_all(out, bytes(pad))
            _copy_range(src, dst, base + run_start, run_end - run_start)
        return plan.size

    def abort(self) -> None:
        """Discard everything written; the destination is left untouched. Safe to call twice."""
        if self._state == "open":
            self._close("aborted")

    def _close(self, state: str) -> None:
        self._state = state
        self._cleanup()
