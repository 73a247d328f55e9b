"""One test per error message: writer rejections (InputError) and reader rules R1-R8."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sfs_support import craft, item

from sfs_kit.codecs.sfs import encode_sfs_dict, index_sfs, plan_sfs, read_sfs_dict, write_sfs_dict
from sfs_kit.errors import InputError, SfsFormatError, TruncatedDataError

# --- writer -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "message", "field"),
    [
        (
            {"a": [1, {2: 3}]},
            "Dict key 2 at ('a', 1) is 'int'; .sfs dict keys must be str.",
            "('a', 1)",
        ),
        (
            {"a": {"$items": 1}},
            "Key '$items' at ('a') is reserved for the .sfs item table.",
            "('a', '$items')",
        ),
        ({"$items": []}, "Key '$items' at () is reserved for the .sfs item table.", "('$items')"),
        (
            {"x": [0.5, math.nan]},
            "Value at ('x', 1) is nan; .sfs headers allow only finite numbers.",
            "('x', 1)",
        ),
        (
            {"x": -math.inf},
            "Value at ('x') is -inf; .sfs headers allow only finite numbers.",
            "('x')",
        ),
        (
            {"x": np.float32("inf")},
            "Value at ('x') is inf; .sfs headers allow only finite numbers.",
            "('x')",
        ),
        (
            {"n": 2**63},
            "Integer at ('n') is 9223372036854775808, outside the int64 range of .sfs headers.",
            "('n')",
        ),
        (
            {"n": np.uint64(2**64 - 1)},
            "Integer at ('n') is 18446744073709551615, outside the int64 range",
            "('n')",
        ),
        ({"s": {1, 2}}, "Value at ('s') has unsupported type 'set'.", "('s')"),
        ({"c": np.complex64(1)}, "Value at ('c') has unsupported numpy type 'complex64'.", "('c')"),
        (
            {"u": np.array(["a"])},
            "Array at ('u') has dtype '<U1'; .sfs stores only bool, float16",
            "('u')",
        ),
        ({"o": np.array([None])}, "Array at ('o') has dtype '|O'; .sfs stores only", "('o')"),
        ({"c": np.zeros(2, "c8")}, "Array at ('c') has dtype '<c8'; .sfs stores only", "('c')"),
        (
            {"d": np.zeros(2, "M8[ns]")},
            "Array at ('d') has dtype '<M8[ns]'; .sfs stores only",
            "('d')",
        ),
        ({"r": np.zeros(2, [("x", "f4")])}, "Array at ('r') has dtype", "('r')"),
    ],
)
def test_writer_rejects_values_it_cannot_write(
    tree: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as info:
        encode_sfs_dict(tree)
    assert info.value.field == field


def test_writer_rejects_a_non_dict_root() -> None:
    with pytest.raises(InputError, match=re.escape("The .sfs root must be a dict, not 'list'.")):
        plan_sfs([1, 2])  # type: ignore[arg-type]


def test_writer_rejects_a_self_containing_tree() -> None:
    loop: list[object] = [1]
    loop.append(loop)
    with pytest.raises(InputError, match=re.escape("Value at ('a', 1) contains itself.")):
        encode_sfs_dict({"a": loop})


def test_writer_rejects_a_tree_nested_too_deeply() -> None:
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(
        InputError, match=r"The tree is nested too deeply to be written as a \.sfs header\."
    ):
        encode_sfs_dict({"a": deep})


@pytest.mark.parametrize("align", [0, 3, 128, True, 4.0])
def test_writer_rejects_unknown_alignments(align: Any) -> None:
    with pytest.raises(
        InputError, match=re.escape(f"align must be one of 4, 8, 16, 32, 64, not {align!r}.")
    ):
        encode_sfs_dict({}, align=align)


def test_writer_rejection_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="finite"):
        write_sfs_dict({"a": np.zeros(3), "b": math.nan}, tmp_path / "x.sfs")
    assert list(tmp_path.iterdir()) == []


def test_reader_rejects_sources_of_the_wrong_type() -> None:
    with pytest.raises(
        InputError, match=re.escape("Cannot read .sfs from a 'int'; pass a path or bytes.")
    ):
        read_sfs_dict(3)  # type: ignore[arg-type]


# --- reader -----------------------------------------------------------------------------------

SENTINEL = bytes(4)


def _fails(data: bytes, error: type[SfsFormatError], rule: str, message: str) -> SfsFormatError:
    """Both entry points raise ``error`` with ``message`` and ``rule``; return the error."""
    with pytest.raises(error, match=re.escape(message)) as info:
        read_sfs_dict(data)
    with pytest.raises(error, match=re.escape(message)):
        index_sfs(data)
    assert info.value.rule == rule
    assert info.value.source == "<bytes>"
    return info.value


def _one_item(
    entry: dict[str, Any], binary: bytes = SENTINEL + b"\x01\x02\x03\x04", **extra: Any
) -> bytes:
    return craft({"a": "", **extra, "$items": [entry]}, binary)


def test_r1_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.sfs"
    path.write_bytes(b"")
    with pytest.raises(
        SfsFormatError, match=re.escape(f"{str(path)!r} is empty; no binary section.")
    ) as info:
        read_sfs_dict(path)
    assert (info.value.rule, info.value.source) == ("R1", str(path))
    _fails(b"", SfsFormatError, "R1", "'<bytes>' is empty; no binary section.")


def test_r1_no_nul_byte() -> None:
    _fails(
        b'{"$items":[]}   ',
        SfsFormatError,
        "R1",
        "'<bytes>' contains no 0x00 byte; no binary section.",
    )


def test_r1_no_nul_byte_in_a_memoryview_spanning_windows() -> None:
    data = memoryview(b"{" + b" " * 200_000)
    with pytest.raises(SfsFormatError, match="contains no 0x00 byte"):
        read_sfs_dict(data)


def test_r2_invalid_utf8() -> None:
    err = _fails(
        b'{"a":"\xff"}' + SENTINEL,
        SfsFormatError,
        "R2",
        "Header of '<bytes>' is not valid UTF-8 at byte 6.",
    )
    assert err.offset == 6


def test_r2_invalid_json() -> None:
    _fails(
        b'{"a":' + SENTINEL,
        SfsFormatError,
        "R2",
        "Header of '<bytes>' is not valid JSON: Expecting value at character 5.",
    )


def test_r2_not_an_object() -> None:
    _fails(
        b"[1, 2]  " + SENTINEL,
        SfsFormatError,
        "R2",
        "Header of '<bytes>' is a JSON list, not an object.",
    )


def test_r2_duplicate_keys() -> None:
    _fails(
        b'{"a":1,"b":{"x":1,"x":2},"$items":[]}' + SENTINEL,
        SfsFormatError,
        "R2",
        "Header of '<bytes>' has the duplicate key 'x'.",
    )


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_r2_bare_tokens_need_lenient(token: str) -> None:
    data = craft(None, SENTINEL, raw_header=f'{{"v":{token},"$items":[]}}'.encode())
    _fails(
        data,
        SfsFormatError,
        "R2",
        f"Header of '<bytes>' contains the bare token {token!r}, which is not JSON; "
        "pass lenient=True to read such legacy files.",
    )
    value = read_sfs_dict(data, lenient=True)["v"]
    assert math.isnan(value) if token == "NaN" else value == float(token.replace("inity", ""))
    assert index_sfs(data, lenient=True).items == ()


def test_r2_nested_too_deeply() -> None:
    _fails(
        b"[" * 100_000 + SENTINEL,
        SfsFormatError,
        "R2",
        "Header of '<bytes>' is nested too deeply to parse.",
    )


def test_r2_integer_too_long() -> None:
    data = craft(None, SENTINEL, raw_header=b'{"n":' + b"9" * 5000 + b"}")
    _fails(data, SfsFormatError, "R2", "Header of '<bytes>' is not valid JSON: Exceeds the limit")


def test_r3_truncated_sentinel() -> None:
    data = craft({"$items": []}, b"\x00\x00")
    err = _fails(
        data,
        TruncatedDataError,
        "R3",
        f"'<bytes>' ends at byte {len(data)}, inside the 4-byte sentinel",
    )
    assert err.offset == len(data) - 2


def test_r3_non_zero_sentinel() -> None:
    data = craft({"$items": []}, b"\x00\x00\x01\x00")
    _fails(
        data,
        SfsFormatError,
        "R3",
        f"Sentinel of '<bytes>' at byte {len(data) - 4} is not 4 zero bytes.",
    )


def test_r4_missing_items() -> None:
    _fails(
        craft({"a": 1}, SENTINEL), SfsFormatError, "R4", "Header of '<bytes>' has no '$items' list."
    )


def test_r4_items_not_a_list() -> None:
    _fails(
        craft({"$items": {}}, SENTINEL),
        SfsFormatError,
        "R4",
        "'$items' in '<bytes>' is a dict, not a list.",
    )


def test_r5_entry_not_an_object() -> None:
    err = _fails(
        craft({"$items": [3]}, SENTINEL),
        SfsFormatError,
        "R5",
        "Item 0 in '<bytes>' is a int, not an object.",
    )
    assert err.item == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("offset", -4), ("offset", "4"), ("offset", True), ("length", 1.0), ("length", None)],
)
def test_r5_offset_and_length_must_be_counts(field: str, value: object) -> None:
    entry = item(["a"], 4, 4)
    entry[field] = value
    err = _fails(
        _one_item(entry),
        SfsFormatError,
        "R5",
        f"Item 0 ('a') in '<bytes>' has {field} {value!r}; expected a non-negative int.",
    )
    assert (err.item, err.key) == (0, "('a')")


def test_r5_offset_inside_the_sentinel() -> None:
    _fails(
        _one_item(item(["a"], 2, 2)),
        SfsFormatError,
        "R5",
        "Item 0 ('a') in '<bytes>' starts at offset 2, inside the sentinel; expected at least 4.",
    )


def test_r5_item_past_the_end_is_truncation() -> None:
    tree = {"sensors": [{"frames": [{}, {}, {"points": {"positions": np.zeros((10, 3), "f4")}}]}]}
    data = encode_sfs_dict(tree, align=4)
    cut = data[:-20]
    index = index_sfs(data)
    end = index.header_length + index.items[0].offset + 120
    err = _fails(
        cut,
        TruncatedDataError,
        "R5",
        "Item 0 ('sensors', 0, 'frames', 2, 'points', 'positions') in '<bytes>' "
        f"ends at byte {end} but the file has {len(cut)} bytes.",
    )
    assert err.key == "('sensors', 0, 'frames', 2, 'points', 'positions')"
    assert err.offset == index.header_length + index.items[0].offset


@pytest.mark.parametrize("dtype", ["float128", "complex64", "<f4", 5, "str"])
def test_r6_dtype_outside_the_allow_list(dtype: object) -> None:
    _fails(
        _one_item(item(["a"], 4, 4, dtype="uint8") | {"dtype": dtype}),
        SfsFormatError,
        "R6",
        f"Item 0 ('a') in '<bytes>' has dtype {dtype!r}; expected one of bool, float16",
    )


def test_r6_raw_bytes_with_a_wrong_shape() -> None:
    _fails(
        _one_item({"keys": ["a"], "offset": 4, "length": 4, "shape": [2, 2]}),
        SfsFormatError,
        "R6",
        "Item 0 ('a') in '<bytes>' is raw bytes of length 4 but has shape [2, 2], not [4].",
    )


def test_r6_raw_bytes_are_read_as_uint8() -> None:
    data = _one_item({"keys": ["a"], "offset": 4, "length": 3})
    back = read_sfs_dict(data)["a"]
    assert back.dtype == np.uint8
    assert back.tolist() == [1, 2, 3]
    assert index_sfs(data).items[0].dtype is None


@pytest.mark.parametrize("shape", [4, [-1], [2.0], [True, 4], None])
def test_r7_shape_must_be_a_list_of_counts(shape: object) -> None:
    _fails(
        _one_item(item(["a"], 4, 4, shape=[4]) | {"shape": shape}),
        SfsFormatError,
        "R7",
        f"Item 0 ('a') in '<bytes>' has shape {shape!r}; expected a list of non-negative ints.",
    )


def test_r7_shape_must_match_length() -> None:
    _fails(
        _one_item(item(["a"], 4, 4, dtype="float32", shape=[2])),
        SfsFormatError,
        "R7",
        "Item 0 ('a') in '<bytes>' has shape [2] of float32 (8 bytes) but length 4.",
    )


def test_r7_missing_shape_needs_whole_elements() -> None:
    data = _one_item({"keys": ["a"], "offset": 4, "length": 3, "dtype": "uint16"})
    _fails(
        data,
        SfsFormatError,
        "R7",
        "Item 0 ('a') in '<bytes>' has no shape and its length 3 is not a multiple of 2.",
    )
    ok = _one_item({"keys": ["a"], "offset": 4, "length": 4, "dtype": "uint16"})
    assert read_sfs_dict(ok)["a"].tolist() == [0x0201, 0x0403]


@pytest.mark.parametrize("keys", [[], "a", ["a", 1.5], ["a", True], None])
def test_r8_keys_must_be_a_list_of_steps(keys: object) -> None:
    _fails(
        _one_item(item(["a"], 4, 4) | {"keys": keys}),
        SfsFormatError,
        "R8",
        "in '<bytes>' has keys " + repr(keys) + "; expected a non-empty list of str and int.",
    )


def test_r8_missing_dict_key() -> None:
    _fails(
        _one_item(item(["b"], 4, 4)),
        SfsFormatError,
        "R8",
        "Item 0 ('b') in '<bytes>' does not resolve: 'b' is not a key of the dict at ().",
    )


def test_r8_list_index_out_of_range() -> None:
    _fails(
        craft({"l": [""], "$items": [item(["l", 1], 4, 4)]}, SENTINEL + b"abcd"),
        SfsFormatError,
        "R8",
        "Item 0 ('l', 1) in '<bytes>' does not resolve: "
        "1 is not an index of the list at ('l') (length 1).",
    )


def test_r8_step_into_a_scalar() -> None:
    _fails(
        _one_item(item(["a", "x"], 4, 4)),
        SfsFormatError,
        "R8",
        "Item 0 ('a', 'x') in '<bytes>' does not resolve: ('a') holds a str, not a container.",
    )


def test_r8_leaf_is_not_a_placeholder() -> None:
    _fails(
        _one_item(item(["b"], 4, 4), b=[1]),
        SfsFormatError,
        "R8",
        "Item 0 ('b') in '<bytes>' points at a list value, not the '' placeholder.",
    )


def test_r8_duplicate_paths_including_the_int_key_rescue() -> None:
    header = {"d": {"1": ""}, "$items": [item(["d", "1"], 4, 2), item(["d", 1], 8, 2)]}
    _fails(
        craft(header, SENTINEL + b"abcdefgh"),
        SfsFormatError,
        "R8",
        "Item 1 ('d', 1) in '<bytes>' has the same path as item 0.",
    )


def test_r8_int_key_rescue_resolves_scale_int_keys() -> None:
    header = {"d": {"1": ""}, "$items": [item(["d", 1], 4, 2)]}
    assert read_sfs_dict(craft(header, SENTINEL + b"ab\x00\x00"))["d"]["1"].tolist() == [97, 98]


def test_all_items_are_checked_before_any_view_is_built() -> None:
    header = {"a": "", "b": "", "$items": [item(["a"], 4, 2), item(["b"], 8, 99)]}
    data = craft(header, SENTINEL + b"abcdefgh")
    with pytest.raises(TruncatedDataError, match=r"Item 1 \('b'\)"):
        read_sfs_dict(data)
    assert json.loads(data[: data.index(b"\x00")])["a"] == ""


def test_path_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.sfs"
    path.write_bytes(_one_item(item(["b"], 4, 4)))
    with pytest.raises(
        SfsFormatError, match=re.escape(f"Item 0 ('b') in {str(path)!r} does not resolve")
    ) as info:
        read_sfs_dict(path)
    assert info.value.source == str(path)
