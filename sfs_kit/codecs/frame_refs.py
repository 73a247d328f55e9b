"""What a split_base64 frame file points at: its ``images[].image_url`` values.

A frame is self-contained when every image URL is absolute (``https://``, ``s3://``,
``file://``): Scale fetches each one. ``sfs-kit convert`` writes relative URLs (``images/cam/
00000.jpg``) that only mean something beside the images; ``upload`` of the folder replaces them
with the uploaded images' URLs, and ``submit`` refuses frames that still hold relative ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from sfs_kit.errors import FrameFormatError

__all__ = ["FRAME_GLOB", "frame_image_urls", "is_relative_url", "relative_image_urls"]

FRAME_GLOB = "frame-*.json"


def is_relative_url(url: str) -> bool:
    """True for a URL without a scheme (a path relative to the frame file)."""
    return not urlsplit(url).scheme


def frame_image_urls(
    frame: str | os.PathLike[str] | bytes, *, source: str = "<frame>"
) -> list[str]:
    """Every ``images[].image_url`` of one frame (a path, or the JSON bytes), in order.

    Raises ``FrameFormatError`` naming the file and key when the JSON or its ``images`` list is
    malformed."""
    if isinstance(frame, bytes):
        data = frame
    else:
        source = os.fspath(frame)
        try:
            data = Path(frame).read_bytes()
        except OSError as err:
            raise FrameFormatError(f"Frame {source!r} cannot be read ({err.strerror or err}).",
                                   source=source) from err
    try:
        tree = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise FrameFormatError(f"Frame {source!r} is not JSON ({err}).", source=source) from err
    if not isinstance(tree, dict):
        raise FrameFormatError(f"Frame {source!r} is a JSON {type(tree).__name__}, not an "
                               f"object.", source=source)
    images = tree.get("images", [])
    if not isinstance(images, list):
        raise FrameFormatError(f"Frame {source!r} key 'images' must be a list.", source=source,
                               key="images")
    urls: list[str] = []
    for index, image in enumerate(images):
        url = image.get("image_url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            raise FrameFormatError(f"Frame {source!r} images[{index}].image_url must be a "
                                   f"string.", source=source, key=f"images[{index}].image_url")
        urls.append(url)
    return urls


def relative_image_urls(frame: str | os.PathLike[str] | bytes, *,
                        source: str = "<frame>") -> list[str]:
    """The image URLs of a frame that are relative (the frame is not self-contained)."""
    return [u for u in frame_image_urls(frame, source=source) if is_relative_url(u)]
