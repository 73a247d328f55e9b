"""Incremental .sfs writer for converters that produce arrays one frame at a time.

Arrays go to a spool file in the destination directory as soon as they are added (already
padded, so the spool is a ready-made binary section); ``finish(tree)`` then writes the header to
a temp file and appends the spooled bytes with ``os.copy_file_range`` (an in-kernel copy, a
reflink on btrfs/xfs), falling back to ``pread``/``write``. Items are laid out in tree order, so
the result is byte-identical to ``write_sfs_dict`` of the same tree.
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

from sfs_kit.codecs._sfs_common import check_align, padding
from sfs_kit.codecs._sfs_plan import (
    CHUNK_BYTES,
    SfsArrayRef,
    build_plan,
    bytes_as_array,
    check_array,
    iter_array_chunks,
    write_all,
)
from sfs_kit.codecs._sfs_write import atomic_output
from sfs_kit.errors import InputError

__all__ = ["SfsAppendWriter"]

logger = logging.getLogger(__name__)

_FALLBACK_ERRNOS: Final[frozenset[int]] = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM}
)


def _remove_spool(stream: IO[bytes], path: Path) -> None:
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


class SfsAppendWriter:
    """Write a .sfs file whose arrays arrive one at a time, without holding them in memory.

    ``ref = w.add_array(arr)`` spools the array now and returns a placeholder to put in the
    tree; ``w.finish(tree)`` writes the file atomically and returns its size. ``abort()`` (or
    leaving a ``with`` block without ``finish``) removes everything.
    """

    def __init__(self, dest: str | os.PathLike[str], *, align: int = 64) -> None:
        self._align = check_align(align)
        self._dest = Path(os.fspath(dest))
        self._spool_path = self._dest.with_name(f".{self._dest.name}.{secrets.token_hex(6)}.spool")
        fd = os.open(self._spool_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._spool: IO[bytes] = open(fd, "w+b", buffering=0)  # noqa: SIM115 - closed by finish/abort
        self._spool_size = 0
        self._count = 0
        self._state = "open"
        self._cleanup = weakref.finalize(self, _remove_spool, self._spool, self._spool_path)

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
        """Spool ``array`` (little-endian, C order, padded) and return its placeholder."""
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
        try:
            for chunk in iter_array_chunks(checked):
                write_all(self._spool, chunk)
            write_all(self._spool, bytes(padding(checked.nbytes, self._align)))
        except BaseException:
            self.abort()
            raise
        self._spool_size += checked.nbytes + padding(checked.nbytes, self._align)
        ref = SfsArrayRef(
            self, self._count, checked.dtype.name, tuple(checked.shape), checked.nbytes, start
        )
        self._count += 1
        return ref

    def finish(self, tree: Mapping[str, Any]) -> int:
        """Write header plus data atomically to the destination; return the file size.

        An ``InputError`` from checking the tree leaves the writer open (fix the tree and call
        again); any failure while writing aborts it.
        """
        self._check_open("finish")
        plan = build_plan(tree, self._align, self)
        try:
            with atomic_output(self._dest) as out:
                write_all(out, plan.header)
                write_all(out, bytes(self._align))
                src, dst = self._spool.fileno(), out.fileno()
                run_start, run_end = 0, 0
                for item, source in zip(plan.items, plan.sources, strict=True):
                    pad = padding(item.length, self._align)
                    if isinstance(source, SfsArrayRef):
                        if source.spool_offset != run_end:
                            _copy_range(src, dst, run_start, run_end - run_start)
                            run_start = source.spool_offset
                        run_end = source.spool_offset + item.length + pad
                        continue
                    _copy_range(src, dst, run_start, run_end - run_start)
                    run_start = run_end = 0
                    for chunk in iter_array_chunks(source):
                        write_all(out, chunk)
                    write_all(out, bytes(pad))
                _copy_range(src, dst, run_start, run_end - run_start)
        except BaseException:
            self.abort()
            raise
        self._close("finished")
        return plan.size

    def abort(self) -> None:
        """Discard everything spooled; the destination is left untouched. Safe to call twice."""
        if self._state == "open":
            self._close("aborted")

    def _close(self, state: str) -> None:
        self._state = state
        self._cleanup()
