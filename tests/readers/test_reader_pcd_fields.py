"""PCD field names and ascii colour columns: no silent renaming, no per-column guessing."""

from __future__ import annotations

import io

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


def test_ascii_rgb_mixing_integer_and_float_forms_is_refused() -> None:
    with pytest.raises(InputError, match=rf"PCD ascii colour field 'rgb' mixes packed-integer "
                                         rf"values \({BITS} at point 1\) with float-encoded ones "
                                         rf"\({FLOAT_FORM} at point 0\); write the column in one "
                                         r"form\.") as caught:
        read_pcd(io.BytesIO(_rgb([FLOAT_FORM, str(BITS)])))
    assert caught.value.field == "rgb"


@pytest.mark.parametrize("form", [FLOAT_FORM, str(BITS)])
def test_black_points_do_not_make_a_column_mixed(form: str) -> None:
    cloud = read_pcd(io.BytesIO(_rgb(["0", form, "0.0"])))
    assert cloud.colors is not None
    assert cloud.colors.tolist() == [[0, 0, 0], [0x10, 0x20, 0x30], [0, 0, 0]]
