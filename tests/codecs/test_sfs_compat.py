"""Compatibility both ways with the oracle, scale-json-binary 0.0.7 (spec section 1.4)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scale_json_binary.json_binary_codecs as sjb
from sfs_support import DTYPES, assert_trees_equal, sample_array

from sfs_kit.codecs.sfs import ALIGNMENTS, encode_sfs_dict, read_sfs_dict, write_sfs_dict
from sfs_kit.errors import SfsFormatError


def _tree(dtype: str) -> dict[str, Any]:
    return {
        "version": "1.0",
        "sensors": [
            {
                "id": "lidar",
                "frames": [
                    {"timestamp": 0, "points": {"positions": sample_array(dtype, (7, 3), seed=1)}},
                    {"timestamp": 100_000, "points": {"positions": sample_array(dtype, (0, 3))}},
                ],
            }
        ],
        "odd": sample_array("uint8", (5,), seed=2),
        "scalar": sample_array(dtype, (), seed=3),
        "meta": {"x": 1.25, "n": None, "flag": False, "s": "a/b"},
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_their_writer_our_reader(dtype: str, tmp_path: Path) -> None:
    tree = _tree(dtype)
    path = tmp_path / "theirs.sfs"
    sjb.write_file(str(path), tree)
    assert_trees_equal(read_sfs_dict(path), tree)
    assert_trees_equal(read_sfs_dict(sjb.dumps(tree)), tree)


@pytest.mark.parametrize("align", ALIGNMENTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_our_writer_their_reader(dtype: str, align: int, tmp_path: Path) -> None:
    tree = _tree(dtype)
    path = tmp_path / "ours.sfs"
    write_sfs_dict(tree, path, align=align)
    assert_trees_equal(sjb.read_file(str(path)), tree)
    assert_trees_equal(sjb.loads(encode_sfs_dict(tree, align=align)), tree)


def test_align_4_binary_section_is_byte_identical_and_header_json_equal() -> None:
    tree = _tree("float32")
    ours, theirs = encode_sfs_dict(tree, align=4), sjb.dumps(tree)
    h_ours, h_theirs = ours.index(b"\x00"), theirs.index(b"\x00")
    assert ours[h_ours:] == theirs[h_theirs:]
    assert json.loads(ours[:h_ours]) == json.loads(theirs[:h_theirs])


def test_their_nan_headers_need_lenient() -> None:
    data = sjb.dumps({"v": math.nan, "w": [math.inf, -math.inf], "a": np.arange(3, dtype="i2")})
    with pytest.raises(SfsFormatError, match="bare token 'NaN'"):
        read_sfs_dict(data)
    back = read_sfs_dict(data, lenient=True)
    assert math.isnan(back["v"])
    assert back["w"] == [math.inf, -math.inf]
    assert back["a"].tolist() == [0, 1, 2]


def test_their_int_dict_keys_are_rescued() -> None:
    arrays = {1: np.arange(3, dtype="f4"), 20: np.arange(2, dtype="u1")}
    back = read_sfs_dict(sjb.dumps({"by_id": arrays}))
    assert_trees_equal(back, {"by_id": {"1": arrays[1], "20": arrays[20]}})


def test_their_big_endian_label_weakness_is_not_ours() -> None:
    swapped = np.arange(4, dtype=">u4")
    assert sjb.loads(sjb.dumps({"a": swapped}))["a"].tolist() != swapped.tolist()
    assert sjb.loads(encode_sfs_dict({"a": swapped}))["a"].tolist() == swapped.tolist()
