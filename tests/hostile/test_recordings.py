"""Hostile recordings: a FIFO in a bag folder, a corrupt sqlite3 database: our one-line error,
never a hang or a sqlite3/rosbags traceback (scripts/fuzz_inputs.py mutates every container)."""

from __future__ import annotations

import os
import sqlite3
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

