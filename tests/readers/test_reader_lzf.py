"""LZF: the pure-Python decoder agrees with the C extension, and corrupt blocks name the byte."""

from __future__ import annotations

import lzf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfs_kit.errors import InputError
from sfs_kit.readers import _lzf


@given(st.binary(max_size=3000), st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_python_decoder_matches_c_extension(data: bytes, repeat: int) -> None:
    payload = data * repeat  # repetition makes the compressor emit back-references
    if not payload:
        return
    block = lzf.compress(payload, len(payload) + len(payload) // 32 + 16)
    assert isinstance(block, bytes)
    assert _lzf.decompress_python(block, len(payload), source="t") == payload
    assert _lzf.decompress(block, len(payload), source="t") == payload


def test_overlapping_back_reference_repeats_pattern() -> None:
    # literal "ab", then a back-reference of length 7 + 2 at distance 2: "ababababa"
    block = bytes([1, ord("a"), ord("b"), (7 << 5) | 0, 0, 1])
    assert _lzf.decompress_python(block, 11, source="t") == b"ab" + b"ababababa"


def test_literal_compressor_round_trips() -> None:
    data = np.arange(1000, dtype="<f4").tobytes()
    block = _lzf.compress_literal(data)
    assert lzf.decompress(block, len(data)) == data
    assert _lzf.decompress_python(block, len(data), source="t") == data


@pytest.mark.parametrize(("block", "size", "match", "offset"), [
    (bytes([5, 1, 2]), 6, r"LZF literal run of 6 bytes at byte 10 runs past the end of the "
     "3-byte compressed block", 10),
    (bytes([0, 65, 0xE0]), 20, r"LZF back-reference at byte 12 is cut off", 12),
    (bytes([0, 65, 0x20]), 20, r"LZF back-reference at byte 12 is cut off", 12),
    (bytes([0, 65, 0x20, 5]), 4, r"LZF back-reference at byte 12 points 6 bytes back but only 1 "
     r"bytes are decoded \(before the start of the output\)", 12),
    (bytes([3, 1, 2, 3, 4]), 2, r"LZF block decodes to more than the expected 2 bytes", 15),
    (bytes([1, 1, 2]), 5, r"LZF block decodes to 2 bytes but the header says 5", 10),
])
def test_corrupt_blocks_are_refused(block: bytes, size: int, match: str, offset: int) -> None:
    for decode in (_lzf.decompress_python, _lzf.decompress):
        with pytest.raises(InputError, match=match) as caught:
            decode(block, size, source="f.pcd", offset=10)
        assert caught.value.offset == offset
        assert caught.value.source == "f.pcd"


def test_fallback_without_c_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lzf, "lzf_module", lambda: None)
    data = b"xyz" * 100
    block = lzf.compress(data)
    assert _lzf.decompress(block, len(data), source="t") == data
