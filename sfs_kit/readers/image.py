"""JPEG and PNG images kept as encoded bytes; width and height read from the headers, not decoded.

PNG: the 8-byte signature, then the IHDR chunk: big-endian u32 width at byte 16, height at byte 20.
JPEG: ``FF D8`` then marker segments (``FF xx`` + big-endian u16 length including itself); the first
SOF marker ``FFC0``-``FFCF`` other than C4 (DHT), C8 (JPG) and CC (DAC) holds the precision byte,
then the u16 height and u16 width.

``read_image`` also checks that the file is whole: a PNG ends with its IEND chunk, a JPEG reaches
its start of scan and ends with ``FF D9`` (only zero padding may follow; see
``sfs_kit.models._imagesize``). ``image_size`` alone reads the header and accepts a prefix.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from sfs_kit.errors import InputError
from sfs_kit.models._imagesize import image_end_problem
from sfs_kit.readers._source import Source, read_all

__all__ = ["ImageInfo", "check_image_complete", "check_image_size", "image_size", "read_image"]

ImageFormat = Literal["jpeg", "png"]
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_SIDE = 2**31 - 1  # the PNG specification's limit
_JPEG_MAGIC = b"\xff\xd8\xff"
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])


@dataclass(frozen=True)
class ImageInfo:
    """An encoded image: its format, pixel size from the header, and the file's bytes unchanged."""

    format: ImageFormat
    width: int
    height: int
    content: bytes

    def __repr__(self) -> str:
        return (f"ImageInfo(format={self.format!r}, width={self.width}, height={self.height}, "
                f"content=<{len(self.content)} bytes>)")


def image_size(data: bytes, source: str = "<bytes>") -> tuple[ImageFormat, int, int]:
    """``(format, width, height)`` of JPEG or PNG bytes, from the header alone."""
    if data.startswith(_PNG_SIGNATURE):
        return ("png", *_png_size(data, source))
    if data.startswith(_JPEG_MAGIC):
        return ("jpeg", *_jpeg_size(data, source))
    raise InputError(
        f"Image data starts with {data[:8].hex(' ')!r}, neither the JPEG magic FF D8 FF nor the "
        "PNG signature.", source=source, offset=0)


def _png_size(data: bytes, source: str) -> tuple[int, int]:
    if len(data) < 24:
        raise InputError(f"PNG data is truncated: {len(data)} bytes, the IHDR chunk needs 24.",
                         source=source, offset=len(data))
    if data[12:16] != b"IHDR":
        raise InputError(f"PNG first chunk is {data[12:16]!r}, not IHDR.", source=source,
                         offset=12)
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0 or max(width, height) > _PNG_MAX_SIDE:
        raise InputError(f"PNG IHDR size {width}x{height} is not one: each side is "
                         f"1..{_PNG_MAX_SIDE}.", source=source, offset=16)
    return width, height


def _jpeg_size(data: bytes, source: str) -> tuple[int, int]:
    pos = 2
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            raise InputError(f"JPEG marker expected at byte {pos}, found 0x{data[pos]:02X}.",
                             source=source, offset=pos)
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker in (0xD9, 0xDA):
            raise InputError(
                f"JPEG reaches marker 0xFF{marker:02X} at byte {pos - 2} before any SOF marker.",
                source=source, offset=pos - 2)
        if pos + 2 > end:
            break
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise InputError(f"JPEG segment 0xFF{marker:02X} at byte {pos - 2} has length "
                             f"{length}.", source=source, offset=pos)
        if marker in _SOF_MARKERS:
            if pos + 7 > end:
                break
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if width == 0 or height == 0:
                raise InputError(
                    f"JPEG SOF at byte {pos - 2} gives size {width}x{height} (a zero side; DNL "
                    "heights are not supported).", source=source, offset=pos + 3)
            return width, height
        pos += length
    raise InputError(f"JPEG data is truncated: no SOF marker in its {end} bytes.",
                     source=source, offset=min(pos, end))


def check_image_complete(data: bytes, fmt: ImageFormat, source: str = "<bytes>") -> None:
    """Raise ``InputError`` unless the encoded image is whole (PNG IEND, JPEG SOS ... FF D9)."""
    problem = image_end_problem(data, fmt)
    if problem is not None:
        raise InputError(f"{fmt.upper()} image {source!r} is incomplete: {problem}.",
                         source=source, offset=len(data))


def read_image(source: Source) -> ImageInfo:
    """Read a whole JPEG or PNG file (path or binary stream), keeping its bytes encoded."""
    data, name = read_all(source)
    fmt, width, height = image_size(data, name)
    check_image_complete(data, fmt, name)
    return ImageInfo(format=fmt, width=width, height=height, content=data)


def check_image_size(info: ImageInfo, width: int, height: int, source: str) -> None:
    """Raise ``InputError`` unless the image is exactly ``width`` x ``height`` (the intrinsics)."""
    if (info.width, info.height) != (width, height):
        raise InputError(
            f"Image is {info.width}x{info.height} but the camera intrinsics say "
            f"{width}x{height}.", source=source, field="width")
