"""SfsAppendWriter: spooled arrays, byte-identical output, atomic finish and clean aborts."""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sfs_support import sample_array

from sfs_kit.codecs.sfs import ALIGNMENTS, SfsAppendWriter, encode_sfs_dict, read_sfs_dict
from sfs_kit.errors import InputError


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
