"""PCD reader: round trips through our writer, PCL layouts, and one test per error message."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from reader_helpers import assert_clouds_equal, make_cloud

from sfs_kit.errors import InputError
from sfs_kit.readers import PointCloud, read_pcd, read_point_cloud, write_pcd
from sfs_kit.readers.pcd import encode_pcd

KINDS = ["ascii", "binary", "binary_compressed"]


def header(fields: str = "x y z", size: str = "4 4 4", type_: str = "F F F",
           count: str = "1 1 1", width: int = 2, points: int | None = 2,
           data: str = "binary", extra: str = "") -> bytes:
    lines = ["VERSION 0.7", f"FIELDS {fields}", f"SIZE {size}", f"TYPE {type_}",
             f"COUNT {count}", f"WIDTH {width}", "HEIGHT 1", "VIEWPOINT 0 0 0 1 0 0 0"]
    if points is not None:
        lines.append(f"POINTS {points}")
    if extra:
        lines.append(extra)
    lines.append(f"DATA {data}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("channels", [True, False])
def test_write_then_read_again(tmp_path: Path, kind: str, channels: bool) -> None:
    cloud = make_cloud(37, channels=channels)
    path = tmp_path / "c.pcd"
    write_pcd(path, cloud, data=kind)  # type: ignore[arg-type]
    got = read_pcd(path)
    assert_clouds_equal(got, cloud)
    assert got.format == "pcd"
    assert got.source == str(path)
    assert list(tmp_path.iterdir()) == [path]  # atomic write leaves no temp file


@pytest.mark.parametrize("kind", KINDS)
def test_empty_cloud_round_trips(kind: str) -> None:
    cloud = make_cloud(0)
    got = read_pcd(io.BytesIO(encode_pcd(cloud, kind)))  # type: ignore[arg-type]
    assert got.num_points == 0
    assert_clouds_equal(got, cloud)


def test_nan_points_survive_binary_and_ascii() -> None:
    cloud = make_cloud(5, channels=False)
    positions = cloud.positions.copy()
    positions[2] = np.nan
    nan_cloud = PointCloud(positions=positions, source="x", format="t")
    for kind in ("ascii", "binary"):
        got = read_pcd(io.BytesIO(encode_pcd(nan_cloud, kind)))
        assert np.array_equal(got.positions, positions, equal_nan=True)


def test_pcl_style_fields_padding_rgba_counts_and_viewpoint() -> None:
    # x y z, a 4-byte padding, packed rgba as U4, a 3-count normal, intensity uint16, t float64
    head = header(fields="x y z _ rgba normal intensity t ring _",
                  size="4 4 4 4 4 4 2 8 2 2", type_="F F F U U F U F U U",
                  count="1 1 1 1 1 3 1 1 1 1", width=2, points=2,
                  extra="").replace(b"VIEWPOINT 0 0 0 1 0 0 0", b"VIEWPOINT 1 2 3 0 0 0 1")
    rec = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("_", "<u4"), ("rgba", "<u4"),
                    ("normal", "<f4", (3,)), ("intensity", "<u2"), ("t", "<f8"),
                    ("ring", "<u2"), ("_1", "<u2")])
    table = np.zeros(2, dtype=rec)
    table["x"], table["y"], table["z"] = [1, 2], [3, 4], [5, 6]
    table["rgba"] = [0xFF102030, 0x00AABBCC]
    table["normal"] = [[0, 0, 1], [0, 1, 0]]
    table["intensity"] = [7, 65535]
    table["t"] = [0.5, 0.25]
    table["ring"] = [3, 31]
    got = read_pcd(io.BytesIO(head + table.tobytes()))
    assert got.positions.tolist() == [[1, 3, 5], [2, 4, 6]]
    assert got.colors is not None
    assert got.colors.tolist() == [[0x10, 0x20, 0x30], [0xAA, 0xBB, 0xCC]]
    assert got.intensity is not None
    assert got.intensity.tolist() == [7, 65535]
    assert got.intensity_range == (0.0, 65535.0)
    assert got.time_s is not None
    assert got.time_s.tolist() == [0.5, 0.25]
    assert got.ring is not None
    assert got.ring.tolist() == [3, 31]
    assert got.extra["normal"].shape == (2, 3)
    assert not any(name.startswith("_") for name in got.extra)
    # VIEWPOINT tx ty tz qw qx qy qz -> [x, y, z, qx, qy, qz, qw]
    assert got.extra["viewpoint"].tolist() == [1, 2, 3, 0, 0, 1, 0]


def test_integer_time_field_scaled_by_time_unit_and_kept_raw() -> None:
    head = header(fields="x y z t", size="4 4 4 4", type_="F F F U", count="1 1 1 1",
                  width=1, points=1)
    body = struct.pack("<fffI", 1, 2, 3, 1500)
    got = read_pcd(io.BytesIO(head + body), time_unit="ns")
    assert got.time_s is not None
    assert got.time_s.tolist() == [1.5e-6]
    assert got.extra["t"].tolist() == [1500]


def test_ascii_rgb_type_f_is_float_bits_and_type_u_the_packed_integer() -> None:
    bits = 0x00102030
    as_float = np.array([bits], dtype=np.uint32).view(np.float32)[0]
    text = header(fields="x y z rgb", size="4 4 4 4", type_="F F F F", count="1 1 1 1",
                  data="ascii", width=2, points=2)
    body = f"1 2 3 {float(as_float)!r}\n4 5 6 {float(as_float)!r}\n".encode()
    got = read_pcd(io.BytesIO(text + body))
    assert got.colors is not None
    assert got.colors.tolist() == [[0x10, 0x20, 0x30]] * 2
    text = header(fields="x y z rgb", size="4 4 4 4", type_="F F F U", count="1 1 1 1",
                  data="ascii", width=2, points=2)
    got = read_pcd(io.BytesIO(text + f"1 2 3 {bits}\n4 5 6 {bits}\n".encode()))
    assert got.colors is not None
    assert got.colors.tolist() == [[0x10, 0x20, 0x30]] * 2


def test_compressed_pcl_layout_without_padding_fields() -> None:
    head = header(fields="x y z _", size="4 4 4 4", type_="F F F U", count="1 1 1 1",
                  data="binary_compressed")
    raw = np.array([1, 2], "<f4").tobytes() + np.array([3, 4], "<f4").tobytes() \
        + np.array([5, 6], "<f4").tobytes()
    from sfs_kit.readers._lzf import compress_literal
    block = compress_literal(raw)
    got = read_pcd(io.BytesIO(head + struct.pack("<II", len(block), len(raw)) + block))
    assert got.positions.tolist() == [[1, 3, 5], [2, 4, 6]]


def test_big_float64_coordinates_are_recentred_without_loss() -> None:
    head = header(fields="x y z", size="8 8 8", type_="F F F", width=2, points=2)
    xyz = np.array([[636000.25, 848000.5, 10.0], [636100.75, 848050.125, 12.5]], "<f8")
    got = read_pcd(io.BytesIO(head + xyz.tobytes()))
    assert got.origin_m.tolist() == [636000.0, 848000.0, 10.0]
    assert np.array_equal(got.positions.astype(np.float64) + got.origin_m, xyz)


def test_dispatch_by_extension(tmp_path: Path) -> None:
    cloud = make_cloud(4)
    write_pcd(tmp_path / "a.pcd", cloud)
    assert_clouds_equal(read_point_cloud(tmp_path / "a.pcd"), cloud)


def test_stream_writer_leaves_stream_open() -> None:
    stream = io.BytesIO()
    write_pcd(stream, make_cloud(3))
    assert not stream.closed
    assert stream.getvalue().startswith(b"# .PCD v0.7")


GOOD_BINARY = struct.pack("<6f", 1, 2, 3, 4, 5, 6)


@pytest.mark.parametrize(("data", "match", "where"), [
    (b"VERSION 0.7\nFIELDS x y z\n", "PCD header has no DATA line", "line"),
    (b"VERSION \xff\nDATA binary\n", "PCD header line 1 is not ASCII text", "line"),
    (header().replace(b"SIZE 4 4 4\n", b""), "PCD header has no SIZE line", "field"),
    (header(size="4 4"), r"PCD header SIZE has 2 entries but FIELDS names 3", "line"),
    (header(size="4 4 four"), r"PCD header SIZE value 'four' is not an integer", "line"),
    (header(width=-2, points=None), r"PCD header WIDTH value -2 is negative", "line"),
    (header(type_="F F X"), r"TYPE 'X' with SIZE 4, which is not supported", "line"),
    (header(size="4 4 2"), r"TYPE 'F' with SIZE 2, which is not supported", "line"),
    (header(count="1 1 0"), r"PCD field 'z' has COUNT 0; at least 1 is needed", "line"),
    (header(points=3), r"PCD header POINTS 3 differs from WIDTH\*HEIGHT = 2\*1 = 2", "line"),
    (header().replace(b"VIEWPOINT 0 0 0 1 0 0 0", b"VIEWPOINT 0 0 a 1 0 0 0"),
     r"PCD header VIEWPOINT '0 0 a 1 0 0 0' is not 7 numbers", "line"),
    (header().replace(b"VIEWPOINT 0 0 0 1 0 0 0", b"VIEWPOINT 0 0 0 1"),
     "PCD header VIEWPOINT has 4 values; 7 are needed", "line"),
    (header(data="binary_lz4"), r"PCD DATA kind 'binary_lz4' is unknown", "line"),
    (header() + GOOD_BINARY[:-3],
     r"PCD binary data is truncated: 2 points of 12 bytes need 24 bytes after the header "
     r"\(byte \d+\), found 21", "offset"),
    (header(data="binary_compressed") + b"\x01\x00",
     r"PCD binary_compressed data is truncated: the 8-byte size prefix at byte \d+ has only 2 "
     "bytes", "offset"),
    (header(data="binary_compressed") + struct.pack("<II", 50, 24) + b"\x00" * 10,
     r"the LZF block at byte \d+ declares 50 bytes, found 10", "offset"),
    (header(data="binary_compressed") + struct.pack("<II", 4, 30) + b"\x00" * 4,
     r"uncompressed size 30 does not match 2 points of the header's fields \(24 bytes, or 24 "
     "without padding", "offset"),
    (header(data="binary_compressed") + struct.pack("<II", 2, 24) + b"\x00\x41",
     r"LZF block decodes to 1 bytes but the header says 24", "offset"),
    (header(data="ascii") + b"1 2 3\n4 5\n",
     r"PCD ascii data line 12 has 2 values; expected 3", "line"),
    (header(data="ascii") + b"1 2 3\n4 five 6\n",
     r"PCD ascii data line 12 value 'five' \(column 2\) is not a valid number", "line"),
    (header(fields="x y z ring", size="4 4 4 2", type_="F F F U", count="1 1 1 1",
            data="ascii") + b"1 2 3 4\n1 2 3 4.5\n",
     r"PCD ascii data line 12 value '4.5' \(column 4\) is not a valid integer", "line"),
    (header(fields="x y z ring", size="4 4 4 1", type_="F F F U", count="1 1 1 1",
            data="ascii") + b"1 2 3 4\n1 2 3 300\n",
     r"PCD ascii data has a value out of range for its type", "field"),
    (header(data="ascii") + b"1 2 3\n",
     r"PCD ascii data has fewer lines than POINTS 2 \(found 1\)", "line"),
    (header(data="ascii") + b"1 2 3\n4 5 6\n7 8 9\n",
     r"PCD ascii data has more lines than POINTS 2 \(found 3\+\)", "line"),
    (header(fields="x y z rgb", size="4 4 4 4", type_="F F F U", count="1 1 1 1",
            data="ascii") + b"1 2 3 -1\n1 2 3 5\n",
     r"PCD ascii colour field 'rgb' has values outside 0..2\*\*32-1", "field"),
])
def test_bad_pcd_is_refused_with_location(data: bytes, match: str, where: str) -> None:
    with pytest.raises(InputError, match=match) as caught:
        read_pcd(io.BytesIO(data))
    assert caught.value.source == "<stream>"
    assert getattr(caught.value, where) is not None


def test_ascii_error_line_counts_from_file_start() -> None:
    data = header(data="ascii") + b"1 2 3\n4 5\n"
    with pytest.raises(InputError, match="has 2 values") as caught:
        read_pcd(io.BytesIO(data))
    assert caught.value.line == data.count(b"\n")


def test_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot read '.*nope\.pcd'") as caught:
        read_pcd(tmp_path / "nope.pcd")
    assert caught.value.source == str(tmp_path / "nope.pcd")


def test_text_stream_is_refused() -> None:
    with pytest.raises(InputError, match="is not binary"):
        read_pcd(io.StringIO("VERSION 0.7"))  # type: ignore[arg-type]


def test_binary_channels_are_read_only_views_of_the_file_bytes() -> None:
    data = encode_pcd(make_cloud(8), "binary")
    got = read_pcd(io.BytesIO(data))
    assert got.positions.base is not None
    assert not got.positions.flags.writeable
    assert got.intensity is not None
    assert not got.intensity.flags.writeable
    assert np.array_equal(got.positions, make_cloud(8).positions)
