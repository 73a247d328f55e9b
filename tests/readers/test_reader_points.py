"""KITTI/nuScenes/raw float, PLY and NPY/NPZ readers: round trips and every error message."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from reader_helpers import assert_clouds_equal, make_cloud

from sfs_kit.errors import InputError
from sfs_kit.readers import (
    PointCloud,
    read_kitti_bin,
    read_npy,
    read_nuscenes_bin,
    read_ply,
    read_point_cloud,
    read_raw_float,
    write_ply,
)
from sfs_kit.readers.ply import encode_ply

# --- raw float dumps --------------------------------------------------------------------------


def test_kitti_bin(tmp_path: Path) -> None:
    table = np.array([[1, 2, 3, 0.5], [4, 5, 6, 1.0]], dtype="<f4")
    path = tmp_path / "000000.bin"
    table.tofile(path)
    cloud = read_point_cloud(path)
    assert cloud.format == "kitti_bin"
    assert cloud.positions.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert cloud.intensity is not None
    assert cloud.intensity.tolist() == [0.5, 1.0]
    assert cloud.intensity_range == (0.0, 1.0)
    assert np.array_equal(read_kitti_bin(io.BytesIO(table.tobytes())).positions,
                          cloud.positions)


def test_nuscenes_bin(tmp_path: Path) -> None:
    table = np.array([[1, 2, 3, 200, 31], [4, 5, 6, 7, 0]], dtype="<f4")
    path = tmp_path / "sweep.pcd.bin"
    table.tofile(path)
    cloud = read_point_cloud(path)
    assert cloud.format == "nuscenes_bin"
    assert cloud.ring is not None
    assert cloud.ring.tolist() == [31, 0]
    assert cloud.intensity_range == (0.0, 255.0)
    assert read_nuscenes_bin(path).num_points == 2


def test_raw_float_with_declared_layout_and_skipped_column(tmp_path: Path) -> None:
    table = np.array([[9, 1, 2, 3, 0.25], [9, 4, 5, 6, 0.5]], dtype="<f8")
    path = tmp_path / "dump.bin"
    table.tofile(path)
    cloud = read_raw_float(path, ["_", "x", "y", "z", "time"], dtype="<f8")
    assert cloud.positions.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert cloud.time_s is not None
    assert cloud.time_s.tolist() == [0.25, 0.5]
    got = read_point_cloud(tmp_path / "dump.bin", columns=["x", "y", "z", "a", "b"])
    assert set(got.extra) == {"a", "b"}


@pytest.mark.parametrize(("data", "columns", "match", "field"), [
    (b"\x00" * 20, ("x", "y", "z", "i"), r"Raw point data has 20 bytes, not a multiple of the "
     r"16-byte record \(4 x float32\); the data is truncated after point 1", None),
    (b"\x00" * 16, (), "The column layout is empty", "columns"),
    (b"\x00" * 16, ("x", "y", "x", "z"), r"The column layout repeats \['x'\]", "columns"),
    (b"\x00" * 16, ("a", "b", "c", "d"), r"lack \['x', 'y', 'z'\]; x, y and z are required",
     "x"),
    (np.array([[0, 0, 0, 1.5]], "<f4").tobytes(), ("x", "y", "z", "ring"),
     r"Ring field 'ring' must hold whole numbers 0..65535", "ring"),
])
def test_bad_raw_float(data: bytes, columns: tuple[str, ...], match: str, field: str | None
                       ) -> None:
    with pytest.raises(InputError, match=match) as caught:
        read_raw_float(io.BytesIO(data), columns)
    assert caught.value.field == field
    if field is None:
        assert caught.value.offset == 16


# --- PLY --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_write_then_read_again(tmp_path: Path, fmt: str) -> None:
    cloud = make_cloud(21)
    write_ply(tmp_path / "c.ply", cloud, fmt)
    got = read_ply(tmp_path / "c.ply")
    assert_clouds_equal(got, cloud)
    assert_clouds_equal(read_point_cloud(tmp_path / "c.ply"), cloud)


def test_ply_elements_before_vertex_faces_after_and_float_colours() -> None:
    header = (b"ply\nformat binary_big_endian 1.0\ncomment hi\nelement camera 1\n"
              b"property float view\nelement vertex 2\nproperty double x\nproperty double y\n"
              b"property double z\nproperty float red\nproperty float green\n"
              b"property float blue\nproperty float scalar_Intensity\nelement face 1\n"
              b"property list uchar int vertex_indices\nend_header\n")
    rec = np.dtype([(n, ">f8") for n in "xyz"] + [(n, ">f4") for n in
                                                   ("r", "g", "b", "i")])
    table = np.array([(1, 2, 3, 1.0, 0.5, 0.0, 9), (4, 5, 6, 0, 0, 1, 10)], dtype=rec)
    data = header + np.array([7], ">f4").tobytes() + table.tobytes() + b"\x03\x00\x00\x00\x00"
    cloud = read_ply(io.BytesIO(data))
    assert cloud.positions.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert cloud.colors is not None
    assert cloud.colors.tolist() == [[255, 128, 0], [0, 0, 255]]
    assert cloud.intensity is not None
    assert cloud.intensity.tolist() == [9, 10]


def test_ply_ascii_skips_earlier_element_lines() -> None:
    data = (b"ply\nformat ascii 1.0\nelement meta 1\nproperty int a\nelement vertex 2\n"
            b"property float x\nproperty float y\nproperty float z\nend_header\n7\n1 2 3\n4 5 6\n")
    assert read_ply(io.BytesIO(data)).positions.tolist() == [[1, 2, 3], [4, 5, 6]]


PLY_HEAD = b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n" \
    b"property float z\nend_header\n"


@pytest.mark.parametrize(("data", "match"), [
    (b"PLY\n", "File does not start with the PLY magic 'ply'"),
    (b"ply\nformat ascii 1.0\n", "PLY header has no 'end_header' line"),
    (b"ply\nformat binary 1.0\nend_header\n", r"PLY format 'binary 1.0' is unknown"),
    (b"ply\nformat ascii 1.0\nelement vertex\nend_header\n",
     r"PLY element line 'element vertex' needs a name and a count"),
    (b"ply\nformat ascii 1.0\nproperty float x\nend_header\n",
     "PLY property line comes before any element"),
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float16 x\nend_header\n",
     r"PLY property line 'property float16 x' has an unknown type"),
    (b"ply\nformat ascii 1.0\nbanana\nend_header\n", r"PLY header line 'banana' is not understood"),
    (b"ply\nelement vertex 1\nend_header\n", "PLY header has no 'format' line"),
    (b"ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar int v\n"
     b"element vertex 1\nproperty float x\nend_header\n",
     r"PLY element 'face' before 'vertex' has list properties"),
    (b"ply\nformat ascii 1.0\nelement face 1\nproperty int a\nend_header\n1\n",
     r"PLY file has no 'vertex' element \(found \['face'\]\)"),
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty list uchar int v\nend_header\n",
     r"PLY vertex property 'v' is a list; lists are not supported"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\n"
     b"property float y\nproperty float z\nend_header\n" + b"\x00" * 20,
     r"PLY vertex data is truncated: 2 vertices of 12 bytes need 24 bytes from byte 115, "
     "found 20"),
    (PLY_HEAD + b"1 2 3\n4 5\n", r"PLY ascii vertex data line 9 has 2 values; expected 3"),
    (PLY_HEAD + b"1 2 3\n", r"PLY ascii vertex data has 1 lines but the header says 2"),
])
def test_bad_ply(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_ply(io.BytesIO(data))


def test_encode_ply_unknown_format() -> None:
    with pytest.raises(InputError, match=r"PLY format 'binary' is unknown"):
        encode_ply(make_cloud(2), "binary")


# --- NPY / NPZ --------------------------------------------------------------------------------


def test_npy_structured_and_plain(tmp_path: Path) -> None:
    cloud = make_cloud(10)
    table = np.zeros(10, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"),
                                ("ring", "<u2")])
    for i, axis in enumerate("xyz"):
        table[axis] = cloud.positions[:, i]
    assert cloud.intensity is not None
    table["intensity"] = cloud.intensity
    np.save(tmp_path / "s.npy", table)
    got = read_point_cloud(tmp_path / "s.npy")
    assert np.array_equal(got.positions, cloud.positions)
    assert got.ring is not None
    np.save(tmp_path / "p.npy", cloud.positions)
    assert np.array_equal(read_npy(tmp_path / "p.npy").positions, cloud.positions)
    plain = np.c_[cloud.positions, cloud.intensity]
    np.savez(tmp_path / "z.npz", points=plain, other=np.zeros(1))
    got = read_point_cloud(tmp_path / "z.npz", key="points",
                           columns=["x", "y", "z", "intensity"])
    assert_clouds_equal(got, PointCloud(positions=cloud.positions, source="", format="",
                                        intensity=cloud.intensity))
    assert got.format == "npz"


def _npz_with_garbage() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.npy", b"\x93NUMPY\x01\x00garbage")
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "kwargs", "match"), [
    (b"\x93NUMPY garbage", {}, r"NumPy .npy format version 32.103 in the file is not supported"),
    (b"\x93NUMPX\x01\x00", {}, r"Cannot read a NumPy array from the file: it does not start "
                                r"with the .npy magic"),
    (b"\x93NUMPY\x01\x00garbage", {}, r"The .npy header of the file is truncated: it should "
                                      r"end at byte 24945 but the data has 15 bytes"),
    (_npy(np.zeros((2, 3), np.float32)).replace(b"'<f4'", b"foo_x"), {},
     r"Cannot read a NumPy array from the file: its header \"\{'descr': foo_x, 'fortran_order': "
     r"False, 'shape': \(2, 3\), \}\" is not a valid array description\.$"),
    (_npy(np.zeros((2, 3), np.float32)).replace(b"(2, 3)", b"(9, 3)"), {},
     r"The .npy header of the file declares shape \(9, 3\) of float32 \(108 bytes\) but only "
     r"24 bytes follow the header\."),
    (_npy(np.zeros((2, 3))), {"key": "a"}, r"key 'a' was given but the file is a single .npy"),
    (_npz(a=np.zeros((2, 3)), b=np.zeros((2, 3))), {},
     r"The .npz archive holds 2 arrays \['a', 'b'\]; pass key= to pick one"),
    (_npz(a=np.zeros((2, 3))), {"key": "b"}, r"The .npz archive has no array 'b'"),
    (_npz_with_garbage(), {}, r"The .npy header of array 'a' is truncated"),
    (_npy(np.zeros((2, 2), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])), {},
     r"A structured point array must be 1-D, found shape \(2, 2\)"),
    (_npy(np.zeros(2, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])), {"columns": ["x"]},
     "columns= applies to"),
    (_npy(np.zeros((2, 3), dtype=complex)), {}, r"Expected a numeric \(N, k\) array"),
    (_npy(np.zeros((2, 4))), {}, r"An \(N, 4\) array needs columns= naming each column"),
    (_npy(np.zeros((2, 4))), {"columns": ["x", "y", "z"]},
     r"The column layout names 3 columns but the data has shape \(2, 4\)"),
])
def test_bad_npy(data: bytes, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_npy(io.BytesIO(data), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("a.xyz", {}, r"File '.*a.xyz' has no point-cloud extension"),
    ("a.pcd", {"columns": ["x"]}, r"columns= applies to .bin/.npy files, not '.pcd'"),
])
def test_dispatch_errors(tmp_path: Path, name: str, kwargs: dict[str, object], match: str
                         ) -> None:
    with pytest.raises(InputError, match=match):
        read_point_cloud(tmp_path / name, **kwargs)  # type: ignore[arg-type]


# --- PointCloud checks and channel conversions ------------------------------------------------


def test_point_cloud_checks_shapes_and_dtypes() -> None:
    with pytest.raises(InputError, match=r"positions must be float32 \(N, 3\), found float64"):
        PointCloud(positions=np.zeros((2, 3)), source="s", format="f")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"ring must be uint16 \(2,\), found int64"):
        PointCloud(positions=np.zeros((2, 3), np.float32), source="s", format="f",
                   ring=np.zeros(2, dtype=np.int64))


def test_colour_conversions_and_errors() -> None:
    from sfs_kit.readers._cloud import colors_from_channels, colors_from_packed
    wide = [np.array([0, 65535], np.uint16)] * 3
    assert colors_from_channels(wide, source="s", name="r").tolist() == [[0, 0, 0],
                                                                        [255, 255, 255]]
    narrow = [np.array([0, 200], np.uint16)] * 3
    assert colors_from_channels(narrow, source="s", name="r")[:, 0].tolist() == [0, 200]
    with pytest.raises(InputError, match=r"Colour field 'r' has values outside 0..65535"):
        colors_from_channels([np.array([70000])] * 3, source="s", name="r")
    with pytest.raises(InputError, match=r"Float colour fields from 'r' must lie in 0..1"):
        colors_from_channels([np.array([2.0])] * 3, source="s", name="r")
    with pytest.raises(InputError, match=r"Packed colour field 'rgb' must be 4 bytes wide"):
        colors_from_packed(np.zeros(2, np.float64), source="s", name="rgb")


@pytest.mark.parametrize("wrap", ["npy", "npz"])
def test_huge_declared_npy_shape_is_refused_before_allocating(wrap: str) -> None:
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 3), np.float32))
    header["shape"] = (10**12, 3)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    data = buffer.getvalue() + bytes(12)
    what = "the file"
    if wrap == "npz":
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("pts.npy", data)
        data, what = zipped.getvalue(), "array 'pts'"
    with pytest.raises(InputError, match=rf"The .npy header of {what} declares shape "
                                         r"\(1000000000000, 3\) of float32 \(12000000000000 "
                                         r"bytes\) but only 12 bytes follow the header\.") as err:
        read_npy(io.BytesIO(data))
    assert err.value.field == "shape"


def test_npy_arrays_view_the_file_bytes_in_both_orders() -> None:
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    cloud = read_npy(io.BytesIO(_npy(np.asfortranarray(array))))
    assert cloud.positions.tolist() == array.tolist()
    with pytest.raises(InputError, match=r"holds Python objects \(object\); pickled arrays are "
                                         r"refused\."):
        read_npy(io.BytesIO(_npy(np.array([[1, 2, 3]], dtype=object))))
