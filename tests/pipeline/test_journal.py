"""The msgpack journal: round trip, torn tails at every offset, corruption in the middle."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack
import pytest

from sfs_kit.errors import JournalFormatError
from sfs_kit.pipeline.journal import JOURNAL_MAGIC, Journal, read_journal


def _write_three(path: Path) -> list[int]:
    """A journal with three records; returns the byte offset after each record."""
    journal = Journal.open(path)
    ends = []
    for i, step in enumerate(("convert", "upload", "submit")):
        journal.append(step, {"input": f"h{i}"}, {"n": i, "blob": b"\x00\x01", "list": [1.5, "x"]})
        ends.append(path.stat().st_size)
    return ends


def test_round_trip_and_find(tmp_path: Path) -> None:
    path = tmp_path / "j.msgpack"
    _write_three(path)
    journal = Journal.open(path)
    assert [r.step for r in journal.records] == ["convert", "upload", "submit"]
    found = journal.find("upload", {"input": "h1"})
    assert found is not None
    assert found.data == {"n": 1, "blob": b"\x00\x01", "list": [1.5, "x"]}
    assert journal.find("upload", {"input": "other"}) is None
    assert journal.find("missing") is None


def test_find_returns_newest_match(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j")
    journal.append("s", {"a": "1"}, {"v": 1})
    journal.append("s", {"a": "1"}, {"v": 2})
    record = Journal.open(tmp_path / "j").find("s", {"a": "1"})
    assert record is not None
    assert record.data == {"v": 2}


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "nope") == ([], 0)


def test_truncated_at_every_offset_resumes(tmp_path: Path) -> None:
    """A cut anywhere keeps exactly the whole records before it, and appending still works."""
    path = tmp_path / "full"
    ends = _write_three(path)
    blob = path.read_bytes()
    for cut in range(len(blob) + 1):
        part = tmp_path / "part"
        part.write_bytes(blob[:cut])
        records, _ = read_journal(part)
        expected = sum(1 for end in ends if end <= cut)
        assert len(records) == expected, cut
        journal = Journal.open(part)
        journal.append("after", {}, {"cut": cut})
        again, end = read_journal(part)
        assert [r.step for r in again] == [*["convert", "upload", "submit"][:expected], "after"]
        assert end == part.stat().st_size


def test_corrupt_crc_in_middle_raises_with_offset(tmp_path: Path) -> None:
    path = tmp_path / "j"
    ends = _write_three(path)
    blob = bytearray(path.read_bytes())
    blob[ends[0] - 1] ^= 0xFF  # last payload byte of the first record
    path.write_bytes(bytes(blob))
    with pytest.raises(JournalFormatError, match=r"j' record at byte 8 fails its CRC") as info:
        read_journal(path)
    assert info.value.offset == len(JOURNAL_MAGIC)
    assert info.value.source == str(path)


def test_corrupt_last_record_checksum_is_unfinished(tmp_path: Path) -> None:
    path = tmp_path / "j"
    ends = _write_three(path)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    records, end = read_journal(path)
    assert [r.step for r in records] == ["convert", "upload"]
    assert end == ends[1]


def test_bad_tag_in_middle_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    ends = _write_three(path)
    blob = bytearray(path.read_bytes())
    blob[ends[0]] = ord("X")
    path.write_bytes(bytes(blob))
    with pytest.raises(JournalFormatError, match=rf"b'XC' at byte {ends[0]}, expected record tag"):
        read_journal(path)


def test_garbage_short_tail_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    _write_three(path)
    path.write_bytes(path.read_bytes() + b"zz")
    with pytest.raises(JournalFormatError, match=r"has b'zz' at byte \d+, expected record tag"):
        read_journal(path)


def test_wrong_magic_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b"NOTAJOURNAL")
    with pytest.raises(JournalFormatError, match=r"start with b'SFSKJNL1'; found b'NOTAJOUR'"):
        read_journal(path)
    path.write_bytes(b"NOT")
    with pytest.raises(JournalFormatError, match=r"does not start with b'SFSKJNL1'; found b'NOT'"):
        Journal.open(path)


def _frame(payload: bytes) -> bytes:
    return struct.pack("<2sII", b"RC", len(payload), zlib.crc32(payload)) + payload


def test_oversized_length_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(JOURNAL_MAGIC + struct.pack("<2sII", b"RC", 2**31, 0) + b"x" * 10)
    with pytest.raises(JournalFormatError, match=r"record at byte 8 claims 2147483648 bytes"):
        read_journal(path)


def test_payload_not_msgpack_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(JOURNAL_MAGIC + _frame(b"\xc1"))
    with pytest.raises(JournalFormatError, match=r"record at byte 8 is not valid msgpack"):
        read_journal(path)


def test_payload_not_map_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(JOURNAL_MAGIC + _frame(msgpack.packb([1, 2])))
    with pytest.raises(JournalFormatError, match=r"record at byte 8 is a list, expected a map"):
        read_journal(path)


def test_payload_missing_fields_raises(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(JOURNAL_MAGIC + _frame(msgpack.packb({"step": "x", "deps": {"a": 1}})))
    with pytest.raises(JournalFormatError, match=r"lacks a str 'step', a str->str 'deps'"):
        read_journal(path)


def test_unreadable_path_raises(tmp_path: Path) -> None:
    with pytest.raises(JournalFormatError, match=r"Cannot read journal '.*': it is a folder"):
        read_journal(tmp_path)
