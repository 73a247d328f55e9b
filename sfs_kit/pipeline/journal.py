"""The pipeline's resumable journal: one msgpack record per finished step, fsynced as written.

Byte layout (little-endian)::

    file    = magic record*
    magic   = b"SFSKJNL1"                       8 bytes; a file shorter than this is empty
    record  = b"RC" length:u32 crc32:u32 payload
    payload = msgpack map {"step": str, "deps": {str: str}, "data": {...}, "time_s": float}

``crc32`` is ``zlib.crc32(payload)``. Reading stops at the end of the last whole record. A last
record that is cut short (a crash while appending) or whose checksum fails with nothing after it
means "that step did not finish": it is dropped (and cut off before the next append), not an
error. A bad record *followed by more bytes* is corruption and raises ``JournalFormatError`` naming
the file and the byte offset. ``deps`` holds the content hashes the step depended on; a record
counts only while they still match (``Journal.find``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from sfs_kit._paths import read_input
from sfs_kit.errors import InputError, JournalFormatError, OutputError

__all__ = ["JOURNAL_MAGIC", "Journal", "JournalRecord", "read_journal"]

log = logging.getLogger(__name__)

JOURNAL_MAGIC = b"SFSKJNL1"
_RECORD_TAG = b"RC"
_HEAD = struct.Struct("<2sII")
_MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class JournalRecord:
    """One finished step: its name, the hashes it depended on, what it produced, when it ended."""

    step: str
    deps: Mapping[str, str]
    data: Mapping[str, Any]
    time_s: float
    offset: int = field(default=0, compare=False)


def _decode_payload(payload: bytes, source: str, offset: int) -> JournalRecord:
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as err:
        raise JournalFormatError(
            f"Journal {source!r} record at byte {offset} is not valid msgpack ({err}).",
            source=source, offset=offset,
        ) from err
    if not isinstance(obj, dict):
        raise JournalFormatError(
            f"Journal {source!r} record at byte {offset} is a {type(obj).__name__}, "
            f"expected a map.",
            source=source, offset=offset,
        )
    step, deps, data, time_s = obj.get("step"), obj.get("deps"), obj.get("data"), obj.get("time_s")
    if (
        not isinstance(step, str)
        or not isinstance(deps, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in deps.items())
        or not isinstance(data, dict)
        or not isinstance(time_s, float | int)
    ):
        raise JournalFormatError(
            f"Journal {source!r} record at byte {offset} lacks a str 'step', a str->str 'deps', "
            f"a map 'data' or a number 'time_s'.",
            source=source, offset=offset,
        )
    return JournalRecord(step, deps, data, float(time_s), offset)


def read_journal(path: str | os.PathLike[str]) -> tuple[list[JournalRecord], int]:
    """All finished records of the journal at ``path`` and the byte offset where they end.

    A missing file, or one shorter than the magic, is an empty journal. A torn last record is
    dropped (see the module docstring); anything else malformed raises ``JournalFormatError``.
    """
    source = os.fspath(path)
    if not os.path.lexists(source):
        return [], 0
    try:  # a regular file only: a FIFO would block, /dev/zero never end
        blob = read_input(source, what="journal")
    except InputError as err:
        raise JournalFormatError(str(err), source=source) from err
    if len(blob) < len(JOURNAL_MAGIC):
        if JOURNAL_MAGIC.startswith(blob):
            return [], 0
        raise JournalFormatError(
            f"Journal {source!r} does not start with {JOURNAL_MAGIC!r}; found {blob[:8]!r}.",
            source=source, offset=0,
        )
    if not blob.startswith(JOURNAL_MAGIC):
        raise JournalFormatError(
            f"Journal {source!r} does not start with {JOURNAL_MAGIC!r}; found {blob[:8]!r}.",
            source=source, offset=0,
        )
    records: list[JournalRecord] = []
    pos = len(JOURNAL_MAGIC)
    end = len(blob)
    while pos < end:
        if end - pos < _HEAD.size:
            if _RECORD_TAG.startswith(blob[pos : pos + 2]):
                log.info("journal %s: dropping a torn record header at byte %d", source, pos)
                break
            raise JournalFormatError(
                f"Journal {source!r} has {blob[pos:pos + 2]!r} at byte {pos}, expected record "
                f"tag {_RECORD_TAG!r}.",
                source=source, offset=pos,
            )
        tag, length, crc = _HEAD.unpack_from(blob, pos)
        if tag != _RECORD_TAG:
            raise JournalFormatError(
                f"Journal {source!r} has {tag!r} at byte {pos}, "
                f"expected record tag {_RECORD_TAG!r}.",
                source=source, offset=pos,
            )
        if length > _MAX_RECORD_BYTES:
            raise JournalFormatError(
                f"Journal {source!r} record at byte {pos} claims {length} bytes, more than the "
                f"limit of {_MAX_RECORD_BYTES}.",
                source=source, offset=pos,
            )
        start = pos + _HEAD.size
        stop = start + length
        if stop > end:
            log.info("journal %s: dropping a torn record at byte %d", source, pos)
            break
        payload = blob[start:stop]
        if zlib.crc32(payload) != crc:
            if stop == end:
                log.warning("journal %s: last record at byte %d fails its checksum; "
                            "treating that step as unfinished", source, pos)
                break
            raise JournalFormatError(
                f"Journal {source!r} record at byte {pos} fails its CRC-32 check "
                f"(stored {crc:#010x}, computed {zlib.crc32(payload):#010x}).",
                source=source, offset=pos,
            )
        records.append(_decode_payload(payload, source, pos))
        pos = stop
    return records, pos


class Journal:
    """An append-only journal; ``open`` reads it and cuts off any torn tail before appending."""

    def __init__(self, path: Path, records: list[JournalRecord], end: int) -> None:
        self.path = path
        self._records = records
        self._end = end

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Journal:
        """Read the journal at ``path``, ready to append (the file is created by the first
        ``append``, so a run that fails before finishing a step leaves none); a corrupt one
        raises ``JournalFormatError`` saying that deleting it is safe."""
        target = Path(path)
        try:
            records, end = read_journal(target)
        except JournalFormatError as err:
            raise JournalFormatError(
                f"{str(err).rstrip('.')}. Deleting the journal is safe: the run starts over, "
                f"identical objects are not uploaded again, and the task's unique_id prevents a "
                f"second task.", source=err.source, offset=err.offset, key=err.key,
            ) from err
        if end != 0 and target.stat().st_size != end:
            try:
                with target.open("r+b") as fh:
                    fh.truncate(end)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as err:
                raise OutputError(f"Cannot cut the torn last record off the journal "
                                  f"{str(target)!r}: {err.strerror or err}.",
                                  path=str(target)) from err
        return cls(target, records, end)

    def _write(self, blob: bytes) -> None:
        """Append ``blob`` durably; on an OS failure (disk full) undo it and raise
        ``OutputError``: a journal that was being created is removed, not left empty."""
        creating = self._end == 0
        try:
            if creating:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("wb" if creating else "ab") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as err:
            with contextlib.suppress(OSError):
                if creating:
                    self.path.unlink(missing_ok=True)
                else:
                    os.truncate(self.path, self._end)
            raise OutputError(
                f"Cannot write the journal {str(self.path)!r}: {err.strerror or err}; the run "
                "stopped before recording this step, so running it again resumes from here.",
                path=str(self.path)) from err

    @property
    def records(self) -> list[JournalRecord]:
        """Every finished record, oldest first."""
        return list(self._records)

    def find(self, step: str, deps: Mapping[str, str] | None = None) -> JournalRecord | None:
        """The newest record of ``step`` whose deps equal ``deps`` (any deps when ``None``)."""
        for record in reversed(self._records):
            if record.step == step and (deps is None or dict(record.deps) == dict(deps)):
                return record
        return None

    def append(
        self, step: str, deps: Mapping[str, str], data: Mapping[str, Any]
    ) -> JournalRecord:
        """Write one record, flush and fsync it, and return it."""
        return self.append_many([(step, deps, data)])[0]

    def append_many(
        self, entries: Sequence[tuple[str, Mapping[str, str], Mapping[str, Any]]]
    ) -> list[JournalRecord]:
        """Write several records with one write and one fsync (all of them, or, after a crash, a
        prefix: each record keeps its own checksum)."""
        time_s = time.time()
        frames: list[bytes] = []
        records: list[JournalRecord] = []
        end = self._end
        for step, deps, data in entries:
            payload = msgpack.packb(
                {"step": step, "deps": dict(deps), "data": dict(data), "time_s": time_s},
                use_bin_type=True,
            )
            frame = _HEAD.pack(_RECORD_TAG, len(payload), zlib.crc32(payload)) + payload
            if end == 0:  # the first record: the file starts now, magic first
                frame = JOURNAL_MAGIC + frame
            frames.append(frame)
            records.append(JournalRecord(step, dict(deps), dict(data), time_s,
                                         max(end, len(JOURNAL_MAGIC))))
            end += len(frame)
        if frames:
            self._write(b"".join(frames))
        self._end = end
        self._records.extend(records)
        return records
