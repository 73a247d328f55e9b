"""Image and video container sniffing from the first and last bytes (V-C4, V-C5): no decoding.

Completeness (``image_end_problem``): a PNG must end with its IEND chunk; a JPEG must reach a
start-of-scan (SOS) through well-formed marker segments and end with the EOI marker ``FF D9``.
Only zero bytes may follow a JPEG's EOI: hardware encoders and V4L2/DMA capture buffers hand out
fixed-size, zero-padded buffers, while any other trailing data (or a missing EOI) means the file
was cut or overwritten. A PNG writer has no such excuse, so nothing may follow IEND.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["JPEG_MAGIC", "PNG_MAGIC", "image_end_problem", "image_kind", "image_size", "is_mp4"]

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SOF_EXCLUDED = frozenset({0xC4, 0xC8, 0xCC})  # DHT, JPG extension, DAC are not frames
PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC: the last 12 bytes of a PNG


def image_kind(content: npt.NDArray[np.uint8]) -> Literal["jpeg", "png"] | None:
    """``"jpeg"``/``"png"`` from the magic bytes, or ``None``."""
    head = content[:8].tobytes()
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith(PNG_MAGIC):
        return "png"
    return None


def image_size(content: npt.NDArray[np.uint8]) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG IHDR or the first JPEG SOF marker; ``None`` if not found."""
    kind = image_kind(content)
    if kind == "png":
        head = content[:24].tobytes()
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if kind == "jpeg":
        return _jpeg_size(memoryview(np.ascontiguousarray(content).data))
    return None


def _jpeg_segments(buf: memoryview) -> Iterator[tuple[int, int, int]]:
    """``(offset, marker, length)`` of each length-prefixed JPEG segment, walking from SOI.

    Skips fill bytes and markers without a length; stops at EOI, at a byte that is not a marker,
    or where no full marker and length remain. The callers judge ``length`` themselves.
    """
    n = len(buf)
    i = 2
    while i + 2 <= n:
        if buf[i] != 0xFF:
            return
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker == 0xD9 or i + 4 > n:  # end of image, or no room for a length
            return
        length = (buf[i + 2] << 8) | buf[i + 3]
        yield i, marker, length
        i += 2 + length


def _jpeg_size(buf: memoryview) -> tuple[int, int] | None:
    for i, marker, length in _jpeg_segments(buf):
        if marker == 0xDA:  # start of scan before any frame header
            return None
        if 0xC0 <= marker <= 0xCF and marker not in _SOF_EXCLUDED:
            if i + 9 > len(buf):
                return None
            height = (buf[i + 5] << 8) | buf[i + 6]
            width = (buf[i + 7] << 8) | buf[i + 8]
            return width, height
        if length < 2:
            return None
    return None


def image_end_problem(data: bytes | npt.NDArray[np.uint8], kind: Literal["jpeg", "png"]
                      ) -> str | None:
    """Why the encoded image is incomplete (one clause, no period), or ``None`` when it is whole.

    Reads only the marker segments before the first scan and the last bytes: O(headers).
    """
    buf = memoryview(data if isinstance(data, bytes) else np.ascontiguousarray(data).data)
    n = len(buf)
    if kind == "png":
        if n < len(PNG_IEND) or bytes(buf[n - len(PNG_IEND):]) != PNG_IEND:
            return (f"it does not end with the IEND chunk (last bytes "
                    f"{bytes(buf[max(0, n - 12):]).hex(' ')!r}; truncated?)")
        return None
    sos = _jpeg_scan_start(buf)
    if sos is None:
        return "no start-of-scan (SOS) marker is reachable through its marker segments (truncated?)"
    end = n
    if end and buf[end - 1] == 0:  # zero padding after EOI (fixed-size capture buffers)
        array = np.frombuffer(buf, dtype=np.uint8)
        nonzero = np.flatnonzero(array)
        end = int(nonzero[-1]) + 1 if nonzero.size else 0
    if end < sos + 2 or buf[end - 2] != 0xFF or buf[end - 1] != 0xD9:
        return (f"it does not end with the end-of-image marker FF D9 (last bytes "
                f"{bytes(buf[max(0, end - 4):end]).hex(' ')!r}; truncated?)")
    return None


def _jpeg_scan_start(buf: memoryview) -> int | None:
    """Offset just past the SOS marker, walking the length-prefixed segments from SOI."""
    for i, marker, length in _jpeg_segments(buf):
        if length < 2 or i + 2 + length > len(buf):
            return None
        if marker == 0xDA:
            return i + 2 + length
    return None


def is_mp4(content: npt.NDArray[np.uint8]) -> bool:
    """True when bytes 4-7 are ``ftyp`` (an ISO base media file: MP4/MOV)."""
    return content[4:8].tobytes() == b"ftyp"
