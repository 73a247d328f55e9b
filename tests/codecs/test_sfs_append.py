"""SfsAppendWriter: spooled or in-place arrays, byte-identical output, atomic finish, aborts."""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scale_json_binary.json_binary_codecs as sjb
from sfs_support import assert_trees_equal, sample_array

from sfs_kit.codecs.sfs import (
    ALIGNMENTS,
    SfsAppendWriter,
    encode_sfs_dict,
    index_sfs,
    read_sfs_dict,
    write_sfs_dict,
)
from sfs_kit.errors import InputError, OutputError


def _frames(n: int) -> list[dict[str, np.ndarray[Any, Any]]]:
    return [
        {
            "positions": sample_array("float32", (10 + i, 3), seed=i),
            "intensities": sample_array("uint8", (10 + i,), seed=100 + i),
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_output_is_byte_identical_to_write_sfs_dict(align: int, tmp_path: Path) -> None:
    frames = _frames(4)
    dest = tmp_path / "scene.sfs"
    with SfsAppendWriter(dest, align=align) as writer:
        refs = [{key: writer.add_array(value) for key, value in frame.items()} for frame in frames]
        size = writer.finish({"version": "1.0", "frames": refs})
    expected = encode_sfs_dict({"version": "1.0", "frames": frames}, align=align)
    assert dest.read_bytes() == expected
    assert size == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]


def test_any_order_mixing_and_reuse_still_match(tmp_path: Path) -> None:
    a, b, c = (
        sample_array("int16", (5,), 1),
        sample_array("float64", (2, 2), 2),
        sample_array("bool", (3,), 3),
    )
    inline = sample_array("uint32", (4,), 4)
    dest = tmp_path / "scene.sfs"
    writer = SfsAppendWriter(dest, align=8)
    ref_c, ref_a, ref_b = writer.add_array(c), writer.add_array(a), writer.add_array(b)
    writer.add_array(np.zeros(9))  # never placed in the tree: not written
    tree = {"x": [ref_a, inline, ref_b], "y": ref_a, "z": {"c": ref_c}}
    writer.finish(tree)
    expected = encode_sfs_dict({"x": [a, inline, b], "y": a, "z": {"c": c}}, align=8)
    assert dest.read_bytes() == expected


def test_big_endian_non_contiguous_and_bytes_inputs(tmp_path: Path) -> None:
    base = sample_array("float32", (6, 4), 5)
    values: dict[str, np.ndarray[Any, Any] | bytes] = {
        "be": base.astype(">f4"),
        "t": base.T,
        "raw": b"\x01\x02\x03",
    }
    dest = tmp_path / "scene.sfs"
    with SfsAppendWriter(dest) as writer:
        writer.finish({k: writer.add_array(v) for k, v in values.items()})
    assert dest.read_bytes() == encode_sfs_dict(values)


@pytest.mark.parametrize("failure", ["exdev", "missing"])
def test_copy_falls_back_without_copy_file_range(
    failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if failure == "missing":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    else:

        def cross_device(*args: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", cross_device)
    frames = _frames(3)
    dest = tmp_path / "scene.sfs"
    with SfsAppendWriter(dest) as writer:
        writer.finish({"frames": [{k: writer.add_array(v) for k, v in f.items()} for f in frames]})
    assert dest.read_bytes() == encode_sfs_dict({"frames": frames})


def test_exception_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "scene.sfs"

    def convert() -> None:
        with SfsAppendWriter(dest) as writer:
            writer.add_array(np.zeros(1000))
            raise RuntimeError("converter failed")

    with pytest.raises(RuntimeError, match="converter failed"):
        convert()
    assert list(tmp_path.iterdir()) == []


def test_leaving_without_finish_aborts_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "scene.sfs"
    dest.write_bytes(b"old")
    with caplog.at_level(logging.WARNING), SfsAppendWriter(dest) as writer:
        writer.add_array(np.zeros(10))
    assert "left without finish()" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]
    assert dest.read_bytes() == b"old"


def test_abort_is_idempotent_and_closes_the_writer(tmp_path: Path) -> None:
    writer = SfsAppendWriter(tmp_path / "scene.sfs")
    writer.abort()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    where = str(tmp_path / "scene.sfs")
    message = f"Cannot add_array: the SfsAppendWriter for {where!r} is already aborted."
    with pytest.raises(InputError, match=re.escape(message)):
        writer.add_array(np.zeros(1))


def test_finish_twice_is_refused(tmp_path: Path) -> None:
    writer = SfsAppendWriter(tmp_path / "scene.sfs")
    writer.finish({})
    with pytest.raises(
        InputError, match=r"Cannot finish: the SfsAppendWriter for .* is already finished\."
    ):
        writer.finish({})


def test_a_bad_tree_leaves_the_writer_open(tmp_path: Path) -> None:
    dest = tmp_path / "scene.sfs"
    writer = SfsAppendWriter(dest)
    ref = writer.add_array(np.arange(3, dtype="u1"))
    with pytest.raises(InputError, match=re.escape("Dict key 1 at () is 'int'")):
        writer.finish({1: ref})  # type: ignore[dict-item]
    writer.finish({"a": ref})
    assert read_sfs_dict(dest)["a"].tolist() == [0, 1, 2]


def test_placeholders_belong_to_their_writer(tmp_path: Path) -> None:
    first, second = SfsAppendWriter(tmp_path / "a.sfs"), SfsAppendWriter(tmp_path / "b.sfs")
    ref = first.add_array(np.zeros(2))
    with pytest.raises(
        InputError, match=re.escape("Placeholder at ('x') belongs to a different SfsAppendWriter.")
    ):
        second.finish({"x": ref})
    with pytest.raises(
        InputError, match=re.escape("Value at ('x') is an SfsAppendWriter placeholder")
    ):
        encode_sfs_dict({"x": ref})
    first.abort()
    second.abort()


def test_add_array_rejects_bad_values(tmp_path: Path) -> None:
    with SfsAppendWriter(tmp_path / "scene.sfs") as writer:
        with pytest.raises(
            InputError, match=re.escape("Array #0 has dtype '<U1'; .sfs stores only")
        ):
            writer.add_array(np.array(["x"]))
        with pytest.raises(
            InputError, match=re.escape("Array #0 is a 'list', not an ndarray or bytes.")
        ):
            writer.add_array([1, 2])  # type: ignore[arg-type]
        writer.abort()


def test_bad_alignment_is_refused_before_any_file_exists(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=re.escape("align must be one of 4, 8, 16, 32, 64, not 2.")
    ):
        SfsAppendWriter(tmp_path / "scene.sfs", align=2)
    assert list(tmp_path.iterdir()) == []


# --- reserved header: arrays written in place after [0, R) --------------------------------------


def _header_length(data: bytes) -> int:
    return data.index(b"\x00")


def _write_reserved(
    dest: Path, frames: list[dict[str, np.ndarray[Any, Any]]], *, align: int, reserve: int
) -> int:
    with SfsAppendWriter(dest, align=align, reserve_header_bytes=reserve) as writer:
        refs = [{key: writer.add_array(value) for key, value in frame.items()} for frame in frames]
        return writer.finish({"version": "1.0", "frames": refs, "extra": np.arange(3.0)})


@pytest.mark.parametrize("align", ALIGNMENTS)
def test_reserve_that_fits_exactly_is_byte_identical(
    align: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = _frames(4)
    tree = {"version": "1.0", "frames": frames, "extra": np.arange(3.0)}
    expected = encode_sfs_dict(tree, align=align)
    needed = _header_length(expected)
    reserves = (needed, needed - align + 1)  # the second is rounded up to needed
    with caplog.at_level(logging.INFO, logger="sfs_kit.codecs._sfs_append"):
        for reserve in reserves:
            dest = tmp_path / f"scene{reserve}.sfs"
            assert _write_reserved(dest, frames, align=align, reserve=reserve) == len(expected)
            assert dest.read_bytes() == expected
    assert caplog.text == ""  # written in place: no fallback
    assert {p.name for p in tmp_path.iterdir()} == {f"scene{r}.sfs" for r in reserves}


@pytest.mark.parametrize("align", [4, 64])
def test_generous_reserve_only_pads_the_header(align: int, tmp_path: Path) -> None:
    frames = _frames(3)
    tree = {"version": "1.0", "frames": frames, "extra": np.arange(3.0)}
    expected = encode_sfs_dict(tree, align=align)
    needed = _header_length(expected)
    dest = tmp_path / "scene.sfs"
    size = _write_reserved(dest, frames, align=align, reserve=needed + 1000)
    data = dest.read_bytes()
    reserved = needed + (-(-1000 // align) * align)
    assert size == len(data) == len(expected) + reserved - needed
    assert _header_length(data) == reserved
    assert data[:reserved].rstrip(b" ") == expected[:needed].rstrip(b" ")
    assert set(data[needed:reserved]) == {0x20}
    assert data[reserved:] == expected[needed:]  # same sentinel, items and item offsets
    index = index_sfs(dest)
    assert index.header_length == reserved
    assert index.items == index_sfs(expected).items
    assert_trees_equal(read_sfs_dict(dest), read_sfs_dict(expected))
    assert_trees_equal(sjb.read_file(str(dest)), read_sfs_dict(expected))


def test_too_small_reserve_falls_back_to_copying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frames = _frames(4)
    tree = {"version": "1.0", "frames": frames, "extra": np.arange(3.0)}
    expected = encode_sfs_dict(tree, align=8)
    dest = tmp_path / "scene.sfs"
    with caplog.at_level(logging.INFO, logger="sfs_kit.codecs._sfs_append"):
        size = _write_reserved(dest, frames, align=8, reserve=_header_length(expected) - 8)
    assert "copying the data after the header instead" in caplog.text
    assert dest.read_bytes() == expected
    assert size == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]


@pytest.mark.parametrize("failure", ["none", "missing"])
def test_reordered_tree_with_reserve_falls_back_and_matches(
    failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if failure == "missing":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    a, b = sample_array("int16", (5,), 1), sample_array("float64", (2, 2), 2)
    inline = sample_array("uint32", (4,), 4)
    dest = tmp_path / "scene.sfs"
    writer = SfsAppendWriter(dest, align=8, reserve_header_bytes=4096)
    ref_a, ref_b = writer.add_array(a), writer.add_array(b)
    writer.finish({"x": [ref_b, inline, ref_a], "y": ref_b})
    assert dest.read_bytes() == encode_sfs_dict({"x": [b, inline, a], "y": b}, align=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]


def test_unused_trailing_arrays_are_cut_in_place(tmp_path: Path) -> None:
    a = sample_array("float32", (4, 3), 1)
    dest = tmp_path / "scene.sfs"
    with SfsAppendWriter(dest, align=16, reserve_header_bytes=512) as writer:
        ref = writer.add_array(a)
        writer.add_array(np.zeros(1000))  # never placed in the tree
        size = writer.finish({"a": ref})
    data = dest.read_bytes()
    expected = encode_sfs_dict({"a": a}, align=16)
    assert size == len(data) == 512 + len(expected) - _header_length(expected)
    assert data[512:] == expected[_header_length(expected) :]


def test_reserved_file_mode_matches_write_sfs_dict(tmp_path: Path) -> None:
    dest = tmp_path / "scene.sfs"
    with SfsAppendWriter(dest, reserve_header_bytes=256) as writer:
        writer.finish({"a": writer.add_array(np.arange(4))})
    write_sfs_dict({"a": np.arange(4)}, tmp_path / "plain.sfs")
    assert dest.stat().st_mode == (tmp_path / "plain.sfs").stat().st_mode


@pytest.mark.parametrize("how", ["abort", "exception", "no finish"])
def test_abort_with_reserve_leaves_nothing(how: str, tmp_path: Path) -> None:
    dest = tmp_path / "scene.sfs"
    dest.write_bytes(b"old")
    writer = SfsAppendWriter(dest, reserve_header_bytes=1024)
    writer.add_array(np.zeros(100))
    assert len(list(tmp_path.iterdir())) == 2  # the output's temp file exists while writing
    if how == "abort":
        writer.abort()
    elif how == "exception":
        with pytest.raises(RuntimeError, match="boom"), writer:
            raise RuntimeError("boom")
    else:
        with writer:
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.sfs"]
    assert dest.read_bytes() == b"old"


def test_failed_in_place_finish_aborts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "scene.sfs"
    writer = SfsAppendWriter(dest, reserve_header_bytes=1024)
    ref = writer.add_array(np.zeros(100))

    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match=r"Cannot write output file '.*scene.sfs': No space left "
                                          r"on device\."):
        writer.finish({"a": ref})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match=r"Cannot finish: .* is already aborted\."):
        writer.finish({"a": ref})


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "64"])
def test_bad_reserve_is_refused_before_any_file_exists(bad: object, tmp_path: Path) -> None:
    message = f"reserve_header_bytes must be a positive int or None, not {bad!r}."
    with pytest.raises(InputError, match=re.escape(message)):
        SfsAppendWriter(tmp_path / "scene.sfs", reserve_header_bytes=bad)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
