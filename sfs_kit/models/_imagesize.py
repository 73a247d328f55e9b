"""Image and video container sniffing from the first bytes (V-C4, V-C5): no decoding."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["JPEG_MAGIC", "PNG_MAGIC", "image_kind", "image_size", "is_mp4"]

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SOF_EXCLUDED = frozenset({0xC4, 0xC8, 0xCC})  # DHT, JPG extension, DAC are not frames


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


def _jpeg_size(buf: memoryview) -> tuple[int, int] | None:
    n = len(buf)
    i = 2
    while i + 4 <= n:
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length = (buf[i + 2] << 8) | buf[i + 3]
        if 0xC0 <= marker <= 0xCF and marker not in _SOF_EXCLUDED:
            if i + 9 > n:
                return None
            height = (buf[i + 5] << 8) | buf[i + 6]
            width = (buf[i + 7] << 8) | buf[i + 8]
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


def is_mp4(content: npt.NDArray[np.uint8]) -> bool:
    """True when bytes 4-7 are ``ftyp`` (an ISO base media file: MP4/MOV)."""
    return content[4:8].tobytes() == b"ftyp"
