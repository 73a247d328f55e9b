"""Round trips, layout, alignment, byte order and zero-copy behaviour of the .sfs codec."""

from __future__ import annotations

import io
import mmap
import os
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sfs_support import DTYPES, assert_trees_equal, le_bytes, sample_array

from sfs_kit.codecs import _sfs_plan
from sfs_kit.codecs.sfs import (
    ALIGNMENTS,
    LargeIntegerWarning,
    encode_sfs_dict,
    index_sfs,
    plan_sfs,
    read_sfs_dict,
    write_sfs_dict,
)
from sfs_kit.errors import OutputError


def _base_of(array: np.ndarray[Any, Any]) -> object:
    base: object = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


@pytest.mark.parametrize("align", ALIGNMENTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_every_dtype_and_alignment(dtype: str, align: int) -> None:
    tree = {
        "version": "1.0",
        "odd": sample_array("uint8", (5,), seed=1),
        "data": sample_array(dtype, (3, 7), seed=2),
        "scalar": sample_array(dtype, (), seed=3),
        "empty": sample_array(dtype, (0, 3)),
    }
    data = encode_sfs_dict(tree, align=align)
    assert_trees_equal(read_sfs_dict(data), tree)
    index = index_sfs(data)
    assert index.header_length % align == 0
    assert data[index.header_length : index.header_length + align] == bytes(align)
    for entry in index.items:
        assert (index.header_length + entry.offset) % align == 0
    assert len(data) == plan_sfs(tree, align=align).size == index.file_size


def test_nested_tree_and_header_values_round_trip() -> None:
    tree: dict[str, Any] = {
        "version": "1.0",
        "none": None,
        "flags": [True, False],
        "ints": [0, -1, 2**53 - 1, -(2**53 - 1)],
        "floats": [0.1, -0.0, 1e300, 5e-324],
        "text": 'ünïcödé \u0000 / " \\',
        "sensors": [
            {
                "id": "lidar",
                "frames": [{"timestamp": 0, "points": {"positions": np.ones((4, 3), "f4")}}],
            },
            {
                "id": 7,
                "empty": {},
                "list": [],
                "nested": [[np.arange(3, dtype="u2")], {"x": b"\x00\xff"}],
            },
        ],
    }
    back = read_sfs_dict(encode_sfs_dict(tree))
    expected = dict(tree)
    expected["sensors"] = [
        tree["sensors"][0],
        {
            "id": 7,
            "empty": {},
            "list": [],
            "nested": [[np.arange(3, dtype="u2")], {"x": np.array([0, 255], "u1")}],
        },
    ]
    assert_trees_equal(back, expected)


def test_bytes_like_values_are_stored_as_uint8() -> None:
    floats = np.arange(4, dtype="<f4")
    strided = memoryview(bytes(range(10)))[::2]
    tree = {"b": b"abc", "ba": bytearray(b"de"), "mv": floats.data, "strided": strided}
    back = read_sfs_dict(encode_sfs_dict(tree))
    assert_trees_equal(back["b"], np.frombuffer(b"abc", np.uint8))
    assert_trees_equal(back["ba"], np.frombuffer(b"de", np.uint8))
    assert_trees_equal(back["mv"], np.frombuffer(floats.tobytes(), np.uint8))
    assert_trees_equal(back["strided"], np.array([0, 2, 4, 6, 8], np.uint8))


def test_numpy_scalars_and_tuples_become_json_values() -> None:
    tree = {
        "i": np.int16(-3),
        "u": np.uint64(7),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "t": (1, "x"),
    }
    back = read_sfs_dict(encode_sfs_dict(tree))
    assert_trees_equal(back, {"i": -3, "u": 7, "f": 0.5, "b": True, "t": [1, "x"]})


def test_int64_bounds_are_accepted_and_large_ints_warn() -> None:
    with pytest.warns(LargeIntegerWarning) as record:
        data = encode_sfs_dict({"big": 2**63 - 1, "small": -(2**63), "safe": 2**53 - 1})
    assert [str(w.message) for w in record] == [
        "Integer at ('big') is 9223372036854775807, beyond 2**53 - 1; "
        "JavaScript readers will lose precision.",
        "Integer at ('small') is -9223372036854775808, beyond 2**53 - 1; "
        "JavaScript readers will lose precision.",
    ]
    assert read_sfs_dict(data) == {"big": 2**63 - 1, "small": -(2**63), "safe": 2**53 - 1}


@pytest.mark.parametrize("dtype", [d for d in DTYPES if np.dtype(d).itemsize > 1])
def test_big_endian_input_is_stored_little_endian(dtype: str) -> None:
    native = sample_array(dtype, (6, 2), seed=4)
    swapped = native.astype(native.dtype.newbyteorder(">"))
    data = encode_sfs_dict({"a": swapped})
    index = index_sfs(data)
    start = index.header_length + index.items[0].offset
    assert data[start : start + native.nbytes] == le_bytes(native)
    back = read_sfs_dict(data)["a"]
    assert back.dtype == np.dtype(dtype).newbyteorder("<")
    assert np.array_equal(
        back.view(np.uint8), native.astype(native.dtype.newbyteorder("<")).view(np.uint8)
    )


def test_non_contiguous_input_is_written_in_c_order() -> None:
    base = sample_array("float32", (6, 8), seed=5)
    tree = {"t": base.T, "s": base[::2, ::-3], "f": np.asfortranarray(base)}
    back = read_sfs_dict(encode_sfs_dict(tree))
    for key, value in tree.items():
        assert back[key].flags.c_contiguous
        assert le_bytes(back[key]) == np.ascontiguousarray(value).tobytes()


def test_conversion_chunks_stay_under_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sfs_plan, "CHUNK_BYTES", 64)
    rows = sample_array("float64", (5, 4, 3), seed=6)  # one row is 96 bytes > 64: recursion
    column = sample_array("int16", (40, 3), seed=7)
    for array in (rows.astype(">f8"), column.T, column.astype(">i2")):
        chunks = [bytes(c) for c in _sfs_plan.iter_array_chunks(array)]  # consumed one by one
        assert len(chunks) > 1
        assert all(len(chunk) <= 64 for chunk in chunks)
        assert b"".join(chunks) == le_bytes(array)
    assert_trees_equal(read_sfs_dict(encode_sfs_dict({"r": rows.astype(">f8")})), {"r": rows})


def test_plan_knows_size_and_layout_before_writing() -> None:
    tree = {"a": np.zeros(3, "f4"), "b": {"c": np.zeros((2, 2), "u1")}}
    plan = plan_sfs(tree, align=16)
    data = b"".join(bytes(chunk) for chunk in plan.iter_chunks())
    assert data == encode_sfs_dict(tree, align=16)
    assert plan.size == len(data)
    assert [(i.keys, i.offset, i.length, i.dtype, i.shape) for i in plan.items] == [
        (("a",), 16, 12, "float32", (3,)),
        (("b", "c"), 32, 4, "uint8", (2, 2)),
    ]


def test_write_to_path_stream_and_bytes_agree(tmp_path: Path) -> None:
    tree = {"version": "1.0", "a": sample_array("uint32", (9,))}
    path = tmp_path / "scene.sfs"
    stream = io.BytesIO()
    assert write_sfs_dict(tree, path) == write_sfs_dict(tree, stream) == path.stat().st_size
    assert path.read_bytes() == stream.getvalue() == encode_sfs_dict(tree)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_path_write_leaves_nothing_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scene.sfs"
    path.write_bytes(b"old")

    def broken(array: np.ndarray[Any, Any]) -> Any:
        yield memoryview(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_sfs_plan, "iter_array_chunks", broken)
    with pytest.raises(OutputError, match=r"Cannot write output file '.*scene.sfs': No space left"):
        write_sfs_dict({"a": np.zeros(3)}, path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]


def test_contiguous_arrays_are_written_without_a_copy(tmp_path: Path) -> None:
    array = np.ones(50 * 1024 * 1024 // 4, dtype="<f4")
    tracemalloc.start()
    try:
        write_sfs_dict({"a": array}, tmp_path / "big.sfs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_big_endian_arrays_are_converted_in_bounded_chunks(tmp_path: Path) -> None:
    array = np.ones(48 * 1024 * 1024 // 4, dtype=">f4")
    tracemalloc.start()
    try:
        write_sfs_dict({"a": array}, tmp_path / "big.sfs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < _sfs_plan.CHUNK_BYTES + 1024 * 1024


def test_path_reads_are_read_only_views_of_a_memory_map(tmp_path: Path) -> None:
    path = tmp_path / "scene.sfs"
    write_sfs_dict({"a": sample_array("float64", (4, 3)), "b": [np.arange(5, dtype="i4")]}, path)
    tree = read_sfs_dict(path)
    for array in (tree["a"], tree["b"][0]):
        assert not array.flags.writeable
        assert isinstance(_base_of(array), mmap.mmap)
    with pytest.raises(ValueError, match="read-only"):
        tree["a"][0, 0] = 1.0


def test_bytes_reads_share_memory_and_writable_copies(tmp_path: Path) -> None:
    data = encode_sfs_dict({"a": sample_array("int32", (8,))})
    whole = np.frombuffer(data, dtype=np.uint8)
    view = read_sfs_dict(data)["a"]
    assert np.shares_memory(view, whole)
    copy = read_sfs_dict(data, writable=True)["a"]
    assert copy.flags.writeable
    assert not np.shares_memory(copy, whole)
    assert_trees_equal(copy, view)
    from_bytearray = read_sfs_dict(bytearray(data))["a"]
    assert not from_bytearray.flags.writeable
    from_view = read_sfs_dict(memoryview(data))["a"]
    assert np.shares_memory(from_view, whole)


def test_misaligned_foreign_items_are_copied() -> None:
    for name in ("d", "dd", "ddd", "dddd"):  # one header length puts the float64 at 4 mod 8
        tree = {"c": np.arange(5, dtype="u1"), name: np.array([1.5, -2.25], "f8")}
        data = encode_sfs_dict(tree, align=4)
        index = index_sfs(data)
        if (index.header_length + index.items[1].offset) % 8:
            break
    else:
        pytest.fail("no misaligned layout found")
    back = read_sfs_dict(data)
    assert back[name].flags.aligned
    assert not back[name].flags.writeable
    assert_trees_equal(back, tree)
