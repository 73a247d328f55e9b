"""Declared sizes are compared with what the file can hold before anything is allocated.

Each case declares about 10**12 points or values over a few bytes of data: the reader must answer
with an InputError naming the file and the field, never a MemoryError, a numpy ValueError, or a
process killed for its memory.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from sfs_kit.errors import InputError
from sfs_kit.readers.pcd import read_pcd
from sfs_kit.readers.ply import read_ply

HUGE = 10**12


def _pcd(data: str, *, points: int = 1, count_h: int = 1) -> bytes:
    return (f"VERSION .7\nFIELDS x y z h\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 {count_h}\n"
            f"WIDTH {points}\nHEIGHT 1\nPOINTS {points}\nDATA {data}\n").encode()


@pytest.mark.parametrize(("data", "body", "room"), [
    ("binary", bytes(16), r"the 16 bytes of data after the header"),
    ("ascii", b"1 2 3 4\n", r"the 8 bytes of ascii data after the header"),
    ("binary_compressed", bytes(16), r"a binary_compressed block \(4294967295 bytes at most\)"),
])
def test_pcd_huge_count_is_refused_from_the_header(data: str, body: bytes, room: str) -> None:
    need = 2 * HUGE - 1 if data == "ascii" else 4 * HUGE
    with pytest.raises(InputError, match=rf"x.pcd:5: PCD field 'h' has COUNT {HUGE}: one point "
                                         rf"needs at least {need} bytes for it, more than "
                                         rf"{room}\.") as caught:
        read_pcd(_Named(_pcd(data, count_h=HUGE) + body))
    assert caught.value.field == "COUNT"


def test_pcd_huge_points_are_refused() -> None:
    with pytest.raises(InputError, match=rf"PCD binary data is truncated: {HUGE} points of 16 "
                                         rf"bytes need {16 * HUGE} bytes after the header"):
        read_pcd(_Named(_pcd("binary", points=HUGE) + bytes(16)))
    with pytest.raises(InputError, match=rf"PCD ascii data has fewer lines than POINTS {HUGE} "
                                         r"\(found 1\)"):
        read_pcd(_Named(_pcd("ascii", points=HUGE) + b"1 2 3 4\n"))


def test_pcd_without_points_reads_nothing_whatever_the_counts() -> None:
    cloud = read_pcd(_Named(_pcd("binary", points=0, count_h=HUGE)))
    assert cloud.num_points == 0
    normal = read_pcd(_Named(_pcd("ascii", points=0, count_h=3)))
    assert normal.num_points == 0


@pytest.mark.parametrize(("fmt", "body", "match"), [
    ("ascii", b"1 2 3\n", rf"PLY ascii vertex data has 1 lines but the header says {HUGE}"),
    ("binary_little_endian", bytes(12),
     rf"PLY vertex data is truncated: {HUGE} vertices of 12 bytes need {12 * HUGE} bytes"),
])
def test_ply_huge_vertex_count_is_refused(fmt: str, body: bytes, match: str) -> None:
    header = (f"ply\nformat {fmt} 1.0\nelement vertex {HUGE}\nproperty float x\n"
              "property float y\nproperty float z\nend_header\n").encode()
    with pytest.raises(InputError, match=match):
        read_ply(_Named(header + body))


class _Named(io.BytesIO):
    """A binary stream with a file name, as the readers report it."""

    name = "x.pcd"


def test_named_stream_helper() -> None:
    assert np.frombuffer(_Named(b"ab").getvalue(), np.uint8).tolist() == [97, 98]
