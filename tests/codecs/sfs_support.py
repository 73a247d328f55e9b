"""Helpers for the .sfs codec tests: strict tree comparison and hand-built files."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from sfs_kit.codecs.sfs import ALLOWED_DTYPES

DTYPES: list[str] = sorted(ALLOWED_DTYPES)


def le_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """The array's bytes in C order, little-endian (what .sfs stores)."""
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def sample_array(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray[Any, Any]:
    """Deterministic varied values of any allow-listed dtype."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * np.dtype(dtype).itemsize, dtype=np.uint8)
    array = raw.view(dtype).reshape(shape)
    if dtype == "bool":
        array = raw.astype(bool).reshape(shape)
    return array


def assert_trees_equal(left: object, right: object, path: tuple[object, ...] = ()) -> None:
    """Compare trees strictly: same types (1 != 1.0 != True), arrays by dtype, shape and bytes."""
    if isinstance(left, np.ndarray) or isinstance(right, np.ndarray):
        assert isinstance(left, np.ndarray), path
        assert isinstance(right, np.ndarray), path
        assert left.dtype.name == right.dtype.name, (path, left.dtype, right.dtype)
        assert left.shape == right.shape, (path, left.shape, right.shape)
        assert le_bytes(left) == le_bytes(right), path
        return
    assert type(left) is type(right), (path, type(left), type(right))
    if isinstance(left, dict):
        assert isinstance(right, dict)
        assert list(left) == list(right), path
        for key in left:
            assert_trees_equal(left[key], right[key], (*path, key))
    elif isinstance(left, list):
        assert isinstance(right, list)
        assert len(left) == len(right), path
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_trees_equal(a, b, (*path, index))
    else:
        assert left == right, path


def craft(header: object, binary: bytes, *, raw_header: bytes | None = None) -> bytes:
    """Build a .sfs-like file by hand: JSON header padded to 4 with spaces, then ``binary``.

    ``binary`` starts at H, so it normally begins with the 4-byte zero sentinel.
    """
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    return text + b" " * (4 - len(text) % 4) + binary


def item(
    keys: list[object],
    offset: int,
    length: int,
    dtype: str | None = "uint8",
    shape: list[int] | None = None,
) -> dict[str, object]:
    """One ``$items`` entry; ``dtype=None`` makes a legacy raw-bytes entry without dtype/shape."""
    entry: dict[str, object] = {"keys": keys, "offset": offset, "length": length}
    if dtype is not None:
        entry["dtype"] = dtype
        entry["shape"] = shape if shape is not None else [length]
    return entry
