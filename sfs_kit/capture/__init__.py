"""Capture layouts (sfs_kit folder, KITTI raw, msgpack stream) and the capture converter.

``open_capture(path)`` recognises the layout and returns a ``Capture`` whose frames load lazily;
``convert_capture`` streams it to a ``.sfs`` file or a split_base64 folder with the memory of one
frame; ``read_capture_scene`` builds an in-memory ``Scene`` for small captures.
"""

from __future__ import annotations

from sfs_kit.capture.base import Capture
from sfs_kit.capture.convert import ConvertResult, convert_capture, read_capture_scene
from sfs_kit.capture.layout import open_capture
from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter, read_msgpack_capture

__all__ = [
    "Capture",
    "ConvertResult",
    "MsgpackCaptureWriter",
    "convert_capture",
    "open_capture",
    "read_capture_scene",
    "read_msgpack_capture",
]
