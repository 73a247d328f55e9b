"""Writing to a raw file gathers the chunks into ``os.writev`` calls: the bytes must be those
the plain chunk-by-chunk path writes, for every kind of array (views, converted copies in a
reused buffer, empty ones), more chunks than one call takes, and calls that write only part."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sfs_kit.codecs import _sfs_plan
from sfs_kit.codecs.sfs import encode_sfs_dict, plan_sfs, write_sfs_dict


def _mixed_tree() -> dict[str, Any]:
    rng = np.random.default_rng(3)
    grid = rng.normal(size=(50, 8)).astype(np.float32)
    return {
        "version": "1.0",
        "view": grid,
        "strided": grid[:, ::2],  # not contiguous: converted through the reused buffer
        "big_endian": np.arange(17, dtype=">u4"),
        "empty": np.zeros(0, np.float64),
        "bytes": b"\x01\x02\x03",
        "many": [np.full(i % 7 + 1, i, np.uint16) for i in range(700)],  # > 1024 chunks
        "tail": np.arange(5, dtype=np.int64),
    }


def _huge_strided_tree() -> dict[str, Any]:
    """One non-contiguous array beyond ``CHUNK_BYTES``: converted in pieces through one buffer."""
    rows = _sfs_plan.CHUNK_BYTES // 8 + 1000
    return {"version": "1.0", "huge": np.arange(2 * rows, dtype=np.float64).reshape(-1, 2)[:, :1],
            "after": np.arange(3, dtype=np.uint8)}


def _stingy(limit: int) -> Callable[[int, list[memoryview]], int]:
    """An ``os.writev`` that takes at most ``limit`` bytes a call, as a short write may."""

    def writev(fd: int, views: list[memoryview]) -> int:
        cut, room = [], limit
        for view in views:
            if room <= 0:
                break
            cut.append(view[:room])
            room -= min(room, view.nbytes)
        return os.writev(fd, cut)

    return writev


@pytest.mark.parametrize("make", [_mixed_tree, _huge_strided_tree])
def test_a_raw_file_gets_the_bytes_of_the_chunk_by_chunk_path(
    make: Callable[[], dict[str, Any]], tmp_path: Path
) -> None:
    tree = make()
    expected = encode_sfs_dict(tree)  # a BytesIO: written chunk by chunk
    with open(tmp_path / "raw.sfs", "wb", buffering=0) as raw:
        plan_sfs(tree).write_to(raw)
    assert (tmp_path / "raw.sfs").read_bytes() == expected
    write_sfs_dict(tree, tmp_path / "path.sfs")  # a path: atomic temp file, raw
    assert (tmp_path / "path.sfs").read_bytes() == expected


@pytest.mark.parametrize("limit", [1, 7, 100, 4096])
def test_short_writev_calls_are_continued_where_they_stopped(
    limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _mixed_tree()
    expected = encode_sfs_dict(tree)
    calls: list[int] = []
    stingy = _stingy(limit)

    def counted(fd: int, views: list[memoryview]) -> int:
        calls.append(len(views))
        return stingy(fd, views)

    monkeypatch.setattr(_sfs_plan, "_WRITEV", counted)
    write_sfs_dict(tree, tmp_path / "short.sfs")
    assert (tmp_path / "short.sfs").read_bytes() == expected
    assert calls
    assert max(calls) <= _sfs_plan._IOV_MAX


def test_chunks_are_gathered_into_few_calls(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(fd: int, views: list[memoryview]) -> int:
        calls.append(len(views))
        return os.writev(fd, views)

    monkeypatch.setattr(_sfs_plan, "_WRITEV", counted)
    tree = {"version": "1.0", "arrays": [np.arange(i + 1, dtype=np.float32) for i in range(300)]}
    write_sfs_dict(tree, tmp_path / "few.sfs")
    assert (tmp_path / "few.sfs").read_bytes() == encode_sfs_dict(tree)
    assert len(calls) == 1  # header, sentinel, 300 arrays and their padding: one call


def test_a_file_that_takes_nothing_is_an_output_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from sfs_kit import OutputError

    monkeypatch.setattr(_sfs_plan, "_WRITEV", lambda fd, views: 0)
    with pytest.raises(OutputError, match="took no bytes"):
        write_sfs_dict({"version": "1.0", "a": np.ones(3)}, tmp_path / "none.sfs")
    assert list(tmp_path.iterdir()) == []
