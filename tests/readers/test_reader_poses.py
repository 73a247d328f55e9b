"""Pose reader: exact timestamps, quaternion orders, matrices, and every rejection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.errors import InputError
from sfs_kit.readers import read_poses
from sfs_kit.readers.poses import timestamp_to_us

CSV = "timestamp,x,y,z,qx,qy,qz,qw\n1317016523.0123456,1,2,3,0,0,0,1\n1317016523.5,4,5,6,0,0,1,0\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_named_columns_and_exact_decimal_seconds(tmp_path: Path) -> None:
    table = read_poses(write(tmp_path, "p.csv", CSV), time_unit="s")
    assert table.timestamps_us.dtype == np.int64
    assert table.timestamps_us.tolist() == [1317016523012345, 1317016523500000]
    assert table.positions_m.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert table.quat_xyzw.tolist() == [[0, 0, 0, 1], [0, 0, 1, 0]]
    assert len(table) == 2


@pytest.mark.parametrize(("value", "unit", "want"), [
    ("1.5", "ms", 1500), ("1700000000123456789", "ns", 1700000000123456),
    ("-0.0000005", "s", -1), (42, "us", 42), ("2.9", "us", 2),
])
def test_timestamp_units(value: object, unit: str, want: int) -> None:
    assert timestamp_to_us(value, unit, source="s", field="t") == want  # type: ignore[arg-type]


def test_tum_style_headerless_whitespace(tmp_path: Path) -> None:
    text = "# comment\n0.1 1 2 3 0 0 0 1\n0.2 1 2 3 0 0 0 1\n"
    table = read_poses(write(tmp_path, "tum.txt", text), time_unit="s",
                       header=("timestamp", "x", "y", "z", "qx", "qy", "qz", "qw"))
    assert table.timestamps_us.tolist() == [100000, 200000]


def test_unnamed_quaternion_columns_need_and_follow_quat_order(tmp_path: Path) -> None:
    text = "t;px;py;pz;a;b;c;d\n5;0;0;0;1;0;0;0\n"
    path = write(tmp_path, "p.csv", text)
    mapping = {"quaternion": ["a", "b", "c", "d"]}
    table = read_poses(path, time_unit="us", columns=mapping, quat_order="wxyz")
    assert table.quat_xyzw.tolist() == [[0, 0, 0, 1]]
    with pytest.raises(InputError, match=r"Quaternion 'quaternion' is an unnamed 4-vector; pass "
                                         r"quat_order='wxyz' or 'xyzw'"):
        read_poses(path, time_unit="us", columns=mapping)


def test_matrix_rows_csv_and_json(tmp_path: Path) -> None:
    c, s = np.cos(0.3), np.sin(0.3)
    m = [c, -s, 0, 1, s, c, 0, 2, 0, 0, 1, 3]
    text = "t," + ",".join(f"m{i}" for i in range(12)) + "\n10," + ",".join(map(str, m)) + "\n"
    table = read_poses(write(tmp_path, "m.csv", text), time_unit="ms", layout="matrix")
    assert table.timestamps_us.tolist() == [10000]
    assert table.positions_m.tolist() == [[1, 2, 3]]
    assert np.allclose(table.quat_xyzw, [[0, 0, np.sin(0.15), np.cos(0.15)]])
    doc = [{"timestamp": 7, "matrix": [m[0:4], m[4:8], m[8:12], [0, 0, 0, 1]]}]
    table = read_poses(write(tmp_path, "m.json", json.dumps(doc)), time_unit="us",
                       layout="matrix")
    assert np.allclose(table.quat_xyzw, [[0, 0, np.sin(0.15), np.cos(0.15)]])


def test_json_forms(tmp_path: Path) -> None:
    doc = {"poses": [
        {"timestamp": 1317016523.0123456, "position": {"x": 1, "y": 2, "z": 3},
         "rotation": {"w": 1, "x": 0, "y": 0, "z": 0}},
        {"timestamp": 1317016524, "translation": [1, 2, 3], "quat_wxyz": [0, 1, 0, 0]},
    ]}
    table = read_poses(write(tmp_path, "p.json", json.dumps(doc)), time_unit="s")
    assert table.timestamps_us.tolist() == [1317016523012345, 1317016524000000]
    assert table.quat_xyzw.tolist() == [[0, 0, 0, 1], [1, 0, 0, 0]]
    doc2 = [{"t": 1, "position": [0, 0, 0], "quaternion": [0, 0, 0, 1]}]
    table = read_poses(write(tmp_path, "q.json", json.dumps(doc2)), time_unit="s",
                       quat_order="xyzw")
    assert table.quat_xyzw.tolist() == [[0, 0, 0, 1]]


HEAD = "timestamp,x,y,z,qx,qy,qz,qw\n"


@pytest.mark.parametrize(("name", "text", "kwargs", "match"), [
    ("p.csv", HEAD + "1,nan,0,0,0,0,0,1\n", {},
     r"Pose 0 has a NaN or infinite value \(position \[nan, 0.0, 0.0\]"),
    ("p.csv", HEAD + "1,0,0,0,0,0,0,0\n", {}, r"Pose 0 has a zero quaternion"),
    ("p.csv", HEAD + "1,0,0,0,0,0,0,1.01\n", {},
     r"Pose 0 quaternion has norm 1.01; \|norm - 1\| must be <= 0.001"),
    ("p.csv", HEAD + "2,0,0,0,0,0,0,1\n1,0,0,0,0,0,0,1\n", {},
     r"Pose 1 timestamp 1000000 us goes backwards from 2000000 us"),
    ("p.csv", HEAD + "2,0,0,0,0,0,0,1\n2,0,0,0,0,0,0,1\n", {},
     r"Pose 1 repeats timestamp 2000000 us"),
    ("p.csv", HEAD + "x1,0,0,0,0,0,0,1\n", {}, r"Timestamp 'x1' is not a number"),
    ("p.csv", HEAD + "inf,0,0,0,0,0,0,1\n", {}, r"Timestamp 'inf' is not finite"),
    ("p.csv", HEAD + "1,a,0,0,0,0,0,1\n", {}, r"Value 'a' of 'x' is not a number"),
    ("p.csv", HEAD + "1,0,0,0,0,0,1\n", {}, r"Pose line has 7 values but the header names 8"),
    ("p.csv", "", {}, "Pose file is empty"),
    ("p.csv", HEAD, {}, "Pose file has no poses"),
    ("p.csv", "when,x,y,z,qx,qy,qz,qw\n", {},
     r"Pose file has no timestamp column \(looked for"),
    ("p.csv", HEAD, {"columns": {"timestamp": "when"}},
     r"Pose column 'when' \(timestamp\) is not among"),
    ("p.csv", "t,a,b,c,qx,qy,qz,qw\n", {}, r"Pose file has no position columns"),
    ("p.csv", "t,x,y,z,a,b,c,d\n", {}, r"Pose file has no quaternion columns"),
    ("p.csv", HEAD, {"columns": {"position": ["x", "y"]}},
     r"columns\['position'\] must name 3 existing columns, found \['x', 'y'\]"),
    ("p.csv", "t,a,b\n1,2,3\n", {"layout": "matrix"},
     r"Matrix pose rows need 12 or 16 value columns besides the timestamp"),
    ("m.csv", "t," + ",".join(f"m{i}" for i in range(12)) + "\n1," + ",".join(["2"] * 12) + "\n",
     {"layout": "matrix"}, r"Transform 'matrix' rotation is not orthonormal"),
    ("p.json", "[{", {}, r"Pose file is not valid JSON"),
    ("p.json", '{"a": 1}', {}, r"Pose JSON must be a list of records or an object with a"),
    ("p.json", "[1]", {}, r"Pose record poses\[0\] is not an object"),
    ("p.json", '[{"t": true, "position": [0,0,0], "quat_xyzw": [0,0,0,1]}]', {},
     r"Timestamp True is not a number"),
    ("p.json", '[{"t": 1, "position": [0,0,0], "quat_xyzw": [0,0,1]}]', {},
     r"Quaternion 'poses\[0\].quat_xyzw' has 3 values; 4 are needed"),
    ("p.json", '[{"t": 1, "position": [0,0], "quat_xyzw": [0,0,0,1]}]', {},
     r"'poses\[0\].position' has 2 values; 3 are needed"),
    ("p.json", '[{"t": 1, "position": {"x": 0}, "quat_xyzw": [0,0,0,1]}]', {},
     r"'poses\[0\].position' must have keys \['x', 'y', 'z'\], found \['x'\]"),
    ("p.json", '[{"t": 1, "position": "here", "quat_xyzw": [0,0,0,1]}]', {},
     r"'poses\[0\].position' must be a list or an object, found str"),
    ("p.json", '[{"t": 1, "position": [0,0,null], "quat_xyzw": [0,0,0,1]}]', {},
     r"Value None of 'poses\[0\].position' is not a number"),
    ("p.json", '[{"t": 1, "position": [0,0,0], "quat_xyzw": [0,0,0,1]}]',
     {"columns": {"position": ["a", "b", "c"]}},
     r"For JSON pose files, columns= values are single key names"),
    ("p.json", '[{"t": 1, "matrix": [1,0,0,0,0,1,0,0,0,0,1]}]', {"layout": "matrix"},
     r"Pose 'poses\[0\].matrix' has 11 values; 12 or 16 are needed"),
])
def test_bad_poses(tmp_path: Path, name: str, text: str, kwargs: dict[str, object],
                   match: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError, match=match) as caught:
        read_poses(path, time_unit=kwargs.pop("time_unit", "s"), **kwargs)  # type: ignore[arg-type]
    assert caught.value.source in (str(path), None)


def test_error_names_the_csv_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEAD + "1,0,0,0,0,0,0,1\n# note\n0,0,0,0,0,0,0,1\n")
    with pytest.raises(InputError, match="goes backwards") as caught:
        read_poses(path, time_unit="s")
    assert caught.value.line == 4


def test_missing_pose_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot read pose file '.*none.csv'"):
        read_poses(tmp_path / "none.csv", time_unit="s")


def test_timestamp_of_wrong_type() -> None:
    with pytest.raises(InputError, match=r"Timestamp \[1\] is not a number"):
        timestamp_to_us([1], "s", source="s", field="t")


# --- the timestamp unit: declared by a column suffix or time_unit=, never assumed ------------


@pytest.mark.parametrize(("column", "want"), [
    ("timestamp_us", 17000), ("t_ns", 17), ("stamp_ms", 17000000), ("TIME_S", 17000000000),
])
def test_column_suffix_sets_the_unit(tmp_path: Path, column: str, want: int) -> None:
    path = write(tmp_path, "p.csv", f"{column},x,y,z,qx,qy,qz,qw\n17000,0,0,0,0,0,0,1\n")
    assert read_poses(path).timestamps_us.tolist() == [want]


def test_json_key_suffix_sets_the_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", '[{"timestamp_ms": 5, "position": [0,0,0], '
                                     '"quat_xyzw": [0,0,0,1]}]')
    assert read_poses(path).timestamps_us.tolist() == [5000]
    assert read_poses(path, time_unit="ms").timestamps_us.tolist() == [5000]


def test_suffix_contradicting_the_declared_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "timestamp_us,x,y,z,qx,qy,qz,qw\n1,0,0,0,0,0,0,1\n")
    with pytest.raises(InputError, match=r"p.csv: Timestamp column 'timestamp_us' says unit 'us' "
                                         r"but the declared time unit is 's'\."):
        read_poses(path, time_unit="s")


def test_no_suffix_and_no_declared_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", CSV)
    with pytest.raises(InputError, match=r"Timestamp column 'timestamp' has no unit suffix "
                                         r"\(_s, _ms, _us, _ns\); declare the time unit"):
        read_poses(path)


def test_timestamp_out_of_int64_range_is_an_input_error(tmp_path: Path) -> None:
    # microsecond values read as seconds: 1.7e21 us does not fit int64 (was an OverflowError)
    path = write(tmp_path, "p.csv", "t,x,y,z,qx,qy,qz,qw\n1700000000000000,0,0,0,0,0,0,1\n")
    with pytest.raises(InputError, match=r"Timestamp '1700000000000000' s is "
                                         r"1700000000000000000000 us, outside the int64 range "
                                         r"\(check the time unit\)\.") as caught:
        read_poses(path, time_unit="s")
    assert caught.value.line == 2
    with pytest.raises(InputError, match=r"Timestamp '1e400' ns is outside the int64 microsecond "
                                         r"range\."):
        timestamp_to_us("1e400", "ns", source="s", field="t")
    assert timestamp_to_us(str(2**63 - 1), "us", source="s", field="t") == 2**63 - 1
    assert timestamp_to_us("1e-400", "s", source="s", field="t") == 0
