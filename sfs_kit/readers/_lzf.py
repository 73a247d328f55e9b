"""LZF (liblzf) block decompression and a literal-only compressor, as used by PCD binary_compressed.

The format, as liblzf's ``lzf_d.c`` decodes it: a sequence of runs, each starting with a control
byte ``c``. ``c < 32``: a literal run, copy the next ``c + 1`` bytes. Otherwise a
back-reference: length ``c >> 5`` (7 means "add the next byte"), plus 2; distance
``((c & 31) << 8) + next byte + 1`` back from the current output end; the copy may overlap its
own output (a repeating pattern).

``decompress`` uses the C extension ``lzf`` (PyPI ``python-lzf``, extra ``sfs_kit[pcd]``) when it
is installed, after checking that it produced exactly the expected size, and otherwise the
pure-Python decoder here (sequential, so much slower; figures in scripts/bench_readers.py).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sfs_kit.errors import InputError

__all__ = ["compress_literal", "decompress", "decompress_python", "lzf_module"]

_MAX_LITERAL = 32


def lzf_module() -> ModuleType | None:
    """The ``lzf`` C extension if it is installed, else None."""
    try:
        return importlib.import_module("lzf")
    except ImportError:
        return None


def decompress(data: bytes, expected_size: int, *, source: str, offset: int = 0) -> bytes:
    """Decompress one LZF block to exactly ``expected_size`` bytes, or raise ``InputError``.

    ``offset`` is where the block starts in ``source``, for the error message only.
    """
    module = lzf_module()
    if module is not None and expected_size > 0:
        try:
            out = module.decompress(data, expected_size + 1)
        except ValueError:
            out = None
        if isinstance(out, bytes) and len(out) == expected_size:
            return out
        # The C decoder gives no reason; run the Python one for a precise message.
    return decompress_python(data, expected_size, source=source, offset=offset)


def decompress_python(data: bytes, expected_size: int, *, source: str, offset: int = 0) -> bytes:
    """Pure-Python LZF decoder; every malformed block raises ``InputError`` with its byte offset."""
    out = bytearray()
    pos = 0
    end = len(data)
    while pos < end:
        ctrl = data[pos]
        pos += 1
        if ctrl < _MAX_LITERAL:
            run = ctrl + 1
            if pos + run > end:
                raise InputError(
                    f"LZF literal run of {run} bytes at byte {offset + pos - 1} runs past the end "
                    f"of the {end}-byte compressed block.", source=source, offset=offset + pos - 1)
            out += data[pos:pos + run]
            pos += run
        else:
            length = ctrl >> 5
            if length == 7:
                if pos >= end:
                    raise InputError(
                        f"LZF back-reference at byte {offset + pos - 1} is cut off by the end of "
                        "the compressed block.", source=source, offset=offset + pos - 1)
                length += data[pos]
                pos += 1
            if pos >= end:
                raise InputError(
                    f"LZF back-reference at byte {offset + pos - 1} is cut off by the end of the "
                    "compressed block.", source=source, offset=offset + pos - 1)
            distance = ((ctrl & 0x1F) << 8) + data[pos] + 1
            pos += 1
            length += 2
            start = len(out) - distance
            if start < 0:
                raise InputError(
                    f"LZF back-reference at byte {offset + pos - 2} points {distance} bytes back "
                    f"but only {len(out)} bytes are decoded (before the start of the output).",
                    source=source, offset=offset + pos - 2)
            if distance >= length:
                out += out[start:start + length]
            else:
                pattern = bytes(out[start:])
                repeats, rest = divmod(length, distance)
                out += pattern * repeats + pattern[:rest]
        if len(out) > expected_size:
            raise InputError(
                f"LZF block decodes to more than the expected {expected_size} bytes.",
                source=source, offset=offset + pos)
    if len(out) != expected_size:
        raise InputError(
            f"LZF block decodes to {len(out)} bytes but the header says {expected_size}.",
            source=source, offset=offset)
    return bytes(out)


def compress_literal(data: bytes) -> bytes:
    """Valid LZF made only of literal runs (no compression; for writing fixtures without lzf)."""
    parts = bytearray()
    for start in range(0, len(data), _MAX_LITERAL):
        chunk = data[start:start + _MAX_LITERAL]
        parts.append(len(chunk) - 1)
        parts += chunk
    return bytes(parts)
