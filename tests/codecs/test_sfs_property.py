"""Property-based round trips and fuzzing: any bytes give a tree or an SfsFormatError."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sfs_support import DTYPES, assert_trees_equal

from sfs_kit.codecs.sfs import ALIGNMENTS, encode_sfs_dict, index_sfs, read_sfs_dict
from sfs_kit.errors import SfsFormatError

_DTYPES = [np.dtype(name).newbyteorder(order) for name in DTYPES for order in ("<", ">")]

arrays = st.sampled_from(_DTYPES).flatmap(
    lambda dtype: hnp.arrays(
        dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    )
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
keys = st.text(max_size=6).filter(lambda key: key != "$items")
trees = st.recursive(
    scalars | arrays,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(tree=st.dictionaries(keys, trees, max_size=4), align=st.sampled_from(ALIGNMENTS))
def test_round_trip_of_random_trees(tree: dict[str, Any], align: int) -> None:
    data = encode_sfs_dict(tree, align=align)
    assert_trees_equal(read_sfs_dict(data), tree)
    index = index_sfs(data)
    assert all((index.header_length + i.offset) % align == 0 for i in index.items)


def _sample_file() -> bytes:
    tree = {
        "version": "1.0",
        "a": np.arange(6, dtype="<f4").reshape(2, 3),
        "l": [np.array(7, "u2"), {"b": b"xyz"}],
        "e": np.zeros((0, 3), "i8"),
    }
    return encode_sfs_dict(tree, align=8)


def _read_or_format_error(data: bytes, lenient: bool = False) -> None:
    try:
        tree = read_sfs_dict(data, lenient=lenient)
    except SfsFormatError:
        return
    assert isinstance(tree, dict)
    assert "$items" not in tree


def test_truncation_at_every_offset() -> None:
    data = _sample_file()
    for end in range(len(data)):
        _read_or_format_error(data[:end])
    assert read_sfs_dict(data)["l"][1]["b"].tobytes() == b"xyz"


def test_byte_flips_at_every_offset() -> None:
    data = _sample_file()
    rng = random.Random(7)
    for position in range(len(data)):
        for value in (0x00, 0xFF, 0x20, rng.randrange(256)):
            mutated = bytearray(data)
            mutated[position] = value
            _read_or_format_error(bytes(mutated))
            _read_or_format_error(bytes(mutated), lenient=True)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    entry=st.integers(0, 3),
    field=st.sampled_from(["keys", "offset", "length", "dtype", "shape", None]),
    value=json_values,
    drop=st.booleans(),
)
def test_mutated_item_tables(entry: int, field: str | None, value: object, drop: bool) -> None:
    data = _sample_file()
    end = data.index(b"\x00")
    header = json.loads(data[:end])
    target = header["$items"][entry]
    if field is None:
        header["$items"][entry] = value
    elif drop:
        target.pop(field)
    else:
        target[field] = value
    text = json.dumps(header).encode()
    if len(text) > end:
        _read_or_format_error(text + b" " * (4 - len(text) % 4) + data[end:])
        return
    _read_or_format_error(text + b" " * (end - len(text)) + data[end:])
