"""PCD field names and ascii colour columns: no silent renaming, no per-column guessing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from sfs_kit.errors import InputError
from sfs_kit.readers.pcd import read_pcd


def _head(fields: str, type_: str, data: str = "ascii", points: int = 2) -> bytes:
    n = len(fields.split())
    return (f"VERSION .7\nFIELDS {fields}\nSIZE {' '.join(['4'] * n)}\nTYPE {type_}\n"
            f"COUNT {' '.join(['1'] * n)}\nWIDTH {points}\nHEIGHT 1\nPOINTS {points}\n"
            f"DATA {data}\n").encode()


@pytest.mark.parametrize("data", ["ascii", "binary"])
def test_duplicate_field_name_is_refused(data: str) -> None:
    body = b"1 2 3 4\n5 6 7 8\n" if data == "ascii" else bytes(32)
    with pytest.raises(InputError, match=r"PCD header FIELDS names 'x' more than once; only '_' "
                                         r"padding fields may repeat\.") as caught:
        read_pcd(io.BytesIO(_head("x y z x", "F F F F", data) + body))
    assert (caught.value.field, caught.value.line) == ("x", 2)


def test_repeated_padding_fields_are_allowed() -> None:
    cloud = read_pcd(io.BytesIO(_head("x _ y z _", "F U F F U", "binary") + bytes(40)))
    assert cloud.num_points == 2
    assert "x1" not in cloud.extra


BITS = 0x00102030
FLOAT_FORM = repr(float(np.array([BITS], np.uint32).view(np.float32)[0]))  # ~1.48e-39


def _rgb(values: list[str]) -> bytes:
    rows = "".join(f"{i} 0 0 {v}\n" for i, v in enumerate(values))
    return _head("x y z rgb", "F F F F", points=len(values)) + rows.encode()


@pytest.mark.parametrize("token", ["4.2108e+06", "4210800", "4210800.0", FLOAT_FORM, "0"])
def test_ascii_type_f_rgb_is_read_as_float_bits_like_pypcd4(token: str, tmp_path: Path) -> None:
    import pypcd4

    path = tmp_path / "c.pcd"
    path.write_bytes(_rgb([token, "0"]))
    cloud = read_pcd(path)
    theirs = np.atleast_1d(pypcd4.PointCloud.from_path(path).pc_data["rgb"])  # type: ignore[attr-defined]
    bits = theirs.astype(np.float32).view(np.uint32)
    expected = np.c_[(bits >> 16) & 255, (bits >> 8) & 255, bits & 255]
    assert cloud.colors is not None
    assert cloud.colors.tolist() == expected.tolist()


def test_whole_number_float_rgb_is_the_colour_of_its_bits() -> None:
    # pypcd4's ascii.pcd writes rgb as %g floats: 4.2108e+06 is float32 0x4A8080E0
    cloud = read_pcd(io.BytesIO(_rgb(["4.2108e+06", "0"])))
    assert cloud.colors is not None
    assert cloud.colors.tolist() == [[128, 128, 224], [0, 0, 0]]


@pytest.mark.parametrize("field", ["intensity", "x", "t", "ring"])
def test_count_above_one_on_a_known_channel_is_a_clear_error(field: str) -> None:
    names = ["x", "y", "z", "intensity", "t", "ring"]
    if field == "x":
        names = ["y", "z", "intensity", "t", "ring", "x"]
    counts = " ".join("2" if n == field else "1" for n in names)
    head = (f"VERSION .7\nFIELDS {' '.join(names)}\nSIZE 4 4 4 4 4 4\nTYPE F F F F F F\n"
            f"COUNT {counts}\nWIDTH 1\nHEIGHT 1\nPOINTS 1\nDATA ascii\n").encode()
    with pytest.raises(InputError, match=rf"Point field '{field}' holds \(2,\) values a point "
                                         r"\(e.g. a PCD COUNT > 1\), but it names a known "
                                         r"channel") as caught:
        read_pcd(io.BytesIO(head + b"1 2 3 4 5 6 7\n"))
    assert caught.value.field == field


def test_rgb_count_3_of_integers_is_one_channel_a_value() -> None:
    head = (b"VERSION .7\nFIELDS x y z rgb\nSIZE 4 4 4 1\nTYPE F F F U\nCOUNT 1 1 1 3\n"
            b"WIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n")
    cloud = read_pcd(io.BytesIO(head + b"0 0 0 10 20 30\n1 1 1 200 100 0\n"))
    assert cloud.colors is not None
    assert cloud.colors.tolist() == [[10, 20, 30], [200, 100, 0]]
