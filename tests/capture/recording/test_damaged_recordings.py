"""Damaged recordings: truncated or bit-flipped files from rosbags' own writers.

Each container (ROS 1 plain and lz4 chunks, ROS 2 sqlite3, MCAP in a bag folder and bare, MCAP
with compressed chunks) is damaged at fixed-seed places; ``inspect_recording`` and
``convert_capture`` must then either succeed or fail with an ``SfsKitError`` -- never another
exception, never a hang (a SIGALRM guard per call), never a file at the output path on failure.
A second part checks the named errors: a read that fails names the topic (and the time where the
index still says it), and a ROS 1 index entry that points at connection records written into the
chunk before the message (as some writers do) is read like rosbags reads it.
"""

from __future__ import annotations

import functools
import gc
import json
import random
import shutil
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag1 import Writer as Writer1

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.capture.recording import RecordingOptions
from sfs_kit.capture.recording.bag import Bag
from sfs_kit.capture.recording.inspect import inspect_recording
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import InputError, SfsKitError

from . import drive as d

OPTIONS = RecordingOptions(intensity_max={d.OUSTER: d.OUSTER_INTENSITY_MAX})
VARIANTS: dict[str, tuple[d.Container, Any]] = {
    "ros1": ("ros1", None),
    "ros1_lz4": ("ros1", "lz4"),
    "ros2_sqlite3": ("ros2", None),
    "mcap": ("mcap", None),
    "mcap_zstd_chunks": ("mcap", "storage"),
}
CASES = 10  # damaged copies per container (half cut, half flipped)
SECONDS = 20  # far more than a call on the 5-sweep drive takes; a hang fails the test


class _HangError(BaseException):  # not an Exception: no wrapper may swallow it
    """The call ran past its deadline."""


@pytest.fixture
def alarm() -> Iterator[Callable[[Callable[[], object]], object]]:
    """Run a call with a SIGALRM deadline (a hang is a test failure, not a stuck suite)."""

    def fire(*_: object) -> None:
        raise _HangError

    previous = signal.signal(signal.SIGALRM, fire)

    def call(fn: Callable[[], object]) -> object:
        signal.alarm(SECONDS)
        try:
            return fn()
        finally:
            signal.alarm(0)

    yield call
    signal.signal(signal.SIGALRM, previous)


def _data_file(recording: Path) -> Path:
    if recording.is_file():
        return recording
    return next(p for p in recording.iterdir() if p.suffix in (".db3", ".mcap"))


def _cut(b: bytearray, at: int) -> bytes:
    return bytes(b[:at])


def _damages(size: int, rng: random.Random) -> list[tuple[str, Callable[[bytearray], bytes]]]:
    """Cuts (the first bytes, the middle, just before the index or summary) and bit flips."""
    cuts = [0, 13, size - 1, size - 9, size - 100, rng.randrange(size)]
    out: list[tuple[str, Callable[[bytearray], bytes]]] = [
        (f"cut at {c}", functools.partial(_cut, at=c)) for c in cuts
    ]
    for _ in range(CASES - len(out)):
        places = [(rng.randrange(size), rng.randrange(8)) for _ in range(rng.choice((1, 4, 16)))]

        def flip(b: bytearray, places: list[tuple[int, int]] = places) -> bytes:
            for at, bit in places:
                b[at] ^= 1 << bit
            return bytes(b)

        out.append((f"bits flipped at {[p for p, _ in places]}", flip))
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_damaged_recording_is_an_error_or_a_scene(
    variant: str, tmp_path: Path, alarm: Callable[[Callable[[], object]], object]
) -> None:
    container, compression = VARIANTS[variant]
    name = "drive.bag" if container == "ros1" else "drive"
    (tmp_path / "src").mkdir()
    source = d.write_drive(tmp_path / "src" / name, container,
                           d.DriveSpec(compression=compression))
    original = _data_file(source).read_bytes()
    rng = random.Random(f"sfs_kit-{variant}")
    failures: list[str] = []
    outcomes = {"error": 0, "scene": 0}
    for n, (what, damage) in enumerate(_damages(len(original), rng)):
        case = tmp_path / f"case{n}"
        case.mkdir()
        target = case / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
        _data_file(target).write_bytes(damage(bytearray(original)))
        out = case / "out.sfs"

        def convert(target: Path = target, out: Path = out) -> object:
            return convert_capture(open_capture(target, recording=OPTIONS), out, format="sfs")

        for label, call in (("inspect", lambda t=target: inspect_recording(t, OPTIONS)),
                            ("convert", convert)):
            try:
                alarm(call)
                outcomes["scene" if label == "convert" else "error"] += label == "convert"
            except SfsKitError as err:
                outcomes["error"] += 1
                if str(target) not in str(err) and target.name not in str(err):
                    failures.append(f"{what}: {label}: the error does not name the recording: "
                                    f"{err}")
                if label == "convert" and out.exists():
                    failures.append(f"{what}: convert failed but left {out}")
            except _HangError:
                failures.append(f"{what}: {label} did not finish in {SECONDS} s")
            except Exception as err:
                failures.append(f"{what}: {label}: {type(err).__name__}: {err}")
    assert not failures, "\n".join(failures)
    assert outcomes["error"] >= CASES // 2  # the cuts must have hit something


def test_index_of_a_damaged_sqlite3_bag_names_the_topic(tmp_path: Path) -> None:
    """A malformed database page under the messages table: the topic whose index failed."""
    bag = d.write_drive(tmp_path / "drive", "ros2")
    db = _data_file(bag)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) - 4096 + 200])  # the last page cut short
    with pytest.raises(InputError) as info:
        open_capture(bag, recording=OPTIONS)
    message = str(info.value)
    assert str(bag) in message
    assert "the index of topic /" in message
    assert "malformed" in message


def test_a_damaged_cloud_names_topic_and_time(tmp_path: Path) -> None:
    """The index is intact but a cloud's data length is garbage: its topic and stamp are named."""
    bag = d.write_drive(tmp_path / "drive", "mcap")
    mcap = _data_file(bag)
    capture = open_capture(bag, recording=OPTIONS)
    frame = capture.lidars[0].frames[2]
    with mcap.open("r+b") as f:  # overwrite the cloud's bytes' length field with a huge one
        data = f.read()
        sweep = d.pack_cloud(d.OUSTER_LAYOUT, d.ouster_points(2), 48, 8, 2, row_pad=16)
        at = data.index(sweep)
        f.seek(at - 4)
        f.write(np.uint32(0xFFFFFFF0).tobytes())
    with pytest.raises(InputError) as info:
        frame.load()
    message = str(info.value)
    assert d.OUSTER in message
    assert str(d.stamp(d.OUSTER, 2)) in message
    assert str(bag) in message


def test_a_damaged_cloud_read_ahead_fails_when_its_frame_loads(tmp_path: Path) -> None:
    """Loading frame 1 reads frame 2 ahead in the background; frame 2 is damaged: frame 1
    still loads, and the error (topic, stamp) comes with frame 2's own load, not before."""
    bag = d.write_drive(tmp_path / "drive", "mcap")
    mcap = _data_file(bag)
    capture = open_capture(bag, recording=OPTIONS)
    with mcap.open("r+b") as f:
        data = f.read()
        sweep = d.pack_cloud(d.OUSTER_LAYOUT, d.ouster_points(2), 48, 8, 2, row_pad=16)
        f.seek(data.index(sweep) - 4)
        f.write(np.uint32(0xFFFFFFF0).tobytes())
    frames = capture.lidars[0].frames
    assert frames[1].load().positions_m.shape[0] > 0
    with pytest.raises(InputError) as info:
        frames[2].load()
    assert d.OUSTER in str(info.value)
    assert str(d.stamp(d.OUSTER, 2)) in str(info.value)
    assert frames[3].load().positions_m.shape[0] > 0  # the reader goes on after the error


@pytest.mark.parametrize("container", ["ros1", "ros2", "mcap"])
def test_the_read_ahead_thread_and_files_end_with_the_capture(
    tmp_path: Path, container: d.Container
) -> None:
    bag = d.write_drive(tmp_path / ("drive.bag" if container == "ros1" else "drive"), container)
    before = set(threading.enumerate())  # earlier tests' captures may not be collected yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        capture = open_capture(bag, recording=OPTIONS)
        capture.lidars[0].frames[0].load()  # frame 1 is now being read ahead
        capture.cameras[0].images[0].load()  # a load of another topic waits for it first
        ours = [t for t in set(threading.enumerate()) - before if t.name == "sfs-kit read-ahead"]
        assert len(ours) == 1
        del capture
        gc.collect()
    assert not ours[0].is_alive()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


class _ConnectionsInChunks(Writer1):
    """A ROS 1 writer that, like some recorders, writes a connection record into each chunk
    before the connection's first message there, with the index entry pointing at it."""

    def write(self, connection: Any, timestamp: int, data: bytes | memoryview) -> None:
        chunk = self.chunks[-1]
        at = chunk.data.tell()
        if not chunk.connections.get(connection.id):
            self.write_connection(connection, chunk.data)
        super().write(connection, timestamp, data)
        chunk.connections[connection.id][-1] = (timestamp, at)


def test_ros1_index_entries_before_connection_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = d.write_drive(tmp_path / "plain.bag", "ros1")
    monkeypatch.setattr(d, "Writer1", _ConnectionsInChunks)
    skipped = d.write_drive(tmp_path / "skipped.bag", "ros1")
    assert skipped.read_bytes() != plain.read_bytes()
    with Bag(skipped) as opened:  # the in-place reads are the ones under test
        assert opened.direct() is not None
    sensors = []
    for bag in (plain, skipped):
        out = tmp_path / f"{bag.stem}.sfs"
        convert_capture(open_capture(bag, recording=OPTIONS), out, format="sfs")
        sensors.append(_canonical(read_sfs_dict(out)["sensors"]))
    assert sensors[0] == sensors[1]
    assert len(json.loads(sensors[1])[0]["frames"]) == d.SWEEPS


def _canonical(value: object) -> str:
    def plain(x: object) -> object:
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, bytes | memoryview):
            return bytes(x).hex()
        raise TypeError(type(x).__name__)

    return json.dumps(value, default=plain, sort_keys=True)
