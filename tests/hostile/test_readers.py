"""Hostile point-cloud, image and timestamp files: each class is refused at its source with our
error naming the file (never a traceback, never silently wrong points)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from capture.conftest import build_folder
from capture.test_kitti_raw import IMU_TO_VELO, VELO_TO_CAM, _drive

from sfs_kit.capture import convert_capture, open_capture
from sfs_kit.errors import InputError
from sfs_kit.readers import image_size, read_npy, read_pcd, read_ply, read_poses

PCD_HEADER = (b"VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\n"
              b"HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\nDATA binary\n")
PLY_HEAD = b"ply\nformat binary_little_endian 1.0\n"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _npy() -> bytes:
    out = io.BytesIO()
    np.save(out, np.arange(15, dtype=np.float32).reshape(5, 3))
    return out.getvalue()


def _npz() -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, points=np.arange(300, dtype=np.float32).reshape(100, 3))
    return out.getvalue()


def _patch(data: bytes, at: int, value: int) -> bytes:
    """``data`` with the little-endian u32 at ``at`` replaced (a zip directory field)."""
    return data[:at] + struct.pack("<I", value) + data[at + 4:]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "mutate", "match"), [
    ("a.npy", lambda d: d.replace(b"{'descr'", b"{'descr'(((", 1), r"not a valid array desc"),
    ("a.npy", lambda d: d.replace(b"(5, 3)", b"(-1, 3)", 1), r"a dimension is negative"),
    ("a.npy", lambda d: d.replace(b"(5, 3)", b"(-5, -3)", 1), r"a dimension is negative"),
    ("a.npz", lambda d: d[:100] + bytes(b ^ 0x5A for b in d[100:140]) + d[140:],
     r"Cannot read array 'points' of the .npz archive"),
    ("a.npz", lambda d: _patch(d, d.rfind(b"PK\x05\x06") + 16, 0xFFFFFFF0), r"\.npz"),
    ("a.npz", lambda d: _patch(d, d.find(b"PK\x01\x02") + 24, 2**31),
     r"more than deflate can expand to"),
])
def test_npy_and_npz(tmp_path: Path, name: str, mutate: object, match: str) -> None:
    good = _npy() if name.endswith(".npy") else _npz()
    read_npy(_write(tmp_path, "good" + name[1:], good))
    with pytest.raises(InputError, match=match):
        read_npy(_write(tmp_path, name, mutate(good)))  # type: ignore[operator]


def test_ply_duplicate_property_and_negative_count(tmp_path: Path) -> None:
    dup = PLY_HEAD + (b"element vertex 1\nproperty float x\nproperty float x\nproperty float y\n"
                      b"property float z\nend_header\n") + b"\0" * 16
    with pytest.raises(InputError, match=r"a.ply:5: PLY property 'x' is declared twice"):
        read_ply(_write(tmp_path, "a.ply", dup))
    for fmt in (b"binary_little_endian", b"ascii"):
        neg = (b"ply\nformat " + fmt + b" 1.0\nelement vertex -2\nproperty float x\n"
               b"property float y\nproperty float z\nend_header\n1 2 3\n")
        with pytest.raises(InputError, match=r"b.ply:3: PLY element 'vertex' declares '-2'"):
            read_ply(_write(tmp_path, "b.ply", neg))


def test_pcd_with_bytes_inside_the_data_is_refused(tmp_path: Path) -> None:
    points = np.array([[1, 2, 3], [4, 5, 6]], dtype="<f4").tobytes()
    assert read_pcd(_write(tmp_path, "ok.pcd", PCD_HEADER + points)).positions[1, 2] == 6.0
    assert read_pcd(_write(tmp_path, "pad.pcd", PCD_HEADER + points + b"\n")).num_points == 2
    inserted = PCD_HEADER + points[:12] + b"\x01\x02\x03\x04" + points[12:]
    with pytest.raises(InputError, match=r"4 bytes more than the header's 2 points of 12 bytes"):
        read_pcd(_write(tmp_path, "bad.pcd", inserted))


def test_png_side_beyond_the_spec(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 2**32 - 1, 1, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))
    with pytest.raises(InputError, match=r"4294967295x1 is not one"):
        image_size(data, "x.png")


@pytest.mark.parametrize("stamp", ["1\u0661", "1_0", "\uff11", "NaN", "0x10", "1e"])
def test_timestamps_are_ascii_decimal_numbers(tmp_path: Path, stamp: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"t,x,y,z,qx,qy,qz,qw\n{stamp},0,0,0,0,0,0,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p.csv:2: Timestamp .* is not (a number|finite)"):
        read_poses(path, time_unit="us")
    cap = build_folder(tmp_path / "cap", camera=False)
    lines = (cap / "lidar" / "ts.txt").read_text().splitlines()
    (cap / "lidar" / "ts.txt").write_text("\n".join([lines[0], stamp, lines[2]]) + "\n")
    with pytest.raises(InputError, match=r"ts.txt:2: Timestamp .* \(in timestamp\)"):
        open_capture(cap)


def test_ordinary_timestamps_still_read(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("t,x,y,z,qx,qy,qz,qw\n+1.5e3,0,0,0,0,0,0,1\n.5e4,0,0,0,0,0,0,1\n")
    assert read_poses(path, time_unit="ms").timestamps_us.tolist() == [1_500_000, 5_000_000]


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("calib_velo_to_cam.txt", VELO_TO_CAM, "R: 0 -1 0 0 0 -1 1 0 0.5\nT: 0.1 -0.05 -0.3\n"),
    ("calib_imu_to_velo.txt", IMU_TO_VELO, "R: -1 0 0 0 1 0 0 0 1\nT: -0.8 0.3 -0.9\n"),
    ("calib_imu_to_velo.txt", IMU_TO_VELO, "R: 2 0 0 0 1 0 0 0 1\nT: -0.8 0.3 -0.9\n"),
])
def test_kitti_calibration_must_be_rigid(tmp_path: Path, name: str, good: str, bad: str
                                         ) -> None:
    drive = _drive(tmp_path)
    assert (drive.parent / name).read_text() == good
    open_capture(drive)
    (drive.parent / name).write_text(bad)
    with pytest.raises(InputError, match=name + r": Transform 'R/T' rotation is not orthonormal "
                       r"with determinant \+1"):
        open_capture(drive)


def test_pcd_zero_fill_after_the_data_is_padding(tmp_path: Path) -> None:
    # pypcd4's real binary.pcd ends in 3,918 NUL bytes (more than its 213 16-byte records fill);
    # PCL, open3d and pypcd4 read it, so the zero fill is padding, not data
    real = FIXTURES / "pypcd4" / "binary.pcd"
    assert read_pcd(real).num_points == 213
    points = np.array([[1, 2, 3], [4, 5, 6]], dtype="<f4").tobytes()
    assert read_pcd(_write(tmp_path, "zeros.pcd", PCD_HEADER + points + bytes(100))).num_points == 2


@pytest.mark.parametrize("shape", [[2**62, 4], [2**32, 2**32], [0, 2**63], [2**64 - 1, 3]])
def test_msgpack_shape_whose_product_overflows(tmp_path: Path, shape: list[int]) -> None:
    import msgpack

    from sfs_kit.capture import MsgpackCaptureWriter

    path = tmp_path / "s.msgpack"
    with MsgpackCaptureWriter(path) as writer:
        writer.write_calibration("lidar", "lidar", np.eye(4))
        writer.write_points("lidar", 1_700_000_000_000_000, np.zeros((2, 3), np.float32))
    records = list(msgpack.Unpacker(io.BytesIO(path.read_bytes()), raw=False))
    points = next(r for r in records if r["kind"] == "points")
    points["payload"]["positions"]["shape"] = shape
    path.write_bytes(b"".join(msgpack.packb(r) for r in records))
    with pytest.raises(InputError, match=r"data bytes, expected|non-negative ints"):
        convert_capture(path, tmp_path / "o.sfs", format="sfs")


@pytest.mark.parametrize(("line", "bad", "match"), [
    ("R_rect_00: 1 0 0 0 1 0 0 0 1", "R_rect_00: 1 0 0 0 1 0 0 0 0",  # singular: was LinAlgError
     r"Transform 'R_rect_00' rotation is not orthonormal"),
    ("R_rect_00: 1 0 0 0 1 0 0 0 1", "R_rect_00: 2 0 0 0 1 0 0 0 1",
     r"Transform 'R_rect_00' rotation is not orthonormal"),
    ("P_rect_00: 50 0 16", "P_rect_00: 0 0 16", r"'P_rect_00' has focal length 0\.0"),
])
def test_kitti_rectification_must_be_a_rotation_and_a_focal_length(
        tmp_path: Path, line: str, bad: str, match: str) -> None:
    drive = _drive(tmp_path)
    calib = drive.parent / "calib_cam_to_cam.txt"
    assert line in calib.read_text()
    open_capture(drive)
    calib.write_text(calib.read_text().replace(line, bad))
    with pytest.raises(InputError, match=match) as info:
        open_capture(drive)
    assert info.value.source == str(calib)


def test_a_video_of_an_unknown_codec_is_our_error(tmp_path: Path) -> None:
    import av

    from sfs_kit.codecs.video import probe_video

    path = tmp_path / "v.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for k in range(2):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 50 * k, np.uint8),
                                               format="rgb24")
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = path.read_bytes()
    assert probe_video(data).codec == "h264"
    # the sample entry's codec tag renamed: FFmpeg opens the stream with no codec (<nocodec>)
    unknown = data.replace(b"avc1", b"zq9x").replace(b"avcC", b"zq9C")
    with pytest.raises(InputError, match="a video stream of an unknown codec"):
        probe_video(unknown, source="v.mp4")


def test_an_sfs_pose_value_of_400_digits_is_our_error(tmp_path: Path) -> None:
    import re

    from sfs_kit.codecs.scene_io import read_sfs
    from sfs_kit.errors import SceneValidationError

    convert_capture(build_folder(tmp_path / "cap", frames=2, points=20), tmp_path / "s.sfs",
                    format="sfs")
    data = (tmp_path / "s.sfs").read_bytes()
    number = re.compile(rb"-?\d+\.\d+").search(data, data.index(b'"values"'))
    assert number is not None
    (tmp_path / "b.sfs").write_bytes(data[:number.start()] + b"1" + b"0" * 400
                                     + data[number.end():])
    # numpy's float64 conversion raised OverflowError ("int too large to convert to float")
    with pytest.raises(SceneValidationError, match=r"poses\.values: .*does not fit in float64"):
        read_sfs(tmp_path / "b.sfs")


def test_a_radar_cell_of_70000_digits_is_refused_without_backtracking(tmp_path: Path) -> None:
    # the cell pattern was \d+\.?\d*, which splits a digit run every way: minutes per line
    from sfs_kit.readers.scale_radar import read_scale_radar

    path = tmp_path / "1.txt"
    path.write_text("1.0, " + "7" * 70_000 + ", 0.5, 0.1, 0.0, 0.0, 1\n")
    with pytest.raises(InputError, match=r"1\.txt, line 1: position_y = '7777.*\.\.\.'"):
        read_scale_radar(path)


def test_a_msgpack_timestamp_beyond_int64_is_our_error(tmp_path: Path) -> None:
    # msgpack holds uint64: 2**64 - 1 reached numpy's int64 as an OverflowError (fuzz)
    import msgpack

    stream = tmp_path / "cap.msgpack"
    stream.write_bytes(msgpack.packb({"sensor": "lidar", "timestamp_us": 2**64 - 1,
                                      "kind": "pose", "payload": {}}))
    with pytest.raises(InputError, match=r"record at byte 0: field 'timestamp_us' is "
                       r"18446744073709551615, outside the int64 microsecond range") as info:
        open_capture(stream)
    assert info.value.field == "timestamp_us"
