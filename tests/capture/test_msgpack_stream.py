"""The msgpack capture stream: append, read incrementally, truncated tail, malformed records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest

from sfs_kit.capture import (
    MsgpackCaptureWriter,
    convert_capture,
    open_capture,
    read_msgpack_capture,
)
from sfs_kit.codecs.sfs import read_sfs_dict
from sfs_kit.errors import InputError
from sfs_kit.models import Scene

from .conftest import CAMERA_EXTRINSICS, START_US, jpeg

INTRINSICS = {"fx": 30.0, "fy": 30.0, "cx": 16.0, "cy": 12.0, "width": 32, "height": 24}


def _write_stream(path: Path, frames: int = 3) -> None:
    rng = np.random.default_rng(3)
    with MsgpackCaptureWriter(path) as w:
        w.write_calibration("lidar", "lidar", np.eye(4))
        w.write_calibration("cam", "camera", np.asarray(CAMERA_EXTRINSICS), intrinsics=INTRINSICS)
        for j in range(2 * frames + 1):
            w.write_pose(START_US + j * 50_000, [0.5 * j, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
        for k in range(frames):
            ts = START_US + k * 100_000
            pos = rng.uniform(-5, 5, (20, 3)).astype(np.float32)
            w.write_points(
                "lidar",
                ts,
                pos,
                intensity=np.arange(20, dtype=np.uint8),
                time_us=np.full(20, ts + 5, dtype=np.int64),
            )
            w.write_image("cam", ts + 10_000, jpeg(32, 24))


def test_stream_round_trip_and_conversion(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    _write_stream(path)
    cap = open_capture(path)
    assert cap.layout == "msgpack"
    assert cap.notes == ()
    frame = cap.lidars[0].frames[1].load()
    assert frame.positions_m.dtype == np.float32
    assert frame.intensity is not None
    assert frame.intensity.tolist() == list(range(20))
    out = tmp_path / "cap.sfs"
    result = convert_capture(cap, out, format="sfs")
    assert (result.frame_count, result.point_count, result.image_count) == (3, 60, 3)
    scene = Scene.model_validate(read_sfs_dict(out))
    lidar = scene.sensors[0]
    assert lidar.type == "lidar"
    stamps = lidar.frames[2].points.timestamps
    assert stamps is not None
    assert int(stamps[0]) == 200_005


def test_appending_later_continues_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    _write_stream(path, frames=2)
    with MsgpackCaptureWriter(path) as w:  # a logger reopening the file
        w.write_points("lidar", START_US + 200_000, np.zeros((3, 3), np.float32))
        w.write_image("cam", START_US + 210_000, jpeg(32, 24))
        w.write_pose(START_US + 250_000, [1.25, 0, 0], [0, 0, 0, 1])
    assert open_capture(path).frame_count == 3


def test_truncated_last_record_is_tolerated_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    _write_stream(path)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size - 100])  # the last image record loses its tail
    cap = read_msgpack_capture(path)
    assert len(cap.cameras[0].images) == 2
    assert len(cap.notes) == 1
    assert "truncated record (a logger still writing, or killed); ignored" in cap.notes[0]


def _raw(path: Path, *records: Any) -> Path:
    path.write_bytes(b"".join(msgpack.packb(r, use_bin_type=True) for r in records))
    return path


def _rec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sensor": "ego",
        "timestamp_us": 1,
        "kind": "pose",
        "payload": {"position_m": [0, 0, 0], "quat_xyzw": [0, 0, 0, 1]},
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("record", "pattern"),
    [
        ([1, 2], r"record at byte 0 is a list, expected a map\."),
        (
            {"sensor": "x", "kind": "pose", "payload": {}},
            r"record at byte 0 has no 'timestamp_us' field\.",
        ),
        (_rec(timestamp_us=1.5), r"field 'timestamp_us' is 1\.5, expected int\."),
        (_rec(kind="video"), r"field 'kind' is 'video', expected one of"),
        (_rec(sensor="lidar"), r"pose records must have sensor 'ego', got 'lidar'\."),
        (
            _rec(payload={"position_m": [0, 0], "quat_xyzw": [0, 0, 0, 1]}),
            r"'position_m' must be a list of 3 numbers",
        ),
        (
            _rec(payload={"position_m": [0, 0, float("nan")], "quat_xyzw": [0, 0, 0, 1]}),
            r"'position_m' contains NaN or infinity\.",
        ),
        (
            _rec(payload={"position_m": [0, 0, 0], "quat_xyzw": [0, 0, 0, 2]}),
            r"'quat_xyzw' has norm 2\.000000, expected 1\.",
        ),
        (
            _rec(sensor="l", kind="points", payload={"frame": "map", "positions": {}}),
            r"'frame' is 'map', expected 'sensor', 'ego' or 'world'\.",
        ),
        (
            _rec(sensor="l", kind="calibration", payload={"type": "radar"}),
            r"'type' is 'radar', expected 'lidar' or 'camera'\.",
        ),
        (
            _rec(
                sensor="c",
                kind="calibration",
                payload={"type": "camera", "ego_from_sensor": [0] * 16},
            ),
            r"a camera calibration needs an 'intrinsics' map\.",
        ),
    ],
)
def test_malformed_records_name_the_offset(tmp_path: Path, record: Any, pattern: str) -> None:
    path = _raw(tmp_path / "bad.msgpack", record)
    with pytest.raises(InputError, match=pattern) as info:
        read_msgpack_capture(path)
    assert info.value.source == str(path)


def test_bad_intrinsics_fields(tmp_path: Path) -> None:
    calib = {"type": "camera", "ego_from_sensor": [0] * 16}
    cases = [
        ({**INTRINSICS, "fx": "a"}, r"intrinsics field 'fx' is 'a', expected a number\."),
        ({**INTRINSICS, "width": 32.0}, r"intrinsics field 'width' is 32\.0, expected an int\."),
        ({**INTRINSICS, "distortion_model": 3}, r"'distortion_model' must be a string, got 3\."),
        (
            {**INTRINSICS, "distortion_params": "x"},
            r"'distortion_params' must be a list of numbers",
        ),
        ({**INTRINSICS, "skew": "x"}, r"'skew' must be a number, got 'x'\."),
    ]
    for intr, pattern in cases:
        path = _raw(
            tmp_path / "c.msgpack",
            _rec(sensor="c", kind="calibration", payload={**calib, "intrinsics": intr}),
        )
        with pytest.raises(InputError, match=pattern):
            read_msgpack_capture(path)


def test_duplicate_calibration_and_missing_calibration(tmp_path: Path) -> None:
    calib = _rec(
        sensor="l", kind="calibration", payload={"type": "lidar", "ego_from_sensor": [0] * 16}
    )
    with pytest.raises(
        InputError, match=r"sensor 'l' already has a calibration record at byte 0\."
    ):
        read_msgpack_capture(_raw(tmp_path / "a.msgpack", calib, calib))
    path = tmp_path / "b.msgpack"
    with MsgpackCaptureWriter(path) as w:
        w.write_points("l", 1, np.zeros((1, 3), np.float32))
    with pytest.raises(InputError, match=r"lidar 'l' has points but no lidar calibration record\."):
        read_msgpack_capture(path)
    path = tmp_path / "c.msgpack"
    with MsgpackCaptureWriter(path) as w:
        w.write_image("cam", 1, jpeg(8, 8))
    with pytest.raises(
        InputError, match=r"camera 'cam' has images but no camera calibration record\."
    ):
        read_msgpack_capture(path)


def test_mixed_point_frames_and_backwards_time(tmp_path: Path) -> None:
    path = tmp_path / "a.msgpack"
    with MsgpackCaptureWriter(path) as w:
        w.write_calibration("l", "lidar", np.eye(4))
        w.write_points("l", 1, np.zeros((1, 3), np.float32), frame="ego")
        w.write_points("l", 2, np.zeros((1, 3), np.float32), frame="world")
    with pytest.raises(InputError, match=r"lidar 'l' mixes point frames \['ego', 'world'\]\."):
        read_msgpack_capture(path)
    path = tmp_path / "b.msgpack"
    with MsgpackCaptureWriter(path) as w:
        w.write_calibration("l", "lidar", np.eye(4))
        w.write_points("l", 5, np.zeros((1, 3), np.float32))
        w.write_points("l", 4, np.zeros((1, 3), np.float32))
    with pytest.raises(
        InputError, match=r"timestamp of points record at byte \d+ \(4 us\) goes backwards from"
    ):
        read_msgpack_capture(path)


def test_bad_point_arrays_are_reported_on_load(tmp_path: Path) -> None:
    arr = {"dtype": "<f4", "shape": [2, 3], "data": b"\0" * 24}
    cases = [
        (
            {"positions": {"dtype": "<f4"}},
            r"'positions' must be a map with dtype, shape and data\.",
        ),
        ({"positions": {**arr, "dtype": "<c8"}}, r"'positions' has dtype '<c8', expected one of"),
        (
            {"positions": {**arr, "shape": [6]}},
            r"'positions' has shape \[6\], expected 2 non-negative ints\.",
        ),
        ({"positions": {**arr, "data": "x"}}, r"'positions' data must be bytes\."),
        ({"positions": {**arr, "data": b"\0" * 20}}, r"'positions' has 20 data bytes, expected 24"),
        ({"positions": {**arr, "dtype": "<i4"}}, r"'positions' must be float \(N, 3\), got <i4"),
        (
            {"positions": arr, "intensity": {"dtype": "|u1", "shape": [3], "data": b"\0" * 3}},
            r"'intensity' has 3 values for 2 points\.",
        ),
        (
            {"positions": arr, "time_us": {"dtype": "<f8", "shape": [2], "data": b"\0" * 16}},
            r"'time_us' must be 2 integers, got <f8",
        ),
    ]
    for payload, pattern in cases:
        path = _raw(
            tmp_path / "p.msgpack",
            _rec(
                sensor="l",
                kind="calibration",
                payload={"type": "lidar", "ego_from_sensor": [0] * 16},
            ),
            _rec(sensor="l", kind="points", payload=payload),
        )
        cap = read_msgpack_capture(path)
        with pytest.raises(InputError, match=pattern):
            cap.lidars[0].frames[0].load()


def test_image_record_without_data_and_garbage_in_the_middle(tmp_path: Path) -> None:
    calib = _rec(
        sensor="c",
        kind="calibration",
        payload={"type": "camera", "ego_from_sensor": [0] * 16, "intrinsics": INTRINSICS},
    )
    cap = read_msgpack_capture(
        _raw(tmp_path / "i.msgpack", calib, _rec(sensor="c", kind="image", payload={}))
    )
    with pytest.raises(InputError, match=r"image record at byte \d+ has no 'data' bytes\."):
        cap.cameras[0].images[0].load()
    path = tmp_path / "g.msgpack"
    path.write_bytes(msgpack.packb(_rec()) + b"\xc1" + msgpack.packb(_rec(timestamp_us=2)))
    with pytest.raises(InputError, match=r"record at byte \d+ is not valid msgpack"):
        read_msgpack_capture(path)


def test_writer_refuses_bad_records(tmp_path: Path) -> None:
    with MsgpackCaptureWriter(tmp_path / "w.msgpack") as w:
        with pytest.raises(InputError, match=r"Record kind must be one of .*, got 'lidar'\."):
            w.append("x", 1, "lidar", {})  # type: ignore[arg-type]
        with pytest.raises(InputError, match=r"timestamp_us must be an int, got 1\.5\."):
            w.append("x", 1.5, "pose", {})  # type: ignore[arg-type]


def test_missing_stream_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Capture stream .* does not exist\."):
        read_msgpack_capture(tmp_path / "none.msgpack")


def _record_offsets(data: bytes) -> list[int]:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    starts = [0]
    for _ in unpacker:
        starts.append(unpacker.tell())
    return starts[:-1]


def test_corrupt_bytes_name_record_start_failure_byte_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    _write_stream(path)
    data = path.read_bytes()
    starts = _record_offsets(data)
    assert starts[0] == 0
    assert starts[1] > 203  # byte 200 lies inside the first record
    path.write_bytes(data[:200] + b"\xc1\xc1\xc1" + data[200:])  # 0xc1 is never valid msgpack
    match = r"cap.msgpack: record at byte 0 is not valid msgpack: parsing failed at byte 20[0-2] "
    with pytest.raises(InputError, match=match + r"\(FormatError\)\.") as err:
        read_msgpack_capture(path)
    assert err.value.offset in (200, 201, 202)
    # the same inside a later record: its own start, and msgpack's reason when it gives one
    k = starts[3]
    path.write_bytes(data[:k] + bytes([0x81, 0x01, 0x02]) + data[k:])  # {1: 2}: int map key
    with pytest.raises(InputError, match=rf"record at byte {k} is not valid msgpack: parsing "
                                         rf"failed at byte {k + 2} \(ValueError: int is not "
                                         r"allowed for map key"):
        read_msgpack_capture(path)


def test_record_reread_after_indexing_names_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    _write_stream(path)
    cap = read_msgpack_capture(path)
    data = bytearray(path.read_bytes())
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(bytes(data))
    start, kinds = 0, []
    for record in unpacker:
        kinds.append(record["kind"])
        if record["kind"] == "points":
            break
        start = unpacker.tell()
    assert kinds[-1] == "points"
    assert start > 0
    data[start + 1] = 0xC1  # same length: the index stays valid, the record does not parse
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"record at byte {start} is not valid msgpack: parsing "
                                         rf"failed at byte {start + 1} \(FormatError\)\."):
        cap.lidars[0].frames[0].load()


def test_truncated_image_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cap.msgpack"
    with MsgpackCaptureWriter(path) as w:
        w.write_calibration("cam", "camera", np.asarray(CAMERA_EXTRINSICS), intrinsics=INTRINSICS)
        w.write_image("cam", START_US, jpeg(32, 24)[:-20])
    cap = read_msgpack_capture(path)
    with pytest.raises(InputError, match=r"JPEG image '.*cap.msgpack@\d+' is incomplete: it does "
                                         r"not end with the end-of-image marker FF D9"):
        cap.cameras[0].images[0].load()


def test_float_intensity_scale_is_declared_once_per_lidar(tmp_path: Path) -> None:
    def stream(path: Path, intensity_max: float | None) -> Path:
        with MsgpackCaptureWriter(path) as w:
            w.write_calibration("lidar", "lidar", np.eye(4), intensity_max=intensity_max)
            for k, top in enumerate((0.5, 200.0)):  # a dark frame, then a bright one
                w.write_points("lidar", START_US + k * 100_000, np.zeros((2, 3), np.float32),
                               intensity=np.array([0.0, top], np.float32))
        return path

    cap = read_msgpack_capture(stream(tmp_path / "a.msgpack", 255.0))
    loaded = [f.load().intensity for f in cap.lidars[0].frames]
    assert [a.tolist() for a in loaded if a is not None] == [[0, 0], [0, 200]]
    cap = read_msgpack_capture(stream(tmp_path / "b.msgpack", None))
    with pytest.raises(InputError, match=r"b.msgpack@\d+: float intensity \(float32\) has no "
                                         r"declared scale; set intensity_max"):
        cap.lidars[0].frames[0].load()
    path = tmp_path / "c.msgpack"
    path.write_bytes(msgpack.packb(_rec(sensor="lidar", kind="calibration", payload={
        "type": "lidar", "ego_from_sensor": np.eye(4).ravel().tolist(), "intensity_max": 0})))
    with pytest.raises(InputError, match=r"calibration record at byte 0: 'intensity_max' is 0, "
                                         r"expected a number > 0\."):
        read_msgpack_capture(path)
