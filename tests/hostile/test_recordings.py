"""Hostile recordings: a FIFO in a bag folder, a corrupt sqlite3 database: our one-line error,
never a hang or a sqlite3/rosbags traceback (scripts/fuzz_inputs.py mutates every container)."""

from __future__ import annotations

import gc
import os
import sqlite3
import warnings
from pathlib import Path

import pytest
from capture.recording.drive import DriveSpec, write_drive

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording.options import RecordingOptions
from sfs_kit.errors import InputError

OPTIONS = RecordingOptions(intensity_max={"/sensing/lidar/top/points": 65535.0})


def _convert(path: Path, out: Path) -> None:
    convert_capture(open_capture(path, recording=OPTIONS), out, format="sfs")


def test_a_fifo_in_a_bag_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    folder = write_drive(tmp_path / "drive_db3", "ros2", DriveSpec(sweeps=2))
    db3 = next(folder.glob("*.db3"))
    db3.unlink()
    os.mkfifo(db3)
    with pytest.raises(InputError, match="a FIFO; only regular files are read as inputs"):
        _convert(folder, tmp_path / "o.sfs")


def test_a_corrupt_sqlite_index_is_our_error(tmp_path: Path) -> None:
    folder = write_drive(tmp_path / "d", "ros2", DriveSpec(sweeps=2))
    db3 = next(folder.glob("*.db3"))
    with sqlite3.connect(db3) as db:  # the messages table's b-tree root page
        query = "SELECT rootpage FROM sqlite_master WHERE name = 'messages'"
        (root,) = db.execute(query).fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    data = bytearray(db3.read_bytes())
    data[(root - 1) * page_size] = 0x42  # not a b-tree page type: "disk image is malformed"
    db3.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"disk image is malformed") as info:
        _convert(folder, tmp_path / "o.sfs")
    assert "\n" not in str(info.value)



def test_a_null_timestamp_in_a_sqlite_bag_is_our_error(tmp_path: Path) -> None:
    folder = write_drive(tmp_path / "d", "ros2", DriveSpec(sweeps=2))
    db3 = next(folder.glob("*.db3"))
    with sqlite3.connect(db3) as db:  # sqlite is typeless once the NOT NULL constraint is gone
        db.executescript(
            "CREATE TABLE m2 AS SELECT * FROM messages; DROP TABLE messages;"
            "CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER, timestamp INTEGER,"
            " data BLOB); INSERT INTO messages SELECT * FROM m2; DROP TABLE m2;"
            "UPDATE messages SET timestamp = NULL WHERE id = (SELECT MAX(id) FROM messages);"
        )
    db.close()
    with pytest.raises(InputError, match=r"message id 24 has the timestamp None, not an integer"):
        _convert(folder, tmp_path / "o.sfs")


def test_a_message_count_that_is_not_a_number_is_our_error(tmp_path: Path) -> None:
    folder = write_drive(tmp_path / "d", "ros2", DriveSpec(sweeps=2))
    meta = folder / "metadata.yaml"
    text = meta.read_text()
    at = text.index("topics_with_message_count")
    meta.write_text(text[:at] + text[at:].replace("message_count: 1\n", "message_count: .inf\n", 1))
    with pytest.raises(InputError, match=r"message count 'inf', not a whole number"):
        _convert(folder, tmp_path / "o.sfs")


def _mcap(tmp_path: Path) -> Path:
    folder = write_drive(tmp_path / "drive", "mcap", DriveSpec(sweeps=2))
    return next(folder.glob("*.mcap"))


def test_a_recording_that_redefines_a_standard_type_is_refused_by_name(tmp_path: Path) -> None:
    mcap = _mcap(tmp_path)  # a flipped bit in the embedded definition of geometry_msgs/Transform
    mcap.write_bytes(mcap.read_bytes().replace(b"Quaternion rotation", b"Quaternion rotauion"))
    with pytest.raises(InputError, match=r"defines geometry_msgs/msg/Transform unlike the "
                       r"standard \(field 'rotation' is missing\)"):
        _convert(mcap, tmp_path / "o.sfs")


def test_a_recording_that_fails_to_open_leaves_no_file_open(tmp_path: Path) -> None:
    mcap = _mcap(tmp_path)  # an unparsable embedded definition: rosbags fails after opening
    mcap.write_bytes(mcap.read_bytes().replace(b"Quaternion rotation", b"Quatern!on rotation"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InputError, match=r"Cannot open recording .* corrupt"):
            _convert(mcap, tmp_path / "o.sfs")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize(("name", "reason"), [
    ("A" * 300 + ".mcap", r"File name too long"),  # was OSError from Path.exists
    ('"a\\0b.mcap"', r"embedded null byte"),  # was ValueError from Path.resolve
])
def test_a_manifest_naming_an_impossible_recording_is_our_error(
        tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "capture.yaml").write_text(f"recording: {name}\n")
    with pytest.raises(InputError, match=rf"recording .* cannot be opened \({reason}\)") as info:
        open_capture(tmp_path)
    assert info.value.field == "recording"
    assert len(str(info.value)) < 300
