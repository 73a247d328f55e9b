"""Golden .sfs files in fixtures/sfs/, each paired with its expected JSON view.

Run this module as a script to regenerate the fixtures (``.venv/bin/python
tests/codecs/test_sfs_golden.py``); the tests then pin the bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sfs_kit.codecs.sfs import encode_sfs_dict, index_sfs, read_sfs_dict

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sfs"
GOLDEN = sorted(p.stem for p in FIXTURES.glob("*.sfs"))
OURS = [n for n in GOLDEN if json.loads((FIXTURES / f"{n}.json").read_text())["align"] is not None]

# The spec's worked example (section 1.1): binary section after H = 180, 208 bytes in all.
WORKED_BINARY = bytes.fromhex("000000000000c03f0000204000006040000000000102030405000000")


def to_view(value: object) -> object:
    """JSON view of a tree: arrays become {"$array": {dtype, shape, values}}."""
    if isinstance(value, np.ndarray):
        return {
            "$array": {
                "dtype": value.dtype.name,
                "shape": list(value.shape),
                "values": value.tolist(),
            }
        }
    if isinstance(value, dict):
        return {key: to_view(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_view(item) for item in value]
    return value


def from_view(value: object) -> object:
    """Inverse of ``to_view``."""
    if isinstance(value, dict):
        if set(value) == {"$array"}:
            spec = value["$array"]
            return np.array(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"])
        return {key: from_view(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_view(item) for item in value]
    return value


def file_view(data: bytes, align: int | None, origin: str) -> dict[str, Any]:
    index = index_sfs(data)
    return {
        "origin": origin,
        "align": align,
        "header_length": index.header_length,
        "file_size": index.file_size,
        "items": [
            {
                "keys": list(i.keys),
                "offset": i.offset,
                "length": i.length,
                "dtype": i.dtype,
                "shape": None if i.shape is None else list(i.shape),
            }
            for i in index.items
        ],
        "tree": to_view(read_sfs_dict(data)),
    }


def worked_example() -> dict[str, Any]:
    return {
        "version": "1.0",
        "a": np.array([1.5, 2.5, 3.5], "f4"),
        "c": np.arange(1, 6, dtype="u1"),
    }


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_file_reads_as_its_view(name: str) -> None:
    data = (FIXTURES / f"{name}.sfs").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert file_view(data, expected["align"], expected["origin"]) == expected


@pytest.mark.parametrize("name", OURS)
def test_golden_file_is_what_we_write(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    tree = from_view(expected["tree"])
    assert isinstance(tree, dict)
    assert encode_sfs_dict(tree, align=expected["align"]) == (FIXTURES / f"{name}.sfs").read_bytes()


def test_worked_example_matches_the_spec_bytes() -> None:
    data = (FIXTURES / "worked_example_align4.sfs").read_bytes()
    assert len(data) == 208
    assert data[:180].endswith(b"}    ")
    assert data[180:] == WORKED_BINARY
    assert encode_sfs_dict(worked_example(), align=4) == data


def test_golden_set_is_complete() -> None:
    assert OURS == ["worked_example_align4", "worked_example_align64"]
    assert GOLDEN == [
        "legacy_raw_bytes",
        "scale_json_binary_0_0_7",
        "worked_example_align4",
        "worked_example_align64",
    ]


def _regenerate() -> None:  # pragma: no cover - run by hand
    from scale_json_binary.json_binary_codecs import dumps

    files: dict[str, tuple[bytes, int | None, str]] = {
        "worked_example_align4": (
            encode_sfs_dict(worked_example(), align=4),
            4,
            "sfs_kit, spec 1.1 worked example",
        ),
        "worked_example_align64": (
            encode_sfs_dict(worked_example()),
            64,
            "sfs_kit, spec 1.1 worked example",
        ),
    }
    legacy_tree = {
        "version": "1.0",
        "by_id": {7: np.array([[0.5, -1.0, 2.0]], "f4")},
        "l": [np.zeros((0, 3), "f4"), np.array(5, "i8"), np.array([True, False])],
        "url": "http://x/y",
    }
    files["scale_json_binary_0_0_7"] = (
        dumps(legacy_tree),
        None,
        "scale-json-binary 0.0.7 dumps (int dict key)",
    )
    header = json.dumps(
        {"blob": "", "$items": [{"keys": ["blob"], "offset": 4, "length": 3}]}
    ).encode()
    raw = header + b" " * (4 - len(header) % 4) + bytes(4) + b"\x01\x02\x03\x00"
    files["legacy_raw_bytes"] = (
        raw,
        None,
        "hand-built entry without dtype/shape, as older Scale writers made",
    )
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, (data, align, origin) in files.items():
        (FIXTURES / f"{name}.sfs").write_bytes(data)
        view = file_view(data, align, origin)
        (FIXTURES / f"{name}.json").write_text(json.dumps(view, indent=1) + "\n")


if __name__ == "__main__":  # pragma: no cover
    _regenerate()
