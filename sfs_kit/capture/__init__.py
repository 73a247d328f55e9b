"""Capture layouts (sfs_kit folder, KITTI raw, msgpack stream) and the capture converter.

``open_capture(path)`` recognises the layout and returns a ``Capture`` whose frames load lazily;
``convert_capture`` streams it to a ``.sfs`` file or a split_base64 folder with the memory of one
frame; ``read_capture_scene`` builds an in-memory ``Scene`` for small captures. ``ConvertOptions``
(``options.py``) is every conversion option in one record.

Names load lazily, so ``sfs_kit.capture.options`` (read by the CLI for ``--help``) imports no
numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sfs_kit.capture.base import Capture
    from sfs_kit.capture.convert import ConvertResult, convert_capture, read_capture_scene
    from sfs_kit.capture.layout import open_capture
    from sfs_kit.capture.msgpack_stream import MsgpackCaptureWriter, read_msgpack_capture
    from sfs_kit.capture.options import ConvertOptions

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Capture": "sfs_kit.capture.base",
    "ConvertOptions": "sfs_kit.capture.options",
    "ConvertResult": "sfs_kit.capture.convert",
    "MsgpackCaptureWriter": "sfs_kit.capture.msgpack_stream",
    "convert_capture": "sfs_kit.capture.convert",
    "open_capture": "sfs_kit.capture.layout",
    "read_capture_scene": "sfs_kit.capture.convert",
    "read_msgpack_capture": "sfs_kit.capture.msgpack_stream",
}

__all__ = [
    "Capture",
    "ConvertOptions",
    "ConvertResult",
    "MsgpackCaptureWriter",
    "convert_capture",
    "open_capture",
    "read_capture_scene",
    "read_msgpack_capture",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sfs_kit.capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
