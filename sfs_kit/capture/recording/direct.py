"""Direct reads of uncompressed recordings: where each message is, its first bytes, its bytes.

``rosbags`` reads a message by reading (and for MCAP, scanning) its whole chunk, so indexing the
header stamps of a recording and then loading frames one by one would read every chunk several
times. The three containers' own indexes say where each message is: ROS 1 index records (chunk
position and offset), MCAP message indexes (chunk and offset) and the ROS 2 sqlite3 ``messages``
table (row id). For uncompressed storage this module reads a message's first bytes (its header)
or its bytes at that place, with one seek and one read; compressed chunks, per-message
compression or a file without indexes use the ``rosbags`` path instead (``direct_reader``
returns ``None`` for them). It builds on ``rosbags``' parsed indexes (pinned >= 0.11.9).

A caller that knows which message it will ask for next passes it (``data(..., then=ref)``): one
background thread reads it meanwhile (file and sqlite3 reads release the GIL), so reading the
next cloud or image overlaps decoding and writing this one. The reader is never used by two
threads at once: every read, and ``close``, first waits for the pending one.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from sfs_kit._excerpt import excerpt
from sfs_kit.errors import InputError

__all__ = ["DirectReader", "MessageRef", "direct_reader"]

MessageRef = tuple[int, int, int]
"""``(log time ns, storage index, file offset of the record or sqlite row id)``."""

_HEAD_BYTES = 512
_MCAP_DATA = 31  # opcode, length, channel id, sequence, log time, publish time
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_ROS1_MAX_HEADER = 1 << 20  # a message or connection record header is a few hundred bytes
_ROS1_MAX_SKIPS = 1 << 16  # connection records between an index entry and its message


def _detail(err: Exception) -> str:
    """An error's own text for a message: our ValueErrors as they are, others quoted."""
    text = str(err)
    return text if isinstance(err, ValueError) and text.isprintable() and len(text) < 120 else (
        excerpt(text, 120))


_Done = tuple[MessageRef, bytes | None, BaseException | None]


class _ReadAhead:
    """One read at a time in a background thread: the message a loader will ask for next."""

    def __init__(self, read: Callable[[MessageRef, str], bytes]) -> None:
        self._read = read
        self._jobs: queue.SimpleQueue[tuple[MessageRef, str] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self._pending: MessageRef | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            ref, topic = job
            try:
                self._done.put((ref, self._read(ref, topic), None))
            except BaseException as err:  # noqa: BLE001 - handed to the thread that wants the data
                self._done.put((ref, None, err))

    def start(self, ref: MessageRef, topic: str) -> None:
        """Read ``ref`` in the background (after ``settle``: one read is pending at most)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sfs-kit read-ahead",
                                            daemon=True)
            self._thread.start()
        self._pending = ref
        self._jobs.put((ref, topic))

    def settle(self) -> _Done | None:
        """Wait for the pending read and return it (``None`` when none is pending)."""
        while self._pending is not None:
            done = self._done.get()
            if done[0] == self._pending:  # else a stale result of an interrupted wait
                self._pending = None
                return done
        return None

    def close(self) -> None:
        """Wait for the pending read, then end the thread."""
        self.settle()
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None


class DirectReader:
    """Message refs by topic, and reads of their first bytes or whole data."""

    def __init__(self, kind: str, name: str, storages: list[Any]) -> None:
        self.kind = kind
        self.name = name
        self._storages = storages
        self._files: dict[int, IO[bytes]] = {}
        self._db: dict[int, sqlite3.Connection] = {}
        self._sizes: dict[int, int] = {}
        self._ahead = _ReadAhead(lambda ref, topic: self._read(ref, None, topic))

    # --- the index --------------------------------------------------------------------------

    def refs(self, topic: str) -> list[MessageRef] | None:
        """Every message of ``topic`` in log-time order, or ``None`` when one is compressed.

        A damaged index (a malformed sqlite3 file, an MCAP message index cut short) is an
        ``InputError`` naming the recording and the topic.
        """
        self._ahead.settle()
        out: list[MessageRef] = []
        for i, storage in enumerate(self._storages):
            try:
                found = {"ros1": self._ros1_refs, "mcap": self._mcap_refs,
                         "sqlite3": self._sqlite_refs}[self.kind](i, storage, topic)
            except (OSError, struct.error, sqlite3.Error, ValueError, KeyError) as err:
                raise InputError(
                    f"Recording {self.name!r}: the index of topic {topic} cannot be read "
                    f"({type(err).__name__}: {_detail(err)}); is the file truncated or "
                    "corrupt?",
                    source=self.name,
                    field=topic,
                ) from err
            if found is None:
                return None
            out.extend(found)
        out.sort()
        return out

    def _ros1_refs(self, i: int, reader: Any, topic: str) -> list[MessageRef] | None:
        from rosbags.rosbag1.reader import decompressors

        plain = decompressors["none"]
        out: list[MessageRef] = []
        for conn in reader.connections:
            if conn.topic != topic:
                continue
            for entry in reader.indexes[conn.id]:
                chunk = reader.chunks[entry.chunk_pos]
                if chunk.decompressor is not plain:
                    return None
                out.append((int(entry.time), i, int(chunk.datapos + entry.offset)))
        return out

    def _mcap_refs(self, i: int, reader: Any, topic: str) -> list[MessageRef] | None:
        ids = {c.id for c in reader.connections if c.topic == topic}
        if not reader.chunks:
            return None
        f = self._file(i, reader.path)
        out: list[MessageRef] = []
        for chunk in reader.chunks:
            wanted = [cid for cid in ids if cid in chunk.message_index_offsets]
            if not wanted:
                continue
            if chunk.compression:
                return None
            records = chunk.chunk_start_offset + 49 + len(chunk.compression)
            for cid in wanted:
                f.seek(chunk.message_index_offsets[cid])
                head = f.read(15)
                if len(head) < 15 or head[0] != 0x07:
                    return None
                size = _U32.unpack_from(head, 11)[0]
                if size > self._sizes[i]:
                    raise ValueError(f"a message index claims {size} bytes")
                pairs = f.read(size)
                out.extend(
                    (log_ns, i, records + offset)
                    for log_ns, offset in struct.iter_unpack("<QQ", pairs[: size - size % 16])
                )
        return out

    def _sqlite_refs(self, i: int, storage: Any, topic: str) -> list[MessageRef]:
        rows = self._conn(i, storage.path).execute(
            "SELECT m.timestamp, m.id FROM messages m JOIN topics t ON m.topic_id = t.id "
            "WHERE t.name = ? ORDER BY m.timestamp, m.id",
            (topic,),
        )
        out: list[MessageRef] = []
        for t, rowid in rows:  # sqlite is typeless: a damaged row can hold NULL, text, a float
            if type(t) is not int or type(rowid) is not int:
                raise ValueError(
                    f"message id {str(rowid)[:24]} has the timestamp {str(t)[:24]}, "
                    "not an integer"
                )
            out.append((t, i, rowid))
        return out

    # --- reads --------------------------------------------------------------------------------

    def head(self, ref: MessageRef, topic: str) -> bytes:
        """The first bytes of a message of ``topic`` (enough for its ``std_msgs/Header``)."""
        self._ahead.settle()
        return self._read(ref, _HEAD_BYTES, topic)

    def data(self, ref: MessageRef, topic: str, *, then: MessageRef | None = None) -> bytes:
        """The serialised bytes of a message of ``topic``; ``then``, the message of ``topic``
        the caller will ask for next, is read in the background meanwhile."""
        done = self._ahead.settle()
        if done is not None and done[0] == ref and done[2] is not None:
            raise done[2]
        data = done[1] if done is not None and done[0] == ref else None
        if data is None:
            data = self._read(ref, None, topic)
        if then is not None:
            self._ahead.start(then, topic)
        return data

    def _read(self, ref: MessageRef, limit: int | None, topic: str) -> bytes:
        log_ns, i, where = ref
        storage = self._storages[i]
        try:
            if self.kind == "sqlite3":
                return self._sqlite_read(i, storage, where, limit)
            f = self._file(i, storage.path)
            f.seek(where)
            if self.kind == "ros1":
                return self._ros1_read(f, limit, self._sizes[i])
            return self._mcap_read(f, limit, self._sizes[i])
        except (OSError, struct.error, sqlite3.Error, ValueError) as err:
            raise InputError(
                f"Recording {self.name!r}: the message of {topic} logged at {log_ns} ns cannot "
                f"be read at offset {where} ({type(err).__name__}: {err}); is the file "
                f"truncated or corrupt?",
                source=self.name,
                field=topic,
                offset=where,
            ) from err

    @staticmethod
    def _ros1_read(f: IO[bytes], limit: int | None, file_size: int) -> bytes:
        """The message data record at the file position, after any connection records.

        An index entry may point at connection records written into the chunk just before the
        message (``rosbags`` skips them the same way); they are stepped over.
        """
        for _ in range(_ROS1_MAX_SKIPS):
            fields = _ros1_fields(_exactly(f, _u32(f, "header length", _ROS1_MAX_HEADER),
                                           "record header"))
            size = _u32(f, "data length", file_size)
            op = fields.get(b"op")
            if op == b"\x07":  # a connection record: its data is the connection header
                f.seek(size, 1)
                continue
            if op != b"\x02":
                raise ValueError("the index does not point at a message record")
            if f.tell() + size > file_size:
                raise ValueError(f"the message needs {size} bytes past the end of the file")
            return _exactly(f, size if limit is None else min(size, limit), "message")
        raise ValueError(f"more than {_ROS1_MAX_SKIPS} connection records before the message")

    @staticmethod
    def _mcap_read(f: IO[bytes], limit: int | None, file_size: int) -> bytes:
        head = f.read(_MCAP_DATA + (limit or 0))
        if len(head) < _MCAP_DATA or head[0] != 0x05:
            raise ValueError("the message index does not point at a message record")
        size = _U64.unpack_from(head, 1)[0] - 22
        if size < 0 or f.tell() - len(head) + _MCAP_DATA + size > file_size:
            raise ValueError(f"the message record claims {size} bytes the file does not have")
        want = size if limit is None else min(size, limit)
        out = head[_MCAP_DATA : _MCAP_DATA + want]
        if len(out) < want:
            out += f.read(want - len(out))
        if len(out) < want:
            raise ValueError(f"the message needs {want} bytes, the file has {len(out)}")
        return out

    def _sqlite_read(self, i: int, storage: Any, rowid: int, limit: int | None) -> bytes:
        """The blob read straight into one buffer (a ``SELECT`` copies a 4 MB cloud twice)."""
        conn = self._conn(i, storage.path)
        with conn.blobopen("messages", "data", rowid, readonly=True) as blob:
            return blob.read(-1 if limit is None else limit)

    # --- files ----------------------------------------------------------------------------------

    def _file(self, i: int, path: Path) -> IO[bytes]:
        if i not in self._files:
            self._files[i] = Path(path).open("rb")  # noqa: SIM115 - closed by close()
            self._sizes[i] = os.fstat(self._files[i].fileno()).st_size
        return self._files[i]

    def _conn(self, i: int, path: Path) -> sqlite3.Connection:
        if i not in self._db:
            # no mmap_size: a mapped file cut short while read would be a SIGBUS, not an error
            # used by the read-ahead thread too, never by two threads at once (module docstring)
            self._db[i] = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True,
                                          check_same_thread=False)
        return self._db[i]

    def close(self) -> None:
        """Release the files (after the pending read, if any)."""
        self._ahead.close()
        for f in self._files.values():
            f.close()
        for c in self._db.values():
            c.close()
        self._files.clear()
        self._db.clear()


def _u32(f: IO[bytes], what: str, limit: int) -> int:
    """A little-endian uint32 at the file position, at most ``limit``."""
    value: int = _U32.unpack(_exactly(f, 4, what))[0]
    if value > limit:
        raise ValueError(f"{what} {value} exceeds {limit}")
    return value


def _exactly(f: IO[bytes], size: int, what: str) -> bytes:
    data = f.read(size)
    if len(data) < size:
        raise ValueError(f"the {what} needs {size} bytes, the file has {len(data)}")
    return data


def _ros1_fields(header: bytes) -> dict[bytes, bytes]:
    """A ROS 1 record header: ``len name=value`` fields."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos + 4 <= len(header):
        size = _U32.unpack_from(header, pos)[0]
        name, _, value = header[pos + 4 : pos + 4 + size].partition(b"=")
        out[name] = value
        pos += 4 + size
    return out


def direct_reader(kind: str, name: str, reader: Any) -> DirectReader | None:
    """A ``DirectReader`` over an open rosbags reader when its storage allows one, else ``None``."""
    try:
        if kind == "mcap":  # a bare .mcap: the storage reader itself
            return DirectReader("mcap", name, [reader])
        inner = reader.readers[0]
        if kind == "ros1":
            return DirectReader("ros1", name, list(reader.readers))
        if inner.compression_mode:  # "" or None: uncompressed
            return None
        storages: Iterable[Any] = inner.storage.storages
        kinds = {type(s).__name__ for s in storages}
        if kinds == {"McapReader"}:
            return DirectReader("mcap", name, list(storages))
        if kinds == {"Sqlite3Reader"}:
            return DirectReader("sqlite3", name, list(storages))
    except AttributeError:  # another rosbags layout: use its own reads
        return None
    return None
