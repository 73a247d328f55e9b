"""The one module that imports ``rosbags``: a ROS 1 ``.bag``, a ROS 2 bag folder or an ``.mcap``.

``Bag`` opens any of the three with ``rosbags`` (``AnyReader`` for .bag files and ROS 2 bag
folders, its MCAP storage reader for a bare ``.mcap`` file), lists topics, yields raw messages in
log-time order and deserialises them. Every failure of the library (a truncated or corrupt file,
an undecodable message) becomes an ``InputError`` naming the recording, and where known the topic
and the time. ``rosbags`` is imported lazily: without the ``ros`` extra the error says so.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from sfs_kit._excerpt import excerpt
from sfs_kit._paths import open_input
from sfs_kit.capture.recording.direct import DirectReader, direct_reader
from sfs_kit.errors import InputError, MissingDependencyError, SfsKitError

__all__ = ["Bag", "RecordingKind", "TopicInfo", "header_of", "recording_kind"]

RecordingKind = Literal["ros1", "ros2", "mcap"]


def recording_kind(path: Path) -> RecordingKind | None:
    """``ros1`` for a ``.bag`` file, ``mcap`` for a ``.mcap`` file, ``ros2`` for a bag folder."""
    if path.is_file():
        suffix = path.suffix.lower()
        return "ros1" if suffix == ".bag" else "mcap" if suffix == ".mcap" else None
    if path.is_dir() and (path / "metadata.yaml").is_file():
        return "ros2"
    return None


# what rebuilds a recording whose index (written last) was lost, e.g. when the recorder died
_REPAIR = {
    "ros1": "a bag cut short before its index was written can be re-indexed with `rosbag "
    "reindex` (ROS 1), keeping every complete chunk",
    "mcap": "an MCAP file cut short before its summary can be rewritten with `mcap recover "
    "FILE -o FIXED.mcap` (the mcap CLI), keeping every complete chunk",
    "sqlite3": "a damaged ROS 2 sqlite3 bag can be salvaged with `sqlite3 FILE.db3 .recover`, "
    "and its metadata.yaml rebuilt with `ros2 bag reindex`",
}


def _import(name: str, source: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise MissingDependencyError(
            f"Reading ROS recordings ({source!r}) needs rosbags: pip install 'sfs_kit[ros]'.",
            source=source,
        ) from err


@dataclass(frozen=True)
class TopicInfo:
    """One topic: its message type (``pkg/msg/Name``) and message count."""

    name: str
    msgtype: str
    count: int


def header_of(raw: bytes | memoryview, *, cdr: bool, where: str) -> tuple[int, str]:
    """``(header.stamp in ns, header.frame_id)`` of a serialised message that starts with a Header.

    ROS 1: ``uint32 seq, uint32 sec, uint32 nsec, string frame_id``; CDR: a 4-byte encapsulation
    header, then ``int32 sec, uint32 nanosec, string frame_id`` (NUL-terminated). Read from the
    bytes, so indexing a recording never deserialises a whole cloud.
    """
    try:
        if cdr:
            order = ">" if raw[1] == 0 else "<"
            sec, nsec, size = struct.unpack_from(order + "iII", raw, 4)
            frame = bytes(raw[16 : 16 + max(size - 1, 0)])
        else:
            sec, nsec, size = struct.unpack_from("<III", raw, 4)
            frame = bytes(raw[16 : 16 + size])
        if 16 + size > len(raw):
            raise struct.error("frame_id runs past the message")
        return sec * 1_000_000_000 + nsec, frame.decode("utf-8", errors="replace")
    except (struct.error, IndexError) as err:
        raise InputError(
            f"{where}: the message is too short for a std_msgs/Header ({len(raw)} bytes): {err}.",
            source=where,
            field="header",
        ) from err


def _typestore_from(connections: Sequence[Any], default: Any, source: str) -> Any:
    """A typestore with every message definition embedded in the file (as ``AnyReader`` does)."""
    typesys = _import("rosbags.typesys", source)
    interfaces = _import("rosbags.interfaces", source)
    fmt = interfaces.MessageDefinitionFormat
    types: dict[str, Any] = dict(default.fielddefs)
    for conn in connections:
        if conn.msgdef.format == fmt.MSG:
            types.update(typesys.get_types_from_msg(conn.msgdef.data, conn.msgtype))
        elif conn.msgdef.format == fmt.IDL:
            sep = "=" * 80 + "\n"
            for part in conn.msgdef.data.split(sep):
                text = part.split("\n", 1)[1] if part.startswith("IDL: ") else part
                if text.strip():
                    types.update(typesys.get_types_from_idl(text))
    store = typesys.get_typestore(typesys.Stores.EMPTY)
    store.register(types)
    return store


def _redefined(fielddefs: dict[str, Any], default: dict[str, Any]) -> dict[str, str]:
    """Standard types the recording defines differently, each with what differs.

    A recording embeds its own message definitions; when one of a standard type lacks (or
    retypes) a standard field, messages decode into objects without the fields we read. Extra
    fields are allowed (forks add some); missing or retyped ones make the type unreadable.
    """
    out: dict[str, str] = {}
    for name, (_, fields) in default.items():
        ours = fielddefs.get(name)
        if ours is None:
            continue
        have = dict(ours[1])
        for field, desc in fields:
            if field not in have:
                out[name] = f"field {excerpt(field, 40)} is missing"
                break
            if have[field] != desc:
                out[name] = f"field {excerpt(field, 40)} has another type"
                break
    return out


def _nested(fielddefs: dict[str, Any], msgtype: str) -> Iterator[str]:
    """``msgtype`` and every type its fields name, each once (depth first)."""
    seen: set[str] = set()
    todo = [msgtype]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        yield name
        for _, desc in fielddefs.get(name, ((), ()))[1]:
            todo.extend(_names(desc))


def _names(desc: Any) -> Iterator[str]:
    """Type names inside one field descriptor (a name, or an array/sequence of one)."""
    if isinstance(desc, str):
        yield desc
    elif isinstance(desc, tuple):
        for part in desc:
            yield from _names(part)


class Bag:
    """An open recording; use as a context manager (``close`` releases the file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        kind = recording_kind(path)
        if kind is None:
            raise InputError(
                f"{self.name!r} is not a ROS recording (a .bag, a .mcap or a folder with "
                f"metadata.yaml).",
                source=self.name,
            )
        self.kind: RecordingKind = kind
        self.cdr = kind != "ros1"
        for part in sorted(path.iterdir()) if path.is_dir() else [path]:
            if not part.is_dir():  # a FIFO would block the reader for ever: regular files only
                open_input(part, what="recording file").close()
        typesys = _import("rosbags.typesys", self.name)
        default = typesys.get_typestore(
            typesys.Stores.ROS1_NOETIC if kind == "ros1" else typesys.Stores.ROS2_HUMBLE
        )
        self._reader: Any = None
        self._redefined: dict[str, str] = {}
        self._direct: DirectReader | bool | None = False  # False: not looked at yet
        try:
            if kind == "mcap":
                mcap = _import("rosbags.rosbag2.storage_mcap", self.name)
                self._reader = mcap.McapReader(path)
                self._reader.open()
                self.connections: list[Any] = list(self._reader.connections)
                self.typestore = _typestore_from(self.connections, default, self.name)
                meta = self._reader.metadata
                self.start_ns, self.end_ns = int(meta.start_time), int(meta.end_time)
            else:
                highlevel = _import("rosbags.highlevel", self.name)
                self._reader = highlevel.AnyReader([path], default_typestore=default)
                self._reader.open()
                self.connections = list(self._reader.connections)
                self.typestore = self._reader.typestore
                if self.connections:
                    self.start_ns = int(self._reader.start_time)
                    self.end_ns = int(self._reader.end_time)
                else:
                    self.start_ns = self.end_ns = 0
            self._redefined = _redefined(dict(self.typestore.fielddefs), dict(default.fielddefs))
        except BaseException as err:
            self._close_quietly()
            if isinstance(err, SfsKitError) or not isinstance(err, Exception):
                raise
            detail = " ".join(str(err).split()).rstrip(".") or "no detail"
            raise InputError(
                f"Cannot open recording {self.name!r} ({kind}): it is truncated, unindexed or "
                f"corrupt ({type(err).__name__}: {excerpt(detail, 160)}); "
                f"{_REPAIR[self._storage_kind(kind)]}.",
                source=self.name,
            ) from err

    def _storage_kind(self, kind: RecordingKind) -> str:
        """``ros1``, ``mcap`` or ``sqlite3``: the container whose repair tool to suggest."""
        if kind != "ros2":
            return kind
        return "mcap" if any(self.path.glob("*.mcap")) else "sqlite3"

    def direct(self) -> DirectReader | None:
        """Offset reads of this recording's messages, when its storage is uncompressed."""
        if self._direct is False:
            self._direct = direct_reader(self.kind, self.name, self._reader)
        return self._direct if isinstance(self._direct, DirectReader) else None

    def close(self) -> None:
        """Release the file(s)."""
        if isinstance(self._direct, DirectReader):
            self._direct.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def _close_quietly(self) -> None:
        """Release whatever a failed open had acquired (a half-open reader may not close)."""
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is None:
            return
        try:
            reader.close()
        except Exception:  # noqa: BLE001 - it failed to open; closing is best effort
            for attr in ("bio", "_file", "file", "fh"):
                close = getattr(getattr(reader, attr, None), "close", None)
                if callable(close):
                    close()

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topics(self) -> dict[str, TopicInfo]:
        """Every topic by name (a topic on several connections is summed)."""
        out: dict[str, TopicInfo] = {}
        for conn in self.connections:
            prev = out.get(conn.topic)
            try:
                count = int(conn.msgcount) + (prev.count if prev else 0)
            except (TypeError, ValueError, OverflowError) as err:
                raise InputError(
                    f"Recording {self.name!r}: topic {excerpt(conn.topic, 80)} has the message "
                    f"count {excerpt(str(conn.msgcount), 24)}, not a whole number; is its "
                    "index (metadata.yaml) corrupt?",
                    source=self.name,
                    field=conn.topic,
                ) from err
            out[conn.topic] = TopicInfo(conn.topic, str(conn.msgtype), count)
        return dict(sorted(out.items()))

    def messages(
        self, topics: Sequence[str], *, start_ns: int | None = None, stop_ns: int | None = None
    ) -> Iterator[tuple[str, str, int, bytes]]:
        """``(topic, msgtype, log time ns, raw bytes)`` in log-time order; stop is exclusive."""
        wanted = set(topics)
        conns = [c for c in self.connections if c.topic in wanted]
        if not conns:
            return
        topic, when = "", start_ns
        try:
            for conn, log_ns, raw in self._reader.messages(
                connections=conns, start=start_ns, stop=stop_ns
            ):
                topic, when = conn.topic, log_ns
                yield conn.topic, str(conn.msgtype), int(log_ns), raw
        except SfsKitError:
            raise
        except Exception as err:
            names = sorted({c.topic for c in conns})
            reading = names[0] if len(names) == 1 else f"{len(names)} topics ({', '.join(names)})"
            after = f" after {topic} at {when} ns" if topic else ""
            at = f" from {start_ns} ns" if start_ns is not None and not topic else ""
            raise InputError(
                f"Recording {self.name!r}: reading {reading}{at} failed{after} "
                f"({type(err).__name__}: {str(err).rstrip('.') or 'no detail'}); is it "
                f"truncated or corrupt?",
                source=self.name,
                field=topic or names[0],
            ) from err

    def _bad_type(self, msgtype: str) -> tuple[str, str] | None:
        """The first redefined standard type ``msgtype`` uses, with what differs, if any."""
        if not self._redefined:
            return None
        for name in _nested(self.typestore.fielddefs, msgtype):
            if name in self._redefined:
                return name, self._redefined[name]
        return None

    def has_type(self, msgtype: str) -> bool:
        """True when the typestore can deserialise ``msgtype``."""
        return msgtype in self.typestore.fielddefs

    def deserialize(self, raw: bytes | memoryview, msgtype: str, *, where: str) -> Any:
        """The message object; an undecodable message is an ``InputError`` naming ``where``.

        CDR bytes go in as a ``memoryview``: ``rosbags`` slices off the 4-byte encapsulation
        header, which copies a ``bytes`` whole (4 MB per cloud); the message's arrays are then
        views of ``raw`` itself."""
        bad = self._bad_type(msgtype)
        if bad is not None:
            raise InputError(
                f"{where}: cannot read its {msgtype} messages: the recording defines {bad[0]} "
                f"unlike the standard ({bad[1]}); is the file corrupt?",
                source=self.name,
                field="message definition",
            )
        try:
            if self.cdr:
                return self.typestore.deserialize_cdr(memoryview(raw), msgtype)
            return self.typestore.deserialize_ros1(raw, msgtype)
        except Exception as err:
            raise InputError(
                f"{where}: cannot decode the {msgtype} message ({type(err).__name__}: "
                f"{str(err).rstrip('.') or 'no detail'}).",
                source=self.name,
                field="message",
            ) from err
