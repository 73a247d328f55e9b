"""PCD field names and ascii colour columns: no silent renaming, no per-column guessing."""

from __future__ import annotations

import io

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
